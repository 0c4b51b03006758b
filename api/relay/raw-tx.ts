import secp256k1 from "secp256k1";
import { keccak } from "./forward-request";

/**
 * Signs a legacy (type 0, EIP-155) transaction with Buffers, the native keccak and the native
 * secp256k1. Why not ethers' Wallet.signTransaction: an executeBatch of 200 requests carries
 * ≈ 120 KB of calldata, and ethers hex-encodes, RLP-encodes and hashes it in JS (twice, with
 * Transaction.from for the hash): measured as the relay's top CPU cost under the benchmark.
 * Checked against ethers in test/api/relay/raw-tx.test.ts.
 */

export interface LegacyTx {
  chainId: bigint;
  nonce: number;
  gasPrice: bigint;
  gasLimit: bigint;
  to: string;
  value: bigint;
  data: string;
}

function uintBytes(v: bigint | number): Buffer {
  let hex = BigInt(v).toString(16);
  if (hex === "0") return Buffer.alloc(0);
  if (hex.length % 2) hex = "0" + hex;
  return Buffer.from(hex, "hex");
}

function length(len: number, offset: number): Buffer {
  if (len <= 55) return Buffer.from([offset + len]);
  const l = uintBytes(len);
  return Buffer.concat([Buffer.from([offset + 55 + l.length]), l]);
}

function rlpBytes(b: Buffer): Buffer {
  if (b.length === 1 && b[0] < 0x80) return b;
  return Buffer.concat([length(b.length, 0x80), b]);
}

function rlpList(items: Buffer[]): Buffer {
  const payload = Buffer.concat(items.map(rlpBytes));
  return Buffer.concat([length(payload.length, 0xc0), payload]);
}

const stripZeros = (b: Buffer) => {
  let i = 0;
  while (i < b.length && b[i] === 0) i++;
  return b.subarray(i);
};

/** The signed raw transaction (0x hex) and its hash. */
export function signLegacyTx(tx: LegacyTx, privateKey: string): { raw: string; hash: string } {
  const fields = [
    uintBytes(tx.nonce),
    uintBytes(tx.gasPrice),
    uintBytes(tx.gasLimit),
    Buffer.from(tx.to.slice(2), "hex"),
    uintBytes(tx.value),
    Buffer.from(tx.data.slice(2), "hex"),
  ];
  const sighash = keccak(rlpList([...fields, uintBytes(tx.chainId), Buffer.alloc(0), Buffer.alloc(0)]));
  const { signature, recid } = secp256k1.ecdsaSign(sighash, Buffer.from(privateKey.slice(2), "hex"));
  const sig = Buffer.from(signature);
  const v = tx.chainId * 2n + 35n + BigInt(recid);
  const raw = rlpList([...fields, uintBytes(v), stripZeros(sig.subarray(0, 32)), stripZeros(sig.subarray(32, 64))]);
  return { raw: "0x" + raw.toString("hex"), hash: "0x" + keccak(raw).toString("hex") };
}

const EXECUTE_BATCH_SELECTOR = "ccf96b4a";

function word(v: bigint | number): string {
  return BigInt(v).toString(16).padStart(64, "0");
}

function padded(hexNo0x: string): string {
  const rem = hexNo0x.length % 64;
  return rem === 0 ? hexNo0x : hexNo0x + "0".repeat(64 - rem);
}

/**
 * Calldata of `executeBatch(ForwardRequestData[] requests, address refundReceiver)`, ABI-encoded
 * with string operations (ethers' AbiCoder copies every byte array through JS Uint8Arrays: a
 * top CPU cost for 200-request batches). Checked against ethers in test/api/relay/raw-tx.test.ts.
 */
export function encodeExecuteBatch(
  requests: { from: string; to: string; value: bigint; gas: bigint; deadline: bigint; data: string; signature: string }[],
  refundReceiver: string,
): string {
  const tuples = requests.map((r) => {
    const data = r.data.slice(2).toLowerCase();
    const sig = r.signature.slice(2).toLowerCase();
    const dataOffset = 7 * 32;
    const sigOffset = dataOffset + 32 + padded(data).length / 2;
    return (
      word(BigInt(r.from)) +
      word(BigInt(r.to)) +
      word(r.value) +
      word(r.gas) +
      word(r.deadline) +
      word(dataOffset) +
      word(sigOffset) +
      word(data.length / 2) +
      padded(data) +
      word(sig.length / 2) +
      padded(sig)
    );
  });
  let offset = requests.length * 32;
  const offsets: string[] = [];
  for (const t of tuples) {
    offsets.push(word(offset));
    offset += t.length / 2;
  }
  return "0x" + EXECUTE_BATCH_SELECTOR + word(64) + word(BigInt(refundReceiver)) + word(requests.length) + offsets.join("") + tuples.join("");
}
