import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { AppConfig } from "../config";
import { redactNodeDetails } from "../chain/redact";
import { errorBodySchema } from "../errors";

const checkSchema = z.object({ ok: z.boolean(), detail: z.string() });
const readySchema = z.object({ ready: z.boolean(), checks: z.record(z.string(), checkSchema) });

/**
 * What a readiness detail may say in public: node errors lose the node's URL, address and host
 * (chain/redact.ts), and no configured secret or data path survives even if a check's text
 * carried one. The checks' own messages are written without them; this is the last line.
 */
export function publicDetail(config: AppConfig): (text: string) => string {
  const env = config.env;
  const secrets = [
    config.dataDir,
    env.RELAY_ADMIN_TOKEN,
    env.RELAY_KEYSTORE_PASSPHRASE,
    ...env.RELAYER_KEYS.split(","),
    ...env.READ_API_KEYS.split(","),
  ]
    .map((s) => s?.trim())
    .filter((s): s is string => !!s && s.length >= 4)
    .sort((a, b) => b.length - a.length);
  return (text) => {
    let out = redactNodeDetails(text, env.CHAIN_RPC_URL);
    for (const s of secrets) out = out.split(s).join("<redacted>");
    return out;
  };
}

/** GET /health (the process answers) and GET /ready (every dependency is usable, and why not). */
const healthRoutes: FastifyPluginAsyncZod<{ config: AppConfig }> = async (app, { config }) => {
  const redact = publicDetail(config);
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
      // Per client address (TRUST_PROXY says which): load balancers probe every few seconds.
      config: { rateLimit: { max: config.env.OPS_RATE_PER_MINUTE, timeWindow: "1 minute" } },
      schema: {
        tags: ["operations"],
        summary: "Readiness: chain reachable, contracts found, storage writable, relayer lanes moving",
        description: `Checks that ask the node or write to disk are answered from the last run when it is younger than READY_CACHE_MS (${config.env.READY_CACHE_MS} ms).`,
        response: { 200: readySchema, 503: readySchema, 429: errorBodySchema },
      },
    },
    async (_request, reply) => {
      const checks: Record<string, z.infer<typeof checkSchema>> = {};
      await Promise.all(
        [...app.readiness].map(async ([name, check]) => {
          let result: z.infer<typeof checkSchema>;
          try {
            result = await check();
          } catch (err) {
            result = { ok: false, detail: (err as Error).message.split("\n")[0] };
          }
          checks[name] = { ok: result.ok, detail: redact(result.detail) };
        }),
      );
      const ready = Object.values(checks).every((c) => c.ok);
      return reply.code(ready ? 200 : 503).send({ ready, checks });
    },
  );
};

export default healthRoutes;
