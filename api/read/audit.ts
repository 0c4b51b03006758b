import { Consortium__factory, type BatchToken } from "../../typechain-types";
import { isConserved, replayBatch, type BatchStatusName, type CustodyState } from "../domain/custody";
import type { LedgerEvent } from "../domain/ledger-events";
import { buildPackingTree, buildSerialTree } from "../domain/merkle";
import { ITEM_KIND, caseCount, palletCount } from "../domain/packing";
import { PACK_STATE_NAMES, type PackBook, type PackRecord, type PackView } from "../domain/pack-ledger";
import { gtin14Of, type HoldingRow, type IndexStore, type PendingRow } from "./store";

/**
 * Integrity audit. Three comparisons, each naming what differs:
 *  1. events → chain: every batch's custody rebuilt from its events alone (the pure reducer) against
 *     what the contract says at one block — balanceOf of every holder ever seen, the pending
 *     shipments, the status, the number of batches, and every pack's holder and state
 *     (`packState` for packs in a state of their own and for containers that moved as a whole,
 *     `holdsUnits` over runs of packs held by one member), with the calls sent concurrently so the
 *     provider batches them (a 100,000-pack batch takes a few hundred calls).
 *  2. index → events (with an index): the index's derived tables against the replay of its own
 *     events — balances, pending shipments, every pack's resolution, status, quarantines, products,
 *     dispensed counts.
 *  3. index → chain (with an index): every table a public verdict reads, against the chain
 *     directly — batch status, quarantines by jurisdiction, product status, and the stored serial
 *     and packing lists against the on-chain roots (rebuilt from the stored lists, node for node).
 * Used by GET /v1/audit and by `npx hardhat audit:check`.
 */
export type DivergenceKind =
  | "balance"
  | "pending"
  | "status"
  | "missing-batch"
  | "unknown-batch"
  | "anomaly"
  | "conservation"
  | "pack"
  | "container"
  | "index-balance"
  | "index-pending"
  | "index-pack"
  | "index-status"
  | "index-quarantine"
  | "index-product"
  | "index-dispensed"
  | "serials"
  | "packing";

export interface Divergence {
  kind: DivergenceKind;
  batchId: string;
  holder?: string;
  shipmentId?: string;
  unit?: number;
  /** What the events imply (for index-* kinds against the chain: what the chain says). */
  fromEvents: string;
  /** What the chain (or, for index-* kinds, the index tables) says. */
  actual: string;
  detail: string;
}

export interface AuditReport {
  ok: boolean;
  atBlock: number;
  batches: number;
  events: number;
  holdersChecked: number;
  pendingChecked: number;
  /** Packs whose holder and state were compared with the chain. */
  packsChecked: number;
  /** Serial and packing lists checked against the on-chain roots. */
  listsChecked: number;
  divergences: Divergence[];
}

const STATUS_BY_INDEX: Record<number, BatchStatusName | "None"> = { 0: "None", 1: "Active", 2: "Quarantined", 3: "Recalled" };
const PRODUCT_STATUS = ["None", "Active", "Withdrawn"];
const PARTY_ARGS = ["producer", "sender", "receiver", "pharmacy", "holder", "to", "from"] as const;
const CHUNK = 400;
/** Calls in flight at once (the provider batches those of one turn). */
const CONCURRENCY = 500;
/** Units per holdsUnits call: each costs a few storage reads on the node, kept well under an eth_call's gas cap. */
const HOLDS_SPAN = 2_000;
const ZERO = /^0x0{40}$/;

export interface AuditInput {
  events: readonly LedgerEvent[];
  batchToken: BatchToken;
  atBlock: number;
  /**
   * The index's derived state, to compare with the replay as well; with `store`, every table a
   * verdict reads is also compared with the chain.
   */
  index?: { balances: readonly HoldingRow[]; pending: readonly PendingRow[]; store?: IndexStore };
}

/** Runs `calls` with at most CONCURRENCY in flight. */
async function inWaves<T>(calls: Array<() => Promise<T>>): Promise<T[]> {
  const out: T[] = [];
  for (let i = 0; i < calls.length; i += CONCURRENCY) out.push(...(await Promise.all(calls.slice(i, i + CONCURRENCY).map((c) => c()))));
  return out;
}

export async function auditLedger(input: AuditInput): Promise<AuditReport> {
  const { batchToken, atBlock } = input;
  const overrides = { blockTag: atBlock };
  const byBatch = new Map<string, LedgerEvent[]>();
  const register: LedgerEvent[] = [];
  for (const e of input.events) {
    if (e.batchId === "0") {
      register.push(e);
      continue;
    }
    const list = byBatch.get(e.batchId);
    if (list) list.push(e);
    else byBatch.set(e.batchId, [e]);
  }
  const divergences: Divergence[] = [];
  const states = new Map<string, CustodyState>();
  const pairs: Array<{ batchId: string; holder: string; expected: bigint }> = [];
  for (const [batchId, events] of byBatch) {
    const state = replayBatch(batchId, events);
    states.set(batchId, state);
    for (const a of state.anomalies) divergences.push({ kind: "anomaly", batchId, fromEvents: a, actual: "-", detail: `events of batch ${batchId} do not fit together: ${a}` });
    if (!isConserved(state)) {
      divergences.push({ kind: "conservation", batchId, fromEvents: `minted ${state.minted}`, actual: "-", detail: `batch ${batchId}: minted ≠ held + in transit + out of circulation, or a member's packs ≠ its balance` });
    }
    const seen = new Set<string>();
    for (const e of events) for (const k of PARTY_ARGS) if (typeof e.args[k] === "string" && !ZERO.test(e.args[k] as string)) seen.add(e.args[k] as string);
    for (const holder of seen) pairs.push({ batchId, holder, expected: state.holders.get(holder) ?? 0n });
  }

  // Balances of every holder seen, at the audited block.
  for (let i = 0; i < pairs.length; i += CHUNK) {
    const chunk = pairs.slice(i, i + CHUNK);
    const onChain = await batchToken.balanceOfBatch(
      chunk.map((p) => p.holder),
      chunk.map((p) => BigInt(p.batchId)),
      overrides,
    );
    chunk.forEach((p, j) => {
      const actual = onChain[j];
      if (actual !== p.expected) {
        divergences.push({
          kind: "balance",
          batchId: p.batchId,
          holder: p.holder,
          fromEvents: p.expected.toString(),
          actual: actual.toString(),
          detail: `batch ${p.batchId}: events give ${p.holder} ${p.expected} units, balanceOf says ${actual}`,
        });
      }
    });
  }

  // Pending shipments, status, and batches the events never mention.
  let pendingChecked = 0;
  const batchCount = Number(await batchToken.batchCount(overrides));
  const chainBatches = new Map<string, Awaited<ReturnType<BatchToken["batch"]>>>();
  await inWaves(
    [...states.values()].map((state) => async () => {
      const onChain = await batchToken.batch(BigInt(state.batchId), overrides);
      chainBatches.set(state.batchId, onChain);
      const status = STATUS_BY_INDEX[Number(onChain.status)] ?? `Status(${onChain.status})`;
      if (status !== state.status) {
        divergences.push({ kind: "status", batchId: state.batchId, fromEvents: state.status, actual: status, detail: `batch ${state.batchId}: events say ${state.status}, the contract says ${status}` });
      }
      for (const p of state.pending.values()) {
        pendingChecked++;
        const pending = await batchToken.isPendingShipment(
          BigInt(p.shipmentId),
          { batchId: BigInt(state.batchId), sender: p.sender, receiver: p.receiver, quantity: p.quantity, kind: p.kind === "Return" ? 1 : 0, items: p.items },
          overrides,
        );
        if (!pending) {
          divergences.push({
            kind: "pending",
            batchId: state.batchId,
            shipmentId: p.shipmentId,
            fromEvents: `pending ${p.quantity} ${p.sender} → ${p.receiver}`,
            actual: "not pending",
            detail: `shipment ${p.shipmentId} of batch ${state.batchId} is pending by the events but not on chain (or with other fields)`,
          });
        }
      }
    }),
  );
  for (let id = 1; id <= batchCount; id++) {
    if (!states.has(String(id))) {
      divergences.push({ kind: "missing-batch", batchId: String(id), fromEvents: "no events", actual: "exists", detail: `batch ${id} exists on chain but no event of it was read` });
    }
  }
  for (const id of states.keys()) {
    if (Number(id) > batchCount) {
      divergences.push({ kind: "unknown-batch", batchId: id, fromEvents: "has events", actual: `batchCount ${batchCount}`, detail: `events name batch ${id}, the contract has ${batchCount} batches` });
    }
  }

  // Every pack's holder and state, rebuilt from events, against the chain.
  const consortium = Consortium__factory.connect(await batchToken.consortium(), batchToken.runner);
  const indexOf = memberIndexes(consortium, atBlock, input.index?.store);
  let packsChecked = 0;
  for (const state of states.values()) {
    if (!state.packs || Number(state.batchId) > batchCount) continue;
    packsChecked += await comparePacks(batchToken, atBlock, state.batchId, state.packs, indexOf, divergences);
  }

  let listsChecked = 0;
  if (input.index) {
    compareIndex(states, input.index, divergences);
    if (input.index.store) listsChecked = await compareVerdictTables(input.index.store, states, register, chainBatches, batchToken, atBlock, divergences);
  }

  divergences.sort((a, b) => Number(a.batchId) - Number(b.batchId) || a.kind.localeCompare(b.kind) || (a.unit ?? 0) - (b.unit ?? 0));
  return {
    ok: divergences.length === 0,
    atBlock,
    batches: states.size,
    events: input.events.length,
    holdersChecked: pairs.length,
    pendingChecked,
    packsChecked,
    listsChecked,
    divergences,
  };
}

type IndexResolver = (holder: string) => Promise<number>;

/** Member indexes by account: from the index when it has them, else from the Consortium (cached). */
function memberIndexes(consortium: ReturnType<typeof Consortium__factory.connect>, atBlock: number, store?: IndexStore): IndexResolver {
  const cache = new Map<string, Promise<number>>();
  return (holder) => {
    let v = cache.get(holder);
    if (!v) {
      const known = store?.member(holder)?.index;
      v = known ? Promise.resolve(known) : consortium.member(holder, { blockTag: atBlock }).then((m) => Number(m.index));
      cache.set(holder, v);
    }
    return v;
  };
}

const sameView = (a: PackView, b: PackView) => a.state === b.state && a.holder === b.holder && a.day === b.day;

/** Compares every pack of `book` with the chain; returns how many packs were checked. */
async function comparePacks(batchToken: BatchToken, atBlock: number, batchId: string, book: PackBook, indexOf: IndexResolver, out: Divergence[]): Promise<number> {
  const overrides = { blockTag: atBlock };
  const id = BigInt(batchId);
  const n = book.layout.units;
  const calls: Array<() => Promise<void>> = [];
  let start = 0;
  let run = n > 0 ? book.unit(0) : undefined;
  const flush = (first: number, end: number, v: PackView) => {
    if (v.state === "Held") {
      for (let s = first; s < end; s += HOLDS_SPAN) {
        const count = Math.min(HOLDS_SPAN, end - s);
        calls.push(async () => {
          const holds = await batchToken.holdsUnits(id, v.holder, [{ kind: ITEM_KIND.Units, start: s, count }], overrides);
          if (!holds) {
            out.push({ kind: "pack", batchId, holder: v.holder, unit: s, fromEvents: `packs ${s}–${s + count - 1} held by ${v.holder}`, actual: "not all held by it", detail: `batch ${batchId}: the events give packs ${s}–${s + count - 1} to ${v.holder}; holdsUnits says no` });
          }
        });
      }
      return;
    }
    for (let u = first; u < end; u++) {
      calls.push(async () => {
        const [state, member, day] = await batchToken.packState(id, ITEM_KIND.Units, u, overrides);
        const name = PACK_STATE_NAMES[Number(state)] ?? `State(${state})`;
        // A single pack in transit has only its transit bit on chain: packState reports member 0.
        const expectedIndex = v.state === "InTransit" && v.detached ? 0 : await indexOf(v.holder);
        if (name !== v.state || Number(member) !== expectedIndex || Number(day) !== v.day) {
          out.push({ kind: "pack", batchId, holder: v.holder, unit: u, fromEvents: `${v.state} by member ${expectedIndex} (${v.holder}) day ${v.day}`, actual: `${name} by member ${member} day ${day}`, detail: `batch ${batchId} pack ${u}: events and packState differ` });
        }
      });
    }
  };
  for (let u = 1; u <= n && run; u++) {
    const v = u < n ? book.unit(u) : undefined;
    if (!v || !sameView(v, run)) {
      flush(start, u, run);
      start = u;
      if (v) run = v;
    }
  }
  // Containers that moved as a whole: their effective record against packState.
  for (const kind of [ITEM_KIND.Case, ITEM_KIND.Pallet]) {
    for (const k of (kind === ITEM_KIND.Case ? book.cases : book.pallets).keys()) {
      const mine = book.container(kind, k);
      calls.push(async () => {
        const [state, member, day] = await batchToken.packState(id, kind, k, overrides);
        const name = PACK_STATE_NAMES[Number(state)] ?? `State(${state})`;
        const expectedIndex = await indexOf(mine.holder);
        if (name !== mine.state || Number(member) !== expectedIndex || Number(day) !== mine.day) {
          out.push({ kind: "container", batchId, holder: mine.holder, unit: k, fromEvents: `${kind === 1 ? "case" : "pallet"} ${k}: ${mine.state} by member ${expectedIndex} day ${mine.day}`, actual: `${name} by member ${member} day ${day}`, detail: `batch ${batchId} ${kind === 1 ? "case" : "pallet"} ${k}: events and packState differ` });
        }
      });
    }
  }
  await inWaves(calls);
  return n;
}

/** The index tables against the replay of the index's own events. */
function compareIndex(states: Map<string, CustodyState>, index: NonNullable<AuditInput["index"]>, out: Divergence[]): void {
  const tableBalances = new Map<string, bigint>();
  for (const b of index.balances) tableBalances.set(`${b.batchId}|${b.holder}`, b.quantity);
  const replayBalances = new Map<string, bigint>();
  for (const s of states.values()) for (const [holder, q] of s.holders) replayBalances.set(`${s.batchId}|${holder}`, q);
  for (const key of new Set([...tableBalances.keys(), ...replayBalances.keys()])) {
    const t = tableBalances.get(key) ?? 0n;
    const r = replayBalances.get(key) ?? 0n;
    if (t !== r) {
      const [batchId, holder] = key.split("|");
      out.push({ kind: "index-balance", batchId, holder, fromEvents: r.toString(), actual: t.toString(), detail: `index table says ${holder} holds ${t} of batch ${batchId}; its events give ${r}` });
    }
  }
  const tablePending = new Map(index.pending.map((p) => [p.shipmentId, p]));
  const replayPending = new Map<string, { batchId: string; quantity: bigint; items: string }>();
  for (const s of states.values()) for (const p of s.pending.values()) replayPending.set(p.shipmentId, { batchId: s.batchId, quantity: p.quantity, items: JSON.stringify(p.items) });
  for (const id of new Set([...tablePending.keys(), ...replayPending.keys()])) {
    const t = tablePending.get(id);
    const r = replayPending.get(id);
    if (t?.quantity !== r?.quantity || (t && r && (t.batchId !== r.batchId || JSON.stringify(t.items) !== r.items))) {
      out.push({
        kind: "index-pending",
        batchId: t?.batchId ?? r?.batchId ?? "?",
        shipmentId: id,
        fromEvents: r ? `pending ${r.quantity}` : "not pending",
        actual: t ? `pending ${t.quantity}` : "not pending",
        detail: `shipment ${id}: index table and events disagree`,
      });
    }
  }
  const store = index.store;
  if (!store) return;
  for (const s of states.values()) {
    const b = store.batch(s.batchId);
    if (!b) {
      out.push({ kind: "index-status", batchId: s.batchId, fromEvents: s.status, actual: "no row", detail: `batch ${s.batchId} has events but no row in the index` });
      continue;
    }
    if (b.status !== s.status) out.push({ kind: "index-status", batchId: s.batchId, fromEvents: s.status, actual: b.status, detail: `index says batch ${s.batchId} is ${b.status}; its events say ${s.status}` });
    const q = store.quarantinesOf(s.batchId).map((x) => x.jurisdiction).sort().join(",");
    const rq = [...s.quarantines].sort().join(",");
    if (q !== rq) out.push({ kind: "index-quarantine", batchId: s.batchId, fromEvents: rq || "none", actual: q || "none", detail: `index quarantines of batch ${s.batchId} differ from its events` });
    if (BigInt(b.dispensed) !== s.dispensed) out.push({ kind: "index-dispensed", batchId: s.batchId, fromEvents: s.dispensed.toString(), actual: String(b.dispensed), detail: `index counts ${b.dispensed} dispensed packs of batch ${s.batchId}; its events ${s.dispensed}` });
    if (!s.packs) continue;
    const mine = store.packBook(s.batchId);
    if (!mine) continue;
    // The index's own records against the replay's: the same rules resolve every pack from them,
    // so equal records mean equal packs (and this costs the records, not the packs).
    for (const [kind, name] of [[ITEM_KIND.Units, "pack"], [ITEM_KIND.Case, "case"], [ITEM_KIND.Pallet, "pallet"]] as const) {
      const theirs = kind === ITEM_KIND.Units ? s.packs.detached : kind === ITEM_KIND.Case ? s.packs.cases : s.packs.pallets;
      const ours = kind === ITEM_KIND.Units ? mine.detached : kind === ITEM_KIND.Case ? mine.cases : mine.pallets;
      const oursAll = new Map<number, PackRecord>();
      for (const k of ours.keys()) oursAll.set(k, ours.get(k)!);
      for (const k of new Set([...theirs.keys(), ...oursAll.keys()])) {
        const r = theirs.get(k);
        const t = oursAll.get(k);
        if (r?.state !== t?.state || r?.holder !== t?.holder || r?.day !== t?.day) {
          out.push({
            kind: "index-pack",
            batchId: s.batchId,
            holder: t?.holder,
            unit: k,
            fromEvents: r ? `${r.state} ${r.holder} day ${r.day}` : "untouched",
            actual: t ? `${t.state} ${t.holder} day ${t.day}` : "untouched",
            detail: `the index's record of ${name} ${k} of batch ${s.batchId} differs from its events`,
          });
        }
      }
    }
  }
}

/** What a verdict reads in the index, against the chain itself. Returns the lists checked. */
async function compareVerdictTables(
  store: IndexStore,
  states: Map<string, CustodyState>,
  register: readonly LedgerEvent[],
  chainBatches: Map<string, Awaited<ReturnType<BatchToken["batch"]>>>,
  batchToken: BatchToken,
  atBlock: number,
  out: Divergence[],
): Promise<number> {
  const overrides = { blockTag: atBlock };
  const rows = store.allBatches();
  await inWaves(
    rows.map((b) => async () => {
      const onChain = chainBatches.get(b.batchId) ?? (await batchToken.batch(BigInt(b.batchId), overrides));
      const status = STATUS_BY_INDEX[Number(onChain.status)] ?? "None";
      if (status !== b.status) out.push({ kind: "index-status", batchId: b.batchId, fromEvents: status, actual: b.status, detail: `index says batch ${b.batchId} is ${b.status}; the contract says ${status}` });
      const markets = await batchToken.marketsOf(BigInt(b.batchId), overrides);
      const mask = Number(onChain.quarantineMask);
      const chainQ = markets.map((m) => Buffer.from(m.slice(2), "hex").toString("utf8")).filter((_, i) => (mask >> i) & 1).sort().join(",");
      const indexQ = store.quarantinesOf(b.batchId).map((q) => q.jurisdiction).sort().join(",");
      if (chainQ !== indexQ) out.push({ kind: "index-quarantine", batchId: b.batchId, fromEvents: chainQ || "none", actual: indexQ || "none", detail: `index quarantines of batch ${b.batchId} differ from the contract's` });
    }),
  );
  // Products: every GTIN the register events or the index name.
  const gtins = new Set<string>(store.products().map((p) => p.gtin));
  for (const e of register) if (e.args.gtin !== undefined) gtins.add(gtin14Of(String(e.args.gtin)));
  await inWaves(
    [...gtins].map((gtin) => async () => {
      const p = await batchToken.product(BigInt(gtin), overrides);
      const chain = PRODUCT_STATUS[Number(p.status)] ?? "None";
      const mine = store.product(gtin)?.status ?? "None";
      if (chain !== mine) out.push({ kind: "index-product", batchId: "0", fromEvents: chain, actual: mine, detail: `index says product ${gtin} is ${mine}; the contract says ${chain}` });
    }),
  );
  // Serial and packing lists: rebuilt from what is stored, against the on-chain roots.
  let lists = 0;
  for (const b of rows) {
    const list = store.serialList(b.batchId);
    if (list) {
      lists++;
      const onChain = chainBatches.get(b.batchId) ?? (await batchToken.batch(BigInt(b.batchId), overrides));
      const stored = store.serialsOf(b.batchId);
      const problem = (() => {
        if (stored.length !== Number(onChain.serialCount) || list.count !== stored.length) return `${stored.length} serials stored, the batch commits ${onChain.serialCount}`;
        if (stored.some((s, i) => s.unit !== i)) return "unit numbers are not 0 … n−1";
        let tree;
        try {
          tree = buildSerialTree(stored.map((s) => s.serial));
        } catch (err) {
          return (err as Error).message;
        }
        if (tree.root !== onChain.serialsRoot.toLowerCase()) return `the stored serials build root ${tree.root}, the batch commits ${onChain.serialsRoot}`;
        if (list.root !== tree.root) return `the list's recorded root ${list.root} is not the batch's`;
        if (!store.nodeArray(b.batchId).equals(tree.nodeArray())) return "the stored tree nodes are not the tree of the stored serials";
        const leafNodes = tree.leafNodes();
        const wrong = stored.findIndex((s, i) => s.treeIndex !== leafNodes[i]);
        if (wrong >= 0) return `serial of unit ${wrong} points at tree node ${stored[wrong].treeIndex}, not ${leafNodes[wrong]}`;
        return undefined;
      })();
      if (problem) out.push({ kind: "serials", batchId: b.batchId, fromEvents: onChain.serialsRoot, actual: list.root, detail: `serial list of batch ${b.batchId}: ${problem}` });
    }
    const packing = store.packingList(b.batchId);
    if (packing) {
      lists++;
      const onChain = chainBatches.get(b.batchId) ?? (await batchToken.batch(BigInt(b.batchId), overrides));
      const ssccs = store.ssccsOf(b.batchId);
      const cases = ssccs.filter((s) => s.kind === ITEM_KIND.Case).sort((x, y) => x.index - y.index);
      const pallets = ssccs.filter((s) => s.kind === ITEM_KIND.Pallet).sort((x, y) => x.index - y.index);
      let root = "";
      try {
        root = buildPackingTree({ cases: cases.map((c) => c.sscc), pallets: pallets.map((p) => p.sscc) }).root;
      } catch {
        root = "none";
      }
      const contiguous = cases.every((c, i) => c.index === i) && pallets.every((p, i) => p.index === i);
      if (root !== onChain.packingRoot.toLowerCase() || !contiguous) {
        out.push({ kind: "packing", batchId: b.batchId, fromEvents: onChain.packingRoot, actual: root, detail: `packing list of batch ${b.batchId}: the stored SSCCs build ${root}, the batch commits ${onChain.packingRoot}` });
      }
    }
  }
  void states;
  return lists;
}
