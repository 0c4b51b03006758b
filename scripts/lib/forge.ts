import { spawn } from "node:child_process";
import fs from "node:fs";
import path from "node:path";

/**
 * Foundry's forge (npm @foundry-rs/forge, binary inside the platform package) running the
 * invariant suite in test/foundry/ (foundry.toml). Shared by `npm run fuzz`
 * (scripts/fuzz-invariants.ts) and the short campaign inside `npm test`
 * (test/contracts/forge-invariants.test.ts).
 */

const ROOT = path.resolve(__dirname, "..", "..");
const ARCH: Record<string, string> = { x64: "amd64", arm64: "arm64" };

/** The forge binary of this platform, e.g. node_modules/@foundry-rs/forge-linux-amd64/bin/forge. */
export const FORGE_BIN = path.join(
  ROOT,
  "node_modules",
  "@foundry-rs",
  `forge-${process.platform}-${ARCH[process.arch] ?? process.arch}`,
  "bin",
  process.platform === "win32" ? "forge.exe" : "forge",
);

/** The `solc` forge runs (foundry.toml): a Node script over the npm `solc` package. */
export const SOLC_FACADE = path.join(ROOT, "scripts", "lib", "solc-facade.cjs");

/** The suite's test contract. */
export const INVARIANT_CONTRACT = "MedtraceInvariantsTest";

export interface InvariantResult {
  name: string;
  passed: boolean;
  runs: number;
  calls: number;
  reverts: number;
  /** forge's reason when the invariant broke (the check's sentence, or a handler panic). */
  reason?: string;
  /** The shrunk call sequence forge reported, one line per call. */
  counterexample: string[];
}

export interface Campaign {
  profile: string;
  /** Runs, depth and check interval as the profile configures them (foundry.toml). */
  runs: number;
  depth: number;
  checkInterval: number;
  seed?: string;
  results: InvariantResult[];
  /** Handler calls forge made, summed over the invariants (each invariant is its own campaign). */
  calls: number;
  broken: InvariantResult[];
  seconds: number;
}

interface ForgeTestJson {
  [suite: string]: {
    test_results: Record<
      string,
      {
        status: string;
        reason: string | null;
        /** forge 1.7 writes `[length, [call, ...]]`; older versions the calls alone. */
        counterexample?: { Sequence?: unknown[] } | null;
        kind?: { Invariant?: { runs: number; calls: number; reverts: number } };
      }
    >;
  };
}

/**
 * forge executes the façade itself, so it must be executable; a checkout without file modes
 * (core.fileMode false, an archive) loses the bit that git records.
 */
function ensureExecutable(file: string): void {
  try {
    fs.accessSync(file, fs.constants.X_OK);
  } catch {
    fs.chmodSync(file, 0o755);
  }
}

function run(args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  if (!fs.existsSync(FORGE_BIN)) throw new Error(`forge is not installed at ${FORGE_BIN} (npm ci installs @foundry-rs/forge)`);
  ensureExecutable(SOLC_FACADE);
  return new Promise((resolve, reject) => {
    const child = spawn(FORGE_BIN, args, { cwd: ROOT, env: { ...process.env, ...env } });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Runs, depth and check interval of the invariant section of `profile`, as forge resolves foundry.toml. */
export async function invariantConfig(profile: string): Promise<{ runs: number; depth: number; checkInterval: number }> {
  const { code, stdout, stderr } = await run(["config", "--json"], { FOUNDRY_PROFILE: profile });
  if (code !== 0) throw new Error(`forge config failed (${code}): ${stderr}`);
  const config = JSON.parse(stdout) as { invariant: { runs: number; depth: number; check_interval?: number } };
  return { runs: config.invariant.runs, depth: config.invariant.depth, checkInterval: config.invariant.check_interval ?? 1 };
}

/** The calls of a counterexample sequence, in either of the shapes forge writes. */
function sequenceCalls(sequence: unknown[] | undefined): Array<Record<string, unknown>> {
  if (!sequence) return [];
  const nested = sequence.find((part): part is unknown[] => Array.isArray(part));
  const calls = nested ?? sequence;
  return calls.filter((c): c is Record<string, unknown> => typeof c === "object" && c !== null && !Array.isArray(c));
}

function describeCall(call: Record<string, unknown>): string {
  const fn = String(call.func_name ?? call.signature ?? "call");
  const args = String(call.args ?? "");
  return `${fn}(${args})`;
}

/**
 * Runs the invariant suite under `profile` and returns one result per invariant. Throws when
 * forge itself fails (compilation, setUp), not when an invariant breaks: that is in the result.
 */
export async function runInvariants(profile: string, options: { seed?: string } = {}): Promise<Campaign> {
  const { runs, depth, checkInterval } = await invariantConfig(profile);
  const args = ["test", "--json", "--match-contract", INVARIANT_CONTRACT];
  if (options.seed) args.push("--fuzz-seed", options.seed);
  const started = Date.now();
  const { code, stdout, stderr } = await run(args, { FOUNDRY_PROFILE: profile });
  const seconds = (Date.now() - started) / 1000;
  const line = stdout.split("\n").find((l) => l.trim().startsWith("{") && l.includes("test_results"));
  if (!line) throw new Error(`forge test printed no JSON result (exit ${code}):\n${stderr.slice(-8000)}\n${stdout.slice(-4000)}`);
  const json = JSON.parse(line) as ForgeTestJson;
  const results: InvariantResult[] = [];
  for (const suite of Object.values(json)) {
    for (const [name, r] of Object.entries(suite.test_results)) {
      const inv = r.kind?.Invariant ?? { runs: 0, calls: 0, reverts: 0 };
      results.push({
        name: name.replace(/\(\)$/, ""),
        passed: r.status === "Success",
        runs: inv.runs,
        calls: inv.calls,
        reverts: inv.reverts,
        reason: r.reason ?? undefined,
        counterexample: sequenceCalls(r.counterexample?.Sequence).map(describeCall),
      });
    }
  }
  if (results.length === 0) throw new Error(`forge ran no invariant of ${INVARIANT_CONTRACT}:\n${stderr}`);
  results.sort((a, b) => a.name.localeCompare(b.name));
  const broken = results.filter((r) => !r.passed);
  return { profile, runs, depth, checkInterval, seed: options.seed, results, calls: results.reduce((n, r) => n + r.calls, 0), broken, seconds };
}

/** A broken invariant as forge reported it: the reason and the shrunk call sequence. */
export function describeFailure(r: InvariantResult): string {
  const sequence = r.counterexample.length ? r.counterexample.map((c, i) => `  ${i + 1}. ${c}`).join("\n") : "  (no sequence reported)";
  return `${r.name}: ${r.reason ?? "failed"}\n${sequence}`;
}
