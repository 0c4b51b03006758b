/**
 * Ledger events (decoded IBatchToken logs) → EPCIS 2.0 JSON-LD documents, plus a flat row form
 * and CSV for auditors. Pure: no I/O.
 *
 * Choices, and why:
 *  - Mapping: one table, {@link EPCIS_MAPPING} (STANDARDS.md proposal, plus three rows the
 *    proposal leaves open — see the `why` of `cancel`, `liftQuarantine` and `receiveReturn`).
 *  - Identifiers as GS1 Digital Link URIs: a batch is class-level, `quantityList[].epcClass =
 *    https://id.gs1.org/01/{gtin}/10/{lot}`; a dispensed unit whose serial is known is
 *    instance-level, `epcList = [https://id.gs1.org/01/{gtin}/21/{serial}]` (else class-level with
 *    quantity 1 and `ledger:unitIndex`). Regulator actions (quarantine, lift, recall) concern the
 *    whole batch wherever it is, so their quantityList carries the class without a quantity.
 *  - Locations and parties as Digital Link too — `https://id.gs1.org/414/{gln}` (readPoint,
 *    bizLocation) and `https://id.gs1.org/417/{gln}` (owning/possessing party) — not
 *    `urn:epc:id:sgln:…`/`urn:epc:id:pgln:…`: an EPC URN splits the GLN into company prefix and
 *    location reference, and the prefix length (6–12 digits) is not derivable from the GLN; we only
 *    hold 13-digit GLNs. EPCIS 2.0 accepts Digital Link URIs wherever it accepts EPC URIs. A member
 *    has one GLN in the register, used both as its location (414) and as its party (417).
 *  - Where: commissioning at the producer; shipping reads at the sender, no bizLocation (the goods
 *    are in transit); receiving at the receiver (bizLocation only when accepted — a rejected
 *    delivery is not taken in); cancel back at the sender; dispense at the pharmacy; write-offs
 *    read at the holder, no bizLocation (destroyed/stolen goods are no longer stocked there);
 *    regulator actions have no readPoint (the regulator is not where the goods are). A member
 *    without a GLN gets no readPoint/source/destination entry; its address is always in the
 *    `ledger:` extension fields.
 *  - Extension namespace: prefix `ledger` → {@link DEFAULT_LEDGER_NAMESPACE}
 *    (`https://example.org/medtrace/ledger#`, the IANA documentation domain until the consortium
 *    owns one; override with `options.ledgerNamespace`). Every event carries the chain proof
 *    `ledger:txHash`, `ledger:logIndex`, `ledger:blockNumber`, and `ledger:event` / `ledger:batchId`
 *    plus the event's own fields (shipment id, parties' addresses, reason, hashes).
 *  - bizTransactionList: a shipment's `referenceHash` (hash of the despatch advice / DSCSA
 *    transaction information) as type `desadv`, URI `urn:medtrace:ref:{0x…}` by default
 *    (`options.bizTransactionUri` to change it); the receiving/reject/cancel events of the same
 *    shipment carry it too when the ShipmentCreated event is in the input. A zero hash is "none".
 *  - eventTime is the block time (UTC, `+00:00`); events are sorted by (blockNumber, logIndex).
 *  - eventID: the CBV 2.0 event hash `ni:///sha-256;{hex}?ver=CBV2.0`, computed by epcis-hash.ts
 *    exactly as GS1's reference generator computes it (tested on GS1's published vectors and on
 *    every event this module writes). The hash covers the `ledger:` extension fields, so it carries
 *    the chain proof and is unique per log. Anyone can recompute it from the exported JSON.
 */
import { eventHashId, eventPreHash, type JsonObject } from './epcis-hash';
import { isGln, isGtin14, isoDate } from './gs1';
import { toDigitalLink } from './gs1-scan';

// ─── Input ────────────────────────────────────────────────────────────────────────────────────

import type { LedgerEvent, LedgerEventName } from './ledger-events';
import { REJECT_REASONS, LOSS_REASONS } from './ledger-enums';

export type { LedgerEvent, LedgerEventName } from './ledger-events';

/** What EPCIS needs to know about a batch. */
export interface BatchInfo {
  /** GTIN-14 (a number is left-padded with zeros). */
  gtin: string | number | bigint;
  lot: string;
  /** Days since 1970-01-01 UTC (AI 17 resolved). */
  expiryDay: number;
  /** Producer's address. */
  producer: string;
}

export interface EpcisContext {
  /** Batch attributes by batch id (missing ones are taken from BatchMinted events in the input). */
  batches: Record<string, BatchInfo> | ((batchId: string) => BatchInfo | undefined);
  /** A member's 13-digit GLN, or undefined when it has none. */
  glnOf(address: string): string | undefined;
  /** The serial of unit `unitIndex` of a batch, when known (for instance-level dispense events). */
  serialOf?(batchId: string, unitIndex: string): string | undefined;
}

export interface EpcisOptions {
  /** Document creation time (default: now). */
  creationDate?: Date | string;
  /** IRI of the `ledger:` extension prefix (default {@link DEFAULT_LEDGER_NAMESPACE}). */
  ledgerNamespace?: string;
  /** URI of a shipment's reference hash in bizTransactionList (default `urn:medtrace:ref:{hash}`). */
  bizTransactionUri?: (referenceHash: string) => string;
}

// ─── The mapping ──────────────────────────────────────────────────────────────────────────────

export type LedgerAction =
  | 'commission'
  | 'ship'
  | 'receive'
  | 'receiveReturn'
  | 'reject'
  | 'cancel'
  | 'quarantine'
  | 'liftQuarantine'
  | 'recall'
  | 'dispense'
  | 'destroy'
  | 'stolen';

export type EpcisAction = 'ADD' | 'OBSERVE' | 'DELETE';

export interface EpcisMappingRow {
  /** The ledger event this row applies to (with the condition in `when`). */
  ledgerEvent: LedgerEventName;
  when?: string;
  action: EpcisAction;
  bizStep: string;
  disposition: string;
  why?: string;
}

/** Ledger action → EPCIS ObjectEvent. The one place the mapping lives. */
export const EPCIS_MAPPING: Readonly<Record<LedgerAction, Readonly<EpcisMappingRow>>> = Object.freeze({
  commission: { ledgerEvent: 'BatchMinted', action: 'ADD', bizStep: 'commissioning', disposition: 'active' },
  ship: { ledgerEvent: 'ShipmentCreated', action: 'OBSERVE', bizStep: 'shipping', disposition: 'in_transit' },
  receive: {
    ledgerEvent: 'ShipmentAccepted',
    when: 'forward shipment',
    action: 'OBSERVE',
    bizStep: 'receiving',
    disposition: 'in_progress',
  },
  receiveReturn: {
    ledgerEvent: 'ShipmentAccepted',
    when: 'isReturn shipment',
    action: 'OBSERVE',
    bizStep: 'receiving',
    disposition: 'returned',
    why: "STANDARDS.md 'return upstream'; isReturn comes from the ShipmentCreated event of the same shipment",
  },
  reject: { ledgerEvent: 'ShipmentRejected', action: 'OBSERVE', bizStep: 'receiving', disposition: 'non_sellable_other' },
  cancel: {
    ledgerEvent: 'ShipmentCancelled',
    action: 'OBSERVE',
    bizStep: 'void_shipping',
    disposition: 'in_progress',
    why:
      "CBV 'void_shipping' declares that objects of a prior shipping event were not shipped after all — exactly a " +
      "cancel; the units are back in the sender's ordinary custody, the state 'receive' also records (in_progress)",
  },
  quarantine: { ledgerEvent: 'BatchQuarantined', action: 'OBSERVE', bizStep: 'holding', disposition: 'non_sellable_other' },
  liftQuarantine: {
    ledgerEvent: 'BatchQuarantineLifted',
    action: 'OBSERVE',
    bizStep: 'inspecting',
    disposition: 'active',
    why:
      "not in the STANDARDS.md table: a lift closes the regulator's investigation ('inspecting') and returns the batch " +
      "to the state it had at commissioning ('active', EU FMD pack state Active)",
  },
  recall: { ledgerEvent: 'BatchRecalled', action: 'OBSERVE', bizStep: 'holding', disposition: 'recalled' },
  dispense: { ledgerEvent: 'UnitDispensed', action: 'OBSERVE', bizStep: 'dispensing', disposition: 'dispensed' },
  destroy: { ledgerEvent: 'UnitsWrittenOff', when: 'reason 0 (Destroyed)', action: 'DELETE', bizStep: 'destroying', disposition: 'destroyed' },
  stolen: { ledgerEvent: 'UnitsWrittenOff', when: 'reason 1 (Stolen)', action: 'OBSERVE', bizStep: 'other', disposition: 'stolen' },
});

export { REJECT_REASONS, LOSS_REASONS } from './ledger-enums';

export const EPCIS_CONTEXT_URL = 'https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld';
export const DEFAULT_LEDGER_NAMESPACE = 'https://example.org/medtrace/ledger#';
const CBVMDA_NAMESPACE = 'urn:epcglobal:cbv:mda:';
const GS1_RESOLVER = 'https://id.gs1.org';

// ─── Output types ─────────────────────────────────────────────────────────────────────────────

export type ExtensionValue = string | number | boolean;

export interface EpcisObjectEvent {
  type: 'ObjectEvent';
  eventTime: string;
  eventTimeZoneOffset: string;
  eventID: string;
  epcList?: string[];
  quantityList?: Array<{ epcClass: string; quantity?: number }>;
  action: EpcisAction;
  bizStep: string;
  disposition: string;
  readPoint?: { id: string };
  bizLocation?: { id: string };
  bizTransactionList?: Array<{ type: string; bizTransaction: string }>;
  sourceList?: Array<{ type: string; source: string }>;
  destinationList?: Array<{ type: string; destination: string }>;
  ilmd?: { 'cbvmda:lotNumber': string; 'cbvmda:itemExpirationDate': string };
  [extension: `ledger:${string}`]: ExtensionValue;
}

export interface EpcisDocument {
  '@context': Array<string | Record<string, string>>;
  type: 'EPCISDocument';
  schemaVersion: '2.0';
  creationDate: string;
  epcisBody: { eventList: EpcisObjectEvent[] };
}

/** One event as a flat record for auditors (absent values are null). */
export interface EpcisRow {
  eventID: string;
  eventTime: string;
  ledgerEvent: LedgerEventName;
  ledgerAction: LedgerAction;
  action: EpcisAction;
  bizStep: string;
  disposition: string;
  gtin: string;
  lot: string;
  expiry: string;
  epcClass: string | null;
  epcs: string | null;
  quantity: number | null;
  readPoint: string | null;
  bizLocation: string | null;
  sourceParty: string | null;
  destinationParty: string | null;
  bizTransaction: string | null;
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
  'action',
  'bizStep',
  'disposition',
  'gtin',
  'lot',
  'expiry',
  'epcClass',
  'epcs',
  'quantity',
  'readPoint',
  'bizLocation',
  'sourceParty',
  'destinationParty',
  'bizTransaction',
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

export class EpcisMappingError extends Error {
  override readonly name = 'EpcisMappingError';
  constructor(
    readonly code: 'EPCIS_UNKNOWN_BATCH' | 'EPCIS_BAD_EVENT' | 'EPCIS_BAD_GLN' | 'EPCIS_BAD_BATCH',
    message: string,
    readonly event?: Pick<LedgerEvent, 'name' | 'txHash' | 'logIndex'>,
  ) {
    super(message);
  }
}

// ─── Helpers ──────────────────────────────────────────────────────────────────────────────────

const ZERO_HASH = /^0x0{64}$/i;

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

function quantityOf(e: LedgerEvent): number {
  const raw = arg(e, 'quantity');
  const q = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(q)) {
    throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: quantity '${raw}' is not a whole number below 2^53`, e);
  }
  return q;
}

function isTrue(v: string | number | boolean | undefined): boolean {
  return v === true || v === 'true' || v === 1 || v === '1';
}

function gtin14(e: LedgerEvent | undefined, raw: string | number | bigint): string {
  const gtin = String(raw).padStart(14, '0');
  if (!isGtin14(gtin)) {
    throw new EpcisMappingError('EPCIS_BAD_BATCH', `batch GTIN '${String(raw)}' is not a valid GTIN-14`, e);
  }
  return gtin;
}

interface Resolved {
  gtin: string;
  lot: string;
  expiryIso: string;
  producer: string;
  epcClass: string;
}

interface Built {
  event: EpcisObjectEvent;
  row: EpcisRow;
}

function buildAll(input: readonly LedgerEvent[], ctx: EpcisContext, options: EpcisOptions): Built[] {
  const ns = options.ledgerNamespace ?? DEFAULT_LEDGER_NAMESPACE;
  const bizTxUri = options.bizTransactionUri ?? ((h: string) => `urn:medtrace:ref:${h.toLowerCase()}`);
  const events = [...input].sort((a, b) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex);

  // Shipment facts known from ShipmentCreated, for the accept/reject/cancel of the same shipment.
  const created = new Map<string, LedgerEvent>();
  const minted = new Map<string, LedgerEvent>();
  for (const e of events) {
    if (e.name === 'ShipmentCreated') created.set(arg(e, 'shipmentId'), e);
    if (e.name === 'BatchMinted') minted.set(e.batchId, e);
  }

  const resolvedBatches = new Map<string, Resolved>();
  const batchOf = (e: LedgerEvent): Resolved => {
    const cached = resolvedBatches.get(e.batchId);
    if (cached) return cached;
    let info = typeof ctx.batches === 'function' ? ctx.batches(e.batchId) : ctx.batches[e.batchId];
    const m = minted.get(e.batchId);
    if (info === undefined && m !== undefined) {
      info = { gtin: arg(m, 'gtin'), lot: arg(m, 'lot'), expiryDay: Number(arg(m, 'expiryDay')), producer: arg(m, 'producer') };
    }
    if (info === undefined) {
      throw new EpcisMappingError(
        'EPCIS_UNKNOWN_BATCH',
        `${where(e)}: batch ${e.batchId} is not in the context and its BatchMinted event is not in the input; pass its GTIN, lot and expiry`,
        e,
      );
    }
    const gtin = gtin14(e, info.gtin);
    if (!Number.isInteger(info.expiryDay)) {
      throw new EpcisMappingError('EPCIS_BAD_BATCH', `batch ${e.batchId}: expiryDay '${info.expiryDay}' is not a day number`, e);
    }
    let epcClass: string;
    try {
      epcClass = toDigitalLink({ gtin, lot: info.lot }, GS1_RESOLVER);
    } catch (err) {
      throw new EpcisMappingError('EPCIS_BAD_BATCH', `batch ${e.batchId}: ${(err as Error).message}`, e);
    }
    const r: Resolved = { gtin, lot: info.lot, expiryIso: isoDate(info.expiryDay), producer: info.producer, epcClass };
    resolvedBatches.set(e.batchId, r);
    return r;
  };

  const glnOf = (e: LedgerEvent, address: string | undefined): string | undefined => {
    if (address === undefined) return undefined;
    const gln = ctx.glnOf(address);
    if (gln === undefined) return undefined;
    if (!isGln(gln)) {
      throw new EpcisMappingError('EPCIS_BAD_GLN', `${where(e)}: GLN '${gln}' of member ${address} is not a valid 13-digit GLN`, e);
    }
    return gln;
  };
  const location = (gln: string | undefined) => (gln === undefined ? undefined : { id: `${GS1_RESOLVER}/414/${gln}` });
  const party = (gln: string | undefined) => (gln === undefined ? undefined : `${GS1_RESOLVER}/417/${gln}`);

  return events.map((e): Built => {
    const batch = batchOf(e);
    const ledgerAction = classify(e, created);
    const map = EPCIS_MAPPING[ledgerAction];
    const ext: Record<string, ExtensionValue> = {
      'ledger:event': e.name,
      'ledger:batchId': e.batchId,
    };
    const ev: EpcisObjectEvent = {
      type: 'ObjectEvent',
      eventTime: new Date(e.blockTime * 1000).toISOString(),
      eventTimeZoneOffset: '+00:00',
      eventID: '',
      action: map.action,
      bizStep: map.bizStep,
      disposition: map.disposition,
    };
    let quantity: number | undefined;
    let reason: string | undefined;
    let actor: string | undefined;
    let shipmentId: string | undefined;
    let bizTx: string | undefined;

    switch (e.name) {
      case 'BatchMinted': {
        quantity = quantityOf(e);
        actor = optArg(e, 'producer') ?? batch.producer;
        const at = location(glnOf(e, actor));
        if (at) {
          ev.readPoint = at;
          ev.bizLocation = at;
        }
        ev.ilmd = { 'cbvmda:lotNumber': batch.lot, 'cbvmda:itemExpirationDate': batch.expiryIso };
        for (const k of ['serialsRoot', 'serialCount', 'documentHash'] as const) {
          const v = optArg(e, k);
          if (v !== undefined) ext[`ledger:${k}`] = k === 'serialCount' ? Number(v) : v;
        }
        break;
      }
      case 'ShipmentCreated':
      case 'ShipmentAccepted':
      case 'ShipmentRejected':
      case 'ShipmentCancelled': {
        quantity = quantityOf(e);
        shipmentId = arg(e, 'shipmentId');
        const sender = arg(e, 'sender');
        const receiver = arg(e, 'receiver');
        const origin = created.get(shipmentId);
        const senderGln = glnOf(e, sender);
        const receiverGln = glnOf(e, receiver);
        const isReturn = isTrue(e.args['isReturn'] ?? origin?.args['isReturn']);
        if (e.name === 'ShipmentCreated' || e.name === 'ShipmentCancelled') {
          actor = sender;
          const at = location(senderGln);
          if (at) ev.readPoint = at;
          if (at && e.name === 'ShipmentCancelled') ev.bizLocation = at;
        } else {
          actor = receiver;
          const at = location(receiverGln);
          if (at) ev.readPoint = at;
          if (at && e.name === 'ShipmentAccepted') ev.bizLocation = at;
        }
        const refHash = optArg(e, 'referenceHash') ?? (origin ? optArg(origin, 'referenceHash') : undefined);
        if (refHash !== undefined && !ZERO_HASH.test(refHash)) {
          bizTx = bizTxUri(refHash);
          ev.bizTransactionList = [{ type: 'desadv', bizTransaction: bizTx }];
          ext['ledger:referenceHash'] = refHash;
        }
        const from = party(senderGln);
        const to = party(receiverGln);
        if (from) {
          ev.sourceList = [
            { type: 'owning_party', source: from },
            { type: 'possessing_party', source: from },
          ];
        }
        if (to) {
          ev.destinationList = [
            { type: 'owning_party', destination: to },
            { type: 'possessing_party', destination: to },
          ];
        }
        ext['ledger:shipmentId'] = shipmentId;
        ext['ledger:sender'] = sender;
        ext['ledger:receiver'] = receiver;
        if (e.args['isReturn'] !== undefined || origin !== undefined) ext['ledger:isReturn'] = isReturn;
        if (e.name === 'ShipmentRejected') {
          const idx = Number(arg(e, 'reason'));
          reason = REJECT_REASONS[idx] ?? `RejectReason(${idx})`;
          ext['ledger:rejectReason'] = reason;
        }
        break;
      }
      case 'BatchQuarantined':
      case 'BatchQuarantineLifted':
      case 'BatchRecalled': {
        actor = arg(e, 'regulator');
        ext['ledger:regulator'] = actor;
        const regulatorParty = party(glnOf(e, actor));
        if (regulatorParty) ext['ledger:regulatorParty'] = regulatorParty;
        const h = optArg(e, 'reasonHash');
        if (h !== undefined) {
          ext['ledger:reasonHash'] = h;
          if (!ZERO_HASH.test(h)) reason = h;
        }
        break;
      }
      case 'UnitDispensed': {
        quantity = 1;
        actor = arg(e, 'pharmacy');
        const unitIndex = arg(e, 'unitIndex');
        const at = location(glnOf(e, actor));
        if (at) {
          ev.readPoint = at;
          ev.bizLocation = at;
        }
        const serial = ctx.serialOf?.(e.batchId, unitIndex);
        if (serial !== undefined) {
          try {
            ev.epcList = [toDigitalLink({ gtin: batch.gtin, serial }, GS1_RESOLVER)];
          } catch (err) {
            throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: serial of unit ${unitIndex}: ${(err as Error).message}`, e);
          }
        }
        ext['ledger:pharmacy'] = actor;
        ext['ledger:unitIndex'] = unitIndex;
        const leaf = optArg(e, 'leaf');
        if (leaf !== undefined) ext['ledger:leaf'] = leaf;
        break;
      }
      case 'UnitsWrittenOff': {
        quantity = quantityOf(e);
        actor = arg(e, 'holder');
        reason = LOSS_REASONS[Number(arg(e, 'reason'))]!;
        const at = location(glnOf(e, actor));
        if (at) ev.readPoint = at;
        ext['ledger:holder'] = actor;
        ext['ledger:lossReason'] = reason;
        const h = optArg(e, 'evidenceHash');
        if (h !== undefined) ext['ledger:evidenceHash'] = h;
        break;
      }
    }

    if (ev.epcList === undefined) {
      // Regulator actions concern the whole batch wherever it is: class without quantity.
      ev.quantityList = [quantity === undefined ? { epcClass: batch.epcClass } : { epcClass: batch.epcClass, quantity }];
    }
    ext['ledger:blockNumber'] = e.blockNumber;
    ext['ledger:logIndex'] = e.logIndex;
    ext['ledger:txHash'] = e.txHash;

    // Key order of the JSON: standard fields first, ILMD, then extensions.
    const ordered = {
      type: ev.type,
      eventTime: ev.eventTime,
      eventTimeZoneOffset: ev.eventTimeZoneOffset,
      eventID: '',
      ...(ev.epcList ? { epcList: ev.epcList } : {}),
      ...(ev.quantityList ? { quantityList: ev.quantityList } : {}),
      action: ev.action,
      bizStep: ev.bizStep,
      disposition: ev.disposition,
      ...(ev.readPoint ? { readPoint: ev.readPoint } : {}),
      ...(ev.bizLocation ? { bizLocation: ev.bizLocation } : {}),
      ...(ev.bizTransactionList ? { bizTransactionList: ev.bizTransactionList } : {}),
      ...(ev.sourceList ? { sourceList: ev.sourceList } : {}),
      ...(ev.destinationList ? { destinationList: ev.destinationList } : {}),
      ...(ev.ilmd ? { ilmd: ev.ilmd } : {}),
      ...ext,
    } as EpcisObjectEvent;
    ordered.eventID = eventHash(ordered, ns);

    const row: EpcisRow = {
      eventID: ordered.eventID,
      eventTime: ordered.eventTime,
      ledgerEvent: e.name,
      ledgerAction,
      action: ordered.action,
      bizStep: ordered.bizStep,
      disposition: ordered.disposition,
      gtin: batch.gtin,
      lot: batch.lot,
      expiry: batch.expiryIso,
      epcClass: ordered.quantityList?.[0]?.epcClass ?? null,
      epcs: ordered.epcList?.join(' ') ?? null,
      quantity: quantity ?? null,
      readPoint: ordered.readPoint?.id ?? null,
      bizLocation: ordered.bizLocation?.id ?? null,
      sourceParty: ordered.sourceList?.[0]?.source ?? null,
      destinationParty: ordered.destinationList?.[0]?.destination ?? null,
      bizTransaction: bizTx ?? null,
      reason: reason ?? null,
      batchId: e.batchId,
      shipmentId: shipmentId ?? null,
      actor: actor ?? null,
      blockNumber: e.blockNumber,
      blockTime: e.blockTime,
      logIndex: e.logIndex,
      txHash: e.txHash,
    };
    return { event: ordered, row };
  });
}

/** Which row of {@link EPCIS_MAPPING} a ledger event maps to. */
export function ledgerActionOf(e: LedgerEvent, shipments: ReadonlyMap<string, LedgerEvent> = new Map()): LedgerAction {
  return classify(e, shipments);
}

function classify(e: LedgerEvent, created: ReadonlyMap<string, LedgerEvent>): LedgerAction {
  switch (e.name) {
    case 'BatchMinted':
      return 'commission';
    case 'ShipmentCreated':
      return 'ship';
    case 'ShipmentAccepted': {
      const origin = created.get(String(e.args['shipmentId']));
      return isTrue(e.args['isReturn'] ?? origin?.args['isReturn']) ? 'receiveReturn' : 'receive';
    }
    case 'ShipmentRejected':
      return 'reject';
    case 'ShipmentCancelled':
      return 'cancel';
    case 'BatchQuarantined':
      return 'quarantine';
    case 'BatchQuarantineLifted':
      return 'liftQuarantine';
    case 'BatchRecalled':
      return 'recall';
    case 'UnitDispensed':
      return 'dispense';
    case 'UnitsWrittenOff': {
      const r = String(e.args['reason']);
      if (r === '0') return 'destroy';
      if (r === '1') return 'stolen';
      throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: unknown loss reason '${r}' (0 = Destroyed, 1 = Stolen)`, e);
    }
    default:
      throw new EpcisMappingError('EPCIS_BAD_EVENT', `${where(e)}: no EPCIS mapping for ledger event '${String((e as LedgerEvent).name)}'`, e);
  }
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
export function canonicalEventString(ev: EpcisObjectEvent, ledgerNamespace = DEFAULT_LEDGER_NAMESPACE): string {
  return eventPreHash(ev as unknown as JsonObject, epcisDocumentContext(ledgerNamespace));
}

/** `ni:///sha-256;{hex}?ver=CBV2.0`: the CBV 2.0 event hash, equal to GS1's reference generator's. */
export function eventHash(ev: EpcisObjectEvent, ledgerNamespace = DEFAULT_LEDGER_NAMESPACE): string {
  return eventHashId(ev as unknown as JsonObject, epcisDocumentContext(ledgerNamespace));
}

// ─── Public API ───────────────────────────────────────────────────────────────────────────────

/** An EPCIS 2.0 JSON-LD document of the events (sorted by block and log index). */
export function toEpcisDocument(events: readonly LedgerEvent[], ctx: EpcisContext, options: EpcisOptions = {}): EpcisDocument {
  const ns = options.ledgerNamespace ?? DEFAULT_LEDGER_NAMESPACE;
  const created = options.creationDate ?? new Date();
  return {
    '@context': epcisDocumentContext(ns),
    type: 'EPCISDocument',
    schemaVersion: '2.0',
    creationDate: (typeof created === 'string' ? new Date(created) : created).toISOString(),
    epcisBody: { eventList: buildAll(events, ctx, options).map((b) => b.event) },
  };
}

/** The events as flat rows (same content and order as the document). */
export function toRows(events: readonly LedgerEvent[], ctx: EpcisContext, options: EpcisOptions = {}): EpcisRow[] {
  return buildAll(events, ctx, options).map((b) => b.row);
}

export interface CsvOptions extends EpcisOptions {
  /**
   * Prefix a cell that starts with `=`, `+`, `-`, `@`, tab or CR with `'` so spreadsheets do not run
   * it as a formula (lots may hold `=`, `+`, `-`: all are in GS1 set 82). Default true.
   */
  formulaGuard?: boolean;
}

function csvCell(v: string | number | null, guard: boolean): string {
  if (v === null) return '';
  let s = String(v);
  if (guard && typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) || s !== s.trim() ? `"${s.replace(/"/g, '""')}"` : s;
}

/** RFC 4180 CSV (CRLF line ends, header row, one row per event, columns {@link CSV_COLUMNS}). */
export function toCsv(events: readonly LedgerEvent[], ctx: EpcisContext, options: CsvOptions = {}): string {
  const guard = options.formulaGuard ?? true;
  const lines = [CSV_COLUMNS.join(',')];
  for (const row of toRows(events, ctx, options)) lines.push(CSV_COLUMNS.map((c) => csvCell(row[c], guard)).join(','));
  return lines.join('\r\n') + '\r\n';
}
