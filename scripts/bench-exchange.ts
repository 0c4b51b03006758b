/**
 * Exchange benchmark: `npm run bench:exchange`.
 *
 *  1. Starts anvil on 127.0.0.1 and deploys the System with the demo consortium (as bench:read
 *     does; product 09506000134352 registered by the producer for DE and FR).
 *  2. Seeds BENCH_BATCHES (300) serialised batches of BENCH_UNITS (100) packs in cases of 10 on one
 *     pallet (layout, SSCCs and packing root as the new mintBatch takes them): a mint wave, one
 *     delivery of each pallet to the distributor (ship with items + accept waves), a tenth of the
 *     batches recalled by the DE regulator — each wave one block of eth_sendTransaction batches
 *     from anvil's unlocked dev accounts.
 *  3. Starts the service compiled (dist/, as npm run serve runs it) as its own process — read side,
 *     relay with custodial signing, the EPCIS binding under /epcis — with one VRS requestor key,
 *     lets it index the chain, and uploads every serial list (producer-signed).
 *  4. Load from this process (autocannon, BENCH_CONNECTIONS = 32): VRS requests
 *     (`/verify/gtin/…/lot/…/ser/…?exp&linkType&context&reqGLN&corrUUID` with the API key) for a
 *     random pack per request, every 20th a forged serial, for BENCH_SECONDS; then the resolver
 *     (Digital Link, JSON) the same way, shorter.
 *  5. EPCIS capture as an ERP does it (custodial API keys of the producer and the distributor): a
 *     commissioning document mints a lot of 2 × BENCH_CAPTURE_DOCS (1) × 1,000 packs through the
 *     relay; its second half is shipped pack by pack straight on chain (one block), then the
 *     producer posts BENCH_CAPTURE_DOCS documents of 1,000 shipping events (one pack each, to the
 *     distributor) and the distributor as many of 1,000 receiving events for the pending shipments
 *     (the dispatcher serves the two members in parallel). captureEventsPerSec = events / time
 *     from each POST /epcis/capture to its 202 with Location (schema and ledger validation, job
 *     persisted, actions queued for the relay), the documents posted one after the other.
 *  6. A webhook subscription (auditor's named query, every event) is created before the capture;
 *     its receiver in this process records when each event arrives. subscriptionLagP95Ms = arrival
 *     − the event's record_time in the binding's store (the moment its projector read the block
 *     from the ledger feed: the `seenAt` of its onDelivered hook), over every event the shipping
 *     and receiving put on chain while capture load went on.
 *  7. Query: the binding's projection store is seeded directly with copies of the events it
 *     projected from the chain (new eventIDs) up to BENCH_QUERY_EVENTS (200,000) — as many
 *     transactions would take too long on this chain — and GET /epcis/events?perPage=1000 is
 *     paged to the end with nextPageToken (Link rel=next), as the auditor (every event) and as the
 *     distributor (EQ_bizStep=shipping|receiving over its visible events: the viewer join).
 *     queryEventsPerSec = auditor events / time.
 *
 * Prints a table (metric, value, bar, met?) and writes bench-results/exchange.json.
 */
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import autocannon from "autocannon";
import { ethers, Interface } from "ethers";
import { REPO_ROOT } from "../api/chain/addresses";
import { dayNumber } from "../api/domain/gs1";
import { buildPackingTree, buildSerialTree } from "../api/domain/merkle";
import { assignSsccs, pallets, units, type Layout } from "../api/domain/packing";
import { serialUploadMessage } from "../api/read/verification";
import { BatchToken__factory } from "../typechain-types";
import { deploySystemOnNode, devWallet, rpcProvider } from "../test/fixtures/chain";
import { cpuSample, cpuShares, rssMB } from "./lib/cpu";
import { DEMO_MEMBERS, DEMO_PRODUCT } from "./lib/consortium-setup";
import {
  commissioningEvent,
  epcisDocument,
  pageThrough,
  receivingEvent,
  recordTimes,
  seedProjection,
  sgtinUri,
  shippingEvent,
  waitUntil,
  WebhookReceiver,
} from "./lib/epcis-bench";
import { buildService, freePort, serviceEnv, startAnvil } from "./lib/nodes";

const BATCHES = Number(process.env.BENCH_BATCHES ?? 300);
const UNITS = Number(process.env.BENCH_UNITS ?? 100);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CAPTURE_DOCS = Number(process.env.BENCH_CAPTURE_DOCS ?? 1);
const CAPTURE_EVENTS = 1_000;
const QUERY_EVENTS = Number(process.env.BENCH_QUERY_EVENTS ?? 200_000);
const PER_PAGE = 1_000;
const UNITS_PER_CASE = 10;
const GTIN = DEMO_PRODUCT.gtin;
const EXPIRY_DAY = dayNumber(2031, 12, 31);
const EXP = "311231";
const glnOf = (key: string) => DEMO_MEMBERS.find((m) => m.key === key)!.gln;
const REQUESTOR_GLN = glnOf("distributor");
const API_KEY = "bench-vrs-key-0123456789";
const AUDITOR_KEY = "bench-auditor-read-key-0123456789";
const ADMIN_TOKEN = "bench-admin-token-0123456789abcdef";
const WEBHOOK_SECRET = "bench-webhook-secret-0123456789";
const token = new Interface(BatchToken__factory.abi);
const ACCOUNT = { producer: 4, distributor: 5, regulator: 9 } as const;
const serialsOf = (b: number) => Array.from({ length: UNITS }, (_, i) => `X${b}-${i}`);
const percentile = (sorted: number[], p: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN).toFixed(2));
const fmt = (n: number) => n.toLocaleString("en-US");

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

interface CaptureJobView {
  running: boolean;
  success: boolean;
  errors: unknown[];
  events: Array<{ state: string; actions: Array<{ action: string; state: string; requestId: string | null; error: unknown }> }>;
}

/** Event states of a capture job, and its first unfinished action: what a timeout reports. */
function jobSummary(job: CaptureJobView | undefined): string {
  if (!job) return "no answer";
  const states = new Map<string, number>();
  for (const e of job.events) states.set(e.state, (states.get(e.state) ?? 0) + 1);
  const open = job.events.flatMap((e) => e.actions).find((a) => a.state !== "mined");
  return `${[...states].map(([s, n]) => `${n} ${s}`).join(", ")}${open ? `; first open action: ${JSON.stringify(open)}` : ""}`;
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
      const receipts = (await rpcBatch(
        node.url,
        hashes.map((h) => ({ method: "eth_getTransactionReceipt", params: [h] })),
      )) as Array<{ status: string } | null>;
      const failed = receipts.findIndex((r) => !r || Number(r.status) !== 1);
      if (failed >= 0) throw new Error(`wave from ${from} failed (transaction ${hashes[failed]})`);
    };

    // ── Seeding (package-level contracts: layout, packing root, markets; ship and accept name their items) ──
    const seedStart = Date.now();
    const layout: Layout = { units: UNITS, unitsPerCase: UNITS_PER_CASE, casesPerPallet: Math.ceil(UNITS / UNITS_PER_CASE) };
    const trees = Array.from({ length: BATCHES }, (_, i) => buildSerialTree(serialsOf(i + 1)));
    const firstId = Number(await provider.send("eth_call", [{ to: addresses.batchToken, data: token.encodeFunctionData("batchCount") }, "latest"])) + 1;
    await wave(
      "producer",
      trees.map((t, i) => {
        const packing = assignSsccs(layout, "9506000", 1_000 + i * 100);
        return token.encodeFunctionData("mintBatch", [
          {
            gtin: BigInt(GTIN),
            lot: `EX-${i + 1}`,
            expiryDay: EXPIRY_DAY,
            quantity: BigInt(UNITS),
            serialsRoot: t.root,
            serialCount: t.count,
            documentHash: ethers.id(`CoA EX-${i + 1}`),
            unitsPerCase: layout.unitsPerCase,
            casesPerPallet: layout.casesPerPallet,
            packingRoot: buildPackingTree(packing).root,
            markets: [],
          },
        ]);
      }),
      1_500_000,
    );
    const ids = trees.map((_, i) => BigInt(firstId + i));
    const items = [pallets(0, 1)];
    const shipmentBase = Number(await provider.send("eth_call", [{ to: addresses.batchToken, data: token.encodeFunctionData("shipmentCount") }, "latest"]));
    await wave("producer", ids.map((id) => token.encodeFunctionData("ship", [id, address.distributor, BigInt(UNITS), items, ethers.id(`despatch advice ${id}`)])), 400_000);
    await wave(
      "distributor",
      ids.map((id, i) =>
        token.encodeFunctionData("acceptShipment", [BigInt(shipmentBase + 1 + i), { batchId: id, sender: address.producer, receiver: address.distributor, quantity: BigInt(UNITS), kind: 0, items }]),
      ),
      400_000,
    );
    await wave("regulator", ids.filter((_, i) => i % 10 === 0).map((id) => token.encodeFunctionData("recall", [id, ethers.id("bench recall")])), 400_000);
    await provider.send("evm_setAutomine", [true]);
    const seedSeconds = (Date.now() - seedStart) / 1000;
    console.log(`seeded ${BATCHES} batches × ${UNITS} serials (cases of ${UNITS_PER_CASE}, one pallet each) in ${seedSeconds.toFixed(1)} s`);

    // ── The service, compiled, as its own process: read side, relay (custodial), EPCIS binding ──
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-bench-exchange-"));
    cleanup.push(() => fs.rmSync(dataDir, { recursive: true, force: true }));
    const port = await freePort();
    const nodeArgs = (process.env.BENCH_NODE_ARGS ?? "").split(/\s+/).filter(Boolean);
    const service = spawn(process.execPath, [...nodeArgs, buildService()], {
      cwd: REPO_ROOT,
      env: serviceEnv(
        { rpcUrl: node.url, addresses, dataDir, port },
        {
          READ_API_KEYS: AUDITOR_KEY,
          PUBLIC_RATE_LIMIT_PER_MINUTE: "100000000",
          SERIAL_UPLOAD_RATE_LIMIT_PER_MINUTE: "100000",
          READ_TREE_CACHE: String(BATCHES),
          VRS_API_KEYS: `${REQUESTOR_GLN}:${API_KEY}`,
          RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
          RELAY_KEYSTORE_PASSPHRASE: "bench exchange keystore passphrase",
          RELAY_KEYSTORE_SCRYPT_N: "1024",
          RELAY_MAX_QUEUED_PER_MEMBER: "10000",
          RELAY_MAX_BATCH_SIZE: "200",
          RELAY_TX_GAS_CAP: "200000000",
          RELAY_POLL_MS: "100",
          EPCIS_POLL_MS: "100",
          EPCIS_WEBHOOK_ALLOW_PRIVATE: "true",
          EPCIS_WEBHOOK_ALLOW_HTTP: "true",
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
      if (service.exitCode !== null) throw new Error(`the service exited with code ${service.exitCode}`);
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

    // ── VRS and resolver load ──
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
    console.log(`VRS ${Math.round(vrs.result.requests.average)} req/s, resolver ${Math.round(resolver.result.requests.average)} req/s; EPCIS capture next…`);

    // ── EPCIS: custodial keys, a webhook subscription, capture ──
    const enrol = async (key: string) => {
      const res = await fetch(`${base}/v1/admin/custodial-members`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${ADMIN_TOKEN}` },
        body: JSON.stringify({ label: `${key} ERP`, privateKey: devWallet(DEMO_MEMBERS.find((m) => m.key === key)!.account).privateKey }),
      });
      if (res.status !== 201) throw new Error(`custodial enrolment of ${key}: ${res.status} ${await res.text()}`);
      return ((await res.json()) as { apiKey: string }).apiKey;
    };
    const erp = { producer: await enrol("producer"), distributor: await enrol("distributor") };
    const epcis = async (method: string, url: string, key: string, body?: unknown) => {
      const res = await fetch(`${base}/epcis${url}`, {
        method,
        headers: { "x-api-key": key, ...(body === undefined ? {} : { "content-type": "application/json" }) },
        body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
      });
      return { status: res.status, location: res.headers.get("location"), body: await res.text() };
    };

    const receiver = new WebhookReceiver(WEBHOOK_SECRET);
    await receiver.start();
    cleanup.unshift(() => receiver.stop());
    const named = await epcis("POST", "/queries", AUDITOR_KEY, { name: "bench-all", query: {} });
    if (named.status !== 201) throw new Error(`named query: ${named.status} ${named.body}`);
    const sub = await epcis("POST", "/queries/bench-all/subscriptions", AUDITOR_KEY, { dest: `http://127.0.0.1:${receiver.port}/hook`, signatureToken: WEBHOOK_SECRET, stream: true });
    if (sub.status !== 201) throw new Error(`subscription: ${sub.status} ${sub.body}`);
    const subscriptionId = (JSON.parse(sub.body) as { subscriptionID?: string; id?: string }).subscriptionID ?? (JSON.parse(sub.body) as { id?: string }).id;

    const finished = async (key: string, location: string): Promise<CaptureJobView> => {
      const res = await fetch(`${base}${location}`, { headers: { "x-api-key": key } });
      if (res.status !== 200) throw new Error(`GET ${location}: ${res.status} ${await res.text()}`);
      return (await res.json()) as CaptureJobView;
    };
    const waitJobs = async (what: string, key: string, locations: string[], timeoutMs: number) => {
      for (const l of locations) {
        let job: CaptureJobView | undefined;
        // Once a second: GET /capture/{id} reports each of the job's 1,000 events, a load of its own.
        await waitUntil(
          `${what} (${l})`,
          timeoutMs,
          async () => {
            job = await finished(key, l);
            return !job.running;
          },
          1_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}: ${jobSummary(job)}`);
        });
        if (!job!.success) throw new Error(`${what}: capture ${l} failed: ${JSON.stringify(job!.errors).slice(0, 800)}`);
      }
    };

    // The lot the ERP commissions: 2 × BENCH_CAPTURE_DOCS × 1,000 packs, one per shipping or receiving event.
    const lot = `EPCIS-${Date.now().toString(36).toUpperCase()}`;
    const perSide = CAPTURE_DOCS * CAPTURE_EVENTS;
    const captureSerials = Array.from({ length: 2 * perSide }, (_, i) => `E${String(i).padStart(6, "0")}`);
    const commissionStart = Date.now();
    const commission = await epcis("POST", "/capture", erp.producer, epcisDocument([commissioningEvent(new Date(Date.now() - 3_600_000), glnOf("producer"), GTIN, lot, captureSerials, "2031-12-31")]));
    if (commission.status !== 202) throw new Error(`commissioning capture: ${commission.status} ${commission.body.slice(0, 1_000)}`);
    await waitJobs("the commissioning mint", erp.producer, [commission.location!], 120_000);
    const lotId = BigInt(await provider.send("eth_call", [{ to: addresses.batchToken, data: token.encodeFunctionData("batchIdOf", [BigInt(GTIN), lot]) }, "latest"]));
    const commissionSeconds = (Date.now() - commissionStart) / 1000;
    console.log(`commissioned ${captureSerials.length} packs of lot ${lot} (batch ${lotId}) through capture and the relay in ${commissionSeconds.toFixed(1)} s`);

    // The second half shipped pack by pack straight on chain (one block), so the distributor's
    // receiving documents find pending shipments while the producer's shipping documents go on:
    // the dispatcher serves the two members in parallel.
    nonces.set(address.producer, await provider.getTransactionCount(address.producer, "pending"));
    await provider.send("evm_setAutomine", [false]);
    await wave(
      "producer",
      captureSerials.slice(perSide).map((_, i) => token.encodeFunctionData("ship", [lotId, address.distributor, 1n, [units(perSide + i, 1)], ethers.id(`despatch advice ${lot} ${i}`)])),
      400_000,
    );
    await provider.send("evm_setAutomine", [true]);
    await waitUntil("the direct shipments to be projected and delivered", 120_000, () => receiver.count("shipping") >= perSide);

    const capturePosts: Array<{ bizStep: string; events: number; ms: number }> = [];
    const post = async (who: "producer" | "distributor", bizStep: string, body: string, events: number) => {
      const t0 = performance.now();
      const res = await epcis("POST", "/capture", erp[who], body);
      const ms = performance.now() - t0;
      if (res.status !== 202 || !res.location) throw new Error(`${bizStep} capture: ${res.status} ${res.body.slice(0, 1_000)}`);
      capturePosts.push({ bizStep, events, ms });
      return res.location;
    };
    const eventTime = (i: number) => new Date(Date.now() - 1_800_000 + i);
    const bodies = (side: number, make: (s: string, i: number) => object) =>
      Array.from({ length: CAPTURE_DOCS }, (_, d) =>
        JSON.stringify(epcisDocument(captureSerials.slice(side * perSide + d * CAPTURE_EVENTS, side * perSide + (d + 1) * CAPTURE_EVENTS).map((s, i) => make(s, d * CAPTURE_EVENTS + i)))),
      );
    const shippingBodies = bodies(0, (s, i) => shippingEvent(eventTime(i), glnOf("producer"), glnOf("distributor"), [sgtinUri(GTIN, s)]));
    const receivingBodies = bodies(1, (s, i) => receivingEvent(eventTime(perSide + i), glnOf("distributor"), [sgtinUri(GTIN, s)]));
    const captureStart = Date.now();
    const shipLocations: string[] = [];
    const receiveLocations: string[] = [];
    for (let d = 0; d < CAPTURE_DOCS; d++) {
      shipLocations.push(await post("producer", "shipping", shippingBodies[d]!, CAPTURE_EVENTS));
      receiveLocations.push(await post("distributor", "receiving", receivingBodies[d]!, CAPTURE_EVENTS));
    }
    console.log(`posted ${capturePosts.length} capture documents; following their ${2 * perSide} actions to the chain…`);
    await waitJobs("the shipments", erp.producer, shipLocations, 300_000);
    await waitJobs("the receipts", erp.distributor, receiveLocations, 300_000);
    await waitUntil("every captured shipment and receipt to be projected and delivered", 120_000, () => receiver.count("shipping") >= 2 * perSide && receiver.count("receiving") >= perSide);
    const captureChainSeconds = (Date.now() - captureStart) / 1000;
    const capturedEvents = capturePosts.reduce((n, p) => n + p.events, 0);
    const captureMs = capturePosts.reduce((n, p) => n + p.ms, 0);
    console.log(`captured ${capturedEvents} shipping/receiving events in ${capturePosts.length} documents (${(captureMs / 1000).toFixed(2)} s to the 202s); all on chain and delivered ${captureChainSeconds.toFixed(1)} s after the first post`);

    // Lag: arrival at the receiver − when the projector read the event's block (record_time).
    const epcisDb = path.join(dataDir, "epcis.sqlite");
    const delivered = [...receiver.arrivals.keys()];
    const recorded = recordTimes(epcisDb, delivered);
    const lags = delivered.filter((id) => recorded.has(id)).map((id) => receiver.arrivals.get(id)! - recorded.get(id)!).sort((a, b) => a - b);
    if (lags.length === 0) throw new Error("no delivered event found in the binding's store");
    const del = await epcis("DELETE", `/queries/bench-all/subscriptions/${subscriptionId}`, AUDITOR_KEY);
    if (del.status !== 204 && del.status !== 200) console.warn(`could not delete the subscription: ${del.status} ${del.body}`);

    // ── Query: the projection seeded with copies up to QUERY_EVENTS, paged to the end ──
    const seedQueryStart = Date.now();
    const seeded = seedProjection(epcisDb, QUERY_EVENTS);
    const seedQuerySeconds = (Date.now() - seedQueryStart) / 1000;
    console.log(`seeded the EPCIS projection with ${fmt(seeded.copies)} copies of the ${fmt(seeded.templates)} events projected from the chain in ${seedQuerySeconds.toFixed(1)} s; paging…`);
    const auditorPaging = await pageThrough(base, `/epcis/events?perPage=${PER_PAGE}`, { "x-api-key": AUDITOR_KEY });
    const memberPaging = await pageThrough(base, `/epcis/events?perPage=${PER_PAGE}&EQ_bizStep=shipping|receiving`, { "x-api-key": erp.distributor });
    const { rss, peak } = rssMB(service.pid);

    const captureEventsPerSec = Math.round(capturedEvents / (captureMs / 1000));
    const queryEventsPerSec = Math.round(auditorPaging.events / (auditorPaging.ms / 1000));
    const out = {
      machine: { cpus: os.cpus().length, node: process.version },
      seeding: { batches: BATCHES, unitsPerBatch: UNITS, unitsPerCase: UNITS_PER_CASE, recalledBatches: Math.ceil(BATCHES / 10), seconds: Number(seedSeconds.toFixed(1)) },
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
      captureEventsPerSec,
      capture: {
        how: "POST /epcis/capture → 202 with Location (schema + ledger validation, job persisted, actions queued for the relay), documents posted one after the other",
        documents: capturePosts.map((p) => ({ bizStep: p.bizStep, events: p.events, ms: Number(p.ms.toFixed(1)) })),
        commissionedPacks: captureSerials.length,
        commissioningSeconds: Number(commissionSeconds.toFixed(1)),
        onChainAndDeliveredSeconds: Number(captureChainSeconds.toFixed(1)),
      },
      subscriptionLagP50Ms: percentile(lags, 50),
      subscriptionLagP95Ms: percentile(lags, 95),
      subscriptionLagP99Ms: percentile(lags, 99),
      subscription: {
        how: "webhook arrival at a receiver on 127.0.0.1 − the event's record_time in the binding's store (when the projector read its block from the feed)",
        events: lags.length,
        posts: receiver.posts,
        badSignatures: receiver.badSignatures,
      },
      queryEventsPerSec,
      query: {
        how: `GET /epcis/events?perPage=${PER_PAGE} paged with nextPageToken to the end, as the auditor; the projection seeded directly with copies of events projected from the chain (new eventIDs)`,
        storeEvents: seeded.copies + seeded.templates,
        seededCopies: seeded.copies,
        auditor: { events: auditorPaging.events, pages: auditorPaging.pages, seconds: Number((auditorPaging.ms / 1000).toFixed(2)), pageP95Ms: percentile([...auditorPaging.pageMs].sort((a, b) => a - b), 95) },
        distributorShippingReceiving: {
          events: memberPaging.events,
          pages: memberPaging.pages,
          seconds: Number((memberPaging.ms / 1000).toFixed(2)),
          eventsPerSec: Math.round(memberPaging.events / (memberPaging.ms / 1000)),
        },
      },
      rssMB: Number(rss.toFixed(1)),
      peakRssMB: Number(peak.toFixed(1)),
      totalSeconds: Math.round((Date.now() - started) / 1000),
    };
    fs.mkdirSync(path.join(REPO_ROOT, "bench-results"), { recursive: true });
    fs.writeFileSync(path.join(REPO_ROOT, "bench-results", "exchange.json"), JSON.stringify(out, null, 2) + "\n");
    const met = (ok: boolean) => (ok ? "yes" : "NO");
    const rows: Array<[string, string, string, string]> = [
      ["seeding", `${BATCHES} batches × ${UNITS} serials in ${out.seeding.seconds} s`, "", ""],
      ["vrsPerSec (32 connections, random packs)", fmt(out.vrsPerSec), "≥ 2,000", met(out.vrsPerSec >= 2_000)],
      ["vrsP50Ms / vrsP95Ms / vrsP99Ms", `${out.vrsP50Ms} / ${out.vrsP95Ms} / ${out.vrsP99Ms}`, "p95 ≤ 100", met(out.vrsP95Ms <= 100)],
      ["VRS non-2xx", String(out.vrsNon2xx), "0", met(out.vrsNon2xx === 0)],
      ["resolverPerSec (Digital Link, JSON verdict)", fmt(out.resolverPerSec), "", ""],
      ["resolverP95Ms", String(out.resolverP95Ms), "", ""],
      ["resolver non-2xx", String(out.resolverNon2xx), "0", met(out.resolverNon2xx === 0)],
      [`captureEventsPerSec (${capturePosts.length} documents × ${CAPTURE_EVENTS} shipping/receiving events, POST → 202)`, fmt(captureEventsPerSec), "≥ 1,000", met(captureEventsPerSec >= 1_000)],
      [`queryEventsPerSec (auditor, ${fmt(auditorPaging.events)} events, perPage ${PER_PAGE}; store seeded directly with ${fmt(seeded.copies)} copies)`, fmt(queryEventsPerSec), "≥ 5,000", met(queryEventsPerSec >= 5_000 && auditorPaging.events >= 200_000)],
      [`  distributor's shipping|receiving (${fmt(memberPaging.events)} events, viewer join)`, fmt(out.query.distributorShippingReceiving.eventsPerSec), "", ""],
      [`subscriptionLagP50Ms / P95Ms / P99Ms (${fmt(lags.length)} webhook events, record_time → arrival)`, `${out.subscriptionLagP50Ms} / ${out.subscriptionLagP95Ms} / ${out.subscriptionLagP99Ms}`, "p95 ≤ 2,000", met(out.subscriptionLagP95Ms <= 2_000)],
      ["rssMB (peak)", `${out.rssMB} (${out.peakRssMB})`, "", ""],
      ["machine during VRS load: CPU stolen by the host / idle (%)", `${machine.stealPct} / ${machine.idlePct}`, "steal ≈ 0 for a valid run", ""],
    ];
    console.log(`\n| metric | value | bar | met? |\n|---|---|---|---|`);
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
    console.log(`\nwrote bench-results/exchange.json (${out.totalSeconds} s in all)`);
  } finally {
    for (const c of cleanup) await c();
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
