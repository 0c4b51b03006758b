import { getBlockHeader, nextSpan, readLedgerRange, type RpcSender } from "../../read/chain-reader";
import { compareEvents, type LedgerEvent } from "../../domain/ledger-events";
import type { FeedCursor, FeedEntry, LedgerFeed } from "../ports";

/**
 * A LedgerFeed over the chain itself: eth_getLogs of the BatchToken in block ranges (read and
 * decoded by api/read/chain-reader.ts; a range starts at 100 blocks, halves while it holds more than
 * 10,000 logs and doubles back while it holds fewer than 2,500, as the indexer's do), kept in memory
 * in chain order. For a binding that runs without the read side's index (and for tests that read
 * real events from anvil). With the read side in the same service, IndexLedgerFeed replaces it
 * (same contract, no second copy of the log).
 *
 * Cursor: `<block>:<logIndex>` of the last event returned, both zero-padded so cursors order as
 * strings; a range is only read up to the head block, and every block is read once whole, so the
 * same cursor always resumes at the same place.
 */
export class ChainLedgerFeed implements LedgerFeed {
  private readonly events: LedgerEvent[] = [];
  private readonly cursors: FeedCursor[] = [];
  private readBlock = -1;
  private span = 100;
  private lastPoll = 0;
  private polling: Promise<void> | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(
    /** Node's fetch-based JsonRpcClient for large chains (ethers' provider also fits, for small ones). */
    private readonly provider: RpcSender,
    private readonly batchToken: string,
    private readonly opts: { fromBlock?: number; blockRange?: number; pollMs?: number } = {},
  ) {}

  static cursorOf(e: Pick<LedgerEvent, "blockNumber" | "logIndex">): FeedCursor {
    return `${String(e.blockNumber).padStart(12, "0")}:${String(e.logIndex).padStart(6, "0")}`;
  }

  async identity(): Promise<string> {
    const genesis = await getBlockHeader(this.provider, 0);
    return `${genesis?.hash ?? "unknown"}/${this.batchToken.toLowerCase()}`;
  }

  async head(): Promise<FeedCursor> {
    await this.poll(true);
    return this.cursors[this.cursors.length - 1] ?? "";
  }

  async catchUp(): Promise<void> {
    // A poll already under way may have read the head before the block the caller waits for.
    await this.polling?.catch(() => undefined);
    await this.poll(true);
  }

  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async after(cursor: FeedCursor, limit: number): Promise<FeedEntry[]> {
    let i = this.indexAfter(cursor);
    if (i >= this.events.length) {
      await this.poll(false);
      i = this.indexAfter(cursor);
    }
    const out: FeedEntry[] = [];
    for (; i < this.events.length && out.length < limit; i++) out.push({ cursor: this.cursors[i]!, event: this.events[i]! });
    return out;
  }

  /** Index of the first event after `cursor` (binary search over the sorted cursors). */
  private indexAfter(cursor: FeedCursor): number {
    let lo = 0;
    let hi = this.cursors.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.cursors[mid]! <= cursor) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Reads new blocks from the node (at most once per pollMs unless forced). */
  private poll(force: boolean): Promise<void> {
    if (this.polling) return this.polling;
    if (!force && Date.now() - this.lastPoll < (this.opts.pollMs ?? 0)) return Promise.resolve();
    this.polling = (async () => {
      try {
        const head = Number(await this.provider.send("eth_blockNumber", []));
        const maxSpan = this.opts.blockRange ?? 5_000;
        let added = 0;
        for (let from = Math.max(this.readBlock + 1, this.opts.fromBlock ?? 0); from <= head; ) {
          const to = Math.min(head, from + this.span - 1);
          const got = (await readLedgerRange(this.provider, this.batchToken, from, to)).sort(compareEvents);
          for (const e of got) {
            this.events.push(e);
            this.cursors.push(ChainLedgerFeed.cursorOf(e));
          }
          added += got.length;
          this.readBlock = to;
          from = to + 1;
          this.span = nextSpan(this.span, got.length, maxSpan);
        }
        if (added > 0) for (const l of this.listeners) l();
      } finally {
        this.lastPoll = Date.now();
        this.polling = undefined;
      }
    })();
    return this.polling;
  }
}

/**
 * A LedgerFeed over an in-memory array of decoded events (e.g. read once from a chain): for
 * tools and tests that already hold the events. `push` appends (in chain order).
 */
export class ArrayLedgerFeed implements LedgerFeed {
  private readonly entries: FeedEntry[] = [];
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly id: string,
    events: readonly LedgerEvent[] = [],
  ) {
    this.push(...events);
  }

  push(...events: LedgerEvent[]): void {
    for (const e of [...events].sort(compareEvents)) this.entries.push({ cursor: ChainLedgerFeed.cursorOf(e), event: e });
    if (events.length > 0) for (const l of this.listeners) l();
  }

  async identity(): Promise<string> {
    return this.id;
  }

  async head(): Promise<FeedCursor> {
    return this.entries[this.entries.length - 1]?.cursor ?? "";
  }

  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async after(cursor: FeedCursor, limit: number): Promise<FeedEntry[]> {
    let lo = 0;
    let hi = this.entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.entries[mid]!.cursor <= cursor) lo = mid + 1;
      else hi = mid;
    }
    return this.entries.slice(lo, lo + limit);
  }
}
