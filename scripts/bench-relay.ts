/**
 * Write-side benchmark: `npm run bench:relay`.
 *
 *  1. Starts anvil (gas price 0, block gas limit 2e9) and deploys the System through Ignition with
 *     the demo consortium, then switches anvil to 1-second interval mining (a QBFT block period).
 *  2. Mints one large batch and spreads stock so five members can ship one unit at a time:
 *     producer → distributor, distributor → pharmacy, distributor2 → pharmacy,
 *     pharmacy → distributor (return), pharmacy2 → distributor2 (return).
 *  3. Starts the relay (compiled to dist/ first, as npm run serve runs it; read side off) as a child process with BENCH_RELAYERS
 *     relayer keys (dev accounts 11…), and the load generator as another child process (this file
 *     with BENCH_ROLE=load): each member signs EIP-712 requests natively and keeps BENCH_WINDOW
 *     of them in flight over HTTP for BENCH_SECONDS.
 *     A hostile member (the regulator, account 9) joins the load once each of the five members
 *     has had a request accepted (so each has its lane), and parks BENCH_HOSTILE (1,000) requests behind a nonce gap (its
 *     next nonce is never sent) with a deadline past the run. With as many relayer keys as
 *     members it lands on a lane shared with one of them (the producer's): what it costs the
 *     others is p95AcceptToMinedMsWithHostileMember, and on its own lane p95AcceptToMinedMsOnHostileLane.
 *  4. Waits until the outbox has nothing queued or submitted but the hostile member's parked
 *     requests, then reads accept and finish times from the outbox (SQLite, read-only) and the
 *     batch-size histogram from /metrics, samples the relay's RSS throughout, prints a table and
 *     writes bench-results/relay.json. The hostile member's requests are counted apart.
 *
 * Env: BENCH_SECONDS (60), BENCH_WINDOW (80 per member), BENCH_RELAYERS (5: one lane per member,
 * so the hostile member shares one; a signer uses one lane, so more keys than members sat idle), BENCH_BATCH (200),
 * BENCH_PENDING (4 per key, Besu sequenced-pool safe), BENCH_GAS (request gas, 200000),
 * BENCH_BATCH_WAIT (RELAY_BATCH_WAIT_MS, 100), BENCH_PRESIGN (requests per second of load signed before the clock starts, 1500),
 * BENCH_HOSTILE (requests the hostile member parks behind its gap, 1000; 0 = no hostile member),
 * BENCH_PROFILE (a directory: the relay writes a V8 CPU profile there), BENCH_NODE_ARGS (extra node
 * flags for the relay). The relay's own variables pass through, e.g. HEAP_GROWING_PERCENT=0 to
 * compare with V8's own heap sizing.
 */
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import Database from "better-sqlite3";
import { HDNodeWallet, Mnemonic } from "ethers";
import { REPO_ROOT, type SystemAddresses } from "../api/chain/addresses";
import { calls } from "../api/client";
import { cpuSample, cpuSeconds, cpuShares, rssMB } from "./lib/cpu";
import { forwardRequestDigest, signDigest, toJson, type ForwardRequest } from "../api/relay/forward-request";

const SECONDS = Number(process.env.BENCH_SECONDS ?? 60);
const WINDOW = Number(process.env.BENCH_WINDOW ?? 80);
const RELAYERS = Number(process.env.BENCH_RELAYERS ?? 5);
const BATCH = Number(process.env.BENCH_BATCH ?? 200);
const PENDING = Number(process.env.BENCH_PENDING ?? 4);
const REQUEST_GAS = BigInt(process.env.BENCH_GAS ?? 200_000);
const BATCH_WAIT = Number(process.env.BENCH_BATCH_WAIT ?? 100);
const PRESIGN_PER_SECOND = Number(process.env.BENCH_PRESIGN ?? 1500);
const HOSTILE = Number(process.env.BENCH_HOSTILE ?? 1000);
/** The hostile member: the regulator, parking quarantine requests (each simulates fine; none ever runs). */
const HOSTILE_ACCOUNT = 9;
const TS_NODE = require.resolve("ts-node/dist/bin.js");
const DEV = Mnemonic.fromPhrase("test test test test test test test test test test test junk");
const dev = (i: number) => HDNodeWallet.fromMnemonic(DEV, `m/44'/60'/0'/0/${i}`);
const ACC = { producer: 4, distributor: 5, distributor2: 6, pharmacy: 7, pharmacy2: 8 } as const;
const FLOWS: [number, number][] = [
  [ACC.producer, ACC.distributor],
  [ACC.distributor, ACC.pharmacy],
  [ACC.distributor2, ACC.pharmacy],
  [ACC.pharmacy, ACC.distributor],
  [ACC.pharmacy2, ACC.distributor2],
];

interface LoadConfig {
  url: string;
  addresses: SystemAddresses;
  batchId: string;
  seconds: number;
  window: number;
  startNonces: string[];
  /** The hostile member's forwarder nonce: it parks nonces from one above it (a gap that never closes). */
  hostileNonce: string;
}

interface LoadReport {
  accepted: number;
  refused: Record<string, number>;
  networkErrors: number;
  durationMs: number;
  /** CPU the load generator used during the load (ms). */
  cpuMs: number;
  /** Requests the hostile member got accepted (parked), and refusals by code. */
  hostileParked: number;
  hostileRefused: Record<string, number>;
}

// ── Load generator (child process) ──

// node:http with keep-alive rather than fetch: fetch (undici) cost the load generator ~0.8 ms of
// CPU per request here, which the relay and the node then did not get.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1024 });
function post(url: string, body: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) } }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end(body);
  });
}

async function runLoad(cfg: LoadConfig): Promise<LoadReport> {
  const report: LoadReport = { accepted: 0, refused: {}, networkErrors: 0, durationMs: 0, cpuMs: 0, hostileParked: 0, hostileRefused: {} };
  const domain = { chainId: 1337n, verifyingContract: cfg.addresses.forwarder };
  // Members sign on their own machines: the requests of the first PRESIGN_PER_SECOND × seconds
  // are signed before the clock starts, so that signing does not take CPU from the relay here.
  const deadline = BigInt(Math.floor(Date.now() / 1000) + 3600 + cfg.seconds);
  const flows = FLOWS.map(([from, to], f) => {
    const wallet = dev(from);
    const data = calls.ship(BigInt(cfg.batchId), dev(to).address, 1n);
    let nonce = BigInt(cfg.startNonces[f]);
    const next = () => {
      const request: ForwardRequest = { from: wallet.address, to: cfg.addresses.batchToken, value: 0n, gas: REQUEST_GAS, nonce: nonce++, deadline, data };
      return JSON.stringify({ request: toJson(request, signDigest(forwardRequestDigest(domain, request), wallet.privateKey)) });
    };
    const presigned = Array.from({ length: Math.ceil((PRESIGN_PER_SECOND * cfg.seconds) / FLOWS.length) }, next);
    let used = 0;
    let firstAccepted = () => undefined as void;
    const pinned = new Promise<void>((resolve) => (firstAccepted = resolve));
    return { next: () => (used < presigned.length ? presigned[used++] : next()), firstAccepted, pinned };
  });
  // The hostile member's requests: a quarantine of the bench batch at nonces gap+1 … gap+HOSTILE.
  const hostile = dev(HOSTILE_ACCOUNT);
  const hostileData = calls.quarantine(BigInt(cfg.batchId), "0x" + "0".repeat(64));
  const hostileBodies = Array.from({ length: HOSTILE }, (_, i) => {
    const request: ForwardRequest = { from: hostile.address, to: cfg.addresses.batchToken, value: 0n, gas: REQUEST_GAS, nonce: BigInt(cfg.hostileNonce) + 1n + BigInt(i), deadline, data: hostileData };
    return JSON.stringify({ request: toJson(request, signDigest(forwardRequestDigest(domain, request), hostile.privateKey)) });
  });
  const started = Date.now();
  const cpuStart = process.cpuUsage();
  const stopAt = started + cfg.seconds * 1000;
  const parking = (async () => {
    // Once every member has a request accepted, each has its lane (the relay pins a signer to the
    // lane carrying the fewest signers at its first request), so the hostile member, one signer
    // more than there are lanes, shares one with a member.
    // (At most 10 s: a member refused from the start must not keep the hostile member out.)
    await Promise.race([Promise.all(flows.map((f) => f.pinned)), new Promise((r) => setTimeout(r, 10_000))]);
    let next = 0;
    const worker = async () => {
      while (next < hostileBodies.length) {
        const body = hostileBodies[next++];
        try {
          const res = await post(`${cfg.url}/v1/requests`, body);
          if (res.status === 202) report.hostileParked++;
          else {
            const code = (JSON.parse(res.body) as { error?: { code: string } }).error?.code ?? String(res.status);
            report.hostileRefused[code] = (report.hostileRefused[code] ?? 0) + 1;
          }
        } catch {
          report.networkErrors++;
        }
      }
    };
    await Promise.all(Array.from({ length: 20 }, worker));
  })();
  await Promise.all(
    flows.map(async (flow) => {
      const worker = async () => {
        while (Date.now() < stopAt) {
          const body = flow.next();
          for (let attempt = 0; ; attempt++) {
            try {
              const res = await post(`${cfg.url}/v1/requests`, body);
              const json = JSON.parse(res.body) as { error?: { code: string } };
              if (res.status === 202) {
                report.accepted++;
                flow.firstAccepted();
              } else if ((res.status === 429 || res.status === 503 || json.error?.code === "NONCE_TOO_FAR") && attempt < 200) {
                // Back-pressure: the relay is that far ahead of the chain; the same request again later.
                report.refused[`retried ${json.error?.code}`] = (report.refused[`retried ${json.error?.code}`] ?? 0) + 1;
                await new Promise((r) => setTimeout(r, 100));
                continue;
              } else report.refused[json.error?.code ?? String(res.status)] = (report.refused[json.error?.code ?? String(res.status)] ?? 0) + 1;
              break;
            } catch {
              report.networkErrors++;
              if (attempt > 20) break;
              await new Promise((r) => setTimeout(r, 100));
            }
          }
        }
      };
      await Promise.all(Array.from({ length: cfg.window }, worker));
    }),
  );
  report.durationMs = Date.now() - started;
  await parking;
  const cpu = process.cpuUsage(cpuStart);
  report.cpuMs = (cpu.user + cpu.system) / 1000;
  return report;
}

// ── Orchestrator ──

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : NaN);

async function waitHealthy(url: string, child: ChildProcess, output: () => string) {
  const until = Date.now() + 90_000;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`relay exited: ${output()}`);
    try {
      if ((await fetch(`${url}/health`)).ok) return;
    } catch {
      // not yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`relay did not answer within 90 s: ${output()}`);
}

async function main() {
  const { startAnvil, freePort, buildService, serviceEnv } = await import("./lib/nodes");
  const { deploySystemOnNode, rpcProvider, systemAt } = await import("../test/fixtures/chain");
  const { dayNumberOf } = await import("../api/domain/gs1");

  console.log("starting anvil and deploying the System…");
  const node = await startAnvil({ extraArgs: ["--gas-limit", "2000000000"] });
  let relay: ChildProcess | undefined;
  try {
    const addresses = await deploySystemOnNode(node.url);
    const provider = rpcProvider(node.url);
    const zero = "0x" + "0".repeat(64);
    const as = (i: number) => systemAt(addresses, dev(i).connect(provider)).batchToken;
    const minted = await (await as(ACC.producer).mintBatch({ gtin: 9506000134352n, lot: `BENCH${Date.now() % 1e9}`, expiryDay: dayNumberOf(new Date()) + 365, quantity: 10n ** 15n, serialsRoot: zero, serialCount: 0, documentHash: zero, unitsPerCase: 0, casesPerPallet: 0, packingRoot: zero, markets: [] }, { gasPrice: 0 })).wait();
    const batchId = as(ACC.producer).interface.parseLog(minted!.logs.find((l) => as(ACC.producer).interface.parseLog(l)?.name === "BatchMinted")!)!.args.batchId as bigint;
    const give = async (from: number, to: number, quantity: bigint, kind = 0) => {
      const r = await (await as(from).ship(batchId, dev(to).address, quantity, [], zero, { gasPrice: 0 })).wait();
      const id = as(from).interface.parseLog(r!.logs.find((l) => as(from).interface.parseLog(l)?.name === "ShipmentCreated")!)!.args.shipmentId as bigint;
      await (await as(to).acceptShipment(id, { batchId, sender: dev(from).address, receiver: dev(to).address, quantity, kind, items: [] }, { gasPrice: 0 })).wait();
    };
    await give(ACC.producer, ACC.distributor, 10n ** 13n);
    await give(ACC.producer, ACC.distributor2, 10n ** 13n);
    await give(ACC.distributor, ACC.pharmacy, 10n ** 12n);
    await give(ACC.distributor2, ACC.pharmacy2, 10n ** 12n);
    await provider.send("evm_setAutomine", [false]);
    await provider.send("evm_setIntervalMining", [1]);
    const { forwarder } = systemAt(addresses, provider);
    const startNonces = await Promise.all(FLOWS.map(async ([from]) => String(await forwarder.nonces(dev(from).address))));
    const hostileNonce = String(await forwarder.nonces(dev(HOSTILE_ACCOUNT).address));

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-bench-relay-"));
    let out = "";
    const profile = process.env.BENCH_PROFILE ? ["--cpu-prof", `--cpu-prof-dir=${process.env.BENCH_PROFILE}`] : [];
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
    relay = spawn(process.execPath, [...profile, ...nodeArgs, buildService()], {
      cwd: REPO_ROOT,
      env: serviceEnv(
        { rpcUrl: node.url, addresses, dataDir, port },
        {
          // The relay alone, as a write-side instance runs: the read side and the EPCIS binding
          // (which projects every ledger event in this process) are off.
          READ_ENABLED: "false",
          EPCIS_ENABLED: "false",
          RELAYER_KEYS: Array.from({ length: RELAYERS }, (_, i) => dev(11 + i).privateKey).join(","),
          RELAY_MAX_BATCH_SIZE: String(BATCH),
          RELAY_MAX_PENDING_PER_KEY: String(PENDING),
          RELAY_TX_GAS_CAP: "200000000",
          RELAY_BATCH_WAIT_MS: String(BATCH_WAIT),
          RELAY_POLL_MS: "200",
          RELAY_NONCE_WINDOW: "2000",
          // The members keep ≈ 300–500 requests each in flight at this rate, and the hostile member
          // parks 1,000: the per-member depth is raised so that the scheduler is measured, not the cap.
          RELAY_MAX_QUEUED_PER_MEMBER: "2000",
        },
      ),
      stdio: ["ignore", "pipe", "pipe"],
    });
    const keep = (c: Buffer) => {
      out = (out + c.toString()).slice(-8_000);
    };
    relay.stdout!.on("data", keep);
    relay.stderr!.on("data", keep);
    await waitHealthy(url, relay, () => out);

    console.log(`relay up (${RELAYERS} relayer keys, batches ≤ ${BATCH}, ≤ ${PENDING} pending per key); load for ${SECONDS} s from a separate process…`);
    let maxRss = 0;
    // Every 5 s: does memory plateau or grow with the number of requests handled?
    const rssTimeline: number[] = [];
    let samples = 0;
    const sampler = setInterval(() => {
      const { rss } = rssMB(relay!.pid);
      maxRss = Math.max(maxRss, rss);
      if (samples++ % 10 === 0) rssTimeline.push(Math.round(rss));
    }, 500);
    const cfg: LoadConfig = { url, addresses, batchId: batchId.toString(), seconds: SECONDS, window: WINDOW, startNonces, hostileNonce };
    const loader = spawn(process.execPath, [TS_NODE, "--transpile-only", __filename], { cwd: REPO_ROOT, env: { ...process.env, BENCH_ROLE: "load", BENCH_CONFIG: JSON.stringify(cfg) }, stdio: ["ignore", "pipe", "inherit"] });
    // Where the two cores go during the load: relay, node and load generator.
    const cpuBefore = { relay: cpuSeconds(relay.pid), node: cpuSeconds(node.child.pid) };
    const machineBefore = cpuSample();
    let loadOut = "";
    loader.stdout!.on("data", (c: Buffer) => (loadOut += c.toString()));
    await new Promise((r) => loader.once("exit", r));
    const machine = cpuShares(machineBefore, cpuSample());
    const load = JSON.parse(loadOut.trim().split("\n").pop()!) as LoadReport;
    const loadSeconds = load.durationMs / 1000;
    const cpuShare = (s: number) => Math.round((s / loadSeconds) * 100);
    const cpu = {
      relayPct: cpuShare(cpuSeconds(relay.pid) - cpuBefore.relay),
      nodePct: cpuShare(cpuSeconds(node.child.pid) - cpuBefore.node),
      loadGeneratorPct: cpuShare(load.cpuMs / 1000),
    };

    const db = new Database(path.join(dataDir, "relay-outbox.sqlite"), { readonly: true, fileMustExist: true });
    const hostileAddress = dev(HOSTILE_ACCOUNT).address;
    const drainUntil = Date.now() + 180_000;
    for (;;) {
      const { n } = db.prepare(`SELECT COUNT(*) AS n FROM requests WHERE state IN ('queued','submitted') AND signer <> ?`).get(hostileAddress) as { n: number };
      if (n === 0 || Date.now() > drainUntil) break;
      await new Promise((r) => setTimeout(r, 500));
    }
    clearInterval(sampler);
    const all = db.prepare(`SELECT signer, lane, state, accepted_at, finished_at FROM requests`).all() as { signer: string; lane: number; state: string; accepted_at: number; finished_at: number | null }[];
    db.close();
    const hostileRows = all.filter((r) => r.signer === hostileAddress);
    const rows = all.filter((r) => r.signer !== hostileAddress);
    const mined = rows.filter((r) => r.state === "mined");
    const latencies = mined.map((r) => r.finished_at! - r.accepted_at).sort((a, b) => a - b);
    // While the hostile member's requests sat in the queue: every other member, and those on its lane.
    const hostileSince = hostileRows.length ? Math.min(...hostileRows.map((r) => r.accepted_at)) : Infinity;
    const hostileLane = hostileRows[0]?.lane;
    const duringHostile = mined.filter((r) => r.accepted_at >= hostileSince);
    const latencyOf = (list: typeof mined) => list.map((r) => r.finished_at! - r.accepted_at).sort((a, b) => a - b);
    const withHostile = latencyOf(duringHostile);
    const onHostileLane = latencyOf(duringHostile.filter((r) => r.lane === hostileLane));
    // The most requests one member had accepted and not yet finished at any moment: what
    // RELAY_MAX_QUEUED_PER_MEMBER must allow a member sending at this rate.
    const outstanding = new Map<string, [number, number][]>();
    for (const r of rows) {
      const events = outstanding.get(r.signer) ?? [];
      events.push([r.accepted_at, 1], [r.finished_at ?? Number.MAX_SAFE_INTEGER, -1]);
      outstanding.set(r.signer, events);
    }
    const maxOutstandingPerMember = Math.max(
      0,
      ...[...outstanding.values()].map((events) => {
        let n = 0;
        let max = 0;
        for (const [, d] of events.sort((a, b) => a[0] - b[0] || a[1] - b[1])) max = Math.max(max, (n += d));
        return max;
      }),
    );
    const firstAccept = Math.min(...rows.map((r) => r.accepted_at));
    const lastFinish = Math.max(...mined.map((r) => r.finished_at!));
    const metrics = await (await fetch(`${url}/metrics`)).text();
    const metric = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(metrics)?.[1] ?? NaN);
    const result = {
      seconds: SECONDS,
      relayerKeys: RELAYERS,
      maxBatchSize: BATCH,
      pendingPerKey: PENDING,
      accepted: load.accepted,
      refused: load.refused,
      mined: mined.length,
      failed: rows.filter((r) => r.state === "failed").length,
      unfinished: rows.filter((r) => r.state === "queued" || r.state === "submitted").length,
      acceptedPerSec: Math.round((load.accepted / load.durationMs) * 1000),
      minedPerSec: Math.round((mined.length / (lastFinish - firstAccept)) * 1000),
      p50AcceptToMinedMs: percentile(latencies, 50),
      p95AcceptToMinedMs: percentile(latencies, 95),
      p99AcceptToMinedMs: percentile(latencies, 99),
      maxOutstandingPerMember,
      p95AcceptToMinedMsWithHostileMember: percentile(withHostile, 95),
      p95AcceptToMinedMsOnHostileLane: percentile(onHostileLane, 95),
      hostileMember: {
        parked: load.hostileParked,
        refused: load.hostileRefused,
        stillQueuedAtEnd: hostileRows.filter((r) => r.state === "queued").length,
        lane: hostileLane ?? null,
        otherMembersMinedWhileParked: withHostile.length,
        ofThemOnItsLane: onHostileLane.length,
      },
      meanBatchSize: Math.round((metric("medtrace_relay_batch_size_sum") / metric("medtrace_relay_batch_size_count")) * 10) / 10,
      meanIntakeMs: Math.round((metric("medtrace_relay_verify_seconds_sum") / metric("medtrace_relay_verify_seconds_count")) * 10_000) / 10,
      meanSimulationMs: Math.round((metric("medtrace_relay_simulation_seconds_sum") / metric("medtrace_relay_simulation_seconds_count")) * 10_000) / 10,
      rssMB: Math.round(maxRss),
      rssTimelineMB: rssTimeline,
      cpuPercentDuringLoad: cpu,
      machineDuringLoad: machine,
      cpus: os.cpus().length,
      loadAverage: os.loadavg().map((x) => Math.round(x * 10) / 10),
    };
    fs.mkdirSync(path.join(REPO_ROOT, "bench-results"), { recursive: true });
    fs.writeFileSync(path.join(REPO_ROOT, "bench-results", "relay.json"), JSON.stringify(result, null, 2) + "\n");
    console.log("");
    console.log("| metric | value | bar |");
    console.log("|---|---|---|");
    const rows2: [string, string | number, string][] = [
      ["accepted requests/s", result.acceptedPerSec, "≥ 1,000"],
      ["mined custody requests/s", result.minedPerSec, "≥ 500"],
      ["p50 accept→mined (ms)", result.p50AcceptToMinedMs, ""],
      ["p95 accept→mined (ms)", result.p95AcceptToMinedMs, "≤ 3,000"],
      ["p99 accept→mined (ms)", result.p99AcceptToMinedMs, ""],
      ["hostile member: requests parked behind a nonce gap / still queued at the end", `${result.hostileMember.parked} / ${result.hostileMember.stillQueuedAtEnd}`, `${HOSTILE} / ${HOSTILE}`],
      ["p95 accept→mined of the other members while it is parked (ms)", result.p95AcceptToMinedMsWithHostileMember, "≤ 3,000"],
      [`  of the member sharing its lane ${result.hostileMember.lane} (ms; ${result.hostileMember.ofThemOnItsLane} requests)`, result.p95AcceptToMinedMsOnHostileLane, "≤ 3,000"],
      ["most requests of one member not yet finished at once", result.maxOutstandingPerMember, `≤ RELAY_MAX_QUEUED_PER_MEMBER (bench: 2,000)`],
      ["mean batch size", result.meanBatchSize, ""],
      ["mean intake time: checks, simulation, durable insert (ms)", result.meanIntakeMs, ""],
      ["  of which waiting for the node's simulation (ms)", result.meanSimulationMs, ""],
      ["relay RSS (MB, max)", result.rssMB, "≤ 300"],
      ["accepted / mined / failed / unfinished", `${result.accepted} / ${result.mined} / ${result.failed} / ${result.unfinished}`, "all mined"],
      ["refused at intake", JSON.stringify(result.refused), ""],
      ["CPU during load (% of one core): relay / node / load generator", `${cpu.relayPct} / ${cpu.nodePct} / ${cpu.loadGeneratorPct}`, "of 200"],
      ["machine during load: CPU stolen by the host / idle (% of both cores)", `${machine.stealPct} / ${machine.idlePct}`, "steal ≈ 0 for a valid run"],
      ["load average (1/5/15 min)", result.loadAverage.join(" / "), ""],
    ];
    for (const [k, v, bar] of rows2) console.log(`| ${k} | ${v} | ${bar} |`);
    console.log("\nwrote bench-results/relay.json");
    provider.destroy();
  } finally {
    if (relay && relay.exitCode === null) {
      relay.kill("SIGTERM");
      await new Promise((r) => relay!.once("exit", r));
    }
    await node.stop();
  }
}

if (process.env.BENCH_ROLE === "load") {
  runLoad(JSON.parse(process.env.BENCH_CONFIG!) as LoadConfig).then(
    (r) => console.log(JSON.stringify(r)),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
} else {
  main().catch((err) => {
    console.error(err);
    process.exitCode = 1;
  });
}
