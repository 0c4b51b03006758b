/**
 * Generator for a Hyperledger Besu QBFT network kit (validator keys, genesis, per-node TOML,
 * node/account permissioning, docker-compose and a README).
 *
 * Everything here is pure (returns objects / file contents) except `writeKit`, which puts a
 * planned kit on disk. Nothing calls process.exit: bad input raises `UsageError`, which the CLI
 * wrapper (scripts/besu-kit.ts) turns into one line on stderr and exit code 2.
 */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import net from "node:net";
import path from "node:path";
import { SigningKey, computeAddress, decodeRlp, encodeRlp, getAddress, hexlify, isAddress } from "ethers";

// ───────────────────────────────────────────── constants ─────────────────────────────────────────────

/**
 * Pinned Besu image. 25.10.0 supports QBFT with Shanghai/Cancun time-based forks (QBFT+Shanghai
 * landed in 24.x) and predates the 26.1.0 regression that rejected QBFT/Shanghai blocks without
 * withdrawals (besu-eth/besu#9786, fixed in 26.2.0 by #9830). Override with --image.
 */
export const DEFAULT_BESU_IMAGE = "hyperledger/besu:25.10.0";

/** QBFT/IBFT 2.0 "magic" mixHash (ASCII "ctical byzantine fault tolerance"). */
export const QBFT_MIX_HASH = "0x63746963616c2062797a616e74696e65206661756c7420746f6c6572616e6365";

/**
 * EIP-4788 beacon-roots system contract. With Cancun active Besu system-calls this address at the
 * start of every block; on a chain without a beacon chain it is empty unless pre-deployed, and Besu
 * then logs "Invalid system call address" on every block (besu-eth/besu#9379, reported on 25.10.0).
 * Pre-deploying the canonical runtime code (from EIP-4788, nonce 1 as on mainnet) avoids that.
 */
export const BEACON_ROOTS_ADDRESS = "0x000F3df6D732807Ef1319fB7B8bB8522d0Beac02";
export const BEACON_ROOTS_CODE =
  "0x3373fffffffffffffffffffffffffffffffffffffffe14604d57602036146024575f5ffd5b5f35801560495762001fff810690815414603c575f5ffd5b62001fff01545f5260205ff35b5f5ffd5b62001fff42064281555f359062001fff015500";

/** QBFT tolerates f faulty validators only with n >= 3f + 1, so 4 is the smallest set that survives one fault. */
export const MIN_VALIDATORS = 4;
export const MAX_VALIDATORS = 32;

export const BASE_P2P_PORT = 30303;
export const BASE_RPC_PORT = 8545;

/**
 * Block gas limit: 800,000,000 (= 0x7A1200 * 100, i.e. 100 × the classic 8M block). Gas is free on
 * this chain, so the limit is the only thing bounding the work of one block. It must stay well
 * inside the QBFT block period: Besu has to execute a full block and the validators must
 * re-execute it before the request timeout, otherwise rounds change and the chain stalls. Values
 * like 0x1fffffffffffff would let a single (free!) transaction loop for minutes.
 */
export const GAS_LIMIT = "0x2faf0800";

/**
 * contractSizeLimit: 49152 bytes = 2 × the EIP-170 limit of 24576. Gives headroom for the
 * ERC-1155 + role-based access contracts (OpenZeppelin 5 with custom errors grows quickly); Hardhat
 * still enforces 24 KiB in tests (allowUnlimitedContractSize: false), so anything that passes CI
 * also fits any standard EVM chain.
 */
export const CONTRACT_SIZE_LIMIT = 49152;

export const EPOCH_LENGTH = 30000;

/** Docker bridge network with static addresses: Besu rejects host names in enode URLs. */
export const DOCKER_SUBNET = "172.16.239.0/24";
export const dockerIp = (index: number): string => `172.16.239.${11 + index}`;

/** Deployer balance: gas is free, this only covers value transfers. 1,000,000 ETH in wei. */
export const DEPLOYER_BALANCE = "0xd3c21bcecceda1000000";

/** Marker written at the kit root; --force only replaces a directory that carries it. */
export const MANIFEST_FILE = "besu-kit.json";

const SECP256K1_N = BigInt("0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141");

// ─────────────────────────────────────────────── errors ──────────────────────────────────────────────

/** Bad command-line input: the CLI prints the message (one line) and exits with code 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

// ───────────────────────────────────────────── arguments ─────────────────────────────────────────────

export interface KitOptions {
  validators: number;
  outDir: string;
  chainId: number;
  blockPeriod: number;
  rpcHost: string;
  force: boolean;
  /** Checksummed deployer address, or undefined to generate a deployer key into the kit. */
  deployer?: string;
  /** Extra checksummed accounts allowed to send transactions (relayers, operators). */
  accounts: string[];
  image: string;
}

export const USAGE = `Usage: ts-node scripts/besu-kit.ts --validators <4..32> --out <dir> [options]

Generates a Hyperledger Besu QBFT network kit (keys, genesis.json, per-node config.toml,
permissions_config.toml, docker-compose.yml, README.md) into <dir>.

Options:
  --validators <n>     number of QBFT validators, ${MIN_VALIDATORS}..${MAX_VALIDATORS} (required)
  --out <dir>          output directory, must be absent or empty (required)
  --chain-id <id>      chain id (default 1337)
  --block-period <s>   QBFT block period in seconds, 1..60 (default 2)
  --rpc-host <ip>      JSON-RPC bind/publish address (default 127.0.0.1)
  --deployer <addr>    deployer account (funded + allowlisted); default: generate one into <dir>/deployer/key
  --accounts <a,b,c>   extra accounts allowed to send transactions (e.g. relayers)
  --image <ref>        Besu docker image (default ${DEFAULT_BESU_IMAGE})
  --force              replace a kit previously generated into <dir>
  -h, --help           show this help`;

type Flag = "validators" | "out" | "chain-id" | "block-period" | "rpc-host" | "deployer" | "accounts" | "image";
const VALUE_FLAGS: readonly Flag[] = ["validators", "out", "chain-id", "block-period", "rpc-host", "deployer", "accounts", "image"];

export type ParsedArgs = { help: true } | ({ help: false } & KitOptions);

function parseIntStrict(flag: string, raw: string, min: number, max: number, why = ""): number {
  if (!/^\d+$/.test(raw.trim())) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}${why}; got "${raw}"`);
  }
  const n = Number(raw);
  if (!Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${flag} must be a whole number from ${min} to ${max}${why}; got ${raw}`);
  }
  return n;
}

function parseAddress(flag: string, raw: string): string {
  const value = raw.trim();
  if (!/^0x[0-9a-fA-F]{40}$/.test(value) || !isAddress(value)) {
    throw new UsageError(`--${flag} expects 0x-prefixed 20-byte addresses; "${raw}" is not one (check the checksum or use all-lowercase)`);
  }
  return getAddress(value);
}

/** Parses CLI arguments (everything after the script name). Throws UsageError on any problem. */
export function parseArgs(argv: readonly string[]): ParsedArgs {
  const values = new Map<Flag, string>();
  let force = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "-h" || arg === "--help") return { help: true };
    if (arg === "--force") {
      force = true;
      continue;
    }
    if (!arg.startsWith("--")) {
      throw new UsageError(`unexpected argument "${arg}"; options look like --out <dir> (see --help)`);
    }
    const eq = arg.indexOf("=");
    const name = (eq === -1 ? arg.slice(2) : arg.slice(2, eq)) as Flag;
    if (name === ("force" as Flag)) throw new UsageError(`--force takes no value; write just --force`);
    if (!VALUE_FLAGS.includes(name)) {
      throw new UsageError(`unknown option ${eq === -1 ? arg : arg.slice(0, eq)}; valid options: ${VALUE_FLAGS.map((f) => `--${f}`).join(", ")}, --force, --help`);
    }
    let value: string | undefined;
    if (eq !== -1) value = arg.slice(eq + 1);
    else {
      value = argv[i + 1];
      if (value === undefined || value.startsWith("--")) throw new UsageError(`--${name} needs a value, e.g. --${name} ${example(name)}`);
      i++;
    }
    if (values.has(name)) throw new UsageError(`--${name} was given twice; give it once`);
    values.set(name, value);
  }

  const validatorsRaw = values.get("validators");
  if (validatorsRaw === undefined) throw new UsageError(`missing --validators; e.g. --validators 4 (QBFT needs ${MIN_VALIDATORS}..${MAX_VALIDATORS})`);
  const validators = parseIntStrict(
    "validators",
    validatorsRaw,
    MIN_VALIDATORS,
    MAX_VALIDATORS,
    ` (QBFT needs n >= 3f+1 validators to tolerate f faults, so ${MIN_VALIDATORS} is the minimum that survives one)`,
  );

  const outDir = values.get("out");
  if (outDir === undefined || outDir.trim() === "") throw new UsageError(`missing --out; e.g. --out besu-network`);

  const chainId = values.has("chain-id") ? parseIntStrict("chain-id", values.get("chain-id")!, 1, 2 ** 53 - 1) : 1337;
  const blockPeriod = values.has("block-period") ? parseIntStrict("block-period", values.get("block-period")!, 1, 60) : 2;

  const rpcHost = (values.get("rpc-host") ?? "127.0.0.1").trim();
  if (net.isIP(rpcHost) === 0) {
    throw new UsageError(`--rpc-host must be an IP address such as 127.0.0.1; got "${rpcHost}"`);
  }

  const deployer = values.has("deployer") ? parseAddress("deployer", values.get("deployer")!) : undefined;

  const accounts: string[] = [];
  const accountsRaw = values.get("accounts");
  if (accountsRaw !== undefined) {
    const parts = accountsRaw.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (parts.length === 0) throw new UsageError(`--accounts needs a comma-separated list of addresses, e.g. --accounts 0xabc…,0xdef…`);
    for (const p of parts) {
      const a = parseAddress("accounts", p);
      if (!accounts.includes(a)) accounts.push(a);
    }
  }

  const image = (values.get("image") ?? DEFAULT_BESU_IMAGE).trim();
  if (!/^[A-Za-z0-9][A-Za-z0-9._\-/:@]*$/.test(image)) {
    throw new UsageError(`--image must be a docker image reference like ${DEFAULT_BESU_IMAGE}; got "${image}"`);
  }

  return { help: false, validators, outDir, chainId, blockPeriod, rpcHost, force, deployer, accounts, image };
}

function example(flag: Flag): string {
  switch (flag) {
    case "validators":
      return "4";
    case "out":
      return "besu-network";
    case "chain-id":
      return "1337";
    case "block-period":
      return "2";
    case "rpc-host":
      return "127.0.0.1";
    case "image":
      return DEFAULT_BESU_IMAGE;
    default:
      return "0x…";
  }
}

// ──────────────────────────────────────────────── keys ───────────────────────────────────────────────

export interface NodeKey {
  /** 0x-prefixed 32-byte private key (the content of node-<i>/key). */
  privateKey: string;
  /** 0x-prefixed 64-byte uncompressed public key without the 04 prefix (node-<i>/key.pub). */
  publicKey: string;
  /** Checksummed Ethereum address of the key = QBFT validator address. */
  address: string;
  /** Enode id: the public key hex without 0x and without the 04 prefix. */
  enodeId: string;
}

export function nodeKeyFromPrivateKey(privateKey: string): NodeKey {
  const sk = new SigningKey(privateKey);
  const uncompressed = sk.publicKey; // 0x04 || X || Y
  const enodeId = uncompressed.slice(4).toLowerCase();
  return { privateKey: sk.privateKey, publicKey: `0x${enodeId}`, address: computeAddress(uncompressed), enodeId };
}

/** New secp256k1 key from the OS CSPRNG (crypto.randomBytes), rejecting the (negligible) out-of-range scalars. */
export function generateNodeKey(): NodeKey {
  for (;;) {
    const candidate = randomBytes(32);
    const k = BigInt(hexlify(candidate));
    if (k > 0n && k < SECP256K1_N) return nodeKeyFromPrivateKey(hexlify(candidate));
  }
}

// ───────────────────────────────────────────── extraData ─────────────────────────────────────────────

/**
 * QBFT extraData = RLP([vanity(32 bytes), [validators], vote, round, [seals]]).
 *
 * Source: Besu's QbftExtraDataCodec.encode (consensus/qbft/.../QbftExtraDataCodec.java):
 *   writeBytes(vanity); writeList(validators); no vote → writeList(emptyList) (0xc0);
 *   writeIntScalar(round); writeList(seals).
 * `writeIntScalar` writes a minimal big-endian scalar, so round 0 is the EMPTY string (0x80), not
 * four zero bytes: on decode Besu's readIntScalar → checkScalar throws "Invalid scalar, has leading
 * zeros bytes" for 0x8400000000. (IBFT 2.0's codec differs: vote is RLP null and round is a fixed
 * 4-byte int.) The Besu QBFT docs' sample genesis ends in …c080c0 accordingly, and the tests check
 * this encoder reproduces that sample byte for byte.
 *
 * Validators are written in the given order; use `encodeQbftGenesisExtraData` for genesis, which
 * sorts them ascending as Besu's validator-set logic does.
 */
export function encodeQbftExtraData(validators: readonly string[]): string {
  const vanity = `0x${"00".repeat(32)}`;
  return encodeRlp([vanity, validators.map((v) => getAddress(v).toLowerCase()), [], "0x", []]);
}

/** Genesis extraData: the validator addresses sorted ascending (byte order), no vote, round 0, no seals. */
export function encodeQbftGenesisExtraData(validators: readonly string[]): string {
  return encodeQbftExtraData(sortAddresses(validators));
}

export function sortAddresses(addresses: readonly string[]): string[] {
  return [...addresses].map((a) => getAddress(a)).sort((a, b) => {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

export interface QbftExtraData {
  vanity: string;
  validators: string[];
  vote: unknown[] | string;
  round: number;
  seals: string[];
}

/** Inverse of encodeQbftExtraData, with the same strictness Besu applies (throws on malformed input). */
export function decodeQbftExtraData(extraData: string): QbftExtraData {
  const decoded = decodeRlp(extraData);
  if (!Array.isArray(decoded) || decoded.length !== 5) throw new Error("QBFT extraData must be an RLP list of 5 items");
  const [vanity, validators, vote, round, seals] = decoded as unknown[];
  if (typeof vanity !== "string" || (vanity.length - 2) / 2 !== 32) throw new Error("vanity must be 32 bytes");
  if (!Array.isArray(validators) || !validators.every((v) => typeof v === "string" && v.length === 42)) {
    throw new Error("validators must be a list of 20-byte addresses");
  }
  if (typeof round !== "string") throw new Error("round must be an RLP string");
  if (round.length > 2 && round.startsWith("0x00")) throw new Error("round is not a minimal scalar (leading zeros)");
  if (!Array.isArray(seals)) throw new Error("seals must be a list");
  return {
    vanity,
    validators: (validators as string[]).map((v) => getAddress(v)),
    vote: vote as unknown[] | string,
    round: round === "0x" ? 0 : Number(BigInt(round)),
    seals: seals as string[],
  };
}

// ────────────────────────────────────────────── genesis ──────────────────────────────────────────────

export function requestTimeoutSeconds(blockPeriod: number): number {
  // Round-change timeout: comfortably above the block period so a busy proposer is not voted out.
  return Math.max(4, blockPeriod * 2);
}

export function buildGenesis(params: {
  chainId: number;
  blockPeriod: number;
  validators: readonly string[];
  deployer: string;
  timestamp?: number;
}): Record<string, unknown> {
  const ts = params.timestamp ?? Math.floor(Date.now() / 1000);
  return {
    config: {
      chainId: params.chainId,
      homesteadBlock: 0,
      eip150Block: 0,
      eip155Block: 0,
      eip158Block: 0,
      byzantiumBlock: 0,
      constantinopleBlock: 0,
      petersburgBlock: 0,
      istanbulBlock: 0,
      muirGlacierBlock: 0,
      berlinBlock: 0,
      londonBlock: 0,
      arrowGlacierBlock: 0,
      grayGlacierBlock: 0,
      shanghaiTime: 0,
      // OpenZeppelin 5.x (5.7 here) emits MCOPY, a Cancun opcode; hardhat.config.ts compiles for "cancun".
      cancunTime: 0,
      zeroBaseFee: true,
      contractSizeLimit: CONTRACT_SIZE_LIMIT,
      qbft: {
        blockperiodseconds: params.blockPeriod,
        epochlength: EPOCH_LENGTH,
        requesttimeoutseconds: requestTimeoutSeconds(params.blockPeriod),
      },
    },
    nonce: "0x0",
    timestamp: `0x${ts.toString(16)}`,
    extraData: encodeQbftGenesisExtraData(params.validators),
    gasLimit: GAS_LIMIT,
    baseFeePerGas: "0x0",
    difficulty: "0x1",
    mixHash: QBFT_MIX_HASH,
    coinbase: "0x0000000000000000000000000000000000000000",
    number: "0x0",
    gasUsed: "0x0",
    parentHash: `0x${"00".repeat(32)}`,
    alloc: {
      [params.deployer.toLowerCase()]: { balance: DEPLOYER_BALANCE },
      [BEACON_ROOTS_ADDRESS.toLowerCase()]: { balance: "0x0", nonce: "0x1", code: BEACON_ROOTS_CODE },
    },
  };
}

// ──────────────────────────────────────────────── TOML ───────────────────────────────────────────────

export type TomlValue = string | number | boolean | readonly string[];

/** TOML basic string. JSON escaping (\" \\ \n \uXXXX) is a subset of TOML basic-string escaping. */
export function tomlString(s: string): string {
  return JSON.stringify(s);
}

export function tomlValue(v: TomlValue): string {
  if (typeof v === "string") return tomlString(v);
  if (typeof v === "boolean") return v ? "true" : "false";
  if (typeof v === "number") {
    if (!Number.isFinite(v)) throw new Error(`cannot write ${v} to TOML`);
    return String(v);
  }
  return `[${v.map(tomlString).join(", ")}]`;
}

export type TomlLine = [key: string, value: TomlValue] | string; // a bare string is a comment line

export function renderToml(lines: readonly TomlLine[]): string {
  return (
    lines
      .map((l) => {
        if (typeof l === "string") return l === "" ? "" : `# ${l}`;
        const [k, v] = l;
        if (!/^[A-Za-z0-9_-]+$/.test(k)) throw new Error(`bad TOML key ${k}`);
        return `${k}=${tomlValue(v)}`;
      })
      .join("\n") + "\n"
  );
}

export function enodeUrl(enodeId: string, host: string, port: number): string {
  return `enode://${enodeId}@${host}:${port}`;
}

export const nodeDirName = (i: number): string => `node-${i}`;
export const p2pPort = (i: number): number => BASE_P2P_PORT + i;
export const rpcPort = (i: number): number => BASE_RPC_PORT + i;

export function hostAllowlist(rpcHost: string): string[] {
  const list = ["localhost", "127.0.0.1"];
  if (!list.includes(rpcHost) && rpcHost !== "0.0.0.0" && rpcHost !== "::") list.push(rpcHost);
  return list;
}

/**
 * config.toml for one node. Paths are relative to the kit root: run Besu from there
 * (`besu --config-file=node-0/config.toml`); docker-compose sets working_dir to the same layout.
 * Network-specific values (p2p host, bootnode address inside docker) are overridden on the
 * docker command line, where CLI flags take precedence over the file.
 */
export function renderNodeToml(params: { index: number; rpcHost: string; bootnode?: string }): string {
  const i = params.index;
  const dir = nodeDirName(i);
  const lines: TomlLine[] = [
    `Besu ${dir} — generated by scripts/besu-kit.ts. Paths are relative to the kit directory.`,
    "",
    ["genesis-file", "genesis.json"],
    ["data-path", `${dir}/data`],
    ["node-private-key-file", `${dir}/key`],
    "",
    "P2P",
    ["p2p-port", p2pPort(i)],
    ["static-nodes-file", `${dir}/static-nodes.json`],
  ];
  if (params.bootnode !== undefined) lines.push(["bootnodes", [params.bootnode]]);
  else lines.push(`${dir} is the bootnode of the other validators, so it lists none itself.`);
  lines.push(
    "",
    "JSON-RPC: local only by default. No ADMIN/DEBUG/PERM/MINER namespaces.",
    ["rpc-http-enabled", true],
    ["rpc-http-host", params.rpcHost],
    ["rpc-http-port", rpcPort(i)],
    ["rpc-http-api", ["ETH", "NET", "QBFT", "WEB3", "TXPOOL"]],
    ["host-allowlist", hostAllowlist(params.rpcHost)],
    "",
    "Free gas: zeroBaseFee in genesis + zero minimum gas price here.",
    ["min-gas-price", 0],
    ["revert-reason-enabled", true],
    "",
    "Transaction pool: explicit settings instead of profile=\"ENTERPRISE\" so they stay visible and do not",
    "change with Besu's profile definitions (the profile also switches sync-mode etc.). SEQUENCED keeps",
    "arrival order; its default per-sender share (0.001 of tx-pool-max-size 4096 = 4 txs) would starve a",
    "relayer that submits for many users, so allow 15% of the pool per sender (what the enterprise profile sets).",
    ["tx-pool", "SEQUENCED"],
    ["tx-pool-limit-by-account-percentage", 0.15],
    "",
    "Permissioning: only the kit's validators may connect; only allowlisted accounts may send transactions.",
    ["permissions-nodes-config-file-enabled", true],
    ["permissions-nodes-config-file", "permissions_config.toml"],
    ["permissions-accounts-config-file-enabled", true],
    ["permissions-accounts-config-file", "permissions_config.toml"],
  );
  return renderToml(lines);
}

export function renderPermissionsToml(params: { nodesAllowlist: readonly string[]; accountsAllowlist: readonly string[] }): string {
  return renderToml([
    "Local permissioning, shared by every node (generated by scripts/besu-kit.ts).",
    "Each validator appears twice: its address on the docker network and on 127.0.0.1 (native run).",
    ["nodes-allowlist", params.nodesAllowlist],
    "Accounts allowed to submit transactions (deployer, relayers). Addresses are lower-case.",
    ["accounts-allowlist", params.accountsAllowlist.map((a) => a.toLowerCase())],
  ]);
}

// ─────────────────────────────────────────── docker-compose ──────────────────────────────────────────

function yamlQuote(s: string): string {
  return JSON.stringify(s); // JSON strings are valid YAML double-quoted scalars
}

export function renderDockerCompose(params: {
  image: string;
  keys: readonly NodeKey[];
  rpcHost: string;
}): string {
  const publishHost = params.rpcHost.includes(":") ? `[${params.rpcHost}]` : params.rpcHost;
  const bootnode = enodeUrl(params.keys[0]!.enodeId, dockerIp(0), p2pPort(0));
  const out: string[] = [
    "# Besu QBFT validators — generated by scripts/besu-kit.ts. Start: docker compose up -d",
    "# RPC ports are published on the host only at " + params.rpcHost + "; P2P stays on the private bridge network.",
    "# Containers run as your uid/gid (see .env) so they can read the 0600 keys and write node-*/data.",
    "services:",
  ];
  params.keys.forEach((_, i) => {
    const dir = nodeDirName(i);
    const command = [
      `--config-file=/kit/${dir}/config.toml`,
      // Inside the container Besu must listen on all interfaces for the port mapping to work;
      // exposure is limited by the host side of "ports" below.
      "--rpc-http-host=0.0.0.0",
      `--p2p-host=${dockerIp(i)}`,
      "--nat-method=NONE",
      `--static-nodes-file=/kit/${dir}/static-nodes.docker.json`,
    ];
    if (i > 0) command.push(`--bootnodes=${bootnode}`);
    out.push(
      `  ${dir}:`,
      `    image: ${yamlQuote(params.image)}`,
      `    user: "\${BESU_UID:-1000}:\${BESU_GID:-1000}"`,
      "    working_dir: /kit",
      "    command:",
      ...command.map((c) => `      - ${yamlQuote(c)}`),
      "    volumes:",
      `      - ./genesis.json:/kit/genesis.json:ro`,
      `      - ./permissions_config.toml:/kit/permissions_config.toml:ro`,
      `      - ./${dir}:/kit/${dir}`,
      "    ports:",
      `      - ${yamlQuote(`${publishHost}:${rpcPort(i)}:${rpcPort(i)}`)}`,
      "    networks:",
      "      besu:",
      `        ipv4_address: ${dockerIp(i)}`,
      "    restart: unless-stopped",
    );
    if (i > 0) out.push("    depends_on:", `      - ${nodeDirName(0)}`);
  });
  out.push(
    "networks:",
    "  besu:",
    "    driver: bridge",
    "    ipam:",
    "      config:",
    `        - subnet: ${DOCKER_SUBNET}`,
  );
  return out.join("\n") + "\n";
}

// ─────────────────────────────────────────────── README ──────────────────────────────────────────────

export function renderReadme(params: {
  /** How the kit directory is referred to in commands (relative to the project root, usually). */
  outDirName: string;
  opts: KitOptions;
  keys: readonly NodeKey[];
  deployer: string;
  deployerGenerated: boolean;
}): string {
  const { opts, keys } = params;
  const rpcUrlHost = opts.rpcHost === "0.0.0.0" || opts.rpcHost === "::" ? "127.0.0.1" : opts.rpcHost.includes(":") ? `[${opts.rpcHost}]` : opts.rpcHost;
  const rpcUrl = `http://${rpcUrlHost}:${BASE_RPC_PORT}`;
  const keyHint = params.deployerGenerated
    ? `export BESU_DEPLOYER_KEY=$(cat ${params.outDirName}/deployer/key)   # generated deployer ${params.deployer}`
    : `export BESU_DEPLOYER_KEY=0x…   # private key of ${params.deployer} (never commit it)`;
  const f = Math.floor((keys.length - 1) / 3);
  const rows = keys
    .map((k, i) => `| ${nodeDirName(i)} | \`${k.address}\` | ${rpcPort(i)} | ${p2pPort(i)} | ${dockerIp(i)} |`)
    .join("\n");
  return `# Besu QBFT network kit

Generated by \`scripts/besu-kit.ts\` — chain id **${opts.chainId}**, **${keys.length}** validators
(tolerates ${f} faulty validator${f === 1 ? "" : "s"}: QBFT needs n ≥ 3f + 1), block period ${opts.blockPeriod} s,
image \`${opts.image}\`.

> The \`node-*/key\` and \`deployer/key\` files are private keys (mode 0600, directories 0700).
> Never commit this directory (\`besu-network/\` is in .gitignore) and never copy these keys to production:
> a real consortium generates each validator key on the member's own machine or HSM.

| node | validator address | RPC port | P2P port | docker IP |
| --- | --- | --- | --- | --- |
${rows}

## Start / check / stop

\`\`\`bash
cd ${params.outDirName}
docker compose up -d                 # starts ${keys.length} validators
docker compose logs -f node-0        # "Produced #1 …" lines appear once ${Math.ceil((2 * keys.length) / 3)} validators (the QBFT quorum) are connected

curl -s -X POST -H 'Content-Type: application/json' \\
  --data '{"jsonrpc":"2.0","method":"eth_blockNumber","params":[],"id":1}' ${rpcUrl}
curl -s -X POST -H 'Content-Type: application/json' \\
  --data '{"jsonrpc":"2.0","method":"qbft_getValidatorsByBlockNumber","params":["latest"],"id":1}' ${rpcUrl}

docker compose down                  # stop, keep chain data (node-*/data)
docker compose down && rm -rf node-*/data/*   # reset the chain (keeps keys and genesis)
\`\`\`

\`.env\` sets \`BESU_UID\`/\`BESU_GID\` to the user who generated the kit so the containers can read the
0600 keys and write \`node-*/data\`; edit it if another user runs the network.
The docker network uses the fixed subnet ${DOCKER_SUBNET} because Besu only accepts IP addresses in
enode URLs; change it (and the IPs in docker-compose.yml, permissions_config.toml and
node-*/static-nodes.docker.json) if it collides with an existing network.

## Use it from this project

From the project root (the Hardhat \`besu\` network reads these two variables):

\`\`\`bash
export BESU_RPC_URL=${rpcUrl}
${keyHint}
npx hardhat run scripts/<deploy-script>.ts --network besu   # or: npx hardhat ignition deploy … --network besu
\`\`\`

Gas is free (\`zeroBaseFee\` + \`min-gas-price=0\`): send transactions with \`gasPrice: 0\` (or
\`maxFeePerGas: 0\`). Only accounts in \`permissions_config.toml\` → \`accounts-allowlist\` may send
transactions; add relayers there (or regenerate with \`--accounts\`) and restart the nodes.

## Running without Docker

Each \`node-*/config.toml\` is complete for a native Besu: from this directory run
\`besu --config-file=node-0/config.toml\`, then the other nodes in separate terminals. Natively the
nodes use 127.0.0.1 with P2P ports ${p2pPort(0)}…${p2pPort(keys.length - 1)} (\`node-*/static-nodes.json\`); under Docker the
compose file overrides the P2P host, bootnode and static-nodes file with the docker addresses.

## Why these settings

- **extraData** = RLP([32 zero bytes, [validators sorted ascending], [] (no vote), round, [] (no seals)]),
  exactly as Besu's \`QbftExtraDataCodec\` writes it. The round is an RLP *scalar*, so round 0 is the
  empty string \`0x80\`; four zero bytes would be rejected with "Invalid scalar, has leading zeros bytes".
- **Forks**: everything up to London at block 0, \`shanghaiTime: 0\` and \`cancunTime: 0\` — OpenZeppelin 5.7
  emits \`MCOPY\` (Cancun), and hardhat.config.ts compiles for \`cancun\`.
- **EIP-4788 beacon-roots contract** is pre-deployed at ${BEACON_ROOTS_ADDRESS}: with Cancun, Besu calls it
  at the start of every block, and on a chain without a beacon chain it would otherwise be missing.
- **contractSizeLimit ${CONTRACT_SIZE_LIMIT}** (2 × the EIP-170 limit of 24576): headroom for large
  contracts on this private chain. Hardhat tests still enforce 24 KiB, so tested contracts also fit public EVMs.
- **gasLimit ${GAS_LIMIT}** (800 M = 100 × 8 M): high enough that block space is never the bottleneck,
  low enough that one free transaction cannot keep validators busy past the round timeout
  (requesttimeoutseconds ${requestTimeoutSeconds(opts.blockPeriod)}), which would stall consensus.
- **Transaction pool**: \`tx-pool="SEQUENCED"\` with \`tx-pool-limit-by-account-percentage=0.15\` (the values
  \`--profile=ENTERPRISE\` applies) so a relayer submitting many transactions is not capped at the default
  0.1 % of the pool. Set explicitly rather than via \`profile\` to keep every effective value in the file.
- **Permissioning**: node allowlist = the kit's validators only; account allowlist = deployer + \`--accounts\`.
- **RPC** listens on ${opts.rpcHost} (Docker: published on ${opts.rpcHost} only) with ETH, NET, QBFT, WEB3, TXPOOL — no
  ADMIN/DEBUG/PERM namespaces.
`;
}

// ───────────────────────────────────────────── kit plan ──────────────────────────────────────────────

export interface KitFile {
  /** Path relative to the kit root, "/"-separated. */
  path: string;
  contents: string;
  mode: number;
}

export interface KitPlan {
  files: KitFile[];
  /** Directories (relative) to create with mode 0700, parents first. */
  dirs: string[];
  keys: NodeKey[];
  deployer: string;
  deployerGenerated: boolean;
  genesis: Record<string, unknown>;
}

/** Builds every file of the kit in memory. `keys` / `deployerKey` may be injected (tests); otherwise they are generated. */
export function planKit(
  opts: KitOptions,
  inject: { keys?: NodeKey[]; deployerKey?: NodeKey; timestamp?: number; uid?: number; gid?: number; displayDir?: string } = {},
): KitPlan {
  const keys = inject.keys ?? Array.from({ length: opts.validators }, () => generateNodeKey());
  if (keys.length !== opts.validators) throw new Error("number of injected keys does not match --validators");
  if (new Set(keys.map((k) => k.address)).size !== keys.length) throw new Error("duplicate validator key");

  const deployerGenerated = opts.deployer === undefined;
  const deployerKey = deployerGenerated ? (inject.deployerKey ?? generateNodeKey()) : undefined;
  const deployer = opts.deployer ?? deployerKey!.address;

  const genesis = buildGenesis({
    chainId: opts.chainId,
    blockPeriod: opts.blockPeriod,
    validators: keys.map((k) => k.address),
    deployer,
    timestamp: inject.timestamp,
  });

  const localEnodes = keys.map((k, i) => enodeUrl(k.enodeId, "127.0.0.1", p2pPort(i)));
  const dockerEnodes = keys.map((k, i) => enodeUrl(k.enodeId, dockerIp(i), p2pPort(i)));
  const accountsAllowlist = [deployer, ...opts.accounts.filter((a) => a !== deployer)];

  const PUBLIC = 0o644;
  const SECRET = 0o600;
  const files: KitFile[] = [];
  const dirs: string[] = [];
  keys.forEach((k, i) => {
    const dir = nodeDirName(i);
    dirs.push(dir, `${dir}/data`);
    files.push(
      { path: `${dir}/key`, contents: k.privateKey, mode: SECRET },
      { path: `${dir}/key.pub`, contents: k.publicKey, mode: PUBLIC },
      {
        path: `${dir}/config.toml`,
        contents: renderNodeToml({ index: i, rpcHost: opts.rpcHost, bootnode: i === 0 ? undefined : localEnodes[0] }),
        mode: PUBLIC,
      },
      // Full mesh: every other validator, never itself (Besu rejects a self-reference).
      { path: `${dir}/static-nodes.json`, contents: JSON.stringify(localEnodes.filter((_, j) => j !== i), null, 2) + "\n", mode: PUBLIC },
      { path: `${dir}/static-nodes.docker.json`, contents: JSON.stringify(dockerEnodes.filter((_, j) => j !== i), null, 2) + "\n", mode: PUBLIC },
    );
  });
  if (deployerKey) {
    dirs.push("deployer");
    files.push(
      { path: "deployer/key", contents: deployerKey.privateKey, mode: SECRET },
      { path: "deployer/address", contents: deployerKey.address + "\n", mode: PUBLIC },
    );
  }
  const outDirName = inject.displayDir ?? path.basename(path.resolve(opts.outDir));
  files.push(
    { path: "genesis.json", contents: JSON.stringify(genesis, null, 2) + "\n", mode: PUBLIC },
    {
      path: "permissions_config.toml",
      contents: renderPermissionsToml({ nodesAllowlist: [...dockerEnodes, ...localEnodes], accountsAllowlist }),
      mode: PUBLIC,
    },
    { path: "docker-compose.yml", contents: renderDockerCompose({ image: opts.image, keys, rpcHost: opts.rpcHost }), mode: PUBLIC },
    {
      path: ".env",
      contents: `# uid/gid the Besu containers run as (owner of the 0600 key files)\nBESU_UID=${inject.uid ?? 1000}\nBESU_GID=${inject.gid ?? 1000}\n`,
      mode: PUBLIC,
    },
    { path: "README.md", contents: renderReadme({ outDirName, opts, keys, deployer, deployerGenerated }), mode: PUBLIC },
    {
      path: MANIFEST_FILE,
      contents:
        JSON.stringify(
          {
            generator: "scripts/besu-kit.ts",
            chainId: opts.chainId,
            image: opts.image,
            deployer,
            validators: keys.map((k, i) => ({ node: nodeDirName(i), address: k.address, enode: localEnodes[i] })),
          },
          null,
          2,
        ) + "\n",
      mode: PUBLIC,
    },
  );
  return { files, dirs, keys, deployer, deployerGenerated, genesis };
}

// ───────────────────────────────────────────── disk I/O ──────────────────────────────────────────────

/**
 * Checks that `outDir` may be written: absent, empty, or (with force) a kit made by this generator.
 * Throws UsageError otherwise. Returns true when an old kit has to be removed first.
 */
export function checkOutDir(outDir: string, force: boolean): boolean {
  let stat: fs.Stats;
  try {
    stat = fs.statSync(outDir);
  } catch {
    return false; // absent
  }
  if (!stat.isDirectory()) throw new UsageError(`--out ${outDir} exists and is not a directory; choose another --out`);
  const entries = fs.readdirSync(outDir);
  if (entries.length === 0) return false;
  if (!force) throw new UsageError(`--out ${outDir} exists and is not empty; pass --force to replace the kit in it, or choose another --out`);
  if (!entries.includes(MANIFEST_FILE)) {
    throw new UsageError(`--out ${outDir} is not empty and was not generated by besu-kit (no ${MANIFEST_FILE}); --force only replaces a previous kit, so choose an empty --out`);
  }
  return true;
}

/** Writes a planned kit. Directories get 0700, key files 0600 (set explicitly, independent of umask). */
export function writeKit(outDir: string, plan: KitPlan, force: boolean): void {
  const replace = checkOutDir(outDir, force);
  if (replace) {
    for (const entry of fs.readdirSync(outDir)) fs.rmSync(path.join(outDir, entry), { recursive: true, force: true });
  }
  fs.mkdirSync(outDir, { recursive: true, mode: 0o700 });
  fs.chmodSync(outDir, 0o700);
  for (const d of plan.dirs) {
    const p = path.join(outDir, ...d.split("/"));
    fs.mkdirSync(p, { recursive: true, mode: 0o700 });
    fs.chmodSync(p, 0o700);
  }
  for (const f of plan.files) {
    const p = path.join(outDir, ...f.path.split("/"));
    fs.mkdirSync(path.dirname(p), { recursive: true, mode: 0o700 });
    fs.writeFileSync(p, f.contents, { mode: f.mode, flag: "wx" });
    fs.chmodSync(p, f.mode);
  }
}
