import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { BaseContract, ContractTransactionResponse, LogDescription } from "ethers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { ConsortiumForwarder__factory, Consortium__factory } from "../../typechain-types";
import {
  CHARTER_HASH,
  GTIN,
  LICENCE_HASH,
  Role,
  deploySystemFixture,
  deliver,
  gln,
  mintBatch,
  ship,
  today,
} from "../fixtures/system";
import {
  FORWARDER_NAME,
  FORWARDER_VERSION,
  buildRequest,
  forwarderDomain,
  recoveredSigner,
  signRequest,
  signedRequest,
  simulateForwardedCall,
  withSignature,
  type ForwardRequestData,
} from "../fixtures/forwarder";

const REFERENCE = ethers.id("despatch-advice");
const REASON = ethers.id("relayed reason");
const EVIDENCE = ethers.id("police report");

/** The system with a serialised batch: producer holds 50, distributor 40, pharmacy 10. */
async function relayedFixture() {
  const sys = await deploySystemFixture();
  const batch = await mintBatch(sys, { lot: "RELAY-A", units: 100 });
  await deliver(sys, sys.producer, batch.batchId, 50, sys.distributor);
  await deliver(sys, sys.distributor, batch.batchId, 10, sys.pharmacy);
  return { ...sys, batch };
}
type Sys = Awaited<ReturnType<typeof relayedFixture>>;

function newBatchInput(day: number, lot: string) {
  return {
    gtin: BigInt(GTIN),
    lot,
    expiryDay: day + 200,
    quantity: 25n,
    serialsRoot: ethers.ZeroHash,
    serialCount: 0,
    documentHash: ethers.id(`CoA ${lot}`),
  };
}

function unitLeaf(unitIndex: number, serial: string): string {
  return ethers.keccak256(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["uint256", "string"], [unitIndex, serial])));
}

/** Events of `contract` in the receipt of `tx`. */
async function eventsOf(tx: ContractTransactionResponse, contract: BaseContract, name: string): Promise<LogDescription[]> {
  const receipt = (await tx.wait())!;
  const address = await contract.getAddress();
  return receipt.logs
    .filter((log) => log.address === address)
    .map((log) => contract.interface.parseLog(log))
    .filter((parsed): parsed is LogDescription => parsed?.name === name);
}

/** Asserts no log of the transaction mentions `account` in a topic or in its data. */
async function expectNotNamed(tx: ContractTransactionResponse, account: string): Promise<void> {
  const receipt = (await tx.wait())!;
  const needle = account.slice(2).toLowerCase();
  for (const log of receipt.logs) {
    expect([...log.topics, log.data].join("").toLowerCase()).to.not.include(needle);
  }
}

// ─── Member actions, relayed ───────────────────────────────────────────────────────────────────

interface RelayedAction {
  /** Completes "relays … ". */
  readonly what: string;
  readonly signer: (s: Sys) => HardhatEthersSigner;
  readonly target: (s: Sys) => BaseContract;
  /** Sets up what the action needs (directly, not relayed) and returns its calldata and the expected event. */
  readonly prepare: (s: Sys) => Promise<{ data: string; event: string; args: unknown[] }>;
}

const RELAYED_ACTIONS: readonly RelayedAction[] = [
  {
    what: "a Producer's mint",
    signer: (s) => s.producer,
    target: (s) => s.batchToken,
    prepare: async (s) => {
      const input = newBatchInput(await today(), "RELAY-MINT");
      return {
        data: s.batchToken.interface.encodeFunctionData("mintBatch", [input]),
        event: "BatchMinted",
        args: [
          (await s.batchToken.batchCount()) + 1n,
          s.producer.address,
          input.gtin,
          input.lot,
          input.expiryDay,
          input.quantity,
          input.serialsRoot,
          input.serialCount,
          input.documentHash,
        ],
      };
    },
  },
  {
    what: "a Producer's shipment to a Distributor",
    signer: (s) => s.producer,
    target: (s) => s.batchToken,
    prepare: async (s) => ({
      data: s.batchToken.interface.encodeFunctionData("ship", [s.batch.batchId, 5, s.distributor.address, REFERENCE]),
      event: "ShipmentCreated",
      args: [
        s.batch.batchId,
        s.producer.address,
        s.distributor.address,
        (await s.batchToken.shipmentCount()) + 1n,
        5n,
        false,
        REFERENCE,
      ],
    }),
  },
  {
    what: "a Distributor's acceptance of a shipment",
    signer: (s) => s.distributor,
    target: (s) => s.batchToken,
    prepare: async (s) => {
      const { shipmentId, shipment } = await ship(s, s.producer, s.batch.batchId, 5, s.distributor);
      return {
        data: s.batchToken.interface.encodeFunctionData("acceptShipment", [shipmentId, shipment]),
        event: "ShipmentAccepted",
        args: [s.batch.batchId, s.producer.address, s.distributor.address, shipmentId, 5n],
      };
    },
  },
  {
    what: "a Distributor's rejection of a shipment",
    signer: (s) => s.distributor,
    target: (s) => s.batchToken,
    prepare: async (s) => {
      const { shipmentId, shipment } = await ship(s, s.producer, s.batch.batchId, 5, s.distributor);
      return {
        data: s.batchToken.interface.encodeFunctionData("rejectShipment", [shipmentId, shipment, 4]),
        event: "ShipmentRejected",
        args: [s.batch.batchId, s.producer.address, s.distributor.address, shipmentId, 5n, 4 /* TemperatureExcursion */],
      };
    },
  },
  {
    what: "a Producer's cancellation of its shipment",
    signer: (s) => s.producer,
    target: (s) => s.batchToken,
    prepare: async (s) => {
      const { shipmentId, shipment } = await ship(s, s.producer, s.batch.batchId, 5, s.distributor);
      return {
        data: s.batchToken.interface.encodeFunctionData("cancelShipment", [shipmentId, shipment]),
        event: "ShipmentCancelled",
        args: [s.batch.batchId, s.producer.address, s.distributor.address, shipmentId, 5n],
      };
    },
  },
  {
    what: "a Pharmacy's dispensing of a unit",
    signer: (s) => s.pharmacy,
    target: (s) => s.batchToken,
    prepare: async (s) => ({
      data: s.batchToken.interface.encodeFunctionData("dispense", [
        s.batch.batchId,
        3,
        s.batch.serials[3],
        s.batch.proofOf(3),
      ]),
      event: "UnitDispensed",
      args: [s.batch.batchId, s.pharmacy.address, 3n, unitLeaf(3, s.batch.serials[3])],
    }),
  },
  {
    what: "a Distributor's write-off",
    signer: (s) => s.distributor,
    target: (s) => s.batchToken,
    prepare: async (s) => ({
      data: s.batchToken.interface.encodeFunctionData("writeOff", [s.batch.batchId, 2, 1 /* Stolen */, EVIDENCE]),
      event: "UnitsWrittenOff",
      args: [s.batch.batchId, s.distributor.address, 1, 2n, EVIDENCE],
    }),
  },
  {
    what: "a Regulator's quarantine",
    signer: (s) => s.regulator,
    target: (s) => s.batchToken,
    prepare: async (s) => ({
      data: s.batchToken.interface.encodeFunctionData("quarantine", [s.batch.batchId, REASON]),
      event: "BatchQuarantined",
      args: [s.batch.batchId, s.regulator.address, REASON],
    }),
  },
  {
    what: "a Regulator's lifting of a quarantine",
    signer: (s) => s.regulator,
    target: (s) => s.batchToken,
    prepare: async (s) => {
      await (await s.batchToken.connect(s.foreignRegulator).quarantine(s.batch.batchId, REASON)).wait();
      return {
        data: s.batchToken.interface.encodeFunctionData("liftQuarantine", [s.batch.batchId, REASON]),
        event: "BatchQuarantineLifted",
        args: [s.batch.batchId, s.regulator.address, REASON],
      };
    },
  },
  {
    what: "a Regulator's recall",
    signer: (s) => s.regulator,
    target: (s) => s.batchToken,
    prepare: async (s) => ({
      data: s.batchToken.interface.encodeFunctionData("recall", [s.batch.batchId, REASON]),
      event: "BatchRecalled",
      args: [s.batch.batchId, s.regulator.address, REASON],
    }),
  },
  {
    what: "a Regulator's emergency suspension",
    signer: (s) => s.regulator,
    target: (s) => s.consortium,
    prepare: async (s) => ({
      data: s.consortium.interface.encodeFunctionData("emergencySuspend", [s.distributor2.address, REASON]),
      event: "MemberSuspended",
      args: [s.distributor2.address, s.regulator.address, REASON],
    }),
  },
];

/** A request `from` signer to `to` with `data`, relayed by the fixture's relayer. */
async function relay(s: Sys, signer: HardhatEthersSigner, to: BaseContract, data: string) {
  const request = await signedRequest(s.forwarder, signer, to, data);
  return s.forwarder.connect(s.relayer).execute(request);
}

describe("Relayed calls through the ConsortiumForwarder", function () {
  it("signs under the EIP-712 domain the forwarder publishes", async function () {
    const s = await loadFixture(relayedFixture);
    const published = await s.forwarder.eip712Domain();
    const domain = await forwarderDomain(s.forwarder);
    expect(published.name).to.equal(FORWARDER_NAME);
    expect(published.version).to.equal(FORWARDER_VERSION);
    expect(published.chainId).to.equal(domain.chainId);
    expect(published.verifyingContract).to.equal(domain.verifyingContract);
    expect(await s.batchToken.isTrustedForwarder(await s.forwarder.getAddress())).to.equal(true);
    expect(await s.consortium.isTrustedForwarder(await s.forwarder.getAddress())).to.equal(true);
  });

  describe("a member's action submitted by a relayer is the signer's own", function () {
    for (const action of RELAYED_ACTIONS) {
      it(`relays ${action.what} and names the signer, never the relayer, in the events`, async function () {
        const s = await loadFixture(relayedFixture);
        const signer = action.signer(s);
        const target = action.target(s);
        const { data, event, args } = await action.prepare(s);
        const nonce = await s.forwarder.nonces(signer.address);

        const tx = await relay(s, signer, target, data);

        await expect(tx).to.emit(target, event).withArgs(...args);
        await expect(tx).to.emit(s.forwarder, "ExecutedForwardRequest").withArgs(signer.address, nonce, true);
        expect(tx.from).to.equal(s.relayer.address);
        await expectNotNamed(tx, s.relayer.address);
        expect(await s.forwarder.nonces(signer.address)).to.equal(nonce + 1n);
      });
    }

    it("takes a relayed shipment from the signer's units and records the signer as its sender", async function () {
      const s = await loadFixture(relayedFixture);
      const data = s.batchToken.interface.encodeFunctionData("ship", [s.batch.batchId, 7, s.distributor.address, REFERENCE]);
      await relay(s, s.producer, s.batchToken, data);
      expect(await s.batchToken.balanceOf(s.producer.address, s.batch.batchId)).to.equal(43n);
      const pending = { batchId: s.batch.batchId, sender: s.producer.address, receiver: s.distributor.address, quantity: 7n, isReturn: false };
      expect(await s.batchToken.isPendingShipment(await s.batchToken.shipmentCount(), pending)).to.equal(true);
      expect(await s.batchToken.balanceOf(s.relayer.address, s.batch.batchId)).to.equal(0n);
    });

    it("lets governors propose, approve and execute a governance action through the relayer", async function () {
      const s = await loadFixture(relayedFixture);
      const [g1, g2, g3] = s.governors;
      const expiry = BigInt((await time.latest()) + 365 * 24 * 3600);
      const action = s.consortium.interface.encodeFunctionData("admitMember", [
        s.outsider.address,
        Role.Pharmacy,
        gln(950600019999),
        ethers.toUtf8Bytes("DE"),
        LICENCE_HASH,
        expiry,
      ]);
      const id = (await s.consortium.proposalCount()) + 1n;

      const proposed = await relay(s, g1, s.consortium, s.consortium.interface.encodeFunctionData("propose", [action]));
      await expect(proposed)
        .to.emit(s.consortium, "ProposalCreated")
        .withArgs(id, g1.address, action.slice(0, 10), action, anyValue);
      await expect(proposed).to.emit(s.consortium, "ProposalApproved").withArgs(id, g1.address);

      const approved = await relay(s, g2, s.consortium, s.consortium.interface.encodeFunctionData("approve", [id]));
      await expect(approved).to.emit(s.consortium, "ProposalApproved").withArgs(id, g2.address);

      const executed = await relay(s, g3, s.consortium, s.consortium.interface.encodeFunctionData("execute", [id]));
      await expect(executed).to.emit(s.consortium, "ProposalExecuted").withArgs(id, g3.address);
      await expect(executed)
        .to.emit(s.consortium, "MemberAdmitted")
        .withArgs(s.outsider.address, Role.Pharmacy, gln(950600019999), "0x4445", LICENCE_HASH, expiry);

      for (const tx of [proposed, approved, executed]) await expectNotNamed(tx, s.relayer.address);
      expect(await s.consortium.hasApproved(id, g1.address)).to.equal(true);
      expect(await s.consortium.hasApproved(id, g2.address)).to.equal(true);
      expect(await s.consortium.activeRole(s.outsider.address)).to.equal(Role.Pharmacy);
    });

    it("runs several members' requests, two from the same signer with consecutive nonces, in one executeBatch", async function () {
      const s = await loadFixture(relayedFixture);
      const bt = s.batchToken.interface;
      const input = newBatchInput(await today(), "RELAY-BATCH");
      const mint = await signedRequest(s.forwarder, s.producer, s.batchToken, bt.encodeFunctionData("mintBatch", [input]));
      const shipData = bt.encodeFunctionData("ship", [s.batch.batchId, 3, s.distributor.address, REFERENCE]);
      const shipped = await signedRequest(s.forwarder, s.producer, s.batchToken, shipData, { nonce: 1n });
      const quarantine = await signedRequest(
        s.forwarder,
        s.regulator,
        s.batchToken,
        bt.encodeFunctionData("quarantine", [s.batch.batchId, REASON]),
      );
      const newId = (await s.batchToken.batchCount()) + 1n;

      const tx = await s.forwarder.connect(s.relayer).executeBatch([mint, shipped, quarantine], ethers.ZeroAddress);

      await expect(tx)
        .to.emit(s.batchToken, "BatchMinted")
        .withArgs(newId, s.producer.address, input.gtin, input.lot, input.expiryDay, input.quantity, anyValue, 0, anyValue);
      await expect(tx)
        .to.emit(s.batchToken, "ShipmentCreated")
        .withArgs(s.batch.batchId, s.producer.address, s.distributor.address, anyValue, 3n, false, REFERENCE);
      await expect(tx).to.emit(s.batchToken, "BatchQuarantined").withArgs(s.batch.batchId, s.regulator.address, REASON);
      const executed = await eventsOf(tx, s.forwarder, "ExecutedForwardRequest");
      expect(executed.map((e) => [e.args.signer, e.args.nonce, e.args.success])).to.deep.equal([
        [s.producer.address, 0n, true],
        [s.producer.address, 1n, true],
        [s.regulator.address, 0n, true],
      ]);
      await expectNotNamed(tx, s.relayer.address);
    });
  });

  describe("requests the forwarder refuses", function () {
    /** A valid mint request data for the producer. */
    async function mintData(s: Sys, lot = "RELAY-REFUSED") {
      return s.batchToken.interface.encodeFunctionData("mintBatch", [newBatchInput(await today(), lot)]);
    }

    it("refuses a signature of random bytes with ERC2771ForwarderInvalidSigner", async function () {
      const s = await loadFixture(relayedFixture);
      const request = await buildRequest(s.forwarder, s.producer.address, s.batchToken, await mintData(s));
      const garbage65 = withSignature(request, ethers.concat([ethers.id("forged r"), ethers.id("forged s"), "0x00"]));
      const garbageShort = withSignature(request, ethers.hexlify(ethers.toUtf8Bytes("not a sig")));
      for (const forged of [garbage65, garbageShort]) {
        expect(await s.forwarder.verify(forged)).to.equal(false);
        await expect(s.forwarder.connect(s.relayer).execute(forged))
          .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
          .withArgs(ethers.ZeroAddress, s.producer.address);
      }
    });

    it("refuses a signature over other data with ERC2771ForwarderInvalidSigner naming the key it recovers", async function () {
      const s = await loadFixture(relayedFixture);
      const signed = await signedRequest(s.forwarder, s.producer, s.batchToken, await mintData(s, "RELAY-SIGNED"));
      const tampered: ForwardRequestData = { ...signed, data: await mintData(s, "RELAY-TAMPERED") };
      const recovered = await recoveredSigner(s.forwarder, tampered);
      expect(recovered).to.not.equal(s.producer.address);
      expect(await s.forwarder.verify(tampered)).to.equal(false);
      await expect(s.forwarder.connect(s.relayer).execute(tampered))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(recovered, s.producer.address);
    });

    it("refuses a request signed by another account than its `from` with ERC2771ForwarderInvalidSigner", async function () {
      const s = await loadFixture(relayedFixture);
      // The distributor tries to mint as the producer.
      const request = await buildRequest(s.forwarder, s.producer.address, s.batchToken, await mintData(s));
      const signedByOther = await signRequest(s.forwarder, s.distributor, request);
      await expect(s.forwarder.connect(s.relayer).execute(signedByOther))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(s.distributor.address, s.producer.address);
      expect(await s.batchToken.batchCount()).to.equal(1n);
    });

    it("refuses a replayed request: its nonce is consumed, so it recovers to another key (ERC2771ForwarderInvalidSigner)", async function () {
      const s = await loadFixture(relayedFixture);
      const data = s.batchToken.interface.encodeFunctionData("writeOff", [s.batch.batchId, 1, 0, EVIDENCE]);
      const request = await signedRequest(s.forwarder, s.distributor, s.batchToken, data);
      await expect(s.forwarder.connect(s.relayer).execute(request))
        .to.emit(s.forwarder, "ExecutedForwardRequest")
        .withArgs(s.distributor.address, 0n, true);
      expect(await s.forwarder.nonces(s.distributor.address)).to.equal(1n);

      const recoveredNow = await recoveredSigner(s.forwarder, request);
      expect(recoveredNow).to.not.equal(s.distributor.address);
      expect(await s.forwarder.verify(request)).to.equal(false);
      await expect(s.forwarder.connect(s.relayer).execute(request))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(recoveredNow, s.distributor.address);
      expect(await s.batchToken.balanceOf(s.distributor.address, s.batch.batchId)).to.equal(39n);
    });

    it("refuses a request past its deadline with ERC2771ForwarderExpiredRequest", async function () {
      const s = await loadFixture(relayedFixture);
      const deadline = BigInt(await time.latest()) + 60n;
      const request = await signedRequest(s.forwarder, s.producer, s.batchToken, await mintData(s), { deadline });
      expect(await s.forwarder.verify(request)).to.equal(true);
      await time.increaseTo(deadline); // the next block is one second past the deadline
      await expect(s.forwarder.connect(s.relayer).execute(request))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderExpiredRequest")
        .withArgs(deadline);
    });

    it("refuses a request signed for another chain's domain with ERC2771ForwarderInvalidSigner", async function () {
      const s = await loadFixture(relayedFixture);
      const request = await buildRequest(s.forwarder, s.producer.address, s.batchToken, await mintData(s));
      const otherChain = await signRequest(s.forwarder, s.producer, request, await forwarderDomain(s.forwarder, { chainId: 1n }));
      const recovered = await recoveredSigner(s.forwarder, otherChain);
      expect(recovered).to.not.equal(s.producer.address);
      await expect(s.forwarder.connect(s.relayer).execute(otherChain))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(recovered, s.producer.address);
    });

    it("refuses a request signed for another forwarder's domain with ERC2771ForwarderInvalidSigner", async function () {
      const s = await loadFixture(relayedFixture);
      const otherForwarder = await new ConsortiumForwarder__factory(s.deployer).deploy();
      const request = await buildRequest(s.forwarder, s.producer.address, s.batchToken, await mintData(s));
      const signed = await signRequest(s.forwarder, s.producer, request, await forwarderDomain(otherForwarder));
      await expect(s.forwarder.connect(s.relayer).execute(signed))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(await recoveredSigner(s.forwarder, signed), s.producer.address);
    });

    it("refuses, through a second forwarder, a target that trusts only the consortium's (ERC2771UntrustfulTarget)", async function () {
      const s = await loadFixture(relayedFixture);
      const otherForwarder = await new ConsortiumForwarder__factory(s.deployer).deploy();
      const request = await signedRequest(otherForwarder, s.producer, s.batchToken, await mintData(s));
      await expect(otherForwarder.connect(s.relayer).execute(request))
        .to.be.revertedWithCustomError(otherForwarder, "ERC2771UntrustfulTarget")
        .withArgs(await s.batchToken.getAddress(), await otherForwarder.getAddress());
    });

    it("refuses, through the consortium's forwarder, a target that trusts another forwarder (ERC2771UntrustfulTarget)", async function () {
      const s = await loadFixture(relayedFixture);
      const otherForwarder = await new ConsortiumForwarder__factory(s.deployer).deploy();
      const otherConsortium = await new Consortium__factory(s.deployer).deploy(
        await otherForwarder.getAddress(),
        s.governors.map((g) => g.address),
        2,
        CHARTER_HASH,
        7 * 24 * 3600,
      );
      const data = otherConsortium.interface.encodeFunctionData("propose", [
        otherConsortium.interface.encodeFunctionData("setCharter", [ethers.id("charter v2")]),
      ]);
      const request = await signedRequest(s.forwarder, s.governors[0], otherConsortium, data);
      await expect(s.forwarder.connect(s.relayer).execute(request))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771UntrustfulTarget")
        .withArgs(await otherConsortium.getAddress(), await s.forwarder.getAddress());
    });

    it("still executes the valid requests of an executeBatch with a refund receiver when one is invalid", async function () {
      const s = await loadFixture(relayedFixture);
      const bt = s.batchToken.interface;
      const mint = await signedRequest(s.forwarder, s.producer, s.batchToken, await mintData(s));
      // Invalid: claims to come from the distributor, signed by the pharmacy.
      const invalid = await signRequest(
        s.forwarder,
        s.pharmacy,
        await buildRequest(
          s.forwarder,
          s.distributor.address,
          s.batchToken,
          bt.encodeFunctionData("writeOff", [s.batch.batchId, 40, 0, EVIDENCE]),
        ),
      );
      const quarantineData = bt.encodeFunctionData("quarantine", [s.batch.batchId, REASON]);
      const quarantine = await signedRequest(s.forwarder, s.regulator, s.batchToken, quarantineData);
      const requests = [mint, invalid, quarantine];

      // Without a refund receiver every request must be valid: the whole batch reverts.
      await expect(s.forwarder.connect(s.relayer).executeBatch(requests, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(s.pharmacy.address, s.distributor.address);

      // With one, the invalid request is skipped and the others run.
      const tx = await s.forwarder.connect(s.relayer).executeBatch(requests, s.relayer.address);
      const executed = await eventsOf(tx, s.forwarder, "ExecutedForwardRequest");
      expect(executed.map((e) => [e.args.signer, e.args.success])).to.deep.equal([
        [s.producer.address, true],
        [s.regulator.address, true],
      ]);
      await expect(tx).to.emit(s.batchToken, "BatchQuarantined").withArgs(s.batch.batchId, s.regulator.address, REASON);
      expect(await s.batchToken.batchCount()).to.equal(2n);
      expect(await s.forwarder.nonces(s.distributor.address)).to.equal(0n);
      expect(await s.batchToken.balanceOf(s.distributor.address, s.batch.batchId)).to.equal(40n);
    });
  });

  describe("a refused relayed call by the target contract", function () {
    interface TargetRefusal {
      readonly what: string;
      readonly signer: (s: Sys) => HardhatEthersSigner;
      readonly target: (s: Sys) => BaseContract;
      readonly data: (s: Sys) => Promise<string>;
      readonly error: string;
      readonly args: (s: Sys) => unknown[];
    }
    const REFUSALS: readonly TargetRefusal[] = [
      {
        what: "a non-member's mint",
        signer: (s) => s.outsider,
        target: (s) => s.batchToken,
        data: async (s) => s.batchToken.interface.encodeFunctionData("mintBatch", [newBatchInput(await today(), "RELAY-OUT")]),
        error: "BatchTokenUnauthorizedMember",
        args: (s) => [s.outsider.address, Role.None],
      },
      {
        what: "an Auditor's shipment",
        signer: (s) => s.auditor,
        target: (s) => s.batchToken,
        data: async (s) => s.batchToken.interface.encodeFunctionData("ship", [s.batch.batchId, 1, s.distributor.address, REFERENCE]),
        error: "BatchTokenUnauthorizedMember",
        args: (s) => [s.auditor.address, Role.Auditor],
      },
      {
        what: "a Distributor's quarantine",
        signer: (s) => s.distributor,
        target: (s) => s.batchToken,
        data: async (s) => s.batchToken.interface.encodeFunctionData("quarantine", [s.batch.batchId, REASON]),
        error: "BatchTokenUnauthorizedMember",
        args: (s) => [s.distributor.address, Role.Distributor],
      },
      {
        what: "a non-member's emergency suspension",
        signer: (s) => s.outsider,
        target: (s) => s.consortium,
        data: async (s) => s.consortium.interface.encodeFunctionData("emergencySuspend", [s.distributor2.address, REASON]),
        error: "ConsortiumNotActiveRegulator",
        args: (s) => [s.outsider.address],
      },
      {
        what: "a member's proposal",
        signer: (s) => s.producer,
        target: (s) => s.consortium,
        data: async (s) =>
          s.consortium.interface.encodeFunctionData("propose", [
            s.consortium.interface.encodeFunctionData("setCharter", [ethers.id("charter v2")]),
          ]),
        error: "ConsortiumNotGovernor",
        args: (s) => [s.producer.address],
      },
    ];

    for (const refusal of REFUSALS) {
      it(`refuses ${refusal.what} with ${refusal.error} naming the signer (execute: FailedCall; executeBatch: success = false)`, async function () {
        const s = await loadFixture(relayedFixture);
        const signer = refusal.signer(s);
        const target = refusal.target(s);
        const request = await signedRequest(s.forwarder, signer, target, await refusal.data(s));

        // The request itself is valid; the target refuses the signer.
        expect(await s.forwarder.verify(request)).to.equal(true);
        // The contract's own error, for exactly the call the forwarder makes (data ++ from, sent by the forwarder).
        await expect(simulateForwardedCall(s.forwarder, request))
          .to.be.revertedWithCustomError(target, refusal.error)
          .withArgs(...refusal.args(s));
        // OpenZeppelin's forwarder does not bubble the target's revert data up: `execute` reverts with FailedCall().
        await expect(s.forwarder.connect(s.relayer).execute(request)).to.be.revertedWithCustomError(s.forwarder, "FailedCall");
        expect(await s.forwarder.nonces(signer.address)).to.equal(0n);
        // In a batch the failed call does not revert the others; it is reported and its nonce is spent.
        await expect(s.forwarder.connect(s.relayer).executeBatch([request], ethers.ZeroAddress))
          .to.emit(s.forwarder, "ExecutedForwardRequest")
          .withArgs(signer.address, 0n, false);
        expect(await s.forwarder.nonces(signer.address)).to.equal(1n);
      });
    }
  });

  describe("governance cannot be faked through the forwarder", function () {
    for (const who of ["producer", "governor"] as const) {
      it(`refuses a ${who}'s relayed call to admitMember with ConsortiumOnlyGovernance naming the signer`, async function () {
        const s = await loadFixture(relayedFixture);
        const signer = who === "producer" ? s.producer : s.governors[0];
        const data = s.consortium.interface.encodeFunctionData("admitMember", [
          s.outsider.address,
          Role.Producer,
          gln(950600019998),
          ethers.toUtf8Bytes("DE"),
          LICENCE_HASH,
          BigInt((await time.latest()) + 365 * 24 * 3600),
        ]);
        const request = await signedRequest(s.forwarder, signer, s.consortium, data);
        await expect(simulateForwardedCall(s.forwarder, request))
          .to.be.revertedWithCustomError(s.consortium, "ConsortiumOnlyGovernance")
          .withArgs(signer.address);
        await expect(s.forwarder.connect(s.relayer).execute(request)).to.be.revertedWithCustomError(s.forwarder, "FailedCall");
        await (await s.forwarder.connect(s.relayer).executeBatch([request], s.relayer.address)).wait();
        expect(await s.consortium.isActiveMember(s.outsider.address)).to.equal(false);
      });
    }

    it("refuses a request that names the Consortium itself as `from`: nobody can sign for it", async function () {
      const s = await loadFixture(relayedFixture);
      const data = s.consortium.interface.encodeFunctionData("setThreshold", [3]);
      const request = await buildRequest(s.forwarder, await s.consortium.getAddress(), s.consortium, data);
      const signed = await signRequest(s.forwarder, s.governors[0], request);
      await expect(s.forwarder.connect(s.relayer).execute(signed))
        .to.be.revertedWithCustomError(s.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(s.governors[0].address, await s.consortium.getAddress());
      // And even a forwarded call "from" the consortium is not a self-call: msg.sender is the forwarder.
      await expect(simulateForwardedCall(s.forwarder, signed))
        .to.be.revertedWithCustomError(s.consortium, "ConsortiumOnlyGovernance")
        .withArgs(await s.consortium.getAddress());
      expect(await s.consortium.threshold()).to.equal(2n);
    });

    it("does not take an address appended to calldata as the sender when the forwarder did not send it", async function () {
      const s = await loadFixture(relayedFixture);
      const data = s.batchToken.interface.encodeFunctionData("mintBatch", [newBatchInput(await today(), "RELAY-SPOOF")]);
      await expect(s.outsider.sendTransaction({ to: await s.batchToken.getAddress(), data: ethers.concat([data, s.producer.address]) }))
        .to.be.revertedWithCustomError(s.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(s.outsider.address, Role.None);
    });
  });
});
