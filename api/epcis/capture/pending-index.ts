import type { PendingShipment } from "../../domain/custody";
import type { Layout } from "../../domain/packing";
import { unitRangesOf } from "../ledger-state";

/**
 * The pending shipments to the capturing member, indexed once per document for its receiving
 * events: by batch, and within a batch by the packs (unit indexes) each shipment's items cover.
 *
 * Why: a receiving document of 1,000 events against 1,000 pending shipments scanned every pending
 * shipment per event (and recomputed its ranges) — a million steps that made receiving documents
 * capture at 455 events/s (README, bench:exchange).
 *
 * Same answers as that scan: a receiving takes, in the ledger's order, every pending shipment of
 * the batch whose packs are all still among those named (and not received earlier in the
 * document). A shipment carrying none of the named packs could pass only if it covers no pack at
 * all, so the candidates are the shipments carrying a named pack plus those covering none, visited
 * in the ledger's order.
 */
export class PendingIndex {
  private readonly byBatch = new Map<string, PendingShipment[]>();
  private readonly packs = new Map<string, BatchPacks>();

  /** `pending` in the ledger's order; `batchOf` the batch of a shipment (as created), undefined if unknown. */
  constructor(pending: readonly PendingShipment[], batchOf: (shipmentId: string) => string | undefined) {
    for (const s of pending) {
      const batchId = batchOf(s.shipmentId);
      if (batchId === undefined) continue; // the scan never matched these: no batch equals undefined
      const list = this.byBatch.get(batchId) ?? [];
      list.push(s);
      this.byBatch.set(batchId, list);
    }
  }

  /** The batch's pending shipments to the member, in the ledger's order. */
  ofBatch(batchId: string): readonly PendingShipment[] {
    return this.byBatch.get(batchId) ?? [];
  }

  /**
   * The shipments with items of `batchId` that `units` names whole, taken in the ledger's order
   * (a shipment's packs leave `left` as it is taken); `skip` says which are received already.
   * `layout` is the batch's (the same for every call of a document: the ledger state is fixed).
   */
  matchPacks(batchId: string, layout: Layout, units: ReadonlySet<number>, skip: (shipmentId: string) => boolean): { chosen: PendingShipment[]; left: Set<number> } {
    const left = new Set(units);
    const chosen: PendingShipment[] = [];
    const book = this.packsOf(batchId, layout);
    if (!book) return { chosen, left };
    const candidates = new Set<number>(book.coveringNothing);
    for (const u of units) for (const k of book.byUnit.get(u) ?? []) candidates.add(k);
    for (const k of [...candidates].sort((a, b) => a - b)) {
      const s = book.shipments[k]!;
      if (skip(s.shipmentId)) continue;
      const ranges = book.ranges[k]!;
      let all = true;
      for (const [a, b] of ranges) for (let u = a; u < b && all; u++) if (!left.has(u)) all = false;
      if (!all) continue;
      for (const [a, b] of ranges) for (let u = a; u < b; u++) left.delete(u);
      chosen.push(s);
    }
    return { chosen, left };
  }

  private packsOf(batchId: string, layout: Layout): BatchPacks | undefined {
    let book = this.packs.get(batchId);
    if (book) return book;
    const all = this.byBatch.get(batchId);
    if (!all) return undefined;
    book = { shipments: [], ranges: [], byUnit: new Map(), coveringNothing: [] };
    for (const s of all) {
      if (s.items.length === 0) continue; // a quantity shipment: received by quantityList
      const k = book.shipments.length;
      const ranges = unitRangesOf(layout, s.items);
      book.shipments.push(s);
      book.ranges.push(ranges);
      let covers = false;
      for (const [a, b] of ranges) {
        for (let u = a; u < b; u++) {
          covers = true;
          const at = book.byUnit.get(u);
          if (at === undefined) book.byUnit.set(u, [k]);
          else if (at[at.length - 1] !== k) at.push(k);
        }
      }
      if (!covers) book.coveringNothing.push(k);
    }
    this.packs.set(batchId, book);
    return book;
  }
}

/** A batch's pending shipments with items, their unit ranges, and which of them carry each pack. */
interface BatchPacks {
  shipments: PendingShipment[];
  ranges: Array<Array<[number, number]>>;
  byUnit: Map<number, number[]>;
  coveringNothing: number[];
}
