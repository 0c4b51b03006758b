import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { CSET82, withCheckDigit } from "../../api/domain/gs1";
import { signedRequest, simulateForwardedCall } from "../fixtures/forwarder";
import {
  BatchStatus,
  GTIN,
  GTIN2,
  Kind,
  MARKETS,
  PREFIX,
  PackState,
  ProductStatus,
  Role,
  Verdict,
  batchInput,
  codes,
  deliver,
  mintBatch,
  serialTree,
  ship,
  units,
  type System,
} from "../fixtures/system";
import {
  DAY,
  EVIDENCE,
  FIFTEEN_MARKETS,
  LossReason,
  NEW_GTIN,
  PREFIX2_KEY,
  PREFIX_KEY,
  REASON,
  REF,
  RejectReason,
  UNOWNED_GTIN,
  after,
  approvedTokenAction,
  batchTokenFixture,
  changeRole,
  code,
  encode,
  governConsortium,
  governToken,
  licensedFixture,
  marketsFixture,
  mintQuantity,
  packedMarkets,
  quantityFixture,
  revoke,
  rotateKey,
  spareSigner,
  suspend,
} from "../fixtures/batch-token";

/**
 * BatchToken against its interface (IBatchToken), except the per-pack custody mechanics
 * (test/contracts/packs.test.ts): deployment, products and licences, minting and its input rules,
 * quantity-only custody and the flow table, the shipment kind fixed at shipping, regulator powers
 * by market, the governance hooks, batch- and product-level verification verdicts, the ERC-1155
 * surface custody replaces, and the regressions of the security review (issues 11 and 12).
 */

type Party = "producer" | "producer2" | "distributor" | "distributor2" | "pharmacy" | "pharmacy2";
const ROLE_OF: Record<Party, number> = {
  producer: Role.Producer,
  producer2: Role.Producer,
  distributor: Role.Distributor,
  distributor2: Role.Distributor,
  pharmacy: Role.Pharmacy,
  pharmacy2: Role.Pharmacy,
};

type Quantity = Awaited<ReturnType<typeof quantityFixture>>;
type Markets = Awaited<ReturnType<typeof marketsFixture>>;

/** Ships `quantity` units of a batch without serials, without waiting: for asserting a revert or an event. */
function shipQty(sys: System, from: HardhatEthersSigner, batchId: bigint, quantity: bigint | number, to: string) {
  return sys.batchToken.connect(from).ship(batchId, to, quantity, [], REF);
}

async function balance(sys: System, who: HardhatEthersSigner | string, batchId: bigint): Promise<bigint> {
  return sys.batchToken.balanceOf(typeof who === "string" ? who : who.address, batchId);
}

async function status(sys: System, batchId: bigint): Promise<bigint> {
  return (await sys.batchToken.batch(batchId)).status;
}

describe("BatchToken", function () {
  // ─── Deployment ──────────────────────────────────────────────────────────────────────────────

  describe("deployment", function () {
    /** BatchToken's factory with its two libraries freshly deployed and linked. */
    async function linkedFactory() {
      const custodyOps = await ethers.deployContract("CustodyOps");
      const batchRegistry = await ethers.deployContract("BatchRegistry");
      return ethers.getContractFactory("BatchToken", {
        libraries: { CustodyOps: await custodyOps.getAddress(), BatchRegistry: await batchRegistry.getAddress() },
      });
    }

    it("refuses a forwarder the Consortium does not trust (BatchTokenForwarderMismatch)", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const factory = await linkedFactory();
      for (const forwarder of [sys.outsider.address, ethers.ZeroAddress, await sys.consortium.getAddress()]) {
        await expect(factory.deploy(await sys.consortium.getAddress(), forwarder, "uri"))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenForwarderMismatch")
          .withArgs(forwarder);
      }
    });

    it("deploys with the Consortium's own forwarder: unpaused, a 10-day undo window, no batch, no shipment", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const factory = await linkedFactory();
      const token = await factory.deploy(await sys.consortium.getAddress(), await sys.forwarder.getAddress(), "ipfs://{id}");
      await token.waitForDeployment();
      expect(await token.consortium()).to.equal(await sys.consortium.getAddress());
      expect(await token.trustedForwarder()).to.equal(await sys.forwarder.getAddress());
      expect(await token.paused()).to.equal(false);
      expect(await token.undoWindowDays()).to.equal(10n);
      expect(await token.batchCount()).to.equal(0n);
      expect(await token.shipmentCount()).to.equal(0n);
      expect(await token.uri(1n)).to.equal("ipfs://{id}");
    });

    it("is the token the System module deployed, reading roles from the Consortium", async function () {
      const sys = await loadFixture(batchTokenFixture);
      expect(await sys.batchToken.consortium()).to.equal(await sys.consortium.getAddress());
      expect(await sys.batchToken.isTrustedForwarder(await sys.forwarder.getAddress())).to.equal(true);
      expect(await sys.batchToken.uri(12345n)).to.equal("https://id.example.org/batch/{id}.json");
    });
  });

  // ─── Products ────────────────────────────────────────────────────────────────────────────────

  describe("products", function () {
    describe("registerProduct", function () {
      it("registers a GTIN under the caller's company prefix, with its markets and master data hash", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const gtin = BigInt(NEW_GTIN);
        const hash = ethers.id("master data new");
        await expect(sys.batchToken.connect(sys.producer).registerProduct(gtin, codes(["DE", "AT"]), hash))
          .to.emit(sys.batchToken, "ProductRegistered")
          .withArgs(gtin, sys.producer.address, PREFIX_KEY, codes(["DE", "AT"]), hash);
        const p = await sys.batchToken.product(gtin);
        expect(p.owner).to.equal(sys.producer.address);
        expect(p.status).to.equal(ProductStatus.Active);
        expect(p.prefixKey).to.equal(PREFIX_KEY);
        expect(p.markets).to.equal(packedMarkets(["DE", "AT"]));
        expect(p.masterDataHash).to.equal(hash);
      });

      it("records the fixture's products under their owners' prefixes", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const p1 = await sys.batchToken.product(BigInt(GTIN));
        const p2 = await sys.batchToken.product(BigInt(GTIN2));
        expect([p1.owner, p1.prefixKey, p1.markets]).to.deep.equal([sys.producer.address, PREFIX_KEY, packedMarkets(MARKETS)]);
        expect([p2.owner, p2.prefixKey, p2.markets]).to.deep.equal([sys.producer2.address, PREFIX2_KEY, packedMarkets(MARKETS)]);
      });

      it("reads an unregistered GTIN as status None with no owner", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const p = await sys.batchToken.product(BigInt(NEW_GTIN));
        expect(p.status).to.equal(ProductStatus.None);
        expect(p.owner).to.equal(ethers.ZeroAddress);
      });

      it("refuses a GTIN under another producer's prefix, naming the prefix's owner", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer2).registerProduct(BigInt(NEW_GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotBrandOwner")
          .withArgs(BigInt(NEW_GTIN), sys.producer2.address, sys.producer.address);
      });

      it("refuses a GTIN under a prefix nobody owns, naming the zero address as its owner", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).registerProduct(BigInt(UNOWNED_GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotBrandOwner")
          .withArgs(BigInt(UNOWNED_GTIN), sys.producer.address, ethers.ZeroAddress);
      });

      it("refuses a GTIN registered already, naming its owner, even to that owner", async function () {
        const sys = await loadFixture(batchTokenFixture);
        for (const caller of [sys.producer, sys.producer2]) {
          await expect(sys.batchToken.connect(caller).registerProduct(BigInt(GTIN), codes(["DE"]), REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenProductExists")
            .withArgs(BigInt(GTIN), sys.producer.address);
        }
      });

      const BAD_GTINS: [string, bigint][] = [
        ["a wrong check digit", BigInt(NEW_GTIN) + 1n],
        ["15 digits, even with a valid check digit", BigInt(withCheckDigit("19506000134360"))],
        ["zero", 0n],
      ];
      for (const [what, gtin] of BAD_GTINS) {
        it(`refuses a GTIN with ${what} (BatchTokenInvalidGtin)`, async function () {
          const sys = await loadFixture(batchTokenFixture);
          await expect(sys.batchToken.connect(sys.producer).registerProduct(gtin, codes(["DE"]), REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidGtin")
            .withArgs(gtin);
        });
      }

      const NOT_PRODUCERS: [string, (s: System) => HardhatEthersSigner, number][] = [
        ["a Distributor", (s) => s.distributor, Role.Distributor],
        ["a Pharmacy", (s) => s.pharmacy, Role.Pharmacy],
        ["a Regulator", (s) => s.regulator, Role.Regulator],
        ["an Auditor", (s) => s.auditor, Role.Auditor],
      ];
      for (const [who, pick, role] of NOT_PRODUCERS) {
        it(`refuses ${who}, naming its role`, async function () {
          const sys = await loadFixture(batchTokenFixture);
          const caller = pick(sys);
          await expect(sys.batchToken.connect(caller).registerProduct(BigInt(NEW_GTIN), codes(["DE"]), REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(caller.address, role);
        });
      }

      it("refuses a non-member, naming no account", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.outsider).registerProduct(BigInt(NEW_GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(ethers.ZeroAddress, Role.None);
      });

      it("refuses the prefix's owner while suspended", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.producer.address, REASON);
        await expect(sys.batchToken.connect(sys.producer).registerProduct(BigInt(NEW_GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.producer.address, Role.None);
      });

      describe("markets", function () {
        it("accepts 1 and 15 distinct codes, and the edges A and Z", async function () {
          const sys = await loadFixture(batchTokenFixture);
          await sys.batchToken.connect(sys.producer).registerProduct(BigInt(NEW_GTIN), codes(["AZ"]), REASON);
          expect((await sys.batchToken.product(BigInt(NEW_GTIN))).markets).to.equal(packedMarkets(["AZ"]));
          const fifteen = withCheckDigit("0950600013437");
          await sys.batchToken.connect(sys.producer).registerProduct(BigInt(fifteen), codes(FIFTEEN_MARKETS), REASON);
          expect((await sys.batchToken.product(BigInt(fifteen))).markets).to.equal(packedMarkets(FIFTEEN_MARKETS));
        });

        const BAD_MARKETS: [string, string[], string][] = [
          ["no market", [], "0x0000"],
          ["16 markets (naming the 16th)", [...FIFTEEN_MARKETS, "DE"], code("DE")],
          ["a duplicate (naming it)", ["DE", "FR", "DE"], code("DE")],
          ["a lower-case code", ["DE", "fr"], code("fr")],
          ["a first character below A", ["@E"], code("@E")],
          ["a first character above Z", ["[E"], code("[E")],
          ["a second character below A", ["D1"], code("D1")],
          ["a second character above Z", ["D^"], code("D^")],
          ["the zero code", ["\0\0"], "0x0000"],
        ];
        for (const [what, list, named] of BAD_MARKETS) {
          it(`refuses ${what} (BatchTokenInvalidMarkets)`, async function () {
            const sys = await loadFixture(batchTokenFixture);
            await expect(sys.batchToken.connect(sys.producer).registerProduct(BigInt(NEW_GTIN), codes(list), REASON))
              .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidMarkets")
              .withArgs(named);
          });
        }
      });
    });

    describe("updateProduct", function () {
      it("replaces the markets and the master data hash", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const hash = ethers.id("master data v2");
        await expect(sys.batchToken.connect(sys.producer).updateProduct(BigInt(GTIN), codes(["IT", "DE"]), hash))
          .to.emit(sys.batchToken, "ProductUpdated")
          .withArgs(BigInt(GTIN), sys.producer.address, codes(["IT", "DE"]), hash);
        const p = await sys.batchToken.product(BigInt(GTIN));
        expect(p.markets).to.equal(packedMarkets(["IT", "DE"]));
        expect(p.masterDataHash).to.equal(hash);
        expect(p.status).to.equal(ProductStatus.Active);
        expect(p.prefixKey).to.equal(PREFIX_KEY);
      });

      it("leaves the markets of batches minted before unchanged, and binds new batches to the new markets", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const before = await mintQuantity(sys, { lot: "BEFORE" });
        await sys.batchToken.connect(sys.producer).updateProduct(BigInt(GTIN), codes(["IT"]), REASON);
        expect(await sys.batchToken.marketsOf(before)).to.deep.equal(codes(["DE", "FR"]));
        const { input } = batchInput(sys.today, { lot: "AFTER", serialised: false, markets: ["FR"] });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenMarketNotRegistered")
          .withArgs(BigInt(GTIN), code("FR"));
        const afterwards = await mintQuantity(sys, { lot: "AFTER" });
        expect(await sys.batchToken.marketsOf(afterwards)).to.deep.equal(codes(["IT"]));
      });

      it("refuses another producer, naming the owner", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer2).updateProduct(BigInt(GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotProductOwner")
          .withArgs(BigInt(GTIN), sys.producer2.address, sys.producer.address);
      });

      it("refuses a licensed contract manufacturer: a licence is to mint, not to own", async function () {
        const sys = await loadFixture(licensedFixture);
        await expect(sys.batchToken.connect(sys.producer2).updateProduct(BigInt(GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotProductOwner")
          .withArgs(BigInt(GTIN), sys.producer2.address, sys.producer.address);
      });

      it("refuses an unregistered GTIN", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).updateProduct(BigInt(NEW_GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownProduct")
          .withArgs(BigInt(NEW_GTIN));
      });

      it("refuses a member that is not a Producer", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.distributor).updateProduct(BigInt(GTIN), codes(["DE"]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.Distributor);
      });

      it("refuses invalid markets", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).updateProduct(BigInt(GTIN), codes([]), REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidMarkets")
          .withArgs("0x0000");
      });
    });

    describe("setProductStatus", function () {
      it("withdraws a product and puts it back (Active ⇄ Withdrawn)", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const why = ethers.id("marketing authorisation suspended");
        await expect(sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, why))
          .to.emit(sys.batchToken, "ProductStatusChanged")
          .withArgs(BigInt(GTIN), sys.producer.address, ProductStatus.Withdrawn, why);
        expect((await sys.batchToken.product(BigInt(GTIN))).status).to.equal(ProductStatus.Withdrawn);
        await expect(sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Active, REASON))
          .to.emit(sys.batchToken, "ProductStatusChanged")
          .withArgs(BigInt(GTIN), sys.producer.address, ProductStatus.Active, REASON);
        expect((await sys.batchToken.product(BigInt(GTIN))).status).to.equal(ProductStatus.Active);
      });

      it("stops dispensing a withdrawn product's packs", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { batchId, serials, proofOf } = await mintBatch(sys, { lot: "WD", units: 10 });
        await deliver(sys, sys.producer, batchId, [units(0, 10)], sys.distributor);
        await deliver(sys, sys.distributor, batchId, [units(0, 2)], sys.pharmacy);
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
        await expect(sys.batchToken.connect(sys.pharmacy).dispense(batchId, 0, serials[0], proofOf(0)))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenProductWithdrawn")
          .withArgs(BigInt(GTIN));
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Active, REASON);
        await sys.batchToken.connect(sys.pharmacy).dispense(batchId, 0, serials[0], proofOf(0));
      });

      it("refuses the status the product already has", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Active, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidProductStatus")
          .withArgs(BigInt(GTIN), ProductStatus.Active);
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
        await expect(sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidProductStatus")
          .withArgs(BigInt(GTIN), ProductStatus.Withdrawn);
      });

      it("refuses status None", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.None, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidProductStatus")
          .withArgs(BigInt(GTIN), ProductStatus.None);
      });

      it("refuses anybody but the owner", async function () {
        const sys = await loadFixture(licensedFixture);
        await expect(sys.batchToken.connect(sys.producer2).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotProductOwner")
          .withArgs(BigInt(GTIN), sys.producer2.address, sys.producer.address);
        await expect(sys.batchToken.connect(sys.regulator).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.regulator.address, Role.Regulator);
      });

      it("refuses an unregistered GTIN", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer).setProductStatus(BigInt(NEW_GTIN), ProductStatus.Withdrawn, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownProduct")
          .withArgs(BigInt(NEW_GTIN));
      });
    });

    describe("setPrefixLicence", function () {
      it("grants and revokes a licence for the caller's prefix", async function () {
        const sys = await loadFixture(batchTokenFixture);
        expect(await sys.batchToken.isLicensed(PREFIX_KEY, sys.producer2.address)).to.equal(false);
        await expect(sys.batchToken.connect(sys.producer).setPrefixLicence(PREFIX_KEY, sys.producer2.address, true))
          .to.emit(sys.batchToken, "PrefixLicenceChanged")
          .withArgs(PREFIX_KEY, sys.producer.address, sys.producer2.address, true);
        expect(await sys.batchToken.isLicensed(PREFIX_KEY, sys.producer2.address)).to.equal(true);
        // A licence is per prefix: producer2's own prefix says nothing about the producer.
        expect(await sys.batchToken.isLicensed(PREFIX2_KEY, sys.producer.address)).to.equal(false);
        await expect(sys.batchToken.connect(sys.producer).setPrefixLicence(PREFIX_KEY, sys.producer2.address, false))
          .to.emit(sys.batchToken, "PrefixLicenceChanged")
          .withArgs(PREFIX_KEY, sys.producer.address, sys.producer2.address, false);
        expect(await sys.batchToken.isLicensed(PREFIX_KEY, sys.producer2.address)).to.equal(false);
      });

      it("refuses a producer that does not own the prefix, naming its owner", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.producer2).setPrefixLicence(PREFIX_KEY, sys.producer2.address, true))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotPrefixOwner")
          .withArgs(PREFIX_KEY, sys.producer2.address, sys.producer.address);
        const unowned = (7n << 40n) | 1234567n;
        await expect(sys.batchToken.connect(sys.producer).setPrefixLicence(unowned, sys.producer2.address, true))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotPrefixOwner")
          .withArgs(unowned, sys.producer.address, ethers.ZeroAddress);
      });

      it("refuses the zero address and the owner itself as licensee", async function () {
        const sys = await loadFixture(batchTokenFixture);
        for (const licensee of [ethers.ZeroAddress, sys.producer.address]) {
          await expect(sys.batchToken.connect(sys.producer).setPrefixLicence(PREFIX_KEY, licensee, true))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLicensee")
            .withArgs(licensee);
        }
      });

      it("refuses a member that is not a Producer", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.connect(sys.distributor).setPrefixLicence(PREFIX_KEY, sys.producer2.address, true))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.Distributor);
      });
    });
  });

  // ─── Minting ─────────────────────────────────────────────────────────────────────────────────

  describe("mintBatch", function () {
    it("mints a serialised batch to the product's owner and records every attribute", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const { input, root } = batchInput(sys.today, { units: 50, lot: "LOT-S1" });
      const tx = sys.batchToken.connect(sys.producer).mintBatch(input);
      await expect(tx)
        .to.emit(sys.batchToken, "BatchMinted")
        .withArgs(1n, sys.producer.address, input.gtin, "LOT-S1", input.expiryDay, 50n, root, 50, input.documentHash)
        .and.to.emit(sys.batchToken, "BatchMarkets")
        .withArgs(1n, codes(MARKETS))
        .and.to.emit(sys.batchToken, "TransferSingle")
        .withArgs(sys.producer.address, ethers.ZeroAddress, sys.producer.address, 1n, 50n);
      await expect(tx).not.to.emit(sys.batchToken, "BatchPacked");

      const b = await sys.batchToken.batch(1n);
      expect(b.producer).to.equal(sys.producer.address);
      expect(b.gtin).to.equal(input.gtin);
      expect(b.expiryDay).to.equal(input.expiryDay);
      expect(b.status).to.equal(BatchStatus.Active);
      expect(b.serialCount).to.equal(50n);
      expect(b.unitsPerCase).to.equal(0n);
      expect(b.casesPerPallet).to.equal(0n);
      expect(b.producerIndex).to.equal((await sys.consortium.member(sys.producer.address)).index);
      expect(b.quantity).to.equal(50n);
      expect(b.serialsRoot).to.equal(root);
      expect(b.packingRoot).to.equal(ethers.ZeroHash);
      expect(b.markets).to.equal(packedMarkets(MARKETS));
      expect(b.quarantineMask).to.equal(0n);
      expect(b.documentHash).to.equal(input.documentHash);
      expect(b.lot).to.equal("LOT-S1");
      expect(await sys.batchToken.batchIdOf(input.gtin, "LOT-S1")).to.equal(1n);
      expect(await sys.batchToken.batchCount()).to.equal(1n);
      expect(await sys.batchToken.marketsOf(1n)).to.deep.equal(codes(MARKETS));
      expect(await balance(sys, sys.producer, 1n)).to.equal(50n);
    });

    it("returns the new batch id and numbers batches from 1", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const first = batchInput(sys.today, { lot: "N1", serialised: false }).input;
      expect(await sys.batchToken.connect(sys.producer).mintBatch.staticCall(first)).to.equal(1n);
      await sys.batchToken.connect(sys.producer).mintBatch(first);
      const second = batchInput(sys.today, { lot: "N2", serialised: false }).input;
      expect(await sys.batchToken.connect(sys.producer).mintBatch.staticCall(second)).to.equal(2n);
    });

    it("mints a batch without serials (quantity-only): root and count zero", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const { input } = batchInput(sys.today, { lot: "PLAIN", units: 7, serialised: false });
      await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
        .to.emit(sys.batchToken, "BatchMinted")
        .withArgs(1n, sys.producer.address, input.gtin, "PLAIN", input.expiryDay, 7n, ethers.ZeroHash, 0, input.documentHash);
      const b = await sys.batchToken.batch(1n);
      expect([b.serialsRoot, b.serialCount, b.quantity]).to.deep.equal([ethers.ZeroHash, 0n, 7n]);
      expect(await balance(sys, sys.producer, 1n)).to.equal(7n);
      // No pack ledger: nothing to ask per pack.
      expect(await sys.batchToken.holdsUnits(1n, sys.producer.address, [units(0)])).to.equal(false);
    });

    it("mints a batch packed in cases and pallets and emits BatchPacked", async function () {
      const sys = await loadFixture(batchTokenFixture);
      const { input } = batchInput(sys.today, { units: 24, unitsPerCase: 4, casesPerPallet: 3 });
      await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
        .to.emit(sys.batchToken, "BatchPacked")
        .withArgs(1n, 4, 3, input.packingRoot);
      const b = await sys.batchToken.batch(1n);
      expect([b.unitsPerCase, b.casesPerPallet, b.packingRoot]).to.deep.equal([4n, 3n, input.packingRoot]);
    });

    describe("who mints", function () {
      it("lets a producer licensed for the prefix mint the brand owner's GTIN, as the batch's producer", async function () {
        const sys = await loadFixture(licensedFixture);
        const b = await sys.batchToken.batch(sys.cmoBatch);
        expect(b.producer).to.equal(sys.producer2.address);
        expect(b.gtin).to.equal(BigInt(GTIN));
        expect(b.producerIndex).to.equal((await sys.consortium.member(sys.producer2.address)).index);
        expect(await balance(sys, sys.producer2, sys.cmoBatch)).to.equal(20n);
        // The product stays the brand owner's.
        expect((await sys.batchToken.product(BigInt(GTIN))).owner).to.equal(sys.producer.address);
      });

      it("refuses the licensee once the licence is revoked", async function () {
        const sys = await loadFixture(licensedFixture);
        await sys.batchToken.connect(sys.producer).setPrefixLicence(PREFIX_KEY, sys.producer2.address, false);
        const { input } = batchInput(sys.today, { lot: "CMO-2", serialised: false });
        await expect(sys.batchToken.connect(sys.producer2).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotLicensed")
          .withArgs(BigInt(GTIN), sys.producer2.address);
        // Its batch minted under the licence stays its own.
        expect((await sys.batchToken.batch(sys.cmoBatch)).producer).to.equal(sys.producer2.address);
      });

      it("refuses a producer neither owning nor licensed for the GTIN", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { lot: "X", serialised: false, gtin: GTIN2 });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotLicensed")
          .withArgs(BigInt(GTIN2), sys.producer.address);
      });

      it("refuses a licensed member that is not a Producer", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await sys.batchToken.connect(sys.producer).setPrefixLicence(PREFIX_KEY, sys.distributor.address, true);
        const { input } = batchInput(sys.today, { lot: "X", serialised: false });
        await expect(sys.batchToken.connect(sys.distributor).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.Distributor);
      });

      const NOT_PRODUCERS: [string, (s: System) => HardhatEthersSigner, number][] = [
        ["a Pharmacy", (s) => s.pharmacy, Role.Pharmacy],
        ["a Regulator", (s) => s.regulator, Role.Regulator],
        ["an Auditor", (s) => s.auditor, Role.Auditor],
      ];
      for (const [who, pick, role] of NOT_PRODUCERS) {
        it(`refuses ${who}, naming its role`, async function () {
          const sys = await loadFixture(batchTokenFixture);
          const caller = pick(sys);
          const { input } = batchInput(sys.today, { lot: "X", serialised: false });
          await expect(sys.batchToken.connect(caller).mintBatch(input))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(caller.address, role);
        });
      }

      it("refuses a suspended producer (active role None)", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.producer.address, REASON);
        const { input } = batchInput(sys.today, { lot: "X", serialised: false });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.producer.address, Role.None);
      });
    });

    describe("product", function () {
      it("refuses an unregistered GTIN, even under the caller's own prefix", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { lot: "X", serialised: false, gtin: NEW_GTIN });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownProduct")
          .withArgs(BigInt(NEW_GTIN));
      });

      it("refuses a withdrawn product, by its owner and by a licensee, and mints again once it is back", async function () {
        const sys = await loadFixture(licensedFixture);
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
        for (const [caller, lot] of [[sys.producer, "W1"], [sys.producer2, "W2"]] as const) {
          const { input } = batchInput(sys.today, { lot, serialised: false });
          await expect(sys.batchToken.connect(caller).mintBatch(input))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenProductWithdrawn")
            .withArgs(BigInt(GTIN));
        }
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Active, REASON);
        await mintQuantity(sys, { lot: "W1" });
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "W1")).to.not.equal(0n);
      });
    });

    describe("lot", function () {
      async function mintLot(sys: System, lot: string) {
        const { input } = batchInput(sys.today, { serialised: false, lot: "placeholder" });
        return sys.batchToken.connect(sys.producer).mintBatch({ ...input, lot });
      }

      it("refuses an empty lot and one of 21 characters", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(mintLot(sys, "")).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotLength").withArgs(0);
        await expect(mintLot(sys, "A".repeat(21)))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotLength")
          .withArgs(21);
      });

      it("counts the length in bytes (11 two-byte characters are 22 bytes)", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(mintLot(sys, "é".repeat(11))).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotLength").withArgs(22);
      });

      it("accepts lots of 1 and of 20 characters", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await mintLot(sys, "7");
        await mintLot(sys, "B".repeat(20));
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "7")).to.equal(1n);
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "B".repeat(20))).to.equal(2n);
      });

      const BAD_LOTS: [string, string, number, string][] = [
        ["a space", "LOT 1", 3, "0x20"],
        ["'#'", "#LOT1", 0, "0x23"],
        ["'@'", "LOT@1", 3, "0x40"],
        ["'~'", "LOT1~", 4, "0x7e"],
        ["a UTF-8 multibyte character (its first byte)", "LOTé1", 3, "0xc3"],
        ["a control character (group separator)", "LOT\x1d1", 3, "0x1d"],
      ];
      for (const [what, lot, position, byte] of BAD_LOTS) {
        it(`refuses a lot with ${what}, naming its position and byte`, async function () {
          const sys = await loadFixture(batchTokenFixture);
          await expect(mintLot(sys, lot)).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidLotCharacter").withArgs(position, byte);
        });
      }

      it("accepts every one of the 82 characters of GS1 set 82", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const all = Array.from({ length: 128 }, (_, b) => String.fromCharCode(b))
          .filter((c) => CSET82.test(c))
          .join("");
        expect(all).to.have.length(82);
        const lots: string[] = [];
        for (let i = 0; i < all.length; i += 20) lots.push(all.slice(i, i + 20));
        for (const lot of lots) await mintLot(sys, lot);
        for (const [i, lot] of lots.entries()) expect(await sys.batchToken.batchIdOf(BigInt(GTIN), lot)).to.equal(BigInt(i + 1));
      });
    });

    describe("quantity and expiry", function () {
      it("refuses a zero quantity", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { serialised: false });
        await expect(sys.batchToken.connect(sys.producer).mintBatch({ ...input, quantity: 0n })).to.be.revertedWithCustomError(
          sys.batchToken,
          "BatchTokenZeroQuantity",
        );
      });

      it("refuses an expiry day in the past, naming it and today", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { serialised: false });
        await expect(sys.batchToken.connect(sys.producer).mintBatch({ ...input, expiryDay: sys.today - 1 }))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenExpiryInPast")
          .withArgs(sys.today - 1, sys.today);
      });

      it("accepts an expiry day of today (usable through that day)", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { serialised: false, expiryInDays: 0 });
        await sys.batchToken.connect(sys.producer).mintBatch(input);
        expect((await sys.batchToken.batch(1n)).expiryDay).to.equal(sys.today);
        expect(await sys.batchToken.isExpired(1n)).to.equal(false);
      });
    });

    describe("serial commitment", function () {
      it("refuses a serial root whose count differs from the quantity", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input, root } = batchInput(sys.today, { units: 10 });
        for (const serialCount of [9, 11, 0]) {
          await expect(sys.batchToken.connect(sys.producer).mintBatch({ ...input, serialCount }))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidSerialCommitment")
            .withArgs(root, serialCount, 10n);
        }
      });

      it("refuses a serial count without a serial root", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { units: 10, serialised: false });
        await expect(sys.batchToken.connect(sys.producer).mintBatch({ ...input, serialCount: 10 }))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidSerialCommitment")
          .withArgs(ethers.ZeroHash, 10, 10n);
      });
    });

    describe("packing", function () {
      const PACKING_ROOT = ethers.id("packing root");
      const BAD: [string, { serialised: boolean; unitsPerCase: number; casesPerPallet: number; packingRoot: string }][] = [
        ["cases without serials", { serialised: false, unitsPerCase: 5, casesPerPallet: 0, packingRoot: PACKING_ROOT }],
        ["pallets without cases", { serialised: true, unitsPerCase: 0, casesPerPallet: 2, packingRoot: ethers.ZeroHash }],
        ["a packing root without cases", { serialised: true, unitsPerCase: 0, casesPerPallet: 0, packingRoot: PACKING_ROOT }],
        ["cases without a packing root", { serialised: true, unitsPerCase: 5, casesPerPallet: 2, packingRoot: ethers.ZeroHash }],
      ];
      for (const [what, p] of BAD) {
        it(`refuses ${what} (BatchTokenInvalidPacking)`, async function () {
          const sys = await loadFixture(batchTokenFixture);
          const { input } = batchInput(sys.today, { units: 20, serialised: p.serialised });
          const bad = { ...input, unitsPerCase: p.unitsPerCase, casesPerPallet: p.casesPerPallet, packingRoot: p.packingRoot };
          await expect(sys.batchToken.connect(sys.producer).mintBatch(bad))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidPacking")
            .withArgs(p.unitsPerCase, p.casesPerPallet, p.packingRoot);
        });
      }

      it("accepts cases without pallets", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { units: 20, unitsPerCase: 5 });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.emit(sys.batchToken, "BatchPacked")
          .withArgs(1n, 5, 0, input.packingRoot);
      });
    });

    describe("markets", function () {
      it("takes the product's markets when the batch names none", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const id = await mintQuantity(sys, { lot: "ALL" });
        expect(await sys.batchToken.marketsOf(id)).to.deep.equal(codes(MARKETS));
        expect((await sys.batchToken.batch(id)).markets).to.equal(packedMarkets(MARKETS));
      });

      it("takes a subset of the product's markets, in the order given, and emits it", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { lot: "SUB", serialised: false, markets: ["FR"] });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input)).to.emit(sys.batchToken, "BatchMarkets").withArgs(1n, codes(["FR"]));
        expect(await sys.batchToken.marketsOf(1n)).to.deep.equal(codes(["FR"]));
        const reordered = await mintQuantity(sys, { lot: "REORDERED", markets: ["FR", "DE"] });
        expect(await sys.batchToken.marketsOf(reordered)).to.deep.equal(codes(["FR", "DE"]));
      });

      it("refuses a market the product is not registered for", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { lot: "IT", serialised: false, markets: ["DE", "IT"] });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenMarketNotRegistered")
          .withArgs(BigInt(GTIN), code("IT"));
      });

      it("refuses a market repeated in the batch's list", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const { input } = batchInput(sys.today, { lot: "DUP", serialised: false, markets: ["DE", "DE"] });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidMarkets")
          .withArgs(code("DE"));
      });

      it("handles a product with the full 15 markets: all by default, a subset, and a code outside them", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await sys.batchToken.connect(sys.producer).updateProduct(BigInt(GTIN), codes(FIFTEEN_MARKETS), REASON);
        const all = await mintQuantity(sys, { lot: "ALL15" });
        expect(await sys.batchToken.marketsOf(all)).to.deep.equal(codes(FIFTEEN_MARKETS));
        const last = await mintQuantity(sys, { lot: "LAST", markets: ["RO"] });
        expect(await sys.batchToken.marketsOf(last)).to.deep.equal(codes(["RO"]));
        const { input } = batchInput(sys.today, { lot: "DE", serialised: false, markets: ["DE"] });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenMarketNotRegistered")
          .withArgs(BigInt(GTIN), code("DE"));
      });
    });

    describe("(GTIN, lot) uniqueness", function () {
      it("refuses a second batch with the same GTIN and lot, naming the existing batch", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await mintQuantity(sys, { lot: "OTHER" });
        await mintQuantity(sys, { lot: "LOT-X1" });
        const { input } = batchInput(sys.today, { lot: "LOT-X1", serialised: false, units: 99 });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenDuplicateBatch")
          .withArgs(BigInt(GTIN), "LOT-X1", 2n);
      });

      it("refuses the same GTIN and lot from a licensed contract manufacturer", async function () {
        const sys = await loadFixture(licensedFixture);
        const { input } = batchInput(sys.today, { lot: "CMO-1", serialised: false });
        await expect(sys.batchToken.connect(sys.producer).mintBatch(input))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenDuplicateBatch")
          .withArgs(BigInt(GTIN), "CMO-1", sys.cmoBatch);
      });

      it("accepts the same lot under another GTIN, and lots that differ only in case", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const a = await mintQuantity(sys, { lot: "LOT-X1" });
        const b = await mintQuantity(sys, { lot: "LOT-X1", gtin: GTIN2, by: sys.producer2 });
        const c = await mintQuantity(sys, { lot: "lot-x1" });
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "LOT-X1")).to.equal(a);
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN2), "LOT-X1")).to.equal(b);
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "lot-x1")).to.equal(c);
      });
    });

    describe("views", function () {
      it("reads an unknown batch as status None, no markets, and an unknown (GTIN, lot) as id 0", async function () {
        const sys = await loadFixture(batchTokenFixture);
        const b = await sys.batchToken.batch(1n);
        expect(b.status).to.equal(BatchStatus.None);
        expect(b.producer).to.equal(ethers.ZeroAddress);
        expect(await sys.batchToken.marketsOf(1n)).to.deep.equal([]);
        expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "LOT-A1")).to.equal(0n);
        expect(await sys.batchToken.holdsUnits(1n, sys.producer.address, [units(0)])).to.equal(false);
      });

      it("refuses isExpired for an unknown batch", async function () {
        const sys = await loadFixture(batchTokenFixture);
        await expect(sys.batchToken.isExpired(42n)).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch").withArgs(42n);
      });
    });
  });

  // ─── Quantity-only custody ───────────────────────────────────────────────────────────────────

  describe("quantity-only custody", function () {
    describe("ship, accept, reject, cancel", function () {
      async function pendingFixture() {
        const sys = await quantityFixture();
        const pending = await ship(sys, sys.producer, sys.batchId, 25, sys.distributor);
        return { ...sys, ...pending };
      }

      it("ships: the units leave the sender into a pending shipment with no items", async function () {
        const sys = await loadFixture(quantityFixture);
        const shipmentId = (await sys.batchToken.shipmentCount()) + 1n;
        expect(await sys.batchToken.connect(sys.producer).ship.staticCall(sys.batchId, sys.distributor.address, 25, [], REF)).to.equal(shipmentId);
        await expect(shipQty(sys, sys.producer, sys.batchId, 25, sys.distributor.address))
          .to.emit(sys.batchToken, "ShipmentCreated")
          .withArgs(sys.batchId, sys.producer.address, sys.distributor.address, shipmentId, 25n, Kind.Forward, REF, [])
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(sys.producer.address, sys.producer.address, ethers.ZeroAddress, sys.batchId, 25n);
        const shipment = { batchId: sys.batchId, sender: sys.producer.address, receiver: sys.distributor.address, quantity: 25n, kind: Kind.Forward, items: [] };
        expect(await sys.batchToken.isPendingShipment(shipmentId, shipment)).to.equal(true);
        expect(await sys.batchToken.shipmentCount()).to.equal(shipmentId);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(35n);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
        expect(await balance(sys, await sys.batchToken.getAddress(), sys.batchId)).to.equal(0n);
      });

      it("accepts: the units arrive with the receiver", async function () {
        const sys = await loadFixture(pendingFixture);
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
          .to.emit(sys.batchToken, "ShipmentAccepted")
          .withArgs(sys.batchId, sys.producer.address, sys.distributor.address, sys.shipmentId, 25n)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(sys.distributor.address, ethers.ZeroAddress, sys.distributor.address, sys.batchId, 25n);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(55n);
        expect(await sys.batchToken.isPendingShipment(sys.shipmentId, sys.shipment)).to.equal(false);
      });

      for (const [name, reason] of Object.entries(RejectReason)) {
        it(`rejects as ${name}: the units return to the sender`, async function () {
          const sys = await loadFixture(pendingFixture);
          await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, sys.shipment, reason))
            .to.emit(sys.batchToken, "ShipmentRejected")
            .withArgs(sys.batchId, sys.producer.address, sys.distributor.address, sys.shipmentId, 25n, reason)
            .and.to.emit(sys.batchToken, "TransferSingle")
            .withArgs(sys.distributor.address, ethers.ZeroAddress, sys.producer.address, sys.batchId, 25n);
          expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
          expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
        });
      }

      it("cancels: the units return to the sender", async function () {
        const sys = await loadFixture(pendingFixture);
        await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment))
          .to.emit(sys.batchToken, "ShipmentCancelled")
          .withArgs(sys.batchId, sys.producer.address, sys.distributor.address, sys.shipmentId, 25n)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(sys.producer.address, ethers.ZeroAddress, sys.producer.address, sys.batchId, 25n);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
        expect(await sys.batchToken.isPendingShipment(sys.shipmentId, sys.shipment)).to.equal(false);
      });

      it("moves a whole balance and partial quantities", async function () {
        const sys = await loadFixture(quantityFixture);
        await deliver(sys, sys.pharmacy, sys.batchId, 10, sys.distributor);
        await deliver(sys, sys.producer, sys.batchId, 1, sys.distributor2);
        await deliver(sys, sys.producer, sys.batchId, 59, sys.distributor2);
        expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(0n);
        expect(await balance(sys, sys.producer, sys.batchId)).to.equal(0n);
        expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(60n);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(40n);
      });

      it("refuses acceptance and rejection by anyone but the receiver, and cancellation by anyone but the sender", async function () {
        const sys = await loadFixture(pendingFixture);
        for (const caller of [sys.distributor2, sys.producer]) {
          await expect(sys.batchToken.connect(caller).acceptShipment(sys.shipmentId, sys.shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentReceiver")
            .withArgs(sys.shipmentId, caller.address);
          await expect(sys.batchToken.connect(caller).rejectShipment(sys.shipmentId, sys.shipment, RejectReason.Damaged))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentReceiver")
            .withArgs(sys.shipmentId, caller.address);
        }
        for (const caller of [sys.distributor, sys.producer2]) {
          await expect(sys.batchToken.connect(caller).cancelShipment(sys.shipmentId, sys.shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentSender")
            .withArgs(sys.shipmentId, caller.address);
        }
        // A non-member is no account at all.
        await expect(sys.batchToken.connect(sys.outsider).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentReceiver")
          .withArgs(sys.shipmentId, ethers.ZeroAddress);
      });

      const FORGERIES: [string, (s: Awaited<ReturnType<typeof pendingFixture>>) => typeof s.shipment][] = [
        ["another quantity", (s) => ({ ...s.shipment, quantity: 26n })],
        ["another sender", (s) => ({ ...s.shipment, sender: s.producer2.address })],
        ["another batch", (s) => ({ ...s.shipment, batchId: s.batchId + 1n })],
        ["the other kind", (s) => ({ ...s.shipment, kind: BigInt(Kind.Return) })],
        ["an item", (s) => ({ ...s.shipment, items: [units(0, 25)] })],
      ];
      for (const [what, forge] of FORGERIES) {
        it(`refuses a shipment forged with ${what} (BatchTokenUnknownShipment) for accept, reject and cancel`, async function () {
          const sys = await loadFixture(pendingFixture);
          const forged = forge(sys);
          expect(await sys.batchToken.isPendingShipment(sys.shipmentId, forged)).to.equal(false);
          await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, forged))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
            .withArgs(sys.shipmentId);
          await expect(sys.batchToken.connect(sys.distributor).rejectShipment(sys.shipmentId, forged, RejectReason.Damaged))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
            .withArgs(sys.shipmentId);
          await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, forged))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
            .withArgs(sys.shipmentId);
        });
      }

      it("refuses another shipment id, and a shipment closed already", async function () {
        const sys = await loadFixture(pendingFixture);
        for (const id of [0n, sys.shipmentId - 1n, sys.shipmentId + 1n]) {
          await expect(sys.batchToken.connect(sys.distributor).acceptShipment(id, sys.shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
            .withArgs(id);
        }
        await sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment);
        await expect(sys.batchToken.connect(sys.distributor).acceptShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
          .withArgs(sys.shipmentId);
        await expect(sys.batchToken.connect(sys.producer).cancelShipment(sys.shipmentId, sys.shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
          .withArgs(sys.shipmentId);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(55n);
      });

      it("refuses a zero quantity", async function () {
        const sys = await loadFixture(quantityFixture);
        await expect(shipQty(sys, sys.producer, sys.batchId, 0, sys.distributor.address)).to.be.revertedWithCustomError(
          sys.batchToken,
          "BatchTokenZeroQuantity",
        );
      });

      it("refuses shipping more than held (ERC1155InsufficientBalance), and units already in a shipment", async function () {
        const sys = await loadFixture(quantityFixture);
        await expect(shipQty(sys, sys.distributor, sys.batchId, 31, sys.pharmacy.address))
          .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
          .withArgs(sys.distributor.address, 30n, 31n, sys.batchId);
        await ship(sys, sys.distributor, sys.batchId, 30, sys.pharmacy);
        await expect(shipQty(sys, sys.distributor, sys.batchId, 1, sys.pharmacy2.address))
          .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
          .withArgs(sys.distributor.address, 0n, 1n, sys.batchId);
      });

      it("refuses an unknown batch", async function () {
        const sys = await loadFixture(quantityFixture);
        for (const id of [0n, 99n]) {
          await expect(shipQty(sys, sys.producer, id, 1, sys.distributor.address))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
            .withArgs(id);
        }
      });

      it("refuses items for a batch without serials (BatchTokenNotSerialised)", async function () {
        const sys = await loadFixture(quantityFixture);
        await expect(sys.batchToken.connect(sys.producer).ship(sys.batchId, sys.distributor.address, 1, [units(0)], REF))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotSerialised")
          .withArgs(sys.batchId);
      });

      it("refuses a serialised batch shipped without items (BatchTokenItemsRequired)", async function () {
        const sys = await loadFixture(quantityFixture);
        const { batchId } = await mintBatch(sys, { lot: "SER", units: 10 });
        await expect(shipQty(sys, sys.producer, batchId, 5, sys.distributor.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenItemsRequired")
          .withArgs(batchId);
      });
    });

    describe("writeOff", function () {
      for (const [name, reason] of Object.entries(LossReason)) {
        it(`burns units written off as ${name}`, async function () {
          const sys = await loadFixture(quantityFixture);
          await expect(sys.batchToken.connect(sys.distributor).writeOff(sys.batchId, 7, reason, EVIDENCE))
            .to.emit(sys.batchToken, "UnitsWrittenOff")
            .withArgs(sys.batchId, sys.distributor.address, reason, 7n, EVIDENCE)
            .and.to.emit(sys.batchToken, "TransferSingle")
            .withArgs(sys.distributor.address, sys.distributor.address, ethers.ZeroAddress, sys.batchId, 7n);
          expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(23n);
        });
      }

      it("lets every kind of holder write off, whatever the batch's status or expiry", async function () {
        const sys = await loadFixture(quantityFixture);
        await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
        await after(sys.input.expiryDay);
        for (const [holder, held] of [[sys.producer, 60n], [sys.distributor, 30n], [sys.pharmacy, 10n]] as const) {
          await sys.batchToken.connect(holder).writeOff(sys.batchId, held, LossReason.Destroyed, EVIDENCE);
          expect(await balance(sys, holder, sys.batchId)).to.equal(0n);
        }
      });

      it("refuses a serialised batch: its packs are decommissioned by item (BatchTokenItemsRequired)", async function () {
        const sys = await loadFixture(quantityFixture);
        const { batchId } = await mintBatch(sys, { lot: "SER", units: 10 });
        await expect(sys.batchToken.connect(sys.producer).writeOff(batchId, 1, LossReason.Destroyed, EVIDENCE))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenItemsRequired")
          .withArgs(batchId);
      });

      it("refuses more than held, a zero quantity and an unknown batch", async function () {
        const sys = await loadFixture(quantityFixture);
        await expect(sys.batchToken.connect(sys.pharmacy).writeOff(sys.batchId, 11, LossReason.Destroyed, EVIDENCE))
          .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
          .withArgs(sys.pharmacy.address, 10n, 11n, sys.batchId);
        await expect(sys.batchToken.connect(sys.pharmacy).writeOff(sys.batchId, 0, LossReason.Destroyed, EVIDENCE)).to.be.revertedWithCustomError(
          sys.batchToken,
          "BatchTokenZeroQuantity",
        );
        await expect(sys.batchToken.connect(sys.pharmacy).writeOff(77n, 1, LossReason.Destroyed, EVIDENCE))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
          .withArgs(77n);
      });

      for (const [who, pick, role] of [
        ["a Regulator", (s: System) => s.regulator, Role.Regulator],
        ["an Auditor", (s: System) => s.auditor, Role.Auditor],
      ] as const) {
        it(`refuses ${who}, which holds no stock`, async function () {
          const sys = await loadFixture(quantityFixture);
          const caller = pick(sys);
          await expect(sys.batchToken.connect(caller).writeOff(sys.batchId, 1, LossReason.Destroyed, EVIDENCE))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(caller.address, role);
        });
      }

      it("refuses a suspended holder", async function () {
        const sys = await loadFixture(quantityFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.pharmacy.address, REASON);
        await expect(sys.batchToken.connect(sys.pharmacy).writeOff(sys.batchId, 1, LossReason.Destroyed, EVIDENCE))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.pharmacy.address, Role.None);
      });
    });

    // ─── The flow table ──────────────────────────────────────────────────────────────────────

    describe("the flow table", function () {
      const ALLOWED: { flow: string; from: Party; to: Party; kind: number }[] = [
        { flow: "Producer → Distributor", from: "producer", to: "distributor2", kind: Kind.Forward },
        { flow: "Distributor → another Distributor", from: "distributor", to: "distributor2", kind: Kind.Forward },
        { flow: "Distributor → Pharmacy", from: "distributor", to: "pharmacy2", kind: Kind.Forward },
        { flow: "Distributor → the batch's own Producer", from: "distributor", to: "producer", kind: Kind.Return },
        { flow: "Pharmacy → Distributor", from: "pharmacy", to: "distributor2", kind: Kind.Return },
      ];
      const NEVER: { flow: string; from: Party; to: Party }[] = [
        { flow: "Producer → another Producer", from: "producer", to: "producer2" },
        { flow: "Producer → Pharmacy", from: "producer", to: "pharmacy" },
        { flow: "Pharmacy → another Pharmacy", from: "pharmacy", to: "pharmacy2" },
        { flow: "Pharmacy → Producer", from: "pharmacy", to: "producer" },
      ];

      for (const [label, batchStatus] of [
        ["Active", BatchStatus.Active],
        ["Quarantined", BatchStatus.Quarantined],
        ["Recalled", BatchStatus.Recalled],
      ] as const) {
        describe(`for a batch ${label}`, function () {
          async function statusFixture() {
            const sys = await quantityFixture();
            if (batchStatus === BatchStatus.Quarantined) await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
            if (batchStatus === BatchStatus.Recalled) await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
            return sys;
          }

          for (const { flow, from, to, kind } of ALLOWED) {
            if (kind === Kind.Forward && batchStatus !== BatchStatus.Active) {
              it(`refuses ${flow} (forward), naming the roles and the status`, async function () {
                const sys = await loadFixture(statusFixture);
                await expect(shipQty(sys, sys[from], sys.batchId, 1, sys[to].address))
                  .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
                  .withArgs(ROLE_OF[from], ROLE_OF[to], batchStatus);
              });
            } else {
              it(`moves ${flow} as a ${kind === Kind.Forward ? "forward shipment" : "return"}`, async function () {
                const sys = await loadFixture(statusFixture);
                const before = await balance(sys, sys[to], sys.batchId);
                const { shipment } = await deliver(sys, sys[from], sys.batchId, 3, sys[to]);
                expect(shipment.kind).to.equal(BigInt(kind));
                expect(await balance(sys, sys[to], sys.batchId)).to.equal(before + 3n);
              });
            }
          }

          for (const { flow, from, to } of NEVER) {
            it(`refuses ${flow}, naming the roles and the status`, async function () {
              const sys = await loadFixture(statusFixture);
              await expect(shipQty(sys, sys[from], sys.batchId, 1, sys[to].address))
                .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
                .withArgs(ROLE_OF[from], ROLE_OF[to], batchStatus);
            });
          }

          it("refuses a Distributor's return to a Producer that did not make the batch", async function () {
            const sys = await loadFixture(statusFixture);
            await expect(shipQty(sys, sys.distributor, sys.batchId, 1, sys.producer2.address))
              .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenReturnToOtherProducer")
              .withArgs(sys.producer2.address, sys.producer.address);
          });
        });
      }

      it("sends returns of a contract manufacturer's batch to that manufacturer, not to the brand owner", async function () {
        const sys = await loadFixture(licensedFixture);
        await deliver(sys, sys.producer2, sys.cmoBatch, 5, sys.distributor);
        await expect(shipQty(sys, sys.distributor, sys.cmoBatch, 1, sys.producer.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenReturnToOtherProducer")
          .withArgs(sys.producer.address, sys.producer2.address);
        await deliver(sys, sys.distributor, sys.cmoBatch, 5, sys.producer2);
        expect(await balance(sys, sys.producer2, sys.cmoBatch)).to.equal(20n);
      });

      describe("and expiry", function () {
        it("tells a batch is expired only after its expiry day", async function () {
          const sys = await loadFixture(quantityFixture);
          await time.increaseTo((sys.input.expiryDay + 1) * DAY - 1);
          expect(await sys.batchToken.isExpired(sys.batchId)).to.equal(false);
          await time.increaseTo((sys.input.expiryDay + 1) * DAY);
          expect(await sys.batchToken.isExpired(sys.batchId)).to.equal(true);
        });

        it("refuses shipping an expired batch to a Pharmacy", async function () {
          const sys = await loadFixture(quantityFixture);
          await after(sys.input.expiryDay);
          await expect(shipQty(sys, sys.distributor, sys.batchId, 1, sys.pharmacy.address))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenExpired")
            .withArgs(sys.batchId, sys.input.expiryDay);
        });

        it("ships to a Pharmacy on the expiry day itself", async function () {
          const sys = await loadFixture(quantityFixture);
          await time.setNextBlockTimestamp((sys.input.expiryDay + 1) * DAY - 2);
          const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 1, sys.pharmacy);
          await time.setNextBlockTimestamp((sys.input.expiryDay + 1) * DAY - 1);
          await sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment);
          expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(11n);
        });

        it("still moves an expired batch Producer → Distributor, Distributor → Distributor and back up the chain", async function () {
          const sys = await loadFixture(quantityFixture);
          await after(sys.input.expiryDay);
          await deliver(sys, sys.producer, sys.batchId, 10, sys.distributor2);
          await deliver(sys, sys.distributor2, sys.batchId, 5, sys.distributor);
          await deliver(sys, sys.pharmacy, sys.batchId, 10, sys.distributor);
          await deliver(sys, sys.distributor, sys.batchId, 45, sys.producer);
          expect(await balance(sys, sys.producer, sys.batchId)).to.equal(95n);
        });

        it("refuses a Pharmacy's acceptance of a batch that expired in transit, and lets it reject", async function () {
          const sys = await loadFixture(quantityFixture);
          const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.pharmacy);
          await after(sys.input.expiryDay);
          await expect(sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenExpired")
            .withArgs(sys.batchId, sys.input.expiryDay);
          await sys.batchToken.connect(sys.pharmacy).rejectShipment(shipmentId, shipment, RejectReason.WrongProduct);
          expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
        });

        it("names the status, not the expiry, for an expired batch under quarantine", async function () {
          const sys = await loadFixture(quantityFixture);
          await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
          await after(sys.input.expiryDay);
          await expect(shipQty(sys, sys.distributor, sys.batchId, 1, sys.pharmacy.address))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
            .withArgs(Role.Distributor, Role.Pharmacy, BatchStatus.Quarantined);
        });
      });

      describe("and a withdrawn product", function () {
        async function withdrawnFixture() {
          const sys = await quantityFixture();
          await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
          return sys;
        }

        for (const { flow, from, to } of ALLOWED.filter((f) => f.kind === Kind.Forward)) {
          it(`refuses ${flow} (forward) of a withdrawn product's batch`, async function () {
            const sys = await loadFixture(withdrawnFixture);
            await expect(shipQty(sys, sys[from], sys.batchId, 1, sys[to].address))
              .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenProductWithdrawn")
              .withArgs(BigInt(GTIN));
          });
        }

        it("refuses acceptance of a forward shipment whose product was withdrawn in transit", async function () {
          const sys = await loadFixture(quantityFixture);
          const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.pharmacy);
          await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
          await expect(sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenProductWithdrawn")
            .withArgs(BigInt(GTIN));
        });

        it("still takes returns of a withdrawn product's batch up to its producer", async function () {
          const sys = await loadFixture(withdrawnFixture);
          await deliver(sys, sys.pharmacy, sys.batchId, 10, sys.distributor);
          await deliver(sys, sys.distributor, sys.batchId, 40, sys.producer);
          expect(await balance(sys, sys.producer, sys.batchId)).to.equal(100n);
        });
      });
    });

    describe("parties", function () {
      it("refuses a shipment to oneself", async function () {
        const sys = await loadFixture(quantityFixture);
        await expect(shipQty(sys, sys.distributor, sys.batchId, 1, sys.distributor.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenSelfShipment")
          .withArgs(sys.distributor.address);
      });

      const NON_HOLDERS: [string, (s: System) => Promise<string> | string, number][] = [
        ["a Regulator", (s) => s.regulator.address, Role.Regulator],
        ["an Auditor", (s) => s.auditor.address, Role.Auditor],
        ["a non-member", (s) => s.outsider.address, Role.None],
        ["the zero address", () => ethers.ZeroAddress, Role.None],
        ["the token contract", (s) => s.batchToken.getAddress(), Role.None],
      ];
      for (const [who, pick, role] of NON_HOLDERS) {
        it(`refuses ${who} as receiver: it cannot hold stock`, async function () {
          const sys = await loadFixture(quantityFixture);
          const receiver = await pick(sys);
          await expect(shipQty(sys, sys.distributor, sys.batchId, 1, receiver))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(receiver, role);
        });
      }

      it("refuses a suspended and a revoked member as receiver", async function () {
        const sys = await loadFixture(quantityFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.distributor2.address, REASON);
        await expect(shipQty(sys, sys.producer, sys.batchId, 1, sys.distributor2.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor2.address, Role.None);
        await revoke(sys, sys.distributor2);
        await expect(shipQty(sys, sys.producer, sys.batchId, 1, sys.distributor2.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor2.address, Role.None);
      });

      it("refuses a receiver whose licence expired, without anybody acting", async function () {
        const sys = await loadFixture(quantityFixture);
        const licenceExpiry = (await sys.consortium.member(sys.distributor2.address)).licenceExpiry;
        // The sender's licence runs longer; the receiver's lapses.
        await governConsortium(sys, "renewLicence", [sys.producer.address, ethers.id("renewed"), licenceExpiry + BigInt(DAY * 365)]);
        await time.increaseTo(licenceExpiry + 1n);
        await expect(shipQty(sys, sys.producer, sys.batchId, 1, sys.distributor2.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor2.address, Role.None);
      });

      for (const [who, pick, role] of [
        ["a Regulator", (s: System) => s.regulator, Role.Regulator],
        ["an Auditor", (s: System) => s.auditor, Role.Auditor],
      ] as const) {
        it(`refuses ${who} as sender`, async function () {
          const sys = await loadFixture(quantityFixture);
          const sender = pick(sys);
          await expect(shipQty(sys, sender, sys.batchId, 1, sys.distributor.address))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(sender.address, role);
        });
      }

      it("refuses a non-member as sender, naming no account", async function () {
        const sys = await loadFixture(quantityFixture);
        await expect(shipQty(sys, sys.outsider, sys.batchId, 1, sys.distributor.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(ethers.ZeroAddress, Role.None);
      });

      it("refuses a suspended holder as sender", async function () {
        const sys = await loadFixture(quantityFixture);
        await sys.consortium.connect(sys.regulator).emergencySuspend(sys.distributor.address, REASON);
        await expect(shipQty(sys, sys.distributor, sys.batchId, 1, sys.pharmacy.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.distributor.address, Role.None);
      });
    });

    // ─── ERC-1155 surface ────────────────────────────────────────────────────────────────────

    describe("the ERC-1155 surface custody replaces", function () {
      it("refuses safeTransferFrom, of one's own units, of another's, of zero units, to oneself (BatchTokenTransferBypassesCustody)", async function () {
        const sys = await loadFixture(quantityFixture);
        const token = await sys.batchToken.getAddress();
        const attempts: [HardhatEthersSigner, string, string, number][] = [
          [sys.distributor, sys.distributor.address, sys.pharmacy.address, 1],
          [sys.distributor, sys.producer.address, sys.distributor.address, 1],
          [sys.outsider, sys.outsider.address, sys.distributor.address, 0],
          [sys.producer, sys.producer.address, token, 1],
          [sys.producer, sys.producer.address, sys.producer.address, 1],
        ];
        for (const [caller, from, to, amount] of attempts) {
          await expect(sys.batchToken.connect(caller).safeTransferFrom(from, to, sys.batchId, amount, "0x"))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenTransferBypassesCustody")
            .withArgs(from, to);
        }
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
      });

      it("refuses safeBatchTransferFrom (BatchTokenTransferBypassesCustody)", async function () {
        const sys = await loadFixture(quantityFixture);
        const token = await sys.batchToken.getAddress();
        for (const to of [sys.distributor2.address, token]) {
          await expect(sys.batchToken.connect(sys.distributor).safeBatchTransferFrom(sys.distributor.address, to, [sys.batchId], [1], "0x"))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenTransferBypassesCustody")
            .withArgs(sys.distributor.address, to);
        }
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
      });

      it("refuses setApprovalForAll, granting or revoking (BatchTokenApprovalsDisabled)", async function () {
        const sys = await loadFixture(quantityFixture);
        for (const approved of [true, false]) {
          await expect(sys.batchToken.connect(sys.producer).setApprovalForAll(sys.distributor.address, approved)).to.be.revertedWithCustomError(
            sys.batchToken,
            "BatchTokenApprovalsDisabled",
          );
        }
        expect(await sys.batchToken.isApprovedForAll(sys.producer.address, sys.distributor.address)).to.equal(false);
      });

      it("reads balances one by one and several at once", async function () {
        const sys = await loadFixture(quantityFixture);
        const id = sys.batchId;
        expect(await sys.batchToken.balanceOf(sys.producer.address, id)).to.equal(60n);
        expect(await sys.batchToken.balanceOf(sys.producer.address, id + 1n)).to.equal(0n);
        expect(
          await sys.batchToken.balanceOfBatch([sys.producer.address, sys.distributor.address, sys.pharmacy.address, sys.outsider.address], [id, id, id, id]),
        ).to.deep.equal([60n, 30n, 10n, 0n]);
        await expect(sys.batchToken.balanceOfBatch([sys.producer.address], [id, id]))
          .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InvalidArrayLength")
          .withArgs(2, 1);
      });

      it("supports the ERC-1155, ERC-1155 metadata URI and ERC-165 interfaces only", async function () {
        const sys = await loadFixture(batchTokenFixture);
        expect(await sys.batchToken.supportsInterface("0xd9b67a26")).to.equal(true);
        expect(await sys.batchToken.supportsInterface("0x0e89341c")).to.equal(true);
        expect(await sys.batchToken.supportsInterface("0x01ffc9a7")).to.equal(true);
        expect(await sys.batchToken.supportsInterface("0xffffffff")).to.equal(false);
        expect(await sys.batchToken.supportsInterface("0x80ac58cd")).to.equal(false); // ERC-721
      });
    });
  });

  // ─── The shipment kind, fixed at shipping ────────────────────────────────────────────────────

  describe("the shipment kind, fixed at shipping", function () {
    it("accepts a forward shipment whose receiver became a Pharmacy in transit: Distributor → Pharmacy is still forward", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.distributor2);
      await changeRole(sys, sys.distributor2, Role.Pharmacy);
      await expect(sys.batchToken.connect(sys.distributor2).acceptShipment(shipmentId, shipment)).to.emit(sys.batchToken, "ShipmentAccepted");
      expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(5n);
    });

    it("refuses a forward shipment whose sender became a Pharmacy in transit: it would now be a return (BatchTokenShipmentKindChanged)", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.distributor2);
      await changeRole(sys, sys.distributor, Role.Pharmacy);
      await expect(sys.batchToken.connect(sys.distributor2).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenShipmentKindChanged")
        .withArgs(shipmentId, Kind.Forward);
      await sys.batchToken.connect(sys.distributor2).rejectShipment(shipmentId, shipment, RejectReason.NotOrdered);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
    });

    it("refuses a return whose sender became a Distributor in transit: it would now be forward", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.pharmacy, sys.batchId, 5, sys.distributor);
      expect(shipment.kind).to.equal(BigInt(Kind.Return));
      await changeRole(sys, sys.pharmacy, Role.Distributor);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenShipmentKindChanged")
        .withArgs(shipmentId, Kind.Return);
    });

    it("refuses a return to a producer that became a Distributor in transit, and after a recall names the refused flow", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.producer);
      await changeRole(sys, sys.producer, Role.Distributor);
      await expect(sys.batchToken.connect(sys.producer).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenShipmentKindChanged")
        .withArgs(shipmentId, Kind.Return);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      await expect(sys.batchToken.connect(sys.producer).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
        .withArgs(Role.Distributor, Role.Distributor, BatchStatus.Recalled);
      await sys.batchToken.connect(sys.producer).rejectShipment(shipmentId, shipment, RejectReason.NotOrdered);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
    });

    it("refuses forward shipments after a recall in transit; the receiver rejects, the sender cancels", async function () {
      const sys = await loadFixture(quantityFixture);
      const a = await ship(sys, sys.producer, sys.batchId, 6, sys.distributor2);
      const b = await ship(sys, sys.distributor, sys.batchId, 4, sys.pharmacy);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      await expect(sys.batchToken.connect(sys.distributor2).acceptShipment(a.shipmentId, a.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
        .withArgs(Role.Producer, Role.Distributor, BatchStatus.Recalled);
      await expect(sys.batchToken.connect(sys.pharmacy).acceptShipment(b.shipmentId, b.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
        .withArgs(Role.Distributor, Role.Pharmacy, BatchStatus.Recalled);
      await expect(sys.batchToken.connect(sys.distributor2).rejectShipment(a.shipmentId, a.shipment, RejectReason.SuspectProduct))
        .to.emit(sys.batchToken, "ShipmentRejected")
        .withArgs(sys.batchId, sys.producer.address, sys.distributor2.address, a.shipmentId, 6n, RejectReason.SuspectProduct);
      await expect(sys.batchToken.connect(sys.distributor).cancelShipment(b.shipmentId, b.shipment)).to.emit(sys.batchToken, "ShipmentCancelled");
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
    });

    it("refuses a forward shipment while the batch is quarantined, and accepts it once the quarantine is lifted", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 4, sys.pharmacy);
      await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
      await expect(sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
        .withArgs(Role.Distributor, Role.Pharmacy, BatchStatus.Quarantined);
      await sys.batchToken.connect(sys.regulator).liftQuarantine(sys.batchId, REASON);
      await sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment);
      expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(14n);
    });

    it("accepts a return created before a recall", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.pharmacy, sys.batchId, 2, sys.distributor);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      await sys.batchToken.connect(sys.distributor).acceptShipment(shipmentId, shipment);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(32n);
    });

    it("refuses acceptance by a receiver that can no longer hold stock, and lets it reject", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.producer, sys.batchId, 25, sys.distributor);
      await changeRole(sys, sys.distributor, Role.Auditor);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.distributor.address, Role.Auditor);
      await sys.batchToken.connect(sys.distributor).rejectShipment(shipmentId, shipment, RejectReason.NotOrdered);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
    });

    it("refuses acceptance and rejection by a suspended receiver; the sender cancels", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.producer, sys.batchId, 25, sys.distributor);
      await sys.consortium.connect(sys.regulator).emergencySuspend(sys.distributor.address, REASON);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.distributor.address, Role.None);
      await expect(sys.batchToken.connect(sys.distributor).rejectShipment(shipmentId, shipment, RejectReason.Damaged))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.distributor.address, Role.None);
      await sys.batchToken.connect(sys.producer).cancelShipment(shipmentId, shipment);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
    });

    it("refuses acceptance from a sender that can no longer hold stock", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.producer, sys.batchId, 25, sys.distributor);
      await changeRole(sys, sys.producer, Role.Auditor);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.producer.address, Role.Auditor);
    });

    describe("units that would return to a party that cannot hold stock", function () {
      const SENDER_LOST: [string, (s: System) => Promise<void>, number][] = [
        ["its stock-holding role", (s) => changeRole(s, s.producer, Role.Auditor), Role.Auditor],
        ["its membership for now (suspended)", (s) => suspend(s, s.producer), Role.None],
        ["its membership for good (revoked)", (s) => revoke(s, s.producer), Role.None],
      ];
      for (const [what, lose, role] of SENDER_LOST) {
        it(`refuses a rejection towards a sender that lost ${what} (BatchTokenCannotHoldStock)`, async function () {
          const sys = await loadFixture(quantityFixture);
          const { shipmentId, shipment } = await ship(sys, sys.producer, sys.batchId, 25, sys.distributor);
          await lose(sys);
          await expect(sys.batchToken.connect(sys.distributor).rejectShipment(shipmentId, shipment, RejectReason.Damaged))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock")
            .withArgs(sys.producer.address, role);
          expect(await sys.batchToken.isPendingShipment(shipmentId, shipment)).to.equal(true);
        });

        it(`refuses a cancellation by a sender that lost ${what} (BatchTokenCannotHoldStock)`, async function () {
          const sys = await loadFixture(quantityFixture);
          const { shipmentId, shipment } = await ship(sys, sys.producer, sys.batchId, 25, sys.distributor);
          await lose(sys);
          await expect(sys.batchToken.connect(sys.producer).cancelShipment(shipmentId, shipment))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock")
            .withArgs(sys.producer.address, role);
        });
      }

      it("lets governance recover the shipment to a successor (recoverShipment)", async function () {
        const sys = await loadFixture(quantityFixture);
        const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 10, sys.pharmacy);
        await revoke(sys, sys.distributor);
        const recover = await approvedTokenAction(sys, "recoverShipment", [shipmentId, shipment, sys.distributor2.address, EVIDENCE]);
        await expect(recover())
          .to.emit(sys.batchToken, "ShipmentRecovered")
          .withArgs(sys.batchId, shipmentId, sys.distributor2.address, EVIDENCE)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(await sys.consortium.getAddress(), ethers.ZeroAddress, sys.distributor2.address, sys.batchId, 10n);
        expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(10n);
        expect(await sys.batchToken.isPendingShipment(shipmentId, shipment)).to.equal(false);
        await expect(sys.batchToken.connect(sys.pharmacy).acceptShipment(shipmentId, shipment))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment")
          .withArgs(shipmentId);
      });

      it("lets governance complete a delivery to its receiver", async function () {
        const sys = await loadFixture(quantityFixture);
        const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 10, sys.pharmacy);
        await revoke(sys, sys.distributor);
        await governToken(sys, "recoverShipment", [shipmentId, shipment, sys.pharmacy.address, EVIDENCE]);
        expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(20n);
      });

      it("refuses recovering a shipment to a party that cannot hold stock, or a shipment that is not pending", async function () {
        const sys = await loadFixture(quantityFixture);
        const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 10, sys.pharmacy);
        await revoke(sys, sys.distributor);
        for (const [to, role] of [
          [sys.auditor.address, Role.Auditor],
          [sys.distributor.address, Role.None],
          [sys.outsider.address, Role.None],
          [ethers.ZeroAddress, Role.None],
        ] as const) {
          const recover = await approvedTokenAction(sys, "recoverShipment", [shipmentId, shipment, to, EVIDENCE]);
          await expect(recover()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock").withArgs(to, role);
        }
        const forged = { ...shipment, quantity: 11n };
        const recover = await approvedTokenAction(sys, "recoverShipment", [shipmentId, forged, sys.distributor2.address, EVIDENCE]);
        await expect(recover()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownShipment").withArgs(shipmentId);
      });
    });
  });

  // ─── Regulators by market ────────────────────────────────────────────────────────────────────

  describe("regulators by market", function () {
    describe("quarantine", function () {
      it("is set by a regulator of one of the batch's markets, for its jurisdiction", async function () {
        const sys = await loadFixture(marketsFixture);
        await expect(sys.batchToken.connect(sys.regulator).quarantine(sys.deOnly, REASON))
          .to.emit(sys.batchToken, "BatchQuarantined")
          .withArgs(sys.deOnly, sys.regulator.address, code("DE"), REASON);
        const b = await sys.batchToken.batch(sys.deOnly);
        expect(b.status).to.equal(BatchStatus.Quarantined);
        expect(b.quarantineMask).to.equal(1n);
      });

      it("is set by the French regulator on a batch marketed in Germany and France (its own bit)", async function () {
        const sys = await loadFixture(marketsFixture);
        await expect(sys.batchToken.connect(sys.foreignRegulator).quarantine(sys.deFr, REASON))
          .to.emit(sys.batchToken, "BatchQuarantined")
          .withArgs(sys.deFr, sys.foreignRegulator.address, code("FR"), REASON);
        expect((await sys.batchToken.batch(sys.deFr)).quarantineMask).to.equal(2n);
      });

      it("is refused to a regulator outside the batch's markets", async function () {
        const sys = await loadFixture(marketsFixture);
        await expect(sys.batchToken.connect(sys.foreignRegulator).quarantine(sys.deOnly, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenJurisdictionNotMarket")
          .withArgs(sys.deOnly, code("FR"));
        expect(await status(sys, sys.deOnly)).to.equal(BatchStatus.Active);
      });

      it("is refused twice for the same jurisdiction", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON);
        await expect(sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenQuarantineState")
          .withArgs(sys.deFr, code("DE"), true);
      });

      it("is refused for a recalled batch", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).recall(sys.deFr, REASON);
        await expect(sys.batchToken.connect(sys.foreignRegulator).quarantine(sys.deFr, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
          .withArgs(sys.deFr, BatchStatus.Recalled);
      });

      it("is refused for an unknown batch", async function () {
        const sys = await loadFixture(marketsFixture);
        for (const action of ["quarantine", "liftQuarantine", "recall", "safetyNotice"] as const) {
          await expect(sys.batchToken.connect(sys.regulator)[action](99n, REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch")
            .withArgs(99n);
        }
      });

      const NOT_REGULATORS: [string, (s: System) => HardhatEthersSigner, number][] = [
        ["the batch's Producer", (s) => s.producer, Role.Producer],
        ["a Distributor", (s) => s.distributor, Role.Distributor],
        ["a Pharmacy", (s) => s.pharmacy, Role.Pharmacy],
        ["an Auditor", (s) => s.auditor, Role.Auditor],
      ];
      for (const [who, pick, role] of NOT_REGULATORS) {
        it(`refuses quarantine, lift and safety notice by ${who}`, async function () {
          const sys = await loadFixture(marketsFixture);
          const caller = pick(sys);
          await expect(sys.batchToken.connect(caller).quarantine(sys.deFr, REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(caller.address, role);
          await expect(sys.batchToken.connect(caller).safetyNotice(sys.deFr, REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(caller.address, role);
          await sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON);
          await expect(sys.batchToken.connect(caller).liftQuarantine(sys.deFr, REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
            .withArgs(caller.address, role);
        });
      }

      it("refuses a suspended regulator", async function () {
        const sys = await loadFixture(marketsFixture);
        await suspend(sys, sys.regulator);
        await expect(sys.batchToken.connect(sys.regulator).quarantine(sys.deOnly, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
          .withArgs(sys.regulator.address, Role.None);
      });
    });

    describe("lift", function () {
      it("is made by the jurisdiction that set the quarantine: the batch is Active again", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deOnly, REASON);
        const clean = ethers.id("lab results clean");
        await expect(sys.batchToken.connect(sys.regulator).liftQuarantine(sys.deOnly, clean))
          .to.emit(sys.batchToken, "BatchQuarantineLifted")
          .withArgs(sys.deOnly, sys.regulator.address, code("DE"), clean);
        const b = await sys.batchToken.batch(sys.deOnly);
        expect([b.status, b.quarantineMask]).to.deep.equal([BigInt(BatchStatus.Active), 0n]);
        await deliver(sys, sys.distributor, sys.deOnly, 1, sys.pharmacy);
      });

      it("is refused to another market's regulator: it has no quarantine of its own to lift", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON);
        await expect(sys.batchToken.connect(sys.foreignRegulator).liftQuarantine(sys.deFr, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenQuarantineState")
          .withArgs(sys.deFr, code("FR"), false);
        expect(await status(sys, sys.deFr)).to.equal(BatchStatus.Quarantined);
      });

      it("is refused to a regulator outside the batch's markets", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deOnly, REASON);
        await expect(sys.batchToken.connect(sys.foreignRegulator).liftQuarantine(sys.deOnly, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenJurisdictionNotMarket")
          .withArgs(sys.deOnly, code("FR"));
      });

      it("is refused where there is no quarantine", async function () {
        const sys = await loadFixture(marketsFixture);
        await expect(sys.batchToken.connect(sys.regulator).liftQuarantine(sys.deOnly, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenQuarantineState")
          .withArgs(sys.deOnly, code("DE"), false);
      });

      it("keeps a batch quarantined in two markets on hold until both lift", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON);
        await sys.batchToken.connect(sys.foreignRegulator).quarantine(sys.deFr, REASON);
        expect((await sys.batchToken.batch(sys.deFr)).quarantineMask).to.equal(3n);

        await sys.batchToken.connect(sys.regulator).liftQuarantine(sys.deFr, REASON);
        const b = await sys.batchToken.batch(sys.deFr);
        expect([b.status, b.quarantineMask]).to.deep.equal([BigInt(BatchStatus.Quarantined), 2n]);
        await expect(shipQty(sys, sys.distributor, sys.deFr, 1, sys.pharmacy.address))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
          .withArgs(Role.Distributor, Role.Pharmacy, BatchStatus.Quarantined);

        await sys.batchToken.connect(sys.foreignRegulator).liftQuarantine(sys.deFr, REASON);
        expect(await status(sys, sys.deFr)).to.equal(BatchStatus.Active);
        await deliver(sys, sys.distributor, sys.deFr, 1, sys.pharmacy2);
      });

      it("clears a quarantine under a recall without ending the recall", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON);
        await sys.batchToken.connect(sys.foreignRegulator).recall(sys.deFr, REASON);
        await sys.batchToken.connect(sys.regulator).liftQuarantine(sys.deFr, REASON);
        const b = await sys.batchToken.batch(sys.deFr);
        expect([b.status, b.quarantineMask]).to.deep.equal([BigInt(BatchStatus.Recalled), 0n]);
      });
    });

    describe("recall", function () {
      it("is made by a regulator of one of the batch's markets", async function () {
        const sys = await loadFixture(marketsFixture);
        await expect(sys.batchToken.connect(sys.regulator).recall(sys.deOnly, REASON))
          .to.emit(sys.batchToken, "BatchRecalled")
          .withArgs(sys.deOnly, sys.regulator.address, REASON);
        expect(await status(sys, sys.deOnly)).to.equal(BatchStatus.Recalled);
        await expect(sys.batchToken.connect(sys.foreignRegulator).recall(sys.deFr, REASON))
          .to.emit(sys.batchToken, "BatchRecalled")
          .withArgs(sys.deFr, sys.foreignRegulator.address, REASON);
      });

      it("is refused to a regulator outside the batch's markets", async function () {
        const sys = await loadFixture(marketsFixture);
        await expect(sys.batchToken.connect(sys.foreignRegulator).recall(sys.deOnly, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenJurisdictionNotMarket")
          .withArgs(sys.deOnly, code("FR"));
      });

      it("is made by the batch's producer (voluntary recall)", async function () {
        const sys = await loadFixture(marketsFixture);
        await expect(sys.batchToken.connect(sys.producer).recall(sys.deOnly, REASON))
          .to.emit(sys.batchToken, "BatchRecalled")
          .withArgs(sys.deOnly, sys.producer.address, REASON);
      });

      it("is made by the brand owner on a licensed contract manufacturer's batch, and by that manufacturer", async function () {
        const sys = await loadFixture(licensedFixture);
        await expect(sys.batchToken.connect(sys.producer).recall(sys.cmoBatch, REASON))
          .to.emit(sys.batchToken, "BatchRecalled")
          .withArgs(sys.cmoBatch, sys.producer.address, REASON);
        const second = await mintQuantity(sys, { lot: "CMO-2", by: sys.producer2 });
        await expect(sys.batchToken.connect(sys.producer2).recall(second, REASON))
          .to.emit(sys.batchToken, "BatchRecalled")
          .withArgs(second, sys.producer2.address, REASON);
      });

      it("is refused to a producer that neither made the batch nor owns its product", async function () {
        const sys = await loadFixture(licensedFixture);
        const own = await mintQuantity(sys, { lot: "OWN" });
        await expect(sys.batchToken.connect(sys.producer2).recall(own, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotRecaller")
          .withArgs(own, sys.producer2.address);
        const theirs = await mintQuantity(sys, { lot: "THEIRS", gtin: GTIN2, by: sys.producer2 });
        await expect(sys.batchToken.connect(sys.producer).recall(theirs, REASON))
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotRecaller")
          .withArgs(theirs, sys.producer.address);
      });

      it("is refused to members that are neither regulators nor producers, to non-members, and to a suspended regulator", async function () {
        const sys = await loadFixture(marketsFixture);
        await suspend(sys, sys.foreignRegulator);
        for (const [caller, named] of [
          [sys.distributor, sys.distributor.address],
          [sys.pharmacy, sys.pharmacy.address],
          [sys.auditor, sys.auditor.address],
          [sys.foreignRegulator, sys.foreignRegulator.address],
          [sys.outsider, ethers.ZeroAddress],
        ] as const) {
          await expect(sys.batchToken.connect(caller).recall(sys.deFr, REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotRecaller")
            .withArgs(sys.deFr, named);
        }
      });

      it("recalls a quarantined batch, keeping its quarantines, and is final: no second recall, no quarantine", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON);
        await sys.batchToken.connect(sys.foreignRegulator).recall(sys.deFr, REASON);
        const b = await sys.batchToken.batch(sys.deFr);
        expect([b.status, b.quarantineMask]).to.deep.equal([BigInt(BatchStatus.Recalled), 1n]);
        for (const caller of [sys.regulator, sys.producer]) {
          await expect(sys.batchToken.connect(caller).recall(sys.deFr, REASON))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
            .withArgs(sys.deFr, BatchStatus.Recalled);
        }
      });
    });

    describe("undoRecall (governance)", function () {
      it("returns a recall made in error to Active when no quarantine remains", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.regulator).recall(sys.deOnly, REASON);
        const why = ethers.id("recalled the wrong lot");
        const undo = await approvedTokenAction(sys, "undoRecall", [sys.deOnly, why]);
        await expect(undo()).to.emit(sys.batchToken, "RecallUndone").withArgs(sys.deOnly, why);
        expect(await status(sys, sys.deOnly)).to.equal(BatchStatus.Active);
        await deliver(sys, sys.distributor, sys.deOnly, 1, sys.pharmacy);
      });

      it("returns it to Quarantined while a market's quarantine remains", async function () {
        const sys = await loadFixture(marketsFixture);
        await sys.batchToken.connect(sys.foreignRegulator).quarantine(sys.deFr, REASON);
        await sys.batchToken.connect(sys.regulator).recall(sys.deFr, REASON);
        await governToken(sys, "undoRecall", [sys.deFr, REASON]);
        expect(await status(sys, sys.deFr)).to.equal(BatchStatus.Quarantined);
        await sys.batchToken.connect(sys.foreignRegulator).liftQuarantine(sys.deFr, REASON);
        expect(await status(sys, sys.deFr)).to.equal(BatchStatus.Active);
      });

      it("is refused for a batch that is not recalled, and for an unknown batch", async function () {
        const sys = await loadFixture(marketsFixture);
        const active = await approvedTokenAction(sys, "undoRecall", [sys.deOnly, REASON]);
        await expect(active()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus").withArgs(sys.deOnly, BatchStatus.Active);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.deOnly, REASON);
        const quarantined = await approvedTokenAction(sys, "undoRecall", [sys.deOnly, REASON]);
        await expect(quarantined())
          .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidStatus")
          .withArgs(sys.deOnly, BatchStatus.Quarantined);
        const unknown = await approvedTokenAction(sys, "undoRecall", [99n, REASON]);
        await expect(unknown()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch").withArgs(99n);
      });
    });

    describe("safetyNotice", function () {
      it("is recorded by any regulator, also outside the batch's markets, without changing its status", async function () {
        const sys = await loadFixture(marketsFixture);
        const notice = ethers.id("falsified packs seen in FR");
        await expect(sys.batchToken.connect(sys.foreignRegulator).safetyNotice(sys.deOnly, notice))
          .to.emit(sys.batchToken, "SafetyNoticeIssued")
          .withArgs(sys.deOnly, sys.foreignRegulator.address, code("FR"), notice);
        await expect(sys.batchToken.connect(sys.regulator).safetyNotice(sys.deOnly, notice))
          .to.emit(sys.batchToken, "SafetyNoticeIssued")
          .withArgs(sys.deOnly, sys.regulator.address, code("DE"), notice);
        const b = await sys.batchToken.batch(sys.deOnly);
        expect([b.status, b.quarantineMask]).to.deep.equal([BigInt(BatchStatus.Active), 0n]);
        await deliver(sys, sys.distributor, sys.deOnly, 1, sys.pharmacy);
      });
    });
  });

  // ─── Governance hooks ────────────────────────────────────────────────────────────────────────

  describe("governance hooks", function () {
    describe("setPaused", function () {
      /** Quantity stock, a serialised batch with packs at the pharmacy, a pending shipment; then custody paused. */
      async function pausedFixture() {
        const sys = await quantityFixture();
        const ser = await mintBatch(sys, { lot: "SER-P", units: 20 });
        await deliver(sys, sys.producer, ser.batchId, [units(0, 10)], sys.distributor);
        await deliver(sys, sys.distributor, ser.batchId, [units(0, 5)], sys.pharmacy);
        const pending = await ship(sys, sys.producer, sys.batchId, 5, sys.distributor);
        await governToken(sys, "setPaused", [true, REASON]);
        return { ...sys, ser, pending };
      }
      type Paused = Awaited<ReturnType<typeof pausedFixture>>;

      it("pauses and resumes custody, emitting CustodyPaused", async function () {
        const sys = await loadFixture(quantityFixture);
        expect(await sys.batchToken.paused()).to.equal(false);
        const pause = await approvedTokenAction(sys, "setPaused", [true, REASON]);
        await expect(pause()).to.emit(sys.batchToken, "CustodyPaused").withArgs(true, REASON);
        expect(await sys.batchToken.paused()).to.equal(true);
        const resume = await approvedTokenAction(sys, "setPaused", [false, EVIDENCE]);
        await expect(resume()).to.emit(sys.batchToken, "CustodyPaused").withArgs(false, EVIDENCE);
        expect(await sys.batchToken.paused()).to.equal(false);
      });

      const CUSTODY: [string, (s: Paused) => Promise<unknown>][] = [
        ["mintBatch", (s) => s.batchToken.connect(s.producer).mintBatch(batchInput(s.today, { lot: "NEW", serialised: false }).input)],
        ["ship", (s) => shipQty(s, s.distributor, s.batchId, 1, s.pharmacy.address)],
        ["acceptShipment", (s) => s.batchToken.connect(s.distributor).acceptShipment(s.pending.shipmentId, s.pending.shipment)],
        ["rejectShipment", (s) => s.batchToken.connect(s.distributor).rejectShipment(s.pending.shipmentId, s.pending.shipment, RejectReason.Damaged)],
        ["cancelShipment", (s) => s.batchToken.connect(s.producer).cancelShipment(s.pending.shipmentId, s.pending.shipment)],
        ["writeOff", (s) => s.batchToken.connect(s.pharmacy).writeOff(s.batchId, 1, LossReason.Destroyed, EVIDENCE)],
        ["dispense", (s) => s.batchToken.connect(s.pharmacy).dispense(s.ser.batchId, 0, s.ser.serials[0], s.ser.proofOf(0))],
        ["undoDispense", (s) => s.batchToken.connect(s.pharmacy).undoDispense(s.ser.batchId, 0, REASON)],
        ["unpack", (s) => s.batchToken.connect(s.producer).unpack(s.ser.batchId, [])],
        ["decommission", (s) => s.batchToken.connect(s.pharmacy).decommission(s.ser.batchId, [units(1)], PackState.Destroyed, EVIDENCE)],
        ["revertDecommission", (s) => s.batchToken.connect(s.pharmacy).revertDecommission(s.ser.batchId, [units(1)], REASON)],
        ["lock", (s) => s.batchToken.connect(s.pharmacy).lock(s.ser.batchId, [units(2)], REASON)],
        ["unlock", (s) => s.batchToken.connect(s.pharmacy).unlock(s.ser.batchId, s.pharmacy.address, [units(2)], REASON)],
      ];
      for (const [action, call] of CUSTODY) {
        it(`refuses ${action} while paused (BatchTokenPaused)`, async function () {
          const sys = await loadFixture(pausedFixture);
          await expect(call(sys)).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenPaused");
        });
      }

      it("keeps regulator actions, product registration and governance recovery open while paused", async function () {
        const sys = await loadFixture(pausedFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
        await sys.batchToken.connect(sys.regulator).liftQuarantine(sys.batchId, REASON);
        await sys.batchToken.connect(sys.foreignRegulator).safetyNotice(sys.batchId, REASON);
        await sys.batchToken.connect(sys.regulator).recall(sys.ser.batchId, REASON);
        expect(await status(sys, sys.ser.batchId)).to.equal(BatchStatus.Recalled);

        await sys.batchToken.connect(sys.producer).registerProduct(BigInt(NEW_GTIN), codes(["DE"]), REASON);
        await sys.batchToken.connect(sys.producer).updateProduct(BigInt(NEW_GTIN), codes(["FR"]), REASON);
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(NEW_GTIN), ProductStatus.Withdrawn, REASON);
        await sys.batchToken.connect(sys.producer).setPrefixLicence(PREFIX_KEY, sys.producer2.address, true);
        expect(await sys.batchToken.isLicensed(PREFIX_KEY, sys.producer2.address)).to.equal(true);

        await governToken(sys, "recoverShipment", [sys.pending.shipmentId, sys.pending.shipment, sys.distributor.address, EVIDENCE]);
        await governToken(sys, "recoverCustody", [sys.batchId, sys.pharmacy.address, sys.distributor2.address, 10n, [], PackState.Held, EVIDENCE]);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(35n);
        expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(10n);
      });

      it("lets custody go on once resumed", async function () {
        const sys = await loadFixture(pausedFixture);
        await governToken(sys, "setPaused", [false, REASON]);
        await sys.batchToken.connect(sys.distributor).acceptShipment(sys.pending.shipmentId, sys.pending.shipment);
        await deliver(sys, sys.distributor, sys.batchId, 1, sys.pharmacy);
        await sys.batchToken.connect(sys.pharmacy).dispense(sys.ser.batchId, 0, sys.ser.serials[0], sys.ser.proofOf(0));
        await sys.batchToken.connect(sys.pharmacy).writeOff(sys.batchId, 1, LossReason.Destroyed, EVIDENCE);
        await mintQuantity(sys, { lot: "NEW" });
        expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(10n);
        expect(await balance(sys, sys.pharmacy, sys.ser.batchId)).to.equal(4n);
      });
    });

    describe("setUndoWindow", function () {
      it("sets the window from 1 to 90 days", async function () {
        const sys = await loadFixture(batchTokenFixture);
        expect(await sys.batchToken.undoWindowDays()).to.equal(10n);
        const one = await approvedTokenAction(sys, "setUndoWindow", [1]);
        await expect(one()).to.emit(sys.batchToken, "UndoWindowChanged").withArgs(10, 1);
        const ninety = await approvedTokenAction(sys, "setUndoWindow", [90]);
        await expect(ninety()).to.emit(sys.batchToken, "UndoWindowChanged").withArgs(1, 90);
        expect(await sys.batchToken.undoWindowDays()).to.equal(90n);
      });

      for (const days of [0, 91]) {
        it(`refuses ${days} days (BatchTokenInvalidUndoWindow)`, async function () {
          const sys = await loadFixture(batchTokenFixture);
          const set = await approvedTokenAction(sys, "setUndoWindow", [days]);
          await expect(set()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidUndoWindow").withArgs(days);
          expect(await sys.batchToken.undoWindowDays()).to.equal(10n);
        });
      }
    });

    describe("recoverCustody of a batch without serials", function () {
      async function revokedHolderFixture() {
        const sys = await quantityFixture();
        await revoke(sys, sys.distributor);
        return sys;
      }

      it("moves what a revoked member held to a successor", async function () {
        const sys = await loadFixture(revokedHolderFixture);
        const recover = await approvedTokenAction(sys, "recoverCustody", [
          sys.batchId,
          sys.distributor.address,
          sys.distributor2.address,
          30n,
          [],
          PackState.None,
          EVIDENCE,
        ]);
        await expect(recover())
          .to.emit(sys.batchToken, "CustodyRecovered")
          .withArgs(sys.batchId, sys.distributor.address, sys.distributor2.address, PackState.Held, [], 30n, EVIDENCE)
          .and.to.emit(sys.batchToken, "TransferSingle")
          .withArgs(await sys.consortium.getAddress(), sys.distributor.address, sys.distributor2.address, sys.batchId, 30n);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(0n);
        expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(30n);
        // The successor holds them like any other stock.
        await deliver(sys, sys.distributor2, sys.batchId, 30, sys.pharmacy);
      });

      it("moves part of a holding", async function () {
        const sys = await loadFixture(revokedHolderFixture);
        await governToken(sys, "recoverCustody", [sys.batchId, sys.distributor.address, sys.pharmacy.address, 12n, [], PackState.Held, EVIDENCE]);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(18n);
        expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(22n);
      });

      for (const [name, state] of [
        ["Destroyed", PackState.Destroyed],
        ["Stolen", PackState.Stolen],
      ] as const) {
        it(`takes units out of circulation as ${name}`, async function () {
          const sys = await loadFixture(revokedHolderFixture);
          const recover = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, sys.distributor.address, ethers.ZeroAddress, 30n, [], state, EVIDENCE]);
          await expect(recover())
            .to.emit(sys.batchToken, "CustodyRecovered")
            .withArgs(sys.batchId, sys.distributor.address, ethers.ZeroAddress, state, [], 30n, EVIDENCE)
            .and.to.emit(sys.batchToken, "TransferSingle")
            .withArgs(await sys.consortium.getAddress(), sys.distributor.address, ethers.ZeroAddress, sys.batchId, 30n);
          expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(0n);
        });
      }

      for (const [name, state] of [
        ["Held", PackState.Held],
        ["None", PackState.None],
        ["Sample", PackState.Sample],
        ["Dispensed", PackState.Dispensed],
        ["Locked", PackState.Locked],
      ] as const) {
        it(`refuses ${name} as the state of units taken out of circulation (BatchTokenInvalidDecommission)`, async function () {
          const sys = await loadFixture(revokedHolderFixture);
          const recover = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, sys.distributor.address, ethers.ZeroAddress, 30n, [], state, EVIDENCE]);
          await expect(recover()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenInvalidDecommission").withArgs(state);
        });
      }

      it("refuses a successor that cannot hold stock", async function () {
        const sys = await loadFixture(revokedHolderFixture);
        for (const [to, role] of [
          [sys.auditor.address, Role.Auditor],
          [sys.regulator.address, Role.Regulator],
          [sys.distributor.address, Role.None],
          [sys.outsider.address, Role.None],
        ] as const) {
          const recover = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, sys.distributor.address, to, 30n, [], PackState.Held, EVIDENCE]);
          await expect(recover()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock").withArgs(to, role);
        }
      });

      it("refuses items, a zero quantity, more than held and an unknown batch", async function () {
        const sys = await loadFixture(revokedHolderFixture);
        const d = sys.distributor.address;
        const d2 = sys.distributor2.address;
        const withItems = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, d, d2, 1n, [units(0)], PackState.Held, EVIDENCE]);
        await expect(withItems()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotSerialised").withArgs(sys.batchId);
        const zero = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, d, d2, 0n, [], PackState.Held, EVIDENCE]);
        await expect(zero()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenZeroQuantity");
        const tooMany = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, d, d2, 31n, [], PackState.Held, EVIDENCE]);
        await expect(tooMany())
          .to.be.revertedWithCustomError(sys.batchToken, "ERC1155InsufficientBalance")
          .withArgs(d, 30n, 31n, sys.batchId);
        const unknown = await approvedTokenAction(sys, "recoverCustody", [99n, d, d2, 1n, [], PackState.Held, EVIDENCE]);
        await expect(unknown()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnknownBatch").withArgs(99n);
      });

      it("refuses items for units of a batch without serials taken out of circulation (BatchTokenNotSerialised)", async function () {
        const sys = await loadFixture(revokedHolderFixture);
        const recover = await approvedTokenAction(sys, "recoverCustody", [
          sys.batchId,
          sys.distributor.address,
          ethers.ZeroAddress,
          1n,
          [units(0)],
          PackState.Destroyed,
          EVIDENCE,
        ]);
        await expect(recover()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotSerialised").withArgs(sys.batchId);
      });
    });

    describe("recoverCustody of a serialised batch", function () {
      /** 30 packs; 0–19 at the distributor, which locked 5–6 for an investigation and was then revoked. */
      async function revokedPacksFixture() {
        const sys = await batchTokenFixture();
        const minted = await mintBatch(sys, { lot: "SER-R", units: 30 });
        await deliver(sys, sys.producer, minted.batchId, [units(0, 20)], sys.distributor);
        await sys.batchToken.connect(sys.distributor).lock(minted.batchId, [units(5, 2)], REASON);
        await revoke(sys, sys.distributor);
        return { ...sys, ...minted };
      }

      it("moves the packs a revoked member held, locked ones included, to a successor", async function () {
        const sys = await loadFixture(revokedPacksFixture);
        const recover = await approvedTokenAction(sys, "recoverCustody", [
          sys.batchId,
          sys.distributor.address,
          sys.distributor2.address,
          20n,
          [units(0, 20)],
          PackState.Held,
          EVIDENCE,
        ]);
        await expect(recover())
          .to.emit(sys.batchToken, "CustodyRecovered")
          .withArgs(sys.batchId, sys.distributor.address, sys.distributor2.address, PackState.Held, [[0, 0, 20]], 20n, EVIDENCE);
        expect(await sys.batchToken.holdsUnits(sys.batchId, sys.distributor2.address, [units(0, 20)])).to.equal(true);
        expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(20n);
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(0n);
        await deliver(sys, sys.distributor2, sys.batchId, [units(5, 2)], sys.pharmacy);
      });

      it("takes them out of circulation as Destroyed", async function () {
        const sys = await loadFixture(revokedPacksFixture);
        await governToken(sys, "recoverCustody", [sys.batchId, sys.distributor.address, ethers.ZeroAddress, 20n, [units(0, 20)], PackState.Destroyed, EVIDENCE]);
        for (const index of [0, 5, 19]) {
          expect((await sys.batchToken.packState(sys.batchId, 0, index)).state).to.equal(BigInt(PackState.Destroyed));
          expect(await sys.batchToken.verifyUnit(BigInt(GTIN), "SER-R", sys.serials[index], sys.input.expiryDay, index, sys.proofOf(index))).to.equal(
            Verdict.Destroyed,
          );
        }
        expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(0n);
      });

      it("refuses a quantity other than the items', and no items", async function () {
        const sys = await loadFixture(revokedPacksFixture);
        const d = sys.distributor.address;
        const d2 = sys.distributor2.address;
        const mismatch = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, d, d2, 19n, [units(0, 20)], PackState.Held, EVIDENCE]);
        await expect(mismatch()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenQuantityMismatch").withArgs(19n, 20n);
        const noItems = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, d, d2, 20n, [], PackState.Held, EVIDENCE]);
        await expect(noItems()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenQuantityMismatch").withArgs(20n, 0n);
        const noItemsOut = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, d, ethers.ZeroAddress, 20n, [], PackState.Destroyed, EVIDENCE]);
        await expect(noItemsOut()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenItemsRequired").withArgs(sys.batchId);
        const mismatchOut = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, d, ethers.ZeroAddress, 21n, [units(0, 20)], PackState.Stolen, EVIDENCE]);
        await expect(mismatchOut()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenQuantityMismatch").withArgs(21n, 20n);
      });
    });

    describe("only governance", function () {
      const CALLS: [string, (s: Quantity) => unknown[]][] = [
        ["setPaused", () => [true, REASON]],
        ["setUndoWindow", () => [5]],
        ["undoRecall", (s) => [s.batchId, REASON]],
        ["recoverCustody", (s) => [s.batchId, s.distributor.address, s.distributor2.address, 1n, [], PackState.Held, EVIDENCE]],
        [
          "recoverShipment",
          (s) => [1n, { batchId: s.batchId, sender: s.producer.address, receiver: s.distributor.address, quantity: 40n, kind: Kind.Forward, items: [] }, s.distributor2.address, EVIDENCE],
        ],
      ];

      for (const [fn, args] of CALLS) {
        it(`refuses ${fn} called directly, by a governor or a member (BatchTokenOnlyGovernance)`, async function () {
          const sys = await loadFixture(quantityFixture);
          for (const caller of [sys.governors[0], sys.producer, sys.regulator, sys.outsider]) {
            await expect(sys.batchToken.connect(caller).getFunction(fn)(...args(sys)))
              .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenOnlyGovernance")
              .withArgs(caller.address);
          }
        });

        it(`refuses ${fn} relayed through the forwarder: msg.sender is the forwarder, whoever the request names`, async function () {
          const sys = await loadFixture(quantityFixture);
          const forwarder = await sys.forwarder.getAddress();
          const data = encode(sys.batchToken.interface, fn, args(sys));
          const request = await signedRequest(sys.forwarder, sys.governors[0], sys.batchToken, data);
          await expect(simulateForwardedCall(sys.forwarder, request))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenOnlyGovernance")
            .withArgs(forwarder);
          // Even a call the forwarder made "from" the Consortium (nobody can sign one) is not governance.
          const asConsortium = { ...request, from: await sys.consortium.getAddress() };
          await expect(simulateForwardedCall(sys.forwarder, asConsortium))
            .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenOnlyGovernance")
            .withArgs(forwarder);
          await expect(sys.forwarder.connect(sys.relayer).execute(request)).to.be.revertedWithCustomError(sys.forwarder, "FailedCall");
          expect(await sys.batchToken.paused()).to.equal(false);
          expect(await sys.batchToken.undoWindowDays()).to.equal(10n);
        });
      }
    });
  });

  // ─── verifyUnit: batch- and product-level verdicts ───────────────────────────────────────────

  describe("verifyUnit (batch and product verdicts)", function () {
    /** A serialised batch of 100 packs expiring in 30 days: 0–19 at the distributor, 0–4 of them on to the pharmacy. */
    async function verifyFixture() {
      const sys = await batchTokenFixture();
      const minted = await mintBatch(sys, { lot: "LOT-V1", expiryInDays: 30 });
      await deliver(sys, sys.producer, minted.batchId, [units(0, 20)], sys.distributor);
      await deliver(sys, sys.distributor, minted.batchId, [units(0, 5)], sys.pharmacy);
      return { ...sys, ...minted };
    }
    type Verify = Awaited<ReturnType<typeof verifyFixture>>;

    function verify(
      sys: Verify,
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

    it("says Genuine for a pack of an active, unexpired batch, wherever it is held", async function () {
      const sys = await loadFixture(verifyFixture);
      for (const index of [0, 10, 50, 99]) expect(await verify(sys, index)).to.equal(Verdict.Genuine);
    });

    it("says UnknownBatch for an unknown GTIN or lot (lots are case-sensitive)", async function () {
      const sys = await loadFixture(verifyFixture);
      expect(await verify(sys, 5, { gtin: BigInt(GTIN2) })).to.equal(Verdict.UnknownBatch);
      expect(await verify(sys, 5, { lot: "LOT-V2" })).to.equal(Verdict.UnknownBatch);
      expect(await verify(sys, 5, { lot: "lot-v1" })).to.equal(Verdict.UnknownBatch);
    });

    it("says NotInBatch for a wrong serial, another pack's proof, a wrong index or an empty proof", async function () {
      const sys = await loadFixture(verifyFixture);
      expect(await verify(sys, 5, { serial: "LOT-V1-000500" })).to.equal(Verdict.NotInBatch);
      expect(await verify(sys, 5, { proof: sys.proofOf(6) })).to.equal(Verdict.NotInBatch);
      expect(await verify(sys, 5, { unitIndex: 6 })).to.equal(Verdict.NotInBatch);
      expect(await verify(sys, 5, { proof: [] })).to.equal(Verdict.NotInBatch);
    });

    it("says NotInBatch for any pack of a batch without serials", async function () {
      const sys = await loadFixture(verifyFixture);
      const plain = await mintBatch(sys, { lot: "PLAIN", serialised: false, units: 4 });
      expect(await sys.batchToken.verifyUnit(BigInt(GTIN), "PLAIN", plain.serials[0], plain.input.expiryDay, 0, plain.proofOf(0))).to.equal(
        Verdict.NotInBatch,
      );
      expect(await sys.batchToken.verifyUnit(BigInt(GTIN), "PLAIN", "", plain.input.expiryDay, 0, [])).to.equal(Verdict.NotInBatch);
    });

    it("says NotInBatch for an index at or past the serial count, even with a valid proof of a tree with extra leaves", async function () {
      const sys = await loadFixture(verifyFixture);
      // The producer committed a tree of 11 leaves but declared 10 packs: leaf 10 is proven, but is no pack.
      const extra = serialTree(11, "XTRA-");
      const { input } = batchInput(sys.today, { lot: "XTRA", units: 10 });
      await sys.batchToken.connect(sys.producer).mintBatch({ ...input, serialsRoot: extra.root });
      const check = (i: number) => sys.batchToken.verifyUnit(BigInt(GTIN), "XTRA", extra.serials[i], input.expiryDay, i, extra.proofOf(i));
      expect(await check(9)).to.equal(Verdict.Genuine);
      expect(await check(10)).to.equal(Verdict.NotInBatch);
    });

    it("says ExpiryMismatch when the printed expiry differs from the batch's", async function () {
      const sys = await loadFixture(verifyFixture);
      expect(await verify(sys, 5, { expiryDay: sys.input.expiryDay + 1 })).to.equal(Verdict.ExpiryMismatch);
      expect(await verify(sys, 5, { expiryDay: sys.input.expiryDay - 1 })).to.equal(Verdict.ExpiryMismatch);
    });

    it("says Withdrawn while the product is withdrawn, and Genuine once it is back", async function () {
      const sys = await loadFixture(verifyFixture);
      await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
      expect(await verify(sys, 5)).to.equal(Verdict.Withdrawn);
      await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Active, REASON);
      expect(await verify(sys, 5)).to.equal(Verdict.Genuine);
    });

    it("says Recalled for a recalled batch", async function () {
      const sys = await loadFixture(verifyFixture);
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      expect(await verify(sys, 50)).to.equal(Verdict.Recalled);
    });

    it("says Quarantined for a quarantined batch, and Genuine again after the lift", async function () {
      const sys = await loadFixture(verifyFixture);
      await sys.batchToken.connect(sys.foreignRegulator).quarantine(sys.batchId, REASON);
      expect(await verify(sys, 50)).to.equal(Verdict.Quarantined);
      await sys.batchToken.connect(sys.foreignRegulator).liftQuarantine(sys.batchId, REASON);
      expect(await verify(sys, 50)).to.equal(Verdict.Genuine);
    });

    it("says Genuine through the expiry day and Expired the day after", async function () {
      const sys = await loadFixture(verifyFixture);
      await time.increaseTo((sys.input.expiryDay + 1) * DAY - 1);
      expect(await verify(sys, 50)).to.equal(Verdict.Genuine);
      await time.increaseTo((sys.input.expiryDay + 1) * DAY);
      expect(await verify(sys, 50)).to.equal(Verdict.Expired);
    });

    describe("in the order the NatSpec gives", function () {
      it("UnknownBatch before everything, NotInBatch before ExpiryMismatch, ExpiryMismatch before Withdrawn", async function () {
        const sys = await loadFixture(verifyFixture);
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
        const wrongExpiry = sys.input.expiryDay + 1;
        expect(await verify(sys, 5, { expiryDay: wrongExpiry })).to.equal(Verdict.ExpiryMismatch);
        expect(await verify(sys, 5, { serial: "FAKE", expiryDay: wrongExpiry })).to.equal(Verdict.NotInBatch);
        expect(await verify(sys, 5, { lot: "NOPE", serial: "FAKE", expiryDay: wrongExpiry })).to.equal(Verdict.UnknownBatch);
      });

      it("Withdrawn before Recalled: a withdrawn product of a recalled batch says Withdrawn", async function () {
        const sys = await loadFixture(verifyFixture);
        await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
        await sys.batchToken.connect(sys.producer).setProductStatus(BigInt(GTIN), ProductStatus.Withdrawn, REASON);
        expect(await verify(sys, 5)).to.equal(Verdict.Withdrawn);
      });

      it("Recalled before Quarantined", async function () {
        const sys = await loadFixture(verifyFixture);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
        await sys.batchToken.connect(sys.foreignRegulator).recall(sys.batchId, REASON);
        expect(await verify(sys, 5)).to.equal(Verdict.Recalled);
      });

      it("Quarantined before the pack's own state (dispensed, destroyed, locked, in transit), and that before Expired", async function () {
        const sys = await loadFixture(verifyFixture);
        await sys.batchToken.connect(sys.pharmacy).dispense(sys.batchId, 0, sys.serials[0], sys.proofOf(0));
        await sys.batchToken.connect(sys.pharmacy).decommission(sys.batchId, [units(1)], PackState.Destroyed, EVIDENCE);
        await sys.batchToken.connect(sys.pharmacy).lock(sys.batchId, [units(2)], REASON);
        await ship(sys, sys.distributor, sys.batchId, [units(10)], sys.pharmacy2);
        await sys.batchToken.connect(sys.regulator).quarantine(sys.batchId, REASON);
        await after(sys.input.expiryDay);
        for (const index of [0, 1, 2, 10, 50]) expect(await verify(sys, index)).to.equal(Verdict.Quarantined);
        await sys.batchToken.connect(sys.regulator).liftQuarantine(sys.batchId, REASON);
        // The pack's own state, then expiry.
        expect(await verify(sys, 0)).to.equal(Verdict.Dispensed);
        expect(await verify(sys, 1)).to.equal(Verdict.Destroyed);
        expect(await verify(sys, 2)).to.equal(Verdict.Locked);
        expect(await verify(sys, 10)).to.equal(Verdict.InTransit);
        expect(await verify(sys, 50)).to.equal(Verdict.Expired);
      });
    });
  });

  // ─── Regressions of the security review ──────────────────────────────────────────────────────

  describe("regressions", function () {
    it("regression (issue 11): any producer can mint under any GTIN — producer2 can neither register nor mint the producer's GTIN, nor take its next lot first", async function () {
      const sys = await loadFixture(batchTokenFixture);
      // Claim a GTIN of the producer's prefix, and the producer's registered product.
      await expect(sys.batchToken.connect(sys.producer2).registerProduct(BigInt(NEW_GTIN), codes(["FR"]), REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotBrandOwner")
        .withArgs(BigInt(NEW_GTIN), sys.producer2.address, sys.producer.address);
      await expect(sys.batchToken.connect(sys.producer2).registerProduct(BigInt(GTIN), codes(["FR"]), REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenProductExists")
        .withArgs(BigInt(GTIN), sys.producer.address);
      // Mint the producer's next lot before the producer does.
      const { input } = batchInput(sys.today, { lot: "LOT-A2", units: 30 });
      await expect(sys.batchToken.connect(sys.producer2).mintBatch(input))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotLicensed")
        .withArgs(BigInt(GTIN), sys.producer2.address);
      expect(await sys.batchToken.batchIdOf(BigInt(GTIN), "LOT-A2")).to.equal(0n);
      // The real lot still mints, as the producer's.
      await sys.batchToken.connect(sys.producer).mintBatch(input);
      const id = await sys.batchToken.batchIdOf(BigInt(GTIN), "LOT-A2");
      expect((await sys.batchToken.batch(id)).producer).to.equal(sys.producer.address);
      expect(await balance(sys, sys.producer, id)).to.equal(30n);
      expect((await sys.batchToken.product(BigInt(NEW_GTIN))).status).to.equal(ProductStatus.None);
    });

    it("regression (issue 12): regulator powers ignore jurisdiction — a French regulator cannot lift a German quarantine of a German-only batch, nor recall it", async function () {
      const sys = await loadFixture(marketsFixture);
      await sys.batchToken.connect(sys.regulator).quarantine(sys.deOnly, REASON);
      await expect(sys.batchToken.connect(sys.foreignRegulator).liftQuarantine(sys.deOnly, REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenJurisdictionNotMarket")
        .withArgs(sys.deOnly, code("FR"));
      expect(await status(sys, sys.deOnly)).to.equal(BatchStatus.Quarantined);
      // Meanwhile the batch does not move forward.
      await expect(shipQty(sys, sys.distributor, sys.deOnly, 1, sys.pharmacy.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenFlowNotAllowed")
        .withArgs(Role.Distributor, Role.Pharmacy, BatchStatus.Quarantined);
      // A regulator outside the batch's markets cannot recall it either.
      await expect(sys.batchToken.connect(sys.foreignRegulator).recall(sys.deOnly, REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenJurisdictionNotMarket")
        .withArgs(sys.deOnly, code("FR"));
      expect(await status(sys, sys.deOnly)).to.equal(BatchStatus.Quarantined);
      // Where France is a market, it still cannot lift Germany's quarantine.
      await sys.batchToken.connect(sys.regulator).quarantine(sys.deFr, REASON);
      await expect(sys.batchToken.connect(sys.foreignRegulator).liftQuarantine(sys.deFr, REASON))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenQuarantineState")
        .withArgs(sys.deFr, code("FR"), false);
    });

    it("regression (issue 12): forward turned into return — the sender made a Pharmacy in transit cannot have recalled units accepted", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.distributor2);
      expect(shipment.kind).to.equal(BigInt(Kind.Forward));
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      // Pharmacy → Distributor is a return, which a recall allows: the attack of the review.
      await changeRole(sys, sys.distributor, Role.Pharmacy);
      await expect(sys.batchToken.connect(sys.distributor2).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenShipmentKindChanged")
        .withArgs(shipmentId, Kind.Forward);
      expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(0n);
      await sys.batchToken.connect(sys.distributor2).rejectShipment(shipmentId, shipment, RejectReason.SuspectProduct);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(30n);
    });

    it("regression (issue 12): forward turned into return — the receiver made the batch's Producer again in transit cannot accept recalled units", async function () {
      const sys = await loadFixture(quantityFixture);
      // The batch's producer, made a Distributor, is sent units forward (Distributor → Distributor).
      await changeRole(sys, sys.producer, Role.Distributor);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 5, sys.producer);
      expect(shipment.kind).to.equal(BigInt(Kind.Forward));
      await sys.batchToken.connect(sys.regulator).recall(sys.batchId, REASON);
      // Back to Producer, it would now be the batch's producer receiving a return.
      await changeRole(sys, sys.producer, Role.Producer);
      await expect(sys.batchToken.connect(sys.producer).acceptShipment(shipmentId, shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenShipmentKindChanged")
        .withArgs(shipmentId, Kind.Forward);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
    });

    it("regression (issue 12): frozen custody — units rejected back to a revoked member are refused at rejection, and governance moves them to a successor", async function () {
      const sys = await loadFixture(quantityFixture);
      const { shipmentId, shipment } = await ship(sys, sys.distributor, sys.batchId, 30, sys.pharmacy);
      await revoke(sys, sys.distributor);
      await expect(sys.batchToken.connect(sys.pharmacy).rejectShipment(shipmentId, shipment, RejectReason.NotOrdered))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock")
        .withArgs(sys.distributor.address, Role.None);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(0n);
      await governToken(sys, "recoverShipment", [shipmentId, shipment, sys.distributor2.address, EVIDENCE]);
      expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(30n);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(0n);
      // The successor's stock moves on.
      await deliver(sys, sys.distributor2, sys.batchId, 30, sys.pharmacy);
      expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(40n);
    });

    it("regression (issue 12): frozen custody — units held by a revoked member are moved by recoverCustody", async function () {
      const sys = await loadFixture(quantityFixture);
      await revoke(sys, sys.distributor);
      await expect(shipQty(sys, sys.distributor, sys.batchId, 30, sys.pharmacy.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(sys.distributor.address, Role.None);
      await governToken(sys, "recoverCustody", [sys.batchId, sys.distributor.address, sys.distributor2.address, 25n, [], PackState.Held, EVIDENCE]);
      await governToken(sys, "recoverCustody", [sys.batchId, sys.distributor.address, ethers.ZeroAddress, 5n, [], PackState.Destroyed, EVIDENCE]);
      expect(await balance(sys, sys.distributor, sys.batchId)).to.equal(0n);
      expect(await balance(sys, sys.distributor2, sys.batchId)).to.equal(25n);
      await deliver(sys, sys.distributor2, sys.batchId, 25, sys.pharmacy);
    });

    it("regression (issue 12): frozen custody — no path credits units to a member that cannot hold stock", async function () {
      const sys = await loadFixture(quantityFixture);
      const inbound = await ship(sys, sys.producer, sys.batchId, 10, sys.distributor);
      const outbound = await ship(sys, sys.distributor, sys.batchId, 10, sys.pharmacy);
      await revoke(sys, sys.distributor);
      const revoked = sys.distributor.address;
      // Shipping to it, accepting as it, rejecting or cancelling back to it.
      await expect(shipQty(sys, sys.producer, sys.batchId, 1, revoked))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(revoked, Role.None);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(inbound.shipmentId, inbound.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(revoked, Role.None);
      await expect(sys.batchToken.connect(sys.pharmacy).rejectShipment(outbound.shipmentId, outbound.shipment, RejectReason.Damaged))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock")
        .withArgs(revoked, Role.None);
      await expect(sys.batchToken.connect(sys.distributor).cancelShipment(outbound.shipmentId, outbound.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock")
        .withArgs(revoked, Role.None);
      // Governance cannot credit it either.
      const toRevoked = await approvedTokenAction(sys, "recoverShipment", [inbound.shipmentId, inbound.shipment, revoked, EVIDENCE]);
      await expect(toRevoked()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock").withArgs(revoked, Role.None);
      const custodyToRevoked = await approvedTokenAction(sys, "recoverCustody", [sys.batchId, sys.pharmacy.address, revoked, 1n, [], PackState.Held, EVIDENCE]);
      await expect(custodyToRevoked()).to.be.revertedWithCustomError(sys.batchToken, "BatchTokenCannotHoldStock").withArgs(revoked, Role.None);
      expect(await balance(sys, revoked, sys.batchId)).to.equal(20n);
      // The producer takes its inbound shipment back; the outbound one goes where governance says.
      await sys.batchToken.connect(sys.producer).cancelShipment(inbound.shipmentId, inbound.shipment);
      await governToken(sys, "recoverShipment", [outbound.shipmentId, outbound.shipment, sys.pharmacy.address, EVIDENCE]);
      expect(await balance(sys, sys.producer, sys.batchId)).to.equal(60n);
      expect(await balance(sys, sys.pharmacy, sys.batchId)).to.equal(20n);
    });

    it("regression (issue 12): no key rotation — the new key ships the account's stock and accepts its pending shipments; the old key cannot; balances stay on the account", async function () {
      const sys = await loadFixture(quantityFixture);
      const newKey = await spareSigner();
      const account = sys.distributor.address;
      const inbound = await ship(sys, sys.producer, sys.batchId, 10, sys.distributor);
      const outbound = await ship(sys, sys.distributor, sys.batchId, 5, sys.pharmacy);
      await rotateKey(sys, sys.distributor, newKey);

      // The old key acts for nobody.
      await expect(shipQty(sys, sys.distributor, sys.batchId, 1, sys.pharmacy.address))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(ethers.ZeroAddress, Role.None);
      await expect(sys.batchToken.connect(sys.distributor).acceptShipment(inbound.shipmentId, inbound.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentReceiver")
        .withArgs(inbound.shipmentId, ethers.ZeroAddress);
      await expect(sys.batchToken.connect(sys.distributor).cancelShipment(outbound.shipmentId, outbound.shipment))
        .to.be.revertedWithCustomError(sys.batchToken, "BatchTokenNotShipmentSender")
        .withArgs(outbound.shipmentId, ethers.ZeroAddress);

      // The new key accepts and cancels the account's pending shipments, into the account.
      await expect(sys.batchToken.connect(newKey).acceptShipment(inbound.shipmentId, inbound.shipment))
        .to.emit(sys.batchToken, "ShipmentAccepted")
        .withArgs(sys.batchId, sys.producer.address, account, inbound.shipmentId, 10n)
        .and.to.emit(sys.batchToken, "TransferSingle")
        .withArgs(newKey.address, ethers.ZeroAddress, account, sys.batchId, 10n);
      await expect(sys.batchToken.connect(newKey).cancelShipment(outbound.shipmentId, outbound.shipment))
        .to.emit(sys.batchToken, "ShipmentCancelled")
        .withArgs(sys.batchId, account, sys.pharmacy.address, outbound.shipmentId, 5n);
      expect(await balance(sys, account, sys.batchId)).to.equal(40n);

      // It ships the account's stock, directly and relayed.
      const shipmentId = (await sys.batchToken.shipmentCount()) + 1n;
      await expect(shipQty(sys, newKey, sys.batchId, 7, sys.pharmacy.address))
        .to.emit(sys.batchToken, "ShipmentCreated")
        .withArgs(sys.batchId, account, sys.pharmacy.address, shipmentId, 7n, Kind.Forward, REF, [])
        .and.to.emit(sys.batchToken, "TransferSingle")
        .withArgs(newKey.address, account, ethers.ZeroAddress, sys.batchId, 7n);
      const data = sys.batchToken.interface.encodeFunctionData("ship", [sys.batchId, sys.pharmacy.address, 3n, [], REF]);
      const request = await signedRequest(sys.forwarder, newKey, sys.batchToken, data);
      await expect(sys.forwarder.connect(sys.relayer).execute(request))
        .to.emit(sys.batchToken, "ShipmentCreated")
        .withArgs(sys.batchId, account, sys.pharmacy.address, shipmentId + 1n, 3n, Kind.Forward, REF, []);

      expect(await balance(sys, account, sys.batchId)).to.equal(30n);
      expect(await balance(sys, newKey, sys.batchId)).to.equal(0n);
    });
  });
});
