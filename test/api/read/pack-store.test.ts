import { expect } from "chai";
import fc from "fast-check";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { applyEvent, emptyCustody, type CustodyState } from "../../../api/domain/custody";
import type { LedgerEvent } from "../../../api/domain/ledger-events";
import { buildPackingTree, buildSerialTree, packingLeaf, proofFromNodes } from "../../../api/domain/merkle";
import { assignSsccs, caseCount, ITEM_KIND, packingValues, palletCount, unitRange, type Item, type Layout } from "../../../api/domain/packing";
import { PACK_STATE_NAMES } from "../../../api/domain/pack-ledger";
import { IndexStore } from "../../../api/read/store";

const P = "0x00000000000000000000000000000000000000a1";
const MEMBERS = [P, "0x00000000000000000000000000000000000000b2", "0x00000000000000000000000000000000000000c3"];
const ZERO32 = "0x" + "0".repeat(64);

/**
 * Random but valid histories of one batch — packing, shipping by pallet, case and pack, picks out
 * of sealed containers, acceptance, rejection, cancellation, unpacking, dispensing and its undo,
 * every decommission kind and its revert, locks — generated against the domain's custody reducer
 * (PackBook) as the oracle, then applied to the SQLite index: every pack, container, balance and
 * pending shipment the index holds must be what the oracle holds.
 */
function history(seed: number): { events: LedgerEvent[]; oracle: CustodyState; layout: Layout } {
  let s = seed >>> 0 || 1;
  const rnd = (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
  const unitsPerCase = rnd(4) === 0 ? 0 : 1 + rnd(6);
  const layout: Layout = { units: 1 + rnd(60), unitsPerCase, casesPerPallet: unitsPerCase && rnd(3) > 0 ? 1 + rnd(3) : 0 };
  const oracle = emptyCustody("1");
  const events: LedgerEvent[] = [];
  let block = 1;
  const emit = (name: LedgerEvent["name"], args: LedgerEvent["args"]) => {
    const e: LedgerEvent = { name, batchId: "1", args: { batchId: "1", ...args }, blockNumber: block++, blockTime: 1_800_000_000 + block * 40_000, txHash: "0x" + block.toString(16).padStart(64, "0"), logIndex: 0 };
    applyEvent(oracle, e);
    events.push(e);
  };
  emit("BatchMinted", { producer: P, gtin: "9506000134352", lot: "L", expiryDay: "22000", quantity: String(layout.units), serialsRoot: "0x" + "1".repeat(64), serialCount: String(layout.units), documentHash: ZERO32 });
  emit("BatchMarkets", { markets: ["DE"] });
  if (layout.unitsPerCase) emit("BatchPacked", { unitsPerCase: String(layout.unitsPerCase), casesPerPallet: String(layout.casesPerPallet), packingRoot: "0x" + "2".repeat(64) });
  const pending: Array<{ id: string; sender: string; receiver: string; items: Item[]; quantity: number }> = [];
  let nextShipment = 1;
  const book = () => oracle.packs!;
  const sizeOf = (i: Item) => {
    const [a] = unitRange(layout, i.kind, i.start);
    const [, b] = unitRange(layout, i.kind, i.start + i.count - 1);
    return i.kind === ITEM_KIND.Units ? i.count : b - a;
  };
  /** Something `who` holds: a held pack, or a sealed held container. */
  const heldItem = (who: string): Item | undefined => {
    const options: Item[] = [];
    for (let u = 0; u < layout.units; u++) {
      const v = book().unit(u);
      if (v.state === "Held" && v.holder === who) options.push({ kind: 0, start: u, count: 1 });
    }
    for (const kind of [1, 2]) {
      const n = kind === 1 ? caseCount(layout) : palletCount(layout);
      for (let k = 0; k < n; k++) {
        const c = book().container(kind, k);
        if (c.state === "Held" && c.holder === who) options.push({ kind, start: k, count: 1 });
      }
    }
    return options.length ? options[rnd(options.length)] : undefined;
  };
  for (let step = 0; step < 40; step++) {
    const who = MEMBERS[rnd(3)];
    const op = rnd(10);
    if (op <= 2) {
      const item = heldItem(who);
      if (!item) continue;
      const receiver = MEMBERS.filter((m) => m !== who)[rnd(2)];
      const id = String(nextShipment++);
      emit("ShipmentCreated", { sender: who, receiver, shipmentId: id, quantity: String(sizeOf(item)), kind: "0", referenceHash: ZERO32, items: [item] });
      pending.push({ id, sender: who, receiver, items: [item], quantity: sizeOf(item) });
    } else if (op === 3 && pending.length) {
      const p = pending.splice(rnd(pending.length), 1)[0];
      const how = rnd(3);
      if (how === 0) emit("ShipmentAccepted", { sender: p.sender, receiver: p.receiver, shipmentId: p.id, quantity: String(p.quantity) });
      else if (how === 1) emit("ShipmentRejected", { sender: p.sender, receiver: p.receiver, shipmentId: p.id, quantity: String(p.quantity), reason: "1" });
      else emit("ShipmentCancelled", { sender: p.sender, receiver: p.receiver, shipmentId: p.id, quantity: String(p.quantity) });
    } else if (op === 4) {
      const item = heldItem(who);
      if (item?.kind === 0) emit("UnitDispensed", { pharmacy: who, unitIndex: String(item.start), leaf: ZERO32 });
    } else if (op === 5) {
      const item = heldItem(who);
      if (item) emit("PacksDecommissioned", { holder: who, state: String(5 + rnd(5)), items: [item], quantity: String(sizeOf(item)), evidenceHash: ZERO32 });
    } else if (op === 6) {
      const item = heldItem(who);
      if (item) emit("PacksLocked", { holder: who, items: [item], reasonHash: ZERO32 });
    } else if (op === 7) {
      const item = heldItem(who);
      if (item && item.kind !== 0 && book().container(item.kind, item.start).state === "Held") emit("ContainerUnpacked", { holder: who, kind: String(item.kind), index: String(item.start) });
    } else {
      // Undo whatever `who` set: a lock, a revertible decommission, a dispense.
      for (const kind of [0, 1, 2]) {
        const map = kind === 0 ? book().detached : kind === 1 ? book().cases : book().pallets;
        for (const k of map.keys()) {
          const r = map.get(k)!;
          if (r.holder !== who) continue;
          const item = { kind, start: k, count: 1 };
          if (r.state === "Locked") emit("PacksUnlocked", { holder: who, by: who, items: [item], reasonHash: ZERO32 });
          else if (["Sample", "FreeSample", "Exported"].includes(r.state)) emit("DecommissionReverted", { holder: who, items: [item], quantity: String(sizeOf(item)), reasonHash: ZERO32 });
          else if (r.state === "Dispensed" && kind === 0) emit("DispenseUndone", { pharmacy: who, unitIndex: String(k), reasonHash: ZERO32 });
          else continue;
          break;
        }
      }
    }
  }
  return { events, oracle, layout };
}

describe("the index's pack ledger (SQLite) against the domain's PackBook on random histories", function () {
  this.timeout(120_000);

  it("resolves every pack and container, and holds every balance and pending shipment, as the replay does", function () {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 2 ** 31 - 1 }), (seed) => {
        const { events, oracle, layout } = history(seed);
        expect(oracle.anomalies, `seed ${seed}`).to.deep.equal([]);
        const store = new IndexStore(":memory:");
        try {
          store.applyRange(events, { block: events.length, hash: ZERO32 });
          expect(store.alerts(), `seed ${seed}`).to.deep.equal([]);
          const batch = store.batch("1")!;
          for (let u = 0; u < layout.units; u++) expect(store.pack(batch, u), `seed ${seed} pack ${u}`).to.deep.equal(oracle.packs!.unit(u));
          const mine = store.packBook("1")!;
          for (const kind of [ITEM_KIND.Case, ITEM_KIND.Pallet]) {
            const n = kind === ITEM_KIND.Case ? caseCount(layout) : palletCount(layout);
            for (let k = 0; k < n; k++) expect(mine.container(kind, k), `seed ${seed} kind ${kind} ${k}`).to.deep.equal(oracle.packs!.container(kind, k));
          }
          const balances = Object.fromEntries(store.holdersOf("1").map((h) => [h.holder, h.quantity]));
          expect(balances, `seed ${seed}`).to.deep.equal(Object.fromEntries(oracle.holders));
          expect(store.allPending().map((p) => p.shipmentId).sort(), `seed ${seed}`).to.deep.equal([...oracle.pending.keys()].sort());
          expect(batch.dispensed, `seed ${seed}`).to.equal(Number(oracle.dispensed));
          // Conservation in the index itself: packs per member = balance.
          const held = oracle.packs!.holdings();
          for (const [who, n] of held) expect(balances[who], `seed ${seed} ${who}`).to.equal(BigInt(n));
          // Every event that touched a pack is in its history, and none that did not.
          for (let u = 0; u < layout.units; u += 7) {
            const hist = store.packHistory(batch, u).map((r) => r.event.blockNumber);
            expect(hist, `seed ${seed} history of ${u}`).to.include(1);
            expect(hist).to.deep.equal([...hist].sort((a, b) => a - b));
          }
        } finally {
          store.close();
        }
      }),
      { numRuns: 40 },
    );
  });

  it("keeps a pack's state names aligned with IBatchToken.PackState", function () {
    expect(PACK_STATE_NAMES).to.deep.equal(["None", "Held", "Unpacked", "InTransit", "Dispensed", "Destroyed", "Stolen", "Sample", "FreeSample", "Exported", "Locked"]);
  });
});

describe("packing tree and stored proofs (hand-written hot paths against @openzeppelin/merkle-tree)", function () {
  it("builds the packing tree OpenZeppelin builds, root, leaves and every proof", function () {
    for (const layout of [
      { units: 100, unitsPerCase: 10, casesPerPallet: 0 },
      { units: 1000, unitsPerCase: 7, casesPerPallet: 5 },
      { units: 3, unitsPerCase: 3, casesPerPallet: 1 },
    ]) {
      const list = assignSsccs(layout, "9506000", 123);
      const mine = buildPackingTree(list);
      const oz = StandardMerkleTree.of(packingValues(list), ["uint8", "uint256", "uint256"]);
      expect(mine.root).to.equal(oz.root);
      list.cases.forEach((s, i) => {
        expect(mine.proof(1, i)).to.deep.equal(oz.getProof([1, i, BigInt(s)]));
        expect(packingLeaf(1, i, s)).to.equal(oz.leafHash([1, i, BigInt(s)]));
      });
      list.pallets.forEach((s, i) => expect(mine.proof(2, i)).to.deep.equal(oz.getProof([2, i, BigInt(s)])));
    }
  });

  it("serves every proof of a serial tree from its stored node array, as OpenZeppelin does", function () {
    const serials = Array.from({ length: 257 }, (_, i) => `P${i}`);
    const tree = buildSerialTree(serials);
    const nodes = tree.nodeArray();
    const oz = StandardMerkleTree.of(serials.map((s, i) => [i, s]), ["uint256", "string"]);
    for (let i = 0; i < serials.length; i++) expect(proofFromNodes(tree.treeIndexOf(i), (k) => nodes.subarray(k * 32, k * 32 + 32))).to.deep.equal(oz.getProof(i));
  });

  it("stores serial lists so that proofs read back equal the tree's (in-memory index)", function () {
    const store = new IndexStore(":memory:");
    const serials = Array.from({ length: 1000 }, (_, i) => `Q${i}`);
    const tree = buildSerialTree(serials);
    store.saveSerialList({ batchId: "7", root: tree.root, count: 1000, uploadedBy: P, uploadedAt: 0 }, serials, tree.leafNodes(), tree.nodeArray());
    for (const i of [0, 1, 500, 999]) {
      const at = store.unitOfSerial("7", serials[i])!;
      expect(at.unit).to.equal(i);
      expect(proofFromNodes(at.treeIndex, store.nodeReader("7"))).to.deep.equal(tree.proof(i));
    }
    expect(store.nodeArray("7").equals(tree.nodeArray())).to.equal(true);
    store.close();
  });
});
