import type { HDNodeWallet } from "ethers";
import type { SystemAddresses } from "../../../api/chain/addresses";
import { signed } from "./stack";

/**
 * A load generator for the relay tests and drills: each sender submits requests with consecutive
 * forwarder nonces, `window` at a time, over HTTP. A request is retried with the same body and
 * idempotency key until the relay gives a definite answer, so a relay that crashes between
 * committing and answering never makes the sender skip or reuse a nonce.
 */

export interface Sender {
  wallet: HDNodeWallet;
  to: string;
  data: () => string;
  startNonce: bigint;
}

export interface LoadResult {
  /** "signer:nonce" (lower-case signer) → request id, for every request the relay accepted. */
  accepted: Map<string, string>;
  retries: number;
  refusals: string[];
}

export async function driveLoad(opts: {
  url: () => string;
  addresses: SystemAddresses;
  senders: Sender[];
  perSender: number;
  window?: number;
  /** Stop early (e.g. the test's phase ended); pending nonces are still retried to a definite answer. */
  stopAt?: () => boolean;
  timeoutMs?: number;
  /** Filled while the load runs, so a drill can act at a given point of progress. */
  into?: LoadResult;
  /** Called at once after each acceptance with the number accepted so far: a drill acts at an exact point, while requests are in flight. */
  onAccepted?: (count: number) => void;
}): Promise<LoadResult> {
  const result: LoadResult = opts.into ?? { accepted: new Map(), retries: 0, refusals: [] };
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  const window = opts.window ?? 8;

  const submitOne = async (s: Sender, nonce: bigint) => {
    const body = { request: signed(opts.addresses, s.wallet, s.to, s.data(), nonce), idempotencyKey: `${s.wallet.address.toLowerCase()}-${nonce}` };
    for (;;) {
      if (Date.now() > deadline) throw new Error(`load: no definite answer for nonce ${nonce} of ${s.wallet.address} before the deadline`);
      try {
        const res = await fetch(`${opts.url()}/v1/requests`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
        const json = (await res.json()) as { id?: string; error?: { code: string; message: string } };
        if (res.status === 202 || res.status === 200) {
          result.accepted.set(`${s.wallet.address.toLowerCase()}:${nonce}`, json.id!);
          opts.onAccepted?.(result.accepted.size);
          return;
        }
        if (res.status === 503 || res.status === 429) {
          result.retries++;
        } else {
          result.refusals.push(`${res.status} ${json.error?.code}: ${json.error?.message}`);
          return;
        }
      } catch {
        result.retries++; // relay down or connection cut: same body, same key, again
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  await Promise.all(
    opts.senders.map(async (s) => {
      let next = s.startNonce;
      const end = s.startNonce + BigInt(opts.perSender);
      while (next < end && !(opts.stopAt?.() ?? false)) {
        const wave: Promise<void>[] = [];
        for (let i = 0; i < window && next < end; i++, next++) wave.push(submitOne(s, next));
        await Promise.all(wave);
      }
    }),
  );
  return result;
}

/** GET the state of every accepted request (tolerating a relay that is restarting). */
export async function statesOf(url: string, ids: string[]): Promise<Map<string, { state: string; success: boolean | null; error: unknown }>> {
  const out = new Map<string, { state: string; success: boolean | null; error: unknown }>();
  const chunk = 50;
  for (let i = 0; i < ids.length; i += chunk) {
    await Promise.all(
      ids.slice(i, i + chunk).map(async (id) => {
        const res = await fetch(`${url}/v1/requests/${id}`);
        out.set(id, (await res.json()) as { state: string; success: boolean | null; error: unknown });
      }),
    );
  }
  return out;
}
