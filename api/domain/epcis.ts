/**
 * Ledger events (decoded BatchToken logs, api/domain/ledger-events.ts) → EPCIS 2.0 JSON-LD
 * documents, plus a flat row form and RFC 4180 CSV for auditors. Pure: no I/O.
 *
 * Principles, and why:
 *  - One canonical content per ledger event. An event's EPCIS form depends only on that event and
 *    on static facts the context gives (batch attributes and layout, the facts of the shipment it
 *    belongs to, serials, SSCCs, the shipment's documents), never on which other events are in the
 *    input: a time-window export and a whole-history export give byte-identical events (same
 *    eventID). Where the caller's context lacks a member, it is derived from the input events
 *    ({@link contextFromEvents}) — a fallback that is only window-invariant when the input holds
 *    the facts (e.g. the ShipmentCreated of an accept).
 *  - The mapping lives in one table, {@link EPCIS_MAPPING}: ledger action → event type, action,
 *    bizStep, disposition and persistentDisposition, each deviation from STANDARDS.md's proposal
 *    with its `why`.
 *  - Instance-level identifiers (GS1 Digital Link): a pack whose serial the context knows is
 *    `https://id.gs1.org/01/{gtin}/21/{serial}`; a case or pallet whose SSCC is known is
 *    `https://id.gs1.org/00/{sscc}` (its content follows from the packing AggregationEvents); packs
 *    without a known serial are counted class-level, `quantityList: [{ epcClass: …/01/{gtin}/10/{lot},
 *    quantity }]`. A container whose SSCC is unknown is listed by its packs.
 *  - Aggregation: BatchPacked → one AggregationEvent ADD (packing) per case (parent = case SSCC,
 *    children = its packs) and per pallet (parent = pallet SSCC, children = its cases' SSCCs);
 *    ContainerUnpacked → AggregationEvent DELETE (unpacking) with the container's children.
 *  - Quarantine and recall are `persistentDisposition` (set/unset), not `disposition`: a persistent
 *    disposition survives the return shipments a recalled batch still makes, and lifting it does
 *    not re-assert anything for packs that were dispensed or destroyed meanwhile. A lift unsets
 *    `non_sellable_other` only when no other market still holds a quarantine (context member
 *    `openQuarantinesAfter`).
 *  - A rejected or cancelled shipment is an event at the SENDER (readPoint and bizLocation = the
 *    sender): the units visibly come back, so an EPCIS-only consumer ends with them at the sender.
 *  - Locations and parties as Digital Link GLNs: `…/414/{gln}` (readPoint, bizLocation) and
 *    `…/417/{gln}` (owning/possessing party). A member without a GLN gets no location/party entry;
 *    its address is always in the `ledger:` extension fields.
 *  - bizTransactionList: the documents the shipment's `referenceHash` commits to
 *    (biz-transactions.ts; context member `bizTransactionsOf`), or, when they are unknown,
 *    `urn:medtrace:ref:{hash}` with `ledger:documentsUnknown: true`. A zero hash is "none".
 *  - Extension namespace `ledger` → {@link DEFAULT_LEDGER_NAMESPACE}; every event carries the chain
 *    proof `ledger:txHash`, `ledger:logIndex`, `ledger:blockNumber`, and `ledger:event`.
 *  - eventTime is the block time (UTC, `+00:00`); events are sorted by (blockNumber, logIndex), the
 *    EPCIS events of one ledger event in the order the table gives.
 *  - eventID: the CBV 2.0 event hash computed by epcis-hash.ts exactly as GS1's reference
 *    generator does. It covers the `ledger:` fields, so it is unique per log and part.
 *  - Not EPCIS events: BatchMarkets (batch master data), and the register and governance events
 *    without a batch (ProductRegistered, ProductUpdated, ProductStatusChanged, PrefixLicenceChanged,
 *    CustodyPaused, UndoWindowChanged). They produce nothing here.
 */
import { eventHashId, eventPreHash, type JsonObject } from './epcis-hash';
import { bizTransactionsReferenceHash, toEpcisBizTransactionList, unresolvedReferenceUri, type BizTransaction } from './biz-transactions';
import { isGln, isGtin14, isoDate } from './gs1';
import { toDigitalLink } from './gs1-scan';
import { compareEvents, itemsOf, type ItemArg, type LedgerEvent, type LedgerEventName } from './ledger-events';
import { LOSS_REASONS, REJECT_REASONS } from './ledger-enums';
import { epcisVocabularyList, type MasterDataSource, type Vocabulary } from './master-data';
import { PACK_STATE_NAMES, type PackStateName } from './pack-ledger';
import { ITEM_KIND, caseCount, palletCount, unitRange, type Layout } from './packing';

export type { LedgerEvent, LedgerEventName } from './ledger-events';
export { REJECT_REASONS, LOSS_REASONS } from './ledger-enums';

// ─── Context ──────────────────────────────────────────────────────────────────────────────────

/** What EPCIS needs to know about a batch (static facts). */
export interface BatchInfo {
  /** GTIN-14 (a number is left-padded with zeros). */
  gtin: string | number | bigint;
  lot: string;
  /** Days since 1970-01-01 UTC (AI 17 resolved). */
  expiryDay: number;
  /** Producer's address. */
  producer: string;
  /** Serialised packs (0 or absent with `unitsPerCase` absent: unknown or not serialised). */
  serialCount?: number;
  /** Packs per case (0: no cases). Needed to list the packs of a container. */
  unitsPerCase?: number;
  /** Cases per pallet (0: no pallets). */
  casesPerPallet?: number;
  /** Unix seconds of the mint (the DSCSA file's commissioning time). */
  mintedAt?: number;
}

/** The facts of a shipment as ShipmentCreated recorded them. */
export interface ShipmentFacts {
  /** 0/"Forward" or 1/"Return". */
  kind: number | string;
  sender: string;
  receiver: string;
  items: ItemArg[];
  referenceHash: string;
  batchId?: string;
  quantity?: string;
  /** Unix seconds of the ShipmentCreated block. */
  shippedAt?: number;
}

export interface EpcisContext {
  /** Batch attributes by batch id. */
  batches: Record<string, BatchInfo> | ((batchId: string) => BatchInfo | undefined);
  /** A member's 13-digit GLN, or undefined when it has none. */
  glnOf(address: string): string | undefined;
  /** The serial of pack `unitIndex` (decimal string) of a batch, when known. */
  serialOf?(batchId: string, unitIndex: string): string | undefined;
  /** The SSCC of case (kind 1) or pallet (kind 2) `index` of a batch, when known. */
  ssccOf?(batchId: string, kind: number, index: number): string | undefined;
  /** The facts of ShipmentCreated for a shipment id (for its accept, reject, cancel, recovery). */
  shipmentOf?(shipmentId: string): ShipmentFacts | undefined;
  /** The business documents a reference hash commits to (biz-transactions.ts), when stored. */
  bizTransactionsOf?(referenceHash: string): readonly BizTransaction[] | undefined;
  /**
   * Jurisdictions still holding a quarantine on the batch right after the event at (blockNumber,
   * logIndex): decides whether a lift unsets `non_sellable_other`.
   */
  openQuarantinesAfter?(batchId: string, blockNumber: number, logIndex: number): readonly string[];
  /** Product and party master data for the document header (and the DSCSA file). */
  masterData?: MasterDataSource;
  /** Length of the GS1 Company Prefix of a GLN, GTIN-14 or SSCC (EPC URNs; the DSCSA file). */
  prefixLengthOf?(key: string): number | undefined;
}

export interface EpcisOptions {
  /** Document creation time (default: now). */
  creationDate?: Date | string;
  /** IRI of the `ledger:` extension prefix (default {@link DEFAULT_LEDGER_NAMESPACE}). */
  ledgerNamespace?: string;
}

// ─── The mapping ──────────────────────────────────────────────────────────────────────────────

export type LedgerAction =
  | 'commission'
  | 'pack'
  | 'unpack'
  | 'ship'
  | 'receive'
  | 'receiveReturn'
  | 'reject'
  | 'cancel'
  | 'recoverShipment'
  | 'quarantine'
  | 'liftQuarantine'
  | 'recall'
  | 'undoRecall'
  | 'safetyNotice'
  | 'dispense'
  | 'undoDispense'
  | 'destroy'
  | 'stolen'
  | 'sample'
  | 'freeSample'
  | 'exported'
  | 'revertDecommission'
  | 'lock'
  | 'unlock'
  | 'recoverCustody';

export type EpcisAction = 'ADD' | 'OBSERVE' | 'DELETE';
export type EpcisEventType = 'ObjectEvent' | 'AggregationEvent';

export interface EpcisMappingRow {
  ledgerEvent: LedgerEventName;
  /** The condition under which the ledger event maps to this row. */
  when?: string;
  eventType: EpcisEventType;
  action: EpcisAction;
  bizStep: string;
  disposition?: string;
  persistentDisposition?: { set?: string[]; unset?: string[] };
  /** Where the event is read: the party whose GLN is readPoint (and bizLocation when `at` says so). */
  at: string;
  why?: string;
}

/** Ledger action → EPCIS event. The one place the mapping lives. */
export const EPCIS_MAPPING: Readonly<Record<LedgerAction, Readonly<EpcisMappingRow>>> = Object.freeze({
  commission: { ledgerEvent: 'BatchMinted', eventType: 'ObjectEvent', action: 'ADD', bizStep: 'commissioning', disposition: 'active', at: 'producer (readPoint, bizLocation); ILMD lot and expiry' },
  pack: {
    ledgerEvent: 'BatchPacked',
    when: 'per case and per pallet whose SSCC is known',
    eventType: 'AggregationEvent',
    action: 'ADD',
    bizStep: 'packing',
    disposition: 'in_progress',
    at: 'producer',
    why: 'GS1 US Healthcare guideline practice for packing aggregation; the children keep being in circulation',
  },
  unpack: { ledgerEvent: 'ContainerUnpacked', when: 'SSCC known', eventType: 'AggregationEvent', action: 'DELETE', bizStep: 'unpacking', at: 'holder', why: 'no disposition: the packs keep theirs' },
  ship: { ledgerEvent: 'ShipmentCreated', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'shipping', disposition: 'in_transit', at: 'sender (readPoint only: the goods leave)' },
  receive: { ledgerEvent: 'ShipmentAccepted', when: 'Forward shipment', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'receiving', disposition: 'in_progress', at: 'receiver' },
  receiveReturn: {
    ledgerEvent: 'ShipmentAccepted',
    when: 'Return shipment',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'receiving',
    disposition: 'returned',
    at: 'receiver',
    why: "STANDARDS.md 'return upstream'; the kind comes from the shipment's creation facts (context shipmentOf)",
  },
  reject: {
    ledgerEvent: 'ShipmentRejected',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'receiving',
    disposition: 'returned',
    at: 'sender',
    why:
      "the units return to the sender's custody: the event is read at the sender, possessing party receiver → sender, " +
      "disposition 'returned' (CBV: sent back). STANDARDS.md proposed 'non_sellable_other' read at the receiver, which leaves " +
      'an EPCIS-only consumer with the units at the receiver and unsellable; the reject reason is in ledger:rejectReason',
  },
  cancel: {
    ledgerEvent: 'ShipmentCancelled',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'void_shipping',
    disposition: 'in_progress',
    at: 'sender',
    why: "CBV 'void_shipping' declares that objects of a prior shipping event were not shipped after all; read at the sender, they are back in its ordinary custody",
  },
  recoverShipment: {
    ledgerEvent: 'ShipmentRecovered',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'receiving',
    disposition: 'in_progress',
    at: "the member governance credited ('returned' when it is the sender)",
    why: 'governance closes a pending shipment; the units arrive where it says',
  },
  quarantine: {
    ledgerEvent: 'BatchQuarantined',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'holding',
    persistentDisposition: { set: ['non_sellable_other'] },
    at: 'nowhere (the regulator is not where the goods are); class level, the whole lot',
    why: 'persistent, not the current disposition: dispensed or in-transit packs keep theirs, and return shipments do not overwrite it',
  },
  liftQuarantine: {
    ledgerEvent: 'BatchQuarantineLifted',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'inspecting',
    persistentDisposition: { unset: ['non_sellable_other'] },
    at: 'nowhere; class level',
    why: "unsets the persistent disposition only (no 'active' for dispensed or destroyed packs); when another market still holds a quarantine nothing is unset",
  },
  recall: {
    ledgerEvent: 'BatchRecalled',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'holding',
    persistentDisposition: { set: ['recalled'] },
    at: 'nowhere; class level',
    why: 'persistent so that the return shipments a recalled batch still makes do not overwrite it',
  },
  undoRecall: { ledgerEvent: 'RecallUndone', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'inspecting', persistentDisposition: { unset: ['recalled'] }, at: 'nowhere; class level', why: 'governance corrects a recall made in error' },
  safetyNotice: { ledgerEvent: 'SafetyNoticeIssued', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'inspecting', at: 'nowhere; class level', why: 'a regulator’s observation; changes no disposition' },
  dispense: { ledgerEvent: 'UnitDispensed', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'dispensing', disposition: 'dispensed', at: 'pharmacy' },
  undoDispense: {
    ledgerEvent: 'DispenseUndone',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'inspecting',
    disposition: 'sellable_not_accessible',
    at: 'pharmacy',
    why: 'CBV has no undo step: the pharmacy checked the pack (inspecting) and it is back in its stock, sellable but not on open shelves (EU FMD: Active again)',
  },
  destroy: { ledgerEvent: 'PacksDecommissioned', when: 'state Destroyed (or UnitsWrittenOff reason Destroyed)', eventType: 'ObjectEvent', action: 'DELETE', bizStep: 'destroying', disposition: 'destroyed', at: 'holder (readPoint only)' },
  stolen: { ledgerEvent: 'PacksDecommissioned', when: 'state Stolen (or UnitsWrittenOff reason Stolen)', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'other', disposition: 'stolen', at: 'holder (readPoint only)' },
  sample: {
    ledgerEvent: 'PacksDecommissioned',
    when: 'state Sample',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'sampling',
    disposition: 'inactive',
    at: 'holder (readPoint only)',
    why: "CBV 2.0 'sampling'; EU FMD pack state Inactive (sample); revertible, so OBSERVE, not DELETE",
  },
  freeSample: {
    ledgerEvent: 'PacksDecommissioned',
    when: 'state FreeSample',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'decommissioning',
    disposition: 'inactive',
    at: 'holder (readPoint only)',
    why: 'EU FMD pack state Inactive (free sample); CBV has no step for it; ledger:packState names the state',
  },
  exported: {
    ledgerEvent: 'PacksDecommissioned',
    when: 'state Exported',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'decommissioning',
    disposition: 'inactive',
    at: 'holder (readPoint only)',
    why: 'EU FMD pack state Inactive (exported): the pack leaves the market the ledger serves; ledger:packState names the state',
  },
  revertDecommission: { ledgerEvent: 'DecommissionReverted', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'inspecting', disposition: 'sellable_not_accessible', at: 'holder', why: 'as undoDispense' },
  lock: { ledgerEvent: 'PacksLocked', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'holding', disposition: 'non_sellable_other', at: 'holder', why: "the holder's own investigation hold (EU FMD Locked)" },
  unlock: { ledgerEvent: 'PacksUnlocked', eventType: 'ObjectEvent', action: 'OBSERVE', bizStep: 'inspecting', disposition: 'sellable_not_accessible', at: 'holder', why: 'as undoDispense' },
  recoverCustody: {
    ledgerEvent: 'CustodyRecovered',
    when: 'to a member (into a final state: the destroy / stolen rows)',
    eventType: 'ObjectEvent',
    action: 'OBSERVE',
    bizStep: 'receiving',
    disposition: 'in_progress',
    at: 'the member governance moved the packs to',
    why: 'governance moves custody; the event says so with ledger:recovery',
  },
});

/** Ledger events that are not EPCIS events (see the file comment). */
export const NOT_EPCIS_EVENTS: ReadonlySet<LedgerEventName> = new Set<LedgerEventName>([
  'BatchMarkets',
  'ProductRegistered',
  'ProductUpdated',
  'ProductStatusChanged',
  'PrefixLicenceChanged',
  'CustodyPaused',
  'UndoWindowChanged',
]);

export const EPCIS_CONTEXT_URL = 'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld';
export const DEFAULT_LEDGER_NAMESPACE = 'https://example.org/medtrace/ledger#';
const CBVMDA_NAMESPACE = 'urn:epcglobal:cbv:mda:';
const GS1_RESOLVER = 'https://id.gs1.org';

// ─── Output types ─────────────────────────────────────────────────────────────────────────────

export type ExtensionValue = string | number | boolean;

export interface EpcisEvent {
  type: EpcisEventType;
  eventTime: string;
  eventTimeZoneOffset: string;
  eventID: string;
  parentID?: string;
  epcList?: string[];
  childEPCs?: string[];
  quantityList?: Array<{ epcClass: string; quantity?: number }>;
  childQuantityList?: Array<{ epcClass: string; quantity?: number }>;
  action: EpcisAction;
  bizStep: string;
  disposition?: string;
  persistentDisposition?: { set?: string[]; unset?: string[] };
  readPoint?: { id: string };
  bizLocation?: { id: string };
  bizTransactionList?: Array<{ type?: string; bizTransaction: string }>;
  sourceList?: Array<{ type: string; source: string }>;
  destinationList?: Array<{ type: string; destination: string }>;
  ilmd?: { 'cbvmda:lotNumber': string; 'cbvmda:itemExpirationDate': string };
  [extension: `ledger:${string}`]: ExtensionValue;
}
/** Kept for callers of the previous API. */
export type EpcisObjectEvent = EpcisEvent;

export interface EpcisDocument {
  '@context': Array<string | Record<string, string>>;
  type: 'EPCISDocument';
  schemaVersion: '2.0';
  creationDate: string;
  epcisHeader?: { epcisMasterData: { vocabularyList: Vocabulary[] } };
  epcisBody: { eventList: EpcisEvent[] };
}

/** One EPCIS event as a flat record for auditors (absent values are null). */
export interface EpcisRow {
  eventID: string;
  eventTime: string;
  ledgerEvent: LedgerEventName;
  ledgerAction: LedgerAction;
  eventType: EpcisEventType;
  action: EpcisAction;
  bizStep: string;
  disposition: string | null;
  persistentDisposition: string | null;
  gtin: string;
  lot: string;
  expiry: string;
  parentID: string | null;
  epcClass: string | null;
  /** Packs counted class level (serial unknown), or a batch without serials. */
  quantity: number | null;
  /** Packs and containers named instance level. */
  epcCount: number;
  epcs: string | null;
  /** Serials of the packs named, space-separated, where known. */
  serials: string | null;
  /** SSCCs of the cases and pallets named, space-separated. */
  ssccs: string | null;
  items: string | null;
  readPoint: string | null;
  bizLocation: string | null;
  sourceParty: string | null;
  destinationParty: string | null;
  bizTransactions: string | null;
  reason: string | null;
  batchId: string;
  shipmentId: string | null;
  actor: string | null;
  blockNumber: number;
  blockTime: number;
  logIndex: number;
  txHash: string;
}

/** Column order of {@link toCsv}. */
export const CSV_COLUMNS: readonly (keyof EpcisRow)[] = Object.freeze([
  'eventID',
  'eventTime',
  'ledgerEvent',
  'ledgerAction',
  'eventType',
  'action',
  'bizStep',
  'disposition',
  'persistentDisposition',
  'gtin',
  'lot',
  'expiry',
  'parentID',
  'epcClass',
  'quantity',
  'epcCount',
  'epcs',
  'serials',
  'ssccs',
  'items',
  'readPoint',
  'bizLocation',
  'sourceParty',
  'destinationParty',
  'bizTransactions',
  'reason',
  'batchId',
  'shipmentId',
  'actor',
  'blockNumber',
  'blockTime',
  'logIndex',
  'txHash',
] as const);

// ─── Errors ───────────────────────────────────────────────────────────────────────────────────

export type EpcisErrorCode =
  | 'EPCIS_UNKNOWN_BATCH'
  | 'EPCIS_UNKNOWN_SHIPMENT'
  | 'EPCIS_UNKNOWN_LAYOUT'
  | 'EPCIS_BAD_EVENT'
  | 'EPCIS_BAD_GLN'
  | 'EPCIS_BAD_BATCH'
  | 'EPCIS_BIZ_TRANSACTIONS_MISMATCH';

export class EpcisMappingError extends Error {
  override readonly name = 'EpcisMappingError';
  constructor(
    readonly code: EpcisErrorCode,
    message: string,
    readonly event?: Pick<LedgerEvent, 'name' | 'txHash' | 'logIndex'>,
  ) {
    super(message);
  }
}

// ─── Context from events ──────────────────────────────────────────────────────────────────────

/** A context whose every member is present (what the mapping works with). */
export type CompleteContext = Required<Omit<EpcisContext, 'batches' | 'masterData'>> & {
  batches(batchId: string): BatchInfo | undefined;
  masterData?: MasterDataSource;
};

const lookup = (b: EpcisContext['batches'] | undefined, id: string): BatchInfo | undefined =>
  b === undefined ? undefined : typeof b === 'function' ? b(id) : b[id];

/** `base` without its undefined fields, over `derived`. */
function merged(derived: BatchInfo | undefined, base: BatchInfo | undefined): BatchInfo | undefined {
  if (!base) return derived;
  if (!derived) return base;
  const out: BatchInfo = { ...derived };
  for (const [k, v] of Object.entries(base)) if (v !== undefined) (out as unknown as Record<string, unknown>)[k] = v;
  return out;
}

/**
 * Every context member built from a full event list (pure): batch facts and layout from
 * BatchMinted / BatchPacked, shipment facts from ShipmentCreated, open quarantines after each
 * event, company prefix lengths of registered products. `base` supplies what events do not hold
 * (GLNs, serials, SSCCs, documents, master data) and wins where both have a fact.
 */
export function contextFromEvents(events: readonly LedgerEvent[], base?: Partial<EpcisContext>): CompleteContext {
  const batches = new Map<string, BatchInfo>();
  const shipments = new Map<string, ShipmentFacts>();
  const prefixLengths = new Map<string, number>();
  const open = new Map<string, Set<string>>();
  const openAfter = new Map<string, string[]>();
  for (const e of [...events].sort(compareEvents)) {
    const a = e.args;
    switch (e.name) {
      case 'BatchMinted':
        batches.set(e.batchId, {
          gtin: String(a.gtin).padStart(14, '0'),
          lot: String(a.lot),
          expiryDay: Number(a.expiryDay),
          producer: String(a.producer),
          serialCount: Number(a.serialCount ?? 0),
          unitsPerCase: 0,
          casesPerPallet: 0,
          mintedAt: e.blockTime,
        });
        break;
      case 'BatchPacked': {
        const b = batches.get(e.batchId);
        if (b) batches.set(e.batchId, { ...b, unitsPerCase: Number(a.unitsPerCase), casesPerPallet: Number(a.casesPerPallet) });
        break;
      }
      case 'ShipmentCreated':
        shipments.set(String(a.shipmentId), {
          kind: Number(a.kind),
          sender: String(a.sender),
          receiver: String(a.receiver),
          items: itemsOf(e),
          referenceHash: String(a.referenceHash),
          batchId: e.batchId,
          quantity: String(a.quantity),
          shippedAt: e.blockTime,
        });
        break;
      case 'ProductRegistered': {
        const key = BigInt(String(a.prefixKey));
        prefixLengths.set(String(a.gtin).padStart(14, '0'), Number(key >> 40n));
        break;
      }
      case 'BatchQuarantined':
      case 'BatchQuarantineLifted': {
        const set = open.get(e.batchId) ?? new Set<string>();
        if (e.name === 'BatchQuarantined') set.add(String(a.jurisdiction));
        else set.delete(String(a.jurisdiction));
        open.set(e.batchId, set);
        openAfter.set(`${e.batchId}:${e.blockNumber}:${e.logIndex}`, [...set].sort());
        break;
      }
      default:
        break;
    }
  }
  return {
    batches: (id) => merged(batches.get(id), lookup(base?.batches, id)),
    glnOf: (address) => base?.glnOf?.(address),
    serialOf: (batchId, unit) => base?.serialOf?.(batchId, unit),
    ssccOf: (batchId, kind, index) => base?.ssccOf?.(batchId, kind, index),
    shipmentOf: (id) => base?.shipmentOf?.(id) ?? shipments.get(id),
    bizTransactionsOf: (hash) => base?.bizTransactionsOf?.(hash),
    openQuarantinesAfter: (batchId, blockNumber, logIndex) =>
      base?.openQuarantinesAfter?.(batchId, blockNumber, logIndex) ?? openAfter.get(`${batchId}:${blockNumber}:${logIndex}`) ?? [],
    prefixLengthOf: (key) => base?.prefixLengthOf?.(key) ?? prefixLengths.get(key),
    ...(base?.masterData ? { masterData: base.masterData } : {}),
  };
}

/** The caller's context, its missing members (and missing batch fields) derived from the input. */
function completed(ctx: EpcisContext, input: readonly LedgerEvent[]): CompleteContext {
  const derived = contextFromEvents(input);
  return {
    batches: (id) => merged(derived.batches(id), lookup(ctx.batches, id)),
    glnOf: (a) => ctx.glnOf(a),
    serialOf: (b, u) => ctx.serialOf?.(b, u),
    ssccOf: (b, k, i) => ctx.ssccOf?.(b, k, i),
    shipmentOf: ctx.shipmentOf ? (id) => ctx.shipmentOf!(id) : derived.shipmentOf,
    bizTransactionsOf: (h) => ctx.bizTransactionsOf?.(h),
    openQuarantinesAfter: ctx.openQuarantinesAfter ? (b, n, l) => ctx.openQuarantinesAfter!(b, n, l) : derived.openQuarantinesAfter,
    prefixLengthOf: (k) => ctx.prefixLengthOf?.(k) ?? derived.prefixLengthOf(k),
    ...(ctx.masterData ? { masterData: ctx.masterData } : {}),
  };
}

// ─── Helpers ──────────────────────────────────────────────────────────────────────────────────

const ZERO_HASH = /^0x0{64}$/i;
const ZERO_ADDRESS = /^0x0{40}$/i;

function where(e: LedgerEvent): string {
  return `${e.name} (tx ${e.txHash}, log ${e.logIndex})`;
}

function arg(e: LedgerEvent, name: string): string {
  const v = e.args[name];
  if (v === undefined) throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)} has no '${name}' argument`, e);
  return String(v);
}

function optArg(e: LedgerEvent, name: string): string | undefined {
  const v = e.args[name];
  return v === undefined ? undefined : String(v);
}

function wholeNumber(e: LedgerEvent, name: string): number {
  const raw = arg(e, name);
  const q = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(q)) throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: ${name} '${raw}' is not a whole number below 2^53`, e);
  return q;
}

const isReturnKind = (kind: number | string) => kind === 1 || kind === '1' || kind === 'Return';

/** A batch as the mapping uses it. */
interface BatchView {
  id: string;
  gtin: string;
  lot: string;
  expiryIso: string;
  producer: string;
  epcClass: string;
  layout?: Layout;
}

/** What an event is about: instance-level EPCs, and packs counted class level. */
interface What {
  epcs: string[];
  serials: string[];
  ssccs: string[];
  classQuantity: number;
}

interface Built {
  event: EpcisEvent;
  row: EpcisRow;
}

const describeItems = (items: readonly ItemArg[]): string =>
  items.map((i) => `${['units', 'cases', 'pallets'][i.kind] ?? `kind${i.kind}`} ${i.start}${i.count > 1 ? `-${i.start + i.count - 1}` : ''}`).join('; ');

class Mapper {
  private readonly batchCache = new Map<string, BatchView>();

  constructor(
    private readonly c: CompleteContext,
    private readonly ns: string,
  ) {}

  batch(e: LedgerEvent): BatchView {
    const cached = this.batchCache.get(e.batchId);
    if (cached) return cached;
    const info = this.c.batches(e.batchId);
    if (info === undefined) {
      throw new EpcisMappingError('EPCIS_UNKNOWN_BATCH', `${where(e)}: batch ${e.batchId} is not in the context and its BatchMinted event is not in the input; pass its GTIN, lot and expiry`, e);
    }
    const gtin = String(info.gtin).padStart(14, '0');
    if (!isGtin14(gtin)) throw new EpcisMappingError('EPCIS_BAD_BATCH', `batch ${e.batchId}: GTIN '${String(info.gtin)}' is not a valid GTIN-14`, e);
    if (!Number.isInteger(info.expiryDay)) throw new EpcisMappingError('EPCIS_BAD_BATCH', `batch ${e.batchId}: expiryDay '${info.expiryDay}' is not a day number`, e);
    let epcClass: string;
    try {
      epcClass = toDigitalLink({ gtin, lot: info.lot }, GS1_RESOLVER);
    } catch (err) {
      throw new EpcisMappingError('EPCIS_BAD_BATCH', `batch ${e.batchId}: ${(err as Error).message}`, e);
    }
    const layout =
      info.serialCount !== undefined && info.serialCount > 0 && info.unitsPerCase !== undefined
        ? { units: info.serialCount, unitsPerCase: info.unitsPerCase, casesPerPallet: info.casesPerPallet ?? 0 }
        : undefined;
    const view: BatchView = { id: e.batchId, gtin, lot: info.lot, expiryIso: isoDate(info.expiryDay), producer: info.producer, epcClass, ...(layout ? { layout } : {}) };
    this.batchCache.set(e.batchId, view);
    return view;
  }

  gln(e: LedgerEvent, address: string | undefined): string | undefined {
    if (address === undefined || ZERO_ADDRESS.test(address)) return undefined;
    const gln = this.c.glnOf(address);
    if (gln === undefined) return undefined;
    if (!isGln(gln)) throw new EpcisMappingError('EPCIS_BAD_GLN', `${where(e)}: GLN '${gln}' of member ${address} is not a valid 13-digit GLN`, e);
    return gln;
  }

  sgtin(e: LedgerEvent, b: BatchView, unit: number): { epc: string; serial: string } | undefined {
    const serial = this.c.serialOf(b.id, String(unit));
    if (serial === undefined) return undefined;
    try {
      return { epc: toDigitalLink({ gtin: b.gtin, serial }, GS1_RESOLVER), serial };
    } catch (err) {
      throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: serial of pack ${unit}: ${(err as Error).message}`, e);
    }
  }

  sscc(b: BatchView, kind: number, index: number): string | undefined {
    const s = this.c.ssccOf(b.id, kind, index);
    return s === undefined ? undefined : `${GS1_RESOLVER}/00/${s}`;
  }

  layout(e: LedgerEvent, b: BatchView): Layout {
    if (!b.layout) {
      throw new EpcisMappingError('EPCIS_UNKNOWN_LAYOUT', `${where(e)}: the packs of a container of batch ${b.id} are needed but its layout is unknown; pass serialCount, unitsPerCase and casesPerPallet in the batch context`, e);
    }
    return b.layout;
  }

  /** The packs [first, end) as SGTINs where the serial is known, else counted. */
  packs(e: LedgerEvent, b: BatchView, first: number, end: number, out: What): void {
    for (let u = first; u < end; u++) {
      const s = this.sgtin(e, b, u);
      if (s) {
        out.epcs.push(s.epc);
        out.serials.push(s.serial);
      } else out.classQuantity += 1;
    }
  }

  /** What items name: containers by SSCC where known, packs by serial where known, the rest counted. */
  items(e: LedgerEvent, b: BatchView, items: readonly ItemArg[]): What {
    const out: What = { epcs: [], serials: [], ssccs: [], classQuantity: 0 };
    for (const item of items) {
      for (let k = item.start; k < item.start + item.count; k++) {
        if (item.kind === ITEM_KIND.Units) {
          this.packs(e, b, k, k + 1, out);
          continue;
        }
        const sscc = this.sscc(b, item.kind, k);
        if (sscc) {
          out.epcs.push(sscc);
          out.ssccs.push(sscc.slice(-18));
        } else {
          const [first, end] = unitRange(this.layout(e, b), item.kind, k);
          this.packs(e, b, first, end, out);
        }
      }
    }
    return out;
  }

  /** The children of a container: a case's packs, a pallet's cases (by SSCC, or their packs). */
  children(e: LedgerEvent, b: BatchView, kind: number, index: number): What {
    const l = this.layout(e, b);
    if (kind === ITEM_KIND.Case) {
      const out: What = { epcs: [], serials: [], ssccs: [], classQuantity: 0 };
      const [first, end] = unitRange(l, kind, index);
      this.packs(e, b, first, end, out);
      return out;
    }
    const firstCase = index * l.casesPerPallet;
    const endCase = Math.min(firstCase + l.casesPerPallet, caseCount(l));
    return this.items(e, b, [{ kind: ITEM_KIND.Case, start: firstCase, count: endCase - firstCase }]);
  }

  bizTransactions(e: LedgerEvent, referenceHash: string | undefined, ext: Record<string, ExtensionValue>): EpcisEvent['bizTransactionList'] {
    if (referenceHash === undefined || ZERO_HASH.test(referenceHash)) return undefined;
    ext['ledger:referenceHash'] = referenceHash.toLowerCase();
    const docs = this.c.bizTransactionsOf(referenceHash.toLowerCase()) ?? this.c.bizTransactionsOf(referenceHash);
    if (docs && docs.length > 0) {
      if (bizTransactionsReferenceHash(docs) !== referenceHash.toLowerCase()) {
        throw new EpcisMappingError(
          'EPCIS_BIZ_TRANSACTIONS_MISMATCH',
          `${where(e)}: the stored documents hash to ${bizTransactionsReferenceHash(docs)}, not to the shipment's reference ${referenceHash}; store documents under the hash they produce`,
          e,
        );
      }
      return toEpcisBizTransactionList(docs);
    }
    ext['ledger:documentsUnknown'] = true;
    return [{ bizTransaction: unresolvedReferenceUri(referenceHash) }];
  }

  shipment(e: LedgerEvent, id: string): ShipmentFacts {
    const s = this.c.shipmentOf(id);
    if (!s) throw new EpcisMappingError('EPCIS_UNKNOWN_SHIPMENT', `${where(e)}: shipment ${id} is unknown; pass shipmentOf in the context (or include its ShipmentCreated event)`, e);
    return s;
  }

  /** The EPCIS events of one ledger event (none for the events of NOT_EPCIS_EVENTS). */
  map(e: LedgerEvent): Built[] {
    if (NOT_EPCIS_EVENTS.has(e.name) || e.batchId === '0') return [];
    const b = this.batch(e);
    const loc = (gln: string | undefined) => (gln === undefined ? undefined : { id: `${GS1_RESOLVER}/414/${gln}` });
    const party = (gln: string | undefined) => (gln === undefined ? undefined : `${GS1_RESOLVER}/417/${gln}`);
    const parties = (from: string | undefined, to: string | undefined, types: string[]) => ({
      ...(from ? { sourceList: types.map((type) => ({ type, source: from })) } : {}),
      ...(to ? { destinationList: types.map((type) => ({ type, destination: to })) } : {}),
    });
    const a = e.args;
    const OWN_AND_POSSESS = ['owning_party', 'possessing_party'];

    /** One EPCIS event of this ledger event. */
    const emit = (
      action: LedgerAction,
      o: {
        what?: What;
        parentID?: string;
        quantity?: number;
        readAt?: string;
        locatedAt?: string;
        ilmd?: EpcisEvent['ilmd'];
        bizTx?: EpcisEvent['bizTransactionList'];
        lists?: Pick<EpcisEvent, 'sourceList' | 'destinationList'>;
        disposition?: string;
        persistent?: EpcisMappingRow['persistentDisposition'] | null;
        ext: Record<string, ExtensionValue>;
        actor?: string;
        shipmentId?: string;
        reason?: string;
        items?: readonly ItemArg[];
      },
    ): Built => {
      const row = EPCIS_MAPPING[action];
      const what = o.what ?? { epcs: [], serials: [], ssccs: [], classQuantity: 0 };
      const aggregation = row.eventType === 'AggregationEvent';
      const classList =
        what.classQuantity > 0 ? [{ epcClass: b.epcClass, quantity: what.classQuantity }] : what.epcs.length === 0 ? [o.quantity === undefined ? { epcClass: b.epcClass } : { epcClass: b.epcClass, quantity: o.quantity }] : undefined;
      const disposition = o.disposition ?? row.disposition;
      const persistent = o.persistent === null ? undefined : (o.persistent ?? row.persistentDisposition);
      const ev = {
        type: row.eventType,
        eventTime: new Date(e.blockTime * 1000).toISOString(),
        eventTimeZoneOffset: '+00:00',
        eventID: '',
        ...(o.parentID ? { parentID: o.parentID } : {}),
        ...(!aggregation && what.epcs.length > 0 ? { epcList: what.epcs } : {}),
        ...(aggregation && what.epcs.length > 0 ? { childEPCs: what.epcs } : {}),
        ...(!aggregation && classList ? { quantityList: classList } : {}),
        ...(aggregation && what.classQuantity > 0 ? { childQuantityList: [{ epcClass: b.epcClass, quantity: what.classQuantity }] } : {}),
        action: row.action,
        bizStep: row.bizStep,
        ...(disposition ? { disposition } : {}),
        ...(persistent ? { persistentDisposition: persistent } : {}),
        ...(loc(o.readAt) ? { readPoint: loc(o.readAt) } : {}),
        ...(loc(o.locatedAt) ? { bizLocation: loc(o.locatedAt) } : {}),
        ...(o.bizTx ? { bizTransactionList: o.bizTx } : {}),
        ...(o.lists ?? {}),
        ...(o.ilmd ? { ilmd: o.ilmd } : {}),
        'ledger:event': e.name,
        'ledger:batchId': e.batchId,
        ...o.ext,
        ...(o.items && o.items.length > 0 ? { 'ledger:items': describeItems(o.items) } : {}),
        'ledger:blockNumber': e.blockNumber,
        'ledger:logIndex': e.logIndex,
        'ledger:txHash': e.txHash,
      } as EpcisEvent;
      ev.eventID = eventHash(ev, this.ns);
      const pd = ev.persistentDisposition;
      const eventRow: EpcisRow = {
        eventID: ev.eventID,
        eventTime: ev.eventTime,
        ledgerEvent: e.name,
        ledgerAction: action,
        eventType: ev.type,
        action: ev.action,
        bizStep: ev.bizStep,
        disposition: ev.disposition ?? null,
        persistentDisposition: pd ? [...(pd.set ?? []).map((x) => `set:${x}`), ...(pd.unset ?? []).map((x) => `unset:${x}`)].join(' ') : null,
        gtin: b.gtin,
        lot: b.lot,
        expiry: b.expiryIso,
        parentID: ev.parentID ?? null,
        epcClass: (ev.quantityList ?? ev.childQuantityList)?.[0]?.epcClass ?? null,
        quantity: (ev.quantityList ?? ev.childQuantityList)?.[0]?.quantity ?? null,
        epcCount: what.epcs.length,
        epcs: what.epcs.length > 0 ? what.epcs.join(' ') : null,
        serials: what.serials.length > 0 ? what.serials.join(' ') : null,
        ssccs: what.ssccs.length > 0 ? what.ssccs.join(' ') : null,
        items: o.items && o.items.length > 0 ? describeItems(o.items) : null,
        readPoint: ev.readPoint?.id ?? null,
        bizLocation: ev.bizLocation?.id ?? null,
        sourceParty: ev.sourceList?.[0]?.source ?? null,
        destinationParty: ev.destinationList?.[0]?.destination ?? null,
        bizTransactions: ev.bizTransactionList ? ev.bizTransactionList.map((t) => t.bizTransaction).join(' ') : null,
        reason: o.reason ?? null,
        batchId: e.batchId,
        shipmentId: o.shipmentId ?? null,
        actor: o.actor ?? null,
        blockNumber: e.blockNumber,
        blockTime: e.blockTime,
        logIndex: e.logIndex,
        txHash: e.txHash,
      };
      return { event: ev, row: eventRow };
    };

    /** What a list of items (or, without items, a quantity) names. */
    const whatOf = (items: readonly ItemArg[], quantity: number | undefined): { what?: What; quantity?: number } =>
      items.length > 0 ? { what: this.items(e, b, items) } : { ...(quantity === undefined ? {} : { quantity }) };

    switch (e.name) {
      case 'BatchMinted': {
        const producer = optArg(e, 'producer') ?? b.producer;
        const at = this.gln(e, producer);
        const quantity = wholeNumber(e, 'quantity');
        const serialCount = Number(optArg(e, 'serialCount') ?? 0);
        const what = serialCount > 0 ? this.items(e, b, [{ kind: ITEM_KIND.Units, start: 0, count: serialCount }]) : undefined;
        const ext: Record<string, ExtensionValue> = {};
        for (const k of ['serialsRoot', 'serialCount', 'documentHash'] as const) {
          const v = optArg(e, k);
          if (v !== undefined) ext[`ledger:${k}`] = k === 'serialCount' ? Number(v) : v;
        }
        ext['ledger:producer'] = producer;
        return [
          emit('commission', {
            ...(what ? { what } : { quantity }),
            readAt: at,
            locatedAt: at,
            ilmd: { 'cbvmda:lotNumber': b.lot, 'cbvmda:itemExpirationDate': b.expiryIso },
            ext,
            actor: producer,
          }),
        ];
      }
      case 'BatchPacked': {
        const info = this.c.batches(e.batchId);
        const units = info?.serialCount ?? b.layout?.units;
        if (!units) throw new EpcisMappingError('EPCIS_UNKNOWN_LAYOUT', `${where(e)}: the batch's serial count is unknown; pass serialCount in the batch context`, e);
        const l: Layout = { units, unitsPerCase: wholeNumber(e, 'unitsPerCase'), casesPerPallet: wholeNumber(e, 'casesPerPallet') };
        const view: BatchView = { ...b, layout: l };
        const at = this.gln(e, b.producer);
        const out: Built[] = [];
        const ext = { 'ledger:packingRoot': arg(e, 'packingRoot'), 'ledger:unitsPerCase': l.unitsPerCase, 'ledger:casesPerPallet': l.casesPerPallet };
        const container = (kind: number, index: number) => {
          const parent = this.sscc(view, kind, index);
          if (!parent) return;
          out.push(emit('pack', { parentID: parent, what: this.children(e, view, kind, index), readAt: at, locatedAt: at, ext, actor: b.producer }));
        };
        for (let c = 0; c < caseCount(l); c++) container(ITEM_KIND.Case, c);
        for (let p = 0; p < palletCount(l); p++) container(ITEM_KIND.Pallet, p);
        return out;
      }
      case 'ContainerUnpacked': {
        const kind = wholeNumber(e, 'kind');
        const index = wholeNumber(e, 'index');
        const parent = this.sscc(b, kind, index);
        if (!parent) return [];
        const holder = arg(e, 'holder');
        const at = this.gln(e, holder);
        return [emit('unpack', { parentID: parent, what: this.children(e, b, kind, index), readAt: at, locatedAt: at, ext: { 'ledger:holder': holder }, actor: holder, items: [{ kind, start: index, count: 1 }] })];
      }
      case 'ShipmentCreated':
      case 'ShipmentAccepted':
      case 'ShipmentRejected':
      case 'ShipmentCancelled': {
        const shipmentId = arg(e, 'shipmentId');
        const facts: ShipmentFacts =
          e.name === 'ShipmentCreated'
            ? { kind: Number(arg(e, 'kind')), sender: arg(e, 'sender'), receiver: arg(e, 'receiver'), items: itemsOf(e), referenceHash: arg(e, 'referenceHash') }
            : this.shipment(e, shipmentId);
        const sender = optArg(e, 'sender') ?? facts.sender;
        const receiver = optArg(e, 'receiver') ?? facts.receiver;
        const senderGln = this.gln(e, sender);
        const receiverGln = this.gln(e, receiver);
        const isReturn = isReturnKind(facts.kind);
        const ext: Record<string, ExtensionValue> = { 'ledger:shipmentId': shipmentId, 'ledger:sender': sender, 'ledger:receiver': receiver, 'ledger:shipmentKind': isReturn ? 'Return' : 'Forward' };
        const bizTx = this.bizTransactions(e, facts.referenceHash, ext);
        const common = { ...whatOf(facts.items, wholeNumber(e, 'quantity')), ...(bizTx ? { bizTx } : {}), shipmentId, items: facts.items };
        switch (e.name) {
          case 'ShipmentCreated':
            return [emit('ship', { ...common, readAt: senderGln, lists: parties(party(senderGln), party(receiverGln), OWN_AND_POSSESS), ext, actor: sender })];
          case 'ShipmentAccepted':
            return [emit(isReturn ? 'receiveReturn' : 'receive', { ...common, readAt: receiverGln, locatedAt: receiverGln, lists: parties(party(senderGln), party(receiverGln), OWN_AND_POSSESS), ext, actor: receiver })];
          case 'ShipmentRejected': {
            const idx = wholeNumber(e, 'reason');
            const reason = REJECT_REASONS[idx] ?? `RejectReason(${idx})`;
            ext['ledger:rejectReason'] = reason;
            // The goods come back: possessed by the receiver a moment, now by the sender again.
            return [emit('reject', { ...common, readAt: senderGln, locatedAt: senderGln, lists: parties(party(receiverGln), party(senderGln), ['possessing_party']), ext, actor: receiver, reason })];
          }
          default:
            return [emit('cancel', { ...common, readAt: senderGln, locatedAt: senderGln, ext, actor: sender })];
        }
      }
      case 'ShipmentRecovered': {
        const shipmentId = arg(e, 'shipmentId');
        const facts = this.shipment(e, shipmentId);
        const to = arg(e, 'to');
        const toGln = this.gln(e, to);
        const ext: Record<string, ExtensionValue> = {
          'ledger:shipmentId': shipmentId,
          'ledger:sender': facts.sender,
          'ledger:receiver': facts.receiver,
          'ledger:to': to,
          'ledger:recovery': true,
          'ledger:evidenceHash': arg(e, 'evidenceHash'),
        };
        const bizTx = this.bizTransactions(e, facts.referenceHash, ext);
        const toSender = to.toLowerCase() === facts.sender.toLowerCase();
        return [
          emit('recoverShipment', {
            ...whatOf(facts.items, facts.quantity === undefined ? undefined : Number(facts.quantity)),
            ...(bizTx ? { bizTx } : {}),
            readAt: toGln,
            locatedAt: toGln,
            ...(toSender ? { disposition: 'returned' } : {}),
            ext,
            actor: to,
            shipmentId,
            items: facts.items,
          }),
        ];
      }
      case 'BatchQuarantined':
      case 'BatchQuarantineLifted':
      case 'SafetyNoticeIssued': {
        const regulator = arg(e, 'regulator');
        const jurisdiction = arg(e, 'jurisdiction');
        const ext: Record<string, ExtensionValue> = { 'ledger:regulator': regulator, 'ledger:jurisdiction': jurisdiction };
        const regulatorParty = party(this.gln(e, regulator));
        if (regulatorParty) ext['ledger:regulatorParty'] = regulatorParty;
        const hashName = e.name === 'SafetyNoticeIssued' ? 'noticeHash' : 'reasonHash';
        const h = arg(e, hashName);
        ext[`ledger:${hashName}`] = h;
        if (e.name === 'SafetyNoticeIssued') return [emit('safetyNotice', { ext, actor: regulator })];
        if (e.name === 'BatchQuarantined') return [emit('quarantine', { ext, actor: regulator, reason: h })];
        const still = this.c.openQuarantinesAfter(e.batchId, e.blockNumber, e.logIndex);
        if (still.length > 0) ext['ledger:quarantinesRemaining'] = [...still].sort().join(' ');
        return [emit('liftQuarantine', { ext, actor: regulator, reason: h, ...(still.length > 0 ? { persistent: null } : {}) })];
      }
      case 'BatchRecalled': {
        const by = arg(e, 'by');
        const ext: Record<string, ExtensionValue> = { 'ledger:by': by, 'ledger:reasonHash': arg(e, 'reasonHash') };
        const byParty = party(this.gln(e, by));
        if (byParty) ext['ledger:byParty'] = byParty;
        return [emit('recall', { ext, actor: by, reason: arg(e, 'reasonHash') })];
      }
      case 'RecallUndone':
        return [emit('undoRecall', { ext: { 'ledger:reasonHash': arg(e, 'reasonHash') }, reason: arg(e, 'reasonHash') })];
      case 'UnitDispensed':
      case 'DispenseUndone': {
        const pharmacy = arg(e, 'pharmacy');
        const unit = wholeNumber(e, 'unitIndex');
        const at = this.gln(e, pharmacy);
        const items = [{ kind: ITEM_KIND.Units, start: unit, count: 1 }];
        const ext: Record<string, ExtensionValue> = { 'ledger:pharmacy': pharmacy, 'ledger:unitIndex': String(unit) };
        const h = e.name === 'UnitDispensed' ? optArg(e, 'leaf') : optArg(e, 'reasonHash');
        if (h !== undefined) ext[e.name === 'UnitDispensed' ? 'ledger:leaf' : 'ledger:reasonHash'] = h;
        return [emit(e.name === 'UnitDispensed' ? 'dispense' : 'undoDispense', { what: this.items(e, b, items), readAt: at, locatedAt: at, ext, actor: pharmacy, items })];
      }
      case 'PacksDecommissioned':
      case 'CustodyRecovered': {
        const recovery = e.name === 'CustodyRecovered';
        const from = arg(e, recovery ? 'from' : 'holder');
        const to = recovery ? arg(e, 'to') : undefined;
        const items = itemsOf(e);
        const common = { ...whatOf(items, wholeNumber(e, 'quantity')), items };
        const ext: Record<string, ExtensionValue> = { [recovery ? 'ledger:from' : 'ledger:holder']: from, 'ledger:evidenceHash': arg(e, 'evidenceHash') };
        if (recovery) ext['ledger:recovery'] = true;
        if (to !== undefined && !ZERO_ADDRESS.test(to)) {
          const fromGln = this.gln(e, from);
          const toGln = this.gln(e, to);
          ext['ledger:to'] = to;
          return [emit('recoverCustody', { ...common, readAt: toGln, locatedAt: toGln, lists: parties(party(fromGln), party(toGln), OWN_AND_POSSESS), ext, actor: to })];
        }
        const state: PackStateName = PACK_STATE_NAMES[Number(arg(e, 'state'))] ?? 'None';
        const action = ({ Destroyed: 'destroy', Stolen: 'stolen', Sample: 'sample', FreeSample: 'freeSample', Exported: 'exported' } as Record<string, LedgerAction>)[state];
        if (!action) throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: pack state '${state}' is not Destroyed, Stolen, Sample, FreeSample or Exported`, e);
        ext['ledger:packState'] = state;
        return [emit(action, { ...common, readAt: this.gln(e, from), ext, actor: recovery ? undefined : from, reason: state })];
      }
      case 'DecommissionReverted':
      case 'PacksLocked':
      case 'PacksUnlocked': {
        const holder = arg(e, 'holder');
        const items = itemsOf(e);
        const at = this.gln(e, holder);
        const ext: Record<string, ExtensionValue> = { 'ledger:holder': holder, 'ledger:reasonHash': arg(e, 'reasonHash') };
        if (e.name === 'PacksUnlocked') ext['ledger:by'] = arg(e, 'by');
        const action: LedgerAction = e.name === 'DecommissionReverted' ? 'revertDecommission' : e.name === 'PacksLocked' ? 'lock' : 'unlock';
        return [emit(action, { what: this.items(e, b, items), readAt: at, locatedAt: at, ext, actor: e.name === 'PacksUnlocked' ? arg(e, 'by') : holder, items })];
      }
      case 'UnitsWrittenOff': {
        const holder = arg(e, 'holder');
        const r = Number(arg(e, 'reason'));
        const reason = LOSS_REASONS[r];
        if (reason === undefined) throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: unknown loss reason '${arg(e, 'reason')}' (0 = Destroyed, 1 = Stolen)`, e);
        const ext: Record<string, ExtensionValue> = { 'ledger:holder': holder, 'ledger:lossReason': reason, 'ledger:evidenceHash': arg(e, 'evidenceHash') };
        return [emit(r === 0 ? 'destroy' : 'stolen', { quantity: wholeNumber(e, 'quantity'), readAt: this.gln(e, holder), ext, actor: holder, reason })];
      }
      default:
        // A ledger event this version does not know: nothing to export (forward compatible).
        return [];
    }
  }
}

/** The rows of {@link EPCIS_MAPPING} a ledger event maps to (empty for events that are not EPCIS events). */
export function ledgerActionsOf(e: LedgerEvent, ctx: EpcisContext): LedgerAction[] {
  return buildAll([e], ctx, {}).map((x) => x.row.ledgerAction);
}

const BY_NAME: Partial<Record<LedgerEventName, LedgerAction>> = {
  BatchMinted: 'commission',
  BatchPacked: 'pack',
  ContainerUnpacked: 'unpack',
  ShipmentCreated: 'ship',
  ShipmentAccepted: 'receive',
  ShipmentRejected: 'reject',
  ShipmentCancelled: 'cancel',
  ShipmentRecovered: 'recoverShipment',
  BatchQuarantined: 'quarantine',
  BatchQuarantineLifted: 'liftQuarantine',
  BatchRecalled: 'recall',
  RecallUndone: 'undoRecall',
  SafetyNoticeIssued: 'safetyNotice',
  UnitDispensed: 'dispense',
  DispenseUndone: 'undoDispense',
  DecommissionReverted: 'revertDecommission',
  PacksLocked: 'lock',
  PacksUnlocked: 'unlock',
};

/**
 * The mapping row of a ledger event without building its EPCIS form (no context needed), or null
 * for an event that is not an EPCIS event. An accept is 'receive' unless `ctx.shipmentOf` says the
 * shipment is a return. Never throws for a known event name.
 */
export function ledgerActionOf(e: LedgerEvent, ctx?: Pick<EpcisContext, 'shipmentOf'>): LedgerAction | null {
  if (NOT_EPCIS_EVENTS.has(e.name)) return null;
  if (e.name === 'ShipmentAccepted') {
    const kind = ctx?.shipmentOf?.(String(e.args.shipmentId))?.kind;
    return kind !== undefined && isReturnKind(kind) ? 'receiveReturn' : 'receive';
  }
  if (e.name === 'PacksDecommissioned' || e.name === 'CustodyRecovered') {
    if (e.name === 'CustodyRecovered' && !ZERO_ADDRESS.test(String(e.args.to))) return 'recoverCustody';
    const state = PACK_STATE_NAMES[Number(e.args.state)];
    return ({ Destroyed: 'destroy', Stolen: 'stolen', Sample: 'sample', FreeSample: 'freeSample', Exported: 'exported' } as Record<string, LedgerAction>)[state ?? ''] ?? null;
  }
  if (e.name === 'UnitsWrittenOff') return Number(e.args.reason) === 1 ? 'stolen' : 'destroy';
  return BY_NAME[e.name] ?? null;
}

function buildAll(input: readonly LedgerEvent[], ctx: EpcisContext, options: EpcisOptions): Built[] {
  const ns = options.ledgerNamespace ?? DEFAULT_LEDGER_NAMESPACE;
  const mapper = new Mapper(completed(ctx, input), ns);
  return [...input].sort(compareEvents).flatMap((e) => mapper.map(e));
}

// ─── Event hash (CBV 2.0, GS1's reference algorithm: epcis-hash.ts) ──────────────────────────

/** The `@context` of every document this module writes; the event hash reads prefixes from it. */
export function epcisDocumentContext(ledgerNamespace = DEFAULT_LEDGER_NAMESPACE): Array<string | Record<string, string>> {
  // cbvmda is in GS1's EPCIS context already; naming it here as well makes every hash generator
  // expand `cbvmda:lotNumber` to `{urn:epcglobal:cbv:mda:}lotNumber` (GS1's reference generator
  // reads prefixes only from the document's own context objects).
  return [EPCIS_CONTEXT_URL, { ledger: ledgerNamespace, cbvmda: CBVMDA_NAMESPACE }];
}

/** The canonical pre-hash string of an event of this module's documents (exported for audit and tests). */
export function canonicalEventString(ev: EpcisEvent, ledgerNamespace = DEFAULT_LEDGER_NAMESPACE): string {
  return eventPreHash(ev as unknown as JsonObject, epcisDocumentContext(ledgerNamespace));
}

/** `ni:///sha-256;{hex}?ver=CBV2.0`: the CBV 2.0 event hash, equal to GS1's reference generator's. */
export function eventHash(ev: EpcisEvent, ledgerNamespace = DEFAULT_LEDGER_NAMESPACE): string {
  return eventHashId(ev as unknown as JsonObject, epcisDocumentContext(ledgerNamespace));
}

// ─── Public API ───────────────────────────────────────────────────────────────────────────────

/** GTINs, locations and parties the events name (for the master data header). */
function namedKeys(events: readonly EpcisEvent[]): { gtins: Set<string>; locationGlns: Set<string>; partyGlns: Set<string> } {
  const gtins = new Set<string>();
  const locationGlns = new Set<string>();
  const partyGlns = new Set<string>();
  const gln = (uri: string | undefined, ai: string, into: Set<string>) => {
    const m = uri === undefined ? null : new RegExp(`/${ai}/(\\d{13})$`).exec(uri);
    if (m) into.add(m[1]!);
  };
  for (const e of events) {
    for (const q of [...(e.quantityList ?? []), ...(e.childQuantityList ?? [])]) {
      const m = /\/01\/(\d{14})/.exec(q.epcClass);
      if (m) gtins.add(m[1]!);
    }
    for (const epc of [...(e.epcList ?? []), ...(e.childEPCs ?? [])]) {
      const m = /\/01\/(\d{14})/.exec(epc);
      if (m) gtins.add(m[1]!);
    }
    gln(e.readPoint?.id, '414', locationGlns);
    gln(e.bizLocation?.id, '414', locationGlns);
    for (const s of e.sourceList ?? []) gln(s.source, '417', partyGlns);
    for (const d of e.destinationList ?? []) gln(d.destination, '417', partyGlns);
    const regulator = e['ledger:regulatorParty'] ?? e['ledger:byParty'];
    if (typeof regulator === 'string') gln(regulator, '417', partyGlns);
  }
  return { gtins, locationGlns, partyGlns };
}

/**
 * An EPCIS 2.0 JSON-LD document of the events (sorted by block and log index), with
 * `epcisHeader.epcisMasterData` when the context has master data for what the events name.
 */
export function toEpcisDocument(events: readonly LedgerEvent[], ctx: EpcisContext, options: EpcisOptions = {}): EpcisDocument {
  const ns = options.ledgerNamespace ?? DEFAULT_LEDGER_NAMESPACE;
  const created = options.creationDate ?? new Date();
  const eventList = buildAll(events, ctx, options).map((b) => b.event);
  const vocabularyList = ctx.masterData ? epcisVocabularyList(ctx.masterData, namedKeys(eventList), GS1_RESOLVER) : [];
  return {
    '@context': epcisDocumentContext(ns),
    type: 'EPCISDocument',
    schemaVersion: '2.0',
    creationDate: (typeof created === 'string' ? new Date(created) : created).toISOString(),
    ...(vocabularyList.length > 0 ? { epcisHeader: { epcisMasterData: { vocabularyList } } } : {}),
    epcisBody: { eventList },
  };
}

/** The EPCIS events as flat rows (same content and order as the document). */
export function toRows(events: readonly LedgerEvent[], ctx: EpcisContext, options: EpcisOptions = {}): EpcisRow[] {
  return buildAll(events, ctx, options).map((b) => b.row);
}

export interface CsvOptions extends EpcisOptions {
  /**
   * Prefix a cell that starts with `=`, `+`, `-`, `@`, tab or CR with `'` so spreadsheets do not run
   * it as a formula (lots and serials may hold `=`, `+`, `-`: all are in GS1 set 82). Default true.
   */
  formulaGuard?: boolean;
}

function csvCell(v: string | number | null, guard: boolean): string {
  if (v === null) return '';
  let s = String(v);
  if (guard && typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV (CRLF line ends, header row, one row per EPCIS event, columns {@link CSV_COLUMNS}). */
export function toCsv(events: readonly LedgerEvent[], ctx: EpcisContext, options: CsvOptions = {}): string {
  const guard = options.formulaGuard ?? true;
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of toRows(events, ctx, options)) lines.push(CSV_COLUMNS.map((c) => csvCell(row[c], guard)).join(','));
  return lines.join('\r\n') + '\r\n';
}
