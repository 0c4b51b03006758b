import fp from "fastify-plugin";
import { Registry, collectDefaultMetrics, Histogram } from "prom-client";

declare module "fastify" {
  interface FastifyInstance {
    metrics: Registry;
  }
}

/** Prometheus registry of the service, served at GET /metrics; plugins register their own metrics on it. */
export default fp(
  async (app, opts: { rateLimitPerMinute?: number }) => {
    const registry = new Registry();
    collectDefaultMetrics({ register: registry, prefix: "medtrace_" });
    const httpDuration = new Histogram({
      name: "medtrace_http_request_duration_seconds",
      help: "HTTP request duration by route and status",
      labelNames: ["method", "route", "status"],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    app.decorate("metrics", registry);
    app.addHook("onResponse", async (request, reply) => {
      httpDuration.observe(
        { method: request.method, route: request.routeOptions.url ?? "unmatched", status: String(reply.statusCode) },
        reply.elapsedTime / 1000,
      );
    });
    // Rendering runs every collector (outbox counts, lane states): bounded per client address.
    const config = opts.rateLimitPerMinute ? { rateLimit: { max: opts.rateLimitPerMinute, timeWindow: "1 minute" } } : undefined;
    app.get("/metrics", { schema: { hide: true }, config }, async (_request, reply) => {
      reply.header("content-type", registry.contentType);
      return registry.metrics();
    });
  },
  { name: "metrics" },
);
