import fp from "fastify-plugin";

export interface CheckResult {
  ok: boolean;
  detail: string;
}
export type ReadinessCheck = () => Promise<CheckResult>;

declare module "fastify" {
  interface FastifyInstance {
    readiness: Map<string, ReadinessCheck>;
  }
}

/** Named readiness checks: each plugin adds its own (chain, outbox, indexer…); GET /ready runs them all. */
export default fp(
  async (app) => {
    app.decorate("readiness", new Map<string, ReadinessCheck>());
  },
  { name: "readiness" },
);
