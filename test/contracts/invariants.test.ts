/**
 * Property-based tests of BatchToken custody: random sequences of actions by random actors run
 * against the real contracts on the in-process Hardhat network, with a model predicting every
 * outcome and invariants checked after every step.
 *
 * Two independent views are kept:
 * - the Model predicts, from the documented rules of IBatchToken (flow table, status machine,
 *   balances, receiver/sender identity), whether each action succeeds, which errors it may revert
 *   with, and the resulting balances; chain balances must equal the model after every step;
 * - the Ledger is derived only from the events the contracts emit (and balances read on chain),
 *   and carries the conservation, holder, frozen-batch, completion and dispense invariants.
 *
 * Units in transit: BatchToken documents them as held by the pending shipment (ERC-1155 transfer
 * to the zero address at ship, back from it at completion). The ledger learns from the first
 * shipment whether transit goes to the zero address or to the contract's own balance (escrow) and
 * then requires every shipment to do the same, the contract's own balance to be 0 (or exactly the
 * pending quantities when escrowed), and minted = Σ member balances + Σ pending shipments +
 * dispensed + written off per batch.
 *
 * FC_RUNS (default 200) sets the number of sequences, FC_SEED replays a failing run (fast-check
 * prints the seed and path; FC_PATH replays one exact counterexample).
 */
import { expect } from "chai";
import fc from "fast-check";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Log, TransactionReceipt, TransactionResponse } from "ethers";
import { BatchStatus, GTIN, Role, deploySystemFixture, mintBatch, serialTree, ship, deliver } from "../fixtures/system";
import type { BatchToken, Consortium } from "../../typechain-types";

const DAY = 86_400;
const NUM_RUNS = Number(process.env.FC_RUNS ?? 200);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const PATH = process.env.FC_PATH;
const ZERO = ethers.ZeroAddress;

type Tree = ReturnType<typeof serialTree>;

// ─── Fixture: the deployed system, moved to noon of a fresh UTC day, with seeded custody ────────

/**
 * Noon keeps every step (one second each) and every whole-day jump away from midnight, so the
 * model's "today" is always the day the next block falls in.
 */
async function invariantsFixture() {
  const sys = await deploySystemFixture();
  const noon = (Math.floor((await time.latest()) / DAY) + 1) * DAY + DAY / 2;
  await time.increaseTo(noon);
  const at = { ...sys, today: Math.floor(noon / DAY) };
  const trees = new Map<bigint, Tree>();
  // #1: producer, 16 serialised units, expires tomorrow (reachable with one or two day jumps).
  const a = await mintBatch(at, { lot: "SEED-A", units: 16, expiryInDays: 1 });
  trees.set(a.batchId, a);
  // #2: producer2, 12 serialised units, long expiry.
  const b = await mintBatch({ ...at, producer: sys.producer2 }, { lot: "SEED-B", units: 12, expiryInDays: 365 });
  trees.set(b.batchId, b);
  // #3: producer, 10 units without serials (cannot be dispensed), expires today.
  const c = await mintBatch(at, { lot: "SEED-C", units: 10, expiryInDays: 0, serialised: false });
  await deliver(at, sys.producer, a.batchId, 10, sys.distributor);
  await deliver(at, sys.distributor, a.batchId, 6, sys.pharmacy);
  await deliver(at, sys.producer2, b.batchId, 8, sys.distributor2);
  await deliver(at, sys.distributor2, b.batchId, 4, sys.pharmacy2);
  await deliver(at, sys.producer, c.batchId, 5, sys.distributor2);
  await ship(at, sys.producer, a.batchId, 3, sys.distributor2); // left pending
  await ship(at, sys.distributor2, b.batchId, 2, sys.pharmacy); // left pending
  return { ...at, trees };
}

type Fx = Awaited<ReturnType<typeof invariantsFixture>>;

interface Actor {
  name: string;
  signer: HardhatEthersSigner;
  address: string;
  role: number; // role given at admission (never changed here); None for non-members
  jurisdiction: string;
}

function actorsOf(fx: Fx): Actor[] {
  const a = (name: string, signer: HardhatEthersSigner, role: number, jurisdiction = "") => ({
    name,
    signer,
    address: signer.address,
    role,
    jurisdiction,
  });
  return [
    a("producer", fx.producer, Role.Producer, "DE"),
    a("producer2", fx.producer2, Role.Producer, "FR"),
    a("distributor", fx.distributor, Role.Distributor, "DE"),
    a("distributor2", fx.distributor2, Role.Distributor, "DE"),
    a("pharmacy", fx.pharmacy, Role.Pharmacy, "DE"),
    a("pharmacy2", fx.pharmacy2, Role.Pharmacy, "FR"),
    a("regulator", fx.regulator, Role.Regulator, "DE"),
    a("foreignRegulator", fx.foreignRegulator, Role.Regulator, "FR"),
    a("auditor", fx.auditor, Role.Auditor, "DE"),
    a("outsider", fx.outsider, Role.None),
    a("deployer", fx.deployer, Role.None),
    a("governor1", fx.governors[0], Role.None),
    a("relayer", fx.relayer, Role.None),
  ];
}

/** Chai's deep equality, paid for only when the values differ (the hot loops compare thousands of values). */
function same(actual: unknown, expected: unknown, message: () => string) {
  if (actual !== expected) expect(actual, message()).to.deep.equal(expected);
}

const isStockRole = (role: number) => role === Role.Producer || role === Role.Distributor || role === Role.Pharmacy;

// ─── Commands ──────────────────────────────────────────────────────────────────────────────────

/** A quantity relative to the actor's modelled balance, resolved when the command runs. */
type Qty = { m: "some"; n: number } | { m: "all" } | { m: "over" } | { m: "zero" } | { m: "huge" };
/** Either an actor by index, or "the right party" (a holder of the batch, the shipment's receiver or sender). */
type Who = { right: boolean; n: number };
type UnitPick = { m: "fresh" | "again" | "any"; n: number };
type ProofMode = "valid" | "wrongSerial" | "otherLeaf" | "empty";

type Cmd =
  | { k: "mint"; who: Who; qty: Qty; expiry: number; serials: "root" | "none" | "bad"; dupLot: boolean }
  | { k: "ship"; who: Who; batch: number; qty: Qty; to: number }
  | { k: "accept" | "reject" | "cancel"; who: Who; shipment: number; pendingOnly: boolean; forge: number; reason: number }
  | { k: "writeOff"; who: Who; batch: number; qty: Qty; reason: number }
  | { k: "dispense"; who: Who; batch: number; unit: UnitPick; proof: ProofMode }
  | { k: "quarantine" | "liftQuarantine" | "recall"; who: Who; batch: number }
  | { k: "suspend"; who: Who; target: number }
  | { k: "advance"; days: number }
  | { k: "bypass"; who: Who; batch: number; to: number; approval: boolean };

const whoArb = (rightWeight = 3): fc.Arbitrary<Who> =>
  fc.record({ right: fc.oneof({ arbitrary: fc.constant(true), weight: rightWeight }, fc.constant(false)), n: fc.nat(1000) });
/** Mostly an existing batch (index, taken modulo), sometimes an unknown id (-1). */
const batchArb = fc.oneof({ arbitrary: fc.nat(1000), weight: 12 }, { arbitrary: fc.constant(-1), weight: 1 });
const qtyArb: fc.Arbitrary<Qty> = fc.oneof(
  { arbitrary: fc.record({ m: fc.constant("some" as const), n: fc.nat(1000) }), weight: 8 },
  { arbitrary: fc.constant({ m: "all" as const }), weight: 2 },
  { arbitrary: fc.constant({ m: "over" as const }), weight: 2 },
  { arbitrary: fc.constant({ m: "zero" as const }), weight: 1 },
  { arbitrary: fc.constant({ m: "huge" as const }), weight: 1 },
);

const cmdArb: fc.Arbitrary<Cmd> = fc.oneof(
  {
    weight: 2,
    arbitrary: fc.record({
      k: fc.constant("mint" as const),
      who: whoArb(4),
      qty: fc.oneof(
        { arbitrary: fc.record({ m: fc.constant("some" as const), n: fc.nat(1000) }), weight: 9 },
        { arbitrary: fc.constant({ m: "zero" as const }), weight: 1 },
      ),
      expiry: fc.constantFrom(-1, 0, 1, 2, 365),
      serials: fc.oneof(
        { arbitrary: fc.constant("root" as const), weight: 6 },
        { arbitrary: fc.constant("none" as const), weight: 1 },
        { arbitrary: fc.constant("bad" as const), weight: 1 },
      ),
      dupLot: fc.oneof({ arbitrary: fc.constant(false), weight: 8 }, { arbitrary: fc.constant(true), weight: 1 }),
    }),
  },
  { weight: 8, arbitrary: fc.record({ k: fc.constant("ship" as const), who: whoArb(), batch: batchArb, qty: qtyArb, to: fc.nat(1000) }) },
  ...(["accept", "reject", "cancel"] as const).map((k) => ({
    weight: k === "accept" ? 6 : 2,
    arbitrary: fc.record({
      k: fc.constant(k),
      who: whoArb(),
      shipment: fc.nat(1000),
      pendingOnly: fc.oneof({ arbitrary: fc.constant(true), weight: 4 }, fc.constant(false)),
      forge: fc.oneof({ arbitrary: fc.constant(0), weight: 8 }, fc.integer({ min: 1, max: 4 })),
      reason: fc.integer({ min: 0, max: 6 }),
    }),
  })),
  {
    weight: 2,
    arbitrary: fc.record({ k: fc.constant("writeOff" as const), who: whoArb(), batch: batchArb, qty: qtyArb, reason: fc.integer({ min: 0, max: 1 }) }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      k: fc.constant("dispense" as const),
      who: whoArb(),
      batch: batchArb,
      unit: fc.record({ m: fc.constantFrom("fresh" as const, "fresh" as const, "again" as const, "any" as const), n: fc.nat(1000) }),
      proof: fc.oneof(
        { arbitrary: fc.constant("valid" as const), weight: 6 },
        { arbitrary: fc.constantFrom("wrongSerial" as const, "otherLeaf" as const, "empty" as const), weight: 1 },
      ),
    }),
  },
  ...(["quarantine", "liftQuarantine", "recall"] as const).map((k) => ({
    weight: k === "recall" ? 1 : 2,
    arbitrary: fc.record({ k: fc.constant(k), who: whoArb(2), batch: batchArb }),
  })),
  { weight: 1, arbitrary: fc.record({ k: fc.constant("suspend" as const), who: whoArb(1), target: fc.nat(1000) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("advance" as const), days: fc.integer({ min: 1, max: 2 }) }) },
  { weight: 1, arbitrary: fc.record({ k: fc.constant("bypass" as const), who: whoArb(), batch: batchArb, to: fc.nat(1000), approval: fc.boolean() }) },
);

// ─── Model: predictions from the documented rules ──────────────────────────────────────────────

interface MBatch {
  id: bigint;
  producer: string;
  quantity: bigint;
  expiryDay: number;
  status: number;
  lot: string;
  tree?: Tree;
}
interface Shipment {
  batchId: bigint;
  sender: string;
  receiver: string;
  quantity: bigint;
  isReturn: boolean;
}
interface MShipment {
  id: bigint;
  s: Shipment;
  pending: boolean;
}

/** Predicted outcome: `errors` empty means success; otherwise the revert must be one of them. */
interface Prediction {
  errors: Set<string>;
  describe: string;
  run: () => Promise<TransactionResponse>;
  /** Applies the effects of a successful action to the model. */
  apply: () => void;
  /** For ship: the shipment the model expects in ShipmentCreated. */
  expectShipment?: Shipment;
}

/**
 * The flow table of IBatchToken (checked at ship and again at accept): adds to `errs` what
 * forbids `fromRole` → `toRole` for batch `b` now, and tells whether the flow is a return.
 */
function flowErrors(m: Model, b: MBatch, fromRole: number, toRole: number, receiver: string, errs: Set<string>): boolean {
  if (!isStockRole(fromRole) || !isStockRole(toRole)) return false;
  if (fromRole === Role.Distributor && toRole === Role.Producer) {
    if (receiver !== b.producer) errs.add("BatchTokenReturnToOtherProducer");
    return true;
  }
  if (fromRole === Role.Pharmacy && toRole === Role.Distributor) return true;
  const forward =
    (fromRole === Role.Producer && toRole === Role.Distributor) ||
    (fromRole === Role.Distributor && (toRole === Role.Distributor || toRole === Role.Pharmacy));
  if (!forward || b.status !== BatchStatus.Active) errs.add("BatchTokenFlowNotAllowed");
  if (toRole === Role.Pharmacy && m.expired(b)) errs.add("BatchTokenExpired");
  return false;
}

class Model {
  readonly batches: MBatch[] = [];
  readonly shipments: MShipment[] = [];
  readonly balances = new Map<string, bigint>();
  readonly suspended = new Set<string>();
  readonly dispensed = new Map<bigint, Set<number>>();
  lots = 0;

  constructor(
    readonly actors: Actor[],
    readonly escrow: string,
    public today: number,
  ) {}

  actorByAddress(address: string): Actor | undefined {
    return this.actors.find((a) => a.address === address);
  }
  /** IConsortium.activeRole as the model sees it (licences never lapse within a sequence). */
  activeRole(address: string): number {
    const a = this.actorByAddress(address);
    if (!a || this.suspended.has(address)) return Role.None;
    return a.role;
  }
  bal(batchId: bigint, address: string): bigint {
    return this.balances.get(`${batchId}:${address}`) ?? 0n;
  }
  add(batchId: bigint, address: string, delta: bigint) {
    const v = this.bal(batchId, address) + delta;
    if (v < 0n) throw new Error(`model balance of ${address} in #${batchId} would go negative`);
    this.balances.set(`${batchId}:${address}`, v);
  }
  batchOf(id: bigint): MBatch | undefined {
    return id >= 1n && id <= BigInt(this.batches.length) ? this.batches[Number(id) - 1] : undefined;
  }
  expired(b: MBatch): boolean {
    return this.today > b.expiryDay;
  }
  pickBatch(n: number): bigint {
    return n < 0 || this.batches.length === 0 ? BigInt(this.batches.length + 1) : this.batches[n % this.batches.length].id;
  }
  pickActor(n: number): Actor {
    return this.actors[n % this.actors.length];
  }
  /** The right party of a batch: one of its current holders (model), else any actor. */
  holderOf(batchId: bigint, who: Who, filter: (a: Actor) => boolean = () => true): Actor {
    if (who.right) {
      const holders = this.actors.filter((a) => this.bal(batchId, a.address) > 0n && filter(a));
      if (holders.length > 0) return holders[who.n % holders.length];
      const fitting = this.actors.filter(filter);
      if (fitting.length > 0) return fitting[who.n % fitting.length];
    }
    return this.pickActor(who.n);
  }
  resolveQty(q: Qty, balance: bigint): bigint {
    switch (q.m) {
      case "some":
        return balance > 0n ? 1n + (BigInt(q.n) % balance) : BigInt(1 + (q.n % 5));
      case "all":
        return balance;
      case "over":
        return balance + 1n;
      case "zero":
        return 0n;
      case "huge":
        return ethers.MaxUint256;
    }
  }
}

// ─── Ledger: what the events and balances on chain say ─────────────────────────────────────────

interface LShipment extends Shipment {
  done: boolean;
}

/**
 * State derived only from events, with the per-transaction invariants checked as events arrive.
 * Status is tracked from BatchMinted/BatchQuarantined/BatchQuarantineLifted/BatchRecalled.
 */
const CUSTODY_EVENTS = [
  "BatchMinted",
  "ShipmentCreated",
  "ShipmentAccepted",
  "ShipmentRejected",
  "ShipmentCancelled",
  "UnitDispensed",
  "UnitsWrittenOff",
];

class Ledger {
  /** Where units in transit are held, learned from the first shipment: the contract (escrow) or nobody. */
  transit: string | undefined;
  readonly minted = new Map<bigint, bigint>();
  readonly producerOf = new Map<bigint, string>();
  readonly quantityOf = new Map<bigint, bigint>();
  readonly status = new Map<bigint, number>();
  readonly dispensed = new Map<bigint, Set<bigint>>();
  readonly writtenOff = new Map<bigint, bigint>();
  readonly shipments = new Map<bigint, LShipment>();
  readonly holders = new Set<string>();

  constructor(
    readonly token: BatchToken,
    readonly escrow: string,
    readonly staticRole: (address: string) => number,
  ) {}

  /** Ingests the logs of one successful transaction sent by `from`. */
  ingest(logs: readonly Log[], from: string, where: string) {
    const token = this.token;
    const tokenAddress = this.escrow.toLowerCase();
    const events = logs
      .filter((l) => l.address.toLowerCase() === tokenAddress)
      .map((l) => token.interface.parseLog(l))
      .filter((e): e is NonNullable<typeof e> => e !== null);
    // Status of each batch before this transaction: no transaction both changes status and moves units.
    const statusBefore = new Map(this.status);
    const frozen = (id: bigint) => {
      const s = statusBefore.get(id);
      return s === BatchStatus.Quarantined || s === BatchStatus.Recalled;
    };

    for (const e of events) {
      const a = e.args;
      switch (e.name) {
        case "BatchMinted": {
          const id = a.batchId as bigint;
          this.minted.set(id, a.quantity as bigint);
          this.quantityOf.set(id, a.quantity as bigint);
          this.producerOf.set(id, a.producer as string);
          this.status.set(id, BatchStatus.Active);
          break;
        }
        case "BatchQuarantined":
          this.status.set(a.batchId, BatchStatus.Quarantined);
          break;
        case "BatchQuarantineLifted":
          this.status.set(a.batchId, BatchStatus.Active);
          break;
        case "BatchRecalled":
          this.status.set(a.batchId, BatchStatus.Recalled);
          break;
        case "ShipmentCreated": {
          const id = a.shipmentId as bigint;
          expect(this.shipments.has(id), `${where}: shipment id ${id} reused`).to.equal(false);
          const s: LShipment = {
            batchId: a.batchId,
            sender: a.sender,
            receiver: a.receiver,
            quantity: a.quantity,
            isReturn: a.isReturn,
            done: false,
          };
          this.shipments.set(id, s);
          expect(s.sender, `${where}: shipment sent by someone else than the caller`).to.equal(from);
          // Invariant 2 at the source: only stock-holding members ship and receive.
          expect(isStockRole(this.staticRole(s.sender)), `${where}: shipment from a non-stock party`).to.equal(true);
          expect(isStockRole(this.staticRole(s.receiver)), `${where}: shipment to a non-stock party`).to.equal(true);
          // Invariant 3: only returns leave a frozen batch, and only along the return flows.
          if (frozen(s.batchId)) {
            expect(s.isReturn, `${where}: forward shipment created on a frozen batch #${s.batchId}`).to.equal(true);
          }
          if (s.isReturn) {
            const from = this.staticRole(s.sender);
            const to = this.staticRole(s.receiver);
            const ok =
              (from === Role.Distributor && to === Role.Producer && s.receiver === this.producerOf.get(s.batchId)) ||
              (from === Role.Pharmacy && to === Role.Distributor);
            expect(ok, `${where}: return shipment along a flow that is not a return`).to.equal(true);
          }
          break;
        }
        case "ShipmentAccepted":
        case "ShipmentRejected":
        case "ShipmentCancelled": {
          const id = a.shipmentId as bigint;
          const s = this.shipments.get(id);
          expect(s, `${where}: ${e.name} of unknown shipment ${id}`).to.not.equal(undefined);
          if (!s) break;
          expect(s.done, `${where}: shipment ${id} completed twice`).to.equal(false);
          s.done = true;
          expect([a.batchId, a.sender, a.receiver, a.quantity], `${where}: ${e.name} fields differ from ShipmentCreated`).to.deep.equal([
            s.batchId,
            s.sender,
            s.receiver,
            s.quantity,
          ]);
          // Invariant 4: only the named receiver completes, only the sender cancels.
          if (e.name === "ShipmentCancelled") expect(from, `${where}: cancelled by someone else than the sender`).to.equal(s.sender);
          else expect(from, `${where}: ${e.name} by someone else than the receiver`).to.equal(s.receiver);
          if (e.name === "ShipmentAccepted" && frozen(s.batchId)) {
            expect(s.isReturn, `${where}: forward shipment accepted on a frozen batch #${s.batchId}`).to.equal(true);
          }
          break;
        }
        case "UnitDispensed": {
          const id = a.batchId as bigint;
          const unit = a.unitIndex as bigint;
          expect(frozen(id), `${where}: unit dispensed from a frozen batch #${id}`).to.equal(false);
          expect(this.staticRole(a.pharmacy), `${where}: dispensed by a non-pharmacy`).to.equal(Role.Pharmacy);
          const set = this.dispensed.get(id) ?? new Set<bigint>();
          // Invariant 5: a unit index is dispensed at most once, and exists in the batch.
          expect(set.has(unit), `${where}: unit ${unit} of #${id} dispensed twice`).to.equal(false);
          expect(unit < (this.quantityOf.get(id) ?? 0n), `${where}: dispensed unit ${unit} outside batch #${id}`).to.equal(true);
          set.add(unit);
          this.dispensed.set(id, set);
          break;
        }
        case "UnitsWrittenOff": {
          const id = a.batchId as bigint;
          expect(a.holder, `${where}: written off by someone else than the caller`).to.equal(from);
          this.writtenOff.set(id, (this.writtenOff.get(id) ?? 0n) + (a.quantity as bigint));
          break;
        }
        case "TransferSingle": {
          const id = a.id as bigint;
          const to = a.to as string;
          const src = a.from as string;
          const value = a.value as bigint;
          if (to !== ZERO) this.holders.add(to);
          // Invariant 2: units only ever reach the transit holder or stock-holding members.
          if (to !== ZERO && to !== this.escrow) {
            expect(isStockRole(this.staticRole(to)), `${where}: units of #${id} reached non-stock party ${to}`).to.equal(true);
          }
          // Every balance change belongs to exactly one custody event of the same transaction, and
          // moves exactly what that event says between exactly the parties it names.
          const custody = events.filter((x) => CUSTODY_EVENTS.includes(x.name));
          expect(custody.map((x) => x.name), `${where}: transfer of #${id} without a single custody event`).to.have.length(1);
          const c = custody[0];
          expect(c.args.batchId, `${where}: transfer of another batch than the custody event's`).to.equal(id);
          let expected: [string, string, bigint];
          const sh = c.name.startsWith("Shipment") ? this.shipments.get(c.args.shipmentId as bigint)! : undefined;
          switch (c.name) {
            case "BatchMinted":
              expected = [ZERO, c.args.producer, c.args.quantity];
              break;
            case "ShipmentCreated":
              // Transit is held either in the contract's own balance (escrow) or out of supply
              // (transfer to the zero address), and the same way for every shipment.
              this.transit ??= to;
              expect([this.escrow, ZERO], `${where}: units in transit held by ${to}`).to.include(to);
              expected = [sh!.sender, this.transit, sh!.quantity];
              break;
            case "ShipmentAccepted":
              expected = [this.transit ?? "?", sh!.receiver, sh!.quantity];
              break;
            case "ShipmentRejected":
            case "ShipmentCancelled":
              expected = [this.transit ?? "?", sh!.sender, sh!.quantity];
              break;
            case "UnitDispensed":
              expected = [c.args.pharmacy, ZERO, 1n];
              break;
            default: // UnitsWrittenOff
              expected = [c.args.holder, ZERO, c.args.quantity];
          }
          expect([src, to, value], `${where}: ${c.name} moved units other than it says`).to.deep.equal(expected);
          // Invariant 3: what may move units of a frozen (quarantined or recalled) batch: returns
          // (checked at ShipmentCreated), acceptance of returns, rejection/cancellation back to the
          // sender (checked above) and write-offs; never a mint, a forward shipment or a dispense.
          if (frozen(id)) {
            expect(c.name, `${where}: ${c.name} on frozen batch #${id}`).to.not.be.oneOf(["BatchMinted", "UnitDispensed"]);
            if (sh && c.name !== "ShipmentRejected" && c.name !== "ShipmentCancelled") expect(sh.isReturn, `${where}: ${c.name} of a forward shipment on frozen batch #${id}`).to.equal(true);
          }
          break;
        }
        default:
          break;
      }
    }
  }

  pendingInTransit(batchId: bigint): bigint {
    let sum = 0n;
    for (const s of this.shipments.values()) if (!s.done && s.batchId === batchId) sum += s.quantity;
    return sum;
  }
}

// ─── Running one sequence ──────────────────────────────────────────────────────────────────────

/** Name of the custom error a failed call reverted with (or a description when it is not one). */
function revertName(err: unknown, ifaces: { parseError(data: string): { name: string } | null }[]): string {
  const e = err as { revert?: { name?: string }; data?: unknown; message?: string };
  if (e.revert?.name) return e.revert.name;
  const seen = new Set<unknown>();
  const find = (x: unknown): string | undefined => {
    if (x === null || typeof x !== "object" || seen.has(x)) return undefined;
    seen.add(x);
    const o = x as Record<string, unknown>;
    if (typeof o.data === "string" && o.data.startsWith("0x") && o.data.length >= 10) return o.data;
    for (const k of ["error", "info", "data", "cause"]) {
      const r = find(o[k]);
      if (r) return r;
    }
    return undefined;
  };
  const data = find(err);
  if (data) {
    for (const i of ifaces) {
      try {
        const p = i.parseError(data);
        if (p) return p.name;
      } catch {
        /* try the next interface */
      }
    }
    return `undecoded revert ${data.slice(0, 10)}`;
  }
  return `non-revert failure: ${e.message ?? String(err)}`;
}

/** The fixture's chain state, read once: every sequence starts from the same snapshot. */
interface InitialState {
  txs: { logs: Log[]; from: string; hash: string }[];
  batches: Omit<MBatch, "tree">[];
  balances: Map<string, bigint>;
}
let initialState: InitialState | undefined;

async function readInitialState(token: BatchToken, actors: Actor[]): Promise<InitialState> {
  const logs = await token.queryFilter("*" as never, 0, "latest");
  const byTx = new Map<string, Log[]>();
  for (const l of logs) byTx.set(l.transactionHash, [...(byTx.get(l.transactionHash) ?? []), l]);
  const txs = [];
  for (const [hash, txLogs] of byTx) txs.push({ logs: txLogs, from: (await ethers.provider.getTransaction(hash))!.from, hash });
  const batches: Omit<MBatch, "tree">[] = [];
  const balances = new Map<string, bigint>();
  for (let id = 1n; id <= (await token.batchCount()); id++) {
    const b = await token.batch(id);
    batches.push({ id, producer: b.producer, quantity: b.quantity, expiryDay: Number(b.expiryDay), status: Number(b.status), lot: b.lot });
    for (const a of actors) balances.set(`${id}:${a.address}`, await token.balanceOf(a.address, id));
  }
  return { txs, batches, balances };
}

class Runner {
  readonly model: Model;
  readonly ledger: Ledger;
  readonly token: BatchToken;
  readonly consortium: Consortium;
  readonly trace: string[] = [];
  readonly escrow: string;

  constructor(
    readonly fx: Fx,
    readonly actors: Actor[],
    escrow: string,
    today: number,
  ) {
    this.token = fx.batchToken;
    this.consortium = fx.consortium;
    this.escrow = escrow;
    this.model = new Model(actors, escrow, today);
    const staticRole = (address: string) => actors.find((a) => a.address === address)?.role ?? Role.None;
    this.ledger = new Ledger(fx.batchToken, escrow, staticRole);
  }

  /** Model and ledger start from the fixture's chain state: events replayed, batches and balances read. */
  async init() {
    initialState ??= await readInitialState(this.token, this.actors);
    for (const { logs, from, hash } of initialState.txs) this.ledger.ingest(logs, from, `fixture tx ${hash}`);
    for (const b of initialState.batches) this.model.batches.push({ ...b, tree: this.fx.trees.get(b.id) });
    for (const [k, v] of initialState.balances) this.model.balances.set(k, v);
    for (const [id, s] of this.ledger.shipments) this.model.shipments.push({ id, s: { ...s }, pending: !s.done });
    for (const [id, set] of this.ledger.dispensed) this.model.dispensed.set(id, new Set([...set].map(Number)));
    await this.checkInvariants("after fixture");
  }

  predict(cmd: Cmd): Prediction | "skip" {
    const m = this.model;
    const token = this.token;
    const errs = new Set<string>();
    const none = () => undefined;
    switch (cmd.k) {
      case "mint": {
        const actor = cmd.who.right
          ? m.actors.filter((a) => a.role === Role.Producer)[cmd.who.n % 2]
          : m.pickActor(cmd.who.n);
        const quantity = cmd.qty.m === "zero" ? 0n : BigInt(8 + ((cmd.qty as { n: number }).n % 13));
        const dup = cmd.dupLot && m.batches.length > 0;
        const lot = dup ? m.batches[cmd.who.n % m.batches.length].lot : `P-${++m.lots}`;
        const tree = quantity > 0n ? serialTree(Number(quantity), `${lot}-`) : undefined;
        const expiryDay = m.today + cmd.expiry;
        const root = cmd.serials === "none" || !tree ? ethers.ZeroHash : tree.root;
        const serialCount = cmd.serials === "root" ? Number(quantity) : cmd.serials === "bad" ? Number(quantity) + 1 : 0;
        if (m.activeRole(actor.address) !== Role.Producer) errs.add("BatchTokenUnauthorizedMember");
        if (quantity === 0n) errs.add("BatchTokenZeroQuantity");
        if (expiryDay < m.today) errs.add("BatchTokenExpiryInPast");
        if (cmd.serials === "bad" || (root === ethers.ZeroHash && serialCount !== 0)) errs.add("BatchTokenInvalidSerialCommitment");
        if (dup) errs.add("BatchTokenDuplicateBatch");
        const input = { gtin: BigInt(GTIN), lot, expiryDay, quantity, serialsRoot: root, serialCount, documentHash: ethers.id(lot) };
        return {
          errors: errs,
          describe: `${actor.name} mints ${quantity} units lot ${lot} expiring day+${cmd.expiry} serials=${cmd.serials}`,
          run: () => token.connect(actor.signer).mintBatch(input),
          apply: () => {
            const id = BigInt(m.batches.length + 1);
            m.batches.push({ id, producer: actor.address, quantity, expiryDay, status: BatchStatus.Active, lot, tree: root === ethers.ZeroHash ? undefined : tree });
            m.add(id, actor.address, quantity);
          },
        };
      }
      case "ship": {
        const batchId = m.pickBatch(cmd.batch);
        const b = m.batchOf(batchId);
        const from = m.holderOf(batchId, cmd.who, (a) => isStockRole(a.role));
        // Two times in three a stock-holding member, else anyone, the token contract or address(0).
        const stock = m.actors.filter((a) => isStockRole(a.role));
        const anyone = cmd.to % (m.actors.length + 2);
        const to = cmd.to % 3 !== 0 ? stock[(cmd.to >> 2) % stock.length] : anyone < m.actors.length ? m.actors[anyone] : null;
        const receiver = to ? to.address : anyone % 2 === 0 ? this.escrow : ZERO;
        const quantity = m.resolveQty(cmd.qty, m.bal(batchId, from.address));
        const fromRole = m.activeRole(from.address);
        const toRole = m.activeRole(receiver);
        if (!b) errs.add("BatchTokenUnknownBatch");
        if (quantity === 0n) errs.add("BatchTokenZeroQuantity");
        if (receiver === from.address) errs.add("BatchTokenSelfShipment");
        if (!isStockRole(fromRole)) errs.add("BatchTokenUnauthorizedMember");
        if (!isStockRole(toRole)) errs.add("BatchTokenUnauthorizedMember");
        const isReturn = b !== undefined && flowErrors(m, b, fromRole, toRole, receiver, errs);
        if (m.bal(batchId, from.address) < quantity) errs.add("ERC1155InsufficientBalance");
        const shipment: Shipment = { batchId, sender: from.address, receiver, quantity, isReturn };
        const toName = to?.name ?? (receiver === ZERO ? "address(0)" : "escrow");
        return {
          errors: errs,
          describe: `${from.name} ships ${quantity} of #${batchId} to ${toName}`,
          run: () => token.connect(from.signer).ship(batchId, quantity, receiver, ethers.id("despatch")),
          expectShipment: shipment,
          apply: () => {
            m.add(batchId, from.address, -quantity);
          },
        };
      }
      case "accept":
      case "reject":
      case "cancel": {
        const pool = cmd.pendingOnly ? m.shipments.filter((s) => s.pending) : m.shipments;
        if (pool.length === 0) return "skip";
        const ms = pool[cmd.shipment % pool.length];
        const s: Shipment = { ...ms.s };
        switch (cmd.forge) {
          case 1:
            s.quantity += 1n;
            break;
          case 2:
            s.isReturn = !s.isReturn;
            break;
          case 3:
            s.receiver = s.sender;
            break;
          case 4:
            s.batchId += 1n;
            break;
        }
        const party = cmd.k === "cancel" ? ms.s.sender : ms.s.receiver;
        const actor = cmd.who.right ? m.actorByAddress(party)! : m.pickActor(cmd.who.n);
        const pending = ms.pending && cmd.forge === 0;
        if (!pending) errs.add("BatchTokenUnknownShipment");
        if (actor.address !== party) errs.add(cmd.k === "cancel" ? "BatchTokenNotShipmentSender" : "BatchTokenNotShipmentReceiver");
        const role = m.activeRole(actor.address);
        if (cmd.k === "accept") {
          // Acceptance applies the flow table again, to the parties' roles as they are now.
          const senderRole = m.activeRole(s.sender);
          if (!isStockRole(role)) errs.add("BatchTokenUnauthorizedMember");
          if (!isStockRole(senderRole)) errs.add("BatchTokenUnauthorizedMember");
          const b = m.batchOf(s.batchId);
          if (b) flowErrors(m, b, senderRole, role, actor.address, errs);
        } else if (role === Role.None) errs.add("BatchTokenUnauthorizedMember");
        const forged = cmd.forge === 0 ? "" : ` (forged field ${cmd.forge})`;
        const describe = `${actor.name} ${cmd.k}s shipment ${ms.id} [${ms.s.quantity} of #${ms.s.batchId} ${m.actorByAddress(ms.s.sender)?.name}→${m.actorByAddress(ms.s.receiver)?.name}${ms.s.isReturn ? " return" : ""}, ${ms.pending ? "pending" : "done"}]${forged}`;
        const c = token.connect(actor.signer);
        return {
          errors: errs,
          describe,
          run: () =>
            cmd.k === "accept"
              ? c.acceptShipment(ms.id, s)
              : cmd.k === "reject"
                ? c.rejectShipment(ms.id, s, cmd.reason)
                : c.cancelShipment(ms.id, s),
          apply: () => {
            ms.pending = false;
            m.add(s.batchId, cmd.k === "accept" ? s.receiver : s.sender, s.quantity);
          },
        };
      }
      case "writeOff": {
        const batchId = m.pickBatch(cmd.batch);
        const actor = m.holderOf(batchId, cmd.who);
        const quantity = m.resolveQty(cmd.qty, m.bal(batchId, actor.address));
        if (!m.batchOf(batchId)) errs.add("BatchTokenUnknownBatch");
        if (!isStockRole(m.activeRole(actor.address))) errs.add("BatchTokenUnauthorizedMember");
        if (quantity === 0n) errs.add("BatchTokenZeroQuantity");
        if (m.bal(batchId, actor.address) < quantity) errs.add("ERC1155InsufficientBalance");
        return {
          errors: errs,
          describe: `${actor.name} writes off ${quantity} of #${batchId} (${cmd.reason === 0 ? "destroyed" : "stolen"})`,
          run: () => token.connect(actor.signer).writeOff(batchId, quantity, cmd.reason, ethers.id("evidence")),
          apply: () => m.add(batchId, actor.address, -quantity),
        };
      }
      case "dispense": {
        const batchId = m.pickBatch(cmd.batch);
        const b = m.batchOf(batchId);
        const actor = m.holderOf(batchId, cmd.who, (a) => a.role === Role.Pharmacy);
        const done = m.dispensed.get(batchId) ?? new Set<number>();
        const size = b ? Number(b.quantity) : 4;
        let unit: number;
        const fresh = Array.from({ length: size }, (_, i) => i).filter((i) => !done.has(i));
        if (cmd.unit.m === "again" && done.size > 0) unit = [...done][cmd.unit.n % done.size];
        else if (cmd.unit.m === "any" || fresh.length === 0) unit = cmd.unit.n % (size + 3);
        else unit = fresh[cmd.unit.n % fresh.length];
        const tree = b?.tree;
        const inRange = unit < size;
        let serial = tree && inRange ? tree.serials[unit] : `NOPE-${unit}`;
        let proof: string[] = tree ? tree.proofOf(inRange ? unit : 0) : [];
        let proofValid = Boolean(tree) && inRange;
        if (cmd.proof === "wrongSerial") {
          serial = `${serial}X`;
          proofValid = false;
        } else if (cmd.proof === "otherLeaf" && tree) {
          const other = (unit + 1) % size;
          proof = tree.proofOf(other); // proof of another leaf, serial of this one
          proofValid = proofValid && other === unit;
        } else if (cmd.proof === "empty") {
          proof = [];
          proofValid = proofValid && size === 1;
        }
        if (m.activeRole(actor.address) !== Role.Pharmacy) errs.add("BatchTokenUnauthorizedMember");
        if (!b) errs.add("BatchTokenUnknownBatch");
        else {
          if (b.status !== BatchStatus.Active) errs.add("BatchTokenInvalidStatus");
          if (m.expired(b)) errs.add("BatchTokenExpired");
          if (!b.tree) errs.add("BatchTokenNotSerialised");
        }
        if (!proofValid) errs.add("BatchTokenInvalidUnitProof");
        if (done.has(unit)) errs.add("BatchTokenUnitAlreadyDispensed");
        if (m.bal(batchId, actor.address) < 1n) errs.add("ERC1155InsufficientBalance");
        return {
          errors: errs,
          describe: `${actor.name} dispenses unit ${unit} of #${batchId} (${cmd.proof} proof${done.has(unit) ? ", already dispensed" : ""})`,
          run: () => token.connect(actor.signer).dispense(batchId, unit, serial, proof),
          apply: () => {
            done.add(unit);
            m.dispensed.set(batchId, done);
            m.add(batchId, actor.address, -1n);
          },
        };
      }
      case "quarantine":
      case "liftQuarantine":
      case "recall": {
        const batchId = m.pickBatch(cmd.batch);
        const b = m.batchOf(batchId);
        const actor = cmd.who.right
          ? m.actors.filter((a) => a.role === Role.Regulator)[cmd.who.n % 2]
          : m.pickActor(cmd.who.n);
        if (m.activeRole(actor.address) !== Role.Regulator) errs.add("BatchTokenUnauthorizedMember");
        if (!b) errs.add("BatchTokenUnknownBatch");
        else if (cmd.k === "quarantine" && b.status !== BatchStatus.Active) errs.add("BatchTokenInvalidStatus");
        else if (cmd.k === "liftQuarantine" && b.status !== BatchStatus.Quarantined) errs.add("BatchTokenInvalidStatus");
        else if (cmd.k === "recall" && b.status === BatchStatus.Recalled) errs.add("BatchTokenInvalidStatus");
        const next = cmd.k === "quarantine" ? BatchStatus.Quarantined : cmd.k === "liftQuarantine" ? BatchStatus.Active : BatchStatus.Recalled;
        const c = token.connect(actor.signer);
        return {
          errors: errs,
          describe: `${actor.name} ${cmd.k === "liftQuarantine" ? "lifts the quarantine of" : cmd.k + "s"} #${batchId}`,
          run: () => c[cmd.k](batchId, ethers.id("reason")),
          apply: () => {
            b!.status = next;
          },
        };
      }
      case "suspend": {
        const actor = cmd.who.right ? m.actors.filter((a) => a.role === Role.Regulator)[cmd.who.n % 2] : m.pickActor(cmd.who.n);
        const target = m.pickActor(cmd.target);
        if (m.activeRole(actor.address) !== Role.Regulator) errs.add("ConsortiumNotActiveRegulator");
        if (target.role === Role.None) errs.add("ConsortiumUnknownMember");
        if (m.suspended.has(target.address)) errs.add("ConsortiumInvalidMemberStatus");
        if (target.role === Role.Regulator) errs.add("ConsortiumCannotSuspendRegulator");
        if (target.jurisdiction !== actor.jurisdiction) errs.add("ConsortiumJurisdictionMismatch");
        return {
          errors: errs,
          describe: `${actor.name} suspends ${target.name}`,
          run: () => this.consortium.connect(actor.signer).emergencySuspend(target.address, ethers.id("suspicion")),
          apply: () => {
            m.suspended.add(target.address);
          },
        };
      }
      case "bypass": {
        const batchId = m.pickBatch(cmd.batch);
        const actor = m.holderOf(batchId, cmd.who);
        const to = m.pickActor(cmd.to);
        const c = token.connect(actor.signer);
        if (cmd.approval) errs.add("BatchTokenApprovalsDisabled");
        else ["BatchTokenTransferBypassesCustody", "ERC1155InsufficientBalance"].forEach((x) => errs.add(x));
        return {
          errors: errs,
          describe: cmd.approval
            ? `${actor.name} approves ${to.name} as operator`
            : `${actor.name} transfers 1 of #${batchId} to ${to.name} with safeTransferFrom`,
          // setApprovalForAll is `pure` in the ABI, so it is sent as a raw transaction.
          run: () =>
            cmd.approval
              ? actor.signer.sendTransaction({ to: this.escrow, data: token.interface.encodeFunctionData("setApprovalForAll", [to.address, true]) })
              : c.safeTransferFrom(actor.address, to.address, batchId, 1n, "0x"),
          apply: none,
        };
      }
      case "advance":
        return "skip";
    }
  }

  async step(cmd: Cmd, index: number) {
    if (cmd.k === "advance") {
      await time.increase(cmd.days * DAY);
      this.model.today += cmd.days;
      this.trace.push(`${index}: ${cmd.days} day(s) pass (today = day ${this.model.today})`);
      expect(Math.floor((await time.latest()) / DAY), "model and chain disagree on today").to.equal(this.model.today);
      return;
    }
    const p = this.predict(cmd);
    if (p === "skip") return;
    const where = `step ${index} (${p.describe})`;
    let receipt: TransactionReceipt | null = null;
    let failure: string | null = null;
    let from = "";
    try {
      const tx = await p.run();
      from = tx.from;
      receipt = await tx.wait();
    } catch (err) {
      failure = revertName(err, [this.token.interface, this.consortium.interface]);
    }
    const expected = p.errors.size === 0 ? "success" : `revert with one of ${[...p.errors].join(", ")}`;
    this.trace.push(`${index}: ${p.describe} → ${failure ?? "ok"} (model: ${expected})`);
    // Differential property: the documented rules predict what the chain did.
    if (failure === null) {
      expect(p.errors.size, `${where} succeeded, model expected ${expected}\n${this.trace.join("\n")}`).to.equal(0);
      p.apply();
      this.ledger.ingest(receipt!.logs, from, where);
      if (p.expectShipment) {
        const created = receipt!.logs
          .map((l) => this.token.interface.parseLog(l))
          .find((e) => e?.name === "ShipmentCreated");
        const id = created!.args.shipmentId as bigint;
        const ls = this.ledger.shipments.get(id)!;
        expect({ ...p.expectShipment }, `${where}: shipment differs from the model`).to.deep.equal({
          batchId: ls.batchId,
          sender: ls.sender,
          receiver: ls.receiver,
          quantity: ls.quantity,
          isReturn: ls.isReturn,
        });
        this.model.shipments.push({ id, s: p.expectShipment, pending: true });
      }
    } else {
      expect(
        p.errors.has(failure),
        `${where} reverted with ${failure}, model expected ${expected}\n${this.trace.join("\n")}`,
      ).to.equal(true);
    }
    // A reverted action changes nothing on chain (and nothing in the model or ledger), so the
    // chain-reading invariants are re-checked only after successful actions.
    if (failure === null) await this.checkInvariants(where);
  }

  /** Invariants that read the chain: balances against the model and against the event ledger. */
  async checkInvariants(where: string) {
    const m = this.model;
    const l = this.ledger;
    const holders = [...new Set([...this.actors.map((a) => a.address), this.escrow, ...l.holders])];
    const ids = m.batches.map((b) => b.id);
    if (ids.length === 0) return;
    const accounts = ids.flatMap(() => holders);
    const tokenIds = ids.flatMap((id) => holders.map(() => id));
    const balances = await this.token.balanceOfBatch(accounts, tokenIds);
    const ctx = () => `${where}\n${this.trace.join("\n")}`;
    ids.forEach((id, bi) => {
      let sum = 0n;
      let escrow = 0n;
      holders.forEach((h, hi) => {
        const onChain = balances[bi * holders.length + hi];
        if (h === this.escrow) {
          escrow = onChain;
          return;
        }
        sum += onChain;
        // Differential: the model predicts every balance.
        same(onChain, m.bal(id, h), () => `balance of ${m.actorByAddress(h)?.name ?? h} in #${id} after ${ctx()}`);
        // Invariant 2: no non-member, Regulator or Auditor holds units.
        if (onChain > 0n) same(isStockRole(l.staticRole(h)), true, () => `non-stock party ${h} holds #${id} after ${ctx()}`);
      });
      const pending = l.pendingInTransit(id);
      // Invariant 5: what the contract holds itself is exactly the pending shipments when transit is
      // escrowed, and nothing when units in transit are out of supply (the documented design).
      same(escrow, l.transit === this.escrow ? pending : 0n, () => `contract's own balance of #${id} after ${ctx()}`);
      // Invariant 1: conservation, with in-transit, dispensed and written-off counts taken from events.
      const dispensed = BigInt(l.dispensed.get(id)?.size ?? 0);
      const writtenOff = l.writtenOff.get(id) ?? 0n;
      same(
        sum + pending + dispensed + writtenOff,
        l.minted.get(id),
        () => `conservation of #${id} (balances ${sum} + in transit ${pending} + dispensed ${dispensed} + written off ${writtenOff}) after ${ctx()}`,
      );
    });
  }

  /** End of sequence: stored status, dispense bitmap and pending commitments agree with model and events. */
  async finalChecks() {
    const ctx = this.trace.join("\n");
    for (const b of this.model.batches) {
      const onChain = await this.token.batch(b.id);
      expect(Number(onChain.status), `status of #${b.id}\n${ctx}`).to.equal(b.status);
      expect(Number(onChain.status), `status of #${b.id} (events)\n${ctx}`).to.equal(this.ledger.status.get(b.id));
      const set = this.ledger.dispensed.get(b.id) ?? new Set<bigint>();
      for (const u of set) expect(await this.token.isDispensed(b.id, u), `unit ${u} of #${b.id} dispensed`).to.equal(true);
      const probe = Array.from({ length: Number(b.quantity) }, (_, i) => BigInt(i)).find((i) => !set.has(i));
      if (probe !== undefined) expect(await this.token.isDispensed(b.id, probe), `unit ${probe} of #${b.id} not dispensed`).to.equal(false);
    }
    for (const s of this.model.shipments) {
      expect(await this.token.isPendingShipment(s.id, s.s), `pending state of shipment ${s.id}\n${ctx}`).to.equal(s.pending);
    }
    expect(await this.token.shipmentCount()).to.equal(BigInt(this.model.shipments.length));
  }
}

// ─── The properties ────────────────────────────────────────────────────────────────────────────

describe("BatchToken invariants under random action sequences", function () {
  this.timeout(600_000);

  let fixtureToday = 0;
  before(async function () {
    const fx = await loadFixture(invariantsFixture);
    fixtureToday = Math.floor((await time.latest()) / DAY);
    expect(fx.today).to.equal(fixtureToday);
  });

  async function runSequence(cmds: Cmd[]) {
    const fx = await loadFixture(invariantsFixture);
    const today = Math.floor((await time.latest()) / DAY);
    expect(today, "loadFixture restored the fixture's time").to.equal(fixtureToday);
    const runner = new Runner(fx, actorsOf(fx), await fx.batchToken.getAddress(), today);
    await runner.init();
    for (let i = 0; i < cmds.length; i++) await runner.step(cmds[i], i);
    await runner.finalChecks();
  }

  it("keeps custody, conservation, status and dispense invariants, and behaves as the documented rules predict", async function () {
    await fc.assert(
      fc.asyncProperty(fc.array(cmdArb, { minLength: 5, maxLength: 25 }), runSequence),
      { numRuns: NUM_RUNS, seed: SEED, path: PATH, verbose: 0 },
    );
  });
});
