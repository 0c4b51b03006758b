import { withCheckDigit, dayNumber } from '../../api/domain/gs1';
import type { EpcisContext } from '../../api/domain/epcis';
import type { ItemArg, LedgerArg, LedgerEvent, LedgerEventName } from '../../api/domain/ledger-events';
import { gtinFromNdc, type PartyMasterData, type ProductMasterData } from '../../api/domain/master-data';
import { assignSsccs, prefixKey, type PackingList } from '../../api/domain/packing';
import { prefixLengthFinder } from '../../api/domain/epc-urn';
import { parseBizTransactions, bizTransactionsReferenceHash, type BizTransaction } from '../../api/domain/biz-transactions';

/**
 * A realistic multi-batch ledger history, written as BatchToken would log it (events of one
 * transaction share a block, log indexes count up), with the off-chain facts a read side holds:
 * GLNs, serial lists, SSCCs, business documents, master data, company prefixes. Shared by the
 * EPCIS and DSCSA tests. Every batch replays without anomaly through the custody reducer (checked
 * by the tests), so the story is one the contracts allow.
 */

export const PRODUCER = '0x1000000000000000000000000000000000000001';
export const DISTRIBUTOR = '0x2000000000000000000000000000000000000002';
export const DISTRIBUTOR2 = '0x2000000000000000000000000000000000000003';
export const PHARMACY = '0x3000000000000000000000000000000000000004';
export const US_DISTRIBUTOR = '0x5000000000000000000000000000000000000005';
export const REGULATOR_DE = '0x4000000000000000000000000000000000000006';
export const REGULATOR_FR = '0x4000000000000000000000000000000000000007'; // no GLN in the register

export const EU_PREFIX = '9506000';
export const US_PREFIX = '0312345';
export const US_PARTNER_PREFIX = '0614141';
export const GLN: Record<string, string> = {
  [PRODUCER]: withCheckDigit('950600000001'),
  [DISTRIBUTOR]: withCheckDigit('950600000002'),
  [DISTRIBUTOR2]: withCheckDigit('950600000003'),
  [PHARMACY]: withCheckDigit('950600000004'),
  [US_DISTRIBUTOR]: withCheckDigit('061414100001'),
  [REGULATOR_DE]: withCheckDigit('950600000006'),
};

export const EU_GTIN = '09506000134352';
export const US_NDC = '12345-678-90';
export const US_GTIN = gtinFromNdc(US_NDC);
const EXPIRY = dayNumber(2028, 6, 30);
const T0 = Date.UTC(2026, 2, 2, 8, 0, 0) / 1000;
const h = (n: number) => '0x' + n.toString(16).padStart(64, '0');
export const ZERO = '0x' + '00'.repeat(32);

const u = (start: number, count = 1): ItemArg => ({ kind: 0, start, count });
const c = (start: number, count = 1): ItemArg => ({ kind: 1, start, count });
const p = (start: number, count = 1): ItemArg => ({ kind: 2, start, count });

/** Business documents by reference hash, as the read side would store them. */
export const DOCUMENTS = new Map<string, BizTransaction[]>();
function documents(list: unknown): string {
  const docs = parseBizTransactions(list);
  const hash = bizTransactionsReferenceHash(docs);
  DOCUMENTS.set(hash, docs);
  return hash;
}
const PO_1 = documents([
  { type: 'po', id: 'PO-2026-0001', issuer: GLN[DISTRIBUTOR] },
  { type: 'desadv', id: 'ASN/0001', issuer: GLN[PRODUCER] },
]);
const INV_US = documents([
  { type: 'inv', id: 'INV-77', issuer: GLN[PRODUCER] },
  { type: 'po', id: '4500012345', issuer: GLN[US_DISTRIBUTOR] },
]);
/** A reference whose documents the read side does not hold. */
export const UNKNOWN_REF = '0x' + 'ab'.repeat(32);

export interface Batch {
  id: string;
  gtin: string;
  lot: string;
  serials?: (string | undefined)[];
  packing?: PackingList;
  units: number;
  unitsPerCase: number;
  casesPerPallet: number;
}
export const BATCHES: Record<string, Batch> = {
  '1': { id: '1', gtin: EU_GTIN, lot: 'LOT-A/2026', units: 40, unitsPerCase: 10, casesPerPallet: 2, serials: Array.from({ length: 40 }, (_, i) => `A${String(i).padStart(4, '0')}`), packing: assignSsccs({ units: 40, unitsPerCase: 10, casesPerPallet: 2 }, EU_PREFIX, 1000) },
  // Serials known only for packs 0–5 (the rest of the list was never uploaded).
  '2': { id: '2', gtin: EU_GTIN, lot: 'LOT-B', units: 12, unitsPerCase: 0, casesPerPallet: 0, serials: Array.from({ length: 12 }, (_, i) => (i < 6 ? `B${i}` : undefined)) },
  '3': { id: '3', gtin: EU_GTIN, lot: 'LOT-C', units: 0, unitsPerCase: 0, casesPerPallet: 0 },
  '4': { id: '4', gtin: US_GTIN, lot: 'US1', units: 24, unitsPerCase: 6, casesPerPallet: 2, serials: Array.from({ length: 24 }, (_, i) => `US&${i}`), packing: assignSsccs({ units: 24, unitsPerCase: 6, casesPerPallet: 2 }, US_PREFIX, 500) },
};

export const EVENTS: LedgerEvent[] = [];
let block = 1000;
/** One transaction: its events share a block and count log indexes up. */
function tx(...logs: Array<[LedgerEventName, string, Record<string, LedgerArg>]>): void {
  const n = ++block;
  logs.forEach(([name, batchId, args], logIndex) =>
    EVENTS.push({ name, batchId, args: batchId === '0' ? args : { batchId, ...args }, blockNumber: n, blockTime: T0 + (n - 1000) * 600, txHash: h(n), logIndex }),
  );
}
let shipments = 0;
function ship(batchId: string, sender: string, receiver: string, quantity: number, items: ItemArg[], kind = 0, referenceHash = ZERO, opened: Array<[number, number]> = []): string {
  const id = String(++shipments);
  tx(
    ['ShipmentCreated', batchId, { sender, receiver, shipmentId: id, quantity: String(quantity), kind, referenceHash, items }],
    ...opened.map(([kind2, index]): [LedgerEventName, string, Record<string, LedgerArg>] => ['ContainerUnpacked', batchId, { holder: sender, kind: kind2, index }]),
  );
  return id;
}
const parties = (id: string, sender: string, receiver: string, quantity: number) => ({ sender, receiver, shipmentId: id, quantity: String(quantity) });
function mint(b: Batch, quantity: number) {
  tx(
    ['BatchMinted', b.id, { producer: PRODUCER, gtin: String(BigInt(b.gtin)), lot: b.lot, expiryDay: EXPIRY, quantity: String(quantity), serialsRoot: b.units ? h(0x500 + Number(b.id)) : ZERO, serialCount: b.units, documentHash: h(0xd0c) }],
    ['BatchMarkets', b.id, { markets: b.gtin === US_GTIN ? ['US'] : ['DE', 'FR'] }],
    ...(b.unitsPerCase > 0 ? [['BatchPacked', b.id, { unitsPerCase: b.unitsPerCase, casesPerPallet: b.casesPerPallet, packingRoot: h(0x9ac) }] as [LedgerEventName, string, Record<string, LedgerArg>]] : []),
  );
}

// ── Products ──
tx(['ProductRegistered', '0', { gtin: String(BigInt(EU_GTIN)), owner: PRODUCER, prefixKey: String(prefixKey(EU_PREFIX)), markets: ['DE', 'FR'], masterDataHash: h(1) }]);
tx(['ProductRegistered', '0', { gtin: String(BigInt(US_GTIN)), owner: PRODUCER, prefixKey: String(prefixKey(US_PREFIX)), markets: ['US'], masterDataHash: h(2) }]);

// ── Batch 1: pallets and cases, shipped by SSCC, opened, picked ──
const B1 = BATCHES['1']!;
mint(B1, 40);
const s1 = ship('1', PRODUCER, DISTRIBUTOR, 20, [p(0)], 0, PO_1);
tx(['ShipmentAccepted', '1', parties(s1, PRODUCER, DISTRIBUTOR, 20)]);
tx(['ContainerUnpacked', '1', { holder: DISTRIBUTOR, kind: 2, index: 0 }]);
const s2 = ship('1', DISTRIBUTOR, PHARMACY, 10, [c(0)], 0, UNKNOWN_REF);
tx(['ShipmentAccepted', '1', parties(s2, DISTRIBUTOR, PHARMACY, 10)]);
// Packs 10–12 picked out of sealed case 1 (which opens), rejected by the pharmacy.
const s3 = ship('1', DISTRIBUTOR, PHARMACY, 3, [u(10, 3)], 0, ZERO, [[1, 1]]);
tx(['ShipmentRejected', '1', { ...parties(s3, DISTRIBUTOR, PHARMACY, 3), reason: 4 }]);
const s4 = ship('1', DISTRIBUTOR, DISTRIBUTOR2, 2, [u(13, 2)]);
tx(['ShipmentCancelled', '1', parties(s4, DISTRIBUTOR, DISTRIBUTOR2, 2)]);
// The pharmacy dispenses out of its sealed case (which opens), undoes one.
tx(['UnitDispensed', '1', { pharmacy: PHARMACY, unitIndex: '0', leaf: h(0x10) }], ['ContainerUnpacked', '1', { holder: PHARMACY, kind: 1, index: 0 }]);
tx(['UnitDispensed', '1', { pharmacy: PHARMACY, unitIndex: '1', leaf: h(0x11) }]);
tx(['DispenseUndone', '1', { pharmacy: PHARMACY, unitIndex: '1', reasonHash: h(0x12) }]);
tx(['PacksDecommissioned', '1', { holder: PHARMACY, state: 5, items: [u(2)], quantity: '1', evidenceHash: h(0x13) }]);
tx(['PacksDecommissioned', '1', { holder: PHARMACY, state: 7, items: [u(3)], quantity: '1', evidenceHash: h(0x14) }]);
tx(['DecommissionReverted', '1', { holder: PHARMACY, items: [u(3)], quantity: '1', reasonHash: h(0x15) }]);
tx(['PacksDecommissioned', '1', { holder: PHARMACY, state: 9, items: [u(7)], quantity: '1', evidenceHash: h(0x16) }]);
tx(['PacksDecommissioned', '1', { holder: PHARMACY, state: 8, items: [u(8)], quantity: '1', evidenceHash: h(0x1e) }]);
tx(['PacksLocked', '1', { holder: PHARMACY, items: [u(4)], reasonHash: h(0x17) }]);
tx(['PacksUnlocked', '1', { holder: PHARMACY, by: REGULATOR_DE, items: [u(4)], reasonHash: h(0x18) }]);
// A return up the chain, accepted.
const s5 = ship('1', PHARMACY, DISTRIBUTOR, 2, [u(5, 2)], 1, PO_1);
tx(['ShipmentAccepted', '1', parties(s5, PHARMACY, DISTRIBUTOR, 2)]);
// Governance closes a stuck shipment, and moves custody.
const s6 = ship('1', DISTRIBUTOR, PHARMACY, 2, [u(18, 2)]);
tx(['ShipmentRecovered', '1', { shipmentId: s6, to: DISTRIBUTOR, evidenceHash: h(0x19) }]);
tx(['CustodyRecovered', '1', { from: DISTRIBUTOR, to: DISTRIBUTOR2, state: 0, items: [u(15, 2)], quantity: '2', evidenceHash: h(0x1a) }]);
tx(['CustodyRecovered', '1', { from: DISTRIBUTOR, to: '0x' + '00'.repeat(20), state: 5, items: [u(17)], quantity: '1', evidenceHash: h(0x1b) }]);
tx(['CustodyPaused', '0', { paused: true, reasonHash: h(0x1c) }]);
tx(['CustodyPaused', '0', { paused: false, reasonHash: h(0x1d) }]);
// Two markets quarantine; one lifts (the other still holds); the other lifts; then a recall.
tx(['BatchQuarantined', '1', { regulator: REGULATOR_DE, jurisdiction: 'DE', reasonHash: h(0x20) }]);
tx(['BatchQuarantined', '1', { regulator: REGULATOR_FR, jurisdiction: 'FR', reasonHash: h(0x21) }]);
tx(['BatchQuarantineLifted', '1', { regulator: REGULATOR_DE, jurisdiction: 'DE', reasonHash: h(0x22) }]);
tx(['BatchQuarantineLifted', '1', { regulator: REGULATOR_FR, jurisdiction: 'FR', reasonHash: h(0x23) }]);
tx(['SafetyNoticeIssued', '1', { regulator: REGULATOR_FR, jurisdiction: 'FR', noticeHash: h(0x24) }]);
tx(['BatchRecalled', '1', { by: REGULATOR_DE, reasonHash: h(0x25) }]);
// After the recall the rejected packs go back to the producer.
const s7 = ship('1', DISTRIBUTOR, PRODUCER, 3, [u(10, 3)], 1, UNKNOWN_REF);
tx(['ShipmentAccepted', '1', parties(s7, DISTRIBUTOR, PRODUCER, 3)]);

// ── Batch 2: loose packs, half the serials unknown ──
const B2 = BATCHES['2']!;
mint(B2, 12);
const s8 = ship('2', PRODUCER, DISTRIBUTOR, 8, [u(0, 8)]);
tx(['ShipmentAccepted', '2', parties(s8, PRODUCER, DISTRIBUTOR, 8)]);
const s9 = ship('2', DISTRIBUTOR, PHARMACY, 4, [u(2, 2), u(6, 2)]);
tx(['ShipmentAccepted', '2', parties(s9, DISTRIBUTOR, PHARMACY, 4)]);
tx(['UnitDispensed', '2', { pharmacy: PHARMACY, unitIndex: '2', leaf: h(0x30) }]);
tx(['UnitDispensed', '2', { pharmacy: PHARMACY, unitIndex: '6', leaf: h(0x31) }]);
tx(['BatchRecalled', '2', { by: PRODUCER, reasonHash: h(0x32) }]);
tx(['RecallUndone', '2', { reasonHash: h(0x33) }]);

// ── Batch 3: no serials, quantity custody ──
const B3 = BATCHES['3']!;
mint(B3, 500);
const s10 = ship('3', PRODUCER, DISTRIBUTOR, 200, [], 0, PO_1);
tx(['ShipmentAccepted', '3', parties(s10, PRODUCER, DISTRIBUTOR, 200)]);
tx(['UnitsWrittenOff', '3', { holder: DISTRIBUTOR, reason: 0, quantity: '5', evidenceHash: h(0x40) }]);
tx(['UnitsWrittenOff', '3', { holder: DISTRIBUTOR, reason: 1, quantity: '2', evidenceHash: h(0x41) }]);
const s11 = ship('3', DISTRIBUTOR, PHARMACY, 50, []);
tx(['ShipmentRejected', '3', { ...parties(s11, DISTRIBUTOR, PHARMACY, 50), reason: 6 }]);

// ── Batch 4: US product to a US distributor: a pallet, a case out of the other pallet, loose packs ──
const B4 = BATCHES['4']!;
mint(B4, 24);
export const US_SHIPMENT_ID = ship('4', PRODUCER, US_DISTRIBUTOR, 20, [p(0), c(2), u(18, 2)], 0, INV_US, [[2, 1], [1, 3]]);
tx(['ShipmentAccepted', '4', parties(US_SHIPMENT_ID, PRODUCER, US_DISTRIBUTOR, 20)]);

// ── Off-chain facts ──

export const PRODUCTS: Record<string, ProductMasterData> = {
  [EU_GTIN]: { gtin: EU_GTIN, name: 'Ibuprofen Rhein 400 mg', strength: '400 mg', dosageForm: 'film-coated tablet', packSize: '20 tablets', markets: ['DE', 'FR'], nationalCodes: { DE: 'PZN 12345678' } },
  [US_GTIN]: { gtin: US_GTIN, name: 'Ibuprofen Tablets USP', strength: '400 mg', dosageForm: 'TABLET, FILM COATED', packSize: '100 tablets in 1 bottle', manufacturer: 'Rhein Pharma GmbH', markets: ['US'], ndc: US_NDC },
};
const address = (street: string, city: string, postalCode: string, countryCode: string, state?: string) => ({ streetAddressOne: street, city, postalCode, countryCode, ...(state ? { state } : {}) });
export const PARTIES: Record<string, PartyMasterData> = Object.fromEntries(
  [
    { gln: GLN[PRODUCER]!, name: 'Rhein Pharma GmbH', address: address('Rheinallee 1', 'Mainz', '55116', 'DE') },
    { gln: GLN[DISTRIBUTOR]!, name: 'Nord Großhandel AG', address: address('Hafenstraße 5', 'Hamburg', '20457', 'DE') },
    { gln: GLN[PHARMACY]!, name: 'Apotheke am Markt & Söhne', address: address('Markt 3', 'Köln', '50667', 'DE') },
    { gln: GLN[US_DISTRIBUTOR]!, name: 'Atlantic Drug Wholesale, Inc.', address: address('100 Harbor Blvd', 'Newark', '07105', 'US', 'NJ') },
  ].map((x) => [x.gln, x]),
);

/** The read side's static facts; the rest comes from contextFromEvents. */
export const BASE_CONTEXT: EpcisContext = {
  batches: {},
  glnOf: (a) => GLN[a],
  serialOf: (batchId, unit) => BATCHES[batchId]?.serials?.[Number(unit)],
  ssccOf: (batchId, kind, index) => {
    const packing = BATCHES[batchId]?.packing;
    return kind === 1 ? packing?.cases[index] : kind === 2 ? packing?.pallets[index] : undefined;
  },
  bizTransactionsOf: (hash) => DOCUMENTS.get(hash),
  masterData: { product: (gtin) => PRODUCTS[gtin], party: (gln) => PARTIES[gln] },
  prefixLengthOf: prefixLengthFinder([EU_PREFIX, US_PREFIX, US_PARTNER_PREFIX]),
};
