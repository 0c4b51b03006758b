import type { Item } from "../../../api/domain/packing";
import type { PackStateName } from "../../../api/domain/pack-ledger";
import type { RoleName } from "../../../api/domain/ledger-enums";

/**
 * The ledger snapshot a migration exports, plans from and verifies with. Plain JSON: addresses
 * checksummed, big numbers as decimal strings, hashes as 0x hex, ISO 3166-1 codes as two letters,
 * GTINs as 14 digits. Built from events only (see snapshot.ts), so the same function exports the
 * old ledger and the new one, and two snapshots compare field by field (compare.ts).
 */

export const SNAPSHOT_FORMAT = "medtrace-ledger-snapshot/1";

export interface LedgerSnapshot {
  format: typeof SNAPSHOT_FORMAT;
  source: SnapshotSource;
  consortium: ConsortiumState;
  token: TokenState;
  /** By member index (admission order). */
  members: MemberState[];
  /** By GTIN. */
  products: ProductState[];
  /** Licences granted now, by prefix key then licensee. */
  licences: LicenceState[];
  /** By batch id. */
  batches: BatchState[];
  /** Events that did not fit the state the reducer built (a sound ledger has none). */
  anomalies: string[];
  /** keccak-256 of this document's canonical JSON without `hash` (see snapshotHash). */
  hash: string;
}

export interface SnapshotSource {
  chainId: string;
  consortium: string;
  batchToken: string;
  fromBlock: number;
  /** The block the snapshot is taken at: everything up to and including it. */
  toBlock: number;
  blockHash: string;
  /** Unix seconds of `toBlock`. */
  blockTime: number;
  events: number;
  /** ERC-1155 metadata URI template, read by a call: a deployment parameter, not ledger state. */
  uri?: string;
}

export interface ConsortiumState {
  governors: string[];
  threshold: number;
  charterHash: string;
  proposalLifetime: number;
}

export interface TokenState {
  paused: boolean;
  /** Reason hash of the last pause or resume. */
  pauseReason: string;
  undoWindowDays: number;
}

export type MemberStatusName = "Active" | "Suspended" | "Revoked";

export interface MemberState {
  account: string;
  index: number;
  role: RoleName;
  status: MemberStatusName;
  /** 13 digits. */
  gln: string;
  jurisdiction: string;
  licenceHash: string;
  /** Unix seconds. */
  licenceExpiry: number;
  /** The key that signs for the account now (the account itself unless rotated). */
  key: string;
  /** GS1 Company Prefixes it owns now, in the order they were assigned. */
  prefixes: string[];
  /** While suspended: by "governance" or by the regulator account that suspended it in an emergency. */
  suspension?: { by: string; reasonHash: string };
  /** When revoked. */
  revocation?: { reasonHash: string };
  /** Every role it had, the admission role first (a migration needs the roles it held stock in). */
  roleHistory: RoleName[];
}

export interface ProductState {
  gtin: string;
  owner: string;
  status: "Active" | "Withdrawn";
  prefixKey: string;
  prefix: string;
  markets: string[];
  masterDataHash: string;
  /** Reason hash of the withdrawal (Withdrawn only). */
  statusReason?: string;
}

export interface LicenceState {
  prefixKey: string;
  prefix: string;
  owner: string;
  licensee: string;
}

export interface QuarantineState {
  jurisdiction: string;
  regulator: string;
  reasonHash: string;
}

export interface NoticeState {
  regulator: string;
  jurisdiction: string;
  noticeHash: string;
}

export interface PendingState {
  shipmentId: string;
  sender: string;
  receiver: string;
  quantity: string;
  kind: "Forward" | "Return";
  referenceHash: string;
  items: Item[];
}

/**
 * Consecutive packs, cases or pallets with the same record of their own: state, the member that
 * holds it, sent it (InTransit), opened it (Unpacked) or set its state; for final, revertible and
 * locked states also whether governance set it and the evidence or reason hash.
 */
export interface PackRun {
  start: number;
  count: number;
  state: PackStateName;
  holder: string;
  via?: "governance";
  hash?: string;
}

/** One step of an item's custody: where it went, and how. The first hop is where its own moves start. */
export interface Hop {
  to: string;
  via: "source" | "ship" | "recoverCustody" | "recoverShipment";
  /** recoverShipment: the receiver the shipment was sent to before governance closed it. */
  receiver?: string;
  /** Governance hops: the evidence hash. */
  evidenceHash?: string;
}

/** Consecutive items with the same custody path (loops removed: each hop is a member once). */
export interface PathRun {
  kind: number;
  start: number;
  count: number;
  path: Hop[];
}

/** A custody edge a batch without serials actually took. */
export interface Edge {
  from: string;
  to: string;
  via: "ship" | "recoverCustody" | "recoverShipment";
  receiver?: string;
  evidenceHash?: string;
}

export interface BatchState {
  batchId: string;
  gtin: string;
  lot: string;
  producer: string;
  expiryDay: number;
  quantity: string;
  serialsRoot: string;
  serialCount: number;
  documentHash: string;
  unitsPerCase: number;
  casesPerPallet: number;
  packingRoot: string;
  markets: string[];
  status: "Active" | "Quarantined" | "Recalled";
  quarantines: QuarantineState[];
  recall?: { by: string; reasonHash: string };
  notices: NoticeState[];
  /** Units each member holds (its ERC-1155 balance), by account. */
  holders: { account: string; quantity: string }[];
  pending: PendingState[];
  /** Batches without serials: units written off, by holder, reason and evidence. */
  writtenOff: { holder: string; reason: "Destroyed" | "Stolen"; quantity: string; evidenceHash: string }[];
  /** Batches without serials: units governance took out of circulation. */
  recoveredOut: { from: string; state: "Destroyed" | "Stolen"; quantity: string; evidenceHash: string }[];
  /** Serialised batches: every pallet, case and pack with a record of its own (untouched ones have their container's). */
  packs?: { pallets: PackRun[]; cases: PackRun[]; units: PackRun[] };
  /** How the items got where they are: what a migration replays (not compared). */
  provenance: { paths: PathRun[]; edges: Edge[] };
}

/** Old ids to new ids, written by the migration run and read by the verification. */
export interface IdMapping {
  snapshotHash: string;
  batches: Record<string, string>;
  shipments: Record<string, string>;
  /** Batches the plan could not migrate, with the reason (expired ones: mintBatch refuses a past expiry). */
  skipped: { batchId: string; gtin: string; lot: string; reason: string }[];
}
