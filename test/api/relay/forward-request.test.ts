import { expect } from "chai";
import fc from "fast-check";
import { TypedDataEncoder, Wallet, getAddress, hexlify, verifyTypedData } from "ethers";
import {
  FORWARD_REQUEST_TYPES,
  forwardRequestDigest,
  nativeCryptoStatus,
  recoverSigner,
  signForwardRequest,
  type ForwardRequest,
} from "../../../api/relay/forward-request";

const domain = { chainId: 1337n, verifyingContract: getAddress("0x5fbdb2315678afecb367f032d93f642f64180aa3") };
const ethersDomain = { name: "ConsortiumForwarder", version: "1", ...domain };
const wallet = new Wallet("0x" + "11".repeat(32));

const requestArb = fc.record({
  from: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b))),
  to: fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => getAddress(hexlify(b))),
  value: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
  gas: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
  nonce: fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }),
  deadline: fc.bigInt({ min: 0n, max: (1n << 48n) - 1n }),
  data: fc.uint8Array({ maxLength: 300 }).map((b) => hexlify(b)),
});

describe("ForwardRequest hashing and native signature recovery", function () {
  it("loads the native secp256k1 and keccak bindings (the pure-JS fallbacks are ~20x slower)", () => {
    expect(nativeCryptoStatus()).to.deep.equal({ secp256k1: true, keccak: true });
  });

  it("computes the same EIP-712 digest as ethers' TypedDataEncoder for any request", () => {
    fc.assert(
      fc.property(requestArb, (r: ForwardRequest) => {
        expect("0x" + forwardRequestDigest(domain, r).toString("hex")).to.equal(TypedDataEncoder.hash(ethersDomain, FORWARD_REQUEST_TYPES, r));
      }),
      { numRuns: 300 },
    );
  });

  it("recovers the signer of ethers-signed requests, and signs what ethers recovers", async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (r: ForwardRequest) => {
        const request = { ...r, from: wallet.address };
        const signature = await wallet.signTypedData(ethersDomain, FORWARD_REQUEST_TYPES, request);
        expect(recoverSigner(forwardRequestDigest(domain, request), signature)).to.equal(wallet.address);
        const ours = signForwardRequest(domain, request, wallet.privateKey);
        expect(verifyTypedData(ethersDomain, FORWARD_REQUEST_TYPES, request, ours.signature)).to.equal(wallet.address);
        // Any change to a signed field changes the signer.
        expect(recoverSigner(forwardRequestDigest(domain, { ...request, nonce: request.nonce ^ 1n }), signature)).to.not.equal(wallet.address);
      }),
      { numRuns: 50 },
    );
  });

  it("refuses signatures OpenZeppelin's ECDSA refuses: wrong length, v not 27/28, high s", () => {
    const request: ForwardRequest = { from: wallet.address, to: wallet.address, value: 0n, gas: 1n, nonce: 0n, deadline: 1n, data: "0x" };
    const { signature } = signForwardRequest(domain, request, wallet.privateKey);
    const digest = forwardRequestDigest(domain, request);
    expect(recoverSigner(digest, signature)).to.equal(wallet.address);
    expect(recoverSigner(digest, signature.slice(0, 130))).to.equal(undefined);
    expect(recoverSigner(digest, signature.slice(0, 130) + "01")).to.equal(undefined);
    const n = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");
    const s = BigInt("0x" + signature.slice(66, 130));
    const flippedV = signature.slice(130) === "1b" ? "1c" : "1b";
    const malleable = signature.slice(0, 66) + (n - s).toString(16).padStart(64, "0") + flippedV;
    expect(recoverSigner(digest, malleable)).to.equal(undefined);
  });

  it("measures verification throughput (printed, not asserted: benchmarks never gate tests)", async () => {
    const requests = Array.from({ length: 2_000 }, (_, i) => {
      const r: ForwardRequest = { from: wallet.address, to: wallet.address, value: 0n, gas: 300_000n, nonce: BigInt(i), deadline: 1n << 40n, data: "0x" + "ab".repeat(132) };
      return { r, sig: signForwardRequest(domain, r, wallet.privateKey).signature };
    });
    let t = process.hrtime.bigint();
    let ok = 0;
    for (const { r, sig } of requests) if (recoverSigner(forwardRequestDigest(domain, r), sig) === wallet.address) ok++;
    const native = (requests.length * 1e9) / Number(process.hrtime.bigint() - t);
    t = process.hrtime.bigint();
    const slice = requests.slice(0, 200);
    for (const { r, sig } of slice) verifyTypedData(ethersDomain, FORWARD_REQUEST_TYPES, r, sig);
    const viaEthers = (slice.length * 1e9) / Number(process.hrtime.bigint() - t);
    expect(ok).to.equal(requests.length);
    console.log(`      signature checks/s: native digest+secp256k1 ${native.toFixed(0)}, ethers verifyTypedData ${viaEthers.toFixed(0)}`);
  });
});
