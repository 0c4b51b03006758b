import fs from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { itemsOf, type ItemArg, type LedgerEvent, type LedgerEventName } from "../domain/ledger-events";
import { SHIPMENT_KINDS, type BatchStatusName, type ShipmentKindName } from "../domain/custody";
import { ITEM_KIND, caseCount, itemUnits, palletCount, unitRange, type Item, type Layout } from "../domain/packing";
import { PACK_STATE_NAMES, PackBook, PackLedgerAnomaly, type PackRecord, type PackStateName, type PackView, type RecordMap } from "../domain/pack-ledger";

/**
 * The read side's SQLite index: the ledger events exactly as logged (the source of truth) plus the
 * state they imply — batches, products, balances, pending shipments with their items, quarantines
 * by jurisdiction, the per-pack ledger and a per-pack history — maintained in the same transaction
 * as each event is inserted, so the two never disagree. Inserting an event that is already there
 * changes nothing, which makes re-reading a block range harmless.
 *
 * Numbers keep their on-chain width: quantities (uint128) and balances are decimal TEXT with BigInt
 * arithmetic; ids that SQLite cannot hold (above 2^63 − 1) are simply not found.
 *
 * Packs: the same representation and rules as the contract (api/domain/pack-ledger.ts's PackBook,
 * run over SQLite-backed record maps): a record per case or pallet that moved as a whole, a record
 * per detached pack; an untouched pack has what its container has. The per-pack history is one row
 * per (event, unit range, bucket), the bucket being the range's case (or a block of 256 packs when
 * the batch has no cases), so a pack's history is one indexed lookup.
 *
 * One event that cannot be applied never stops the index: its derived changes are rolled back to
 * a savepoint, the event itself is kept when it can be, and an alert says what happened.
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
  markets: string[];
  unitsPerCase: number;
  casesPerPallet: number;
  packingRoot: string;
  /** Packs dispensed and not undone. */
  dispensed: number;
}

export interface QuarantineRow {
  batchId: string;
  jurisdiction: string;
  regulator: string;
  since: number;
  blockNumber: number;
  txHash: string;
  logIndex: number;
}

export type ProductStatusName = "Active" | "Withdrawn";
export interface ProductRow {
  gtin: string;
  owner: string;
  prefixKey: string;
  status: ProductStatusName;
  markets: string[];
  masterDataHash: string;
  statusSince: number;
  registeredBlock: number;
  txHash: string;
  logIndex: number;
}

export interface PendingRow {
  shipmentId: string;
  batchId: string;
  sender: string;
  receiver: string;
  quantity: bigint;
  kind: ShipmentKindName;
  isReturn: boolean;
  referenceHash: string;
  items: Item[];
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
  /** The member's compact index (IConsortium.Member.index), 0 when unknown. */
  index: number;
  role: number;
  gln: string | null;
  jurisdiction: string;
  /** The key that signs for the account now (zero address when none). */
  key: string;
  status: number;
}

export interface SerialListRow {
  batchId: string;
  root: string;
  count: number;
  uploadedBy: string;
  uploadedAt: number;
}

export interface PackingListRow {
  batchId: string;
  root: string;
  cases: number;
  pallets: number;
  uploadedBy: string;
  uploadedAt: number;
}

export type AlertKind = "undecodable" | "unstorable" | "anomaly";
export interface AlertRow {
  id: number;
  kind: AlertKind;
  /** Unix ms when the indexer raised it. */
  raisedAt: number;
  blockNumber: number;
  logIndex: number;
  txHash: string;
  event: string;
  batchId: string;
  message: string;
}

export interface Checkpoint {
  block: number;
  hash: string;
}

/** One entry of a pack's history: the event, and what it did to this pack. */
export interface PackEventRow {
  event: LedgerEvent;
  /** The unit range of the event that covers the pack: [first, end). */
  firstUnit: number;
  endUnit: number;
}

export const SCHEMA_VERSION = 2;
/** Packs per history bucket when a batch has no cases. */
const LOOSE_BUCKET = 256;
/** Bucket of batch-wide events (mint, markets, status…): every pack's history has them. */
const BATCH_BUCKET = -1;
/** Bucket of pallet `p`'s own moves (cases and pack blocks have buckets ≥ 0). */
const palletBucket = (p: number) => -2 - p;
/** Events that change a batch's row (status, markets, layout, dispensed count). */
const BATCH_ROW_EVENTS = new Set<string>(["BatchMarkets", "BatchPacked", "BatchQuarantined", "BatchQuarantineLifted", "BatchRecalled", "RecallUndone", "UnitDispensed", "DispenseUndone"]);
/** Nodes of a serial tree per stored row (32 bytes each: 2 KB rows). */
export const NODES_PER_CHUNK = 64;
export const MAX_SQLITE_INTEGER = (1n << 63n) - 1n;

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
  quantity TEXT NOT NULL,
  producer TEXT NOT NULL,
  serials_root TEXT NOT NULL,
  serial_count INTEGER NOT NULL,
  document_hash TEXT NOT NULL,
  status TEXT NOT NULL,
  status_since INTEGER NOT NULL,
  minted_block INTEGER NOT NULL,
  minted_time INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  markets TEXT NOT NULL DEFAULT '',
  units_per_case INTEGER NOT NULL DEFAULT 0,
  cases_per_pallet INTEGER NOT NULL DEFAULT 0,
  packing_root TEXT NOT NULL DEFAULT '0x0000000000000000000000000000000000000000000000000000000000000000',
  dispensed INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX IF NOT EXISTS batches_by_gtin_lot ON batches (gtin, lot);
CREATE INDEX IF NOT EXISTS batches_by_status ON batches (status);
CREATE TABLE IF NOT EXISTS quarantines (
  batch_id INTEGER NOT NULL,
  jurisdiction TEXT NOT NULL,
  regulator TEXT NOT NULL,
  since INTEGER NOT NULL,
  block_number INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL,
  PRIMARY KEY (batch_id, jurisdiction)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS products (
  gtin TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  prefix_key TEXT NOT NULL,
  status TEXT NOT NULL,
  markets TEXT NOT NULL,
  master_data_hash TEXT NOT NULL,
  status_since INTEGER NOT NULL,
  registered_block INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS balances (
  batch_id INTEGER NOT NULL,
  holder TEXT NOT NULL,
  quantity TEXT NOT NULL,
  PRIMARY KEY (batch_id, holder)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS balances_by_holder ON balances (holder);
CREATE TABLE IF NOT EXISTS pending (
  shipment_id INTEGER PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  sender TEXT NOT NULL,
  receiver TEXT NOT NULL,
  quantity TEXT NOT NULL,
  kind INTEGER NOT NULL,
  reference_hash TEXT NOT NULL,
  items TEXT NOT NULL,
  created_block INTEGER NOT NULL,
  created_time INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  log_index INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_by_batch ON pending (batch_id);
CREATE INDEX IF NOT EXISTS pending_by_sender ON pending (sender);
CREATE INDEX IF NOT EXISTS pending_by_receiver ON pending (receiver);
CREATE TABLE IF NOT EXISTS pack_records (
  batch_id INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  idx INTEGER NOT NULL,
  state INTEGER NOT NULL,
  holder TEXT NOT NULL,
  day INTEGER NOT NULL,
  PRIMARY KEY (batch_id, kind, idx)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pack_events (
  batch_id INTEGER NOT NULL,
  bucket INTEGER NOT NULL,
  block_number INTEGER NOT NULL,
  log_index INTEGER NOT NULL,
  first_unit INTEGER NOT NULL,
  end_unit INTEGER NOT NULL,
  PRIMARY KEY (batch_id, bucket, block_number, log_index, first_unit)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS members (
  address TEXT PRIMARY KEY,
  idx INTEGER NOT NULL,
  role INTEGER NOT NULL,
  gln TEXT,
  jurisdiction TEXT NOT NULL,
  key TEXT NOT NULL,
  status INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_by_index ON members (idx);
CREATE TABLE IF NOT EXISTS alerts (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  kind TEXT NOT NULL,
  raised_at INTEGER NOT NULL,
  block_number INTEGER NOT NULL,
  log_index INTEGER NOT NULL,
  tx_hash TEXT NOT NULL,
  event TEXT NOT NULL,
  batch_id TEXT NOT NULL,
  message TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_once ON alerts (block_number, log_index, kind);
CREATE TABLE IF NOT EXISTS serial_lists (
  batch_id INTEGER PRIMARY KEY,
  root TEXT NOT NULL,
  count INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS serials (
  batch_id INTEGER NOT NULL,
  unit INTEGER NOT NULL,
  serial TEXT NOT NULL,
  tree_index INTEGER NOT NULL,
  PRIMARY KEY (batch_id, unit)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS serials_by_serial ON serials (batch_id, serial);
CREATE TABLE IF NOT EXISTS serial_nodes (
  batch_id INTEGER NOT NULL,
  chunk INTEGER NOT NULL,
  nodes BLOB NOT NULL,
  PRIMARY KEY (batch_id, chunk)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS packing_lists (
  batch_id INTEGER PRIMARY KEY,
  root TEXT NOT NULL,
  cases INTEGER NOT NULL,
  pallets INTEGER NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS ssccs (
  sscc TEXT PRIMARY KEY,
  batch_id INTEGER NOT NULL,
  kind INTEGER NOT NULL,
  idx INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS ssccs_by_container ON ssccs (batch_id, kind, idx);
`;

/** Every table: all are rebuilt from the chain (serial and packing lists are uploads, but of one chain). */
const TABLES = [
  "events",
  "batches",
  "quarantines",
  "products",
  "balances",
  "pending",
  "pack_records",
  "pack_events",
  "members",
  "alerts",
  "serial_lists",
  "serials",
  "serial_nodes",
  "packing_lists",
  "ssccs",
] as const;
/** Tables of the schema before version 2 (dropped on upgrade). */
const OLD_TABLES = ["dispensed"];

type Row = Record<string, unknown>;
const num = (v: unknown): number => Number(v);
const big = (v: unknown): bigint => BigInt(v as string);
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
const ZERO_HASH = "0x" + "0".repeat(64);
const STATE_INDEX = new Map<string, number>(PACK_STATE_NAMES.map((n, i) => [n, i]));
const dayOf = (e: LedgerEvent) => Math.floor(e.blockTime / 86_400);
const stateName = (v: unknown): PackStateName => PACK_STATE_NAMES[Number(v)] ?? "None";

/** The SQLite integer of a decimal id, or undefined when SQLite cannot hold it (so it is not found). */
export function storableId(id: string | bigint): bigint | undefined {
  let v: bigint;
  try {
    v = typeof id === "bigint" ? id : BigInt(id);
  } catch {
    return undefined;
  }
  return v >= 0n && v <= MAX_SQLITE_INTEGER ? v : undefined;
}

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
    markets: String(r.markets) === "" ? [] : String(r.markets).split(","),
    unitsPerCase: num(r.units_per_case),
    casesPerPallet: num(r.cases_per_pallet),
    packingRoot: String(r.packing_root),
    dispensed: num(r.dispensed),
  };
}

function toPending(r: Row): PendingRow {
  const kind = SHIPMENT_KINDS[num(r.kind)] ?? "Forward";
  return {
    shipmentId: String(r.shipment_id),
    batchId: String(r.batch_id),
    sender: String(r.sender),
    receiver: String(r.receiver),
    quantity: big(r.quantity),
    kind,
    isReturn: kind === "Return",
    referenceHash: String(r.reference_hash),
    items: JSON.parse(String(r.items)) as Item[],
    createdBlock: num(r.created_block),
    createdTime: num(r.created_time),
    txHash: String(r.tx_hash),
    logIndex: num(r.log_index),
  };
}

function toProduct(r: Row): ProductRow {
  return {
    gtin: String(r.gtin),
    owner: String(r.owner),
    prefixKey: String(r.prefix_key),
    status: String(r.status) as ProductStatusName,
    markets: String(r.markets) === "" ? [] : String(r.markets).split(","),
    masterDataHash: String(r.master_data_hash),
    statusSince: num(r.status_since),
    registeredBlock: num(r.registered_block),
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

function toMember(r: Row): MemberRow {
  return {
    address: String(r.address),
    index: num(r.idx),
    role: num(r.role),
    gln: r.gln === null ? null : String(r.gln),
    jurisdiction: String(r.jurisdiction),
    key: String(r.key),
    status: num(r.status),
  };
}

function toAlert(r: Row): AlertRow {
  return {
    id: num(r.id),
    kind: String(r.kind) as AlertKind,
    raisedAt: num(r.raised_at),
    blockNumber: num(r.block_number),
    logIndex: num(r.log_index),
    txHash: String(r.tx_hash),
    event: String(r.event),
    batchId: String(r.batch_id),
    message: String(r.message),
  };
}

/** Pads a GTIN held as a number to 14 digits. */
export function gtin14Of(value: string | number | bigint): string {
  return String(value).padStart(14, "0");
}

/** The layout of a stored batch (units = serial count; no cases when unitsPerCase is 0). */
export function layoutOf(b: Pick<BatchRow, "serialCount" | "unitsPerCase" | "casesPerPallet">): Layout {
  return { units: b.serialCount, unitsPerCase: b.unitsPerCase, casesPerPallet: b.casesPerPallet };
}

/** The unit ranges an item list covers, [first, end) each. */
export function unitRangesOf(layout: Layout, items: readonly Item[]): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const item of items) {
    if (item.count < 1) continue;
    if (item.kind === ITEM_KIND.Units) out.push([item.start, item.start + item.count]);
    else {
      const [first] = unitRange(layout, item.kind, item.start);
      const [, end] = unitRange(layout, item.kind, item.start + item.count - 1);
      out.push([first, end]);
    }
  }
  return out;
}

type Statements = ReturnType<typeof prepare>;

function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  return {
    getMeta: p("SELECT value FROM meta WHERE key = ?").pluck(),
    setMeta: p("INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
    insertEvent: p("INSERT OR IGNORE INTO events (block_number, log_index, tx_hash, block_time, name, batch_id, args) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    insertBatch: p(
      `INSERT INTO batches (batch_id, gtin, lot, expiry_day, quantity, producer, serials_root, serial_count, document_hash, status, status_since, minted_block, minted_time, tx_hash, log_index)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'Active', ?, ?, ?, ?, ?)`,
    ),
    setStatus: p("UPDATE batches SET status = ?, status_since = ? WHERE batch_id = ?"),
    setMarkets: p("UPDATE batches SET markets = ? WHERE batch_id = ?"),
    setPacked: p("UPDATE batches SET units_per_case = ?, cases_per_pallet = ?, packing_root = ? WHERE batch_id = ?"),
    addDispensed: p("UPDATE batches SET dispensed = dispensed + ? WHERE batch_id = ?"),
    insertQuarantine: p("INSERT OR REPLACE INTO quarantines (batch_id, jurisdiction, regulator, since, block_number, tx_hash, log_index) VALUES (?, ?, ?, ?, ?, ?, ?)"),
    deleteQuarantine: p("DELETE FROM quarantines WHERE batch_id = ? AND jurisdiction = ?"),
    quarantinesOf: p("SELECT * FROM quarantines WHERE batch_id = ? ORDER BY jurisdiction"),
    quarantineCount: p("SELECT count(*) FROM quarantines WHERE batch_id = ?").pluck(),
    allQuarantines: p("SELECT * FROM quarantines ORDER BY batch_id, jurisdiction"),
    upsertProduct: p(
      `INSERT INTO products (gtin, owner, prefix_key, status, markets, master_data_hash, status_since, registered_block, tx_hash, log_index) VALUES (?, ?, ?, 'Active', ?, ?, ?, ?, ?, ?)
       ON CONFLICT (gtin) DO UPDATE SET owner = excluded.owner, prefix_key = excluded.prefix_key, status = 'Active', markets = excluded.markets, master_data_hash = excluded.master_data_hash, status_since = excluded.status_since, registered_block = excluded.registered_block, tx_hash = excluded.tx_hash, log_index = excluded.log_index`,
    ),
    updateProduct: p("UPDATE products SET markets = ?, master_data_hash = ? WHERE gtin = ?"),
    setProductStatus: p("UPDATE products SET status = ?, status_since = ? WHERE gtin = ?"),
    product: p("SELECT * FROM products WHERE gtin = ?"),
    products: p("SELECT * FROM products ORDER BY gtin"),
    balance: p("SELECT quantity FROM balances WHERE batch_id = ? AND holder = ?").pluck(),
    setBalance: p("INSERT INTO balances (batch_id, holder, quantity) VALUES (?, ?, ?) ON CONFLICT (batch_id, holder) DO UPDATE SET quantity = excluded.quantity"),
    deleteBalance: p("DELETE FROM balances WHERE batch_id = ? AND holder = ?"),
    insertPending: p(
      `INSERT OR REPLACE INTO pending (shipment_id, batch_id, sender, receiver, quantity, kind, reference_hash, items, created_block, created_time, tx_hash, log_index)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    getPending: p("SELECT * FROM pending WHERE shipment_id = ?"),
    deletePending: p("DELETE FROM pending WHERE shipment_id = ?"),
    getRecord: p("SELECT state, holder, day FROM pack_records WHERE batch_id = ? AND kind = ? AND idx = ?"),
    // A pack's own record, its case's and its pallet's: three key lookups in one statement.
    unitRecords: p(
      "SELECT kind, idx, state, holder, day FROM pack_records WHERE batch_id = @batch AND kind = 0 AND idx = @unit " +
        "UNION ALL SELECT kind, idx, state, holder, day FROM pack_records WHERE batch_id = @batch AND kind = 1 AND idx = @case " +
        "UNION ALL SELECT kind, idx, state, holder, day FROM pack_records WHERE batch_id = @batch AND kind = 2 AND idx = @pallet",
    ),
    putRecord: p("INSERT INTO pack_records (batch_id, kind, idx, state, holder, day) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (batch_id, kind, idx) DO UPDATE SET state = excluded.state, holder = excluded.holder, day = excluded.day"),
    recordKeys: p("SELECT idx FROM pack_records WHERE batch_id = ? AND kind = ? ORDER BY idx").pluck(),
    recordRows: p("SELECT idx, state, holder, day FROM pack_records WHERE batch_id = ? AND kind = ? ORDER BY idx"),
    recordCount: p("SELECT count(*) FROM pack_records WHERE batch_id = ? AND kind = ?").pluck(),
    recordsByState: p("SELECT kind, holder, count(*) AS n FROM pack_records WHERE batch_id = ? AND state = ? GROUP BY kind, holder"),
    insertPackEvent: p("INSERT OR IGNORE INTO pack_events (batch_id, bucket, block_number, log_index, first_unit, end_unit) VALUES (?, ?, ?, ?, ?, ?)"),
    packHistory: p(
      `SELECT e.*, p.first_unit, p.end_unit FROM pack_events p JOIN events e ON e.block_number = p.block_number AND e.log_index = p.log_index
       WHERE p.batch_id = ? AND p.bucket IN (?, ?, ?) AND p.first_unit <= ? AND p.end_unit > ? ORDER BY p.block_number, p.log_index`,
    ),
    batch: p("SELECT * FROM batches WHERE batch_id = ?"),
    batchByGtinLot: p("SELECT * FROM batches WHERE gtin = ? AND lot = ?"),
    batchesByStatus: p("SELECT * FROM batches WHERE status = ? ORDER BY batch_id"),
    batchIds: p("SELECT batch_id FROM batches ORDER BY batch_id").pluck(),
    allBatches: p("SELECT * FROM batches ORDER BY batch_id"),
    holdersOf: p("SELECT batch_id, holder, quantity FROM balances WHERE batch_id = ? ORDER BY holder"),
    holdingsOf: p("SELECT batch_id, holder, quantity FROM balances WHERE holder = ? ORDER BY batch_id"),
    allBalances: p("SELECT batch_id, holder, quantity FROM balances"),
    pendingOfBatch: p("SELECT * FROM pending WHERE batch_id = ? ORDER BY shipment_id"),
    pendingIn: p("SELECT * FROM pending WHERE receiver = ? ORDER BY shipment_id"),
    pendingOut: p("SELECT * FROM pending WHERE sender = ? ORDER BY shipment_id"),
    allPending: p("SELECT * FROM pending ORDER BY shipment_id"),
    eventsOfBatch: p("SELECT * FROM events WHERE batch_id = ? ORDER BY block_number, log_index"),
    eventsInWindow: p("SELECT * FROM events WHERE block_time >= ? AND block_time < ? ORDER BY block_number, log_index LIMIT ?"),
    allEvents: p("SELECT * FROM events ORDER BY block_number, log_index"),
    lastEvent: p("SELECT * FROM events ORDER BY block_number DESC, log_index DESC LIMIT 1"),
    eventsAfter: p("SELECT * FROM events WHERE (block_number, log_index) > (?, ?) ORDER BY block_number, log_index LIMIT ?"),
    eventCount: p("SELECT count(*) FROM events").pluck(),
    member: p("SELECT * FROM members WHERE address = ?"),
    memberByIndex: p("SELECT * FROM members WHERE idx = ?"),
    allMembers: p("SELECT * FROM members ORDER BY idx"),
    upsertMember: p(
      `INSERT INTO members (address, idx, role, gln, jurisdiction, key, status) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (address) DO UPDATE SET idx = excluded.idx, role = excluded.role, gln = excluded.gln, jurisdiction = excluded.jurisdiction, key = excluded.key, status = excluded.status`,
    ),
    insertAlert: p("INSERT OR IGNORE INTO alerts (kind, raised_at, block_number, log_index, tx_hash, event, batch_id, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"),
    alerts: p("SELECT * FROM alerts WHERE id > ? ORDER BY id LIMIT ?"),
    alertCount: p("SELECT count(*) FROM alerts").pluck(),
    serialList: p("SELECT * FROM serial_lists WHERE batch_id = ?"),
    serialOf: p("SELECT serial FROM serials WHERE batch_id = ? AND unit = ?").pluck(),
    unitOfSerial: p("SELECT unit, tree_index FROM serials WHERE batch_id = ? AND serial = ?"),
    serialsOf: p("SELECT unit, serial, tree_index FROM serials WHERE batch_id = ? ORDER BY unit"),
    nodeChunk: p("SELECT nodes FROM serial_nodes WHERE batch_id = ? AND chunk = ?").pluck(),
    nodeChunks: p("SELECT chunk, nodes FROM serial_nodes WHERE batch_id = ? ORDER BY chunk"),
    packingList: p("SELECT * FROM packing_lists WHERE batch_id = ?"),
    ssccOf: p("SELECT sscc FROM ssccs WHERE batch_id = ? AND kind = ? AND idx = ?").pluck(),
    containerOfSscc: p("SELECT batch_id, kind, idx FROM ssccs WHERE sscc = ?"),
    ssccsOf: p("SELECT sscc, kind, idx FROM ssccs WHERE batch_id = ? ORDER BY kind, idx"),
  };
}

/** A PackBook record map over one (batch, kind) of `pack_records`. */
class SqlRecordMap implements RecordMap {
  constructor(
    private readonly s: Statements,
    private readonly batchId: bigint,
    private readonly kind: number,
  ) {}
  get(index: number): PackRecord | undefined {
    const r = this.s.getRecord.get(this.batchId, this.kind, index) as Row | undefined;
    return r && { state: stateName(r.state), holder: String(r.holder), day: num(r.day) };
  }
  set(index: number, record: PackRecord): void {
    this.s.putRecord.run(this.batchId, this.kind, index, STATE_INDEX.get(record.state) ?? 0, record.holder, record.day);
  }
  keys(): Iterable<number> {
    return (this.s.recordKeys.all(this.batchId, this.kind) as unknown[]).map(num);
  }
  values(): Iterable<PackRecord> {
    return (this.s.recordRows.all(this.batchId, this.kind) as Row[]).map((r) => ({ state: stateName(r.state), holder: String(r.holder), day: num(r.day) }));
  }
  get size(): number {
    return num(this.s.recordCount.get(this.batchId, this.kind));
  }
}

export class IndexStore {
  readonly db: Database.Database;
  private readonly s: Statements;
  private readonly members = new Map<string, MemberRow>();
  /** Alerts raised by applyRange (the indexer logs and counts them). */
  private raised: AlertRow[] = [];
  /** One event in a savepoint of its own (the wrapper is made once: making it per event cost ~10%). */
  private readonly applyOne: (e: LedgerEvent, anomaly: (m: string) => void) => boolean;
  /** Batch rows while a range is applied (every event of a batch reads it); dropped on any rollback. */
  private readonly batchCache = new Map<bigint, BatchRow>();

  constructor(
    readonly file: string,
    opts: { cacheMb?: number } = {},
  ) {
    if (file !== ":memory:") fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("synchronous = NORMAL");
    // Serial uploads are written by a worker thread on its own connection: wait for it rather than fail.
    this.db.pragma("busy_timeout = 10000");
    if (opts.cacheMb) this.db.pragma(`cache_size = -${Math.round(opts.cacheMb * 1024)}`);
    // The index is a cache of the chain: a file of another schema version is dropped and re-read.
    if (Number(this.db.pragma("user_version", { simple: true })) !== SCHEMA_VERSION) {
      this.db.transaction(() => {
        for (const t of ["meta", ...TABLES, ...OLD_TABLES]) this.db.exec(`DROP TABLE IF EXISTS ${t}`);
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      })();
    }
    this.db.exec(SCHEMA);
    this.s = prepare(this.db);
    this.applyOne = this.db.transaction((e: LedgerEvent, anomaly: (m: string) => void) => this.apply(e, anomaly));
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
      for (const t of TABLES) this.db.exec(`DELETE FROM ${t}`);
      this.members.clear();
      this.db.exec("DELETE FROM meta");
      for (const [k, v] of Object.entries(identity)) this.setMeta(k, v);
    })();
  }

  // ── Writing ──

  /**
   * Stores the events of a block range (in chain order) and moves the checkpoint to the range's
   * last block, atomically. Returns how many events were new. An event that cannot be applied is
   * rolled back alone and raised as an alert ({@link takeAlerts}); the range goes on.
   */
  applyRange(events: readonly LedgerEvent[], checkpoint: Checkpoint): number {
    let added = 0;
    try {
      this.db.transaction(() => {
        for (const e of events) if (this.applyGuarded(e)) added++;
        this.setMeta("checkpointBlock", String(checkpoint.block));
        this.setMeta("checkpointHash", checkpoint.hash);
      })();
    } finally {
      this.batchCache.clear();
    }
    return added;
  }

  /** Alerts raised since the last call (for logs and metrics). */
  takeAlerts(): AlertRow[] {
    const out = this.raised;
    this.raised = [];
    return out;
  }

  /** Records an alert (e.g. a log that did not decode); raised once per (block, log, kind). */
  raiseAlert(a: Omit<AlertRow, "id" | "raisedAt">): void {
    const raisedAt = Date.now();
    const r = this.s.insertAlert.run(a.kind, raisedAt, a.blockNumber, a.logIndex, a.txHash, a.event, a.batchId, a.message.slice(0, 2000));
    if (r.changes > 0) this.raised.push({ ...a, id: Number(r.lastInsertRowid), raisedAt });
  }

  private applyGuarded(e: LedgerEvent): boolean {
    const alert = (kind: AlertKind, message: string) =>
      this.raiseAlert({ kind, blockNumber: e.blockNumber, logIndex: e.logIndex, txHash: e.txHash, event: e.name, batchId: e.batchId, message });
    try {
      return this.applyOne(e, (m) => alert("anomaly", m));
    } catch (err) {
      this.batchCache.clear();
      // Rolled back to before this event. Keep the event itself when it can be stored, so
      // history and exports still show it; the alert says what could not be derived from it.
      let stored = false;
      try {
        const id = storableId(e.batchId);
        if (id !== undefined) stored = this.s.insertEvent.run(e.blockNumber, e.logIndex, e.txHash, e.blockTime, e.name, id, JSON.stringify(e.args)).changes > 0;
      } catch {
        stored = false;
      }
      alert("unstorable", `${e.name} of batch ${e.batchId} could not be ${stored ? "applied (the event is kept)" : "stored"}: ${(err as Error).message}`);
      return stored;
    }
  }

  /** A PackBook over the batch's SQLite records (undefined for a batch without serials). */
  packBook(batchId: string): PackBook | undefined {
    const b = this.batch(batchId);
    return b ? this.bookOf(b) : undefined;
  }

  private bookOf(b: BatchRow): PackBook | undefined {
    if (b.serialCount === 0) return undefined;
    const id = BigInt(b.batchId);
    return new PackBook(layoutOf(b), b.producer, {
      cases: new SqlRecordMap(this.s, id, ITEM_KIND.Case),
      pallets: new SqlRecordMap(this.s, id, ITEM_KIND.Pallet),
      detached: new SqlRecordMap(this.s, id, ITEM_KIND.Units),
    });
  }

  /**
   * History rows for the packs `items` cover: a whole pallet (or case) is one row under its own
   * bucket; a range of packs one row per case (or block of 256 packs) it touches.
   */
  private packEvent(id: bigint, layout: Layout, e: LedgerEvent, items: readonly Item[]): void {
    const size = layout.unitsPerCase > 0 ? layout.unitsPerCase : LOOSE_BUCKET;
    for (const item of items) {
      if (item.kind !== ITEM_KIND.Units && layout.unitsPerCase > 0) {
        for (let k = item.start; k < item.start + item.count; k++) {
          const [lo, hi] = unitRange(layout, item.kind, k);
          this.s.insertPackEvent.run(id, item.kind === ITEM_KIND.Pallet ? palletBucket(k) : k, e.blockNumber, e.logIndex, lo, hi);
        }
        continue;
      }
      const first = item.start;
      const end = item.start + item.count;
      for (let bucket = Math.floor(first / size); bucket * size < end; bucket++) {
        const lo = Math.max(first, bucket * size);
        const hi = Math.min(end, (bucket + 1) * size);
        if (lo < hi) this.s.insertPackEvent.run(id, bucket, e.blockNumber, e.logIndex, lo, hi);
      }
    }
  }

  private apply(e: LedgerEvent, anomaly: (message: string) => void): boolean {
    const s = this.s;
    const id = storableId(e.batchId);
    if (id === undefined) throw new RangeError(`batch id ${e.batchId} is beyond what the index stores`);
    if (s.insertEvent.run(e.blockNumber, e.logIndex, e.txHash, e.blockTime, e.name, id, JSON.stringify(e.args)).changes === 0) return false;
    const a = e.args;
    const where = `${e.name} at ${e.txHash}#${e.logIndex}`;
    const qty = () => BigInt(String(a.quantity));
    const balanceOf = (who: string) => {
      const v = s.balance.get(id, who) as string | undefined;
      return v === undefined ? 0n : BigInt(v);
    };
    const setBalance = (who: string, q: bigint) => {
      if (q === 0n) s.deleteBalance.run(id, who);
      else s.setBalance.run(id, who, q.toString());
    };
    const credit = (who: string, q: bigint) => setBalance(who, balanceOf(who) + q);
    const debit = (who: string, q: bigint) => {
      const left = balanceOf(who) - q;
      // Kept as the events say (the audit reports it), as the custody reducer does.
      if (left < 0n) anomaly(`${where}: ${who} goes below zero (${left})`);
      setBalance(who, left);
    };
    const items = itemsOf(e);

    if (e.batchId === "0") {
      this.applyRegister(e);
      return true;
    }
    if (e.name === "BatchMinted") {
      s.insertBatch.run(
        id,
        gtin14Of(String(a.gtin)),
        String(a.lot),
        Number(a.expiryDay),
        qty().toString(),
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
      this.s.insertPackEvent.run(id, BATCH_BUCKET, e.blockNumber, e.logIndex, 0, Math.max(1, Number(a.serialCount)));
      return true;
    }
    let b = this.batchCache.get(id);
    if (!b) {
      const batchRow = s.batch.get(id) as Row | undefined;
      if (!batchRow) {
        anomaly(`${where}: batch ${e.batchId} was never minted`);
        return true;
      }
      b = toBatch(batchRow);
      this.batchCache.set(id, b);
    }
    // Events that change the row drop it from the cache.
    if (BATCH_ROW_EVENTS.has(e.name)) this.batchCache.delete(id);
    const layout = layoutOf(b);
    const wholeBatch = () => s.insertPackEvent.run(id, BATCH_BUCKET, e.blockNumber, e.logIndex, 0, Math.max(1, b.serialCount));
    const onPacks = (change: (book: PackBook) => void, touched: readonly Item[]) => {
      const book = this.bookOf(b);
      if (!book) {
        if (items.length > 0 || e.name === "UnitDispensed" || e.name === "ContainerUnpacked") anomaly(`${where}: batch ${b.batchId} has no serials`);
        return;
      }
      try {
        change(book);
      } catch (err) {
        if (!(err instanceof PackLedgerAnomaly)) throw err;
        anomaly(`${where}: ${err.message}`);
      }
      this.packEvent(id, layout, e, touched);
    };

    switch (e.name) {
      case "BatchMarkets":
        s.setMarkets.run((a.markets as string[]).join(","), id);
        wholeBatch();
        break;
      case "BatchPacked":
        s.setPacked.run(Number(a.unitsPerCase), Number(a.casesPerPallet), String(a.packingRoot), id);
        wholeBatch();
        break;
      case "ShipmentCreated": {
        const sender = String(a.sender);
        debit(sender, qty());
        s.insertPending.run(
          BigInt(String(a.shipmentId)),
          id,
          sender,
          String(a.receiver),
          qty().toString(),
          Number(a.kind) === 1 ? 1 : 0,
          String(a.referenceHash),
          JSON.stringify(items.map((i) => ({ kind: i.kind, start: i.start, count: i.count }))),
          e.blockNumber,
          e.blockTime,
          e.txHash,
          e.logIndex,
        );
        if (items.length > 0) onPacks((book) => book.take(sender, items, "InTransit", dayOf(e)), items);
        break;
      }
      case "ShipmentAccepted":
      case "ShipmentRejected":
      case "ShipmentCancelled":
      case "ShipmentRecovered": {
        const shipmentId = BigInt(String(a.shipmentId));
        const r = s.getPending.get(shipmentId) as Row | undefined;
        if (!r) {
          anomaly(`${where}: shipment ${shipmentId} is not pending`);
          break;
        }
        const p = toPending(r);
        s.deletePending.run(shipmentId);
        const to = e.name === "ShipmentAccepted" ? p.receiver : e.name === "ShipmentRecovered" ? String(a.to) : p.sender;
        credit(to, p.quantity);
        if (p.items.length > 0) onPacks((book) => book.place(to, p.items), p.items);
        break;
      }
      case "ContainerUnpacked":
        onPacks((book) => book.open(String(a.holder), Number(a.kind), Number(a.index)), [{ kind: Number(a.kind), start: Number(a.index), count: 1 }]);
        break;
      case "UnitDispensed": {
        const unit = Number(a.unitIndex);
        s.addDispensed.run(1, id);
        debit(String(a.pharmacy), 1n);
        onPacks((book) => book.dispense(String(a.pharmacy), unit, dayOf(e)), [{ kind: ITEM_KIND.Units, start: unit, count: 1 }]);
        break;
      }
      case "DispenseUndone": {
        const unit = Number(a.unitIndex);
        s.addDispensed.run(-1, id);
        credit(String(a.pharmacy), 1n);
        onPacks((book) => book.release(String(a.pharmacy), [{ kind: ITEM_KIND.Units, start: unit, count: 1 }], ["Dispensed"]), [{ kind: ITEM_KIND.Units, start: unit, count: 1 }]);
        break;
      }
      case "PacksDecommissioned":
        debit(String(a.holder), qty());
        onPacks((book) => book.take(String(a.holder), items, stateName(a.state), dayOf(e)), items);
        break;
      case "DecommissionReverted":
        credit(String(a.holder), qty());
        onPacks((book) => book.release(String(a.holder), items, ["Sample", "FreeSample", "Exported"]), items);
        break;
      case "PacksLocked":
        onPacks((book) => book.take(String(a.holder), items, "Locked", dayOf(e)), items);
        break;
      case "PacksUnlocked":
        onPacks((book) => book.release(String(a.holder), items, ["Locked"]), items);
        break;
      case "UnitsWrittenOff":
        debit(String(a.holder), qty());
        break;
      case "CustodyRecovered": {
        const from = String(a.from);
        const to = String(a.to);
        const out = to === ZERO_ADDRESS;
        debit(from, qty());
        if (!out) credit(to, qty());
        if (items.length > 0) {
          onPacks((book) => {
            book.take(from, items, out ? stateName(a.state) : "InTransit", dayOf(e), true);
            if (!out) book.place(to, items);
          }, items);
        }
        break;
      }
      case "BatchQuarantined":
        s.insertQuarantine.run(id, String(a.jurisdiction), String(a.regulator), e.blockTime, e.blockNumber, e.txHash, e.logIndex);
        if (b.status !== "Recalled") s.setStatus.run("Quarantined", e.blockTime, id);
        wholeBatch();
        break;
      case "BatchQuarantineLifted":
        s.deleteQuarantine.run(id, String(a.jurisdiction));
        if (b.status === "Quarantined" && num(s.quarantineCount.get(id)) === 0) s.setStatus.run("Active", e.blockTime, id);
        wholeBatch();
        break;
      case "BatchRecalled":
        s.setStatus.run("Recalled", e.blockTime, id);
        wholeBatch();
        break;
      case "RecallUndone":
        s.setStatus.run(num(s.quarantineCount.get(id)) > 0 ? "Quarantined" : "Active", e.blockTime, id);
        wholeBatch();
        break;
      case "SafetyNoticeIssued":
        wholeBatch();
        break;
      default:
        break;
    }
    return true;
  }

  /** Product register and governance events (batch "0"). */
  private applyRegister(e: LedgerEvent): void {
    const a = e.args;
    const gtin = a.gtin === undefined ? undefined : gtin14Of(String(a.gtin));
    switch (e.name) {
      case "ProductRegistered":
        this.s.upsertProduct.run(gtin, String(a.owner), String(a.prefixKey), (a.markets as string[]).join(","), String(a.masterDataHash), e.blockTime, e.blockNumber, e.txHash, e.logIndex);
        break;
      case "ProductUpdated":
        this.s.updateProduct.run((a.markets as string[]).join(","), String(a.masterDataHash), gtin);
        break;
      case "ProductStatusChanged":
        this.s.setProductStatus.run(Number(a.status) === 2 ? "Withdrawn" : "Active", e.blockTime, gtin);
        break;
      case "CustodyPaused":
        this.setMeta("custodyPaused", a.paused ? "true" : "false");
        break;
      case "UndoWindowChanged":
        this.setMeta("undoWindowDays", String(a.newDays));
        break;
      default:
        break;
    }
  }

  upsertMember(m: MemberRow): void {
    this.s.upsertMember.run(m.address, m.index, m.role, m.gln, m.jurisdiction, m.key, m.status);
    this.members.set(m.address, m);
  }

  /** Forgets cached member rows (after a register change seen on chain). */
  forgetMember(address: string): void {
    this.members.delete(address);
  }

  // ── Serial and packing lists (written by the upload worker, or here for an in-memory index) ──

  /**
   * Stores a serial list with what proofs need: each serial with its unit and leaf position, and
   * the tree's nodes in chunks. Replaces an earlier list of the batch.
   */
  saveSerialList(l: SerialListRow, serials: readonly string[], leafNodes: Uint32Array, nodes: Uint8Array): void {
    writeSerialList(this.db, l, serials, leafNodes, nodes);
  }

  savePackingList(l: PackingListRow, cases: readonly string[], pallets: readonly string[]): void {
    writePackingList(this.db, l, cases, pallets);
  }

  // ── Reading ──

  eventCount(): number {
    return Number(this.s.eventCount.get());
  }

  batch(batchId: string): BatchRow | undefined {
    const id = storableId(batchId);
    if (id === undefined) return undefined;
    const r = this.s.batch.get(id) as Row | undefined;
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

  allBatches(): BatchRow[] {
    return (this.s.allBatches.all() as Row[]).map(toBatch);
  }

  quarantinesOf(batchId: string): QuarantineRow[] {
    const id = storableId(batchId);
    if (id === undefined) return [];
    return (this.s.quarantinesOf.all(id) as Row[]).map((r) => ({
      batchId: String(r.batch_id),
      jurisdiction: String(r.jurisdiction),
      regulator: String(r.regulator),
      since: num(r.since),
      blockNumber: num(r.block_number),
      txHash: String(r.tx_hash),
      logIndex: num(r.log_index),
    }));
  }

  allQuarantines(): Array<{ batchId: string; jurisdiction: string }> {
    return (this.s.allQuarantines.all() as Row[]).map((r) => ({ batchId: String(r.batch_id), jurisdiction: String(r.jurisdiction) }));
  }

  product(gtin: string): ProductRow | undefined {
    const r = this.s.product.get(gtin) as Row | undefined;
    return r && toProduct(r);
  }

  products(): ProductRow[] {
    return (this.s.products.all() as Row[]).map(toProduct);
  }

  holdersOf(batchId: string): HoldingRow[] {
    const id = storableId(batchId);
    if (id === undefined) return [];
    return (this.s.holdersOf.all(id) as Row[]).map((r) => ({ batchId: String(r.batch_id), holder: String(r.holder), quantity: big(r.quantity) }));
  }

  holdingsOf(holder: string): HoldingRow[] {
    return (this.s.holdingsOf.all(holder) as Row[]).map((r) => ({ batchId: String(r.batch_id), holder: String(r.holder), quantity: big(r.quantity) }));
  }

  allBalances(): HoldingRow[] {
    return (this.s.allBalances.all() as Row[]).map((r) => ({ batchId: String(r.batch_id), holder: String(r.holder), quantity: big(r.quantity) }));
  }

  pendingOfBatch(batchId: string): PendingRow[] {
    const id = storableId(batchId);
    if (id === undefined) return [];
    return (this.s.pendingOfBatch.all(id) as Row[]).map(toPending);
  }

  pending(shipmentId: string): PendingRow | undefined {
    const id = storableId(shipmentId);
    if (id === undefined) return undefined;
    const r = this.s.getPending.get(id) as Row | undefined;
    return r && toPending(r);
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

  /** A pack resolved as the contract's `packState` does, with its holder's account. */
  pack(batch: BatchRow, unit: number): PackView | undefined {
    if (batch.serialCount === 0 || !Number.isInteger(unit) || unit < 0 || unit >= batch.serialCount) return undefined;
    // The book's own rules over the only records a pack's state can come from (its own, its
    // case's, its pallet's), read in one statement: public verification does this per request.
    const book = new PackBook(layoutOf(batch), batch.producer);
    const { case: c, pallet: p } = book.containersOf(unit);
    for (const r of this.s.unitRecords.all({ batch: BigInt(batch.batchId), unit, case: c ?? -1, pallet: p ?? -1 }) as Row[]) {
      const kind = num(r.kind);
      const records = kind === ITEM_KIND.Units ? book.detached : kind === ITEM_KIND.Case ? book.cases : book.pallets;
      records.set(num(r.idx), { state: stateName(r.state), holder: String(r.holder), day: num(r.day) });
    }
    return book.unit(unit);
  }

  /** A case or pallet: its effective state and holder, and whether it is still sealed. */
  container(batch: BatchRow, kind: number, index: number): (PackRecord & { inSealedPallet: boolean; own: boolean }) | undefined {
    const book = this.bookOf(batch);
    if (!book) return undefined;
    const limit = kind === ITEM_KIND.Case ? caseCount(book.layout) : palletCount(book.layout);
    if (index < 0 || index >= limit) return undefined;
    return { ...book.container(kind, index), own: book.ownRecord(kind, index) !== undefined };
  }

  /**
   * Sealed cases and pallets per holder (sealed: never opened; counted where they are held, not
   * in transit): untouched containers are the producer's.
   */
  sealedContainers(batch: BatchRow): Map<string, { cases: number; pallets: number }> {
    const out = new Map<string, { cases: number; pallets: number }>();
    const book = this.bookOf(batch);
    if (!book || batch.unitsPerCase === 0) return out;
    const l = book.layout;
    const add = (who: string, cases: number, pallets: number) => {
      const c = out.get(who) ?? { cases: 0, pallets: 0 };
      c.cases += cases;
      c.pallets += pallets;
      out.set(who, c);
    };
    const nCases = caseCount(l);
    const nPallets = palletCount(l);
    const casesInPallet = (p: number) => Math.min((p + 1) * l.casesPerPallet, nCases) - p * l.casesPerPallet;
    const palletRecords = new Map<number, PackRecord>();
    for (const k of book.pallets.keys()) palletRecords.set(k, book.pallets.get(k)!);
    const caseRecords = new Map<number, PackRecord>();
    for (const k of book.cases.keys()) caseRecords.set(k, book.cases.get(k)!);
    if (l.casesPerPallet > 0) {
      for (let p = 0; p < nPallets; p++) {
        const r = palletRecords.get(p) ?? { state: "Held", holder: batch.producer, day: 0 };
        if (r.state === "Held") add(r.holder, casesInPallet(p), 1);
        else if (r.state === "Unpacked") {
          // Its untouched cases are sealed cases of the opener.
          let untouched = 0;
          for (let c = p * l.casesPerPallet; c < p * l.casesPerPallet + casesInPallet(p); c++) if (!caseRecords.has(c)) untouched++;
          if (untouched > 0) add(r.holder, untouched, 0);
        }
      }
    } else {
      const untouched = nCases - caseRecords.size;
      if (untouched > 0) add(batch.producer, untouched, 0);
    }
    for (const r of caseRecords.values()) if (r.state === "Held") add(r.holder, 1, 0);
    return out;
  }

  /** The events that touched a pack, in chain order, batch-wide ones included. */
  packHistory(batch: BatchRow, unit: number): PackEventRow[] {
    const size = batch.unitsPerCase > 0 ? batch.unitsPerCase : LOOSE_BUCKET;
    const c = Math.floor(unit / size);
    const pallet = batch.casesPerPallet > 0 ? palletBucket(Math.floor(c / batch.casesPerPallet)) : BATCH_BUCKET;
    const rows = this.s.packHistory.all(BigInt(batch.batchId), BATCH_BUCKET, c, pallet, unit, unit) as Row[];
    return rows.map((r) => ({ event: toEvent(r), firstUnit: num(r.first_unit), endUnit: num(r.end_unit) }));
  }

  eventsOfBatch(batchId: string): LedgerEvent[] {
    const id = storableId(batchId);
    if (id === undefined) return [];
    return (this.s.eventsOfBatch.all(id) as Row[]).map(toEvent);
  }

  /** Events with fromTime ≤ block time < toTime (unix seconds), at most `limit`. */
  eventsInWindow(fromTime: number, toTime: number, limit: number): LedgerEvent[] {
    return (this.s.eventsInWindow.all(fromTime, toTime, limit) as Row[]).map(toEvent);
  }

  allEvents(): LedgerEvent[] {
    return (this.s.allEvents.all() as Row[]).map(toEvent);
  }

  /** The newest indexed event. */
  lastEvent(): LedgerEvent | undefined {
    const r = this.s.lastEvent.get() as Row | undefined;
    return r && toEvent(r);
  }

  /** At most `limit` events strictly after (block, logIndex), in chain order: the index read as a stream. */
  eventsAfter(blockNumber: number, logIndex: number, limit: number): LedgerEvent[] {
    return (this.s.eventsAfter.all(blockNumber, logIndex, limit) as Row[]).map(toEvent);
  }

  /** A member's register entry (cached: every history line and export row asks for GLNs). */
  member(address: string): MemberRow | undefined {
    const cached = this.members.get(address);
    if (cached) return cached;
    const r = this.s.member.get(address) as Row | undefined;
    const m = r && toMember(r);
    if (m) this.members.set(address, m);
    return m;
  }

  memberByIndex(index: number): MemberRow | undefined {
    const r = this.s.memberByIndex.get(index) as Row | undefined;
    return r && toMember(r);
  }

  allMembers(): MemberRow[] {
    return (this.s.allMembers.all() as Row[]).map(toMember);
  }

  alerts(afterId = 0, limit = 100): AlertRow[] {
    return (this.s.alerts.all(afterId, limit) as Row[]).map(toAlert);
  }

  alertCount(): number {
    return num(this.s.alertCount.get());
  }

  serialList(batchId: string): SerialListRow | undefined {
    const id = storableId(batchId);
    if (id === undefined) return undefined;
    const r = this.s.serialList.get(id) as Row | undefined;
    if (!r) return undefined;
    return { batchId: String(r.batch_id), root: String(r.root), count: num(r.count), uploadedBy: String(r.uploaded_by), uploadedAt: num(r.uploaded_at) };
  }

  serialOf(batchId: string, unit: number): string | undefined {
    const id = storableId(batchId);
    if (id === undefined) return undefined;
    return this.s.serialOf.get(id, unit) as string | undefined;
  }

  /** The unit and leaf position of a serial in the batch's stored list. */
  unitOfSerial(batchId: string, serial: string): { unit: number; treeIndex: number } | undefined {
    const id = storableId(batchId);
    if (id === undefined) return undefined;
    const r = this.s.unitOfSerial.get(id, serial) as Row | undefined;
    return r && { unit: num(r.unit), treeIndex: num(r.tree_index) };
  }

  /** Every stored serial of a batch with its leaf position, in unit order (audit). */
  serialsOf(batchId: string): Array<{ unit: number; serial: string; treeIndex: number }> {
    return (this.s.serialsOf.all(BigInt(batchId)) as Row[]).map((r) => ({ unit: num(r.unit), serial: String(r.serial), treeIndex: num(r.tree_index) }));
  }

  /** Chunk `chunk` of the batch's stored serial tree: NODES_PER_CHUNK nodes of 32 bytes (the last one may be shorter). */
  nodeChunk(batchId: string, chunk: number): Buffer {
    const blob = this.s.nodeChunk.get(BigInt(batchId), chunk) as Buffer | undefined;
    if (!blob) throw new Error(`serial tree of batch ${batchId} lacks node chunk ${chunk}`);
    return blob;
  }

  /**
   * A node of the batch's stored serial tree (32 bytes), reading one chunk row. `chunkOf` lets a
   * caller put its own (bounded) cache in front of the chunk reads.
   */
  nodeReader(batchId: string, chunkOf: (chunk: number) => Buffer = (c) => this.nodeChunk(batchId, c)): (node: number) => Uint8Array {
    const chunks = new Map<number, Buffer>();
    return (node: number) => {
      const c = Math.floor(node / NODES_PER_CHUNK);
      let blob = chunks.get(c);
      if (!blob) {
        blob = chunkOf(c);
        chunks.set(c, blob);
      }
      const off = (node % NODES_PER_CHUNK) * 32;
      return blob.subarray(off, off + 32);
    };
  }

  /** The whole stored node array of a batch (audit). */
  nodeArray(batchId: string): Buffer {
    const rows = this.s.nodeChunks.all(BigInt(batchId)) as Row[];
    return Buffer.concat(rows.map((r) => r.nodes as Buffer));
  }

  packingList(batchId: string): PackingListRow | undefined {
    const id = storableId(batchId);
    if (id === undefined) return undefined;
    const r = this.s.packingList.get(id) as Row | undefined;
    return r && { batchId: String(r.batch_id), root: String(r.root), cases: num(r.cases), pallets: num(r.pallets), uploadedBy: String(r.uploaded_by), uploadedAt: num(r.uploaded_at) };
  }

  /** The SSCC of case (kind 1) or pallet (kind 2) `index`, when its packing list was uploaded. */
  ssccOf(batchId: string, kind: number, index: number): string | undefined {
    const id = storableId(batchId);
    if (id === undefined) return undefined;
    return this.s.ssccOf.get(id, kind, index) as string | undefined;
  }

  containerOfSscc(sscc: string): { batchId: string; kind: number; index: number } | undefined {
    const r = this.s.containerOfSscc.get(sscc) as Row | undefined;
    return r && { batchId: String(r.batch_id), kind: num(r.kind), index: num(r.idx) };
  }

  ssccsOf(batchId: string): Array<{ sscc: string; kind: number; index: number }> {
    return (this.s.ssccsOf.all(BigInt(batchId)) as Row[]).map((r) => ({ sscc: String(r.sscc), kind: num(r.kind), index: num(r.idx) }));
  }
}

/**
 * Writes a serial list in transactions of a bounded size (the upload worker runs this on its own
 * connection, so the indexer's writes wait at most one slice), then makes it visible in one step.
 */
export function writeSerialList(db: Database.Database, l: SerialListRow, serials: readonly string[], leafNodes: Uint32Array, nodes: Uint8Array, slice = 20_000): void {
  const id = BigInt(l.batchId);
  const clear = db.transaction(() => {
    db.prepare("DELETE FROM serial_lists WHERE batch_id = ?").run(id);
    db.prepare("DELETE FROM serials WHERE batch_id = ?").run(id);
    db.prepare("DELETE FROM serial_nodes WHERE batch_id = ?").run(id);
  });
  clear();
  const insertSerial = db.prepare("INSERT INTO serials (batch_id, unit, serial, tree_index) VALUES (?, ?, ?, ?)");
  const insertChunk = db.prepare("INSERT INTO serial_nodes (batch_id, chunk, nodes) VALUES (?, ?, ?)");
  for (let from = 0; from < serials.length; from += slice) {
    db.transaction(() => {
      for (let u = from; u < Math.min(from + slice, serials.length); u++) insertSerial.run(id, u, serials[u], leafNodes[u]);
    })();
  }
  const chunkBytes = NODES_PER_CHUNK * 32;
  const chunks = Math.ceil(nodes.length / chunkBytes);
  for (let from = 0; from < chunks; from += slice) {
    db.transaction(() => {
      for (let c = from; c < Math.min(from + slice, chunks); c++) insertChunk.run(id, c, Buffer.from(nodes.buffer, nodes.byteOffset + c * chunkBytes, Math.min(chunkBytes, nodes.length - c * chunkBytes)));
    })();
  }
  db.prepare("INSERT INTO serial_lists (batch_id, root, count, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?)").run(id, l.root, l.count, l.uploadedBy, l.uploadedAt);
}

export function writePackingList(db: Database.Database, l: PackingListRow, cases: readonly string[], pallets: readonly string[]): void {
  const id = BigInt(l.batchId);
  db.transaction(() => {
    db.prepare("DELETE FROM packing_lists WHERE batch_id = ?").run(id);
    db.prepare("DELETE FROM ssccs WHERE batch_id = ?").run(id);
    const insert = db.prepare("INSERT OR REPLACE INTO ssccs (sscc, batch_id, kind, idx) VALUES (?, ?, ?, ?)");
    cases.forEach((s, i) => insert.run(s, id, ITEM_KIND.Case, i));
    pallets.forEach((s, i) => insert.run(s, id, ITEM_KIND.Pallet, i));
    db.prepare("INSERT INTO packing_lists (batch_id, root, cases, pallets, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?)").run(id, l.root, l.cases, l.pallets, l.uploadedBy, l.uploadedAt);
  })();
}

/** Units an item list covers in a layout. */
export function unitsOfItems(layout: Layout, items: readonly ItemArg[]): number {
  return items.reduce((n, i) => n + itemUnits(layout, i), 0);
}

export { ZERO_HASH };
