import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import hre from "hardhat";
import { expect } from "chai";
import { deploySystem, parametersFor, REPO_ROOT } from "../../scripts/lib/deployment";
import { admitDemoMembers } from "../../scripts/lib/consortium-setup";
import { startAnvil } from "../../scripts/lib/nodes";

const ADDRESS_VARS = ["FORWARDER_ADDRESS", "CONSORTIUM_ADDRESS", "BATCH_TOKEN_ADDRESS"] as const;

/** Runs a task in-process, returning its result and what it printed. */
async function run(name: string, args: Record<string, unknown> = {}) {
  const lines: string[] = [];
  const original = { log: console.log, table: console.table };
  console.log = (...a: unknown[]) => lines.push(a.map(String).join(" "));
  console.table = (rows: unknown) => lines.push(JSON.stringify(rows));
  try {
    const result = await hre.run(name, args);
    return { result, out: lines.join("\n") };
  } finally {
    Object.assign(console, original);
  }
}

async function refusal(name: string, args: Record<string, unknown>): Promise<string> {
  try {
    await run(name, args);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error(`${name} succeeded but should have been refused`);
}

describe("operator and auditor tasks", function () {
  const saved: Partial<Record<string, string>> = {};
  let dir: string;

  before(async function () {
    const system = await deploySystem(hre, { parameters: parametersFor("hardhat") });
    await admitDemoMembers(system.consortium, await hre.ethers.getSigners());
    for (const v of ADDRESS_VARS) saved[v] = process.env[v];
    process.env.FORWARDER_ADDRESS = system.addresses.forwarder;
    process.env.CONSORTIUM_ADDRESS = system.addresses.consortium;
    process.env.BATCH_TOKEN_ADDRESS = system.addresses.batchToken;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-tasks-"));
    fs.writeFileSync(path.join(dir, "serials.csv"), ["serial", ...Array.from({ length: 10 }, (_, i) => `TSK${i}`)].join("\n"));
    fs.writeFileSync(path.join(dir, "serials.json"), JSON.stringify({ serials: ["J1", "J2", "J3"] }));
    fs.writeFileSync(path.join(dir, "dupes.json"), JSON.stringify(["A1", "A1"]));
  });
  after(function () {
    for (const v of ADDRESS_VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lists the members with role, GLN, jurisdiction and status", async function () {
    const { result } = await run("members:list");
    expect(result).to.have.length(7);
    expect(result[0]).to.include({ role: "Producer", gln: "4001234000015", jurisdiction: "DE", status: "Active" });
  });

  it("admits a member through propose, approve and execute", async function () {
    const newcomer = (await hre.ethers.getSigners())[11];
    const { result: id, out } = await run("gov:propose", {
      action: "admitMember",
      params: JSON.stringify([newcomer.address, "Pharmacy", "4001234000084", "DE", "licence 2030", "2030-01-01"]),
      as: "governor1",
    });
    expect(out).to.match(/1 of 2 approvals/);
    await run("gov:approve", { id: String(id), as: "governor2" });
    const executed = await run("gov:execute", { id: String(id), as: "governor1" });
    expect(executed.out).to.contain("MemberAdmitted");
    const proposals = (await run("gov:proposals")).result as { id: string; state: string }[];
    expect(proposals.find((p) => p.id === String(id))?.state).to.equal("executed");
  });

  it("mints from a CSV serial list, ships, accepts, verifies a scanned pack, quarantines, recalls and prints the history", async function () {
    const { result: batchId } = await run("batch:mint", { gtin: "09506000134352", lot: "TASK-1", expiry: "2030-06-30", serials: path.join(dir, "serials.csv") });
    const { result: shipmentId } = await run("custody:ship", { batch: String(batchId), quantity: "6", to: "distributor" });
    await run("custody:accept", { shipment: String(shipmentId) });
    const { result: back } = await run("custody:ship", { batch: String(batchId), quantity: "2", to: "producer", as: "distributor" });
    await run("custody:reject", { shipment: String(back), reason: "Damaged", as: "producer" });

    const scan = "]d2\x1d0109506000134352173006301" + "0TASK-1\x1d21TSK3";
    expect((await run("unit:verify", { scan, serials: path.join(dir, "serials.csv") })).result).to.equal("Genuine");
    await run("status:quarantine", { gtin: "09506000134352", lot: "TASK-1", reason: "suspect" });
    await run("status:recall", { batch: String(batchId), reason: "confirmed" });
    expect((await run("unit:verify", { gtin: "09506000134352", lot: "TASK-1", serial: "TSK3", expiry: "300630", serials: path.join(dir, "serials.csv") })).result).to.equal("Recalled");
    expect((await run("unit:verify", { gtin: "09506000134352", lot: "TASK-1", serial: "FAKE", expiry: "300630", serials: path.join(dir, "serials.csv") })).result).to.equal("NotInBatch");

    const { result: history, out } = await run("batch:history", { batch: String(batchId) });
    expect(history.events.map((e: { name: string }) => e.name)).to.deep.equal([
      "BatchMinted",
      "ShipmentCreated",
      "ShipmentAccepted",
      "ShipmentCreated",
      "ShipmentRejected",
      "BatchQuarantined",
      "BatchRecalled",
    ]);
    expect(out).to.contain("conservation holds");
  });

  it("refuses bad input with a clear, coded message", async function () {
    const json = path.join(dir, "serials.json");
    expect(await refusal("batch:mint", { gtin: "09506000134353", lot: "X", expiry: "301231", serials: json })).to.match(/BAD_GTIN/);
    expect(await refusal("batch:mint", { gtin: "09506000134352", lot: "X", expiry: "301345", serials: json })).to.match(/BAD_EXPIRY/);
    expect(await refusal("batch:mint", { gtin: "09506000134352", lot: "X", expiry: "301231", serials: path.join(dir, "dupes.json") })).to.match(/BAD_SERIALS.*duplicates/);
    expect(await refusal("batch:mint", { gtin: "09506000134352", lot: "X", expiry: "301231", serials: path.join(dir, "missing.json") })).to.match(/NO_FILE/);
    expect(await refusal("batch:mint", { gtin: "09506000134352", lot: "X", expiry: "301231", serials: json, as: "distributor" })).to.match(/WRONG_ROLE/);
    expect(await refusal("custody:ship", { batch: "999", quantity: "1", to: "distributor" })).to.match(/UNKNOWN_BATCH/);
    expect(await refusal("custody:ship", { batch: "1", quantity: "0", to: "distributor" })).to.match(/BAD_NUMBER/);
    expect(await refusal("custody:ship", { batch: "1", quantity: "1", to: "0x000000000000000000000000000000000000dEaD" })).to.match(/NOT_A_MEMBER/);
    expect(await refusal("custody:ship", { batch: "1", quantity: "1", to: "distributor", as: "nobody" })).to.match(/UNKNOWN_ACCOUNT/);
    const { result: fresh } = await run("batch:mint", { gtin: "09506000134352", lot: "TASK-2", expiry: "301231", serials: json });
    const tooMuch = await refusal("custody:ship", { batch: String(fresh), quantity: "100000", to: "distributor" });
    expect(tooMuch, tooMuch).to.match(/CALL_REVERTED.*ERC1155InsufficientBalance/);
    expect(await refusal("custody:accept", { shipment: "424242" })).to.match(/UNKNOWN_SHIPMENT/);
    expect(await refusal("custody:accept", { shipment: "1" })).to.match(/SHIPMENT_CLOSED/);
    expect(await refusal("custody:ship", { batch: "1", quantity: "1", to: "pharmacy", as: "distributor" })).to.match(
      /BatchTokenFlowNotAllowed\(from=Distributor, to=Pharmacy, status=Recalled\)/,
    );
    expect(await refusal("gov:propose", { action: "transferOwnership", params: "[]" })).to.match(/UNKNOWN_ACTION/);
    expect(await refusal("gov:propose", { action: "setThreshold", params: "[2" })).to.match(/BAD_PARAMS/);
    expect(await refusal("gov:propose", { action: "admitMember", params: JSON.stringify(["0x000000000000000000000000000000000000dEaD", "Pharmacy", "4001234000085", "DE", "l", "2030-01-01"]) })).to.match(/BAD_GLN/);
    expect(await refusal("gov:propose", { action: "setThreshold", params: "[2]", as: "producer" })).to.match(/NOT_GOVERNOR/);
  });

  it("prints one line without a stack trace when the network has no deployment", async function () {
    const node = await startAnvil();
    try {
      const { code, out } = await new Promise<{ code: number | null; out: string }>((resolve) => {
        const child = spawn(process.execPath, [path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js"), "members:list", "--network", "anvil"], {
          cwd: REPO_ROOT,
          env: { ...process.env, ANVIL_RPC_URL: node.url, DEPLOYMENT_ID: "no-such-deployment", FORWARDER_ADDRESS: "", CONSORTIUM_ADDRESS: "", BATCH_TOKEN_ADDRESS: "", HARDHAT_NETWORK: undefined },
        });
        let text = "";
        child.stdout.on("data", (d) => (text += d));
        child.stderr.on("data", (d) => (text += d));
        child.on("exit", (c) => resolve({ code: c, out: text }));
      });
      expect(code).to.not.equal(0);
      // Hardhat appends a stack trace only on CI servers; the first line always says what to do.
      // eslint-disable-next-line no-control-regex
      const plain = out.replace(/\u001b\[[0-9;]*m/g, "");
      const first = plain.split("\n").find((l) => l.trim().length > 0) ?? "";
      expect(first).to.match(/Error in plugin medtrace: error NO_DEPLOYMENT: .* — run `npm start`/);
    } finally {
      await node.stop();
    }
  });
});
