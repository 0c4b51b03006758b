import { Wallet } from "ethers";
import { RpcError, type RpcClient } from "./rpc";
import { encodeExecuteBatch, signLegacyTx } from "./raw-tx";
import type { FastifyBaseLogger } from "fastify";
import type { SystemAddresses } from "../chain/addresses";
import { isTransportError, type ChainView } from "./chain-view";
import { forwarderInterface } from "./policy";
import { parseRequest, type Outbox, type RequestRow, type TxRow } from "./outbox";
import type { RelayMetrics } from "./metrics";
import { LruCache } from "./lru";
import { redactNodeDetails } from "../chain/redact";

/**
 * The submitter: a pool of relayer keys, each a "lane" with its own local nonce counter and at
 * most RELAY_MAX_PENDING_PER_KEY unmined transactions (Besu refuses nonces more than 5 — sequenced
 * pool — or 200 — layered — ahead of the chain nonce). Requests are grouped into
 * `executeBatch(requests, refundReceiver = relayer)`: with a non-zero refund receiver the
 * forwarder skips an invalid request and records a reverting one as failed instead of reverting
 * the whole transaction, so one bad request never sinks the others.
 *
 * Fairness: a batch is built round-robin over the signers of its lane — one request of each
 * signer whose next nonce can run, then the next of each, until the batch is full — starting after
 * the signer served first last time. A signer whose queued requests wait behind a nonce gap costs
 * one index lookup and is passed over; it never holds back the others. Queued requests past their
 * deadline are failed (DEADLINE_EXPIRED) by one indexed sweep over the whole queue, wherever they
 * wait. (Reading the first 2 × RELAY_MAX_BATCH_SIZE queued rows in (signer, nonce) order let one
 * member with that many gapped requests stall every other member of its lane: nothing was sent
 * or expired for them, for as long as the gap lasted.)
 *
 * Stall reporting: a lane is stalled when requests it could send have waited longer than
 * RELAY_STALL_MS, or its oldest unmined transaction is that old; /ready then fails and the
 * medtrace_relay_lane_* metrics say which lane and why.
 *
 * Ordering: the forwarder wants each signer's nonces in order. A signer is pinned to one lane
 * (the lane with the fewest signers when the relay first sees it; at start-up, the lane of its
 * requests already in flight), and one lane's transactions execute in relayer-nonce order, so a
 * signer's requests reach the chain in nonce order even with several batches in flight. Pinning
 * by a hash of the address put two of the benchmark's five members on one of eight lanes, which
 * then held back mining; it also stranded queued requests when RELAYER_KEYS changed between
 * restarts (their lane no longer existed), which the start-up assignment now moves.
 *
 * Outcome of each request = the forwarder's ExecutedForwardRequest(signer, nonce, success) log
 * in the receipt. A request without such a log was skipped: if the signer's forwarder nonce has
 * passed it, it ran in another transaction (found in the logs); otherwise it is queued again.
 * The forwarder nonce makes double execution impossible, whatever the relay does.
 *
 * Crash safety: a transaction (raw bytes, relayer nonce, request ids) is written to the outbox
 * before it is sent; after a restart the unmined ones are polled and re-broadcast, never re-signed
 * with other requests, so the recovery path is the same as the node-lost-my-transaction path.
 */

export interface SubmitterOptions {
  rpc: RpcClient;
  chainId: bigint;
  addresses: SystemAddresses;
  outbox: Outbox;
  view: ChainView;
  metrics: RelayMetrics;
  log: FastifyBaseLogger;
  relayerKeys: string[];
  maxBatchSize: number;
  batchWaitMs: number;
  maxPendingPerKey: number;
  pollMs: number;
  rebroadcastMs: number;
  txGasCap: number;
  enabled: boolean;
  /** RELAY_STALL_MS: how long ready requests or an unmined transaction may wait before the lane counts as stalled. */
  stallMs?: number;
  /** RELAY_ADDRESS_CACHE_SIZE: bound of the per-signer maps. */
  addressCacheSize?: number;
}

/** What /ready and the metrics say about one relayer lane. */
export interface LaneState {
  index: number;
  relayer: string;
  inflight: number;
  /** How long requests the lane could send have waited unsent (0 when none wait). */
  readyWaitMs: number;
  /** Age of the oldest transaction sent and not yet mined (0 when none). */
  oldestInflightMs: number;
  /** Signers whose queued requests wait behind a nonce gap, at the last look. */
  gappedSigners: number;
  stalled: boolean;
  lastError?: string;
}

type Picked = { row: RequestRow; data: ReturnType<typeof parseRequest> };

/** A batch to send: the requests, and where each signer's next nonce stands once it is sent. */
interface Plan {
  batch: Picked[];
  advance: Map<string, bigint>;
  /** Acceptance time of the oldest request that could have gone and did not fit (undefined: none left). */
  waiting: number | undefined;
  gapped: number;
}

interface InflightTx {
  hash: string;
  nonce: number;
  raw: string;
  requestIds: string[];
  lastBroadcast: number;
  /** Whether the node accepted it at least once (else it is re-broadcast at the next poll). */
  acknowledged: boolean;
  /** When it was first written and sent (for stall reporting). */
  sentAt: number;
}

interface Lane {
  index: number;
  wallet: Wallet;
  address: string;
  nextNonce: number | undefined;
  inflight: Map<string, InflightTx>;
  backoffUntil: number;
  lastError?: string;
  /** Next executable forwarder nonce per signer, counting this lane's in-flight transactions (bounded; re-read from the chain when evicted). */
  signerNext: LruCache<string, bigint>;
  /** The signer served first by the last batch: the next batch starts after it. */
  lastFirst: string | undefined;
  /** Since when requests this lane could send have waited unsent (undefined: none wait). */
  readySince: number | undefined;
  gappedSigners: number;
}


const BASE_TX_GAS = 60_000n;
/** Queued rows first read per signer when a batch is planned (enough for a few stale ones and the head). */
const HEAD_ROWS = 8;
const PER_REQUEST_OVERHEAD = 45_000n;

export class Submitter {
  readonly lanes: Lane[];
  private running = false;
  private loopPromise: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private nodeOk = true;
  private nodeDetail = "not checked yet";
  private nodeFailures = 0;
  private lastPoll = 0;
  private lastHealth = 0;
  private chainIssue: string | undefined;
  private firstQueuedAt = new Map<number, number>();
  /** Requests accepted for each lane since its last batch (a hint: the outbox is the truth). */
  private queuedHint = new Map<number, number>();

  /** Lane of each signer seen (lower-case address). */
  private readonly signerLane = new Map<string, number>();

  private readonly stallMs: number;
  private readonly addressCacheSize: number;
  private lastSweep = 0;

  constructor(private readonly o: SubmitterOptions) {
    this.stallMs = o.stallMs ?? 30_000;
    this.addressCacheSize = o.addressCacheSize ?? 10_000;
    this.lanes = o.relayerKeys.map((key, index) => {
      const wallet = new Wallet(key);
      return {
        index,
        wallet,
        address: wallet.address,
        nextNonce: undefined,
        inflight: new Map(),
        backoffUntil: 0,
        signerNext: new LruCache<string, bigint>(this.addressCacheSize),
        lastFirst: undefined,
        readySince: undefined,
        gappedSigners: 0,
      };
    });
    this.assignLiveSigners();
  }

  /**
   * Signers with requests not yet on chain keep the lane of their submitted ones (if that lane
   * still exists); their queued requests follow it. Everyone else is assigned when next seen.
   */
  private assignLiveSigners() {
    if (this.lanes.length === 0) return;
    const live = this.o.outbox.liveLanes();
    const submittedLane = new Map<string, number>();
    for (const r of live) if (r.state === "submitted" && r.lane < this.lanes.length) submittedLane.set(r.signer.toLowerCase(), r.lane);
    for (const r of live) {
      const key = r.signer.toLowerCase();
      if (this.signerLane.has(key)) continue;
      const lane = submittedLane.get(key) ?? this.laneFor(r.signer);
      this.pin(key, lane);
    }
    for (const r of live) {
      const lane = this.signerLane.get(r.signer.toLowerCase())!;
      if (r.state === "queued" && r.lane !== lane) {
        const moved = this.o.outbox.moveQueued(r.signer, lane);
        if (moved > 0) this.o.log.info({ signer: r.signer, from: r.lane, to: lane, moved }, "queued requests moved to their signer's lane");
      }
    }
  }

  private pin(key: string, lane: number) {
    if (!this.signerLane.has(key)) this.signerLane.set(key, lane);
  }

  /**
   * Forgets the lane of every signer with nothing queued or in flight: its next request may go to
   * any lane, as nothing of it can arrive out of order. Run when the map reaches
   * RELAY_ADDRESS_CACHE_SIZE, so it holds about the signers with work in progress.
   */
  private unpinIdleSigners() {
    const live = new Set(this.o.outbox.liveLanes().map((r) => r.signer.toLowerCase()));
    for (const lane of this.lanes) for (const tx of lane.inflight.values()) for (const id of tx.requestIds) {
      const row = this.o.outbox.get(id);
      if (row) live.add(row.signer.toLowerCase());
    }
    for (const key of [...this.signerLane.keys()]) if (!live.has(key)) this.signerLane.delete(key);
  }

  /** The lane `signer` is pinned to, if any (does not pin). */
  knownLane(signer: string): number | undefined {
    return this.signerLane.get(signer.toLowerCase());
  }

  /** Signers pinned to a lane (a metric: kept near the number of signers with requests in progress). */
  get pinnedSigners(): number {
    return this.signerLane.size;
  }

  /** The lane that sends `signer`'s requests: fixed once chosen, the least busy one for a new signer. */
  laneFor(signer: string): number {
    if (this.lanes.length === 0) return 0;
    const key = signer.toLowerCase();
    const known = this.signerLane.get(key);
    if (known !== undefined) return known;
    if (this.signerLane.size >= this.addressCacheSize) this.unpinIdleSigners();
    // A new signer (rare next to its requests): count the signers each lane carries.
    const perLane = this.lanes.map(() => 0);
    for (const lane of this.signerLane.values()) perLane[lane]++;
    const best = perLane.indexOf(Math.min(...perLane));
    this.pin(key, best);
    return best;
  }

  /** Each lane's progress: what /ready and the medtrace_relay_lane_* metrics report. */
  laneStates(): LaneState[] {
    const now = Date.now();
    return this.lanes.map((l) => {
      const readyWaitMs = l.readySince === undefined ? 0 : Math.max(0, now - l.readySince);
      let oldestInflightMs = 0;
      for (const tx of l.inflight.values()) oldestInflightMs = Math.max(oldestInflightMs, now - tx.sentAt);
      const stalled = this.o.enabled && this.running && (readyWaitMs > this.stallMs || oldestInflightMs > this.stallMs);
      return { index: l.index, relayer: l.address, inflight: l.inflight.size, readyWaitMs, oldestInflightMs, gappedSigners: l.gappedSigners, stalled, lastError: l.lastError };
    });
  }

  /** Readiness of the submitter: why it cannot send right now, if it cannot. */
  status(): { ok: boolean; detail: string } {
    if (!this.o.enabled) return { ok: true, detail: "submitter disabled (RELAY_SUBMITTER_ENABLED=false): requests are queued only" };
    if (this.chainIssue) return { ok: false, detail: this.chainIssue };
    if (!this.nodeOk) return { ok: false, detail: `node unreachable, requests stay queued: ${this.nodeDetail}` };
    const bad = this.lanes.filter((l) => l.lastError && l.backoffUntil > Date.now());
    if (bad.length === this.lanes.length && bad.length > 0) return { ok: false, detail: `every relayer key is backing off: ${bad[0].lastError}` };
    const states = this.laneStates();
    const stalled = states.filter((s) => s.stalled);
    if (stalled.length > 0) {
      const why = (s: LaneState) =>
        `lane ${s.index} (relayer ${s.relayer}): requests ready to send have waited ${Math.round(s.readyWaitMs / 1000)} s, ` +
        `oldest unmined transaction sent ${Math.round(s.oldestInflightMs / 1000)} s ago (${s.inflight} in flight)${s.lastError ? `; last node answer: ${s.lastError}` : ""}`;
      return { ok: false, detail: `${stalled.length} of ${states.length} relayer lanes stalled or saturated for more than ${Math.round(this.stallMs / 1000)} s (RELAY_STALL_MS): ${stalled.map(why).join("; ")}` };
    }
    const inflight = states.reduce((n, l) => n + l.inflight, 0);
    const gapped = states.reduce((n, l) => n + l.gappedSigners, 0);
    return { ok: true, detail: `${this.lanes.length} relayer keys, ${inflight} transactions in flight${gapped ? `, ${gapped} signers waiting behind a nonce gap` : ""}` };
  }

  setChainIssue(issue: string | undefined) {
    this.chainIssue = issue;
  }

  /**
   * Called after a request is accepted: wakes the loop when the lane can send now (nothing in
   * flight, or a full batch waiting). Waking on every request made the loop re-read each lane's
   * queue hundreds of times a second under load (bench:relay profile).
   */
  notify(lane: number) {
    if (!this.firstQueuedAt.has(lane)) this.firstQueuedAt.set(lane, Date.now());
    const waiting = (this.queuedHint.get(lane) ?? 0) + 1;
    this.queuedHint.set(lane, waiting);
    const l = this.lanes[lane];
    // Counted as ready until the lane looks at it (a gapped request is then taken back out).
    if (l) l.readySince ??= Date.now();
    if (!l || (l.inflight.size < this.o.maxPendingPerKey && (l.inflight.size === 0 || waiting >= this.o.maxBatchSize))) this.wake?.();
  }

  async start() {
    if (!this.o.enabled || this.running) return;
    this.running = true;
    this.recoverInflight();
    this.loopPromise = this.loop();
  }

  /** Stops taking new batches, then waits (bounded) for in-flight transactions to be mined. */
  async stop(drainMs = 10_000) {
    if (!this.running) return;
    this.running = false;
    this.wake?.();
    await this.loopPromise;
    const until = Date.now() + drainMs;
    while (Date.now() < until && this.lanes.some((l) => l.inflight.size > 0)) {
      await this.poll().catch(() => undefined);
      await new Promise((r) => setTimeout(r, this.o.pollMs));
    }
  }

  /** Loads the transactions that were sent (or written ahead) before a restart. */
  private recoverInflight() {
    for (const tx of this.o.outbox.sentTxs()) {
      const lane = this.lanes.find((l) => l.address.toLowerCase() === tx.relayer.toLowerCase());
      if (!lane) {
        // A key removed from RELAYER_KEYS: its transactions are still watched through a lane-less
        // resolution (the forwarder nonce decides), here simply by requeueing their requests.
        this.o.log.warn({ tx: tx.hash, relayer: tx.relayer }, "transaction of a relayer key no longer configured: requeueing its requests");
        this.o.outbox.settle([], JSON.parse(tx.request_ids) as string[], { hash: tx.hash, state: "dropped", blockNumber: null });
        continue;
      }
      lane.inflight.set(tx.hash, toInflight(tx));
    }
    // Requests of transactions just requeued, or of lanes that no longer exist, follow their signer.
    this.assignLiveSigners();
  }

  private async loop() {
    while (this.running) {
      const now = Date.now();
      try {
        if (now - this.lastHealth > 2_000 || !this.nodeOk) await this.healthCheck();
        if (!this.chainIssue) this.expireQueued();
        if (this.nodeOk && !this.chainIssue) {
          if (now - this.lastPoll >= this.o.pollMs) {
            this.lastPoll = now;
            await this.poll();
          }
          await Promise.all(this.lanes.map((lane) => this.fillLane(lane)));
        }
      } catch (err) {
        this.noteFailure(err);
      }
      const delay = this.nodeOk ? Math.min(this.o.pollMs, Math.max(5, this.o.batchWaitMs)) : Math.min(5_000, 250 * 2 ** Math.min(this.nodeFailures, 5));
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, delay);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
      this.wake = undefined;
    }
  }

  /** The first line of a node error, without the node's address: it is shown on the public /ready. */
  private nodeError(err: unknown): string {
    return redactNodeDetails(String((err as Error)?.message ?? err).split("\n")[0], this.o.rpc.url);
  }

  private noteFailure(err: unknown) {
    if (isTransportError(err) || (err as Error)?.name === "NodeUnavailableError") {
      this.nodeOk = false;
      this.nodeFailures++;
      this.nodeDetail = this.nodeError(err);
      return;
    }
    this.o.log.error({ err }, "submitter loop error");
  }

  private async healthCheck() {
    this.lastHealth = Date.now();
    try {
      await this.o.rpc.send("eth_blockNumber", []);
      if (!this.nodeOk) this.o.log.info("chain node reachable again: resuming submission");
      this.nodeOk = true;
      this.nodeFailures = 0;
      this.nodeDetail = "reachable";
      // After an outage the node may have lost its pool: re-broadcast at the next poll.
      for (const lane of this.lanes) for (const tx of lane.inflight.values()) tx.lastBroadcast = Math.min(tx.lastBroadcast, Date.now() - this.o.rebroadcastMs / 2);
    } catch (err) {
      this.nodeOk = false;
      this.nodeFailures++;
      this.nodeDetail = this.nodeError(err);
    }
  }

  private async laneNonce(lane: Lane): Promise<number> {
    if (lane.nextNonce === undefined) {
      const pending = Number(await this.o.rpc.send("eth_getTransactionCount", [lane.address, "pending"]));
      // Written-ahead transactions the node never saw (crash before sending) still own their nonces.
      const inflightMax = Math.max(-1, ...[...lane.inflight.values()].map((t) => t.nonce));
      lane.nextNonce = Math.max(pending, inflightMax + 1);
    }
    return lane.nextNonce;
  }

  /**
   * Fails every queued request whose deadline has passed (or will within 2 s, before a block could
   * carry it): one range read of the queued-deadline index, whatever lane or nonce gap they wait in.
   */
  private expireQueued() {
    const now = Date.now();
    if (now - this.lastSweep < 500) return;
    this.lastSweep = now;
    const cutoff = Math.floor(now / 1000) + 2;
    for (;;) {
      const ids = this.o.outbox.expiredQueued(cutoff, 1_000);
      if (ids.length === 0) return;
      this.o.outbox.settle(
        ids.map((id) => ({
          id,
          state: "failed" as const,
          txHash: null,
          blockNumber: null,
          success: null,
          errorCode: "DEADLINE_EXPIRED",
          errorMessage: "the request's deadline passed before it could be executed (it was still queued: an earlier nonce of its signer had not arrived, or the relay could not send in time)",
        })),
      );
      this.o.metrics.finished.inc({ outcome: "expired" }, ids.length);
      if (ids.length < 1_000) return;
    }
  }

  /** Reads `signer`'s forwarder nonce in the background when the cached one is older than a poll interval. */
  private refreshNonce(signer: string) {
    this.o.view.forwarderNonceMaxAge(signer, this.o.pollMs).then(
      (nonce) => {
        // The chain moved past a gap: plan again soon rather than at the next request.
        const lane = this.lanes[this.knownLane(signer) ?? -1];
        if (lane && nonce > (lane.signerNext.peek(signer.toLowerCase()) ?? nonce)) this.wake?.();
      },
      () => undefined, // node trouble: the health check reports it
    );
  }

  /** Builds and sends batches for `lane` while it has room under the per-key pending cap. */
  private async fillLane(lane: Lane) {
    if (!this.running || lane.backoffUntil > Date.now()) return;
    while (this.running && lane.inflight.size < this.o.maxPendingPerKey) {
      // Wait up to RELAY_BATCH_WAIT_MS for a fuller batch when the lane already has work in flight
      // (decided without reading the outbox while the accepted-request count says it is too early).
      const first = this.firstQueuedAt.get(lane.index);
      if (lane.inflight.size > 0 && first !== undefined && Date.now() - first < this.o.batchWaitMs && (this.queuedHint.get(lane.index) ?? 0) < this.o.maxBatchSize) return;
      const plan = await this.planBatch(lane);
      lane.gappedSigners = plan.gapped;
      if (plan.batch.length === 0) {
        this.firstQueuedAt.delete(lane.index);
        this.queuedHint.delete(lane.index);
        lane.readySince = undefined;
        return;
      }
      if (first === undefined) this.firstQueuedAt.set(lane.index, Date.now());
      const since = first ?? Date.now();
      if (plan.batch.length < this.o.maxBatchSize && lane.inflight.size > 0 && Date.now() - since < this.o.batchWaitMs) {
        lane.readySince ??= Date.now();
        return;
      }
      for (const [key, next] of plan.advance) lane.signerNext.set(key, next);
      lane.lastFirst = plan.batch[0].row.signer;
      lane.readySince = plan.waiting;
      this.firstQueuedAt.delete(lane.index);
      // Requests behind a gap no longer count as waiting once the lane has looked at them.
      this.queuedHint.set(lane.index, plan.waiting === undefined ? 0 : Math.max(0, (this.queuedHint.get(lane.index) ?? 0) - plan.batch.length));
      const sent = await this.sendBatch(lane, plan.batch);
      if (!sent) return;
    }
  }

  /**
   * The next batch of `lane`, round-robin over its signers (see the class comment). For each
   * signer it reads only the requests that continue its nonce sequence, a fair share at a time,
   * and more only while the batch has room; a signer whose first queued nonce is not its next one
   * waits behind a gap and is passed over after one lookup. Nothing here changes the lane's state
   * except settling requests that can never run (expired, or nonce used elsewhere): the caller
   * commits `advance` only when it sends the batch.
   */
  private async planBatch(lane: Lane): Promise<Plan> {
    const nowSec = BigInt(Math.floor(Date.now() / 1000));
    const signers = this.o.outbox.queuedSigners(lane.index);
    const plan: Plan = { batch: [], advance: new Map(), waiting: undefined, gapped: 0 };
    if (signers.length === 0) return plan;
    let start = lane.lastFirst === undefined ? 0 : signers.findIndex((signer) => signer > lane.lastFirst!);
    if (start < 0) start = 0;
    const order = [...signers.slice(start), ...signers.slice(0, start)];
    // Signers the lane has not seen lately: their forwarder nonces, read together (one JSON-RPC batch).
    await Promise.all(
      order.map(async (signer) => {
        const key = signer.toLowerCase();
        if (lane.signerNext.get(key) === undefined) lane.signerNext.set(key, await this.o.view.forwarderNonce(signer, true));
      }),
    );

    interface Stream {
      signer: string;
      key: string;
      next: bigint;
      rows: RequestRow[];
      pos: number;
      more: boolean;
      done: boolean;
    }
    const share = Math.max(2, Math.ceil(this.o.maxBatchSize / order.length));
    const streams: Stream[] = [];
    const expired: RequestRow[] = [];
    const stale: RequestRow[] = [];
    for (const signer of order) {
      const key = signer.toLowerCase();
      let next = lane.signerNext.get(key) ?? (await this.o.view.forwarderNonce(signer, true));
      // A few rows tell whether the signer can run (take() reads on only for those that can): a
      // signer parked behind a gap costs one short read per batch, whatever it has queued.
      const rows = this.o.outbox.queuedOfSigner(lane.index, signer, 0, HEAD_ROWS);
      let pos = 0;
      // Queued below the next nonce: used on chain already (resolved), or this lane's count is off.
      let reset = false;
      while (pos < rows.length && BigInt(rows[pos].nonce) < next) {
        if (BigInt(rows[pos].nonce) < (await this.o.view.forwarderNonce(signer, true))) stale.push(rows[pos]);
        else reset = true;
        pos++;
      }
      if (reset) {
        lane.signerNext.delete(key);
        continue;
      }
      if (pos >= rows.length) {
        // Only stale rows were read: look further next time round.
        continue;
      }
      const head = BigInt(rows[pos].nonce);
      if (head > next) {
        // A gap: an earlier nonce is still on its way to us, or the chain moved on without us
        // (another relay, or our in-flight batches were mined). The chain decides, from the
        // nonce last read: a fresh read is started for the next plan but not awaited, since the
        // loop awaits every lane's plan and a node round trip here (hundreds of ms while a block
        // is sealed) delayed all lanes by it, every poll interval, for as long as the gap lasted.
        const onChain = this.o.view.cachedNonce(signer);
        this.refreshNonce(signer);
        if (onChain !== undefined && onChain > next) lane.signerNext.set(key, (next = onChain));
        if (head !== next) {
          plan.gapped++;
          continue;
        }
      }
      streams.push({ signer, key, next, rows, pos, more: rows.length === HEAD_ROWS, done: false });
    }

    /** The stream's next request if it continues the signer's sequence (reading more when its share is used up). */
    const take = (st: Stream, room: number): RequestRow | undefined => {
      if (st.done) return undefined;
      if (st.pos >= st.rows.length) {
        if (!st.more) {
          st.done = true;
          return undefined;
        }
        // A fair share at a time (never more than the batch has room for): signers that keep
        // running get more in later rounds; none is read far past what can be sent.
        const limit = Math.max(1, Math.min(share, room));
        st.rows = this.o.outbox.queuedOfSigner(lane.index, st.signer, Number(st.next), limit);
        st.pos = 0;
        st.more = st.rows.length === limit;
        if (st.rows.length === 0) {
          st.done = true;
          return undefined;
        }
      }
      const row = st.rows[st.pos];
      if (BigInt(row.nonce) !== st.next) {
        st.done = true; // a gap inside the run: the rest waits
        return undefined;
      }
      return row;
    };

    let gas = BASE_TX_GAS;
    let full = false;
    while (!full) {
      let progressed = false;
      for (const st of streams) {
        if (plan.batch.length >= this.o.maxBatchSize) {
          full = true;
          break;
        }
        const row = take(st, this.o.maxBatchSize - plan.batch.length);
        if (!row) continue;
        // Parsed only once it is next in line: a long backlog is not re-parsed every loop turn.
        const data = parseRequest(row.payload);
        if (data.deadline < nowSec + 2n) {
          expired.push(row);
          st.done = true;
          continue;
        }
        const cost = data.gas + data.gas / 63n + PER_REQUEST_OVERHEAD + 16n * BigInt(data.data.length / 2 + 200);
        if (gas + cost > BigInt(this.o.txGasCap)) {
          full = true;
          break;
        }
        gas += cost;
        st.pos++;
        st.next++;
        plan.advance.set(st.key, st.next);
        plan.batch.push({ row, data });
        progressed = true;
      }
      if (!progressed) break;
    }
    if (full) {
      // What could have gone and did not fit waits for the next batch.
      for (const st of streams) {
        if (st.done) continue;
        const row = st.pos < st.rows.length ? st.rows[st.pos] : undefined;
        if (row && BigInt(row.nonce) !== st.next) continue;
        const at = row?.accepted_at ?? Date.now();
        plan.waiting = plan.waiting === undefined ? at : Math.min(plan.waiting, at);
      }
    }
    if (expired.length) {
      this.o.outbox.settle(
        expired.map((r) => ({
          id: r.id,
          state: "failed" as const,
          txHash: null,
          blockNumber: null,
          success: null,
          errorCode: "DEADLINE_EXPIRED",
          errorMessage: "the request's deadline passed before it could be executed",
        })),
      );
      this.o.metrics.finished.inc({ outcome: "expired" }, expired.length);
    }
    for (const row of stale) await this.resolveSkipped(row, null);
    return plan;
  }

  private async sendBatch(lane: Lane, batch: Picked[]): Promise<boolean> {
    const nonce = await this.laneNonce(lane);
    const calldata = encodeExecuteBatch(batch.map((b) => b.data), lane.address);
    let gas = BASE_TX_GAS + 16n * BigInt((calldata.length - 2) / 2);
    for (const b of batch) gas += b.data.gas + b.data.gas / 63n + PER_REQUEST_OVERHEAD;
    const { raw, hash } = signLegacyTx({ chainId: this.o.chainId, nonce, to: this.o.addresses.forwarder, data: calldata, gasLimit: gas, gasPrice: 0n, value: 0n }, lane.wallet.privateKey);
    const requestIds = batch.map((b) => b.row.id);
    this.o.outbox.recordTx({ hash, relayer: lane.address, relayerNonce: nonce, raw, requestIds });
    lane.nextNonce = nonce + 1;
    const tx: InflightTx = { hash, nonce, raw, requestIds, lastBroadcast: Date.now(), acknowledged: false, sentAt: Date.now() };
    lane.inflight.set(hash, tx);
    this.o.metrics.batchSize.observe(batch.length);
    return this.broadcast(lane, tx);
  }

  /** Sends (or re-sends) a raw transaction and classifies the node's answer. Returns whether the lane may continue. */
  private async broadcast(lane: Lane, tx: InflightTx): Promise<boolean> {
    tx.lastBroadcast = Date.now();
    const started = process.hrtime.bigint();
    try {
      await this.o.rpc.send("eth_sendRawTransaction", [tx.raw]);
      this.o.metrics.submitLatency.observe(Number(process.hrtime.bigint() - started) / 1e9);
      tx.acknowledged = true;
      lane.lastError = undefined;
      return true;
    } catch (err) {
      const { code, message } = rpcError(err);
      if (/already known|known transaction|already imported|AlreadyKnown/i.test(message)) {
        tx.acknowledged = true;
        return true;
      }
      if (isTransportError(err) && code === undefined) {
        this.noteFailure(err);
        return false; // stays in flight; re-broadcast when the node is back
      }
      lane.lastError = `${code ?? "?"} ${message}`;
      if (code === -32000 && /too distant/i.test(message)) {
        // Besu's per-sender pending cap: keep the transaction, try again once earlier ones are mined.
        lane.backoffUntil = Date.now() + Math.max(this.o.pollMs * 2, 500);
        return false;
      }
      if (code === -32006 || /nonce too high/i.test(message)) {
        lane.backoffUntil = Date.now() + this.o.pollMs * 2;
        tx.lastBroadcast = 0; // a gap before it: the earlier ones get re-broadcast at the next poll
        return false;
      }
      if (code === -32001 || /nonce too low|nonce has already been used|OldNonce/i.test(message)) {
        // The nonce is taken: by this very transaction (then a receipt exists) or by another one.
        const receipt = await this.receipt(tx.hash).catch(() => null);
        if (receipt) {
          await this.settleReceipt(lane, tx, receipt);
          return true;
        }
        this.dropTx(lane, tx, "relayer nonce taken by another transaction");
        lane.nextNonce = undefined;
        return false;
      }
      if (code === -32009 || /gas price below|underpriced/i.test(message)) {
        lane.backoffUntil = Date.now() + 30_000;
        this.o.log.error({ relayer: lane.address, message }, "node refuses zero gas price: configure min-gas-price=0 on the Besu node");
        tx.lastBroadcast = 0;
        return false;
      }
      // Any other refusal is final for this transaction: free its requests and fill its nonce.
      this.o.log.error({ relayer: lane.address, code, message }, "node refused a batch transaction");
      this.dropTx(lane, tx, message);
      await this.fillNonceGap(lane, tx.nonce);
      return false;
    }
  }

  /** A refused transaction leaves a hole in the lane's nonces; a zero-value self transfer fills it. */
  private async fillNonceGap(lane: Lane, nonce: number) {
    if (lane.nextNonce !== undefined && lane.nextNonce === nonce + 1) {
      lane.nextNonce = nonce; // nothing after it yet: simply reuse the nonce
      return;
    }
    const { raw, hash } = signLegacyTx({ chainId: this.o.chainId, nonce, to: lane.address, data: "0x", gasLimit: 21_000n, gasPrice: 0n, value: 0n }, lane.wallet.privateKey);
    this.o.outbox.recordTx({ hash, relayer: lane.address, relayerNonce: nonce, raw, requestIds: [] });
    const filler: InflightTx = { hash, nonce, raw, requestIds: [], lastBroadcast: Date.now(), acknowledged: false, sentAt: Date.now() };
    lane.inflight.set(hash, filler);
    await this.broadcast(lane, filler);
  }

  private dropTx(lane: Lane, tx: InflightTx, why: string) {
    lane.inflight.delete(tx.hash);
    this.o.outbox.settle([], tx.requestIds, { hash: tx.hash, state: "dropped", blockNumber: null });
    for (const id of tx.requestIds) {
      const row = this.o.outbox.get(id);
      if (row) lane.signerNext.delete(row.signer.toLowerCase());
    }
    this.o.log.warn({ tx: tx.hash, why }, "batch transaction dropped; its requests are queued again");
  }

  /** Polls receipts of every in-flight transaction; re-broadcasts the ones the node seems to have lost. */
  async poll() {
    const all = this.lanes.flatMap((lane) => [...lane.inflight.values()].map((tx) => ({ lane, tx })));
    if (all.length === 0) return;
    const receipts = await Promise.all(all.map(({ tx }) => this.receipt(tx.hash)));
    for (let i = 0; i < all.length; i++) {
      const { lane, tx } = all[i];
      const receipt = receipts[i];
      if (receipt) await this.settleReceipt(lane, tx, receipt);
    }
    for (const lane of this.lanes) {
      const pending = [...lane.inflight.values()].sort((a, b) => a.nonce - b.nonce);
      const stale = pending.filter((t) => Date.now() - t.lastBroadcast >= (t.acknowledged ? this.o.rebroadcastMs : this.o.pollMs * 2));
      if (stale.length === 0) continue;
      const chainNonce = Number(await this.o.rpc.send("eth_getTransactionCount", [lane.address, "latest"]));
      this.o.metrics.nonceLag.set({ relayer: lane.address }, (lane.nextNonce ?? chainNonce) - chainNonce);
      for (const tx of stale) {
        if (!lane.inflight.has(tx.hash)) continue;
        if (tx.nonce < chainNonce) {
          // Its nonce is used and it has no receipt: another transaction took it.
          const receipt = await this.receipt(tx.hash);
          if (receipt) await this.settleReceipt(lane, tx, receipt);
          else this.dropTx(lane, tx, "relayer nonce used by another transaction");
          continue;
        }
        if (!(await this.broadcast(lane, tx))) break; // keep relayer-nonce order
      }
    }
  }

  /**
   * eth_getTransactionReceipt as raw JSON: a mined batch of 200 requests has ≈ 600 logs, and
   * ethers' receipt objects checksum every log address in JS. Only a few fields are needed.
   */
  private async receipt(hash: string): Promise<RawReceipt | null> {
    const r = (await this.o.rpc.send("eth_getTransactionReceipt", [hash])) as RawReceiptJson | null;
    if (!r || !r.blockNumber) return null;
    return { blockNumber: Number(r.blockNumber), status: Number(r.status), logs: r.logs };
  }

  /** Records the outcome of every request of a mined transaction from the forwarder's logs. */
  private async settleReceipt(lane: Lane, tx: InflightTx, receipt: RawReceipt) {
    if (!lane.inflight.has(tx.hash)) return;
    const executed = new Map<string, boolean>();
    const forwarder = this.o.addresses.forwarder.toLowerCase();
    for (const log of receipt.logs) {
      if (log.address.toLowerCase() !== forwarder || log.topics[0] !== EXECUTED_TOPIC) continue;
      // ExecutedForwardRequest(address indexed signer, uint256 nonce, bool success): data = nonce ‖ success.
      const signer = "0x" + log.topics[1].slice(26).toLowerCase();
      const nonce = BigInt("0x" + log.data.slice(2, 66));
      executed.set(`${signer}:${nonce}`, BigInt("0x" + log.data.slice(66, 130)) !== 0n);
    }
    const outcomes: Parameters<Outbox["settle"]>[0] = [];
    const skipped: RequestRow[] = [];
    for (const id of tx.requestIds) {
      const row = this.o.outbox.get(id);
      if (!row || (row.state !== "submitted" && row.state !== "queued")) continue;
      const key = `${row.signer.toLowerCase()}:${row.nonce}`;
      if (!executed.has(key)) {
        skipped.push(row);
        continue;
      }
      const success = executed.get(key)!;
      this.o.metrics.acceptToMined.observe((Date.now() - row.accepted_at) / 1000);
      if (success) {
        outcomes.push({ id, state: "mined", txHash: tx.hash, blockNumber: receipt.blockNumber, success: true });
        this.o.metrics.finished.inc({ outcome: "mined" });
      } else {
        const reason = await this.explainFailure(row, receipt.blockNumber);
        outcomes.push({ id, state: "failed", txHash: tx.hash, blockNumber: receipt.blockNumber, success: false, ...reason });
        this.o.metrics.finished.inc({ outcome: "reverted" });
        this.o.metrics.reverts.inc({ error: reason.errorName ?? "unknown", stage: "execution" });
      }
    }
    this.o.outbox.settle(outcomes, [], { hash: tx.hash, state: "mined", blockNumber: receipt.blockNumber });
    lane.inflight.delete(tx.hash);
    if (receipt.status === 0) this.o.log.error({ tx: tx.hash }, "executeBatch transaction reverted as a whole");
    for (const row of skipped) {
      lane.signerNext.delete(row.signer.toLowerCase());
      await this.resolveSkipped(row, tx.hash);
    }
    if (skipped.length || outcomes.length) this.wake?.();
  }

  /** The inner call reverted on chain: find its error by replaying it against the parent block. */
  private async explainFailure(row: RequestRow, blockNumber: number) {
    const data = parseRequest(row.payload);
    // Replay against the state after the block first (catches failures caused by requests earlier
    // in the same block, e.g. stock already shipped), then against the state before it.
    for (const tag of [blockNumber, blockNumber - 1]) {
      try {
        const sim = await this.o.view.simulate(data, tag);
        if (!sim.ok) return { errorCode: "CALL_REVERTED", errorName: sim.error, errorArgs: sim.args, errorMessage: `the call reverted with ${sim.error}` };
      } catch {
        // node busy: keep the generic reason
      }
    }
    return {
      errorCode: "CALL_REVERTED",
      errorName: "ExecutionFailed",
      errorMessage: "the call reverted on chain; replaying it against the states around its block did not revert, so its reason cannot be named",
    };
  }

  /**
   * A request that was not executed by the transaction carrying it (or a queued request whose
   * nonce the chain has passed): the signer's forwarder nonce tells whether it ran elsewhere.
   */
  private async resolveSkipped(row: RequestRow, txHash: string | null) {
    const chainNonce = await this.o.view.forwarderNonce(row.signer, true);
    const data = parseRequest(row.payload);
    if (BigInt(row.nonce) < chainNonce) {
      const found = await this.findExecution(row);
      if (found) {
        const ours = this.o.outbox.tx(found.txHash);
        const same = ours && (JSON.parse(ours.request_ids) as string[]).includes(row.id);
        if (same) {
          const reason = found.success ? {} : await this.explainFailure(row, found.blockNumber);
          this.o.outbox.settle([{ id: row.id, state: found.success ? "mined" : "failed", txHash: found.txHash, blockNumber: found.blockNumber, success: found.success, ...reason }]);
          this.o.metrics.finished.inc({ outcome: found.success ? "mined" : "reverted" });
          return;
        }
        this.o.outbox.settle([
          {
            id: row.id,
            state: "failed",
            txHash: found.txHash,
            blockNumber: found.blockNumber,
            success: null,
            errorCode: "NONCE_CONSUMED_ELSEWHERE",
            errorMessage: `forwarder nonce ${row.nonce} of ${row.signer} was used by transaction ${found.txHash}, not by this request`,
          },
        ]);
      } else {
        this.o.outbox.settle([
          { id: row.id, state: "failed", txHash: null, blockNumber: null, success: null, errorCode: "NONCE_CONSUMED_ELSEWHERE", errorMessage: `forwarder nonce ${row.nonce} of ${row.signer} is already used` },
        ]);
      }
      this.o.metrics.finished.inc({ outcome: "consumed_elsewhere" });
      return;
    }
    if (data.deadline < BigInt(Math.floor(Date.now() / 1000))) {
      this.o.outbox.settle([
        { id: row.id, state: "failed", txHash: null, blockNumber: null, success: null, errorCode: "DEADLINE_EXPIRED", errorMessage: "the request's deadline passed before it could be executed" },
      ]);
      this.o.metrics.finished.inc({ outcome: "expired" });
      return;
    }
    if (row.attempts >= 20) {
      this.o.outbox.settle([
        { id: row.id, state: "failed", txHash, blockNumber: null, success: null, errorCode: "NOT_EXECUTED", errorMessage: "the forwarder skipped the request 20 times (invalid signature or an earlier nonce missing)" },
      ]);
      this.o.metrics.finished.inc({ outcome: "not_executed" });
      return;
    }
    // Not executed and still executable: back to the queue (state submitted → queued).
    if (row.state === "submitted") this.o.outbox.settle([], [row.id]);
  }

  /** The forwarder's ExecutedForwardRequest log for (signer, nonce), searched from the block the request was accepted at. */
  private async findExecution(row: RequestRow): Promise<{ txHash: string; blockNumber: number; success: boolean } | undefined> {
    const event = forwarderInterface.getEvent("ExecutedForwardRequest")!;
    const signerTopic = "0x" + row.signer.slice(2).toLowerCase().padStart(64, "0");
    const latest = Number(await this.o.rpc.send<string>("eth_blockNumber", []));
    const step = 10_000;
    for (let from = Math.max(0, row.accepted_block - 1); from <= latest; from += step) {
      const logs = await this.o.rpc.send<{ transactionHash: string; blockNumber: string; data: string }[]>("eth_getLogs", [
        { address: this.o.addresses.forwarder, topics: [event.topicHash, signerTopic], fromBlock: toHex(from), toBlock: toHex(Math.min(latest, from + step - 1)) },
      ]);
      for (const log of logs) {
        if (BigInt("0x" + log.data.slice(2, 66)) === BigInt(row.nonce)) {
          return { txHash: log.transactionHash, blockNumber: Number(log.blockNumber), success: BigInt("0x" + log.data.slice(66, 130)) !== 0n };
        }
      }
    }
    return undefined;
  }
}

const EXECUTED_TOPIC = forwarderInterface.getEvent("ExecutedForwardRequest")!.topicHash;

interface RawReceiptJson {
  blockNumber: string | null;
  status: string;
  logs: { address: string; topics: string[]; data: string }[];
}
interface RawReceipt {
  blockNumber: number;
  status: number;
  logs: { address: string; topics: string[]; data: string }[];
}

function toInflight(tx: TxRow): InflightTx {
  // lastBroadcast 0: re-broadcast at the first poll (it may never have reached the node).
  return { hash: tx.hash, nonce: tx.relayer_nonce, raw: tx.raw, requestIds: JSON.parse(tx.request_ids) as string[], lastBroadcast: 0, acknowledged: false, sentAt: tx.sent_at };
}

/** The JSON-RPC error code and message inside an ethers error, if the node answered with one. */
const toHex = (n: number) => "0x" + n.toString(16);

export function rpcError(err: unknown): { code?: number; message: string } {
  if (err instanceof RpcError) return { code: err.code, message: err.message };
  const e = err as { error?: { code?: number; message?: string }; info?: { error?: { code?: number; message?: string } }; message?: string };
  const inner = e?.error ?? e?.info?.error;
  if (inner && typeof inner.code === "number") return { code: inner.code, message: String(inner.message ?? "") };
  return { code: undefined, message: String(e?.message ?? err) };
}
