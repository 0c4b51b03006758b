import { keccak256, toUtf8Bytes } from "ethers";
import { ROLE, type RoleName } from "../../../api/domain/ledger-enums";
import { PACK_STATE_NAMES } from "../../../api/domain/pack-ledger";
import { ITEM_KIND, itemUnits, type Item, type Layout } from "../../../api/domain/packing";
import { dayNumberOf } from "../../../api/domain/gs1";
import { buildSerialTree, type SerialTree } from "../../../api/domain/merkle";
import { nodeKey, nodeOf } from "./provenance";
import { govKey, opKey, PHASES, refKey, type BatchRef, type GovCall, type Op, type Phase, type Step } from "./steps";
import type { BatchState, Hop, IdMapping, LedgerSnapshot, MemberState, PackRun } from "./types";

/**
 * Plans a migration as a replay by the owners of every claim: governance re-admits the members
 * (same accounts, GLNs, roles, jurisdictions, licences, prefixes) and rotates keys as the old
 * ledger did; each producer re-registers its products and re-mints its batches with the same
 * roots; custody is rebuilt by the members' own actions along the paths the items really took
 * (provenance.ts), hop by hop; each final, revertible or locked state is set again by the member
 * that set it; pending shipments are shipped again by their senders with the same items and
 * reference; regulators and producers set quarantines, recalls and notices again; governance acts
 * only where the old ledger used governance (recoveries, suspensions, revocations, role changes,
 * pause). Every step names the account whose key signs it; the plan is split per account.
 *
 * Order (phases): members → products → mint → custody (pallets, then cases, then packs: hop by hop,
 * containers opened by whoever opened them) → states → pending → roles → products-final →
 * status → members-final → pause. Statuses come after custody because a quarantined or recalled
 * batch, or a withdrawn product, no longer moves forward; suspensions and revocations come last
 * because a suspended or revoked member can no longer receive. Pure: no I/O.
 */

export const PLAN_FORMAT = "medtrace-migration-plan/1";
const ZERO_ADDRESS = "0x0000000000000000000000000000000000000000";
const STOCK_ROLES: readonly RoleName[] = ["Producer", "Distributor", "Pharmacy"];
const DEFAULT_UNDO_WINDOW_DAYS = 10;
const STATE = Object.fromEntries(PACK_STATE_NAMES.map((n, i) => [n, i])) as Record<(typeof PACK_STATE_NAMES)[number], number>;

export interface MigrationPlan {
  format: typeof PLAN_FORMAT;
  snapshotHash: string;
  /** Unix seconds the plan was made at (expiries were checked against it). */
  createdAt: number;
  /** Reference hash of the shipments that rebuild custody: they record no physical movement. */
  migrationReference: string;
  /** Ignition parameters of the new System (file ignition/parameters/<network>.json). */
  deploy: { Consortium: { governors: string[]; threshold: number; charterHash: string; proposalLifetime: number }; BatchToken: { uri: string } };
  governors: string[];
  threshold: number;
  /** Who signs for whom in the new System once the plan's key rotations ran. */
  members: { account: string; key: string; role: RoleName; gln: string; jurisdiction: string }[];
  batches: { batchId: string; gtin: string; lot: string }[];
  skipped: IdMapping["skipped"];
  warnings: string[];
  steps: Step[];
}

/** Off-chain inputs: each batch's serial list (needed to prove the packs it dispenses again), by GTIN and lot. */
export interface MigrationInputs {
  serials?: Map<string, readonly string[]>;
}

export interface PlanOptions {
  /** Unix seconds to check expiries against (default: now). */
  now?: number;
}

/** A plan that cannot be made, with every reason. */
export class PlanError extends Error {
  constructor(readonly problems: string[]) {
    super(`the migration cannot be planned:\n- ${problems.join("\n- ")}`);
    this.name = "PlanError";
  }
}

/** Merges sorted indexes of one kind into items of consecutive ranges. */
function mergeItems(kind: number, indexes: readonly number[]): Item[] {
  const items: Item[] = [];
  for (const k of [...indexes].sort((a, b) => a - b)) {
    const last = items[items.length - 1];
    if (last && last.start + last.count === k) last.count++;
    else items.push({ kind, start: k, count: 1 });
  }
  return items;
}

/** Items from node keys of any kinds: pallets, then cases, then packs. */
function itemsOfNodes(nodes: readonly number[]): Item[] {
  const byKind = new Map<number, number[]>();
  for (const n of nodes) {
    const { kind, index } = nodeOf(n);
    if (!byKind.has(kind)) byKind.set(kind, []);
    byKind.get(kind)!.push(index);
  }
  return [ITEM_KIND.Pallet, ITEM_KIND.Case, ITEM_KIND.Units].flatMap((k) => (byKind.has(k) ? mergeItems(k, byKind.get(k)!) : []));
}

const quantityOf = (layout: Layout, items: readonly Item[]) => items.reduce((n, i) => n + itemUnits(layout, i), 0).toString();

/** Groups values by a key, keeping first-seen order. */
function groupBy<T>(xs: Iterable<T>, key: (x: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const x of xs) {
    const k = key(x);
    if (!out.has(k)) out.set(k, []);
    out.get(k)!.push(x);
  }
  return out;
}

interface Draft {
  account: string;
  op: Op;
  note: string;
  /** Set for ship steps other steps refer to. */
  ref?: string;
}

class Builder {
  readonly phases = new Map<Phase, Draft[]>(PHASES.map((p) => [p, []]));
  private govCount = 0;
  private refCount = 0;
  readonly problems: string[] = [];
  readonly warnings: string[] = [];

  constructor(
    readonly governors: string[],
    readonly threshold: number,
  ) {}

  /** A member step; returns a reference other steps can name (ship steps). */
  member(phase: Phase, account: string, op: Op, note: string): string {
    const ref = `r${++this.refCount}`;
    this.phases.get(phase)!.push({ account, op, note, ref });
    return ref;
  }

  /**
   * Governance actions in one wave: every proposal, then every approval, then every execution, so
   * the governors take turns three times rather than three times per action. The first governor
   * proposes and executes; the next threshold − 1 approve.
   */
  govWave(phase: Phase, calls: { call: GovCall; note: string }[]): void {
    if (calls.length === 0) return;
    const [proposer, ...rest] = this.governors;
    const approvers = rest.slice(0, this.threshold - 1);
    const tagged = calls.map((c) => ({ ...c, gov: `g${++this.govCount}` }));
    const list = this.phases.get(phase)!;
    for (const c of tagged) list.push({ account: proposer, op: { type: "propose", gov: c.gov, call: c.call }, note: `propose: ${c.note}` });
    for (const a of approvers) for (const c of tagged) list.push({ account: a, op: { type: "approve", gov: c.gov, call: c.call }, note: `approve: ${c.note}` });
    for (const c of tagged) list.push({ account: proposer, op: { type: "execute", gov: c.gov, call: c.call }, note: `execute: ${c.note}` });
  }

  /** Numbers the steps in phase order and resolves references to step ids and occurrences. */
  finish(): Step[] {
    const drafts = PHASES.flatMap((p) => this.phases.get(p)!.map((d) => ({ ...d, phase: p })));
    const idOf = new Map<string, string>();
    drafts.forEach((d, i) => d.ref && idOf.set(d.ref, `s${String(i + 1).padStart(5, "0")}`));
    const fix = (op: Op): Op => {
      if (op.type === "accept") return { ...op, shipStep: idOf.get(op.shipStep)! };
      if ((op.type === "propose" || op.type === "approve" || op.type === "execute") && op.call.fn === "recoverShipment") {
        const call = op.call as Extract<GovCall, { fn: "recoverShipment" }>;
        return { ...op, call: { ...call, shipStep: idOf.get(call.shipStep)! } };
      }
      return op;
    };
    const seen = new Map<string, number>();
    const govs = new Map<string, string>();
    return drafts.map((d, i) => {
      const op = fix(d.op);
      let occurrence = 1;
      const key = opKey(op, d.account, refKey, (s) => s);
      if (key !== undefined) {
        occurrence = (seen.get(key) ?? 0) + 1;
        seen.set(key, occurrence);
      } else if (op.type === "propose" || op.type === "approve" || op.type === "execute") {
        const k = govKey(op.call);
        if (govs.has(k) && govs.get(k) !== op.gov) throw new Error(`governance action planned twice: ${k}`);
        govs.set(k, op.gov);
      }
      return { id: `s${String(i + 1).padStart(5, "0")}`, seq: i + 1, account: d.account, phase: d.phase, op, occurrence, note: d.note };
    });
  }
}

/** Which shipments the contract allows between roles, and their kind (the flow table of IBatchToken). */
function flowKind(from: RoleName, to: RoleName, receiver: string, producer: string): "Forward" | "Return" | undefined {
  if (from === "Distributor" && to === "Producer") return receiver === producer ? "Return" : undefined;
  if (from === "Pharmacy" && to === "Distributor") return "Return";
  if (from === "Producer" && to === "Distributor") return "Forward";
  if (from === "Distributor" && (to === "Distributor" || to === "Pharmacy")) return "Forward";
  return undefined;
}

/** Every account a batch needs to hold stock at some point of the replay. */
function stockAccounts(b: BatchState): Set<string> {
  const out = new Set<string>([b.producer]);
  for (const h of b.holders) out.add(h.account);
  for (const p of b.pending) (out.add(p.sender), out.add(p.receiver));
  for (const w of b.writtenOff) out.add(w.holder);
  for (const r of b.recoveredOut) out.add(r.from);
  for (const run of [...(b.packs?.pallets ?? []), ...(b.packs?.cases ?? []), ...(b.packs?.units ?? [])]) out.add(run.holder);
  for (const p of b.provenance.paths) for (const h of p.path) (out.add(h.to), h.receiver && out.add(h.receiver));
  for (const e of b.provenance.edges) (out.add(e.from), out.add(e.to), e.receiver && out.add(e.receiver));
  return out;
}

export function planMigration(snapshot: LedgerSnapshot, inputs: MigrationInputs = {}, opts: PlanOptions = {}): MigrationPlan {
  const now = opts.now ?? Math.floor(Date.now() / 1000);
  const today = dayNumberOf(new Date(now * 1000));
  const { governors, threshold } = snapshot.consortium;
  const b = new Builder(governors, threshold);
  const migrationReference = keccak256(toUtf8Bytes(`medtrace migration ${snapshot.hash}`));
  if (snapshot.anomalies.length > 0) b.problems.push(...snapshot.anomalies.map((a) => `ledger anomaly: ${a}`));
  if (governors.length < threshold || threshold < 2) b.problems.push(`the consortium has ${governors.length} governors and threshold ${threshold}`);

  const skipped: IdMapping["skipped"] = [];
  const batches = snapshot.batches.filter((batch) => {
    if (batch.expiryDay >= today) return true;
    skipped.push({ batchId: batch.batchId, gtin: batch.gtin, lot: batch.lot, reason: `expired on day ${batch.expiryDay} (mintBatch refuses an expiry in the past)` });
    return false;
  });

  // ── Roles the members work in during the replay ──
  const products = new Map(snapshot.products.map((p) => [p.gtin, p]));
  const needsStock = new Set<string>();
  for (const batch of batches) for (const a of stockAccounts(batch)) needsStock.add(a);
  const producers = new Set<string>([...batches.map((x) => x.producer), ...snapshot.products.map((p) => p.owner), ...snapshot.licences.map((l) => l.owner)]);
  const workRole = new Map<string, RoleName>();
  for (const m of snapshot.members) {
    let role = m.role;
    if (producers.has(m.account)) role = "Producer";
    else if (needsStock.has(m.account) && !STOCK_ROLES.includes(role)) {
      const held = [...m.roleHistory].reverse().find((r) => STOCK_ROLES.includes(r));
      if (held) role = held;
      else b.problems.push(`member ${m.account} (${m.role}) appears in custody but never had a role that holds stock`);
    }
    if (producers.has(m.account) && !m.roleHistory.includes("Producer")) b.problems.push(`member ${m.account} owns products or batches but was never a Producer`);
    workRole.set(m.account, role);
  }
  const roleOf = (account: string): RoleName => workRole.get(account) ?? "None";
  const memberOf = new Map(snapshot.members.map((m) => [m.account, m]));
  for (const a of needsStock) if (!memberOf.has(a)) b.problems.push(`account ${a} holds or moved stock but was never admitted`);

  // ── Prefixes: what each producer owns now, plus what its products need at registration ──
  const finalPrefixOwner = new Map<string, string>();
  for (const m of snapshot.members) for (const p of m.prefixes) finalPrefixOwner.set(p, m.account);
  const extraPrefixes = new Map<string, string[]>();
  for (const p of snapshot.products) {
    const owner = finalPrefixOwner.get(p.prefix);
    if (owner === p.owner) continue;
    if (owner !== undefined) {
      b.problems.push(`product ${p.gtin} is owned by ${p.owner} but its prefix ${p.prefix} now belongs to ${owner}`);
      continue;
    }
    if (!extraPrefixes.has(p.owner)) extraPrefixes.set(p.owner, []);
    if (!extraPrefixes.get(p.owner)!.includes(p.prefix)) extraPrefixes.get(p.owner)!.push(p.prefix);
  }

  // ── Members ──
  const consortiumCall = (fn: string, args: unknown[], note: string) => ({ call: { target: "consortium" as const, fn, args }, note });
  const admissions = [];
  for (const m of snapshot.members) {
    if (m.licenceExpiry <= now) {
      b.problems.push(`member ${m.account} (GLN ${m.gln}) has a licence that expired at ${new Date(m.licenceExpiry * 1000).toISOString()}: admitMember refuses it — renew it on the old System before the export, or settle its case first`);
    } else if (m.licenceExpiry <= now + 7 * 86_400) {
      b.warnings.push(`member ${m.account} (GLN ${m.gln}): licence expires within 7 days, at ${new Date(m.licenceExpiry * 1000).toISOString()}`);
    }
    const prefixes = [...m.prefixes, ...(extraPrefixes.get(m.account) ?? [])];
    admissions.push(
      consortiumCall(
        "admitMember",
        [m.account, ROLE[roleOf(m.account)], m.gln, "0x" + Buffer.from(m.jurisdiction, "latin1").toString("hex"), m.licenceHash, m.licenceExpiry, prefixes],
        `admit ${m.account} as ${roleOf(m.account)}, GLN ${m.gln}, ${m.jurisdiction}${prefixes.length ? `, prefixes ${prefixes.join(" ")}` : ""}`,
      ),
    );
  }
  b.govWave("members", admissions);
  const setup = snapshot.members.filter((m) => m.key !== m.account).map((m) => consortiumCall("rotateKey", [m.account, m.key], `rotate the key of ${m.account} to ${m.key}`));
  if (snapshot.token.undoWindowDays !== DEFAULT_UNDO_WINDOW_DAYS) {
    setup.push({ call: { target: "batchToken", fn: "setUndoWindow", args: [snapshot.token.undoWindowDays] } as never, note: `set the undo window to ${snapshot.token.undoWindowDays} days` });
  }
  b.govWave("members", setup);

  // ── Products and licences ──
  const registered = new Map<string, string[]>();
  for (const p of snapshot.products) {
    const markets = [...p.markets];
    for (const batch of batches) if (batch.gtin === p.gtin) for (const mk of batch.markets) if (!markets.includes(mk)) markets.push(mk);
    registered.set(p.gtin, markets);
    b.member("products", p.owner, { type: "registerProduct", gtin: p.gtin, markets, masterDataHash: p.masterDataHash }, `register product ${p.gtin} for ${markets.join(", ")}`);
  }
  const finalLicences = new Set(snapshot.licences.map((l) => `${l.prefixKey}|${l.licensee}`));
  const licences = new Map(snapshot.licences.map((l) => [`${l.prefixKey}|${l.licensee}`, { prefixKey: l.prefixKey, owner: l.owner, licensee: l.licensee }]));
  for (const batch of batches) {
    const p = products.get(batch.gtin);
    if (!p) {
      b.problems.push(`batch ${batch.gtin}/${batch.lot}: product ${batch.gtin} is not registered`);
      continue;
    }
    if (p.owner !== batch.producer) licences.set(`${p.prefixKey}|${batch.producer}`, { prefixKey: p.prefixKey, owner: p.owner, licensee: batch.producer });
  }
  for (const l of licences.values()) b.member("products", l.owner, { type: "setPrefixLicence", prefixKey: l.prefixKey, licensee: l.licensee, granted: true }, `license ${l.licensee} for prefix key ${l.prefixKey}`);

  // ── Batches ──
  for (const batch of batches) {
    const ref: BatchRef = { gtin: batch.gtin, lot: batch.lot };
    b.member(
      "mint",
      batch.producer,
      {
        type: "mint",
        batch: ref,
        expiryDay: batch.expiryDay,
        quantity: batch.quantity,
        serialsRoot: batch.serialsRoot,
        serialCount: batch.serialCount,
        documentHash: batch.documentHash,
        unitsPerCase: batch.unitsPerCase,
        casesPerPallet: batch.casesPerPallet,
        packingRoot: batch.packingRoot,
        markets: batch.markets,
      },
      `mint ${batch.gtin}/${batch.lot} (${batch.quantity} units)`,
    );
    if (batch.packs) planSerialised(b, batch, ref, roleOf, migrationReference, inputs);
    else planQuantities(b, batch, ref, roleOf, migrationReference);
    for (const p of batch.pending) {
      const kind = flowKind(roleOf(p.sender), roleOf(p.receiver), p.receiver, batch.producer);
      if (kind !== p.kind) b.problems.push(`batch ${batch.gtin}/${batch.lot}: pending shipment ${p.shipmentId} is ${p.kind}, the roles would make it ${kind ?? "refused"}`);
      b.member("pending", p.sender, { type: "ship", batch: ref, receiver: p.receiver, quantity: p.quantity, items: p.items, referenceHash: p.referenceHash, oldShipmentId: p.shipmentId }, `ship pending shipment ${p.shipmentId} of ${batch.gtin}/${batch.lot} again to ${p.receiver}`);
    }
    for (const q of batch.quarantines) b.member("status", q.regulator, { type: "quarantine", batch: ref, reasonHash: q.reasonHash }, `quarantine ${batch.gtin}/${batch.lot} for ${q.jurisdiction}`);
    if (batch.recall) b.member("status", batch.recall.by, { type: "recall", batch: ref, reasonHash: batch.recall.reasonHash }, `recall ${batch.gtin}/${batch.lot}`);
    for (const n of batch.notices) b.member("status", n.regulator, { type: "safetyNotice", batch: ref, noticeHash: n.noticeHash }, `safety notice on ${batch.gtin}/${batch.lot} (${n.jurisdiction})`);
  }

  // ── Products as they are now ──
  for (const p of snapshot.products) {
    if (registered.get(p.gtin)!.join(",") !== p.markets.join(",")) b.member("products-final", p.owner, { type: "updateProduct", gtin: p.gtin, markets: p.markets, masterDataHash: p.masterDataHash }, `product ${p.gtin}: markets ${p.markets.join(", ")}`);
    if (p.status === "Withdrawn") b.member("products-final", p.owner, { type: "setProductStatus", gtin: p.gtin, status: 2, reasonHash: p.statusReason ?? "0x" + "0".repeat(64) }, `withdraw product ${p.gtin}`);
  }
  for (const [key, l] of licences) if (!finalLicences.has(key)) b.member("products-final", l.owner, { type: "setPrefixLicence", prefixKey: l.prefixKey, licensee: l.licensee, granted: false }, `end the minting licence of ${l.licensee}`);

  // ── Members as they are now ──
  b.govWave(
    "roles",
    snapshot.members.filter((m) => roleOf(m.account) !== m.role).map((m) => consortiumCall("changeRole", [m.account, ROLE[m.role]], `change the role of ${m.account} to ${m.role}`)),
  );
  for (const m of snapshot.members) {
    if (m.status === "Suspended" && m.suspension && m.suspension.by !== "governance") {
      b.member("members-final", m.suspension.by, { type: "emergencySuspend", member: m.account, reasonHash: m.suspension.reasonHash }, `suspend ${m.account} (emergency)`);
    }
  }
  const finals = [];
  for (const [owner, prefixes] of extraPrefixes) for (const p of prefixes) finals.push(consortiumCall("removeCompanyPrefix", [p], `remove prefix ${p} of ${owner} (it only registered products)`));
  for (const m of snapshot.members) {
    if (m.status === "Suspended" && (!m.suspension || m.suspension.by === "governance")) finals.push(consortiumCall("suspendMember", [m.account, m.suspension?.reasonHash ?? "0x" + "0".repeat(64)], `suspend ${m.account}`));
    if (m.status === "Revoked") finals.push(consortiumCall("revokeMember", [m.account, m.revocation?.reasonHash ?? "0x" + "0".repeat(64)], `revoke ${m.account}`));
  }
  b.govWave("members-final", finals);
  if (snapshot.token.paused) b.govWave("pause", [{ call: { target: "batchToken", fn: "setPaused", args: [true, snapshot.token.pauseReason] } as GovCall, note: "pause custody, as the old System is paused" }]);

  if (b.problems.length > 0) throw new PlanError(b.problems);
  return {
    format: PLAN_FORMAT,
    snapshotHash: snapshot.hash,
    createdAt: now,
    migrationReference,
    deploy: {
      Consortium: { governors, threshold, charterHash: snapshot.consortium.charterHash, proposalLifetime: snapshot.consortium.proposalLifetime },
      BatchToken: { uri: snapshot.source.uri ?? "" },
    },
    governors,
    threshold,
    members: snapshot.members.map((m: MemberState) => ({ account: m.account, key: m.key, role: m.role, gln: m.gln, jurisdiction: m.jurisdiction })),
    batches: batches.map((x) => ({ batchId: x.batchId, gtin: x.gtin, lot: x.lot })),
    skipped,
    warnings: b.warnings,
    steps: b.finish(),
  };
}

/**
 * Custody of a serialised batch: level by level (pallets, cases, packs), every item with a record
 * of its own follows its path hop by hop, all items taking the same hop together in one shipment
 * (or one governance recovery, where the old ledger used one); containers are opened by whoever
 * opened them before their content moves on; then final, revertible and locked states are set.
 */
function planSerialised(b: Builder, batch: BatchState, ref: BatchRef, roleOf: (a: string) => RoleName, migrationReference: string, inputs: MigrationInputs): void {
  const layout: Layout = { units: batch.serialCount, unitsPerCase: batch.unitsPerCase, casesPerPallet: batch.casesPerPallet };
  const name = `${batch.gtin}/${batch.lot}`;
  const records = new Map<number, PackRun>();
  const expand = (kind: number, runs: PackRun[]) => runs.forEach((r) => Array.from({ length: r.count }, (_, i) => records.set(nodeKey(kind, r.start + i), r)));
  expand(ITEM_KIND.Pallet, batch.packs!.pallets);
  expand(ITEM_KIND.Case, batch.packs!.cases);
  expand(ITEM_KIND.Units, batch.packs!.units);
  const paths = new Map<number, Hop[]>();
  for (const p of batch.provenance.paths) for (let k = p.start; k < p.start + p.count; k++) paths.set(nodeKey(p.kind, k), p.path);

  /** Where an item's own moves start: its container's opener, or the producer. */
  const sourceOf = (kind: number, index: number): string | undefined => {
    const parentKind = kind === ITEM_KIND.Units ? (layout.unitsPerCase ? ITEM_KIND.Case : undefined) : kind === ITEM_KIND.Case && layout.casesPerPallet ? ITEM_KIND.Pallet : undefined;
    if (parentKind === undefined) return batch.producer;
    const parentIndex = parentKind === ITEM_KIND.Case ? Math.floor(index / layout.unitsPerCase) : Math.floor(index / layout.casesPerPallet);
    const parent = records.get(nodeKey(parentKind, parentIndex));
    return parent?.state === "Unpacked" ? parent.holder : undefined;
  };

  for (const kind of [ITEM_KIND.Pallet, ITEM_KIND.Case, ITEM_KIND.Units]) {
    const nodes = [...records.keys()].filter((n) => nodeOf(n).kind === kind).sort((x, y) => x - y);
    if (nodes.length === 0) continue;
    const pathOf = new Map<number, Hop[]>();
    for (const n of nodes) {
      const r = records.get(n)!;
      const path = paths.get(n) ?? [{ to: r.holder, via: "source" as const }];
      const { index } = nodeOf(n);
      const source = sourceOf(kind, index);
      if (path[0].to !== source) b.problems.push(`${name} ${["pack", "case", "pallet"][kind]} ${index}: its path starts at ${path[0].to}, its container is with ${source ?? "nobody who opened it"}`);
      if (path[path.length - 1].to !== r.holder) b.problems.push(`${name} ${["pack", "case", "pallet"][kind]} ${index}: its path ends at ${path[path.length - 1].to}, its record names ${r.holder}`);
      pathOf.set(n, path);
    }
    const longest = Math.max(...[...pathOf.values()].map((p) => p.length));
    for (let hop = 1; hop < longest; hop++) {
      const moving = nodes.filter((n) => pathOf.get(n)!.length > hop);
      const groups = groupBy(moving, (n) => {
        const h = pathOf.get(n)![hop];
        return `${pathOf.get(n)![hop - 1].to}|${h.to}|${h.via}|${h.receiver ?? ""}|${h.evidenceHash ?? ""}`;
      });
      const accepts: { account: string; shipRef: string; note: string }[] = [];
      const gov: { call: GovCall; note: string }[] = [];
      const ordered = [...groups.values()].sort((x, y) => (pathOf.get(x[0])![hop - 1].to < pathOf.get(y[0])![hop - 1].to ? -1 : 1));
      for (const group of ordered) {
        const from = pathOf.get(group[0])![hop - 1].to;
        const h = pathOf.get(group[0])![hop];
        const items = mergeItems(kind, group.map((n) => nodeOf(n).index));
        const quantity = quantityOf(layout, items);
        const ship = (receiver: string) => {
          if (!flowKind(roleOf(from), roleOf(receiver), receiver, batch.producer)) b.problems.push(`${name}: the path ${from} (${roleOf(from)}) → ${receiver} (${roleOf(receiver)}) is not an allowed flow`);
          return b.member("custody", from, { type: "ship", batch: ref, receiver, quantity, items, referenceHash: migrationReference }, `ship ${quantity} units of ${name} to ${receiver} (hop ${hop})`);
        };
        if (h.via === "ship") accepts.push({ account: h.to, shipRef: ship(h.to), note: `accept ${quantity} units of ${name} from ${from}` });
        else if (h.via === "recoverShipment") gov.push({ call: { target: "batchToken", fn: "recoverShipment", shipStep: ship(h.receiver!), to: h.to, evidenceHash: h.evidenceHash! }, note: `close the shipment of ${name} to ${h.receiver} by crediting ${h.to}` });
        else gov.push({ call: { target: "batchToken", fn: "recoverCustody", batch: ref, from, to: h.to, quantity, items, state: STATE.Held, evidenceHash: h.evidenceHash! }, note: `recover ${quantity} units of ${name} from ${from} to ${h.to}` });
      }
      for (const a of accepts.sort((x, y) => (x.account < y.account ? -1 : x.account > y.account ? 1 : 0))) b.member("custody", a.account, { type: "accept", shipStep: a.shipRef }, a.note);
      b.govWave("custody", gov);
    }
    for (const [holder, group] of groupBy(nodes.filter((n) => records.get(n)!.state === "Unpacked"), (n) => records.get(n)!.holder)) {
      b.member("custody", holder, { type: "unpack", batch: ref, items: mergeItems(kind, group.map((n) => nodeOf(n).index)) }, `open ${group.length} ${["pack", "case", "pallet"][kind]}(s) of ${name}`);
    }
  }

  // Final, revertible and locked states, by whoever set them.
  const all = [...records.keys()].sort((x, y) => x - y);
  let tree: SerialTree | undefined;
  for (const n of all.filter((x) => records.get(x)!.state === "Dispensed")) {
    const { index } = nodeOf(n);
    const serials = inputs.serials?.get(refKey(ref));
    if (!serials) {
      b.problems.push(`${name}: the serial list is needed to dispense pack ${index} again (give it in the inputs)`);
      break;
    }
    tree ??= buildSerialTree(serials);
    if (tree.root !== batch.serialsRoot.toLowerCase()) {
      b.problems.push(`${name}: the serial list given has root ${tree.root}, the batch committed ${batch.serialsRoot}`);
      break;
    }
    b.member("states", records.get(n)!.holder, { type: "dispense", batch: ref, unit: index, serial: tree.serialAt(index), proof: tree.proof(index) }, `dispense pack ${index} of ${name}`);
  }
  const setters = all.filter((x) => !["Held", "Unpacked", "InTransit", "Dispensed"].includes(records.get(x)!.state));
  const gov: { call: GovCall; note: string }[] = [];
  for (const group of groupBy(setters, (n) => { const r = records.get(n)!; return `${r.holder}|${r.state}|${r.via ?? ""}|${r.hash ?? ""}`; }).values()) {
    const r = records.get(group[0])!;
    const items = itemsOfNodes(group);
    const hash = r.hash ?? "0x" + "0".repeat(64);
    if (r.state === "Locked") b.member("states", r.holder, { type: "lock", batch: ref, items, reasonHash: hash }, `lock ${quantityOf(layout, items)} units of ${name}`);
    else if (r.via === "governance") gov.push({ call: { target: "batchToken", fn: "recoverCustody", batch: ref, from: r.holder, to: ZERO_ADDRESS, quantity: quantityOf(layout, items), items, state: STATE[r.state], evidenceHash: hash }, note: `take ${quantityOf(layout, items)} units of ${name} from ${r.holder} as ${r.state}` });
    else b.member("states", r.holder, { type: "decommission", batch: ref, items, state: STATE[r.state], evidenceHash: hash }, `decommission ${quantityOf(layout, items)} units of ${name} as ${r.state}`);
  }
  b.govWave("states", gov);
}

/**
 * Custody of a batch without serials: units go down a tree of the edges the batch really took
 * (shortest routes from the producer), each edge carrying what everything behind it needs; then
 * write-offs and governance write-offs by the same members.
 */
function planQuantities(b: Builder, batch: BatchState, ref: BatchRef, roleOf: (a: string) => RoleName, migrationReference: string): void {
  const name = `${batch.gtin}/${batch.lot}`;
  const need = new Map<string, bigint>();
  const add = (a: string, q: string) => need.set(a, (need.get(a) ?? 0n) + BigInt(q));
  for (const h of batch.holders) add(h.account, h.quantity);
  for (const p of batch.pending) add(p.sender, p.quantity);
  for (const w of batch.writtenOff) add(w.holder, w.quantity);
  for (const r of batch.recoveredOut) add(r.from, r.quantity);

  const parent = new Map<string, { from: string; edge: (typeof batch.provenance.edges)[number] }>();
  const depth = new Map<string, number>([[batch.producer, 0]]);
  const queue = [batch.producer];
  while (queue.length > 0) {
    const at = queue.shift()!;
    for (const e of batch.provenance.edges) {
      if (e.from !== at || depth.has(e.to)) continue;
      depth.set(e.to, depth.get(at)! + 1);
      parent.set(e.to, { from: at, edge: e });
      queue.push(e.to);
    }
  }
  const demand = new Map<string, bigint>();
  for (const [account, q] of need) {
    if (q === 0n || account === batch.producer) continue;
    if (!depth.has(account)) {
      b.problems.push(`${name}: ${account} needs ${q} units but no recorded route reaches it from the producer`);
      continue;
    }
    for (let at = account; at !== batch.producer; at = parent.get(at)!.from) demand.set(at, (demand.get(at) ?? 0n) + q);
  }
  const maxDepth = Math.max(0, ...[...demand.keys()].map((a) => depth.get(a)!));
  for (let d = 1; d <= maxDepth; d++) {
    const accepts: { account: string; shipRef: string; note: string }[] = [];
    const gov: { call: GovCall; note: string }[] = [];
    for (const [to, q] of demand) {
      if (depth.get(to) !== d) continue;
      const { from, edge } = parent.get(to)!;
      const quantity = q.toString();
      const ship = (receiver: string) => {
        if (!flowKind(roleOf(from), roleOf(receiver), receiver, batch.producer)) b.problems.push(`${name}: ${from} (${roleOf(from)}) → ${receiver} (${roleOf(receiver)}) is not an allowed flow`);
        return b.member("custody", from, { type: "ship", batch: ref, receiver, quantity, items: [], referenceHash: migrationReference }, `ship ${quantity} units of ${name} to ${receiver}`);
      };
      if (edge.via === "ship") accepts.push({ account: to, shipRef: ship(to), note: `accept ${quantity} units of ${name} from ${from}` });
      else if (edge.via === "recoverShipment") gov.push({ call: { target: "batchToken", fn: "recoverShipment", shipStep: ship(edge.receiver!), to, evidenceHash: edge.evidenceHash! }, note: `close the shipment of ${name} to ${edge.receiver} by crediting ${to}` });
      else gov.push({ call: { target: "batchToken", fn: "recoverCustody", batch: ref, from, to, quantity, items: [], state: STATE.Held, evidenceHash: edge.evidenceHash! }, note: `recover ${quantity} units of ${name} from ${from} to ${to}` });
    }
    for (const a of accepts) b.member("custody", a.account, { type: "accept", shipStep: a.shipRef }, a.note);
    b.govWave("custody", gov);
  }
  for (const w of batch.writtenOff) b.member("states", w.holder, { type: "writeOff", batch: ref, quantity: w.quantity, reason: w.reason === "Stolen" ? 1 : 0, evidenceHash: w.evidenceHash }, `write off ${w.quantity} units of ${name} (${w.reason})`);
  b.govWave(
    "states",
    batch.recoveredOut.map((r) => ({ call: { target: "batchToken", fn: "recoverCustody", batch: ref, from: r.from, to: ZERO_ADDRESS, quantity: r.quantity, items: [], state: STATE[r.state], evidenceHash: r.evidenceHash } as GovCall, note: `take ${r.quantity} units of ${name} from ${r.from} as ${r.state}` })),
  );
}

/** Steps per account (one file each), in global order. */
export function stepsByAccount(plan: MigrationPlan): Map<string, Step[]> {
  return groupBy(plan.steps, (s) => s.account);
}
