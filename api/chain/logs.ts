import { Interface, type Log, type Provider } from "ethers";
import { BatchToken__factory } from "../../typechain-types";
import { LEDGER_EVENT_NAMES, type LedgerEvent, type LedgerEventName } from "../domain/ledger-events";

export const batchTokenInterface: Interface = new Interface(BatchToken__factory.abi);

const LEDGER_TOPICS: string[] = LEDGER_EVENT_NAMES.map((n) => batchTokenInterface.getEvent(n)!.topicHash);

function plain(v: unknown): string | number | boolean {
  if (typeof v === "bigint") return v.toString();
  if (typeof v === "boolean" || typeof v === "number") return v;
  return String(v);
}

/** Decodes one BatchToken log into a LedgerEvent, or undefined for logs that are not ledger events. */
export function decodeLedgerLog(log: Log, blockTime: number): LedgerEvent | undefined {
  if (!LEDGER_TOPICS.includes(log.topics[0])) return undefined;
  const parsed = batchTokenInterface.parseLog({ topics: [...log.topics], data: log.data });
  if (!parsed) return undefined;
  const args: Record<string, string | number | boolean> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name] = plain(parsed.args[i]);
  });
  return {
    name: parsed.name as LedgerEventName,
    batchId: String(args.batchId),
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
    if (e) events.push(e);
  }
  return events;
}
