#!/usr/bin/env node
/**
 * A `solc` executable for Foundry's forge, backed by the npm `solc` package (solc-js).
 *
 * forge cannot download a compiler on the consortium's build machines, but it accepts any
 * executable as `solc` (foundry.toml: `solc = "scripts/lib/solc-facade.cjs"`, `offline = true`).
 * It only asks two things of it: `--version` (to learn which compiler it is) and
 * `--standard-json` (input on stdin, output on stdout). This answers both with the same pinned
 * compiler Hardhat uses, so forge and Hardhat compile the contracts with one compiler.
 */
"use strict";
const fs = require("node:fs");
const path = require("node:path");
const solc = require("solc");

const ROOT = path.resolve(__dirname, "..", "..");
const args = process.argv.slice(2);

if (args.includes("--version")) {
  // solc-js says "0.8.30+commit.73712a01.Emscripten.clang"; forge parses the native CLI's line.
  const version = solc.version().replace(/\.Emscripten\.clang$/, "");
  process.stdout.write(`solc, the solidity compiler commandline interface\nVersion: ${version}.Linux.g++\n`);
  process.exit(0);
}

if (!args.includes("--standard-json")) {
  process.stderr.write(`solc-facade: only --version and --standard-json are supported (got: ${args.join(" ")})\n`);
  process.exit(2);
}

/** Resolves an import forge did not put in the input: relative to the project, then node_modules. */
function findImport(importPath) {
  for (const base of [ROOT, path.join(ROOT, "node_modules")]) {
    const file = path.resolve(base, importPath);
    if (file.startsWith(base) && fs.existsSync(file)) return { contents: fs.readFileSync(file, "utf8") };
  }
  return { error: `File not found: ${importPath}` };
}

const input = fs.readFileSync(0, "utf8");
process.stdout.write(solc.compile(input, { import: findImport }));
