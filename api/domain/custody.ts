import { compareEvents, itemsOf, type LedgerEvent } from "./ledger-events";
import { ITEM_KIND, itemUnits, unitRange, type Item, type Layout } from "./packing";
import { PACK_STATE_NAMES, PackBook, PackLedgerAnomaly, type PackStateName } from "./pack-ledger";

/**
 * Rebuilds a batch's custody state from its events alone: who holds how many units and which
 * packs, what is in transit, what was dispensed or taken out of circulation, and the status
 * history. Pure: the demo, the tasks, the indexer's audit and the tests all use it, so they cannot
 * disagree on what the events mean.
 */
export type BatchStatusName = "Active" | "Quarantined" | "Recalled";
export type ShipmentKindName = "Forward" | "Return";
export const SHIPMENT_KINDS: readonly ShipmentKindName[] = ["Forward", "Return"];

export interface PendingShipment {
  shipmentId: string;
  sender: string;
  receiver: string;
  quantity: bigint;
  kind: ShipmentKindName;
  referenceHash: string;
  items: Item[];
}

/** Packs out of circulation by the state that took them out (decommissioning and governance recovery). */
export type DecommissionedCounts = Record<"Destroyed" | "Stolen" | "Sample" | "FreeSample" | "Exported", bigint>;

export interface CustodyState {
  batchId: string;
  minted: bigint;
  producer?: string;
  status: BatchStatusName;
  /** Jurisdictions holding a quarantine on the batch. */
  quarantines: Set<string>;
  markets: string[];
  /** The pack ledger of a serialised batch (undefined for a batch without serials). */
  packs?: PackBook;
  /** Balances by holder address; zero balances are removed. */
  holders: Map<string, bigint>;
  pending: Map<string, PendingShipment>;
  dispensed: bigint;
  dispensedUnits: Set<string>;
  decommissioned: DecommissionedCounts;
  /** Quantity write-offs of batches without serials. */
  destroyed: bigint;
  stolen: bigint;
  safetyNotices: number;
  /** Events that do not fit the state (e.g. a shipment accepted twice): empty for a sound ledger. */
  anomalies: string[];
}

export function emptyCustody(batchId: string): CustodyState {
  return {
    batchId,
    minted: 0n,
    status: "Active",
    quarantines: new Set(),
    markets: [],
    holders: new Map(),
    pending: new Map(),
    dispensed: 0n,
    dispensedUnits: new Set(),
    decommissioned: { Destroyed: 0n, Stolen: 0n, Sample: 0n, FreeSample: 0n, Exported: 0n },
    destroyed: 0n,
    stolen: 0n,
    safetyNotices: 0,
    anomalies: [],
  };
}

function credit(s: CustodyState, who: string, qty: bigint) {
  s.holders.set(who, (s.holders.get(who) ?? 0n) + qty);
}

function debit(s: CustodyState, who: string, qty: bigint, e: LedgerEvent) {
  const left = (s.holders.get(who) ?? 0n) - qty;
  if (left < 0n) s.anomalies.push(`${e.name} at ${e.txHash}#${e.logIndex}: ${who} goes below zero (${left})`);
  if (left === 0n) s.holders.delete(who);
  else s.holders.set(who, left);
}

const dayOf = (e: LedgerEvent) => Math.floor(e.blockTime / 86_400);
const stateName = (v: unknown): PackStateName => PACK_STATE_NAMES[Number(v)] ?? "None";

/** Runs a pack-ledger change, turning an inconsistency into an anomaly of the batch. */
function onPacks(s: CustodyState, e: LedgerEvent, change: (book: PackBook) => void): void {
  if (!s.packs) {
    if (itemsOf(e).length > 0 || e.name === "UnitDispensed" || e.name === "ContainerUnpacked") s.anomalies.push(`${e.name} at ${e.txHash}#${e.logIndex}: batch ${s.batchId} has no serials`);
    return;
  }
  try {
    change(s.packs);
  } catch (err) {
    if (!(err instanceof PackLedgerAnomaly)) throw err;
    s.anomalies.push(`${e.name} at ${e.txHash}#${e.logIndex}: ${err.message}`);
  }
}

/** Applies one event of the batch to the state (in place) and returns it. */
export function applyEvent(s: CustodyState, e: LedgerEvent): CustodyState {
  const a = e.args;
  const qty = () => BigInt(String(a.quantity));
  const items = itemsOf(e);
  switch (e.name) {
    case "BatchMinted": {
      s.minted += qty();
      s.producer = String(a.producer);
      credit(s, s.producer, qty());
      const units = Number(a.serialCount);
      if (units > 0) s.packs = new PackBook({ units, unitsPerCase: 0, casesPerPallet: 0 }, s.producer);
      break;
    }
    case "BatchMarkets":
      s.markets = a.markets as string[];
      break;
    case "BatchPacked":
      if (s.packs) {
        const layout: Layout = { units: s.packs.layout.units, unitsPerCase: Number(a.unitsPerCase), casesPerPallet: Number(a.casesPerPallet) };
        s.packs = new PackBook(layout, s.packs.producer);
      }
      break;
    case "ShipmentCreated": {
      const id = String(a.shipmentId);
      const sender = String(a.sender);
      debit(s, sender, qty(), e);
      s.pending.set(id, {
        shipmentId: id,
        sender,
        receiver: String(a.receiver),
        quantity: qty(),
        kind: SHIPMENT_KINDS[Number(a.kind)] ?? "Forward",
        referenceHash: String(a.referenceHash),
        items,
      });
      if (items.length > 0) onPacks(s, e, (b) => b.take(sender, items, "InTransit", dayOf(e)));
      break;
    }
    case "ShipmentAccepted":
    case "ShipmentRejected":
    case "ShipmentCancelled":
    case "ShipmentRecovered": {
      const id = String(a.shipmentId);
      const p = s.pending.get(id);
      if (!p) {
        s.anomalies.push(`${e.name} at ${e.txHash}#${e.logIndex}: shipment ${id} is not pending`);
        break;
      }
      s.pending.delete(id);
      const to = e.name === "ShipmentAccepted" ? p.receiver : e.name === "ShipmentRecovered" ? String(a.to) : p.sender;
      credit(s, to, p.quantity);
      if (p.items.length > 0) onPacks(s, e, (b) => b.place(to, p.items));
      break;
    }
    case "ContainerUnpacked":
      onPacks(s, e, (b) => b.open(String(a.holder), Number(a.kind), Number(a.index)));
      break;
    case "UnitDispensed": {
      const unit = String(a.unitIndex);
      if (s.dispensedUnits.has(unit)) s.anomalies.push(`unit ${unit} dispensed twice (${e.txHash}#${e.logIndex})`);
      s.dispensedUnits.add(unit);
      s.dispensed += 1n;
      debit(s, String(a.pharmacy), 1n, e);
      onPacks(s, e, (b) => b.dispense(String(a.pharmacy), Number(a.unitIndex), dayOf(e)));
      break;
    }
    case "DispenseUndone": {
      s.dispensedUnits.delete(String(a.unitIndex));
      s.dispensed -= 1n;
      credit(s, String(a.pharmacy), 1n);
      onPacks(s, e, (b) => b.release(String(a.pharmacy), [{ kind: ITEM_KIND.Units, start: Number(a.unitIndex), count: 1 }], ["Dispensed"]));
      break;
    }
    case "PacksDecommissioned": {
      const state = stateName(a.state) as keyof DecommissionedCounts;
      debit(s, String(a.holder), qty(), e);
      if (state in s.decommissioned) s.decommissioned[state] += qty();
      onPacks(s, e, (b) => b.take(String(a.holder), items, state, dayOf(e)));
      break;
    }
    case "DecommissionReverted": {
      credit(s, String(a.holder), qty());
      onPacks(s, e, (b) => {
        // The counts follow each item's state before it comes back.
        for (const item of items) {
          for (let k = item.start; k < item.start + item.count; k++) {
            const state = b.ownRecord(item.kind, k)?.state as keyof DecommissionedCounts | undefined;
            if (state && state in s.decommissioned) s.decommissioned[state] -= BigInt(itemUnits(b.layout, { kind: item.kind, start: k, count: 1 }));
          }
        }
        b.release(String(a.holder), items, ["Sample", "FreeSample", "Exported"]);
      });
      break;
    }
    case "PacksLocked":
      onPacks(s, e, (b) => b.take(String(a.holder), items, "Locked", dayOf(e)));
      break;
    case "PacksUnlocked":
      onPacks(s, e, (b) => b.release(String(a.holder), items, ["Locked"]));
      break;
    case "UnitsWrittenOff":
      if (Number(a.reason) === 1) s.stolen += qty();
      else s.destroyed += qty();
      debit(s, String(a.holder), qty(), e);
      break;
    case "CustodyRecovered": {
      const from = String(a.from);
      const to = String(a.to);
      const out = /^0x0{40}$/.test(to);
      const state = out ? (stateName(a.state) as keyof DecommissionedCounts) : undefined;
      debit(s, from, qty(), e);
      if (out) {
        if (state && state in s.decommissioned) s.decommissioned[state] += qty();
      } else {
        credit(s, to, qty());
      }
      if (items.length > 0) {
        onPacks(s, e, (b) => {
          b.take(from, items, out ? state! : "InTransit", dayOf(e), true);
          if (!out) b.place(to, items);
        });
      }
      break;
    }
    case "BatchQuarantined":
      s.quarantines.add(String(a.jurisdiction));
      if (s.status !== "Recalled") s.status = "Quarantined";
      break;
    case "BatchQuarantineLifted":
      s.quarantines.delete(String(a.jurisdiction));
      if (s.status === "Quarantined" && s.quarantines.size === 0) s.status = "Active";
      break;
    case "BatchRecalled":
      s.status = "Recalled";
      break;
    case "RecallUndone":
      s.status = s.quarantines.size > 0 ? "Quarantined" : "Active";
      break;
    case "SafetyNoticeIssued":
      s.safetyNotices += 1;
      break;
    default:
      // Register events (products, pause) carry no batch.
      break;
  }
  return s;
}

/** Replays a batch's events (any order; sorted by chain position first). */
export function replayBatch(batchId: string, events: readonly LedgerEvent[]): CustodyState {
  const state = emptyCustody(batchId);
  for (const e of [...events].filter((x) => x.batchId === batchId).sort(compareEvents)) applyEvent(state, e);
  return state;
}

/** Units in transit: the sum of pending shipments. */
export function inTransit(s: CustodyState): bigint {
  let total = 0n;
  for (const p of s.pending.values()) total += p.quantity;
  return total;
}

/** Units held by members. */
export function held(s: CustodyState): bigint {
  let total = 0n;
  for (const q of s.holders.values()) total += q;
  return total;
}

/** Units taken out of circulation: dispensed, decommissioned, written off. */
export function outOfCirculation(s: CustodyState): bigint {
  return s.dispensed + Object.values(s.decommissioned).reduce((a, b) => a + b, 0n) + s.destroyed + s.stolen;
}

/**
 * The conservation law every batch obeys: minted = held + in transit + out of circulation; and,
 * for a serialised batch, each member's packs add up to its balance.
 */
export function isConserved(s: CustodyState): boolean {
  if (s.minted !== held(s) + inTransit(s) + outOfCirculation(s)) return false;
  if (!s.packs) return true;
  const packs = s.packs.holdings();
  for (const [who, qty] of s.holders) if (BigInt(packs.get(who) ?? 0) !== qty) return false;
  for (const [who, n] of packs) if (BigInt(n) !== (s.holders.get(who) ?? 0n)) return false;
  return true;
}

const KINDS = ["pack", "case", "pallet"];

/** Items for people: "case 5", "packs 10–19", "pallet 2, case 31". */
export function describeItems(items: readonly Item[]): string {
  return items
    .map((i) => (i.count === 1 ? `${KINDS[i.kind]} ${i.start}` : `${KINDS[i.kind]}s ${i.start}–${i.start + i.count - 1}`))
    .join(", ");
}

/** One line per event, for people: what happened, to how many units, between whom. */
export function describeEvent(e: LedgerEvent, nameOf: (address: string) => string = (x) => x): string {
  const a = e.args;
  const who = (k: string) => nameOf(String(a[k]));
  const what = () => {
    const items = itemsOf(e);
    return items.length > 0 ? ` (${describeItems(items)})` : "";
  };
  switch (e.name) {
    case "BatchMinted":
      return `minted ${a.quantity} units, lot ${a.lot}, by ${who("producer")}`;
    case "BatchMarkets":
      return `marketed in ${(a.markets as string[]).join(", ")}`;
    case "BatchPacked":
      return `packed in cases of ${a.unitsPerCase}${Number(a.casesPerPallet) > 0 ? `, pallets of ${a.casesPerPallet} cases` : ""}`;
    case "ShipmentCreated":
      return `${who("sender")} shipped ${a.quantity}${what()} to ${who("receiver")} (shipment ${a.shipmentId}${Number(a.kind) === 1 ? ", return" : ""})`;
    case "ShipmentAccepted":
      return `${who("receiver")} accepted shipment ${a.shipmentId} (${a.quantity} units) from ${who("sender")}`;
    case "ShipmentRejected":
      return `${who("receiver")} rejected shipment ${a.shipmentId} (${a.quantity} units, reason ${a.reason}); units back to ${who("sender")}`;
    case "ShipmentCancelled":
      return `${who("sender")} cancelled shipment ${a.shipmentId} (${a.quantity} units) to ${who("receiver")}`;
    case "ShipmentRecovered":
      return `governance closed shipment ${a.shipmentId}: units to ${who("to")}`;
    case "ContainerUnpacked":
      return `${who("holder")} opened ${KINDS[Number(a.kind)]} ${a.index}`;
    case "UnitDispensed":
      return `${who("pharmacy")} dispensed pack #${a.unitIndex}`;
    case "DispenseUndone":
      return `${who("pharmacy")} undid the dispense of pack #${a.unitIndex}`;
    case "PacksDecommissioned":
      return `${who("holder")} took ${a.quantity} packs out of circulation as ${stateName(a.state)}${what()}`;
    case "DecommissionReverted":
      return `${who("holder")} put ${a.quantity} packs back into circulation${what()}`;
    case "PacksLocked":
      return `${who("holder")} locked${what()} for investigation`;
    case "PacksUnlocked":
      return `${who("by")} unlocked${what()} of ${who("holder")}`;
    case "UnitsWrittenOff":
      return `${who("holder")} wrote off ${a.quantity} units (${Number(a.reason) === 1 ? "stolen" : "destroyed"})`;
    case "BatchQuarantined":
      return `quarantined by ${who("regulator")} (${a.jurisdiction})`;
    case "BatchQuarantineLifted":
      return `quarantine of ${a.jurisdiction} lifted by ${who("regulator")}`;
    case "BatchRecalled":
      return `RECALLED by ${who("by")}`;
    case "RecallUndone":
      return `recall undone by governance`;
    case "SafetyNoticeIssued":
      return `safety notice by ${who("regulator")} (${a.jurisdiction})`;
    case "CustodyRecovered":
      return /^0x0{40}$/.test(String(a.to))
        ? `governance took ${a.quantity} units of ${who("from")} out of circulation as ${stateName(a.state)}${what()}`
        : `governance moved ${a.quantity} units${what()} from ${who("from")} to ${who("to")}`;
    case "ProductRegistered":
      return `product ${a.gtin} registered by ${who("owner")}`;
    case "ProductUpdated":
      return `product ${a.gtin} updated by ${who("owner")}`;
    case "ProductStatusChanged":
      return `product ${a.gtin} ${Number(a.status) === 2 ? "withdrawn" : "reinstated"} by ${who("owner")}`;
    case "PrefixLicenceChanged":
      return `${who("owner")} ${a.granted ? "licensed" : "revoked the licence of"} ${who("licensee")} for prefix ${a.prefixKey}`;
    case "CustodyPaused":
      return a.paused ? "custody paused by governance" : "custody resumed by governance";
    case "UndoWindowChanged":
      return `undo window set to ${a.newDays} days`;
  }
}

const BATCH_WIDE: readonly string[] = ["BatchMinted", "BatchMarkets", "BatchPacked", "BatchQuarantined", "BatchQuarantineLifted", "BatchRecalled", "RecallUndone", "SafetyNoticeIssued"];

/**
 * The events of a batch that concern pack `unit`: the batch-wide ones (mint, status), and every
 * move or state change of the pack, of its case or of its pallet — a shipment's acceptance,
 * rejection or cancellation through the items its creation named. In chain order.
 */
export function packEvents(events: readonly LedgerEvent[], layout: Layout, unit: number): LedgerEvent[] {
  const covers = (items: readonly Item[]) =>
    items.some((i) => {
      const [first] = unitRange(layout, i.kind, i.start);
      const [, end] = unitRange(layout, i.kind, i.start + i.count - 1);
      return unit >= first && unit < end;
    });
  const created = new Map<string, LedgerEvent>();
  for (const e of events) if (e.name === "ShipmentCreated") created.set(String(e.args.shipmentId), e);
  return [...events].sort(compareEvents).filter((e) => {
    if (BATCH_WIDE.includes(e.name)) return true;
    if (e.name === "UnitDispensed" || e.name === "DispenseUndone") return Number(e.args.unitIndex) === unit;
    if (e.name === "ContainerUnpacked") return covers([{ kind: Number(e.args.kind), start: Number(e.args.index), count: 1 }]);
    const items = itemsOf(e);
    if (items.length > 0) return covers(items);
    if (["ShipmentAccepted", "ShipmentRejected", "ShipmentCancelled", "ShipmentRecovered"].includes(e.name)) {
      const c = created.get(String(e.args.shipmentId));
      return c !== undefined && covers(itemsOf(c));
    }
    return false;
  });
}
