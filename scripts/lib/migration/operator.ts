import fs from "node:fs";
import path from "node:path";
import type { Provider, Signer } from "ethers";
import { BatchToken__factory } from "../../../typechain-types";
import { auditLedger, type AuditReport } from "../../../api/read/audit";
import { readLedgerRange, type RpcSender } from "../../../api/read/chain-reader";
import type { LedgerEvent } from "../../../api/domain/ledger-events";
import { UserError } from "../errors";
import { compareLedgers, type LedgerDifference } from "./compare";
import { mappingFile, readInputs, readMapping, readPlan, readSnapshot, writeJson, writePlan } from "./files";
import { planMigration, PlanError, type MigrationPlan } from "./plan";
import { runMigration, type MigrationResult, type RunOptions } from "./run";
import { exportLedgerState } from "./snapshot";
import type { LedgerSnapshot } from "./types";

/**
 * The runbook's steps as functions of files and one chain each, so the Hardhat tasks
 * (scripts/tasks/migrate.ts) and the e2e test run the same code: export to a snapshot file, plan
 * into a directory, run from that directory (writing mapping.json), compare a new export with the
 * old snapshot and audit the new chain with the read side's audit. Errors a person can fix are
 * UserErrors with a stable code and a hint.
 */

export interface SystemAt {
  provider: Provider;
  addresses: { consortium: string; batchToken: string };
  /** The System's deployment block (events are read from there). */
  fromBlock: number;
}

/**
 * The first block an Ignition deployment's journal recorded a confirmed transaction in: where the
 * System's events start. Undefined without a journal (deployments from elsewhere: give the block).
 */
export function deploymentBlock(deploymentDirectory: string): number | undefined {
  const file = path.join(deploymentDirectory, "journal.jsonl");
  if (!fs.existsSync(file)) return undefined;
  let first: number | undefined;
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (!line.includes("TRANSACTION_CONFIRM")) continue;
    const n = (JSON.parse(line) as { receipt?: { blockNumber?: number } }).receipt?.blockNumber;
    if (typeof n === "number" && (first === undefined || n < first)) first = n;
  }
  return first;
}

/**
 * Step 2 of the runbook: exports the old System's ledger as of `toBlock` (default: the latest)
 * into `out`. Refuses a System whose custody is not paused (the state could move under the
 * export) unless `allowUnpaused` (a rehearsal).
 */
export async function exportToFile(old: SystemAt, out: string, opts: { toBlock?: number; allowUnpaused?: boolean } = {}): Promise<LedgerSnapshot> {
  const snapshot = await exportLedgerState(old.provider, old.addresses, old.fromBlock, { toBlock: opts.toBlock });
  if (!snapshot.token.paused && !opts.allowUnpaused) {
    throw new UserError(
      "NOT_PAUSED",
      `custody of BatchToken ${old.addresses.batchToken} is not paused at block ${snapshot.source.toBlock}: members could still change the ledger after the export`,
      "have governance execute setPaused(true, <reason hash>) on the old System first (runbook step 1), or pass --allow-unpaused for a rehearsal",
    );
  }
  writeJson(out, snapshot);
  return snapshot;
}

/** Step 3: plans the migration of the snapshot in `snapshotFile` into `dir` (index, parameters, one file per account). */
export function planToDir(snapshotFile: string, dir: string, opts: { inputs?: string; readSerials: (file: string) => string[]; now?: number }): { plan: MigrationPlan; files: string[] } {
  const snapshot = readSnapshot(snapshotFile);
  let plan: MigrationPlan;
  try {
    plan = planMigration(snapshot, readInputs(opts.inputs, opts.readSerials), { now: opts.now });
  } catch (err) {
    if (err instanceof PlanError) throw new UserError("PLAN_IMPOSSIBLE", err.message, "settle each point on the old System (it must be unpaused for that), pause and export again");
    throw err;
  }
  return { plan, files: writePlan(dir, plan) };
}

/**
 * Step 5: runs the plan in `dir` on the new System with the keys this operator holds, and writes
 * `mapping.json` (old ids to new ids, as far as the new ledger shows them). Run again to resume.
 */
export async function runFromDir(dir: string, signers: readonly Signer[], fresh: SystemAt, opts: RunOptions & { limits?: Record<string, number> } = {}): Promise<MigrationResult & { keys: string[] }> {
  const plan = readPlan(dir);
  const byKey = new Map<string, Signer>();
  for (const s of signers) byKey.set((await s.getAddress()).toLowerCase(), s);
  const keys = [...new Set(plan.members.map((m) => m.key).concat(plan.governors))].filter((k) => byKey.has(k.toLowerCase()));
  const result = await runMigration(plan, (key) => byKey.get(key.toLowerCase()), fresh, opts);
  writeJson(mappingFile(dir), result.mapping);
  return { ...result, keys };
}

export interface Verification {
  /** The new ledger's snapshot. */
  snapshot: LedgerSnapshot;
  differences: LedgerDifference[];
  /** The read side's audit of the new chain (its events against its contracts). */
  audit: AuditReport;
  ok: boolean;
}

/** A chain's ledger events in [fromBlock, toBlock], read as the read side reads them. */
async function ledgerEvents(rpc: RpcSender, batchToken: string, fromBlock: number, toBlock: number, pageBlocks = 5_000): Promise<LedgerEvent[]> {
  const events: LedgerEvent[] = [];
  for (let from = fromBlock; from <= toBlock; from += pageBlocks) events.push(...(await readLedgerRange(rpc, batchToken, from, Math.min(from + pageBlocks - 1, toBlock))));
  return events;
}

/** The read side's audit (what `audit:check` runs) of a System as of `atBlock`. */
export async function auditSystem(sys: SystemAt & { provider: Provider & RpcSender }, atBlock?: number): Promise<AuditReport> {
  const head = atBlock ?? (await sys.provider.getBlockNumber());
  const events = await ledgerEvents(sys.provider, sys.addresses.batchToken, sys.fromBlock, head);
  return auditLedger({ events, batchToken: BatchToken__factory.connect(sys.addresses.batchToken, sys.provider), atBlock: head });
}

/**
 * Step 6: exports the new ledger, compares it field by field with the old snapshot through the
 * mapping the run wrote, and audits the new chain. `ok` only when there is no difference and the
 * audit found no divergence.
 */
export async function verifyMigration(oldSnapshotFile: string, dir: string, fresh: SystemAt & { provider: Provider & RpcSender }, opts: { out?: string; acceptSkipped?: boolean } = {}): Promise<Verification> {
  const old = readSnapshot(oldSnapshotFile);
  const mapping = readMapping(mappingFile(dir));
  if (mapping.snapshotHash !== old.hash) {
    throw new UserError("OTHER_SNAPSHOT", `${mappingFile(dir)} belongs to snapshot ${mapping.snapshotHash}, ${oldSnapshotFile} is ${old.hash}`, "compare with the snapshot the plan was made from");
  }
  const head = await fresh.provider.getBlockNumber();
  const snapshot = await exportLedgerState(fresh.provider, fresh.addresses, fresh.fromBlock, { toBlock: head });
  if (opts.out) writeJson(opts.out, snapshot);
  const differences = compareLedgers(old, snapshot, mapping, { acceptSkipped: opts.acceptSkipped });
  const audit = await auditSystem(fresh, head);
  return { snapshot, differences, audit, ok: differences.length === 0 && audit.ok };
}
