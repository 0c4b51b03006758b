import { verifyMessage } from "ethers";
import type { BatchToken } from "../../typechain-types";
import { isoDate } from "../domain/gs1";
import { toDigitalLink } from "../domain/gs1-scan";
import { buildSerialTree, SerialTreeError, type SerialTree } from "../domain/merkle";
import { ApiError } from "../errors";
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
  /** Whether the printed expiry was compared with the batch's registered expiry. */
  expiryChecked: boolean;
  /** A sentence for the reader when the printed expiry was not compared, saying why; null otherwise. */
  expiryNote: string | null;
  dispensedOn: string | null;
  proof: { unitIndex: number; leaf: string; root: string; siblings: string[] } | null;
  chain: { block: number; method: "index" | "none" };
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
      return {
        headline: `Do not use — recalled${since}`,
        advice: r.dispensedOn
          ? `This pack was dispensed on ${r.dispensedOn}, and its batch was recalled by the regulator since. Do not take it; return it to the pharmacy that dispensed it, which will replace it.`
          : "This batch was recalled by the regulator. Do not take it; return it to your pharmacy, which will replace it.",
      };
    case "quarantined":
      return {
        headline: `Do not use for now — batch under investigation${since}`,
        advice: r.dispensedOn
          ? `This pack was dispensed on ${r.dispensedOn}, and the regulator has put its batch on hold since, while it is checked. Do not take it; ask your pharmacist for a replacement.`
          : "The regulator has put this batch on hold while it is checked. Do not take it; ask your pharmacist for a replacement.",
      };
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
 * Unit verification: the verdict BatchToken.verifyUnit gives at the last indexed block, computed
 * from the index (the chain's events replayed into SQLite, checked against chain state by
 * audit:check) and the producer's uploaded serial list (checked against the on-chain root before
 * it was stored), in the contract's order of checks. The public portal therefore puts no load on
 * the consortium's nodes: calling verifyUnit on the node for each scan capped verification at
 * ~1,400 requests/s on the 2-core bench machine, because the node shares the CPU. The returned
 * proof lets anyone re-run verifyUnit on any node; the tests do so for every verdict. A verdict is
 * a function of (query, block, day), so it is cached until the indexer moves to a new block.
 */
export class Verifier {
  private readonly trees: Lru<string, SerialTree>;
  private readonly verdicts: Lru<string, VerificationResult>;
  /** Batch rows by GTIN and lot at the cached block: most scans of a block hit a few hot batches. */
  private readonly batches: Lru<string, BatchRow | null>;
  private cachedBlock = -1;
  private cachedDay = -1;

  constructor(
    private readonly store: IndexStore,
    private readonly batchToken: BatchToken,
    private readonly chainId: bigint,
    private readonly batchTokenAddress: string,
    private readonly currentBlock: () => number,
    treeCacheSize: number,
    verdictCacheSize: number,
  ) {
    this.trees = new Lru(treeCacheSize);
    this.verdicts = new Lru(verdictCacheSize);
    this.batches = new Lru(Math.min(verdictCacheSize, 10_000));
  }

  /** Drops cached trees and verdicts (after a chain reset). */
  clear(): void {
    this.trees.clear();
    this.verdicts.clear();
    this.batches.clear();
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
    const today = Math.floor(Date.now() / 86_400_000);
    if (block !== this.cachedBlock || today !== this.cachedDay) {
      this.verdicts.clear();
      this.batches.clear();
      this.cachedBlock = block;
      this.cachedDay = today;
    }
    const key = `${q.gtin}|${q.lot}|${q.serial}|${q.expiryDay ?? ""}`;
    const hit = this.verdicts.get(key);
    if (hit) return hit;
    const result = this.compute(q, block, today);
    this.verdicts.set(key, result);
    return result;
  }

  private compute(q: PackQuery, block: number, today: number): VerificationResult {
    const batchKey = `${q.gtin}|${q.lot}`;
    let batch = this.batches.get(batchKey);
    if (batch === undefined) {
      batch = this.store.batchByGtinLot(q.gtin, q.lot) ?? null;
      this.batches.set(batchKey, batch);
    }
    const product = {
      gtin: q.gtin,
      lot: q.lot,
      serial: q.serial,
      expiry: q.expiryDay === undefined ? null : isoDate(q.expiryDay),
      digitalLink: toDigitalLink({ gtin: q.gtin, lot: q.lot, serial: q.serial }),
    };
    // `compared`: whether the printed expiry was held against the batch's. Only a code without
    // an expiry gets a sentence about it; a check that stopped earlier has a verdict that says why.
    const finish = (verdict: Verdict, fields: Pick<VerificationResult, "batch" | "dispensedOn" | "proof">, compared: boolean, method: VerificationResult["chain"]["method"] = "index"): VerificationResult => {
      const expiryNote = q.expiryDay === undefined && fields.batch ? "The code carried no expiry date, so the printed date was not compared with the registered one." : null;
      const result = { verdict, product, ...fields, expiryChecked: compared && q.expiryDay !== undefined, expiryNote, chain: { block, method } };
      return { ...result, ...wording(verdict, result) };
    };
    if (!batch) return finish("unknown_batch", { batch: null, dispensedOn: null, proof: null }, false);
    const batchView = this.batchView(batch, today);
    const expiryMatches = (q.expiryDay ?? batch.expiryDay) === batch.expiryDay;
    const serialised = !/^0x0{64}$/.test(batch.serialsRoot);
    if (!serialised) return finish("not_in_batch", { batch: batchView, dispensedOn: null, proof: null }, false);
    const tree = this.tree(batch.batchId);
    if (!tree) {
      // Without the serial list no unit proof exists, but the printed expiry can still be held
      // against the batch's: a mismatch is a finding whatever the serial.
      if (!expiryMatches) return finish("expiry_mismatch", { batch: batchView, dispensedOn: null, proof: null }, true, "none");
      return finish("serials_unavailable", { batch: batchView, dispensedOn: null, proof: null }, true, "none");
    }
    const unit = tree.proofOfSerial(q.serial);
    if (!unit) return finish("not_in_batch", { batch: batchView, dispensedOn: null, proof: null }, false);
    const proof = { unitIndex: unit.index, leaf: unit.leaf, root: tree.root, siblings: unit.proof };
    const dispensedAt = this.store.dispensedAt(batch.batchId, unit.index);
    const dispensedOn = dispensedAt === undefined ? null : day(dispensedAt);
    // The order of BatchToken.verifyUnit's checks, so the first failing one names the verdict; a
    // dispense is reported beside a later verdict (a dispensed pack of a recalled batch is both).
    if (!expiryMatches) return finish("expiry_mismatch", { batch: batchView, dispensedOn, proof }, true);
    if (batch.status === "Recalled") return finish("recalled", { batch: batchView, dispensedOn, proof }, true);
    if (batch.status === "Quarantined") return finish("quarantined", { batch: batchView, dispensedOn, proof }, true);
    if (dispensedOn !== null) return finish("dispensed", { batch: batchView, dispensedOn, proof }, true);
    // Expiry against today's date; the contract compares the block's date (the same day but at midnight).
    if (batchView.expired) return finish("expired", { batch: batchView, dispensedOn: null, proof }, true);
    return finish("genuine", { batch: batchView, dispensedOn: null, proof }, true);
  }

  private batchView(b: BatchRow, today: number): NonNullable<VerificationResult["batch"]> {
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
