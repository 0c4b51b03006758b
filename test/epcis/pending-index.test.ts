import { expect } from "chai";
import type { PendingShipment } from "../../api/domain/custody";
import { ITEM_KIND, type Item, type Layout } from "../../api/domain/packing";
import { PendingIndex } from "../../api/epcis/capture/pending-index";
import { unitRangesOf } from "../../api/epcis/ledger-state";

/** The scan PendingIndex replaces (the planner's receiving before the index), as the reference. */
function scan(pending: readonly PendingShipment[], batchOf: (id: string) => string | undefined, batchId: string, layout: Layout, units: ReadonlySet<number>, received: ReadonlySet<string>) {
  const left = new Set(units);
  const chosen: string[] = [];
  for (const s of pending) {
    if (s.items.length === 0 || batchOf(s.shipmentId) !== batchId || received.has(s.shipmentId)) continue;
    const ranges = unitRangesOf(layout, s.items);
    let all = true;
    for (const [a, b] of ranges) for (let u = a; u < b && all; u++) if (!left.has(u)) all = false;
    if (!all) continue;
    for (const [a, b] of ranges) for (let u = a; u < b; u++) left.delete(u);
    chosen.push(s.shipmentId);
  }
  return { chosen, left: [...left].sort((a, b) => a - b) };
}

/** A deterministic generator (xorshift32), so a failure names its seed and replays. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
}

const LAYOUT: Layout = { units: 60, unitsPerCase: 6, casesPerPallet: 5 }; // 10 cases, 2 pallets

function shipment(id: string, items: Item[], quantity = 1n): PendingShipment {
  return { shipmentId: id, sender: "0xsender", receiver: "0xreceiver", quantity, kind: "Forward", referenceHash: "0x", items };
}

describe("PendingIndex: the pending shipments a receiving names, without scanning them all", () => {
  it("takes the same shipments, in the same order, and leaves the same packs as the scan it replaces (2,000 random ledgers, overlaps included)", () => {
    const mismatches: string[] = [];
    for (let seed = 1; seed <= 2_000; seed++) {
      const r = rng(seed);
      const batches = ["7", "8"];
      const pending: PendingShipment[] = [];
      const batchOf = new Map<string, string | undefined>();
      const count = 1 + r(12);
      for (let k = 0; k < count; k++) {
        const id = `s${k}`;
        const items: Item[] = [];
        const n = r(4); // 0: a quantity shipment
        for (let j = 0; j < n; j++) {
          const kind = r(5);
          if (kind === 0) items.push({ kind: ITEM_KIND.Case, start: r(10), count: 1 });
          else if (kind === 1) items.push({ kind: ITEM_KIND.Pallet, start: r(2), count: 1 });
          else if (kind === 2) items.push({ kind: ITEM_KIND.Units, start: r(60), count: 0 }); // covers no pack
          else items.push({ kind: ITEM_KIND.Units, start: r(58), count: 1 + r(3) });
        }
        pending.push(shipment(id, items));
        batchOf.set(id, r(8) === 0 ? undefined : batches[r(2)]);
      }
      const units = new Set<number>();
      for (let j = r(40); j > 0; j--) units.add(r(60));
      // Sometimes name exactly the packs of some shipments, so that whole shipments match.
      for (const s of pending) if (r(2) === 0) for (const [a, b] of unitRangesOf(LAYOUT, s.items)) for (let u = a; u < b; u++) units.add(u);
      const received = new Set(pending.filter(() => r(6) === 0).map((s) => s.shipmentId));
      const index = new PendingIndex(pending, (id) => batchOf.get(id));
      for (const batchId of [...batches, "9"]) {
        const want = scan(pending, (id) => batchOf.get(id), batchId, LAYOUT, units, received);
        const got = index.matchPacks(batchId, LAYOUT, units, (id) => received.has(id));
        const seen = JSON.stringify({ chosen: got.chosen.map((s) => s.shipmentId), left: [...got.left].sort((a, b) => a - b) });
        if (seen !== JSON.stringify(want)) mismatches.push(`seed ${seed}, batch ${batchId}: ${seen}, the scan ${JSON.stringify(want)}`);
      }
    }
    expect(mismatches).to.deep.equal([]);
  });

  it("lists a batch's shipments in the ledger's order, without those of other or unknown batches", () => {
    const pending = [shipment("a", [], 5n), shipment("b", [{ kind: ITEM_KIND.Units, start: 0, count: 1 }]), shipment("c", [], 5n), shipment("d", [], 5n)];
    const batchOf = new Map<string, string | undefined>([["a", "7"], ["b", "7"], ["c", "8"], ["d", undefined]]);
    const index = new PendingIndex(pending, (id) => batchOf.get(id));
    expect(index.ofBatch("7").map((s) => s.shipmentId)).to.deep.equal(["a", "b"]);
    expect(index.ofBatch("8").map((s) => s.shipmentId)).to.deep.equal(["c"]);
    expect(index.ofBatch("9")).to.deep.equal([]);
  });
});
