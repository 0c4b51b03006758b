/**
 * Serial-number Merkle tree for medicine batches.
 *
 * Bit-identical to `StandardMerkleTree.of(values, ["uint256", "string"])` from
 * `@openzeppelin/merkle-tree` v1.0.8 with default options (sortLeaves: true), where
 * `values[i] = [i, serials[i]]` (i = 0-based unit index in the producer's list):
 *
 *   leaf(i)    = keccak256(bytes.concat(keccak256(abi.encode(uint256 i, string serial))))
 *   node(a, b) = keccak256(a < b ? a ‖ b : b ‖ a)          (OZ MerkleProof commutative hash)
 *
 * Layout (same as OZ `makeMerkleTree`): a flat array of 2n-1 nodes, node k has children
 * 2k+1 and 2k+2, the root is node 0. Leaves are sorted ascending by hash (as 256-bit
 * big-endian integers) and the j-th smallest leaf is stored at node 2n-2-j. A proof is the
 * list of sibling hashes walking from the leaf's node up to (excluding) the root, exactly
 * what OZ `tree.getProof(i)` returns and what `MerkleProof.verifyCalldata` expects.
 *
 * Performance notes: all nodes live in one Int32Array (32 bytes = 8 words per node, same
 * flat layout as OZ), the abi encoding is written straight into the Keccak sponge state
 * (every input here fits in one 136-byte block: 128, 64 or 32 bytes), and Keccak-f[1600]
 * runs in a ~17 KB WebAssembly function that this file generates at load time from the
 * algorithm tables below (native 64-bit rotates, no imports, no binary blob). Measured on the
 * 2-core CI box: ~1.4 us per permutation, vs ~4 us per hash through the native `keccak`
 * addon (N-API + Buffer allocation overhead dominates for tiny inputs), ~5.5 us for an
 * unrolled pure-JS 32-bit-lane permutation and ~9 us for the `keccak` package's JS fallback.
 *
 * Pure TypeScript (plus a generated in-memory WebAssembly function): no Hardhat / Fastify /
 * ethers / native-addon imports. Requires a little-endian host (checked at load).
 */

// ---------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------

export type SerialTreeErrorCode =
  | 'SERIALS_NOT_ARRAY'
  | 'SERIALS_EMPTY'
  | 'SERIALS_TOO_MANY'
  | 'SERIAL_INVALID'
  | 'SERIAL_DUPLICATE'
  | 'UNIT_INDEX_INVALID';

/** Thrown for every input problem; `code` is stable and meant for API error mapping. */
export class SerialTreeError extends Error {
  override readonly name = 'SerialTreeError';
  /** Position in the serial list the problem refers to (if any). */
  readonly index?: number;
  /** The offending value (if any), as given. */
  readonly value?: unknown;
  /** For SERIAL_DUPLICATE: index of the first occurrence. */
  readonly firstIndex?: number;

  constructor(
    readonly code: SerialTreeErrorCode,
    message: string,
    details: { index?: number; value?: unknown; firstIndex?: number } = {},
  ) {
    super(message);
    if (details.index !== undefined) this.index = details.index;
    if ('value' in details) this.value = details.value;
    if (details.firstIndex !== undefined) this.firstIndex = details.firstIndex;
  }
}

// ---------------------------------------------------------------------------------------
// Serial validation (GS1 AI (21): 1..20 chars of GS1 character set 82)
// ---------------------------------------------------------------------------------------

export const SERIAL_MIN_LENGTH = 1;
export const SERIAL_MAX_LENGTH = 20;
/** Exclusive upper bound on the number of serials (unit index must fit in uint32). */
export const MAX_SERIALS = 2 ** 32;

/** GS1 General Specifications, figure 7.11-1 (character set 82). */
export const GS1_CSET82 = '!"%&\'()*+,-./0123456789:;<=>?ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz';

const CSET82_TABLE = new Uint8Array(128);
for (let i = 0; i < GS1_CSET82.length; i++) CSET82_TABLE[GS1_CSET82.charCodeAt(i)] = 1;

function showValue(v: unknown): string {
  let s: string;
  try {
    s = typeof v === 'string' ? JSON.stringify(v) : v === undefined ? 'undefined' : JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 48 ? `${s.slice(0, 45)}...` : s;
}

function describeChar(code: number): string {
  const hex = code.toString(16).toUpperCase().padStart(4, '0');
  return code >= 0x21 && code < 0x7f ? `'${String.fromCharCode(code)}' (U+${hex})` : `U+${hex}`;
}

/**
 * Returns null when `serial` is a valid GS1 serial, otherwise a human-readable reason.
 * Hot path for 1M-element lists: no allocation on success.
 */
export function serialProblem(serial: unknown): string | null {
  if (typeof serial !== 'string') return `must be a string, got ${serial === null ? 'null' : typeof serial}`;
  const len = serial.length;
  if (len < SERIAL_MIN_LENGTH || len > SERIAL_MAX_LENGTH) {
    return `has ${len} characters; a GS1 serial (AI 21) must have ${SERIAL_MIN_LENGTH} to ${SERIAL_MAX_LENGTH}`;
  }
  for (let i = 0; i < len; i++) {
    const c = serial.charCodeAt(i);
    if (c >= 128 || CSET82_TABLE[c] === 0) {
      return (
        `contains ${describeChar(c)} at position ${i}, which is not in GS1 character set 82 ` +
        `(allowed: A-Z a-z 0-9 and !"%&'()*+,-./:;<=>?_; no spaces)`
      );
    }
  }
  return null;
}

export function isValidSerial(serial: unknown): serial is string {
  return serialProblem(serial) === null;
}

/** Throws SERIAL_INVALID unless `serial` is a valid GS1 serial. */
export function assertValidSerial(serial: unknown, index?: number): asserts serial is string {
  const problem = serialProblem(serial);
  if (problem !== null) {
    const where = index === undefined ? 'serial' : `serials[${index}]`;
    throw new SerialTreeError('SERIAL_INVALID', `${where} = ${showValue(serial)} ${problem}; correct or remove this entry`, {
      ...(index === undefined ? {} : { index }),
      value: serial,
    });
  }
}

function assertUnitIndex(index: unknown, count?: number): asserts index is number {
  const upper = count ?? MAX_SERIALS;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= upper) {
    throw new SerialTreeError(
      'UNIT_INDEX_INVALID',
      `unit index ${showValue(index)} is invalid; expected an integer in [0, ${upper - 1}]` +
        (count === undefined ? '' : ` (the batch has ${count} units)`),
      { value: index },
    );
  }
}

if (new Uint8Array(new Uint32Array([1]).buffer)[0] !== 1) {
  // Words are copied between node storage and the sponge state by reinterpretation.
  throw new Error('api/domain/merkle: a little-endian platform is required');
}

// ---------------------------------------------------------------------------------------
// Keccak-f[1600] as a tiny WebAssembly module generated at load time (native i64 rotates,
// fully unrolled). State: 200 bytes at offset 0 of the exported memory, 25 LE 64-bit lanes.
// ---------------------------------------------------------------------------------------

const RHO = [0, 1, 62, 28, 27, 36, 44, 6, 55, 20, 3, 10, 43, 25, 39, 41, 45, 15, 21, 8, 18, 2, 61, 56, 14]; // lane x+5y
const ROUND_CONSTANTS = [
  0x0000000000000001n, 0x0000000000008082n, 0x800000000000808an, 0x8000000080008000n, 0x000000000000808bn,
  0x0000000080000001n, 0x8000000080008081n, 0x8000000000008009n, 0x000000000000008an, 0x0000000000000088n,
  0x0000000080008009n, 0x000000008000000an, 0x000000008000808bn, 0x800000000000008bn, 0x8000000000008089n,
  0x8000000000008003n, 0x8000000000008002n, 0x8000000000000080n, 0x000000000000800an, 0x800000008000000an,
  0x8000000080008081n, 0x8000000000008080n, 0x0000000080000001n, 0x8000000080008008n,
];

function uleb(v: number): number[] {
  const out: number[] = [];
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function sleb(v: bigint): number[] {
  const out: number[] = [];
  for (;;) {
    const byte = Number(v & 0x7fn);
    v >>= 7n;
    if ((v === 0n && (byte & 0x40) === 0) || (v === -1n && (byte & 0x40) !== 0)) {
      out.push(byte);
      return out;
    }
    out.push(byte | 0x80);
  }
}

function keccakWasmBytes(): Uint8Array {
  // locals: a0..a24 = 0..24, b0..b24 = 25..49, c0..c4 = 50..54, d0..d4 = 55..59
  const A = 0, B = 25, C = 50, D = 55;
  const code: number[] = [];
  const get = (i: number): void => void code.push(0x20, ...uleb(i));
  const set = (i: number): void => void code.push(0x21, ...uleb(i));
  const cnst = (v: bigint): void => void code.push(0x42, ...sleb(BigInt.asIntN(64, v)));
  const XOR = 0x85, AND = 0x83, ROTL = 0x89;
  for (let i = 0; i < 25; i++) {
    code.push(0x41, 0x00, 0x29, 0x03, ...uleb(8 * i)); // i32.const 0; i64.load align=8 offset=8i
    set(A + i);
  }
  for (const rc of ROUND_CONSTANTS) {
    for (let x = 0; x < 5; x++) {
      get(A + x);
      for (let y = 1; y < 5; y++) {
        get(A + x + 5 * y);
        code.push(XOR);
      }
      set(C + x);
    }
    for (let x = 0; x < 5; x++) {
      get(C + ((x + 4) % 5));
      get(C + ((x + 1) % 5));
      cnst(1n);
      code.push(ROTL, XOR);
      set(D + x);
    }
    for (let x = 0; x < 5; x++) {
      for (let y = 0; y < 5; y++) {
        const src = x + 5 * y;
        const dst = y + 5 * ((2 * x + 3 * y) % 5);
        get(A + src);
        get(D + x);
        code.push(XOR);
        const r = RHO[src] as number;
        if (r !== 0) {
          cnst(BigInt(r));
          code.push(ROTL);
        }
        set(B + dst);
      }
    }
    for (let y = 0; y < 5; y++) {
      for (let x = 0; x < 5; x++) {
        get(B + x + 5 * y);
        get(B + ((x + 1) % 5) + 5 * y);
        cnst(-1n);
        code.push(XOR);
        get(B + ((x + 2) % 5) + 5 * y);
        code.push(AND, XOR);
        set(A + x + 5 * y);
      }
    }
    get(A);
    cnst(rc);
    code.push(XOR);
    set(A);
  }
  for (let i = 0; i < 25; i++) {
    code.push(0x41, 0x00); // address
    get(A + i);
    code.push(0x37, 0x03, ...uleb(8 * i)); // i64.store align=8 offset=8i
  }
  code.push(0x0b); // end
  const body = [0x01, 60, 0x7e, ...code]; // one local group: 60 x i64
  const section = (id: number, content: number[]): number[] => [id, ...uleb(content.length), ...content];
  const name = (s: string): number[] => [s.length, ...Array.from(s, (ch) => ch.charCodeAt(0))];
  return Uint8Array.from([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [0x01, 0x60, 0x00, 0x00]), // type: () -> ()
    ...section(3, [0x01, 0x00]), // function 0 has type 0
    ...section(5, [0x01, 0x00, 0x01]), // memory: min 1 page
    ...section(7, [0x02, ...name('f'), 0x00, 0x00, ...name('m'), 0x02, 0x00]), // exports
    ...section(10, [0x01, ...uleb(body.length), ...body]), // code
  ]);
}

// Minimal typing: the project's tsconfig lib (ES2022, no DOM) does not declare WebAssembly.
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: { f: () => void; m: { buffer: ArrayBuffer } } };
}
const { Module: WasmModule, Instance: WasmInstance } = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;
const keccakExports = new WasmInstance(new WasmModule(keccakWasmBytes()), {}).exports;
/** Permutes the 200-byte state at offset 0 of the module memory in place (memory never grows). */
const keccakF1600 = keccakExports.f;
const STATE = new Int32Array(keccakExports.m.buffer, 0, 50);
const STATE_U8 = new Uint8Array(STATE.buffer, 0, 200);
const PAD_END = -2147483648; // 0x80 in byte 135 (last byte of the 136-byte rate) = high byte of word 33

/**
 * keccak256 of any byte string with the same WebAssembly permutation. The relay hashes every
 * request's EIP-712 struct and calldata with it: ~5 us for a 256-byte input here, against ~10 us
 * through the native `keccak` addon's state object and ~19 us through its stream API (N-API calls
 * and a Transform stream per hash). For inputs of many kilobytes the native addon is faster.
 */
export function keccak256(data: Uint8Array): Buffer {
  const b = STATE_U8;
  STATE.fill(0);
  let off = 0;
  for (; data.length - off >= 136; off += 136) {
    for (let i = 0; i < 136; i++) b[i] ^= data[off + i];
    keccakF1600();
  }
  const rest = data.length - off;
  for (let i = 0; i < rest; i++) b[i] ^= data[off + i];
  b[rest] ^= 0x01;
  b[135] ^= 0x80;
  keccakF1600();
  return Buffer.from(b.subarray(0, 32));
}

/** STATE := keccak256(abi.encode(uint256 index, string serial)) in words 0..7 (rest garbage). */
function absorbLeafPreimage(index: number, serial: string): void {
  const s = STATE;
  const b = STATE_U8;
  s.fill(0);
  // word 0: uint256 index (big-endian, index < 2^32)
  b[28] = index >>> 24;
  b[29] = (index >>> 16) & 0xff;
  b[30] = (index >>> 8) & 0xff;
  b[31] = index & 0xff;
  // word 1: offset of the string tail = 0x40
  b[63] = 0x40;
  // word 2: string length (<= 20); word 3: bytes, right-padded with zeros
  const len = serial.length;
  b[95] = len;
  for (let i = 0; i < len; i++) b[96 + i] = serial.charCodeAt(i);
  // keccak padding for a 128-byte message: 0x01 at byte 128, 0x80 at byte 135
  s[32] = 1;
  s[33] = PAD_END;
  keccakF1600();
}

/** STATE words 0..7 := keccak256(STATE words 0..7) (32-byte message). */
function rehash32(): void {
  const s = STATE;
  s.fill(0, 8);
  s[8] = 1; // 0x01 at byte 32
  s[33] = PAD_END;
  keccakF1600();
}

/** Computes the leaf into `out[outOff .. outOff+8)`. */
function leafInto(index: number, serial: string, out: Int32Array, outOff: number): void {
  absorbLeafPreimage(index, serial);
  rehash32();
  const s = STATE;
  out[outOff] = s[0];
  out[outOff + 1] = s[1];
  out[outOff + 2] = s[2];
  out[outOff + 3] = s[3];
  out[outOff + 4] = s[4];
  out[outOff + 5] = s[5];
  out[outOff + 6] = s[6];
  out[outOff + 7] = s[7];
}

function bswap(w: number): number {
  return (((w & 0xff) << 24) | ((w & 0xff00) << 8) | ((w >>> 8) & 0xff00) | (w >>> 24)) >>> 0;
}

/** Big-endian unsigned comparison of two 32-byte hashes stored as 8 LE words each. */
function compareHash(a: Int32Array, ao: number, b: Int32Array, bo: number): number {
  for (let k = 0; k < 8; k++) {
    const x = a[ao + k];
    const y = b[bo + k];
    if (x !== y) return bswap(x) < bswap(y) ? -1 : 1;
  }
  return 0;
}

/** nodes[out] := keccak256(sorted(nodes[l], nodes[r])); word offsets. */
function hashPairInto(nodes: Int32Array, l: number, r: number, out: number): void {
  const s = STATE;
  let lo = l;
  let hi = r;
  if (compareHash(nodes, l, nodes, r) > 0) {
    lo = r;
    hi = l;
  }
  for (let k = 0; k < 8; k++) {
    s[k] = nodes[lo + k];
    s[8 + k] = nodes[hi + k];
  }
  s.fill(0, 16);
  s[16] = 1; // 0x01 at byte 64
  s[33] = PAD_END;
  keccakF1600();
  for (let k = 0; k < 8; k++) nodes[out + k] = s[k];
}

function wordsToHex(words: Int32Array, off: number): string {
  return '0x' + Buffer.from(words.buffer, words.byteOffset + off * 4, 32).toString('hex');
}

const HEX32 = /^0x[0-9a-fA-F]{64}$/;

function hexToWords(hex: string, out: Int32Array, off: number): boolean {
  if (typeof hex !== 'string' || !HEX32.test(hex)) return false;
  const bytes = Buffer.from(hex.slice(2), 'hex');
  for (let k = 0; k < 8; k++) out[off + k] = bytes.readInt32LE(4 * k);
  return true;
}

// ---------------------------------------------------------------------------------------
// Public API
// ---------------------------------------------------------------------------------------

/**
 * The leaf of unit `index` with serial `serial`, as 0x-prefixed hex:
 * keccak256(bytes.concat(keccak256(abi.encode(uint256(index), serial)))).
 * Equals OZ `standardLeafHash(["uint256","string"], [index, serial])`.
 */
export function serialLeaf(index: number, serial: string): string {
  assertUnitIndex(index);
  assertValidSerial(serial);
  const out = new Int32Array(8);
  leafInto(index, serial, out, 0);
  return wordsToHex(out, 0);
}

/**
 * Checks a proof the way OZ `MerkleProof.verify(proof, root, leaf)` does (commutative
 * pair hashing), for leaf = serialLeaf(index, serial). Returns false on malformed input.
 */
export function verifySerialProof(root: string, index: number, serial: string, proof: readonly string[]): boolean {
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= MAX_SERIALS) return false;
  if (!isValidSerial(serial) || !Array.isArray(proof)) return false;
  const w = new Int32Array(24); // [current | sibling | root]
  if (!hexToWords(root, w, 16)) return false;
  leafInto(index, serial, w, 0);
  for (const p of proof) {
    if (!hexToWords(p, w, 8)) return false;
    hashPairInto(w, 0, 8, 0);
  }
  return compareHash(w, 0, w, 16) === 0;
}

/** Merkle tree over a batch's unit serials; see the module comment for the exact layout. */
export class SerialTree {
  /** Number of units (leaves). */
  readonly count: number;
  /** Merkle root, 0x-prefixed lowercase hex (what the batch commits on chain). */
  readonly root: string;

  /** All 2n-1 nodes, 8 LE int32 words each, OZ array layout. */
  private readonly nodes: Int32Array;
  /** Byte view of `nodes` (for hex output without per-call views). */
  private readonly nodeBytes: Buffer;
  /** unit index -> node index of its leaf. */
  private readonly leafNode: Uint32Array;
  private readonly serials: readonly string[];
  private readonly byIndex: Map<string, number>;

  /** @internal use buildSerialTree */
  constructor(
    serials: readonly string[],
    byIndex: Map<string, number>,
    nodes: Int32Array,
    leafNode: Uint32Array,
  ) {
    this.serials = serials;
    this.byIndex = byIndex;
    this.nodes = nodes;
    this.nodeBytes = Buffer.from(nodes.buffer, nodes.byteOffset, nodes.byteLength);
    this.leafNode = leafNode;
    this.count = serials.length;
    this.root = wordsToHex(nodes, 0);
  }

  /** Serial of unit `index`. */
  serialAt(index: number): string {
    assertUnitIndex(index, this.count);
    return this.serials[index] as string;
  }

  /** Unit index (position in the producer's list) of `serial`, or undefined if not in the batch. */
  indexOfSerial(serial: string): number | undefined {
    return this.byIndex.get(serial);
  }

  /** Leaf hash of unit `index` (0x hex). */
  leaf(index: number): string {
    assertUnitIndex(index, this.count);
    return wordsToHex(this.nodes, (this.leafNode[index] as number) * 8);
  }

  /** Position of unit `index`'s leaf in the OZ flat tree array (`tree.values[i].treeIndex`). */
  treeIndexOf(index: number): number {
    assertUnitIndex(index, this.count);
    return this.leafNode[index] as number;
  }

  /**
   * Sibling path for unit `index`, leaf to root, 0x hex — identical to OZ
   * `StandardMerkleTree.getProof(index)`; feed it to `MerkleProof.verifyCalldata`.
   */
  proof(index: number): string[] {
    assertUnitIndex(index, this.count);
    const proof: string[] = [];
    let i = this.leafNode[index] as number;
    while (i > 0) {
      const sibling = (i & 1) === 1 ? i + 1 : i - 1;
      proof.push('0x' + this.nodeBytes.toString('hex', sibling * 32, sibling * 32 + 32));
      i = (i - 1) >>> 1;
    }
    return proof;
  }

  /** Proof for a serial (undefined if the serial is not in this batch). */
  proofOfSerial(serial: string): { index: number; leaf: string; proof: string[] } | undefined {
    const index = this.byIndex.get(serial);
    if (index === undefined) return undefined;
    return { index, leaf: this.leaf(index), proof: this.proof(index) };
  }

  /** Same as verifySerialProof(this.root, ...). */
  verify(index: number, serial: string, proof: readonly string[]): boolean {
    return verifySerialProof(this.root, index, serial, proof);
  }

  /**
   * All 2n-1 nodes, 32 bytes each, in OZ array order (node k at bytes 32k … 32k+31): what the read
   * side stores so that it can serve any proof without rebuilding the tree ({@link proofFromNodes}).
   */
  nodeArray(): Buffer {
    return this.nodeBytes;
  }

  /** Node index of each unit's leaf, by unit index (a copy). */
  leafNodes(): Uint32Array {
    return this.leafNode.slice();
  }

  /** Bytes held by the node/index arrays (excludes the serial strings and the lookup map). */
  get byteLength(): number {
    return this.nodes.byteLength + this.leafNode.byteLength;
  }
}

/**
 * Sorts `n` leaves (8 LE words each in `leaves`, `keys` = their first 4 bytes big-endian) by hash
 * ascending and lays them out as OZ `makeMerkleTree` does (j-th smallest at node 2n-2-j), then
 * hashes upwards. Returns the node array and, for each input position, its node index.
 */
function assembleTree(leaves: Int32Array, keys: Uint32Array, n: number): { nodes: Int32Array; leafNode: Uint32Array } {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => {
    const ka = keys[a] as number;
    const kb = keys[b] as number;
    if (ka !== kb) return ka < kb ? -1 : 1;
    return compareHash(leaves, a * 8, leaves, b * 8);
  });
  const total = 2 * n - 1;
  const nodes = new Int32Array(total * 8);
  const leafNode = new Uint32Array(n);
  for (let j = 0; j < n; j++) {
    const unit = order[j] as number;
    const node = total - 1 - j;
    leafNode[unit] = node;
    nodes.set(leaves.subarray(unit * 8, unit * 8 + 8), node * 8);
  }
  for (let i = total - 1 - n; i >= 0; i--) {
    hashPairInto(nodes, (2 * i + 1) * 8, (2 * i + 2) * 8, i * 8);
  }
  return { nodes, leafNode };
}

/**
 * Validates `serials` and builds the tree that
 * `StandardMerkleTree.of(serials.map((s, i) => [i, s]), ["uint256", "string"])` builds.
 *
 * @throws SerialTreeError with code SERIALS_NOT_ARRAY | SERIALS_EMPTY | SERIALS_TOO_MANY |
 *   SERIAL_INVALID | SERIAL_DUPLICATE (first problem found, by list position).
 */
export function buildSerialTree(serials: readonly string[]): SerialTree {
  if (!Array.isArray(serials)) {
    throw new SerialTreeError('SERIALS_NOT_ARRAY', `serials must be an array of strings, got ${showValue(serials)}`, {
      value: serials,
    });
  }
  const n = serials.length;
  if (n === 0) {
    throw new SerialTreeError('SERIALS_EMPTY', 'serials is empty; a batch needs at least one unit serial');
  }
  if (n >= MAX_SERIALS) {
    throw new SerialTreeError(
      'SERIALS_TOO_MANY',
      `serials has ${n} entries; at most ${MAX_SERIALS - 1} are allowed — split the batch`,
    );
  }

  // 1. validate, detect duplicates, build the serial -> unit index map, hash the leaves.
  const byIndex = new Map<string, number>();
  const leaves = new Int32Array(n * 8);
  const keys = new Uint32Array(n); // first 4 bytes of each leaf, big-endian, for fast sorting
  for (let i = 0; i < n; i++) {
    const serial = serials[i];
    assertValidSerial(serial, i);
    const first = byIndex.get(serial);
    if (first !== undefined) {
      throw new SerialTreeError(
        'SERIAL_DUPLICATE',
        `serials[${i}] = ${showValue(serial)} duplicates serials[${first}]; every unit serial in a batch must be unique — remove or correct one of them`,
        { index: i, value: serial, firstIndex: first },
      );
    }
    byIndex.set(serial, i);
    leafInto(i, serial, leaves, i * 8);
    keys[i] = bswap(leaves[i * 8] as number);
  }

  const { nodes, leafNode } = assembleTree(leaves, keys, n);
  return new SerialTree(serials.slice(), byIndex, nodes, leafNode);
}

// ---------------------------------------------------------------------------------------
// Proofs from a stored node array
// ---------------------------------------------------------------------------------------

/** Node indexes of the siblings on the path from node `treeIndex` to the root, leaf first. */
export function siblingIndexes(treeIndex: number): number[] {
  const out: number[] = [];
  let i = treeIndex;
  while (i > 0) {
    out.push((i & 1) === 1 ? i + 1 : i - 1);
    i = (i - 1) >>> 1;
  }
  return out;
}

/**
 * The proof of the leaf at node `treeIndex`, reading only its siblings through `nodeAt` (32 bytes
 * each): identical to {@link SerialTree.proof} and to OZ `getProof`, from stored nodes.
 */
export function proofFromNodes(treeIndex: number, nodeAt: (node: number) => Uint8Array): string[] {
  return siblingIndexes(treeIndex).map((k) => '0x' + Buffer.from(nodeAt(k)).toString('hex'));
}

// ---------------------------------------------------------------------------------------
// Packing tree: leaves ["uint8", "uint256", "uint256"] = [level (1 case, 2 pallet), index, sscc]
// ---------------------------------------------------------------------------------------

/** STATE words 0..7 := keccak256(abi.encode(uint8 level, uint256 index, uint256 sscc)), then rehashed. */
function packingLeafInto(level: number, index: number, sscc: bigint, out: Int32Array, outOff: number): void {
  const s = STATE;
  const b = STATE_U8;
  s.fill(0);
  b[31] = level & 0xff;
  b[60] = index >>> 24;
  b[61] = (index >>> 16) & 0xff;
  b[62] = (index >>> 8) & 0xff;
  b[63] = index & 0xff;
  let v = sscc;
  for (let k = 95; k >= 64 && v > 0n; k--) {
    b[k] = Number(v & 0xffn);
    v >>= 8n;
  }
  // keccak padding for a 96-byte message: 0x01 at byte 96, 0x80 at byte 135
  s[24] = 1;
  s[33] = PAD_END;
  keccakF1600();
  rehash32();
  for (let k = 0; k < 8; k++) out[outOff + k] = s[k] as number;
}

/** The leaf of a case (level 1) or pallet (level 2) with its SSCC, as OZ `standardLeafHash` gives it. */
export function packingLeaf(level: number, index: number, sscc: string | bigint): string {
  const out = new Int32Array(8);
  packingLeafInto(level, index, BigInt(sscc), out, 0);
  return wordsToHex(out, 0);
}

/** Merkle tree of a batch's packing list (cases, then pallets), bit-identical to OZ's StandardMerkleTree. */
export class PackingTree {
  readonly root: string;
  readonly count: number;
  private readonly nodeBytes: Buffer;

  /** @internal use buildPackingTree */
  constructor(
    private readonly nodes: Int32Array,
    private readonly leafNode: Uint32Array,
    readonly cases: number,
    readonly pallets: number,
  ) {
    this.count = cases + pallets;
    this.root = wordsToHex(nodes, 0);
    this.nodeBytes = Buffer.from(nodes.buffer, nodes.byteOffset, nodes.byteLength);
  }

  /** Proof of case (level 1) or pallet (level 2) `index`, as OZ `getProof([level, index, sscc])` gives it. */
  proof(level: number, index: number): string[] {
    const position = level === 1 ? index : this.cases + index;
    if (!Number.isInteger(index) || index < 0 || index >= (level === 1 ? this.cases : this.pallets)) throw new RangeError(`no ${level === 1 ? 'case' : 'pallet'} ${index}`);
    return proofFromNodes(this.leafNode[position] as number, (k) => this.nodeBytes.subarray(k * 32, k * 32 + 32));
  }
}

/**
 * Builds the tree of `StandardMerkleTree.of(values, ["uint8","uint256","uint256"])` for values
 * `[1, i, cases[i]]` then `[2, j, pallets[j]]`. SSCCs must be 18 digits (checked by the caller).
 */
export function buildPackingTree(list: { cases: readonly string[]; pallets: readonly string[] }): PackingTree {
  const n = list.cases.length + list.pallets.length;
  if (n === 0) throw new RangeError('a packing list has at least one case');
  const leaves = new Int32Array(n * 8);
  const keys = new Uint32Array(n);
  let i = 0;
  for (const [level, ssccs] of [[1, list.cases], [2, list.pallets]] as const) {
    for (let k = 0; k < ssccs.length; k++, i++) {
      packingLeafInto(level, k, BigInt(ssccs[k] as string), leaves, i * 8);
      keys[i] = bswap(leaves[i * 8] as number);
    }
  }
  const { nodes, leafNode } = assembleTree(leaves, keys, n);
  return new PackingTree(nodes, leafNode, list.cases.length, list.pallets.length);
}
