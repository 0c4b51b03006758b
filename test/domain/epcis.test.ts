import { expect } from 'chai';
import type { ValidateFunction } from 'ajv';
import {
  CSV_COLUMNS,
  DEFAULT_LEDGER_NAMESPACE,
  EPCIS_CONTEXT_URL,
  EPCIS_MAPPING,
  EpcisMappingError,
  NOT_EPCIS_EVENTS,
  contextFromEvents,
  eventHash,
  ledgerActionOf,
  ledgerActionsOf,
  toCsv,
  toEpcisDocument,
  toRows,
  type EpcisContext,
  type EpcisDocument,
  type EpcisEvent,
  type LedgerEvent,
} from '../../api/domain/epcis';
import { isConserved, replayBatch } from '../../api/domain/custody';
import type { JsonObject } from '../../api/domain/epcis-hash';
import { epcisValidator } from '../fixtures/epcis/validator';
import { compareWithEpcis2 } from '../fixtures/epcis/reference-hash';
import { BASE_CONTEXT, BATCHES, DISTRIBUTOR, DISTRIBUTOR2, DOCUMENTS, EU_GTIN, EVENTS, GLN, PHARMACY, PRODUCER, UNKNOWN_REF, US_GTIN } from './ledger-scenario';

const CREATED = '2026-04-01T12:00:00.000Z';
const ctx = contextFromEvents(EVENTS, BASE_CONTEXT);
const key = (e: EpcisEvent) => `${e['ledger:txHash']}#${e['ledger:logIndex']}`;
const of = (list: EpcisEvent[], name: string, pick: (e: EpcisEvent) => boolean = () => true) => list.filter((e) => e['ledger:event'] === name && pick(e));
const loc = (address: string) => ({ id: `https://id.gs1.org/414/${GLN[address]}` });
const sgtin = (gtin: string, serial: string) => `https://id.gs1.org/01/${gtin}/21/${encodeURIComponent(serial)}`;
const sscc = (s: string) => `https://id.gs1.org/00/${s}`;
const B1 = BATCHES['1']!;

describe('epcis: ledger events of the package-level model → EPCIS 2.0', () => {
  let validate: ValidateFunction;
  let doc: EpcisDocument;
  let list: EpcisEvent[];

  before(() => {
    validate = epcisValidator();
    doc = toEpcisDocument([...EVENTS].reverse(), ctx, { creationDate: CREATED });
    list = doc.epcisBody.eventList;
  });

  it('the scenario is one the contracts allow: every batch replays without anomaly and is conserved', () => {
    for (const id of Object.keys(BATCHES)) {
      const s = replayBatch(id, EVENTS);
      expect(s.anomalies, `batch ${id}`).to.deep.equal([]);
      expect(isConserved(s), `batch ${id}`).to.equal(true);
    }
  });

  describe('GS1 EPCIS 2.0 JSON schema', () => {
    it('the whole document validates, master data header included', () => {
      expect(validate(doc), JSON.stringify(validate.errors, null, 2)).to.equal(true);
      expect(doc.epcisHeader?.epcisMasterData.vocabularyList.map((v) => v.type)).to.deep.equal([
        'urn:epcglobal:epcis:vtype:EPCClass',
        'urn:epcglobal:epcis:vtype:Location',
        'urn:epcglobal:epcis:vtype:Party',
      ]);
    });

    it('each event validates on its own (with @context), every event type and mapping row included', () => {
      for (const e of list) expect(validate({ '@context': doc['@context'], ...e }), `${e['ledger:event']}: ${JSON.stringify(validate.errors)}`).to.equal(true);
      expect(new Set(list.map((e) => e.type))).to.deep.equal(new Set(['ObjectEvent', 'AggregationEvent']));
      const used = new Set(toRows(EVENTS, ctx).map((r) => r.ledgerAction));
      expect([...Object.keys(EPCIS_MAPPING)].filter((a) => !used.has(a as never))).to.deep.equal([]);
    });

    it('every document of every window validates', () => {
      for (let start = 0; start < EVENTS.length; start += 7) {
        const d = toEpcisDocument(EVENTS.slice(start, start + 11), ctx, { creationDate: CREATED });
        expect(validate(d), `window at ${start}: ${JSON.stringify(validate.errors)}`).to.equal(true);
      }
    });

    const broken: Array<[string, (d: any) => void]> = [
      ['missing eventTime', (d) => delete d.epcisBody.eventList[1].eventTime],
      ['bad action', (d) => (d.epcisBody.eventList[1].action = 'MOVE')],
      ['unprefixed extension field', (d) => (d.epcisBody.eventList[3].txHash = '0x1')],
      ['an ObjectEvent without identifiers', (d) => delete d.epcisBody.eventList[0].epcList],
      ['an AggregationEvent without children', (d) => delete d.epcisBody.eventList.find((e: EpcisEvent) => e.type === 'AggregationEvent').childEPCs],
      ['a persistentDisposition with neither set nor unset', (d) => (d.epcisBody.eventList.find((e: EpcisEvent) => e.persistentDisposition).persistentDisposition = {})],
      ['bad source type', (d) => (d.epcisBody.eventList.find((e: EpcisEvent) => e.sourceList).sourceList[0].type = 'owner')],
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

  describe('eventID', () => {
    it('is the CBV 2.0 hash of every event, unique per event', () => {
      for (const e of list) expect(e.eventID).to.equal(eventHash({ ...e, eventID: '' }));
      expect(new Set(list.map((e) => e.eventID)).size).to.equal(list.length);
    });

    it('equals what epcis2.js computes for every emitted event (up to its documented source/destination order)', () => {
      const r = compareWithEpcis2(list as unknown as JsonObject[], doc['@context']);
      expect(r.mismatches, JSON.stringify(r.mismatches, null, 2)).to.deep.equal([]);
      expect(r.compared).to.equal(list.length);
      // epcis2.js writes sourceList before destinationList where GS1's reference generator (and its
      // published vectors) sorts them: events with both lists differ only by that; all others are identical.
      expect(r.listOrderOnly).to.equal(list.filter((e) => e.sourceList && e.destinationList).length);
      expect(r.identical).to.equal(list.filter((e) => !(e.sourceList && e.destinationList)).length);
      expect(r.identical).to.be.greaterThan(40);
    });
  });

  describe('one canonical content per ledger event, whatever the export window', () => {
    const byLedgerEvent = (events: EpcisEvent[]) => {
      const m = new Map<string, string[]>();
      for (const e of events) m.set(key(e), [...(m.get(key(e)) ?? []), JSON.stringify(e)]);
      return m;
    };

    it('every window of the stream gives byte-identical events to the whole stream', () => {
      const whole = byLedgerEvent(list);
      const windows: Array<[number, number]> = [];
      for (let i = 0; i < EVENTS.length; i++) windows.push([i, i + 1]);
      for (let i = 0; i < EVENTS.length; i += 5) windows.push([i, i + 10]);
      let rng = 7;
      for (let k = 0; k < 15; k++) {
        rng = (rng * 48271) % 2147483647;
        const a = rng % EVENTS.length;
        windows.push([a, a + 1 + (rng % 30)]);
      }
      let compared = 0;
      for (const [a, b] of windows) {
        const part = toEpcisDocument(EVENTS.slice(a, b), ctx, { creationDate: CREATED }).epcisBody.eventList;
        for (const [k, events] of byLedgerEvent(part)) {
          expect(events, `${k} in window [${a}, ${b})`).to.deep.equal(whole.get(k));
          compared += events.length;
        }
      }
      expect(compared).to.be.greaterThan(300);
    });

    it('an accept exported alone keeps its business transaction, its kind and its eventID', () => {
      const ret = list.find((e) => e.bizStep === 'receiving' && e.disposition === 'returned' && e['ledger:event'] === 'ShipmentAccepted')!;
      const alone = toEpcisDocument(EVENTS.filter((e) => `${e.txHash}#${e.logIndex}` === key(ret)), ctx).epcisBody.eventList;
      expect(alone).to.deep.equal([ret]);
      expect(ret.bizTransactionList).to.have.length(2);
    });

    it('without shipment facts a lone accept is refused with a code, never exported differently', () => {
      const accept = EVENTS.find((e) => e.name === 'ShipmentAccepted')!;
      const bare: EpcisContext = { ...BASE_CONTEXT, batches: (id) => ctx.batches(id) };
      expect(() => toEpcisDocument([accept], bare)).to.throw(EpcisMappingError).with.property('code', 'EPCIS_UNKNOWN_SHIPMENT');
      // With the ShipmentCreated in the input, the fallback derives the same facts.
      const created = EVENTS.find((e) => e.name === 'ShipmentCreated' && e.args.shipmentId === accept.args.shipmentId)!;
      const pair = toEpcisDocument([created, accept], bare).epcisBody.eventList;
      expect(pair.map((e) => e.eventID)).to.deep.equal(list.filter((e) => [key(pair[0]!), key(pair[1]!)].includes(key(e))).map((e) => e.eventID));
    });
  });

  describe('instance-level identifiers and aggregation', () => {
    it('commissioning lists every serial of a serialised batch, with lot and expiry', () => {
      const [c1] = of(list, 'BatchMinted', (e) => e['ledger:batchId'] === '1');
      expect(c1!.epcList).to.have.length(40);
      expect(c1!.epcList![0]).to.equal(sgtin(EU_GTIN, 'A0000'));
      expect(c1!.quantityList).to.equal(undefined);
      expect(c1!.ilmd).to.deep.equal({ 'cbvmda:lotNumber': B1.lot, 'cbvmda:itemExpirationDate': '2028-06-30' });
      expect([c1!.action, c1!.bizStep, c1!.disposition]).to.deep.equal(['ADD', 'commissioning', 'active']);
      const [c3] = of(list, 'BatchMinted', (e) => e['ledger:batchId'] === '3');
      expect(c3!.quantityList).to.deep.equal([{ epcClass: `https://id.gs1.org/01/${EU_GTIN}/10/LOT-C`, quantity: 500 }]);
    });

    it('packing: one AggregationEvent ADD per case (its packs) and per pallet (its cases)', () => {
      const packed = of(list, 'BatchPacked', (e) => e['ledger:batchId'] === '1');
      expect(packed).to.have.length(4 + 2);
      expect(packed[0]).to.include({ type: 'AggregationEvent', action: 'ADD', bizStep: 'packing', parentID: sscc(B1.packing!.cases[0]!) });
      expect(packed[0]!.childEPCs).to.deep.equal(B1.serials!.slice(0, 10).map((s) => sgtin(EU_GTIN, s!)));
      expect(packed[4]!.parentID).to.equal(sscc(B1.packing!.pallets[0]!));
      expect(packed[4]!.childEPCs).to.deep.equal([sscc(B1.packing!.cases[0]!), sscc(B1.packing!.cases[1]!)]);
    });

    it('a shipment by SSCC names the container; opening it is an AggregationEvent DELETE', () => {
      const [ship1] = of(list, 'ShipmentCreated', (e) => e['ledger:shipmentId'] === '1');
      expect(ship1!.epcList).to.deep.equal([sscc(B1.packing!.pallets[0]!)]);
      const [open] = of(list, 'ContainerUnpacked', (e) => e['ledger:holder'] === DISTRIBUTOR && e['ledger:batchId'] === '1');
      expect(open).to.include({ type: 'AggregationEvent', action: 'DELETE', bizStep: 'unpacking', parentID: sscc(B1.packing!.pallets[0]!) });
      expect(open!.disposition).to.equal(undefined);
      expect(open!.bizLocation).to.deep.equal(loc(DISTRIBUTOR));
      const us = of(list, 'ShipmentCreated', (e) => e['ledger:batchId'] === '4')[0]!;
      const b4 = BATCHES['4']!;
      expect(us.epcList).to.deep.equal([sscc(b4.packing!.pallets[0]!), sscc(b4.packing!.cases[2]!), sgtin(US_GTIN, 'US&18'), sgtin(US_GTIN, 'US&19')]);
    });

    it('class level only where no serial is known', () => {
      const [s8] = of(list, 'ShipmentCreated', (e) => e['ledger:shipmentId'] === '8');
      expect(s8!.epcList).to.deep.equal(['B0', 'B1', 'B2', 'B3', 'B4', 'B5'].map((s) => sgtin(EU_GTIN, s)));
      expect(s8!.quantityList).to.deep.equal([{ epcClass: `https://id.gs1.org/01/${EU_GTIN}/10/LOT-B`, quantity: 2 }]);
      const dispensed = of(list, 'UnitDispensed', (e) => e['ledger:batchId'] === '2');
      expect(dispensed[0]!.epcList).to.deep.equal([sgtin(EU_GTIN, 'B2')]);
      expect(dispensed[1]!.epcList).to.equal(undefined);
      expect(dispensed[1]!.quantityList![0]!.quantity).to.equal(1);
      expect(dispensed[1]!['ledger:unitIndex']).to.equal('6');
    });
  });

  describe('custody semantics', () => {
    it('a rejected shipment returns visibly to the sender; a cancelled one is voided at the sender', () => {
      const [reject] = of(list, 'ShipmentRejected', (e) => e['ledger:batchId'] === '1');
      expect(reject).to.include({ bizStep: 'receiving', disposition: 'returned', 'ledger:rejectReason': 'TemperatureExcursion' });
      expect(reject!.readPoint).to.deep.equal(loc(DISTRIBUTOR));
      expect(reject!.bizLocation).to.deep.equal(loc(DISTRIBUTOR));
      expect(reject!.sourceList).to.deep.equal([{ type: 'possessing_party', source: `https://id.gs1.org/417/${GLN[PHARMACY]}` }]);
      expect(reject!.destinationList).to.deep.equal([{ type: 'possessing_party', destination: `https://id.gs1.org/417/${GLN[DISTRIBUTOR]}` }]);
      expect(reject!.epcList).to.deep.equal(B1.serials!.slice(10, 13).map((s) => sgtin(EU_GTIN, s!)));
      const [cancel] = of(list, 'ShipmentCancelled');
      expect(cancel).to.include({ bizStep: 'void_shipping', disposition: 'in_progress' });
      expect(cancel!.bizLocation).to.deep.equal(loc(DISTRIBUTOR));
    });

    it('an EPCIS-only consumer ends with every pack where the ledger has it, in the state it has', () => {
      const view = consume(list);
      const book = replayBatch('1', EVENTS).packs!;
      const gone: Record<string, string> = { Dispensed: 'dispensed', Destroyed: 'destroyed', Exported: 'inactive', FreeSample: 'inactive', Sample: 'inactive', Stolen: 'stolen' };
      for (let unit = 0; unit < B1.units; unit++) {
        const v = book.unit(unit);
        const seen = view.get(sgtin(EU_GTIN, B1.serials![unit]!))!;
        if (v.state === 'Held') {
          expect(seen.location, `pack ${unit}`).to.equal(GLN[v.holder]);
          expect(['active', 'in_progress', 'returned', 'sellable_not_accessible'], `pack ${unit} ${seen.disposition}`).to.include(seen.disposition);
        } else expect(seen.disposition, `pack ${unit} (${v.state})`).to.equal(gone[v.state]);
        expect([...seen.persistent], `pack ${unit}`).to.deep.equal(['recalled']);
      }
      // Spot checks of the story: the cancelled packs at the distributor, the recovered ones at the second.
      expect(view.get(sgtin(EU_GTIN, 'A0013'))!.location).to.equal(GLN[DISTRIBUTOR]);
      expect(view.get(sgtin(EU_GTIN, 'A0015'))!.location).to.equal(GLN[DISTRIBUTOR2]);
      expect(view.get(sgtin(EU_GTIN, 'A0010'))!.location).to.equal(GLN[PRODUCER]);
    });

    it('right after a reject, the consumer has the packs back at the sender', () => {
      const reject = list.find((e) => e['ledger:event'] === 'ShipmentRejected')!;
      const view = consume(list.slice(0, list.indexOf(reject) + 1));
      for (const s of B1.serials!.slice(10, 13)) expect(view.get(sgtin(EU_GTIN, s!))!.location).to.equal(GLN[DISTRIBUTOR]);
    });

    it('quarantine and recall are persistent: a lift with another market still holding unsets nothing; returns keep "recalled"', () => {
      const q = of(list, 'BatchQuarantined');
      expect(q.map((e) => e.persistentDisposition)).to.deep.equal([{ set: ['non_sellable_other'] }, { set: ['non_sellable_other'] }]);
      expect(q.every((e) => e.disposition === undefined && e.readPoint === undefined)).to.equal(true);
      const [firstLift, lastLift] = of(list, 'BatchQuarantineLifted');
      expect(firstLift!.persistentDisposition).to.equal(undefined);
      expect(firstLift!.disposition).to.equal(undefined);
      expect(firstLift!['ledger:quarantinesRemaining']).to.equal('FR');
      expect(lastLift!.persistentDisposition).to.deep.equal({ unset: ['non_sellable_other'] });
      const view = consume(list.slice(0, list.indexOf(firstLift!) + 1));
      expect([...view.get(sgtin(EU_GTIN, 'A0020'))!.persistent]).to.deep.equal(['non_sellable_other']);
      // Dispensed packs stay dispensed through quarantine and lift.
      expect(consume(list.slice(0, list.indexOf(lastLift!) + 1)).get(sgtin(EU_GTIN, 'A0000'))!.disposition).to.equal('dispensed');
      const [recall] = of(list, 'BatchRecalled', (e) => e['ledger:batchId'] === '1');
      expect(recall!.persistentDisposition).to.deep.equal({ set: ['recalled'] });
      const [undo] = of(list, 'RecallUndone');
      expect(undo!.persistentDisposition).to.deep.equal({ unset: ['recalled'] });
      expect([...consume(list).get(sgtin(EU_GTIN, 'B0'))!.persistent]).to.deep.equal([]);
    });

    it('pack states map to their CBV dispositions; undo, revert and unlock bring the pack back', () => {
      const row = (name: string, pick: (e: EpcisEvent) => boolean = () => true) => {
        const e = of(list, name, pick)[0]!;
        return [e.action, e.bizStep, e.disposition ?? null];
      };
      expect(row('UnitDispensed')).to.deep.equal(['OBSERVE', 'dispensing', 'dispensed']);
      expect(row('DispenseUndone')).to.deep.equal(['OBSERVE', 'inspecting', 'sellable_not_accessible']);
      expect(row('PacksDecommissioned', (e) => e['ledger:packState'] === 'Destroyed')).to.deep.equal(['DELETE', 'destroying', 'destroyed']);
      expect(row('PacksDecommissioned', (e) => e['ledger:packState'] === 'Sample')).to.deep.equal(['OBSERVE', 'sampling', 'inactive']);
      expect(row('PacksDecommissioned', (e) => e['ledger:packState'] === 'Exported')).to.deep.equal(['OBSERVE', 'decommissioning', 'inactive']);
      expect(row('DecommissionReverted')).to.deep.equal(['OBSERVE', 'inspecting', 'sellable_not_accessible']);
      expect(row('PacksLocked')).to.deep.equal(['OBSERVE', 'holding', 'non_sellable_other']);
      expect(row('PacksUnlocked')).to.deep.equal(['OBSERVE', 'inspecting', 'sellable_not_accessible']);
      expect(row('UnitsWrittenOff', (e) => e['ledger:lossReason'] === 'Destroyed')).to.deep.equal(['DELETE', 'destroying', 'destroyed']);
      expect(row('UnitsWrittenOff', (e) => e['ledger:lossReason'] === 'Stolen')).to.deep.equal(['OBSERVE', 'other', 'stolen']);
      expect(row('CustodyRecovered', (e) => e['ledger:to'] !== undefined)).to.deep.equal(['OBSERVE', 'receiving', 'in_progress']);
      expect(row('CustodyRecovered', (e) => e['ledger:to'] === undefined)).to.deep.equal(['DELETE', 'destroying', 'destroyed']);
      expect(row('ShipmentRecovered')).to.deep.equal(['OBSERVE', 'receiving', 'returned']);
      expect(row('ShipmentAccepted', (e) => e['ledger:shipmentKind'] === 'Return')).to.deep.equal(['OBSERVE', 'receiving', 'returned']);
    });

    it('ledgerActionOf names the row of every event without building it (null for non-EPCIS events)', () => {
      for (const e of EVENTS) {
        const built = [...new Set(ledgerActionsOf(e, ctx))];
        expect(ledgerActionOf(e, ctx), `${e.name} #${e.blockNumber}`).to.equal(built.length === 0 ? null : built[0]);
      }
    });

    it('register events and batch markets are not EPCIS events', () => {
      const skipped = EVENTS.filter((e) => NOT_EPCIS_EVENTS.has(e.name));
      expect(skipped.length).to.be.greaterThan(4);
      for (const e of skipped) expect(ledgerActionsOf(e, ctx), e.name).to.deep.equal([]);
      expect(list.some((e) => NOT_EPCIS_EVENTS.has(e['ledger:event'] as never))).to.equal(false);
    });
  });

  describe('business transactions and master data', () => {
    it('real documents where known, the unresolved reference (said so) where not, nothing for a zero hash', () => {
      const [ship1] = of(list, 'ShipmentCreated', (e) => e['ledger:shipmentId'] === '1');
      expect(ship1!.bizTransactionList).to.deep.equal([
        { type: 'desadv', bizTransaction: `urn:epcglobal:cbv:bt:${GLN[PRODUCER]}:ASN%2F0001` },
        { type: 'po', bizTransaction: `urn:epcglobal:cbv:bt:${GLN[DISTRIBUTOR]}:PO-2026-0001` },
      ]);
      expect(ship1!['ledger:documentsUnknown']).to.equal(undefined);
      const [ship2] = of(list, 'ShipmentCreated', (e) => e['ledger:shipmentId'] === '2');
      expect(ship2!.bizTransactionList).to.deep.equal([{ bizTransaction: `urn:medtrace:ref:${UNKNOWN_REF}` }]);
      expect(ship2!['ledger:documentsUnknown']).to.equal(true);
      const [ship3] = of(list, 'ShipmentCreated', (e) => e['ledger:shipmentId'] === '3');
      expect(ship3!.bizTransactionList).to.equal(undefined);
    });

    it('refuses documents stored under a hash they do not produce', () => {
      const [hash, docs] = [...DOCUMENTS][0]!;
      const tampered = { ...ctx, bizTransactionsOf: (h: string) => (h === hash ? [docs[0]!] : DOCUMENTS.get(h)) };
      expect(() => toEpcisDocument(EVENTS, tampered)).to.throw(EpcisMappingError).with.property('code', 'EPCIS_BIZ_TRANSACTIONS_MISMATCH');
    });

    it('the header names the products, locations and parties of the events that have master data', () => {
      const [products, locations, parties] = doc.epcisHeader!.epcisMasterData.vocabularyList;
      expect(products!.vocabularyElementList.map((v) => v.id)).to.deep.equal([`https://id.gs1.org/01/${US_GTIN}`, `https://id.gs1.org/01/${EU_GTIN}`]);
      expect(products!.vocabularyElementList[0]!.attributes).to.deep.include({ id: 'urn:epcglobal:cbv:mda#additionalTradeItemIdentification', attribute: '12345067890' });
      expect(locations!.vocabularyElementList.map((v) => v.id)).to.include(`https://id.gs1.org/414/${GLN[PHARMACY]}`);
      expect(locations!.vocabularyElementList.find((v) => v.id.endsWith(GLN[PHARMACY]!))!.attributes[0]).to.deep.equal({ id: 'urn:epcglobal:cbv:mda#name', attribute: 'Apotheke am Markt & Söhne' });
      expect(parties!.vocabularyElementList.length).to.be.greaterThan(2);
      // No master data, no header.
      expect(toEpcisDocument(EVENTS, { ...ctx, masterData: undefined } as EpcisContext).epcisHeader).to.equal(undefined);
    });
  });

  describe('envelope, rows and CSV', () => {
    it('has the EPCIS 2.0 context, the ledger namespace and the creation date', () => {
      expect(doc['@context']).to.deep.equal([EPCIS_CONTEXT_URL, { ledger: DEFAULT_LEDGER_NAMESPACE, cbvmda: 'urn:epcglobal:cbv:mda:' }]);
      expect([doc.type, doc.schemaVersion, doc.creationDate]).to.deep.equal(['EPCISDocument', '2.0', CREATED]);
    });

    it('one row per EPCIS event, with serials and SSCCs where known', () => {
      const rows = toRows(EVENTS, ctx);
      expect(rows.map((r) => r.eventID)).to.deep.equal(list.map((e) => e.eventID));
      const ship = rows.find((r) => r.ledgerEvent === 'ShipmentCreated' && r.batchId === '4')!;
      expect(ship.ssccs).to.equal(`${BATCHES['4']!.packing!.pallets[0]} ${BATCHES['4']!.packing!.cases[2]}`);
      expect(ship.serials).to.equal('US&18 US&19');
      expect(ship.items).to.equal('pallets 0; cases 2; units 18-19');
      const s8 = rows.find((r) => r.ledgerEvent === 'ShipmentCreated' && r.shipmentId === '8')!;
      expect([s8.epcCount, s8.quantity, s8.serials]).to.deep.equal([6, 2, 'B0 B1 B2 B3 B4 B5']);
      expect(rows.find((r) => r.ledgerAction === 'recall')!.persistentDisposition).to.equal('set:recalled');
    });

    it('CSV: a header, one line per EPCIS event, RFC 4180 quoting, formula guard', () => {
      const csv = toCsv(EVENTS, ctx);
      expect(csv.endsWith('\r\n')).to.equal(true);
      const lines = csv.slice(0, -2).split('\r\n');
      expect(lines).to.have.length(list.length + 1);
      expect(lines[0]).to.equal(CSV_COLUMNS.join(','));
      const parsed = lines.map(parseCsvLine);
      for (const cells of parsed) expect(cells).to.have.length(CSV_COLUMNS.length);
      const tricky = { ...ctx, batches: (id: string) => ({ ...ctx.batches(id)!, lot: id === '3' ? '=1+"2",x' : ctx.batches(id)!.lot }) };
      const first = (c: EpcisContext, guard = true) => parseCsvLine(toCsv(EVENTS.filter((e) => e.batchId === '3').slice(0, 1), c, { formulaGuard: guard }).split('\r\n')[1]!)[CSV_COLUMNS.indexOf('lot')];
      expect(first(tricky)).to.equal(`'=1+"2",x`);
      expect(first(tricky, false)).to.equal('=1+"2",x');
    });

    it('refuses what it cannot map, with a code', () => {
      const orphan: LedgerEvent = { ...EVENTS.find((e) => e.name === 'UnitDispensed')!, batchId: '99' };
      expect(() => toEpcisDocument([orphan], ctx)).to.throw(EpcisMappingError).with.property('code', 'EPCIS_UNKNOWN_BATCH');
      const loss = EVENTS.find((e) => e.name === 'UnitsWrittenOff')!;
      expect(() => toEpcisDocument([{ ...loss, args: { ...loss.args, reason: 7 } }], ctx)).to.throw(/loss reason/);
      expect(() => toEpcisDocument(EVENTS, { ...ctx, glnOf: () => '1234567890123' })).to.throw(EpcisMappingError).with.property('code', 'EPCIS_BAD_GLN');
      const noLayout = { ...ctx, batches: (id: string) => ({ ...ctx.batches(id)!, unitsPerCase: undefined }), ssccOf: () => undefined };
      const unpack = EVENTS.find((e) => e.name === 'ShipmentCreated' && e.args.shipmentId === '2')!;
      expect(() => toEpcisDocument([unpack], noLayout)).to.throw(EpcisMappingError).with.property('code', 'EPCIS_UNKNOWN_LAYOUT');
    });
  });
});

// ─── An EPCIS-only consumer ───────────────────────────────────────────────────────────────────

interface Seen {
  location?: string;
  disposition?: string;
  persistent: Set<string>;
}

/**
 * What a system that reads nothing but the EPCIS events concludes about each instance: where it
 * is (last bizLocation; none while in transit), its disposition and persistent dispositions. An
 * event on a container applies to what the packing events put in it; a class-level entry without
 * a quantity (the whole lot) applies to every instance of the lot.
 */
function consume(events: readonly EpcisEvent[]): Map<string, Seen> {
  const seen = new Map<string, Seen>();
  const children = new Map<string, string[]>();
  const lotOf = new Map<string, string>();
  const get = (epc: string) => {
    let s = seen.get(epc);
    if (!s) seen.set(epc, (s = { persistent: new Set() }));
    return s;
  };
  const expand = (epc: string): string[] => [epc, ...(children.get(epc) ?? []).flatMap(expand)];
  for (const e of events) {
    const gln = e.bizLocation ? /\/414\/(\d{13})$/.exec(e.bizLocation.id)![1] : undefined;
    const targets = new Set<string>();
    for (const epc of [...(e.epcList ?? []), ...(e.parentID ? [e.parentID] : []), ...(e.childEPCs ?? [])]) for (const x of expand(epc)) targets.add(x);
    for (const q of e.quantityList ?? []) if (q.quantity === undefined) for (const [epc, lot] of lotOf) if (lot === q.epcClass) targets.add(epc);
    if (e.ilmd) for (const epc of e.epcList ?? []) lotOf.set(epc, epc.replace(/\/21\/.*$/, `/10/${encodeURIComponent(e.ilmd['cbvmda:lotNumber'])}`));
    if (e.type === 'AggregationEvent' && e.action === 'ADD') children.set(e.parentID!, e.childEPCs ?? []);
    if (e.type === 'AggregationEvent' && e.action === 'DELETE') children.delete(e.parentID!);
    for (const t of targets) {
      const s = get(t);
      if (gln) s.location = gln;
      if (e.disposition === 'in_transit') delete s.location;
      if (e.disposition) s.disposition = e.disposition;
      for (const d of e.persistentDisposition?.set ?? []) s.persistent.add(d);
      for (const d of e.persistentDisposition?.unset ?? []) s.persistent.delete(d);
    }
  }
  return seen;
}

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
