import fs from "node:fs";
import path from "node:path";
import hre, { ethers } from "hardhat";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { BaseContract, ContractTransactionResponse, TransactionResponse } from "ethers";
import { BaselineERC1155__factory } from "../../typechain-types";
import { FORWARD_REQUEST_TYPES, FORWARDER_NAME, FORWARDER_VERSION } from "../../api/relay/forward-request";
import { GTIN, Role, admitAction, cases, deploySystemFixture, gln, pallets, quantityOf, shipmentFrom, units, type Item, type System } from "../fixtures/system";

/**
 * Gas snapshot of the named hot paths, direct and relayed through the ERC2771Forwarder, beside a
 * plain OpenZeppelin ERC-1155 transfer measured in the same run. `npm run gas` rewrites
 * test/gas-snapshot.json; this test fails when the committed file is stale or a bar is missed.
 */
const SNAPSHOT = path.join(__dirname, "..", "gas-snapshot.json");
const UPDATE = process.env.GAS_SNAPSHOT_UPDATE === "1";
const BARS = {
  handoverRelayed: 2.8,
  handoverPalletRelayed: 4.0,
  handoverTenCasesRelayed: 4.0,
  pickRelayed: 3.5,
  dispenseRelayed: 1.3,
  dispenseRelayedFirstBit: 1.5,
};
const AIMS = { handoverRelayed: 2.2, dispenseRelayed: 1.08 };
/**
 * Bars knowingly missed, each with the figure it is held to instead and why (issue 11: "No bar is
 * worth a weaker guarantee"). The test still fails above `heldTo`, so the miss cannot grow unseen.
 */
const OVER_BAR: Partial<Record<keyof typeof BARS, { heldTo: number; why: string }>> = {
  handoverRelayed: {
    heldTo: 2.851,
    why:
      "a withdrawn product is shipped forward no more: one cold read of the product on ship and again on accept " +
      "(2 × 2,100 gas + checks, 0.06×); without it 2.79×. No product status is in a slot the handover already reads.",
  },
};
const PROOF_DEPTH = 20;
// Calldata is priced per zero and non-zero byte, so everything signed or sent is fixed: a
// wall-clock deadline or expiry would change the signature bytes and the gas from run to run.
const DEADLINE = 2n ** 48n - 1n;
const FAR_EXPIRY_DAY = 60_000; // 2134-04-14
const FAR_LICENCE_EXPIRY = 4_102_444_800n; // 2100-01-01

type Gas = { direct: number; relayed: number };

async function gasOf(tx: Promise<ContractTransactionResponse | TransactionResponse>): Promise<number> {
  const receipt = await (await tx).wait();
  return Number(receipt!.gasUsed);
}

/** Signs a ForwardRequest for `data` on `target` and has `relayer` execute it; returns the relayer's gas. */
async function relay(
  sys: System,
  signer: HardhatEthersSigner,
  target: BaseContract,
  data: string,
  relayer: HardhatEthersSigner,
): Promise<{ gas: number; hash: string }> {
  const { chainId } = await ethers.provider.getNetwork();
  const request = {
    from: signer.address,
    to: await target.getAddress(),
    value: 0n,
    gas: 1_000_000n,
    nonce: await sys.forwarder.nonces(signer.address),
    deadline: DEADLINE,
    data,
  };
  const signature = await signer.signTypedData(
    { name: FORWARDER_NAME, version: FORWARDER_VERSION, chainId, verifyingContract: await sys.forwarder.getAddress() },
    FORWARD_REQUEST_TYPES,
    request,
  );
  const tx = await sys.forwarder.connect(relayer).execute({ ...request, signature });
  const receipt = await tx.wait();
  return { gas: Number(receipt!.gasUsed), hash: tx.hash };
}

/**
 * A depth-20 proof without building a million-leaf tree: two sibling leaves (units 0 and 1, same
 * bitmap word) under 19 random siblings give a root both proofs reach, with OpenZeppelin's
 * sorted-pair hashing.
 */
function depth20Batch() {
  const leaf = (i: number, serial: string) =>
    ethers.keccak256(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["uint256", "string"], [i, serial])));
  const hashPair = (a: string, b: string) =>
    ethers.keccak256(ethers.concat(BigInt(a) < BigInt(b) ? [a, b] : [b, a]));
  const serials = ["GAS0000000000000001", "GAS0000000000000002"];
  const leaves = serials.map((s, i) => leaf(i, s));
  const uppers = Array.from({ length: PROOF_DEPTH - 1 }, (_, i) => ethers.id(`sibling-${i}`));
  let node = hashPair(leaves[0], leaves[1]);
  for (const sibling of uppers) node = hashPair(node, sibling);
  return { root: node, serials, proofs: [[leaves[1], ...uppers], [leaves[0], ...uppers]] };
}

/**
 * Addresses end up in calldata, and calldata is priced per zero byte: the system under
 * measurement must sit at the same addresses whatever ran before (other test files deploy
 * contracts and move the deployer's nonce). A fixed, high deployer nonce pins them.
 */
async function gasFixture() {
  const [deployer] = await ethers.getSigners();
  await ethers.provider.send("hardhat_setNonce", [deployer.address, ethers.toQuantity(1_000_000)]);
  return deploySystemFixture();
}

async function measure() {
  const sys = await loadFixture(gasFixture);
  const { batchToken, consortium, forwarder, producer, distributor, distributor2, pharmacy, pharmacy2, regulator, governors, relayer } = sys;
  const iface = batchToken.interface;
  const units_ = 1 << PROOF_DEPTH;
  const tree = depth20Batch();
  // 1,048,576 packs in cases of 100 and pallets of 10 cases: the shape the bars are set for.
  const input = (lot: string) => ({
    gtin: BigInt(GTIN),
    lot,
    expiryDay: FAR_EXPIRY_DAY,
    quantity: BigInt(units_),
    serialsRoot: tree.root,
    serialCount: units_,
    documentHash: ethers.id(lot),
    unitsPerCase: 100,
    casesPerPallet: 10,
    packingRoot: ethers.id(`packing ${lot}`),
    markets: [] as string[],
  });

  // Steady state: every party has relayed before, so no measurement pays for creating a forwarder
  // nonce slot. OpenZeppelin's forwarder uses the nonce even when the inner call fails.
  for (const who of [producer, distributor, distributor2, pharmacy, pharmacy2, regulator, ...governors]) {
    await relay(sys, who, batchToken, iface.encodeFunctionData("batchCount"), relayer);
  }

  await (await batchToken.connect(producer).mintBatch(input("GAS-WARM-UP"))).wait();

  // Each path is measured on its own batch so direct and relayed see the same storage shape.
  const result: Record<string, Gas> = {};
  const both = async (name: string, direct: () => Promise<number>, relayed: () => Promise<number>) => {
    result[name] = { direct: await direct(), relayed: await relayed() };
  };

  await both(
    "mintBatch",
    () => gasOf(batchToken.connect(producer).mintBatch(input("GAS-D"))),
    async () => (await relay(sys, producer, batchToken, iface.encodeFunctionData("mintBatch", [input("GAS-R")]), relayer)).gas,
  );
  const [batchD, batchR] = [2n, 3n];
  const call = async (relayed: boolean, who: HardhatEthersSigner, data: string) =>
    relayed ? (await relay(sys, who, batchToken, data, relayer)).gas : gasOf(who.sendTransaction({ to: await batchToken.getAddress(), data }));

  // Set-up, not measured: pallet 0 (cases 0–9) reaches the distributor, who opens it, as a
  // wholesaler opens a pallet to pick cases and packs from it; the pharmacy and the second
  // distributor hold nothing of the batch yet (the baseline's "new holder").
  for (const [batchId, relayed] of [[batchD, false], [batchR, true]] as const) {
    const first = await shipVia(sys, producer, batchId, [pallets(0)], distributor, relayed);
    await acceptVia(sys, distributor, first, relayed);
    await call(relayed, distributor, iface.encodeFunctionData("unpack", [batchId, [pallets(0)]]));
  }

  // A sealed case of 100 packs, distributor → pharmacy: ship + accept. Case 4 went to the second
  // distributor first, so the measured case's record slot (cases 4–7) is in use: the steady state
  // of three moves in four; the first move of a slot costs a fresh slot (shipFirstCaseOfSlot).
  const handover = async (batchId: bigint, relayed: boolean, k: number, to: HardhatEthersSigner) => {
    const s = await shipVia(sys, distributor, batchId, [cases(k)], to, relayed);
    return { ship: s.gas, accept: await acceptVia(sys, to, s, relayed) };
  };
  const firstD = await handover(batchD, false, 4, distributor2);
  const firstR = await handover(batchR, true, 4, distributor2);
  result.shipFirstCaseOfSlot = { direct: firstD.ship, relayed: firstR.ship };
  const handoverD = await handover(batchD, false, 5, pharmacy);
  const handoverR = await handover(batchR, true, 5, pharmacy);
  result.shipCase = { direct: handoverD.ship, relayed: handoverR.ship };
  result.acceptCase = { direct: handoverD.accept, relayed: handoverR.accept };

  // A sealed pallet of 10 cases (1,000 packs), producer → second distributor, by its SSCC.
  const palletHandover = async (batchId: bigint, relayed: boolean) => {
    const s = await shipVia(sys, producer, batchId, [pallets(1)], distributor2, relayed);
    return s.gas + (await acceptVia(sys, distributor2, s, relayed));
  };
  result.handoverPallet = { direct: await palletHandover(batchD, false), relayed: await palletHandover(batchR, true) };
  // The same 1,000 packs named as 10 sealed cases of an unopened pallet.
  const tenCases = async (batchId: bigint, relayed: boolean) => {
    const s = await shipVia(sys, producer, batchId, [cases(20, 10)], distributor2, relayed);
    return s.gas + (await acceptVia(sys, distributor2, s, relayed));
  };
  result.handoverTenCases = { direct: await tenCases(batchD, false), relayed: await tenCases(batchR, true) };

  // Picking: three packs out of three opened neighbouring cases (0, 1, 2: units 99, 150 and 201,
  // two 128-pack chunks of the batch's state, one 256-pack word of the receiver's) for a new
  // holder. A first pick from the same chunks runs before, so the measurement is the steady state
  // of the batch's state chunks.
  const pick = async (batchId: bigint, relayed: boolean, picked: Item[], to: HardhatEthersSigner) => {
    const s = await shipVia(sys, distributor, batchId, picked, to, relayed);
    return s.gas + (await acceptVia(sys, to, s, relayed));
  };
  for (const [batchId, relayed] of [[batchD, false], [batchR, true]] as const) {
    await call(relayed, distributor, iface.encodeFunctionData("unpack", [batchId, [cases(0, 3)]]));
    await pick(batchId, relayed, [units(98), units(202)], distributor2);
  }
  result.pick = {
    direct: await pick(batchD, false, [units(99), units(150), units(201)], pharmacy2),
    relayed: await pick(batchR, true, [units(99), units(150), units(201)], pharmacy2),
  };
  // Three picks spread over three chunks (cases 7, 8 and 9), for the record.
  for (const [batchId, relayed] of [[batchD, false], [batchR, true]] as const) {
    await call(relayed, distributor, iface.encodeFunctionData("unpack", [batchId, [cases(7, 3)]]));
  }
  result.pickSpread = {
    direct: await pick(batchD, false, [units(705), units(805), units(905)], pharmacy2),
    relayed: await pick(batchR, true, [units(705), units(805), units(905)], pharmacy2),
  };

  // Dispensing packs the pharmacy holds out of their case: units 0 and 1 (the depth-20 proofs),
  // picked from case 0. Unit 0 writes a fresh record slot (units 0–3); unit 1 the same slot.
  for (const [batchId, relayed] of [[batchD, false], [batchR, true]] as const) {
    const s = await shipVia(sys, distributor, batchId, [units(0, 2)], pharmacy, relayed);
    await acceptVia(sys, pharmacy, s, relayed);
  }
  const dispense = async (batchId: bigint, unit: number, relayed: boolean) =>
    call(relayed, pharmacy, iface.encodeFunctionData("dispense", [batchId, unit, tree.serials[unit], tree.proofs[unit]]));
  result.dispenseFirstBit = { direct: await dispense(batchD, 0, false), relayed: await dispense(batchR, 0, true) };
  result.dispenseLaterBit = { direct: await dispense(batchD, 1, false), relayed: await dispense(batchR, 1, true) };

  const rejectOnce = async (batchId: bigint, relayed: boolean) => {
    const s = await shipVia(sys, producer, batchId, [pallets(3)], distributor, relayed);
    return call(relayed, distributor, iface.encodeFunctionData("rejectShipment", [s.shipmentId, s.shipment, 1]));
  };
  result.rejectShipment = { direct: await rejectOnce(batchD, false), relayed: await rejectOnce(batchR, true) };

  const reason = ethers.id("suspect");
  await both(
    "quarantine",
    () => gasOf(batchToken.connect(regulator).quarantine(batchD, reason)),
    async () => (await relay(sys, regulator, batchToken, iface.encodeFunctionData("quarantine", [batchR, reason]), relayer)).gas,
  );
  await both(
    "recall",
    () => gasOf(batchToken.connect(regulator).recall(batchD, reason)),
    async () => (await relay(sys, regulator, batchToken, iface.encodeFunctionData("recall", [batchR, reason]), relayer)).gas,
  );

  // Admission: propose + approve + execute, each by a governor (threshold 2).
  const [extraD, extraR] = (await ethers.getSigners()).slice(15, 17);
  const admission = async (account: HardhatEthersSigner, stem: number, relayed: boolean) => {
    const action = admitAction(consortium, { signer: account, role: Role.Pharmacy, gln: gln(stem), jurisdiction: "DE", licenceExpiry: FAR_LICENCE_EXPIRY });
    const by = async (who: HardhatEthersSigner, data: string) =>
      relayed ? (await relay(sys, who, consortium, data, relayer)).gas : gasOf(who.sendTransaction({ to: await consortium.getAddress(), data }));
    const propose = await by(governors[0], consortium.interface.encodeFunctionData("propose", [await consortium.getAddress(), action]));
    const id = await consortium.proposalCount();
    const approve = await by(governors[1], consortium.interface.encodeFunctionData("approve", [id]));
    const execute = await by(governors[2], consortium.interface.encodeFunctionData("execute", [id]));
    return propose + approve + execute;
  };
  result.admission = { direct: await admission(extraD, 950600019900, false), relayed: await admission(extraR, 950600019901, true) };

  // Baseline: a plain OpenZeppelin ERC-1155 safeTransferFrom to a new holder, behind the same forwarder.
  const baseline = await new BaselineERC1155__factory(sys.deployer).deploy(await forwarder.getAddress());
  await (await baseline.mint(producer.address, 1, 1000)).wait();
  const [holderD, holderR] = (await ethers.getSigners()).slice(17, 19);
  const transfer = (to: string) => baseline.interface.encodeFunctionData("safeTransferFrom", [producer.address, to, 1, 10, "0x"]);
  result.baselineTransfer = {
    direct: await gasOf(baseline.connect(producer).safeTransferFrom(producer.address, holderD.address, 1, 10, "0x")),
    relayed: (await relay(sys, producer, baseline, transfer(holderR.address), relayer)).gas,
  };

  const base = result.baselineTransfer.relayed;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  const ratios = {
    handoverRelayed: round((result.shipCase.relayed + result.acceptCase.relayed) / base),
    handoverPalletRelayed: round(result.handoverPallet.relayed / base),
    handoverTenCasesRelayed: round(result.handoverTenCases.relayed / base),
    pickRelayed: round(result.pick.relayed / base),
    pickSpreadRelayed: round(result.pickSpread.relayed / base),
    dispenseRelayed: round(result.dispenseLaterBit.relayed / base),
    dispenseRelayedFirstBit: round(result.dispenseFirstBit.relayed / base),
  };
  return { gas: result, ratios };
}

async function shipVia(sys: System, from: HardhatEthersSigner, batchId: bigint, items: Item[], to: HardhatEthersSigner, relayed: boolean) {
  const ref = ethers.id("despatch");
  const b = await sys.batchToken.batch(batchId);
  const layout = { units: Number(b.serialCount), unitsPerCase: Number(b.unitsPerCase), casesPerPallet: Number(b.casesPerPallet) };
  const quantity = quantityOf(layout, items);
  if (relayed) {
    const data = sys.batchToken.interface.encodeFunctionData("ship", [batchId, to.address, quantity, items, ref]);
    const { gas, hash } = await relay(sys, from, sys.batchToken, data, sys.relayer);
    return { gas, ...(await shipmentFrom(sys.batchToken, hash)) };
  }
  const tx = await sys.batchToken.connect(from).ship(batchId, to.address, quantity, items, ref);
  const gas = Number((await tx.wait())!.gasUsed);
  return { gas, ...(await shipmentFrom(sys.batchToken, tx.hash)) };
}

async function acceptVia(sys: System, receiver: HardhatEthersSigner, s: Awaited<ReturnType<typeof shipmentFrom>>, relayed: boolean) {
  if (relayed) {
    const data = sys.batchToken.interface.encodeFunctionData("acceptShipment", [s.shipmentId, s.shipment]);
    return (await relay(sys, receiver, sys.batchToken, data, sys.relayer)).gas;
  }
  return gasOf(sys.batchToken.connect(receiver).acceptShipment(s.shipmentId, s.shipment));
}

describe("gas snapshot", function () {
  before(function () {
    // solidity-coverage instruments the bytecode and forces a gas price: its numbers mean nothing.
    if ((hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING) this.skip();
  });

  it("matches the committed test/gas-snapshot.json and meets the bars", async function () {
    const measured = await measure();
    const snapshot = {
      compiler: { solc: hre.config.solidity.compilers[0].version, optimizer: hre.config.solidity.compilers[0].settings.optimizer },
      proofDepth: PROOF_DEPTH,
      bars: BARS,
      aims: AIMS,
      overBar: OVER_BAR,
      ...measured,
    };
    if (UPDATE) {
      fs.writeFileSync(SNAPSHOT, JSON.stringify(snapshot, null, 2) + "\n");
      console.table(Object.fromEntries(Object.entries(measured.gas).map(([k, v]) => [k, { ...v, extra: v.relayed - v.direct }])));
      console.table(measured.ratios);
    } else {
      expect(fs.existsSync(SNAPSHOT), "test/gas-snapshot.json is missing: run `npm run gas`").to.equal(true);
      const committed = JSON.parse(fs.readFileSync(SNAPSHOT, "utf8"));
      expect(snapshot, "test/gas-snapshot.json is stale: run `npm run gas` and commit the file").to.deep.equal(committed);
    }
    for (const [key, bar] of Object.entries(BARS)) {
      const over = OVER_BAR[key as keyof typeof BARS];
      const limit = over ? over.heldTo : bar;
      expect(measured.ratios[key as keyof typeof BARS], `${key} (relayed, × the relayed ERC-1155 baseline)${over ? `; over its bar ${bar} because ${over.why}` : ""}`).to.be.at.most(limit);
    }
  });
});
