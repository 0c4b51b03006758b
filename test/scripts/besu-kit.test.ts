import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { SigningKey, Wallet, computeAddress, getAddress } from "ethers";
import {
  BEACON_ROOTS_ADDRESS,
  DEFAULT_BESU_IMAGE,
  QBFT_MIX_HASH,
  UsageError,
  decodeQbftExtraData,
  encodeQbftExtraData,
  encodeQbftGenesisExtraData,
  nodeKeyFromPrivateKey,
  parseArgs,
  planKit,
  renderToml,
  type KitOptions,
} from "../../scripts/lib/besu-kit";

const ROOT = path.resolve(__dirname, "..", "..");
const CLI = path.join(ROOT, "scripts", "besu-kit.ts");
const POSIX = process.platform !== "win32";

function runCli(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ["-r", "ts-node/register", CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "1" },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Minimal reader for the generated TOML (key=value lines, strings, numbers, booleans, string arrays). */
function readToml(file: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const line of fs.readFileSync(file, "utf8").split("\n")) {
    if (line.trim() === "" || line.trimStart().startsWith("#")) continue;
    const eq = line.indexOf("=");
    expect(eq, `line "${line}" is key=value`).to.be.greaterThan(0);
    const key = line.slice(0, eq);
    expect(key).to.match(/^[A-Za-z0-9_-]+$/);
    out[key] = JSON.parse(line.slice(eq + 1)); // the generator only emits JSON-compatible TOML values
  }
  return out;
}

function mode(p: string): number {
  return fs.statSync(p).mode & 0o777;
}

function baseOptions(over: Partial<KitOptions> = {}): KitOptions {
  return {
    validators: 4,
    outDir: "kit",
    chainId: 1337,
    blockPeriod: 2,
    rpcHost: "127.0.0.1",
    force: false,
    accounts: [],
    image: DEFAULT_BESU_IMAGE,
    ...over,
  };
}

describe("besu-kit: QBFT extraData encoding", function () {
  // Sample genesis from the Besu docs (private-networks/how-to/configure/consensus/qbft.md), written by
  // Besu's own QbftExtraDataCodec; the validators are in the order of the sample.
  const DOCS_EXTRA_DATA =
    "0xf87aa00000000000000000000000000000000000000000000000000000000000000000f8549464a702e6263b7297a96638cac6ae65e6541f4169943923390ad55e90c237593b3b0e401f3b08a0318594aefdb9a738c9f433e5b6b212a6d62f6370c2f69294c7eeb9a4e00ce683cf93039b212648e01c6c6b78c080c0";
  const DOCS_VALIDATORS = [
    "0x64a702e6263b7297a96638cac6ae65e6541f4169",
    "0x3923390ad55e90c237593b3b0e401f3b08a03185",
    "0xaefdb9a738c9f433e5b6b212a6d62f6370c2f692",
    "0xc7eeb9a4e00ce683cf93039b212648e01c6c6b78",
  ];

  it("reproduces the Besu documentation's QBFT extraData byte for byte", function () {
    expect(encodeQbftExtraData(DOCS_VALIDATORS)).to.equal(DOCS_EXTRA_DATA);
  });

  it("reproduces the empty-validator extraData Besu uses for contract-based validator selection", function () {
    expect(encodeQbftExtraData([])).to.equal(`0xe5a0${"00".repeat(32)}c0c080c0`);
  });

  it("encodes round 0 as the empty RLP string (0x80), not as four zero bytes", function () {
    const hex = encodeQbftExtraData(DOCS_VALIDATORS);
    expect(hex.endsWith("c080c0")).to.equal(true);
    expect(hex).not.to.contain("8400000000");
  });

  it("decodes its own output back to vanity, validators, no vote, round 0 and no seals", function () {
    const d = decodeQbftExtraData(DOCS_EXTRA_DATA);
    expect(d.vanity).to.equal(`0x${"00".repeat(32)}`);
    expect(d.validators).to.deep.equal(DOCS_VALIDATORS.map((a) => getAddress(a)));
    expect(d.vote).to.deep.equal([]);
    expect(d.round).to.equal(0);
    expect(d.seals).to.deep.equal([]);
  });

  it("rejects a round written with leading zero bytes, as Besu does", function () {
    const bad = DOCS_EXTRA_DATA.replace(/^0xf87a/, "0xf87e").replace(/c080c0$/, "c08400000000c0");
    expect(() => decodeQbftExtraData(bad)).to.throw(/leading zeros/);
  });

  it("sorts genesis validators in ascending address order", function () {
    const d = decodeQbftExtraData(encodeQbftGenesisExtraData(DOCS_VALIDATORS));
    expect(d.validators.map((a) => a.toLowerCase())).to.deep.equal([...DOCS_VALIDATORS].sort());
  });
});

describe("besu-kit: argument parsing", function () {
  it("accepts the documented options and fills in the defaults", function () {
    const p = parseArgs(["--validators", "4", "--out", "besu-network"]);
    expect(p).to.deep.include({ help: false, validators: 4, outDir: "besu-network", chainId: 1337, blockPeriod: 2, rpcHost: "127.0.0.1", force: false });
    const q = parseArgs(["--validators=7", "--out=x", "--chain-id", "2024", "--block-period", "5", "--rpc-host", "10.0.0.5", "--force"]);
    expect(q).to.deep.include({ validators: 7, chainId: 2024, blockPeriod: 5, rpcHost: "10.0.0.5", force: true });
  });

  it("refuses fewer than 4 or more than 32 validators and says why", function () {
    expect(() => parseArgs(["--validators", "3", "--out", "x"])).to.throw(UsageError, /4 to 32.*3f\+1/);
    expect(() => parseArgs(["--validators", "33", "--out", "x"])).to.throw(UsageError, /4 to 32/);
    expect(() => parseArgs(["--validators", "4.5", "--out", "x"])).to.throw(UsageError, /whole number/);
  });

  it("refuses unknown options, missing values and missing required options", function () {
    expect(() => parseArgs(["--validators", "4", "--out", "x", "--nope"])).to.throw(UsageError, /unknown option --nope/);
    expect(() => parseArgs(["--validators", "4", "--out"])).to.throw(UsageError, /--out needs a value/);
    expect(() => parseArgs(["--out", "x"])).to.throw(UsageError, /missing --validators/);
    expect(() => parseArgs(["--validators", "4"])).to.throw(UsageError, /missing --out/);
  });

  it("checks and checksums --deployer and --accounts, dropping duplicates", function () {
    const a = Wallet.createRandom().address;
    const b = Wallet.createRandom().address;
    const p = parseArgs(["--validators", "4", "--out", "x", "--deployer", a.toLowerCase(), "--accounts", `${b.toLowerCase()},${b}`]);
    if (p.help) throw new Error("unexpected help");
    expect(p.deployer).to.equal(a);
    expect(p.accounts).to.deep.equal([b]);
    expect(() => parseArgs(["--validators", "4", "--out", "x", "--deployer", "0x1234"])).to.throw(UsageError, /--deployer/);
    expect(() => parseArgs(["--validators", "4", "--out", "x", "--rpc-host", "my host"])).to.throw(UsageError, /--rpc-host/);
  });
});

describe("besu-kit: TOML writing", function () {
  it("quotes strings so quotes and backslashes survive", function () {
    const text = renderToml([["data-path", 'C:\\besu "data"'], ["p2p-port", 30303], ["rpc-http-enabled", true], ["rpc-http-api", ["ETH", "NET"]]]);
    expect(text).to.equal('data-path="C:\\\\besu \\"data\\""\np2p-port=30303\nrpc-http-enabled=true\nrpc-http-api=["ETH", "NET"]\n');
  });

  it("puts a custom --rpc-host into every node's config and host allowlist", function () {
    const plan = planKit(baseOptions({ rpcHost: "10.1.2.3" }));
    const toml = plan.files.find((f) => f.path === "node-2/config.toml")!.contents;
    expect(toml).to.contain('rpc-http-host="10.1.2.3"');
    expect(toml).to.contain('host-allowlist=["localhost", "127.0.0.1", "10.1.2.3"]');
    const compose = plan.files.find((f) => f.path === "docker-compose.yml")!.contents;
    expect(compose).to.contain('"10.1.2.3:8547:8547"');
  });
});

describe("besu-kit: a generated 4-validator kit", function () {
  this.timeout(60_000);
  let tmp: string;
  let out: string;
  let cli: ReturnType<typeof runCli>;
  const deployer = Wallet.createRandom().address;
  const relayer = Wallet.createRandom().address;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "besu-kit-"));
    out = path.join(tmp, "besu-network");
    cli = runCli(["--validators", "4", "--out", out, "--deployer", deployer, "--accounts", relayer]);
  });

  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  const nodeDirs = () => [0, 1, 2, 3].map((i) => path.join(out, `node-${i}`));
  const genesis = () => JSON.parse(fs.readFileSync(path.join(out, "genesis.json"), "utf8"));
  const keyOf = (dir: string) => nodeKeyFromPrivateKey(fs.readFileSync(path.join(dir, "key"), "utf8").trim());

  it("exits 0 and writes nothing on stderr", function () {
    expect(cli.stderr).to.equal("");
    expect(cli.status).to.equal(0);
    expect(cli.stdout).to.contain("4-validator QBFT kit");
  });

  it("writes one private key and matching public key per validator", function () {
    for (const dir of nodeDirs()) {
      const priv = fs.readFileSync(path.join(dir, "key"), "utf8");
      expect(priv).to.match(/^0x[0-9a-f]{64}$/);
      const pub = fs.readFileSync(path.join(dir, "key.pub"), "utf8");
      expect(pub).to.match(/^0x[0-9a-f]{128}$/);
      expect(`0x04${pub.slice(2)}`).to.equal(new SigningKey(priv).publicKey);
    }
    const distinct = new Set(nodeDirs().map((d) => keyOf(d).address));
    expect(distinct.size).to.equal(4);
  });

  it("has an extraData that decodes to exactly the sorted addresses of the written keys", function () {
    const fromKeys = nodeDirs().map((d) => computeAddress(fs.readFileSync(path.join(d, "key"), "utf8").trim()));
    const sorted = [...fromKeys].sort((a, b) => (a.toLowerCase() < b.toLowerCase() ? -1 : 1));
    const decoded = decodeQbftExtraData(genesis().extraData);
    expect(decoded.validators).to.deep.equal(sorted);
    expect(decoded.round).to.equal(0);
    expect(decoded.vote).to.deep.equal([]);
    expect(decoded.seals).to.deep.equal([]);
  });

  it("has a Cancun, free-gas QBFT genesis", function () {
    const g = genesis();
    expect(g.config.chainId).to.equal(1337);
    expect(g.config.zeroBaseFee).to.equal(true);
    expect(g.config.shanghaiTime).to.equal(0);
    expect(g.config.cancunTime).to.equal(0);
    for (const fork of ["homesteadBlock", "eip150Block", "eip155Block", "eip158Block", "byzantiumBlock", "constantinopleBlock", "petersburgBlock", "istanbulBlock", "berlinBlock", "londonBlock"]) {
      expect(g.config[fork], fork).to.equal(0);
    }
    expect(g.config.qbft).to.deep.equal({ blockperiodseconds: 2, epochlength: 30000, requesttimeoutseconds: 4 });
    expect(g.config.contractSizeLimit).to.equal(49152);
    expect(g.difficulty).to.equal("0x1");
    expect(g.mixHash).to.equal(QBFT_MIX_HASH);
    expect(BigInt(g.gasLimit) > 30_000_000n).to.equal(true);
    expect(g.alloc[deployer.toLowerCase()].balance).to.match(/^0x[0-9a-f]+$/);
    expect(g.alloc[BEACON_ROOTS_ADDRESS.toLowerCase()].code).to.match(/^0x3373f{39}e14/) // CALLER == SYSTEM_ADDRESS (0xff…fe);
  });

  it("writes a config.toml per node with free gas, revert reasons, a relayer-friendly pool and local RPC", function () {
    const node0 = keyOf(nodeDirs()[0]!);
    nodeDirs().forEach((dir, i) => {
      const t = readToml(path.join(dir, "config.toml"));
      expect(t["min-gas-price"]).to.equal(0);
      expect(t["revert-reason-enabled"]).to.equal(true);
      expect(t["tx-pool"]).to.equal("SEQUENCED");
      expect(t["tx-pool-limit-by-account-percentage"]).to.equal(0.15);
      expect(t["rpc-http-enabled"]).to.equal(true);
      expect(t["rpc-http-host"]).to.equal("127.0.0.1");
      expect(t["rpc-http-port"]).to.equal(8545 + i);
      expect(t["p2p-port"]).to.equal(30303 + i);
      expect(t["rpc-http-api"]).to.deep.equal(["ETH", "NET", "QBFT", "WEB3", "TXPOOL"]);
      expect(t["genesis-file"]).to.equal("genesis.json");
      expect(t["node-private-key-file"]).to.equal(`node-${i}/key`);
      expect(t["permissions-nodes-config-file-enabled"]).to.equal(true);
      expect(t["permissions-accounts-config-file-enabled"]).to.equal(true);
      if (i === 0) expect(t).not.to.have.property("bootnodes");
      else expect(t["bootnodes"]).to.deep.equal([`enode://${node0.enodeId}@127.0.0.1:30303`]);
    });
  });

  it("allowlists every validator enode and the deployer and relayer accounts", function () {
    const perms = readToml(path.join(out, "permissions_config.toml"));
    const nodes = perms["nodes-allowlist"] as string[];
    nodeDirs().forEach((dir, i) => {
      expect(nodes).to.include(`enode://${keyOf(dir).enodeId}@127.0.0.1:${30303 + i}`);
    });
    expect(perms["accounts-allowlist"]).to.deep.equal([deployer.toLowerCase(), relayer.toLowerCase()]);
  });

  it("keeps key files private (0600) inside 0700 directories", function () {
    if (!POSIX) this.skip();
    expect(mode(out)).to.equal(0o700);
    for (const dir of nodeDirs()) {
      expect(mode(dir), dir).to.equal(0o700);
      expect(mode(path.join(dir, "data"))).to.equal(0o700);
      expect(mode(path.join(dir, "key")), `${dir}/key`).to.equal(0o600);
      expect(mode(path.join(dir, "key")) & 0o077).to.equal(0);
    }
  });

  it("runs one pinned Besu service per node with RPC published on 127.0.0.1 only", function () {
    const compose = fs.readFileSync(path.join(out, "docker-compose.yml"), "utf8");
    for (let i = 0; i < 4; i++) {
      expect(compose).to.contain(`  node-${i}:\n`);
      expect(compose).to.contain(`"127.0.0.1:${8545 + i}:${8545 + i}"`);
      expect(compose).to.contain(`"--config-file=/kit/node-${i}/config.toml"`);
    }
    expect(compose.match(/image: "hyperledger\/besu:\d+\.\d+\.\d+"/g)).to.have.length(4);
    expect(compose).not.to.match(/- "\d+:\d+"/); // no port published on all interfaces
  });

  it("explains how to start the network and point Hardhat at it", function () {
    const readme = fs.readFileSync(path.join(out, "README.md"), "utf8");
    expect(readme).to.contain("docker compose up -d");
    expect(readme).to.contain("eth_blockNumber");
    expect(readme).to.contain("BESU_RPC_URL=http://127.0.0.1:8545");
    expect(readme).to.contain("BESU_DEPLOYER_KEY");
    expect(readme).to.contain("contractSizeLimit");
  });

  it("refuses to overwrite the kit without --force (exit 2, one line)", function () {
    const r = runCli(["--validators", "4", "--out", out]);
    expect(r.status).to.equal(2);
    expect(r.stdout).to.equal("");
    expect(r.stderr.trimEnd().split("\n")).to.have.length(1);
    expect(r.stderr).to.match(/not empty.*--force/);
  });

  it("replaces a previous kit with --force, generating new keys", function () {
    const before = fs.readFileSync(path.join(out, "node-0", "key"), "utf8");
    const r = runCli(["--validators", "5", "--out", out, "--force"]);
    expect(r.stderr).to.equal("");
    expect(r.status).to.equal(0);
    expect(fs.readFileSync(path.join(out, "node-0", "key"), "utf8")).not.to.equal(before);
    expect(decodeQbftExtraData(genesis().extraData).validators).to.have.length(5);
  });
});

describe("besu-kit: CLI errors", function () {
  this.timeout(60_000);
  let tmp: string;

  before(function () {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), "besu-kit-err-"));
  });
  after(function () {
    fs.rmSync(tmp, { recursive: true, force: true });
  });

  function expectUsageError(args: string[], pattern: RegExp): void {
    const r = runCli(args);
    expect(r.status, r.stderr).to.equal(2);
    expect(r.stdout).to.equal("");
    const lines = r.stderr.trimEnd().split("\n");
    expect(lines, r.stderr).to.have.length(1);
    expect(lines[0]).to.match(/^besu-kit: /);
    expect(lines[0]).to.match(pattern);
    expect(r.stderr).not.to.match(/\n\s+at /); // no stack trace
  }

  it("fails with exit code 2 for 3 validators, explaining the QBFT minimum", function () {
    expectUsageError(["--validators", "3", "--out", path.join(tmp, "a")], /--validators must be a whole number from 4 to 32/);
    expect(fs.existsSync(path.join(tmp, "a"))).to.equal(false);
  });

  it("fails with exit code 2 for an existing non-empty directory without --force", function () {
    const dir = path.join(tmp, "existing");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "keep.txt"), "mine");
    expectUsageError(["--validators", "4", "--out", dir], /--force/);
    expect(fs.readdirSync(dir)).to.deep.equal(["keep.txt"]);
  });

  it("fails with exit code 2 when --force targets a directory that is not a kit", function () {
    const dir = path.join(tmp, "foreign");
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, "package.json"), "{}");
    expectUsageError(["--validators", "4", "--out", dir, "--force"], /not generated by besu-kit/);
    expect(fs.readdirSync(dir)).to.deep.equal(["package.json"]);
  });

  it("fails with exit code 2 for an unknown flag", function () {
    expectUsageError(["--validators", "4", "--out", path.join(tmp, "b"), "--validator-count", "4"], /unknown option --validator-count/);
  });
});
