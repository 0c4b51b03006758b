import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { expect } from 'chai';
import { contextFromEvents } from '../../api/domain/epcis';
import { DscsaError, dscsaShipmentFromEvent, toDscsaShipmentXml, type DscsaContext, type DscsaShipment } from '../../api/dscsa';
import { BASE_CONTEXT, BATCHES, EVENTS, GLN, PARTIES, PRODUCER, PRODUCTS, US_DISTRIBUTOR, US_GTIN, US_SHIPMENT_ID } from '../domain/ledger-scenario';

const XSD = path.join(__dirname, '../fixtures/dscsa/xsd-1.2/EPCglobal-epcis-1_2.xsd');
const ctx = contextFromEvents(EVENTS, BASE_CONTEXT) as DscsaContext;
const shipmentEvent = (id: string) => EVENTS.find((e) => e.name === 'ShipmentCreated' && e.args.shipmentId === id)!;
const US = dscsaShipmentFromEvent(shipmentEvent(US_SHIPMENT_ID));
const CREATED = '2026-04-01T12:00:00.000Z';

/** xmllint's verdict on a document against the vendored EPCIS 1.2 XSD. */
function xsdValidate(xml: string): { ok: boolean; output: string } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'dscsa-')), 'file.xml');
  fs.writeFileSync(file, xml);
  const r = spawnSync('xmllint', ['--noout', '--schema', XSD, file], { encoding: 'utf8' });
  if (r.error) throw new Error(`xmllint is needed for these tests (Debian: apt-get install -y libxml2-utils): ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

/** Text of every element `name` (no namespace handling needed for our own output). */
const texts = (xml: string, name: string) => [...xml.matchAll(new RegExp(`<${name}(?: [^>]*)?>([^<]*)</${name}>`, 'g'))].map((m) => m[1]!);
const attributes = (xml: string, id: string) => texts(xml, 'attribute').filter((_, i) => [...xml.matchAll(/<attribute id="([^"]+)">/g)][i]![1] === id);

describe('dscsa: the shipment file (EPCIS 1.2 XML with SBDH, GS1 US Healthcare guideline)', () => {
  let xml: string;
  before(() => {
    xml = toDscsaShipmentXml(US, ctx, { creationDate: CREATED });
  });

  it('validates against the EPCIS 1.2 XSD', () => {
    const r = xsdValidate(xml);
    expect(r.ok, r.output).to.equal(true);
    expect(r.output).to.match(/validates/);
    // The same check fails on a broken document (the test can fail).
    expect(xsdValidate(xml.replace('<action>OBSERVE</action>', '<action>MOVE</action>')).ok).to.equal(false);
    expect(xsdValidate(xml.replace(/<sbdh:HeaderVersion>1.0<\/sbdh:HeaderVersion>/, '')).ok).to.equal(false);
  });

  it('validates with PGLN parties too', () => {
    const pgln = toDscsaShipmentXml(US, ctx, { creationDate: CREATED, partyIdentifier: 'pgln' });
    expect(xsdValidate(pgln).ok).to.equal(true);
    expect(pgln).to.contain(`<source type="urn:epcglobal:cbv:sdt:owning_party">urn:epc:id:pgln:9506000.00001</source>`);
  });

  it('names seller and buyer in the SBDH and the master data, with names and addresses', () => {
    expect(texts(xml, 'sbdh:Identifier')).to.deep.equal(['urn:epc:id:sgln:9506000.00001.0', 'urn:epc:id:sgln:0614141.00001.0']);
    expect(xml).to.contain('<sbdh:Identifier Authority="SGLN">');
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#name')).to.deep.equal([PARTIES[GLN[PRODUCER]!]!.name, 'Atlantic Drug Wholesale, Inc.']);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#state')).to.deep.equal(['NJ']);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#countryCode')).to.deep.equal(['DE', 'US']);
    expect(texts(xml, 'sbdh:CreationDateAndTime')).to.deep.equal([CREATED]);
    expect(texts(xml, 'sbdh:InstanceIdentifier')[0]).to.match(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('carries the product master data: NDC-11, name, manufacturer, dosage form, strength, container size', () => {
    const p = PRODUCTS[US_GTIN]!;
    expect(xml).to.contain('<VocabularyElement id="urn:epc:idpat:sgtin:0312345.067890.*">');
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#additionalTradeItemIdentification')).to.deep.equal(['12345067890']);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#additionalTradeItemIdentificationTypeCode')).to.deep.equal(['FDA_NDC_11']);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#regulatedProductName')).to.deep.equal([p.name]);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#manufacturerOfTradeItemPartyName')).to.deep.equal([p.manufacturer]);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#dosageFormType')).to.deep.equal([p.dosageForm]);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#strengthDescription')).to.deep.equal([p.strength]);
    expect(attributes(xml, 'urn:epcglobal:cbv:mda#netContentDescription')).to.deep.equal([p.packSize]);
  });

  it('commissions every shipped pack (serials as SGTIN URNs) with lot and expiry, packs the containers, ships the top level', () => {
    const b4 = BATCHES['4']!;
    const events = xml.split(/<\/?(?:ObjectEvent|AggregationEvent)>/).filter((x) => x.includes('<eventTime>'));
    expect(events).to.have.length(1 + 1 + 4 + 1); // packs, containers, case 0, case 1, case 2, pallet 0, shipping
    const packs = texts(events[0]!, 'epc');
    expect(packs).to.have.length(20);
    expect(packs[0]).to.equal('urn:epc:id:sgtin:0312345.067890.US%260');
    expect(packs).to.include('urn:epc:id:sgtin:0312345.067890.US%2619');
    expect(texts(events[0]!, 'cbvmda:lotNumber')).to.deep.equal(['US1']);
    expect(texts(events[0]!, 'cbvmda:itemExpirationDate')).to.deep.equal(['2028-06-30']);
    const sscc = (s: string) => `urn:epc:id:sscc:${s.slice(1, 8)}.${s[0]}${s.slice(8, 17)}`;
    expect(texts(events[1]!, 'epc')).to.deep.equal([sscc(b4.packing!.cases[0]!), sscc(b4.packing!.cases[1]!), sscc(b4.packing!.pallets[0]!), sscc(b4.packing!.cases[2]!)]);
    expect(texts(events[4]!, 'parentID')).to.deep.equal([sscc(b4.packing!.pallets[0]!)]);
    expect(texts(events[4]!, 'epc')).to.deep.equal([sscc(b4.packing!.cases[0]!), sscc(b4.packing!.cases[1]!)]);
    const shipping = events[6]!;
    expect(texts(shipping, 'epc')).to.deep.equal([sscc(b4.packing!.pallets[0]!), sscc(b4.packing!.cases[2]!), 'urn:epc:id:sgtin:0312345.067890.US%2618', 'urn:epc:id:sgtin:0312345.067890.US%2619']);
    expect(texts(shipping, 'bizStep')).to.deep.equal(['urn:epcglobal:cbv:bizstep:shipping']);
    expect(texts(shipping, 'eventTime')).to.deep.equal([new Date(shipmentEvent(US_SHIPMENT_ID).blockTime * 1000).toISOString()]);
    expect(shipping).to.contain(`<bizTransaction type="urn:epcglobal:cbv:btt:po">urn:epcglobal:cbv:bt:${GLN[US_DISTRIBUTOR]}:4500012345</bizTransaction>`);
    expect(shipping).to.contain('<destination type="urn:epcglobal:cbv:sdt:location">urn:epc:id:sgln:0614141.00001.0</destination>');
  });

  it('affirms the transaction statement', () => {
    expect(texts(xml, 'gs1ushc:affirmTransactionStatement')).to.deep.equal(['true']);
    expect(texts(xml, 'gs1ushc:legalNotice')[0]).to.contain('581(27)');
  });

  it('is deterministic: the same facts give the same file', () => {
    expect(toDscsaShipmentXml(US, ctx, { creationDate: CREATED })).to.equal(xml);
  });

  describe('refusals, each with a code and a hint', () => {
    const problemCodes = (s: DscsaShipment, c: DscsaContext) => {
      try {
        toDscsaShipmentXml(s, c);
      } catch (err) {
        expect(err).to.be.instanceOf(DscsaError);
        for (const p of (err as DscsaError).problems) expect(p.hint).to.be.a('string').and.not.equal('');
        return (err as DscsaError).problems.map((p) => p.code);
      }
      throw new Error('no error');
    };
    it('a shipment to a European partner, of a product without NDC', () => {
      expect(problemCodes(dscsaShipmentFromEvent(shipmentEvent('1')), ctx)).to.include.members(['DSCSA_NO_NDC', 'DSCSA_NOT_US_PARTNER']);
    });
    it('missing product or party master data, a missing prefix, an unknown serial', () => {
      const bare = { ...ctx, masterData: { product: () => undefined, party: () => undefined } } as DscsaContext;
      expect(problemCodes(US, bare)).to.deep.equal(['DSCSA_NO_PRODUCT_MASTER_DATA', 'DSCSA_NO_PARTY_MASTER_DATA', 'DSCSA_NO_PARTY_MASTER_DATA']);
      expect(problemCodes(US, { ...ctx, prefixLengthOf: (k: string) => (k === US_GTIN ? 7 : undefined) } as DscsaContext)).to.deep.equal(['DSCSA_NO_PREFIX_LENGTH', 'DSCSA_NO_PREFIX_LENGTH']);
      expect(problemCodes(US, { ...ctx, serialOf: (b: string, u: string) => (u === '19' ? undefined : ctx.serialOf!(b, u)) } as DscsaContext)).to.deep.equal(['DSCSA_NO_SERIAL']);
      const noNdc = { ...ctx, masterData: { ...ctx.masterData, product: () => ({ ...PRODUCTS[US_GTIN]!, ndc: undefined }) } } as DscsaContext;
      expect(problemCodes(US, noNdc)).to.deep.equal(['DSCSA_NO_NDC']);
    });
    it('a return, a batch without serials', () => {
      expect(problemCodes({ ...US, kind: 1 }, ctx)).to.deep.equal(['DSCSA_RETURN_SHIPMENT']);
      expect(problemCodes(dscsaShipmentFromEvent(shipmentEvent('10')), ctx)).to.include('DSCSA_NOT_SERIALISED');
    });
  });
});
