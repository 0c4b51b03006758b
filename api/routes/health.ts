import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";

const checkSchema = z.object({ ok: z.boolean(), detail: z.string() });
const readySchema = z.object({ ready: z.boolean(), checks: z.record(z.string(), checkSchema) });

/** GET /health (the process answers) and GET /ready (every dependency is usable, and why not). */
const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get(
    "/health",
    {
      schema: {
        tags: ["operations"],
        summary: "Liveness: the process is up",
        response: { 200: z.object({ status: z.literal("ok"), uptimeSeconds: z.number() }) },
      },
    },
    async () => ({ status: "ok" as const, uptimeSeconds: Math.round(process.uptime()) }),
  );

  app.get(
    "/ready",
    {
      schema: {
        tags: ["operations"],
        summary: "Readiness: chain reachable, contracts found, storage writable",
        response: { 200: readySchema, 503: readySchema },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, z.infer<typeof checkSchema>> = {};
      await Promise.all(
        [...app.readiness].map(async ([name, check]) => {
          try {
            checks[name] = await check();
          } catch (err) {
            // /ready is public: a failing check's error may name the node's URL (with its API key) or address.
            checks[name] = { ok: false, detail: redact((err as Error).message.split("\n")[0]) };
          }
        }),
      );
      const ready = Object.values(checks).every((c) => c.ok);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );
};

/** Removes URLs and host:port pairs from a message. */
function redact(message: string): string {
  return message
    .replace(/\b([a-z][a-z0-9+.-]*):\/\/[^\s"'()<>]+/gi, "$1://…")
    .replace(/\b(?:\d{1,3}\.){3}\d{1,3}(?::\d+)?\b/g, "…")
    .replace(/\b(?:localhost|[a-z0-9-]+(?:\.[a-z0-9-]+)+):\d{2,5}\b/gi, "…");
}

export default healthRoutes;
