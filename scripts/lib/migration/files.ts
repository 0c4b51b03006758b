import fs from "node:fs";
import path from "node:path";
import { PLAN_FORMAT, stepsByAccount, type MigrationInputs, type MigrationPlan } from "./plan";
import { SNAPSHOT_FORMAT, type IdMapping, type LedgerSnapshot } from "./types";
import { snapshotHash } from "./snapshot";
import type { Step } from "./steps";

/**
 * The migration's files. A plan directory holds `index.json` (everything but the steps: the
 * snapshot hash, the new System's Ignition parameters, members and keys, batches, warnings),
 * `deploy-parameters.json` (the Ignition parameter file for the new System), one
 * `<account>.json` per signing account with its steps (what that member reviews and runs), and,
 * once a run wrote it, `mapping.json` (old ids to new ids).
 */

export function writeJson(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  fs.writeFileSync(file, JSON.stringify(value, null, 2) + "\n");
}

export function readJson<T>(file: string, what: string): T {
  if (!fs.existsSync(file)) throw new Error(`${what} ${file} does not exist`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as T;
  } catch (err) {
    throw new Error(`${what} ${file} is not valid JSON (${(err as Error).message})`);
  }
}

/** Reads a snapshot and checks its format and its hash. */
export function readSnapshot(file: string): LedgerSnapshot {
  const s = readJson<LedgerSnapshot>(file, "snapshot");
  if (s.format !== SNAPSHOT_FORMAT) throw new Error(`${file} is not a ledger snapshot (format ${String(s.format)}, expected ${SNAPSHOT_FORMAT})`);
  const hash = snapshotHash(s);
  if (hash !== s.hash) throw new Error(`${file} was changed after export: its content hashes to ${hash}, it says ${s.hash}`);
  return s;
}

export const accountFile = (dir: string, account: string) => path.join(dir, `${account.toLowerCase()}.json`);

export interface AccountPlanFile {
  account: string;
  /** The key that signs for the account in the new System. */
  key: string;
  snapshotHash: string;
  steps: Step[];
}

/** Writes the plan split per account. Returns the files written. */
export function writePlan(dir: string, plan: MigrationPlan): string[] {
  fs.mkdirSync(dir, { recursive: true });
  const { steps, ...index } = plan;
  const files: string[] = [];
  const accounts = [];
  for (const [account, own] of stepsByAccount(plan)) {
    const key = plan.members.find((m) => m.account === account)?.key ?? account;
    const file = accountFile(dir, account);
    const content: AccountPlanFile = { account, key, snapshotHash: plan.snapshotHash, steps: own };
    writeJson(file, content);
    files.push(file);
    accounts.push({ account, key, file: path.basename(file), steps: own.length });
  }
  writeJson(path.join(dir, "index.json"), { ...index, stepCount: steps.length, accounts });
  writeJson(path.join(dir, "deploy-parameters.json"), plan.deploy);
  return [path.join(dir, "index.json"), path.join(dir, "deploy-parameters.json"), ...files];
}

/** Reads a plan directory back: the index and every account's steps, checked complete. */
export function readPlan(dir: string): MigrationPlan {
  const index = readJson<Omit<MigrationPlan, "steps"> & { stepCount: number; accounts: { account: string; file: string }[] }>(path.join(dir, "index.json"), "plan index");
  if (index.format !== PLAN_FORMAT) throw new Error(`${dir}/index.json is not a migration plan (format ${String(index.format)})`);
  const steps: Step[] = [];
  for (const a of index.accounts) {
    const f = readJson<AccountPlanFile>(path.join(dir, a.file), `plan of ${a.account}`);
    if (f.snapshotHash !== index.snapshotHash) throw new Error(`${a.file} belongs to snapshot ${f.snapshotHash}, the plan to ${index.snapshotHash}`);
    steps.push(...f.steps);
  }
  steps.sort((x, y) => x.seq - y.seq);
  if (steps.length !== index.stepCount || steps.some((s, i) => s.seq !== i + 1)) throw new Error(`${dir}: the account files hold ${steps.length} steps, the index says ${index.stepCount}; a file is missing or was edited`);
  const { stepCount: _n, accounts: _a, ...plan } = index;
  return { ...plan, steps };
}

export const mappingFile = (dir: string) => path.join(dir, "mapping.json");

export function readMapping(file: string): IdMapping {
  return readJson<IdMapping>(file, "id mapping");
}

/**
 * Off-chain inputs from a manifest: `{"batches": [{"gtin": "…", "lot": "…", "serials": "file"}]}`,
 * serial files as batch:mint reads them (JSON array or {serials: […]}, or one serial per line),
 * paths relative to the manifest.
 */
export function readInputs(manifest: string | undefined, readSerials: (file: string) => string[]): MigrationInputs {
  if (!manifest) return {};
  const m = readJson<{ batches?: { gtin: string; lot: string; serials?: string }[] }>(manifest, "input manifest");
  const serials = new Map<string, readonly string[]>();
  for (const b of m.batches ?? []) {
    if (b.serials) serials.set(`${b.gtin.padStart(14, "0")}|${b.lot}`, readSerials(path.resolve(path.dirname(manifest), b.serials)));
  }
  return { serials };
}
