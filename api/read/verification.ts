import { verifyMessage } from "ethers";
import type { BatchToken } from "../../typechain-types";
import { isoDate } from "../domain/gs1";
import { toDigitalLink } from "../domain/gs1-scan";
import { buildSerialTree, SerialTreeError, type SerialTree } from "../domain/merkle";
import { ApiError } from "../errors";
import type { RpcSender } from "./chain-reader";
import type { BatchRow, IndexStore } from "./store";

/** IBatchToken.UnitVerdict by index, as the API names them. */
export const CHAIN_VERDICTS = ["genuine", "dispensed", "recalled", "quarantined", "expired", "unknown_batch", "not_in_batch", "expiry_mismatch"] as const;
/** `serials_unavailable`: the batch exists but its producer has not uploaded the serial list, so no unit proof exists. */
export const VERDICTS = [...CHAIN_VERDICTS, "serials_unavailable"] as const;
export type Verdict = (typeof VERDICTS)[number];

export interface PackQuery {
  gtin: string;
  lot: string;
  serial: string;
  /** Day number of the printed expiry; undefined when the code did not carry one. */
  expiryDay?: number;
}

export interface VerificationResult {
  verdict: Verdict;
  headline: string;
  advice: string;
  product: { gtin: string; lot: string; serial: string; expiry: string | null; digitalLink: string };
  batch: { status: "Active" | "Quarantined" | "Recalled"; statusSince: string | null; expiry: string; expired: boolean } | null;
  expiryChecked: boolean;
  dispensedOn: string | null;
  proof: { unitIndex: number; leaf: string; root: string; siblings: string[] } | null;
  chain: { block: number; method: "BatchToken.verifyUnit" | "none" };
}

const day = (unixSeconds: number) => isoDate(Math.floor(unixSeconds / 86_400));

/** Plain words for a verdict: what it means and what to do. */
export function wording(v: Verdict, r: Pick<VerificationResult, "batch" | "dispensedOn">): { headline: string; advice: string } {
  const since = r.batch?.statusSince ? ` on ${r.batch.statusSince}` : "";
  switch (v) {
    case "genuine":
      return { headline: "Genuine pack", advice: "This pack is registered by its manufacturer, not recalled, not expired and not yet dispensed. It is safe to use as prescribed." };
    case "dispensed":
      return {
        headline: `Already dispensed${r.dispensedOn ? ` on ${r.dispensedOn}` : ""}`,
        advice: "A pack with this serial number was already handed to a patient. If you just received it from your pharmacy, ask them; if you bought it elsewhere, do not use it — it may be a copy. Report it to your pharmacist.",
      };
    case "recalled":
      return { headline: `Do not use — recalled${since}`, advice: "This batch was recalled by the regulator. Do not take it; return it to your pharmacy, which will replace it." };
    case "quarantined":
      return { headline: `Do not use for now — batch under investigation${since}`, advice: "The regulator has put this batch on hold while it is checked. Do not take it; ask your pharmacist for a replacement." };
    case "expired":
      return { headline: `Expired on ${r.batch?.expiry ?? "its expiry date"}`, advice: "Do not use this pack. Return it to a pharmacy for safe disposal." };
    case "unknown_batch":
      return { headline: "Unknown pack — possibly counterfeit", advice: "No manufacturer registered this product and lot. Do not use it; show it to your pharmacist or report it to the medicines regulator." };
    case "not_in_batch":
      return { headline: "Serial number not registered — possibly counterfeit", advice: "The lot exists, but the manufacturer never issued this serial number in it. Do not use the pack; show it to your pharmacist." };
    case "expiry_mismatch":
      return { headline: "Printed expiry does not match the batch — possibly counterfeit", advice: `The manufacturer registered this lot with expiry ${r.batch?.expiry ?? "another date"}. Do not use the pack; show it to your pharmacist.` };
    case "serials_unavailable": {
      const status = r.batch?.status;
      if (status === "Recalled") return wording("recalled", r);
      if (status === "Quarantined") return wording("quarantined", r);
      if (r.batch?.expired) return wording("expired", r);
      return { headline: "Batch found; this pack cannot be checked individually", advice: "The batch is registered and not recalled, but its serial numbers are not available here yet. Ask your pharmacist to verify the pack." };
    }
  }
}

/** The text a producer signs (EIP-191 personal_sign) to upload a batch's serial list. */
export function serialUploadMessage(p: { chainId: bigint | number; batchToken: string; batchId: string | bigint; root: string; count: number }): string {
  return [
    "medtrace: upload the serial list of a batch",
    `chain: ${p.chainId}`,
    `batch token: ${p.batchToken.toLowerCase()}`,
    `batch: ${p.batchId}`,
    `serials root: ${p.root.toLowerCase()}`,
    `serials: ${p.count}`,
  ].join("\n");
}

const hexWord = (n: bigint | number) => BigInt(n).toString(16).padStart(64, "0");
function hexString(v: string): string {
  const hex = Buffer.from(v, "utf8").toString("hex");
  return hexWord(hex.length / 2) + hex.padEnd(Math.ceil(hex.length / 64) * 64, "0");
}

/**
 * ABI encoding of `verifyUnit(uint64,string,string,uint32,uint256,bytes32[])` calldata; the read
 * tests check it against ethers' encoder.
 */
export function encodeVerifyUnit(selector: string, gtin: bigint, lot: string, serial: string, expiryDay: number, unitIndex: number, proof: readonly string[]): string {
  const lotTail = hexString(lot);
  const serialTail = hexString(serial);
  const proofTail = hexWord(proof.length) + proof.map((p) => p.slice(2).toLowerCase().padStart(64, "0")).join("");
  const headBytes = 6 * 32;
  const lotOffset = headBytes;
  const serialOffset = lotOffset + lotTail.length / 2;
  const proofOffset = serialOffset + serialTail.length / 2;
  return selector + hexWord(gtin) + hexWord(lotOffset) + hexWord(serialOffset) + hexWord(expiryDay) + hexWord(unitIndex) + hexWord(proofOffset) + lotTail + serialTail + proofTail;
}

class Lru<K, V> {
  private readonly map = new Map<K, V>();
  constructor(private readonly max: number) {}
  get(k: K): V | undefined {
    const v = this.map.get(k);
    if (v !== undefined) {
      this.map.delete(k);
      this.map.set(k, v);
    }
    return v;
  }
  set(k: K, v: V): void {
    if (this.max <= 0) return;
    this.map.delete(k);
    this.map.set(k, v);
    if (this.map.size > this.max) this.map.delete(this.map.keys().next().value as K);
  }
  delete(k: K): void {
    this.map.delete(k);
  }
  clear(): void {
    this.map.clear();
  }
}

/**
 * Unit verification: the verdict is what BatchToken.verifyUnit answers at the last indexed block,
 * given the proof built from the producer's uploaded serial list. A verdict is a function of
 * (query, block), so it is cached until the indexer moves to a new block.
 */
export class Verifier {
  private readonly trees: Lru<string, SerialTree>;
  private readonly verdicts: Lru<string, VerificationResult>;
  private cachedBlock = -1;
  private selector: string | undefined;

  constructor(
    private readonly store: IndexStore,
    private readonly batchToken: BatchToken,
    private readonly chainId: bigint,
    private readonly batchTokenAddress: string,
    private readonly rpc: RpcSender,
    private readonly currentBlock: () => number,
    treeCacheSize: number,
    verdictCacheSize: number,
  ) {
    this.trees = new Lru(treeCacheSize);
    this.verdicts = new Lru(verdictCacheSize);
  }

  /** Drops cached trees and verdicts (after a chain reset). */
  clear(): void {
    this.trees.clear();
    this.verdicts.clear();
  }

  tree(batchId: string): SerialTree | undefined {
    const cached = this.trees.get(batchId);
    if (cached) return cached;
    const list = this.store.serialList(batchId);
    if (!list) return undefined;
    const tree = buildSerialTree(list.serials);
    this.trees.set(batchId, tree);
    return tree;
  }

  async verify(q: PackQuery): Promise<VerificationResult> {
    const block = this.currentBlock();
    if (block < 0) throw new ApiError(503, "INDEX_NOT_READY", "the index has not read the chain yet", "retry in a few seconds");
    if (block !== this.cachedBlock) {
      this.verdicts.clear();
      this.cachedBlock = block;
    }
    const key = `${q.gtin}|${q.lot}|${q.serial}|${q.expiryDay ?? ""}`;
    const hit = this.verdicts.get(key);
    if (hit) return hit;
    const result = await this.compute(q, block);
    this.verdicts.set(key, result);
    return result;
  }

  private async compute(q: PackQuery, block: number): Promise<VerificationResult> {
    const batch = this.store.batchByGtinLot(q.gtin, q.lot);
    const product = {
      gtin: q.gtin,
      lot: q.lot,
      serial: q.serial,
      expiry: q.expiryDay === undefined ? null : isoDate(q.expiryDay),
      digitalLink: toDigitalLink({ gtin: q.gtin, lot: q.lot, serial: q.serial }),
    };
    const batchView = batch ? this.batchView(batch, block) : null;
    const serialised = batch !== undefined && !/^0x0{64}$/.test(batch.serialsRoot);
    const tree = batch && serialised ? this.tree(batch.batchId) : undefined;
    if (batch && serialised && !tree) {
      const result = { verdict: "serials_unavailable" as const, product, batch: batchView, expiryChecked: false, dispensedOn: null, proof: null, chain: { block, method: "none" as const } };
      return { ...result, ...wording(result.verdict, result) };
    }
    const unit = tree?.proofOfSerial(q.serial);
    const expiryDay = q.expiryDay ?? batch?.expiryDay ?? 0;
    // Encoded by hand and sent as a raw eth_call: ethers' generic encoder and the typed Contract path
    // cost several times the rest of the request (measured with scripts/bench-read.ts).
    this.selector ??= this.batchToken.interface.getFunction("verifyUnit")!.selector;
    const data = encodeVerifyUnit(this.selector, BigInt(q.gtin), q.lot, q.serial, expiryDay, unit?.index ?? 0, unit?.proof ?? []);
    const raw = String(await this.rpc.send("eth_call", [{ to: this.batchTokenAddress, data }, "0x" + block.toString(16)]));
    if (!/^0x[0-9a-fA-F]{64}$/.test(raw)) {
      throw new ApiError(503, "CHAIN_NOT_READY", `BatchToken at ${this.batchTokenAddress} gave no verdict at block ${block} (answer ${raw.slice(0, 20)})`, "the chain may have been reset; retry once the indexer has caught up");
    }
    const code = BigInt(raw);
    const verdict: Verdict = CHAIN_VERDICTS[Number(code)] ?? "unknown_batch";
    const dispensedAt = batch && unit && verdict === "dispensed" ? this.store.dispensedAt(batch.batchId, unit.index) : undefined;
    const result = {
      verdict,
      product,
      batch: verdict === "unknown_batch" ? null : batchView,
      expiryChecked: q.expiryDay !== undefined,
      dispensedOn: dispensedAt === undefined ? null : day(dispensedAt),
      proof: unit && tree ? { unitIndex: unit.index, leaf: unit.leaf, root: tree.root, siblings: unit.proof } : null,
      chain: { block, method: "BatchToken.verifyUnit" as const },
    };
    return { ...result, ...wording(verdict, result) };
  }

  private batchView(b: BatchRow, block: number): NonNullable<VerificationResult["batch"]> {
    void block;
    const today = Math.floor(Date.now() / 86_400_000);
    return {
      status: b.status,
      statusSince: b.status === "Active" ? null : day(b.statusSince),
      expiry: isoDate(b.expiryDay),
      expired: today > b.expiryDay,
    };
  }

  /**
   * Stores a producer's serial list after checking that it builds the root the batch commits on
   * chain and that the batch's producer signed the upload message.
   */
  async upload(batchId: string, serials: string[], signature: string): Promise<{ root: string; count: number; producer: string }> {
    const onChain = await this.batchToken.batch(BigInt(batchId));
    if (Number(onChain.status) === 0) throw new ApiError(404, "BATCH_NOT_FOUND", `no batch ${batchId} on chain`, "check the batch id (GET /v1/batches/lookup?gtin=…&lot=…)");
    if (/^0x0{64}$/.test(onChain.serialsRoot)) {
      throw new ApiError(409, "BATCH_NOT_SERIALISED", `batch ${batchId} was minted without a serial commitment`, "serial lists can only be stored for batches minted with serialsRoot");
    }
    let tree: SerialTree;
    try {
      tree = buildSerialTree(serials);
    } catch (err) {
      if (err instanceof SerialTreeError) throw new ApiError(400, err.code, err.message, "fix the serial list and upload it again");
      throw err;
    }
    if (tree.root !== onChain.serialsRoot.toLowerCase() || BigInt(tree.count) !== onChain.serialCount) {
      throw new ApiError(
        422,
        "SERIALS_ROOT_MISMATCH",
        `the list of ${tree.count} serials builds root ${tree.root}, but batch ${batchId} commits root ${onChain.serialsRoot} over ${onChain.serialCount} serials`,
        "upload exactly the list, in the same order, that the batch's serialsRoot was built from",
      );
    }
    const message = serialUploadMessage({ chainId: this.chainId, batchToken: this.batchTokenAddress, batchId, root: tree.root, count: tree.count });
    let signer: string;
    try {
      signer = verifyMessage(message, signature);
    } catch {
      throw new ApiError(400, "SIGNATURE_MALFORMED", "signature is not a 65-byte secp256k1 signature", "sign the upload message with personal_sign (EIP-191) and send the 0x… result");
    }
    if (signer.toLowerCase() !== onChain.producer.toLowerCase()) {
      throw new ApiError(
        403,
        "SIGNATURE_NOT_PRODUCER",
        `the upload is signed by ${signer}, but batch ${batchId} was minted by ${onChain.producer}`,
        "the batch's producer signs the message in `details.message` (EIP-191)",
        { message },
      );
    }
    this.store.saveSerialList({ batchId, root: tree.root, count: tree.count, serials, uploadedBy: signer, uploadedAt: Math.floor(Date.now() / 1000) });
    this.trees.set(batchId, tree);
    this.verdicts.clear();
    return { root: tree.root, count: tree.count, producer: signer };
  }
}
