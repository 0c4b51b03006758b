import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../api/app";
import { envSchema, type AppConfig } from "../../api/config";
import { withCheckDigit } from "../../api/domain/gs1";
import { DEMO_MEMBERS, DEMO_PRODUCT } from "../../scripts/lib/consortium-setup";
import { startAnvil, type NodeProcess } from "../../scripts/lib/nodes";
import { deploySystemOnNode, devWallet, rpcProvider, systemAt } from "../fixtures/chain";
import type { SystemAddresses } from "../../api/chain/addresses";
import type { JsonRpcProvider } from "ethers";

/**
 * The EPCIS binding's test stack: a real anvil node with the System deployed through Ignition
 * and the demo consortium admitted by governance (producer 4 with prefix 9506000 and product
 * 09506000134352 for DE and FR, distributor 5, distributor2 6, pharmacy 7 (DE), pharmacy2 8 (FR),
 * regulator 9 (DE), auditor 10), and the service (relay with custodial signing, the binding; the
 * quantity-era read side off) over it, rebuilt on the same DATA_DIR to test restarts. Every
 * member that captures or queries is enrolled for custodial signing and has an API key.
 */

export const ADMIN = "admin-token-for-epcis-tests-0123456789";
export const AUDITOR_KEY = "auditor-read-key-for-epcis-tests";
export const GTIN = DEMO_PRODUCT.gtin;
export type Who = "producer" | "distributor" | "distributor2" | "pharmacy" | "pharmacy2" | "regulator" | "auditor";
export const member = (k: Who) => DEMO_MEMBERS.find((m) => m.key === k)!;
export const account = (k: Who) => devWallet(member(k).account).address;
export const glnOf = (k: Who) => member(k).gln;

export interface EpcisStack {
  node: NodeProcess;
  addresses: SystemAddresses;
  provider: JsonRpcProvider;
  dataDir: string;
  app: FastifyInstance;
  keys: Record<Who, string>;
  /** Closes the service and builds a new one on the same DATA_DIR (a restart). */
  restart(env?: Record<string, string>): Promise<FastifyInstance>;
  close(): Promise<void>;
}

export function configFor(node: NodeProcess, addresses: SystemAddresses, dataDir: string, env: Record<string, string> = {}): AppConfig {
  const parsed = envSchema.parse({
    CHAIN_RPC_URL: node.url,
    CHAIN_ID: "1337",
    READ_ENABLED: "false",
    LOG_LEVEL: "silent",
    RELAY_POLL_MS: "50",
    RELAY_BATCH_WAIT_MS: "10",
    RELAY_ADMIN_TOKEN: ADMIN,
    RELAY_KEYSTORE_PASSPHRASE: "epcis tests passphrase",
    RELAY_KEYSTORE_SCRYPT_N: "1024",
    READ_API_KEYS: AUDITOR_KEY,
    EPCIS_POLL_MS: "30",
    EPCIS_WEBHOOK_ALLOW_PRIVATE: "true",
    EPCIS_WEBHOOK_ALLOW_HTTP: "true",
    EPCIS_WEBHOOK_BACKOFF_MS: "40",
    EPCIS_WEBHOOK_BACKOFF_MAX_MS: "400",
    EPCIS_WEBHOOK_TIMEOUT_MS: "2000",
    ...env,
  });
  return { env: parsed, addresses, dataDir };
}

export async function startEpcisStack(env: Record<string, string> = {}): Promise<EpcisStack> {
  const node = await startAnvil();
  const addresses = await deploySystemOnNode(node.url);
  const provider = rpcProvider(node.url);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-epcis-"));
  let app = await buildApp(configFor(node, addresses, dataDir, env), { logger: process.env.TEST_LOG ? { level: process.env.TEST_LOG } : false });
  await app.ready();
  const keys = {} as Record<Who, string>;
  for (const k of ["producer", "distributor", "distributor2", "pharmacy", "pharmacy2", "regulator", "auditor"] as Who[]) {
    const res = await app.inject({
      method: "POST",
      url: "/v1/admin/custodial-members",
      headers: { authorization: `Bearer ${ADMIN}` },
      payload: { label: `${k} ERP`, privateKey: devWallet(member(k).account).privateKey },
    });
    if (res.statusCode !== 201) throw new Error(`enrolment of ${k}: ${res.statusCode} ${res.body}`);
    keys[k] = (res.json() as { apiKey: string }).apiKey;
  }
  const stack: EpcisStack = {
    node,
    addresses,
    provider,
    dataDir,
    get app() {
      return app;
    },
    keys,
    async restart(extra = {}) {
      await app.close();
      app = await buildApp(configFor(node, addresses, dataDir, { ...env, ...extra }), { logger: false });
      await app.ready();
      return app;
    },
    async close() {
      await app.close();
      provider.destroy();
      await node.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return stack;
}

/** Waits (polling, no fixed sleep) until `check` holds; fails with `what` after `timeoutMs`. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setImmediate(r));
    await new Promise((r) => setTimeout(r, 25));
  }
}

// ─── EPCIS documents as an ERP writes them ───────────────────────────────────────────────────

export const CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
export const sgtin = (serial: string, gtin = GTIN) => `https://id.gs1.org/01/${gtin}/21/${encodeURIComponent(serial)}`;
export const ssccUri = (sscc: string) => `https://id.gs1.org/00/${sscc}`;
export const location = (k: Who) => ({ id: `https://id.gs1.org/414/${glnOf(k)}` });
export const party = (k: Who) => `https://id.gs1.org/417/${glnOf(k)}`;
/** A valid SSCC under the producer's prefix 9506000 with serial reference `n` (extension `ext`). */
export const sscc = (n: number, ext = 0) => withCheckDigit(`${ext}9506000${String(n).padStart(9, "0")}`);

let counter = 0;
const now = () => new Date(Date.now() - 60_000 + counter++).toISOString();

export function document(eventList: object[]): object {
  return { "@context": CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: new Date().toISOString(), epcisBody: { eventList } };
}

const base = (id: string) => ({ eventID: `urn:uuid:${id}`, eventTime: now(), eventTimeZoneOffset: "+00:00" });

export function commissioning(id: string, by: Who, lot: string, serials: string[], expiry = "2030-12-31"): object {
  return {
    type: "ObjectEvent",
    ...base(id),
    epcList: serials.map((s) => sgtin(s)),
    action: "ADD",
    bizStep: "commissioning",
    disposition: "active",
    readPoint: location(by),
    bizLocation: location(by),
    ilmd: { "cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": expiry },
  };
}

export function packing(id: string, by: Who, parent: string, children: string[]): object {
  return { type: "AggregationEvent", ...base(id), parentID: parent, childEPCs: children, action: "ADD", bizStep: "packing", disposition: "in_progress", readPoint: location(by) };
}

export function shipping(id: string, by: Who, to: Who, epcs: string[], docs: Array<{ type: string; bizTransaction: string }> = []): object {
  return {
    type: "ObjectEvent",
    ...base(id),
    epcList: epcs,
    action: "OBSERVE",
    bizStep: "shipping",
    disposition: "in_transit",
    readPoint: location(by),
    ...(docs.length > 0 ? { bizTransactionList: docs } : {}),
    sourceList: [{ type: "owning_party", source: party(by) }],
    destinationList: [{ type: "owning_party", destination: party(to) }],
  };
}

export function receiving(id: string, by: Who, epcs: string[], disposition = "in_progress"): object {
  return { type: "ObjectEvent", ...base(id), epcList: epcs, action: "OBSERVE", bizStep: "receiving", disposition, readPoint: location(by), bizLocation: location(by) };
}

export function dispensing(id: string, by: Who, epcs: string[]): object {
  return { type: "ObjectEvent", ...base(id), epcList: epcs, action: "OBSERVE", bizStep: "dispensing", disposition: "dispensed", readPoint: location(by), bizLocation: location(by) };
}

export function destroying(id: string, by: Who, epcs: string[]): object {
  return { type: "ObjectEvent", ...base(id), epcList: epcs, action: "DELETE", bizStep: "destroying", disposition: "destroyed", readPoint: location(by) };
}

export interface CaptureJob {
  captureID: string;
  running: boolean;
  success: boolean;
  events: Array<{ index: number; eventID: string; state: string; duplicateOf: { captureID: string; index: number } | null; partOf: number | null; actions: Array<{ action: string; state: string; requestId: string | null; error: unknown }> }>;
  errors: unknown[];
}

/** Posts a document as `who`; returns the HTTP answer. */
export function capture(app: FastifyInstance, key: string, doc: object, headers: Record<string, string> = {}) {
  return app.inject({ method: "POST", url: "/epcis/capture", headers: { "x-api-key": key, ...headers }, payload: doc });
}

/** Posts a document and waits for the capture job to finish; fails unless it was accepted. */
export async function captureAndWait(stack: EpcisStack, who: Who, doc: object, timeoutMs = 30_000): Promise<CaptureJob> {
  const res = await capture(stack.app, stack.keys[who], doc);
  if (res.statusCode !== 202) throw new Error(`capture by ${who}: ${res.statusCode} ${res.body}`);
  return waitForJob(stack, who, res.headers.location as string, timeoutMs);
}

export async function waitForJob(stack: EpcisStack, who: Who, location: string, timeoutMs = 30_000): Promise<CaptureJob> {
  let job: CaptureJob | undefined;
  await until(`capture job ${location} to finish`, timeoutMs, async () => {
    job = (await stack.app.inject({ method: "GET", url: location, headers: { "x-api-key": stack.keys[who] } })).json() as CaptureJob;
    return job.running === false;
  });
  return job!;
}

/** Waits until the binding has projected the chain's head. */
export async function projected(stack: EpcisStack): Promise<void> {
  const feedHead = await stack.provider.getBlockNumber();
  await until("the projection to reach the head", 20_000, async () => {
    const head = stack.app.epcis.projector.position;
    return head === "" ? feedHead === 0 : Number(head.split(":")[0]) >= feedHead || (await lastLedgerBlock(stack)) <= Number(head.split(":")[0]);
  });
}

async function lastLedgerBlock(stack: EpcisStack): Promise<number> {
  const logs = await stack.provider.getLogs({ address: stack.addresses.batchToken, fromBlock: 0, toBlock: "latest" });
  return logs.length === 0 ? 0 : logs[logs.length - 1]!.blockNumber;
}

export const token = (stack: EpcisStack) => systemAt(stack.addresses, stack.provider).batchToken;
