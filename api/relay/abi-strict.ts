import type { ParamType } from "ethers";

/**
 * Strict ABI check: is a hex string exactly the canonical encoding (what `abi.encode` and every
 * standard encoder produce) of some values of the given types? Canonical means: offsets point to
 * the tails laid out in order right after the heads, every padding byte is zero, integers fit
 * their width (signed ones sign-extended), addresses have 12 zero bytes, bools are 0 or 1,
 * strings are UTF-8, and nothing trails the encoding.
 *
 * Why not ethers' decode + re-encode, which the relay used first: it builds Result objects and
 * checksums every address in JS keccak, 18% of the relay's CPU under scripts/bench-relay.ts.
 * This walks the hex string once. test/api/relay/abi-strict.test.ts checks it against ethers'
 * decode + re-encode on generated valid and corrupted encodings of every relayed function.
 */

type AbiType =
  | { kind: "word"; check: (word: string) => string | undefined }
  | { kind: "bytes"; utf8: boolean }
  | { kind: "array"; of: AbiType; length: number | undefined }
  | { kind: "tuple"; components: AbiType[] };

const ZERO_WORD = "0".repeat(64);
const utf8 = new TextDecoder("utf-8", { fatal: true });

function isDynamic(t: AbiType): boolean {
  if (t.kind === "bytes") return true;
  if (t.kind === "array") return t.length === undefined || isDynamic(t.of);
  if (t.kind === "tuple") return t.components.some(isDynamic);
  return false;
}

/** Size in bytes of a static type's encoding. */
function staticSize(t: AbiType): number {
  if (t.kind === "array") return t.length! * staticSize(t.of);
  if (t.kind === "tuple") return t.components.reduce((n, c) => n + staticSize(c), 0);
  return 32;
}

function wordCheck(type: string): (word: string) => string | undefined {
  if (type === "address") return (w) => (w.startsWith("000000000000000000000000") ? undefined : "an address with non-zero high bytes");
  if (type === "bool") return (w) => (w === ZERO_WORD || w === ZERO_WORD.slice(1) + "1" ? undefined : "a bool that is neither 0 nor 1");
  let m = /^uint(\d*)$/.exec(type);
  if (m) {
    const zeros = "0".repeat((256 - Number(m[1] || 256)) / 4);
    return (w) => (w.startsWith(zeros) ? undefined : `a ${type} out of range`);
  }
  m = /^int(\d*)$/.exec(type);
  if (m) {
    const bits = Number(m[1] || 256);
    const high = (256 - bits) / 4;
    return (w) => {
      if (high === 0) return undefined;
      // Sign extension: the high nibbles repeat the sign bit of the value's top nibble.
      const negative = parseInt(w[high], 16) >= 8;
      const fill = negative ? "f" : "0";
      for (let i = 0; i < high; i++) if (w[i] !== fill) return `an ${type} out of range`;
      return undefined;
    };
  }
  m = /^bytes(\d+)$/.exec(type);
  if (m) {
    const used = Number(m[1]) * 2;
    return (w) => (w.endsWith("0".repeat(64 - used)) ? undefined : `a ${type} with non-zero padding`);
  }
  throw new Error(`abi-strict: unsupported type ${type}`);
}

/** The checker's view of an ethers ParamType (built once per function). */
export function abiTypeOf(p: ParamType): AbiType {
  if (p.isTuple()) return { kind: "tuple", components: p.components.map(abiTypeOf) };
  if (p.isArray()) return { kind: "array", of: abiTypeOf(p.arrayChildren), length: p.arrayLength < 0 ? undefined : p.arrayLength };
  if (p.type === "string" || p.type === "bytes") return { kind: "bytes", utf8: p.type === "string" };
  return { kind: "word", check: wordCheck(p.type) };
}

export function tupleOf(params: readonly ParamType[]): AbiType {
  return { kind: "tuple", components: params.map(abiTypeOf) };
}

class NotCanonical extends Error {}

/**
 * Undefined when `hex` (lower-case, no 0x, e.g. calldata after the selector) is the canonical
 * encoding of a value of `type` (usually a tuple of the parameters); otherwise what is wrong.
 */
export function canonicalAbiError(type: AbiType, hex: string): string | undefined {
  if (!/^[0-9a-f]*$/.test(hex)) return "not lower-case hex";
  if (hex.length % 64 !== 0) return "its length is not a whole number of 32-byte words";
  try {
    const end = encodedAt(type, hex, 0);
    return end === hex.length ? undefined : `${(hex.length - end) / 2} bytes follow the encoding`;
  } catch (err) {
    if (err instanceof NotCanonical) return err.message;
    throw err;
  }
}

function wordAt(hex: string, pos: number): string {
  if (pos + 64 > hex.length) throw new NotCanonical("the data ends inside a value");
  return hex.slice(pos, pos + 64);
}

/** A length or offset word as a number of bytes; refuses anything larger than the data. */
function sizeAt(hex: string, pos: number): number {
  const w = wordAt(hex, pos);
  if (!w.startsWith("0".repeat(56))) throw new NotCanonical("a length or offset larger than the data");
  const n = parseInt(w.slice(56), 16);
  if (n > hex.length / 2) throw new NotCanonical("a length or offset larger than the data");
  return n;
}

/** Checks the encoding of `t` starting at hex position `pos`; returns where it ends. */
function encodedAt(t: AbiType, hex: string, pos: number): number {
  switch (t.kind) {
    case "word": {
      const problem = t.check(wordAt(hex, pos));
      if (problem) throw new NotCanonical(problem);
      return pos + 64;
    }
    case "bytes": {
      const len = sizeAt(hex, pos);
      const start = pos + 64;
      const padded = Math.ceil(len / 32) * 64;
      if (start + padded > hex.length) throw new NotCanonical("a byte string runs past the end of the data");
      for (let i = start + len * 2; i < start + padded; i++) if (hex[i] !== "0") throw new NotCanonical("a byte string with non-zero padding");
      if (t.utf8) {
        try {
          utf8.decode(Buffer.from(hex.slice(start, start + len * 2), "hex"));
        } catch {
          throw new NotCanonical("a string that is not UTF-8");
        }
      }
      return start + padded;
    }
    case "array": {
      if (t.length !== undefined) return sequenceAt(Array<AbiType>(t.length).fill(t.of), hex, pos);
      const n = sizeAt(hex, pos);
      if (n * (isDynamic(t.of) ? 32 : staticSize(t.of)) * 2 > hex.length - pos - 64) throw new NotCanonical("an array longer than the data");
      return sequenceAt(Array<AbiType>(n).fill(t.of), hex, pos + 64);
    }
    case "tuple":
      return sequenceAt(t.components, hex, pos);
  }
}

/** Heads then tails: every dynamic member's offset (from `pos`) points exactly where the previous tail ended. */
function sequenceAt(types: AbiType[], hex: string, pos: number): number {
  let head = pos;
  let tail = pos + types.reduce((n, c) => n + (isDynamic(c) ? 32 : staticSize(c)) * 2, 0);
  for (const c of types) {
    if (isDynamic(c)) {
      if (pos + sizeAt(hex, head) * 2 !== tail) throw new NotCanonical("an offset that does not point to the next tail");
      tail = encodedAt(c, hex, tail);
      head += 64;
    } else {
      head = encodedAt(c, hex, head);
    }
  }
  return tail;
}
