import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { IBatchToken } from "../../typechain-types";
import { CSET82, withCheckDigit } from "../../api/domain/gs1";
import { signedRequest } from "../fixtures/forwarder";
import {
  BatchStatus,
  GTIN,
  Role,
  Verdict,
  deliver,
  deploySystemFixture,
  govern,
  mintBatch,
  serialTree,
  ship,
  type System,
} from "../fixtures/system";

/**
 * Unit tests of BatchToken against its interface (IBatchToken): minting and its input checks,
 * every row of the custody flow table and the pairs it refuses, the pending-shipment hash,
 * regulator status, write-offs, dispensing against the serial Merkle commitment, unit verdicts
 * with their precedence, and the plain ERC-1155 surface that custody replaces.
 */

const DAY = 86_400;
const REF = ethers.id("despatch-advice");
const REASON = ethers.id("regulatory-reason");
const EVIDENCE = ethers.id("police-report");
const OTHER_GTIN = "00614141123452";
const RejectReason = {
  Unspecified: 0,
  Damaged: 1,
  WrongProduct: 2,
  WrongQuantity: 3,
  TemperatureExcursion: 4,
  SuspectProduct: 5,
  NotOrdered: 6,
} as const;
const LossReason = { Destroyed: 0, Stolen: 1 } as const;

/** The 82 characters of GS1 set 82, in byte order. */
const CSET82_CHARS = Array.from({ length: 128 }, (_, b) => String.fromCharCode(b))
  .filter((c) => CSET82.test(c))
  .join("");

type Party = "producer" | "producer2" | "distributor" | "distributor2" | "pharmacy" | "pharmacy2";

// ─── Fixtures ──────────────────────────────────────────────────────────────────────────────────

/**
 * The deployed system with the clock pinned to noon UTC of the next day, so that no test's
 * transactions straddle midnight and `today` is the day every transaction of a test sees.
 */
async function batchTokenFixture(): Promise<System> {
  const sys = await deploySystemFixture();
  const tomorrow = sys.today + 1;
  await time.increaseTo(tomorrow * DAY + DAY / 2);
  return { ...sys, today: tomorrow };
}

/**
 * One serialised batch of 100 units expiring in 30 days, spread over the chain:
 * producer 60, distributor 30, pharmacy 10.
 */
async function stockedFixture() {
  const sys = await batchTokenFixture();
  const minted = await mintBatch(sys, { expiryInDays: 30 });
  await deliver(sys, sys.producer, minted.batchId, 40, sys.distributor);
  await deliver(sys, sys.distributor, minted.batchId, 10, sys.pharmacy);
  return { ...sys, ...minted };
}

// ─── Helpers ───────────────────────────────────────────────────────────────────────────────────

interface BatchInput {
  gtin: bigint;
  lot: string;
  expiryDay: number;
  quantity: bigint;
  serialsRoot: string;
  serialCount: number;
  documentHash: string;
}

/** A valid, non-serialised batch input with `overrides`. */
function batchInput(sys: System, overrides: Partial<BatchInput> = {}): BatchInput {
  return {
    gtin: BigInt(GTIN),
    lot: "LOT-X1",
    expiryDay: sys.today + 365,
    quantity: 10n,
    serialsRoot: ethers.ZeroHash,
    serialCount: 0,
    documentHash: ethers.id("CoA LOT-X1"),
    ...overrides,
  };
}

/** Mines the next transaction at the last second of `day`. */
async function atLastSecondOf(day: number): Promise<void> {
  await time.setNextBlockTimestamp((day + 1) * DAY - 1);
}

/** Moves the clock to the first second of the day after `day` (a batch expiring on `day` is expired). */
async function after(day: number): Promise<void> {
  await time.increaseTo((day + 1) * DAY);
}

async function balance(sys: System, who: HardhatEthersSigner, batchId: bigint): Promise<bigint> {
  return sys.batchToken.balanceOf(who.address, batchId);
}

/** Ships without waiting for a receipt, for asserting a revert. */
function shipCall(sys: System, from: HardhatEthersSigner, batchId: bigint, quantity: bigint | number, to: string) {
  return sys.batchToken.connect(from).ship(batchId, quantity, to, REF);
}

async function suspendByGovernance(sys: System, who: HardhatEthersSigner): Promise<void> {
  const action = sys.consortium.interface.encodeFunctionData("suspendMember", [who.address, REASON]);
  await govern(sys.consortium, sys.governors, action);
}

async function changeRoleByGovernance(sys: System, who: HardhatEthersSigner, role: number): Promise<void> {
  const action = sys.consortium.interface.encodeFunctionData("changeRole", [who.address, role]);
  await govern(sys.consortium, sys.governors, action);
}

describe("BatchToken", function () {
  // ─── mintBatch ───────────────────────────────────────────────────────────────────────────────

  describe("mintBatch", function () {
    it("mints a serialised batch to the producer and records every attribute", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const { root } = serialTree(50, "S-");
      const input = batchInput(sys, { quantity: 50n, serialsRoot: root, serialCount: 50 });
      const tx = sys.batchToken.connect(sys.producer).mintBatch(input);

      await expect(tx)
        .to.emit(sys.batchToken, "BatchMinted")
        .withArgs(
          1n,
          sys.producer.address,
          input.gtin,
          input.lot,
          input.expiryDay,
          input.quantity,
          root,
          50,
          input.documentHash,
        )
        .and.to.emit(sys.batchToken, "TransferSingle")
        .withArgs(sys.producer.address, ethers.ZeroAddress, sys.producer.address, 1n, 50n);

      const b = await sys.batchToken.batch(1n);
      expect(b.producer).to.equal(sys.producer.address);
      expect(b.gtin).to.equal(input.gtin);
      expect(b.expiryDay).to.equal(input.expiryDay);
      expect(b.status).to.equal(BatchStatus.Active);
      expect(b.serialCount).to.equal(50n);
      expect(b.quantity).to.equal(50n);
      expect(b.serialsRoot).to.equal(root);
      expect(b.documentHash).to.equal(input.documentHash);
      expect(b.lot).to.equal(input.lot);
      expect(await sys.batchToken.batchIdOf(input.gtin, input.lot)).to.equal(1n);
      expect(await sys.batchToken.batchCount()).to.equal(1n);
      expect(await balance(sys, sys.producer, 1n)).to.equal(50n);
      expect(await sys.batchToken.isExpired(1n)).to.equal(false);
    });

    it("returns the new batch id and numbers batches from 1", async function () {
      const sys = await loadFixture(batchTokenFixture);
      expect(await sys.batchToken.batchCount()).to.equal(0n);
      expect(await sys.batchToken.connect(sys.producer).mintBatch.staticCall(batchInput(sys))).to.equal(1n);
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys));
      expect(await sys.batchToken.connect(sys.producer).mintBatch.staticCall(batchInput(sys, { lot: "LOT-X2" }))).to.equal(2n);
    });

    it("accepts a batch without serials (root and count both zero)", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys))).to.emit(sys.batchToken, "BatchMinted");
      const b = await sys.batchToken.batch(1n);
      expect(b.serialsRoot).to.equal(ethers.ZeroHash);
      expect(b.serialCount).to.equal(0n);
    });

    it("accepts a second producer's batch and records it as that producer's", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await sys.batchToken.connect(sys.producer2).mintBatch(batchInput(sys));
      expect((await sys.batchToken.batch(1n)).producer).to.equal(sys.producer2.address);
      expect(await balance(sys, sys.producer2, 1n)).to.equal(10n);
    });

    describe("GTIN", function () {
      it("refuses a GTIN with a wrong check digit", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { gtin: 9506000134353n })))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidGtin")
          .withArgs(9506000134353n);
      });

      it("refuses a number of 15 digits or more even with a valid check digit", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const tooLong = BigInt(withCheckDigit("10950600013435")); // 15 digits
        expect(tooLong >= 10n ** 14n).to.equal(true);
        await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { gtin: tooLong })))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidGtin")
          .withArgs(tooLong);
      });

      it("refuses the zero GTIN", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { gtin: 0n })))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidGtin")
          .withArgs(0n);
      });

      it("accepts the largest GTIN-14 and a GTIN-12 padded with zeros", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const largest = BigInt(withCheckDigit("9".repeat(13)));
        await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { gtin: largest }));
        await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { gtin: BigInt(OTHER_GTIN) }));
        expect((await sys.batchToken.batch(1n)).gtin).to.equal(largest);
        expect((await sys.batchToken.batch(2n)).gtin).to.equal(614141123452n);
      });
    });

    describe("lot", function () {
      it("refuses an empty lot", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "" })))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotLength")
          .withArgs(0);
      });

      it("refuses a lot of 21 characters", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "A".repeat(21) })))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotLength")
          .withArgs(21);
      });

      it("counts the length in bytes (11 two-byte characters are 22 bytes)", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "é".repeat(11) })))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotLength")
          .withArgs(22);
      });

      it("accepts lots of 1 and of 20 characters", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "7" }));
        await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "B".repeat(20) }));
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "7")).to.equal(1n);
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "B".repeat(20))).to.equal(2n);
      });

      const BAD_LOTS: [string, string, number, string][] = [
        ["a space", "LOT 1", 3, "0x20"],
        ["'#'", "#LOT1", 0, "0x23"],
        ["'@'", "LOT@1", 3, "0x40"],
        ["'~'", "LOT1~", 4, "0x7e"],
        ["'$'", "L$", 1, "0x24"],
        ["a backslash", "LOT\\1", 3, "0x5c"],
        ["a UTF-8 multibyte character (its first byte)", "LOTé1", 3, "0xc3"],
        ["a control character (group separator)", "LOT\x1d1", 3, "0x1d"],
      ];
      for (const [what, lot, position, byte] of BAD_LOTS) {
        it(`refuses a lot with ${what}, naming its position and byte`, async function () {
          const sys = await loadFixture(batchTokenFixture);
          await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot })))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotCharacter")
            .withArgs(position, byte);
        });
      }

      it("accepts every one of the 82 characters of GS1 set 82", async function () {
        const sys = await loadFixture(batchTokenFixture);
        expect(CSET82_CHARS).to.have.length(82);
        const lots: string[] = [];
        for (let i = 0; i < CSET82_CHARS.length; i += 20) lots.push(CSET82_CHARS.slice(i, i + 20));
        for (const lot of lots) await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot }));
        for (const [i, lot] of lots.entries()) {
          expect(await sys.batchToken.batchIdOf(BigInt(GTIN), lot)).to.equal(BigInt(i + 1));
          expect((await sys.batchToken.batch(BigInt(i + 1))).lot).to.equal(lot);
        }
      });
    });

    it("refuses a zero quantity", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await expect(
        sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { quantity: 0n })),
      ).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenZeroQuantity");
    });

    it("refuses an expiry day in the past, naming it and today", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { expiryDay: sys.today - 1 })))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenExpiryInPast")
        .withArgs(sys.today - 1, sys.today);
    });

    it("accepts an expiry day of today (usable through that day)", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { expiryDay: sys.today }));
      expect((await sys.batchToken.batch(1n)).expiryDay).to.equal(sys.today);
      expect(await sys.batchToken.isExpired(1n)).to.equal(false);
    });

    it("refuses a second batch with the same GTIN and lot, naming the existing batch", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "OTHER" }));
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys));
      await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { quantity: 99n })))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenDuplicateBatch")
        .withArgs(BigInt(GTIN), "LOT-X1", 2n);
    });

    it("refuses the same GTIN and lot from another producer", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys));
      await expect(sys.batchToken.connect(sys.producer2).mintBatch(batchInput(sys)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenDuplicateBatch")
        .withArgs(BigInt(GTIN), "LOT-X1", 1n);
    });

    it("accepts the same lot under another GTIN as a separate batch", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys));
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { gtin: BigInt(OTHER_GTIN) }));
      expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "LOT-X1")).to.equal(1n);
      expect(await sys.batchToken.batchIdOf(BigInt(OTHER_GTIN), "LOT-X1")).to.equal(2n);
    });

    it("treats lots as case-sensitive", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "lot-x1" }));
      await sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { lot: "LOT-X1" }));
      expect(await sys.batchToken.batchCount()).to.equal(2n);
    });

    it("refuses a serial root whose count differs from the quantity", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const { root } = serialTree(10);
      for (const serialCount of [9, 11, 0]) {
        await expect(
          sys.batchToken
            .connect(sys.producer)
            .mintBatch(batchInput(sys, { quantity: 10n, serialsRoot: root, serialCount })),
        )
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidSerialCommitment")
          .withArgs(root, serialCount, 10n);
      }
    });

    it("refuses a serial count without a serial root", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys, { quantity: 10n, serialCount: 10 })))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidSerialCommitment")
        .withArgs(ethers.ZeroHash, 10, 10n);
    });

    const NOT_PRODUCERS: [string, (s: System) => HardhatEthersSigner, number][] = [
      ["a Distributor", (s) => s.distributor, Role.Distributor],
      ["a Pharmacy", (s) => s.pharmacy, Role.Pharmacy],
      ["a Regulator", (s) => s.regulator, Role.Regulator],
      ["an Auditor", (s) => s.auditor, Role.Auditor],
      ["a non-member", (s) => s.outsider, Role.None],
    ];
    for (const [who, pick, role] of NOT_PRODUCERS) {
      it(`refuses ${who} as minter, naming its active role`, async function () {
        const sys = await loadFixture(batchTokenFixture);
        const caller = pick(sys);
        await expect(sys.batchToken.connect(caller).mintBatch(batchInput(sys)))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(caller.address, role);
      });
    }

    it("refuses a suspended producer (active role None)", async function () {
      const sys = await loadFixture(batchTokenFixture);
      await sys.consortium.connect(sys.regulator).emergencySuspend(sys.producer.address, REASON);
      await expect(sys.batchToken.connect(sys.producer).mintBatch(batchInput(sys)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.producer.address, Role.None);
    });
  });

  // ─── Custody: the flow table ─────────────────────────────────────────────────────────────────

  describe("custody flows", function () {
    const ALLOWED: { flow: string; from: Party; to: Party; isReturn: boolean }[] = [
      { flow: "a Producer to a Distributor", from: "producer", to: "distributor", isReturn: false },
      { flow: "a Distributor to another Distributor", from: "distributor", to: "distributor2", isReturn: false },
      { flow: "a Distributor to a Pharmacy", from: "distributor", to: "pharmacy", isReturn: false },
      { flow: "a Distributor to a Pharmacy of another jurisdiction", from: "distributor", to: "pharmacy2", isReturn: false },
      { flow: "a Distributor back to the batch's Producer", from: "distributor", to: "producer", isReturn: true },
      { flow: "a Pharmacy back to its Distributor", from: "pharmacy", to: "distributor", isReturn: true },
      { flow: "a Pharmacy back to another Distributor", from: "pharmacy", to: "distributor2", isReturn: true },
    ];

    for (const { flow, from, to, isReturn } of ALLOWED) {
      it(`ships and delivers from ${flow} (${isReturn ? "return" : "forward"})`, async function () {
        const sys = await loadFixture(stockedFixture);
        const sender = sys[from];
        const receiver = sys[to];
        const id = sys.batchId;
        const senderBefore = await balance(sys, sender, id);
        const receiverBefore = await balance(sys, receiver, id);
        const count = await sys.batchToken.shipmentCount();

        const tx = shipCall(sys, sender, id, 4, receiver.address);
        await expect(tx)
          .to.emit(sys.batchToken, "ShipmentCreated")
          .withArgs(id, sender.address, receiver.address, count + 1n, 4n, isReturn, REF)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(sender.address, sender.address, ethers.ZeroAddress, id, 4n);
        const { shipmentId, shipment } = await ship(sys, sender, id, 1, receiver);
        // Two shipments are now pending: 4 units (shipmentId - 1) and 1 unit (shipmentId).
        expect(shipmentId).to.equal(count + 2n);
        expect(await sys.batchToken.shipmentCount()).to.equal(count + 2n);
        expect(shipment.isReturn).to.equal(isReturn);
        expect(await balance(sys, sender, id)).to.equal(senderBefore - 5n);
        expect(await balance(sys, receiver, id)).to.equal(receiverBefore);
        expect(await sys.batchToken.isPendingShipment(shipmentId, shipment)).to.equal(true);

        await expect(sys.batchToken.connect(receiver).acceptShipment(shipmentId, shipment))
          .to.emit(sys.batchToken, "ShipmentAccepted")
          .withArgs(id, sender.address, receiver.address, shipmentId, 1n)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(receiver.address, ethers.ZeroAddress, receiver.address, id, 1n);
        expect(await sys.batchToken.isPendingShipment(shipmentId, shipment)).to.equal(false);
        expect(await balance(sys, receiver, id)).to.equal(receiverBefore + 1n);

        const first = { ...shipment, quantity: 4n };
        expect(await sys.batchToken.isPendingShipment(shipmentId - 1n, first)).to.equal(true);
        await sys.batchToken.connect(receiver).acceptShipment(shipmentId - 1n, first);
        expect(await balance(sys, receiver, id)).to.equal(receiverBefore + 5n);
        expect(await balance(sys, sender, id)).to.equal(senderBefore - 5n);
      });
    }

    it("returns the shipment id from ship", async function () {
      const sys = await loadFixture(stockedFixture);
      const count = await sys.batchToken.shipmentCount();
      expect(
        await sys.batchToken.connect(sys.producer).ship.staticCall(sys.batchId, 1, sys.distributor.address, REF),
      ).to.equal(count + 1n);
    });

    it("moves partial quantities and lets the whole balance go", async function () {
      const sys = await loadFixture(stockedFixture);
      const id = sys.batchId;
      await deliver(sys, sys.producer, id, 1, sys.distributor2);
      await deliver(sys, sys.producer, id, 58, sys.distributor2);
      expect(await balance(sys, sys.producer, id)).to.equal(1n);
      await deliver(sys, sys.producer, id, 1, sys.distributor2);
      expect(await balance(sys, sys.producer, id)).to.equal(0n);
      expect(await balance(sys, sys.distributor2, id)).to.equal(60n);
    });

    const REFUSED: { flow: string; from: Party; to: Party; fromRole: number; toRole: number }[] = [
      { flow: "a Producer to a Pharmacy", from: "producer", to: "pharmacy", fromRole: Role.Producer, toRole: Role.Pharmacy },
      { flow: "a Producer to another Producer", from: "producer", to: "producer2", fromRole: Role.Producer, toRole: Role.Producer },
      { flow: "a Pharmacy to another Pharmacy", from: "pharmacy", to: "pharmacy2", fromRole: Role.Pharmacy, toRole: Role.Pharmacy },
      { flow: "a Pharmacy to a Producer", from: "pharmacy", to: "producer", fromRole: Role.Pharmacy, toRole: Role.Producer },
    ];
    for (const { flow, from, to, fromRole, toRole } of REFUSED) {
      it(`refuses ${flow} (BatchTokenFlowNotAllowed)`, async function () {
        const sys = await loadFixture(stockedFixture);
        await expect(shipCall(sys, sys[from], sys.batchId, 1, sys[to].address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
          .withArgs(fromRole, toRole, BatchStatus.Active);
      });
    }

    it("refuses a Distributor's return to a Producer that did not make the batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(shipCall(sys, sys.distributor, sys.batchId, 1, sys.producer2.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenReturnToOtherProducer")
        .withArgs(sys.producer2.address, sys.producer.address);
    });

    const NON_HOLDERS: [string, (s: System) => HardhatEthersSigner, number][] = [
      ["a Regulator", (s) => s.regulator, Role.Regulator],
      ["an Auditor", (s) => s.auditor, Role.Auditor],
      ["a non-member", (s) => s.outsider, Role.None],
    ];
    for (const [who, pick, role] of NON_HOLDERS) {
      it(`refuses shipping to ${who}, naming the receiver and its role`, async function () {
        const sys = await loadFixture(stockedFixture);
        const receiver = pick(sys);
        await expect(shipCall(sys, sys.distributor, sys.batchId, 1, receiver.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(receiver.address, role);
      });

      it(`refuses ${who} as sender, naming it and its role`, async function () {
        const sys = await loadFixture(stockedFixture);
        const sender = pick(sys);
        await expect(shipCall(sys, sender, sys.batchId, 1, sys.distributor.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sender.address, role);
      });
    }

    it("refuses shipping to the zero address", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(shipCall(sys, sys.producer, sys.batchId, 1, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(ethers.ZeroAddress, Role.None);
    });

    it("refuses a shipment to oneself", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(shipCall(sys, sys.distributor, sys.batchId, 1, sys.distributor.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenSelfShipment")
        .withArgs(sys.distributor.address);
    });

    it("refuses a zero quantity", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(shipCall(sys, sys.producer, sys.batchId, 0, sys.distributor.address)).to.be.revertedWithCustomError(
        sys.batchToken,
        "BatchTokenZeroQuantity",
      );
    });

    it("refuses shipping more than held with OpenZeppelin's ERC1155InsufficientBalance", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(shipCall(sys, sys.distributor, sys.batchId, 31, sys.pharmacy.address))
        .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
        .withArgs(sys.distributor.address, 30n, 31n, sys.batchId);
      await expect(shipCall(sys, sys.distributor2, sys.batchId, 1, sys.pharmacy.address))
        .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
        .withArgs(sys.distributor2.address, 0n, 1n, sys.batchId);
    });

    it("refuses an unknown batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(shipCall(sys, sys.producer, 99n, 1, sys.distributor.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
        .withArgs(99n);
      await expect(shipCall(sys, sys.producer, 0n, 1, sys.distributor.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
        .withArgs(0n);
    });
  });

  // ─── Custody: pending shipments ──────────────────────────────────────────────────────────────

  describe("pending shipments", function () {
    async function pendingFixture() {
      const sys = await stockedFixture();
      const pending = await ship(sys, sys.producer, sys.batchId, 25, sys.distributor);
      return { ...sys, ...pending };
    }

    it("keeps the units out of every balance while pending", async function () {
      const sys = await loadFixture(pendingFixture);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(35n);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
      expect(await sys.batchToken.balanceOf(await sys.batchToken.getAddress(), sys.batchId)).to.equal(0n);
      expect(await sys.batchToken.balanceOf(ethers.ZeroAddress, sys.batchId)).to.equal(0n);
    });

    it("refuses acceptance by anyone but the receiver", async function () {
      const sys = await loadFixture(pendingFixture);
      for (const caller of [sys.distributor2, sys.producer, sys.outsider]) {
        await expect(sys.batchToken.connect(caller).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentReceiver")
          .withArgs(sys.shipmentId, caller.address);
      }
    });

    const FORGERIES: [string, (s: IBatchToken.ShipmentStruct, sys: System) => IBatchToken.ShipmentStruct][] = [
      ["another quantity", (s) => ({ ...s, quantity: 26n })],
      ["another receiver", (s, sys) => ({ ...s, receiver: sys.distributor2.address })],
      ["another sender", (s, sys) => ({ ...s, sender: sys.producer2.address })],
      ["another batch", (s) => ({ ...s, batchId: 2n })],
      ["isReturn set", (s) => ({ ...s, isReturn: true })],
    ];
    for (const [what, forge] of FORGERIES) {
      it(`refuses acceptance of a shipment forged with ${what} (BatchTokenUnknownShipment)`, async function () {
        const sys = await loadFixture(pendingFixture);
        const forged = forge(sys.shipment, sys);
        const caller = forged.receiver === sys.distributor2.address ? sys.distributor2 : sys.distributor;
        expect(await sys.batchToken.isPendingShipment(sys.shipmentId, forged)).to.equal(false);
        await expect(sys.batchToken.connect(caller).acceptShipment(sys.shipmentId, forged))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
          .withArgs(sys.shipmentId);
      });
    }

    it("refuses acceptance under another shipment id", async function () {
      const sys = await loadFixture(pendingFixture);
      for (const id of [0n, sys.shipmentId - 1n, sys.shipmentId + 1n]) {
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(id, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
          .withArgs(id);
      }
    });

    it("refuses a second acceptance", async function () {
      const sys = await loadFixture(pendingFixture);
      await sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(55n);
    });

    for (const [name, reason] of Object.entries(RejectReason)) {
      it(`returns the units to the sender when the receiver rejects them as ${name}`, async function () {
        const sys = await loadFixture(pendingFixture);
        await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, reason))
          .to.emit(sys.batchToken, "ShipmentRejected")
          .withArgs(sys.batchId, sys.producer.address, sys.distributor.address, sys.shipmentId, 25n, reason)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(sys.distributor.address, ethers.ZeroAddress, sys.producer.address, sys.batchId, 25n);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
        expect(await sys.batchToken.isPendingShipment(sys.shipmentId, sys.shipment)).to.equal(false);
      });
    }

    it("refuses a reject reason outside the enum", async function () {
      const sys = await loadFixture(pendingFixture);
      await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, 7)).to.be
        .reverted;
    });

    it("refuses rejection by anyone but the receiver", async function () {
      const sys = await loadFixture(pendingFixture);
      for (const caller of [sys.producer, sys.distributor2]) {
        await expect(sys.batchToken.connect(caller).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.Damaged))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentReceiver")
          .withArgs(sys.shipmentId, caller.address);
      }
    });

    it("refuses rejection of a forged shipment", async function () {
      const sys = await loadFixture(pendingFixture);
      const forged = { ...sys.shipment, quantity: 1n };
      await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, forged, RejectReason.Damaged))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
    });

    it("returns the units to the sender when the sender cancels", async function () {
      const sys = await loadFixture(pendingFixture);
      await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment))
        .to.emit(sys.batchToken, "ShipmentCancelled")
        .withArgs(sys.batchId, sys.producer.address, sys.distributor.address, sys.shipmentId, 25n)
        .and.to.emit(sys.batchToken, "TransferSingle")
        .withArgs(sys.producer.address, ethers.ZeroAddress, sys.producer.address, sys.batchId, 25n);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      expect(await sys.batchToken.isPendingShipment(sys.shipmentId, sys.shipment)).to.equal(false);
    });

    it("refuses cancellation by the receiver or a third party", async function () {
      const sys = await loadFixture(pendingFixture);
      for (const caller of [sys.distributor, sys.producer2]) {
        await expect(sys.batchToken.connect(caller).cancelShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentSender")
          .withArgs(sys.shipmentId, caller.address);
      }
    });

    it("refuses cancellation of a forged shipment", async function () {
      const sys = await loadFixture(pendingFixture);
      const forged = { ...sys.shipment, receiver: sys.distributor2.address };
      await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, forged))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
    });

    it("refuses rejection and cancellation after acceptance", async function () {
      const sys = await loadFixture(pendingFixture);
      await sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment);
      await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.Damaged))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
      await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
    });

    it("refuses acceptance, rejection and a second cancellation after cancellation", async function () {
      const sys = await loadFixture(pendingFixture);
      await sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
      await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.Damaged))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
      await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
    });

    it("refuses acceptance and cancellation after rejection", async function () {
      const sys = await loadFixture(pendingFixture);
      await sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.NotOrdered);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
      await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
        .withArgs(sys.shipmentId);
    });

    it("counts every shipment ever created, whatever became of it", async function () {
      const sys = await loadFixture(pendingFixture);
      const before = await sys.batchToken.shipmentCount();
      const a = await ship(sys, sys.producer, sys.batchId, 1, sys.distributor);
      const b = await ship(sys, sys.producer, sys.batchId, 1, sys.distributor);
      await sys.batchToken.connect(sys.producer).cancelShipment(a.shipmentId, a.shipment);
      await sys.batchToken.connect(sys.distributor).rejectShipment(b.shipmentId, b.shipment, RejectReason.Unspecified);
      expect([a.shipmentId, b.shipmentId]).to.deep.equal([before + 1n, before + 2n]);
      expect(await sys.batchToken.shipmentCount()).to.equal(before + 2n);
      // The earlier one is still pending.
      expect(await sys.batchToken.isPendingShipment(sys.shipmentId, sys.shipment)).to.equal(true);
    });

    describe("with suspended parties", function () {
      it("refuses acceptance by a receiver the DE regulator suspended, and lets the sender cancel", async function () {
        const sys = await loadFixture(pendingFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.distributor.address, REASON);
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.None);
        await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.Damaged))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.None);
        await sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      });

      it("refuses acceptance by a receiver suspended by governance", async function () {
        const sys = await loadFixture(stockedFixture);
        const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 3, sys.pharmacy2);
        await suspendByGovernance(sys, sys.pharmacy2);
        await expect(sys.batchToken.connect(sys.pharmacy2).acceptShipment(shipmentId, shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.pharmacy2.address, Role.None);
      });

      it("refuses cancellation by a suspended sender, while the receiver may still reject to it", async function () {
        const sys = await loadFixture(pendingFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.producer.address, REASON);
        await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.producer.address, Role.None);
        await sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.SuspectProduct);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      });

      it("refuses a suspended member as sender and as receiver of a new shipment", async function () {
        const sys = await loadFixture(stockedFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.distributor2.address, REASON);
        await expect(shipCall(sys, sys.distributor, sys.batchId, 1, sys.distributor2.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor2.address, Role.None);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.distributor.address, REASON);
        await expect(shipCall(sys, sys.distributor, sys.batchId, 1, sys.pharmacy.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.None);
      });

      it("refuses acceptance of a shipment whose sender was suspended in transit, and lets the receiver reject", async function () {
        const sys = await loadFixture(pendingFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.producer.address, REASON);
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.producer.address, Role.None);
        await sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.SuspectProduct);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      });

      it("refuses acceptance of a shipment whose sender's role became one that holds no stock", async function () {
        const sys = await loadFixture(pendingFixture);
        await changeRoleByGovernance(sys, sys.producer, Role.Auditor);
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.producer.address, Role.Auditor);
      });

      it("refuses acceptance when a role change in transit makes the pair a refused flow (Producer → Pharmacy)", async function () {
        const sys = await loadFixture(pendingFixture);
        await changeRoleByGovernance(sys, sys.distributor, Role.Pharmacy);
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
          .withArgs(Role.Producer, Role.Pharmacy, BatchStatus.Active);
        await sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.NotOrdered);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      });

      it("re-checks a return against the receiver's current role (the producer made a Distributor, the batch recalled)", async function () {
        const sys = await loadFixture(stockedFixture);
        const r = await ship(sys, sys.distributor, sys.batchId, 5, sys.producer);
        expect(r.shipment.isReturn).to.equal(true);
        // The batch's producer becomes a Distributor: Distributor → Distributor is a forward flow, which
        // an Active batch allows; a recalled one does not.
        await changeRoleByGovernance(sys, sys.producer, Role.Distributor);
        await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
        await expect(sys.batchToken.connect(sys.producer).acceptShipment(r.shipmentId, r.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
          .withArgs(Role.Distributor, Role.Distributor, BatchStatus.Recalled);
      });

      it("refuses acceptance by a receiver whose role became one that holds no stock", async function () {
        const sys = await loadFixture(pendingFixture);
        await changeRoleByGovernance(sys, sys.distributor, Role.Auditor);
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.Auditor);
        // It is still an active member and may send the units back.
        await sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.NotOrdered);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      });
    });
  });

  // ─── Custody: expiry ─────────────────────────────────────────────────────────────────────────

  describe("expiry", function () {
    it("tells a batch is expired only after its expiry day", async function () {
      const sys = await loadFixture(stockedFixture);
      const expiryDay = sys.input.expiryDay;
      await time.increaseTo((expiryDay + 1) * DAY - 1);
      expect(await sys.batchToken.isExpired(sys.batchId)).to.equal(false);
      await time.increaseTo((expiryDay + 1) * DAY);
      expect(await sys.batchToken.isExpired(sys.batchId)).to.equal(true);
    });

    it("still lets a Distributor ship to a Pharmacy, and the Pharmacy accept, on the expiry day", async function () {
      const sys = await loadFixture(stockedFixture);
      await time.setNextBlockTimestamp((sys.input.expiryDay + 1) * DAY - 2);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 1, sys.pharmacy);
      await atLastSecondOf(sys.input.expiryDay);
      await sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment);
      expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(11n);
    });

    it("refuses shipping an expired batch to a Pharmacy", async function () {
      const sys = await loadFixture(stockedFixture);
      await after(sys.input.expiryDay);
      await expect(shipCall(sys, sys.distributor, sys.batchId, 1, sys.pharmacy.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenExpired")
        .withArgs(sys.batchId, sys.input.expiryDay);
    });

    it("refuses a Pharmacy's acceptance of a batch that expired in transit, but lets it reject", async function () {
      const sys = await loadFixture(stockedFixture);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.pharmacy);
      await after(sys.input.expiryDay);
      await expect(sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenExpired")
        .withArgs(sys.batchId, sys.input.expiryDay);
      await sys.batchToken.connect(sys.pharmacy).rejectShipment(shipmentId, shipment, RejectReason.WrongProduct);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
    });

    it("still moves an expired batch Producer → Distributor and Distributor ↔ Distributor", async function () {
      const sys = await loadFixture(stockedFixture);
      const inTransit = await ship(sys, sys.distributor, sys.batchId, 5, sys.distributor2);
      await after(sys.input.expiryDay);
      await sys.batchToken.connect(sys.distributor2).acceptShipment(inTransit.shipmentId, inTransit.shipment);
      await deliver(sys, sys.distributor2, sys.batchId, 2, sys.distributor);
      await deliver(sys, sys.producer, sys.batchId, 10, sys.distributor2);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(27n);
      expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(13n);
    });

    it("still takes returns of an expired batch (Pharmacy → Distributor → Producer)", async function () {
      const sys = await loadFixture(stockedFixture);
      await after(sys.input.expiryDay);
      await deliver(sys, sys.pharmacy, sys.batchId, 10, sys.distributor);
      await deliver(sys, sys.distributor, sys.batchId, 40, sys.producer);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(100n);
    });

    it("refuses isExpired for an unknown batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.isExpired(42n))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
        .withArgs(42n);
    });
  });

  // ─── Regulator status ────────────────────────────────────────────────────────────────────────

  describe("status", function () {
    it("quarantines an Active batch and lifts the quarantine", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON))
        .to.emit(sys.batchToken, "BatchQuarantined")
        .withArgs(sys.batchId, sys.regulator.address, REASON);
      expect((await sys.batchToken.batch(sys.batchId)).status).to.equal(BatchStatus.Quarantined);
      const lift = ethers.id("lab results clean");
      await expect(sys.batchToken.connect(sys.regulator).liftQuarantine(sys.batchId, lift))
        .to.emit(sys.batchToken, "BatchQuarantineLifted")
        .withArgs(sys.batchId, sys.regulator.address, lift);
      expect((await sys.batchToken.batch(sys.batchId)).status).to.equal(BatchStatus.Active);
      // Forward custody works again.
      await deliver(sys, sys.distributor, sys.batchId, 1, sys.pharmacy);
    });

    it("recalls an Active batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON))
        .to.emit(sys.batchToken, "BatchRecalled")
        .withArgs(sys.batchId, sys.regulator.address, REASON);
      expect((await sys.batchToken.batch(sys.batchId)).status).to.equal(BatchStatus.Recalled);
    });

    it("recalls a Quarantined batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
      await expect(sys.batchToken.connect(sys.foreignRegulator).recall(sys.batchId, REASON))
        .to.emit(sys.batchToken, "BatchRecalled")
        .withArgs(sys.batchId, sys.foreignRegulator.address, REASON);
      expect((await sys.batchToken.batch(sys.batchId)).status).to.equal(BatchStatus.Recalled);
    });

    it("refuses lifting the quarantine of an Active batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.regulator).liftQuarantine(sys.batchId, REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
        .withArgs(sys.batchId, BatchStatus.Active);
    });

    it("refuses quarantining a Quarantined batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
      await expect(sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
        .withArgs(sys.batchId, BatchStatus.Quarantined);
    });

    it("makes a recall final: no quarantine, no lift, no second recall", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      for (const action of ["quarantine", "liftQuarantine", "recall"] as const) {
        await expect(sys.batchToken.connect(sys.regulator)[action](sys.batchId, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
          .withArgs(sys.batchId, BatchStatus.Recalled);
      }
    });

    it("refuses status changes of an unknown batch", async function () {
      const sys = await loadFixture(stockedFixture);
      for (const action of ["quarantine", "liftQuarantine", "recall"] as const) {
        await expect(sys.batchToken.connect(sys.regulator)[action](7n, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
          .withArgs(7n);
      }
    });

    const NOT_REGULATORS: [string, (s: System) => HardhatEthersSigner, number][] = [
      ["the batch's Producer", (s) => s.producer, Role.Producer],
      ["a Distributor", (s) => s.distributor, Role.Distributor],
      ["a Pharmacy", (s) => s.pharmacy, Role.Pharmacy],
      ["an Auditor", (s) => s.auditor, Role.Auditor],
      ["a non-member", (s) => s.outsider, Role.None],
    ];
    for (const [who, pick, role] of NOT_REGULATORS) {
      it(`refuses quarantine, lift and recall by ${who}`, async function () {
        const sys = await loadFixture(stockedFixture);
        const caller = pick(sys);
        for (const action of ["quarantine", "recall"] as const) {
          await expect(sys.batchToken.connect(caller)[action](sys.batchId, REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(caller.address, role);
        }
        await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
        await expect(sys.batchToken.connect(caller).liftQuarantine(sys.batchId, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(caller.address, role);
      });
    }

    it("refuses a suspended regulator", async function () {
      const sys = await loadFixture(stockedFixture);
      await suspendByGovernance(sys, sys.regulator);
      await expect(sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.regulator.address, Role.None);
    });

    for (const [label, status] of [
      ["while quarantined", BatchStatus.Quarantined],
      ["after a recall", BatchStatus.Recalled],
    ] as const) {
      describe(label, function () {
        async function setStatus(sys: System, batchId: bigint) {
          if (status === BatchStatus.Quarantined) await sys.batchToken.connect(sys.regulator).quarantine(batchId, REASON);
          else await sys.batchToken.connect(sys.regulator).recall(batchId, REASON);
        }

        const FORWARD: { flow: string; from: Party; to: Party; fromRole: number; toRole: number }[] = [
          { flow: "Producer → Distributor", from: "producer", to: "distributor", fromRole: Role.Producer, toRole: Role.Distributor },
          { flow: "Distributor → Distributor", from: "distributor", to: "distributor2", fromRole: Role.Distributor, toRole: Role.Distributor },
          { flow: "Distributor → Pharmacy", from: "distributor", to: "pharmacy", fromRole: Role.Distributor, toRole: Role.Pharmacy },
          { flow: "Producer → Pharmacy (never allowed)", from: "producer", to: "pharmacy", fromRole: Role.Producer, toRole: Role.Pharmacy },
        ];
        for (const { flow, from, to, fromRole, toRole } of FORWARD) {
          it(`refuses ${flow}, naming the roles and the status`, async function () {
            const sys = await loadFixture(stockedFixture);
            await setStatus(sys, sys.batchId);
            await expect(shipCall(sys, sys[from], sys.batchId, 1, sys[to].address))
              .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
              .withArgs(fromRole, toRole, status);
          });
        }

        it("refuses acceptance of a forward shipment created before, but lets the receiver reject and the sender cancel", async function () {
          const sys = await loadFixture(stockedFixture);
          const a = await ship(sys, sys.distributor, sys.batchId, 4, sys.pharmacy);
          const b = await ship(sys, sys.producer, sys.batchId, 6, sys.distributor2);
          await setStatus(sys, sys.batchId);
          // Acceptance applies the flow table again, so the refusal names the flow and the new status.
          await expect(sys.batchToken.connect(sys.pharmacy).acceptShipment(a.shipmentId, a.shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
            .withArgs(Role.Distributor, Role.Pharmacy, status);
          await expect(sys.batchToken.connect(sys.distributor2).acceptShipment(b.shipmentId, b.shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
            .withArgs(Role.Producer, Role.Distributor, status);
          await expect(sys.batchToken.connect(sys.pharmacy).rejectShipment(a.shipmentId, a.shipment, RejectReason.SuspectProduct))
            .to.emit(sys.batchToken, "ShipmentRejected")
            .withArgs(sys.batchId, sys.distributor.address, sys.pharmacy.address, a.shipmentId, 4n, RejectReason.SuspectProduct);
          await expect(sys.batchToken.connect(sys.producer).cancelShipment(b.shipmentId, b.shipment)).to.emit(
            sys.batchToken,
            "ShipmentCancelled",
          );
          expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
          expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
        });

        if (status === BatchStatus.Quarantined) {
          it("lets a forward shipment created before be accepted once the quarantine is lifted", async function () {
            const sys = await loadFixture(stockedFixture);
            const a = await ship(sys, sys.distributor, sys.batchId, 4, sys.pharmacy);
            await setStatus(sys, sys.batchId);
            await sys.batchToken.connect(sys.regulator).liftQuarantine(sys.batchId, REASON);
            await sys.batchToken.connect(sys.pharmacy).acceptShipment(a.shipmentId, a.shipment);
            expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(14n);
          });
        }

        it("still takes returns Pharmacy → Distributor → Producer", async function () {
          const sys = await loadFixture(stockedFixture);
          await setStatus(sys, sys.batchId);
          await deliver(sys, sys.pharmacy, sys.batchId, 10, sys.distributor);
          await deliver(sys, sys.distributor, sys.batchId, 40, sys.producer);
          expect(await balance(sys, sys.producer, sys.batchId)).to.equal(100n);
        });

        it("accepts a return shipment created before the status change", async function () {
          const sys = await loadFixture(stockedFixture);
          const r = await ship(sys, sys.pharmacy, sys.batchId, 2, sys.distributor);
          await setStatus(sys, sys.batchId);
          await expect(sys.batchToken.connect(sys.distributor).acceptShipment(r.shipmentId, r.shipment)).to.emit(
            sys.batchToken,
            "ShipmentAccepted",
          );
        });

        it("still refuses a return to another producer", async function () {
          const sys = await loadFixture(stockedFixture);
          await setStatus(sys, sys.batchId);
          await expect(shipCall(sys, sys.distributor, sys.batchId, 1, sys.producer2.address))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenReturnToOtherProducer")
            .withArgs(sys.producer2.address, sys.producer.address);
        });

        it("still lets every holder write units off", async function () {
          const sys = await loadFixture(stockedFixture);
          await setStatus(sys, sys.batchId);
          for (const holder of [sys.producer, sys.distributor, sys.pharmacy]) {
            await expect(sys.batchToken.connect(holder).writeOff(sys.batchId, 1, LossReason.Destroyed, EVIDENCE))
              .to.emit(sys.batchToken, "UnitsWrittenOff")
              .withArgs(sys.batchId, holder.address, LossReason.Destroyed, 1n, EVIDENCE);
          }
          expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(9n);
        });
      });
    }
  });

  // ─── writeOff ────────────────────────────────────────────────────────────────────────────────

  describe("writeOff", function () {
    for (const [name, reason] of Object.entries(LossReason)) {
      it(`burns units written off as ${name}`, async function () {
        const sys = await loadFixture(stockedFixture);
        await expect(sys.batchToken.connect(sys.distributor).writeOff(sys.batchId, 7, reason, EVIDENCE))
          .to.emit(sys.batchToken, "UnitsWrittenOff")
          .withArgs(sys.batchId, sys.distributor.address, reason, 7n, EVIDENCE)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(sys.distributor.address, sys.distributor.address, ethers.ZeroAddress, sys.batchId, 7n);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(23n);
      });
    }

    it("lets a holder write off its whole balance", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.pharmacy).writeOff(sys.batchId, 10, LossReason.Stolen, EVIDENCE);
      expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(0n);
    });

    it("refuses writing off more than held", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.pharmacy).writeOff(sys.batchId, 11, LossReason.Destroyed, EVIDENCE))
        .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
        .withArgs(sys.pharmacy.address, 10n, 11n, sys.batchId);
    });

    it("refuses writing off units that are pending in a shipment", async function () {
      const sys = await loadFixture(stockedFixture);
      await ship(sys, sys.distributor, sys.batchId, 30, sys.pharmacy);
      await expect(sys.batchToken.connect(sys.distributor).writeOff(sys.batchId, 1, LossReason.Stolen, EVIDENCE))
        .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
        .withArgs(sys.distributor.address, 0n, 1n, sys.batchId);
    });

    it("refuses a zero quantity", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(
        sys.batchToken.connect(sys.distributor).writeOff(sys.batchId, 0, LossReason.Destroyed, EVIDENCE),
      ).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenZeroQuantity");
    });

    it("refuses an unknown batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.distributor).writeOff(5n, 1, LossReason.Destroyed, EVIDENCE))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
        .withArgs(5n);
    });

    for (const [who, pick, role] of [
      ["a Regulator", (s: System) => s.regulator, Role.Regulator],
      ["an Auditor", (s: System) => s.auditor, Role.Auditor],
      ["a non-member", (s: System) => s.outsider, Role.None],
    ] as const) {
      it(`refuses ${who}`, async function () {
        const sys = await loadFixture(stockedFixture);
        const caller = pick(sys);
        await expect(sys.batchToken.connect(caller).writeOff(sys.batchId, 1, LossReason.Destroyed, EVIDENCE))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(caller.address, role);
      });
    }

    it("refuses a suspended holder", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.consortium.connect(sys.regulator).emergencySuspend(sys.pharmacy.address, REASON);
      await expect(sys.batchToken.connect(sys.pharmacy).writeOff(sys.batchId, 1, LossReason.Destroyed, EVIDENCE))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.pharmacy.address, Role.None);
    });

    it("allows writing off units of a recalled and expired batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      await after(sys.input.expiryDay);
      await expect(sys.batchToken.connect(sys.producer).writeOff(sys.batchId, 60, LossReason.Destroyed, EVIDENCE))
        .to.emit(sys.batchToken, "UnitsWrittenOff")
        .withArgs(sys.batchId, sys.producer.address, LossReason.Destroyed, 60n, EVIDENCE);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(0n);
    });
  });

  // ─── dispense ────────────────────────────────────────────────────────────────────────────────

  describe("dispense", function () {
    it("dispenses one serialised unit: marks it, burns it and emits its leaf", async function () {
      const sys = await loadFixture(stockedFixture);
      const leaf = sys.tree.leafHash([3, sys.serials[3]]);
      expect(await sys.batchToken.isDispensed(sys.batchId, 3)).to.equal(false);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
        .to.emit(sys.batchToken, "UnitDispensed")
        .withArgs(sys.batchId, sys.pharmacy.address, 3n, leaf)
        .and.to.emit(sys.batchToken, "TransferSingle")
        .withArgs(sys.pharmacy.address, sys.pharmacy.address, ethers.ZeroAddress, sys.batchId, 1n);
      expect(await sys.batchToken.isDispensed(sys.batchId, 3)).to.equal(true);
      expect(await sys.batchToken.isDispensed(sys.batchId, 2)).to.equal(false);
      expect(await sys.batchToken.isDispensed(sys.batchId, 4)).to.equal(false);
      expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(9n);
    });

    it("dispenses the first and the last unit of the serial list", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 0, sys.serials[0], sys.proofOf(0));
      await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 99, sys.serials[99], sys.proofOf(99));
      expect(await sys.batchToken.isDispensed(sys.batchId, 0)).to.equal(true);
      expect(await sys.batchToken.isDispensed(sys.batchId, 99)).to.equal(true);
      expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(8n);
    });

    it("refuses a second dispense of the same unit (a likely clone), even by another pharmacy", async function () {
      const sys = await loadFixture(stockedFixture);
      await deliver(sys, sys.distributor, sys.batchId, 5, sys.pharmacy2);
      await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3));
      for (const pharmacy of [sys.pharmacy, sys.pharmacy2]) {
        await expect(sys.batchToken.connect(pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnitAlreadyDispensed")
          .withArgs(sys.batchId, 3n);
      }
    });

    it("refuses another unit's proof", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(4)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidUnitProof")
        .withArgs(sys.batchId, 3n);
    });

    it("refuses an empty proof", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], []))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidUnitProof")
        .withArgs(sys.batchId, 3n);
    });

    it("refuses a serial that is not the one at the proven index", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, "LOT-A1-999999", sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidUnitProof")
        .withArgs(sys.batchId, 3n);
    });

    it("refuses the right serial with its own proof at a wrong index", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 4, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidUnitProof")
        .withArgs(sys.batchId, 4n);
      // Once dispensed at its index, it cannot be replayed at another index either.
      await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3));
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 103, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidUnitProof")
        .withArgs(sys.batchId, 103n);
    });

    it("refuses a proof of the same serial from another batch's tree", async function () {
      const sys = await loadFixture(stockedFixture);
      const other = serialTree(100, "LOT-A1-"); // same serials, same tree: the root must still be this batch's
      expect(other.root).to.equal(sys.root);
      const foreign = serialTree(100, "LOT-B1-");
      await expect(
        sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, foreign.serials[3], foreign.proofOf(3)),
      )
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidUnitProof")
        .withArgs(sys.batchId, 3n);
    });

    it("refuses a batch without serials", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const { batchId } = await mintBatch(sys, { lot: "PLAIN", serialised: false });
      await deliver(sys, sys.producer, batchId, 10, sys.distributor);
      await deliver(sys, sys.distributor, batchId, 5, sys.pharmacy);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(batchId, 0, "PLAIN-000000", []))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotSerialised")
        .withArgs(batchId);
    });

    it("refuses a Quarantined batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
        .withArgs(sys.batchId, BatchStatus.Quarantined);
    });

    it("refuses a Recalled batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
        .withArgs(sys.batchId, BatchStatus.Recalled);
    });

    it("dispenses on the expiry day and refuses the day after", async function () {
      const sys = await loadFixture(stockedFixture);
      await atLastSecondOf(sys.input.expiryDay);
      await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 1, sys.serials[1], sys.proofOf(1));
      await after(sys.input.expiryDay);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenExpired")
        .withArgs(sys.batchId, sys.input.expiryDay);
    });

    for (const [who, pick, role] of [
      ["the Producer", (s: System) => s.producer, Role.Producer],
      ["a Distributor", (s: System) => s.distributor, Role.Distributor],
      ["a Regulator", (s: System) => s.regulator, Role.Regulator],
      ["a non-member", (s: System) => s.outsider, Role.None],
    ] as const) {
      it(`refuses ${who} as dispenser`, async function () {
        const sys = await loadFixture(stockedFixture);
        const caller = pick(sys);
        await expect(sys.batchToken.connect(caller).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(caller.address, role);
      });
    }

    it("refuses a suspended pharmacy", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.consortium.connect(sys.regulator).emergencySuspend(sys.pharmacy.address, REASON);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.pharmacy.address, Role.None);
    });

    it("refuses a pharmacy without stock of the batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.pharmacy2).dispense(sys.batchId, 3, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
        .withArgs(sys.pharmacy2.address, 0n, 1n, sys.batchId);
      expect(await sys.batchToken.isDispensed(sys.batchId, 3)).to.equal(false);
    });

    it("refuses an unknown batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(sys.batchToken.connect(sys.pharmacy).dispense(9n, 3, sys.serials[3], sys.proofOf(3)))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
        .withArgs(9n);
    });
  });

  // ─── verifyUnit ──────────────────────────────────────────────────────────────────────────────

  describe("verifyUnit", function () {
    type Stocked = Awaited<ReturnType<typeof stockedFixture>>;
    /** verifyUnit for unit `index` of the stocked batch, with fields replaced by `o`. */
    function verify(
      sys: Stocked,
      index: number,
      o: { gtin?: bigint; lot?: string; serial?: string; expiryDay?: number; unitIndex?: number; proof?: string[] } = {},
    ) {
      return sys.batchToken.verifyUnit(
        o.gtin ?? sys.input.gtin,
        o.lot ?? sys.input.lot,
        o.serial ?? sys.serials[index],
        o.expiryDay ?? sys.input.expiryDay,
        o.unitIndex ?? index,
        o.proof ?? sys.proofOf(index),
      );
    }

    it("says Genuine for an undispensed unit of an Active, unexpired batch", async function () {
      const sys = await loadFixture(stockedFixture);
      expect(await verify(sys, 0)).to.equal(Verdict.Genuine);
      expect(await verify(sys, 99)).to.equal(Verdict.Genuine);
    });

    it("says Dispensed for a dispensed unit and Genuine for its neighbours", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 5, sys.serials[5], sys.proofOf(5));
      expect(await verify(sys, 5)).to.equal(Verdict.Dispensed);
      expect(await verify(sys, 4)).to.equal(Verdict.Genuine);
      expect(await verify(sys, 6)).to.equal(Verdict.Genuine);
    });

    it("says Recalled for a unit of a recalled batch", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      expect(await verify(sys, 5)).to.equal(Verdict.Recalled);
    });

    it("says Quarantined for a unit of a quarantined batch, and Genuine again after the lift", async function () {
      const sys = await loadFixture(stockedFixture);
      await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
      expect(await verify(sys, 5)).to.equal(Verdict.Quarantined);
      await sys.batchToken.connect(sys.regulator).liftQuarantine(sys.batchId, REASON);
      expect(await verify(sys, 5)).to.equal(Verdict.Genuine);
    });

    it("says Genuine through the expiry day and Expired the day after", async function () {
      const sys = await loadFixture(stockedFixture);
      await time.increaseTo((sys.input.expiryDay + 1) * DAY - 1);
      expect(await verify(sys, 5)).to.equal(Verdict.Genuine);
      await time.increaseTo((sys.input.expiryDay + 1) * DAY);
      expect(await verify(sys, 5)).to.equal(Verdict.Expired);
    });

    it("says UnknownBatch for an unknown GTIN or lot", async function () {
      const sys = await loadFixture(stockedFixture);
      expect(await verify(sys, 5, { gtin: BigInt(OTHER_GTIN) })).to.equal(Verdict.UnknownBatch);
      expect(await verify(sys, 5, { lot: "LOT-A2" })).to.equal(Verdict.UnknownBatch);
      expect(await verify(sys, 5, { lot: "lot-a1" })).to.equal(Verdict.UnknownBatch);
    });

    it("says NotInBatch for a wrong serial, a wrong proof, a wrong index or an empty proof", async function () {
      const sys = await loadFixture(stockedFixture);
      expect(await verify(sys, 5, { serial: "LOT-A1-000500" })).to.equal(Verdict.NotInBatch);
      expect(await verify(sys, 5, { proof: sys.proofOf(6) })).to.equal(Verdict.NotInBatch);
      expect(await verify(sys, 5, { unitIndex: 6 })).to.equal(Verdict.NotInBatch);
      expect(await verify(sys, 5, { proof: [] })).to.equal(Verdict.NotInBatch);
    });

    it("says NotInBatch for any unit of a batch without serials", async function () {
      const sys = await loadFixture(stockedFixture);
      const plain = await mintBatch(sys, { lot: "PLAIN", serialised: false, units: 4 });
      expect(
        await sys.batchToken.verifyUnit(sys.input.gtin, "PLAIN", plain.serials[0], plain.input.expiryDay, 0, plain.proofOf(0)),
      ).to.equal(Verdict.NotInBatch);
      expect(await sys.batchToken.verifyUnit(sys.input.gtin, "PLAIN", "", plain.input.expiryDay, 0, [])).to.equal(
        Verdict.NotInBatch,
      );
    });

    it("says ExpiryMismatch when the printed expiry differs from the batch's", async function () {
      const sys = await loadFixture(stockedFixture);
      expect(await verify(sys, 5, { expiryDay: sys.input.expiryDay + 1 })).to.equal(Verdict.ExpiryMismatch);
      expect(await verify(sys, 5, { expiryDay: sys.input.expiryDay - 1 })).to.equal(Verdict.ExpiryMismatch);
    });

    it("applies the documented precedence: UnknownBatch, NotInBatch, ExpiryMismatch, Recalled, Quarantined, Dispensed, Expired", async function () {
      const sys = await loadFixture(stockedFixture);
      const wrongExpiry = sys.input.expiryDay + 1;
      // Unit 5 dispensed and the batch expired: Dispensed wins over Expired.
      await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 5, sys.serials[5], sys.proofOf(5));
      await after(sys.input.expiryDay);
      expect(await verify(sys, 5)).to.equal(Verdict.Dispensed);
      expect(await verify(sys, 6)).to.equal(Verdict.Expired);

      // Quarantined wins over Dispensed and Expired; ExpiryMismatch wins over Quarantined.
      await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
      expect(await verify(sys, 5)).to.equal(Verdict.Quarantined);
      expect(await verify(sys, 6)).to.equal(Verdict.Quarantined);
      expect(await verify(sys, 5, { expiryDay: wrongExpiry })).to.equal(Verdict.ExpiryMismatch);

      // Recalled wins over Quarantined history, Dispensed and Expired; ExpiryMismatch wins over Recalled.
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      expect(await verify(sys, 5)).to.equal(Verdict.Recalled);
      expect(await verify(sys, 6)).to.equal(Verdict.Recalled);
      expect(await verify(sys, 5, { expiryDay: wrongExpiry })).to.equal(Verdict.ExpiryMismatch);

      // NotInBatch wins over ExpiryMismatch (and everything below it).
      expect(await verify(sys, 5, { serial: "FAKE", expiryDay: wrongExpiry })).to.equal(Verdict.NotInBatch);
      expect(await verify(sys, 5, { proof: [], expiryDay: wrongExpiry })).to.equal(Verdict.NotInBatch);

      // UnknownBatch wins over everything.
      expect(await verify(sys, 5, { lot: "NOPE", serial: "FAKE", expiryDay: wrongExpiry })).to.equal(
        Verdict.UnknownBatch,
      );
    });
  });

  // ─── ERC-1155 surface and views ──────────────────────────────────────────────────────────────

  describe("ERC-1155 surface", function () {
    it("refuses safeTransferFrom to another member", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(
        sys.batchToken
          .connect(sys.distributor)
          .safeTransferFrom(sys.distributor.address, sys.pharmacy.address, sys.batchId, 1, "0x"),
      )
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenTransferBypassesCustody")
        .withArgs(sys.distributor.address, sys.pharmacy.address);
    });

    it("refuses safeTransferFrom to the token contract itself", async function () {
      const sys = await loadFixture(stockedFixture);
      const self = await sys.batchToken.getAddress();
      await expect(
        sys.batchToken.connect(sys.producer).safeTransferFrom(sys.producer.address, self, sys.batchId, 1, "0x"),
      )
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenTransferBypassesCustody")
        .withArgs(sys.producer.address, self);
    });

    it("refuses safeTransferFrom even of zero units", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(
        sys.batchToken
          .connect(sys.outsider)
          .safeTransferFrom(sys.outsider.address, sys.distributor.address, sys.batchId, 0, "0x"),
      )
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenTransferBypassesCustody")
        .withArgs(sys.outsider.address, sys.distributor.address);
    });

    it("refuses safeBatchTransferFrom to another member and to the contract itself", async function () {
      const sys = await loadFixture(stockedFixture);
      const self = await sys.batchToken.getAddress();
      for (const to of [sys.distributor2.address, self]) {
        await expect(
          sys.batchToken
            .connect(sys.distributor)
            .safeBatchTransferFrom(sys.distributor.address, to, [sys.batchId], [1], "0x"),
        )
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenTransferBypassesCustody")
          .withArgs(sys.distributor.address, to);
      }
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
    });

    it("refuses moving another holder's units (no operator can be approved)", async function () {
      const sys = await loadFixture(stockedFixture);
      await expect(
        sys.batchToken
          .connect(sys.distributor)
          .safeTransferFrom(sys.producer.address, sys.distributor.address, sys.batchId, 1, "0x"),
      )
        .to.be.revertedWithCustomError(sys.batchToken, "ERC1155MissingApprovalForAll")
        .withArgs(sys.distributor.address, sys.producer.address);
    });

    it("refuses setApprovalForAll, whether granting or revoking", async function () {
      const sys = await loadFixture(stockedFixture);
      for (const approved of [true, false]) {
        await expect(
          sys.batchToken.connect(sys.producer).setApprovalForAll(sys.distributor.address, approved),
        ).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenApprovalsDisabled");
      }
      expect(await sys.batchToken.isApprovedForAll(sys.producer.address, sys.distributor.address)).to.equal(false);
    });

    it("supports the ERC-1155, ERC-1155 metadata URI and ERC-165 interfaces only", async function () {
      const sys = await loadFixture(stockedFixture);
      expect(await sys.batchToken.supportsInterface("0xd9b67a26")).to.equal(true); // ERC-1155
      expect(await sys.batchToken.supportsInterface("0x0e89341c")).to.equal(true); // ERC1155MetadataURI
      expect(await sys.batchToken.supportsInterface("0x01ffc9a7")).to.equal(true); // ERC-165
      expect(await sys.batchToken.supportsInterface("0xffffffff")).to.equal(false);
      expect(await sys.batchToken.supportsInterface("0x80ac58cd")).to.equal(false); // ERC-721
    });

    it("returns the URI template for every id", async function () {
      const sys = await loadFixture(stockedFixture);
      expect(await sys.batchToken.uri(sys.batchId)).to.equal("https://id.example.org/batch/{id}.json");
      expect(await sys.batchToken.uri(12345n)).to.equal("https://id.example.org/batch/{id}.json");
    });

    it("reads balances of several holders at once", async function () {
      const sys = await loadFixture(stockedFixture);
      expect(
        await sys.batchToken.balanceOfBatch(
          [sys.producer.address, sys.distributor.address, sys.pharmacy.address, sys.outsider.address],
          [sys.batchId, sys.batchId, sys.batchId, sys.batchId],
        ),
      ).to.deep.equal([60n, 30n, 10n, 0n]);
    });
  });

  describe("views", function () {
    it("names the consortium register it reads roles from", async function () {
      const sys = await loadFixture(batchTokenFixture);
      expect(await sys.batchToken.consortium()).to.equal(await sys.consortium.getAddress());
    });

    it("reads an unknown batch as status None and an unknown (GTIN, lot) as id 0", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const b = await sys.batchToken.batch(1n);
      expect(b.status).to.equal(BatchStatus.None);
      expect(b.producer).to.equal(ethers.ZeroAddress);
      expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "LOT-A1")).to.equal(0n);
      expect(await sys.batchToken.shipmentCount()).to.equal(0n);
      expect(await sys.batchToken.isDispensed(1n, 0)).to.equal(false);
    });

    it("reports no pending shipment for id 0 or an id never created", async function () {
      const sys = await loadFixture(stockedFixture);
      const shipment = {
        batchId: sys.batchId,
        sender: sys.producer.address,
        receiver: sys.distributor.address,
        quantity: 40n,
        isReturn: false,
      };
      expect(await sys.batchToken.isPendingShipment(1n, shipment)).to.equal(false); // accepted in the fixture
      expect(await sys.batchToken.isPendingShipment(0n, shipment)).to.equal(false);
      expect(await sys.batchToken.isPendingShipment(999n, shipment)).to.equal(false);
    });
  });

  // ─── ERC-2771 ────────────────────────────────────────────────────────────────────────────────

  describe("relayed through the consortium forwarder", function () {
    it("takes the signer, not the relayer, as the acting member for ship and accept", async function () {
      const sys = await loadFixture(stockedFixture);
      const token = await sys.batchToken.getAddress();
      const shipData = sys.batchToken.interface.encodeFunctionData("ship", [sys.batchId, 6, sys.distributor2.address, REF]);
      const request = await signedRequest(sys.forwarder, sys.producer, token, shipData);
      const shipmentId = (await sys.batchToken.shipmentCount()) + 1n;
      await expect(sys.forwarder.connect(sys.relayer).execute(request))
        .to.emit(sys.batchToken, "ShipmentCreated")
        .withArgs(sys.batchId, sys.producer.address, sys.distributor2.address, shipmentId, 6n, false, REF)
        .and.to.emit(sys.batchToken, "TransferSingle")
        .withArgs(sys.producer.address, sys.producer.address, ethers.ZeroAddress, sys.batchId, 6n);

      const shipment = {
        batchId: sys.batchId,
        sender: sys.producer.address,
        receiver: sys.distributor2.address,
        quantity: 6n,
        isReturn: false,
      };
      const acceptData = sys.batchToken.interface.encodeFunctionData("acceptShipment", [shipmentId, shipment]);
      const acceptRequest = await signedRequest(sys.forwarder, sys.distributor2, token, acceptData);
      await expect(sys.forwarder.connect(sys.relayer).execute(acceptRequest))
        .to.emit(sys.batchToken, "ShipmentAccepted")
        .withArgs(sys.batchId, sys.producer.address, sys.distributor2.address, shipmentId, 6n);
      expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(6n);
      expect(await balance(sys, sys.relayer, sys.batchId)).to.equal(0n);
    });
  });
});
