import createKeccakHash from "keccak";
import secp256k1 from "secp256k1";
import { keccak256 } from "../domain/merkle";

/**
 * OpenZeppelin 5 `ERC2771Forwarder` requests for the consortium's forwarder (EIP-712 domain
 * "ConsortiumForwarder", version "1"): types, the EIP-712 digest computed directly, and signature
 * recovery/signing with the native secp256k1 binding. No Fastify here: the client, scripts and
 * tests use it too.
 *
 * Why not ethers `verifyTypedData`: it re-parses the types and recovers in pure JS, ≈ 300/s per
 * core on these machines. The digest below is a fixed 256-byte ABI encoding hashed with the
 * native keccak, and recovery uses the N-API secp256k1 binding: measured in
 * test/api/relay/forward-request.test.ts (see the relay README for the numbers).
 */

export const FORWARDER_NAME = "ConsortiumForwarder";
export const FORWARDER_VERSION = "1";

/** What a member signs: OpenZeppelin's `ForwardRequest` (the nonce is signed, not sent). */
export interface ForwardRequest {
  from: string;
  to: string;
  value: bigint;
  gas: bigint;
  nonce: bigint;
  deadline: bigint;
  data: string;
}

/** What `execute`/`executeBatch` take: the request without its nonce, plus the 65-byte signature. */
export interface ForwardRequestData {
  from: string;
  to: string;
  value: bigint;
  gas: bigint;
  deadline: bigint;
  data: string;
  signature: string;
}

export interface ForwarderDomain {
  chainId: bigint;
  verifyingContract: string;
}

export const FORWARD_REQUEST_TYPES = {
  ForwardRequest: [
    { name: "from", type: "address" },
    { name: "to", type: "address" },
    { name: "value", type: "uint256" },
    { name: "gas", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint48" },
    { name: "data", type: "bytes" },
  ],
};

/** Whether the native (N-API) parts of secp256k1 and keccak loaded; they silently fall back to pure JS otherwise. */
export function nativeCryptoStatus(): { secp256k1: boolean; keccak: boolean } {
  const loads = (id: string) => {
    try {
      require(id);
      return true;
    } catch {
      return false;
    }
  };
  return { secp256k1: loads("secp256k1/bindings"), keccak: loads("keccak/bindings") };
}

/**
 * keccak256: the WebAssembly permutation for the small inputs of the request path (digests,
 * addresses), the native addon for large ones (transactions of a 200-request batch: ~120 KB).
 */
export function keccak(data: Buffer): Buffer {
  return data.length <= 2048 ? keccak256(data) : createKeccakHash("keccak256").update(data).digest();
}

const utf8 = (s: string) => Buffer.from(s, "utf8");
const DOMAIN_TYPEHASH = keccak(utf8("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"));
const REQUEST_TYPEHASH = keccak(
  utf8("ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)"),
);
const NAME_HASH = keccak(utf8(FORWARDER_NAME));
const VERSION_HASH = keccak(utf8(FORWARDER_VERSION));
/** secp256k1 group order / 2: OpenZeppelin's ECDSA refuses signatures with a larger s (malleability). */
const HALF_N = Buffer.from("7fffffffffffffffffffffffffffffff5d576e7357a4501ddfe92f46681b20a0", "hex");

/** Checksummed addresses seen recently: a relay meets the same few hundred members over and over. */
const checksums = new Map<string, string>();

/** EIP-55 checksum of 40 lower-case hex digits, with the native keccak (ethers' getAddress hashes in JS). */
export function checksum(lowerHex: string): string {
  const hit = checksums.get(lowerHex);
  if (hit) return hit;
  const hash = keccak(Buffer.from(lowerHex, "ascii")).toString("hex");
  let out = "0x";
  for (let i = 0; i < 40; i++) out += parseInt(hash[i], 16) >= 8 ? lowerHex[i].toUpperCase() : lowerHex[i];
  if (checksums.size >= 10_000) checksums.clear();
  checksums.set(lowerHex, out);
  return out;
}

function hexToBuffer(hex: string): Buffer {
  return Buffer.from(hex.startsWith("0x") ? hex.slice(2) : hex, "hex");
}

function putAddress(buf: Buffer, offset: number, address: string) {
  hexToBuffer(address).copy(buf, offset + 12);
}

function putUint(buf: Buffer, offset: number, value: bigint) {
  const hex = value.toString(16).padStart(64, "0");
  if (hex.length > 64) throw new RangeError("uint256 overflow");
  buf.write(hex, offset, "hex");
}

const separatorCache = new Map<string, Buffer>();

/** keccak256(abi.encode(EIP712Domain typehash, name, version, chainId, verifyingContract)). */
export function domainSeparator(domain: ForwarderDomain): Buffer {
  const key = `${domain.chainId}:${domain.verifyingContract.toLowerCase()}`;
  let sep = separatorCache.get(key);
  if (!sep) {
    const buf = Buffer.alloc(160);
    DOMAIN_TYPEHASH.copy(buf, 0);
    NAME_HASH.copy(buf, 32);
    VERSION_HASH.copy(buf, 64);
    putUint(buf, 96, domain.chainId);
    putAddress(buf, 128, domain.verifyingContract);
    sep = keccak(buf);
    separatorCache.set(key, sep);
  }
  return sep;
}

/** The EIP-712 digest the forwarder recovers the signer from. */
export function forwardRequestDigest(domain: ForwarderDomain, request: ForwardRequest): Buffer {
  const struct = Buffer.alloc(256);
  REQUEST_TYPEHASH.copy(struct, 0);
  putAddress(struct, 32, request.from);
  putAddress(struct, 64, request.to);
  putUint(struct, 96, request.value);
  putUint(struct, 128, request.gas);
  putUint(struct, 160, request.nonce);
  putUint(struct, 192, request.deadline);
  keccak(hexToBuffer(request.data)).copy(struct, 224);
  const outer = Buffer.alloc(66);
  outer[0] = 0x19;
  outer[1] = 0x01;
  domainSeparator(domain).copy(outer, 2);
  keccak(struct).copy(outer, 34);
  return keccak(outer);
}

/**
 * r‖s and the recovery id of a signature OpenZeppelin's ECDSA.tryRecover accepts, or undefined
 * when it refuses it (length ≠ 65, v ∉ {27, 28}, s in the upper half).
 */
export function signatureParts(signature: string): { rs: Buffer; recid: number } | undefined {
  const sig = hexToBuffer(signature);
  if (sig.length !== 65) return undefined;
  const v = sig[64];
  if (v !== 27 && v !== 28) return undefined;
  if (sig.subarray(32, 64).compare(HALF_N) > 0) return undefined;
  return { rs: sig.subarray(0, 64), recid: v - 27 };
}

/**
 * The address that signed `digest`, or undefined when the signature is not one OpenZeppelin's
 * ECDSA.tryRecover accepts (length ≠ 65, v ∉ {27, 28}, s in the upper half, or no point).
 * The relay recovers on a worker thread (recovery.ts) with the same rules.
 */
export function recoverSigner(digest: Buffer, signature: string): string | undefined {
  const parts = signatureParts(signature);
  return parts && recoverFromParts(digest, parts.rs, parts.recid);
}

/** The checksummed address whose key made (r‖s, recid) over `digest`, or undefined if there is no such point. */
export function recoverFromParts(digest: Buffer, rs: Buffer, recid: number): string | undefined {
  try {
    const pub = secp256k1.ecdsaRecover(rs, recid, digest, false);
    return checksum(keccak(Buffer.from(pub.subarray(1))).subarray(12).toString("hex"));
  } catch {
    return undefined;
  }
}

/** Signs `digest` with a raw private key: a 65-byte r‖s‖v signature (low s, v 27/28) as hex. */
export function signDigest(digest: Buffer, privateKey: string): string {
  const { signature, recid } = secp256k1.ecdsaSign(digest, hexToBuffer(privateKey));
  return "0x" + Buffer.from(signature).toString("hex") + (27 + recid).toString(16);
}

/** Signs `request` for `domain` with a raw private key and returns what the forwarder takes. */
export function signForwardRequest(domain: ForwarderDomain, request: ForwardRequest, privateKey: string): ForwardRequestData {
  return withSignature(request, signDigest(forwardRequestDigest(domain, request), privateKey));
}

export function withSignature(request: ForwardRequest, signature: string): ForwardRequestData {
  const { from, to, value, gas, deadline, data } = request;
  return { from, to, value, gas, deadline, data, signature };
}

/** JSON shape of a signed request on the wire: integers as decimal strings. */
export interface SignedRequestJson {
  from: string;
  to: string;
  value: string;
  gas: string;
  nonce: string;
  deadline: string;
  data: string;
  signature: string;
}

export function toJson(request: ForwardRequest, signature: string): SignedRequestJson {
  return {
    from: request.from,
    to: request.to,
    value: request.value.toString(),
    gas: request.gas.toString(),
    nonce: request.nonce.toString(),
    deadline: request.deadline.toString(),
    data: request.data,
    signature,
  };
}
