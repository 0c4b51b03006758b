/**
 * The ledger's audit trail as plain data: one record per BatchToken event, decoded, with the
 * chain coordinates that prove it. Produced by `api/chain/logs.ts` from eth_getLogs; consumed by
 * the custody reducer, the EPCIS mapping, exports and the demo. No I/O here.
 */

/** Events of one batch (they carry its id, indexed). */
export const BATCH_EVENT_NAMES = [
  "BatchMinted",
  "BatchMarkets",
  "BatchPacked",
  "ShipmentCreated",
  "ShipmentAccepted",
  "ShipmentRejected",
  "ShipmentCancelled",
  "ContainerUnpacked",
  "UnitDispensed",
  "DispenseUndone",
  "PacksDecommissioned",
  "DecommissionReverted",
  "PacksLocked",
  "PacksUnlocked",
  "UnitsWrittenOff",
  "BatchQuarantined",
  "BatchQuarantineLifted",
  "BatchRecalled",
  "SafetyNoticeIssued",
  "RecallUndone",
  "CustodyRecovered",
  "ShipmentRecovered",
] as const;

/** Events of the product register and of governance over custody: they have no batch (batchId "0"). */
export const REGISTER_EVENT_NAMES = ["ProductRegistered", "ProductUpdated", "ProductStatusChanged", "PrefixLicenceChanged", "CustodyPaused", "UndoWindowChanged"] as const;

export const LEDGER_EVENT_NAMES = [...BATCH_EVENT_NAMES, ...REGISTER_EVENT_NAMES] as const;
export type LedgerEventName = (typeof LEDGER_EVENT_NAMES)[number];

/** An item as events carry it: `count` units, cases or pallets from `start` (kind 0, 1, 2). */
export interface ItemArg {
  kind: number;
  start: number;
  count: number;
}

/**
 * An event argument: addresses checksummed, integers as decimal strings, booleans, bytes32 as 0x
 * hex, ISO 3166-1 codes as two-letter strings, item lists as {@link ItemArg} arrays.
 */
export type LedgerArg = string | number | boolean | string[] | ItemArg[];

export interface LedgerEvent {
  name: LedgerEventName;
  /** Decimal string; "0" for register events. */
  batchId: string;
  args: Record<string, LedgerArg>;
  blockNumber: number;
  /** Unix seconds of the block. */
  blockTime: number;
  txHash: string;
  logIndex: number;
}

/** Orders events as the chain did. */
export function compareEvents(a: LedgerEvent, b: LedgerEvent): number {
  return a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
}

/** The items of an event (empty when it has none). */
export function itemsOf(e: LedgerEvent): ItemArg[] {
  const items = e.args.items;
  return Array.isArray(items) && (items.length === 0 || typeof items[0] === "object") ? (items as ItemArg[]) : [];
}
