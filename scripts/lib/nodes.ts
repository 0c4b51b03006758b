import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import net from "node:net";
import path from "node:path";
import { REPO_ROOT, type SystemAddresses } from "../../api/chain/addresses";

/**
 * Real EVM nodes on loopback for `npm start`, the demo, tests and benchmarks: the Hardhat node
 * and anvil (npm @foundry-rs/anvil, binary inside the package). Free gas, chain id 1337.
 */
export interface NodeProcess {
  url: string;
  port: number;
  child: ChildProcess;
  /** Output the node wrote, for error messages. */
  output(): string;
  stop(): Promise<void>;
}

/** A TCP port nobody listens on right now, on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Whether something already listens on 127.0.0.1:`port`. */
export function portInUse(port: number, host = "127.0.0.1"): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

/** Resolves once `url` answers eth_chainId; rejects after `timeoutMs`. */
export async function waitForRpc(url: string, timeoutMs = 60_000, child?: ChildProcess): Promise<bigint> {
  const deadline = Date.now() + timeoutMs;
  let lastError = "";
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) throw new Error(`node exited with code ${child.exitCode} before answering at ${url}`);
    try {
      const res = await fetch(url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "eth_chainId", params: [] }),
      });
      const body = (await res.json()) as { result?: string };
      if (body.result) return BigInt(body.result);
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`no JSON-RPC answer from ${url} within ${timeoutMs} ms (${lastError})`);
}

function track(child: ChildProcess, url: string, port: number): NodeProcess {
  let out = "";
  const keep = (chunk: Buffer) => {
    out = (out + chunk.toString()).slice(-8_000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  return {
    url,
    port,
    child,
    output: () => out,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        child.once("exit", () => {
          clearTimeout(timer);
          resolve();
        });
        child.kill("SIGTERM");
      }),
  };
}

export const ANVIL_BIN = path.join(REPO_ROOT, "node_modules", "@foundry-rs", "anvil-linux-amd64", "bin", "anvil");

export interface AnvilOptions {
  port?: number;
  /** Seconds between blocks; omitted = a block per transaction. */
  blockTime?: number;
  chainId?: number;
  /** Load/dump the chain state here so a restart keeps it. */
  stateFile?: string;
  extraArgs?: string[];
}

/** Starts anvil on 127.0.0.1 with gas price 0 and base fee 0 and waits until it answers. */
export async function startAnvil(opts: AnvilOptions = {}): Promise<NodeProcess> {
  const port = opts.port ?? (await freePort());
  const args = [
    "--host", "127.0.0.1",
    "--port", String(port),
    "--chain-id", String(opts.chainId ?? 1337),
    "--gas-price", "0",
    "--base-fee", "0",
    "--hardfork", "cancun",
    "--accounts", "20",
    "--silent",
  ];
  if (opts.blockTime) args.push("--block-time", String(opts.blockTime));
  if (opts.stateFile) args.push("--state", opts.stateFile);
  if (opts.extraArgs) args.push(...opts.extraArgs);
  const child = spawn(ANVIL_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
  const node = track(child, `http://127.0.0.1:${port}`, port);
  try {
    await waitForRpc(node.url, 30_000, child);
  } catch (err) {
    await node.stop();
    throw new Error(`anvil did not start: ${(err as Error).message}\n${node.output()}`);
  }
  return node;
}

export interface HardhatNodeOptions {
  port?: number;
  /** Milliseconds between blocks (QBFT-like block period); 0 = a block per transaction. */
  blockIntervalMs?: number;
  /** Where the node's own output goes; default: kept in memory. */
  inheritOutput?: boolean;
}

/** Starts `hardhat node` on 127.0.0.1 (chain 1337, free gas: see hardhat.config.ts) and waits until it answers. */
export async function startHardhatNode(opts: HardhatNodeOptions = {}): Promise<NodeProcess> {
  const port = opts.port ?? (await freePort());
  const cli = path.join(REPO_ROOT, "node_modules", "hardhat", "internal", "cli", "cli.js");
  const child = spawn(process.execPath, [cli, "node", "--hostname", "127.0.0.1", "--port", String(port)], {
    cwd: REPO_ROOT,
    // HARDHAT_NETWORK would make `hardhat node` refuse to start: the node always runs the in-process network.
    env: { ...process.env, HARDHAT_NETWORK: undefined, BLOCK_INTERVAL_MS: String(opts.blockIntervalMs ?? 0) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const node = track(child, `http://127.0.0.1:${port}`, port);
  try {
    await waitForRpc(node.url, 90_000, child);
  } catch (err) {
    await node.stop();
    throw new Error(`hardhat node did not start: ${(err as Error).message}\n${node.output()}`);
  }
  return node;
}

/**
 * Compiles the service (api/ and typechain-types/) to dist/ with tsc (incremental) and returns
 * the entry point. Benchmarks run the compiled service, as `npm run serve` does: under ts-node
 * the TypeScript compiler stays in the process (~90 MB of RSS).
 */
export function buildService(): string {
  const started = Date.now();
  const tsc = path.join(REPO_ROOT, "node_modules", "typescript", "bin", "tsc");
  const result = spawnSync(process.execPath, [tsc, "-p", path.join(REPO_ROOT, "tsconfig.build.json")], { cwd: REPO_ROOT, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`npm run build failed:\n${result.stdout}${result.stderr}`);
  console.log(`compiled the service to dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return path.join(REPO_ROOT, "dist", "api", "server.js");
}

/** Environment of a service process on loopback for the local chain (id 1337); `extra` adds or overrides variables. */
export function serviceEnv(o: { rpcUrl: string; addresses: SystemAddresses; dataDir: string; port: number }, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    ...process.env,
    HOST: "127.0.0.1",
    PORT: String(o.port),
    LOG_LEVEL: "warn",
    CHAIN_RPC_URL: o.rpcUrl,
    CHAIN_ID: "1337",
    FORWARDER_ADDRESS: o.addresses.forwarder,
    CONSORTIUM_ADDRESS: o.addresses.consortium,
    BATCH_TOKEN_ADDRESS: o.addresses.batchToken,
    DATA_DIR: o.dataDir,
    ...extra,
  };
}
