import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { ContractTransactionResponse } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { unitRange } from "../../api/domain/packing";
import {
  BatchStatus,
  ITEM_KIND,
  PackState,
  ProductStatus,
  Role,
  SERIAL_TREE_TYPES,
  Verdict,
  batchInput,
  cases,
  deliver,
  deploySystemFixture,
  govern,
  mintBatch,
  pallets,
  quantityOf,
  ship,
  shipmentFrom,
  units,
  type Item,
  type MintOptions,
  type System,
} from "../fixtures/system";

/**
 * Per-pack custody of serialised batches (PackLedger through BatchToken and CustodyOps): items
 * (unit ranges, cases, pallets) and their bounds, sealed and opened containers, picking packs out
 * of cases, closing shipments, dispensing and its undo, decommissioning and its revert, locks,
 * the pack-level verdicts of verifyUnit, and the regressions of the security review's issue 11.
 * After every scenario, a checker reads every pack of the batch and proves that each has exactly
 * one holder, pending shipment or final/revertible state, and that balances add up (it stands
 * down under solidity-coverage, where its reads are too slow).
 */

const DAY = 86_400;
const REF = ethers.id("despatch-advice");
const REASON = ethers.id("investigation-123");
const EVIDENCE = ethers.id("destruction-certificate");
const K = ITEM_KIND;
const RejectReason = { Damaged: 1 } as const;
const STATE_NAMES = Object.fromEntries(Object.entries(PackState).map(([name, value]) => [value, name])) as Record<number, string>;
const FINAL_OR_REVERTIBLE: number[] = [
  PackState.Dispensed,
  PackState.Destroyed,
  PackState.Stolen,
  PackState.Sample,
  PackState.FreeSample,
  PackState.Exported,
];
const REVERTIBLE = ["Sample", "FreeSample", "Exported"] as const;
const DECOMMISSION_STATES = ["Destroyed", "Stolen", ...REVERTIBLE] as const;
const VERDICT_OF_STATE: Record<string, number> = {
  Destroyed: Verdict.Destroyed,
  Stolen: Verdict.Stolen,
  Sample: Verdict.Sample,
  FreeSample: Verdict.FreeSample,
  Exported: Verdict.Exported,
};

// ─── Fixtures ──────────────────────────────────────────────────────────────────────────────────

/**
 * The deployed system at noon UTC of the next day (no test straddles midnight, so every
 * transaction of a test sees the same day) and batch A at the producer: 300 packs in cases of 40
 * and pallets of 3 cases. Case k holds units 40k … 40k + 39 and the last case, 7, only 20 (280 …
 * 299); pallet 0 holds units 0 … 119, pallet 1 units 120 … 239 and the last, pallet 2 (cases 6
 * and 7), 60 packs. The 128-pack state chunks split case 3 (120 … 159) at 128, and the 256-pack
 * loose bitmap words split case 6 (240 … 279) at 256.
 */
async function packsFixture() {
  const sys = await deploySystemFixture();
  const day = sys.today + 1;
  await time.increaseTo(day * DAY + DAY / 2);
  const at: System = { ...sys, today: day };
  const a = await mintBatch(at, { lot: "PACKS-A", units: 300, unitsPerCase: 40, casesPerPallet: 3 });
  const index = {
    producer: await memberIndex(at, at.producer),
    distributor: await memberIndex(at, at.distributor),
    distributor2: await memberIndex(at, at.distributor2),
    pharmacy: await memberIndex(at, at.pharmacy),
    pharmacy2: await memberIndex(at, at.pharmacy2),
  };
  return { ...at, a, index };
}

type Ctx = Awaited<ReturnType<typeof packsFixture>>;
type Minted = Ctx["a"];

/**
 * Batch A spread over the chain for the pharmacy tests: pallet 1 (units 120 … 239) went to the
 * distributor, who delivered case 3 sealed and units 160 … 169 (out of case 4) to the pharmacy,
 * and units 170 … 174 to the second pharmacy. The distributor keeps 175 … 199 in opened case 4
 * and case 5 sealed; the producer keeps pallets 0 and 2.
 */
async function pharmacyFixture() {
  const ctx = await loadFixture(packsFixture);
  const { a, producer, distributor, pharmacy, pharmacy2 } = ctx;
  await deliver(ctx, producer, a.batchId, [pallets(1)], distributor);
  await deliver(ctx, distributor, a.batchId, [cases(3), units(160, 10)], pharmacy);
  await deliver(ctx, distributor, a.batchId, [units(170, 5)], pharmacy2);
  return ctx;
}

/** Batch N: 300 packs without cases, all with the producer until picked. */
async function noCasesFixture() {
  const ctx = await loadFixture(packsFixture);
  const n = await mint(ctx, { lot: "PACKS-N", units: 300 });
  return { ...ctx, n };
}

// ─── Helpers ───────────────────────────────────────────────────────────────────────────────────

async function memberIndex(sys: System, who: HardhatEthersSigner): Promise<number> {
  const [, index] = await sys.consortium.participant(who.address);
  return Number(index);
}

async function mint(ctx: Ctx, opts: MintOptions) {
  return mintBatch({ ...ctx, today: await today() }, opts);
}

async function today(): Promise<number> {
  return Math.floor((await time.latest()) / DAY);
}

/** Ships `items` of `m` without waiting, for asserting an event or a revert; quantity defaults to the items' packs. */
function shipTx(ctx: Ctx, from: HardhatEthersSigner, m: Minted, items: Item[], to: HardhatEthersSigner, quantity?: number | bigint) {
  return ctx.batchToken.connect(from).ship(m.batchId, to.address, quantity ?? quantityOf(m.layout, items), items, REF);
}

function dispenseTx(ctx: Ctx, who: HardhatEthersSigner, m: Minted, unit: number) {
  return ctx.batchToken.connect(who).dispense(m.batchId, unit, m.serials[unit], m.proofOf(unit));
}

function decommissionTx(ctx: Ctx, who: HardhatEthersSigner, m: Minted, items: Item[], state: number) {
  return ctx.batchToken.connect(who).decommission(m.batchId, items, state, EVIDENCE);
}

function unpackTx(ctx: Ctx, who: HardhatEthersSigner, m: Minted, items: Item[]) {
  return ctx.batchToken.connect(who).unpack(m.batchId, items);
}

function lockTx(ctx: Ctx, who: HardhatEthersSigner, m: Minted, items: Item[]) {
  return ctx.batchToken.connect(who).lock(m.batchId, items, REASON);
}

function unlockTx(ctx: Ctx, who: HardhatEthersSigner, m: Minted, holder: HardhatEthersSigner | { address: string }, items: Item[]) {
  return ctx.batchToken.connect(who).unlock(m.batchId, holder.address, items, REASON);
}

function revertTx(ctx: Ctx, who: HardhatEthersSigner, m: Minted, items: Item[]) {
  return ctx.batchToken.connect(who).revertDecommission(m.batchId, items, REASON);
}

function undoTx(ctx: Ctx, who: HardhatEthersSigner, m: Minted, unit: number) {
  return ctx.batchToken.connect(who).undoDispense(m.batchId, unit, REASON);
}

async function setProductStatus(ctx: Ctx, m: Minted, status: number): Promise<void> {
  await (await ctx.batchToken.connect(ctx.producer).setProductStatus(m.input.gtin, status, REASON)).wait();
}

/** Items as the events carry them: [kind, start, count] tuples. */
const asTuples = (items: Item[]) => items.map((i) => [i.kind, i.start, i.count]);

async function verdictOf(ctx: Ctx, m: Minted, unit: number): Promise<number> {
  const { gtin, lot, expiryDay } = m.input;
  return Number(await ctx.batchToken.verifyUnit(gtin, lot, m.serials[unit], expiryDay, unit, m.proofOf(unit)));
}

/** packState as numbers: [state, member index, day]. */
async function stateOf(ctx: Ctx, m: Minted, kind: number, index: number): Promise<[number, number, number]> {
  const [state, member, day] = await ctx.batchToken.packState(m.batchId, kind, index);
  return [Number(state), Number(member), Number(day)];
}

async function expectState(ctx: Ctx, m: Minted, kind: number, index: number, state: number, member: number, day = 0) {
  const what = `${["unit", "case", "pallet"][kind]} ${index}`;
  expect(await stateOf(ctx, m, kind, index), what).to.deep.equal([state, member, day]);
}

async function holds(ctx: Ctx, m: Minted, who: HardhatEthersSigner, items: Item[]): Promise<boolean> {
  return ctx.batchToken.holdsUnits(m.batchId, who.address, items);
}

async function balance(ctx: Ctx, m: Minted, who: HardhatEthersSigner): Promise<bigint> {
  return ctx.batchToken.balanceOf(who.address, m.batchId);
}

/** The ContainerUnpacked events of a transaction, as [holder, kind, index]. */
async function unpackedIn(ctx: Ctx, tx: ContractTransactionResponse): Promise<[string, number, number][]> {
  const receipt = await tx.wait();
  return receipt!.logs
    .map((log) => ctx.batchToken.interface.parseLog(log))
    .filter((parsed) => parsed?.name === "ContainerUnpacked")
    .map((parsed) => [parsed!.args.holder as string, Number(parsed!.args.kind), Number(parsed!.args.index)]);
}

/** Proposes `data` to the token, approves it to the threshold, and returns the proposal id (not executed). */
async function proposeToToken(ctx: Ctx, data: string): Promise<bigint> {
  const { consortium, governors } = ctx;
  await (await consortium.connect(governors[0]).propose(await ctx.batchToken.getAddress(), data)).wait();
  const id = await consortium.proposalCount();
  await (await consortium.connect(governors[1]).approve(id)).wait();
  return id;
}

async function governToken(ctx: Ctx, data: string): Promise<void> {
  const id = await proposeToToken(ctx, data);
  await (await ctx.consortium.connect(ctx.governors[0]).execute(id)).wait();
}

/** Maximal runs of consecutive unit indexes, as unit items. */
function runsOf(list: number[]): Item[] {
  const runs: Item[] = [];
  for (const u of [...list].sort((x, y) => x - y)) {
    const last = runs[runs.length - 1];
    if (last && last.start + last.count === u) last.count++;
    else runs.push(units(u));
  }
  return runs;
}

// ─── The custody checker ───────────────────────────────────────────────────────────────────────

/**
 * Reads every pack of a batch and checks PackLedger's invariant from the outside, with the views
 * alone: each pack is held (through a container by the member packState names, or loose by
 * exactly one member's holdsUnits), or in exactly one pending shipment (and then InTransit, and
 * only then), or locked by a member, or in a final or revertible state; each stock holder's
 * ERC-1155 balance is the packs it holds plus those it locked; and the balances, the pending
 * shipments and the packs out of circulation add up to the batch's quantity.
 */
async function expectEveryPackAccountedFor(ctx: Ctx, m: Minted): Promise<void> {
  // solidity-coverage traces every step of every call: reading 300 packs takes a minute there
  // instead of a second. Its run measures what the scenarios reach; the plain run checks them.
  if ((hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING) return;
  const { batchToken } = ctx;
  const batchId = m.batchId;
  const b = await batchToken.batch(batchId);
  const count = Number(b.serialCount);
  const layout = { units: count, unitsPerCase: Number(b.unitsPerCase), casesPerPallet: Number(b.casesPerPallet) };
  const holders = [ctx.producer, ctx.producer2, ctx.distributor, ctx.distributor2, ctx.pharmacy, ctx.pharmacy2];
  const indexes = await Promise.all(holders.map((h) => memberIndex(ctx, h)));
  const holderAt = new Map(indexes.map((index, i) => [index, i]));

  // Pending shipments and the packs each carries.
  const carriedBy = new Map<number, bigint>();
  let pendingQuantity = 0n;
  for (const event of await batchToken.queryFilter(batchToken.filters.ShipmentCreated(batchId))) {
    const { shipmentId, sender, receiver, quantity, kind, items } = event.args;
    const plain = items.map((i) => ({ kind: Number(i.kind), start: Number(i.start), count: Number(i.count) }));
    const shipment = { batchId, sender, receiver, quantity, kind, items: plain };
    if (!(await batchToken.isPendingShipment(shipmentId, shipment))) continue;
    pendingQuantity += quantity;
    for (const item of plain) {
      for (let k = item.start; k < item.start + item.count; k++) {
        const [first, end] = unitRange(layout, item.kind, k);
        for (let u = first; u < end; u++) {
          expect(carriedBy.has(u), `pack ${u} is in shipments ${carriedBy.get(u)} and ${shipmentId}`).to.equal(false);
          carriedBy.set(u, shipmentId);
        }
      }
    }
  }
  expect(BigInt(carriedBy.size), "the pending shipments' packs add up to their quantities").to.equal(pendingQuantity);

  const states = await Promise.all(Array.from({ length: count }, (_, u) => batchToken.packState(batchId, K.Units, u)));
  const held: number[][] = holders.map(() => []);
  const locked: number[][] = holders.map(() => []);
  const loose: number[] = [];
  let outOfCirculation = 0;
  states.forEach(([stateRaw, memberRaw], u) => {
    const state = Number(stateRaw);
    const member = Number(memberRaw);
    expect(carriedBy.has(u), `pack ${u} (${STATE_NAMES[state]}) is in a pending shipment exactly when it is InTransit`).to.equal(
      state === PackState.InTransit,
    );
    if (state === PackState.Held && member === 0) loose.push(u);
    else if (state === PackState.Held || state === PackState.Locked) {
      expect(holderAt.has(member), `pack ${u} (${STATE_NAMES[state]}) names member ${member}, no stock holder`).to.equal(true);
      (state === PackState.Held ? held : locked)[holderAt.get(member)!].push(u);
    } else if (FINAL_OR_REVERTIBLE.includes(state)) outOfCirculation++;
    else expect(state, `pack ${u} is in state ${STATE_NAMES[state]}`).to.equal(PackState.InTransit);
  });

  // A loose pack is in exactly one holder's hands.
  for (const u of loose) {
    const owners = await Promise.all(holders.map((h) => batchToken.holdsUnits(batchId, h.address, [units(u)])));
    expect(owners.filter(Boolean).length, `loose pack ${u} has exactly one holder`).to.equal(1);
    held[owners.indexOf(true)].push(u);
  }
  let circulating = 0n;
  for (let i = 0; i < holders.length; i++) {
    if (held[i].length > 0) {
      expect(await batchToken.holdsUnits(batchId, holders[i].address, runsOf(held[i])), `member ${indexes[i]} holds its packs`).to.equal(true);
    }
    for (const u of locked[i]) {
      expect(await batchToken.holdsUnits(batchId, holders[i].address, [units(u)]), `locked pack ${u} is not "held"`).to.equal(false);
    }
    const bal = await batchToken.balanceOf(holders[i].address, batchId);
    expect(bal, `balance of member ${indexes[i]}: the packs it holds and locked`).to.equal(BigInt(held[i].length + locked[i].length));
    circulating += bal;
  }
  expect(circulating + pendingQuantity + BigInt(outOfCirculation), "balances + pending + out of circulation = quantity").to.equal(b.quantity);
}

// ─── Tests ─────────────────────────────────────────────────────────────────────────────────────

describe("Pack custody", function () {
  describe("items", function () {
    it("ships pallets, cases and unit ranges together, counting each in packs", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor } = ctx;
      const items = [pallets(0), cases(4), units(250, 10)];
      await expect(shipTx(ctx, producer, a, items, distributor, 170))
        .to.emit(batchToken, "ShipmentCreated")
        .withArgs(a.batchId, producer.address, distributor.address, 1n, 170n, 0, REF, asTuples(items));
      expect(await balance(ctx, a, producer)).to.equal(130n);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("counts the last short case and pallet: 1,050 packs in cases of 100 and pallets of 4 cases", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, producer, distributor, distributor2, index } = ctx;
      // 11 cases, the last with 50 packs; 3 pallets, the last with cases 8, 9 and 10 (250 packs).
      const l = await mint(ctx, { lot: "PACKS-L", units: 1050, unitsPerCase: 100, casesPerPallet: 4 });
      await expectState(ctx, l, K.Case, 10, PackState.Held, index.producer);
      await expect(batchToken.packState(l.batchId, K.Case, 11)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Case, 11, 1, 11);
      await expect(batchToken.packState(l.batchId, K.Pallet, 3)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Pallet, 3, 1, 3);

      await expect(shipTx(ctx, producer, l, [pallets(2)], distributor, 400))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenQuantityMismatch")
        .withArgs(400, 250);
      await deliver(ctx, producer, l.batchId, [pallets(2)], distributor);
      expect(await balance(ctx, l, distributor)).to.equal(250n);

      await expect(shipTx(ctx, distributor, l, [cases(10)], distributor2, 100))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenQuantityMismatch")
        .withArgs(100, 50);
      await expect(shipTx(ctx, distributor, l, [cases(10)], distributor2, 50))
        .to.emit(batchToken, "ContainerUnpacked")
        .withArgs(l.batchId, distributor.address, K.Pallet, 2);
      expect(await holds(ctx, l, distributor, [cases(8, 2)])).to.equal(true);
      expect(await balance(ctx, l, distributor)).to.equal(200n);
      expect(await balance(ctx, l, producer)).to.equal(800n);
    });

    it("refuses an item that reaches past the batch, naming the batch's limit", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor } = ctx;
      const refused: [Item, number][] = [
        [units(295, 6), 300],
        [units(300), 300],
        [cases(7, 2), 8],
        [cases(8), 8],
        [pallets(2, 2), 3],
        [pallets(3), 3],
        // start + count overflows uint32 but not the ledger's arithmetic
        [units(0xffffffff, 0xffffffff), 300],
      ];
      for (const [item, limit] of refused) {
        await expect(shipTx(ctx, producer, a, [units(0), item], distributor, 1))
          .to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem")
          .withArgs(item.kind, item.start, item.count, limit);
      }
    });

    it("checks the items of every custody action against the batch", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer } = ctx;
      const invalid = (tx: Promise<unknown>) => expect(tx).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem");
      await invalid(unpackTx(ctx, producer, a, [cases(8)])).withArgs(K.Case, 8, 1, 8);
      await invalid(decommissionTx(ctx, producer, a, [units(300)], PackState.Destroyed)).withArgs(K.Units, 300, 1, 300);
      await invalid(lockTx(ctx, producer, a, [pallets(0, 4)])).withArgs(K.Pallet, 0, 4, 3);
      await invalid(unlockTx(ctx, producer, a, producer, [units(299, 2)])).withArgs(K.Units, 299, 2, 300);
      await invalid(revertTx(ctx, producer, a, [cases(0, 0)])).withArgs(K.Case, 0, 0, 8);
    });

    it("refuses an empty item", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor } = ctx;
      for (const [item, limit] of [
        [units(10, 0), 300],
        [cases(1, 0), 8],
        [pallets(0, 0), 3],
      ] as [Item, number][]) {
        await expect(shipTx(ctx, producer, a, [item], distributor, 1))
          .to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem")
          .withArgs(item.kind, item.start, 0, limit);
      }
    });

    it("refuses cases and pallets on a batch without cases, and pallets on a batch with cases only", async function () {
      const ctx = await loadFixture(noCasesFixture);
      const { batchToken, n, producer, distributor, distributor2, index } = ctx;
      for (const item of [cases(0), pallets(0)]) {
        await expect(shipTx(ctx, producer, n, [item], distributor, 1))
          .to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem")
          .withArgs(item.kind, 0, 1, 0);
      }
      await expect(batchToken.packState(n.batchId, K.Case, 0)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Case, 0, 1, 0);

      // 100 packs in cases of 10, no pallets: cases are sealed at the producer, pallets do not exist.
      const c = await mint(ctx, { lot: "PACKS-C", units: 100, unitsPerCase: 10 });
      await expect(shipTx(ctx, producer, c, [pallets(0)], distributor, 1))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem")
        .withArgs(K.Pallet, 0, 1, 0);
      await expect(batchToken.packState(c.batchId, K.Pallet, 0)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Pallet, 0, 1, 0);
      await expectState(ctx, c, K.Case, 9, PackState.Held, index.producer);
      await deliver(ctx, producer, c.batchId, [cases(1, 2)], distributor);
      const tx = await shipTx(ctx, distributor, c, [units(15, 10)], distributor2);
      expect(await unpackedIn(ctx, tx)).to.deep.equal([
        [distributor.address, K.Case, 1],
        [distributor.address, K.Case, 2],
      ]);
      await expectState(ctx, c, K.Units, 12, PackState.Held, index.distributor);
      await expectState(ctx, c, K.Units, 5, PackState.Held, index.producer);
      await expectEveryPackAccountedFor(ctx, c);
    });

    it("refuses items on a batch without serials, and a serialised shipment without items", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor } = ctx;
      const q = await mint(ctx, { lot: "PACKS-Q", units: 50, serialised: false });
      await expect(shipTx(ctx, producer, q, [units(0)], distributor, 1))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotSerialised")
        .withArgs(q.batchId);
      await expect(batchToken.packState(q.batchId, K.Units, 0)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Units, 0, 1, 0);
      expect(await holds(ctx, q, producer, [units(0)])).to.equal(false);
      await expect(shipTx(ctx, producer, a, [], distributor, 10)).to.be.revertedWithCustomError(batchToken, "BatchTokenItemsRequired").withArgs(a.batchId);
    });

    it("refuses a quantity other than the items' packs", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor } = ctx;
      for (const quantity of [42, 44]) {
        await expect(shipTx(ctx, producer, a, [cases(0), units(200, 3)], distributor, quantity))
          .to.be.revertedWithCustomError(batchToken, "BatchTokenQuantityMismatch")
          .withArgs(quantity, 43);
      }
    });

    it("packState refuses an unknown batch and an index past the batch; holdsUnits answers false", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, outsider } = ctx;
      await expect(batchToken.packState(99, K.Units, 0)).to.be.revertedWithCustomError(batchToken, "BatchTokenUnknownBatch").withArgs(99);
      await expect(batchToken.packState(a.batchId, K.Units, 300)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Units, 300, 1, 300);
      expect(await holds(ctx, a, producer, [units(0, 300)])).to.equal(true);
      expect(await holds(ctx, a, producer, [cases(0, 8), pallets(0, 3)])).to.equal(true);
      expect(await holds(ctx, a, producer, [units(0, 0)])).to.equal(false);
      expect(await holds(ctx, a, producer, [units(299, 2)])).to.equal(false);
      expect(await holds(ctx, a, producer, [pallets(3)])).to.equal(false);
      expect(await holds(ctx, a, distributor, [units(0)])).to.equal(false);
      expect(await holds(ctx, a, outsider, [units(0)])).to.equal(false);
      expect(await batchToken.holdsUnits(99, producer.address, [units(0)])).to.equal(false);
    });
  });

  describe("containers", function () {
    it("ships a sealed pallet whole: the pallet, its cases and packs travel and arrive together", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, index } = ctx;
      const tx = await shipTx(ctx, producer, a, [pallets(0)], distributor);
      expect(await unpackedIn(ctx, tx)).to.deep.equal([]);
      const day = await today();
      await expectState(ctx, a, K.Pallet, 0, PackState.InTransit, index.producer, day);
      await expectState(ctx, a, K.Case, 2, PackState.InTransit, index.producer, day);
      await expectState(ctx, a, K.Units, 119, PackState.InTransit, index.producer, day);
      await expectState(ctx, a, K.Units, 120, PackState.Held, index.producer);
      expect(await holds(ctx, a, producer, [units(0)])).to.equal(false);
      expect(await holds(ctx, a, distributor, [units(0)])).to.equal(false);
      await expectEveryPackAccountedFor(ctx, a);

      const { shipmentId, shipment } = await shipmentFrom(batchToken, tx.hash);
      await (await batchToken.connect(distributor).acceptShipment(shipmentId, shipment)).wait();
      await expectState(ctx, a, K.Pallet, 0, PackState.Held, index.distributor);
      await expectState(ctx, a, K.Case, 1, PackState.Held, index.distributor);
      await expectState(ctx, a, K.Units, 60, PackState.Held, index.distributor);
      expect(await holds(ctx, a, distributor, [pallets(0)])).to.equal(true);
      expect(await holds(ctx, a, distributor, [cases(0, 3)])).to.equal(true);
      expect(await holds(ctx, a, distributor, [units(0, 120)])).to.equal(true);
      expect(await balance(ctx, a, distributor)).to.equal(120n);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("opens a sealed pallet when a case is taken out of it; its other cases stay with the opener", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, distributor2, index } = ctx;
      await deliver(ctx, producer, a.batchId, [pallets(0)], distributor);
      const tx = await shipTx(ctx, distributor, a, [cases(1)], distributor2);
      expect(await unpackedIn(ctx, tx)).to.deep.equal([[distributor.address, K.Pallet, 0]]);
      await expectState(ctx, a, K.Pallet, 0, PackState.Unpacked, index.distributor);
      await expectState(ctx, a, K.Case, 0, PackState.Held, index.distributor);
      await expectState(ctx, a, K.Case, 1, PackState.InTransit, index.distributor, await today());
      await expectState(ctx, a, K.Case, 2, PackState.Held, index.distributor);
      expect(await holds(ctx, a, distributor, [cases(0), cases(2)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);

      const { shipmentId, shipment } = await shipmentFrom(batchToken, tx.hash);
      await (await batchToken.connect(distributor2).acceptShipment(shipmentId, shipment)).wait();
      await expectState(ctx, a, K.Case, 1, PackState.Held, index.distributor2);
      expect(await holds(ctx, a, distributor2, [cases(1)])).to.equal(true);
      expect(await balance(ctx, a, distributor2)).to.equal(40n);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses to ship an opened case or pallet (Unpacked), while its packs and sealed cases still go", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, index } = ctx;
      await (await unpackTx(ctx, producer, a, [cases(4)])).wait();
      await expect(shipTx(ctx, producer, a, [cases(4)], distributor))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(producer.address, K.Case, 4, PackState.Unpacked, index.producer);
      await expect(shipTx(ctx, producer, a, [pallets(1)], distributor))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(producer.address, K.Pallet, 1, PackState.Unpacked, index.producer);
      await deliver(ctx, producer, a.batchId, [units(160, 40), cases(3), cases(5)], distributor);
      expect(await balance(ctx, a, distributor)).to.equal(120n);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("unpacks containers the caller holds sealed, one event each; their packs stay with it", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, index } = ctx;
      await expect(unpackTx(ctx, producer, a, [pallets(2)]))
        .to.emit(batchToken, "ContainerUnpacked")
        .withArgs(a.batchId, producer.address, K.Pallet, 2);
      await expectState(ctx, a, K.Pallet, 2, PackState.Unpacked, index.producer);
      await expectState(ctx, a, K.Case, 7, PackState.Held, index.producer);

      const tx = await unpackTx(ctx, producer, a, [cases(3), cases(0, 2)]);
      expect(await unpackedIn(ctx, tx)).to.deep.equal([
        [producer.address, K.Pallet, 1],
        [producer.address, K.Case, 3],
        [producer.address, K.Pallet, 0],
        [producer.address, K.Case, 0],
        [producer.address, K.Case, 1],
      ]);
      await expectState(ctx, a, K.Case, 3, PackState.Unpacked, index.producer);
      await expectState(ctx, a, K.Case, 2, PackState.Held, index.producer);
      await expectState(ctx, a, K.Units, 130, PackState.Held, index.producer);
      expect(await holds(ctx, a, producer, [units(0, 300)])).to.equal(true);
      expect(await balance(ctx, a, producer)).to.equal(300n);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("unpacks only sealed containers the caller holds, of a serialised batch", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, regulator, index } = ctx;
      const notHolder = (tx: Promise<unknown>) => expect(tx).to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder");
      await notHolder(unpackTx(ctx, distributor, a, [cases(0)])).withArgs(distributor.address, K.Case, 0, PackState.Held, index.producer);
      await expect(unpackTx(ctx, regulator, a, [cases(0)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(regulator.address, Role.Regulator);
      await expect(unpackTx(ctx, producer, a, [units(0)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem")
        .withArgs(K.Units, 0, 1, 0);
      const q = await mint(ctx, { lot: "PACKS-Q", units: 50, serialised: false });
      await expect(unpackTx(ctx, producer, q, [cases(0)])).to.be.revertedWithCustomError(batchToken, "BatchTokenNotSerialised").withArgs(q.batchId);

      await (await unpackTx(ctx, producer, a, [cases(0)])).wait();
      await notHolder(unpackTx(ctx, producer, a, [cases(0)])).withArgs(producer.address, K.Case, 0, PackState.Unpacked, index.producer);
      await notHolder(unpackTx(ctx, producer, a, [pallets(0)])).withArgs(producer.address, K.Pallet, 0, PackState.Unpacked, index.producer);
      // Opening case 3 opens its pallet first: the pallet is no longer sealed when its turn comes.
      await notHolder(unpackTx(ctx, producer, a, [cases(3), pallets(1)])).withArgs(producer.address, K.Pallet, 1, PackState.Unpacked, index.producer);
    });

    it("refuses to take, pick or unpack a case of a pallet in transit, for the sender and the receiver alike", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, distributor2, pharmacy, index } = ctx;
      await ship(ctx, producer, a.batchId, [pallets(0)], distributor);
      const notHolder = (tx: Promise<unknown>) => expect(tx).to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder");
      const inTransit = PackState.InTransit;
      await notHolder(shipTx(ctx, producer, a, [cases(1)], distributor2)).withArgs(producer.address, K.Case, 1, inTransit, index.producer);
      await notHolder(shipTx(ctx, producer, a, [units(50)], distributor2)).withArgs(producer.address, K.Units, 50, inTransit, index.producer);
      await notHolder(unpackTx(ctx, producer, a, [cases(1)])).withArgs(producer.address, K.Case, 1, inTransit, index.producer);
      await notHolder(unpackTx(ctx, producer, a, [pallets(0)])).withArgs(producer.address, K.Pallet, 0, inTransit, index.producer);
      await notHolder(decommissionTx(ctx, producer, a, [cases(1)], PackState.Destroyed)).withArgs(producer.address, K.Case, 1, inTransit, index.producer);
      await notHolder(lockTx(ctx, producer, a, [units(50, 2)])).withArgs(producer.address, K.Units, 50, inTransit, index.producer);
      await notHolder(shipTx(ctx, distributor, a, [cases(1)], pharmacy)).withArgs(distributor.address, K.Case, 1, inTransit, index.producer);
      await notHolder(unpackTx(ctx, distributor, a, [cases(1)])).withArgs(distributor.address, K.Case, 1, inTransit, index.producer);
      await expectEveryPackAccountedFor(ctx, a);
    });
  });

  describe("picking", function () {
    it("picks one pack out of a sealed case of a sealed pallet, opening both", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, index } = ctx;
      const tx = await shipTx(ctx, producer, a, [units(45)], distributor);
      expect(await unpackedIn(ctx, tx)).to.deep.equal([
        [producer.address, K.Pallet, 0],
        [producer.address, K.Case, 1],
      ]);
      await expectState(ctx, a, K.Units, 45, PackState.InTransit, 0);
      await expectState(ctx, a, K.Units, 44, PackState.Held, index.producer);
      await expectState(ctx, a, K.Case, 1, PackState.Unpacked, index.producer);
      await expectState(ctx, a, K.Case, 0, PackState.Held, index.producer);
      await expectState(ctx, a, K.Pallet, 0, PackState.Unpacked, index.producer);
      await expectEveryPackAccountedFor(ctx, a);

      const { shipmentId, shipment } = await shipmentFrom(batchToken, tx.hash);
      await (await batchToken.connect(distributor).acceptShipment(shipmentId, shipment)).wait();
      await expectState(ctx, a, K.Units, 45, PackState.Held, 0);
      expect(await holds(ctx, a, distributor, [units(45)])).to.equal(true);
      expect(await holds(ctx, a, producer, [units(45)])).to.equal(false);
      expect(await holds(ctx, a, producer, [units(40, 5), units(46, 254)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("picks a range across the 128-pack chunk and the 256-pack word, opening each container once", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, distributor2, pharmacy, index } = ctx;
      await deliver(ctx, producer, a.batchId, [pallets(1, 2)], distributor); // units 120 … 299
      const tx = await shipTx(ctx, distributor, a, [units(125, 140)], pharmacy); // 125 … 264
      expect(await unpackedIn(ctx, tx)).to.deep.equal([
        [distributor.address, K.Pallet, 1],
        [distributor.address, K.Case, 3],
        [distributor.address, K.Case, 4],
        [distributor.address, K.Case, 5],
        [distributor.address, K.Pallet, 2],
        [distributor.address, K.Case, 6],
      ]);
      const { shipmentId, shipment } = await shipmentFrom(batchToken, tx.hash);
      await (await batchToken.connect(pharmacy).acceptShipment(shipmentId, shipment)).wait();
      expect(await holds(ctx, a, pharmacy, [units(125, 140)])).to.equal(true);
      expect(await holds(ctx, a, distributor, [units(120, 5), units(265, 15), cases(7)])).to.equal(true);
      await expectState(ctx, a, K.Case, 7, PackState.Held, index.distributor);
      await expectState(ctx, a, K.Units, 290, PackState.Held, index.distributor);
      expect(await balance(ctx, a, distributor)).to.equal(40n);
      expect(await balance(ctx, a, pharmacy)).to.equal(140n);
      await expectEveryPackAccountedFor(ctx, a);

      // Back up the chain across both boundaries, then on with packs still in their cases.
      await deliver(ctx, pharmacy, a.batchId, [units(127, 2), units(250, 10)], distributor);
      expect(await holds(ctx, a, distributor, [units(127, 2), units(250, 10)])).to.equal(true);
      expect(await holds(ctx, a, pharmacy, [units(127)])).to.equal(false);
      await deliver(ctx, distributor, a.batchId, [units(120, 5), units(127, 2), units(250, 10), units(265, 15)], distributor2);
      expect(await holds(ctx, a, distributor2, [units(120, 5), units(127, 2), units(250, 10), units(265, 15)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("picks packs of a case for a pharmacy while the rest of the case stays with the distributor", async function () {
      const ctx = await loadFixture(packsFixture);
      const { a, producer, distributor, pharmacy, index } = ctx;
      await deliver(ctx, producer, a.batchId, [cases(0)], distributor); // opens pallet 0 at the producer
      await deliver(ctx, distributor, a.batchId, [units(10, 5)], pharmacy);
      await expectState(ctx, a, K.Pallet, 0, PackState.Unpacked, index.producer);
      await expectState(ctx, a, K.Case, 0, PackState.Unpacked, index.distributor);
      await expectState(ctx, a, K.Case, 1, PackState.Held, index.producer);
      await expectState(ctx, a, K.Units, 9, PackState.Held, index.distributor);
      await expectState(ctx, a, K.Units, 10, PackState.Held, 0);
      await expectState(ctx, a, K.Units, 15, PackState.Held, index.distributor);
      expect(await holds(ctx, a, pharmacy, [units(10, 5)])).to.equal(true);
      expect(await holds(ctx, a, distributor, [units(0, 10), units(15, 25)])).to.equal(true);
      expect(await holds(ctx, a, distributor, [units(10)])).to.equal(false);
      expect([await balance(ctx, a, producer), await balance(ctx, a, distributor), await balance(ctx, a, pharmacy)]).to.deep.equal([260n, 35n, 5n]);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("ships a range mixing loose packs and packs still in their case", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, distributor2 } = ctx;
      await deliver(ctx, producer, a.batchId, [cases(0), units(40, 5)], distributor); // 40 … 44 loose
      const tx = await shipTx(ctx, distributor, a, [units(35, 10)], distributor2);
      expect(await unpackedIn(ctx, tx)).to.deep.equal([[distributor.address, K.Case, 0]]);
      const { shipmentId, shipment } = await shipmentFrom(batchToken, tx.hash);
      await (await batchToken.connect(distributor2).acceptShipment(shipmentId, shipment)).wait();
      expect(await holds(ctx, a, distributor2, [units(35, 10)])).to.equal(true);
      expect(await holds(ctx, a, distributor, [units(0, 35)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses a range that reaches packs another member holds, naming the first of them", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, distributor2, pharmacy, index } = ctx;
      await deliver(ctx, producer, a.batchId, [cases(0), units(40, 5)], distributor);
      await deliver(ctx, distributor, a.batchId, [units(10, 5)], pharmacy);
      const notHolder = (tx: Promise<unknown>) => expect(tx).to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder");
      // 45 … 47 are in case 1, which the producer opened.
      await notHolder(shipTx(ctx, distributor, a, [units(38, 10)], distributor2)).withArgs(distributor.address, K.Units, 45, PackState.Held, index.producer);
      // 10 … 12 are loose with the pharmacy.
      await notHolder(shipTx(ctx, distributor, a, [units(8, 5)], distributor2)).withArgs(distributor.address, K.Units, 10, PackState.Held, 0);
      // 15 is in case 0, with the distributor.
      await notHolder(shipTx(ctx, pharmacy, a, [units(14, 2)], distributor)).withArgs(pharmacy.address, K.Units, 15, PackState.Held, index.distributor);
      // 200 is in sealed case 5 of sealed pallet 1, at the producer.
      await notHolder(shipTx(ctx, distributor, a, [units(0, 5), units(200)], distributor2)).withArgs(distributor.address, K.Units, 200, PackState.Held, index.producer);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses to take the same pack twice in one shipment", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, index } = ctx;
      const p = index.producer;
      const twice: [string, Item[], [number, number, number, number]][] = [
        ["the same pack twice", [units(5), units(5)], [K.Units, 5, PackState.InTransit, 0]],
        ["overlapping ranges", [units(0, 10), units(9, 2)], [K.Units, 9, PackState.InTransit, 0]],
        ["a case, then a pack of it", [cases(0), units(5)], [K.Units, 5, PackState.InTransit, p]],
        ["a pack, then its case", [units(5), cases(0)], [K.Case, 0, PackState.Unpacked, p]],
        ["a pallet, then a case of it", [pallets(0), cases(1)], [K.Case, 1, PackState.InTransit, p]],
        ["a case, then its pallet", [cases(1), pallets(0)], [K.Pallet, 0, PackState.Unpacked, p]],
        ["a pallet, then a pack of it", [pallets(0), units(119)], [K.Units, 119, PackState.InTransit, p]],
        ["overlapping case ranges", [cases(1, 2), cases(2)], [K.Case, 2, PackState.InTransit, p]],
        ["the same pallet twice", [pallets(2), pallets(2)], [K.Pallet, 2, PackState.InTransit, p]],
      ];
      for (const [what, items, [kind, at, state, member]] of twice) {
        await expect(shipTx(ctx, producer, a, items, distributor), what)
          .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
          .withArgs(producer.address, kind, at, state, member);
      }
      // Loose packs too.
      await deliver(ctx, producer, a.batchId, [units(40, 5)], distributor);
      await expect(shipTx(ctx, distributor, a, [units(40, 3), units(42)], ctx.distributor2))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(distributor.address, K.Units, 42, PackState.InTransit, 0);
    });

    it("refuses to take the same pack twice in one decommission or lock", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, index } = ctx;
      await expect(decommissionTx(ctx, producer, a, [units(5), units(5)], PackState.Destroyed))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(producer.address, K.Units, 5, PackState.Destroyed, index.producer);
      await expect(lockTx(ctx, producer, a, [cases(2), cases(2)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(producer.address, K.Case, 2, PackState.Locked, index.producer);
    });

    it("refuses to ship a pack in transit again, by its sender or its receiver, until the shipment closes", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, distributor2, pharmacy } = ctx;
      const { shipmentId, shipment } = await ship(ctx, producer, a.batchId, [units(5)], distributor);
      const notHolder = (tx: Promise<unknown>) => expect(tx).to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder");
      await notHolder(shipTx(ctx, producer, a, [units(5)], distributor2)).withArgs(producer.address, K.Units, 5, PackState.InTransit, 0);
      await notHolder(shipTx(ctx, producer, a, [units(0, 10)], distributor2)).withArgs(producer.address, K.Units, 5, PackState.InTransit, 0);
      await notHolder(shipTx(ctx, distributor, a, [units(5)], pharmacy)).withArgs(distributor.address, K.Units, 5, PackState.InTransit, 0);
      await expectEveryPackAccountedFor(ctx, a);

      await (await batchToken.connect(producer).cancelShipment(shipmentId, shipment)).wait();
      await expectState(ctx, a, K.Units, 5, PackState.Held, 0);
      expect(await holds(ctx, a, producer, [units(0, 10)])).to.equal(true);
      await deliver(ctx, producer, a.batchId, [units(0, 10)], distributor2);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("keeps every pack of a batch without cases with the producer until it is picked", async function () {
      const ctx = await loadFixture(noCasesFixture);
      const { batchToken, n, producer, distributor, pharmacy, index } = ctx;
      await expectState(ctx, n, K.Units, 0, PackState.Held, index.producer);
      await expectState(ctx, n, K.Units, 299, PackState.Held, index.producer);
      await deliver(ctx, producer, n.batchId, [units(100, 50)], distributor);
      await expectState(ctx, n, K.Units, 100, PackState.Held, 0);
      await expectState(ctx, n, K.Units, 99, PackState.Held, index.producer);
      await expect(shipTx(ctx, distributor, n, [units(90, 20)], pharmacy))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(distributor.address, K.Units, 90, PackState.Held, index.producer);
      await deliver(ctx, distributor, n.batchId, [units(120, 30)], pharmacy);
      await expect(dispenseTx(ctx, pharmacy, n, 0))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(pharmacy.address, K.Units, 0, PackState.Held, index.producer);
      await (await dispenseTx(ctx, pharmacy, n, 120)).wait();
      expect(await holds(ctx, n, producer, [units(0, 100), units(150, 150)])).to.equal(true);
      await deliver(ctx, producer, n.batchId, [units(0, 10), units(290, 10)], distributor);
      await expectEveryPackAccountedFor(ctx, n);
    });
  });

  describe("closing a shipment", function () {
    const SHIPPED = [pallets(0), cases(4), units(250, 10)]; // 120 + 40 + 10 packs

    it("puts exactly the shipment's packs and containers with the receiver on acceptance", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, index } = ctx;
      const { shipmentId, shipment } = await ship(ctx, producer, a.batchId, SHIPPED, distributor);
      const day = await today();
      await expectState(ctx, a, K.Pallet, 0, PackState.InTransit, index.producer, day);
      await expectState(ctx, a, K.Case, 4, PackState.InTransit, index.producer, day);
      await expectState(ctx, a, K.Units, 250, PackState.InTransit, 0);
      await expectState(ctx, a, K.Pallet, 1, PackState.Unpacked, index.producer);
      await expectState(ctx, a, K.Case, 6, PackState.Unpacked, index.producer);
      await expectEveryPackAccountedFor(ctx, a);

      await expect(batchToken.connect(distributor).acceptShipment(shipmentId, shipment))
        .to.emit(batchToken, "ShipmentAccepted")
        .withArgs(a.batchId, producer.address, distributor.address, shipmentId, 170);
      await expectState(ctx, a, K.Pallet, 0, PackState.Held, index.distributor);
      await expectState(ctx, a, K.Case, 4, PackState.Held, index.distributor);
      await expectState(ctx, a, K.Units, 250, PackState.Held, 0);
      await expectState(ctx, a, K.Case, 3, PackState.Held, index.producer);
      await expectState(ctx, a, K.Units, 249, PackState.Held, index.producer);
      expect(await holds(ctx, a, distributor, SHIPPED)).to.equal(true);
      expect(await holds(ctx, a, producer, [cases(3), cases(5), units(240, 10), units(260, 20), cases(7)])).to.equal(true);
      expect(await holds(ctx, a, producer, [units(250)])).to.equal(false);
      expect([await balance(ctx, a, producer), await balance(ctx, a, distributor)]).to.deep.equal([130n, 170n]);
      await expectEveryPackAccountedFor(ctx, a);
    });

    for (const how of ["rejects", "cancels"] as const) {
      it(`puts them back with the sender when the ${how === "rejects" ? "receiver rejects" : "sender cancels"}, containers sealed as shipped`, async function () {
        const ctx = await loadFixture(packsFixture);
        const { batchToken, a, producer, distributor, distributor2, index } = ctx;
        const { shipmentId, shipment } = await ship(ctx, producer, a.batchId, SHIPPED, distributor);
        if (how === "rejects") await (await batchToken.connect(distributor).rejectShipment(shipmentId, shipment, RejectReason.Damaged)).wait();
        else await (await batchToken.connect(producer).cancelShipment(shipmentId, shipment)).wait();
        await expectState(ctx, a, K.Pallet, 0, PackState.Held, index.producer);
        await expectState(ctx, a, K.Case, 4, PackState.Held, index.producer);
        await expectState(ctx, a, K.Units, 250, PackState.Held, 0);
        await expectState(ctx, a, K.Pallet, 1, PackState.Unpacked, index.producer);
        expect(await holds(ctx, a, producer, SHIPPED)).to.equal(true);
        expect(await holds(ctx, a, producer, [units(0, 300)])).to.equal(true);
        expect(await holds(ctx, a, distributor, [units(250)])).to.equal(false);
        expect([await balance(ctx, a, producer), await balance(ctx, a, distributor)]).to.deep.equal([300n, 0n]);
        await expectEveryPackAccountedFor(ctx, a);

        await deliver(ctx, producer, a.batchId, [pallets(0), cases(4)], distributor2);
        expect(await holds(ctx, a, distributor2, [pallets(0), cases(4)])).to.equal(true);
        await expectEveryPackAccountedFor(ctx, a);
      });
    }
  });

  describe("dispense", function () {
    it("dispenses a loose pack the pharmacy holds: burns it and records who and when", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, index } = ctx;
      const leaf = a.tree.leafHash([160, a.serials[160]]);
      await expect(dispenseTx(ctx, pharmacy, a, 160))
        .to.emit(batchToken, "UnitDispensed")
        .withArgs(a.batchId, pharmacy.address, 160, leaf)
        .and.to.emit(batchToken, "TransferSingle")
        .withArgs(pharmacy.address, pharmacy.address, ethers.ZeroAddress, a.batchId, 1);
      expect(await balance(ctx, a, pharmacy)).to.equal(49n);
      await expectState(ctx, a, K.Units, 160, PackState.Dispensed, index.pharmacy, await today());
      expect(await verdictOf(ctx, a, 160)).to.equal(Verdict.Dispensed);
      expect(await holds(ctx, a, pharmacy, [units(160)])).to.equal(false);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("dispenses a pack still in a sealed case the pharmacy holds, opening the case", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, index } = ctx;
      await expect(dispenseTx(ctx, pharmacy, a, 130))
        .to.emit(batchToken, "ContainerUnpacked")
        .withArgs(a.batchId, pharmacy.address, K.Case, 3);
      await expectState(ctx, a, K.Case, 3, PackState.Unpacked, index.pharmacy);
      await expectState(ctx, a, K.Units, 130, PackState.Dispensed, index.pharmacy, await today());
      await expectState(ctx, a, K.Units, 131, PackState.Held, index.pharmacy);
      expect(await holds(ctx, a, pharmacy, [units(120, 10), units(131, 29)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("dispenses the last pack of the short last case of a sealed pallet, opening both", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { a, producer, distributor, pharmacy } = ctx;
      await deliver(ctx, producer, a.batchId, [pallets(2)], distributor);
      await deliver(ctx, distributor, a.batchId, [pallets(2)], pharmacy);
      const tx = await dispenseTx(ctx, pharmacy, a, 299);
      expect(await unpackedIn(ctx, tx)).to.deep.equal([
        [pharmacy.address, K.Pallet, 2],
        [pharmacy.address, K.Case, 7],
      ]);
      expect(await holds(ctx, a, pharmacy, [cases(6), units(280, 19)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("is for pharmacies only", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, producer, distributor, regulator } = ctx;
      for (const [who, role, unit] of [
        [distributor, Role.Distributor, 175],
        [producer, Role.Producer, 0],
        [regulator, Role.Regulator, 0],
      ] as const) {
        await expect(dispenseTx(ctx, who, a, unit)).to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember").withArgs(who.address, role);
      }
    });

    it("refuses a pack the pharmacy does not hold, naming who has it", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, pharmacy2, index } = ctx;
      const refused: [HardhatEthersSigner, number, number][] = [
        [pharmacy, 170, 0], // loose with the second pharmacy
        [pharmacy, 180, index.distributor], // in case 4, opened by the distributor
        [pharmacy, 200, index.distributor], // in sealed case 5
        [pharmacy, 10, index.producer], // in sealed pallet 0
        [pharmacy2, 160, 0], // loose with the first pharmacy
        [pharmacy2, 125, index.pharmacy], // in the first pharmacy's sealed case 3
      ];
      for (const [who, unit, holder] of refused) {
        await expect(dispenseTx(ctx, who, a, unit))
          .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
          .withArgs(who.address, K.Units, unit, PackState.Held, holder);
      }
    });

    it("refuses a pack in transit, loose or in a case", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, distributor, pharmacy, index } = ctx;
      await ship(ctx, pharmacy, a.batchId, [units(161)], distributor);
      await ship(ctx, distributor, a.batchId, [cases(5)], pharmacy);
      await expect(dispenseTx(ctx, pharmacy, a, 161))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(pharmacy.address, K.Units, 161, PackState.InTransit, 0);
      await expect(dispenseTx(ctx, pharmacy, a, 210))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(pharmacy.address, K.Units, 210, PackState.InTransit, index.distributor);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses a locked pack, loose or in a locked case", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, index } = ctx;
      await (await lockTx(ctx, pharmacy, a, [units(162), cases(3)])).wait();
      for (const unit of [162, 121]) {
        await expect(dispenseTx(ctx, pharmacy, a, unit))
          .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
          .withArgs(pharmacy.address, K.Units, unit, PackState.Locked, index.pharmacy);
      }
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses a second dispense of a serial as a likely clone, wherever the second pack turns up", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, pharmacy2 } = ctx;
      await (await dispenseTx(ctx, pharmacy, a, 163)).wait();
      await (await dispenseTx(ctx, pharmacy, a, 130)).wait();
      for (const [who, unit] of [
        [pharmacy, 163],
        [pharmacy2, 163],
        [pharmacy, 130],
      ] as const) {
        await expect(dispenseTx(ctx, who, a, unit)).to.be.revertedWithCustomError(batchToken, "BatchTokenUnitAlreadyDispensed").withArgs(a.batchId, unit);
      }
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses a forged serial, a proof of another index and an index past the batch", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy } = ctx;
      const dispense = (unit: number, serial: string, proof: string[]) => batchToken.connect(pharmacy).dispense(a.batchId, unit, serial, proof);
      const refused: [number, string, string[]][] = [
        [160, "PACKS-A-FORGED", a.proofOf(160)],
        [160, a.serials[161], a.proofOf(161)],
        [161, a.serials[160], a.proofOf(160)],
        [300, a.serials[0], a.proofOf(0)],
        [160, a.serials[160], []],
      ];
      for (const [unit, serial, proof] of refused) {
        await expect(dispense(unit, serial, proof)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidUnitProof").withArgs(a.batchId, unit);
      }
      const q = await mint(ctx, { lot: "PACKS-Q", units: 50, serialised: false });
      await expect(batchToken.connect(pharmacy).dispense(q.batchId, 0, "X", [])).to.be.revertedWithCustomError(batchToken, "BatchTokenNotSerialised").withArgs(q.batchId);
    });

    it("refuses to dispense while the batch is quarantined or recalled or its product withdrawn", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, regulator } = ctx;
      await (await batchToken.connect(regulator).quarantine(a.batchId, REASON)).wait();
      await expect(dispenseTx(ctx, pharmacy, a, 160)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidStatus").withArgs(a.batchId, BatchStatus.Quarantined);
      await (await batchToken.connect(regulator).liftQuarantine(a.batchId, REASON)).wait();
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();

      await setProductStatus(ctx, a, ProductStatus.Withdrawn);
      await expect(dispenseTx(ctx, pharmacy, a, 161)).to.be.revertedWithCustomError(batchToken, "BatchTokenProductWithdrawn").withArgs(a.input.gtin);
      await setProductStatus(ctx, a, ProductStatus.Active);
      await (await dispenseTx(ctx, pharmacy, a, 161)).wait();

      await (await batchToken.connect(regulator).recall(a.batchId, REASON)).wait();
      await expect(dispenseTx(ctx, pharmacy, a, 162)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidStatus").withArgs(a.batchId, BatchStatus.Recalled);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses to dispense a pack of an expired batch", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, producer, distributor, pharmacy } = ctx;
      const e = await mint(ctx, { lot: "PACKS-E", units: 20, expiryInDays: 1 });
      await deliver(ctx, producer, e.batchId, [units(0, 5)], distributor);
      await deliver(ctx, distributor, e.batchId, [units(0, 5)], pharmacy);
      await (await dispenseTx(ctx, pharmacy, e, 0)).wait();
      await time.increaseTo((e.input.expiryDay + 1) * DAY + DAY / 2);
      await expect(dispenseTx(ctx, pharmacy, e, 1)).to.be.revertedWithCustomError(batchToken, "BatchTokenExpired").withArgs(e.batchId, e.input.expiryDay);
      await expectEveryPackAccountedFor(ctx, e);
    });
  });

  describe("undoDispense", function () {
    it("lets the same pharmacy undo a dispense on the last day of the window: the pack is back loose with it", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy } = ctx;
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();
      await (await dispenseTx(ctx, pharmacy, a, 130)).wait(); // out of sealed case 3
      await time.increase(10 * DAY);
      await expect(undoTx(ctx, pharmacy, a, 160))
        .to.emit(batchToken, "DispenseUndone")
        .withArgs(a.batchId, pharmacy.address, 160, REASON)
        .and.to.emit(batchToken, "TransferSingle")
        .withArgs(pharmacy.address, ethers.ZeroAddress, pharmacy.address, a.batchId, 1);
      await (await undoTx(ctx, pharmacy, a, 130)).wait();
      expect(await balance(ctx, a, pharmacy)).to.equal(50n);
      await expectState(ctx, a, K.Units, 160, PackState.Held, 0);
      await expectState(ctx, a, K.Units, 130, PackState.Held, 0);
      expect(await holds(ctx, a, pharmacy, [units(120, 50)])).to.equal(true);
      expect(await verdictOf(ctx, a, 160)).to.equal(Verdict.Genuine);
      await expectEveryPackAccountedFor(ctx, a);
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses an undo after the window", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy } = ctx;
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();
      const day = await today();
      await time.increase(11 * DAY);
      await expect(undoTx(ctx, pharmacy, a, 160)).to.be.revertedWithCustomError(batchToken, "BatchTokenUndoWindowPassed").withArgs(day, 10);
    });

    it("follows the undo window governance sets", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy } = ctx;
      await governToken(ctx, batchToken.interface.encodeFunctionData("setUndoWindow", [3]));
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();
      await (await dispenseTx(ctx, pharmacy, a, 161)).wait();
      const day = await today();
      await time.increase(3 * DAY);
      await (await undoTx(ctx, pharmacy, a, 160)).wait();
      await time.increase(DAY);
      await expect(undoTx(ctx, pharmacy, a, 161)).to.be.revertedWithCustomError(batchToken, "BatchTokenUndoWindowPassed").withArgs(day, 3);
    });

    it("refuses an undo by anyone but the pharmacy that dispensed", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, distributor, pharmacy, pharmacy2, index } = ctx;
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();
      await expect(undoTx(ctx, pharmacy2, a, 160)).to.be.revertedWithCustomError(batchToken, "BatchTokenNotStateOwner").withArgs(pharmacy2.address, index.pharmacy);
      await expect(undoTx(ctx, distributor, a, 160))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(distributor.address, Role.Distributor);
    });

    it("refuses an undo of a pack that is not dispensed, naming its record's state", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy } = ctx;
      await (await decommissionTx(ctx, pharmacy, a, [units(164)], PackState.Sample)).wait();
      // A pack without a record of its own reports None ("untouched" in PackState's words).
      for (const [unit, state] of [
        [161, PackState.None], // loose with the pharmacy
        [125, PackState.None], // in its sealed case
        [300, PackState.None], // past the batch
        [164, PackState.Sample],
      ]) {
        await expect(undoTx(ctx, pharmacy, a, unit)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidPackState").withArgs(K.Units, unit, state);
      }
    });

    it("refuses an undo for a recalled batch or a withdrawn product; a quarantine does not stop it", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, regulator } = ctx;
      for (const unit of [160, 161, 162]) await (await dispenseTx(ctx, pharmacy, a, unit)).wait();

      await (await batchToken.connect(regulator).quarantine(a.batchId, REASON)).wait();
      await expect(undoTx(ctx, pharmacy, a, 160)).to.emit(batchToken, "DispenseUndone");
      await (await batchToken.connect(regulator).liftQuarantine(a.batchId, REASON)).wait();

      await setProductStatus(ctx, a, ProductStatus.Withdrawn);
      await expect(undoTx(ctx, pharmacy, a, 161)).to.be.revertedWithCustomError(batchToken, "BatchTokenProductWithdrawn").withArgs(a.input.gtin);
      await setProductStatus(ctx, a, ProductStatus.Active);

      await (await batchToken.connect(regulator).recall(a.batchId, REASON)).wait();
      await expect(undoTx(ctx, pharmacy, a, 162)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidStatus").withArgs(a.batchId, BatchStatus.Recalled);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses an undo for an expired batch, even within the window", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, producer, distributor, pharmacy } = ctx;
      const e = await mint(ctx, { lot: "PACKS-E", units: 20, expiryInDays: 1 });
      await deliver(ctx, producer, e.batchId, [units(0, 5)], distributor);
      await deliver(ctx, distributor, e.batchId, [units(0, 5)], pharmacy);
      await (await dispenseTx(ctx, pharmacy, e, 0)).wait();
      await time.increase(2 * DAY);
      await expect(undoTx(ctx, pharmacy, e, 0)).to.be.revertedWithCustomError(batchToken, "BatchTokenExpired").withArgs(e.batchId, e.input.expiryDay);
    });
  });

  describe("decommission", function () {
    const ITEMS = [pallets(2), cases(3), units(5, 3)]; // 60 + 40 + 3 packs

    for (const name of DECOMMISSION_STATES) {
      it(`takes packs, a case and a pallet out of circulation as ${name}`, async function () {
        const ctx = await loadFixture(packsFixture);
        const { batchToken, a, producer, index } = ctx;
        const state = PackState[name];
        await expect(decommissionTx(ctx, producer, a, ITEMS, state))
          .to.emit(batchToken, "PacksDecommissioned")
          .withArgs(a.batchId, producer.address, state, asTuples(ITEMS), 103, EVIDENCE)
          .and.to.emit(batchToken, "TransferSingle")
          .withArgs(producer.address, producer.address, ethers.ZeroAddress, a.batchId, 103);
        expect(await balance(ctx, a, producer)).to.equal(197n);
        const day = await today();
        await expectState(ctx, a, K.Pallet, 2, state, index.producer, day);
        await expectState(ctx, a, K.Case, 3, state, index.producer, day);
        await expectState(ctx, a, K.Case, 7, state, index.producer, day);
        for (const unit of [5, 7, 130, 299]) {
          await expectState(ctx, a, K.Units, unit, state, index.producer, day);
          expect(await verdictOf(ctx, a, unit), `verdict of unit ${unit}`).to.equal(VERDICT_OF_STATE[name]);
        }
        await expectState(ctx, a, K.Pallet, 1, PackState.Unpacked, index.producer);
        await expectState(ctx, a, K.Case, 0, PackState.Unpacked, index.producer);
        expect(await holds(ctx, a, producer, [units(5)])).to.equal(false);
        await expectEveryPackAccountedFor(ctx, a);
      });
    }

    it("refuses the states that are not decommission states", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer } = ctx;
      for (const state of [PackState.None, PackState.Held, PackState.Unpacked, PackState.InTransit, PackState.Dispensed, PackState.Locked]) {
        await expect(decommissionTx(ctx, producer, a, [units(0)], state)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidDecommission").withArgs(state);
      }
    });

    it("refuses packs and containers the caller does not hold, a member without stock and a batch without serials", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, regulator, index } = ctx;
      await expect(decommissionTx(ctx, distributor, a, [units(5)], PackState.Stolen))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(distributor.address, K.Units, 5, PackState.Held, index.producer);
      await expect(decommissionTx(ctx, distributor, a, [pallets(1)], PackState.Stolen))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(distributor.address, K.Pallet, 1, PackState.Held, index.producer);
      await expect(decommissionTx(ctx, regulator, a, [units(5)], PackState.Destroyed))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(regulator.address, Role.Regulator);
      const q = await mint(ctx, { lot: "PACKS-Q", units: 50, serialised: false });
      await expect(decommissionTx(ctx, producer, q, [units(0)], PackState.Destroyed)).to.be.revertedWithCustomError(batchToken, "BatchTokenNotSerialised").withArgs(q.batchId);
    });

    it("refuses Sample, FreeSample and Exported for a quarantined or recalled batch or a withdrawn product; Destroyed and Stolen always go", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, regulator } = ctx;
      let next = 0;
      const finalStatesGo = async () => {
        for (const state of [PackState.Destroyed, PackState.Stolen]) await (await decommissionTx(ctx, producer, a, [units(next++)], state)).wait();
      };
      const revertibleRefused = async (error: string, args: unknown[]) => {
        for (const name of REVERTIBLE) {
          await expect(decommissionTx(ctx, producer, a, [units(100)], PackState[name]), name)
            .to.be.revertedWithCustomError(batchToken, error)
            .withArgs(...args);
        }
      };
      await (await batchToken.connect(regulator).quarantine(a.batchId, REASON)).wait();
      await revertibleRefused("BatchTokenInvalidStatus", [a.batchId, BatchStatus.Quarantined]);
      await finalStatesGo();
      await (await batchToken.connect(regulator).liftQuarantine(a.batchId, REASON)).wait();

      await setProductStatus(ctx, a, ProductStatus.Withdrawn);
      await revertibleRefused("BatchTokenProductWithdrawn", [a.input.gtin]);
      await finalStatesGo();
      await setProductStatus(ctx, a, ProductStatus.Active);

      await (await batchToken.connect(regulator).recall(a.batchId, REASON)).wait();
      await revertibleRefused("BatchTokenInvalidStatus", [a.batchId, BatchStatus.Recalled]);
      await finalStatesGo();
      expect(await balance(ctx, a, producer)).to.equal(294n);
      await expectEveryPackAccountedFor(ctx, a);
    });
  });

  describe("revertDecommission", function () {
    const ITEMS = [pallets(2), cases(3), units(5, 3)]; // 60 + 40 + 3 packs

    for (const name of REVERTIBLE) {
      it(`puts ${name} packs and containers back with the same member on the last day of the window`, async function () {
        const ctx = await loadFixture(packsFixture);
        const { batchToken, a, producer, index } = ctx;
        await (await decommissionTx(ctx, producer, a, ITEMS, PackState[name])).wait();
        await time.increase(10 * DAY);
        await expect(revertTx(ctx, producer, a, ITEMS))
          .to.emit(batchToken, "DecommissionReverted")
          .withArgs(a.batchId, producer.address, asTuples(ITEMS), 103, REASON)
          .and.to.emit(batchToken, "TransferSingle")
          .withArgs(producer.address, ethers.ZeroAddress, producer.address, a.batchId, 103);
        expect(await balance(ctx, a, producer)).to.equal(300n);
        await expectState(ctx, a, K.Pallet, 2, PackState.Held, index.producer);
        await expectState(ctx, a, K.Case, 3, PackState.Held, index.producer);
        await expectState(ctx, a, K.Units, 5, PackState.Held, 0);
        expect(await holds(ctx, a, producer, [units(0, 300)])).to.equal(true);
        expect(await holds(ctx, a, producer, ITEMS)).to.equal(true);
        expect(await verdictOf(ctx, a, 5)).to.equal(Verdict.Genuine);
        await expectEveryPackAccountedFor(ctx, a);
      });
    }

    it("refuses to revert Destroyed and Stolen: they are final", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer } = ctx;
      await (await decommissionTx(ctx, producer, a, [units(5)], PackState.Destroyed)).wait();
      await (await decommissionTx(ctx, producer, a, [cases(3)], PackState.Stolen)).wait();
      await expect(revertTx(ctx, producer, a, [units(5)])).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidPackState").withArgs(K.Units, 5, PackState.Destroyed);
      await expect(revertTx(ctx, producer, a, [cases(3)])).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidPackState").withArgs(K.Case, 3, PackState.Stolen);
    });

    it("is for the member that decommissioned, within the window", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, pharmacy, index } = ctx;
      await deliver(ctx, producer, a.batchId, [cases(0)], distributor);
      await (await decommissionTx(ctx, distributor, a, [units(0, 2)], PackState.Exported)).wait();
      const day = await today();
      for (const who of [producer, pharmacy]) {
        await expect(revertTx(ctx, who, a, [units(0)])).to.be.revertedWithCustomError(batchToken, "BatchTokenNotStateOwner").withArgs(who.address, index.distributor);
      }
      await time.increase(11 * DAY);
      await expect(revertTx(ctx, distributor, a, [units(0)])).to.be.revertedWithCustomError(batchToken, "BatchTokenUndoWindowPassed").withArgs(day, 10);
    });

    it("refuses to revert for a recalled batch or a withdrawn product; a quarantine does not stop it", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, regulator } = ctx;
      await (await decommissionTx(ctx, producer, a, [units(0)], PackState.Sample)).wait();
      await (await decommissionTx(ctx, producer, a, [units(1)], PackState.Exported)).wait();
      await (await decommissionTx(ctx, producer, a, [units(2)], PackState.FreeSample)).wait();

      await (await batchToken.connect(regulator).quarantine(a.batchId, REASON)).wait();
      await expect(revertTx(ctx, producer, a, [units(0)])).to.emit(batchToken, "DecommissionReverted");
      await (await batchToken.connect(regulator).liftQuarantine(a.batchId, REASON)).wait();

      await setProductStatus(ctx, a, ProductStatus.Withdrawn);
      await expect(revertTx(ctx, producer, a, [units(1)])).to.be.revertedWithCustomError(batchToken, "BatchTokenProductWithdrawn").withArgs(a.input.gtin);
      await setProductStatus(ctx, a, ProductStatus.Active);

      await (await batchToken.connect(regulator).recall(a.batchId, REASON)).wait();
      await expect(revertTx(ctx, producer, a, [units(2)])).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidStatus").withArgs(a.batchId, BatchStatus.Recalled);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses to revert for an expired batch, even within the window", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, producer } = ctx;
      const e = await mint(ctx, { lot: "PACKS-E", units: 20, expiryInDays: 1 });
      await (await decommissionTx(ctx, producer, e, [units(0)], PackState.Sample)).wait();
      await time.increase(2 * DAY);
      await expect(revertTx(ctx, producer, e, [units(0)])).to.be.revertedWithCustomError(batchToken, "BatchTokenExpired").withArgs(e.batchId, e.input.expiryDay);
    });

    it("reverts only items in a revertible state, as they were decommissioned", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer } = ctx;
      const invalidState = (tx: Promise<unknown>) => expect(tx).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidPackState");
      await (await decommissionTx(ctx, producer, a, [pallets(2)], PackState.Sample)).wait();
      await (await lockTx(ctx, producer, a, [units(100)])).wait();
      await invalidState(revertTx(ctx, producer, a, [units(5)])).withArgs(K.Units, 5, PackState.None);
      await invalidState(revertTx(ctx, producer, a, [cases(0)])).withArgs(K.Case, 0, PackState.None);
      await invalidState(revertTx(ctx, producer, a, [units(100)])).withArgs(K.Units, 100, PackState.Locked);
      // Case 6 is Sample through its pallet; it has no record of its own to revert.
      await invalidState(revertTx(ctx, producer, a, [cases(6)])).withArgs(K.Case, 6, PackState.None);
      await (await revertTx(ctx, producer, a, [pallets(2)])).wait();
      await expectEveryPackAccountedFor(ctx, a);
    });
  });

  describe("lock and unlock", function () {
    const ITEMS = [pallets(2), cases(3), units(5, 3)];

    it("locks packs and containers for the holder's investigation; they stay in its balance", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, index } = ctx;
      await expect(lockTx(ctx, producer, a, ITEMS))
        .to.emit(batchToken, "PacksLocked")
        .withArgs(a.batchId, producer.address, asTuples(ITEMS), REASON)
        .and.not.to.emit(batchToken, "TransferSingle");
      expect(await balance(ctx, a, producer)).to.equal(300n);
      const day = await today();
      for (const [kind, at] of [
        [K.Pallet, 2],
        [K.Case, 3],
        [K.Units, 5],
        [K.Units, 130],
        [K.Units, 260],
      ]) {
        await expectState(ctx, a, kind, at, PackState.Locked, index.producer, day);
      }
      expect(await verdictOf(ctx, a, 5)).to.equal(Verdict.Locked);
      expect(await verdictOf(ctx, a, 260)).to.equal(Verdict.Locked);
      expect(await holds(ctx, a, producer, [units(5)])).to.equal(false);
      expect(await holds(ctx, a, producer, [pallets(2)])).to.equal(false);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("keeps locked packs and containers from being shipped, decommissioned, unpacked or locked again", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, index } = ctx;
      await (await lockTx(ctx, producer, a, ITEMS)).wait();
      const p = index.producer;
      const refused: [string, () => Promise<unknown>, [number, number, number]][] = [
        ["ship a locked pack", () => shipTx(ctx, producer, a, [units(5)], distributor), [K.Units, 5, PackState.Locked]],
        ["ship a pack of a locked case", () => shipTx(ctx, producer, a, [units(130)], distributor), [K.Units, 130, PackState.Locked]],
        ["ship a locked case", () => shipTx(ctx, producer, a, [cases(3)], distributor), [K.Case, 3, PackState.Locked]],
        ["ship a case of a locked pallet", () => shipTx(ctx, producer, a, [cases(6)], distributor), [K.Case, 6, PackState.Locked]],
        ["ship a locked pallet", () => shipTx(ctx, producer, a, [pallets(2)], distributor), [K.Pallet, 2, PackState.Locked]],
        ["ship the pallet the lock opened", () => shipTx(ctx, producer, a, [pallets(1)], distributor), [K.Pallet, 1, PackState.Unpacked]],
        ["destroy a locked pack", () => decommissionTx(ctx, producer, a, [units(4, 2)], PackState.Destroyed), [K.Units, 5, PackState.Locked]],
        ["lock it again", () => lockTx(ctx, producer, a, [units(6)]), [K.Units, 6, PackState.Locked]],
        ["unpack a locked case", () => unpackTx(ctx, producer, a, [cases(3)]), [K.Case, 3, PackState.Locked]],
        ["unpack a locked pallet", () => unpackTx(ctx, producer, a, [pallets(2)]), [K.Pallet, 2, PackState.Locked]],
      ];
      for (const [what, tx, [kind, at, state]] of refused) {
        await expect(tx(), what).to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder").withArgs(producer.address, kind, at, state, p);
      }
    });

    it("lets the locker unlock: its packs and containers are held again and move", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, index } = ctx;
      await (await lockTx(ctx, producer, a, ITEMS)).wait();
      await expect(unlockTx(ctx, producer, a, producer, ITEMS))
        .to.emit(batchToken, "PacksUnlocked")
        .withArgs(a.batchId, producer.address, producer.address, asTuples(ITEMS), REASON);
      await expectState(ctx, a, K.Pallet, 2, PackState.Held, index.producer);
      await expectState(ctx, a, K.Case, 3, PackState.Held, index.producer);
      await expectState(ctx, a, K.Units, 5, PackState.Held, 0);
      expect(await holds(ctx, a, producer, ITEMS)).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
      await deliver(ctx, producer, a.batchId, ITEMS, distributor);
      expect(await balance(ctx, a, distributor)).to.equal(103n);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("lets a regulator of any of the batch's markets unlock a holder's packs", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, regulator, foreignRegulator } = ctx;
      await (await lockTx(ctx, producer, a, ITEMS)).wait();
      await expect(unlockTx(ctx, regulator, a, producer, [pallets(2), cases(3)]))
        .to.emit(batchToken, "PacksUnlocked")
        .withArgs(a.batchId, producer.address, regulator.address, asTuples([pallets(2), cases(3)]), REASON);
      // Batch A is marketed in DE and FR: the FR regulator is one of its market regulators too.
      await expect(unlockTx(ctx, foreignRegulator, a, producer, [units(5, 3)]))
        .to.emit(batchToken, "PacksUnlocked")
        .withArgs(a.batchId, producer.address, foreignRegulator.address, asTuples([units(5, 3)]), REASON);
      expect(await holds(ctx, a, producer, [units(0, 300)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("refuses an unlock by a regulator of another market", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, producer, foreignRegulator } = ctx;
      const de = await mint(ctx, { lot: "PACKS-DE", units: 20, markets: ["DE"] });
      await (await lockTx(ctx, producer, de, [units(0, 2)])).wait();
      await expect(unlockTx(ctx, foreignRegulator, de, producer, [units(0, 2)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenJurisdictionNotMarket")
        .withArgs(de.batchId, ethers.hexlify(ethers.toUtf8Bytes("FR")));
    });

    it("refuses an unlock by anyone else", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, auditor, outsider, index } = ctx;
      await (await lockTx(ctx, producer, a, ITEMS)).wait();
      await expect(unlockTx(ctx, distributor, a, producer, [units(5)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(distributor.address, Role.Distributor);
      await expect(unlockTx(ctx, auditor, a, producer, [units(5)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(auditor.address, Role.Auditor);
      // A key that is no member's acts as the zero account.
      await expect(unlockTx(ctx, outsider, a, producer, [units(5)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(ethers.ZeroAddress, Role.None);
      // Naming itself as the holder does not make the distributor the locker.
      await expect(unlockTx(ctx, distributor, a, distributor, [units(5)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotStateOwner")
        .withArgs(distributor.address, index.producer);
    });

    it("refuses an unlock by a suspended locker; a regulator still can", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, consortium, governors, a, producer, distributor, regulator } = ctx;
      await deliver(ctx, producer, a.batchId, [cases(0)], distributor);
      await (await lockTx(ctx, distributor, a, [units(0, 5)])).wait();
      await govern(consortium, governors, consortium.interface.encodeFunctionData("suspendMember", [distributor.address, REASON]));
      await expect(unlockTx(ctx, distributor, a, distributor, [units(0, 5)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(distributor.address, Role.None);
      await (await unlockTx(ctx, regulator, a, distributor, [units(0, 5)])).wait();
      expect(await holds(ctx, a, distributor, [units(0, 40)])).to.equal(true);
    });

    it("refuses to unlock what is not locked, or not locked as that item", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer } = ctx;
      await (await lockTx(ctx, producer, a, ITEMS)).wait();
      const invalidState = (tx: Promise<unknown>) => expect(tx).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidPackState");
      await invalidState(unlockTx(ctx, producer, a, producer, [units(8)])).withArgs(K.Units, 8, PackState.None);
      await invalidState(unlockTx(ctx, producer, a, producer, [cases(6)])).withArgs(K.Case, 6, PackState.None);
      await invalidState(unlockTx(ctx, producer, a, producer, [pallets(1)])).withArgs(K.Pallet, 1, PackState.Unpacked);
      await expect(batchToken.connect(producer).unlock(99, producer.address, [units(5)], REASON)).to.be.revertedWithCustomError(batchToken, "BatchTokenUnknownBatch").withArgs(99);
    });

    it("refuses to lock packs the caller does not hold, for a member without stock, or on a batch without serials", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, regulator, index } = ctx;
      await expect(lockTx(ctx, distributor, a, [units(5)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(distributor.address, K.Units, 5, PackState.Held, index.producer);
      await expect(lockTx(ctx, regulator, a, [units(5)]))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(regulator.address, Role.Regulator);
      const q = await mint(ctx, { lot: "PACKS-Q", units: 50, serialised: false });
      await expect(lockTx(ctx, producer, q, [units(0)])).to.be.revertedWithCustomError(batchToken, "BatchTokenNotSerialised").withArgs(q.batchId);
    });

    it("lets governance recovery move what a holder locked with the rest, never a final state nor another member's lock", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, consortium, governors, a, producer, distributor, distributor2, index } = ctx;
      await deliver(ctx, producer, a.batchId, [units(0, 10), cases(1)], distributor);
      await (await lockTx(ctx, distributor, a, [units(2, 3), cases(1)])).wait();
      await (await decommissionTx(ctx, distributor, a, [units(9)], PackState.Destroyed)).wait();
      const recover = (from: HardhatEthersSigner, to: string, quantity: number, items: Item[], state: number) =>
        batchToken.interface.encodeFunctionData("recoverCustody", [a.batchId, from.address, to, quantity, items, state, EVIDENCE]);

      await governToken(ctx, recover(distributor, distributor2.address, 49, [units(0, 9), cases(1)], PackState.Held));
      expect(await holds(ctx, a, distributor2, [units(0, 9), cases(1)])).to.equal(true);
      await expectState(ctx, a, K.Units, 3, PackState.Held, 0);
      await expectState(ctx, a, K.Case, 1, PackState.Held, index.distributor2);
      expect([await balance(ctx, a, distributor), await balance(ctx, a, distributor2)]).to.deep.equal([0n, 49n]);
      await expectEveryPackAccountedFor(ctx, a);

      // The destroyed pack stays destroyed.
      const id = await proposeToToken(ctx, recover(distributor, distributor2.address, 1, [units(9)], PackState.Held));
      await expect(consortium.connect(governors[0]).execute(id))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(distributor.address, K.Units, 9, PackState.Destroyed, index.distributor);

      // Nor a pack another member locked.
      await (await lockTx(ctx, distributor2, a, [units(8)])).wait();
      const other = await proposeToToken(ctx, recover(distributor, distributor2.address, 1, [units(8)], PackState.Held));
      await expect(consortium.connect(governors[0]).execute(other))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(distributor.address, K.Units, 8, PackState.Locked, index.distributor2);

      // Into a final state, locked packs included.
      await (await lockTx(ctx, distributor2, a, [units(0, 4)])).wait();
      await governToken(ctx, recover(distributor2, ethers.ZeroAddress, 6, [units(0, 6)], PackState.Stolen));
      await expectState(ctx, a, K.Units, 0, PackState.Stolen, index.distributor2, await today());
      expect(await verdictOf(ctx, a, 5)).to.equal(Verdict.Stolen);
      await expectEveryPackAccountedFor(ctx, a);
    });
  });

  describe("governance recovery of locked containers", function () {
    it("refuses to take one case out of a locked pallet, and recovers the pallet whole", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, consortium, governors, a, producer, distributor, index } = ctx;
      await (await lockTx(ctx, producer, a, [pallets(2)])).wait();
      const day = await today();
      // Taking case 6 alone would open the pallet and release the investigation hold on its other cases.
      const one = await proposeToToken(
        ctx,
        batchToken.interface.encodeFunctionData("recoverCustody", [a.batchId, producer.address, distributor.address, 40, [cases(6)], PackState.Held, EVIDENCE]),
      );
      await expect(consortium.connect(governors[0]).execute(one))
        .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
        .withArgs(producer.address, K.Case, 6, PackState.Locked, index.producer);
      await expectState(ctx, a, K.Case, 7, PackState.Locked, index.producer, day);
      expect(await verdictOf(ctx, a, 285)).to.equal(Verdict.Locked);
      // The pallet moves whole, its cases still sealed inside it.
      await governToken(
        ctx,
        batchToken.interface.encodeFunctionData("recoverCustody", [a.batchId, producer.address, distributor.address, 60, [pallets(2)], PackState.Held, EVIDENCE]),
      );
      expect(await holds(ctx, a, distributor, [pallets(2)])).to.equal(true);
      await expectEveryPackAccountedFor(ctx, a);
    });
  });

  describe("verifyUnit", function () {
    it("gives every pack-level verdict", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { a, distributor, pharmacy } = ctx;
      await ship(ctx, pharmacy, a.batchId, [units(161)], distributor);
      await ship(ctx, distributor, a.batchId, [cases(5)], pharmacy);
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();
      await (await lockTx(ctx, pharmacy, a, [units(162)])).wait();
      const decommissioned = { Destroyed: 163, Stolen: 164, Sample: 166, FreeSample: 167, Exported: 168 } as const;
      for (const [name, unit] of Object.entries(decommissioned)) {
        await (await decommissionTx(ctx, pharmacy, a, [units(unit)], PackState[name as keyof typeof decommissioned])).wait();
      }
      const expected: [number, number][] = [
        [165, Verdict.Genuine],
        [0, Verdict.Genuine],
        [125, Verdict.Genuine],
        [160, Verdict.Dispensed],
        [161, Verdict.InTransit],
        [210, Verdict.InTransit],
        [162, Verdict.Locked],
        ...Object.entries(decommissioned).map(([name, unit]): [number, number] => [unit, VERDICT_OF_STATE[name]]),
      ];
      for (const [unit, verdict] of expected) expect(await verdictOf(ctx, a, unit), `unit ${unit}`).to.equal(verdict);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("puts batch-level verdicts first: a dispensed pack of a recalled batch says Recalled", async function () {
      const ctx = await loadFixture(pharmacyFixture);
      const { batchToken, a, pharmacy, regulator } = ctx;
      await (await dispenseTx(ctx, pharmacy, a, 160)).wait();
      await (await decommissionTx(ctx, pharmacy, a, [units(163)], PackState.Destroyed)).wait();
      const { gtin, lot, expiryDay } = a.input;
      expect(await batchToken.verifyUnit(gtin, lot, a.serials[160], expiryDay + 1, 160, a.proofOf(160))).to.equal(Verdict.ExpiryMismatch);

      await setProductStatus(ctx, a, ProductStatus.Withdrawn);
      expect(await verdictOf(ctx, a, 163)).to.equal(Verdict.Withdrawn);
      await setProductStatus(ctx, a, ProductStatus.Active);

      await (await batchToken.connect(regulator).quarantine(a.batchId, REASON)).wait();
      expect(await verdictOf(ctx, a, 160)).to.equal(Verdict.Quarantined);
      expect(await verdictOf(ctx, a, 163)).to.equal(Verdict.Quarantined);
      await (await batchToken.connect(regulator).recall(a.batchId, REASON)).wait();
      expect(await verdictOf(ctx, a, 160)).to.equal(Verdict.Recalled);
      expect(await verdictOf(ctx, a, 163)).to.equal(Verdict.Recalled);
    });

    it("puts the pack's own state before expiry: a stolen pack of an expired batch says Stolen", async function () {
      const ctx = await loadFixture(packsFixture);
      const { producer, distributor, pharmacy } = ctx;
      const e = await mint(ctx, { lot: "PACKS-E", units: 20, expiryInDays: 1 });
      await (await decommissionTx(ctx, producer, e, [units(0)], PackState.Stolen)).wait();
      await ship(ctx, producer, e.batchId, [units(1)], distributor);
      await (await lockTx(ctx, producer, e, [units(2)])).wait();
      await deliver(ctx, producer, e.batchId, [units(3, 2)], distributor);
      await deliver(ctx, distributor, e.batchId, [units(3, 2)], pharmacy);
      await (await dispenseTx(ctx, pharmacy, e, 3)).wait();
      await time.increaseTo((e.input.expiryDay + 1) * DAY + DAY / 2);
      const expected: [number, number][] = [
        [0, Verdict.Stolen],
        [1, Verdict.InTransit],
        [2, Verdict.Locked],
        [3, Verdict.Dispensed],
        [4, Verdict.Expired],
        [5, Verdict.Expired],
      ];
      for (const [unit, verdict] of expected) expect(await verdictOf(ctx, e, unit), `unit ${unit}`).to.equal(verdict);
      await expectEveryPackAccountedFor(ctx, e);
    });
  });

  describe("security review, issue 11", function () {
    it("regression (issue 11): a pharmacy holding one pack cannot dispense the serials still upstream with the proofs the public portal hands out", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, a, producer, distributor, pharmacy, index } = ctx;
      await deliver(ctx, producer, a.batchId, [cases(0)], distributor);
      await deliver(ctx, distributor, a.batchId, [units(0)], pharmacy);
      // The exploit: the portal answers any scan with the pack's index and Merkle proof, and the
      // old code checked only that the pharmacy held some unit of the batch.
      for (const unit of [1, 39, 40, 128, 255, 256, 299]) {
        await expect(dispenseTx(ctx, pharmacy, a, unit), `unit ${unit}`)
          .to.be.revertedWithCustomError(batchToken, "BatchTokenNotHolder")
          .withArgs(pharmacy.address, K.Units, unit, PackState.Held, unit < 40 ? index.distributor : index.producer);
        expect(await verdictOf(ctx, a, unit)).to.equal(Verdict.Genuine);
      }
      expect(await balance(ctx, a, pharmacy)).to.equal(1n);
      await (await dispenseTx(ctx, pharmacy, a, 0)).wait();
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("regression (issue 11): stolen and destroyed packs verify Stolen and Destroyed, not Genuine, and leave the balances", async function () {
      const ctx = await loadFixture(packsFixture);
      const { a, producer, distributor } = ctx;
      await deliver(ctx, producer, a.batchId, [cases(1), units(0, 3)], distributor);
      // The distributor reports six packs stolen: three picked loose, three out of its sealed case.
      await (await decommissionTx(ctx, distributor, a, [units(0, 3), units(40, 3)], PackState.Stolen)).wait();
      // The producer destroys six across the 128-pack chunk boundary, out of a sealed case of a sealed pallet.
      await (await decommissionTx(ctx, producer, a, [units(125, 6)], PackState.Destroyed)).wait();
      for (const unit of [0, 1, 2, 40, 41, 42]) expect(await verdictOf(ctx, a, unit), `unit ${unit}`).to.equal(Verdict.Stolen);
      for (let unit = 125; unit < 131; unit++) expect(await verdictOf(ctx, a, unit), `unit ${unit}`).to.equal(Verdict.Destroyed);
      expect(await verdictOf(ctx, a, 43)).to.equal(Verdict.Genuine);
      expect([await balance(ctx, a, producer), await balance(ctx, a, distributor)]).to.deep.equal([251n, 37n]);
      await expectEveryPackAccountedFor(ctx, a);
    });

    it("regression (issue 11): a serial cannot be dispensed twice through a leaf at an index past serialCount", async function () {
      const ctx = await loadFixture(packsFixture);
      const { batchToken, producer, distributor, pharmacy } = ctx;
      // The producer's tree has 600 leaves for 300 packs: leaves 300 … 599 repeat serials 0 … 299.
      const made = batchInput(await today(), { lot: "PACKS-X", units: 300 });
      const values = [...made.serials.map((s, i) => [i, s]), ...made.serials.map((s, i) => [300 + i, s])];
      const tree = StandardMerkleTree.of(values, SERIAL_TREE_TYPES);
      await (await batchToken.connect(producer).mintBatch({ ...made.input, serialsRoot: tree.root })).wait();
      const x: Minted = { ...made, batchId: await batchToken.batchCount(), tree, root: tree.root, proofOf: (i: number) => tree.getProof(i) };
      await deliver(ctx, producer, x.batchId, [units(0, 10)], distributor);
      await deliver(ctx, distributor, x.batchId, [units(0, 10)], pharmacy);
      const dispenseAt305 = () => batchToken.connect(pharmacy).dispense(x.batchId, 305, made.serials[5], tree.getProof(305));

      await expect(dispenseAt305()).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Units, 305, 1, 300);
      await (await dispenseTx(ctx, pharmacy, x, 5)).wait();
      await expect(dispenseAt305()).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidItem").withArgs(K.Units, 305, 1, 300);
      await expect(dispenseTx(ctx, pharmacy, x, 5)).to.be.revertedWithCustomError(batchToken, "BatchTokenUnitAlreadyDispensed").withArgs(x.batchId, 5);
      const { gtin, lot, expiryDay } = made.input;
      expect(await batchToken.verifyUnit(gtin, lot, made.serials[5], expiryDay, 305, tree.getProof(305))).to.equal(Verdict.NotInBatch);
      expect(await verdictOf(ctx, x, 5)).to.equal(Verdict.Dispensed);
      expect(await balance(ctx, x, pharmacy)).to.equal(9n);
      await expectEveryPackAccountedFor(ctx, x);
    });
  });
});
