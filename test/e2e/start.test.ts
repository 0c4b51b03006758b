import fs from "node:fs";
import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { expect } from "chai";
import { deploymentDir, REPO_ROOT } from "../../scripts/lib/deployment";
import { freePort, startAnvil, type NodeProcess } from "../../scripts/lib/nodes";

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string | undefined>): Run {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "node_modules", "ts-node", "dist", "bin.js"), "--transpile-only", "scripts/start.ts"], {
    cwd: REPO_ROOT,
    env: { ...process.env, HARDHAT_NETWORK: undefined, LOG_LEVEL: "warn", ...env },
  });
  let out = "";
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (out += d));
  return { child, output: () => out, exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))) };
}

/** Resolves when `text` appears in the output; rejects when the process exits first or after `ms`. */
function waitFor(run: Run, text: string, ms = 120_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`"${text}" not seen within ${ms} ms:\n${run.output()}`)), ms);
    const check = () => {
      if (run.output().includes(text)) {
        clearTimeout(timer);
        resolve();
      }
    };
    run.child.stdout!.on("data", check);
    run.exited.then(() => {
      clearTimeout(timer);
      if (run.output().includes(text)) resolve();
      else reject(new Error(`exited before "${text}":\n${run.output()}`));
    });
    check();
  });
}

describe("npm start", function () {
  const deploymentId = `e2e-start-${process.pid}`;
  let anvil: NodeProcess;
  after(async () => {
    await anvil?.stop();
    const root = path.dirname(deploymentDir(deploymentId));
    for (const dir of fs.existsSync(root) ? fs.readdirSync(root) : []) {
      if (dir.startsWith(deploymentId)) fs.rmSync(path.join(root, dir), { recursive: true, force: true });
    }
  });

  it("starts a node, deploys, admits the consortium, serves, and stops everything on SIGINT", async function () {
    const [rpcPort, port] = [await freePort(), await freePort()];
    const run = start({ RPC_PORT: String(rpcPort), PORT: String(port), BLOCK_INTERVAL_MS: "0", DEPLOYMENT_ID: `${deploymentId}-hardhat` });
    await waitFor(run, "ready in");
    const out = run.output();
    expect(out).to.contain("7 members admitted through governance");
    expect(out).to.match(/pharmacy\s+0x14dC79964da2C08b23698B3D3cc7Ca32193d9955/);
    const keys = path.join(REPO_ROOT, ".local", "dev-keys.json");
    expect(fs.statSync(keys).mode & 0o077, "dev keys must not be group/world readable").to.equal(0);
    const ready = await fetch(`http://127.0.0.1:${port}/ready`);
    expect(ready.status, await ready.text()).to.equal(200);

    run.child.kill("SIGINT");
    expect(await run.exited).to.equal(0);
    const rpcGone = await fetch(`http://127.0.0.1:${rpcPort}`, { method: "POST", body: "{}" }).then(
      () => false,
      () => true,
    );
    expect(rpcGone, "the Hardhat node must stop with npm start").to.equal(true);
  });

  it("reuses the deployment a running chain already has on a second start", async function () {
    anvil = await startAnvil();
    const first = start({ CHAIN_RPC_URL: anvil.url, DEPLOYMENT_ID: deploymentId, START_SERVICE: "false" });
    await waitFor(first, "ready in");
    expect(first.output()).to.contain("deployed System");
    first.child.kill("SIGINT");
    await first.exited;

    const second = start({ CHAIN_RPC_URL: anvil.url, DEPLOYMENT_ID: deploymentId, START_SERVICE: "false" });
    await waitFor(second, "ready in");
    expect(second.output()).to.contain(`reusing deployment ${deploymentId}`);
    expect(second.output()).to.contain("0 members admitted through governance, 7 already members");
    second.child.kill("SIGINT");
    await second.exited;
  });

  it("stops with one coded line on bad configuration, a busy port or an unreachable node", async function () {
    const bad = start({ RPC_PORT: "eighty" });
    expect(await bad.exited).to.equal(2);
    expect(bad.output()).to.match(/error CONFIG_INVALID: RPC_PORT: .* — fix it in .env/);

    const busy = await startAnvil();
    try {
      const run = start({ RPC_PORT: String(busy.port) });
      expect(await run.exited).to.equal(2);
      expect(run.output()).to.match(new RegExp(`error PORT_IN_USE: 127.0.0.1:${busy.port} is already in use`));
    } finally {
      await busy.stop();
    }

    const gone = start({ CHAIN_RPC_URL: `http://127.0.0.1:${await freePort()}` });
    expect(await gone.exited).to.equal(2);
    expect(gone.output()).to.match(/error RPC_UNREACHABLE: no JSON-RPC node answers/);
    for (const r of [bad, gone]) expect(r.output()).to.not.match(/^\s+at /m);
  });
});
