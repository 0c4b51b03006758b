import type { FastifyInstance } from "fastify";
import type { RequestStatus } from "../../../api/relay/schemas";

/**
 * Helpers of the adversarial suite: follow a request by long-polling the relay (each answer comes
 * at a state change, so no test sleeps), and read Prometheus metrics as a monitor would.
 */

/** GET /v1/requests/:id?wait= until mined or failed; fails after `timeoutMs` (a generous bound: only a stall reaches it). */
export async function finalState(app: FastifyInstance, id: string, timeoutMs: number): Promise<RequestStatus> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const left = Math.max(1, Math.min(10, Math.floor((deadline - Date.now()) / 1000)));
    const s = (await app.inject({ method: "GET", url: `/v1/requests/${id}?wait=${left}` })).json() as RequestStatus;
    if (s.state === "mined" || s.state === "failed") return s;
    if (Date.now() > deadline) throw new Error(`request ${id} is still ${s.state} after ${timeoutMs} ms: nothing moved it`);
  }
}

/** The value of metric `name` whose labels include `labels`, from a /metrics text; undefined when absent. */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (\S+)$/.exec(line);
    if (!m || m[1] !== name) continue;
    const have = new Map([...(m[3] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)].map((x) => [x[1], x[2]]));
    if (Object.entries(labels).every(([k, v]) => have.get(k) === v)) return Number(m[4]);
  }
  return undefined;
}

export async function metricsOf(app: FastifyInstance): Promise<string> {
  const res = await app.inject({ method: "GET", url: "/metrics" });
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}: ${res.body}`);
  return res.body;
}

/** Runs `fn` over `items`, `concurrency` at a time, in order of start. */
export async function inWaves<T, R>(items: T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += concurrency) out.push(...(await Promise.all(items.slice(i, i + concurrency).map(fn))));
  return out;
}
