import { z } from 'zod';
import { CBV_TERMS } from './cbv-terms';
import { hasValidCheckDigit, isGln } from './gs1';
import { keccak256 } from './merkle';

/**
 * Business transactions of a shipment: the purchase order, invoice, despatch advice… that a trading
 * partner matches a delivery against. A member supplies them with the shipment; the chain stores
 * only their `referenceHash` (keccak-256 of the canonical form below), and the read side keeps the
 * documents and serves them as EPCIS `bizTransactionList` entries.
 *
 * Identifiers (CBV 2.0 §8.5 "Business transaction identifiers"):
 *  - `{ type, id, issuer }` → `urn:epcglobal:cbv:bt:{issuer GLN}:{id}` (a document number scoped by
 *    the GLN of the party that issued it; characters outside the URN set percent-encoded);
 *  - `{ type, gdti }` → `https://id.gs1.org/253/{gdti}` (a GS1 Global Document Type Identifier,
 *    13 digits with check digit, then an optional serial component of up to 17 characters).
 * `type` is a CBV 2.0 business transaction type: po, inv, desadv, recadv, rma, bol, prodorder, poc,
 * cert, pedigree, testprd, testres, upevt.
 *
 * Canonical form (what `referenceHash` commits to), version 1:
 *
 *     "medtrace-bt/1\n" + for each entry, sorted by (type, uri) in code-point order:
 *                          type + "\t" + uri + "\n"
 *     referenceHash = keccak256(UTF-8 bytes of that string), 0x-prefixed lower-case hex
 *
 * e.g. one PO 4711 issued by GLN 4012345000009:
 * `medtrace-bt/1\npo\turn:epcglobal:cbv:bt:4012345000009:4711\n`. Duplicates are refused (a set).
 * Any system can recompute it from the documents, so a partner can check that what it was sent is
 * what the sender committed to on chain.
 */

export const BIZ_TRANSACTION_TYPES = [...CBV_TERMS.bizTransactionType.terms] as [string, ...string[]];
export const BIZ_TRANSACTIONS_CANONICAL_HEADER = 'medtrace-bt/1\n';
/** Up to this many documents per shipment. */
export const MAX_BIZ_TRANSACTIONS = 20;

export type BizTransactionErrorCode =
  | 'BT_EMPTY'
  | 'BT_TOO_MANY'
  | 'BT_TYPE_UNKNOWN'
  | 'BT_FORM'
  | 'BT_ID_INVALID'
  | 'BT_ISSUER_INVALID'
  | 'BT_GDTI_INVALID'
  | 'BT_DUPLICATE'
  | 'BT_NOT_AN_OBJECT';

const HINTS: Record<BizTransactionErrorCode, string> = {
  BT_EMPTY: 'send at least one document, or no bizTransactions at all',
  BT_TOO_MANY: `send at most ${MAX_BIZ_TRANSACTIONS} documents per shipment`,
  BT_TYPE_UNKNOWN: `use a CBV business transaction type: ${BIZ_TRANSACTION_TYPES.join(', ')}`,
  BT_FORM: 'give either { type, id, issuer } (a document number and the GLN of its issuer) or { type, gdti }, not both',
  BT_ID_INVALID: 'a document number has 1–35 characters of GS1 character set 82 (letters, digits and !"%&\'()*+,-./:;<=>?_)',
  BT_ISSUER_INVALID: 'issuer is the 13-digit GLN (with its check digit) of the party that issued the document',
  BT_GDTI_INVALID: 'a GDTI is 13 digits (company prefix, document type, check digit) followed by up to 17 characters of set 82',
  BT_DUPLICATE: 'list each document once',
  BT_NOT_AN_OBJECT: 'send bizTransactions as an array of objects',
};

/** One problem of a bizTransactions list, with a stable code, where, and how to fix it. */
export interface BizTransactionProblem {
  code: BizTransactionErrorCode;
  /** Path inside the list, e.g. [1, "issuer"]. */
  path: (string | number)[];
  message: string;
  hint: string;
}

export class BizTransactionError extends Error {
  override readonly name = 'BizTransactionError';
  readonly code: BizTransactionErrorCode;
  constructor(readonly problems: BizTransactionProblem[]) {
    super(problems.map((p) => `${p.code} at [${p.path.join('.')}]: ${p.message}`).join('; '));
    this.code = problems[0]!.code;
  }
}

const CSET82_35 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,35}$/;
const GDTI = /^(\d{13})([!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{0,17})$/;

const issue = (ctx: z.RefinementCtx, code: BizTransactionErrorCode, message: string, path: (string | number)[] = []) =>
  ctx.addIssue({ code: 'custom', message: `${code}: ${message}`, path, params: { code } });

/** One document as a member supplies it (before validation). */
export const bizTransactionInputSchema = z
  .object({
    type: z.string(),
    id: z.string().optional(),
    issuer: z.string().optional(),
    gdti: z.string().optional(),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (!BIZ_TRANSACTION_TYPES.includes(v.type)) issue(ctx, 'BT_TYPE_UNKNOWN', `"${v.type}" is not a CBV business transaction type`, ['type']);
    const byNumber = v.id !== undefined || v.issuer !== undefined;
    if (byNumber === (v.gdti !== undefined)) {
      issue(ctx, 'BT_FORM', 'a document is identified by id + issuer, or by gdti');
      return;
    }
    if (v.gdti !== undefined) {
      const m = GDTI.exec(v.gdti);
      if (!m || !hasValidCheckDigit(m[1]!)) issue(ctx, 'BT_GDTI_INVALID', `"${v.gdti}" is not a GDTI`, ['gdti']);
      return;
    }
    if (v.id === undefined || !CSET82_35.test(v.id)) issue(ctx, 'BT_ID_INVALID', `document number ${JSON.stringify(v.id ?? null)} is not 1–35 characters of set 82`, ['id']);
    if (v.issuer === undefined || !isGln(v.issuer)) issue(ctx, 'BT_ISSUER_INVALID', `issuer ${JSON.stringify(v.issuer ?? null)} is not a GLN`, ['issuer']);
  });

export type BizTransactionInput = z.infer<typeof bizTransactionInputSchema>;

/** The list a shipment carries: 1–20 distinct documents. */
export const bizTransactionsSchema = z
  .array(bizTransactionInputSchema)
  .superRefine((list, ctx) => {
    if (list.length === 0) issue(ctx, 'BT_EMPTY', 'the list is empty');
    if (list.length > MAX_BIZ_TRANSACTIONS) issue(ctx, 'BT_TOO_MANY', `${list.length} documents`);
    const seen = new Map<string, number>();
    list.forEach((d, i) => {
      let key: string;
      try {
        key = `${d.type}\t${bizTransactionUri(d)}`;
      } catch {
        return; // reported by the item schema
      }
      const first = seen.get(key);
      if (first !== undefined) issue(ctx, 'BT_DUPLICATE', `document ${i} repeats document ${first}`, [i]);
      else seen.set(key, i);
    });
  });

/** A validated document: its CBV type and its URI. */
export interface BizTransaction {
  type: string;
  uri: string;
}

/** Characters kept as they are in the NSS of `urn:epcglobal:cbv:bt:…` (RFC 8141: unreserved, sub-delims, ":", "@"). */
function encodeUrnComponent(s: string): string {
  return s.replace(/[^A-Za-z0-9\-._~!$&'()*+,;=:@]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** The URI of one (valid) document. */
export function bizTransactionUri(d: BizTransactionInput): string {
  if (d.gdti !== undefined) {
    const m = GDTI.exec(d.gdti);
    if (!m) throw new BizTransactionError([{ code: 'BT_GDTI_INVALID', path: ['gdti'], message: `"${d.gdti}" is not a GDTI`, hint: HINTS.BT_GDTI_INVALID }]);
    return `https://id.gs1.org/253/${m[1]}${encodeURIComponent(m[2]!).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase())}`;
  }
  if (d.issuer === undefined || d.id === undefined) {
    throw new BizTransactionError([{ code: 'BT_FORM', path: [], message: 'id and issuer are both needed', hint: HINTS.BT_FORM }]);
  }
  return `urn:epcglobal:cbv:bt:${d.issuer}:${encodeUrnComponent(d.id)}`;
}

function problemsOf(error: z.ZodError): BizTransactionProblem[] {
  return error.issues.map((i) => {
    const params = (i as { params?: { code?: BizTransactionErrorCode } }).params;
    const code: BizTransactionErrorCode = params?.code ?? (i.code === 'unrecognized_keys' ? 'BT_FORM' : 'BT_NOT_AN_OBJECT');
    const message = i.message.startsWith(`${code}: `) ? i.message.slice(code.length + 2) : i.message;
    return { code, path: i.path as (string | number)[], message, hint: HINTS[code] };
  });
}

/**
 * Validates what a member sent and returns the documents in canonical order, or throws a
 * {@link BizTransactionError} listing every problem (code, path, message, hint).
 */
export function parseBizTransactions(input: unknown): BizTransaction[] {
  const r = bizTransactionsSchema.safeParse(input);
  if (!r.success) throw new BizTransactionError(problemsOf(r.error));
  return canonicalOrder(r.data.map((d) => ({ type: d.type, uri: bizTransactionUri(d) })));
}

/** The same problems without throwing (for a route's 400 answer). */
export function bizTransactionProblems(input: unknown): BizTransactionProblem[] {
  const r = bizTransactionsSchema.safeParse(input);
  return r.success ? [] : problemsOf(r.error);
}

function canonicalOrder(list: readonly BizTransaction[]): BizTransaction[] {
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return [...list].sort((a, b) => cmp(a.type, b.type) || cmp(a.uri, b.uri));
}

/** The canonical string of a document set (see the file comment). */
export function canonicalBizTransactions(list: readonly BizTransaction[]): string {
  return BIZ_TRANSACTIONS_CANONICAL_HEADER + canonicalOrder(list).map((d) => `${d.type}\t${d.uri}\n`).join('');
}

/** keccak-256 of the canonical form: the `referenceHash` a shipment commits to on chain. */
export function bizTransactionsReferenceHash(list: readonly BizTransaction[]): string {
  return '0x' + keccak256(Buffer.from(canonicalBizTransactions(list), 'utf8')).toString('hex');
}

/** EPCIS 2.0 `bizTransactionList` entries, in canonical order. */
export function toEpcisBizTransactionList(list: readonly BizTransaction[]): Array<{ type: string; bizTransaction: string }> {
  return canonicalOrder(list).map((d) => ({ type: d.type, bizTransaction: d.uri }));
}

/**
 * The URI used when a shipment's documents are unknown to the read side (none were supplied, or
 * they are not stored): `urn:medtrace:ref:{referenceHash}`. Not a registered URN namespace: the
 * EPCIS event says so with `ledger:documentsUnknown: true`.
 */
export function unresolvedReferenceUri(referenceHash: string): string {
  return `urn:medtrace:ref:${referenceHash.toLowerCase()}`;
}
