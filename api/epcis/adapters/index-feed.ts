import type { LedgerEvent } from "../../domain/ledger-events";
import type { FeedCursor, FeedEntry, LedgerFeed } from "../ports";
import { ChainLedgerFeed } from "./chain-feed";

/** What the feed reads of the read side's index (api/read/store.ts). */
export interface IndexedEvents {
  meta(key: string): string | undefined;
  eventsAfter(blockNumber: number, logIndex: number, limit: number): LedgerEvent[];
  lastEvent(): LedgerEvent | undefined;
}

/** What tells the feed that the index moved (the read side's Indexer: `progress` per range, `reset` on a chain reset). */
export interface IndexProgress {
  on(event: "progress" | "reset", listener: (...args: unknown[]) => void): unknown;
  off(event: "progress" | "reset", listener: (...args: unknown[]) => void): unknown;
}

/** The feed has nothing to read yet (the index's first read is under way): a start-up state, not a fault. */
export class FeedNotReadyError extends Error {
  override readonly name = "FeedNotReadyError";
  readonly transient = true;
}

/**
 * The LedgerFeed over the read side's index: the `events` table the indexer writes, read in pages
 * by primary key. What the binding uses whenever the read side runs in the same service: the chain
 * is read once (by the indexer, with its adaptive ranges and its undecodable-log alerts), the
 * EPCIS projection follows the index rather than holding a second copy of the log in memory, and
 * a page costs one indexed SQLite range scan however large the chain grew.
 *
 * Cursors are ChainLedgerFeed's (`<block>:<logIndex>`, zero-padded), and so is the identity
 * (genesis hash / BatchToken), so a projection built over either feed resumes over the other.
 * The index is the feed's truth: an event appears here once the indexer stored it (after its
 * confirmations), and when the indexer detects a chain reset the identity changes, `after` refuses
 * to mix the two chains, and the projector reports it until it is restarted on the new chain.
 */
export class IndexLedgerFeed implements LedgerFeed {
  private known: string | undefined;

  constructor(
    private readonly store: IndexedEvents,
    private readonly progress?: IndexProgress,
    /** Resolves once the index holds the chain's current head (the read side's indexer), for `catchUp`. */
    private readonly indexHead?: (timeoutMs: number) => Promise<void>,
  ) {}

  async catchUp(timeoutMs: number): Promise<void> {
    await this.indexHead?.(timeoutMs);
  }

  async identity(): Promise<string> {
    const id = this.current();
    if (id === undefined) throw new FeedNotReadyError("the read side's index has not read the chain yet (its indexer has not started or cannot reach the node)");
    this.known = id;
    return id;
  }

  async head(): Promise<FeedCursor> {
    const last = this.store.lastEvent();
    return last ? ChainLedgerFeed.cursorOf(last) : "";
  }

  async after(cursor: FeedCursor, limit: number): Promise<FeedEntry[]> {
    const id = this.current();
    if (this.known !== undefined && id !== this.known) {
      throw new Error(`the read side's index was rebuilt for another chain (${id ?? "not read yet"}, was ${this.known}): restart the service to rebuild the EPCIS projection`);
    }
    const [block, log] = cursor === "" ? [-1, -1] : parse(cursor);
    return this.store.eventsAfter(block, log, limit).map((event) => ({ cursor: ChainLedgerFeed.cursorOf(event), event }));
  }

  onAdvance(listener: () => void): () => void {
    if (!this.progress) return () => {};
    const l = () => listener();
    this.progress.on("progress", l);
    this.progress.on("reset", l);
    return () => {
      this.progress?.off("progress", l);
      this.progress?.off("reset", l);
    };
  }

  private current(): string | undefined {
    const genesis = this.store.meta("genesisHash");
    const token = this.store.meta("batchToken");
    return genesis === undefined || token === undefined ? undefined : `${genesis}/${token.toLowerCase()}`;
  }
}

function parse(cursor: FeedCursor): [number, number] {
  const m = /^(\d+):(\d+)$/.exec(cursor);
  if (!m) throw new Error(`not a ledger feed cursor: ${cursor}`);
  return [Number(m[1]), Number(m[2])];
}
