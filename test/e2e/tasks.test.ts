import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import hre from "hardhat";
import { expect } from "chai";
import {
  deploySystem,
  parametersFor,
  REPO_ROOT,
} from "../../scripts/lib/deployment";
import {
  admitDemoMembers,
  registerDemoProduct,
} from "../../scripts/lib/consortium-setup";
import { startAnvil } from "../../scripts/lib/nodes";

const ADDRESS_VARS = [
  "FORWARDER_ADDRESS",
  "CONSORTIUM_ADDRESS",
  "BATCH_TOKEN_ADDRESS",
] as const;

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

async function refusal(
  name: string,
  args: Record<string, unknown>,
): Promise<string> {
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
    const system = await deploySystem(hre, {
      parameters: parametersFor("hardhat"),
    });
    await admitDemoMembers(system.consortium, await hre.ethers.getSigners());
    await registerDemoProduct(system.batchToken, await hre.ethers.getSigners());
    for (const v of ADDRESS_VARS) saved[v] = process.env[v];
    process.env.FORWARDER_ADDRESS = system.addresses.forwarder;
    process.env.CONSORTIUM_ADDRESS = system.addresses.consortium;
    process.env.BATCH_TOKEN_ADDRESS = system.addresses.batchToken;
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-tasks-"));
    fs.writeFileSync(
      path.join(dir, "serials.csv"),
      ["serial", ...Array.from({ length: 10 }, (_, i) => `TSK${i}`)].join("\n"),
    );
    fs.writeFileSync(
      path.join(dir, "serials.json"),
      JSON.stringify({ serials: ["J1", "J2", "J3"] }),
    );
    fs.writeFileSync(
      path.join(dir, "dupes.json"),
      JSON.stringify(["A1", "A1"]),
    );
    fs.writeFileSync(
      path.join(dir, "master.json"),
      JSON.stringify({
        gtin: "09506000000015",
        name: "Paracetamol Rhein 500 mg",
        packSize: "20 tablets",
      }),
    );
    fs.writeFileSync(path.join(dir, "foreign.json"), JSON.stringify({ gtin: "04012345000009", name: "Someone else's product" }));
    fs.writeFileSync(path.join(dir, "no-name.json"), JSON.stringify({ gtin: "09506000000015" }));
  });
  after(function () {
    for (const v of ADDRESS_VARS) {
      if (saved[v] === undefined) delete process.env[v];
      else process.env[v] = saved[v];
    }
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("lists the members with role, GLN, jurisdiction, status, key and company prefixes", async function () {
    const { result } = await run("members:list");
    expect(result).to.have.length(7);
    expect(result[0]).to.include({
      index: 1,
      role: "Producer",
      gln: "4001234000015",
      jurisdiction: "DE",
      status: "Active",
      key: "(the account)",
      prefixes: "9506000",
    });
  });

  it("withdraws an approval and cancels a proposal", async function () {
    const { result: id } = await run("gov:propose", {
      action: "setProposalLifetime",
      params: "[86400]",
      as: "governor1",
    });
    await run("gov:approve", { id: String(id), as: "governor2" });
    const { out } = await run("gov:withdraw", {
      id: String(id),
      as: "governor2",
    });
    expect(out).to.contain("1 of 2 approvals");
    await run("gov:cancel", { id: String(id), as: "governor1" });
    const proposals = (await run("gov:proposals")).result as {
      id: string;
      state: string;
    }[];
    expect(proposals.find((p) => p.id === String(id))?.state).to.equal(
      "Cancelled",
    );
    expect(await refusal("gov:execute", { id: String(id) })).to.match(
      /ConsortiumProposalCancelled/,
    );
  });

  it("admits a member through propose, approve and execute", async function () {
    const newcomer = (await hre.ethers.getSigners())[11];
    const { result: id, out } = await run("gov:propose", {
      action: "admitMember",
      params: JSON.stringify([
        newcomer.address,
        "Pharmacy",
        "4001234000084",
        "DE",
        "licence 2030",
        "2030-01-01",
        [],
      ]),
      as: "governor1",
    });
    expect(out).to.match(/1 of 2 approvals/);
    await run("gov:approve", { id: String(id), as: "governor2" });
    const executed = await run("gov:execute", {
      id: String(id),
      as: "governor1",
    });
    expect(executed.out).to.contain("MemberAdmitted");
    const proposals = (await run("gov:proposals")).result as {
      id: string;
      state: string;
    }[];
    expect(proposals.find((p) => p.id === String(id))?.state).to.equal(
      "Executed",
    );
  });

  it("registers a product, mints packed in cases, ships by SSCC and by pack, dispenses and undoes, decommissions, recalls and prints the batch's and a pack's history", async function () {
    await run("product:register", {
      gtin: "09506000000015",
      markets: "DE,FR",
      masterData: path.join(dir, "master.json"),
    });
    const packing = path.join(dir, "packing.json");
    const { result: batchId } = await run("batch:mint", {
      gtin: "09506000134352",
      lot: "TASK-1",
      expiry: "2030-06-30",
      serials: path.join(dir, "serials.csv"),
      unitsPerCase: "4",
      casesPerPallet: "2",
      packingOut: packing,
    });
    const list = JSON.parse(fs.readFileSync(packing, "utf8")) as {
      cases: string[];
      pallets: string[];
    };
    expect(list.cases).to.have.length(3);
    const { result: shipmentId } = await run("custody:ship", {
      batch: String(batchId),
      items: `sscc:${list.pallets[0]}`,
      packing,
      to: "distributor",
    });
    await run("custody:accept", { shipment: String(shipmentId) });
    const { result: back } = await run("custody:ship", {
      batch: String(batchId),
      items: "packs:0-1",
      to: "producer",
      as: "distributor",
    });
    await run("custody:reject", {
      shipment: String(back),
      reason: "Damaged",
      as: "producer",
    });
    const { result: toPharmacy } = await run("custody:ship", {
      batch: String(batchId),
      items: "pack:3,case:1",
      to: "pharmacy",
      as: "distributor",
    });
    await run("custody:accept", { shipment: String(toPharmacy) });

    const scan = "]d2\x1d0109506000134352173006301" + "0TASK-1\x1d21TSK3";
    expect(
      (
        await run("unit:verify", {
          scan,
          serials: path.join(dir, "serials.csv"),
        })
      ).result,
    ).to.equal("Genuine");
    await run("custody:dispense", {
      scan,
      serials: path.join(dir, "serials.csv"),
    });
    expect(
      (
        await run("unit:verify", {
          scan,
          serials: path.join(dir, "serials.csv"),
        })
      ).result,
    ).to.equal("Dispensed");
    await run("custody:undo-dispense", {
      scan,
      serials: path.join(dir, "serials.csv"),
    });
    await run("custody:decommission", {
      batch: String(batchId),
      items: "pack:5",
      state: "Stolen",
      reason: "police report",
      as: "pharmacy",
    });
    expect(
      (
        await run("unit:verify", {
          gtin: "09506000134352",
          lot: "TASK-1",
          serial: "TSK5",
          expiry: "300630",
          serials: path.join(dir, "serials.csv"),
        })
      ).result,
    ).to.equal("Stolen");
    await run("status:quarantine", {
      gtin: "09506000134352",
      lot: "TASK-1",
      reason: "suspect",
    });
    await run("status:recall", {
      batch: String(batchId),
      reason: "voluntary recall",
      as: "producer",
    });
    expect(
      (
        await run("unit:verify", {
          gtin: "09506000134352",
          lot: "TASK-1",
          serial: "TSK3",
          expiry: "300630",
          serials: path.join(dir, "serials.csv"),
        })
      ).result,
    ).to.equal("Recalled");
    expect(
      (
        await run("unit:verify", {
          gtin: "09506000134352",
          lot: "TASK-1",
          serial: "FAKE",
          expiry: "300630",
          serials: path.join(dir, "serials.csv"),
        })
      ).result,
    ).to.equal("NotInBatch");

    const { result: history, out } = await run("batch:history", {
      batch: String(batchId),
    });
    expect(
      history.events.map((e: { name: string }) => e.name),
    ).to.include.ordered.members([
      "BatchMinted",
      "BatchMarkets",
      "BatchPacked",
      "ShipmentCreated",
      "ShipmentAccepted",
    ]);
    expect(out).to.contain("conservation holds");
    const pack = await run("pack:history", {
      batch: String(batchId),
      unit: "3",
    });
    expect(pack.out).to.match(/dispensed pack #3/);
    expect(pack.out).to.match(/undid the dispense of pack #3/);
    expect(pack.result).to.include({
      state: "Held",
      case: 0,
      pallet: 0,
      detached: true,
    });
  });

  it("refuses bad input with a clear, coded message", async function () {
    const json = path.join(dir, "serials.json");
    expect(
      await refusal("batch:mint", {
        gtin: "09506000134353",
        lot: "X",
        expiry: "301231",
        serials: json,
      }),
    ).to.match(/BAD_GTIN/);
    expect(
      await refusal("batch:mint", {
        gtin: "09506000134352",
        lot: "X",
        expiry: "301345",
        serials: json,
      }),
    ).to.match(/BAD_EXPIRY/);
    expect(
      await refusal("batch:mint", {
        gtin: "09506000134352",
        lot: "X",
        expiry: "301231",
        serials: path.join(dir, "dupes.json"),
      }),
    ).to.match(/BAD_SERIALS.*duplicates/);
    expect(
      await refusal("batch:mint", {
        gtin: "09506000134352",
        lot: "X",
        expiry: "301231",
        serials: path.join(dir, "missing.json"),
      }),
    ).to.match(/NO_FILE/);
    expect(
      await refusal("batch:mint", {
        gtin: "09506000134352",
        lot: "X",
        expiry: "301231",
        serials: json,
        as: "distributor",
      }),
    ).to.match(/WRONG_ROLE/);
    expect(
      await refusal("batch:mint", {
        gtin: "04012345000009",
        lot: "X",
        expiry: "301231",
        serials: json,
      }),
    ).to.match(/BatchTokenUnknownProduct/);
    expect(
      await refusal("product:register", {
        gtin: "04012345000009",
        markets: "DE",
        masterData: path.join(dir, "foreign.json"),
      }),
    ).to.match(/BatchTokenNotBrandOwner/);
    expect(await refusal("product:register", { gtin: "04012345000009", markets: "DE", masterData: path.join(dir, "master.json") })).to.match(/MASTER_DATA_GTIN/);
    expect(await refusal("product:register", { gtin: "09506000000015", markets: "DE", masterData: path.join(dir, "no-name.json") })).to.match(/BAD_MASTER_DATA.*name/);
    const { result: fresh } = await run("batch:mint", {
      gtin: "09506000134352",
      lot: "TASK-2",
      expiry: "301231",
      serials: json,
    });
    const b = String(fresh);
    expect(
      await refusal("custody:ship", {
        batch: "999",
        items: "pack:1",
        to: "distributor",
      }),
    ).to.match(/UNKNOWN_BATCH/);
    expect(
      await refusal("custody:ship", { batch: b, to: "distributor" }),
    ).to.match(/ITEMS_REQUIRED/);
    expect(
      await refusal("custody:ship", {
        batch: b,
        items: "box:3",
        to: "distributor",
      }),
    ).to.match(/BAD_ITEMS/);
    expect(
      await refusal("custody:ship", {
        batch: b,
        items: "sscc:001234",
        to: "distributor",
      }),
    ).to.match(/NO_PACKING/);
    expect(
      await refusal("custody:ship", {
        batch: b,
        items: "pack:9",
        to: "0x000000000000000000000000000000000000dEaD",
      }),
    ).to.match(/NOT_A_MEMBER/);
    expect(
      await refusal("custody:ship", {
        batch: b,
        items: "pack:9",
        to: "distributor",
        as: "nobody",
      }),
    ).to.match(/UNKNOWN_ACCOUNT/);
    const notHeld = await refusal("custody:ship", {
      batch: String(fresh),
      items: "pack:1",
      to: "pharmacy",
      as: "distributor",
    });
    expect(notHeld, notHeld).to.match(/CALL_REVERTED.*BatchTokenNotHolder/);
    expect(
      await refusal("custody:ship", {
        batch: String(fresh),
        items: "packs:0-7",
        to: "distributor",
      }),
    ).to.match(/CALL_REVERTED.*BatchTokenInvalidItem/);
    expect(await refusal("custody:accept", { shipment: "424242" })).to.match(
      /UNKNOWN_SHIPMENT/,
    );
    expect(await refusal("custody:accept", { shipment: "1" })).to.match(
      /SHIPMENT_CLOSED/,
    );
    const wrongHolder = await refusal("custody:ship", {
      batch: b,
      items: "pack:1",
      to: "pharmacy",
      as: "distributor",
    });
    expect(wrongHolder, wrongHolder).to.match(
      /BatchTokenNotHolder|BatchTokenFlowNotAllowed/,
    );
    expect(
      await refusal("custody:decommission", {
        batch: b,
        items: "pack:1",
        state: "Held",
      }),
    ).to.match(/BAD_STATE/);
    expect(
      await refusal("gov:propose", {
        action: "transferOwnership",
        params: "[]",
      }),
    ).to.match(/UNKNOWN_ACTION/);
    expect(
      await refusal("gov:propose", { action: "setThreshold", params: "[2" }),
    ).to.match(/BAD_PARAMS/);
    expect(
      await refusal("gov:propose", {
        action: "admitMember",
        params: JSON.stringify([
          "0x000000000000000000000000000000000000dEaD",
          "Pharmacy",
          "4001234000085",
          "DE",
          "l",
          "2030-01-01",
          [],
        ]),
      }),
    ).to.match(/BAD_GLN/);
    expect(
      await refusal("gov:propose", {
        action: "admitMember",
        params: JSON.stringify([
          "0x000000000000000000000000000000000000dEaD",
          "Producer",
          "4001234000084",
          "DE",
          "l",
          "2030-01-01",
          ["12"],
        ]),
      }),
    ).to.match(/BAD_PREFIXES/);
    expect(
      await refusal("gov:propose", {
        action: "setThreshold",
        params: "[2]",
        as: "producer",
      }),
    ).to.match(/NOT_GOVERNOR/);
  });

  it("prints one line without a stack trace when the network has no deployment", async function () {
    const node = await startAnvil();
    try {
      const { code, out } = await new Promise<{
        code: number | null;
        out: string;
      }>((resolve) => {
        const child = spawn(
          process.execPath,
          [
            path.join(
              REPO_ROOT,
              "node_modules",
              "hardhat",
              "internal",
              "cli",
              "cli.js",
            ),
            "members:list",
            "--network",
            "anvil",
          ],
          {
            cwd: REPO_ROOT,
            env: {
              ...process.env,
              ANVIL_RPC_URL: node.url,
              DEPLOYMENT_ID: "no-such-deployment",
              FORWARDER_ADDRESS: "",
              CONSORTIUM_ADDRESS: "",
              BATCH_TOKEN_ADDRESS: "",
              HARDHAT_NETWORK: undefined,
            },
          },
        );
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
      expect(first).to.match(
        /Error in plugin medtrace: error NO_DEPLOYMENT: .* — run `npm start`/,
      );
    } finally {
      await node.stop();
    }
  });
});
