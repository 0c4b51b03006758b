import type { LedgerEvent } from "../domain/ledger-events";
import type { RoleName } from "../domain/ledger-enums";

/**
 * What the EPCIS binding needs from the rest of the service, as interfaces. The binding owns none
 * of these facts: the ledger (read side), the member register (chain), the mapping of ledger
 * events to EPCIS (api/domain/epcis.ts) and the relay's custodial path each come in through one
 * port, so the binding can be wired over the read side's store, over the chain directly (the
 * adapters in ./adapters), or over anything else that keeps these contracts.
 */

// ─── The ledger ───────────────────────────────────────────────────────────────────────────────

/**
 * An opaque, totally ordered position in the ledger's event stream. `""` is "before the first
 * event". Cursors compare only through the feed: the binding stores them and hands them back.
 */
export type FeedCursor = string;

export interface FeedEntry {
  /** The position right after this event: `after(cursor)` resumes behind it. */
  cursor: FeedCursor;
  event: LedgerEvent;
}

/**
 * The ledger as an append-only stream of decoded BatchToken events in chain order (block, log
 * index). The projector reads it from its own cursor; a restart resumes where it stopped.
 *
 * Contract: `after(c, n)` returns at most `n` entries strictly after `c`, in chain order, and the
 * same entries every time it is asked again (events once returned never change or disappear
 * unless the chain is reset, see `identity`). An empty array means "nothing new yet".
 */
export interface LedgerFeed {
  after(cursor: FeedCursor, limit: number): Promise<FeedEntry[]>;
  /** The cursor of the newest event the feed has (what `after` can reach now). */
  head(): Promise<FeedCursor>;
  /**
   * Identifies the chain the feed reads (e.g. its genesis hash and the BatchToken address): a
   * projection built for another identity is discarded and rebuilt.
   */
  identity(): Promise<string>;
  /** Optional push: called when new events may be available (the projector also polls). */
  onAdvance?(listener: () => void): () => void;
  /**
   * Optional: resolves once the feed holds every event mined up to the chain's current head (as far
   * as its confirmations allow), or rejects after `timeoutMs`. What lets a capture see the writes
   * its member has just had mined (a product registered a moment ago).
   */
  catchUp?(timeoutMs: number): Promise<void>;
}

// ─── The mapping ──────────────────────────────────────────────────────────────────────────────

/** An EPCIS 2.0 event as JSON-LD (what api/domain/epcis.ts writes). */
export type EpcisEventJson = Record<string, unknown> & { type: string; eventTime: string; eventID: string };

/** Ledger event → EPCIS events. `ctx` is built by a {@link MappingContextSource}. */
export type EpcisMapping = (events: readonly LedgerEvent[], ctx: MappingContext) => EpcisEventJson[];

/**
 * What a mapping may ask about the ledger, as api/domain/epcis.ts's `EpcisContext` declares it
 * (the superset of the current and the package-level mapping; a mapping reads what it knows).
 */
export interface MappingContext {
  batches: (batchId: string) => MappingBatchInfo | undefined;
  glnOf(address: string): string | undefined;
  serialOf?(batchId: string, unitIndex: string): string | undefined;
  ssccOf?(batchId: string, kind: number, index: number): string | undefined;
  shipmentOf?(shipmentId: string): MappingShipmentFacts | undefined;
  bizTransactionsOf?(referenceHash: string): readonly { type: string; uri: string }[] | undefined;
  openQuarantinesAfter?(batchId: string, blockNumber: number, logIndex: number): readonly string[];
}

export interface MappingBatchInfo {
  gtin: string;
  lot: string;
  expiryDay: number;
  producer: string;
  serialCount?: number;
  unitsPerCase?: number;
  casesPerPallet?: number;
  mintedAt?: number;
}

export interface MappingShipmentFacts {
  kind: number | string;
  sender: string;
  receiver: string;
  items: { kind: number; start: number; count: number }[];
  referenceHash: string;
  batchId?: string;
  quantity?: string;
  shippedAt?: number;
}

/**
 * The business documents shipments commit to, kept by the read side (api/read/documents.ts): the
 * projection names them in bizTransactionList when the binding did not capture them itself, and the
 * binding hands over the documents it captured so the read side's exports and DSCSA files name them.
 */
export interface DocumentPort {
  bizTransactionsOf(referenceHash: string): readonly { type: string; uri: string }[] | undefined;
  remember(referenceHash: string, list: readonly { type: string; uri: string }[], by: string): void;
}

// ─── Members ──────────────────────────────────────────────────────────────────────────────────

export interface MemberFacts {
  account: string;
  role: RoleName;
  /** Active now (status Active and licence not expired). */
  active: boolean;
  /** ISO 3166-1 alpha-2. */
  jurisdiction: string;
  /** 13 digits, or undefined when the register holds none. */
  gln: string | undefined;
}

/** The member register (Consortium), read through a cache. */
export interface MemberDirectory {
  member(account: string): Promise<MemberFacts | undefined>;
  /** The member whose register GLN is `gln`, if any. */
  accountOfGln(gln: string): Promise<string | undefined>;
  /** GLN by account, synchronously from what the directory has seen (for the mapping context). */
  knownGln(account: string): string | undefined;
}

/** Who is calling, after authentication. */
export type Principal =
  | { kind: "member"; account: string; keyId: string }
  /** A holder of a READ_API_KEYS key: an auditor (sees everything, captures nothing). */
  | { kind: "auditor"; keyId: string };

export interface Authenticator {
  /** undefined: no credentials; `{ error }`: credentials that do not authenticate (why, for a 401). */
  authenticate(headers: Record<string, string | string[] | undefined>): Principal | { error: "API_KEY_INVALID" | "API_KEY_REVOKED"; detail: string } | undefined;
}

// ─── The relay ────────────────────────────────────────────────────────────────────────────────

export type RelayState = "queued" | "submitted" | "mined" | "failed";

export interface RelayOutcome {
  requestId: string;
  state: RelayState;
  txHash: string | null;
  blockNumber: number | null;
  error: { code: string; name: string | null; args: Record<string, string> | null; message: string | null } | null;
}

/** A refusal by the relay before anything was queued (validation, simulation, rate limit). */
export class RelayRefusal extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "RelayRefusal";
  }
}

/**
 * The relay's custodial path: the relay signs `action` (a /v1/custodial/<action> body) with the
 * member's custodial key and queues it durably. Same idempotency key → the same request, never
 * a second one. Throws {@link RelayRefusal} when the relay refuses it.
 */
export interface RelayPort {
  submit(member: string, action: string, body: Record<string, unknown>, idempotencyKey: string): Promise<RelayOutcome>;
  /** The request's state now; undefined when the relay does not know it. */
  status(requestId: string): RelayOutcome | undefined;
  /** Whether the relay holds a custodial key for `member`. */
  isCustodial(member: string): boolean;
}

// ─── Serial and packing lists ─────────────────────────────────────────────────────────────────

/**
 * The serial and packing lists the binding can name packs and containers with: those captured
 * through it (commissioning events carry them) and those the read side holds (producer uploads).
 */
export interface ListSource {
  /** Serial of every pack of a batch in unit order, when known. */
  serialsOf(batchId: string): readonly string[] | undefined;
  /** SSCC of case (kind 1) or pallet (kind 2) `index`. */
  ssccOf(batchId: string, kind: number, index: number): string | undefined;
  /** The batch and unit of a serialised pack (GTIN-14, serial). */
  findSgtin(gtin: string, serial: string): { batchId: string; unit: number } | undefined;
  /** The batch, kind (1 case, 2 pallet) and index of a container. */
  findSscc(sscc: string): { batchId: string; kind: number; index: number } | undefined;
}
