import crypto from "node:crypto";
import dns from "node:dns/promises";
import net from "node:net";
import type { Projector, AppendedBatch } from "./projector";
import { queryDocument, queryPage, type EventFilter, type Visibility } from "./query";
import type { EpcisStore, SubscriptionRow } from "./store";
import { Waker } from "./waker";

/**
 * Webhook subscriptions: each subscription has a cursor (the last event sequence its receiver
 * acknowledged with a 2xx), persisted. Its worker posts the next events after the cursor (at most
 * `batchSize` per POST, in ledger order) as an EPCISQueryDocument, signed with HMAC-SHA256 of
 * the body under the subscription's secret (`GS1-Signature: sha256=<hex>`), and moves the cursor
 * only after a 2xx. A failure (connection refused, timeout, non-2xx) is retried with exponential
 * backoff (base × 2^failures, capped), the same events again. So every event reaches the receiver
 * in order; a POST whose 2xx was lost (or a crash between the 2xx and the cursor write) is sent
 * again, which a receiver recognises by the eventIDs (each body also carries `X-EPCIS-Delivery:
 * <subscriptionID>:<first seq>-<last seq>`): exactly once after the receiver's dedupe by eventID.
 */

export interface DeliveryOptions {
  store: EpcisStore;
  projector: Projector;
  /** The viewers of a subscription's owner (recomputed at each delivery: a role can change). */
  visibilityOf(owner: string): Promise<Visibility>;
  batchSize: number;
  timeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
  allowPrivate: boolean;
  allowHttp: boolean;
  log?: { warn(obj: unknown, msg?: string): void };
  /** Called after each delivery that a receiver acknowledged (lag from projection to the 2xx). */
  onDelivered?(subscriptionId: string, events: number, lagsMs: number[]): void;
}

export class DestinationError extends Error {}

const PRIVATE_V4 = [/^10\./, /^127\./, /^169\.254\./, /^172\.(1[6-9]|2\d|3[01])\./, /^192\.168\./, /^0\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./];
function isPrivate(ip: string): boolean {
  if (net.isIPv4(ip)) return PRIVATE_V4.some((r) => r.test(ip));
  const v = ip.toLowerCase();
  return v === "::1" || v === "::" || v.startsWith("fc") || v.startsWith("fd") || v.startsWith("fe80") || v.startsWith("::ffff:127.") || v.startsWith("::ffff:10.") || v.startsWith("::ffff:192.168.");
}

/** Checks a webhook destination: https (http only when allowed), no credentials, no private address unless allowed. */
export async function checkDestination(dest: string, o: { allowPrivate: boolean; allowHttp: boolean }): Promise<URL> {
  let url: URL;
  try {
    url = new URL(dest);
  } catch {
    throw new DestinationError(`dest "${dest}" is not an absolute URL`);
  }
  if (url.protocol !== "https:" && !(o.allowHttp && url.protocol === "http:")) throw new DestinationError(`dest must be an https URL${o.allowHttp ? " or http" : ""}`);
  if (url.username || url.password) throw new DestinationError("dest must not carry credentials; the HMAC signature authenticates the service to you");
  if (!o.allowPrivate) {
    const host = url.hostname.replace(/^\[|\]$/g, "");
    const addresses = net.isIP(host) ? [host] : (await dns.lookup(host, { all: true }).catch(() => [])).map((a) => a.address);
    if (addresses.length === 0) throw new DestinationError(`dest host ${host} does not resolve`);
    if (addresses.some(isPrivate)) throw new DestinationError(`dest host ${host} is a private or loopback address`);
  }
  return url;
}

export function signBody(secret: string, body: string): string {
  return "sha256=" + crypto.createHmac("sha256", secret).update(body, "utf8").digest("hex");
}

export class WebhookDeliverer {
  private running = false;
  private readonly workers = new Map<string, { wake: () => void; done: Promise<void>; stop: boolean }>();
  private readonly seenAt = new Map<number, number>();
  private readonly onAppended = (b: AppendedBatch) => {
    for (let s = b.fromSeq; s <= b.toSeq; s++) this.seenAt.set(s, b.seenAt);
    if (this.seenAt.size > 200_000) for (const k of [...this.seenAt.keys()].slice(0, 100_000)) this.seenAt.delete(k);
    for (const w of this.workers.values()) w.wake();
  };

  constructor(private readonly o: DeliveryOptions) {}

  start(): void {
    this.running = true;
    this.o.projector.on("appended", this.onAppended);
    for (const s of this.o.store.subscriptions()) this.spawn(s.id);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.o.projector.off("appended", this.onAppended);
    const all = [...this.workers.values()];
    for (const w of all) {
      w.stop = true;
      w.wake();
    }
    await Promise.all(all.map((w) => w.done));
    this.workers.clear();
  }

  /** Starts delivering a (new) subscription. */
  spawn(id: string): void {
    if (!this.running || this.workers.has(id)) return;
    const waker = new Waker();
    const state = { wake: () => waker.poke(), done: Promise.resolve(), stop: false };
    state.done = (async () => {
      while (this.running && !state.stop) {
        const sub = this.o.store.subscription(id);
        if (!sub) break; // deleted
        const wait = sub.nextAttemptAt - Date.now();
        if (wait > 0) {
          await waker.sleep(wait);
          continue;
        }
        const delivered = await this.deliverOnce(sub).catch((err: Error) => {
          this.o.log?.warn({ err: err.message, subscription: id }, "EPCIS webhook: delivery round failed");
          return 0;
        });
        if (delivered === 0 && !state.stop) await waker.sleep(1_000);
      }
      this.workers.delete(id);
    })();
    this.workers.set(id, state);
  }

  /** Posts the next events after the cursor; returns how many were acknowledged (0: nothing or a failure). */
  async deliverOnce(sub: SubscriptionRow): Promise<number> {
    const filter = JSON.parse(sub.params) as EventFilter;
    const visibility = await this.o.visibilityOf(sub.owner);
    const max = this.o.store.maxSeq();
    const page = queryPage(this.o.store, filter, visibility, sub.cursorSeq, max, this.o.batchSize);
    if (page.events.length === 0) {
      // Nothing for this subscriber up to `max`: skip ahead so later scans start there.
      if (max > sub.cursorSeq) this.o.store.skipSubscription(sub.id, sub.cursorSeq, max);
      return 0;
    }
    const body = queryDocument(page.events, sub.queryName, sub.id);
    const firstSeq = sub.cursorSeq + 1;
    try {
      const url = await checkDestination(sub.dest, this.o);
      const res = await fetch(url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "GS1-Signature": signBody(sub.secret ?? "", body),
          "X-EPCIS-Delivery": `${sub.id}:${firstSeq}-${page.lastSeq}`,
          "GS1-EPCIS-Version": "2.0.0",
        },
        body,
        signal: AbortSignal.timeout(this.o.timeoutMs),
        redirect: "error",
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.status < 200 || res.status > 299) throw new Error(`the receiver answered ${res.status}`);
    } catch (err) {
      const failures = sub.failures + 1;
      const delay = Math.min(this.o.backoffMaxMs, this.o.backoffBaseMs * 2 ** Math.min(failures - 1, 20));
      this.o.store.subscriptionFailed(sub.id, failures, Date.now() + delay, (err as Error).message);
      return 0;
    }
    this.o.store.advanceSubscription(sub.id, page.lastSeq);
    if (this.o.onDelivered) {
      const now = Date.now();
      const lags: number[] = [];
      for (const seq of page.seqs) {
        const at = this.seenAt.get(seq);
        if (at !== undefined) lags.push(now - at);
      }
      this.o.onDelivered(sub.id, page.events.length, lags);
    }
    return page.events.length;
  }
}
