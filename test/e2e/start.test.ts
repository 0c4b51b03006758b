import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { expect } from "chai";
import { chromium } from "playwright-core";
import { deploymentDir, REPO_ROOT } from "../../scripts/lib/deployment";
import { devKeysSchema } from "../../scripts/lib/dev-keys";
import { freePort, portInUse, startAnvil, type NodeProcess } from "../../scripts/lib/nodes";

interface Run {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

function start(env: Record<string, string | undefined>, cwd = REPO_ROOT): Run {
  const child = spawn(process.execPath, [path.join(REPO_ROOT, "node_modules", "ts-node", "dist", "bin.js"), "--transpile-only", "scripts/start.ts"], {
    cwd,
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

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The repository's files as a fresh clone has them (tracked and not ignored), with node_modules linked. */
function copyOfRepository(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-clone-"));
  const files = execFileSync("git", ["ls-files", "-z", "--cached", "--others", "--exclude-standard"], { cwd: REPO_ROOT })
    .toString()
    .split("\0")
    // node_modules is linked below (a checkout whose node_modules is itself a link lists it as a file).
    .filter((f) => f && f !== "node_modules" && fs.existsSync(path.join(REPO_ROOT, f)));
  for (const f of files) {
    fs.mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    fs.copyFileSync(path.join(REPO_ROOT, f), path.join(dir, f));
  }
  fs.symlinkSync(path.join(REPO_ROOT, "node_modules"), path.join(dir, "node_modules"));
  return dir;
}

function runIn(cwd: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd, env: { ...process.env, HARDHAT_NETWORK: undefined, ...env } });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("exit", (code) => resolve({ code, out }));
  });
}

/** The verdict headline and text the portal shows in Chromium for `url`. */
async function portalShows(url: string): Promise<{ headline: string; text: string }> {
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-chromium-"));
  const flags = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];
  const context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: flags, headless: true });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url);
    const box = page.locator("#result");
    await box.waitFor({ state: "visible" });
    return { headline: await page.locator("#verdict-headline").innerText(), text: (await box.innerText()).replace(/\s+/g, " ") };
  } finally {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  }
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

  describe("on a fresh clone: a copy of the repository's files without artifacts/, cache/ or typechain-types/", function () {
    let copy: string;
    /** Whether the task test below compiled the copy (the start test then reuses it). */
    let compiledByTask = false;
    before(() => {
      copy = copyOfRepository();
    });
    after(() => fs.rmSync(copy, { recursive: true, force: true }));

    it("runs a Hardhat task: it compiles first, then gets as far as the missing node", async function () {
      this.timeout(240_000);
      const task = await runIn(copy, [path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js"), "members:list", "--network", "localnode"], {
        CHAIN_RPC_URL: `http://127.0.0.1:${await freePort()}`,
      });
      expect(task.code).to.equal(1);
      expect(task.out).to.contain("compiling the contracts: artifacts/ is missing (first run after a clone)");
      expect(task.out).to.match(/error RPC_UNREACHABLE: cannot reach the JSON-RPC node of network "localnode"/);
      expect(task.out).to.not.contain("Cannot find module");
      compiledByTask = fs.existsSync(path.join(copy, "artifacts", "contracts"));
    });

    // npm start compiles a fresh clone through the same helper as the task above
    // (scripts/lib/compile.ts); .ci/run's smoke runs it on a real fresh clone. Here it starts from
    // the clone the task compiled (a second full compile cost ~50 s of npm test) and must not
    // compile again; run alone, it compiles the clone itself.
    it("compiles (once), starts a node, deploys, admits, serves; the demo then runs through its relay and the portal says what the demo says; SIGINT stops everything", async function () {
      this.timeout(360_000);
      expect(fs.existsSync(path.join(copy, ".local")), ".local").to.equal(false);
      if (!compiledByTask) for (const generated of ["artifacts", "cache", "typechain-types"]) expect(fs.existsSync(path.join(copy, generated)), generated).to.equal(false);
      const [rpcPort, port] = [await freePort(), await freePort()];
      const run = start({ RPC_PORT: String(rpcPort), PORT: String(port), BLOCK_INTERVAL_MS: "1000" }, copy);
      try {
        await waitFor(run, "ready in", 240_000);
        const out = run.output();
        if (compiledByTask) expect(out).to.not.contain("compiling the contracts");
        else expect(out).to.contain("compiling the contracts: artifacts/ is missing (first run after a clone)");
        expect(out).to.contain("7 members admitted through governance");
        expect(out).to.contain("chain now seals a block every 1000 ms");
        expect(out).to.match(/pharmacy\s+0x14dC79964da2C08b23698B3D3cc7Ca32193d9955 .* — custodial \(API key\)/);
        const keysFile = path.join(copy, ".local", "dev-keys.json");
        expect(fs.statSync(keysFile).mode & 0o077, "dev keys must not be group/world readable").to.equal(0);
        const keys = devKeysSchema.parse(JSON.parse(fs.readFileSync(keysFile, "utf8")));
        expect(keys.service?.url).to.equal(`http://127.0.0.1:${port}`);
        expect(keys.accounts.find((a) => a.key === "pharmacy")?.apiKey).to.match(/^mtk_/);
        const ready = await fetch(`http://127.0.0.1:${port}/ready`);
        expect(ready.status, await ready.text()).to.equal(200);

        // `npm run demo` in a second terminal, in the same clone.
        const demo = await runIn(copy, [path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js"), "run", "scripts/demo.ts", "--network", "localnode"], {
          CHAIN_RPC_URL: `http://127.0.0.1:${rpcPort}`,
        });
        expect(demo.code, demo.out).to.equal(0);
        expect(demo.out).to.match(/11 requests went through the relay \(7 signed by their members, 4 with the pharmacy's API key\), each followed to mined/);
        const dispensed = /a pack the pharmacy dispensed, then recalled: (\S+)\n\s+→ "([^"]+)", dispensed on (\S+)/.exec(demo.out);
        const untouched = /a pack still at the producer, recalled with its batch: (\S+)\n\s+→ "([^"]+)"/.exec(demo.out);
        expect(dispensed, demo.out).to.not.equal(null);
        expect(untouched, demo.out).to.not.equal(null);
        expect(dispensed![2]).to.match(/^Do not use — recalled on \d{4}-\d{2}-\d{2}$/);
        expect(untouched![2]).to.match(/^Do not use — recalled on \d{4}-\d{2}-\d{2}$/);

        // What the demo says is what the portal shows.
        for (const [code, headline, dispensedOn] of [[dispensed![1], dispensed![2], dispensed![3]], [untouched![1], untouched![2], undefined]]) {
          const v = (await (await fetch(`http://127.0.0.1:${port}/v1/verify/scan?code=${encodeURIComponent(code!)}`)).json()) as Record<string, unknown>;
          expect(v).to.include({ verdict: "recalled", headline, expiryChecked: true, expiryNote: null, dispensedOn: dispensedOn ?? null });
          if (fs.existsSync(CHROMIUM)) {
            const shown = await portalShows(`http://127.0.0.1:${port}/portal/?code=${encodeURIComponent(code!)}`);
            expect(shown.headline).to.equal(headline);
            if (dispensedOn) expect(shown.text).to.contain(`Dispensed on ${dispensedOn}`);
            else expect(shown.text).to.not.contain("Dispensed on");
            expect(shown.text).to.not.contain("no expiry");
          }
        }
      } finally {
        run.child.kill("SIGINT");
      }
      expect(await run.exited).to.equal(0);
      expect(await portInUse(rpcPort), "the Hardhat node must stop with npm start").to.equal(false);
      expect(await portInUse(port), "the service must stop with npm start").to.equal(false);
    });
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
