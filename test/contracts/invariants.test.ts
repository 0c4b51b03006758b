/**
 * Property-based tests of package-level custody: random sequences of actions by random actors run
 * against the real contracts on the in-process Hardhat network, with a model predicting every
 * outcome and invariants checked after every step.
 *
 * Three views are kept and held against each other:
 * - the Model (test/fixtures/invariants/model.ts) predicts from the documented rules whether each
 *   action succeeds or which custom error it reverts with, and the state it leaves, pack by pack;
 * - the Ledger (test/fixtures/invariants/ledger.ts) rebuilds that state from the events alone and
 *   carries the invariants (one place per pack, balances, conservation, no double dispense, stock
 *   only to members that can hold it, shipment kind fixed, nothing forward out of a frozen batch);
 * - the chain is read after every successful step: every pack of the small batches through
 *   `holdsUnits` (held packs, per holder) and `packState` (all others), containers, balances,
 *   pending shipments, statuses, members.
 *
 * The world: three batches (a serialised batch of 46 packs in cases of 5 and pallets of 4 cases,
 * so the last case has 1 pack and the last pallet 2 cases; a serialised batch without cases marketed in FR only; a
 * batch without serials marketed in DE only), seeded custody and pending shipments, two licences
 * that lapse inside the sequences (one at an odd second, one at midnight), a batch that expires
 * on day 3 and one on day 12. Actions: ship by pallets, cases, unit ranges and single packs (also
 * invalid, duplicate, overlapping and foreign items), accept, reject, cancel (also with forged
 * shipment fields), unpack, decommission of every kind, revertDecommission, lock, unlock (by the
 * holder or a regulator), dispense (right or wrong serial/proof), undoDispense, writeOff,
 * quarantine, lift, recall (regulators in and outside the markets, the producer), product
 * withdraw/reinstate (second property), emergency suspension, governance (changeRole, suspend,
 * reinstate, revoke, renewLicence, rotateKey — the new key acts for the account —, pause,
 * recoverCustody, recoverShipment), and time (ticks, the last second before midnight, midnight,
 * a licence's last and expiry second, 1–11 days: across expiries and the 10-day undo window).
 * Every transaction is sent with a fixed gas limit at a timestamp the runner sets, so the model
 * knows the exact second every action runs at.
 *
 * Knobs: FC_RUNS (sequences per property; default below, sized for ≈ 90 s on two cores),
 * FC_STEPS (longest sequence, default 40), FC_SEED and FC_PATH (replay what fast-check printed),
 * FC_PROPERTY=main|withdrawals (run one property: a path belongs to one), FC_SHRINK=0 (report the
 * first counterexample without shrinking). A longer campaign: FC_RUNS=2000 FC_STEPS=60.
 */
import { expect } from "chai";
import fc from "fast-check";
import hre, { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { Interface, Log } from "ethers";
import { ITEM_KIND, itemUnits, limitOf, unitRange, type Item } from "../../api/domain/packing";
import {
  BatchStatus,
  GTIN,
  GTIN2,
  LICENCE_HASH,
  MemberStatus,
  PackState,
  ProductStatus,
  Role,
  cases,
  deliver,
  deploySystemFixture,
  govern,
  mintBatch,
  pallets,
  ship,
  units,
} from "../fixtures/system";
import { DAY, DECOMMISSION, Model, REVERTIBLE, ZERO, emptyBook, type MBatch, type Outcome, type Shipment } from "../fixtures/invariants/model";
import { INVARIANT, InvariantViolation, Ledger, PackState_, type Touched } from "../fixtures/invariants/ledger";

const DEFAULT_RUNS = 60;
const NUM_RUNS = Number(process.env.FC_RUNS ?? DEFAULT_RUNS);
const MAX_STEPS = Number(process.env.FC_STEPS ?? 40);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
const ONLY = process.env.FC_PROPERTY;
const SHRINK = process.env.FC_SHRINK !== "0";
const STATS = process.env.FC_STATS === "1";
const GAS = ethers.toQuantity(6_000_000);

/** FC_STATS=1: how often each action ran and how it ended, printed after the properties. */
const stats = new Map<string, Map<string, number>>();
function count(action: string, outcome: string) {
  const byOutcome = stats.get(action) ?? new Map<string, number>();
  byOutcome.set(outcome, (byOutcome.get(outcome) ?? 0) + 1);
  stats.set(action, byOutcome);
}

/** The invariant names the runner adds to the ledger's. */
const MODEL = {
  outcome: "the model predicts each outcome (success, or the custom error's name)",
  state: "the model predicts the state the events show",
  chain: "the ledger equals what the chain reports",
} as const;

// ─── Fixture ─────────────────────────────────────────────────────────────────────────────────────

const NAMES = ["producer", "producer2", "distributor", "distributor2", "pharmacy", "pharmacy2", "regulator", "foreignRegulator", "auditor", "outsider"] as const;
type Name = (typeof NAMES)[number];

/** Custody the fixture sets up before every sequence; the model replays it. */
const SEED_CUSTODY: { batch: number; from: Name; to: Name; what: Item[] | number; accept: boolean }[] = [
  // A: pallet 0 sealed at the distributor, pallet 2 sealed at the producer, pallet 1 opened by the
  // producer, case 4 opened by distributor2 with three of its packs loose at the pharmacy, case 5 in transit.
  { batch: 0, from: "producer", to: "distributor", what: [pallets(0)], accept: true },
  { batch: 0, from: "producer", to: "distributor2", what: [cases(4)], accept: true },
  { batch: 0, from: "distributor2", to: "pharmacy", what: [units(20, 3)], accept: true },
  { batch: 0, from: "producer", to: "distributor", what: [cases(5)], accept: false },
  { batch: 1, from: "producer2", to: "distributor", what: [units(0, 8)], accept: true },
  { batch: 1, from: "distributor", to: "pharmacy2", what: [units(2, 3)], accept: true },
  { batch: 2, from: "producer", to: "distributor", what: 10, accept: true },
  { batch: 2, from: "distributor", to: "pharmacy", what: 4, accept: true },
  { batch: 2, from: "producer", to: "distributor2", what: 3, accept: false },
];

async function propertiesFixture() {
  const sys = await deploySystemFixture();
  const day = Math.floor((await time.latest()) / DAY) + 1;
  await time.increaseTo(day * DAY + 9 * 3600);
  const at = { ...sys, today: day };
  const batches = [
    await mintBatch(at, { lot: "PROP-A", units: 46, unitsPerCase: 5, casesPerPallet: 4, expiryInDays: 12 }),
    await mintBatch(at, { lot: "PROP-B", units: 20, gtin: GTIN2, markets: ["FR"], expiryInDays: 2, by: sys.producer2 }),
    await mintBatch(at, { lot: "PROP-C", units: 30, serialised: false, markets: ["DE"], expiryInDays: 5 }),
  ];
  for (const s of SEED_CUSTODY) {
    const id = batches[s.batch].batchId;
    if (s.accept) await deliver(at, sys[s.from], id, s.what, sys[s.to]);
    else await ship(at, sys[s.from], id, s.what, sys[s.to]);
  }
  // Licences that lapse inside the sequences: one at an odd second, one exactly at midnight.
  const renew = (account: string, expiry: number) =>
    govern(sys.consortium, sys.governors, sys.consortium.interface.encodeFunctionData("renewLicence", [account, LICENCE_HASH, expiry]));
  await renew(sys.pharmacy2.address, (day + 1) * DAY + 15 * 3600 + 17);
  await renew(sys.distributor2.address, (day + 3) * DAY);
  const spareKeys = (await ethers.getSigners()).slice(15, 20).map((s) => s.address);
  return { ...sys, batches, spareKeys };
}
type Fx = Awaited<ReturnType<typeof propertiesFixture>>;

// ─── Chain access: raw JSON-RPC (ethers' contract layer costs more than the EVM here) ────────────

const rpc = <T>(method: string, params: unknown[]) => hre.network.provider.request({ method, params }) as Promise<T>;

interface RawLog {
  address: string;
  topics: string[];
  data: string;
}
interface RawReceipt {
  blockNumber: string;
  status: string;
  logs: RawLog[];
}

class Reader {
  constructor(
    readonly address: string,
    readonly iface: Interface,
  ) {}
  async call(fn: string, args: readonly unknown[]) {
    const out = await rpc<string>("eth_call", [{ to: this.address, data: this.iface.encodeFunctionData(fn, args) }, "latest"]);
    return this.iface.decodeFunctionResult(fn, out);
  }
}

/** Name of the custom error a failed call reverted with (or a description when it is not one). */
function revertName(err: unknown, ifaces: Interface[]): string {
  const seen = new Set<unknown>();
  const find = (x: unknown): string | undefined => {
    if (x === null || typeof x !== "object" || seen.has(x)) return undefined;
    seen.add(x);
    const o = x as Record<string, unknown>;
    if (typeof o.data === "string" && o.data.startsWith("0x") && o.data.length >= 10) return o.data;
    for (const k of ["data", "error", "info", "cause", "parent"]) {
      const r = find(o[k]);
      if (r) return r;
    }
    return undefined;
  };
  const data = find(err);
  if (!data) return `non-revert failure: ${(err as Error).message}`;
  for (const i of ifaces) {
    try {
      const parsed = i.parseError(data);
      if (parsed) return parsed.name;
    } catch {
      // not one of this interface's errors
    }
  }
  return `undecoded revert ${data.slice(0, 10)}`;
}

/** What the fixture left on chain, read once: every sequence starts from the same snapshot. */
interface Initial {
  /** The ledger after reading the fixture's events (each sequence starts from a copy). */
  ledger: Ledger;
  members: Map<string, { role: number; status: number; jurisdiction: string; licenceExpiry: number; index: number }>;
  batches: { id: bigint; gtin: bigint; producer: string; expiryDay: number; quantity: bigint; markets: string[]; layout: { units: number; unitsPerCase: number; casesPerPallet: number } }[];
  latest: number;
  proposalCount: number;
  checked: boolean;
}
let initial: Initial | undefined;

async function readInitial(fx: Fx): Promise<Initial> {
  const addresses = [await fx.batchToken.getAddress(), await fx.consortium.getAddress()];
  const logs = await rpc<(RawLog & { transactionHash: string; blockNumber: string })[]>("eth_getLogs", [{ fromBlock: "0x0", toBlock: "latest", address: addresses }]);
  const byTx = new Map<string, typeof logs>();
  for (const l of logs) byTx.set(l.transactionHash, [...(byTx.get(l.transactionHash) ?? []), l]);
  const ledger = new Ledger(fx.batchToken.interface, addresses[0].toLowerCase(), fx.consortium.interface, addresses[1].toLowerCase());
  for (const [hash, txLogs] of byTx) {
    const tx = await rpc<{ from: string }>("eth_getTransactionByHash", [hash]);
    const block = await rpc<{ timestamp: string }>("eth_getBlockByNumber", [txLogs[0].blockNumber, false]);
    ledger.ingest(txLogs as unknown as Log[], ethers.getAddress(tx.from), Number(block.timestamp));
  }
  const members: Initial["members"] = new Map();
  for (const n of NAMES) {
    const m = await fx.consortium.member(fx[n].address);
    if (Number(m.status) === MemberStatus.None) continue;
    members.set(fx[n].address, {
      role: Number(m.role),
      status: Number(m.status),
      jurisdiction: ethers.toUtf8String(m.jurisdiction),
      licenceExpiry: Number(m.licenceExpiry),
      index: Number(m.index),
    });
  }
  const batches: Initial["batches"] = [];
  for (const { batchId } of fx.batches) {
    const b = await fx.batchToken.batch(batchId);
    batches.push({
      id: batchId,
      gtin: BigInt(b.gtin),
      producer: b.producer,
      expiryDay: Number(b.expiryDay),
      quantity: b.quantity,
      markets: (await fx.batchToken.marketsOf(batchId)).map((c) => ethers.toUtf8String(c)),
      layout: { units: Number(b.serialCount), unitsPerCase: Number(b.unitsPerCase), casesPerPallet: Number(b.casesPerPallet) },
    });
  }
  return { ledger, members, batches, latest: await time.latest(), proposalCount: Number(await fx.consortium.proposalCount()), checked: false };
}

// ─── Commands: choices resolved against the model when the step runs ────────────────────────────

/** An actor: one that fits the action ("right"), anyone, or one signing with a key that signs for nobody. */
type Who = { mode: "right" | "any" | "stale"; n: number };
type ItemsMode = "pallet" | "case" | "range" | "single" | "mixed" | "dup" | "overlap" | "foreign" | "invalid" | "empty" | "records";
type ItemsPick = { mode: ItemsMode; n: number; m: number };
/** A quantity: what the items name (or, without serials, some of the balance), one more, none, more than held. */
type Qty = { m: "exact" | "plusOne" | "zero" | "all" | "over"; n: number };
type TimeMode = "tick" | "beforeMidnight" | "atMidnight" | "licenceEdge" | "days";

type Gov =
  | { a: "changeRole"; target: number; role: number }
  | { a: "suspend" | "reinstate" | "revoke"; target: number }
  | { a: "renew"; target: number; span: "past" | "short" | "long"; n: number }
  | { a: "rotate"; target: number; key: "spare" | "member" | "current" | "zero"; n: number }
  | { a: "pause"; n: number }
  | { a: "recover"; batch: number; from: Who; to: "holder" | "zero" | "nonStock"; items: ItemsPick; state: number; qty: Qty }
  | { a: "recoverShipment"; s: number; to: "sender" | "receiver" | "other" | "nonStock"; n: number };

type Cmd =
  | { k: "ship"; batch: number; who: Who; items: ItemsPick; to: number; qty: Qty }
  | { k: "accept" | "reject" | "cancel"; s: number; who: Who; pendingOnly: boolean; forge: number; reason: number }
  | { k: "unpack" | "lock"; batch: number; who: Who; items: ItemsPick }
  | { k: "decommission"; batch: number; who: Who; items: ItemsPick; state: number }
  | { k: "revert"; batch: number; who: Who; items: ItemsPick }
  | { k: "unlock"; batch: number; who: Who; regulator: boolean; items: ItemsPick }
  | { k: "dispense"; batch: number; who: Who; unit: { mode: "held" | "dispensed" | "any"; n: number }; proof: "valid" | "wrongSerial" | "otherProof" }
  | { k: "undoDispense"; batch: number; who: Who; n: number }
  | { k: "writeOff"; batch: number; who: Who; qty: Qty; reason: number }
  | { k: "quarantine" | "lift" | "recall"; batch: number; who: Who }
  | { k: "product"; who: Who; gtin: number; status: number }
  | { k: "suspendNow"; who: Who; target: number }
  | { k: "gov"; g: Gov }
  | { k: "time"; mode: TimeMode; n: number };

const nat = fc.nat(1 << 20);
const w = <T>(weight: number, arbitrary: fc.Arbitrary<T>) => ({ weight, arbitrary });
const whoArb = (right = 12): fc.Arbitrary<Who> =>
  fc.record({ mode: fc.oneof(w(right, fc.constant("right" as const)), w(2, fc.constant("any" as const)), w(1, fc.constant("stale" as const))), n: nat });
/** Batch A, B or C by index; now and then one that does not exist. */
const batchArb = (weights = [5, 4, 2]) =>
  fc.oneof(w(3 * weights[0], fc.constant(0)), w(3 * weights[1], fc.constant(1)), w(3 * weights[2], fc.constant(2)), w(1, fc.constant(3)));
const itemsArb = (records = 0): fc.Arbitrary<ItemsPick> =>
  fc.record({
    mode: fc.oneof(
      w(2 * records, fc.constant("records" as const)),
      w(6, fc.constant("pallet" as const)),
      w(8, fc.constant("case" as const)),
      w(10, fc.constant("range" as const)),
      w(8, fc.constant("single" as const)),
      w(4, fc.constant("mixed" as const)),
      w(2, fc.constant("dup" as const)),
      w(2, fc.constant("overlap" as const)),
      w(2, fc.constant("foreign" as const)),
      w(2, fc.constant("invalid" as const)),
      w(1, fc.constant("empty" as const)),
    ),
    n: nat,
    m: nat,
  });
const qtyArb: fc.Arbitrary<Qty> = fc.record({
  m: fc.oneof(w(12, fc.constant("exact" as const)), w(1, fc.constant("plusOne" as const)), w(1, fc.constant("zero" as const)), w(2, fc.constant("all" as const)), w(1, fc.constant("over" as const))),
  n: nat,
});

const govArb: fc.Arbitrary<Gov> = fc.oneof(
  w(3, fc.record({ a: fc.constant("changeRole" as const), target: nat, role: fc.oneof(w(10, fc.integer({ min: 1, max: 5 })), w(1, fc.constant(0))) })),
  w(2, fc.record({ a: fc.constant("suspend" as const), target: nat })),
  w(2, fc.record({ a: fc.constant("reinstate" as const), target: nat })),
  w(1, fc.record({ a: fc.constant("revoke" as const), target: nat })),
  w(2, fc.record({ a: fc.constant("renew" as const), target: nat, span: fc.constantFrom("past" as const, "short" as const, "short" as const, "long" as const), n: nat })),
  w(3, fc.record({ a: fc.constant("rotate" as const), target: nat, key: fc.oneof(w(6, fc.constant("spare" as const)), w(1, fc.constant("member" as const)), w(1, fc.constant("current" as const)), w(1, fc.constant("zero" as const))), n: nat })),
  w(2, fc.record({ a: fc.constant("pause" as const), n: nat })),
  w(4, fc.record({ a: fc.constant("recover" as const), batch: batchArb(), from: whoArb(8), to: fc.constantFrom("holder" as const, "holder" as const, "zero" as const, "nonStock" as const), items: itemsArb(2), state: fc.integer({ min: 0, max: 10 }), qty: qtyArb })),
  w(2, fc.record({ a: fc.constant("recoverShipment" as const), s: nat, to: fc.constantFrom("sender" as const, "receiver" as const, "other" as const, "nonStock" as const), n: nat })),
);

function cmdArb(withdrawals: boolean): fc.Arbitrary<Cmd> {
  const base: { weight: number; arbitrary: fc.Arbitrary<Cmd> }[] = [
    w(10, fc.record({ k: fc.constant("ship" as const), batch: batchArb(), who: whoArb(), items: itemsArb(), to: nat, qty: qtyArb })),
    ...(["accept", "reject", "cancel"] as const).map((k) =>
      w(k === "accept" ? 6 : 2, fc.record({ k: fc.constant(k), s: nat, who: whoArb(8), pendingOnly: fc.oneof(w(6, fc.constant(true)), w(1, fc.constant(false))), forge: fc.oneof(w(12, fc.constant(0)), w(1, fc.integer({ min: 1, max: 5 }))), reason: fc.integer({ min: 0, max: 6 }) })),
    ),
    w(2, fc.record({ k: fc.constant("unpack" as const), batch: batchArb([5, 1, 1]), who: whoArb(), items: itemsArb() })),
    w(3, fc.record({ k: fc.constant("lock" as const), batch: batchArb([5, 3, 1]), who: whoArb(), items: itemsArb() })),
    w(4, fc.record({ k: fc.constant("decommission" as const), batch: batchArb([5, 3, 1]), who: whoArb(), items: itemsArb(), state: fc.oneof(w(10, fc.constantFrom(...DECOMMISSION)), w(1, fc.integer({ min: 0, max: 10 }))) })),
    w(3, fc.record({ k: fc.constant("revert" as const), batch: batchArb([5, 3, 1]), who: whoArb(), items: itemsArb(40) })),
    w(3, fc.record({ k: fc.constant("unlock" as const), batch: batchArb([5, 3, 1]), who: whoArb(), regulator: fc.boolean(), items: itemsArb(40) })),
    w(7, fc.record({ k: fc.constant("dispense" as const), batch: batchArb([5, 4, 1]), who: whoArb(), unit: fc.record({ mode: fc.oneof(w(8, fc.constant("held" as const)), w(1, fc.constant("dispensed" as const)), w(1, fc.constant("any" as const))), n: nat }), proof: fc.oneof(w(10, fc.constant("valid" as const)), w(1, fc.constant("wrongSerial" as const)), w(1, fc.constant("otherProof" as const))) })),
    w(3, fc.record({ k: fc.constant("undoDispense" as const), batch: batchArb([5, 4, 1]), who: whoArb(), n: nat })),
    w(2, fc.record({ k: fc.constant("writeOff" as const), batch: batchArb([1, 1, 6]), who: whoArb(), qty: qtyArb, reason: fc.integer({ min: 0, max: 1 }) })),
    ...(["quarantine", "lift", "recall"] as const).map((k) => w(k === "recall" ? 1 : 2, fc.record({ k: fc.constant(k), batch: batchArb(), who: whoArb(10) }))),
    w(1, fc.record({ k: fc.constant("suspendNow" as const), who: whoArb(8), target: nat })),
    w(6, fc.record({ k: fc.constant("gov" as const), g: govArb })),
    w(4, fc.record({ k: fc.constant("time" as const), mode: fc.oneof(w(3, fc.constant("tick" as const)), w(2, fc.constant("beforeMidnight" as const)), w(2, fc.constant("atMidnight" as const)), w(2, fc.constant("licenceEdge" as const)), w(3, fc.constant("days" as const))), n: nat })),
  ];
  if (withdrawals) base.push(w(3, fc.record({ k: fc.constant("product" as const), who: whoArb(8), gtin: fc.nat(1), status: fc.oneof(w(4, fc.constant(ProductStatus.Withdrawn)), w(4, fc.constant(ProductStatus.Active)), w(1, fc.constant(ProductStatus.None))) })));
  return fc.oneof(...base);
}

// ─── Describing what a step does ─────────────────────────────────────────────────────────────────

const KIND_WORD = ["unit", "case", "pallet"];
function fmtItems(items: Item[]): string {
  if (items.length === 0) return "[]";
  return `[${items.map((i) => (i.count === 1 ? `${KIND_WORD[i.kind]} ${i.start}` : `${KIND_WORD[i.kind]}s ${i.start}–${i.start + i.count - 1}${i.count === 0 ? " (empty)" : ""}`)).join(", ")}]`;
}
const ROLE_NAMES = ["None", "Producer", "Distributor", "Pharmacy", "Regulator", "Auditor"];

// ─── Running one sequence ────────────────────────────────────────────────────────────────────────

interface Tx {
  key: string;
  to: string;
  data: string;
}
interface Plan {
  /** The action run (a precursor's, when it stands in for an undoing action). */
  kind: string;
  describe: string;
  outcome: Outcome;
  txs: Tx[];
}
const pick = <T>(xs: readonly T[], n: number): T | undefined => (xs.length === 0 ? undefined : xs[n % xs.length]);

class Runner {
  readonly model = new Model();
  readonly ledger: Ledger;
  readonly token: Reader;
  readonly consortium: Reader;
  readonly accounts: string[];
  readonly trace: string[] = [];
  clock: number;
  /** Timestamp of the last block the runner had mined. */
  lastBlock: number;
  /** The step before which governance resumes custody it paused. */
  resumeAt: number | undefined;
  proposals: number;

  constructor(
    readonly fx: Fx,
    readonly init: Initial,
    readonly tokenAddress: string,
    readonly consortiumAddress: string,
  ) {
    this.token = new Reader(tokenAddress, fx.batchToken.interface);
    this.consortium = new Reader(consortiumAddress, fx.consortium.interface);
    this.ledger = init.ledger.clone();
    this.accounts = NAMES.map((n) => fx[n].address);
    this.clock = init.latest + 1;
    this.lastBlock = init.latest;
    this.proposals = init.proposalCount;
  }

  // ─── Set-up: the ledger reads the fixture's events, the model replays the fixture ────────────

  async start() {
    const m = this.model;
    m.now = this.clock;
    for (const [account, r] of this.init.members) {
      m.members.set(account, { ...r, account, name: this.nameOf(account), rotated: false, key: account });
    }
    m.products.set(BigInt(GTIN), { owner: this.fx.producer.address, status: ProductStatus.Active });
    m.products.set(BigInt(GTIN2), { owner: this.fx.producer2.address, status: ProductStatus.Active });
    this.init.batches.forEach((b, i) => {
      const serialised = b.layout.units > 0;
      m.batches.push({ ...b, name: "ABC"[i], status: BatchStatus.Active, quarantines: new Set(), serialised, book: emptyBook(b.layout, b.producer) });
      m.add(b.id, b.producer, b.quantity);
    });
    for (const s of SEED_CUSTODY) {
      const b = m.batches[s.batch];
      const items = Array.isArray(s.what) ? s.what : [];
      const quantity = Array.isArray(s.what) ? BigInt(s.what.reduce((n, i) => n + itemUnits(b.layout, i), 0)) : BigInt(s.what);
      const shipped = m.ship(this.fx[s.from].address, b.id, this.fx[s.to].address, quantity, items);
      if (shipped.error !== null) throw new Error(`the model refuses the fixture's shipment: ${shipped.error}`);
      shipped.commit();
      if (s.accept) {
        const accepted = m.close("accept", this.fx[s.to].address, shipped.shipment!.id, shipped.shipment!.s);
        if (accepted.error !== null) throw new Error(`the model refuses the fixture's acceptance: ${accepted.error}`);
        accepted.commit();
      }
    }
    this.compareModelAndLedger("after the fixture");
    if (!this.init.checked) {
      await this.checkChain("initial", "after the fixture");
      this.init.checked = true;
    }
  }

  nameOf(address: string): string {
    const i = this.accounts.indexOf(address);
    if (i >= 0) return NAMES[i];
    const spare = this.fx.spareKeys.indexOf(address);
    if (spare >= 0) return `key${spare + 1}`;
    if (address === ZERO) return "address(0)";
    if (address === this.tokenAddress) return "the token";
    return address.slice(0, 10);
  }

  // ─── Resolving choices ─────────────────────────────────────────────────────────────────────

  private batchAt(i: number): { id: bigint; b?: MBatch; label: string } {
    const b = this.model.batches[i];
    return b ? { id: b.id, b, label: b.name } : { id: BigInt(this.model.batches.length + 1), label: "an unknown batch" };
  }
  /**
   * For actions that undo or release something (revert, unlock, undo a dispense, lift): with the
   * "right" actor, the picked batch, or else one that has something to undo.
   */
  private batchWith(i: number, who: Who, has: (b: MBatch) => boolean) {
    const picked = this.batchAt(i);
    if (who.mode !== "right" || who.n % 5 === 0 || (picked.b && has(picked.b))) return picked;
    const other = this.model.batches.find(has);
    return other ? this.batchAt(this.model.batches.indexOf(other)) : picked;
  }
  /** A key that signs for nobody: the account's own address after a rotation, else a spare key not in use. */
  private staleKey(account: string): string {
    const m = this.model.members.get(account);
    if (m?.rotated) return account;
    return this.fx.spareKeys.find((k) => !this.model.keyOwner.has(k)) ?? this.fx.outsider.address;
  }
  private actor(who: Who, right: string[]): { account: string; key: string; label: string } {
    const fitting = right.length > 0 ? right : this.accounts;
    const account = who.mode === "any" ? this.accounts[who.n % this.accounts.length] : fitting[who.n % fitting.length];
    if (who.mode === "stale") {
      const key = this.staleKey(account);
      return { account, key, label: `${this.nameOf(account)} signing with ${this.nameOf(key)} (signs for nobody)` };
    }
    const key = this.model.keyOf(account);
    return { account, key, label: key === account ? this.nameOf(account) : `${this.nameOf(account)} (with ${this.nameOf(key)})` };
  }
  private heldBy(b: MBatch, who: string): number[] {
    const out: number[] = [];
    b.book.units.forEach((p, u) => {
      if (p.st === PackState.Held && p.who === who) out.push(u);
    });
    return out;
  }
  private holders(b: MBatch | undefined): string[] {
    if (!b) return [];
    return this.accounts.filter((a) => this.model.bal(b.id, a) > 0n);
  }
  /** Mostly those of `xs` that can act now (active, with a stock-holding role); now and then all of them. */
  private ableFirst(xs: string[], n: number): string[] {
    const able = xs.filter((x) => isStock(this.model.activeRole(x)));
    return n % 5 !== 0 && able.length > 0 ? able : xs;
  }
  private sealedHeld(b: MBatch, kind: number, who: string): number[] {
    const out: number[] = [];
    for (let k = 0; k < limitOf(b.layout, kind); k++) {
      const n = this.model.containerNode(b, b.book, kind, k);
      if (n.st === PackState.Held && n.who === who) out.push(k);
    }
    return out;
  }
  /** Packs and containers carrying a record of their own that satisfies `ok`. */
  private records(b: MBatch, ok: (st: number) => boolean): { item: Item; who: string }[] {
    const out: { item: Item; who: string }[] = [];
    for (const kind of [ITEM_KIND.Units, ITEM_KIND.Case, ITEM_KIND.Pallet]) {
      for (let k = 0; k < limitOf(b.layout, kind); k++) {
        const r = this.model.record(b, b.book, kind, k);
        if (ok(r.st)) out.push({ item: { kind, start: k, count: 1 }, who: r.who });
      }
    }
    return out;
  }
  private items(b: MBatch | undefined, who: string, p: ItemsPick, records?: (st: number) => boolean): Item[] {
    if (!b || !b.serialised) {
      // Without serials custody moves by quantity: items are mostly absent, sometimes named (and refused).
      return p.mode === "empty" || p.n % 5 !== 0 ? [] : [units(p.m % 5, 1 + (p.n % 3))];
    }
    const L = b.layout;
    const caseCount = limitOf(L, ITEM_KIND.Case);
    const palletCount = limitOf(L, ITEM_KIND.Pallet);
    const held = this.heldBy(b, who);
    const runs: [number, number][] = [];
    for (const u of held) {
      const last = runs[runs.length - 1];
      if (last && last[1] === u) last[1] = u + 1;
      else runs.push([u, u + 1]);
    }
    const range = (): Item => {
      const r = pick(runs, p.n);
      if (!r) return units(p.n % L.units, 1 + (p.m % 3));
      const start = r[0] + (p.m % (r[1] - r[0]));
      return units(start, 1 + ((p.m >> 5) % Math.min(8, r[1] - start)));
    };
    const single = (): Item => units(pick(held, p.n) ?? p.n % L.units);
    const aCase = (): Item => cases(pick(this.sealedHeld(b, ITEM_KIND.Case, who), p.n) ?? p.n % Math.max(caseCount, 1));
    switch (p.mode) {
      case "records": {
        const all = records ? this.records(b, records) : [];
        const mine = all.filter((r) => r.who === who);
        const pool = mine.length > 0 ? mine : all;
        const first = pick(pool, p.n);
        if (!first) return [single()];
        const second = pool.length > 1 && p.m % 3 === 0 ? pick(pool, p.n + 1 + (p.m % (pool.length - 1))) : undefined;
        return second ? [first.item, second.item] : [first.item];
      }
      case "pallet":
        return [pallets(pick(this.sealedHeld(b, ITEM_KIND.Pallet, who), p.n) ?? p.n % Math.max(palletCount, 1))];
      case "case":
        return [aCase()];
      case "range":
        return [range()];
      case "single":
        return [single()];
      case "mixed":
        return [aCase(), range()];
      case "dup": {
        const x = p.m % 2 === 0 ? aCase() : single();
        return [x, x];
      }
      case "overlap": {
        const k = pick(this.sealedHeld(b, ITEM_KIND.Case, who), p.n);
        if (k !== undefined) {
          const [first, end] = unitRange(L, ITEM_KIND.Case, k);
          return p.m % 2 === 0 ? [cases(k), units(first + (p.m % (end - first)))] : [units(first + (p.m % (end - first))), cases(k)];
        }
        const r = range();
        return [r, units(r.start + (r.count > 1 ? 1 : 0), 1)];
      }
      case "foreign": {
        const others = b.book.units.map((_, u) => u).filter((u) => !held.includes(u));
        if (p.m % 3 === 0 && caseCount > 0) {
          const notMine = Array.from({ length: caseCount }, (_, k) => k).filter((k) => !this.sealedHeld(b, ITEM_KIND.Case, who).includes(k));
          const k = pick(notMine, p.n);
          if (k !== undefined) return [cases(k)];
        }
        return [units(pick(others, p.n) ?? p.n % L.units)];
      }
      case "invalid":
        return [
          [units(p.n % L.units, 0)],
          [units(L.units - 1, 2)],
          [cases(caseCount, 1)],
          [pallets(palletCount, 1)],
          [cases(p.n % Math.max(caseCount, 1), caseCount + 1)],
        ][p.m % 5];
      case "empty":
        return [];
    }
  }
  private quantity(b: MBatch | undefined, holder: string, items: Item[], q: Qty): bigint {
    if (b && b.serialised) {
      const exact = BigInt(items.reduce((n, i) => n + Math.max(0, itemUnits(b.layout, i)), 0));
      return q.m === "zero" ? 0n : q.m === "plusOne" || q.m === "over" ? exact + 1n : exact;
    }
    const balance = b ? this.model.bal(b.id, holder) : 0n;
    switch (q.m) {
      case "exact":
        return balance > 0n ? 1n + (BigInt(q.n) % balance) : BigInt(1 + (q.n % 4));
      case "all":
        return balance;
      case "plusOne":
      case "over":
        return balance + 1n;
      case "zero":
        return 0n;
    }
  }
  private encode(fn: string, args: readonly unknown[]): string {
    return (this.fx.batchToken.interface as Interface).encodeFunctionData(fn, args);
  }
  private tokenTx(key: string, fn: string, args: readonly unknown[]): Tx[] {
    return [{ key, to: this.tokenAddress, data: this.encode(fn, args) }];
  }
  /** Propose (governor 1), approve (governor 2), execute (governor 1): the action runs in the third block. */
  private govTxs(target: string, data: string): Tx[] {
    const c = this.fx.consortium.interface;
    const id = BigInt(this.proposals + 1);
    const [g1, g2] = this.fx.governors.map((g) => g.address);
    return [
      { key: g1, to: this.consortiumAddress, data: c.encodeFunctionData("propose", [target, data]) },
      { key: g2, to: this.consortiumAddress, data: c.encodeFunctionData("approve", [id]) },
      { key: g1, to: this.consortiumAddress, data: c.encodeFunctionData("execute", [id]) },
    ];
  }
  private receiverFor(actor: string, b: MBatch | undefined, n: number): string {
    const m = this.model;
    const role = m.members.get(actor)?.role ?? Role.None;
    const withRole = (...roles: number[]) => this.accounts.filter((a) => a !== actor && roles.includes(m.members.get(a)?.role ?? Role.None));
    const active = (xs: string[]) => xs.filter((x) => isStock(m.activeRole(x)));
    const all =
      role === Role.Producer
        ? withRole(Role.Distributor)
        : role === Role.Distributor
          ? [...withRole(Role.Distributor, Role.Pharmacy), ...(b ? [b.producer, b.producer] : []), ...withRole(Role.Producer)]
          : role === Role.Pharmacy
            ? withRole(Role.Distributor)
            : withRole(Role.Distributor);
    // Mostly a partner the flow table allows by role and that can receive now; else any partner by
    // role, any member holding stock (flows the table refuses), or anyone at all.
    const stockMembers = this.accounts.filter((x) => x !== actor && isStock(m.members.get(x)?.role ?? Role.None));
    const anyone = [...this.accounts, ZERO, this.tokenAddress, this.fx.spareKeys[0]];
    const choice = n % 8;
    const pool = choice < 4 && active(all).length > 0 ? active(all) : choice < 5 && all.length > 0 ? all : choice < 7 ? stockMembers : anyone;
    return pool[(n >> 3) % pool.length];
  }
  private regulators(): string[] {
    return [this.fx.regulator.address, this.fx.foreignRegulator.address];
  }

  /**
   * The precursor of an undoing action when nothing anywhere can be undone yet, so that sequences
   * reach the states those actions need: a revert becomes a decommission as a sample, free sample
   * or export, an unlock a lock, an undone dispense a dispense, a lift a quarantine.
   */
  private precursor(cmd: Exclude<Cmd, { k: "time" }>): Exclude<Cmd, { k: "time" }> | undefined {
    if (!("who" in cmd) || cmd.who.mode !== "right" || cmd.who.n % 7 === 0) return undefined;
    const m = this.model;
    const serialised = m.batches.filter((b) => b.serialised);
    const held: ItemsMode = (["single", "range", "case"] as const)[cmd.who.n % 3];
    switch (cmd.k) {
      case "revert":
        if (serialised.some((b) => this.records(b, (st) => REVERTIBLE.includes(st)).length > 0)) return undefined;
        return { k: "decommission", batch: cmd.batch, who: cmd.who, items: { ...cmd.items, mode: held }, state: REVERTIBLE[cmd.items.n % 3] };
      case "unlock":
        if (serialised.some((b) => this.records(b, (st) => st === PackState.Locked).length > 0)) return undefined;
        return { k: "lock", batch: cmd.batch, who: cmd.who, items: { ...cmd.items, mode: held } };
      case "undoDispense":
        if (serialised.some((b) => b.book.units.some((p) => p.st === PackState.Dispensed))) return undefined;
        return { k: "dispense", batch: cmd.batch, who: cmd.who, unit: { mode: "held", n: cmd.n }, proof: "valid" };
      case "lift":
        if (m.batches.some((b) => b.quarantines.size > 0)) return undefined;
        return { k: "quarantine", batch: cmd.batch, who: cmd.who };
      default:
        return undefined;
    }
  }

  /** The concrete action of a command, with the model's prediction; "skip" when there is nothing to act on. */
  plan(command: Exclude<Cmd, { k: "time" }>): Plan | "skip" {
    const instead = this.precursor(command);
    if (instead) {
      const p = this.plan(instead);
      return p === "skip" ? p : { ...p, kind: `${p.kind} (for ${command.k})`, describe: `(nothing to ${command.k === "undoDispense" ? "undo" : command.k} yet) ${p.describe}` };
    }
    const p = this.planAction(command);
    return p === "skip" ? p : { ...p, kind: command.k === "gov" ? `gov.${command.g.a}` : command.k };
  }

  private planAction(cmd: Exclude<Cmd, { k: "time" }>): Omit<Plan, "kind"> | "skip" {
    const m = this.model;
    m.now = this.clock;
    const reason = ethers.id("property test");
    switch (cmd.k) {
      case "ship": {
        const { id, b, label } = this.batchAt(cmd.batch);
        const a = this.actor(cmd.who, this.ableFirst(this.holders(b), cmd.to));
        const items = this.items(b, a.account, cmd.items);
        const quantity = this.quantity(b, a.account, items, cmd.qty);
        const to = this.receiverFor(a.account, b, cmd.to);
        return {
          describe: `${a.label} ships ${fmtItems(items)} (${quantity}) of ${label} to ${this.nameOf(to)}`,
          outcome: m.ship(a.key, id, to, quantity, items),
          txs: this.tokenTx(a.key, "ship", [id, to, quantity, items, reason]),
        };
      }
      case "accept":
      case "reject":
      case "cancel": {
        const pool = cmd.pendingOnly ? m.shipments.filter((s) => s.pending) : m.shipments;
        const ms = pick(pool, cmd.s);
        if (!ms) return "skip";
        const s: Shipment = { ...ms.s, items: ms.s.items.map((i) => ({ ...i })) };
        const forged = ["", "quantity + 1", "kind flipped", "receiver = sender", "another batch", "items changed"][cmd.forge];
        if (cmd.forge === 1) s.quantity += 1n;
        if (cmd.forge === 2) s.kind = 1 - s.kind;
        if (cmd.forge === 3) s.receiver = s.sender;
        if (cmd.forge === 4) s.batchId += 1n;
        if (cmd.forge === 5) s.items = s.items.length > 0 ? s.items.slice(1) : [units(0)];
        const party = cmd.k === "cancel" ? ms.s.sender : ms.s.receiver;
        const a = this.actor(cmd.who, [party]);
        const struct = { ...s };
        const describe = `${a.label} ${cmd.k}s shipment ${ms.id} (${fmtItems(ms.s.items)} ${ms.s.quantity} of ${m.batchOf(ms.s.batchId)?.name} ${this.nameOf(ms.s.sender)}→${this.nameOf(ms.s.receiver)}, ${ms.s.kind === 0 ? "forward" : "return"}${ms.pending ? "" : ", closed"})${forged ? ` with ${forged}` : ""}`;
        return {
          describe,
          outcome: m.close(cmd.k, a.key, ms.id, s),
          txs: this.tokenTx(a.key, cmd.k === "accept" ? "acceptShipment" : cmd.k === "reject" ? "rejectShipment" : "cancelShipment", cmd.k === "reject" ? [ms.id, struct, cmd.reason] : [ms.id, struct]),
        };
      }
      case "unpack":
      case "lock": {
        const { id, b, label } = this.batchAt(cmd.batch);
        const a = this.actor(cmd.who, this.holders(b));
        // Unpacking names containers: unit picks become a case or pallet pick (a few stay, and are refused).
        const containerPick: ItemsPick = ["range", "single", "mixed", "foreign"].includes(cmd.items.mode) && cmd.items.m % 4 !== 0 ? { ...cmd.items, mode: cmd.items.n % 3 === 0 ? "pallet" : "case" } : cmd.items;
        const items = this.items(b, a.account, cmd.k === "unpack" ? containerPick : cmd.items);
        return {
          describe: `${a.label} ${cmd.k}s ${fmtItems(items)} of ${label}`,
          outcome: cmd.k === "unpack" ? m.unpack(a.key, id, items) : m.lock(a.key, id, items),
          txs: this.tokenTx(a.key, cmd.k, cmd.k === "unpack" ? [id, items] : [id, items, reason]),
        };
      }
      case "decommission": {
        const { id, b, label } = this.batchAt(cmd.batch);
        const a = this.actor(cmd.who, this.ableFirst(this.holders(b), cmd.state));
        const items = this.items(b, a.account, cmd.items);
        return {
          describe: `${a.label} decommissions ${fmtItems(items)} of ${label} as ${PackState_(cmd.state)}`,
          outcome: m.decommission(a.key, id, items, cmd.state),
          txs: this.tokenTx(a.key, "decommission", [id, items, cmd.state, reason]),
        };
      }
      case "revert": {
        const { id, b, label } = this.batchWith(cmd.batch, cmd.who, (x) => x.serialised && this.records(x, (st) => REVERTIBLE.includes(st)).length > 0);
        const setters = b ? [...new Set(this.records(b, (st) => REVERTIBLE.includes(st)).map((r) => r.who))] : [];
        const a = this.actor(cmd.who, setters.length > 0 ? setters : this.holders(b));
        const items = this.items(b, a.account, cmd.items, (st) => REVERTIBLE.includes(st));
        return {
          describe: `${a.label} reverts the decommission of ${fmtItems(items)} of ${label}`,
          outcome: m.revertDecommission(a.key, id, items),
          txs: this.tokenTx(a.key, "revertDecommission", [id, items, reason]),
        };
      }
      case "unlock": {
        const { id, b, label } = this.batchWith(cmd.batch, cmd.who, (x) => x.serialised && this.records(x, (st) => st === PackState.Locked).length > 0);
        const lockers = b ? [...new Set(this.records(b, (st) => st === PackState.Locked).map((r) => r.who))] : [];
        const holder = this.actor({ mode: "right", n: cmd.who.n }, lockers.length > 0 ? lockers : this.holders(b)).account;
        const a = cmd.regulator && cmd.who.mode === "right" ? this.actor(cmd.who, this.regulators()) : this.actor(cmd.who, [holder]);
        const items = this.items(b, holder, cmd.items, (st) => st === PackState.Locked);
        return {
          describe: `${a.label} unlocks ${fmtItems(items)} of ${label} locked by ${this.nameOf(holder)}`,
          outcome: m.unlock(a.key, id, holder, items),
          txs: this.tokenTx(a.key, "unlock", [id, holder, items, reason]),
        };
      }
      case "dispense": {
        const { id, b, label } = this.batchAt(cmd.batch);
        const pharmacies = this.accounts.filter((x) => m.members.get(x)?.role === Role.Pharmacy);
        const holding = b ? pharmacies.filter((x) => this.heldBy(b, x).length > 0 && m.activeRole(x) === Role.Pharmacy) : [];
        const a = this.actor(cmd.who, holding.length > 0 ? holding : pharmacies);
        const size = b?.serialised ? b.layout.units : 0;
        const dispensed = b?.serialised ? b.book.units.map((p, u) => (p.st === PackState.Dispensed ? u : -1)).filter((u) => u >= 0) : [];
        const heldUnits = b?.serialised ? this.heldBy(b, a.account) : [];
        const unit =
          cmd.unit.mode === "dispensed" && dispensed.length > 0
            ? dispensed[cmd.unit.n % dispensed.length]
            : cmd.unit.mode === "held" && heldUnits.length > 0
              ? heldUnits[cmd.unit.n % heldUnits.length]
              : cmd.unit.n % (size + 2);
        const tree = this.fx.batches[cmd.batch]?.input.serialCount ? this.fx.batches[cmd.batch] : undefined;
        const inRange = unit < size;
        let serial = tree && inRange ? tree.serials[unit] : `NOPE-${unit}`;
        let proof: string[] = tree ? tree.proofOf(inRange ? unit : 0) : [];
        let valid = Boolean(tree) && inRange;
        if (cmd.proof === "wrongSerial") {
          serial = `${serial}X`;
          valid = false;
        } else if (cmd.proof === "otherProof" && tree) {
          proof = tree.proofOf((unit + 1) % size);
          valid = false;
        }
        return {
          describe: `${a.label} dispenses pack ${unit} of ${label} (${cmd.proof === "valid" ? "its serial and proof" : cmd.proof === "wrongSerial" ? "a wrong serial" : "another pack's proof"})`,
          outcome: m.dispense(a.key, id, unit, valid),
          txs: this.tokenTx(a.key, "dispense", [id, unit, serial, proof]),
        };
      }
      case "undoDispense": {
        const { id, b, label } = this.batchWith(cmd.batch, cmd.who, (x) => x.book.units.some((p) => p.st === PackState.Dispensed));
        const dispensed = b?.serialised ? b.book.units.map((p, u) => ({ p, u })).filter(({ p }) => p.st === PackState.Dispensed) : [];
        const dispensers = [...new Set(dispensed.map((d) => d.p.who))];
        const a = this.actor(cmd.who, dispensers.length > 0 ? dispensers : this.accounts.filter((x) => m.members.get(x)?.role === Role.Pharmacy));
        const mine = dispensed.filter((d) => d.p.who === a.account);
        const unit = pick(mine, cmd.n)?.u ?? pick(dispensed, cmd.n)?.u ?? cmd.n % Math.max(b?.layout.units ?? 1, 1);
        return {
          describe: `${a.label} undoes the dispense of pack ${unit} of ${label}`,
          outcome: m.undoDispense(a.key, id, unit),
          txs: this.tokenTx(a.key, "undoDispense", [id, unit, reason]),
        };
      }
      case "writeOff": {
        const { id, b, label } = this.batchAt(cmd.batch);
        const a = this.actor(cmd.who, this.holders(b));
        const quantity = this.quantity(b?.serialised ? undefined : b, a.account, [], cmd.qty);
        return {
          describe: `${a.label} writes off ${quantity} of ${label} (${cmd.reason === 0 ? "destroyed" : "stolen"})`,
          outcome: m.writeOff(a.key, id, quantity),
          txs: this.tokenTx(a.key, "writeOff", [id, quantity, cmd.reason, reason]),
        };
      }
      case "quarantine":
      case "lift":
      case "recall": {
        const { id, b, label } = cmd.k === "lift" ? this.batchWith(cmd.batch, cmd.who, (x) => x.quarantines.size > 0) : this.batchAt(cmd.batch);
        // Regulators of the batch's markets (for a lift, those whose jurisdiction holds a quarantine), the producer for a recall.
        const ofMarkets = this.regulators().filter((r) => !b || b.markets.includes(m.members.get(r)!.jurisdiction));
        const holding = b ? ofMarkets.filter((r) => b.quarantines.has(m.members.get(r)!.jurisdiction)) : [];
        const right =
          cmd.k === "recall"
            ? [...ofMarkets, ...(b ? [b.producer, m.products.get(b.gtin)!.owner] : [])]
            : cmd.k === "lift" && holding.length > 0 && cmd.who.n % 4 !== 0
              ? holding
              : cmd.who.n % 4 !== 0 && ofMarkets.length > 0
                ? ofMarkets
                : this.regulators();
        const a = this.actor(cmd.who, right);
        const fn = cmd.k === "lift" ? "liftQuarantine" : cmd.k;
        return {
          describe: `${a.label} ${cmd.k === "lift" ? "lifts its quarantine of" : cmd.k + "s"} ${label}`,
          outcome: cmd.k === "recall" ? m.recall(a.key, id) : m.quarantine(a.key, id, cmd.k === "lift"),
          txs: this.tokenTx(a.key, fn, [id, reason]),
        };
      }
      case "product": {
        const gtin = BigInt([GTIN, GTIN2][cmd.gtin]);
        const a = this.actor(cmd.who, [m.products.get(gtin)!.owner]);
        return {
          describe: `${a.label} sets product ${cmd.gtin === 0 ? "GTIN" : "GTIN2"} to ${["None", "Active", "Withdrawn"][cmd.status]}`,
          outcome: m.setProductStatus(a.key, gtin, cmd.status),
          txs: this.tokenTx(a.key, "setProductStatus", [gtin, cmd.status, reason]),
        };
      }
      case "suspendNow": {
        const a = this.actor(cmd.who, this.regulators());
        // Mostly a member of the regulator's own jurisdiction.
        const own = this.accounts.filter((x) => x !== a.account && m.members.get(x)?.jurisdiction === m.members.get(a.account)?.jurisdiction);
        const target = cmd.target % 4 !== 0 && own.length > 0 ? own[(cmd.target >> 2) % own.length] : this.accounts[cmd.target % this.accounts.length];
        return {
          describe: `${a.label} suspends ${this.nameOf(target)} at once`,
          outcome: m.emergencySuspend(a.key, target),
          txs: [{ key: a.key, to: this.consortiumAddress, data: this.fx.consortium.interface.encodeFunctionData("emergencySuspend", [target, reason]) }],
        };
      }
      case "gov":
        return this.planGovAction(cmd.g);
    }
  }

  private planGovAction(g: Gov): Omit<Plan, "kind"> | "skip" {
    const m = this.model;
    m.now = this.clock + 2; // the action runs in the execute transaction, the third block
    const c = this.fx.consortium.interface;
    const self = this.consortiumAddress;
    const members = this.accounts.filter((a) => m.members.has(a));
    const target = (n: number) => (n % 10 === 9 ? this.accounts[(n >> 4) % this.accounts.length] : members[(n >> 4) % members.length]);
    switch (g.a) {
      case "changeRole": {
        const t = target(g.target);
        return { describe: `governance changes ${this.nameOf(t)}'s role to ${ROLE_NAMES[g.role]}`, outcome: m.changeRole(t, g.role), txs: this.govTxs(self, c.encodeFunctionData("changeRole", [t, g.role])) };
      }
      case "suspend":
      case "reinstate":
      case "revoke": {
        const suspended = members.filter((a) => m.members.get(a)!.status === MemberStatus.Suspended);
        const t = g.a === "reinstate" && suspended.length > 0 && g.target % 4 !== 0 ? suspended[g.target % suspended.length] : target(g.target);
        const fn = g.a === "suspend" ? "suspendMember" : g.a === "reinstate" ? "reinstateMember" : "revokeMember";
        const args = g.a === "reinstate" ? [t] : [t, ethers.id("governance")];
        return { describe: `governance ${g.a}s ${this.nameOf(t)}`, outcome: m.setMemberStatus(g.a, t), txs: this.govTxs(self, (c as Interface).encodeFunctionData(fn, args)) };
      }
      case "renew": {
        const t = target(g.target);
        const expiry = g.span === "past" ? m.now : g.span === "short" ? m.now + DAY + (g.n % (2 * DAY)) : m.now + 365 * DAY;
        return {
          describe: `governance renews ${this.nameOf(t)}'s licence to ${g.span === "past" ? "this very second" : `${((expiry - m.now) / DAY).toFixed(2)} days ahead`}`,
          outcome: m.renewLicence(t, expiry),
          txs: this.govTxs(self, c.encodeFunctionData("renewLicence", [t, LICENCE_HASH, expiry])),
        };
      }
      case "rotate": {
        const t = target(g.target);
        const free = this.fx.spareKeys.filter((k) => !m.keyOwner.has(k));
        const key =
          g.key === "spare"
            ? (pick(free, g.n) ?? this.fx.spareKeys[g.n % this.fx.spareKeys.length])
            : g.key === "member"
              ? members[g.n % members.length]
              : g.key === "current"
                ? m.keyOf(t)
                : ZERO;
        return { describe: `governance rotates ${this.nameOf(t)}'s key to ${this.nameOf(key)}`, outcome: m.rotateKey(t, key), txs: this.govTxs(self, c.encodeFunctionData("rotateKey", [t, key])) };
      }
      case "pause": {
        const paused = g.n % 8 === 0 ? m.paused : !m.paused;
        return { describe: `governance ${paused ? "pauses" : "resumes"} custody`, outcome: m.setPaused(paused), txs: this.govTxs(this.tokenAddress, this.encode("setPaused", [paused, ethers.id("incident")])) };
      }
      case "recover": {
        const { id, b, label } = this.batchAt(g.batch);
        // Mostly from a holder that can no longer move its stock itself.
        const holders = this.holders(b);
        const stuck = holders.filter((h) => !isStock(m.activeRole(h)));
        const lockers = b?.serialised ? [...new Set(this.records(b, (st) => st === PackState.Locked).map((r) => r.who))] : [];
        const from = this.actor(g.from, stuck.length > 0 && g.from.n % 3 !== 0 ? stuck : [...holders, ...lockers]).account;
        const stock = this.accounts.filter((a) => a !== from && isStock(m.activeRole(a)));
        const nonStock = this.accounts.filter((a) => !isStock(m.activeRole(a)));
        const to = g.to === "zero" ? ZERO : g.to === "holder" ? (pick(stock, g.from.n >> 3) ?? ZERO) : (pick(nonStock, g.from.n >> 3) ?? ZERO);
        const items = this.items(b, from, g.items, (st) => st === PackState.Locked);
        const quantity = this.quantity(b, from, items, g.qty);
        const state = to === ZERO && g.state % 3 !== 0 ? [PackState.Destroyed, PackState.Stolen][g.state % 2] : g.state;
        return {
          describe: `governance recovers ${fmtItems(items)} (${quantity}) of ${label} from ${this.nameOf(from)} ${to === ZERO ? `into ${PackState_(state)}` : `to ${this.nameOf(to)}`}`,
          outcome: m.recoverCustody(id, from, to, quantity, items, state),
          txs: this.govTxs(this.tokenAddress, this.encode("recoverCustody", [id, from, to, quantity, items, state, ethers.id("evidence")])),
        };
      }
      case "recoverShipment": {
        const ms = pick(m.shipments.filter((s) => s.pending), g.s) ?? pick(m.shipments, g.s);
        if (!ms) return "skip";
        const stock = this.accounts.filter((a) => isStock(m.activeRole(a)));
        const nonStock = this.accounts.filter((a) => !isStock(m.activeRole(a)));
        const to = g.to === "sender" ? ms.s.sender : g.to === "receiver" ? ms.s.receiver : g.to === "other" ? (pick(stock, g.n) ?? ZERO) : (pick(nonStock, g.n) ?? ZERO);
        return {
          describe: `governance recovers shipment ${ms.id} (${this.nameOf(ms.s.sender)}→${this.nameOf(ms.s.receiver)}${ms.pending ? "" : ", closed"}) to ${this.nameOf(to)}`,
          outcome: m.recoverShipment(ms.id, ms.s, to),
          txs: this.govTxs(this.tokenAddress, this.encode("recoverShipment", [ms.id, ms.s, to, ethers.id("evidence")])),
        };
      }
    }
  }

  private advance(mode: TimeMode, n: number): string {
    const nextMidnight = (Math.floor(this.clock / DAY) + 1) * DAY;
    switch (mode) {
      case "tick":
        this.clock += 1 + (n % 7200);
        break;
      case "beforeMidnight":
        this.clock = Math.max(this.clock, nextMidnight - 1);
        break;
      case "atMidnight":
        this.clock = nextMidnight;
        break;
      case "licenceEdge": {
        const soon = [...this.model.members.values()].map((x) => x.licenceExpiry).filter((e) => e >= this.clock && e - this.clock < 15 * DAY).sort((a, b) => a - b);
        const expiry = pick(soon, n);
        if (expiry === undefined) return "no licence lapses within 15 days";
        this.clock = Math.max(this.clock, expiry - ((n >> 4) % 2));
        break;
      }
      case "days":
        this.clock += [1, 2, 3, 10, 11][n % 5] * DAY;
        break;
    }
    const t = new Date(this.clock * 1000).toISOString().replace(".000Z", "Z");
    return `the next transaction runs at ${t} (day ${Math.floor(this.clock / DAY)})`;
  }

  // ─── One step ───────────────────────────────────────────────────────────────────────────────

  async step(cmd: Cmd, index: number) {
    // A pause lasts a few steps: governance resumes custody as it planned to.
    if (this.resumeAt !== undefined && index >= this.resumeAt) {
      this.resumeAt = undefined;
      if (this.model.paused) {
        this.model.now = this.clock + 2;
        const data = this.encode("setPaused", [false, ethers.id("incident closed")]);
        await this.execute({ kind: "gov.pause", describe: "governance resumes custody, as planned", outcome: this.model.setPaused(false), txs: this.govTxs(this.tokenAddress, data) }, `${index}′`);
      }
    }
    if (cmd.k === "time") {
      if (STATS) count(`time.${cmd.mode}`, "done");
      this.trace.push(`${index}: time — ${this.advance(cmd.mode, cmd.n)}`);
      return;
    }
    const plan = this.plan(cmd);
    if (plan === "skip") return;
    await this.execute(plan, String(index));
    if (cmd.k === "gov" && cmd.g.a === "pause" && this.model.paused) this.resumeAt = index + 1 + ((cmd.g.n >> 3) % 6);
  }

  /** Sends a plan's transactions, compares the outcome with the prediction and checks the invariants. */
  private async execute(plan: Plan, index: string) {
    const where = `step ${index} (${plan.describe})`;
    const mined: { receipt: RawReceipt; key: string; timestamp: number }[] = [];
    let failure: string | null = null;
    for (let i = 0; i < plan.txs.length; i++) {
      const tx = plan.txs[i];
      const timestamp = this.clock;
      await rpc("evm_setNextBlockTimestamp", [timestamp]);
      this.clock += 1; // a reverted transaction is mined too (fixed gas limit, no estimate)
      this.lastBlock = timestamp;
      if (i === 0 && plan.txs.length === 3) this.proposals += 1;
      try {
        const hash = await rpc<string>("eth_sendTransaction", [{ from: tx.key, to: tx.to, data: tx.data, gas: GAS }]);
        mined.push({ receipt: await rpc<RawReceipt>("eth_getTransactionReceipt", [hash]), key: tx.key, timestamp });
      } catch (err) {
        failure = revertName(err, [this.fx.batchToken.interface, this.fx.consortium.interface]);
        if (i < plan.txs.length - 1) throw new Error(`${where}: governance plumbing failed with ${failure}`);
      }
    }
    const predicted = plan.outcome.error ?? "success";
    if (STATS) count(plan.kind, failure ?? "success");
    this.trace.push(`${index}: ${plan.describe} → ${failure ?? "success"}${failure === plan.outcome.error ? "" : ` (model: ${predicted})`}`);
    if ((failure ?? null) !== plan.outcome.error) {
      throw new InvariantViolation(MODEL.outcome, `the chain answered ${failure ?? "success"}, the model predicted ${predicted}`);
    }
    for (const { receipt, timestamp } of mined) {
      const block = await rpc<{ timestamp: string }>("eth_getBlockByNumber", [receipt.blockNumber, false]);
      if (Number(block.timestamp) !== timestamp) throw new Error(`${where}: mined at ${Number(block.timestamp)}, not at ${timestamp}`);
    }
    if (plan.outcome.error !== null) return; // a reverted transaction changes nothing to read again
    const touched: Touched = { units: new Map(), containers: new Map(), shipments: new Set(), batches: new Set(), members: false };
    const unpacked: string[] = [];
    for (const { receipt, key, timestamp } of mined) {
      const t = this.ledger.ingest(receipt.logs as unknown as Log[], key, timestamp);
      for (const [id, set] of t.units) touched.units.set(id, new Set([...(touched.units.get(id) ?? []), ...set]));
      for (const [id, set] of t.containers) touched.containers.set(id, new Set([...(touched.containers.get(id) ?? []), ...set]));
      t.shipments.forEach((s) => touched.shipments.add(s));
      t.batches.forEach((b) => touched.batches.add(b));
      touched.members ||= t.members;
      for (const l of receipt.logs) {
        if (l.address.toLowerCase() !== this.tokenAddress.toLowerCase()) continue;
        const e = this.fx.batchToken.interface.parseLog(l);
        if (e?.name === "ContainerUnpacked") unpacked.push(`${e.args.holder}:${Number(e.args.kind)}:${Number(e.args.index)}`);
      }
    }
    plan.outcome.commit();
    const expectedUnpacked = [...plan.outcome.unpacked].sort().join(" ");
    if (unpacked.sort().join(" ") !== expectedUnpacked) {
      throw new InvariantViolation(MODEL.state, `containers opened: chain [${unpacked.map((x) => this.describeUnpack(x))}], model [${plan.outcome.unpacked.map((x) => this.describeUnpack(x))}]`);
    }
    if (plan.outcome.shipment) {
      const created = this.ledger.shipments.get(plan.outcome.shipment.id);
      const s = plan.outcome.shipment.s;
      if (!created || created.sender !== s.sender || created.receiver !== s.receiver || created.quantity !== s.quantity || created.kind !== s.kind) {
        throw new InvariantViolation(MODEL.state, `shipment ${plan.outcome.shipment.id} created as ${JSON.stringify(created, (_, v) => (typeof v === "bigint" ? String(v) : v))}`);
      }
    }
    this.compareModelAndLedger(where);
    await this.checkChain(touched, where);
  }

  private describeUnpack(x: string): string {
    const [holder, kind, k] = x.split(":");
    return `${KIND_WORD[Number(kind)]} ${k} by ${this.nameOf(holder)}`;
  }

  // ─── Model against ledger (pure) ────────────────────────────────────────────────────────────

  compareModelAndLedger(where: string) {
    const m = this.model;
    const l = this.ledger;
    const eq = (actual: unknown, expected: unknown, what: () => string) => {
      if (actual !== expected) throw new InvariantViolation(MODEL.state, `${what()}: events say ${String(actual)}, model says ${String(expected)} (${where})`);
    };
    for (const b of m.batches) {
      const lb = l.batches.get(b.id)!;
      eq(lb.status, b.status, () => `status of batch ${b.name}`);
      eq([...lb.quarantines].sort().join(), [...b.quarantines].sort().join(), () => `quarantines of batch ${b.name}`);
      b.book.units.forEach((p, u) => {
        const q = lb.packs[u];
        const what = () => `pack ${u} of ${b.name}`;
        eq(PackState_(q.st), PackState_(p.st), what);
        eq(this.nameOf(q.who), this.nameOf(p.who), what);
        if (p.st !== PackState.Held && p.st !== PackState.InTransit) eq(q.day, p.day, what);
      });
      for (const [kind, boxes] of [[ITEM_KIND.Case, b.book.cases], [ITEM_KIND.Pallet, b.book.pallets]] as const) {
        boxes.forEach((box, k) => eq(l.batches.get(b.id)!.opened.get(`${kind}:${k}`), box.opened ? box.opener : undefined, () => `${KIND_WORD[kind]} ${k} of ${b.name} opened by`));
      }
    }
    const keys = new Set([...m.balances.keys(), ...l.balances.keys()]);
    for (const k of keys) eq(l.balances.get(k) ?? 0n, m.balances.get(k) ?? 0n, () => `balance ${k}`);
    for (const s of m.shipments) eq(l.shipments.get(s.id)?.pending, s.pending, () => `shipment ${s.id} pending`);
    for (const [gtin, p] of m.products) eq(l.products.get(gtin)?.status, p.status, () => `status of product ${gtin}`);
    for (const [account, x] of m.members) {
      const y = l.members.get(account)!;
      eq(y.role, x.role, () => `role of ${x.name}`);
      eq(y.status, x.status, () => `status of ${x.name}`);
      eq(y.licenceExpiry, x.licenceExpiry, () => `licence expiry of ${x.name}`);
      eq(y.key, x.rotated ? x.key : account, () => `key of ${x.name}`);
    }
    eq(l.paused, m.paused, () => "paused");
  }

  // ─── Ledger against the chain ───────────────────────────────────────────────────────────────

  /**
   * After a step: balances, every pack (held ones through one holdsUnits per holder, the others
   * through packState), a second holder for the packs the step touched and their neighbours, and
   * the containers, shipments, batches and members it touched. At the start ("initial") also every
   * held pack's state and second holder; at the start and the end every container, shipment,
   * batch and member.
   */
  async checkChain(touched: Touched | "initial" | "final", where: string) {
    const l = this.ledger;
    const step = typeof touched === "object" ? touched : undefined;
    const eq = (actual: unknown, expected: unknown, invariant: string, what: () => string) => {
      if (actual !== expected) throw new InvariantViolation(invariant, `${what()}: chain says ${String(actual)}, events say ${String(expected)} (${where})`);
    };
    const indexOf = (account: string) => l.members.get(account)?.index ?? 0;
    const ids = [...l.batches.keys()];

    // Balances of every account, key and system contract in every batch.
    const parties = [...this.accounts, ...this.fx.spareKeys, ...this.fx.governors.map((g) => g.address), this.tokenAddress, this.consortiumAddress, ZERO];
    const [balances] = await this.token.call("balanceOfBatch", [ids.flatMap(() => parties), ids.flatMap((id) => parties.map(() => id))]);
    ids.forEach((id, bi) =>
      parties.forEach((p, pi) => eq((balances as bigint[])[bi * parties.length + pi], l.bal(id, p), INVARIANT.balance, () => `balance of ${this.nameOf(p)} in batch ${id}`)),
    );

    for (const b of l.batches.values()) {
      if (b.layout.units === 0) continue;
      // Held packs: one holdsUnits per holder over all its packs.
      const heldBy = new Map<string, number[]>();
      b.packs.forEach((p, u) => {
        if (p.st === PackState.Held) heldBy.set(p.who, [...(heldBy.get(p.who) ?? []), u]);
      });
      for (const [holder, us] of heldBy) {
        const [ok] = await this.token.call("holdsUnits", [b.id, holder, toRanges(us)]);
        eq(ok, true, INVARIANT.onePlace, () => `${this.nameOf(holder)} holds packs ${toRanges(us).map((r) => `${r.start}+${r.count}`)} of batch ${b.id}`);
      }
      // Every other pack: its state, member and day.
      for (let u = 0; u < b.packs.length; u++) {
        const p = b.packs[u];
        if (p.st === PackState.Held && touched !== "initial") continue;
        const [st, member, day] = await this.token.call("packState", [b.id, ITEM_KIND.Units, u]);
        const what = () => `pack ${u} of batch ${b.id} (${PackState_(p.st)} of ${this.nameOf(p.who)}, day ${p.day})`;
        eq(PackState_(Number(st)), PackState_(p.st), INVARIANT.onePlace, what);
        if (p.st === PackState.Held) {
          if (Number(member) !== 0) eq(Number(member), indexOf(p.who), INVARIANT.onePlace, what);
        } else if (p.st !== PackState.InTransit) {
          eq(Number(member), indexOf(p.who), INVARIANT.onePlace, what);
          eq(Number(day), p.day, INVARIANT.onePlace, what);
        }
      }
      // No second holder: a pack out of its case is in one member's hands only.
      const candidates = [...(l.looseHolders.get(b.id) ?? [])];
      const near = new Set<number>();
      if (touched === "initial") b.packs.forEach((_, u) => near.add(u));
      for (const u of step?.units.get(b.id) ?? []) [u - 1, u, u + 1].forEach((x) => x >= 0 && x < b.packs.length && near.add(x));
      for (const u of near) {
        const p = b.packs[u];
        if (p.st !== PackState.Held) continue;
        for (const other of candidates) {
          if (other === p.who) continue;
          const [ok] = await this.token.call("holdsUnits", [b.id, other, [units(u)]]);
          eq(ok, false, INVARIANT.onePlace, () => `${this.nameOf(other)} holds pack ${u} of batch ${b.id}, held by ${this.nameOf(p.who)}`);
        }
      }
      // Containers: Unpacked by their opener, or the state their sealed packs share.
      const boxes = step
        ? [...(step.containers.get(b.id) ?? [])]
        : [ITEM_KIND.Case, ITEM_KIND.Pallet].flatMap((kind) => Array.from({ length: limitOf(b.layout, kind) }, (_, k) => `${kind}:${k}`));
      for (const key of boxes) {
        const [kind, k] = key.split(":").map(Number);
        const e = l.containerState(b, kind, k);
        const [st, member, day] = await this.token.call("packState", [b.id, kind, k]);
        const what = () => `${KIND_WORD[kind]} ${k} of batch ${b.id} (${PackState_(e.st)} of ${this.nameOf(e.who)})`;
        eq(PackState_(Number(st)), PackState_(e.st), INVARIANT.sealed, what);
        eq(Number(member), indexOf(e.who), INVARIANT.sealed, what);
        if (e.st !== PackState.Held && e.st !== PackState.Unpacked) eq(Number(day), e.day, INVARIANT.sealed, what);
      }
    }
    const shipmentIds = step ? [...step.shipments] : [...l.shipments.keys()];
    for (const id of shipmentIds) {
      const s = l.shipments.get(id)!;
      const [pending] = await this.token.call("isPendingShipment", [id, s]);
      eq(pending, s.pending, MODEL.chain, () => `shipment ${id} pending`);
    }
    for (const id of step ? [...step.batches] : ids) {
      const [b] = await this.token.call("batch", [id]);
      eq(Number(b.status), l.batches.get(id)!.status, INVARIANT.neverForward, () => `status of batch ${id}`);
    }
    const [paused] = await this.token.call("paused", []);
    eq(paused, l.paused, MODEL.chain, () => "custody paused");
    if (!step || step.members) {
      for (const [account, x] of l.members) {
        const [rec] = await this.consortium.call("member", [account]);
        eq(Number(rec.role), x.role, MODEL.chain, () => `role of ${this.nameOf(account)}`);
        eq(Number(rec.status), x.status, MODEL.chain, () => `status of ${this.nameOf(account)}`);
        eq(Number(rec.licenceExpiry), x.licenceExpiry, MODEL.chain, () => `licence expiry of ${this.nameOf(account)}`);
        const [key] = await this.consortium.call("keyOf", [account]);
        eq(key, x.key, INVARIANT.identity, () => `key of ${this.nameOf(account)}`);
      }
    }
  }

  /** End of a sequence: everything read again, and the clock where the chain is. */
  async finish() {
    await this.checkChain("final", "at the end of the sequence");
    const latest = await time.latest();
    if (latest !== this.lastBlock) throw new Error(`the chain's last block is at ${latest}, the runner mined its last at ${this.lastBlock}`);
  }
}

const isStock = (role: number) => role === Role.Producer || role === Role.Distributor || role === Role.Pharmacy;

/** Unit items covering `us` (sorted unit indexes) in consecutive ranges. */
function toRanges(us: number[]): Item[] {
  const out: Item[] = [];
  for (const u of us) {
    const last = out[out.length - 1];
    if (last && last.start + last.count === u) last.count++;
    else out.push(units(u));
  }
  return out;
}

// ─── The properties ──────────────────────────────────────────────────────────────────────────────

describe("Package-level custody under random action sequences", function () {
  this.timeout(Math.max(600_000, NUM_RUNS * MAX_STEPS * 1_000));

  async function runSequence(cmds: Cmd[]) {
    const fx = await loadFixture(propertiesFixture);
    initial ??= await readInitial(fx);
    expect(await time.latest(), "loadFixture restored the fixture's last block").to.equal(initial.latest);
    const runner = new Runner(fx, initial, await fx.batchToken.getAddress(), await fx.consortium.getAddress());
    let index = -1;
    try {
      await runner.start();
      for (index = 0; index < cmds.length; index++) await runner.step(cmds[index], index);
      index = cmds.length;
      await runner.finish();
    } catch (err) {
      if (!(err instanceof InvariantViolation)) throw err;
      const at = index < 0 ? "while setting up" : index < cmds.length ? `at step ${index}` : "at the end";
      throw new Error(`Counterexample — ${err.message}\n  ${at}\n  trace:\n    ${runner.trace.join("\n    ")}`);
    }
  }

  after(function () {
    if (!STATS) return;
    for (const [action, byOutcome] of [...stats].sort()) {
      const total = [...byOutcome.values()].reduce((a, b) => a + b, 0);
      console.log(`    ${action.padEnd(22)} ${String(total).padStart(5)}  ${[...byOutcome].sort((a, b) => b[1] - a[1]).map(([o, n]) => `${o.replace("BatchToken", "").replace("Consortium", "C.")} ${n}`).join(", ")}`);
    }
  });

  const params = { numRuns: NUM_RUNS, seed: SEED, path: PATH, endOnFailure: !SHRINK, verbose: 0 as const };
  const sequences = (withdrawals: boolean) => fc.array(cmdArb(withdrawals), { minLength: 1, maxLength: MAX_STEPS, size: "max" });

  it("keeps every pack in one place, balances, conservation, identity and the flow table, as the documented rules predict", async function () {
    if (ONLY && ONLY !== "main") this.skip();
    await fc.assert(fc.asyncProperty(sequences(false), runSequence), params);
  });

  it("does the same with products withdrawn and reinstated by their owners inside the sequences", async function () {
    if (ONLY && ONLY !== "withdrawals") this.skip();
    await fc.assert(fc.asyncProperty(sequences(true), runSequence), params);
  });
});
