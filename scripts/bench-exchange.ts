/**
 * Exchange benchmark: `npm run bench:exchange`.
 *
 *  1. Starts anvil and deploys the System with the demo consortium (as bench:read does).
 *  2. Seeds BENCH_BATCHES (300) serialised batches of BENCH_UNITS (100) serials: a mint wave, one
 *     delivery to the distributor (ship + accept waves), a tenth of the batches recalled — each wave
 *     one block of eth_sendTransaction batches from anvil's unlocked dev accounts.
 *  3. Starts the service compiled (dist/, as npm run serve runs it; relay off) as its own process,
 *     with one VRS requestor key, lets it index the chain, and uploads every serial list
 *     (producer-signed).
 *  4. Load from this process (autocannon, BENCH_CONNECTIONS = 32): VRS requests
 *     (`/verify/gtin/…/lot/…/ser/…?exp&linkType&context&reqGLN&corrUUID` with the API key) for a
 *     random pack per request, every 20th a forged serial, for BENCH_SECONDS; then the resolver
 *     (Digital Link, JSON) the same way, shorter.
 *
 * Prints a table and writes bench-results/exchange.json (vrsPerSec, vrsP95Ms, …). The EPCIS capture,
 * query and subscription figures (captureEventsPerSec, queryEventsPerSec, subscriptionLagP95Ms)
 * join this file when those interfaces exist.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { ethers, Interface } from "ethers";
import { REPO_ROOT } from "../api/chain/addresses";
import { dayNumber, withCheckDigit } from "../api/domain/gs1";
import { buildSerialTree } from "../api/domain/merkle";
import { serialUploadMessage } from "../api/read/verification";
import { BatchToken__factory } from "../typechain-types";
import { deploySystemOnNode, devWallet, rpcProvider } from "../test/fixtures/chain";
import { cpuSample, cpuShares, rssMB } from "./lib/cpu";
import { buildService, freePort, serviceEnv, startAnvil } from "./lib/nodes";

const BATCHES = Number(process.env.BENCH_BATCHES ?? 300);
const UNITS = Number(process.env.BENCH_UNITS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const GTIN = withCheckDigit("0950600013451");
const EXPIRY_DAY = dayNumber(2031, 12, 31);
const EXP = "311231";
const REQUESTOR_GLN = withCheckDigit("400123400002");
const API_KEY = "bench-vrs-key-0123456789";
const token = new Interface(BatchToken__factory.abi);
const ACCOUNT = { producer: 4, distributor: 5, regulator: 9 } as const;
const serialsOf = (b: number) => Array.from({ length: UNITS }, (_, i) => `X${b}-${i}`);
const percentile = (sorted: number[], p: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN).toFixed(2));

async function rpcBatch(url: string, calls: Array<{ method: string; params: unknown[] }>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < calls.length; i += 500) {
    const body = calls.slice(i, i + 500).map((c, j) => ({ jsonrpc: "2.0", id: i + j, ...c }));
    const res = await fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    const answers = (await res.json()) as Array<{ id: number; result?: unknown; error?: { message: string } }>;
    answers.sort((a, b) => a.id - b.id);
    for (const a of answers) {
      if (a.error) throw new Error(`JSON-RPC error in batch: ${a.error.message}`);
      out.push(a.result);
    }
  }
  return out;
}

function load(base: string, seconds: number, headers: Record<string, string>, nextPath: () => string) {
  const latencies: number[] = [];
  return new Promise<{ result: autocannon.Result; latencies: number[] }>((resolve, reject) => {
    const instance = autocannon(
      { url: base, connections: CONNECTIONS, duration: seconds, headers, requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: nextPath() }) }] },
      (err, res) => (err ? reject(err) : resolve({ result: res, latencies: latencies.sort((a, b) => a - b) })),
    );
    instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
  });
}

async function main() {
  const started = Date.now();
  const node = await startAnvil({ extraArgs: ["--gas-limit", "2000000000"] });
  const cleanup: Array<() => Promise<void> | void> = [() => node.stop()];
  try {
    console.log(`anvil at ${node.url}; deploying the System and admitting the demo consortium…`);
    const addresses = await deploySystemOnNode(node.url);
    const provider = rpcProvider(node.url);
    cleanup.push(() => provider.destroy());
    const address = Object.fromEntries(Object.entries(ACCOUNT).map(([k, i]) => [k, devWallet(i).address])) as Record<keyof typeof ACCOUNT, string>;
    const nonces = new Map<string, number>();
    for (const a of Object.values(address)) nonces.set(a, await provider.getTransactionCount(a, "pending"));
    await provider.send("evm_setAutomine", [false]);
    const wave = async (from: keyof typeof ACCOUNT, data: string[], gas: number) => {
      const sender = address[from];
      const calls = data.map((d) => {
        const nonce = nonces.get(sender)!;
        nonces.set(sender, nonce + 1);
        return { method: "eth_sendTransaction", params: [{ from: sender, to: addresses.batchToken, data: d, gas: "0x" + gas.toString(16), gasPrice: "0x0", nonce: "0x" + nonce.toString(16) }] };
      });
      const hashes = (await rpcBatch(node.url, calls)) as string[];
      await provider.send("evm_mine", []);
      const last = (await provider.send("eth_getTransactionReceipt", [hashes[hashes.length - 1]])) as { status: string } | null;
      if (!last || Number(last.status) !== 1) throw new Error(`wave from ${from} failed (last transaction ${hashes[hashes.length - 1]})`);
    };

    // ── Seeding ──
    const seedStart = Date.now();
    const trees = Array.from({ length: BATCHES }, (_, i) => buildSerialTree(serialsOf(i + 1)));
    const firstId = Number(await provider.send("eth_call", [{ to: addresses.batchToken, data: token.encodeFunctionData("batchCount") }, "latest"])) + 1;
    await wave(
      "producer",
      trees.map((t, i) =>
        token.encodeFunctionData("mintBatch", [{ gtin: BigInt(GTIN), lot: `EX-${i + 1}`, expiryDay: EXPIRY_DAY, quantity: BigInt(UNITS), serialsRoot: t.root, serialCount: t.count, documentHash: ethers.ZeroHash }]),
      ),
      400_000,
    );
    const ids = trees.map((_, i) => BigInt(firstId + i));
    const shipmentBase = Number(await provider.send("eth_call", [{ to: addresses.batchToken, data: token.encodeFunctionData("shipmentCount") }, "latest"]));
    await wave("producer", ids.map((id) => token.encodeFunctionData("ship", [id, BigInt(UNITS), address.distributor, ethers.ZeroHash])), 200_000);
    await wave(
      "distributor",
      ids.map((id, i) =>
        token.encodeFunctionData("acceptShipment", [BigInt(shipmentBase + 1 + i), { batchId: id, sender: address.producer, receiver: address.distributor, quantity: BigInt(UNITS), isReturn: false }]),
      ),
      200_000,
    );
    await wave("regulator", ids.filter((_, i) => i % 10 === 0).map((id) => token.encodeFunctionData("recall", [id, ethers.id("bench recall")])), 200_000);
    await provider.send("evm_setAutomine", [true]);
    const seedSeconds = (Date.now() - seedStart) / 1000;
    console.log(`seeded ${BATCHES} batches × ${UNITS} serials in ${seedSeconds.toFixed(1)} s`);

    // ── The service, compiled, as its own process ──
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-bench-exchange-"));
    cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const service = spawn(process.execPath, [buildService()], {
      cwd: REPO_ROOT,
      env: serviceEnv(
        { rpcUrl: node.url, addresses, dataDir, port },
        {
          RELAY_ENABLED: "false",
          READ_API_KEYS: "",
          PUBLIC_RATE_LIMIT_PER_MINUTE: "100000000",
          READ_TREE_CACHE: String(BATCHES),
          VRS_API_KEYS: `${REQUESTOR_GLN}:${API_KEY}`,
        },
      ),
      stdio: ["ignore", "inherit", "inherit"],
    });
    cleanup.unshift(
      () =>
        new Promise<void>((resolve) => {
          if (service.exitCode !== null) return resolve();
          service.once("exit", () => resolve());
          service.kill("SIGTERM");
        }),
    );
    const base = `http://127.0.0.1:${port}`;
    const head = await provider.getBlockNumber();
    for (let i = 0; ; i++) {
      try {
        const s = (await (await fetch(`${base}/v1/index/status`)).json()) as { indexedBlock: number };
        if (s.indexedBlock >= head) break;
      } catch {
        // not listening yet
      }
      if (i > 1200) throw new Error("the service did not index the chain within 120 s");
      await new Promise((r) => setTimeout(r, 100));
    }
    const producer = devWallet(ACCOUNT.producer);
    for (let i = 0; i < BATCHES; i++) {
      const message = serialUploadMessage({ chainId: 1337n, batchToken: addresses.batchToken, batchId: ids[i]!, root: trees[i]!.root, count: trees[i]!.count });
      const res = await fetch(`${base}/v1/batches/${ids[i]}/serials`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ serials: serialsOf(i + 1), signature: await producer.signMessage(message) }),
      });
      if (res.status !== 201) throw new Error(`serial upload of batch ${ids[i]} answered ${res.status}: ${await res.text()}`);
    }

    // ── Load ──
    const pack = () => {
      const b = Math.floor(Math.random() * BATCHES);
      const serial = Math.random() < 0.05 ? `FORGED-${b}` : `X${b + 1}-${Math.floor(Math.random() * UNITS)}`;
      return { lot: `EX-${b + 1}`, serial };
    };
    const vrsPath = () => {
      const p = pack();
      return `/verify/gtin/${GTIN}/lot/${p.lot}/ser/${p.serial}?exp=${EXP}&linkType=verificationService&context=dscsaSaleableReturn&reqGLN=${REQUESTOR_GLN}&corrUUID=${crypto.randomUUID()}`;
    };
    const resolverPath = () => {
      const p = pack();
      return `/01/${GTIN}/10/${p.lot}/21/${p.serial}?17=${EXP}`;
    };
    const sample = (await (await fetch(`${base}${vrsPath()}`, { headers: { "x-api-key": API_KEY } })).json()) as { data?: { verified: boolean } };
    if (typeof sample.data?.verified !== "boolean") throw new Error(`unexpected VRS answer: ${JSON.stringify(sample)}`);

    const before = cpuSample();
    const vrs = await load(base, SECONDS, { "x-api-key": API_KEY, accept: "application/json" }, vrsPath);
    const machine = cpuShares(before, cpuSample());
    const resolver = await load(base, Math.max(5, Math.round(SECONDS / 2)), { accept: "application/json" }, resolverPath);
    const { rss, peak } = rssMB(service.pid);

    const out = {
      machine: { cpus: os.cpus().length, node: process.version },
      seeding: { batches: BATCHES, unitsPerBatch: UNITS, recalledBatches: Math.ceil(BATCHES / 10), seconds: Number(seedSeconds.toFixed(1)) },
      connections: CONNECTIONS,
      vrsPerSec: Math.round(vrs.result.requests.average),
      vrsP50Ms: percentile(vrs.latencies, 50),
      vrsP95Ms: percentile(vrs.latencies, 95),
      vrsP99Ms: percentile(vrs.latencies, 99),
      vrsRequests: vrs.result.requests.total,
      vrsNon2xx: vrs.result.non2xx + vrs.result.errors,
      resolverPerSec: Math.round(resolver.result.requests.average),
      resolverP95Ms: percentile(resolver.latencies, 95),
      resolverNon2xx: resolver.result.non2xx + resolver.result.errors,
      machineDuringVrs: machine,
      rssMB: Number(rss.toFixed(1)),
      peakRssMB: Number(peak.toFixed(1)),
      totalSeconds: Math.round((Date.now() - started) / 1000),
    };
    fs.mkdirSync(path.join(REPO_ROOT, "bench-results"), { recursive: true });
    fs.writeFileSync(path.join(REPO_ROOT, "bench-results", "exchange.json"), JSON.stringify(out, null, 2) + "\n");
    const rows: Array<[string, string, string]> = [
      ["seeding", `${BATCHES} batches × ${UNITS} serials in ${out.seeding.seconds} s`, ""],
      ["vrsPerSec", String(out.vrsPerSec), "≥ 2,000"],
      ["vrsP50Ms / vrsP95Ms / vrsP99Ms", `${out.vrsP50Ms} / ${out.vrsP95Ms} / ${out.vrsP99Ms}`, "p95 ≤ 100"],
      ["VRS non-2xx", String(out.vrsNon2xx), "0"],
      ["resolverPerSec (Digital Link, JSON verdict)", String(out.resolverPerSec), ""],
      ["resolverP95Ms", String(out.resolverP95Ms), ""],
      ["resolver non-2xx", String(out.resolverNon2xx), "0"],
      ["rssMB (peak)", `${out.rssMB} (${out.peakRssMB})`, ""],
      ["machine during VRS load: CPU stolen by the host / idle (%)", `${machine.stealPct} / ${machine.idlePct}`, "steal ≈ 0 for a valid run"],
    ];
    console.log(`\n| metric (${CONNECTIONS} connections, random packs) | value | bar |\n|---|---|---|`);
    for (const r of rows) console.log(`| ${r[0]} | ${r[1]} | ${r[2]} |`);
    console.log(`\nwrote bench-results/exchange.json (${out.totalSeconds} s in all)`);
  } finally {
    for (const c of cleanup) await c();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
