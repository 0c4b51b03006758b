import { expect } from 'chai';
import { StandardMerkleTree } from '@openzeppelin/merkle-tree';
import { AbiCoder, keccak256 } from 'ethers';
import {
  GS1_CSET82,
  SerialTreeError,
  buildSerialTree,
  keccak256 as wasmKeccak256,
  serialLeaf,
  verifySerialProof,
  type SerialTreeErrorCode,
} from '../../api/domain/merkle';

const ENCODING = ['uint256', 'string'];

/** Small deterministic PRNG so failures are reproducible. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** `n` unique random CSET-82 serials of random length 1..20, biased towards edge characters. */
function randomSerials(n: number, seed: number): string[] {
  const rnd = rng(seed);
  const edge = '"%_!\'&()*+,-./:;<=>?';
  const seen = new Set<string>();
  while (seen.size < n) {
    const len = 1 + Math.floor(rnd() * 20);
    let s = '';
    for (let k = 0; k < len; k++) {
      const pool = rnd() < 0.3 ? edge : GS1_CSET82;
      s += pool[Math.floor(rnd() * pool.length)];
    }
    seen.add(s);
  }
  return [...seen];
}

function ozTree(serials: readonly string[]): StandardMerkleTree<(string | number)[]> {
  return StandardMerkleTree.of(
    serials.map((s, i) => [i, s]),
    ENCODING,
  );
}

function expectCode(fn: () => unknown, code: SerialTreeErrorCode): SerialTreeError {
  try {
    fn();
  } catch (err) {
    expect(err).to.be.instanceOf(SerialTreeError);
    expect(err).to.be.instanceOf(Error);
    expect((err as SerialTreeError).code).to.equal(code);
    return err as SerialTreeError;
  }
  expect.fail(`expected a SerialTreeError with code ${code}`);
}

describe('serial Merkle tree (api/domain/merkle)', function () {
  this.timeout(120_000);

  describe('leaf encoding', function () {
    it('hashes a unit as keccak256(keccak256(abi.encode(uint256 index, string serial)))', function () {
      const coder = AbiCoder.defaultAbiCoder();
      for (const [index, serial] of [
        [0, 'A'],
        [1, '"%_'],
        [255, 'ABCDEFGHIJKLMNOPQRST'],
        [65_536, "!&'()*+,-./:;<=>?"],
        [2 ** 32 - 1, 'z9'],
      ] as const) {
        const expected = keccak256(keccak256(coder.encode(ENCODING, [index, serial])));
        expect(serialLeaf(index, serial)).to.equal(expected);
      }
    });

    it("binds the unit index into the leaf so the same serial at another position gives another leaf", function () {
      expect(serialLeaf(0, 'SN1')).to.not.equal(serialLeaf(1, 'SN1'));
    });

    it("returns the same leaf hash as OpenZeppelin's tree stores for each value", function () {
      const serials = randomSerials(50, 7);
      const oz = ozTree(serials);
      const ours = buildSerialTree(serials);
      for (let i = 0; i < serials.length; i++) {
        const treeIndex = ours.treeIndexOf(i);
        expect(ours.leaf(i)).to.equal(oz.dump().tree[treeIndex]);
        expect(serialLeaf(i, serials[i] as string)).to.equal(ours.leaf(i));
      }
    });
  });

  describe('equivalence with StandardMerkleTree.of(values, ["uint256","string"])', function () {
    for (const n of [1, 2, 3, 4, 5, 7, 8, 9, 100, 1000]) {
      it(`produces the same root, layout and every proof for ${n} random serial(s)`, function () {
        const serials = randomSerials(n, 1000 + n);
        const oz = ozTree(serials);
        const ours = buildSerialTree(serials);
        expect(ours.count).to.equal(n);
        expect(ours.root).to.equal(oz.root);
        const dumped = oz.dump();
        for (let i = 0; i < n; i++) {
          expect(ours.treeIndexOf(i), `treeIndex of unit ${i}`).to.equal(dumped.values[i]?.treeIndex);
          expect(ours.proof(i), `proof of unit ${i}`).to.deep.equal(oz.getProof(i));
        }
      });
    }

    it('yields an empty proof and root == leaf for a single-unit batch', function () {
      const ours = buildSerialTree(['ONLY1']);
      expect(ours.proof(0)).to.deep.equal([]);
      expect(ours.root).to.equal(serialLeaf(0, 'ONLY1'));
    });

    it('changes the root when the same serials are listed in another order (positions are bound)', function () {
      const a = buildSerialTree(['A1', 'B2', 'C3']);
      const b = buildSerialTree(['C3', 'B2', 'A1']);
      expect(a.root).to.not.equal(b.root);
      expect(b.root).to.equal(ozTree(['C3', 'B2', 'A1']).root);
    });
  });

  describe('proof verification', function () {
    const serials = randomSerials(257, 42);
    const ours = buildSerialTree(serials);

    it("has every proof accepted by OpenZeppelin's StandardMerkleTree.verify", function () {
      for (let i = 0; i < serials.length; i++) {
        expect(StandardMerkleTree.verify(ours.root, ENCODING, [i, serials[i] as string], ours.proof(i))).to.equal(true);
      }
    });

    it('has every proof accepted by its own verifier, and rejects a wrong index, serial or sibling', function () {
      for (let i = 0; i < serials.length; i++) {
        const serial = serials[i] as string;
        const proof = ours.proof(i);
        expect(ours.verify(i, serial, proof)).to.equal(true);
        expect(verifySerialProof(ours.root, (i + 1) % serials.length, serial, proof)).to.equal(false);
      }
      const proof = ours.proof(3);
      expect(ours.verify(3, 'NOT-IN-BATCH', proof)).to.equal(false);
      const tampered = [...proof];
      tampered[0] = '0x' + 'ab'.repeat(32);
      expect(ours.verify(3, serials[3] as string, tampered)).to.equal(false);
      expect(ours.verify(3, serials[3] as string, ['0x1234'])).to.equal(false);
    });

    it('finds units by serial and returns their proof', function () {
      expect(ours.indexOfSerial(serials[100] as string)).to.equal(100);
      expect(ours.serialAt(100)).to.equal(serials[100]);
      expect(ours.indexOfSerial('NOT-IN-BATCH')).to.equal(undefined);
      const found = ours.proofOfSerial(serials[5] as string);
      expect(found?.index).to.equal(5);
      expect(found?.proof).to.deep.equal(ours.proof(5));
      expect(found?.leaf).to.equal(serialLeaf(5, serials[5] as string));
      expect(ours.proofOfSerial('NOT-IN-BATCH')).to.equal(undefined);
    });

    it('is not affected by later mutation of the input array', function () {
      const list = ['X1', 'X2', 'X3'];
      const tree = buildSerialTree(list);
      list[1] = 'CHANGED';
      expect(tree.serialAt(1)).to.equal('X2');
      expect(tree.indexOfSerial('X2')).to.equal(1);
    });
  });

  describe('input validation', function () {
    it('accepts every character of GS1 character set 82 and lengths 1 and 20', function () {
      const serials: string[] = [];
      for (let i = 0; i < GS1_CSET82.length; i++) serials.push(GS1_CSET82[i] as string);
      serials.push('A'.repeat(20), '"%&\'()*+,-./:;<=>?_a');
      expect(GS1_CSET82).to.have.length(82);
      expect(buildSerialTree(serials).root).to.equal(ozTree(serials).root);
    });

    it('rejects an empty list with SERIALS_EMPTY', function () {
      expectCode(() => buildSerialTree([]), 'SERIALS_EMPTY');
    });

    it('rejects a non-array with SERIALS_NOT_ARRAY', function () {
      expectCode(() => buildSerialTree('ABC' as unknown as string[]), 'SERIALS_NOT_ARRAY');
    });

    it('rejects a serial that is too long, empty, not a string or outside CSET 82 with SERIAL_INVALID, naming the entry', function () {
      const tooLong = expectCode(() => buildSerialTree(['OK', 'A'.repeat(21)]), 'SERIAL_INVALID');
      expect(tooLong.index).to.equal(1);
      expect(tooLong.message).to.contain('serials[1]').and.contain('21 characters').and.contain('1 to 20');

      expect(expectCode(() => buildSerialTree(['']), 'SERIAL_INVALID').index).to.equal(0);

      for (const bad of ['HAS SPACE', 'TAB\t', 'HASH#', 'DOLLAR$', 'AT@', 'BRACKET[', 'CARET^', 'TILDE~', 'PIPE|', 'ÄÖ', 'emoji😀']) {
        const err = expectCode(() => buildSerialTree(['GOOD1', 'GOOD2', bad]), 'SERIAL_INVALID');
        expect(err.index).to.equal(2);
        expect(err.value).to.equal(bad);
        expect(err.message).to.contain('serials[2]').and.contain('character set 82');
      }

      const notString = expectCode(() => buildSerialTree(['A', 42 as unknown as string]), 'SERIAL_INVALID');
      expect(notString.message).to.contain('must be a string');
    });

    it('rejects a repeated serial with SERIAL_DUPLICATE, naming both positions', function () {
      const err = expectCode(() => buildSerialTree(['A1', 'B2', 'C3', 'B2']), 'SERIAL_DUPLICATE');
      expect(err.index).to.equal(3);
      expect(err.firstIndex).to.equal(1);
      expect(err.value).to.equal('B2');
      expect(err.message).to.contain('serials[3]').and.contain('serials[1]');
    });

    it('treats serials as case-sensitive (a1 and A1 are distinct units)', function () {
      expect(buildSerialTree(['a1', 'A1']).count).to.equal(2);
    });

    it('rejects an out-of-range unit index with UNIT_INDEX_INVALID', function () {
      const tree = buildSerialTree(['A1', 'B2']);
      expectCode(() => tree.proof(2), 'UNIT_INDEX_INVALID');
      expectCode(() => tree.proof(-1), 'UNIT_INDEX_INVALID');
      expectCode(() => tree.proof(0.5), 'UNIT_INDEX_INVALID');
      expectCode(() => serialLeaf(2 ** 32, 'A1'), 'UNIT_INDEX_INVALID');
      expectCode(() => serialLeaf(0, 'bad serial'), 'SERIAL_INVALID');
    });
  });

  describe('keccak256 of any byte string', function () {
    it('equals ethers keccak256 for every length around the 136-byte block boundaries and random data', function () {
      const next = rng(7);
      for (const n of [0, 1, 31, 32, 33, 134, 135, 136, 137, 271, 272, 273, 500, 2048]) {
        for (let k = 0; k < 3; k++) {
          const data = Uint8Array.from({ length: n }, () => Math.floor(next() * 256));
          expect('0x' + wasmKeccak256(data).toString('hex'), `length ${n}`).to.equal(keccak256(data));
        }
      }
    });
  });
});
