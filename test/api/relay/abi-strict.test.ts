import { expect } from "chai";
import fc from "fast-check";
import { AbiCoder, ParamType, hexlify } from "ethers";
import { canonicalAbiError, tupleOf } from "../../../api/relay/abi-strict";
import { ALLOWED_FUNCTIONS } from "../../../api/relay/policy";

const coder = AbiCoder.defaultAbiCoder();

/** The reference: ethers decodes the data and re-encodes exactly the same bytes. */
function ethersCanonical(params: readonly ParamType[], body: string): boolean {
  try {
    return coder.encode(params, coder.decode(params, "0x" + body)) === "0x" + body;
  } catch {
    return false;
  }
}

/** Values of an ABI type, including the edges (zero, maximum, empty and long strings, empty arrays). */
function valueOf(p: ParamType): fc.Arbitrary<unknown> {
  if (p.isTuple()) return fc.tuple(...p.components.map(valueOf));
  if (p.isArray()) {
    const child = valueOf(p.arrayChildren);
    return p.arrayLength >= 0 ? fc.array(child, { minLength: p.arrayLength, maxLength: p.arrayLength }) : fc.array(child, { maxLength: 4 });
  }
  if (p.type === "address") return fc.uint8Array({ minLength: 20, maxLength: 20 }).map(hexlify);
  if (p.type === "bool") return fc.boolean();
  if (p.type === "string") return fc.oneof(fc.string({ unit: "grapheme", maxLength: 40 }), fc.constant(""));
  if (p.type === "bytes") return fc.uint8Array({ maxLength: 70 }).map(hexlify);
  const fixed = /^bytes(\d+)$/.exec(p.type);
  if (fixed) return fc.uint8Array({ minLength: Number(fixed[1]), maxLength: Number(fixed[1]) }).map(hexlify);
  const int = /^(u?)int(\d*)$/.exec(p.type)!;
  const bits = BigInt(int[2] || 256);
  return int[1] ? fc.bigInt({ min: 0n, max: 2n ** bits - 1n }) : fc.bigInt({ min: -(2n ** (bits - 1n)), max: 2n ** (bits - 1n) - 1n });
}

/** A valid encoding, then one corruption: a flipped hex digit, a cut, extra words, or a moved offset. */
const corrupt = (body: string) =>
  fc.oneof(
    fc.record({ at: fc.nat(), digit: fc.constantFrom(..."0123456789abcdef") }).map(({ at, digit }) => {
      const i = body.length ? at % body.length : 0;
      return body.slice(0, i) + digit + body.slice(i + 1);
    }),
    fc.nat().map((n) => body.slice(0, body.length ? (n % body.length) - ((n % body.length) % 64) : 0)),
    fc.constantFrom("0".repeat(64), "f".repeat(64), "00".repeat(31) + "01").map((w) => body + w),
    fc.nat({ max: 64 }).map((k) => {
      const i = Math.min(k, Math.max(0, body.length / 64 - 1)) * 64;
      const w = BigInt("0x" + (body.slice(i, i + 64) || "0")) + 32n;
      return body.slice(0, i) + w.toString(16).padStart(64, "0").slice(-64) + body.slice(i + 64);
    }),
  );

describe("strict ABI check (relay policy)", function () {
  for (const fn of ALLOWED_FUNCTIONS) {
    it(`${fn.name}: accepts every canonical encoding and agrees with ethers' decode + re-encode on corrupted ones`, function () {
      const params = fn.fragment.inputs;
      const type = tupleOf(params);
      fc.assert(
        fc.property(fc.tuple(...params.map(valueOf)), (values) => {
          const body = coder.encode(params, values).slice(2);
          expect(canonicalAbiError(type, body), body).to.equal(undefined);
        }),
        { numRuns: 60 },
      );
      fc.assert(
        fc.property(
          fc.tuple(...params.map(valueOf)).chain((values) => corrupt(coder.encode(params, values).slice(2))),
          (body) => {
            expect(canonicalAbiError(type, body) === undefined, body).to.equal(ethersCanonical(params, body));
          },
        ),
        { numRuns: 150 },
      );
    });
  }

  it("says what is wrong", function () {
    const ship = ALLOWED_FUNCTIONS.find((f) => f.name === "ship")!;
    const body = coder.encode(ship.fragment.inputs, [1n, "0x" + "11".repeat(20), 2n, [{ kind: 1, start: 3, count: 1 }], "0x" + "22".repeat(32)]).slice(2);
    expect(canonicalAbiError(ship.params, body + "00".repeat(32))).to.equal("32 bytes follow the encoding");
    expect(canonicalAbiError(ship.params, body.slice(0, 64 * 3))).to.equal("the data ends inside a value");
    expect(canonicalAbiError(ship.params, body.slice(0, 64) + "ff" + body.slice(66))).to.equal("an address with non-zero high bytes");
    expect(canonicalAbiError(ship.params, body.slice(1))).to.equal("its length is not a whole number of 32-byte words");
  });
});
