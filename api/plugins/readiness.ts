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

/**
 * A check that asks the node or writes to disk, run at most once per `ms`: callers within that
 * time, and callers while it runs, share its answer. /ready is public and unauthenticated; each
 * hit used to cost about six node calls and a synced SQLite write, so a client polling it in a
 * loop made the node and the disk work for it. A failure is an answer too (cached the same way).
 */
export function cachedCheck(check: ReadinessCheck, ms: number): ReadinessCheck {
  let last: { at: number; result: Promise<CheckResult> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= ms) {
      last = { at: now, result: check().catch((err: unknown) => ({ ok: false, detail: String((err as Error)?.message ?? err).split("\n")[0] })) };
    }
    return last.result;
  };
}

/** Named readiness checks: each plugin adds its own (chain, outbox, indexer…); GET /ready runs them all. */
export default fp(
  async (app) => {
    app.decorate("readiness", new Map<string, ReadinessCheck>());
  },
  { name: "readiness" },
);
