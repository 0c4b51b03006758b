import { keccak256, toUtf8Bytes, type Provider } from "ethers";
import { BatchToken__factory } from "../../../typechain-types";
import { compareEvents, type LedgerEvent } from "../../../api/domain/ledger-events";
import { isConserved, replayBatch } from "../../../api/domain/custody";
import { PACK_STATE_NAMES, type PackBook, type RecordMap } from "../../../api/domain/pack-ledger";
import { prefixOfKey } from "../../../api/domain/packing";
import { MEMBER_STATUS_NAMES, ROLE_NAMES, type RoleName } from "../../../api/domain/ledger-enums";
import { fetchSystemEvents, type ConsortiumEvent } from "./chain-events";
import { nodeKey, trackProvenance, type TerminalInfo } from "./provenance";
import {
  SNAPSHOT_FORMAT,
  type BatchState,
  type LedgerSnapshot,
  type LicenceState,
  type MemberState,
  type MemberStatusName,
  type PackRun,
  type ProductState,
  type SnapshotSource,
} from "./types";

/**
 * The ledger's state as of one block, from events alone: the Consortium's register and
 * governance events, and the BatchToken's ledger events replayed by the domain reducers the read
 * side uses (api/domain/custody.ts with its PackBook), plus the custody paths a migration replays
 * (provenance.ts). Nothing is read from contract storage, so a snapshot can be rebuilt by anyone
 * with the chain's logs, and the old and the new ledger are exported by the same code.
 */

const GTIN_DIGITS = 14;
const DEFAULT_UNDO_WINDOW_DAYS = 10;
/** States whose record names who set them (the member, or governance) and with which hash. */
const STATE_SETTERS = new Set(["Dispensed", "Destroyed", "Stolen", "Sample", "FreeSample", "Exported", "Locked"]);

const gtin14 = (gtin: string | number | boolean | string[] | object) => String(gtin).padStart(GTIN_DIGITS, "0");

/** JSON with object keys sorted at every level: the same document always hashes the same. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) => {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return v;
  });
}

/** keccak-256 of the snapshot's canonical JSON, its `hash` field left out: the value to publish. */
export function snapshotHash(snapshot: Omit<LedgerSnapshot, "hash"> & { hash?: string }): string {
  const { hash: _ignored, ...rest } = snapshot;
  return keccak256(toUtf8Bytes(canonicalJson(rest)));
}

/** The members, governors and charter from the Consortium's events. */
function reduceConsortium(events: readonly ConsortiumEvent[], consortiumAddress: string) {
  const members = new Map<string, MemberState>();
  // EnumerableSet order: a removal moves the last governor into the freed place, as `governors()` reports.
  const governors: string[] = [];
  let threshold = 0;
  let charterHash = "";
  let proposalLifetime = 0;
  const anomalies: string[] = [];
  for (const e of events) {
    const a = e.args;
    const m = members.get(String(a.account));
    if (!m && e.name.startsWith("Member") && e.name !== "MemberAdmitted") {
      anomalies.push(`${e.name} at ${e.txHash}#${e.logIndex}: ${a.account} was never admitted`);
      continue;
    }
    switch (e.name) {
      case "MemberAdmitted": {
        const role = ROLE_NAMES[Number(a.role)] as RoleName;
        members.set(String(a.account), {
          account: String(a.account),
          index: Number(a.index),
          role,
          status: "Active",
          gln: String(a.gln).padStart(13, "0"),
          jurisdiction: String(a.jurisdiction),
          licenceHash: String(a.licenceHash),
          licenceExpiry: Number(a.licenceExpiry),
          key: String(a.account),
          prefixes: [],
          roleHistory: [role],
        });
        break;
      }
      case "MemberRoleChanged":
        m!.role = ROLE_NAMES[Number(a.newRole)] as RoleName;
        m!.roleHistory.push(m!.role);
        break;
      case "MemberSuspended":
        m!.status = "Suspended";
        m!.suspension = { by: String(a.by) === consortiumAddress ? "governance" : String(a.by), reasonHash: String(a.reasonHash) };
        break;
      case "MemberReinstated":
        m!.status = "Active";
        delete m!.suspension;
        break;
      case "MemberRevoked":
        m!.status = MEMBER_STATUS_NAMES[3] as MemberStatusName;
        delete m!.suspension;
        m!.revocation = { reasonHash: String(a.reasonHash) };
        break;
      case "LicenceRenewed":
        m!.licenceHash = String(a.licenceHash);
        m!.licenceExpiry = Number(a.licenceExpiry);
        break;
      case "MemberKeyRotated":
        m!.key = String(a.newKey);
        break;
      case "CompanyPrefixAssigned":
        m!.prefixes.push(String(a.prefix));
        break;
      case "CompanyPrefixRemoved":
        m!.prefixes = m!.prefixes.filter((p) => p !== String(a.prefix));
        break;
      case "GovernorAdded":
        governors.push(String(a.governor));
        break;
      case "GovernorRemoved": {
        const i = governors.indexOf(String(a.governor));
        if (i >= 0) {
          governors[i] = governors[governors.length - 1];
          governors.pop();
        }
        break;
      }
      case "ThresholdChanged":
        threshold = Number(a.newThreshold);
        break;
      case "CharterChanged":
        charterHash = String(a.newCharterHash);
        break;
      case "ProposalLifetimeChanged":
        proposalLifetime = Number(a.newLifetime);
        break;
      default:
        break; // proposals: the process, not the state
    }
  }
  return { members: [...members.values()].sort((x, y) => x.index - y.index), consortium: { governors, threshold, charterHash, proposalLifetime }, anomalies };
}

/** Products, licences, pause and undo window from the BatchToken's register events. */
function reduceRegister(events: readonly LedgerEvent[]) {
  const products = new Map<string, ProductState>();
  const licences = new Map<string, LicenceState>();
  const token = { paused: false, pauseReason: "0x" + "0".repeat(64), undoWindowDays: DEFAULT_UNDO_WINDOW_DAYS };
  for (const e of events) {
    const a = e.args;
    switch (e.name) {
      case "ProductRegistered":
        products.set(gtin14(a.gtin), {
          gtin: gtin14(a.gtin),
          owner: String(a.owner),
          status: "Active",
          prefixKey: String(a.prefixKey),
          prefix: prefixOfKey(BigInt(String(a.prefixKey))),
          markets: a.markets as string[],
          masterDataHash: String(a.masterDataHash),
        });
        break;
      case "ProductUpdated": {
        const p = products.get(gtin14(a.gtin));
        if (p) Object.assign(p, { markets: a.markets as string[], masterDataHash: String(a.masterDataHash) });
        break;
      }
      case "ProductStatusChanged": {
        const p = products.get(gtin14(a.gtin));
        if (!p) break;
        p.status = Number(a.status) === 2 ? "Withdrawn" : "Active";
        if (p.status === "Withdrawn") p.statusReason = String(a.reasonHash);
        else delete p.statusReason;
        break;
      }
      case "PrefixLicenceChanged": {
        const key = `${a.prefixKey}|${a.licensee}`;
        if (a.granted) licences.set(key, { prefixKey: String(a.prefixKey), prefix: prefixOfKey(BigInt(String(a.prefixKey))), owner: String(a.owner), licensee: String(a.licensee) });
        else licences.delete(key);
        break;
      }
      case "CustodyPaused":
        token.paused = Boolean(a.paused);
        token.pauseReason = String(a.reasonHash);
        break;
      case "UndoWindowChanged":
        token.undoWindowDays = Number(a.newDays);
        break;
      default:
        break;
    }
  }
  const byKey = <T>(m: Map<string, T>) => [...m.entries()].sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0)).map(([, v]) => v);
  return { products: byKey(products), licences: byKey(licences), token };
}

/** Own records of a pack book as runs, with what set each final, revertible or locked state. */
function packRuns(book: PackBook, terminals: Map<number, TerminalInfo>) {
  const runsOf = (kind: number, records: RecordMap): PackRun[] => {
    const runs: PackRun[] = [];
    for (const index of [...records.keys()].sort((x, y) => x - y)) {
      const r = records.get(index)!;
      const info = STATE_SETTERS.has(r.state) ? terminals.get(nodeKey(kind, index)) : undefined;
      const next: PackRun = { start: index, count: 1, state: r.state, holder: r.holder };
      if (info?.via) next.via = info.via;
      if (info?.hash) next.hash = info.hash;
      const last = runs[runs.length - 1];
      if (last && last.start + last.count === index && last.state === next.state && last.holder === next.holder && last.via === next.via && last.hash === next.hash) last.count++;
      else runs.push(next);
    }
    return runs;
  };
  return { pallets: runsOf(2, book.pallets), cases: runsOf(1, book.cases), units: runsOf(0, book.detached) };
}

/** One batch's state from its events. */
function reduceBatch(batchId: string, events: readonly LedgerEvent[], anomalies: string[]): BatchState | undefined {
  const minted = events.find((e) => e.name === "BatchMinted");
  if (!minted) {
    anomalies.push(`batch ${batchId}: events without a BatchMinted`);
    return undefined;
  }
  const custody = replayBatch(batchId, events);
  const provenance = trackProvenance(events);
  for (const a of custody.anomalies) anomalies.push(`batch ${batchId}: ${a}`);
  if (!isConserved(custody)) anomalies.push(`batch ${batchId}: minted ≠ held + in transit + out of circulation, or packs ≠ balances`);
  const m = minted.args;
  const packed = events.find((e) => e.name === "BatchPacked");
  const quarantines = new Map<string, { regulator: string; reasonHash: string }>();
  let recall: BatchState["recall"];
  const notices: BatchState["notices"] = [];
  const writtenOff = new Map<string, BatchState["writtenOff"][number]>();
  const recoveredOut = new Map<string, BatchState["recoveredOut"][number]>();
  for (const e of events) {
    const a = e.args;
    switch (e.name) {
      case "BatchQuarantined":
        quarantines.set(String(a.jurisdiction), { regulator: String(a.regulator), reasonHash: String(a.reasonHash) });
        break;
      case "BatchQuarantineLifted":
        quarantines.delete(String(a.jurisdiction));
        break;
      case "BatchRecalled":
        recall = { by: String(a.by), reasonHash: String(a.reasonHash) };
        break;
      case "RecallUndone":
        recall = undefined;
        break;
      case "SafetyNoticeIssued":
        notices.push({ regulator: String(a.regulator), jurisdiction: String(a.jurisdiction), noticeHash: String(a.noticeHash) });
        break;
      case "UnitsWrittenOff": {
        const reason = Number(a.reason) === 1 ? "Stolen" : "Destroyed";
        const key = `${a.holder}|${reason}|${a.evidenceHash}`;
        const w = writtenOff.get(key) ?? { holder: String(a.holder), reason, quantity: "0", evidenceHash: String(a.evidenceHash) };
        w.quantity = (BigInt(w.quantity) + BigInt(String(a.quantity))).toString();
        writtenOff.set(key, w);
        break;
      }
      case "CustodyRecovered":
        if (/^0x0{40}$/.test(String(a.to)) && (a.items as unknown[]).length === 0) {
          const state = PACK_STATE_NAMES[Number(a.state)] === "Stolen" ? "Stolen" : "Destroyed";
          const key = `${a.from}|${state}|${a.evidenceHash}`;
          const r = recoveredOut.get(key) ?? { from: String(a.from), state, quantity: "0", evidenceHash: String(a.evidenceHash) };
          r.quantity = (BigInt(r.quantity) + BigInt(String(a.quantity))).toString();
          recoveredOut.set(key, r);
        }
        break;
      default:
        break;
    }
  }
  return {
    batchId,
    gtin: gtin14(m.gtin),
    lot: String(m.lot),
    producer: String(m.producer),
    expiryDay: Number(m.expiryDay),
    quantity: String(m.quantity),
    serialsRoot: String(m.serialsRoot),
    serialCount: Number(m.serialCount),
    documentHash: String(m.documentHash),
    unitsPerCase: packed ? Number(packed.args.unitsPerCase) : 0,
    casesPerPallet: packed ? Number(packed.args.casesPerPallet) : 0,
    packingRoot: packed ? String(packed.args.packingRoot) : "0x" + "0".repeat(64),
    markets: custody.markets,
    status: custody.status,
    quarantines: [...quarantines.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([jurisdiction, q]) => ({ jurisdiction, ...q })),
    ...(recall ? { recall } : {}),
    notices,
    holders: [...custody.holders.entries()].sort(([x], [y]) => (x < y ? -1 : 1)).map(([account, q]) => ({ account, quantity: q.toString() })),
    pending: [...custody.pending.values()]
      .sort((x, y) => Number(BigInt(x.shipmentId) - BigInt(y.shipmentId)))
      .map((p) => ({ shipmentId: p.shipmentId, sender: p.sender, receiver: p.receiver, quantity: p.quantity.toString(), kind: p.kind, referenceHash: p.referenceHash, items: p.items.map((i) => ({ kind: i.kind, start: i.start, count: i.count })) })),
    writtenOff: [...writtenOff.values()],
    recoveredOut: [...recoveredOut.values()],
    ...(custody.packs ? { packs: packRuns(custody.packs, provenance.terminals) } : {}),
    provenance: { paths: provenance.paths, edges: provenance.edges },
  };
}

/** Builds the snapshot from both contracts' events (in chain order) and where they were read. Pure. */
export function buildSnapshot(input: { consortium: readonly ConsortiumEvent[]; ledger: readonly LedgerEvent[]; source: Omit<SnapshotSource, "events"> }): LedgerSnapshot {
  const { members, consortium, anomalies } = reduceConsortium(input.consortium, input.source.consortium);
  const ledger = [...input.ledger].sort(compareEvents);
  const register = reduceRegister(ledger.filter((e) => e.batchId === "0"));
  const byBatch = new Map<string, LedgerEvent[]>();
  for (const e of ledger) {
    if (e.batchId === "0") continue;
    if (!byBatch.has(e.batchId)) byBatch.set(e.batchId, []);
    byBatch.get(e.batchId)!.push(e);
  }
  const batches = [...byBatch.keys()]
    .sort((x, y) => Number(BigInt(x) - BigInt(y)))
    .map((id) => reduceBatch(id, byBatch.get(id)!, anomalies))
    .filter((b): b is BatchState => b !== undefined);
  const snapshot: Omit<LedgerSnapshot, "hash"> = {
    format: SNAPSHOT_FORMAT,
    source: { ...input.source, events: input.consortium.length + input.ledger.length },
    consortium,
    token: register.token,
    members,
    products: register.products,
    licences: register.licences,
    batches,
    anomalies,
  };
  return { ...snapshot, hash: snapshotHash(snapshot) };
}

export interface ExportOptions {
  /** The block to export at (default: the latest). Pause custody first and export at a block after the pause. */
  toBlock?: number;
  /** Blocks per eth_getLogs call. */
  pageBlocks?: number;
}

/**
 * Exports the ledger of the System at `addresses` as of `toBlock`, from its events since
 * `fromBlock` (the System's deployment block, or 0).
 */
export async function exportLedgerState(
  provider: Provider,
  addresses: { consortium: string; batchToken: string },
  fromBlock: number,
  opts: ExportOptions = {},
): Promise<LedgerSnapshot> {
  const toBlock = opts.toBlock ?? (await provider.getBlockNumber());
  const block = await provider.getBlock(toBlock);
  if (!block) throw new Error(`block ${toBlock} does not exist on this chain`);
  const events = await fetchSystemEvents(provider, addresses, fromBlock, toBlock, opts.pageBlocks);
  let uri: string | undefined;
  try {
    uri = await BatchToken__factory.connect(addresses.batchToken, provider).uri(0, { blockTag: toBlock });
  } catch {
    uri = undefined; // a node without the state of that block (not an archive node): the URI is a deployment parameter anyway
  }
  return buildSnapshot({
    ...events,
    source: {
      chainId: (await provider.getNetwork()).chainId.toString(),
      consortium: addresses.consortium,
      batchToken: addresses.batchToken,
      fromBlock,
      toBlock,
      blockHash: block.hash ?? "",
      blockTime: Number(block.timestamp),
      ...(uri !== undefined ? { uri } : {}),
    },
  });
}
