import crypto from "node:crypto";
import type { CustodialStore } from "../../relay/custodial";
import type { Authenticator, Principal } from "../ports";

/**
 * Who calls the binding: a member by its custodial API key (`X-API-Key: mtk_…`, the key its
 * relay-side ERP connector already holds; the relay's own check, constant time, revocation at
 * once), or an auditor by a READ_API_KEYS key (`X-API-Key` or `Authorization: Bearer`).
 */
export class ApiKeyAuthenticator implements Authenticator {
  private readonly auditorKeys: Array<{ hash: Buffer; id: string }>;

  constructor(
    private readonly custodial: Pick<CustodialStore, "authenticate"> | undefined,
    readKeys: readonly string[],
  ) {
    this.auditorKeys = readKeys.map((k) => ({ hash: sha256(k), id: sha256(k).toString("hex").slice(0, 16) }));
  }

  authenticate(headers: Record<string, string | string[] | undefined>): Principal | { error: "API_KEY_INVALID" | "API_KEY_REVOKED"; detail: string } | undefined {
    const raw = headers["x-api-key"] ?? (typeof headers.authorization === "string" ? headers.authorization.replace(/^Bearer\s+/i, "") : undefined);
    const key = Array.isArray(raw) ? raw[0] : raw;
    if (!key) return undefined;
    if (key.startsWith("mtk_")) {
      const auth = this.custodial?.authenticate(key);
      if (!auth) return { error: "API_KEY_INVALID", detail: "unknown or malformed member API key" };
      if (auth.revokedAt) return { error: "API_KEY_REVOKED", detail: `this API key was revoked at ${auth.revokedAt}` };
      return { kind: "member", account: auth.member, keyId: auth.keyId };
    }
    const presented = sha256(key);
    let match: string | undefined;
    for (const k of this.auditorKeys) if (crypto.timingSafeEqual(k.hash, presented)) match = k.id;
    return match ? { kind: "auditor", keyId: match } : { error: "API_KEY_INVALID", detail: "unknown API key" };
  }
}

const sha256 = (s: string) => crypto.createHash("sha256").update(s, "utf8").digest();
