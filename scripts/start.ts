/**
 * `npm start`: a complete local consortium in one command.
 *
 * Starts a Hardhat node on 127.0.0.1 (chain 1337, gas price 0, base fee 0, blocks every
 * BLOCK_INTERVAL_MS like a QBFT block period), deploys the System module through Ignition (or
 * reuses the deployment the chain already has), admits the demo consortium through governance,
 * writes the dev keys to .local/dev-keys.json (git-ignored, mode 0600), starts the relay and
 * read service, prints who is who, and shuts everything down on Ctrl-C.
 */
import "dotenv/config";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";

process.env.HARDHAT_NETWORK ??= "localnode";

const envSchema = z.object({
  RPC_PORT: z.coerce.number().int().min(1).max(65535).default(8545),
  BLOCK_INTERVAL_MS: z.coerce.number().int().min(0).max(60_000).default(1000),
  CHAIN_RPC_URL: z.string().url().optional(),
  PORT: z.coerce.number().int().min(1).max(65535).default(8080),
  START_SERVICE: z.enum(["true", "false"]).default("true"),
});

const started = Date.now();
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(1)}s`;
const say = (line: string) => console.log(`[${elapsed().padStart(6)}] ${line}`);
const fail = (code: string, message: string, hint: string): never => {
  console.error(`error ${code}: ${message} — ${hint}`);
  process.exit(2);
};

async function main() {
  // An empty value (`FOO=` as in .env.example) means "not set".
  for (const [k, v] of Object.entries(process.env)) if (v === "") delete process.env[k];
  const parsed = envSchema.safeParse(process.env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    fail("CONFIG_INVALID", `${issue.path.join(".")}: ${issue.message}`, "fix it in .env (see .env.example)");
  }
  const env = parsed.data!;
  const { portInUse, startHardhatNode } = await import("./lib/nodes");

  const stops: (() => Promise<void>)[] = [];
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    say(`${signal}: shutting down`);
    for (const stop of stops.reverse()) await stop().catch((err) => console.error(`while stopping: ${(err as Error).message}`));
    say("stopped");
    process.exit(0);
  };
  process.on("SIGINT", () => void shutdown("SIGINT"));
  process.on("SIGTERM", () => void shutdown("SIGTERM"));

  // ── 1. The chain ──
  let rpcUrl = env.CHAIN_RPC_URL;
  if (rpcUrl) {
    say(`using the node at ${rpcUrl} (CHAIN_RPC_URL)`);
  } else {
    if (await portInUse(env.RPC_PORT)) {
      fail(
        "PORT_IN_USE",
        `127.0.0.1:${env.RPC_PORT} is already in use (another npm start?)`,
        `stop it, set RPC_PORT to a free port, or set CHAIN_RPC_URL=http://127.0.0.1:${env.RPC_PORT} to use that node`,
      );
    }
    say(`starting Hardhat node on 127.0.0.1:${env.RPC_PORT} (chain 1337, free gas, ${env.BLOCK_INTERVAL_MS > 0 ? `${env.BLOCK_INTERVAL_MS} ms blocks` : "a block per transaction"})`);
    const node = await startHardhatNode({ port: env.RPC_PORT, blockIntervalMs: env.BLOCK_INTERVAL_MS });
    stops.push(() => node.stop());
    rpcUrl = node.url;
    say(`node ready at ${rpcUrl}`);
  }
  process.env.CHAIN_RPC_URL = rpcUrl;

  // ── 2. Contracts and members ──
  const hre = await import("hardhat");
  const { deploySystem, parametersFor } = await import("./lib/deployment");
  const { admitDemoMembers, DEMO_MEMBERS, DEMO_GOVERNOR_INDICES, ROLE_NAMES } = await import("./lib/consortium-setup");
  const { UserError } = await import("./lib/errors");
  let chainId: bigint;
  try {
    chainId = (await hre.ethers.provider.getNetwork()).chainId;
  } catch (err) {
    return fail("RPC_UNREACHABLE", `no JSON-RPC node answers at ${rpcUrl} (${(err as Error).message.split("\n")[0]})`, "start the node or fix CHAIN_RPC_URL in .env");
  }
  if (chainId !== 1337n) fail("WRONG_CHAIN", `the node at ${rpcUrl} is chain ${chainId}, expected 1337`, "point CHAIN_RPC_URL at the local consortium node");
  say("deploying the System module with Ignition (journal in ignition/deployments/)");
  let system;
  try {
    system = await deploySystem(hre, { parameters: parametersFor("localnode"), log: say });
  } catch (err) {
    if (err instanceof UserError) fail(err.code, err.message, err.hint ?? "");
    throw err;
  }
  const accounts = await hre.ethers.getSigners();
  const { admitted, skipped } = await admitDemoMembers(system.consortium, accounts, say);
  say(`consortium: ${admitted} members admitted through governance, ${skipped} already members`);

  // ── 3. Dev keys (git-ignored) ──
  const { HDNodeWallet, Mnemonic } = hre.ethers;
  const { DEV_MNEMONIC } = await import("../hardhat.config");
  const keyOf = (i: number) => HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${i}`).privateKey;
  const localDir = path.resolve(__dirname, "..", ".local");
  fs.mkdirSync(localDir, { recursive: true, mode: 0o700 });
  const keysFile = path.join(localDir, "dev-keys.json");
  const who = [
    { key: "deployer", name: "Deployer", account: 0 },
    ...DEMO_GOVERNOR_INDICES.map((i, n) => ({ key: `governor${n + 1}`, name: `Governor ${n + 1}`, account: i })),
    ...DEMO_MEMBERS.map((m) => ({ key: m.key, name: `${m.name}, GLN ${m.gln}, ${m.jurisdiction}, ${ROLE_NAMES[m.role]}`, account: m.account })),
  ];
  fs.writeFileSync(
    keysFile,
    JSON.stringify(
      {
        warning: "Development keys of the public Hardhat/anvil test mnemonic. Never use them on a real network.",
        chainId: 1337,
        rpcUrl,
        contracts: system.addresses,
        accounts: who.map((w) => ({ key: w.key, address: accounts[w.account].address, privateKey: keyOf(w.account) })),
      },
      null,
      2,
    ),
    { mode: 0o600 },
  );
  fs.chmodSync(keysFile, 0o600);

  console.log("\nWho is who (dev keys in .local/dev-keys.json):");
  for (const w of who) console.log(`  ${w.key.padEnd(13)} ${accounts[w.account].address}  ${w.name}`);
  console.log(`\nContracts: forwarder ${system.addresses.forwarder}\n           consortium ${system.addresses.consortium}\n           batch token ${system.addresses.batchToken}\n`);

  // ── 4. The relay and read service ──
  if (env.START_SERVICE === "true") {
    process.env.DEPLOYMENT_ID = system.deploymentId;
    // The outbox and the index belong to one chain. A fresh dev node is a new chain, so each gets
    // its own data directory (keyed by genesis hash) and a restart against the same chain reuses
    // it; an explicit DATA_DIR is kept, and the service then reports a chain reset as it should.
    if (!process.env.DATA_DIR) {
      const genesis = (await hre.ethers.provider.getBlock(0))!.hash!;
      process.env.DATA_DIR = path.join(".local", "data", `chain-1337-${genesis.slice(2, 10)}`);
    }
    say(`service data in ${process.env.DATA_DIR}`);
    process.env.CHAIN_ID = "1337";
    process.env.PORT = String(env.PORT);
    const { applyHeapTuning, loadConfig } = await import("../api/config");
    const { buildApp } = await import("../api/app");
    const config = loadConfig(process.env);
    applyHeapTuning(config.env);
    const app = await buildApp(config, { logger: { level: process.env.LOG_LEVEL ?? "warn" } });
    try {
      await app.listen({ host: "127.0.0.1", port: env.PORT });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EADDRINUSE") {
        await shutdownQuietly(stops);
        fail("PORT_IN_USE", `127.0.0.1:${env.PORT} is already in use`, "stop the other process or set PORT in .env");
      }
      throw err;
    }
    stops.push(() => app.close());
    say(`service listening on http://127.0.0.1:${env.PORT} (API docs at /docs, portal at /)`);
    // "Ready" means ready: the indexer has read the chain once and the relay found its keys.
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await app.inject({ method: "GET", url: "/ready" });
      if (res.statusCode === 200) break;
      if (Date.now() > deadline) {
        const checks = (res.json() as { checks: Record<string, { ok: boolean; detail: string }> }).checks;
        const failing = Object.entries(checks).filter(([, c]) => !c.ok).map(([n, c]) => `${n}: ${c.detail}`);
        console.warn(`warning: the service is not ready after 60 s (${failing.join("; ")}); see /ready`);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  say(`ready in ${elapsed()} — press Ctrl-C to stop`);
}

async function shutdownQuietly(stops: (() => Promise<void>)[]) {
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}

main().catch((err) => {
  console.error(`error START_FAILED: ${(err as Error).message.split("\n")[0]} — run with DEBUG=* or see the message above`);
  if (process.env.DEBUG) console.error(err);
  process.exit(1);
});
