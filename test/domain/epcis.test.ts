import { expect } from 'chai';
import type { ValidateFunction } from 'ajv';
import { dayNumber, withCheckDigit } from '../../api/domain/gs1';
import {
  CSV_COLUMNS,
  DEFAULT_LEDGER_NAMESPACE,
  EPCIS_CONTEXT_URL,
  EPCIS_MAPPING,
  EpcisMappingError,
  canonicalEventString,
  eventHash,
  toCsv,
  toEpcisDocument,
  toRows,
  type EpcisContext,
  type EpcisDocument,
  type EpcisObjectEvent,
  type LedgerAction,
  type LedgerEvent,
} from '../../api/domain/epcis';
import { epcisValidator } from '../fixtures/epcis/validator';
import { compareWithEpcis2 } from '../fixtures/epcis/reference-hash';
import type { JsonObject } from '../../api/domain/epcis-hash';

// ─── Schema ───────────────────────────────────────────────────────────────────────────────────

function loadValidator(): ValidateFunction {
  return epcisValidator();
}

// ─── A realistic history ──────────────────────────────────────────────────────────────────────

const PRODUCER = '0x1000000000000000000000000000000000000001';
const DISTRIBUTOR = '0x2000000000000000000000000000000000000002';
const PHARMACY = '0x3000000000000000000000000000000000000003';
const REGULATOR = '0x4000000000000000000000000000000000000004'; // no GLN in the register
const GLN: Record<string, string> = {
  [PRODUCER.toLowerCase()]: withCheckDigit('950600013400'),
  [DISTRIBUTOR.toLowerCase()]: withCheckDigit('950600013410'),
  [PHARMACY.toLowerCase()]: withCheckDigit('950600013420'),
};
const GTIN = '09506000134352';
const LOT = 'LOT-2027/A';
const EXPIRY_DAY = dayNumber(2027, 12, 31);
const REF = '0x' + 'ab'.repeat(32);
const ZERO = '0x' + '00'.repeat(32);
const h = (n: number) => '0x' + n.toString(16).padStart(64, '0');
const T0 = Date.UTC(2026, 2, 2, 8, 0, 0) / 1000;

const ctx: EpcisContext = {
  batches: { '1': { gtin: GTIN, lot: LOT, expiryDay: EXPIRY_DAY, producer: PRODUCER } },
  glnOf: (a) => GLN[a.toLowerCase()],
  serialOf: (batchId, unitIndex) => (batchId === '1' && unitIndex === '7' ? 'SN-0007' : undefined),
};

let block = 100;
function ev(name: LedgerEvent['name'], args: LedgerEvent['args'], logIndex = 0): LedgerEvent {
  const n = ++block;
  return { name, batchId: '1', args: { batchId: '1', ...args }, blockNumber: n, blockTime: T0 + n * 60, txHash: h(n), logIndex };
}
const ship = (id: number, from: string, to: string, quantity: string, isReturn: boolean, referenceHash = REF) =>
  ev('ShipmentCreated', { sender: from, receiver: to, shipmentId: String(id), quantity, isReturn, referenceHash });
const parties = (id: number, from: string, to: string, quantity: string) => ({ sender: from, receiver: to, shipmentId: String(id), quantity });

const HISTORY: Array<{ event: LedgerEvent; expect: LedgerAction }> = [
  {
    event: ev('BatchMinted', {
      producer: PRODUCER,
      gtin: '9506000134352',
      lot: LOT,
      expiryDay: EXPIRY_DAY,
      quantity: '1000',
      serialsRoot: h(0xbeef),
      serialCount: 1000,
      documentHash: h(0xd0c),
    }),
    expect: 'commission',
  },
  { event: ship(1, PRODUCER, DISTRIBUTOR, '600', false), expect: 'ship' },
  { event: ev('ShipmentAccepted', parties(1, PRODUCER, DISTRIBUTOR, '600')), expect: 'receive' },
  { event: ship(2, DISTRIBUTOR, PHARMACY, '100', false, ZERO), expect: 'ship' },
  { event: ev('ShipmentAccepted', parties(2, DISTRIBUTOR, PHARMACY, '100')), expect: 'receive' },
  // Two dispenses in one block: ordered by log index.
  ...((): Array<{ event: LedgerEvent; expect: LedgerAction }> => {
    const first = ev('UnitDispensed', { pharmacy: PHARMACY, unitIndex: '7', leaf: h(7) }, 0);
    const second: LedgerEvent = {
      ...first,
      args: { batchId: '1', pharmacy: PHARMACY, unitIndex: '8', leaf: h(8) },
      txHash: h(first.blockNumber + 0x1000),
      logIndex: 1,
    };
    return [
      { event: first, expect: 'dispense' },
      { event: second, expect: 'dispense' },
    ];
  })(),
  { event: ship(3, DISTRIBUTOR, PHARMACY, '50', false), expect: 'ship' },
  { event: ev('ShipmentRejected', { ...parties(3, DISTRIBUTOR, PHARMACY, '50'), reason: 4 }), expect: 'reject' },
  { event: ship(4, PHARMACY, DISTRIBUTOR, '10', true), expect: 'ship' },
  { event: ev('ShipmentAccepted', parties(4, PHARMACY, DISTRIBUTOR, '10')), expect: 'receiveReturn' },
  { event: ship(5, DISTRIBUTOR, PHARMACY, '5', false), expect: 'ship' },
  { event: ev('ShipmentCancelled', parties(5, DISTRIBUTOR, PHARMACY, '5')), expect: 'cancel' },
  { event: ev('BatchQuarantined', { regulator: REGULATOR, reasonHash: h(0x51) }), expect: 'quarantine' },
  { event: ev('BatchQuarantineLifted', { regulator: REGULATOR, reasonHash: h(0x52) }), expect: 'liftQuarantine' },
  { event: ev('BatchRecalled', { regulator: REGULATOR, reasonHash: h(0x53) }), expect: 'recall' },
  { event: ev('UnitsWrittenOff', { holder: DISTRIBUTOR, reason: 0, quantity: '20', evidenceHash: h(0xe1) }), expect: 'destroy' },
  { event: ev('UnitsWrittenOff', { holder: PHARMACY, reason: '1', quantity: '3', evidenceHash: h(0xe2) }), expect: 'stolen' },
];
const EVENTS = HISTORY.map((x) => x.event);
const CREATED = '2026-03-10T12:00:00.000Z';

describe('epcis: ledger events → EPCIS 2.0', () => {
  let validate: ValidateFunction;
  let doc: EpcisDocument;
  let list: EpcisObjectEvent[];

  before(() => {
    validate = loadValidator();
    // Shuffled input: the document is ordered by (blockNumber, logIndex) whatever the input order.
    doc = toEpcisDocument([...EVENTS].reverse(), ctx, { creationDate: CREATED });
    list = doc.epcisBody.eventList;
  });

  describe('GS1 EPCIS 2.0 JSON schema', () => {
    it('the document validates', () => {
      const ok = validate(doc);
      expect(ok, JSON.stringify(validate.errors, null, 2)).to.equal(true);
    });

    it('each event validates on its own (with @context)', () => {
      for (const e of list) {
        const standalone = { '@context': doc['@context'], ...e };
        expect(validate(standalone), `${e['ledger:event']}: ${JSON.stringify(validate.errors)}`).to.equal(true);
      }
    });

    const broken: Array<[string, (d: any) => void]> = [
      ['missing eventTime', (d) => delete d.epcisBody.eventList[1].eventTime],
      ['bad action', (d) => (d.epcisBody.eventList[1].action = 'MOVE')],
      ['ILMD on an OBSERVE event', (d) => (d.epcisBody.eventList[1].ilmd = { 'cbvmda:lotNumber': LOT })],
      ['bad time zone offset', (d) => (d.epcisBody.eventList[2].eventTimeZoneOffset = 'UTC')],
      ['unprefixed extension field', (d) => (d.epcisBody.eventList[3].txHash = '0x1')],
      ['no identifiers', (d) => delete d.epcisBody.eventList[0].quantityList],
      ['missing schemaVersion', (d) => delete d.schemaVersion],
      ['eventTime that is not a date-time (formats active)', (d) => (d.epcisBody.eventList[4].eventTime = '2026-03-02 08:00')],
      ['unknown bizStep that is not a URI', (d) => (d.epcisBody.eventList[4].bizStep = 'teleporting')],
      ['bad source type', (d) => (d.epcisBody.eventList[1].sourceList[0].type = 'owner')],
    ];
    for (const [what, breakIt] of broken) {
      it(`the same validator rejects a document with ${what}`, () => {
        const copy = JSON.parse(JSON.stringify(doc));
        expect(validate(copy)).to.equal(true);
        breakIt(copy);
        expect(validate(copy)).to.equal(false);
      });
    }
  });

  describe('envelope', () => {
    it('has the EPCIS 2.0 context, the ledger namespace and the creation date', () => {
      expect(doc['@context']).to.deep.equal([EPCIS_CONTEXT_URL, { ledger: DEFAULT_LEDGER_NAMESPACE, cbvmda: 'urn:epcglobal:cbv:mda:' }]);
      expect(doc.type).to.equal('EPCISDocument');
      expect(doc.schemaVersion).to.equal('2.0');
      expect(doc.creationDate).to.equal(CREATED);
      expect(list).to.have.length(EVENTS.length);
    });
  });

  describe('mapping', () => {
    it('each event follows its row of EPCIS_MAPPING', () => {
      list.forEach((e, i) => {
        const row = EPCIS_MAPPING[HISTORY[i]!.expect];
        expect(e['ledger:event'], `event ${i}`).to.equal(HISTORY[i]!.event.name);
        expect(e['ledger:event']).to.equal(row.ledgerEvent);
        expect([e.type, e.action, e.bizStep, e.disposition], `event ${i} ${e['ledger:event']}`).to.deep.equal([
          'ObjectEvent',
          row.action,
          row.bizStep,
          row.disposition,
        ]);
      });
    });

    it('matches the STANDARDS.md table', () => {
      const table: Array<[LedgerAction, string, string, string]> = [
        ['commission', 'ADD', 'commissioning', 'active'],
        ['ship', 'OBSERVE', 'shipping', 'in_transit'],
        ['receive', 'OBSERVE', 'receiving', 'in_progress'],
        ['reject', 'OBSERVE', 'receiving', 'non_sellable_other'],
        ['receiveReturn', 'OBSERVE', 'receiving', 'returned'],
        ['quarantine', 'OBSERVE', 'holding', 'non_sellable_other'],
        ['recall', 'OBSERVE', 'holding', 'recalled'],
        ['dispense', 'OBSERVE', 'dispensing', 'dispensed'],
        ['destroy', 'DELETE', 'destroying', 'destroyed'],
        ['stolen', 'OBSERVE', 'other', 'stolen'],
      ];
      for (const [a, action, bizStep, disposition] of table) {
        expect({ action: EPCIS_MAPPING[a].action, bizStep: EPCIS_MAPPING[a].bizStep, disposition: EPCIS_MAPPING[a].disposition }, a).to.deep.equal({
          action,
          bizStep,
          disposition,
        });
      }
      expect(EPCIS_MAPPING.cancel.bizStep).to.equal('void_shipping');
      expect(EPCIS_MAPPING.cancel.why).to.be.a('string');
      expect(EPCIS_MAPPING.liftQuarantine.why).to.be.a('string');
    });

    it('ILMD only on the ADD (commissioning) event', () => {
      const withIlmd = list.filter((e) => e.ilmd !== undefined);
      expect(withIlmd).to.have.length(1);
      expect(withIlmd[0]!.action).to.equal('ADD');
      expect(withIlmd[0]!.ilmd).to.deep.equal({ 'cbvmda:lotNumber': LOT, 'cbvmda:itemExpirationDate': '2027-12-31' });
    });

    it('class-level identifiers for the batch, instance-level for a dispensed unit with a known serial', () => {
      const epcClass = 'https://id.gs1.org/01/09506000134352/10/LOT-2027%2FA';
      expect(list[0]!.quantityList).to.deep.equal([{ epcClass, quantity: 1000 }]);
      expect(list[1]!.quantityList).to.deep.equal([{ epcClass, quantity: 600 }]);
      expect(list[5]!.epcList).to.deep.equal(['https://id.gs1.org/01/09506000134352/21/SN-0007']);
      expect(list[5]!.quantityList).to.equal(undefined);
      expect(list[6]!.quantityList).to.deep.equal([{ epcClass, quantity: 1 }]);
      expect(list[6]!['ledger:unitIndex']).to.equal('8');
      expect(list[13]!.quantityList).to.deep.equal([{ epcClass }]); // quarantine: whole batch
    });

    it('locations and parties as Digital Link GLNs; reference hash as bizTransaction', () => {
      const ship1 = list[1]!;
      const p = GLN[PRODUCER.toLowerCase()]!;
      const d = GLN[DISTRIBUTOR.toLowerCase()]!;
      expect(ship1.readPoint).to.deep.equal({ id: `https://id.gs1.org/414/${p}` });
      expect(ship1.bizLocation).to.equal(undefined);
      expect(ship1.sourceList).to.deep.equal([
        { type: 'owning_party', source: `https://id.gs1.org/417/${p}` },
        { type: 'possessing_party', source: `https://id.gs1.org/417/${p}` },
      ]);
      expect(ship1.destinationList![0]).to.deep.equal({ type: 'owning_party', destination: `https://id.gs1.org/417/${d}` });
      expect(ship1.bizTransactionList).to.deep.equal([{ type: 'desadv', bizTransaction: `urn:medtrace:ref:${REF}` }]);
      // The accept of the same shipment carries the same reference, and is read at the receiver.
      expect(list[2]!.bizTransactionList).to.deep.equal(ship1.bizTransactionList);
      expect(list[2]!.bizLocation).to.deep.equal({ id: `https://id.gs1.org/414/${d}` });
      // A zero reference hash is no reference.
      expect(list[3]!.bizTransactionList).to.equal(undefined);
      // The regulator has no GLN: no location, its address in the extension.
      expect(list[13]!.readPoint).to.equal(undefined);
      expect(list[13]!['ledger:regulator']).to.equal(REGULATOR);
      expect(list[8]!['ledger:rejectReason']).to.equal('TemperatureExcursion');
      expect(list[16]!['ledger:lossReason']).to.equal('Destroyed');
    });

    it('time, chain proof and event IDs', () => {
      list.forEach((e, i) => {
        const src = HISTORY[i]!.event;
        expect(e.eventTime).to.equal(new Date(src.blockTime * 1000).toISOString());
        expect(e.eventTimeZoneOffset).to.equal('+00:00');
        expect(e['ledger:txHash']).to.equal(src.txHash);
        expect(e['ledger:logIndex']).to.equal(src.logIndex);
        expect(e['ledger:blockNumber']).to.equal(src.blockNumber);
        expect(e.eventID).to.match(/^ni:\/\/\/sha-256;[0-9a-f]{64}\?ver=CBV2\.0$/);
        expect(e.eventID).to.equal(eventHash({ ...e, eventID: '' }));
      });
      expect(new Set(list.map((e) => e.eventID)).size).to.equal(list.length);
      // Deterministic, and sensitive to every field.
      const again = toEpcisDocument(EVENTS, ctx, { creationDate: CREATED });
      expect(again.epcisBody.eventList.map((e) => e.eventID)).to.deep.equal(list.map((e) => e.eventID));
      const changed = { ...list[1]!, quantityList: [{ epcClass: list[1]!.quantityList![0]!.epcClass, quantity: 601 }] };
      expect(eventHash(changed)).to.not.equal(list[1]!.eventID);
      expect(canonicalEventString(list[1]!)).to.match(/^eventType=ObjectEventeventTime=2026-03-02T\d\d:\d\d:00\.000ZeventTimeZoneOffset=\+00:00quantityList/);
      expect(canonicalEventString(list[1]!)).to.contain('bizStep=https://ref.gs1.org/cbv/BizStep-shipping');
    });

    it('gives every event the CBV 2.0 hash epcis2.js gives it (up to the documented source/destination order)', () => {
      const r = compareWithEpcis2(list as unknown as JsonObject[], doc['@context']);
      expect(r.mismatches, JSON.stringify(r.mismatches, null, 2)).to.deep.equal([]);
      expect(r.compared).to.equal(list.length);
      // Shipments, accepts, rejects and cancels carry both lists; every other event is identical.
      expect(r.listOrderOnly).to.equal(list.filter((e) => e.sourceList && e.destinationList).length);
      expect(r.identical).to.equal(list.filter((e) => !(e.sourceList && e.destinationList)).length);
      expect(r.identical).to.be.greaterThan(0);
      expect(r.listOrderOnly).to.be.greaterThan(0);
    });

    it('refuses what it cannot map, with a reason', () => {
      const orphan = { ...EVENTS[1]!, batchId: '99' };
      expect(() => toEpcisDocument([orphan], ctx)).to.throw(EpcisMappingError).with.property('code', 'EPCIS_UNKNOWN_BATCH');
      const badLoss = { ...EVENTS[16]!, args: { ...EVENTS[16]!.args, reason: 7 } };
      expect(() => toEpcisDocument([badLoss], ctx)).to.throw(/loss reason/);
      const badGln = { ...ctx, glnOf: () => '1234567890123' };
      expect(() => toEpcisDocument(EVENTS, badGln)).to.throw(EpcisMappingError).with.property('code', 'EPCIS_BAD_GLN');
    });

    it('takes batch facts from BatchMinted when the context lacks them', () => {
      const d = toEpcisDocument(EVENTS, { ...ctx, batches: {} }, { creationDate: CREATED });
      expect(d.epcisBody.eventList.map((e) => e.eventID)).to.deep.equal(list.map((e) => e.eventID));
    });
  });

  describe('rows and CSV', () => {
    it('one flat row per event, same order and IDs', () => {
      const rows = toRows(EVENTS, ctx, { creationDate: CREATED });
      expect(rows.map((r) => r.eventID)).to.deep.equal(list.map((e) => e.eventID));
      expect(rows[0]).to.include({ ledgerAction: 'commission', action: 'ADD', gtin: GTIN, lot: LOT, expiry: '2027-12-31', quantity: 1000 });
      expect(rows[8]).to.include({ ledgerAction: 'reject', reason: 'TemperatureExcursion', shipmentId: '3', actor: PHARMACY });
      expect(rows[10]).to.include({ ledgerAction: 'receiveReturn', disposition: 'returned' });
      expect(rows[13]).to.include({ quantity: null, readPoint: null });
    });

    it('has a header, one line per event and RFC 4180 quoting', () => {
      const tricky = 'L"1,A';
      const c = { ...ctx, batches: { '1': { gtin: GTIN, lot: tricky, expiryDay: EXPIRY_DAY, producer: PRODUCER } } };
      const csv = toCsv(EVENTS, c);
      expect(csv.endsWith('\r\n')).to.equal(true);
      const lines = csv.slice(0, -2).split('\r\n');
      expect(lines).to.have.length(EVENTS.length + 1);
      expect(lines[0]).to.equal(CSV_COLUMNS.join(','));
      expect(lines[1]).to.contain(',"L""1,A",');
      // Parse back with a strict RFC 4180 reader: every line has exactly the header's columns.
      const parsed = lines.map(parseCsvLine);
      for (const cells of parsed) expect(cells).to.have.length(CSV_COLUMNS.length);
      expect(parsed[1]![CSV_COLUMNS.indexOf('lot')]).to.equal(tricky);
      expect(parsed[1]![CSV_COLUMNS.indexOf('quantity')]).to.equal('1000');
      expect(parsed[14]![CSV_COLUMNS.indexOf('quantity')]).to.equal('');
    });

    it('guards against spreadsheet formulas in values (lots may start with = + -)', () => {
      const c = { ...ctx, batches: { '1': { gtin: GTIN, lot: '=1+2', expiryDay: EXPIRY_DAY, producer: PRODUCER } } };
      const lot = (csv: string) => parseCsvLine(csv.split('\r\n')[1]!)[CSV_COLUMNS.indexOf('lot')];
      expect(lot(toCsv(EVENTS.slice(0, 1), c))).to.equal("'=1+2");
      expect(lot(toCsv(EVENTS.slice(0, 1), c, { formulaGuard: false }))).to.equal('=1+2');
    });
  });
});

/** Strict RFC 4180 parser for one record (no embedded line breaks in our data). */
function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    let cell = '';
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new Error(`unterminated quote in ${line}`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') {
            cell += '"';
            i += 2;
            continue;
          }
          i++;
          break;
        }
        cell += line[i++];
      }
      if (i < line.length && line[i] !== ',') throw new Error(`text after closing quote in ${line}`);
    } else {
      while (i < line.length && line[i] !== ',') {
        if (line[i] === '"') throw new Error(`bare quote in ${line}`);
        cell += line[i++];
      }
    }
    cells.push(cell);
    if (i >= line.length) return cells;
    i++; // comma
  }
}
