import crypto from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { z } from "zod";
import { REPO_ROOT } from "../../api/chain/addresses";

/**
 * `.local/dev-keys.json`: what `npm start` tells the tools that come after it (`npm run demo`,
 * the tasks, a developer's curl) about the local consortium: the node, the contracts, the
 * service, who is who with their dev keys, and the API key of the custodial demo member.
 * Git-ignored and mode 0600; the keys are the public test mnemonic's and worth nothing.
 */

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/);

export const devKeysSchema = z.object({
  warning: z.string(),
  chainId: z.number().int(),
  rpcUrl: z.string().url(),
  contracts: z.object({ forwarder: address, consortium: address, batchToken: address }),
  service: z
    .object({
      url: z.string().url().describe("base URL of the relay and read service"),
      adminToken: z.string().describe("RELAY_ADMIN_TOKEN of this local service (custodial enrolment, API keys)"),
    })
    .optional()
    .describe("absent when npm start ran with START_SERVICE=false"),
  accounts: z.array(
    z.object({
      key: z.string(),
      address,
      privateKey: z.string().regex(/^0x[0-9a-fA-F]{64}$/),
      apiKey: z.string().optional().describe("custodial members: the X-API-Key the relay signs for"),
    }),
  ),
});
export type DevKeys = z.infer<typeof devKeysSchema>;

export const DEV_KEYS_FILE = path.join(REPO_ROOT, ".local", "dev-keys.json");

export function writeDevKeys(keys: DevKeys, file = DEV_KEYS_FILE): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(devKeysSchema.parse(keys), null, 2), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
}

/** The file npm start wrote, or undefined when there is none; a malformed file is an error. */
export function readDevKeys(file = DEV_KEYS_FILE): DevKeys | undefined {
  if (!fs.existsSync(file)) return undefined;
  const parsed = devKeysSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
  if (!parsed.success) throw new Error(`${file} is not what npm start writes (${parsed.error.issues[0].path.join(".")}: ${parsed.error.issues[0].message}); run npm start again`);
  return parsed.data;
}

const secretsSchema = z.object({ adminToken: z.string().min(24), keystorePassphrase: z.string().min(12) });

/**
 * The local service's admin token and custodial keystore passphrase, generated at random the first
 * time and kept beside the service's data (mode 0600): the keystores written under one passphrase
 * must open again after a restart on the same chain, and no fixed secret ships in the repository.
 */
export function localServiceSecrets(dataDir: string): z.infer<typeof secretsSchema> {
  const file = path.join(dataDir, "local-secrets.json");
  if (fs.existsSync(file)) {
    const parsed = secretsSchema.safeParse(JSON.parse(fs.readFileSync(file, "utf8")));
    if (parsed.success) return parsed.data;
  }
  const secrets = { adminToken: crypto.randomBytes(24).toString("base64url"), keystorePassphrase: crypto.randomBytes(18).toString("base64url") };
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  fs.chmodSync(file, 0o600);
  return secrets;
}
