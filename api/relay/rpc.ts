/**
 * A lean JSON-RPC client for the relay's hot paths (eth_call simulations, nonces, raw
 * transactions, receipts). Calls made in the same event-loop turn go out as one JSON-RPC batch
 * (anvil answered 400 concurrent single eth_calls at ≈ 300/s but batches of 100 at ≈ 10,000/s
 * here). Why not ethers' JsonRpcProvider: it encodes and decodes request and response bodies
 * with its own JS UTF-8 code and wraps every call in extra normalisation — the relay's top CPU
 * cost under the benchmark (120 KB executeBatch transactions, 600-log receipts). Why node:http
 * rather than fetch: undici's fetch cost ~3% of the relay's event loop under bench:relay.
 */

import http from "node:http";
import https from "node:https";

/** The node answered with a JSON-RPC error. */
export class RpcError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly data?: string,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

interface Pending {
  id: number;
  method: string;
  params: unknown[];
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class RpcClient {
  private queue: Pending[] = [];
  private nextId = 1;
  private readonly agent: http.Agent;

  constructor(
    readonly url: string,
    private readonly timeoutMs = 10_000,
    private readonly maxBatch = 100,
  ) {
    this.agent = new (url.startsWith("https:") ? https.Agent : http.Agent)({ keepAlive: true, maxSockets: 64 });
  }

  send<T = unknown>(method: string, params: unknown[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, method, params, resolve: resolve as (v: unknown) => void, reject });
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush() {
    const all = this.queue;
    this.queue = [];
    for (let i = 0; i < all.length; i += this.maxBatch) void this.post(all.slice(i, i + this.maxBatch));
  }

  private async post(batch: Pending[]) {
    try {
      const body = JSON.stringify(batch.map((p) => ({ jsonrpc: "2.0", id: p.id, method: p.method, params: p.params })));
      const res = await postJson(this.url, body, this.agent, this.timeoutMs);
      if (res.status < 200 || res.status >= 300) throw new Error(`HTTP ${res.status} from the node`);
      const answers = JSON.parse(res.body) as { id: number; result?: unknown; error?: { code: number; message: string; data?: unknown } }[] | { error?: { code: number; message: string } };
      if (!Array.isArray(answers)) throw new RpcError(answers.error?.code ?? -32603, answers.error?.message ?? "invalid batch answer");
      const byId = new Map(answers.map((a) => [a.id, a]));
      for (const p of batch) {
        const a = byId.get(p.id);
        if (!a) p.reject(new Error(`no answer for ${p.method} in the batch`));
        else if (a.error) p.reject(new RpcError(a.error.code, a.error.message, revertData(a.error.data)));
        else p.resolve(a.result);
      }
    } catch (err) {
      for (const p of batch) p.reject(err);
    }
  }
}

/** POSTs a JSON body and reads the whole answer; rejects on transport errors and after `timeoutMs`. */
function postJson(url: string, body: string, agent: http.Agent, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = (url.startsWith("https:") ? https : http).request(
      url,
      { method: "POST", agent, timeout: timeoutMs, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`timeout: no answer from the node within ${timeoutMs} ms`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Revert data as nodes report it: a hex string, or { data: hex } (some clients nest it). */
function revertData(data: unknown): string | undefined {
  if (typeof data === "string" && data.startsWith("0x")) return data;
  if (data && typeof data === "object" && typeof (data as { data?: unknown }).data === "string") return (data as { data: string }).data;
  return undefined;
}
