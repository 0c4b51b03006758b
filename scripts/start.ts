/**
 * `npm start`: a complete local consortium in one command.
 *
 * Compiles the contracts if a fresh clone (or a change) needs it while it starts a Hardhat node on
 * 127.0.0.1 (chain 1337, gas price 0, base fee 0), deploys the System module through Ignition (or
 * reuses the deployment the chain already has), admits the demo consortium through governance,
 * then lets the node seal a block every BLOCK_INTERVAL_MS like a QBFT block period. Starts the
 * relay and read service with the demo pharmacy enrolled for custodial signing, writes who is who
 * with the dev keys and its API key to .local/dev-keys.json (git-ignored, mode 0600), and shuts
 * everything down on Ctrl-C.
 */
import "dotenv/config";
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

  // ── 1. The chain, and the contracts compiled beside it ──
  // A fresh clone has no artifacts/ or typechain-types/ (git-ignored) and everything below imports
  // them, so compile first when they are missing or stale, while the node starts in parallel.
  let rpcUrl = env.CHAIN_RPC_URL;
  let nodeStart: Promise<string> | undefined;
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
    say(
      `starting Hardhat node on 127.0.0.1:${env.RPC_PORT} (chain 1337, free gas, ${env.BLOCK_INTERVAL_MS > 0 ? `a block per transaction while setting up, then every ${env.BLOCK_INTERVAL_MS} ms` : "a block per transaction"})`,
    );
    // Set-up (deployment, admissions) mines at once; the block period starts when it is done.
    nodeStart = startHardhatNode({ port: env.RPC_PORT, blockIntervalMs: 0 }).then((node) => {
      stops.push(() => node.stop());
      // Every exit, including a coded failure further down, takes the node with it.
      process.on("exit", () => node.child.kill("SIGTERM"));
      say(`node ready at ${node.url}`);
      return node.url;
    });
    // Keep a failed start from surfacing as an unhandled rejection while the compile runs.
    nodeStart.catch(() => undefined);
    rpcUrl = `http://127.0.0.1:${env.RPC_PORT}`;
  }
  // The `localnode` network of hardhat.config.ts reads this when the config loads.
  process.env.CHAIN_RPC_URL = rpcUrl;

  const hre = await import("hardhat");
  const { ensureCompiled } = await import("./lib/compile");
  try {
    const did = await ensureCompiled(hre, say);
    if (!did) say("contracts compiled and up to date");
  } catch (err) {
    await shutdownQuietly(stops, nodeStart);
    fail("COMPILE_FAILED", (err as Error).message.split("\n")[0], "fix the contract named above, or run `npx hardhat compile` to see the compiler's full output");
  }
  if (nodeStart) {
    try {
      await nodeStart;
    } catch (err) {
      fail("NODE_FAILED", (err as Error).message.split("\n")[0], "see the node's output above; is another process using the port?");
    }
  }

  // ── 2. Contracts and members ──
  const { deploySystem, parametersFor } = await import("./lib/deployment");
  const { admitDemoMembers, registerDemoProduct, DEMO_MEMBERS, DEMO_GOVERNOR_INDICES, ROLE_NAMES } = await import("./lib/consortium-setup");
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
  await registerDemoProduct(system.batchToken, accounts, say);

  // Deployment and admission ran a block per transaction; from here on the chain keeps the
  // block period of a QBFT network.
  if (nodeStart && env.BLOCK_INTERVAL_MS > 0) {
    await hre.network.provider.send("evm_setAutomine", [false]);
    await hre.network.provider.send("evm_setIntervalMining", [env.BLOCK_INTERVAL_MS]);
    say(`chain now seals a block every ${env.BLOCK_INTERVAL_MS} ms`);
  }

  // ── 3. Who is who ──
  const { HDNodeWallet, Mnemonic } = hre.ethers;
  const { DEV_MNEMONIC } = await import("../hardhat.config");
  const { writeDevKeys, DEV_KEYS_FILE, localServiceSecrets } = await import("./lib/dev-keys");
  const keyOf = (i: number) => HDNodeWallet.fromMnemonic(Mnemonic.fromPhrase(DEV_MNEMONIC), `m/44'/60'/0'/0/${i}`).privateKey;
  const who = [
    { key: "deployer", name: "Deployer", account: 0, custodial: false },
    ...DEMO_GOVERNOR_INDICES.map((i, n) => ({ key: `governor${n + 1}`, name: `Governor ${n + 1}`, account: i, custodial: false })),
    ...DEMO_MEMBERS.map((m) => ({ key: m.key, name: `${m.name}, GLN ${m.gln}, ${m.jurisdiction}, ${ROLE_NAMES[m.role]}`, account: m.account, custodial: m.custodial })),
  ];
  const devKeys = {
    warning: "Development keys of the public Hardhat/anvil test mnemonic. Never use them on a real network.",
    chainId: 1337,
    rpcUrl: rpcUrl!,
    contracts: system.addresses,
    accounts: who.map((w) => ({ key: w.key, address: accounts[w.account].address, privateKey: keyOf(w.account) as string, apiKey: undefined as string | undefined })),
  };

  // ── 4. The relay and read service ──
  let service: { url: string; adminToken: string } | undefined;
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
    // Custodial signing and the admin API are on, with secrets generated for this data directory
    // (unless .env sets them), so the demo's custodial member works out of the box.
    const secrets = localServiceSecrets(path.resolve(__dirname, "..", process.env.DATA_DIR));
    process.env.RELAY_ADMIN_TOKEN ??= secrets.adminToken;
    process.env.RELAY_KEYSTORE_PASSPHRASE ??= secrets.keystorePassphrase;
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
    service = { url: `http://127.0.0.1:${env.PORT}`, adminToken: process.env.RELAY_ADMIN_TOKEN };
    say(`service listening on ${service.url} (API docs at /docs, portal at /)`);
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
    const { enrolCustodialMember } = await import("./lib/custodial-setup");
    for (const account of devKeys.accounts) {
      const w = who.find((x) => x.key === account.key)!;
      if (!w.custodial) continue;
      const enrolled = await enrolCustodialMember(service.url, service.adminToken, { privateKey: account.privateKey, label: `npm start: ${account.key}` });
      account.apiKey = enrolled.apiKey;
      say(`${account.key} signs through the relay's custodial key (API key in ${path.relative(process.cwd(), DEV_KEYS_FILE)})`);
    }
  }

  writeDevKeys({ ...devKeys, ...(service ? { service } : {}) });
  console.log(`\nWho is who (dev keys in ${path.relative(process.cwd(), DEV_KEYS_FILE)}):`);
  for (const w of who) console.log(`  ${w.key.padEnd(13)} ${accounts[w.account].address}  ${w.name}${w.custodial && service ? " — custodial (API key)" : ""}`);
  console.log(`\nContracts: forwarder ${system.addresses.forwarder}\n           consortium ${system.addresses.consortium}\n           batch token ${system.addresses.batchToken}\n`);
  if (service) console.log(`Portal ${service.url}/  ·  API docs ${service.url}/docs  ·  next: npm run demo (in a second terminal)\n`);
  say(`ready in ${elapsed()} — press Ctrl-C to stop`);
}

/** Stops what started so far; waits for a node still starting, so it does not outlive us. */
async function shutdownQuietly(stops: (() => Promise<void>)[], starting?: Promise<unknown>) {
  await starting?.catch(() => undefined);
  for (const stop of stops.reverse()) await stop().catch(() => undefined);
}

main().catch((err) => {
  console.error(`error START_FAILED: ${(err as Error).message.split("\n")[0]} — run with DEBUG=* or see the message above`);
  if (process.env.DEBUG) console.error(err);
  process.exit(1);
});
