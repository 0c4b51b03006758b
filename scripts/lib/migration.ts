/**
 * Migrating the ledger to a new System (issue 12, item 5). The contracts are not upgradeable, and
 * governance cannot mint, dispense or set a pack's history, so a migration is a replay by the
 * owners of every claim, split per signing account:
 *
 * 1. `exportLedgerState` — the old ledger as of one block, from events alone (snapshot.ts).
 * 2. `planMigration` — ordered steps per account that rebuild that state on a new System (plan.ts).
 * 3. `runMigration` / `MigrationRun` — each account runs its steps; resumable (run.ts).
 * 4. `compareLedgers` — the new ledger's snapshot against the old one, through the id mapping the
 *    run wrote (compare.ts); empty means equal.
 *
 * docs/MIGRATION.md is the operator's runbook; scripts/tasks/migrate.ts has the Hardhat tasks.
 */
export { exportLedgerState, buildSnapshot, snapshotHash, canonicalJson, type ExportOptions } from "./migration/snapshot";
export { planMigration, stepsByAccount, PlanError, PLAN_FORMAT, type MigrationPlan, type MigrationInputs, type PlanOptions } from "./migration/plan";
export { runMigration, MigrationRun, MigrationStepError, waitForReceipt, type NewSystem, type RunOptions, type AccountRun, type MigrationResult } from "./migration/run";
export { compareLedgers, describeDifference, type LedgerDifference, type CompareOptions } from "./migration/compare";
export { writePlan, readPlan, readSnapshot, readMapping, readInputs, writeJson, readJson, mappingFile, accountFile } from "./migration/files";
export { PHASES, type Step, type Op, type Phase, type GovCall, type BatchRef } from "./migration/steps";
export * from "./migration/types";
