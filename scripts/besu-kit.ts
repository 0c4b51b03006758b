/**
 * CLI: generate a Hyperledger Besu QBFT network kit.
 *
 *   npm run besu:kit -- --validators 4 --out besu-network [--chain-id 1337] [--block-period 2]
 *                       [--rpc-host 127.0.0.1] [--deployer 0x…] [--accounts 0x…,0x…] [--force]
 *
 * Exit codes: 0 ok, 2 bad arguments (one line on stderr), 1 unexpected failure (one line on stderr).
 * All logic lives in scripts/lib/besu-kit.ts.
 */
import path from "node:path";
import { USAGE, UsageError, parseArgs, planKit, writeKit } from "./lib/besu-kit";

function main(argv: readonly string[]): number {
  const parsed = parseArgs(argv);
  if (parsed.help) {
    process.stdout.write(USAGE + "\n");
    return 0;
  }
  const uid = typeof process.getuid === "function" ? process.getuid() : undefined;
  const gid = typeof process.getgid === "function" ? process.getgid() : undefined;
  const abs = path.resolve(parsed.outDir);
  const fromCwd = path.relative(process.cwd(), abs);
  // Commands in the kit's README refer to the kit as seen from where the generator ran (the project root).
  const rel = fromCwd === "" ? "." : fromCwd.startsWith("..") || path.isAbsolute(fromCwd) ? abs : fromCwd;
  const plan = planKit(parsed, { uid, gid, displayDir: rel });
  writeKit(parsed.outDir, plan, parsed.force);

  const lines = [
    `besu-kit: wrote a ${plan.keys.length}-validator QBFT kit (chain id ${parsed.chainId}) to ${rel}/`,
    ...plan.keys.map((k, i) => `  node-${i}  ${k.address}`),
    `  deployer ${plan.deployer}${plan.deployerGenerated ? ` (key generated in ${rel}/deployer/key)` : ""}`,
    `next: cd ${rel} && docker compose up -d   (see ${rel}/README.md)`,
  ];
  process.stdout.write(lines.join("\n") + "\n");
  return 0;
}

try {
  process.exitCode = main(process.argv.slice(2));
} catch (err) {
  if (err instanceof UsageError) {
    process.stderr.write(`besu-kit: ${err.message}\n`);
    process.exitCode = 2;
  } else {
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`besu-kit: failed: ${msg.split("\n")[0]}\n`);
    process.exitCode = 1;
  }
}
