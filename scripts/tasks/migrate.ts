import path from "node:path";
import { task, types } from "hardhat/config";
import type { ConfigurableTaskDefinition, HardhatRuntimeEnvironment } from "hardhat/types";
import { getAddress, isAddress } from "ethers";
import { HardhatPluginError } from "hardhat/plugins";
import { UserError } from "../lib/errors";

// Definitions only: helpers that need compiled artifacts load inside the actions (after
// compiling when needed), so `hardhat compile` works on a fresh clone.
import { common } from "./load";

/**
 * Migration to a new System (docs/MIGRATION.md is the runbook). Each task touches one chain:
 *
 *   migrate:export  --network old   the paused old ledger, from events, to a snapshot file
 *   migrate:plan    (no chain)      the snapshot to a plan directory: one file per signing account
 *   migrate:run     --network new   the steps of the accounts whose keys this network config holds
 *   migrate:status  --network new   how far the new ledger is, and whose step is next
 *   migrate:compare --network new   the new ledger against the snapshot, and the read side's audit
 *
 * A System is named by `--deployment-id` (an Ignition deployment in ignition/deployments/), by
 * `--consortium` and `--batch-token`, or else is the network's own deployment (as other tasks).
 */

interface SystemArgs {
  deploymentId?: string;
  consortium?: string;
  batchToken?: string;
  fromBlock?: number;
}

const systemParams = (t: ConfigurableTaskDefinition) =>
  t
    .addOptionalParam("deploymentId", "Ignition deployment id of the System (ignition/deployments/<id>)")
    .addOptionalParam("consortium", "Consortium address (with --batch-token, instead of a deployment)")
    .addOptionalParam("batchToken", "BatchToken address (with --consortium)")
    .addOptionalParam("fromBlock", "The System's deployment block (default: from the Ignition journal, else 0)", undefined, types.int);

/** The System a task works on, and the block its events start at. */
async function systemOf(hre: HardhatRuntimeEnvironment, args: SystemArgs, log: (line: string) => void) {
  const { readDeploymentAddresses, deploymentDir } = await import("../../api/chain/addresses");
  const { deploymentBlock } = await import("../lib/migration/operator");
  const { loadSystem } = await import("../lib/deployment");
  let addresses: { consortium: string; batchToken: string };
  let id: string | undefined = args.deploymentId;
  if (args.consortium || args.batchToken) {
    if (!args.consortium || !args.batchToken || !isAddress(args.consortium) || !isAddress(args.batchToken))
      throw new UserError("BAD_SYSTEM", "--consortium and --batch-token go together, each an address", "or name the Ignition deployment with --deployment-id");
    addresses = { consortium: getAddress(args.consortium), batchToken: getAddress(args.batchToken) };
  } else if (id) {
    const a = readDeploymentAddresses(id);
    if (!a) throw new UserError("NO_DEPLOYMENT", `no System deployment "${id}" in ${path.relative(process.cwd(), deploymentDir(id))}`, `deploy it: npx hardhat ignition deploy ignition/modules/System.ts --network ${hre.network.name} --parameters <plan>/deploy-parameters.json --deployment-id ${id}`);
    addresses = a;
  } else {
    const sys = await loadSystem(hre);
    addresses = sys.addresses;
    id = sys.deploymentId;
  }
  if ((await hre.ethers.provider.getCode(addresses.batchToken)) === "0x")
    throw new UserError("NO_CODE", `BatchToken ${addresses.batchToken} has no code on network "${hre.network.name}"`, "check --network and the System you named");
  let fromBlock = args.fromBlock;
  if (fromBlock === undefined) {
    fromBlock = (id ? deploymentBlock(deploymentDir(id)) : undefined) ?? 0;
    log(`reading the System's events from block ${fromBlock}${id ? ` (deployment ${id})` : ""}`);
  }
  return { provider: hre.ethers.provider, addresses, fromBlock };
}

const gasPriceOf = (hre: HardhatRuntimeEnvironment): bigint | undefined => {
  const g = (hre.network.config as { gasPrice?: number | "auto" }).gasPrice;
  return typeof g === "number" ? BigInt(g) : undefined;
};

systemParams(task("migrate:export", "Exports the (paused) ledger of a System from its events into a snapshot file"))
  .addParam("out", "Snapshot file to write (JSON)")
  .addOptionalParam("toBlock", "Export as of this block (default: the latest)", undefined, types.int)
  .addFlag("allowUnpaused", "Export a System whose custody is not paused (a rehearsal only)")
  .setAction(async (args: SystemArgs & { out: string; toBlock?: number; allowUnpaused: boolean }, hre) =>
    (await common(hre)).taskBody(async () => {
      const { exportToFile } = await import("../lib/migration/operator");
      const old = await systemOf(hre, args, console.log);
      const s = await exportToFile(old, args.out, args);
      const packs = s.batches.reduce((n, b) => n + b.serialCount, 0);
      const pending = s.batches.reduce((n, b) => n + b.pending.length, 0);
      console.log(`exported ${s.members.length} members, ${s.products.length} products, ${s.batches.length} batches (${packs} serialised packs), ${pending} pending shipments from ${s.source.events} events up to block ${s.source.toBlock} (${s.source.blockHash})`);
      for (const a of s.anomalies) console.log(`  ANOMALY ${a}`);
      console.log(`snapshot hash ${s.hash} → ${args.out}`);
      return s;
    }),
  );

task("migrate:plan", "Plans the replay of a snapshot on a new System: one step file per signing account")
  .addParam("snapshot", "Snapshot file written by migrate:export")
  .addParam("out", "Plan directory to write")
  .addOptionalParam("inputs", 'Manifest of serial lists: {"batches":[{"gtin","lot","serials":"file"}]} (needed for dispensed packs)')
  .setAction(async (args: { snapshot: string; out: string; inputs?: string }, hre) =>
    (await common(hre)).taskBody(async () => {
      const { planToDir } = await import("../lib/migration/operator");
      const { readSerialFile } = await common(hre);
      const { plan, files } = planToDir(args.snapshot, args.out, { inputs: args.inputs, readSerials: readSerialFile });
      const byAccount = new Map<string, number>();
      for (const s of plan.steps) byAccount.set(s.account, (byAccount.get(s.account) ?? 0) + 1);
      console.log(`${plan.steps.length} steps for ${byAccount.size} accounts (snapshot ${plan.snapshotHash}):`);
      for (const [account, n] of byAccount) {
        const m = plan.members.find((x) => x.account === account);
        const key = m && m.key !== account ? `, signs with ${m.key}` : "";
        console.log(`  ${account} ${m ? `${m.role} GLN ${m.gln}` : "governor"}: ${n} steps${key}`);
      }
      for (const s of plan.skipped) console.log(`  SKIPPED batch ${s.gtin}/${s.lot} (#${s.batchId}): ${s.reason}`);
      for (const w of plan.warnings) console.log(`  WARNING ${w}`);
      console.log(`wrote ${files.length} files to ${args.out}; deploy the new System with ${path.join(args.out, "deploy-parameters.json")}`);
      return plan;
    }),
  );

systemParams(task("migrate:run", "Runs the plan's steps on the new System with the keys this network config holds; run again to resume"))
  .addParam("plan", "Plan directory written by migrate:plan")
  .addOptionalParam("as", "Only these accounts (comma-separated addresses or demo names; default: every key configured)")
  .addOptionalParam("limit", "Stop each account after this many transactions", undefined, types.int)
  .setAction(async (args: SystemArgs & { plan: string; as?: string; limit?: number }, hre) =>
    (await common(hre)).taskBody(async () => {
      const { runFromDir } = await import("../lib/migration/operator");
      const c = await common(hre);
      const fresh = await systemOf(hre, args, console.log);
      const signers = args.as ? await Promise.all(args.as.split(",").map((a) => c.actor(hre, a.trim()))) : await hre.ethers.getSigners();
      const r = await runFromDir(args.plan, signers, fresh, { limit: args.limit, gasPrice: gasPriceOf(hre), log: (l) => console.log(`  ${l}`) });
      console.log(`${r.transactions} transactions in ${r.milliseconds} ms with the keys of ${r.keys.length} plan accounts; mapping → ${path.join(args.plan, "mapping.json")}`);
      if (r.finished) console.log("done: every step of the plan is on the new ledger; next: migrate:compare");
      else {
        const w = r.waitingFor!;
        const key = r.run.keyOf(w.account);
        console.log(`waiting for step ${w.id} of ${w.account}${key !== w.account ? ` (key ${key})` : ""}: ${w.note}`);
        console.log(`  that account runs: npx hardhat migrate:run --network ${hre.network.name} --plan ${args.plan} …, with its key configured; then run this again`);
      }
      return { transactions: r.transactions, finished: r.finished, waitingFor: r.waitingFor?.id };
    }),
  );

systemParams(task("migrate:status", "Shows how far the new ledger is in the plan, and whose step is next"))
  .addParam("plan", "Plan directory written by migrate:plan")
  .setAction(async (args: SystemArgs & { plan: string }, hre) =>
    (await common(hre)).taskBody(async () => {
      const { readPlan, MigrationRun } = await import("../lib/migration");
      const plan = readPlan(args.plan);
      const run = new MigrationRun(plan, await systemOf(hre, args, console.log));
      await run.view.refresh();
      const next = run.firstPending();
      const done = next ? next.seq - 1 : plan.steps.length;
      console.log(`${done} of ${plan.steps.length} steps done`);
      if (next) console.log(`next: step ${next.id} (${next.phase}) of ${next.account}, key ${run.keyOf(next.account)}: ${next.note}`);
      return { done, total: plan.steps.length, next: next?.id };
    }),
  );

systemParams(task("migrate:compare", "Compares the new ledger with the old snapshot field by field, and audits the new chain"))
  .addParam("snapshot", "The old ledger's snapshot file (migrate:export)")
  .addParam("plan", "Plan directory with the mapping.json migrate:run wrote")
  .addOptionalParam("out", "Also write the new ledger's snapshot here")
  .addFlag("acceptSkipped", "Batches the plan skipped (expired) are not differences")
  .setAction(async (args: SystemArgs & { snapshot: string; plan: string; out?: string; acceptSkipped: boolean }, hre) =>
    (await common(hre)).taskBody(async () => {
      const { verifyMigration } = await import("../lib/migration/operator");
      const { describeDifference } = await import("../lib/migration");
      const v = await verifyMigration(args.snapshot, args.plan, await systemOf(hre, args, console.log), args);
      const a = v.audit;
      console.log(`compared ${v.snapshot.members.length} members, ${v.snapshot.products.length} products, ${v.snapshot.batches.length} batches: ${v.differences.length} difference(s)`);
      for (const d of v.differences) console.log(`  DIFFERENCE ${describeDifference(d)}`);
      console.log(`audit of the new chain at block ${a.atBlock}: ${a.batches} batches, ${a.holdersChecked} balances, ${a.pendingChecked} pending shipments, ${a.packsChecked} packs: ${a.divergences.length} divergence(s)`);
      for (const d of a.divergences) console.log(`  DIVERGENCE ${d.kind} batch ${d.batchId}: events ${d.fromEvents}, actual ${d.actual} — ${d.detail}`);
      if (!v.ok) throw new HardhatPluginError("medtrace", `error MIGRATION_NOT_EQUAL: ${v.differences.length} difference(s), ${a.divergences.length} audit divergence(s) — see the lines above`);
      console.log(`ok: the new ledger equals ${args.snapshot} field by field, and audit:check finds its events and its contracts in agreement`);
      return { ok: v.ok, differences: v.differences.length, divergences: a.divergences.length };
    }),
  );
