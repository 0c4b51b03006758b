import fs from "node:fs";
import path from "node:path";
import { describeFailure, runInvariants } from "./lib/forge";

/**
 * `npm run fuzz`: the long invariant campaign (foundry.toml profile "long": every invariant of
 * test/foundry/MedtraceInvariants.t.sol is its own campaign of runs × depth handler calls, at
 * least a million calls in all). Prints a table and writes bench-results/invariants.json as
 * { calls, runs, depth, invariants, broken } (+ the profile, seed, seconds and what broke).
 *
 * FUZZ_PROFILE picks another profile (e.g. "short"); FUZZ_SEED fixes the seed (default: a fresh one).
 */
async function main(): Promise<void> {
  const profile = process.env.FUZZ_PROFILE || "long";
  const seed = process.env.FUZZ_SEED || `0x${Date.now().toString(16)}`;
  console.log(`forge invariant campaign: profile ${profile}, seed ${seed} ...`);
  const c = await runInvariants(profile, { seed });

  const rows = c.results.map((r) => ({ invariant: r.name, result: r.passed ? "held" : "BROKEN", runs: r.runs, calls: r.calls }));
  console.table(rows);
  const summary = { calls: c.calls, runs: c.runs, depth: c.depth, invariants: c.results.length, broken: c.broken.length };
  console.log(
    `${summary.invariants} invariants, ${summary.broken} broken; ${summary.calls.toLocaleString("en")} handler calls ` +
      `(${summary.runs} runs × depth ${summary.depth} each) in ${c.seconds.toFixed(0)} s`,
  );
  for (const r of c.broken) console.log(`\n${describeFailure(r)}`);

  const out = path.resolve(__dirname, "..", "bench-results", "invariants.json");
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const report = {
    ...summary,
    profile,
    checkInterval: c.checkInterval,
    seed,
    seconds: Math.round(c.seconds),
    failures: c.broken.map((r) => ({ invariant: r.name, reason: r.reason, sequence: r.counterexample })),
  };
  fs.writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
  console.log(`wrote ${path.relative(process.cwd(), out)}`);
  if (c.broken.length) process.exitCode = 1;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
