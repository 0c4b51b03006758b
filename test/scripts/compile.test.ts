import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { compileReason } from "../../scripts/lib/compile";

/** A project tree with the compile step's inputs and outputs, each with a chosen mtime (seconds). */
function project(files: Record<string, number>): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-compile-"));
  for (const [file, t] of Object.entries(files)) {
    const p = path.join(root, file);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    fs.writeFileSync(p, "x");
    fs.utimesSync(p, t, t);
  }
  return root;
}

const SOURCES = { "hardhat.config.ts": 100, "node_modules/solc/package.json": 100, "contracts/BatchToken.sol": 100, "contracts/libraries/GS1.sol": 100 };
const OUTPUTS = { "artifacts/contracts/BatchToken.sol/BatchToken.json": 200, "cache/solidity-files-cache.json": 200, "typechain-types/index.ts": 200 };

describe("compileReason: when npm start, the tasks and npm run build compile first", function () {
  it("asks for a compile on a fresh clone, naming what is missing", function () {
    expect(compileReason(project(SOURCES))).to.equal("artifacts/ is missing (first run after a clone)");
    const { "typechain-types/index.ts": _types, ...noTypes } = OUTPUTS;
    expect(compileReason(project({ ...SOURCES, ...noTypes }))).to.equal("typechain-types/ is missing");
  });

  it("asks for nothing when the outputs are newer than every source", function () {
    expect(compileReason(project({ ...SOURCES, ...OUTPUTS }))).to.equal(undefined);
  });

  it("names the newest source that changed after the last compile, in any contracts subfolder, the config or the compiler", function () {
    expect(compileReason(project({ ...SOURCES, ...OUTPUTS, "contracts/libraries/GS1.sol": 300 }))).to.equal(`${path.join("contracts", "libraries", "GS1.sol")} changed since the last compile`);
    expect(compileReason(project({ ...SOURCES, ...OUTPUTS, "hardhat.config.ts": 300 }))).to.equal("hardhat.config.ts changed since the last compile");
    expect(compileReason(project({ ...SOURCES, ...OUTPUTS, "node_modules/solc/package.json": 300 }))).to.equal(`${path.join("node_modules", "solc", "package.json")} changed since the last compile`);
    // Types older than a source count too: the compile regenerated artifacts but not the types.
    expect(compileReason(project({ ...SOURCES, ...OUTPUTS, "typechain-types/index.ts": 50 }))).to.match(/changed since the last compile$/);
  });
});
