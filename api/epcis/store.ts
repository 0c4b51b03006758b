import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";

/**
 * The binding's own SQLite file (DATA_DIR/epcis.sqlite by default): the EPCIS event projection
 * with its query indexes and visibility, capture jobs with each event's and each action's
 * outcome, the serial and packing lists captured with commissioning events, business
 * transactions, named queries and subscriptions with their delivery cursors. WAL, synchronous
 * FULL: a capture is answered 202 only once its job is on disk.
 */

export const STORE_VERSION = 1;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY,
  event_id TEXT NOT NULL UNIQUE,
  type TEXT NOT NULL,
  event_time INTEGER NOT NULL,
  record_time INTEGER NOT NULL,
  action TEXT,
  biz_step TEXT,
  disposition TEXT,
  read_point TEXT,
  biz_location TEXT,
  batch_id TEXT NOT NULL,
  block_number INTEGER NOT NULL,
  log_index INTEGER NOT NULL,
  json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, seq);
CREATE INDEX IF NOT EXISTS events_biz_step ON events (biz_step, seq);
CREATE INDEX IF NOT EXISTS events_disposition ON events (disposition, seq);
CREATE INDEX IF NOT EXISTS events_read_point ON events (read_point, seq);
CREATE INDEX IF NOT EXISTS events_biz_location ON events (biz_location, seq);
CREATE INDEX IF NOT EXISTS events_time ON events (event_time, seq);
-- kind: 0 epcList/childEPCs, 1 parentID, 2 epcClass (quantityList/childQuantityList)
CREATE TABLE IF NOT EXISTS event_epcs (epc TEXT NOT NULL, kind INTEGER NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (epc, kind, seq)) WITHOUT ROWID;
-- viewer: 'a:<account lower case>' (a party or holder) or 'j:<jurisdiction>' (its regulators)
CREATE TABLE IF NOT EXISTS event_viewers (viewer TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (viewer, seq)) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS capture_jobs (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  member TEXT NOT NULL,
  key_id TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  finished_at INTEGER,
  event_count INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS capture_events (
  job_id TEXT NOT NULL,
  idx INTEGER NOT NULL,
  event_id TEXT NOT NULL,
  type TEXT NOT NULL,
  biz_step TEXT,
  duplicate_of_job TEXT,
  duplicate_of_idx INTEGER,
  linked_idx INTEGER,
  PRIMARY KEY (job_id, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS captured_ids (member TEXT NOT NULL, event_id TEXT NOT NULL, job_id TEXT NOT NULL, idx INTEGER NOT NULL, PRIMARY KEY (member, event_id)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS capture_actions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  job_id TEXT NOT NULL,
  event_idx INTEGER NOT NULL,
  member TEXT NOT NULL,
  action TEXT NOT NULL,
  body TEXT NOT NULL,
  needs_batch TEXT,
  after_action INTEGER,
  idem_key TEXT NOT NULL UNIQUE,
  state TEXT NOT NULL,
  request_id TEXT,
  tx_hash TEXT,
  block_number INTEGER,
  error TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS capture_actions_open ON capture_actions (state, id);
CREATE INDEX IF NOT EXISTS capture_actions_job ON capture_actions (job_id, event_idx);
CREATE TABLE IF NOT EXISTS capture_lists (gtin TEXT NOT NULL, lot TEXT NOT NULL, member TEXT NOT NULL, serials TEXT NOT NULL, cases TEXT NOT NULL, pallets TEXT NOT NULL, units_per_case INTEGER NOT NULL, cases_per_pallet INTEGER NOT NULL, job_id TEXT NOT NULL, PRIMARY KEY (gtin, lot)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS list_sgtins (gtin TEXT NOT NULL, serial TEXT NOT NULL, lot TEXT NOT NULL, unit INTEGER NOT NULL, PRIMARY KEY (gtin, serial)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS list_ssccs (sscc TEXT PRIMARY KEY, gtin TEXT NOT NULL, lot TEXT NOT NULL, kind INTEGER NOT NULL, idx INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS biz_transactions (reference_hash TEXT PRIMARY KEY, list TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS queries (owner TEXT NOT NULL, name TEXT NOT NULL, params TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (owner, name)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS subscriptions (
  id TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  query_name TEXT NOT NULL,
  params TEXT NOT NULL,
  dest TEXT NOT NULL,
  secret TEXT,
  created_at INTEGER NOT NULL,
  cursor_seq INTEGER NOT NULL,
  last_notified_at INTEGER,
  failures INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL DEFAULT 0,
  last_error TEXT
) WITHOUT ROWID;
`;

export interface EventRow {
  seq: number;
  eventId: string;
  type: string;
  eventTime: number;
  recordTime: number;
  action: string | null;
  bizStep: string | null;
  disposition: string | null;
  readPoint: string | null;
  bizLocation: string | null;
  batchId: string;
  blockNumber: number;
  logIndex: number;
  json: string;
}

export interface NewEvent extends Omit<EventRow, "seq"> {
  epcs: Array<[string, number]>;
  viewers: string[];
}

export type ActionState = "planned" | "queued" | "submitted" | "mined" | "failed";

export interface ActionRow {
  id: number;
  jobId: string;
  eventIdx: number;
  member: string;
  action: string;
  body: string;
  needsBatch: string | null;
  afterAction: number | null;
  idemKey: string;
  state: ActionState;
  requestId: string | null;
  txHash: string | null;
  blockNumber: number | null;
  error: string | null;
}

export interface NewAction {
  eventIdx: number;
  action: string;
  body: Record<string, unknown>;
  needsBatch?: string;
  /** Index (within the job's actions) of an action this one waits for (mined). */
  afterIndex?: number;
  idemKey: string;
}

export interface CapturedList {
  gtin: string;
  lot: string;
  /** The member that commissioned it. */
  member?: string;
  serials: string[];
  cases: string[];
  pallets: string[];
  unitsPerCase: number;
  casesPerPallet: number;
}

export interface SubscriptionRow {
  id: string;
  owner: string;
  queryName: string;
  params: string;
  dest: string;
  secret: string | null;
  createdAt: number;
  cursorSeq: number;
  lastNotifiedAt: number | null;
  failures: number;
  nextAttemptAt: number;
  lastError: string | null;
}

const camel = <T>(row: Record<string, unknown> | undefined): T | undefined => {
  if (!row) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(row)) out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out as T;
};

export class EpcisStore {
  readonly db: Database.Database;
  private readonly insertEvent: Database.Statement;
  private readonly insertEpc: Database.Statement;
  private readonly insertViewer: Database.Statement;
  private pageSecret: Buffer;
  private readonly statements = new Map<string, Database.Statement>();

  constructor(readonly file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = FULL");
    this.db.pragma("busy_timeout = 5000");
    this.db.exec(SCHEMA);
    const version = this.meta("version");
    if (version !== undefined && Number(version) !== STORE_VERSION) throw new Error(`${file} has store version ${version}; this service writes ${STORE_VERSION}: move the file aside`);
    this.setMeta("version", String(STORE_VERSION));
    let secret = this.meta("pageSecret");
    if (!secret) {
      secret = crypto.randomBytes(32).toString("hex");
      this.setMeta("pageSecret", secret);
    }
    this.pageSecret = Buffer.from(secret, "hex");
    this.insertEvent = this.db.prepare(
      `INSERT OR IGNORE INTO events (event_id, type, event_time, record_time, action, biz_step, disposition, read_point, biz_location, batch_id, block_number, log_index, json)
       VALUES (@eventId, @type, @eventTime, @recordTime, @action, @bizStep, @disposition, @readPoint, @bizLocation, @batchId, @blockNumber, @logIndex, @json)`,
    );
    this.insertEpc = this.db.prepare(`INSERT OR IGNORE INTO event_epcs (epc, kind, seq) VALUES (?, ?, ?)`);
    this.insertViewer = this.db.prepare(`INSERT OR IGNORE INTO event_viewers (viewer, seq) VALUES (?, ?)`);
  }

  /**
   * The statement for `sql`, prepared once per store: compiling a statement costs more than
   * running one of these point queries, and capture runs them per event (a 202 and each
   * GET /capture/{id} read every event's actions; planning looks up every EPC).
   */
  private stmt(sql: string): Database.Statement {
    let s = this.statements.get(sql);
    if (s === undefined) {
      s = this.db.prepare(sql);
      this.statements.set(sql, s);
    }
    return s;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  meta(key: string): string | undefined {
    return (this.stmt(`SELECT value FROM meta WHERE key = ?`).get(key) as { value: string } | undefined)?.value;
  }

  setMeta(key: string, value: string): void {
    this.stmt(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`).run(key, value);
  }

  /** HMAC key for page tokens (kept in the file, so tokens survive a restart). */
  get tokenKey(): Buffer {
    return this.pageSecret;
  }

  // ── Projection ──

  /** Appends events and moves the cursor, atomically. Returns the sequence numbers given. */
  appendEvents(events: readonly NewEvent[], cursor: string): number[] {
    const seqs: number[] = [];
    this.db.transaction(() => {
      for (const e of events) {
        const r = this.insertEvent.run(e);
        if (r.changes === 0) continue; // the same eventID again (a replay after a crash)
        const seq = Number(r.lastInsertRowid);
        seqs.push(seq);
        for (const [epc, kind] of e.epcs) this.insertEpc.run(epc, kind, seq);
        for (const v of e.viewers) this.insertViewer.run(v, seq);
      }
      this.setMeta("cursor", cursor);
    })();
    return seqs;
  }

  cursor(): string {
    return this.meta("cursor") ?? "";
  }

  maxSeq(): number {
    return (this.stmt(`SELECT coalesce(max(seq), 0) AS m FROM events`).get() as { m: number }).m;
  }

  eventCount(): number {
    return (this.stmt(`SELECT count(*) AS n FROM events`).get() as { n: number }).n;
  }

  /** Drops the projection (another chain): the capture jobs stay. */
  resetProjection(identity: string): void {
    this.db.transaction(() => {
      this.db.exec(`DELETE FROM events; DELETE FROM event_epcs; DELETE FROM event_viewers;`);
      this.setMeta("cursor", "");
      this.setMeta("identity", identity);
      this.db.exec(`UPDATE subscriptions SET cursor_seq = 0`);
    })();
  }

  eventById(eventId: string): EventRow | undefined {
    return camel<EventRow>(this.stmt(`SELECT * FROM events WHERE event_id = ?`).get(eventId) as Record<string, unknown> | undefined);
  }

  isVisible(seq: number, viewers: readonly string[]): boolean {
    if (viewers.length === 0) return false;
    const marks = viewers.map(() => "?").join(",");
    return this.stmt(`SELECT 1 FROM event_viewers WHERE seq = ? AND viewer IN (${marks}) LIMIT 1`).get(seq, ...viewers) !== undefined;
  }

  // ── Capture ──

  /**
   * Stores a capture job: its events (with the earlier capture of each re-posted eventID) and the
   * actions planned for the new ones, in one transaction.
   */
  saveJob(job: {
    id: string;
    member: string;
    keyId: string;
    events: Array<{ eventId: string; type: string; bizStep: string | null; linkedIdx?: number }>;
    actions: NewAction[];
    lists: CapturedList[];
    bizTransactions: Array<{ referenceHash: string; list: unknown }>;
  }): { duplicates: number } {
    let duplicates = 0;
    const now = Date.now();
    this.db.transaction(() => {
      this.stmt(`INSERT INTO capture_jobs (id, member, key_id, created_at, event_count) VALUES (?, ?, ?, ?, ?)`).run(job.id, job.member.toLowerCase(), job.keyId, now, job.events.length);
      const findId = this.stmt(`SELECT job_id, idx FROM captured_ids WHERE member = ? AND event_id = ?`);
      const addId = this.stmt(`INSERT INTO captured_ids (member, event_id, job_id, idx) VALUES (?, ?, ?, ?)`);
      const addEvent = this.stmt(`INSERT INTO capture_events (job_id, idx, event_id, type, biz_step, duplicate_of_job, duplicate_of_idx, linked_idx) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`);
      const dup = new Set<number>();
      job.events.forEach((e, idx) => {
        const earlier = findId.get(job.member.toLowerCase(), e.eventId) as { job_id: string; idx: number } | undefined;
        if (earlier) {
          duplicates++;
          dup.add(idx);
        }
        else addId.run(job.member.toLowerCase(), e.eventId, job.id, idx);
        addEvent.run(job.id, idx, e.eventId, e.type, e.bizStep, earlier?.job_id ?? null, earlier?.idx ?? null, e.linkedIdx ?? null);
      });
      const addAction = this.stmt(
        `INSERT INTO capture_actions (job_id, event_idx, member, action, body, needs_batch, after_action, idem_key, state, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'planned', ?)`,
      );
      // An event found captured meanwhile (a concurrent post of the same eventID) keeps no actions.
      const ids: Array<number | null> = [];
      for (const a of job.actions) {
        if (dup.has(a.eventIdx)) {
          ids.push(null);
          continue;
        }
        const after = a.afterIndex === undefined ? null : (ids[a.afterIndex] ?? null);
        const r = addAction.run(job.id, a.eventIdx, job.member.toLowerCase(), a.action, JSON.stringify(a.body), a.needsBatch ?? null, after, a.idemKey, now);
        ids.push(Number(r.lastInsertRowid));
      }
      const addList = this.stmt(
        `INSERT OR IGNORE INTO capture_lists (gtin, lot, member, serials, cases, pallets, units_per_case, cases_per_pallet, job_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      );
      const addSgtin = this.stmt(`INSERT OR IGNORE INTO list_sgtins (gtin, serial, lot, unit) VALUES (?, ?, ?, ?)`);
      const addSscc = this.stmt(`INSERT OR IGNORE INTO list_ssccs (sscc, gtin, lot, kind, idx) VALUES (?, ?, ?, ?, ?)`);
      for (const l of job.lists) {
        addList.run(l.gtin, l.lot, job.member.toLowerCase(), JSON.stringify(l.serials), JSON.stringify(l.cases), JSON.stringify(l.pallets), l.unitsPerCase, l.casesPerPallet, job.id);
        l.serials.forEach((s, unit) => addSgtin.run(l.gtin, s, l.lot, unit));
        l.cases.forEach((s, i) => addSscc.run(s, l.gtin, l.lot, 1, i));
        l.pallets.forEach((s, i) => addSscc.run(s, l.gtin, l.lot, 2, i));
      }
      const addBt = this.stmt(`INSERT OR IGNORE INTO biz_transactions (reference_hash, list) VALUES (?, ?)`);
      for (const b of job.bizTransactions) addBt.run(b.referenceHash, JSON.stringify(b.list));
      if (ids.every((x) => x === null)) this.stmt(`UPDATE capture_jobs SET finished_at = ? WHERE id = ?`).run(now, job.id);
    })();
    return { duplicates };
  }

  /** Whether `member` captured `eventId` before (its eventIDs are never applied twice). */
  isCaptured(member: string, eventId: string): boolean {
    return this.stmt(`SELECT 1 FROM captured_ids WHERE member = ? AND event_id = ?`).get(member.toLowerCase(), eventId) !== undefined;
  }

  job(id: string): { id: string; member: string; keyId: string; createdAt: number; finishedAt: number | null; eventCount: number } | undefined {
    return camel(this.stmt(`SELECT id, member, key_id, created_at, finished_at, event_count FROM capture_jobs WHERE id = ?`).get(id) as Record<string, unknown> | undefined);
  }

  jobEvents(id: string): Array<{ idx: number; eventId: string; type: string; bizStep: string | null; duplicateOfJob: string | null; duplicateOfIdx: number | null; linkedIdx: number | null }> {
    return (this.stmt(`SELECT idx, event_id, type, biz_step, duplicate_of_job, duplicate_of_idx, linked_idx FROM capture_events WHERE job_id = ? ORDER BY idx`).all(id) as Record<string, unknown>[]).map((r) => camel(r)!);
  }

  actionsOfEvent(jobId: string, idx: number): ActionRow[] {
    return (this.stmt(`SELECT * FROM capture_actions WHERE job_id = ? AND event_idx = ? ORDER BY id`).all(jobId, idx) as Record<string, unknown>[]).map((r) => camel<ActionRow>(r)!);
  }

  actionsOfJob(jobId: string): ActionRow[] {
    return (this.stmt(`SELECT * FROM capture_actions WHERE job_id = ? ORDER BY id`).all(jobId) as Record<string, unknown>[]).map((r) => camel<ActionRow>(r)!);
  }

  /** Actions not finished, oldest first. */
  openActions(limit: number): ActionRow[] {
    return (this.stmt(`SELECT * FROM capture_actions WHERE state IN ('planned', 'queued', 'submitted') ORDER BY id LIMIT ?`).all(limit) as Record<string, unknown>[]).map((r) => camel<ActionRow>(r)!);
  }

  action(id: number): ActionRow | undefined {
    return camel<ActionRow>(this.stmt(`SELECT * FROM capture_actions WHERE id = ?`).get(id) as Record<string, unknown> | undefined);
  }

  updateAction(id: number, change: Partial<Pick<ActionRow, "state" | "requestId" | "txHash" | "blockNumber" | "error" | "body">>): void {
    const sets: string[] = [];
    const values: unknown[] = [];
    const column: Record<string, string> = { state: "state", requestId: "request_id", txHash: "tx_hash", blockNumber: "block_number", error: "error", body: "body" };
    for (const [k, v] of Object.entries(change)) {
      sets.push(`${column[k]} = ?`);
      values.push(v);
    }
    sets.push("updated_at = ?");
    values.push(Date.now());
    this.stmt(`UPDATE capture_actions SET ${sets.join(", ")} WHERE id = ?`).run(...values, id);
  }

  /** Marks jobs whose actions are all finished. */
  finishJobs(): void {
    this.db
      .prepare(
        `UPDATE capture_jobs SET finished_at = ? WHERE finished_at IS NULL AND NOT EXISTS (SELECT 1 FROM capture_actions a WHERE a.job_id = capture_jobs.id AND a.state NOT IN ('mined', 'failed'))`,
      )
      .run(Date.now());
  }

  capturedList(gtin: string, lot: string): CapturedList | undefined {
    const r = this.stmt(`SELECT gtin, lot, member, serials, cases, pallets, units_per_case, cases_per_pallet FROM capture_lists WHERE gtin = ? AND lot = ?`).get(gtin, lot) as
      | { gtin: string; lot: string; member: string; serials: string; cases: string; pallets: string; units_per_case: number; cases_per_pallet: number }
      | undefined;
    return (
      r && {
        gtin: r.gtin,
        lot: r.lot,
        member: r.member,
        serials: JSON.parse(r.serials) as string[],
        cases: JSON.parse(r.cases) as string[],
        pallets: JSON.parse(r.pallets) as string[],
        unitsPerCase: r.units_per_case,
        casesPerPallet: r.cases_per_pallet,
      }
    );
  }

  findSgtin(gtin: string, serial: string): { lot: string; unit: number } | undefined {
    return this.stmt(`SELECT lot, unit FROM list_sgtins WHERE gtin = ? AND serial = ?`).get(gtin, serial) as { lot: string; unit: number } | undefined;
  }

  findSscc(sscc: string): { gtin: string; lot: string; kind: number; index: number } | undefined {
    const r = this.stmt(`SELECT gtin, lot, kind, idx FROM list_ssccs WHERE sscc = ?`).get(sscc) as { gtin: string; lot: string; kind: number; idx: number } | undefined;
    return r && { gtin: r.gtin, lot: r.lot, kind: r.kind, index: r.idx };
  }

  bizTransactionsOf(referenceHash: string): Array<{ type: string; uri: string }> | undefined {
    const r = this.stmt(`SELECT list FROM biz_transactions WHERE reference_hash = ?`).get(referenceHash.toLowerCase()) as { list: string } | undefined;
    return r && (JSON.parse(r.list) as Array<{ type: string; uri: string }>);
  }

  // ── Named queries and subscriptions ──

  saveQuery(owner: string, name: string, params: unknown): boolean {
    return this.stmt(`INSERT OR IGNORE INTO queries (owner, name, params, created_at) VALUES (?, ?, ?, ?)`).run(owner, name, JSON.stringify(params), Date.now()).changes === 1;
  }

  query(owner: string, name: string): { name: string; params: Record<string, unknown>; createdAt: number } | undefined {
    const r = this.stmt(`SELECT name, params, created_at FROM queries WHERE owner = ? AND name = ?`).get(owner, name) as { name: string; params: string; created_at: number } | undefined;
    return r && { name: r.name, params: JSON.parse(r.params) as Record<string, unknown>, createdAt: r.created_at };
  }

  queries(owner: string): Array<{ name: string; params: Record<string, unknown>; createdAt: number }> {
    return (this.stmt(`SELECT name, params, created_at FROM queries WHERE owner = ? ORDER BY name`).all(owner) as Array<{ name: string; params: string; created_at: number }>).map((r) => ({
      name: r.name,
      params: JSON.parse(r.params) as Record<string, unknown>,
      createdAt: r.created_at,
    }));
  }

  deleteQuery(owner: string, name: string): boolean {
    return this.db.transaction(() => {
      this.stmt(`DELETE FROM subscriptions WHERE owner = ? AND query_name = ?`).run(owner, name);
      return this.stmt(`DELETE FROM queries WHERE owner = ? AND name = ?`).run(owner, name).changes === 1;
    })();
  }

  addSubscription(s: Omit<SubscriptionRow, "failures" | "nextAttemptAt" | "lastError" | "lastNotifiedAt">): void {
    this.db
      .prepare(`INSERT INTO subscriptions (id, owner, query_name, params, dest, secret, created_at, cursor_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
      .run(s.id, s.owner, s.queryName, s.params, s.dest, s.secret, s.createdAt, s.cursorSeq);
  }

  subscription(id: string): SubscriptionRow | undefined {
    return camel<SubscriptionRow>(this.stmt(`SELECT * FROM subscriptions WHERE id = ?`).get(id) as Record<string, unknown> | undefined);
  }

  subscriptions(owner?: string, queryName?: string): SubscriptionRow[] {
    const rows = (owner === undefined
      ? this.stmt(`SELECT * FROM subscriptions ORDER BY created_at, id`).all()
      : this.stmt(`SELECT * FROM subscriptions WHERE owner = ? AND query_name = ? ORDER BY created_at, id`).all(owner, queryName)) as Record<string, unknown>[];
    return rows.map((r) => camel<SubscriptionRow>(r)!);
  }

  deleteSubscription(owner: string, queryName: string, id: string): boolean {
    return this.stmt(`DELETE FROM subscriptions WHERE owner = ? AND query_name = ? AND id = ?`).run(owner, queryName, id).changes === 1;
  }

  /** After a 2xx: the cursor moves past the delivered events (only forward). */
  advanceSubscription(id: string, cursorSeq: number): void {
    this.db
      .prepare(`UPDATE subscriptions SET cursor_seq = max(cursor_seq, ?), failures = 0, next_attempt_at = 0, last_error = NULL, last_notified_at = ? WHERE id = ?`)
      .run(cursorSeq, Date.now(), id);
  }

  /** Moves a cursor over events the subscriber does not see (only if nobody moved it meanwhile). */
  skipSubscription(id: string, from: number, to: number): void {
    this.stmt(`UPDATE subscriptions SET cursor_seq = ? WHERE id = ? AND cursor_seq = ?`).run(to, id, from);
  }

  subscriptionFailed(id: string, failures: number, nextAttemptAt: number, error: string): void {
    this.stmt(`UPDATE subscriptions SET failures = ?, next_attempt_at = ?, last_error = ? WHERE id = ?`).run(failures, nextAttemptAt, error.slice(0, 500), id);
  }
}
