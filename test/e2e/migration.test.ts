import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import type { JsonRpcProvider } from "ethers";
import { startAnvil, type NodeProcess } from "../../scripts/lib/nodes";
import { buildSerialTree } from "../../api/domain/merkle";
import { caseCount, palletCount } from "../../api/domain/packing";
import { PACK_STATE_NAMES } from "../../api/domain/pack-ledger";
import { buildOldLedger, deploySystemWith, localProvider, type Deployed, type OldLedger } from "../fixtures/migration";
import {
  describeDifference,
  readPlan,
  runMigration,
  type IdMapping,
  type LedgerSnapshot,
  type MigrationPlan,
  type MigrationResult,
} from "../../scripts/lib/migration";
import { auditSystem, exportToFile, planToDir, runFromDir, verifyMigration, type SystemAt } from "../../scripts/lib/migration/operator";

/**
 * The migration runbook end to end on a real anvil node, through the functions the migrate:*
 * tasks call and the files an operator handles: a rich old ledger (see test/fixtures/migration.ts)
 * exported from events to a snapshot file, planned into a directory of per-account files,
 * replayed by its members on fresh Systems deployed through Ignition with the plan's parameters,
 * exported again and compared, and audited by the read side's audit:check; and, independently
 * of the reducers, the contracts' own views on both chains.
 */
describe("migrating the ledger to a new System", function () {
  this.timeout(300_000);
  let node: NodeProcess;
  let provider: JsonRpcProvider;
  let old: OldLedger;
  let snapshot: LedgerSnapshot;
  let plan: MigrationPlan;
  let dir: string;
  const files = { snapshot: "", plan: "" };
  let migrated: { fresh: Deployed; result: MigrationResult; snapshot: LedgerSnapshot };
  const timings: Record<string, number> = {};

  const timed = async <T>(label: string, f: () => Promise<T>): Promise<T> => {
    const started = Date.now();
    try {
      return await f();
    } finally {
      timings[label] = Date.now() - started;
    }
  };
  const at = (sys: Deployed): SystemAt & { provider: JsonRpcProvider } => ({ provider, addresses: sys.addresses, fromBlock: sys.fromBlock });
  /**
   * Deploys a fresh System with the plan's Ignition parameters and runs the plan on it from a copy
   * of the plan directory (each run writes its own mapping.json there).
   */
  const migrate = async (label: string, opts: Parameters<typeof runMigration>[3] = {}) => {
    const planDir = path.join(dir, label.replace(/\W+/g, "-"));
    fs.cpSync(files.plan, planDir, { recursive: true });
    const fresh = await timed(`${label}: deploy`, () => deploySystemWith(provider, readPlan(planDir).deploy));
    const system = at(fresh);
    const result = await timed(`${label}: run`, () => runFromDir(planDir, old.w.all, system, { gasPrice: 0n, ...opts }));
    return { fresh, system, result, planDir };
  };

  before(async function () {
    node = await startAnvil();
    provider = localProvider(node.url);
    old = await timed("build the old ledger", () => buildOldLedger(provider));
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-migration-"));
    files.snapshot = path.join(dir, "snapshot.json");
    files.plan = path.join(dir, "plan");
    snapshot = await timed("export the old ledger", () => exportToFile(at(old), files.snapshot));
    // The producers' serial lists, as the runbook asks them: one file each and a manifest.
    const manifest = { batches: [...old.serials].map(([key, list], i) => ({ gtin: key.split("|")[0], lot: key.split("|")[1], serials: `serials-${i}.json` })) };
    manifest.batches.forEach((b, i) => fs.writeFileSync(path.join(dir, b.serials), JSON.stringify([...old.serials][i][1])));
    fs.writeFileSync(path.join(dir, "inputs.json"), JSON.stringify(manifest));
    plan = planToDir(files.snapshot, files.plan, { inputs: path.join(dir, "inputs.json"), readSerials: (f) => JSON.parse(fs.readFileSync(f, "utf8")) as string[] }).plan;
  });
  after(async function () {
    console.log(`      timings (ms): ${JSON.stringify(timings)}`);
    provider?.destroy();
    await node?.stop();
    if (dir) fs.rmSync(dir, { recursive: true, force: true });
  });

  it("exports the old ledger from events alone, and the export agrees with the contracts' own views", async function () {
    expect(snapshot.anomalies).to.deep.equal([]);
    expect(snapshot.token.paused).to.equal(true);
    expect(snapshot.members).to.have.length(10);
    expect(snapshot.batches.map((b) => `${b.lot} ${b.status}`)).to.deep.equal(["MIG-P1 Active", "MIG-Q1 Quarantined", "MIG-R1 Recalled", "MIG-N1 Active"]);
    for (const m of snapshot.members) {
      const onChain = await old.consortium.member(m.account);
      expect([Number(onChain.index), Number(onChain.status), onChain.gln.toString().padStart(13, "0"), onChain.licenceHash, Number(onChain.licenceExpiry)]).to.deep.equal([
        m.index,
        ["Active", "Suspended", "Revoked"].indexOf(m.status) + 1,
        m.gln,
        m.licenceHash,
        m.licenceExpiry,
      ]);
      expect(await old.consortium.keyOf(m.account)).to.equal(m.key);
    }
    for (const b of snapshot.batches) for (const h of b.holders) expect(await old.batchToken.balanceOf(h.account, b.batchId)).to.equal(BigInt(h.quantity));
  });

  it("the old ledger reaches every pack state, pending shipments both ways and rotated keys, and its own audit is clean", async function () {
    const states = new Set(snapshot.batches.flatMap((b) => (b.packs ? [...b.packs.pallets, ...b.packs.cases, ...b.packs.units].map((r) => r.state) : [])));
    // Held is also the state of packs without a record of their own (in a case or pallet held whole).
    expect([...states, "Held"].filter((x, i, all) => all.indexOf(x) === i).sort()).to.deep.equal(PACK_STATE_NAMES.filter((n) => n !== "None").sort());
    expect(snapshot.batches.flatMap((b) => b.pending.map((p) => p.kind)).sort()).to.deep.equal(["Forward", "Return"]);
    expect(snapshot.members.filter((m) => m.key !== m.account).map((m) => m.account)).to.deep.equal([old.w.producer2.address, old.w.pharmacy.address]);
    const audit = await auditSystem(at(old));
    expect(audit.divergences).to.deep.equal([]);
    expect(audit.ok).to.equal(true);
  });

  it("plans one file per account: members act for themselves, governance only where the old ledger did", function () {
    const governance = new Set(plan.steps.flatMap((s) => ("call" in s.op ? [s.op.call.fn] : [])));
    expect([...governance].sort()).to.deep.equal(["admitMember", "recoverCustody", "recoverShipment", "revokeMember", "rotateKey", "setPaused"]);
    const accountOf = (type: string) => new Set(plan.steps.filter((s) => s.op.type === type).map((s) => s.account));
    expect([...accountOf("mint")].sort()).to.deep.equal([old.w.producer.address, old.w.producer2.address].sort());
    expect([...accountOf("dispense")]).to.deep.equal([old.w.pharmacy.address]);
    expect([...accountOf("emergencySuspend")]).to.deep.equal([old.w.regulator.address]);
    expect([...accountOf("recall")]).to.deep.equal([old.w.producer2.address]);
    // producer2 signs with the key the old ledger rotated to, and only after the rotation.
    expect(plan.members.find((m) => m.account === old.w.producer2.address)?.key).to.equal(old.w.producer2Key.address);
    const rotation = plan.steps.find((s) => s.op.type === "execute" && s.op.call.fn === "rotateKey")!;
    expect(plan.steps.filter((s) => s.account === old.w.producer2.address).every((s) => s.seq > rotation.seq)).to.equal(true);
    expect(plan.skipped).to.deep.equal([]);
    const accounts = [...new Set(plan.steps.map((s) => s.account.toLowerCase()))];
    expect(fs.readdirSync(files.plan).sort()).to.deep.equal(["deploy-parameters.json", "index.json", ...accounts.map((a) => `${a}.json`)].sort());
    expect(plan.members.find((m) => m.account === old.w.pharmacy.address)?.key).to.equal(old.w.pharmacyKey.address);
  });

  it("rebuilds an equal ledger on a fresh System: the comparison finds no difference and audit:check on the new chain is ok", async function () {
    const { fresh, result, planDir } = await migrate("migration");
    expect(result.finished, `stopped at ${result.waitingFor?.id}: ${result.waitingFor?.note}`).to.equal(true);
    expect(result.transactions).to.equal(plan.steps.length);
    const verification = await timed("compare and audit the new ledger", () => verifyMigration(files.snapshot, planDir, at(fresh)));
    expect(verification.differences.map(describeDifference)).to.deep.equal([]);
    expect(verification.audit.divergences).to.deep.equal([]);
    expect(verification.audit.packsChecked).to.be.greaterThan(0);
    expect(verification.ok).to.equal(true);
    migrated = { fresh, result, snapshot: verification.snapshot };
    console.log(`      ${plan.steps.length} steps = ${result.transactions} transactions by ${new Set(plan.steps.map((s) => s.account)).size} accounts in ${result.turns} turns, ${result.milliseconds} ms`);
  });

  it("the new System's contracts answer every view as the old one's do: members, products, balances, pending shipments and the state and verdict of every pack", async function () {
    const a = await readViews(old, snapshot, old.serials, identity(snapshot));
    const b = await readViews(migrated.fresh, snapshot, old.serials, migrated.result.mapping);
    expect(b).to.deep.equal(a);
  });

  it("names exactly the pack whose dispense its pharmacy left out, which the new chain's own audit cannot see", async function () {
    const leftOut = plan.steps.find((s) => s.op.type === "dispense")!;
    const { fresh, planDir } = await migrate("tampered", { skip: (s) => s.id === leftOut.id });
    const verification = await verifyMigration(files.snapshot, planDir, at(fresh));
    const differences = verification.differences;
    const packs = differences.filter((d) => /\b(pack|case|pallet) \d+$/.test(d.where));
    expect(packs.map(describeDifference)).to.deep.equal([
      `batch 09506000134352/MIG-P1 (old #1, new #1) pack 5: state is Dispensed by ${old.w.pharmacy.address} in the old ledger, Held by ${old.w.pharmacy.address} in the new`,
    ]);
    // The pharmacy's balance is one pack higher, and nothing else differs.
    expect(differences.filter((d) => !packs.includes(d)).map((d) => `${d.where} ${d.field}`)).to.deep.equal(["batch 09506000134352/MIG-P1 (old #1, new #1) holders"]);
    expect(verification.ok).to.equal(false);
    // The new chain agrees with its own events: only the comparison with the old ledger finds the gap.
    expect(verification.audit.ok).to.equal(true);
  });

  it("a member that stopped half-way runs its plan again, whole, and the new ledger is still equal", async function () {
    const pharmacy = old.w.pharmacy.address;
    const own = plan.steps.filter((s) => s.account === pharmacy).length;
    const half = Math.floor(own / 2);
    const first = await migrate("resumed, first half", { limits: { [pharmacy]: half } });
    expect(first.result.finished).to.equal(false);
    expect(first.result.waitingFor?.account).to.equal(pharmacy);
    // Started again from nothing but the chain and the plan directory: what is done is skipped, the rest runs.
    const second = await timed("resumed, second run", () => runFromDir(first.planDir, old.w.all, first.system, { gasPrice: 0n }));
    expect(second.finished).to.equal(true);
    expect(first.result.transactions + second.transactions).to.equal(plan.steps.length);
    const verification = await verifyMigration(files.snapshot, first.planDir, first.system);
    expect(verification.differences.map(describeDifference)).to.deep.equal([]);
    expect(verification.ok).to.equal(true);
  });
});

/** The mapping of a ledger to itself (old ids are the ids). */
function identity(s: LedgerSnapshot): IdMapping {
  return {
    snapshotHash: s.hash,
    batches: Object.fromEntries(s.batches.map((b) => [b.batchId, b.batchId])),
    shipments: Object.fromEntries(s.batches.flatMap((b) => b.pending.map((p) => [p.shipmentId, p.shipmentId]))),
    skipped: [],
  };
}

/**
 * What a System's contracts answer, keyed so two Systems compare: governance, every member, every
 * product and licence, and for every batch (through `mapping`) its stored record, balances, pending
 * shipments, and each pallet's, case's and pack's state, holder and verification verdict.
 */
async function readViews(sys: Deployed, s: LedgerSnapshot, serials: Map<string, string[]>, mapping: IdMapping) {
  const { consortium: c, batchToken: t } = sys;
  const accounts = s.members.map((m) => m.account);
  const members = await Promise.all(accounts.map(async (a) => [a, (await c.member(a)).toString(), await c.keyOf(a)]));
  const products = await Promise.all(s.products.map(async (p) => [p.gtin, (await t.product(p.gtin)).toString()]));
  const licences = await Promise.all(s.products.flatMap((p) => accounts.map(async (a) => `${p.prefixKey} ${a} ${await t.isLicensed(p.prefixKey, a)}`)));
  const batches = await Promise.all(
    s.batches.map(async (b) => {
      const id = mapping.batches[b.batchId];
      const record = (await t.batch(id)).toString();
      const balances = await Promise.all(accounts.map(async (a) => `${a} ${await t.balanceOf(a, id)}`));
      const pending = await Promise.all(
        b.pending.map(async (p) => t.isPendingShipment(mapping.shipments[p.shipmentId], { batchId: id, sender: p.sender, receiver: p.receiver, quantity: p.quantity, kind: p.kind === "Forward" ? 0 : 1, items: p.items })),
      );
      if (!b.packs) return { lot: b.lot, record, balances, pending };
      const layout = { units: b.serialCount, unitsPerCase: b.unitsPerCase, casesPerPallet: b.casesPerPallet };
      const tree = buildSerialTree(serials.get(`${b.gtin}|${b.lot}`)!);
      const holderOf = async (kind: number, i: number, state: bigint, member: bigint) => {
        // A pack out of its case reports Held with member 0: holdsUnits tells whose it is.
        if (state !== 1n || member !== 0n) return (await c.accountAt(member)) || "-";
        for (const a of accounts) if (await t.holdsUnits(id, a, [{ kind, start: i, count: 1 }])) return a;
        return "nobody";
      };
      const node = async (kind: number, i: number) => {
        const [state, member] = await t.packState(id, kind, i);
        return `${["pack", "case", "pallet"][kind]} ${i} ${state} ${await holderOf(kind, i, state, member)}`;
      };
      const packs = await Promise.all([
        ...Array.from({ length: palletCount(layout) }, (_, i) => node(2, i)),
        ...Array.from({ length: caseCount(layout) }, (_, i) => node(1, i)),
        ...Array.from({ length: layout.units }, (_, i) => node(0, i)),
      ]);
      const verdicts = await Promise.all(Array.from({ length: layout.units }, (_, i) => t.verifyUnit(b.gtin, b.lot, tree.serialAt(i), b.expiryDay, i, tree.proof(i))));
      return { lot: b.lot, record, balances, pending, packs, verdicts: verdicts.map(Number) };
    }),
  );
  return {
    governors: [...(await c.governors())].sort(),
    threshold: await c.threshold(),
    charter: await c.charterHash(),
    lifetime: await c.proposalLifetime(),
    memberCount: await c.memberCount(),
    paused: await t.paused(),
    undoWindow: await t.undoWindowDays(),
    members,
    products,
    licences,
    batches,
  };
}
