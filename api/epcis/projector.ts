import { EventEmitter } from "node:events";
import { normaliseGs1Uri } from "../domain/gs1-uri-normaliser";
import type { LedgerEvent } from "../domain/ledger-events";
import { LedgerState } from "./ledger-state";
import { Waker } from "./waker";
import type { DocumentPort, EpcisEventJson, EpcisMapping, FeedCursor, LedgerFeed, ListSource, MappingContext, MemberDirectory } from "./ports";
import type { EpcisStore, NewEvent } from "./store";

/**
 * Feeds the EPCIS projection: reads the LedgerFeed from its cursor, folds each ledger event into
 * the LedgerState, maps it to EPCIS events with the mapping, and appends them with their query
 * keys and their viewers to the store — events and cursor in one transaction, so a crash replays
 * at most the last read and the eventID's uniqueness drops the replay. Emits `appended` with the
 * new sequence numbers for subscriptions and WebSocket streams.
 */

export interface ProjectorOptions {
  feed: LedgerFeed;
  store: EpcisStore;
  mapping: EpcisMapping;
  directory: MemberDirectory;
  lists: ListSource;
  /** Documents the read side holds (uploaded by members), beside those captured here. */
  documents?: DocumentPort;
  pollMs: number;
  batchSize?: number;
  log?: { info?(obj: unknown, msg?: string): void; warn(obj: unknown, msg?: string): void; error(obj: unknown, msg?: string): void };
}

export interface AppendedBatch {
  fromSeq: number;
  toSeq: number;
  /** When the projector read these events from the feed (ms since epoch). */
  seenAt: number;
}

/** The bare CBV word of a bizStep or disposition given as a word, a CBV URN or a GS1 Web URI. */
export function cbvWord(value: string): string {
  const m = /^(?:urn:epcglobal:cbv:(?:bizstep|disp):|https:\/\/ref\.gs1\.org\/cbv\/(?:BizStep|Disp)-)([A-Za-z_]+)$/.exec(value);
  return m ? m[1]! : value;
}

/** The canonical form of an identifier for matching: a GS1 key as its Digital Link on id.gs1.org, anything else as given. */
export function canonicalId(uri: string): string {
  return normaliseGs1Uri(uri) ?? uri;
}

/** Query keys of one EPCIS event: EPCs with their kind (0 EPC, 1 parentID, 2 class). */
export function epcsOf(ev: EpcisEventJson): Array<[string, number]> {
  const out: Array<[string, number]> = [];
  const add = (v: unknown, kind: number) => {
    if (typeof v === "string") out.push([canonicalId(v), kind]);
  };
  for (const key of ["epcList", "childEPCs", "inputEPCList", "outputEPCList"]) for (const v of (ev[key] as unknown[] | undefined) ?? []) add(v, 0);
  add(ev.parentID, 1);
  for (const key of ["quantityList", "childQuantityList", "inputQuantityList", "outputQuantityList"]) {
    for (const q of (ev[key] as Array<{ epcClass?: unknown }> | undefined) ?? []) add(q.epcClass, 2);
  }
  return out;
}

const ADDRESS_ARGS = ["producer", "sender", "receiver", "holder", "pharmacy", "regulator", "by", "from", "to", "owner", "licensee"];
const ZERO_ADDRESS = /^0x0{40}$/i;
/** Batch-wide events: everyone with a stake in the batch at the time sees them (the holders of its packs). */
const BATCH_WIDE = new Set(["BatchQuarantined", "BatchQuarantineLifted", "BatchRecalled", "SafetyNoticeIssued", "RecallUndone", "BatchMarkets"]);

export class Projector extends EventEmitter {
  readonly state = new LedgerState();
  private cursor: FeedCursor = "";
  private running = false;
  private readonly waker = new Waker();
  private loop: Promise<void> | undefined;
  private unsubscribe: (() => void) | undefined;
  lastError: string | undefined;
  /** Ledger events the mapping refused (logged; the projection goes on). */
  mappingErrors = 0;
  private ready = false;
  private readonly readyWaiters: Array<() => void> = [];

  constructor(private readonly o: ProjectorOptions) {
    super();
  }

  /**
   * Replays the feed up to the stored cursor (state only), then follows it, in the background: a
   * node that is down when the service starts makes the binding not ready (`lastError`, /ready),
   * never stops the service, and the replay is retried every poll interval until it completes.
   * Resolves after the first attempt, so a service whose node answers starts with its projection.
   */
  async start(): Promise<void> {
    this.running = true;
    let attempted!: () => void;
    const first = new Promise<void>((resolve) => (attempted = resolve));
    this.loop = this.run(attempted);
    await first;
  }

  private async run(attempted: () => void): Promise<void> {
    while (this.running && !this.ready) {
      try {
        const identity = await this.o.feed.identity();
        if (this.o.store.meta("identity") !== identity) this.o.store.resetProjection(identity);
        this.cursor = this.o.store.cursor();
        this.state.reset();
        await this.replay(this.cursor);
        this.lastError = undefined;
        this.ready = true;
        attempted();
      } catch (err) {
        this.lastError = (err as Error).message;
        // A feed that is not ready yet (the index's first read at start-up) is reported by /ready, not logged as a fault.
        if ((err as { transient?: boolean }).transient) this.o.log?.info?.({ err: this.lastError }, "EPCIS projector: waiting for the ledger feed");
        else this.o.log?.error({ err: this.lastError }, "EPCIS projector: cannot read the ledger feed; retrying");
        attempted();
        await this.pause();
      }
    }
    attempted();
    if (!this.running) return;
    for (const w of this.readyWaiters.splice(0)) w();
    this.unsubscribe = this.o.feed.onAdvance?.(() => this.poke());
    await this.follow();
  }

  /** Waits one poll interval, or until poked. */
  private pause(): Promise<void> {
    return this.waker.sleep(this.o.pollMs);
  }

  /**
   * Resolves once the projection holds every event the feed holds after `feed.catchUp`: what a
   * capture checks then includes the member's own writes mined before it posted. Bounded by
   * `timeoutMs`; when the feed cannot catch up in time it resolves anyway (the checks then see an
   * older ledger, and refuse with their own codes what they cannot find) and says so.
   */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    try {
      await this.o.feed.catchUp?.(timeoutMs);
      const target = await this.o.feed.head();
      while (this.running && this.cursor < target && Date.now() < deadline) {
        this.poke();
        await new Promise<void>((resolve) => {
          const done = () => {
            clearTimeout(timer);
            this.off("stepped", done);
            resolve();
          };
          const timer = setTimeout(done, Math.max(1, Math.min(50, deadline - Date.now())));
          this.on("stepped", done);
        });
      }
      return this.cursor >= target;
    } catch (err) {
      this.o.log?.warn({ err: (err as Error).message }, "EPCIS projector: could not catch up with the chain's head; checking against the projection as it is");
      return false;
    }
  }

  /** Resolves once the state has been rebuilt from the feed (capture checks need it). */
  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((r) => this.readyWaiters.push(r));
  }

  get position(): FeedCursor {
    return this.cursor;
  }

  async stop(): Promise<void> {
    this.running = false;
    this.unsubscribe?.();
    this.poke();
    await this.loop;
  }

  poke(): void {
    this.waker.poke();
  }

  private async replay(until: FeedCursor): Promise<void> {
    if (until === "") return;
    let at: FeedCursor = "";
    for (;;) {
      const entries = await this.o.feed.after(at, 5_000);
      if (entries.length === 0) return;
      for (const entry of entries) {
        this.state.apply(entry.event);
        at = entry.cursor;
        if (at === until) return;
      }
    }
  }

  private async follow(): Promise<void> {
    while (this.running) {
      let added = 0;
      try {
        added = await this.step();
        this.lastError = undefined;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.o.log?.error({ err: this.lastError }, "EPCIS projector: cannot read the ledger feed; retrying");
      }
      if (added === 0 && this.running) await this.pause();
    }
  }

  /** Projects the next entries of the feed; returns how many ledger events it read. */
  async step(): Promise<number> {
    const entries = await this.o.feed.after(this.cursor, this.o.batchSize ?? 500);
    if (entries.length === 0) return 0;
    const seenAt = Date.now();
    await this.learnMembers(entries.map((e) => e.event));
    const rows: NewEvent[] = [];
    for (const entry of entries) {
      this.state.apply(entry.event);
      rows.push(...this.project(entry.event, seenAt));
    }
    const last = entries[entries.length - 1]!.cursor;
    const seqs = this.o.store.appendEvents(rows, last);
    this.cursor = last;
    if (seqs.length > 0) this.emit("appended", { fromSeq: seqs[0]!, toSeq: seqs[seqs.length - 1]!, seenAt } satisfies AppendedBatch);
    this.emit("stepped");
    return entries.length;
  }

  private async learnMembers(events: readonly LedgerEvent[]): Promise<void> {
    const seen = new Set<string>();
    for (const e of events) {
      for (const k of ADDRESS_ARGS) {
        const v = e.args[k];
        if (typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v) && !ZERO_ADDRESS.test(v)) seen.add(v.toLowerCase());
      }
    }
    for (const a of seen) if (this.o.directory.knownGln(a) === undefined) await this.o.directory.member(a).catch(() => undefined);
  }

  /** The mapping context over the state, the lists and the directory. */
  context(): MappingContext {
    const s = this.state;
    return {
      batches: (id) => s.batch(id),
      glnOf: (a) => this.o.directory.knownGln(a),
      serialOf: (id, unit) => this.o.lists.serialsOf(id)?.[Number(unit)],
      ssccOf: (id, kind, index) => this.o.lists.ssccOf(id, kind, index),
      shipmentOf: (id) => s.shipments.get(id),
      bizTransactionsOf: (h) => this.o.store.bizTransactionsOf(h) ?? this.o.documents?.bizTransactionsOf(h),
      openQuarantinesAfter: (id) => s.quarantinesOf(id),
    };
  }

  private project(e: LedgerEvent, recordTime: number): NewEvent[] {
    let mapped: EpcisEventJson[];
    try {
      mapped = this.o.mapping([e], this.context());
    } catch (err) {
      this.mappingErrors++;
      this.o.log?.warn({ err: (err as Error).message, event: e.name, txHash: e.txHash, logIndex: e.logIndex }, "EPCIS projector: the mapping refused a ledger event; it is left out of the projection");
      return [];
    }
    if (mapped.length === 0) return [];
    const viewers = this.viewersOf(e);
    return mapped.map((ev) => ({
      eventId: ev.eventID,
      type: ev.type,
      eventTime: Date.parse(ev.eventTime),
      recordTime,
      action: typeof ev.action === "string" ? ev.action : null,
      bizStep: typeof ev.bizStep === "string" ? cbvWord(ev.bizStep) : null,
      disposition: typeof ev.disposition === "string" ? cbvWord(ev.disposition) : null,
      readPoint: typeof (ev.readPoint as { id?: unknown } | undefined)?.id === "string" ? canonicalId((ev.readPoint as { id: string }).id) : null,
      bizLocation: typeof (ev.bizLocation as { id?: unknown } | undefined)?.id === "string" ? canonicalId((ev.bizLocation as { id: string }).id) : null,
      batchId: e.batchId,
      blockNumber: e.blockNumber,
      logIndex: e.logIndex,
      json: JSON.stringify(ev),
      epcs: epcsOf(ev),
      viewers,
    }));
  }

  /**
   * Who may see the EPCIS events of a ledger event: its parties (every member the event names),
   * for batch-wide events everyone holding the batch's packs or shipping them then (and its
   * producer), and the regulators of the batch's markets.
   */
  viewersOf(e: LedgerEvent): string[] {
    const out = new Set<string>();
    for (const k of ADDRESS_ARGS) {
      const v = e.args[k];
      if (typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v) && !ZERO_ADDRESS.test(v)) out.add(`a:${v.toLowerCase()}`);
    }
    const batch = this.state.batch(e.batchId);
    if (batch) {
      if (BATCH_WIDE.has(e.name)) {
        for (const who of this.state.stakeholders(e.batchId)) out.add(`a:${who}`);
      }
      for (const m of batch.markets) out.add(`j:${m}`);
      if (batch.markets.length === 0) {
        const p = this.state.products.get(batch.gtin);
        for (const m of p?.markets ?? []) out.add(`j:${m}`);
      }
    }
    return [...out];
  }
}
