import { getAddress, type EventFragment } from "ethers";
import { batchTokenInterface } from "../chain/logs";
import { LEDGER_EVENT_NAMES, type ItemArg, type LedgerEvent, type LedgerEventName } from "../domain/ledger-events";
import { redactNodeDetails } from "../chain/redact";

/**
 * Raw JSON-RPC reads for the indexer and the audit task: eth_getLogs over a block range with the
 * ledger topics, block times taken from the logs when the node includes `blockTimestamp` (anvil,
 * geth ≥ 1.15, Besu ≥ 25) and otherwise fetched once per block, concurrently so ethers batches the
 * calls. Ranges the node refuses as too large are split in halves.
 */
export const LEDGER_TOPICS: string[] = LEDGER_EVENT_NAMES.map((n) => batchTokenInterface.getEvent(n)!.topicHash);

/**
 * Decoder of the ledger events, generated from the ABI, producing exactly what
 * `decodeLedgerLog` (api/chain/logs.ts) produces — integers as decimal strings, checksummed
 * addresses, 0x bytes32, booleans, UTF-8 strings — but about ten times faster: ethers' generic
 * decoder checksums every address with a JavaScript keccak, which dominated indexing. Here each
 * distinct address is checksummed once. The read tests compare both decoders on a real chain.
 */
const FRAGMENTS = new Map<string, EventFragment>(LEDGER_EVENT_NAMES.map((n) => [batchTokenInterface.getEvent(n)!.topicHash, batchTokenInterface.getEvent(n)!]));
const checksums = new Map<string, string>();

function word(hex: string, i: number): string {
  return hex.slice(2 + i * 64, 2 + (i + 1) * 64);
}

function decodeWord(type: string, w: string): string | boolean {
  if (type === "address") {
    const lower = "0x" + w.slice(24);
    let c = checksums.get(lower);
    if (c === undefined) {
      c = getAddress(lower);
      checksums.set(lower, c);
    }
    return c;
  }
  if (type === "bool") return BigInt("0x" + w) !== 0n;
  if (type === "bytes32") return "0x" + w.toLowerCase();
  if (type === "bytes2") return market(w.slice(0, 4));
  if (type.startsWith("uint")) return BigInt("0x" + w).toString();
  throw new Error(`ledger event decoder: unsupported type ${type}`);
}

/** ISO 3166-1 codes travel as bytes2 (0x4445 = "DE"), decoded as api/chain/logs.ts does (UTF-8). */
function market(hex4: string): string {
  return Buffer.from(hex4, "hex").toString("utf8");
}

/** A word of `data` read as a byte offset or a length (both far below 2^53 in any real log). */
function wordNumber(data: string, byteOffset: number): number {
  const start = 2 + byteOffset * 2;
  if (start + 64 > data.length) throw new Error(`ledger event decoder: data ends before byte ${byteOffset + 32}`);
  const v = BigInt("0x" + data.slice(start, start + 64));
  if (v > BigInt(data.length)) throw new Error(`ledger event decoder: offset or length ${v} beyond the data`);
  return Number(v);
}

/**
 * Decodes one raw ledger log; undefined for logs of other events. Throws on data that does not
 * fit the event's ABI (the indexer records such a log as an alert and goes on).
 */
export function decodeRawLedgerLog(topics: readonly string[], data: string): { name: LedgerEventName; args: LedgerEvent["args"] } | undefined {
  const fragment = FRAGMENTS.get(topics[0]);
  if (!fragment) return undefined;
  const args: LedgerEvent["args"] = {};
  let topic = 1;
  let slot = 0;
  for (const input of fragment.inputs) {
    if (input.indexed) {
      const t = topics[topic++];
      if (t === undefined) throw new Error(`ledger event decoder: ${fragment.name} lacks topic ${topic - 1}`);
      args[input.name] = decodeWord(input.type, t.slice(2));
    } else if (input.type === "string") {
      const offset = wordNumber(data, 32 * slot++);
      const length = wordNumber(data, offset);
      const start = 2 + (offset + 32) * 2;
      args[input.name] = Buffer.from(data.slice(start, start + length * 2), "hex").toString("utf8");
    } else if (input.type === "bytes2[]") {
      const offset = wordNumber(data, 32 * slot++);
      const length = wordNumber(data, offset);
      const list: string[] = [];
      for (let i = 0; i < length; i++) list.push(market(word(data, (offset + 32) / 32 + i).slice(0, 4)));
      args[input.name] = list;
    } else if (input.baseType === "array" && input.arrayChildren?.baseType === "tuple") {
      // Item[]: static tuples (uint8 kind, uint32 start, uint32 count), three words each.
      const offset = wordNumber(data, 32 * slot++);
      const length = wordNumber(data, offset);
      const items: ItemArg[] = [];
      const base = (offset + 32) / 32;
      for (let i = 0; i < length; i++) {
        const w = (k: number) => {
          const hex = word(data, base + 3 * i + k);
          if (hex.length !== 64) throw new Error("ledger event decoder: item list ends early");
          return Number(BigInt("0x" + hex));
        };
        items.push({ kind: w(0), start: w(1), count: w(2) });
      }
      args[input.name] = items;
    } else {
      const hex = word(data, slot++);
      if (hex.length !== 64) throw new Error(`ledger event decoder: ${fragment.name} data ends before ${input.name}`);
      args[input.name] = decodeWord(input.type, hex);
    }
  }
  return { name: fragment.name as LedgerEventName, args };
}

interface RpcLog {
  address: string;
  topics: string[];
  data: string;
  blockNumber: string;
  blockHash: string;
  blockTimestamp?: string;
  transactionHash: string;
  transactionIndex: string;
  logIndex: string;
  removed?: boolean;
}

interface RpcBlock {
  number: string;
  hash: string;
  timestamp: string;
}

/** What these reads need of a provider: raw JSON-RPC (ethers JsonRpcProvider, Hardhat's provider). */
export interface RpcSender {
  send(method: string, params: unknown[]): Promise<unknown>;
}

interface Pending {
  method: string;
  params: unknown[];
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/**
 * A small JSON-RPC client on Node's own fetch, for the read side's hot paths. Why not ethers'
 * JsonRpcProvider here: it decodes response bodies with a UTF-8 decoder written in JavaScript and
 * waits `batchStallTime` (10 ms) before sending a batch — a 100 MB eth_getLogs answer took minutes,
 * and every verification paid the stall. This client sends the calls queued in one event-loop
 * turn as one JSON-RPC batch (at most `maxBatch`), parses with the native JSON parser, and keeps
 * connections alive (undici's default agent).
 */
export class JsonRpcClient implements RpcSender {
  private queue: Pending[] = [];
  private scheduled = false;
  private nextId = 1;

  constructor(
    readonly url: string,
    private readonly timeoutMs = 30_000,
    private readonly maxBatch = 100,
  ) {}

  send(method: string, params: unknown[]): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.queue.push({ method, params, resolve, reject });
      if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
    while (this.queue.length > 0) void this.post(this.queue.splice(0, this.maxBatch));
  }

  private async post(calls: Pending[]): Promise<void> {
    const ids = calls.map(() => this.nextId++);
    const single = calls.length === 1;
    const payload = calls.map((c, i) => ({ jsonrpc: "2.0", id: ids[i], method: c.method, params: c.params }));
    try {
      const res = await fetch(this.url, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify(single ? payload[0] : payload),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      if (!res.ok) throw new Error(`the JSON-RPC node answered HTTP ${res.status}`);
      const body = (await res.json()) as RpcAnswer | RpcAnswer[];
      const answers = new Map((Array.isArray(body) ? body : [body]).map((a) => [a.id, a]));
      calls.forEach((c, i) => {
        const a = answers.get(ids[i]);
        if (!a) c.reject(new Error(`no answer to ${c.method} from the JSON-RPC node`));
        else if (a.error) c.reject(Object.assign(new Error(`${c.method}: ${a.error.message}`), { code: a.error.code, data: a.error.data }));
        else c.resolve(a.result);
      });
    } catch (err) {
      const e = err as Error;
      // Never the URL: it may carry an API key, and these messages reach /ready and /v1/index/status.
      const cause = (e as { cause?: Error }).cause;
      const message = e.name === "TimeoutError" ? `no answer from the JSON-RPC node within ${this.timeoutMs} ms` : redactUrls(`${e.message}${cause ? ` (${cause.message})` : ""}`, this.url);
      for (const c of calls) c.reject(new Error(`${c.method}: ${message}`));
    }
  }
}

/**
 * Removes every URL, IP address (with its port) and resolved host name from a message, and each
 * part of the configured node URL when given (node URLs may carry credentials or API keys, and
 * where the node is belongs to the operator, not the public): chain/redact.ts.
 */
export function redactUrls(message: string, nodeUrl?: string): string {
  return redactNodeDetails(message, nodeUrl);
}

interface RpcAnswer {
  id: number;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
}

/** Messages nodes use when a log query covers too much (geth, Besu, anvil, hosted providers). */
const TOO_LARGE = /too many|limit exceeded|range is too large|query returned more than|block range|response size|exceed/i;

export async function getBlockHeader(provider: RpcSender, tag: number | "latest"): Promise<{ number: number; hash: string; timestamp: number } | undefined> {
  const b = (await provider.send("eth_getBlockByNumber", [typeof tag === "number" ? "0x" + tag.toString(16) : tag, false])) as RpcBlock | null;
  return b ? { number: Number(b.number), hash: b.hash, timestamp: Number(b.timestamp) } : undefined;
}

/** A log with a ledger topic whose data does not decode: the indexer records it as an alert. */
export interface UndecodableLog {
  blockNumber: number;
  logIndex: number;
  txHash: string;
  topic: string;
  reason: string;
}

/** Logs an `eth_getLogs` range should bring back: a few thousand, so no answer grows to hundreds of MB. */
const TARGET_LOGS_PER_RANGE = 10_000;

/**
 * The block span of the next range after one that brought `logs` logs: halved above
 * {@link TARGET_LOGS_PER_RANGE}, doubled below a quarter of it (up to `maxSpan`), else kept. Dense
 * ranges shrink, sparse ones grow back to the configured span.
 */
export function nextSpan(span: number, logs: number, maxSpan: number): number {
  if (logs > TARGET_LOGS_PER_RANGE && span > 1) return Math.max(1, Math.floor(span / 2));
  if (logs < TARGET_LOGS_PER_RANGE / 4) return Math.min(maxSpan, span * 2);
  return span;
}

/**
 * Ledger events of `batchToken` in [fromBlock, toBlock], in chain order. A log that does not decode
 * goes to `onUndecodable` (and is skipped); without it, it throws.
 */
export async function readLedgerRange(
  provider: RpcSender,
  batchToken: string,
  fromBlock: number,
  toBlock: number,
  onUndecodable?: (log: UndecodableLog) => void,
): Promise<LedgerEvent[]> {
  let logs: RpcLog[];
  try {
    logs = (await provider.send("eth_getLogs", [
      { address: batchToken, fromBlock: "0x" + fromBlock.toString(16), toBlock: "0x" + toBlock.toString(16), topics: [LEDGER_TOPICS] },
    ])) as RpcLog[];
  } catch (err) {
    if (toBlock > fromBlock && TOO_LARGE.test(String((err as Error).message))) {
      const mid = Math.floor((fromBlock + toBlock) / 2);
      return [...(await readLedgerRange(provider, batchToken, fromBlock, mid, onUndecodable)), ...(await readLedgerRange(provider, batchToken, mid + 1, toBlock, onUndecodable))];
    }
    throw err;
  }
  const times = new Map<number, number>();
  const missing = new Set<number>();
  for (const l of logs) {
    const n = Number(l.blockNumber);
    if (l.blockTimestamp !== undefined && l.blockTimestamp !== null) times.set(n, Number(l.blockTimestamp));
    else missing.add(n);
  }
  await Promise.all(
    [...missing].map(async (n) => {
      const header = await getBlockHeader(provider, n);
      if (!header) throw new Error(`block ${n} disappeared while reading its logs (chain reorganised or reset)`);
      times.set(n, header.timestamp);
    }),
  );
  const events: LedgerEvent[] = [];
  for (const l of logs) {
    if (l.removed) continue;
    const n = Number(l.blockNumber);
    let decoded;
    try {
      decoded = decodeRawLedgerLog(l.topics, l.data);
    } catch (err) {
      const bad: UndecodableLog = { blockNumber: n, logIndex: Number(l.logIndex), txHash: l.transactionHash, topic: l.topics[0] ?? "", reason: (err as Error).message };
      if (!onUndecodable) throw new Error(`log ${bad.txHash}#${bad.logIndex} does not decode: ${bad.reason}`);
      onUndecodable(bad);
      continue;
    }
    if (decoded) {
      const batchId = decoded.args.batchId === undefined ? "0" : String(decoded.args.batchId);
      events.push({ name: decoded.name, batchId, args: decoded.args, blockNumber: n, blockTime: times.get(n)!, txHash: l.transactionHash, logIndex: Number(l.logIndex) });
    }
  }
  return events;
}
