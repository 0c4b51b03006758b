/**
 * Read-side benchmark: `npm run bench:read`.
 *
 *  1. Starts anvil (gas price 0, block gas limit 2e9) and deploys the System through Ignition
 *     with the demo consortium.
 *  2. Seeds BENCH_BATCHES (1,000) serialised batches and ≥ 200,000 custody events as fast as the
 *     node allows: automine off, each wave of one transaction per batch sent as JSON-RPC batches
 *     of eth_sendTransaction from anvil's unlocked dev accounts (producer, two distributors, the
 *     regulator: four sender keys, nonces kept locally), then one evm_mine — a whole wave per block.
 *     Batches shuttle between the two distributors (ship + accept = 2 events per hop).
 *  3. Indexes the chain into a fresh SQLite index in this process: indexEventsPerSec.
 *  4. Starts the service (compiled to dist/ first, as npm run serve runs it; relay off) as a child process on that index, uploads
 *     every batch's serial list (producer-signed), then measures custody history latency
 *     (sequential requests over random batches) and public verification under load (autocannon,
 *     random batch and serial per request, so most requests miss the verdict cache and call
 *     BatchToken.verifyUnit on the node), and the service's RSS.
 *
 *     A second, shorter run repeats one pack (every answer from the per-block verdict cache): the
 *     HTTP stack's own ceiling on this machine, reported as verifyCachedPerSec.
 *
 * Prints a table and writes bench-results/read.json. Env: BENCH_BATCHES, BENCH_HOPS (ship+accept
 * pairs per batch after the first delivery), BENCH_UNITS (serials per batch), BENCH_VERIFY_SECONDS,
 * BENCH_CONNECTIONS; for investigation BENCH_INDEX_ONLY=1 (stop after indexing) and
 * BENCH_CPU_PROF=<dir> (CPU profile of the service).
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
import { JsonRpcClient } from "../api/read/chain-reader";
import { Indexer } from "../api/read/indexer";
import { IndexStore } from "../api/read/store";
import { serialUploadMessage } from "../api/read/verification";
import { BatchToken__factory, Consortium__factory } from "../typechain-types";
import { deploySystemOnNode, devWallet, rpcProvider } from "../test/fixtures/chain";
import { cpuSample, cpuShares, rssMB } from "./lib/cpu";
import { buildService, freePort, serviceEnv, startAnvil } from "./lib/nodes";

const BATCHES = Number(process.env.BENCH_BATCHES ?? 1000);
const HOPS = Number(process.env.BENCH_HOPS ?? 99);
const UNITS = Number(process.env.BENCH_UNITS ?? 100);
const VERIFY_SECONDS = Number(process.env.BENCH_VERIFY_SECONDS ?? 15);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const RPC_CHUNK = 500;
const GTIN = BigInt(withCheckDigit("0950600013499"));
const EXPIRY_DAY = dayNumber(2031, 12, 31);
const token = new Interface(BatchToken__factory.abi);
const ACCOUNT = { producer: 4, distributor: 5, distributor2: 6, regulator: 9 } as const;

const serialsOf = (b: number) => Array.from({ length: UNITS }, (_, i) => `S${b}-${i}`);
const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];

async function rpcBatch(url: string, calls: Array<{ method: string; params: unknown[] }>): Promise<unknown[]> {
  const out: unknown[] = [];
  for (let i = 0; i < calls.length; i += RPC_CHUNK) {
    const body = calls.slice(i, i + RPC_CHUNK).map((c, j) => ({ jsonrpc: "2.0", id: i + j, ...c }));
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

async function main() {
  const started = Date.now();
  const node = await startAnvil({ extraArgs: ["--gas-limit", "2000000000"] });
  const cleanup: Array<() => Promise<void> | void> = [() => node.stop()];
  try {
    console.log(`anvil at ${node.url}; deploying the System and admitting the demo consortium…`);
    const addresses = await deploySystemOnNode(node.url);
    const provider = rpcProvider(node.url);
    cleanup.push(() => provider.destroy());
    // Deriving an HD wallet runs PBKDF2: derive each address once.
    const addressBook = new Map((Object.keys(ACCOUNT) as (keyof typeof ACCOUNT)[]).map((k) => [k, devWallet(ACCOUNT[k]).address]));
    const address = (k: keyof typeof ACCOUNT) => addressBook.get(k)!;
    const nonces = new Map<string, number>();
    for (const k of Object.keys(ACCOUNT) as (keyof typeof ACCOUNT)[]) nonces.set(address(k), await provider.getTransactionCount(address(k), "pending"));
    await provider.send("evm_setAutomine", [false]);

    let txCount = 0;
    const wave = async (from: keyof typeof ACCOUNT, data: string[], gas: number) => {
      const sender = address(from);
      const calls = data.map((d) => {
        const nonce = nonces.get(sender)!;
        nonces.set(sender, nonce + 1);
        return { method: "eth_sendTransaction", params: [{ from: sender, to: addresses.batchToken, data: d, gas: "0x" + gas.toString(16), gasPrice: "0x0", nonce: "0x" + nonce.toString(16) }] };
      });
      const hashes = (await rpcBatch(node.url, calls)) as string[];
      await provider.send("evm_mine", []);
      const last = (await provider.send("eth_getTransactionReceipt", [hashes[hashes.length - 1]])) as { status: string } | null;
      txCount += hashes.length;
      // One receipt per wave proves the wave executed (all share the block; a revert shows as status 0).
      if (!last || Number(last.status) !== 1) throw new Error(`wave from ${from} failed: last transaction ${hashes[hashes.length - 1]} status ${last?.status}`);
    };

    // ── Seeding ──
    const seedStart = Date.now();
    const trees = Array.from({ length: BATCHES }, (_, i) => buildSerialTree(serialsOf(i + 1)));
    const firstId = Number(await provider.send("eth_call", [{ to: addresses.batchToken, data: token.encodeFunctionData("batchCount") }, "latest"])) + 1;
    await wave(
      "producer",
      trees.map((t, i) =>
        token.encodeFunctionData("mintBatch", [
          { gtin: GTIN, lot: `BENCH-${i + 1}`, expiryDay: EXPIRY_DAY, quantity: BigInt(UNITS), serialsRoot: t.root, serialCount: t.count, documentHash: ethers.ZeroHash },
        ]),
      ),
      400_000,
    );
    const ids = trees.map((_, i) => BigInt(firstId + i));
    const shipmentCount = async () => Number(await provider.send("eth_call", [{ to: addresses.batchToken, data: token.encodeFunctionData("shipmentCount") }, "latest"]));
    const hop = async (from: keyof typeof ACCOUNT, to: keyof typeof ACCOUNT) => {
      const base = await shipmentCount();
      await wave(from, ids.map((id) => token.encodeFunctionData("ship", [id, BigInt(UNITS), address(to), ethers.ZeroHash])), 200_000);
      if ((await shipmentCount()) !== base + ids.length) throw new Error("a ship wave did not create one shipment per batch");
      await wave(
        to,
        ids.map((id, i) => token.encodeFunctionData("acceptShipment", [BigInt(base + 1 + i), { batchId: id, sender: address(from), receiver: address(to), quantity: BigInt(UNITS), isReturn: false }])),
        200_000,
      );
    };
    await hop("producer", "distributor");
    for (let h = 0; h < HOPS; h++) {
      await hop(h % 2 === 0 ? "distributor" : "distributor2", h % 2 === 0 ? "distributor2" : "distributor");
      if ((h + 1) % 10 === 0) process.stdout.write(`  seeded ${h + 1}/${HOPS} hops (${txCount} transactions, ${((Date.now() - seedStart) / 1000).toFixed(0)} s)\n`);
    }
    // A tenth of the batches recalled, for the verification mix.
    await wave("regulator", ids.filter((_, i) => i % 10 === 0).map((id) => token.encodeFunctionData("recall", [id, ethers.id("bench recall")])), 200_000);
    await provider.send("evm_setAutomine", [true]);
    const seedSeconds = (Date.now() - seedStart) / 1000;
    const expectedEvents = BATCHES * (1 + 2 * (HOPS + 1)) + Math.ceil(BATCHES / 10);
    console.log(`seeded ${BATCHES} batches, ${txCount} transactions, ${expectedEvents} ledger events in ${seedSeconds.toFixed(1)} s`);

    // ── Indexing (in this process, straight from JSON-RPC into SQLite) ──
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-bench-read-"));
    cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const dbFile = path.join(dataDir, "index.sqlite");
    const store = new IndexStore(dbFile);
    const indexer = new Indexer({
      provider: new JsonRpcClient(node.url, 120_000),
      store,
      batchToken: addresses.batchToken,
      consortium: Consortium__factory.connect(addresses.consortium, provider),
      chainId: 1337n,
      startBlock: 0,
      blockRange: 5000,
      confirmations: 0,
      pollMs: 500,
    });
    const indexStart = process.hrtime.bigint();
    const indexedEvents = await indexer.syncOnce();
    const indexSeconds = Number(process.hrtime.bigint() - indexStart) / 1e9;
    store.close();
    if (indexedEvents !== expectedEvents) throw new Error(`indexed ${indexedEvents} events, expected ${expectedEvents}`);
    const indexEventsPerSec = indexedEvents / indexSeconds;
    console.log(`indexed ${indexedEvents} events in ${indexSeconds.toFixed(2)} s (${Math.round(indexEventsPerSec)} events/s)`);
    if (process.env.BENCH_INDEX_ONLY) return;

    // ── The service, as its own process, on that index ──
    const port = await freePort();
    const profile = process.env.BENCH_CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", process.env.BENCH_CPU_PROF] : [];
    const service = spawn(process.execPath, [...profile, buildService()], {
      cwd: REPO_ROOT,
      env: serviceEnv(
        { rpcUrl: node.url, addresses, dataDir, port },
        {
          INDEXER_DB_FILE: "index.sqlite",
          RELAY_ENABLED: "false",
          READ_API_KEYS: "",
          PUBLIC_RATE_LIMIT_PER_MINUTE: "100000000",
          READ_TREE_CACHE: String(BATCHES),
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
    for (let i = 0; ; i++) {
      try {
        const r = await fetch(`${base}/ready`);
        if (r.ok) break;
      } catch {
        // not listening yet
      }
      if (i > 600) throw new Error("the service did not become ready within 60 s");
      await new Promise((r) => setTimeout(r, 100));
    }

    // Serial lists, signed by the producer (EIP-191).
    const producer = devWallet(ACCOUNT.producer);
    const uploadStart = Date.now();
    for (let i = 0; i < BATCHES; i++) {
      const message = serialUploadMessage({ chainId: 1337n, batchToken: addresses.batchToken, batchId: ids[i], root: trees[i].root, count: trees[i].count });
      const res = await fetch(`${base}/v1/batches/${ids[i]}/serials`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ serials: serialsOf(i + 1), signature: await producer.signMessage(message) }),
      });
      if (res.status !== 201) throw new Error(`serial upload of batch ${ids[i]} answered ${res.status}: ${await res.text()}`);
    }
    console.log(`uploaded ${BATCHES} serial lists in ${((Date.now() - uploadStart) / 1000).toFixed(1)} s`);

    // History latency: sequential requests, random batches (each ~${2 * HOPS + 3} events).
    const historyMs: number[] = [];
    for (let i = 0; i < 1000; i++) {
      const id = ids[Math.floor(Math.random() * BATCHES)];
      const t0 = process.hrtime.bigint();
      const res = await fetch(`${base}/v1/batches/${id}/history`);
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`history answered ${res.status}`);
      historyMs.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
    historyMs.sort((a, b) => a - b);

    // Verification under load: random (batch, serial) per request; every 20th a forged serial.
    const paths = (): string => {
      const b = Math.floor(Math.random() * BATCHES);
      const serial = Math.random() < 0.05 ? `FORGED-${b}` : `S${b + 1}-${Math.floor(Math.random() * UNITS)}`;
      return `/01/${GTIN.toString().padStart(14, "0")}/10/BENCH-${b + 1}/21/${serial}?17=311231`;
    };
    const load = (seconds: number, path: () => string) => {
      const latencies: number[] = [];
      return new Promise<{ result: autocannon.Result; latencies: number[] }>((resolve, reject) => {
        const instance = autocannon(
          {
            url: base,
            connections: CONNECTIONS,
            duration: seconds,
            headers: { accept: "application/json" },
            requests: [{ method: "GET", setupRequest: (req) => ({ ...req, path: path() }) }],
          },
          (err, res) => (err ? reject(err) : resolve({ result: res, latencies: latencies.sort((a, b) => a - b) })),
        );
        instance.on("response", (_client: unknown, _statusCode: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
      });
    };
    const machineBefore = cpuSample();
    const { result, latencies } = await load(VERIFY_SECONDS, paths);
    const machine = cpuShares(machineBefore, cpuSample());
    const fixedPath = paths();
    const cached = await load(Math.max(3, Math.round(VERIFY_SECONDS / 3)), () => fixedPath);
    const { rss: serviceRss, peak: servicePeak } = rssMB(service.pid);
    const non2xx = result.non2xx + result.errors;
    const sample = (await (await fetch(`${base}${paths()}`, { headers: { accept: "application/json" } })).json()) as { verdict: string };

    const out = {
      machine: { cpus: os.cpus().length, node: process.version },
      seeding: { batches: BATCHES, unitsPerBatch: UNITS, transactions: txCount, events: expectedEvents, seconds: Number(seedSeconds.toFixed(1)), senders: Object.keys(ACCOUNT).length },
      indexEventsPerSec: Math.round(indexEventsPerSec),
      indexSeconds: Number(indexSeconds.toFixed(2)),
      historyP50Ms: Number(percentile(historyMs, 50).toFixed(2)),
      historyP95Ms: Number(percentile(historyMs, 95).toFixed(2)),
      historyEventsPerBatch: 2 * (HOPS + 1) + 1,
      verifyPerSec: Math.round(result.requests.average),
      verifyP50Ms: percentile(latencies, 50),
      verifyP95Ms: percentile(latencies, 95),
      verifyRequests: result.requests.total,
      verifyNon2xx: non2xx,
      verifyConnections: CONNECTIONS,
      verifyCachedPerSec: Math.round(cached.result.requests.average),
      verifyCachedP95Ms: percentile(cached.latencies, 95),
      verifySampleVerdict: sample.verdict,
      machineDuringVerify: machine,
      rssMB: Number(serviceRss.toFixed(1)),
      peakRssMB: Number(servicePeak.toFixed(1)),
      totalSeconds: Math.round((Date.now() - started) / 1000),
    };
    fs.mkdirSync(path.join(REPO_ROOT, "bench-results"), { recursive: true });
    fs.writeFileSync(path.join(REPO_ROOT, "bench-results", "read.json"), JSON.stringify(out, null, 2) + "\n");
    const rows: Array<[string, string, string]> = [
      ["seeding", `${out.seeding.events} events / ${out.seeding.transactions} txs in ${out.seeding.seconds} s`, ""],
      ["indexEventsPerSec", String(out.indexEventsPerSec), "≥ 5,000"],
      ["historyP50Ms", String(out.historyP50Ms), ""],
      ["historyP95Ms", String(out.historyP95Ms), "≤ 20"],
      ["verifyPerSec", String(out.verifyPerSec), "≥ 3,000"],
      ["verifyP95Ms", String(out.verifyP95Ms), ""],
      ["verifyCachedPerSec (one pack, cache hits)", String(out.verifyCachedPerSec), ""],
      ["verify non-2xx", String(out.verifyNon2xx), "0"],
      ["rssMB (peak)", `${out.rssMB} (${out.peakRssMB})`, ""],
      ["machine during verification: CPU stolen by the host / idle (%)", `${machine.stealPct} / ${machine.idlePct}`, "steal ≈ 0 for a valid run"],
    ];
    console.log("\n| metric | value | bar |\n|---|---|---|");
    for (const r of rows) console.log(`| ${r[0]} | ${r[1]} | ${r[2]} |`);
    console.log(`\nwrote bench-results/read.json (${out.totalSeconds} s in all)`);
  } finally {
    for (const c of cleanup) await c();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
