import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { GS1Harness__factory, type GS1Harness } from "../../typechain-types";
import { CSET82, withCheckDigit } from "../../api/domain/gs1";

/**
 * The GS1 library on its own, through contracts/mocks/GS1Harness.sol: the mod-10 check digit
 * shared by GTIN, GLN and SSCC (vectors from the GS1 General Specifications as quoted in
 * STANDARDS.md), the GTIN-14 and GLN bounds, and GS1 character set 82 byte by byte.
 */

const NONE = ethers.MaxUint256; // firstInvalidCset82 when every character is allowed

async function gs1HarnessFixture(): Promise<{ gs1: GS1Harness }> {
  const [deployer] = await ethers.getSigners();
  const gs1 = await new GS1Harness__factory(deployer).deploy();
  await gs1.waitForDeployment();
  return { gs1 };
}

/** `code` with its last digit replaced by each of the nine wrong check digits. */
function wrongCheckDigits(code: string): bigint[] {
  const right = Number(code.at(-1));
  return Array.from({ length: 10 }, (_, d) => d)
    .filter((d) => d !== right)
    .map((d) => BigInt(code.slice(0, -1) + d));
}

const bytes = (s: string) => ethers.toUtf8Bytes(s);

describe("GS1 library", function () {
  describe("constants", function () {
    it("bounds a GTIN-14 by 10^14, a GLN by 10^13 and a lot by 20 characters", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.gtin14Limit()).to.equal(10n ** 14n);
      expect(await gs1.glnLimit()).to.equal(10n ** 13n);
      expect(await gs1.maxLotLength()).to.equal(20n);
    });
  });

  describe("hasValidCheckDigit", function () {
    const VALID = [
      ["GTIN-14", "09506000134352"],
      ["GTIN-14", "00614141123452"],
      ["SSCC", "006141411234567890"],
      ["SSCC", "106141411234567897"],
      ["GTIN-14 of US NDC 12345-6789-0", "00312345678906"],
    ] as const;

    for (const [kind, code] of VALID) {
      it(`accepts the ${kind} ${code}`, async function () {
        const { gs1 } = await loadFixture(gs1HarnessFixture);
        expect(await gs1.hasValidCheckDigit(BigInt(code))).to.equal(true);
      });

      it(`refuses ${code} with each of the nine other check digits`, async function () {
        const { gs1 } = await loadFixture(gs1HarnessFixture);
        for (const wrong of wrongCheckDigits(code)) {
          expect(await gs1.hasValidCheckDigit(wrong), String(wrong)).to.equal(false);
        }
      });
    }

    it("ignores leading zeros (they add nothing to the weighted sum)", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      // GTIN-13 9506000134352 is GTIN-14 09506000134352 as a number.
      expect(await gs1.hasValidCheckDigit(9506000134352n)).to.equal(true);
      // GTIN-12 614141123452 padded to GTIN-14 00614141123452.
      expect(await gs1.hasValidCheckDigit(614141123452n)).to.equal(true);
    });

    it("weights the rightmost data digit 3 (a transposition of two neighbouring digits is caught)", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      // 10 → data 1 (×3 = 3) → check 7: "17" valid, "71" not.
      expect(await gs1.hasValidCheckDigit(17n)).to.equal(true);
      expect(await gs1.hasValidCheckDigit(71n)).to.equal(false);
      // 2-digit data "12": 2×3 + 1×1 = 7 → check 3.
      expect(await gs1.hasValidCheckDigit(123n)).to.equal(true);
      expect(await gs1.hasValidCheckDigit(213n)).to.equal(false);
    });

    it("treats zero as a valid check digit of nothing (callers reject zero themselves)", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.hasValidCheckDigit(0n)).to.equal(true);
    });

    it("handles the largest uint256 without overflow", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      const max = ethers.MaxUint256.toString();
      const expected = withCheckDigit(max.slice(0, -1)) === max;
      expect(await gs1.hasValidCheckDigit(ethers.MaxUint256)).to.equal(expected);
    });
  });

  describe("isValidGtin", function () {
    it("accepts the GTIN-14 vectors", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.isValidGtin(9506000134352n)).to.equal(true);
      expect(await gs1.isValidGtin(614141123452n)).to.equal(true);
    });

    it("refuses a wrong check digit", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.isValidGtin(9506000134353n)).to.equal(false);
    });

    it("refuses zero, although its check digit is formally valid", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.isValidGtin(0n)).to.equal(false);
    });

    it("accepts the largest 14-digit GTIN and refuses the smallest 15-digit code with a valid check digit", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      const largest = BigInt(withCheckDigit("9".repeat(13)));
      const smallestTooLong = BigInt(withCheckDigit("1" + "0".repeat(13)));
      expect(largest).to.be.lessThan(10n ** 14n);
      expect(smallestTooLong).to.be.greaterThanOrEqual(10n ** 14n);
      expect(await gs1.hasValidCheckDigit(smallestTooLong)).to.equal(true);
      expect(await gs1.isValidGtin(largest)).to.equal(true);
      expect(await gs1.isValidGtin(smallestTooLong)).to.equal(false);
      expect(await gs1.isValidGtin(10n ** 14n)).to.equal(false);
    });

    it("refuses an SSCC (18 digits) although its check digit is valid", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.isValidGtin(106141411234567897n)).to.equal(false);
    });
  });

  describe("isValidGln", function () {
    it("accepts a 13-digit GLN with a valid check digit", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.isValidGln(BigInt(withCheckDigit("950600013400")))).to.equal(true);
      expect(await gs1.isValidGln(BigInt(withCheckDigit("061414100001")))).to.equal(true);
    });

    it("refuses a GLN with a wrong check digit", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      for (const wrong of wrongCheckDigits(withCheckDigit("950600013400"))) {
        expect(await gs1.isValidGln(wrong), String(wrong)).to.equal(false);
      }
    });

    it("refuses zero", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.isValidGln(0n)).to.equal(false);
    });

    it("accepts the largest 13-digit GLN and refuses the smallest 14-digit code with a valid check digit", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      const largest = BigInt(withCheckDigit("9".repeat(12)));
      const smallestTooLong = BigInt(withCheckDigit("1" + "0".repeat(12)));
      expect(largest).to.be.lessThan(10n ** 13n);
      expect(smallestTooLong).to.be.greaterThanOrEqual(10n ** 13n);
      expect(await gs1.hasValidCheckDigit(smallestTooLong)).to.equal(true);
      expect(await gs1.isValidGln(largest)).to.equal(true);
      expect(await gs1.isValidGln(smallestTooLong)).to.equal(false);
      expect(await gs1.isValidGln(10n ** 13n)).to.equal(false);
    });

    it("refuses a 14-digit GTIN with a leading non-zero digit", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.isValidGln(BigInt(withCheckDigit("1061414112345")))).to.equal(false);
    });
  });

  describe("firstInvalidCset82", function () {
    // Each range of set 82 with the characters just outside and just inside it.
    const BOUNDARIES: [string, boolean][] = [
      [" ", false], // 0x20, below '!'
      ["!", true], // 0x21
      ['"', true], // 0x22
      ["#", false], // 0x23
      ["$", false], // 0x24, just below '%'
      ["%", true], // 0x25, first of % … /
      ["/", true], // 0x2F, last of % … /
      ["0", true], // 0x30
      ["9", true], // 0x39
      [":", true], // 0x3A, first of : … ?
      ["?", true], // 0x3F, last of : … ?
      ["@", false], // 0x40, just below 'A'
      ["A", true], // 0x41
      ["Z", true], // 0x5A
      ["[", false], // 0x5B, just above 'Z'
      ["\\", false], // 0x5C
      ["]", false], // 0x5D
      ["^", false], // 0x5E, just below '_'
      ["_", true], // 0x5F
      ["`", false], // 0x60, just below 'a'
      ["a", true], // 0x61
      ["z", true], // 0x7A
      ["{", false], // 0x7B, just above 'z'
      ["|", false], // 0x7C
      ["}", false], // 0x7D
      ["~", false], // 0x7E
    ];

    for (const [ch, allowed] of BOUNDARIES) {
      const hex = "0x" + ch.charCodeAt(0).toString(16).toUpperCase();
      it(`${allowed ? "accepts" : "refuses"} ${JSON.stringify(ch)} (${hex})`, async function () {
        const { gs1 } = await loadFixture(gs1HarnessFixture);
        expect(await gs1.firstInvalidCset82(bytes(ch))).to.equal(allowed ? NONE : 0n);
        // Also in the middle of an otherwise valid value: the position is reported.
        expect(await gs1.firstInvalidCset82(bytes(`AB${ch}CD`))).to.equal(allowed ? NONE : 2n);
      });
    }

    it("agrees with the off-chain CSET82 pattern on every one of the 256 byte values", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      let allowedCount = 0;
      for (let b = 0; b < 256; b++) {
        const expected = b < 0x80 && CSET82.test(String.fromCharCode(b));
        if (expected) allowedCount++;
        expect(await gs1.firstInvalidCset82(new Uint8Array([b])), `byte 0x${b.toString(16)}`).to.equal(
          expected ? NONE : 0n,
        );
      }
      expect(allowedCount).to.equal(82);
    });

    it("returns the position of the first invalid byte when there are several", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.firstInvalidCset82(bytes("LOT 1#2"))).to.equal(3n);
      expect(await gs1.firstInvalidCset82(bytes("#LOT"))).to.equal(0n);
      expect(await gs1.firstInvalidCset82(bytes("LOT~"))).to.equal(3n);
    });

    it("reports the first byte of a UTF-8 multibyte character", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.firstInvalidCset82(bytes("Lé"))).to.equal(1n); // é = 0xC3 0xA9
      expect(await gs1.firstInvalidCset82(bytes("€"))).to.equal(0n);
    });

    it("returns type(uint256).max for an empty value and for values made of set 82 only", async function () {
      const { gs1 } = await loadFixture(gs1HarnessFixture);
      expect(await gs1.firstInvalidCset82("0x")).to.equal(NONE);
      expect(await gs1.firstInvalidCset82(bytes(`!"%&'()*+,-./0123456789:;<=>?`))).to.equal(NONE);
      expect(await gs1.firstInvalidCset82(bytes("ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz"))).to.equal(NONE);
    });
  });
});
