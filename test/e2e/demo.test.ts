import { spawn } from "node:child_process";
import path from "node:path";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../api/app";
import { REPO_ROOT } from "../../scripts/lib/deployment";
import { DEMO_MEMBERS } from "../../scripts/lib/consortium-setup";
import { enrolCustodialMember } from "../../scripts/lib/custodial-setup";
import { portalHints, runDemo, type DemoResult } from "../../scripts/lib/demo";
import { freePort } from "../../scripts/lib/nodes";
import { systemAt } from "../fixtures/chain";
import { relayConfig, startChain, tempDir, testLogger, who, type Chain } from "../api/relay/stack";

const ADMIN = "admin-token-for-the-demo-test-0123";
/** The batch's ledger events in the story, pallet and case openings and the withdrawn attempts' absence included. */
const HISTORY_LENGTH = 18;

/** `hardhat run scripts/demo.ts --network anvil` against `chain`, with the service at `serviceUrl`. */
function runDemoScript(chain: Chain, env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js"), "run", "scripts/demo.ts", "--network", "anvil"], {
      cwd: REPO_ROOT,
      env: {
        ...process.env,
        HARDHAT_NETWORK: undefined,
        ANVIL_RPC_URL: chain.url,
        FORWARDER_ADDRESS: chain.addresses.forwarder,
        CONSORTIUM_ADDRESS: chain.addresses.consortium,
        BATCH_TOKEN_ADDRESS: chain.addresses.batchToken,
        ...env,
      },
    });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

describe("the traceability demo, through the relay and read service", function () {
  this.timeout(180_000);
  let chain: Chain;
  let app: FastifyInstance;
  let serviceUrl: string;
  let apiKey: string;

  before(async () => {
    // anvil with 1-second blocks, like the QBFT block period npm start imitates.
    chain = await startChain({ blockTime: 1 });
    const config = relayConfig(chain.url, chain.addresses, {
      READ_ENABLED: "true",
      INDEXER_POLL_MS: "100",
      RELAY_ADMIN_TOKEN: ADMIN,
      RELAY_KEYSTORE_PASSPHRASE: "demo test passphrase",
      RELAY_KEYSTORE_SCRYPT_N: "1024",
    }, tempDir("demo"));
    app = await buildApp(config, testLogger());
    const port = await freePort();
    await app.listen({ host: "127.0.0.1", port });
    serviceUrl = `http://127.0.0.1:${port}`;
    ({ apiKey } = await enrolCustodialMember(serviceUrl, ADMIN, { privateKey: who.pharmacy.privateKey, label: "demo test" }));
  });
  after(async () => {
    await app?.close();
    await chain?.stop();
  });

  describe("runDemo", function () {
    let result: DemoResult;
    const lines: string[] = [];
    before(async () => {
      const signer = (w: typeof who.producer) => ({ signer: w, address: w.address });
      result = await runDemo({
        serviceUrl,
        batchToken: systemAt(chain.addresses, chain.provider).batchToken,
        signers: { producer: signer(who.producer), distributor: signer(who.distributor), regulator: signer(who.regulator) },
        pharmacy: { address: who.pharmacy.address, apiKey },
        log: (l) => lines.push(l),
      });
    });

    it("lands every member action through the relay, signed or custodial, each mined", function () {
      expect(result.requests.map((r) => `${r.step}:${r.via}`)).to.deep.equal([
        "mint:signed",
        "ship 3:signed",
        "accept 3:signed",
        "ship 4:signed",
        "accept 4:custodial",
        ...result.dispensedSerials.map((s) => `dispense ${s}:custodial`),
        "report stolen:signed",
        "quarantine:signed",
        "recall:signed",
      ]);
      for (const r of result.requests) expect(r.block, r.step).to.be.greaterThan(0);
    });

    it("ends with the custody the story describes, conserved, recalled", function () {
      // 500 packs on two pallets to the distributor; a case of 50 and two picked packs to the
      // pharmacy, which dispensed 3; one pack stolen at the distributor.
      expect(result.balances).to.deep.equal({ producer: 500n, distributor: 447n, pharmacy: 49n });
      expect(result.stolen.verdict.verdict).to.equal("stolen");
      expect(result.status).to.equal(3); // Recalled
      expect(result.conserved).to.equal(true);
      expect(result.history).to.have.length(HISTORY_LENGTH);
      expect(result.history[0]).to.match(/minted 1000 units/);
      expect(result.history.at(-1)).to.match(/RECALLED/);
    });

    it("has the relay refuse the forged serial, the second dispense and the shipment after the recall, by the contract's error", function () {
      expect(result.refused).to.deep.equal([
        { action: "register a foreign GTIN", error: "BatchTokenNotBrandOwner" },
        { action: "dispense forged serial", error: "BatchTokenInvalidUnitProof" },
        { action: "dispense same serial twice", error: "BatchTokenUnitAlreadyDispensed" },
        { action: "dispense a pack held elsewhere", error: "BatchTokenNotHolder" },
        { action: "ship after recall", error: "BatchTokenFlowNotAllowed" },
      ]);
    });

    it("leaves the portal saying what the demo says: the dispensed pack recalled and dispensed, an untouched pack recalled", function () {
      const { dispensed, untouched } = result.verdicts;
      expect(dispensed.verdict).to.equal("recalled");
      expect(dispensed.dispensedOn).to.match(/^\d{4}-\d{2}-\d{2}$/);
      expect(dispensed.advice).to.match(/dispensed on \d{4}-\d{2}-\d{2}/);
      expect(untouched.verdict).to.equal("recalled");
      expect(untouched.dispensedOn).to.equal(null);
      for (const v of [dispensed, untouched]) {
        expect(v.expiryChecked, "the demo's codes carry the expiry, and it was compared").to.equal(true);
        expect(v.expiryNote).to.equal(null);
      }
      const hints = portalHints(result, `${serviceUrl}/`).join("\n");
      expect(hints).to.contain(`(21)${result.dispensedSerials[0]}`);
      expect(hints).to.contain(`"${dispensed.headline}", dispensed on ${dispensed.dispensedOn}`);
      expect(hints).to.contain(`(21)${result.untouchedSerial}`);
    });
  });

  describe("`hardhat run scripts/demo.ts --network anvil`", function () {
    it("runs the story through the service named by DEMO_SERVICE_URL with the API key in DEMO_CUSTODIAL_API_KEY", async function () {
      const run = await runDemoScript(chain, { DEMO_SERVICE_URL: serviceUrl, DEMO_CUSTODIAL_API_KEY: apiKey });
      expect(run.code, run.out).to.equal(0);
      expect(run.out).to.contain(`through the service at ${serviceUrl}`);
      expect(run.out).to.match(/11 requests went through the relay \(7 signed by their members, 4 with the pharmacy's API key\), each followed to mined/);
      expect(run.out).to.contain("refused by the relay before it reached the chain (422 CALL_REVERTED): BatchTokenFlowNotAllowed");
      expect(run.out).to.contain("Conservation (minted = held + in transit + out of circulation; each member's packs = its balance): holds");
      expect(run.out).to.match(/a pack the pharmacy dispensed, then recalled: \(01\)09506000134352\(17\)\d{6}\(10\)DEMO-[^(]+\(21\)\S+\n\s+→ "Do not use — recalled on \d{4}-\d{2}-\d{2}", dispensed on \d{4}-\d{2}-\d{2}/);
    });

    it("stops with one coded line when no service answers, or when the pharmacy has no API key", async function () {
      const down = await runDemoScript(chain, { DEMO_SERVICE_URL: `http://127.0.0.1:${await freePort()}`, DEMO_CUSTODIAL_API_KEY: apiKey });
      expect(down.code).to.equal(1);
      expect(down.out).to.match(/error SERVICE_UNAVAILABLE: no service answers at http:\/\/127\.0\.0\.1:\d+ — start the consortium with `npm start`/);
      const keyless = await runDemoScript(chain, { DEMO_SERVICE_URL: serviceUrl, DEMO_CUSTODIAL_API_KEY: "" });
      // The repository's own .local/dev-keys.json names another chain's contracts, so it is not used here.
      expect(keyless.code).to.equal(1);
      expect(keyless.out).to.match(new RegExp(`error NO_CUSTODIAL_KEY: no API key for the custodial pharmacy ${who.pharmacy.address}`));
      for (const r of [down, keyless]) expect(r.out).to.not.match(/^\s+at /m);
    });
  });

  it("has exactly one custodial member in the demo consortium, a pharmacy", function () {
    expect(DEMO_MEMBERS.filter((m) => m.custodial).map((m) => m.key)).to.deep.equal(["pharmacy"]);
  });
});
