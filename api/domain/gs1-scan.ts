/**
 * Parsing of what a scanner or a person hands us: a GS1 DataMatrix / GS1-128 element string, the
 * human-readable bracketed form, or a GS1 Digital Link URI — and the reverse (element string,
 * bracketed, Digital Link) so that identifiers round-trip.
 *
 * ── Library decision: a small parser of our own, no dependency ───────────────────────────────
 * Measured on this machine (Node 20, 2 shared cores; gs1-barcode-parser-mod@1.2.1 and
 * digital-link.js@1.4.3 installed in a scratch folder outside the repo, same process, 3 runs of
 * 100,000 parses after warm-up; numbers are noisy, the ratios are not):
 *
 *   input                                     this module       gs1-barcode-parser-mod   digital-link.js
 *   `]d2 01…17…10LOT42<GS>21A1B2C3`           60k–137k /s       25k–67k /s               —
 *   `https://id.gs1.org/01/…/10/…/21/…?17=…`  33k–97k /s        —                        77–190 /s (parse+isValid)
 *
 * What the libraries get wrong on the STANDARDS.md vectors (checked here):
 *  - gs1-barcode-parser-mod accepts GTIN 09506000134353 (bad check digit), rolls 271345 over to
 *    2028-02-14 and 270231 to 2027-03-03, accepts a 21-character lot, a lot with `#` (outside set
 *    82) and AIs we do not expect, and returns local-time `Date`s. Wrapping it means re-validating
 *    every field it returns (check digits, dates, lengths, character set, duplicates) — most of a
 *    parser anyway — while its splitting still hides the separator problems we want to report.
 *  - digital-link.js checks the GTIN check digit but not attribute values (accepts `?17=271345`),
 *    covers only the URI form, is ~500× slower here (an ABNF grammar engine) and pulls in apg-lib
 *    (plus a `buffer` polyfill in browsers).
 * The subset we need (AIs 00, 01, 02, 10, 11–17 dates, 20, 21, 22, 30, 37, 240, 241, 414, 417,
 * 710–715, 91–99) is small and table-driven, so our own parser is less code than a wrapper, twice
 * as fast as the faster library with every check on, has no dependency, and is tested on the same
 * vectors (test/domain/gs1-scan.test.ts prints its own parse rate).
 *
 * Rules applied (GS1 General Specifications, GS1 Digital Link standard 1.x):
 *  - GS separator: ASCII 29, or the texts `<GS>` and `\x1d` / `\u001d` that keyboard-wedge
 *    scanners or logs produce (note: `<GS>` is itself four set-82 characters, so a lot that really
 *    contained the text "<GS>" would be misread — no real lot does). Symbology identifiers `]d2`,
 *    `]C1`, `]Q3`, `]e0`, `]J1` and a leading FNC1/GS are dropped; a non-GS1 identifier (e.g. `]d1`)
 *    is refused.
 *  - Fixed-length AIs need no separator; a variable-length field ends at GS or end of input. A
 *    missing GS between two variable fields cannot be detected in general (the second field reads
 *    as part of the first); it is caught when the merged value exceeds the maximum length.
 *  - Dates (11, 13, 15, 16, 17): YYMMDD, century by the GS1 sliding window (see gs1.ts), day 00 =
 *    last day of the month; impossible dates are refused, never rolled over. All dates are UTC days.
 *  - The same AI twice is refused (GS1_DUPLICATE_AI), even with the same value.
 *  - Digital Link: any domain and any path prefix; primary key 01 (alias `gtin`, GTIN-8/12/13/14
 *    padded to 14 digits), 00 (`sscc`), 414 (`gln`), 417 (`party`); qualifiers of 01 in the order
 *    22, 10, 21 (aliases `cpv`, `lot`, `ser`); numeric query parameters are AIs; other query
 *    parameters (linkType, tracking, …) are ignored; `+` in a value is a literal plus.
 */
import { CSET82, gs1CheckDigit, gs1DateToDay, hasValidCheckDigit, isoDate } from './gs1';

// ─── Errors ───────────────────────────────────────────────────────────────────────────────────

export type Gs1ErrorCode =
  | 'GS1_EMPTY'
  | 'GS1_UNKNOWN_AI'
  | 'GS1_BAD_CHECK_DIGIT'
  | 'GS1_BAD_DATE'
  | 'GS1_BAD_LENGTH'
  | 'GS1_BAD_CHARACTER'
  | 'GS1_MISSING_GTIN'
  | 'GS1_DUPLICATE_AI'
  | 'GS1_BAD_URI'
  | 'GS1_BAD_SYNTAX'
  | 'GS1_NOT_GS1_SYMBOLOGY';

/** A scan that cannot be used: `code` is stable (for APIs and UIs), `ai` names the field concerned. */
export class Gs1ScanError extends Error {
  override readonly name = 'Gs1ScanError';
  constructor(
    readonly code: Gs1ErrorCode,
    message: string,
    readonly ai?: string,
  ) {
    super(message);
  }
}

// ─── AI table ─────────────────────────────────────────────────────────────────────────────────

type AiKind = 'numeric' | 'date' | 'cset82';

interface AiDef {
  readonly title: string;
  readonly kind: AiKind;
  /** Fixed length of the value; absent for variable-length AIs. */
  readonly fixed?: number;
  /** Maximum length of a variable-length value. */
  readonly max?: number;
  /** Last digit is a GS1 mod-10 check digit. */
  readonly check?: boolean;
}

const AIS: Readonly<Record<string, AiDef>> = (() => {
  const t: Record<string, AiDef> = {
    '00': { title: 'SSCC', kind: 'numeric', fixed: 18, check: true },
    '01': { title: 'GTIN', kind: 'numeric', fixed: 14, check: true },
    '02': { title: 'content GTIN', kind: 'numeric', fixed: 14, check: true },
    '10': { title: 'batch/lot', kind: 'cset82', max: 20 },
    '11': { title: 'production date', kind: 'date', fixed: 6 },
    '13': { title: 'packaging date', kind: 'date', fixed: 6 },
    '15': { title: 'best before date', kind: 'date', fixed: 6 },
    '16': { title: 'sell by date', kind: 'date', fixed: 6 },
    '17': { title: 'expiry', kind: 'date', fixed: 6 },
    '20': { title: 'variant', kind: 'numeric', fixed: 2 },
    '21': { title: 'serial', kind: 'cset82', max: 20 },
    '22': { title: 'consumer product variant', kind: 'cset82', max: 20 },
    '30': { title: 'variable count', kind: 'numeric', max: 8 },
    '37': { title: 'count of trade items', kind: 'numeric', max: 8 },
    '240': { title: 'additional product id', kind: 'cset82', max: 30 },
    '241': { title: 'customer part number', kind: 'cset82', max: 30 },
    '414': { title: 'location GLN', kind: 'numeric', fixed: 13, check: true },
    '417': { title: 'party GLN', kind: 'numeric', fixed: 13, check: true },
  };
  for (const ai of ['710', '711', '712', '713', '714', '715']) {
    t[ai] = { title: 'national healthcare reimbursement number', kind: 'cset82', max: 20 };
  }
  for (let ai = 91; ai <= 99; ai++) t[String(ai)] = { title: 'company internal information', kind: 'cset82', max: 90 };
  return Object.freeze(t);
})();

/** AIs this parser understands, with their GS1 titles. */
export const SUPPORTED_AIS: readonly string[] = Object.freeze(Object.keys(AIS).sort());

// ─── Results ──────────────────────────────────────────────────────────────────────────────────

export type Gs1Format = 'element-string' | 'bracketed' | 'digital-link';

/** A GS1 date (AI 11, 13, 15, 16, 17). */
export interface Gs1Date {
  /** As encoded (day 00 kept). */
  yymmdd: string;
  /** Days since 1970-01-01 UTC (day 00 resolved to the month's last day). */
  day: number;
  /** ISO date YYYY-MM-DD of `day`. */
  iso: string;
}

/** Everything read from a scan, whatever its key. */
export interface Gs1Elements {
  format: Gs1Format;
  /** Each AI with its value, in input order. */
  elements: Array<{ ai: string; value: string }>;
  gtin?: string;
  lot?: string;
  serial?: string;
  expiry?: Gs1Date;
  productionDate?: Gs1Date;
  sscc?: string;
  /** AI 22. */
  cpv?: string;
  /** AI 414. */
  locationGln?: string;
  /** AI 417. */
  partyGln?: string;
  /** AIs 710–715 (715 = US NDC), by AI. */
  nationalNumbers?: Record<string, string>;
  /** Digital Link only: the URI's origin (scheme + host), e.g. `https://id.gs1.org`. */
  domain?: string;
}

/** A scan of a trade item: a GTIN is present. */
export interface ScanResult extends Gs1Elements {
  gtin: string;
}

export interface ParseOptions {
  /** "Now" for the GS1 century window of YYMMDD dates (default: the current time). */
  now?: Date;
}

// ─── Entry points ─────────────────────────────────────────────────────────────────────────────

/** Parses a scan of a trade item (any of the three forms); throws {@link Gs1ScanError}. */
export function parseGs1(input: string, options: ParseOptions = {}): ScanResult {
  const result = parseGs1Elements(input, options);
  if (result.gtin === undefined) {
    throw new Gs1ScanError(
      'GS1_MISSING_GTIN',
      `no GTIN (AI 01) in the scan (found ${result.elements.map((e) => `(${e.ai})`).join('') || 'nothing'}); scan the pack's 2D code, not a logistic label`,
      '01',
    );
  }
  return result as ScanResult;
}

/** Like {@link parseGs1} but returns the error instead of throwing. */
export function tryParseGs1(
  input: string,
  options: ParseOptions = {},
): { ok: true; value: ScanResult } | { ok: false; error: Gs1ScanError } {
  try {
    return { ok: true, value: parseGs1(input, options) };
  } catch (e) {
    if (e instanceof Gs1ScanError) return { ok: false, error: e };
    throw e;
  }
}

/** Parses any GS1 scan (an SSCC label has no GTIN, for example); throws {@link Gs1ScanError}. */
export function parseGs1Elements(input: string, options: ParseOptions = {}): Gs1Elements {
  if (typeof input !== 'string') throw new Gs1ScanError('GS1_EMPTY', 'the scan is not a text string');
  const text = input.trim();
  if (text === '') throw new Gs1ScanError('GS1_EMPTY', 'the scan is empty; scan again');
  let format: Gs1Format;
  let pairs: Array<{ ai: string; value: string }>;
  let domain: string | undefined;
  if (/^https?:\/\//i.test(text)) {
    format = 'digital-link';
    const dl = splitDigitalLink(text);
    pairs = dl.pairs;
    domain = dl.domain;
  } else if (text.startsWith('(')) {
    format = 'bracketed';
    pairs = splitBracketed(text);
  } else {
    format = 'element-string';
    pairs = splitElementString(text);
  }
  const result = build(format, pairs, options);
  if (domain !== undefined) result.domain = domain;
  return result;
}

// ─── Splitting the three forms ────────────────────────────────────────────────────────────────

const GS = '\x1d';
const GS1_SYMBOLOGY_IDS = [']d2', ']C1', ']Q3', ']e0', ']J1'];

/** Finds the AI at `pos` (GS1 AIs are prefix-free, so at most one of 2, 3, 4 digits matches). */
function aiAt(s: string, pos: number): string {
  for (const len of [2, 3, 4]) {
    const ai = s.slice(pos, pos + len);
    if (/^\d+$/.test(ai) && ai.length === len && AIS[ai] !== undefined) return ai;
  }
  const head = s.slice(pos, pos + 4);
  if (!/^\d{2}/.test(head)) {
    throw new Gs1ScanError(
      'GS1_BAD_SYNTAX',
      `expected an application identifier (digits) at position ${pos + 1}, found '${printable(head)}'; a GS separator may be misplaced`,
    );
  }
  throw new Gs1ScanError(
    'GS1_UNKNOWN_AI',
    `unknown or unsupported application identifier at position ${pos + 1} ('${printable(head)}…'); supported: ${SUPPORTED_AIS.join(', ')}`,
    head.slice(0, 2),
  );
}

function splitElementString(raw: string): Array<{ ai: string; value: string }> {
  let s = raw.replace(/<GS>|\\x1d|\\u001d/gi, GS);
  if (s.startsWith(']')) {
    const id = s.slice(0, 3);
    if (!GS1_SYMBOLOGY_IDS.includes(id)) {
      throw new Gs1ScanError(
        'GS1_NOT_GS1_SYMBOLOGY',
        `symbology identifier '${id}' is not a GS1 one (expected ]d2, ]C1, ]Q3, ]e0 or ]J1); this code does not carry GS1 data`,
      );
    }
    s = s.slice(3);
  }
  const pairs: Array<{ ai: string; value: string }> = [];
  let pos = 0;
  while (pos < s.length) {
    if (s[pos] === GS) {
      pos++; // leading FNC1, a GS after a fixed-length field, or a doubled GS: all harmless
      continue;
    }
    const ai = aiAt(s, pos);
    const def = AIS[ai]!;
    pos += ai.length;
    let value: string;
    if (def.fixed !== undefined) {
      value = s.slice(pos, pos + def.fixed);
      const gsAt = value.indexOf(GS);
      if (gsAt >= 0 || value.length < def.fixed) {
        const got = gsAt >= 0 ? value.slice(0, gsAt) : value;
        throw new Gs1ScanError(
          'GS1_BAD_LENGTH',
          `${label(ai)} '${printable(got)}' has ${got.length} characters before ${gsAt >= 0 ? 'a GS separator' : 'the end of the scan'}, expected exactly ${def.fixed}; re-scan, or check the printed value`,
          ai,
        );
      }
      pos += value.length;
    } else {
      const end = s.indexOf(GS, pos);
      value = end < 0 ? s.slice(pos) : s.slice(pos, end);
      pos += value.length;
    }
    pairs.push({ ai, value });
  }
  if (pairs.length === 0) throw new Gs1ScanError('GS1_EMPTY', 'the scan holds no GS1 data; scan again');
  return pairs;
}

function splitBracketed(s: string): Array<{ ai: string; value: string }> {
  const pairs: Array<{ ai: string; value: string }> = [];
  let pos = 0;
  while (pos < s.length) {
    const m = /^\((\d{2,4})\)\s*/.exec(s.slice(pos));
    if (!m) {
      throw new Gs1ScanError(
        'GS1_BAD_SYNTAX',
        `expected '(AI)' at position ${pos + 1} of the bracketed form, found '${printable(s.slice(pos, pos + 6))}'`,
      );
    }
    const ai = m[1]!;
    if (AIS[ai] === undefined) {
      throw new Gs1ScanError(
        'GS1_UNKNOWN_AI',
        `unknown or unsupported application identifier (${ai}); supported: ${SUPPORTED_AIS.join(', ')}`,
        ai,
      );
    }
    pos += m[0].length;
    // The value runs to the next '(' that opens an '(digits)' group; '\(' is a literal '('.
    let value = '';
    while (pos < s.length) {
      const c = s[pos]!;
      if (c === '\\' && s[pos + 1] === '(') {
        value += '(';
        pos += 2;
        continue;
      }
      if (c === '(' && /^\(\d{2,4}\)/.test(s.slice(pos))) break;
      value += c;
      pos++;
    }
    pairs.push({ ai, value: value.replace(/\s+$/, '') });
  }
  return pairs;
}

const DL_KEYS: Record<string, string> = { '01': '01', gtin: '01', '00': '00', sscc: '00', '414': '414', gln: '414', '417': '417', party: '417' };
const DL_QUALIFIERS: Record<string, readonly string[]> = { '01': ['22', '10', '21'], '00': [], '414': [], '417': [] };
const DL_QUALIFIER_ALIASES: Record<string, string> = { cpv: '22', lot: '10', ser: '21' };

function decodeComponent(part: string, what: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Gs1ScanError('GS1_BAD_URI', `Digital Link ${what} '${part}' has a broken percent-encoding`);
  }
}

function splitDigitalLink(text: string): { pairs: Array<{ ai: string; value: string }>; domain: string } {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Gs1ScanError('GS1_BAD_URI', `'${printable(text.slice(0, 80))}' is not a valid URI`);
  }
  const segments = url.pathname.split('/').filter((p) => p !== '');
  const keyAt = segments.findIndex((seg, i) => DL_KEYS[seg.toLowerCase()] !== undefined && i + 1 < segments.length);
  if (keyAt < 0) {
    throw new Gs1ScanError(
      'GS1_BAD_URI',
      `no GS1 primary key in the Digital Link path '${url.pathname}'; expected /01/{gtin}/… (or /00/, /414/, /417/)`,
    );
  }
  const key = DL_KEYS[segments[keyAt]!.toLowerCase()]!;
  let keyValue = decodeComponent(segments[keyAt + 1]!, 'path segment');
  if (key === '01' && /^(\d{8}|\d{12}|\d{13})$/.test(keyValue)) keyValue = keyValue.padStart(14, '0');
  const pairs: Array<{ ai: string; value: string }> = [{ ai: key, value: keyValue }];
  const order = DL_QUALIFIERS[key]!;
  let last = -1;
  const rest = segments.slice(keyAt + 2);
  if (rest.length % 2 !== 0) {
    throw new Gs1ScanError('GS1_BAD_URI', `Digital Link path '${url.pathname}' has a qualifier without a value`);
  }
  for (let i = 0; i < rest.length; i += 2) {
    const name = rest[i]!;
    const ai = DL_QUALIFIER_ALIASES[name.toLowerCase()] ?? name;
    const at = order.indexOf(ai);
    if (at < 0) {
      throw new Gs1ScanError(
        'GS1_BAD_URI',
        `'/${name}/' is not a key qualifier of (${key}) in a Digital Link path (allowed, in order: ${order.join(', ') || 'none'}); put other AIs in the query string`,
        ai,
      );
    }
    if (at <= last) {
      throw new Gs1ScanError('GS1_BAD_URI', `Digital Link key qualifiers must come in the order ${order.join(', ')}; found (${ai}) out of order`, ai);
    }
    last = at;
    pairs.push({ ai, value: decodeComponent(rest[i + 1]!, 'path segment') });
  }
  if (url.search.length > 1) {
    for (const param of url.search.slice(1).split('&')) {
      if (param === '') continue;
      const eq = param.indexOf('=');
      const name = decodeComponent(eq < 0 ? param : param.slice(0, eq), 'query parameter');
      if (!/^\d+$/.test(name)) continue; // linkType, context, tracking parameters: not GS1 data
      if (AIS[name] === undefined) {
        throw new Gs1ScanError('GS1_UNKNOWN_AI', `unknown or unsupported application identifier (${name}) in the Digital Link query`, name);
      }
      pairs.push({ ai: name, value: decodeComponent(eq < 0 ? '' : param.slice(eq + 1), 'query value') });
    }
  }
  return { pairs, domain: url.origin };
}

// ─── Checking values and building the result ──────────────────────────────────────────────────

function printable(s: string): string {
  return s.replace(/[\x00-\x1f\x7f]/g, (c) => (c === GS ? '<GS>' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`));
}

function label(ai: string): string {
  return `AI (${ai}) ${AIS[ai]?.title ?? ''}`.trimEnd();
}

/** Checks one value against its AI's rules; returns the date for date AIs. */
function checkValue(ai: string, value: string, now: Date): Gs1Date | undefined {
  const def = AIS[ai];
  if (def === undefined) throw new Gs1ScanError('GS1_UNKNOWN_AI', `unknown or unsupported application identifier (${ai})`, ai);
  // Error wording only: built when a value is refused, not for every valid scan (the resolver's hot path).
  const what = () => `${label(ai)} '${printable(value)}'`;
  if (value.length === 0) {
    throw new Gs1ScanError('GS1_BAD_LENGTH', `${label(ai)} is empty; re-scan, or check that the code is printed completely`, ai);
  }
  if (def.kind === 'numeric' || def.kind === 'date') {
    const bad = /[^0-9]/.exec(value);
    if (bad) {
      throw new Gs1ScanError(
        'GS1_BAD_CHARACTER',
        `${what()}: character '${printable(bad[0])}' at position ${bad.index + 1} is not a digit; this field holds digits only`,
        ai,
      );
    }
  } else if (!CSET82.test(value)) {
    for (let i = 0; i < value.length; i++) {
      const c = value[i]!;
      if (!CSET82.test(c)) {
        throw new Gs1ScanError(
          'GS1_BAD_CHARACTER',
          `${what()}: character '${printable(c)}' at position ${i + 1} is outside GS1 character set 82 (A–Z a–z 0–9 and !"%&'()*+,-./:;<=>?_); check the printed value or the scanner's keyboard layout`,
          ai,
        );
      }
    }
  }
  if (def.fixed !== undefined && value.length !== def.fixed) {
    throw new Gs1ScanError(
      'GS1_BAD_LENGTH',
      `${what()} has ${value.length} characters, expected exactly ${def.fixed}; re-scan, or check the printed value`,
      ai,
    );
  }
  if (def.max !== undefined && value.length > def.max) {
    throw new Gs1ScanError(
      'GS1_BAD_LENGTH',
      `${what()} has ${value.length} characters, at most ${def.max} allowed; if the scanner drops GS separators (ASCII 29), two fields may have run together — configure it to transmit them`,
      ai,
    );
  }
  if (def.check && !hasValidCheckDigit(value)) {
    const expected = gs1CheckDigit(value.slice(0, -1));
    throw new Gs1ScanError(
      'GS1_BAD_CHECK_DIGIT',
      `${what()}: check digit ${value.at(-1)} is wrong (expected ${expected}); the code is misread or mistyped — re-scan or check the printed number`,
      ai,
    );
  }
  if (def.kind === 'date') return checkDate(ai, value, now);
  return undefined;
}

function checkDate(ai: string, yymmdd: string, now: Date): Gs1Date {
  const what = `${label(ai)} '${yymmdd}'`;
  const month = Number(yymmdd.slice(2, 4));
  const dd = Number(yymmdd.slice(4, 6));
  if (month < 1 || month > 12) {
    throw new Gs1ScanError('GS1_BAD_DATE', `${what}: month ${month} does not exist; check the printed date`, ai);
  }
  const day = gs1DateToDay(yymmdd, now);
  if (day === undefined) {
    const firstOfMonth = gs1DateToDay(yymmdd.slice(0, 4) + '01', now)!;
    const monthIso = isoDate(firstOfMonth).slice(0, 7);
    const lastDay = Number(isoDate(gs1DateToDay(yymmdd.slice(0, 4) + '00', now)!).slice(8, 10));
    throw new Gs1ScanError(
      'GS1_BAD_DATE',
      `${what}: day ${dd} does not exist in ${monthIso} (last day ${lastDay}); check the printed date`,
      ai,
    );
  }
  return { yymmdd, day, iso: isoDate(day) };
}

function build(format: Gs1Format, pairs: Array<{ ai: string; value: string }>, options: ParseOptions): Gs1Elements {
  const now = options.now ?? new Date();
  const result: Gs1Elements = { format, elements: [] };
  const seen = new Set<string>();
  for (const { ai, value } of pairs) {
    if (seen.has(ai)) {
      throw new Gs1ScanError('GS1_DUPLICATE_AI', `${label(ai)} appears more than once; a scan must carry each AI once`, ai);
    }
    seen.add(ai);
    const date = checkValue(ai, value, now);
    result.elements.push({ ai, value });
    switch (ai) {
      case '00': result.sscc = value; break;
      case '01': result.gtin = value; break;
      case '10': result.lot = value; break;
      case '11': result.productionDate = date; break;
      case '17': result.expiry = date; break;
      case '21': result.serial = value; break;
      case '22': result.cpv = value; break;
      case '414': result.locationGln = value; break;
      case '417': result.partyGln = value; break;
      default:
        if (/^71[0-5]$/.test(ai)) (result.nationalNumbers ??= {})[ai] = value;
    }
  }
  return result;
}

// ─── Writing ──────────────────────────────────────────────────────────────────────────────────

/** What the writers need: a trade item's identifiers. `expiry` as YYMMDD (or a parsed date). */
export interface Gs1Identity {
  gtin: string;
  lot?: string;
  serial?: string;
  expiry?: string | Pick<Gs1Date, 'yymmdd'>;
}

function checkedIdentity(id: Gs1Identity): { gtin: string; lot?: string; serial?: string; expiry?: string } {
  const now = new Date();
  const out: { gtin: string; lot?: string; serial?: string; expiry?: string } = { gtin: id.gtin };
  checkValue('01', id.gtin, now);
  if (id.expiry !== undefined) {
    out.expiry = typeof id.expiry === 'string' ? id.expiry : id.expiry.yymmdd;
    checkValue('17', out.expiry, now);
  }
  if (id.lot !== undefined) checkValue('10', (out.lot = id.lot), now);
  if (id.serial !== undefined) checkValue('21', (out.serial = id.serial), now);
  return out;
}

export interface ElementStringOptions {
  /** Separator between variable-length fields (default ASCII 29). */
  separator?: string;
  /** Prefix the DataMatrix symbology identifier `]d2` (default false). */
  symbologyId?: boolean;
}

/** Element string: fixed-length fields first (01, 17), then 10 and 21 separated by GS. */
export function toElementString(id: Gs1Identity, options: ElementStringOptions = {}): string {
  const v = checkedIdentity(id);
  const sep = options.separator ?? GS;
  let s = (options.symbologyId ? ']d2' : '') + '01' + v.gtin + (v.expiry !== undefined ? '17' + v.expiry : '');
  const variable = [v.lot !== undefined ? '10' + v.lot : undefined, v.serial !== undefined ? '21' + v.serial : undefined].filter(
    (x): x is string => x !== undefined,
  );
  s += variable.join(sep);
  return s;
}

/** Human-readable form `(01)…(17)…(10)…(21)…`; a '(' in a value is written `\(`. */
export function toBracketed(id: Gs1Identity): string {
  const v = checkedIdentity(id);
  const esc = (x: string) => x.replace(/\(/g, '\\(');
  return (
    `(01)${v.gtin}` +
    (v.expiry !== undefined ? `(17)${v.expiry}` : '') +
    (v.lot !== undefined ? `(10)${esc(v.lot)}` : '') +
    (v.serial !== undefined ? `(21)${esc(v.serial)}` : '')
  );
}

/** Percent-encodes everything but RFC 3986 unreserved characters (as GS1 Digital Link requires). */
function dlEncode(value: string): string {
  return value.replace(/[^A-Za-z0-9\-._~]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** GS1 Digital Link URI `{base}/01/{gtin}/10/{lot}/21/{serial}?17={yymmdd}`. */
export function toDigitalLink(id: Gs1Identity, base = 'https://id.gs1.org'): string {
  return formatDigitalLink(checkedIdentity(id), base);
}

/**
 * {@link toDigitalLink} without checking the identifiers again: only for values this module has
 * parsed (and so checked) already, such as a resolver request's (the public hot path).
 */
export function formatDigitalLink(v: { gtin: string; lot?: string; serial?: string; expiry?: string }, base = 'https://id.gs1.org'): string {
  let uri = base.replace(/\/+$/, '') + '/01/' + v.gtin;
  if (v.lot !== undefined) uri += '/10/' + dlEncode(v.lot);
  if (v.serial !== undefined) uri += '/21/' + dlEncode(v.serial);
  if (v.expiry !== undefined) uri += '?17=' + v.expiry;
  return uri;
}
