import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import type { LedgerEvent, LedgerEventName } from "../domain/ledger-events";
import type { BatchStatusName } from "../domain/custody";

/**
 * The read side's SQLite index: the ledger events exactly as logged (the source of truth) plus the
 * state they imply (batches, balances, pending shipments, dispensed units), maintained in the same
 * transaction as each event is inserted so the two never disagree. Inserting an event that is
 * already there changes nothing, which makes re-reading a block range harmless. The integrity
 * audit rebuilds the state from `events` alone with the pure custody reducer and compares.
 */

export interface BatchRow {
  batchId: string;
  gtin: string;
  lot: string;
  expiryDay: number;
  quantity: bigint;
  producer: string;
  serialsRoot: string;
  serialCount: number;
  documentHash: string;
  status: BatchStatusName;
  /** Unix seconds of the last status change (mint time while never changed). */
  statusSince: number;
  mintedBlock: number;
  mintedTime: number;
  txHash: string;
  logIndex: number;
}

export interface PendingRow {
  shipmentId: string;
  batchId: string;
  sender: string;
  receiver: string;
  quantity: bigint;
  isReturn: boolean;
  referenceHash: string;
  createdBlock: number;
  createdTime: number;
  txHash: string;
  logIndex: number;
}

export interface HoldingRow {
  batchId: string;
  holder: string;
  quantity: bigint;
}

export interface MemberRow {
  address: string;
  role: number;
  gln: string | null;
  jurisdiction: string;
}

export interface SerialListRow {
  batchId: string;
  root: string;
  count: number;
  serials: string[];
  uploadedBy: string;
  uploadedAt: number;
}

export interface Checkpoint {
  block: number;
  hash: string;
}

const SCHEMA_VERSION = 1;
const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (
  block_number INTEGER NOT NULL,
  log_index INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  block_time INTEGER NOT NULL,
  name TEXT NOT NULL,
  batch_id INTEGER NOT NULL,
  args TEXT NOT NULL,
  PRIMARY KEY (block_number, log_index)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS events_by_batch ON events (batch_id, block_number, log_index);
CREATE INDEX IF NOT EXISTS events_by_time ON events (block_time);
CREATE TABLE IF NOT EXISTS batches (
  batch_id INTEGER PRIMARY KEY,
  gtin TEXT NOT NULL,
  lot TEXT NOT NULL,
  expiry_day INTEGER NOT NULL,
  quantity INTEGER NOT NULL,
  producer TEXT NOT NULL,
  serials_root TEXT NOT NULL,
  serial_count INTEGER NOT NULL,
  document_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  status_since INTEGER NOT NULL,
  minted_block INTEGER NOT NULL,
  minted_time INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS batches_by_gtin_lot ON batches (gtin, lot);
CREATE INDEX IF NOT EXISTS batches_by_status ON batches (status);
CREATE TABLE IF NOT EXISTS balances (
  batch_id INTEGER NOT NULL,
  holder TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  PRIMARY KEY (batch_id, holder)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS balances_by_holder ON balances (holder);
CREATE TABLE IF NOT EXISTS pending (
  shipment_id INTEGER PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  sender TEXT NOT NULL,
  receiver TEXT NOT NULL,
  quantity INTEGER NOT NULL,
  is_return INTEGER NOT NULL,
  reference_hash TEXT NOT NULL,
  created_block INTEGER NOT NULL,
  created_time INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_by_batch ON pending (batch_id);
CREATE INDEX IF NOT EXISTS pending_by_sender ON pending (sender);
CREATE INDEX IF NOT EXISTS pending_by_receiver ON pending (receiver);
CREATE TABLE IF NOT EXISTS dispensed (
  batch_id INTEGER NOT NULL,
  unit_index INTEGER NOT NULL,
  block_time INTEGER NOT NULL,
  PRIMARY KEY (batch_id, unit_index)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
  address TEXT PRIMARY KEY,
  role INTEGER NOT NULL,
  gln TEXT,
  jurisdiction TEXT NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS serial_lists (
  batch_id INTEGER PRIMARY KEY,
  root TEXT NOT NULL,
  count INTEGER NOT NULL,
  serials TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
`;

/** Tables rebuilt from the chain; serial lists are not (they are uploads) but belong to one chain too. */
const CHAIN_TABLES = ["events", "batches", "balances", "pending", "dispensed", "members", "serial_lists"] as const;

type Row = Record<string, unknown>;
const big = (v: unknown): bigint => (typeof v === "bigint" ? v : BigInt(v as number));
const num = (v: unknown): number => Number(v);

function toBatch(r: Row): BatchRow {
  return {
    batchId: String(r.batch_id),
    gtin: String(r.gtin),
    lot: String(r.lot),
    expiryDay: num(r.expiry_day),
    quantity: big(r.quantity),
    producer: String(r.producer),
    serialsRoot: String(r.serials_root),
    serialCount: num(r.serial_count),
    documentHash: String(r.document_hash),
    status: String(r.status) as BatchStatusName,
    statusSince: num(r.status_since),
    mintedBlock: num(r.minted_block),
    mintedTime: num(r.minted_time),
    txHash: String(r.tx_hash),
    logIndex: num(r.log_index),
  };
}

function toPending(r: Row): PendingRow {
  return {
    shipmentId: String(r.shipment_id),
    batchId: String(r.batch_id),
    sender: String(r.sender),
    receiver: String(r.receiver),
    quantity: big(r.quantity),
    isReturn: num(r.is_return) === 1,
    referenceHash: String(r.reference_hash),
    createdBlock: num(r.created_block),
    createdTime: num(r.created_time),
    txHash: String(r.tx_hash),
    logIndex: num(r.log_index),
  };
}

function toEvent(r: Row): LedgerEvent {
  return {
    name: String(r.name) as LedgerEventName,
    batchId: String(r.batch_id),
    args: JSON.parse(String(r.args)) as LedgerEvent["args"],
    blockNumber: num(r.block_number),
    blockTime: num(r.block_time),
    txHash: String(r.tx_hash),
    logIndex: num(r.log_index),
  };
}

/** Pads a GTIN held as a number to 14 digits. */
export function gtin14Of(value: string | number | bigint): string {
  return String(value).padStart(14, "0");
}

export class IndexStore {
  readonly db: Database.Database;
  private readonly s;
  private readonly members = new Map<string, MemberRow>();

  constructor(readonly file: string) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    // The index is a cache of the chain: a file of another schema version is dropped and re-read.
    if (Number(this.db.pragma("user_version", { simple: true })) !== SCHEMA_VERSION) {
      this.db.transaction(() => {
        for (const t of ["meta", ...CHAIN_TABLES]) this.db.exec(`DROP TABLE IF EXISTS ${t}`);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    this.db.exec(SCHEMA);
    const db = this.db;
    const p = (sql: string) => db.prepare(sql);
    const ps = (sql: string) => db.prepare(sql).safeIntegers(true);
    this.s = {
      getMeta: p("SELECT value FROM meta WHERE key = ?").pluck(),
      setMeta: p("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
      insertEvent: p(
        "INSERT OR IGNORE INTO events (block_number, log_index, tx_hash, block_time, name, batch_id, args) VALUES (?, ?, ?, ?, ?, ?, ?)",
      ),
      insertBatch: p(
        `INSERT INTO batches (batch_id, gtin, lot, expiry_day, quantity, producer, serials_root, serial_count, document_hash, status, status_since, minted_block, minted_time, tx_hash, log_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'Active', ?, ?, ?, ?, ?)`,
      ),
      setStatus: p("UPDATE batches SET status = ?, status_since = ? WHERE batch_id = ?"),
      credit: p(
        "INSERT INTO balances (batch_id, holder, quantity) VALUES (?, ?, ?) ON CONFLICT (batch_id, holder) DO UPDATE SET quantity = quantity + excluded.quantity",
      ),
      debit: p("UPDATE balances SET quantity = quantity - ? WHERE batch_id = ? AND holder = ?"),
      dropEmpty: p("DELETE FROM balances WHERE batch_id = ? AND holder = ? AND quantity = 0"),
      insertPending: p(
        `INSERT OR REPLACE INTO pending (shipment_id, batch_id, sender, receiver, quantity, is_return, reference_hash, created_block, created_time, tx_hash, log_index)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      getPending: ps("SELECT * FROM pending WHERE shipment_id = ?"),
      deletePending: p("DELETE FROM pending WHERE shipment_id = ?"),
      insertDispensed: p("INSERT OR IGNORE INTO dispensed (batch_id, unit_index, block_time) VALUES (?, ?, ?)"),
      batch: ps("SELECT * FROM batches WHERE batch_id = ?"),
      batchByGtinLot: ps("SELECT * FROM batches WHERE gtin = ? AND lot = ?"),
      batchesByStatus: ps("SELECT * FROM batches WHERE status = ? ORDER BY batch_id"),
      batchIds: p("SELECT batch_id FROM batches ORDER BY batch_id").pluck(),
      holdersOf: ps("SELECT batch_id, holder, quantity FROM balances WHERE batch_id = ? ORDER BY holder"),
      holdingsOf: ps("SELECT batch_id, holder, quantity FROM balances WHERE holder = ? ORDER BY batch_id"),
      allBalances: ps("SELECT batch_id, holder, quantity FROM balances"),
      pendingOfBatch: ps("SELECT * FROM pending WHERE batch_id = ? ORDER BY shipment_id"),
      pendingIn: ps("SELECT * FROM pending WHERE receiver = ? ORDER BY shipment_id"),
      pendingOut: ps("SELECT * FROM pending WHERE sender = ? ORDER BY shipment_id"),
      allPending: ps("SELECT * FROM pending"),
      dispensedAt: p("SELECT block_time FROM dispensed WHERE batch_id = ? AND unit_index = ?").pluck(),
      dispensedCount: p("SELECT count(*) FROM dispensed WHERE batch_id = ?").pluck(),
      eventsOfBatch: p("SELECT * FROM events WHERE batch_id = ? ORDER BY block_number, log_index"),
      eventsInWindow: p(
        "SELECT * FROM events WHERE block_time >= ? AND block_time < ? ORDER BY block_number, log_index LIMIT ?",
      ),
      allEvents: p("SELECT * FROM events ORDER BY block_number, log_index"),
      eventCount: p("SELECT count(*) FROM events").pluck(),
      member: p("SELECT * FROM members WHERE address = ?"),
      upsertMember: p(
        "INSERT INTO members (address, role, gln, jurisdiction) VALUES (?, ?, ?, ?) ON CONFLICT (address) DO UPDATE SET role = excluded.role, gln = excluded.gln, jurisdiction = excluded.jurisdiction",
      ),
      serialList: p("SELECT * FROM serial_lists WHERE batch_id = ?"),
      upsertSerialList: p(
        `INSERT INTO serial_lists (batch_id, root, count, serials, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (batch_id) DO UPDATE SET root = excluded.root, count = excluded.count, serials = excluded.serials, uploaded_by = excluded.uploaded_by, uploaded_at = excluded.uploaded_at`,
      ),
    };
  }

  close(): void {
    if (this.db.open) this.db.close();
  }

  // ── Meta: chain identity and checkpoint ──

  meta(key: string): string | undefined {
    return this.s.getMeta.get(key) as string | undefined;
  }

  setMeta(key: string, value: string): void {
    this.s.setMeta.run(key, value);
  }

  checkpoint(): Checkpoint | undefined {
    const block = this.meta("checkpointBlock");
    const hash = this.meta("checkpointHash");
    return block === undefined || hash === undefined ? undefined : { block: Number(block), hash };
  }

  /** Forgets everything indexed (a chain reset): the next poll starts again from the start block. */
  reset(identity: Record<string, string>): void {
    this.db.transaction(() => {
      for (const t of CHAIN_TABLES) this.db.exec(`DELETE FROM ${t}`);
      this.members.clear();
      this.db.exec("DELETE FROM meta");
      for (const [k, v] of Object.entries(identity)) this.setMeta(k, v);
    })();
  }

  // ── Writing ──

  /**
   * Stores the events of a block range (in chain order) and moves the checkpoint to the range's
   * last block, atomically. Returns how many events were new.
   */
  applyRange(events: readonly LedgerEvent[], checkpoint: Checkpoint): number {
    let added = 0;
    this.db.transaction(() => {
      for (const e of events) if (this.apply(e)) added++;
      this.setMeta("checkpointBlock", String(checkpoint.block));
      this.setMeta("checkpointHash", checkpoint.hash);
    })();
    return added;
  }

  private apply(e: LedgerEvent): boolean {
    const s = this.s;
    const inserted = s.insertEvent.run(e.blockNumber, e.logIndex, e.txHash, e.blockTime, e.name, BigInt(e.batchId), JSON.stringify(e.args));
    if (inserted.changes === 0) return false;
    const a = e.args;
    const id = BigInt(e.batchId);
    const qty = () => BigInt(String(a.quantity));
    const credit = (who: string, q: bigint) => s.credit.run(id, who, q);
    const debit = (who: string, q: bigint) => {
      s.debit.run(q, id, who);
      s.dropEmpty.run(id, who);
    };
    switch (e.name) {
      case "BatchMinted":
        s.insertBatch.run(
          id,
          gtin14Of(String(a.gtin)),
          String(a.lot),
          Number(a.expiryDay),
          qty(),
          String(a.producer),
          String(a.serialsRoot),
          Number(a.serialCount),
          String(a.documentHash),
          e.blockTime,
          e.blockNumber,
          e.blockTime,
          e.txHash,
          e.logIndex,
        );
        credit(String(a.producer), qty());
        break;
      case "ShipmentCreated":
        debit(String(a.sender), qty());
        s.insertPending.run(
          BigInt(String(a.shipmentId)),
          id,
          String(a.sender),
          String(a.receiver),
          qty(),
          a.isReturn === true || a.isReturn === "true" ? 1 : 0,
          String(a.referenceHash),
          e.blockNumber,
          e.blockTime,
          e.txHash,
          e.logIndex,
        );
        break;
      case "ShipmentAccepted":
      case "ShipmentRejected":
      case "ShipmentCancelled": {
        const shipmentId = BigInt(String(a.shipmentId));
        const p = s.getPending.get(shipmentId) as Row | undefined;
        s.deletePending.run(shipmentId);
        // A closing event without its pending row cannot happen on a sound ledger; the audit reports it.
        if (p) credit(e.name === "ShipmentAccepted" ? String(p.receiver) : String(p.sender), big(p.quantity));
        break;
      }
      case "BatchQuarantined":
        s.setStatus.run("Quarantined", e.blockTime, id);
        break;
      case "BatchQuarantineLifted":
        s.setStatus.run("Active", e.blockTime, id);
        break;
      case "BatchRecalled":
        s.setStatus.run("Recalled", e.blockTime, id);
        break;
      case "UnitDispensed":
        s.insertDispensed.run(id, BigInt(String(a.unitIndex)), e.blockTime);
        debit(String(a.pharmacy), 1n);
        break;
      case "UnitsWrittenOff":
        debit(String(a.holder), qty());
        break;
    }
    return true;
  }

  upsertMember(m: MemberRow): void {
    this.s.upsertMember.run(m.address, m.role, m.gln, m.jurisdiction);
    this.members.set(m.address, m);
  }

  saveSerialList(l: SerialListRow): void {
    this.s.upsertSerialList.run(BigInt(l.batchId), l.root, l.count, l.serials.join("\n"), l.uploadedBy, l.uploadedAt);
  }

  // ── Reading ──

  eventCount(): number {
    return Number(this.s.eventCount.get());
  }

  batch(batchId: string): BatchRow | undefined {
    const r = this.s.batch.get(BigInt(batchId)) as Row | undefined;
    return r && toBatch(r);
  }

  batchByGtinLot(gtin: string, lot: string): BatchRow | undefined {
    const r = this.s.batchByGtinLot.get(gtin, lot) as Row | undefined;
    return r && toBatch(r);
  }

  batchesWithStatus(status: BatchStatusName): BatchRow[] {
    return (this.s.batchesByStatus.all(status) as Row[]).map(toBatch);
  }

  batchIds(): string[] {
    return (this.s.batchIds.all() as unknown[]).map(String);
  }

  holdersOf(batchId: string): HoldingRow[] {
    return (this.s.holdersOf.all(BigInt(batchId)) as Row[]).map((r) => ({ batchId: String(r.batch_id), holder: String(r.holder), quantity: big(r.quantity) }));
  }

  holdingsOf(holder: string): HoldingRow[] {
    return (this.s.holdingsOf.all(holder) as Row[]).map((r) => ({ batchId: String(r.batch_id), holder: String(r.holder), quantity: big(r.quantity) }));
  }

  allBalances(): HoldingRow[] {
    return (this.s.allBalances.all() as Row[]).map((r) => ({ batchId: String(r.batch_id), holder: String(r.holder), quantity: big(r.quantity) }));
  }

  pendingOfBatch(batchId: string): PendingRow[] {
    return (this.s.pendingOfBatch.all(BigInt(batchId)) as Row[]).map(toPending);
  }

  pendingIn(receiver: string): PendingRow[] {
    return (this.s.pendingIn.all(receiver) as Row[]).map(toPending);
  }

  pendingOut(sender: string): PendingRow[] {
    return (this.s.pendingOut.all(sender) as Row[]).map(toPending);
  }

  allPending(): PendingRow[] {
    return (this.s.allPending.all() as Row[]).map(toPending);
  }

  /** Unix seconds at which the unit was dispensed, if it was. */
  dispensedAt(batchId: string, unitIndex: number): number | undefined {
    const v = this.s.dispensedAt.get(BigInt(batchId), unitIndex) as number | undefined;
    return v === undefined ? undefined : Number(v);
  }

  eventsOfBatch(batchId: string): LedgerEvent[] {
    return (this.s.eventsOfBatch.all(BigInt(batchId)) as Row[]).map(toEvent);
  }

  /** Events with fromTime ≤ block time < toTime (unix seconds), at most `limit`. */
  eventsInWindow(fromTime: number, toTime: number, limit: number): LedgerEvent[] {
    return (this.s.eventsInWindow.all(fromTime, toTime, limit) as Row[]).map(toEvent);
  }

  allEvents(): LedgerEvent[] {
    return (this.s.allEvents.all() as Row[]).map(toEvent);
  }

  /** A member's register entry (cached: every history line and export row asks for GLNs). */
  member(address: string): MemberRow | undefined {
    const cached = this.members.get(address);
    if (cached) return cached;
    const r = this.s.member.get(address) as Row | undefined;
    const m = r && { address: String(r.address), role: num(r.role), gln: r.gln === null ? null : String(r.gln), jurisdiction: String(r.jurisdiction) };
    if (m) this.members.set(address, m);
    return m;
  }

  serialList(batchId: string): SerialListRow | undefined {
    const r = this.s.serialList.get(BigInt(batchId)) as Row | undefined;
    if (!r) return undefined;
    return {
      batchId: String(r.batch_id),
      root: String(r.root),
      count: num(r.count),
      serials: String(r.serials).split("\n"),
      uploadedBy: String(r.uploaded_by),
      uploadedAt: num(r.uploaded_at),
    };
  }
}
