import { expect } from 'chai';
import { ethers } from 'ethers';
import {
  canonicalJson,
  epcisVocabularyList,
  gtinFromNdc,
  ndc11,
  ndcDigitsFromGtin,
  partyMasterDataSchema,
  productMasterDataHash,
  productMasterDataSchema,
} from '../../api/domain/master-data';
import { PARTIES, PRODUCTS, US_GTIN, EU_GTIN } from './ledger-scenario';

describe('master-data: products and parties', () => {
  it('hashes a product document as keccak-256 of its RFC 8785 canonical JSON, whatever the key order', () => {
    const doc = PRODUCTS[EU_GTIN]!;
    const reordered = Object.fromEntries(Object.entries(doc).reverse());
    const canonical =
      '{"dosageForm":"film-coated tablet","gtin":"09506000134352","markets":["DE","FR"],"name":"Ibuprofen Rhein 400 mg","nationalCodes":{"DE":"PZN 12345678"},"packSize":"20 tablets","strength":"400 mg"}';
    expect(canonicalJson(doc as never)).to.equal(canonical);
    expect(productMasterDataHash(reordered)).to.equal(ethers.id(canonical));
    expect(productMasterDataHash({ ...doc, strength: '200 mg' })).to.not.equal(productMasterDataHash(doc));
    expect(canonicalJson({ b: 'ä"\n', a: [1, true, null], A: {} })).to.equal('{"A":{},"a":[1,true,null],"b":"ä\\"\\n"}');
  });

  it('refuses documents that would hash ambiguously or wrongly', () => {
    expect(() => productMasterDataHash({ ...PRODUCTS[EU_GTIN], colour: 'white' })).to.throw(/Unrecognized key/);
    expect(() => productMasterDataHash({ ...PRODUCTS[EU_GTIN], gtin: '09506000134353' })).to.throw(/GTIN-14 with a valid check digit/);
    expect(() => productMasterDataHash({ ...PRODUCTS[US_GTIN], ndc: '54321-678-90' })).to.throw(/does not match the digits/);
    expect(() => productMasterDataHash({ ...PRODUCTS[US_GTIN], ndc: '1234567890' })).to.throw(/hyphens/);
    expect(productMasterDataSchema.safeParse({ ...PRODUCTS[EU_GTIN], markets: ['de'] }).success).to.equal(false);
    expect(partyMasterDataSchema.safeParse({ ...Object.values(PARTIES)[0], gln: '4012345000001' }).success).to.equal(false);
  });

  it('derives NDC digits from a US GTIN and the 11-digit NDC from its hyphenated form', () => {
    expect(gtinFromNdc('12345-6789-0')).to.equal('00312345678906'); // STANDARDS.md's example
    expect(ndcDigitsFromGtin('00312345678906')).to.equal('1234567890');
    expect(ndcDigitsFromGtin(EU_GTIN)).to.equal(undefined);
    expect([ndc11('1234-5678-90'), ndc11('12345-678-90'), ndc11('12345-6789-0')]).to.deep.equal(['01234567890', '12345067890', '12345678900']);
  });

  it('builds the EPCIS vocabulary list of what it knows, sorted, with CBV attribute names', () => {
    const list = epcisVocabularyList(
      { product: (g) => PRODUCTS[g], party: (g) => PARTIES[g] },
      { gtins: [US_GTIN, '00000000000000'], locationGlns: Object.keys(PARTIES).reverse(), partyGlns: [] },
    );
    expect(list.map((v) => v.type)).to.deep.equal(['urn:epcglobal:epcis:vtype:EPCClass', 'urn:epcglobal:epcis:vtype:Location']);
    expect(list[0]!.vocabularyElementList[0]!.attributes.map((a) => a.id.replace('urn:epcglobal:cbv:mda#', ''))).to.deep.equal([
      'additionalTradeItemIdentification',
      'additionalTradeItemIdentificationTypeCode',
      'regulatedProductName',
      'manufacturerOfTradeItemPartyName',
      'dosageFormType',
      'strengthDescription',
      'netContentDescription',
    ]);
    const ids = list[1]!.vocabularyElementList.map((v) => v.id);
    expect(ids).to.deep.equal([...ids].sort());
  });
});
