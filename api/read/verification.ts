import type { BatchToken } from "../../typechain-types";
import { isoDate } from "../domain/gs1";
import { toDigitalLink } from "../domain/gs1-scan";
import { proofFromNodes } from "../domain/merkle";
import { ApiError } from "../errors";
import type { BatchRow, IndexStore, ProductRow } from "./store";

/** IBatchToken.UnitVerdict by index, as the API names them. */
export const CHAIN_VERDICTS = [
  "genuine",
  "dispensed",
  "recalled",
  "quarantined",
  "expired",
  "unknown_batch",
  "not_in_batch",
  "expiry_mismatch",
  "destroyed",
  "stolen",
  "sample",
  "free_sample",
  "exported",
  "locked",
  "in_transit",
  "withdrawn",
] as const;
/** `serials_unavailable`: the batch exists but its producer has not uploaded the serial list, so no unit proof exists. */
export const VERDICTS = [...CHAIN_VERDICTS, "serials_unavailable"] as const;
export type Verdict = (typeof VERDICTS)[number];

/** Pack states that are a verdict of their own (verifyUnit's tail), by PackState name. */
const STATE_VERDICTS: Readonly<Record<string, Verdict>> = {
  Dispensed: "dispensed",
  Destroyed: "destroyed",
  Stolen: "stolen",
  Sample: "sample",
  FreeSample: "free_sample",
  Exported: "exported",
  Locked: "locked",
  InTransit: "in_transit",
};

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
  product: { gtin: string; lot: string; serial: string; expiry: string | null; digitalLink: string; status: "Active" | "Withdrawn" | "Unregistered" };
  batch: { status: "Active" | "Quarantined" | "Recalled"; statusSince: string | null; expiry: string; expired: boolean } | null;
  /** Whether the printed expiry was compared with the batch's registered expiry. */
  expiryChecked: boolean;
  /** A sentence for the reader when the printed expiry was not compared, saying why; null otherwise. */
  expiryNote: string | null;
  dispensedOn: string | null;
  /** The day the pack's own state (destroyed, stolen, sample, …) was recorded, when it has one. */
  stateSince: string | null;
  proof: { unitIndex: number; leaf: string; root: string; siblings: string[] } | null;
  chain: { block: number; method: "index" | "none" };
}

const day = (unixSeconds: number) => isoDate(Math.floor(unixSeconds / 86_400));

/** Plain words for a verdict: what it means and what to do. */
export function wording(v: Verdict, r: Pick<VerificationResult, "batch" | "dispensedOn"> & { stateSince?: string | null; productStatus?: string }): { headline: string; advice: string } {
  const since = r.batch?.statusSince ? ` on ${r.batch.statusSince}` : "";
  const on = r.stateSince ? ` on ${r.stateSince}` : "";
  switch (v) {
    case "genuine":
      return { headline: "Genuine pack", advice: "This pack is registered by its manufacturer, not recalled, not expired and not yet dispensed. It is safe to use as prescribed." };
    case "dispensed":
      return {
        headline: `Already dispensed${r.dispensedOn ? ` on ${r.dispensedOn}` : ""}`,
        advice: "A pack with this serial number was already handed to a patient. If you just received it from your pharmacy, ask them; if you bought it elsewhere, do not use it — it may be a copy. Report it to your pharmacist.",
      };
    case "withdrawn":
      return {
        headline: "Do not use — product withdrawn from the market",
        advice: r.dispensedOn
          ? `This pack was dispensed on ${r.dispensedOn}, and its manufacturer has withdrawn the product from the market since. Do not take it; return it to the pharmacy that dispensed it.`
          : "The manufacturer has withdrawn this product from the market. Do not take, sell or dispense it; return it to your pharmacy or supplier.",
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
    case "destroyed":
      return {
        headline: `Reported destroyed${on} — do not use`,
        advice: "This pack was recorded as destroyed. A pack that should no longer exist may be a copy: do not use, sell or dispense it; show it to your pharmacist or report it to the medicines regulator.",
      };
    case "stolen":
      return {
        headline: "Reported stolen: do not dispense, return it to your supplier",
        advice: `This pack was reported stolen${on}. Do not sell, dispense or use it; return it to your supplier, or report it to the medicines regulator.`,
      };
    case "sample":
      return { headline: `Sample — not for sale${on}`, advice: "This pack was taken out of the supply chain as a sample (for example for testing). It must not be sold or dispensed; return it to your supplier." };
    case "free_sample":
      return { headline: `Free sample — not for sale${on}`, advice: "This pack was handed out as a free sample to a healthcare professional. It must not be sold or dispensed to a patient." };
    case "exported":
      return { headline: `Exported — not for sale here${on}`, advice: "This pack was recorded as exported out of the markets this ledger serves. It must not be sold or dispensed here; return it to your supplier." };
    case "locked":
      return { headline: "On hold — under investigation by its holder", advice: "The company holding this pack has put it on hold while it checks it. Do not sell or dispense it until the hold is released; ask your supplier." };
    case "in_transit":
      return {
        headline: "Genuine pack, recorded as in transit",
        advice: "The pack is registered by its manufacturer and recorded as on its way between two companies of the supply chain. It must be taken in before it is sold or dispensed; a patient should not have it yet — ask your pharmacy.",
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
      if (r.productStatus === "Withdrawn") return wording("withdrawn", r);
      if (status === "Recalled") return wording("recalled", r);
      if (status === "Quarantined") return wording("quarantined", r);
      if (r.batch?.expired) return wording("expired", r);
      return { headline: "Batch found; this pack cannot be checked individually", advice: "The batch is registered and not recalled, but its serial numbers are not available here yet. Ask your pharmacist to verify the pack." };
    }
  }
}

/**
 * The text a producer signs (EIP-191 personal_sign) to upload a batch's serial list. The service
 * builds it from the batch's on-chain root and count, so it checks the signature before it reads
 * (or builds anything from) the list.
 */
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

/** The text a producer signs (EIP-191) to upload a batch's packing list (its cases' and pallets' SSCCs). */
export function packingUploadMessage(p: { chainId: bigint | number; batchToken: string; batchId: string | bigint; root: string; cases: number; pallets: number }): string {
  return [
    "medtrace: upload the packing list of a batch",
    `chain: ${p.chainId}`,
    `batch token: ${p.batchToken.toLowerCase()}`,
    `batch: ${p.batchId}`,
    `packing root: ${p.root.toLowerCase()}`,
    `cases: ${p.cases}`,
    `pallets: ${p.pallets}`,
  ].join("\n");
}

export class Lru<K, V> {
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
 * from the index (the chain's events replayed into SQLite, checked against chain state by the
 * audit) and the producer's uploaded serial list (checked against the on-chain root before it was
 * stored), in the contract's order of checks. The public portal therefore puts no load on the
 * consortium's nodes. The proof comes from stored data: the serial's unit and leaf position, and
 * the sibling nodes read from the stored node array (a few 2 KB rows), so no tree is ever built
 * for a request and memory does not grow with the batches verified. A verdict is a function of
 * (query, block, day), so it is cached (VERIFY_CACHE_SIZE entries) until the indexer moves on.
 */
export class Verifier {
  private readonly verdicts: Lru<string, VerificationResult>;
  /** Batch rows by GTIN and lot at the cached block: most scans of a block hit a few hot batches. */
  private readonly batches: Lru<string, BatchRow | null>;
  private readonly products: Lru<string, ProductRow | null>;
  private cachedBlock = -1;
  private cachedDay = -1;

  constructor(
    private readonly store: IndexStore,
    private readonly currentBlock: () => number,
    verdictCacheSize: number,
  ) {
    this.verdicts = new Lru(verdictCacheSize);
    this.batches = new Lru(Math.min(verdictCacheSize, 10_000));
    this.products = new Lru(Math.min(verdictCacheSize, 10_000));
  }

  /** Drops cached verdicts (after a chain reset or a new serial list). */
  clear(): void {
    this.verdicts.clear();
    this.batches.clear();
    this.products.clear();
  }

  /** The proof of a serial from stored data, or undefined when the list lacks it. */
  proofOf(batch: BatchRow, serial: string): { unitIndex: number; leaf: string; root: string; siblings: string[] } | undefined {
    const list = this.store.serialList(batch.batchId);
    if (!list) return undefined;
    const at = this.store.unitOfSerial(batch.batchId, serial);
    if (!at) return undefined;
    const node = this.store.nodeReader(batch.batchId);
    return { unitIndex: at.unit, leaf: "0x" + Buffer.from(node(at.treeIndex)).toString("hex"), root: list.root, siblings: proofFromNodes(at.treeIndex, node) };
  }

  async verify(q: PackQuery): Promise<VerificationResult> {
    const block = this.currentBlock();
    if (block < 0) throw new ApiError(503, "INDEX_NOT_READY", "the index has not read the chain yet", "retry in a few seconds");
    const today = Math.floor(Date.now() / 86_400_000);
    if (block !== this.cachedBlock || today !== this.cachedDay) {
      this.clear();
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
    let productRow = this.products.get(q.gtin);
    if (productRow === undefined) {
      productRow = this.store.product(q.gtin) ?? null;
      this.products.set(q.gtin, productRow);
    }
    const productStatus: VerificationResult["product"]["status"] = productRow?.status ?? "Unregistered";
    const product = {
      gtin: q.gtin,
      lot: q.lot,
      serial: q.serial,
      expiry: q.expiryDay === undefined ? null : isoDate(q.expiryDay),
      digitalLink: toDigitalLink({ gtin: q.gtin, lot: q.lot, serial: q.serial }),
      status: productStatus,
    };
    // `compared`: whether the printed expiry was held against the batch's. Only a code without
    // an expiry gets a sentence about it; a check that stopped earlier has a verdict that says why.
    type Fields = Pick<VerificationResult, "batch" | "dispensedOn" | "proof"> & { stateSince?: string | null };
    const finish = (verdict: Verdict, fields: Fields, compared: boolean, method: VerificationResult["chain"]["method"] = "index"): VerificationResult => {
      const expiryNote = q.expiryDay === undefined && fields.batch ? "The code carried no expiry date, so the printed date was not compared with the registered one." : null;
      const result = { verdict, product, batch: fields.batch, dispensedOn: fields.dispensedOn, stateSince: fields.stateSince ?? null, proof: fields.proof, expiryChecked: compared && q.expiryDay !== undefined, expiryNote, chain: { block, method } };
      return { ...result, ...wording(verdict, { ...result, productStatus }) };
    };
    if (!batch) return finish("unknown_batch", { batch: null, dispensedOn: null, proof: null }, false);
    const batchView = this.batchView(batch, today);
    const expiryMatches = (q.expiryDay ?? batch.expiryDay) === batch.expiryDay;
    const serialised = !/^0x0{64}$/.test(batch.serialsRoot);
    if (!serialised) return finish("not_in_batch", { batch: batchView, dispensedOn: null, proof: null }, false);
    if (!this.store.serialList(batch.batchId)) {
      // Without the serial list no unit proof exists, but the printed expiry can still be held
      // against the batch's: a mismatch is a finding whatever the serial.
      if (!expiryMatches) return finish("expiry_mismatch", { batch: batchView, dispensedOn: null, proof: null }, true, "none");
      return finish("serials_unavailable", { batch: batchView, dispensedOn: null, proof: null }, true, "none");
    }
    const proof = this.proofOf(batch, q.serial);
    if (!proof) return finish("not_in_batch", { batch: batchView, dispensedOn: null, proof: null }, false);
    const pack = this.store.pack(batch, proof.unitIndex);
    const dispensedOn = pack?.state === "Dispensed" ? isoDate(pack.day) : null;
    const stateSince = pack && pack.day > 0 ? isoDate(pack.day) : null;
    const fields = { batch: batchView, dispensedOn, proof, stateSince };
    // The order of BatchToken.verifyUnit's checks, so the first failing one names the verdict; a
    // dispense is reported beside a later verdict (a dispensed pack of a recalled batch is both).
    if (!expiryMatches) return finish("expiry_mismatch", fields, true);
    if (productStatus === "Withdrawn") return finish("withdrawn", fields, true);
    if (batch.status === "Recalled") return finish("recalled", fields, true);
    if (batch.status === "Quarantined") return finish("quarantined", fields, true);
    const own = pack ? STATE_VERDICTS[pack.state] : undefined;
    if (own) return finish(own, fields, true);
    // Expiry against today's date; the contract compares the block's date (the same day but at midnight).
    if (batchView.expired) return finish("expired", { ...fields, stateSince: null }, true);
    return finish("genuine", { ...fields, stateSince: null }, true);
  }

  private batchView(b: BatchRow, today: number): NonNullable<VerificationResult["batch"]> {
    return {
      status: b.status,
      statusSince: b.status === "Active" ? null : day(b.statusSince),
      expiry: isoDate(b.expiryDay),
      expired: today > b.expiryDay,
    };
  }
}

/** What the upload checks need of the chain: the batch as BatchToken stores it. */
export type OnChainBatch = Awaited<ReturnType<BatchToken["batch"]>>;
