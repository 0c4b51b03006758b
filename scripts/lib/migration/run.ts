import { ethers, type Provider, type Signer, type TransactionReceipt } from "ethers";
import { BatchToken__factory, Consortium__factory } from "../../../typechain-types";
import { govKey, opKey, refKey, type BatchRef, type GovCall, type Op, type Step } from "./steps";
import { LedgerView } from "./view";
import type { MigrationPlan } from "./plan";
import type { IdMapping } from "./types";

/**
 * Runs a migration plan against the new System, one account at a time: each account runs its own
 * steps in the plan's global order, and a step runs only once every step before it (of every
 * account) is done. "Done" is read from the new ledger's events, never from a local journal, so a
 * run that stopped anywhere (crash, lost connection, Ctrl-C) is simply started again: what is on
 * chain is skipped, the rest runs. Before sending, a run waits for the key's pending transactions
 * to be mined, so nothing sent before a crash is sent twice.
 */

export interface NewSystem {
  provider: Provider;
  addresses: { consortium: string; batchToken: string };
  /** First block to read the new System's events from (its deployment block). */
  fromBlock: number;
}

export interface RunOptions {
  /** Stop each account after sending this many transactions (a partial run: resume by running again). */
  limit?: number;
  /** Treat these steps as done without running them (simulates a member that left a step out). */
  skip?: (step: Step) => boolean;
  /** Gas price to send with (0 on a free-gas consortium chain); default: the node's. */
  gasPrice?: bigint;
  log?: (line: string) => void;
}

export interface AccountRun {
  account: string;
  /** Transactions sent and mined. */
  sent: number;
  /** Own steps found done already. */
  alreadyDone: number;
  /** Whether every step of the account is done. */
  finished: boolean;
  /** The first step of another account this one waits for. */
  waitingFor?: Step;
}

const ZERO = "0x0000000000000000000000000000000000000000";
const bytes2 = (code: string) => ethers.hexlify(ethers.toUtf8Bytes(code));

/** A migration in progress: the plan, the new System, and what its ledger shows. */
export class MigrationRun {
  readonly view: LedgerView;
  private readonly byId: Map<string, Step>;
  private watermark = 0;
  private readonly consortiumIface = Consortium__factory.createInterface();
  private readonly tokenIface = BatchToken__factory.createInterface();

  constructor(
    readonly plan: MigrationPlan,
    readonly system: NewSystem,
    readonly opts: RunOptions = {},
  ) {
    this.view = new LedgerView(system.provider, system.addresses, system.fromBlock);
    this.byId = new Map(plan.steps.map((s) => [s.id, s]));
  }

  /** The key that signs for `account` in the new System once the plan's rotations ran. */
  keyOf(account: string): string {
    return this.plan.members.find((m) => m.account.toLowerCase() === account.toLowerCase())?.key ?? account;
  }

  private batchId(ref: BatchRef): string | undefined {
    return this.view.batchId(ref.gtin, ref.lot);
  }

  /** The shipment a ship step created, once it did. */
  private shipmentOf(stepId: string) {
    const step = this.byId.get(stepId);
    if (!step) return undefined;
    const key = this.memberKey(step);
    return key === undefined ? undefined : this.view.shipment(key, step.occurrence);
  }

  /** A member step's key with the new ids, or undefined while an id it needs does not exist yet. */
  private memberKey(step: Step): string | undefined {
    let unresolved = false;
    const key = opKey(
      step.op,
      step.account,
      (ref) => this.batchId(ref) ?? ((unresolved = true), "?"),
      (shipStep) => this.shipmentOf(shipStep)?.shipmentId.toString() ?? ((unresolved = true), "?"),
    );
    return unresolved ? undefined : key;
  }

  /** The governance call as (target, calldata), or undefined while an id it needs does not exist yet. */
  private govCall(call: GovCall): { target: string; data: string } | undefined {
    const { consortium, batchToken } = this.system.addresses;
    if (call.target === "consortium") {
      return { target: consortium, data: this.consortiumIface.encodeFunctionData(call.fn as never, call.args as never) };
    }
    if (call.fn === "recoverCustody") {
      const id = this.batchId(call.batch);
      if (id === undefined) return undefined;
      return { target: batchToken, data: this.tokenIface.encodeFunctionData("recoverCustody", [id, call.from, call.to, call.quantity, call.items, call.state, call.evidenceHash]) };
    }
    if (call.fn === "recoverShipment") {
      const s = this.shipmentOf(call.shipStep);
      if (!s) return undefined;
      return { target: batchToken, data: this.tokenIface.encodeFunctionData("recoverShipment", [s.shipmentId, s.shipment, call.to, call.evidenceHash]) };
    }
    return { target: batchToken, data: this.tokenIface.encodeFunctionData(call.fn as never, call.args as never) };
  }

  /** Whether the new ledger shows the step done. */
  isDone(step: Step): boolean {
    const op = step.op;
    if (op.type === "propose" || op.type === "approve" || op.type === "execute") {
      const call = this.govCall(op.call);
      if (!call) return false;
      const proposals = this.view.proposalsFor(call.target, call.data);
      if (proposals.some((p) => p.executed)) return true;
      const live = proposals.filter((p) => !p.cancelled && p.expiresAt > this.view.now);
      if (op.type === "propose") return live.length > 0;
      if (op.type === "approve") return live.some((p) => [...p.approvals].some((g) => g.toLowerCase() === step.account.toLowerCase()));
      return false;
    }
    const key = this.memberKey(step);
    return key !== undefined && this.view.count(key) >= step.occurrence;
  }

  /** The first step (of any account) not done yet, or undefined when the plan is done. */
  firstPending(): Step | undefined {
    const steps = this.plan.steps;
    while (this.watermark < steps.length && (this.isDone(steps[this.watermark]) || this.opts.skip?.(steps[this.watermark]))) this.watermark++;
    return steps[this.watermark];
  }

  /** Runs `account`'s steps until they are done, it must wait for another account, or the limit is reached. */
  async runAccount(account: string, signer: Signer, limit = this.opts.limit ?? Infinity): Promise<AccountRun> {
    const log = this.opts.log ?? (() => undefined);
    const result: AccountRun = { account, sent: 0, alreadyDone: 0, finished: false };
    const own = this.plan.steps.filter((s) => s.account.toLowerCase() === account.toLowerCase());
    const key = await signer.getAddress();
    if (key.toLowerCase() !== this.keyOf(account).toLowerCase()) {
      throw new Error(`account ${account} signs with ${this.keyOf(account)} in the new System, not with ${key}`);
    }
    await this.waitForPending(key);
    await this.view.refresh();
    for (const step of own) {
      if (this.isDone(step) || this.opts.skip?.(step)) {
        result.alreadyDone++;
        continue;
      }
      const first = this.firstPending();
      if (first && first.seq < step.seq) {
        result.waitingFor = first;
        return result;
      }
      if (result.sent >= limit) return result;
      log(`${step.id} ${account}: ${step.note}`);
      const receipt = await this.send(signer, step);
      for (const l of receipt.logs) this.view.ingest(l);
      result.sent++;
    }
    result.finished = true;
    return result;
  }

  /** Sends one step's transaction and waits until it is mined. */
  private async send(signer: Signer, step: Step): Promise<TransactionReceipt> {
    const { target, data } = this.transaction(step);
    let response;
    try {
      response = await signer.sendTransaction({ to: target, data, ...(this.opts.gasPrice !== undefined ? { gasPrice: this.opts.gasPrice } : {}) });
    } catch (err) {
      throw new MigrationStepError(step, err);
    }
    const receipt = await waitForReceipt(this.system.provider, response.hash);
    if (receipt.status !== 1) throw new MigrationStepError(step, new Error(`transaction ${receipt.hash} reverted`));
    return receipt;
  }

  /** The transaction of a step: target and calldata. */
  private transaction(step: Step): { target: string; data: string } {
    const op = step.op;
    const token = this.system.addresses.batchToken;
    const t = this.tokenIface;
    const id = (ref: BatchRef) => {
      const b = this.batchId(ref);
      if (b === undefined) throw new MigrationStepError(step, new Error(`batch ${refKey(ref)} is not minted in the new System`));
      return b;
    };
    switch (op.type) {
      case "propose":
      case "approve":
      case "execute": {
        const call = this.govCall(op.call);
        if (!call) throw new MigrationStepError(step, new Error(`the ids of ${govKey(op.call)} are not known yet`));
        if (op.type === "propose") return { target: this.system.addresses.consortium, data: this.consortiumIface.encodeFunctionData("propose", [call.target, call.data]) };
        const live = this.view.proposalsFor(call.target, call.data).find((p) => !p.executed && !p.cancelled && p.expiresAt > this.view.now);
        if (!live) throw new MigrationStepError(step, new Error("no open proposal for this action: its proposer has to propose it (again)"));
        return { target: this.system.addresses.consortium, data: this.consortiumIface.encodeFunctionData(op.type as "approve", [live.id]) };
      }
      case "registerProduct":
      case "updateProduct":
        return { target: token, data: t.encodeFunctionData(op.type as "registerProduct", [op.gtin, op.markets.map(bytes2), op.masterDataHash]) };
      case "setProductStatus":
        return { target: token, data: t.encodeFunctionData("setProductStatus", [op.gtin, op.status, op.reasonHash]) };
      case "setPrefixLicence":
        return { target: token, data: t.encodeFunctionData("setPrefixLicence", [op.prefixKey, op.licensee, op.granted]) };
      case "mint":
        return {
          target: token,
          data: t.encodeFunctionData("mintBatch", [
            {
              gtin: op.batch.gtin,
              lot: op.batch.lot,
              expiryDay: op.expiryDay,
              quantity: op.quantity,
              serialsRoot: op.serialsRoot,
              serialCount: op.serialCount,
              documentHash: op.documentHash,
              unitsPerCase: op.unitsPerCase,
              casesPerPallet: op.casesPerPallet,
              packingRoot: op.packingRoot,
              markets: op.markets.map(bytes2),
            },
          ]),
        };
      case "ship":
        return { target: token, data: t.encodeFunctionData("ship", [id(op.batch), op.receiver, op.quantity, op.items, op.referenceHash]) };
      case "accept": {
        const s = this.shipmentOf(op.shipStep);
        if (!s) throw new MigrationStepError(step, new Error(`shipment of step ${op.shipStep} not found`));
        return { target: token, data: t.encodeFunctionData("acceptShipment", [s.shipmentId, s.shipment]) };
      }
      case "unpack":
        return { target: token, data: t.encodeFunctionData("unpack", [id(op.batch), op.items]) };
      case "dispense":
        return { target: token, data: t.encodeFunctionData("dispense", [id(op.batch), op.unit, op.serial, op.proof]) };
      case "decommission":
        return { target: token, data: t.encodeFunctionData("decommission", [id(op.batch), op.items, op.state, op.evidenceHash]) };
      case "lock":
        return { target: token, data: t.encodeFunctionData("lock", [id(op.batch), op.items, op.reasonHash]) };
      case "writeOff":
        return { target: token, data: t.encodeFunctionData("writeOff", [id(op.batch), op.quantity, op.reason, op.evidenceHash]) };
      case "quarantine":
      case "recall":
        return { target: token, data: t.encodeFunctionData(op.type as "recall", [id(op.batch), op.reasonHash]) };
      case "safetyNotice":
        return { target: token, data: t.encodeFunctionData("safetyNotice", [id(op.batch), op.noticeHash]) };
      case "emergencySuspend":
        return { target: this.system.addresses.consortium, data: this.consortiumIface.encodeFunctionData("emergencySuspend", [op.member, op.reasonHash]) };
    }
  }

  /** Waits until every transaction `key` sent is mined (a run restarted after a crash must not send a step twice). */
  private async waitForPending(key: string, timeoutMs = 120_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const [pending, latest] = await Promise.all([this.system.provider.getTransactionCount(key, "pending"), this.system.provider.getTransactionCount(key, "latest")]);
      if (pending <= latest) return;
      if (Date.now() > deadline) throw new Error(`${key} still has ${pending - latest} transaction(s) pending after ${timeoutMs / 1000} s: wait for them (or replace them) before running again`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Old ids to new ids for everything the new ledger shows so far. */
  mapping(): IdMapping {
    const batches: Record<string, string> = {};
    for (const b of this.plan.batches) {
      const id = this.view.batchId(b.gtin, b.lot);
      if (id !== undefined) batches[b.batchId] = id;
    }
    const shipments: Record<string, string> = {};
    for (const s of this.plan.steps) {
      if (s.op.type !== "ship" || s.op.oldShipmentId === undefined) continue;
      const created = this.shipmentOf(s.id);
      if (created) shipments[s.op.oldShipmentId] = created.shipmentId.toString();
    }
    return { snapshotHash: this.plan.snapshotHash, batches, shipments, skipped: this.plan.skipped };
  }
}

/** A step that failed, with its id, account and what it does; `cause` has the node's answer. */
export class MigrationStepError extends Error {
  constructor(
    readonly step: Step,
    override readonly cause: unknown,
  ) {
    super(`step ${step.id} of ${step.account} (${step.note}) failed: ${(cause as Error)?.message?.split("\n")[0] ?? String(cause)}`);
    this.name = "MigrationStepError";
  }
}

/** Polls for a receipt: quickly first (automining nodes answer at once), then every 250 ms. */
export async function waitForReceipt(provider: Provider, hash: string, timeoutMs = 300_000): Promise<TransactionReceipt> {
  const deadline = Date.now() + timeoutMs;
  for (let delay = 5; ; delay = Math.min(delay * 2, 250)) {
    const receipt = await provider.getTransactionReceipt(hash);
    if (receipt) return receipt;
    if (Date.now() > deadline) throw new Error(`transaction ${hash} not mined after ${timeoutMs / 1000} s`);
    await new Promise((r) => setTimeout(r, delay));
  }
}

export interface MigrationResult {
  transactions: number;
  /** Times the accounts took turns. */
  turns: number;
  milliseconds: number;
  finished: boolean;
  /** The step everybody waits for, when the run could go no further. */
  waitingFor?: Step;
  mapping: IdMapping;
  run: MigrationRun;
}

/**
 * Runs every account's part, taking turns: the account whose step is next in the global order
 * runs as far as it can, then the account it waits for, and so on, until the plan is done or the
 * next step belongs to an account not run here. `signerFor` gives the signer of a key (undefined:
 * that account is not run here). `limits` stops given accounts after so many transactions (a
 * partial run, as after a crash).
 */
export async function runMigration(
  plan: MigrationPlan,
  signerFor: (key: string) => Signer | undefined,
  system: NewSystem,
  opts: RunOptions & { limits?: Record<string, number> } = {},
): Promise<MigrationResult> {
  const started = Date.now();
  const run = new MigrationRun(plan, system, opts);
  await run.view.refresh();
  const sent = new Map<string, number>();
  let transactions = 0;
  let turns = 0;
  for (;;) {
    const next = run.firstPending();
    const result = (waitingFor?: Step): MigrationResult => ({ transactions, turns, milliseconds: Date.now() - started, finished: !waitingFor, ...(waitingFor ? { waitingFor } : {}), mapping: run.mapping(), run });
    if (!next) return result();
    const signer = signerFor(run.keyOf(next.account));
    const cap = opts.limits?.[next.account] ?? opts.limit ?? Infinity;
    const limit = cap - (sent.get(next.account) ?? 0);
    if (!signer || limit <= 0) return result(next);
    const r = await run.runAccount(next.account, signer, limit);
    turns++;
    transactions += r.sent;
    sent.set(next.account, (sent.get(next.account) ?? 0) + r.sent);
    if (r.sent === 0) return result(next);
  }
}

export { ZERO as ZERO_ADDRESS };
