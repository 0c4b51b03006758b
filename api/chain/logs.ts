import { Interface, toUtf8String, type Log, type ParamType, type Provider, type Result } from "ethers";
import { BatchToken__factory } from "../../typechain-types";
import { LEDGER_EVENT_NAMES, type LedgerArg, type LedgerEvent, type LedgerEventName } from "../domain/ledger-events";

export const batchTokenInterface: Interface = new Interface(BatchToken__factory.abi);

export const LEDGER_TOPICS: string[] = LEDGER_EVENT_NAMES.map((n) => batchTokenInterface.getEvent(n)!.topicHash);

/** ISO 3166-1 codes travel as bytes2 (0x4445 = "DE"). */
function market(hex: string): string {
  return toUtf8String(hex);
}

function plain(v: unknown, type: ParamType): LedgerArg {
  if (type.type === "bytes2") return market(String(v));
  if (type.type === "bytes2[]") return (v as Result).toArray().map((x) => market(String(x)));
  if (type.baseType === "array" && type.arrayChildren?.baseType === "tuple") {
    return (v as Result).toArray().map((item) => {
      const [kind, start, count] = (item as Result).toArray();
      return { kind: Number(kind), start: Number(start), count: Number(count) };
    });
  }
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean" || typeof v === "number") return v;
  return String(v);
}

/**
 * Decodes one BatchToken log into a LedgerEvent; undefined for logs that are not ledger events.
 * Throws for a log with a ledger topic that does not decode (the indexer records it as an alert).
 */
export function decodeLedgerLog(log: Log, blockTime: number): LedgerEvent | undefined {
  if (!LEDGER_TOPICS.includes(log.topics[0])) return undefined;
  const parsed = batchTokenInterface.parseLog({ topics: [...log.topics], data: log.data });
  if (!parsed) return undefined;
  const args: Record<string, LedgerArg> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name] = plain(parsed.args[i], input);
  });
  return {
    name: parsed.name as LedgerEventName,
    batchId: args.batchId === undefined ? "0" : String(args.batchId),
    args,
    blockNumber: log.blockNumber,
    blockTime,
    txHash: log.transactionHash,
    logIndex: log.index,
  };
}

/**
 * Reads the ledger events of `batchToken` in [fromBlock, toBlock], optionally of one batch, with
 * block times. Block timestamps are fetched once per block.
 */
export async function fetchLedgerEvents(
  provider: Provider,
  batchToken: string,
  opts: { fromBlock?: number; toBlock?: number | "latest"; batchId?: bigint } = {},
): Promise<LedgerEvent[]> {
  const topics: (string | string[] | null)[] = [LEDGER_TOPICS];
  if (opts.batchId !== undefined) topics.push("0x" + opts.batchId.toString(16).padStart(64, "0"));
  const logs = await provider.getLogs({
    address: batchToken,
    fromBlock: opts.fromBlock ?? 0,
    toBlock: opts.toBlock ?? "latest",
    topics,
  });
  const times = new Map<number, number>();
  const events: LedgerEvent[] = [];
  for (const log of logs) {
    if (!times.has(log.blockNumber)) {
      const block = await provider.getBlock(log.blockNumber);
      times.set(log.blockNumber, Number(block?.timestamp ?? 0));
    }
    const e = decodeLedgerLog(log, times.get(log.blockNumber)!);
    // With a batch filter the topic-1 match also catches register events indexed by a GTIN equal to the id.
    if (e && (opts.batchId === undefined || e.batchId === opts.batchId.toString())) events.push(e);
  }
  return events;
}
