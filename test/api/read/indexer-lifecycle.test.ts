import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { ethers } from "ethers";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { loadConfig } from "../../../api/config";
import type { SystemAddresses } from "../../../api/chain/addresses";
import { REPO_ROOT } from "../../../api/chain/addresses";
import { dayNumber, withCheckDigit } from "../../../api/domain/gs1";
import { startAnvil, type NodeProcess } from "../../../scripts/lib/nodes";
import { deploySystemOnNode, devWallet, rpcProvider, systemAt } from "../../fixtures/chain";

const GTIN = BigInt(withCheckDigit("0400123400011"));

describe("the indexer across node restarts and chain resets, and the audit:check task", function () {
  this.timeout(150_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-lifecycle-"));
  const stateFile = path.join(dir, "anvil-state.json");
  let node: NodeProcess;
  let addresses: SystemAddresses;
  let app: FastifyInstance;

  const mint = async (lot: string, quantity = 7n) => {
    const provider = rpcProvider(node.url);
    const token = systemAt(addresses, devWallet(4, provider)).batchToken;
    await (await token.mintBatch({ gtin: GTIN, lot, expiryDay: dayNumber(2031, 1, 31), quantity, serialsRoot: ethers.ZeroHash, serialCount: 0, documentHash: ethers.ZeroHash })).wait();
    const distributor = devWallet(5, provider);
    await (await token.ship(await token.batchIdOf(GTIN, lot), 2n, distributor.address, ethers.ZeroHash)).wait();
    const head = await provider.getBlockNumber();
    provider.destroy();
    return head;
  };
  const once = (event: string) => new Promise<unknown>((resolve) => app.read.indexer!.once(event, resolve));

  before(async function () {
    node = await startAnvil({ stateFile, extraArgs: ["--state-interval", "1"] });
    addresses = await deploySystemOnNode(node.url);
    const config = loadConfig({
      CHAIN_RPC_URL: node.url,
      FORWARDER_ADDRESS: addresses.forwarder,
      CONSORTIUM_ADDRESS: addresses.consortium,
      BATCH_TOKEN_ADDRESS: addresses.batchToken,
      DATA_DIR: dir,
      RELAY_ENABLED: "false",
      INDEXER_POLL_MS: "50",
      INDEXER_BLOCK_RANGE: "7",
    });
    app = await buildApp(config, { logger: false });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await node?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads the chain in small block ranges up to the head", async function () {
    const head = await mint("LIFE-1");
    await app.read.indexer!.waitForBlock(head);
    expect(app.read.store.eventCount()).to.equal(2);
    expect(app.read.store.checkpoint()!.block).to.be.at.least(head);
  });

  it("passes audit:check against the chain's logs and against the service's index", async function () {
    const chainReport = await hre.run("audit:check", { rpcUrl: node.url, batchToken: addresses.batchToken, fromBlock: "0", rangeBlocks: "5000", json: false });
    expect(chainReport.ok).to.equal(true);
    expect(chainReport.holdersChecked).to.equal(2);
    const indexReport = await hre.run("audit:check", { rpcUrl: node.url, batchToken: addresses.batchToken, index: app.read.store.file, fromBlock: "0", rangeBlocks: "5000", json: false });
    expect(indexReport.ok).to.equal(true);
  });

  it("fails audit:check with a non-zero exit when a copy of the index was tampered with", async function () {
    const copy = path.join(dir, "tampered.sqlite");
    await app.read.store.db.backup(copy);
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(copy);
    db.prepare("DELETE FROM events WHERE name = 'ShipmentCreated'").run();
    db.close();
    const cli = path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js");
    const run = spawnSync(process.execPath, [cli, "audit:check", "--rpc-url", node.url, "--batch-token", addresses.batchToken, "--index", copy], { cwd: REPO_ROOT, encoding: "utf8", timeout: 120_000 });
    const out = run.stdout + run.stderr;
    expect(run.status, out).to.equal(1);
    expect(out).to.include("AUDIT_DIVERGENCE");
    // The producer still holds 7 by the events without the shipment; the chain says 5.
    expect(out).to.match(/DIVERGENCE balance batch 1 holder 0x[0-9a-fA-F]{40}: events 7, actual 5/);
  });

  it("keeps going when the node goes away and comes back with its state", async function () {
    const failed = once("error-read");
    await node.stop();
    await failed;
    const ready = await app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).to.equal(503);
    expect(ready.json().checks.indexer.ok).to.equal(false);

    node = await startAnvil({ port: node.port, stateFile, extraArgs: ["--state-interval", "1"] });
    const head = await mint("LIFE-2");
    await app.read.indexer!.waitForBlock(head, 30_000);
    expect(app.read.indexer!.status.resets).to.equal(0);
    expect(app.read.store.eventCount()).to.equal(4);
    expect(app.read.store.batchByGtinLot(GTIN.toString().padStart(14, "0"), "LIFE-2")).to.not.equal(undefined);
    expect((await app.inject({ method: "GET", url: "/ready" })).json().checks.indexer.ok).to.equal(true);
  });

  it("detects a chain reset and rebuilds the index from the new chain", async function () {
    const reset = once("reset");
    const provider = rpcProvider(node.url);
    await provider.send("anvil_reset", []);
    provider.destroy();
    expect(String(await reset)).to.match(/no longer exists|hash/);
    expect(app.read.indexer!.status.resets).to.equal(1);
    expect(app.read.store.eventCount()).to.equal(0);
    expect(app.read.store.batchByGtinLot(GTIN.toString().padStart(14, "0"), "LIFE-1")).to.equal(undefined);
  });
});
