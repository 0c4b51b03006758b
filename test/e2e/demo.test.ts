import fs from "node:fs";
import { spawn } from "node:child_process";
import path from "node:path";
import hre from "hardhat";
import { expect } from "chai";
import { loadFixture } from "@nomicfoundation/hardhat-network-helpers";
import { deploySystem, deploymentDir, parametersFor, REPO_ROOT } from "../../scripts/lib/deployment";
import { admitDemoMembers, DEMO_MEMBERS } from "../../scripts/lib/consortium-setup";
import { runDemo } from "../../scripts/lib/demo";
import { startAnvil, type NodeProcess } from "../../scripts/lib/nodes";

async function demoSystemFixture() {
  const system = await deploySystem(hre, { parameters: parametersFor("hardhat") });
  const accounts = await hre.ethers.getSigners();
  await admitDemoMembers(system.consortium, accounts);
  const actor = (key: string) => accounts[DEMO_MEMBERS.find((m) => m.key === key)!.account];
  return {
    system,
    actors: { producer: actor("producer"), distributor: actor("distributor"), pharmacy: actor("pharmacy"), regulator: actor("regulator") },
  };
}

describe("the traceability demo", function () {
  it("tells the whole story on the Hardhat network, deployed through the Ignition System module", async function () {
    const { system, actors } = await loadFixture(demoSystemFixture);
    const lines: string[] = [];
    const result = await runDemo({ batchToken: system.batchToken, consortium: system.consortium, actors, log: (l) => lines.push(l) });

    expect(result.balances).to.deep.equal({ producer: 600n, distributor: 300n, pharmacy: 97n });
    expect(result.refused.map((r) => r.error)).to.deep.equal([
      "BatchTokenInvalidUnitProof",
      "BatchTokenUnitAlreadyDispensed",
      "BatchTokenFlowNotAllowed",
    ]);
    expect(result.status).to.equal(3); // Recalled
    expect(result.conserved).to.equal(true);
    expect(result.history).to.have.length(10);
    expect(result.history[0]).to.match(/minted 1000 units/);
    expect(result.history.at(-1)).to.match(/RECALLED/);
    for (const serial of result.dispensedSerials) {
      expect(lines.join("\n")).to.contain(serial);
    }
  });

  describe("on anvil, a second EVM implementation, through `hardhat run scripts/demo.ts --network anvil`", function () {
    let node: NodeProcess;
    const deploymentId = `e2e-anvil-${process.pid}`;
    before(async () => {
      node = await startAnvil();
    });
    after(async () => {
      await node?.stop();
      fs.rmSync(deploymentDir(deploymentId), { recursive: true, force: true });
    });

    it("deploys with Ignition over JSON-RPC, runs the scenario, and a second run reuses the deployment", async function () {
      const run = () =>
        new Promise<{ code: number | null; out: string }>((resolve) => {
          const child = spawn(
            process.execPath,
            [path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js"), "run", "scripts/demo.ts", "--network", "anvil"],
            { cwd: REPO_ROOT, env: { ...process.env, ANVIL_RPC_URL: node.url, DEPLOYMENT_ID: deploymentId, HARDHAT_NETWORK: undefined } },
          );
          let out = "";
          child.stdout.on("data", (d) => (out += d));
          child.stderr.on("data", (d) => (out += d));
          child.on("exit", (code) => resolve({ code, out }));
        });
      const first = await run();
      expect(first.code, first.out).to.equal(0);
      expect(first.out).to.contain("deploying the System module");
      expect(first.out).to.contain("refused as expected: BatchTokenInvalidUnitProof");
      expect(first.out).to.contain("refused as expected: BatchTokenUnitAlreadyDispensed");
      expect(first.out).to.contain("refused as expected: BatchTokenFlowNotAllowed");
      expect(first.out).to.contain("Conservation (minted = held + in transit + dispensed + written off): holds");
      expect(fs.existsSync(path.join(deploymentDir(deploymentId), "deployed_addresses.json"))).to.equal(true);

      const second = await run();
      expect(second.code, second.out).to.equal(0);
      expect(second.out).to.contain(`using deployment ${deploymentId}`);
      expect(second.out).not.to.contain("deploying the System module");
      expect(second.out).to.contain("RECALLED");
    });
  });
});
