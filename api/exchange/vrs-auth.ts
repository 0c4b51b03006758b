/**
 * Who may ask the VRS responder: consortium trading partners, each identified by its GLN.
 *
 * Today: an API key per requestor GLN (`VRS_API_KEYS=gln:key,gln:key`), sent as `x-api-key` or
 * `Authorization: Bearer`. Tomorrow: DSCSA Authorized Trading Partner credentials (verifiable
 * credentials presented by the requestor), through the same {@link RequestorAuthenticator} — add a
 * class that implements it and put it in front of (or instead of) the API keys in index.ts.
 */
import { timingSafeEqual } from 'node:crypto';
import { isGln } from '../domain/gs1';

/** What an authenticator learnt about the requestor. */
export type RequestorCheck =
  /** No credential at all (→ 401). */
  | { ok: false; status: 401; code: 'VRS_CREDENTIAL_REQUIRED' | 'VRS_CREDENTIAL_UNKNOWN'; message: string; hint: string }
  /** A valid credential, but not for the GLN the request names (→ 403). */
  | { ok: false; status: 403; code: 'VRS_REQUESTOR_NOT_AUTHORISED'; message: string; hint: string }
  | { ok: true; requestorGLN: string; method: 'api-key' | 'atp-credential' };

/** The credentials a request carried (headers only; never the query string, which gets logged). */
export interface PresentedCredentials {
  apiKey?: string;
  /** A DSCSA ATP credential (e.g. a verifiable presentation), for a future authenticator. */
  atpCredential?: string;
}

export interface RequestorAuthenticator {
  /** Checks that the presented credentials belong to the trading partner with GLN `reqGLN`. */
  authenticate(reqGLN: string, presented: PresentedCredentials): RequestorCheck | Promise<RequestorCheck>;
}

export class VrsKeyConfigError extends Error {
  override readonly name = 'VrsKeyConfigError';
}

/** Parses `gln:key,gln:key` (one GLN may have several keys, for rotation). */
export function parseVrsApiKeys(spec: string): Map<string, string[]> {
  const byGln = new Map<string, string[]>();
  for (const part of spec.split(',').map((p) => p.trim()).filter(Boolean)) {
    const at = part.indexOf(':');
    const gln = at < 0 ? '' : part.slice(0, at).trim();
    const key = at < 0 ? '' : part.slice(at + 1).trim();
    if (!isGln(gln)) throw new VrsKeyConfigError(`VRS_API_KEYS: '${gln || part}' is not a 13-digit GLN with a valid check digit (entries are gln:key)`);
    if (key.length < 16) throw new VrsKeyConfigError(`VRS_API_KEYS: the key of GLN ${gln} has ${key.length} characters; use at least 16 random characters`);
    byGln.set(gln, [...(byGln.get(gln) ?? []), key]);
  }
  return byGln;
}

/** API keys per requestor GLN, compared in constant time. */
export class ApiKeyAuthenticator implements RequestorAuthenticator {
  private readonly keys: Array<{ gln: string; key: Buffer }>;

  constructor(byGln: ReadonlyMap<string, readonly string[]>) {
    this.keys = [...byGln].flatMap(([gln, keys]) => keys.map((k) => ({ gln, key: Buffer.from(k) })));
  }

  get size(): number {
    return this.keys.length;
  }

  authenticate(reqGLN: string, presented: PresentedCredentials): RequestorCheck {
    if (presented.apiKey === undefined || presented.apiKey === '') {
      return {
        ok: false,
        status: 401,
        code: 'VRS_CREDENTIAL_REQUIRED',
        message: 'the VRS responder answers consortium trading partners only, and the request carries no API key',
        hint: 'send the key the consortium issued to your GLN in the x-api-key header (or Authorization: Bearer)',
      };
    }
    const given = Buffer.from(presented.apiKey);
    const match = this.keys.find((k) => k.key.length === given.length && timingSafeEqual(k.key, given));
    if (!match) {
      return { ok: false, status: 401, code: 'VRS_CREDENTIAL_UNKNOWN', message: 'the API key is not one the consortium issued', hint: 'check the key, or ask the operator for a new one' };
    }
    if (match.gln !== reqGLN) {
      return {
        ok: false,
        status: 403,
        code: 'VRS_REQUESTOR_NOT_AUTHORISED',
        message: `the API key belongs to GLN ${match.gln}, but the request names reqGLN ${reqGLN}`,
        hint: 'set reqGLN to the GLN your key was issued for; a key verifies for its own trading partner only',
      };
    }
    return { ok: true, requestorGLN: match.gln, method: 'api-key' };
  }
}
