import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { fetchLedgerEvents } from "../../api/chain/logs";
import { isConserved, packEvents, replayBatch } from "../../api/domain/custody";
import { PACK_STATE_NAMES } from "../../api/domain/pack-ledger";
import { cases, deliver, deploySystemFixture, govern, mintBatch, pallets, ship, units, type System } from "../fixtures/system";

/**
 * The pack ledger rebuilt from events (api/domain/pack-ledger.ts via the custody reducer) against
 * the contract itself: after every step of a scenario that uses every custody path, each pack's
 * state and holder as the events say must be what BatchToken.packState and holdsUnits say.
 */
describe("PackBook: the pack ledger rebuilt from events equals the chain's, pack by pack", function () {
  async function scenarioFixture() {
    const sys = await deploySystemFixture();
    // 290 packs in cases of 20 and pallets of 4 cases (the last pallet and case are short).
    const batch = await mintBatch(sys, { lot: "PACKBOOK", units: 290, unitsPerCase: 20, casesPerPallet: 4 });
    return { sys, batch };
  }

  async function compare(sys: System, batchId: bigint) {
    const events = await fetchLedgerEvents(ethers.provider, await sys.batchToken.getAddress(), { batchId });
    const state = replayBatch(batchId.toString(), events);
    expect(state.anomalies, "the events replay without anomalies").to.deep.equal([]);
    expect(isConserved(state), "conservation, and each member's packs add up to its balance").to.equal(true);
    const book = state.packs!;
    const indexOf = new Map<string, bigint>();
    for (let i = 1n; i <= (await sys.consortium.memberCount()); i++) indexOf.set(await sys.consortium.accountAt(i), i);
    for (let u = 0; u < book.layout.units; u++) {
      const mine = book.unit(u);
      const [state, member] = await sys.batchToken.packState(batchId, 0, u);
      expect(PACK_STATE_NAMES[Number(state)], `pack ${u}: state`).to.equal(mine.state);
      if (member !== 0n) expect(member, `pack ${u}: member`).to.equal(indexOf.get(mine.holder));
      else if (mine.state === "Held") expect(await sys.batchToken.holdsUnits(batchId, mine.holder, [units(u)]), `pack ${u}: held loose by ${mine.holder}`).to.equal(true);
    }
    for (const [who, n] of book.holdings()) expect(await sys.batchToken.balanceOf(who, batchId), `balance of ${who}`).to.equal(BigInt(n));
    return { events, book };
  }

  it("follows pallets, cases, picks, returns, dispenses and their undo, decommissions, locks and governance recovery", async function () {
    const { sys, batch } = await loadFixture(scenarioFixture);
    const id = batch.batchId;
    const t = sys.batchToken;
    const as = (s: HardhatEthersSigner) => t.connect(s);
    await compare(sys, id);

    // A pallet to the distributor, another case out of a sealed pallet (opens it), a pick of packs
    // out of a sealed case, a range across cases.
    await deliver(sys, sys.producer, id, [pallets(0)], sys.distributor);
    await deliver(sys, sys.producer, id, [cases(5)], sys.distributor);
    await deliver(sys, sys.producer, id, [units(130, 15)], sys.distributor2);
    await compare(sys, id);

    // Picks from an opened case to the pharmacy; a rejected and a cancelled shipment.
    await deliver(sys, sys.distributor, id, [units(3), units(25, 2), cases(2)], sys.pharmacy);
    const rejected = await ship(sys, sys.distributor, id, [units(12, 5)], sys.pharmacy);
    await (await as(sys.pharmacy).rejectShipment(rejected.shipmentId, rejected.shipment, 1)).wait();
    const cancelled = await ship(sys, sys.distributor, id, [cases(3)], sys.pharmacy2);
    await (await as(sys.distributor).cancelShipment(cancelled.shipmentId, cancelled.shipment)).wait();
    const pending = await ship(sys, sys.distributor2, id, [units(140, 2)], sys.pharmacy2);
    await compare(sys, id);

    // Dispensing a loose pack and a pack from a sealed case; an undo.
    await (await as(sys.pharmacy).dispense(id, 3, batch.serials[3], batch.proofOf(3))).wait();
    await (await as(sys.pharmacy).dispense(id, 45, batch.serials[45], batch.proofOf(45))).wait();
    await (await as(sys.pharmacy).undoDispense(id, 3, ethers.id("patient returned it unopened"))).wait();
    await compare(sys, id);

    // Decommissions (final and revertible, a pack and a case), a revert, a lock and an unlock by a regulator.
    await (await as(sys.distributor).decommission(id, [units(10)], 6, ethers.id("police report"))).wait();
    await (await as(sys.distributor).decommission(id, [cases(3)], 9, ethers.id("export declaration"))).wait();
    await (await as(sys.distributor2).decommission(id, [units(131, 2)], 7, ethers.id("samples"))).wait();
    await (await as(sys.distributor2).revertDecommission(id, [units(131)], ethers.id("sample not used"))).wait();
    await (await as(sys.producer).lock(id, [pallets(2), units(250)], ethers.id("investigation"))).wait();
    await (await as(sys.regulator).unlock(id, sys.producer.address, [units(250)], ethers.id("cleared"))).wait();
    await compare(sys, id);

    // Governance: what the second distributor holds (loose packs) goes to the first; its pending
    // shipment is closed to a successor.
    await govern(sys.consortium, sys.governors, t.interface.encodeFunctionData("recoverCustody", [id, sys.distributor2.address, sys.distributor.address, 12n, [units(130, 2), units(133, 7), units(142, 3)], 1, ethers.id("successor")]), await t.getAddress());
    await govern(sys.consortium, sys.governors, t.interface.encodeFunctionData("recoverShipment", [pending.shipmentId, pending.shipment, sys.pharmacy.address, ethers.id("closed")]), await t.getAddress());
    await time.increase(11 * 86_400);
    const { events, book } = await compare(sys, id);

    // A pack's own history names its case and pallet moves.
    const history = packEvents(events, book.layout, 45).map((e) => e.name);
    expect(history).to.include.members(["BatchMinted", "ShipmentCreated", "ShipmentAccepted", "UnitDispensed"]);
  });
});
