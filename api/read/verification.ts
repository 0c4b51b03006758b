import type { BatchToken } from "../../typechain-types";
import { isoDate } from "../domain/gs1";
import { toDigitalLink } from "../domain/gs1-scan";
import { proofFromNodes } from "../domain/merkle";
import { ApiError } from "../errors";
import { NODES_PER_CHUNK, type BatchRow, type IndexStore, type ProductRow, type SerialListRow } from "./store";

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

/** What a verdict reads of one batch, valid for one indexed block and one day. */
interface BatchEntry {
  batch: BatchRow;
  view: NonNullable<VerificationResult["batch"]>;
  serialised: boolean;
  list: SerialListRow | undefined;
}

/**
 * Unit verification: the verdict BatchToken.verifyUnit gives at the last indexed block, computed
 * from the index (the chain's events replayed into SQLite, checked against chain state by the
 * audit) and the producer's uploaded serial list (checked against the on-chain root before it was
 * stored), in the contract's order of checks. The public portal therefore puts no load on the
 * consortium's nodes. The proof comes from stored data: the serial's unit and leaf position, and
 * the sibling nodes read from the stored node array (2 KB chunks), so no tree is ever built for a
 * request.
 *
 * Memory is bounded by configuration: a verdict is a function of (query, block, day), so up to
 * VERIFY_CACHE_SIZE verdicts are kept until the indexer moves on, with the batch and product rows
 * they read; node chunks, which never change once stored, are kept across blocks up to
 * VERIFY_TREE_CACHE_MB (the hot batches' trees, not every tree).
 *
 * Verdicts are cached as their JSON text, which the public routes send as it is (verifyJson): a
 * verdict object is some thirty small objects, and 50,000 of them kept alive made random-pack
 * traffic pay for the garbage collector marking them; a string is one flat object.
 */
export class Verifier {
  private readonly verdicts: Lru<string, string>;
  /** Batch rows (with their serial list row and the day's view) by GTIN and lot, for the cached block. */
  private readonly batches = new Map<string, BatchEntry | null>();
  private readonly products = new Map<string, ProductRow | null>();
  private readonly rowCacheSize: number;
  /** Node chunks of stored serial trees, `${batchId}:${chunk}`: immutable once stored. */
  private readonly chunks: Lru<string, Buffer>;
  private cachedBlock = -1;
  private cachedDay = -1;

  constructor(
    private readonly store: IndexStore,
    private readonly currentBlock: () => number,
    verdictCacheSize: number,
    treeCacheMB = 16,
  ) {
    this.verdicts = new Lru(verdictCacheSize);
    this.rowCacheSize = Math.min(verdictCacheSize, 10_000);
    this.chunks = new Lru(Math.floor((treeCacheMB * 1024 * 1024) / (NODES_PER_CHUNK * 32)));
  }

  /** Drops everything cached (after a chain reset or a new serial list). */
  clear(): void {
    this.newBlock();
    this.chunks.clear();
  }

  /** Drops what a new block or a new day can change: verdicts and the rows they read. */
  private newBlock(): void {
    this.verdicts.clear();
    this.batches.clear();
    this.products.clear();
  }

  /** The proof of a serial from stored data, or undefined when the list lacks it. */
  proofOf(batch: BatchRow, serial: string, list = this.store.serialList(batch.batchId)): { unitIndex: number; leaf: string; root: string; siblings: string[] } | undefined {
    if (!list) return undefined;
    const at = this.store.unitOfSerial(batch.batchId, serial);
    if (!at) return undefined;
    const id = batch.batchId;
    const node = this.store.nodeReader(id, (c) => {
      const key = `${id}:${c}`;
      let blob = this.chunks.get(key);
      if (!blob) {
        blob = this.store.nodeChunk(id, c);
        this.chunks.set(key, blob);
      }
      return blob;
    });
    return { unitIndex: at.unit, leaf: "0x" + Buffer.from(node(at.treeIndex)).toString("hex"), root: list.root, siblings: proofFromNodes(at.treeIndex, node) };
  }

  /** The verdict of a pack. */
  async verify(q: PackQuery): Promise<VerificationResult> {
    const { key, block, today } = this.at(q);
    const hit = this.verdicts.get(key);
    if (hit !== undefined) return JSON.parse(hit) as VerificationResult;
    const result = this.compute(q, block, today);
    this.verdicts.set(key, JSON.stringify(result));
    return result;
  }

  /** The verdict of a pack as JSON text (a VerificationResult), for routes that send it unchanged. */
  verifyJson(q: PackQuery): string {
    const { key, block, today } = this.at(q);
    let json = this.verdicts.get(key);
    if (json === undefined) {
      json = JSON.stringify(this.compute(q, block, today));
      this.verdicts.set(key, json);
    }
    return json;
  }

  /** The indexed block and the day a verdict is computed at (a change drops the cached ones), and its cache key. */
  private at(q: PackQuery): { key: string; block: number; today: number } {
    const block = this.currentBlock();
    if (block < 0) throw new ApiError(503, "INDEX_NOT_READY", "the index has not read the chain yet", "retry in a few seconds");
    const today = Math.floor(Date.now() / 86_400_000);
    if (block !== this.cachedBlock || today !== this.cachedDay) {
      this.newBlock();
      this.cachedBlock = block;
      this.cachedDay = today;
    }
    return { key: `${q.gtin}|${q.lot}|${q.serial}|${q.expiryDay ?? ""}`, block, today };
  }

  private batchEntry(gtin: string, lot: string, today: number): BatchEntry | null {
    const key = `${gtin}|${lot}`;
    let entry = this.batches.get(key);
    if (entry === undefined) {
      const batch = this.store.batchByGtinLot(gtin, lot);
      entry = batch
        ? { batch, view: this.batchView(batch, today), serialised: !/^0x0{64}$/.test(batch.serialsRoot), list: this.store.serialList(batch.batchId) }
        : null;
      if (this.batches.size >= this.rowCacheSize) this.batches.clear();
      if (this.rowCacheSize > 0) this.batches.set(key, entry);
    }
    return entry;
  }

  private product(gtin: string): ProductRow | null {
    let row = this.products.get(gtin);
    if (row === undefined) {
      row = this.store.product(gtin) ?? null;
      if (this.products.size >= this.rowCacheSize) this.products.clear();
      if (this.rowCacheSize > 0) this.products.set(gtin, row);
    }
    return row;
  }

  private compute(q: PackQuery, block: number, today: number): VerificationResult {
    const entry = this.batchEntry(q.gtin, q.lot, today);
    const productRow = this.product(q.gtin);
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
    if (!entry) return finish("unknown_batch", { batch: null, dispensedOn: null, proof: null }, false);
    const { batch, view: batchView, list } = entry;
    const expiryMatches = (q.expiryDay ?? batch.expiryDay) === batch.expiryDay;
    if (!entry.serialised) return finish("not_in_batch", { batch: batchView, dispensedOn: null, proof: null }, false);
    if (!list) {
      // Without the serial list no unit proof exists, but the printed expiry can still be held
      // against the batch's: a mismatch is a finding whatever the serial.
      if (!expiryMatches) return finish("expiry_mismatch", { batch: batchView, dispensedOn: null, proof: null }, true, "none");
      return finish("serials_unavailable", { batch: batchView, dispensedOn: null, proof: null }, true, "none");
    }
    const proof = this.proofOf(batch, q.serial, list);
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
