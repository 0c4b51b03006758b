import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import type { FastifyInstance } from "fastify";
import { REPO_ROOT } from "../../../api/chain/addresses";
import { rpcProvider } from "../../fixtures/chain";
import { GTIN, startAnvil, startReadFixture, type ReadFixture } from "./read-fixture";

describe("the indexer across node restarts and chain resets, and the audit:check task", function () {
  this.timeout(240_000);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-lifecycle-"));
  const stateFile = path.join(dir, "anvil-state.json");
  const anvilArgs = ["--state-interval", "1"];
  let f: ReadFixture;
  let app: FastifyInstance;
  /** Events of the fixture's setup: the two products registered. */
  let base = 0;

  /** Mints a batch of 7 units without serials and ships 2 (pending): 3 ledger events. */
  const mint = async (lot: string) => {
    const id = await f.mint(lot, 7n);
    await f.move(id, "producer", "distributor", 2n, { accept: false });
    return f.head();
  };
  const once = (event: string) => new Promise<unknown>((resolve) => app.read.indexer!.once(event, resolve));

  before(async function () {
    f = await startReadFixture({ seed: false, anvil: { stateFile, extraArgs: anvilArgs } });
    app = await f.app({ INDEXER_BLOCK_RANGE: "7", INDEXER_DB_FILE: path.join(dir, "index.sqlite") });
    await app.read.indexer!.waitForBlock(await f.head());
    base = app.read.store.eventCount();
    expect(base).to.equal(2);
  });
  after(async () => {
    await f?.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("reads the chain in small block ranges up to the head", async function () {
    const head = await mint("LIFE-1");
    await app.read.indexer!.waitForBlock(head);
    expect(app.read.store.eventCount()).to.equal(base + 3);
    expect(app.read.store.checkpoint()!.block).to.be.at.least(head);
  });

  it("passes audit:check against the chain's logs and against the service's index", async function () {
    const chainReport = await hre.run("audit:check", { rpcUrl: f.node.url, batchToken: f.addresses.batchToken, fromBlock: "0", rangeBlocks: "5000", json: false });
    expect(chainReport.ok, JSON.stringify(chainReport.divergences)).to.equal(true);
    expect(chainReport.holdersChecked).to.equal(2);
    const indexReport = await hre.run("audit:check", { rpcUrl: f.node.url, batchToken: f.addresses.batchToken, index: app.read.store.file, fromBlock: "0", rangeBlocks: "5000", json: false });
    expect(indexReport.ok, JSON.stringify(indexReport.divergences)).to.equal(true);
  });

  it("fails audit:check with a non-zero exit when a copy of the index was tampered with", async function () {
    const copy = path.join(dir, "tampered.sqlite");
    await app.read.store.db.backup(copy);
    const Database = (await import("better-sqlite3")).default;
    const db = new Database(copy);
    db.prepare("DELETE FROM events WHERE name = 'ShipmentCreated'").run();
    db.close();
    const cli = path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js");
    const run = spawnSync(process.execPath, [cli, "audit:check", "--rpc-url", f.node.url, "--batch-token", f.addresses.batchToken, "--index", copy], { cwd: REPO_ROOT, encoding: "utf8", timeout: 180_000 });
    const out = run.stdout + run.stderr;
    expect(run.status, out).to.equal(1);
    expect(out).to.include("AUDIT_DIVERGENCE");
    // The producer still holds 7 by the events without the shipment; the chain says 5.
    expect(out).to.match(/DIVERGENCE balance batch 1 holder 0x[0-9a-fA-F]{40}: events 7, actual 5/);
  });

  it("keeps going when the node goes away and comes back with its state", async function () {
    const failed = once("error-read");
    await f.node.stop();
    await failed;
    const ready = await app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode).to.equal(503);
    expect(ready.json().checks.indexer.ok).to.equal(false);
    // The node's URL is not part of any public answer, failure included (issue 15, Medium).
    const status = await app.inject({ method: "GET", url: "/v1/index/status" });
    for (const body of [ready.body, status.body]) {
      expect(body).to.not.include(f.node.url);
      expect(body).to.not.include(`:${f.node.port}`);
    }

    f.node = await startAnvil({ port: f.node.port, stateFile, extraArgs: anvilArgs });
    const head = await mint("LIFE-2");
    await app.read.indexer!.waitForBlock(head, 30_000);
    expect(app.read.indexer!.status.resets).to.equal(0);
    expect(app.read.store.eventCount()).to.equal(base + 6);
    expect(app.read.store.batchByGtinLot(GTIN, "LIFE-2")).to.not.equal(undefined);
    expect((await app.inject({ method: "GET", url: "/ready" })).json().checks.indexer.ok).to.equal(true);
  });

  it("detects a chain reset and rebuilds the index from the new chain", async function () {
    const reset = once("reset");
    const provider = rpcProvider(f.node.url);
    await provider.send("anvil_reset", []);
    provider.destroy();
    expect(String(await reset)).to.match(/no longer exists|hash/);
    expect(app.read.indexer!.status.resets).to.equal(1);
    expect(app.read.store.eventCount()).to.equal(0);
    expect(app.read.store.batchByGtinLot(GTIN, "LIFE-1")).to.equal(undefined);
  });
});
