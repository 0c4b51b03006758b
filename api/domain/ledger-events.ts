/**
 * The ledger's audit trail as plain data: one record per BatchToken event, decoded, with the
 * chain coordinates that prove it. Produced by `api/chain/logs.ts` from eth_getLogs; consumed by
 * the custody reducer, the EPCIS mapping, exports and the demo. No I/O here.
 */
export const LEDGER_EVENT_NAMES = [
  "BatchMinted",
  "ShipmentCreated",
  "ShipmentAccepted",
  "ShipmentRejected",
  "ShipmentCancelled",
  "BatchQuarantined",
  "BatchQuarantineLifted",
  "BatchRecalled",
  "UnitDispensed",
  "UnitsWrittenOff",
] as const;
export type LedgerEventName = (typeof LEDGER_EVENT_NAMES)[number];

export interface LedgerEvent {
  name: LedgerEventName;
  /** Decimal string. */
  batchId: string;
  /** Event arguments: addresses checksummed, integers as decimal strings, booleans, bytes32 as 0x hex. */
  args: Record<string, string | number | boolean>;
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
