import { expect } from "chai";
import fc from "fast-check";
import { Transaction, Wallet, getAddress, hexlify } from "ethers";
import { signLegacyTx } from "../../../api/relay/raw-tx";

describe("native legacy transaction signing", function () {
  it("produces exactly ethers' signed transaction and hash for any fields", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((b) => b.some((x) => x !== 0) && b[0] < 0xf0),
        fc.record({
          nonce: fc.integer({ min: 0, max: 2 ** 40 }),
          gasPrice: fc.bigInt({ min: 0n, max: 10n ** 20n }),
          gasLimit: fc.bigInt({ min: 21_000n, max: 10n ** 9n }),
          to: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b))),
          value: fc.bigInt({ min: 0n, max: 10n ** 24n }),
          data: fc.oneof(fc.uint8Array({ maxLength: 100 }), fc.uint8Array({ minLength: 3000, maxLength: 5000 })).map((b) => hexlify(b)),
          chainId: fc.constantFrom(1n, 1337n, 31337n, 2025n),
        }),
        async (key, tx) => {
          const wallet = new Wallet(hexlify(key));
          const ours = signLegacyTx(tx, wallet.privateKey);
          const theirs = await wallet.signTransaction({ type: 0, ...tx });
          expect(ours.raw).to.equal(theirs);
          expect(ours.hash).to.equal(Transaction.from(theirs).hash);
        },
      ),
      { numRuns: 100 },
    );
  });
});

describe("executeBatch calldata encoding", function () {
  it("equals ethers' ABI encoding for any batch", () => {
    const { forwarderInterface } = require("../../../api/relay/policy") as typeof import("../../../api/relay/policy");
    const { encodeExecuteBatch } = require("../../../api/relay/raw-tx") as typeof import("../../../api/relay/raw-tx");
    const address = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b)));
    const request = fc.record({
      from: address,
      to: address,
      value: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
      gas: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
      deadline: fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }),
      data: fc.uint8Array({ maxLength: 200 }).map((b) => hexlify(b)),
      signature: fc.uint8Array({ minLength: 65, maxLength: 65 }).map((b) => hexlify(b)),
    });
    fc.assert(
      fc.property(fc.array(request, { maxLength: 6 }), address, (requests, refund) => {
        expect(encodeExecuteBatch(requests, refund)).to.equal(forwarderInterface.encodeFunctionData("executeBatch", [requests, refund]));
      }),
      { numRuns: 200 },
    );
  });
});
