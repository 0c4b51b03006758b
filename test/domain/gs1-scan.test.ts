import { expect } from 'chai';
import { isoDate } from '../../api/domain/gs1';
import {
  Gs1ScanError,
  parseGs1,
  parseGs1Elements,
  toBracketed,
  toDigitalLink,
  toElementString,
  tryParseGs1,
  type Gs1ErrorCode,
} from '../../api/domain/gs1-scan';

const GS = '\x1d';
const NOW = new Date('2026-06-01T00:00:00Z');

function expectError(input: string, code: Gs1ErrorCode, ai?: string): Gs1ScanError {
  let caught: unknown;
  try {
    parseGs1(input, { now: NOW });
  } catch (e) {
    caught = e;
  }
  expect(caught, `expected ${code} for ${JSON.stringify(input)}`).to.be.instanceOf(Gs1ScanError);
  const err = caught as Gs1ScanError;
  expect(err.code, err.message).to.equal(code);
  if (ai !== undefined) expect(err.ai).to.equal(ai);
  expect(err.message.length).to.be.greaterThan(20);
  return err;
}

describe('gs1-scan: parseGs1', () => {
  describe('STANDARDS.md vectors', () => {
    it('accepts GTIN 09506000134352 and 00614141123452', () => {
      expect(parseGs1('(01)09506000134352').gtin).to.equal('09506000134352');
      expect(parseGs1('0100614141123452').gtin).to.equal('00614141123452');
      expect(parseGs1('https://id.gs1.org/01/00614141123452').gtin).to.equal('00614141123452');
    });

    it('accepts the SSCC vectors and rejects a changed digit', () => {
      expect(parseGs1Elements('00006141411234567890').sscc).to.equal('006141411234567890');
      expect(parseGs1Elements('(00)106141411234567897').sscc).to.equal('106141411234567897');
      expect(parseGs1Elements('https://example.com/00/106141411234567897').sscc).to.equal('106141411234567897');
      expectError('(00)106141411234567890', 'GS1_BAD_CHECK_DIGIT', '00');
    });

    it('an SSCC label alone is not a trade item scan', () => {
      expectError('00006141411234567890', 'GS1_MISSING_GTIN', '01');
    });

    it('accepts the NDC-derived GTIN 00312345678906 and AI 715', () => {
      const r = parseGs1(`]d20100312345678906${GS}7151234567890`);
      expect(r.gtin).to.equal('00312345678906');
      expect(r.nationalNumbers).to.deep.equal({ '715': '1234567890' });
    });
  });

  describe('three forms, one result', () => {
    const forms = [
      `]d2010950600013435217271231` + `10LOT42${GS}21A1B2C3`,
      `010950600013435217271231` + `10LOT42${GS}21A1B2C3`,
      `${GS}010950600013435217271231` + `10LOT42${GS}21A1B2C3`,
      `]d2010950600013435217271231` + `10LOT42<GS>21A1B2C3`,
      `]d2010950600013435217271231` + `10LOT42\\x1d21A1B2C3`,
      `]d2010950600013435217271231` + `10LOT42\\x1D21A1B2C3\r\n`,
      '(01)09506000134352(17)271231(10)LOT42(21)A1B2C3',
      '(01) 09506000134352 (17) 271231 (10) LOT42 (21) A1B2C3',
      'https://id.gs1.org/01/09506000134352/10/LOT42/21/A1B2C3?17=271231',
      'https://brand.example.com/p/01/09506000134352/10/LOT42/21/A1B2C3?17=271231&linkType=gs1:pip',
      'https://id.gs1.org/gtin/09506000134352/lot/LOT42/ser/A1B2C3?17=271231',
      'https://id.gs1.org/01/9506000134352?10=LOT42&21=A1B2C3&17=271231',
    ];
    for (const input of forms) {
      it(`parses ${JSON.stringify(input)}`, () => {
        const r = parseGs1(input, { now: NOW });
        expect({ gtin: r.gtin, lot: r.lot, serial: r.serial, expiry: r.expiry }).to.deep.equal({
          gtin: '09506000134352',
          lot: 'LOT42',
          serial: 'A1B2C3',
          expiry: { yymmdd: '271231', day: Date.UTC(2027, 11, 31) / 86_400_000, iso: '2027-12-31' },
        });
      });
    }

    it('reports the format', () => {
      expect(parseGs1(forms[0]!).format).to.equal('element-string');
      expect(parseGs1(forms[6]!).format).to.equal('bracketed');
      const dl = parseGs1(forms[9]!);
      expect(dl.format).to.equal('digital-link');
      expect(dl.domain).to.equal('https://brand.example.com');
    });
  });

  describe('dates', () => {
    it('day 00 is the last day of the month (leap years included)', () => {
      expect(parseGs1('(01)09506000134352(17)270200', { now: NOW }).expiry!.iso).to.equal('2027-02-28');
      expect(parseGs1('(01)09506000134352(17)280200', { now: NOW }).expiry!.iso).to.equal('2028-02-29');
      expect(parseGs1('(01)09506000134352(17)271200', { now: NOW }).expiry!.iso).to.equal('2027-12-31');
      const r = parseGs1('(01)09506000134352(17)280200', { now: NOW });
      expect(r.expiry!.yymmdd).to.equal('280200');
      expect(isoDate(r.expiry!.day)).to.equal('2028-02-29');
    });

    it('rejects impossible dates instead of rolling over', () => {
      const e = expectError('(01)09506000134352(17)271345', 'GS1_BAD_DATE', '17');
      expect(e.message).to.contain("'271345'").and.contain('month 13 does not exist').and.contain('check the printed date');
      expect(expectError('(01)09506000134352(17)270231', 'GS1_BAD_DATE', '17').message).to.contain('day 31');
      expectError('(01)09506000134352(17)270229', 'GS1_BAD_DATE', '17'); // 2027 is not a leap year
      expectError('(01)09506000134352(17)270001', 'GS1_BAD_DATE', '17');
      expectError('(01)09506000134352(11)270431', 'GS1_BAD_DATE', '11');
      expectError('https://id.gs1.org/01/09506000134352?17=271345', 'GS1_BAD_DATE', '17');
    });

    it('reads the production date and uses the GS1 century window', () => {
      const r = parseGs1('(01)09506000134352(11)990115(17)270115', { now: NOW });
      expect(r.productionDate!.iso).to.equal('1999-01-15');
      expect(r.expiry!.iso).to.equal('2027-01-15');
    });
  });

  describe('errors', () => {
    it('bad check digit, with the expected digit', () => {
      const e = expectError(']d20109506000134353', 'GS1_BAD_CHECK_DIGIT', '01');
      expect(e.message).to.contain('expected 2');
      expectError('https://id.gs1.org/01/09506000134353', 'GS1_BAD_CHECK_DIGIT', '01');
      expectError('(01)09506000134352(414)9506000134351', 'GS1_BAD_CHECK_DIGIT', '414');
    });

    it('lot or serial of 21 characters', () => {
      expect(parseGs1('(01)09506000134352(10)ABCDEFGHIJKLMNOPQRST').lot).to.have.length(20);
      expectError('(01)09506000134352(10)ABCDEFGHIJKLMNOPQRSTU', 'GS1_BAD_LENGTH', '10');
      expectError('0109506000134352' + '21ABCDEFGHIJKLMNOPQRSTU', 'GS1_BAD_LENGTH', '21');
    });

    it('character outside set 82', () => {
      const e = expectError('(01)09506000134352(10)LOT#42', 'GS1_BAD_CHARACTER', '10');
      expect(e.message).to.contain("'#'").and.contain('position 4');
      expectError('(01)09506000134352(21)A B', 'GS1_BAD_CHARACTER', '21');
      expectError('https://id.gs1.org/01/09506000134352/10/L%C3%96T', 'GS1_BAD_CHARACTER', '10');
      expectError('(01)0950600013435X', 'GS1_BAD_CHARACTER', '01');
    });

    it('unknown AI', () => {
      expectError('0109506000134352' + '0512345', 'GS1_UNKNOWN_AI', '05');
      expectError('(01)09506000134352(89)X', 'GS1_UNKNOWN_AI', '89');
      expectError('https://id.gs1.org/01/09506000134352?8999=1', 'GS1_UNKNOWN_AI', '8999');
    });

    it('empty, duplicate, short fixed field, bad URI, non-GS1 symbology', () => {
      expectError('', 'GS1_EMPTY');
      expectError('  \r\n', 'GS1_EMPTY');
      expectError(']d2', 'GS1_EMPTY');
      expectError('(01)09506000134352(10)A(10)B', 'GS1_DUPLICATE_AI', '10');
      expectError('https://id.gs1.org/01/09506000134352/10/A?10=B', 'GS1_DUPLICATE_AI', '10');
      expectError('01095060001343', 'GS1_BAD_LENGTH', '01');
      expectError(`0109506000${GS}1343521727`, 'GS1_BAD_LENGTH', '01');
      expectError('https://id.gs1.org/21/ABC', 'GS1_BAD_URI');
      expectError('https://id.gs1.org/01/09506000134352/21/A/10/B', 'GS1_BAD_URI', '10');
      expectError('https://id.gs1.org/01/09506000134352/10/%E0%A4%A', 'GS1_BAD_URI');
      expectError('https://id.gs1.org/01/09506000134352/17/271231', 'GS1_BAD_URI', '17');
      expectError(']d10109506000134352', 'GS1_NOT_GS1_SYMBOLOGY');
      expectError('(01)09506000134352(10)', 'GS1_BAD_LENGTH', '10');
    });

    it('tryParseGs1 returns the error', () => {
      const r = tryParseGs1('(01)09506000134352(17)271345');
      expect(r.ok).to.equal(false);
      if (!r.ok) expect(r.error.code).to.equal('GS1_BAD_DATE');
      expect(tryParseGs1('(01)09506000134352').ok).to.equal(true);
    });
  });

  describe('separators', () => {
    it('the last variable field needs no GS (lot last, serial last)', () => {
      const a = parseGs1(`]d20109506000134352` + `21A1B2C3${GS}10LOT42`);
      expect([a.serial, a.lot]).to.deep.equal(['A1B2C3', 'LOT42']);
      const b = parseGs1(`0109506000134352172712311012345`);
      expect([b.expiry!.iso, b.lot]).to.deep.equal(['2027-12-31', '12345']);
    });

    it('a fixed field after a variable one is separated by GS; a GS after a fixed field is tolerated', () => {
      const r = parseGs1(`0109506000134352${GS}21A1${GS}17271231${GS}10L1${GS}`);
      expect([r.serial, r.expiry!.yymmdd, r.lot]).to.deep.equal(['A1', '271231', 'L1']);
    });

    it('a missing GS between two variable fields merges them; caught when too long', () => {
      // Cannot be told apart from a lot that really is "LOT4221A1B2C3": documented limitation.
      expect(parseGs1('0109506000134352' + '10LOT42' + '21A1B2C3').lot).to.equal('LOT4221A1B2C3');
      const e = expectError('0109506000134352' + '10LOT-2027-0042' + '21SN-000000123', 'GS1_BAD_LENGTH', '10');
      expect(e.message).to.contain('GS separators');
    });

    it('digital link: percent-decoding, "+" stays a plus, GTIN-13 padded', () => {
      const r = parseGs1('https://id.gs1.org/01/9506000134352/10/A%2FB%2B1/21/x+y%25');
      expect([r.gtin, r.lot, r.serial]).to.deep.equal(['09506000134352', 'A/B+1', 'x+y%']);
    });

    it('bracketed values may contain an escaped parenthesis', () => {
      expect(parseGs1('(01)09506000134352(10)A\\(1)(21)S').lot).to.equal('A(1)');
    });
  });

  describe('round trips', () => {
    const ids = [
      { gtin: '09506000134352', lot: 'LOT42', serial: 'A1B2C3', expiry: '271231' },
      { gtin: '00312345678906', lot: 'a/b?c=d&e+f%g', serial: `!"%&'()*+,-./:;<=>?_`, expiry: '280200' },
      { gtin: '00614141123452' },
      { gtin: '00614141123452', serial: '(21)x' },
    ];
    for (const id of ids) {
      it(`round-trips ${JSON.stringify(id)}`, () => {
        const outputs = [
          toElementString(id),
          toElementString(id, { symbologyId: true }),
          toElementString(id, { separator: '<GS>' }),
          toBracketed(id),
          toDigitalLink(id),
          toDigitalLink(id, 'https://pack.example.com/'),
        ];
        for (const out of outputs) {
          const r = parseGs1(out, { now: NOW });
          expect({ gtin: r.gtin, lot: r.lot, serial: r.serial, expiry: r.expiry?.yymmdd }, out).to.deep.equal({
            gtin: id.gtin,
            lot: id.lot,
            serial: id.serial,
            expiry: id.expiry,
          });
        }
        const parsed = parseGs1(toDigitalLink(id), { now: NOW });
        expect(toDigitalLink(parsed)).to.equal(toDigitalLink(id));
        expect(toBracketed(parsed)).to.equal(toBracketed(id));
        expect(toElementString(parsed)).to.equal(toElementString(id));
      });
    }

    it('writes the documented shapes', () => {
      const id = { gtin: '09506000134352', lot: 'LOT42', serial: 'A1B2C3', expiry: '271231' };
      expect(toDigitalLink(id)).to.equal('https://id.gs1.org/01/09506000134352/10/LOT42/21/A1B2C3?17=271231');
      expect(toBracketed(id)).to.equal('(01)09506000134352(17)271231(10)LOT42(21)A1B2C3');
      expect(toElementString(id)).to.equal(`010950600013435217271231` + `10LOT42${GS}21A1B2C3`);
    });

    it('writers refuse invalid identifiers', () => {
      expect(() => toDigitalLink({ gtin: '09506000134353' })).to.throw(Gs1ScanError).with.property('code', 'GS1_BAD_CHECK_DIGIT');
      expect(() => toElementString({ gtin: '09506000134352', expiry: '271345' })).to.throw(Gs1ScanError).with.property('code', 'GS1_BAD_DATE');
      expect(() => toBracketed({ gtin: '09506000134352', lot: 'x'.repeat(21) })).to.throw(Gs1ScanError).with.property('code', 'GS1_BAD_LENGTH');
    });
  });

  it('parse rate (informative)', function () {
    const input = `]d2010950600013435217271231` + `10LOT42${GS}21A1B2C3`;
    const url = 'https://id.gs1.org/01/09506000134352/10/LOT42/21/A1B2C3?17=271231';
    const rate = (s: string, n: number) => {
      const t = process.hrtime.bigint();
      for (let i = 0; i < n; i++) parseGs1(s, { now: NOW });
      return Math.round(n / (Number(process.hrtime.bigint() - t) / 1e9));
    };
    rate(input, 2000);
    const es = rate(input, 20_000);
    const dl = rate(url, 20_000);
    console.log(`      element string: ${es} parses/s; digital link: ${dl} parses/s`);
    expect(es).to.be.greaterThan(1000);
  });
});
