import { Interface, toUtf8String, type Log, type Provider, type Result } from "ethers";
import { Consortium__factory } from "../../../typechain-types";
import { decodeLedgerLog, LEDGER_TOPICS } from "../../../api/chain/logs";
import type { LedgerEvent } from "../../../api/domain/ledger-events";

/**
 * Reading both contracts' events for a migration: the BatchToken's ledger events (decoded by the
 * read side's own decoder, api/chain/logs.ts) and the Consortium's register and governance events
 * (decoded here: the read side has no use for them). Ranges are read in pages so a long-lived
 * chain does not hit a node's eth_getLogs limits.
 */

export const consortiumInterface: Interface = Consortium__factory.createInterface() as unknown as Interface;

/** A Consortium event as plain data: addresses checksummed, integers as decimal strings, bytes2 as two letters. */
export interface ConsortiumEvent {
  name: string;
  args: Record<string, string | boolean>;
  blockNumber: number;
  logIndex: number;
  txHash: string;
}

function plain(value: unknown, type: string): string | boolean {
  if (type === "bytes2") return toUtf8String(String(value));
  if (typeof value === "bigint") return value.toString();
  if (typeof value === "boolean") return value;
  return String(value);
}

/** Decodes one Consortium log; undefined for a log that is not one of its events. */
export function decodeConsortiumLog(log: Log): ConsortiumEvent | undefined {
  let parsed;
  try {
    parsed = consortiumInterface.parseLog({ topics: [...log.topics], data: log.data });
  } catch {
    return undefined;
  }
  if (!parsed) return undefined;
  const args: Record<string, string | boolean> = {};
  parsed.fragment.inputs.forEach((input, i) => {
    args[input.name] = plain((parsed.args as Result)[i], input.type);
  });
  return { name: parsed.name, args, blockNumber: log.blockNumber, logIndex: log.index, txHash: log.transactionHash };
}

/** Logs of `address` (optionally with one of `topics` first) in [fromBlock, toBlock], `pageBlocks` at a time. */
export async function getLogsPaged(
  provider: Provider,
  address: string,
  fromBlock: number,
  toBlock: number,
  pageBlocks = 5_000,
  topics?: string[],
): Promise<Log[]> {
  const logs: Log[] = [];
  for (let from = fromBlock; from <= toBlock; from += pageBlocks) {
    const to = Math.min(toBlock, from + pageBlocks - 1);
    logs.push(...(await provider.getLogs({ address, fromBlock: from, toBlock: to, topics: topics ? [topics] : undefined })));
  }
  return logs;
}

/** Both contracts' events in [fromBlock, toBlock], in chain order. Block times are not read (a migration does not use them). */
export async function fetchSystemEvents(
  provider: Provider,
  addresses: { consortium: string; batchToken: string },
  fromBlock: number,
  toBlock: number,
  pageBlocks = 5_000,
): Promise<{ consortium: ConsortiumEvent[]; ledger: LedgerEvent[] }> {
  const consortium = (await getLogsPaged(provider, addresses.consortium, fromBlock, toBlock, pageBlocks))
    .map(decodeConsortiumLog)
    .filter((e): e is ConsortiumEvent => e !== undefined);
  const ledger = (await getLogsPaged(provider, addresses.batchToken, fromBlock, toBlock, pageBlocks, LEDGER_TOPICS))
    .map((log) => decodeLedgerLog(log, 0))
    .filter((e): e is LedgerEvent => e !== undefined);
  const order = (a: { blockNumber: number; logIndex: number }, b: { blockNumber: number; logIndex: number }) => a.blockNumber - b.blockNumber || a.logIndex - b.logIndex;
  return { consortium: consortium.sort(order), ledger: ledger.sort(order) };
}
