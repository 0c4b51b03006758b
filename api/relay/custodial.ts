import fs from "node:fs";
import path from "node:path";
import crypto from "node:crypto";
import { Wallet, decryptKeystoreJson, encryptKeystoreJson, getAddress } from "ethers";
import type Database from "better-sqlite3";
import { signDigest } from "./forward-request";

/**
 * Custodial members: organisations without their own wallet. Each has
 * - a signing key, held in an encrypted JSON keystore (ethers / Web3 Secret Storage, scrypt)
 *   under DATA_DIR/custodial/, decrypted on first use with RELAY_KEYSTORE_PASSPHRASE and then
 *   kept in memory only;
 * - one or more API keys, of the form `mtk_<keyId>_<secret>`: the relay stores
 *   sha-256(salt ‖ secret) per key id and compares in constant time. The secret is 32 random
 *   bytes, so a salted fast hash is enough (scrypt protects low-entropy passwords, not these).
 *
 * The `CustodialSigner` interface is what a KMS/HSM would implement instead of the keystore.
 * Private keys and API key secrets never go to logs, responses or errors.
 */

export interface CustodialSigner {
  readonly address: string;
  /** Signs a 32-byte digest: a 65-byte r‖s‖v hex signature. */
  signDigest(digest: Buffer): Promise<string>;
}

class KeystoreSigner implements CustodialSigner {
  constructor(
    readonly address: string,
    private readonly privateKey: string,
  ) {}
  async signDigest(digest: Buffer): Promise<string> {
    return signDigest(digest, this.privateKey);
  }
  toJSON() {
    return { address: this.address };
  }
}

export class CustodialStore {
  private readonly dir: string;
  private readonly signers = new Map<string, Promise<CustodialSigner>>();
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly db: Database.Database,
    dataDir: string,
    private readonly passphrase: string,
    private readonly scryptN: number,
  ) {
    this.dir = path.join(dataDir, "custodial");
    fs.mkdirSync(this.dir, { recursive: true, mode: 0o700 });
  }

  /** Imports (or generates) a member key, writes its encrypted keystore, and issues an API key. */
  async enrol(label: string, privateKey?: string): Promise<{ member: string; keyId: string; apiKey: string; keystore: string }> {
    const wallet = privateKey ? new Wallet(privateKey) : Wallet.createRandom();
    const file = `${wallet.address.toLowerCase()}.json`;
    const target = path.join(this.dir, file);
    if (!fs.existsSync(target)) {
      const json = await encryptKeystoreJson({ address: wallet.address, privateKey: wallet.privateKey }, this.passphrase, { scrypt: { N: this.scryptN } });
      const tmp = `${target}.tmp`;
      fs.writeFileSync(tmp, json, { mode: 0o600 });
      fs.renameSync(tmp, target);
    }
    return { ...this.insertKey(wallet.address, label), keystore: file };
  }

  /** Whether `member` has a keystore here (was enrolled). */
  isEnrolled(member: string): boolean {
    return fs.existsSync(path.join(this.dir, `${member.toLowerCase()}.json`));
  }

  /** Issues another API key for an enrolled member (rotation: issue the new key, then revoke the old one). */
  issueKey(member: string, label: string): { member: string; keyId: string; apiKey: string } | undefined {
    if (!this.isEnrolled(member)) return undefined;
    return this.insertKey(getAddress(member), label);
  }

  private insertKey(member: string, label: string): { member: string; keyId: string; apiKey: string } {
    const keyId = crypto.randomBytes(8).toString("hex");
    const secret = crypto.randomBytes(32).toString("base64url");
    const salt = crypto.randomBytes(16).toString("hex");
    this.db
      .prepare(`INSERT INTO api_keys (key_id, member, salt, hash, label, created_at) VALUES (?, ?, ?, ?, ?, ?)`)
      .run(keyId, member, salt, hashSecret(salt, secret), label, Date.now());
    return { member, keyId, apiKey: `mtk_${keyId}_${secret}` };
  }

  /** A member's API keys, newest first: ids, labels and dates only (the secrets are not kept). */
  listKeys(member: string): ApiKeyInfo[] {
    const rows = this.db
      .prepare(`SELECT key_id, member, label, created_at, revoked_at FROM api_keys WHERE lower(member) = lower(?) ORDER BY created_at DESC, key_id`)
      .all(member) as ApiKeyRow[];
    return rows.map(keyInfo);
  }

  /** Revokes an API key at once (authentication reads the table on every request); undefined if unknown. */
  revokeKey(keyId: string): ApiKeyInfo | undefined {
    this.db.prepare(`UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL`).run(Date.now(), keyId);
    const row = this.db.prepare(`SELECT key_id, member, label, created_at, revoked_at FROM api_keys WHERE key_id = ?`).get(keyId) as ApiKeyRow | undefined;
    return row && keyInfo(row);
  }

  /**
   * The member an API key belongs to; undefined for a malformed or unknown key, `revokedAt` for a
   * revoked one (said only to a caller who holds the secret). Constant-time in the secret.
   */
  authenticate(apiKey: string | undefined): { member: string; keyId: string; revokedAt?: string } | undefined {
    const m = /^mtk_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(apiKey ?? "");
    if (!m) return undefined;
    const row = this.db.prepare(`SELECT member, salt, hash, revoked_at FROM api_keys WHERE key_id = ?`).get(m[1]) as
      | { member: string; salt: string; hash: string; revoked_at: number | null }
      | undefined;
    // Hash even for an unknown key id, so timing does not tell which key ids exist.
    const expected = Buffer.from(row?.hash ?? "0".repeat(64), "hex");
    const actual = Buffer.from(hashSecret(row?.salt ?? "00", m[2]), "hex");
    if (!crypto.timingSafeEqual(expected, actual) || !row) return undefined;
    const who = { member: getAddress(row.member), keyId: m[1] };
    return row.revoked_at === null ? who : { ...who, revokedAt: new Date(row.revoked_at).toISOString() };
  }

  /** The signer of a custodial member (keystore decrypted once, then cached in memory). */
  signer(member: string): Promise<CustodialSigner> {
    const key = member.toLowerCase();
    let s = this.signers.get(key);
    if (!s) {
      s = (async () => {
        const json = await fs.promises.readFile(path.join(this.dir, `${key}.json`), "utf8");
        const account = await decryptKeystoreJson(json, this.passphrase);
        return new KeystoreSigner(getAddress(account.address), account.privateKey);
      })();
      s.catch(() => this.signers.delete(key));
      this.signers.set(key, s);
    }
    return s;
  }

  /** Runs `fn` exclusively per member, so nonce allocation and submission of one member never interleave. */
  async exclusive<T>(member: string, fn: () => Promise<T>): Promise<T> {
    const key = member.toLowerCase();
    const prev = this.locks.get(key) ?? Promise.resolve();
    const run = prev.then(fn, fn);
    const tail = run.catch(() => undefined);
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

interface ApiKeyRow {
  key_id: string;
  member: string;
  label: string;
  created_at: number;
  revoked_at: number | null;
}

export interface ApiKeyInfo {
  keyId: string;
  member: string;
  label: string;
  createdAt: string;
  revokedAt: string | null;
}

function keyInfo(r: ApiKeyRow): ApiKeyInfo {
  return { keyId: r.key_id, member: getAddress(r.member), label: r.label, createdAt: new Date(r.created_at).toISOString(), revokedAt: r.revoked_at === null ? null : new Date(r.revoked_at).toISOString() };
}

function hashSecret(salt: string, secret: string): string {
  return crypto.createHash("sha256").update(Buffer.from(salt, "hex")).update(secret, "utf8").digest("hex");
}

/** Constant-time comparison of a presented admin token with the configured one. */
export function adminTokenMatches(presented: string | undefined, configured: string): boolean {
  const a = crypto.createHash("sha256").update(presented ?? "").digest();
  const b = crypto.createHash("sha256").update(configured).digest();
  return crypto.timingSafeEqual(a, b) && presented !== undefined;
}
