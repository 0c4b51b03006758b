import { PackBook, type RecordMap } from "../../../api/domain/pack-ledger";
import { caseCount, palletCount, type Layout } from "../../../api/domain/packing";
import type { BatchState, IdMapping, LedgerSnapshot, PackRun } from "./types";

/**
 * What "the new ledger equals the old one" means, checked field by field on two snapshots and the
 * id mapping the migration wrote. Compared: the consortium (governors, threshold, charter,
 * proposal lifetime), every member (index, role, status and who suspended it, GLN, jurisdiction,
 * licence, key, prefixes), products, licences, pause and undo window, and every batch (attributes,
 * roots, layout, markets, status with who quarantined or recalled it, safety notices, balances,
 * pending shipments, write-offs) down to each pallet, case and pack: its state, the member that
 * holds, sent, opened or set it, and for final, revertible and locked states whether governance
 * set it and with which hash. Not compared: dates (block times, the day a state was set), batch
 * and shipment ids (mapped), and how the items got where they are (history stays on the old chain).
 */

export interface LedgerDifference {
  /** What differs: "member 0xabc…", "batch 09506000134352/LOT-1 (old #1, new #3) pack 17", … */
  where: string;
  field: string;
  old: string;
  new: string;
}

export function describeDifference(d: LedgerDifference): string {
  return `${d.where}: ${d.field} is ${d.old} in the old ledger, ${d.new} in the new`;
}

export interface CompareOptions {
  /** Batches the plan skipped (listed in the mapping with the reason) are not differences. */
  acceptSkipped?: boolean;
}

const show = (v: unknown): string => (v === undefined ? "(none)" : typeof v === "string" ? v : JSON.stringify(v));

class Differences {
  readonly list: LedgerDifference[] = [];
  add(where: string, field: string, old: unknown, now: unknown): void {
    this.list.push({ where, field, old: show(old), new: show(now) });
  }
  /** Adds a difference when the two values' JSON differs. */
  field(where: string, field: string, old: unknown, now: unknown): void {
    if (JSON.stringify(old) !== JSON.stringify(now)) this.add(where, field, old, now);
  }
}

const sorted = (xs: readonly string[]) => [...xs].sort();

function byKey<T>(xs: readonly T[], key: (x: T) => string): Map<string, T> {
  return new Map(xs.map((x) => [key(x), x]));
}

/** Both sides of two keyed lists: pairs, and what only one side has. */
function pair<T>(old: Map<string, T>, now: Map<string, T>, each: (key: string, o: T | undefined, n: T | undefined) => void): void {
  for (const k of new Set([...old.keys(), ...now.keys()])) each(k, old.get(k), now.get(k));
}

function bookOf(b: BatchState): PackBook | undefined {
  if (!b.packs) return undefined;
  const book = new PackBook({ units: b.serialCount, unitsPerCase: b.unitsPerCase, casesPerPallet: b.casesPerPallet }, b.producer);
  const fill = (map: RecordMap, runs: PackRun[]) => {
    for (const r of runs) for (let k = r.start; k < r.start + r.count; k++) map.set(k, { state: r.state, holder: r.holder, day: 0 });
  };
  fill(book.pallets, b.packs.pallets);
  fill(book.cases, b.packs.cases);
  fill(book.detached, b.packs.units);
  return book;
}

/** A record as people read it: "Held by 0x…", "InTransit from 0x…", "opened by 0x…", "Dispensed by 0x…". */
function showRecord(r: { state: string; holder: string }): string {
  if (r.state === "InTransit") return `InTransit from ${r.holder}`;
  if (r.state === "Unpacked") return `opened by ${r.holder}`;
  return `${r.state} by ${r.holder}`;
}

/** Who set what for records of their own in a final, revertible or locked state, by "kind:index". */
function setters(b: BatchState): Map<string, { via: string; hash: string }> {
  const out = new Map<string, { via: string; hash: string }>();
  if (!b.packs) return out;
  const add = (kind: string, runs: PackRun[]) => {
    for (const r of runs) {
      if (r.via === undefined && r.hash === undefined && !["Dispensed", "Destroyed", "Stolen", "Sample", "FreeSample", "Exported", "Locked"].includes(r.state)) continue;
      for (let k = r.start; k < r.start + r.count; k++) out.set(`${kind} ${k}`, { via: r.via ?? "member", hash: r.hash ?? "(none)" });
    }
  };
  add("pallet", b.packs.pallets);
  add("case", b.packs.cases);
  add("pack", b.packs.units);
  return out;
}

function comparePacks(d: Differences, where: string, old: BatchState, now: BatchState): void {
  const a = bookOf(old);
  const b = bookOf(now);
  if (!a || !b) {
    if (a || b) d.add(where, "serialised", Boolean(a), Boolean(b));
    return;
  }
  const layout: Layout = a.layout;
  const same = (x: { state: string; holder: string }, y: { state: string; holder: string }) => x.state === y.state && x.holder === y.holder;
  for (let p = 0; p < palletCount(layout); p++) if (!same(a.pallet(p), b.pallet(p))) d.add(`${where} pallet ${p}`, "state", showRecord(a.pallet(p)), showRecord(b.pallet(p)));
  for (let c = 0; c < caseCount(layout); c++) if (!same(a.case(c), b.case(c))) d.add(`${where} case ${c}`, "state", showRecord(a.case(c)), showRecord(b.case(c)));
  for (let u = 0; u < layout.units; u++) if (!same(a.unit(u), b.unit(u))) d.add(`${where} pack ${u}`, "state", showRecord(a.unit(u)), showRecord(b.unit(u)));
  const sa = setters(old);
  const sb = setters(now);
  pair(sa, sb, (node, x, y) => {
    // A state difference is reported above; here only who set an equal state, and with which hash.
    if (x && y && (x.via !== y.via || x.hash !== y.hash)) d.add(`${where} ${node}`, "set by", `${x.via} (hash ${x.hash})`, `${y.via} (hash ${y.hash})`);
  });
}

function compareBatch(d: Differences, old: BatchState, now: BatchState, mapping: IdMapping): void {
  const where = `batch ${old.gtin}/${old.lot} (old #${old.batchId}, new #${now.batchId})`;
  for (const f of ["gtin", "lot", "producer", "expiryDay", "quantity", "serialsRoot", "serialCount", "documentHash", "unitsPerCase", "casesPerPallet", "packingRoot", "markets", "status", "quarantines", "recall", "notices", "holders", "writtenOff", "recoveredOut"] as const) {
    d.field(where, f, old[f], now[f]);
  }
  const newPending = byKey(now.pending, (p) => p.shipmentId);
  const matched = new Set<string>();
  for (const p of old.pending) {
    const id = mapping.shipments[p.shipmentId];
    const q = id === undefined ? undefined : newPending.get(id);
    const w = `${where} pending shipment old #${p.shipmentId}`;
    if (!q) {
      d.add(w, "pending", `${p.quantity} units from ${p.sender} to ${p.receiver}`, id === undefined ? "not mapped to a new shipment" : `new #${id} is not pending`);
      continue;
    }
    matched.add(q.shipmentId);
    for (const f of ["sender", "receiver", "quantity", "kind", "referenceHash", "items"] as const) d.field(`${w} (new #${q.shipmentId})`, f, p[f], q[f]);
  }
  for (const q of now.pending) if (!matched.has(q.shipmentId)) d.add(`${where} pending shipment new #${q.shipmentId}`, "pending", "(none)", `${q.quantity} units from ${q.sender} to ${q.receiver}`);
  comparePacks(d, where, old, now);
}

/** Every difference between the old ledger and the new one (empty: equal). */
export function compareLedgers(old: LedgerSnapshot, now: LedgerSnapshot, mapping: IdMapping, opts: CompareOptions = {}): LedgerDifference[] {
  const d = new Differences();
  if (mapping.snapshotHash && mapping.snapshotHash !== old.hash) d.add("mapping", "snapshot hash", old.hash, mapping.snapshotHash);
  for (const a of old.anomalies) d.add("old ledger", "anomaly", a, "(not compared)");
  for (const a of now.anomalies) d.add("new ledger", "anomaly", "(not compared)", a);

  d.field("consortium", "governors", sorted(old.consortium.governors), sorted(now.consortium.governors));
  for (const f of ["threshold", "charterHash", "proposalLifetime"] as const) d.field("consortium", f, old.consortium[f], now.consortium[f]);
  for (const f of ["paused", "pauseReason", "undoWindowDays"] as const) d.field("batch token", f, old.token[f], now.token[f]);

  pair(byKey(old.members, (m) => m.account), byKey(now.members, (m) => m.account), (account, o, n) => {
    const where = `member ${account}`;
    if (!o || !n) return d.add(where, "membership", o ? `${o.role} ${o.status}` : "(none)", n ? `${n.role} ${n.status}` : "(none)");
    for (const f of ["index", "role", "status", "gln", "jurisdiction", "licenceHash", "licenceExpiry", "key", "suspension", "revocation"] as const) d.field(where, f, o[f], n[f]);
    d.field(where, "prefixes", sorted(o.prefixes), sorted(n.prefixes));
  });

  pair(byKey(old.products, (p) => p.gtin), byKey(now.products, (p) => p.gtin), (gtin, o, n) => {
    const where = `product ${gtin}`;
    if (!o || !n) return d.add(where, "registration", o ? `owned by ${o.owner}` : "(none)", n ? `owned by ${n.owner}` : "(none)");
    for (const f of ["owner", "status", "prefixKey", "markets", "masterDataHash", "statusReason"] as const) d.field(where, f, o[f], n[f]);
  });

  const licenceKey = (l: { prefix: string; owner: string; licensee: string }) => `prefix ${l.prefix} of ${l.owner} to ${l.licensee}`;
  pair(byKey(old.licences, licenceKey), byKey(now.licences, licenceKey), (key, o, n) => {
    if (!o || !n) d.add(`licence ${key}`, "granted", Boolean(o), Boolean(n));
  });

  const newBatches = byKey(now.batches, (b) => b.batchId);
  const mappedTo = new Set<string>();
  const skipped = new Map(mapping.skipped.map((s) => [s.batchId, s]));
  for (const b of old.batches) {
    const where = `batch ${b.gtin}/${b.lot} (old #${b.batchId})`;
    const skip = skipped.get(b.batchId);
    if (skip) {
      if (!opts.acceptSkipped) d.add(where, "migrated", "yes", `no: ${skip.reason}`);
      continue;
    }
    const id = mapping.batches[b.batchId];
    const n = id === undefined ? undefined : newBatches.get(id);
    if (!n) {
      d.add(where, "migrated", "yes", id === undefined ? "not in the mapping" : `new #${id} does not exist`);
      continue;
    }
    mappedTo.add(n.batchId);
    compareBatch(d, b, n, mapping);
  }
  for (const n of now.batches) if (!mappedTo.has(n.batchId)) d.add(`batch ${n.gtin}/${n.lot} (new #${n.batchId})`, "exists", "no", "yes: no old batch maps to it");
  return d.list;
}
