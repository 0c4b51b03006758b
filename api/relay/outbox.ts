import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import Database from "better-sqlite3";
import type { ForwardRequestData } from "./forward-request";

/**
 * The durable outbox: every accepted request, every transaction the submitter signed, and the
 * chain the data belongs to. SQLite in WAL mode with synchronous=FULL: a request is on disk
 * (fsync of the WAL) before the 202 that names it. Measured here: one insert+commit ≈ 0.1–0.3 ms
 * on the test machines' disks, so per-request commits are not the bottleneck — signature checks
 * and the eth_call simulation are.
 *
 * Request states: queued → submitted (in a signed transaction) → mined (success) | failed
 * (inner call reverted, or could not be executed: expired, nonce consumed elsewhere, chain reset).
 * A submitted request may fall back to queued when its transaction was mined without executing it
 * (e.g. another relay consumed an earlier nonce of the same signer first): the forwarder's nonce is
 * the source of truth for "already executed", so a request can never run twice.
 *
 * Idempotency keys are scoped per member (stored as `<lower-case signer>:<key>`): one member's key
 * never meets another's, so nobody can take or probe another member's keys.
 */

export type RequestState = "queued" | "submitted" | "mined" | "failed";

export interface RequestRow {
  id: string;
  idempotency_key: string | null;
  signer: string;
  nonce: number;
  target: string;
  fn: string;
  payload: string;
  lane: number;
  state: RequestState;
  tx_hash: string | null;
  block_number: number | null;
  success: number | null;
  error_code: string | null;
  error_name: string | null;
  error_args: string | null;
  error_message: string | null;
  attempts: number;
  accepted_at: number;
  accepted_block: number;
  submitted_at: number | null;
  finished_at: number | null;
  custodial: number;
  /** The request's deadline (unix seconds), also in the payload: a column so that expiry is one indexed query. */
  deadline: number;
}

export interface TxRow {
  hash: string;
  relayer: string;
  relayer_nonce: number;
  raw: string;
  request_ids: string;
  state: "sent" | "mined" | "dropped";
  sent_at: number;
  block_number: number | null;
}

export interface NewRequest {
  idempotencyKey?: string;
  signer: string;
  nonce: bigint;
  target: string;
  fn: string;
  request: ForwardRequestData;
  lane: number;
  acceptedBlock: number;
  custodial: boolean;
  /** Refuse (MemberQueueFullError) when the signer already has this many requests queued or submitted. */
  maxLiveForSigner?: number;
}

/** The stored form of a member's idempotency key: scoped by the member, so keys of two members never collide. */
export function scopeIdempotencyKey(member: string, key: string): string {
  return `${member.toLowerCase()}:${key}`;
}

export function serializeRequest(r: ForwardRequestData): string {
  return JSON.stringify({ from: r.from, to: r.to, value: r.value.toString(), gas: r.gas.toString(), deadline: r.deadline.toString(), data: r.data, signature: r.signature });
}

export function parseRequest(payload: string): ForwardRequestData {
  const o = JSON.parse(payload) as Record<string, string>;
  return {
    from: o.from,
    to: o.to,
    value: BigInt(o.value),
    gas: BigInt(o.gas),
    deadline: BigInt(o.deadline),
    data: o.data,
    signature: o.signature,
  };
}

export class DuplicateNonceError extends Error {}

/** The signer has RELAY_MAX_QUEUED_PER_MEMBER requests not yet on chain. */
export class MemberQueueFullError extends Error {
  constructor(readonly live: number) {
    super(`the signer has ${live} requests not yet on chain`);
    this.name = "MemberQueueFullError";
  }
}

/** How long the first request of a group commit waits for others (adds at most this to a 202). */
const GROUP_COMMIT_MS = 2;

export class Outbox {
  readonly db: Database.Database;
  private readonly stmt;

  constructor(dataDir: string, file = "relay-outbox.sqlite") {
    fs.mkdirSync(dataDir, { recursive: true });
    this.db = new Database(path.join(dataDir, file));
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS requests (
        id TEXT PRIMARY KEY,
        idempotency_key TEXT UNIQUE,
        signer TEXT NOT NULL,
        nonce INTEGER NOT NULL,
        target TEXT NOT NULL,
        fn TEXT NOT NULL,
        payload TEXT NOT NULL,
        lane INTEGER NOT NULL,
        state TEXT NOT NULL,
        tx_hash TEXT,
        block_number INTEGER,
        success INTEGER,
        error_code TEXT,
        error_name TEXT,
        error_args TEXT,
        error_message TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        accepted_at INTEGER NOT NULL,
        accepted_block INTEGER NOT NULL,
        submitted_at INTEGER,
        finished_at INTEGER,
        custodial INTEGER NOT NULL DEFAULT 0,
        deadline INTEGER
      );
      -- One live request per (signer, nonce). A failed request that never consumed its nonce
      -- (expired, skipped) frees it for a new signature.
      CREATE UNIQUE INDEX IF NOT EXISTS requests_signer_nonce ON requests(signer, nonce)
        WHERE state IN ('queued', 'submitted', 'mined') OR (state = 'failed' AND success = 0);
      CREATE INDEX IF NOT EXISTS requests_state ON requests(state, lane, signer, nonce);
      CREATE TABLE IF NOT EXISTS txs (
        hash TEXT PRIMARY KEY,
        relayer TEXT NOT NULL,
        relayer_nonce INTEGER NOT NULL,
        raw TEXT NOT NULL,
        request_ids TEXT NOT NULL,
        state TEXT NOT NULL,
        sent_at INTEGER NOT NULL,
        block_number INTEGER
      );
      CREATE INDEX IF NOT EXISTS txs_state ON txs(state);
      CREATE TABLE IF NOT EXISTS api_keys (
        key_id TEXT PRIMARY KEY,
        member TEXT NOT NULL,
        salt TEXT NOT NULL,
        hash TEXT NOT NULL,
        label TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        revoked_at INTEGER
      );
    `);
    this.createStateCounts();
    this.migrateDeadlines();
    this.createSignerCounts();
    this.scopeIdempotencyKeys();
    this.stmt = {
      insert: this.db.prepare(
        `INSERT INTO requests (id, idempotency_key, signer, nonce, target, fn, payload, lane, state, accepted_at, accepted_block, custodial, deadline)
         VALUES (@id, @idempotency_key, @signer, @nonce, @target, @fn, @payload, @lane, 'queued', @accepted_at, @accepted_block, @custodial, @deadline)`,
      ),
      byId: this.db.prepare(`SELECT * FROM requests WHERE id = ?`),
      byIdem: this.db.prepare(`SELECT * FROM requests WHERE idempotency_key = ?`),
      live: this.db.prepare(
        `SELECT * FROM requests WHERE signer = ? AND nonce = ? AND (state IN ('queued','submitted','mined') OR (state = 'failed' AND success = 0))`,
      ),
      // Through requests_signer_nonce from the chain nonce up, where only requests not yet on
      // chain can be: without that bound (and the index's own condition, which lets SQLite use it)
      // this public lookup (GET /v1/nonces) read every queued and submitted request of everyone.
      maxLiveNonce: this.db.prepare(
        `SELECT MAX(nonce) AS n FROM requests
         WHERE signer = ? AND nonce >= ? AND (state IN ('queued','submitted','mined') OR (state = 'failed' AND success = 0)) AND state IN ('queued','submitted')`,
      ),
      liveLanes: this.db.prepare(`SELECT signer, lane, state FROM requests WHERE state IN ('queued','submitted') GROUP BY signer, lane, state`),
      moveQueued: this.db.prepare(`UPDATE requests SET lane = ? WHERE signer = ? AND state = 'queued' AND lane <> ?`),
      // Each step is one seek in requests_state (state, lane, signer, nonce): the distinct signers
      // of a lane cost one lookup each, however many requests each has parked.
      queuedSigners: this.db.prepare(`
        WITH RECURSIVE s(signer) AS (
          SELECT (SELECT MIN(signer) FROM requests WHERE state = 'queued' AND lane = @lane)
          UNION ALL
          SELECT (SELECT MIN(signer) FROM requests WHERE state = 'queued' AND lane = @lane AND signer > s.signer) FROM s WHERE s.signer IS NOT NULL
        )
        SELECT signer FROM s WHERE signer IS NOT NULL`),
      queuedOfSigner: this.db.prepare(
        `SELECT * FROM requests WHERE state = 'queued' AND lane = ? AND signer = ? AND nonce >= ? ORDER BY nonce LIMIT ?`,
      ),
      // INDEXED BY: left alone, SQLite walks requests_state over every queued request and sorts.
      expiredQueued: this.db.prepare(`SELECT id FROM requests INDEXED BY requests_queued_deadline WHERE state = 'queued' AND deadline < ? ORDER BY deadline LIMIT ?`),
      liveCount: this.db.prepare(`SELECT n FROM signer_live WHERE signer = ?`).pluck(),
      minQueuedNonce: this.db.prepare(`SELECT nonce FROM requests WHERE state = 'queued' AND lane = ? AND signer = ? ORDER BY nonce LIMIT 1`).pluck(),
      queuedPerLane: this.db.prepare(`SELECT lane, COUNT(*) AS n FROM requests WHERE state = 'queued' GROUP BY lane`),
      counts: this.db.prepare(`SELECT state, n FROM state_counts`),
      unfinished: this.db.prepare(`SELECT * FROM requests WHERE state IN ('queued','submitted')`),
      sentTxs: this.db.prepare(`SELECT * FROM txs WHERE state = 'sent' ORDER BY relayer, relayer_nonce`),
      insertTx: this.db.prepare(
        `INSERT INTO txs (hash, relayer, relayer_nonce, raw, request_ids, state, sent_at) VALUES (?, ?, ?, ?, ?, 'sent', ?)`,
      ),
      txByHash: this.db.prepare(`SELECT * FROM txs WHERE hash = ?`),
      markSubmitted: this.db.prepare(
        `UPDATE requests SET state = 'submitted', tx_hash = ?, submitted_at = ?, attempts = attempts + 1 WHERE id = ? AND state = 'queued'`,
      ),
      finishTx: this.db.prepare(`UPDATE txs SET state = ?, block_number = ? WHERE hash = ?`),
      mined: this.db.prepare(
        `UPDATE requests SET state = @state, tx_hash = @tx_hash, block_number = @block_number, success = @success,
           error_code = @error_code, error_name = @error_name, error_args = @error_args, error_message = @error_message, finished_at = @finished_at
         WHERE id = @id AND state IN ('queued','submitted')`,
      ),
      requeue: this.db.prepare(`UPDATE requests SET state = 'queued', tx_hash = NULL WHERE id = ? AND state = 'submitted'`),
      getMeta: this.db.prepare(`SELECT value FROM meta WHERE key = ?`),
      setMeta: this.db.prepare(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value`),
      maxRelayerNonce: this.db.prepare(`SELECT MAX(relayer_nonce) AS n FROM txs WHERE relayer = ?`),
    };
  }

  /**
   * Requests per state, kept by triggers: COUNT(*) … GROUP BY state scans every request ever
   * accepted (83 ms per call at 1M rows here), and intake, /ready and /metrics ask often.
   * An outbox from before this table is counted once when it is opened.
   */
  private createStateCounts() {
    this.db.transaction(() => {
      const existed = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'state_counts'`).get() !== undefined;
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS state_counts (state TEXT PRIMARY KEY, n INTEGER NOT NULL);
        CREATE TRIGGER IF NOT EXISTS requests_count_insert AFTER INSERT ON requests BEGIN
          INSERT INTO state_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT(state) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER IF NOT EXISTS requests_count_update AFTER UPDATE OF state ON requests WHEN OLD.state <> NEW.state BEGIN
          UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
          INSERT INTO state_counts (state, n) VALUES (NEW.state, 1) ON CONFLICT(state) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER IF NOT EXISTS requests_count_delete AFTER DELETE ON requests BEGIN
          UPDATE state_counts SET n = n - 1 WHERE state = OLD.state;
        END;
      `);
      if (!existed) this.db.exec(`INSERT INTO state_counts (state, n) SELECT state, COUNT(*) FROM requests GROUP BY state`);
    })();
  }

  /**
   * Deadlines as a column (outboxes from before it are filled from the payload once), with an
   * index over the queued ones only: expiring whatever is queued is one range read, whoever's
   * requests they are and wherever they wait.
   */
  private migrateDeadlines() {
    const columns = this.db.prepare(`PRAGMA table_info(requests)`).all() as { name: string }[];
    this.db.transaction(() => {
      if (!columns.some((c) => c.name === "deadline")) this.db.exec(`ALTER TABLE requests ADD COLUMN deadline INTEGER`);
      this.db.exec(`UPDATE requests SET deadline = CAST(json_extract(payload, '$.deadline') AS INTEGER) WHERE deadline IS NULL`);
      this.db.exec(`CREATE INDEX IF NOT EXISTS requests_queued_deadline ON requests(deadline) WHERE state = 'queued'`);
    })();
  }

  /**
   * Requests not yet on chain (queued or submitted) per signer, kept by triggers like
   * state_counts: intake reads it for every request (RELAY_MAX_QUEUED_PER_MEMBER), and counting
   * a member's rows would cost as many index steps as it has requests waiting. A signer at zero
   * keeps its row (one per member that ever had a request accepted): deleting it cost a lookup
   * on every settled request.
   */
  private createSignerCounts() {
    this.db.transaction(() => {
      const existed = this.db.prepare(`SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'signer_live'`).get() !== undefined;
      this.db.exec(`
        CREATE TABLE IF NOT EXISTS signer_live (signer TEXT PRIMARY KEY, n INTEGER NOT NULL);
        CREATE TRIGGER IF NOT EXISTS requests_live_insert AFTER INSERT ON requests WHEN NEW.state IN ('queued', 'submitted') BEGIN
          INSERT INTO signer_live (signer, n) VALUES (NEW.signer, 1) ON CONFLICT(signer) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER IF NOT EXISTS requests_live_update AFTER UPDATE OF state ON requests
          WHEN (OLD.state IN ('queued', 'submitted')) <> (NEW.state IN ('queued', 'submitted')) BEGIN
          INSERT INTO signer_live (signer, n) VALUES (NEW.signer, CASE WHEN NEW.state IN ('queued', 'submitted') THEN 1 ELSE -1 END)
            ON CONFLICT(signer) DO UPDATE SET n = n + excluded.n;
        END;
        CREATE TRIGGER IF NOT EXISTS requests_live_delete AFTER DELETE ON requests WHEN OLD.state IN ('queued', 'submitted') BEGIN
          UPDATE signer_live SET n = n - 1 WHERE signer = OLD.signer;
        END;
      `);
      if (!existed) this.db.exec(`INSERT INTO signer_live (signer, n) SELECT signer, COUNT(*) FROM requests WHERE state IN ('queued', 'submitted') GROUP BY signer`);
    })();
  }

  /**
   * Idempotency keys used to share one namespace (signed requests stored the client's key as
   * given; custodial ones as custodial:<api key id>:<key>): stored keys are now scoped by member
   * (scopeIdempotencyKey). Done once per outbox, so a retry across the upgrade still finds its
   * request. Two custodial keys that now coincide (one member, two API keys, the same client key)
   * keep the older form for the later one: unreachable, and harmless.
   */
  private scopeIdempotencyKeys() {
    if (this.db.prepare(`SELECT value FROM meta WHERE key = 'idempotencyScope'`).pluck().get() === "member") return;
    this.db.transaction(() => {
      this.db.exec(`
        UPDATE OR IGNORE requests SET idempotency_key = lower(signer) || ':' || substr(idempotency_key, 28)
          WHERE idempotency_key IS NOT NULL AND custodial = 1 AND idempotency_key GLOB 'custodial:[0-9a-f]*:*' AND substr(idempotency_key, 27, 1) = ':';
        UPDATE OR IGNORE requests SET idempotency_key = lower(signer) || ':' || idempotency_key
          WHERE idempotency_key IS NOT NULL AND custodial = 0;
        INSERT INTO meta (key, value) VALUES ('idempotencyScope', 'member') ON CONFLICT(key) DO UPDATE SET value = excluded.value;
      `);
    })();
  }

  private pending: { r: NewRequest; resolve: (row: RequestRow) => void; reject: (err: unknown) => void }[] = [];

  /** Callbacks waiting for a request's state to change (GET /v1/requests/:id?wait=…). */
  private readonly watchers = new Map<string, Set<() => void>>();

  /** Calls `onChange` once, at the next committed state change of request `id`; returns a cancel function. */
  watch(id: string, onChange: () => void): () => void {
    let set = this.watchers.get(id);
    if (!set) this.watchers.set(id, (set = new Set()));
    const once = () => {
      cancel();
      onChange();
    };
    const cancel = () => {
      set!.delete(once);
      if (set!.size === 0 && this.watchers.get(id) === set) this.watchers.delete(id);
    };
    set.add(once);
    return cancel;
  }

  /** Wakes every watcher (closing: long-polls answer with the current state at once). */
  wakeAll() {
    for (const set of [...this.watchers.values()]) for (const fn of [...set]) fn();
  }

  private changed(ids: Iterable<string>) {
    if (this.watchers.size === 0) return;
    for (const id of ids) {
      const set = this.watchers.get(id);
      if (set) for (const fn of [...set]) fn();
    }
  }

  /**
   * Group commit: requests verified within GROUP_COMMIT_MS of each other are inserted in one
   * transaction (one WAL fsync, which blocks the event loop), and each promise resolves only
   * after that commit — so a 202 still means "on disk". Per-request commits measured ≈ 0.2 ms
   * idle but several ms under load here; committing per event-loop turn still spent 6% of the
   * relay's event loop in commits under bench:relay.
   */
  enqueue(r: NewRequest): Promise<RequestRow> {
    return new Promise((resolve, reject) => {
      this.pending.push({ r, resolve, reject });
      if (this.pending.length === 1) setTimeout(() => this.flush(), GROUP_COMMIT_MS);
    });
  }

  private flush() {
    const items = this.pending;
    this.pending = [];
    const results: (RequestRow | Error)[] = [];
    try {
      this.db.transaction(() => {
        for (const item of items) {
          try {
            results.push(this.insert(item.r));
          } catch (err) {
            results.push(err as Error);
          }
        }
      })();
    } catch (err) {
      for (const item of items) item.reject(err);
      return;
    }
    items.forEach((item, i) => {
      const res = results[i];
      if (res instanceof Error) item.reject(res);
      else item.resolve(res);
    });
  }

  /**
   * Inserts a queued request (inside the caller's transaction, or committing by itself). Throws
   * DuplicateNonceError for a live (signer, nonce), MemberQueueFullError when the signer is at
   * `maxLiveForSigner` (checked here, inside the group commit, so concurrent requests cannot
   * overshoot it).
   */
  insert(r: NewRequest): RequestRow {
    if (r.maxLiveForSigner !== undefined) {
      const live = this.liveCount(r.signer);
      if (live >= r.maxLiveForSigner && !this.fillsGap(r.lane, r.signer, r.nonce)) {
        // The same request again under its idempotency key is a retry, not a new request.
        const existing = r.idempotencyKey ? this.byIdempotencyKey(r.idempotencyKey) : undefined;
        if (existing) return existing;
        throw new MemberQueueFullError(live);
      }
    }
    const id = crypto.randomUUID();
    const row: RequestRow = {
      id,
      idempotency_key: r.idempotencyKey ?? null,
      signer: r.signer,
      nonce: Number(r.nonce),
      target: r.target,
      fn: r.fn,
      payload: serializeRequest(r.request),
      lane: r.lane,
      state: "queued",
      tx_hash: null,
      block_number: null,
      success: null,
      error_code: null,
      error_name: null,
      error_args: null,
      error_message: null,
      attempts: 0,
      accepted_at: Date.now(),
      accepted_block: r.acceptedBlock,
      submitted_at: null,
      finished_at: null,
      custodial: r.custodial ? 1 : 0,
      deadline: Number(r.request.deadline),
    };
    try {
      this.stmt.insert.run({
        id,
        idempotency_key: row.idempotency_key,
        signer: row.signer,
        nonce: row.nonce,
        target: row.target,
        fn: row.fn,
        payload: row.payload,
        lane: row.lane,
        accepted_at: row.accepted_at,
        accepted_block: row.accepted_block,
        custodial: row.custodial,
        deadline: row.deadline,
      });
    } catch (err) {
      const e = err as { code?: string; message: string };
      if (e.code === "SQLITE_CONSTRAINT_UNIQUE" && e.message.includes("idempotency_key")) {
        const existing = this.byIdempotencyKey(r.idempotencyKey!);
        if (existing) return existing;
      }
      if (e.code === "SQLITE_CONSTRAINT_UNIQUE") throw new DuplicateNonceError(e.message);
      throw err;
    }
    return row;
  }

  get(id: string): RequestRow | undefined {
    return this.stmt.byId.get(id) as RequestRow | undefined;
  }

  byIdempotencyKey(key: string): RequestRow | undefined {
    return this.stmt.byIdem.get(key) as RequestRow | undefined;
  }

  liveRequest(signer: string, nonce: bigint): RequestRow | undefined {
    return this.stmt.live.get(signer, Number(nonce)) as RequestRow | undefined;
  }

  /** Highest nonce of signer's requests that are queued or submitted (not yet on chain); they all lie at or above `chainNonce`. */
  maxPendingNonce(signer: string, chainNonce: bigint): number | undefined {
    const from = chainNonce > BigInt(Number.MAX_SAFE_INTEGER) ? Number.MAX_SAFE_INTEGER : Number(chainNonce);
    const row = this.stmt.maxLiveNonce.get(signer, from) as { n: number | null };
    return row.n ?? undefined;
  }

  /** The lanes of each signer's requests not yet on chain. */
  liveLanes(): { signer: string; lane: number; state: "queued" | "submitted" }[] {
    return this.stmt.liveLanes.all() as { signer: string; lane: number; state: "queued" | "submitted" }[];
  }

  /** Moves a signer's queued requests to `lane`; returns how many moved. */
  moveQueued(signer: string, lane: number): number {
    return this.stmt.moveQueued.run(lane, signer, lane).changes;
  }

  /** The signers with queued requests on `lane`, in address order. */
  queuedSigners(lane: number): string[] {
    return (this.stmt.queuedSigners.all({ lane }) as { signer: string }[]).map((r) => r.signer);
  }

  /** `signer`'s queued requests on `lane` from nonce `fromNonce` on, in nonce order. */
  queuedOfSigner(lane: number, signer: string, fromNonce: number, limit: number): RequestRow[] {
    return this.stmt.queuedOfSigner.all(lane, signer, fromNonce, limit) as RequestRow[];
  }

  /** Ids of queued requests whose deadline is before `unixSeconds`, the earliest first. */
  expiredQueued(unixSeconds: number, limit: number): string[] {
    return (this.stmt.expiredQueued.all(unixSeconds, limit) as { id: string }[]).map((r) => r.id);
  }

  /** How many of `signer`'s requests are queued or submitted (checksummed address, as stored). */
  liveCount(signer: string): number {
    return (this.stmt.liveCount.get(signer) as number | undefined) ?? 0;
  }

  /** The lowest nonce of `signer`'s queued requests on `lane` (its queued requests all follow its lane). */
  minQueuedNonce(lane: number, signer: string): number | undefined {
    return (this.stmt.minQueuedNonce.get(lane, signer) as number | undefined) ?? undefined;
  }

  /**
   * Whether `nonce` lies below every queued request of `signer`: it can only fill a nonce gap the
   * queued ones wait behind, so it is let in even at RELAY_MAX_QUEUED_PER_MEMBER (else a member
   * at its depth behind a gap could never unblock itself). At most the nonce window of them.
   */
  fillsGap(lane: number, signer: string, nonce: bigint): boolean {
    const lowest = this.minQueuedNonce(lane, signer);
    return lowest !== undefined && nonce < BigInt(lowest);
  }

  /** Queued requests per lane (for metrics). */
  queuedPerLane(): Map<number, number> {
    return new Map((this.stmt.queuedPerLane.all() as { lane: number; n: number }[]).map((r) => [r.lane, r.n]));
  }

  unfinished(): RequestRow[] {
    return this.stmt.unfinished.all() as RequestRow[];
  }

  counts(): Record<RequestState, number> {
    const out: Record<RequestState, number> = { queued: 0, submitted: 0, mined: 0, failed: 0 };
    for (const row of this.stmt.counts.all() as { state: RequestState; n: number }[]) out[row.state] = row.n;
    return out;
  }

  sentTxs(): TxRow[] {
    return this.stmt.sentTxs.all() as TxRow[];
  }

  tx(hash: string): TxRow | undefined {
    return this.stmt.txByHash.get(hash) as TxRow | undefined;
  }

  maxRelayerNonce(relayer: string): number | undefined {
    const row = this.stmt.maxRelayerNonce.get(relayer) as { n: number | null };
    return row.n ?? undefined;
  }

  /** Write-ahead of a transaction: recorded with its requests as submitted before it is sent. */
  recordTx(tx: { hash: string; relayer: string; relayerNonce: number; raw: string; requestIds: string[] }) {
    const now = Date.now();
    this.db.transaction(() => {
      this.stmt.insertTx.run(tx.hash, tx.relayer, tx.relayerNonce, tx.raw, JSON.stringify(tx.requestIds), now);
      for (const id of tx.requestIds) this.stmt.markSubmitted.run(tx.hash, now, id);
    })();
    this.changed(tx.requestIds);
  }

  finishTx(hash: string, state: "mined" | "dropped", blockNumber: number | null) {
    this.stmt.finishTx.run(state, blockNumber, hash);
  }

  /** Records outcomes of several requests and requeues others, in one transaction. */
  settle(
    outcomes: {
      id: string;
      state: "mined" | "failed";
      txHash: string | null;
      blockNumber: number | null;
      success: boolean | null;
      errorCode?: string;
      errorName?: string;
      errorArgs?: Record<string, string>;
      errorMessage?: string;
    }[],
    requeue: string[] = [],
    txUpdate?: { hash: string; state: "mined" | "dropped"; blockNumber: number | null },
  ) {
    const now = Date.now();
    this.db.transaction(() => {
      for (const o of outcomes) {
        this.stmt.mined.run({
          id: o.id,
          state: o.state,
          tx_hash: o.txHash,
          block_number: o.blockNumber,
          success: o.success === null ? null : o.success ? 1 : 0,
          error_code: o.errorCode ?? null,
          error_name: o.errorName ?? null,
          error_args: o.errorArgs ? JSON.stringify(o.errorArgs) : null,
          error_message: o.errorMessage ?? null,
          finished_at: now,
        });
      }
      for (const id of requeue) this.stmt.requeue.run(id);
      if (txUpdate) this.stmt.finishTx.run(txUpdate.state, txUpdate.blockNumber, txUpdate.hash);
    })();
    this.changed(outcomes.map((o) => o.id));
    this.changed(requeue);
  }

  getMeta(key: string): string | undefined {
    return (this.stmt.getMeta.get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string) {
    this.stmt.setMeta.run(key, value);
  }

  /** A cheap write proving the database accepts writes (for /ready). */
  probeWrite(): void {
    this.setMeta("probe", String(Date.now()));
  }

  close() {
    if (this.db.open) this.db.close();
  }
}
