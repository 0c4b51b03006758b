import { expect } from 'chai';
import { EpcUrnError, escapeEpcComponent, lgtinUrn, pglnUrn, prefixLengthFinder, sglnUrn, sgtinPatternUrn, sgtinUrn, ssccUrn } from '../../api/domain/epc-urn';
import { normaliseGs1Uri } from '../../api/domain/gs1-uri-normaliser';
import { toDigitalLink } from '../../api/domain/gs1-scan';

describe('epc-urn: GS1 keys as EPC URNs', () => {
  it('writes the Tag Data Standard examples', () => {
    expect(sgtinUrn('80614141123458', '6789', 7)).to.equal('urn:epc:id:sgtin:0614141.812345.6789');
    expect(ssccUrn('106141411234567897', 7)).to.equal('urn:epc:id:sscc:0614141.1123456789');
    expect(sglnUrn('0614141123452', 7)).to.equal('urn:epc:id:sgln:0614141.12345.0');
    expect(pglnUrn('0614141123452', 7)).to.equal('urn:epc:id:pgln:0614141.12345');
    expect(lgtinUrn('00614141123452', 'L/1', 7)).to.equal('urn:epc:class:lgtin:0614141.012345.L%2F1');
    expect(sgtinPatternUrn('00614141123452', 7)).to.equal('urn:epc:idpat:sgtin:0614141.012345.*');
    expect(escapeEpcComponent('a"%&/<>?b')).to.equal('a%22%25%26%2F%3C%3E%3Fb');
  });

  it('agrees with the Digital Link normaliser on every prefix length and awkward serials', () => {
    const gtin = '09506000134352';
    for (let n = 6; n <= 12; n++) {
      for (const serial of ['1', 'A&B/C?', '%41', 'x<y>"z']) {
        expect(normaliseGs1Uri(sgtinUrn(gtin, serial, n)), `${n} ${serial}`).to.equal(toDigitalLink({ gtin, serial }));
      }
      expect(normaliseGs1Uri(ssccUrn('006141411234567890', n))).to.equal('https://id.gs1.org/00/006141411234567890');
      expect(normaliseGs1Uri(pglnUrn('4012345000009', n))).to.equal('https://id.gs1.org/417/4012345000009');
    }
  });

  it('refuses bad keys and prefix lengths with a code', () => {
    expect(() => sgtinUrn('09506000134353', '1', 7)).to.throw(EpcUrnError).with.property('code', 'EPC_BAD_KEY');
    expect(() => sglnUrn('4012345000009', 13)).to.throw(EpcUrnError).with.property('code', 'EPC_BAD_PREFIX_LENGTH');
    expect(() => sgtinUrn('09506000134352', 'é', 7)).to.throw(EpcUrnError).with.property('code', 'EPC_BAD_COMPONENT');
  });

  it('finds the longest registered prefix of a GTIN, an SSCC or a GLN', () => {
    const find = prefixLengthFinder(['950600', '9506000', '0614141']);
    expect(find('09506000134352')).to.equal(7);
    expect(find('195060001343520')).to.equal(undefined);
    expect(find('106141411234567897')).to.equal(7);
    expect(find('9506001000001')).to.equal(6);
    expect(find('4012345000009')).to.equal(undefined);
  });
});
