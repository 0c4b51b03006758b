import path from "node:path";
import v8 from "node:v8";
import { z } from "zod";
import { isAddress } from "ethers";
import { REPO_ROOT, readDeploymentAddresses, type SystemAddresses } from "./chain/addresses";
import { relayEnvSchema } from "./relay/config";
import { readEnvSchema } from "./read/config";
import { exchangeEnvSchema } from "./exchange/config";

const address = z.string().refine((v) => isAddress(v), { message: "must be a 0x-prefixed 20-byte hex address" });

/** Environment of the whole service. Every variable is listed, with a comment, in .env.example. */
export const baseEnvSchema = z.object({
  HOST: z.string().default("127.0.0.1"),
  PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  CHAIN_RPC_URL: z.string().url().default("http://127.0.0.1:8545"),
  CHAIN_ID: z.coerce.number().int().positive().default(1337),
  DEPLOYMENT_ID: z.string().regex(/^[\w.-]+$/).optional(),
  FORWARDER_ADDRESS: address.optional(),
  CONSORTIUM_ADDRESS: address.optional(),
  BATCH_TOKEN_ADDRESS: address.optional(),
  DATA_DIR: z.string().default(".local/data"),
  BODY_LIMIT_BYTES: z.coerce.number().int().min(1024).max(10_485_760).default(262_144),
  REQUEST_TIMEOUT_MS: z.coerce.number().int().min(100).max(600_000).default(15_000),
  CORS_ORIGINS: z.string().default(""),
  PUBLIC_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).default(600),
  HEAP_GROWING_PERCENT: z.coerce.number().int().min(0).max(400).default(100),
});

export const envSchema = baseEnvSchema.extend(relayEnvSchema.shape).extend(readEnvSchema.shape).extend(exchangeEnvSchema.shape);
export type Env = z.infer<typeof envSchema>;

export interface AppConfig {
  env: Env;
  addresses: SystemAddresses;
  /** Absolute directory for SQLite files. */
  dataDir: string;
}

/** Thrown for a configuration a person must fix; server.ts prints it as one line. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

/**
 * Validates the environment and resolves the contract addresses: explicit *_ADDRESS variables
 * win; otherwise they are read from the Ignition deployment DEPLOYMENT_ID (default chain-<CHAIN_ID>).
 */
export function loadConfig(source: NodeJS.ProcessEnv = process.env): AppConfig {
  // An empty value (`FOO=` as in .env.example) means "not set": the default applies.
  const given = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== undefined && v !== ""));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${issue.path.join(".")}: ${issue.message} — fix it in .env (see .env.example)`);
  }
  const env = parsed.data;
  let addresses: SystemAddresses | undefined;
  if (env.FORWARDER_ADDRESS && env.CONSORTIUM_ADDRESS && env.BATCH_TOKEN_ADDRESS) {
    addresses = { forwarder: env.FORWARDER_ADDRESS, consortium: env.CONSORTIUM_ADDRESS, batchToken: env.BATCH_TOKEN_ADDRESS };
  } else {
    const id = env.DEPLOYMENT_ID ?? `chain-${env.CHAIN_ID}`;
    addresses = readDeploymentAddresses(id);
    if (!addresses) {
      throw new ConfigError(
        `no contract addresses: set FORWARDER_ADDRESS, CONSORTIUM_ADDRESS and BATCH_TOKEN_ADDRESS, or deploy first (npm start) so ignition/deployments/${id} exists`,
      );
    }
  }
  return { env, addresses, dataDir: path.resolve(REPO_ROOT, env.DATA_DIR) };
}

/**
 * How far V8 lets the heap grow past what survived the last full collection before the next one.
 * V8 picks the factor itself (up to 4×) by GC speed; under relay load most of each request's
 * garbage is promoted (a request lives ~200 ms), so the heap swung between 50 and 200 MB and the
 * process peaked near 300 MB RSS. A fixed 2× (100) kept it at ≈ 225 MB with the same accepted rate
 * (bench:relay, see README). Process-wide, so the entry points (server.ts, npm start) apply it.
 */
export function applyHeapTuning(env: Pick<Env, "HEAP_GROWING_PERCENT">, nodeFlags = [...process.execArgv, process.env.NODE_OPTIONS ?? ""].join(" ")): boolean {
  // A flag the operator gave node itself wins.
  if (env.HEAP_GROWING_PERCENT === 0 || /--heap[-_]growing[-_]percent/.test(nodeFlags)) return false;
  v8.setFlagsFromString(`--heap-growing-percent=${env.HEAP_GROWING_PERCENT}`);
  return true;
}
