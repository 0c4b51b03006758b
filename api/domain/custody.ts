import { compareEvents, type LedgerEvent } from "./ledger-events";

/**
 * Rebuilds a batch's custody state from its events alone: who holds how many units, what is in
 * transit, what was dispensed or written off, and the status history. Pure: the demo, the
 * indexer and the integrity audit all use it, so they cannot disagree on what the events mean.
 */
export type BatchStatusName = "Active" | "Quarantined" | "Recalled";

export interface PendingShipment {
  shipmentId: string;
  sender: string;
  receiver: string;
  quantity: bigint;
  isReturn: boolean;
  referenceHash: string;
}

export interface CustodyState {
  batchId: string;
  minted: bigint;
  producer?: string;
  status: BatchStatusName;
  /** Balances by holder address; zero balances are removed. */
  holders: Map<string, bigint>;
  pending: Map<string, PendingShipment>;
  dispensed: bigint;
  dispensedUnits: Set<string>;
  destroyed: bigint;
  stolen: bigint;
  /** Events that do not fit the state (e.g. a shipment accepted twice): empty for a sound ledger. */
  anomalies: string[];
}

export function emptyCustody(batchId: string): CustodyState {
  return {
    batchId,
    minted: 0n,
    status: "Active",
    holders: new Map(),
    pending: new Map(),
    dispensed: 0n,
    dispensedUnits: new Set(),
    destroyed: 0n,
    stolen: 0n,
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

/** Applies one event to the state (in place) and returns it. */
export function applyEvent(s: CustodyState, e: LedgerEvent): CustodyState {
  const a = e.args;
  const qty = () => BigInt(String(a.quantity));
  switch (e.name) {
    case "BatchMinted":
      s.minted += qty();
      s.producer = String(a.producer);
      credit(s, String(a.producer), qty());
      break;
    case "ShipmentCreated": {
      const id = String(a.shipmentId);
      debit(s, String(a.sender), qty(), e);
      s.pending.set(id, {
        shipmentId: id,
        sender: String(a.sender),
        receiver: String(a.receiver),
        quantity: qty(),
        isReturn: Boolean(a.isReturn),
        referenceHash: String(a.referenceHash),
      });
      break;
    }
    case "ShipmentAccepted":
    case "ShipmentRejected":
    case "ShipmentCancelled": {
      const id = String(a.shipmentId);
      const p = s.pending.get(id);
      if (!p) {
        s.anomalies.push(`${e.name} at ${e.txHash}#${e.logIndex}: shipment ${id} is not pending`);
        break;
      }
      s.pending.delete(id);
      credit(s, e.name === "ShipmentAccepted" ? p.receiver : p.sender, p.quantity);
      break;
    }
    case "BatchQuarantined":
      s.status = "Quarantined";
      break;
    case "BatchQuarantineLifted":
      s.status = "Active";
      break;
    case "BatchRecalled":
      s.status = "Recalled";
      break;
    case "UnitDispensed": {
      const unit = String(a.unitIndex);
      if (s.dispensedUnits.has(unit)) s.anomalies.push(`unit ${unit} dispensed twice (${e.txHash}#${e.logIndex})`);
      s.dispensedUnits.add(unit);
      s.dispensed += 1n;
      debit(s, String(a.pharmacy), 1n, e);
      break;
    }
    case "UnitsWrittenOff":
      if (Number(a.reason) === 1) s.stolen += qty();
      else s.destroyed += qty();
      debit(s, String(a.holder), qty(), e);
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

/** The conservation law every batch obeys: minted = held + in transit + dispensed + written off. */
export function isConserved(s: CustodyState): boolean {
  return s.minted === held(s) + inTransit(s) + s.dispensed + s.destroyed + s.stolen;
}

/** One line per event, for people: what happened, to how many units, between whom. */
export function describeEvent(e: LedgerEvent, nameOf: (address: string) => string = (x) => x): string {
  const a = e.args;
  const who = (k: string) => nameOf(String(a[k]));
  switch (e.name) {
    case "BatchMinted":
      return `minted ${a.quantity} units, lot ${a.lot}, by ${who("producer")}`;
    case "ShipmentCreated":
      return `${who("sender")} shipped ${a.quantity} to ${who("receiver")} (shipment ${a.shipmentId}${a.isReturn ? ", return" : ""})`;
    case "ShipmentAccepted":
      return `${who("receiver")} accepted shipment ${a.shipmentId} (${a.quantity} units) from ${who("sender")}`;
    case "ShipmentRejected":
      return `${who("receiver")} rejected shipment ${a.shipmentId} (${a.quantity} units, reason ${a.reason}); units back to ${who("sender")}`;
    case "ShipmentCancelled":
      return `${who("sender")} cancelled shipment ${a.shipmentId} (${a.quantity} units) to ${who("receiver")}`;
    case "BatchQuarantined":
      return `quarantined by ${who("regulator")}`;
    case "BatchQuarantineLifted":
      return `quarantine lifted by ${who("regulator")}`;
    case "BatchRecalled":
      return `RECALLED by ${who("regulator")}`;
    case "UnitDispensed":
      return `${who("pharmacy")} dispensed unit #${a.unitIndex}`;
    case "UnitsWrittenOff":
      return `${who("holder")} wrote off ${a.quantity} units (${Number(a.reason) === 1 ? "stolen" : "destroyed"})`;
  }
}
