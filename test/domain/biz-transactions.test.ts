import { expect } from 'chai';
import { ethers } from 'ethers';
import {
  BizTransactionError,
  bizTransactionProblems,
  bizTransactionsReferenceHash,
  canonicalBizTransactions,
  parseBizTransactions,
  toEpcisBizTransactionList,
  unresolvedReferenceUri,
} from '../../api/domain/biz-transactions';
import { withCheckDigit } from '../../api/domain/gs1';

const GLN_A = withCheckDigit('401234500000');
const GLN_B = withCheckDigit('061414100000');

describe('biz-transactions: the documents a shipment commits to', () => {
  it('turns document numbers and GDTIs into CBV URIs, in canonical order', () => {
    const docs = parseBizTransactions([
      { type: 'po', id: 'PO/4711?', issuer: GLN_B },
      { type: 'desadv', gdti: withCheckDigit('401234500001') + 'ASN-1' },
      { type: 'inv', id: 'INV-9', issuer: GLN_A },
    ]);
    expect(docs).to.deep.equal([
      { type: 'desadv', uri: `https://id.gs1.org/253/${withCheckDigit('401234500001')}ASN-1` },
      { type: 'inv', uri: `urn:epcglobal:cbv:bt:${GLN_A}:INV-9` },
      { type: 'po', uri: `urn:epcglobal:cbv:bt:${GLN_B}:PO%2F4711%3F` },
    ]);
    expect(toEpcisBizTransactionList(docs)[2]).to.deep.equal({ type: 'po', bizTransaction: `urn:epcglobal:cbv:bt:${GLN_B}:PO%2F4711%3F` });
  });

  it('hashes the documented canonical form with keccak-256, whatever the order supplied', () => {
    const a = parseBizTransactions([{ type: 'po', id: '4711', issuer: GLN_A }, { type: 'inv', id: '9', issuer: GLN_A }]);
    const b = parseBizTransactions([{ type: 'inv', id: '9', issuer: GLN_A }, { type: 'po', id: '4711', issuer: GLN_A }]);
    const canonical = `medtrace-bt/1\ninv\turn:epcglobal:cbv:bt:${GLN_A}:9\npo\turn:epcglobal:cbv:bt:${GLN_A}:4711\n`;
    expect(canonicalBizTransactions(a)).to.equal(canonical);
    expect(bizTransactionsReferenceHash(a)).to.equal(ethers.id(canonical));
    expect(bizTransactionsReferenceHash(b)).to.equal(bizTransactionsReferenceHash(a));
    expect(bizTransactionsReferenceHash(a.slice(0, 1))).to.not.equal(bizTransactionsReferenceHash(a));
    expect(unresolvedReferenceUri('0xAB' + '00'.repeat(31))).to.equal('urn:medtrace:ref:0xab' + '00'.repeat(31));
  });

  const refusals: Array<[string, unknown, string, (string | number)[]]> = [
    ['an empty list', [], 'BT_EMPTY', []],
    ['an unknown type', [{ type: 'order', id: '1', issuer: GLN_A }], 'BT_TYPE_UNKNOWN', [0, 'type']],
    ['a GLN with a wrong check digit', [{ type: 'po', id: '1', issuer: '4012345000001' }], 'BT_ISSUER_INVALID', [0, 'issuer']],
    ['a number without its issuer', [{ type: 'po', id: '1' }], 'BT_ISSUER_INVALID', [0, 'issuer']],
    ['both a number and a GDTI', [{ type: 'po', id: '1', issuer: GLN_A, gdti: withCheckDigit('401234500001') }], 'BT_FORM', [0]],
    ['a number outside set 82', [{ type: 'po', id: 'Bestellung Nr. 5 — Köln', issuer: GLN_A }], 'BT_ID_INVALID', [0, 'id']],
    ['a bad GDTI', [{ type: 'desadv', gdti: '4012345000011' }], 'BT_GDTI_INVALID', [0, 'gdti']],
    ['a duplicate', [{ type: 'po', id: '1', issuer: GLN_A }, { type: 'po', id: '1', issuer: GLN_A }], 'BT_DUPLICATE', [1]],
    ['an unknown field', [{ type: 'po', id: '1', issuer: GLN_A, date: '2026-01-01' }], 'BT_FORM', [0]],
    ['too many documents', Array.from({ length: 21 }, (_, i) => ({ type: 'po', id: String(i), issuer: GLN_A })), 'BT_TOO_MANY', []],
  ];
  for (const [what, input, code, path] of refusals) {
    it(`refuses ${what} with ${code}, a path and a hint`, () => {
      const problems = bizTransactionProblems(input);
      expect(problems.map((p) => p.code)).to.include(code);
      const p = problems.find((x) => x.code === code)!;
      expect(p.path).to.deep.equal(path);
      expect(p.hint).to.be.a('string').and.not.equal('');
      expect(() => parseBizTransactions(input)).to.throw(BizTransactionError);
    });
  }
});
