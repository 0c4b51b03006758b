import fs from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";

/**
 * Compiles the contracts when the outputs that scripts, tasks and the service import are missing
 * or older than their inputs. `artifacts/`, `cache/` and `typechain-types/` are git-ignored, so a
 * fresh clone has none of them, and `npm start`, the Hardhat tasks and `npm run build` import the
 * typed factories before anything else would compile.
 *
 * Imports nothing that needs compiled output, so it can run first.
 */

const ROOT = path.resolve(__dirname, "..", "..");

/** What the compile step depends on: every Solidity source, the config, and the pinned compiler. */
function inputs(root: string): string[] {
  const files: string[] = [path.join(root, "hardhat.config.ts"), path.join(root, "node_modules", "solc", "package.json")];
  const walk = (dir: string) => {
    if (!fs.existsSync(dir)) return;
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const p = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (entry.name.endsWith(".sol")) files.push(p);
    }
  };
  walk(path.join(root, "contracts"));
  return files;
}

const mtime = (file: string) => (fs.existsSync(file) ? fs.statSync(file).mtimeMs : undefined);

/**
 * Why the contracts need compiling, in words for the console, or undefined when the artifacts and
 * the types are present and newer than every input. The check is by modification time, so it can
 * only err towards compiling: Hardhat's own cache then decides by content and compiles what changed.
 */
export function compileReason(root = ROOT): string | undefined {
  const cacheFile = path.join(root, "cache", "solidity-files-cache.json");
  const typesIndex = path.join(root, "typechain-types", "index.ts");
  if (!fs.existsSync(path.join(root, "artifacts", "contracts"))) return "artifacts/ is missing (first run after a clone)";
  const compiledAt = mtime(cacheFile);
  if (compiledAt === undefined) return "cache/ is missing";
  const typedAt = mtime(typesIndex);
  if (typedAt === undefined) return "typechain-types/ is missing";
  const newest = inputs(root)
    .map((f) => ({ f, t: mtime(f) ?? 0 }))
    .reduce((a, b) => (b.t > a.t ? b : a));
  if (newest.t > Math.min(compiledAt, typedAt)) return `${path.relative(root, newest.f)} changed since the last compile`;
  return undefined;
}

/**
 * Compiles (and generates the typechain types) in this process when `compileReason` says so;
 * returns what it did. Types missing beside fresh artifacts get a full typechain rebuild, which
 * plain `compile` would skip ("no need to generate any newer typings").
 */
export async function ensureCompiled(hre: HardhatRuntimeEnvironment, log: (line: string) => void = () => undefined): Promise<string | undefined> {
  const reason = compileReason(hre.config.paths.root);
  if (!reason) return undefined;
  const started = Date.now();
  log(`compiling the contracts: ${reason}`);
  const typesOnly = reason.startsWith("typechain-types/");
  await hre.run(typesOnly ? "typechain" : "compile", { quiet: true });
  // `compile` leaves the cache file untouched when nothing changed by content; touch it so the
  // next start does not ask again because a source's mtime moved (git checkout, editor save).
  const cacheFile = path.join(hre.config.paths.cache, "solidity-files-cache.json");
  if (fs.existsSync(cacheFile)) {
    const now = new Date();
    fs.utimesSync(cacheFile, now, now);
    const typesIndex = path.join(hre.config.paths.root, "typechain-types", "index.ts");
    if (fs.existsSync(typesIndex)) fs.utimesSync(typesIndex, now, now);
  }
  log(`compiled in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return reason;
}
