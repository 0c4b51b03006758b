import { z } from 'zod';
import { gs1CheckDigit, isGln, isGtin14 } from './gs1';
import { keccak256 } from './merkle';

/**
 * Master data: what a product is (from its brand owner, hash on chain) and who a party is (name,
 * address, per GLN), as documents with zod schemas, their canonical hash, the NDC of US products,
 * and the EPCIS 2.0 `epcisHeader.epcisMasterData.vocabularyList` built from them. Pure.
 *
 * Product master data hash (what BatchToken.registerProduct / updateProduct store as
 * `masterDataHash`):
 *
 *     masterDataHash = keccak256(UTF-8 bytes of canonicalJson(document))
 *
 * where canonicalJson is RFC 8785 (JSON Canonicalization Scheme) for the values these documents
 * hold (strings, arrays, objects; no numbers): object keys sorted by UTF-16 code units, no
 * whitespace, strings escaped as JSON.stringify escapes them. The document is validated first
 * (strict: an unknown key is refused, so two readers never disagree on what was hashed).
 */

// ─── Canonical JSON (RFC 8785 for strings, arrays, objects, booleans, integers) ──────────────

export type CanonicalValue = string | boolean | number | null | CanonicalValue[] | { [k: string]: CanonicalValue | undefined };

export function canonicalJson(v: CanonicalValue): string {
  if (v === null || typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (typeof v === 'number') {
    if (!Number.isSafeInteger(v)) throw new RangeError(`canonical master data holds integers only, got ${v}`);
    return String(v);
  }
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v)
    .filter((k) => v[k] !== undefined)
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)); // UTF-16 code unit order, as RFC 8785 asks
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`).join(',')}}`;
}

const hashOf = (text: string) => '0x' + keccak256(Buffer.from(text, 'utf8')).toString('hex');

// ─── Products ─────────────────────────────────────────────────────────────────────────────────

const text = (max: number) => z.string().trim().min(1).max(max);
const market = z.string().regex(/^[A-Z]{2}$/, { message: 'must be an ISO 3166-1 alpha-2 code (e.g. "US")' });
/** A US NDC in its 10-digit labeler-product-package form with hyphens: 4-4-2, 5-3-2 or 5-4-1. */
export const NDC_PATTERN = /^(\d{4}-\d{4}-\d{2}|\d{5}-\d{3}-\d{2}|\d{5}-\d{4}-\d{1})$/;

export const productMasterDataSchema = z
  .object({
    gtin: z.string().refine(isGtin14, { message: 'must be a GTIN-14 with a valid check digit' }),
    /** Proprietary or established name (DSCSA "product name"; EPCIS regulatedProductName). */
    name: text(200),
    /** e.g. "400 mg" (DSCSA "strength"). */
    strength: text(100).optional(),
    /** e.g. "film-coated tablet" (DSCSA "dosage form"). */
    dosageForm: text(100).optional(),
    /** e.g. "20 tablets" (DSCSA "container size"; EPCIS netContentDescription). */
    packSize: text(100).optional(),
    /** Name of the manufacturer (EPCIS manufacturerOfTradeItemPartyName). */
    manufacturer: text(200).optional(),
    /** Where the product is marketed. */
    markets: z.array(market).min(1).max(15).optional(),
    /** US NDC with its hyphens (the GTIN carries the digits but not the 4-4-2 / 5-3-2 / 5-4-1 split). */
    ndc: z.string().regex(NDC_PATTERN, { message: 'must be a 10-digit NDC with hyphens: 4-4-2, 5-3-2 or 5-4-1 (e.g. "12345-678-90")' }).optional(),
    /** Other national codes by market, e.g. { "DE": "PZN 12345678" }. */
    nationalCodes: z.record(market, text(40)).optional(),
  })
  .strict()
  .superRefine((d, ctx) => {
    if (d.ndc === undefined) return;
    const digits = ndcDigitsFromGtin(d.gtin);
    if (digits !== undefined && digits !== d.ndc.replace(/-/g, '')) {
      ctx.addIssue({ code: 'custom', path: ['ndc'], message: `NDC ${d.ndc} does not match the digits ${digits} of GTIN ${d.gtin}` });
    }
  });
export type ProductMasterData = z.infer<typeof productMasterDataSchema>;

/** The canonical JSON of a product master data document (validated; throws a ZodError otherwise). */
export function canonicalProductMasterData(doc: unknown): string {
  return canonicalJson(productMasterDataSchema.parse(doc) as CanonicalValue);
}

/** keccak-256 of the canonical JSON: the product's on-chain `masterDataHash`. */
export function productMasterDataHash(doc: unknown): string {
  return hashOf(canonicalProductMasterData(doc));
}

/**
 * The 10 NDC digits of a US GTIN (GTIN-14 `0` + `03` + NDC + check digit, the form of
 * STANDARDS.md), or undefined for a GTIN that does not carry an NDC.
 */
export function ndcDigitsFromGtin(gtin: string): string | undefined {
  return /^003\d{11}$/.test(gtin) && isGtin14(gtin) ? gtin.slice(3, 13) : undefined;
}

/** The GTIN-14 of a 10-digit NDC (hyphens allowed): `003` + digits + check digit. */
export function gtinFromNdc(ndc: string): string {
  const digits = ndc.replace(/-/g, '');
  if (!/^\d{10}$/.test(digits)) throw new RangeError(`"${ndc}" is not a 10-digit NDC`);
  const body = '003' + digits;
  return body + gs1CheckDigit(body);
}

/** The 11-digit NDC (5-4-2, zero-padded segment) of a hyphenated 10-digit NDC, as FDA_NDC_11 wants it. */
export function ndc11(ndc: string): string {
  if (!NDC_PATTERN.test(ndc)) throw new RangeError(`"${ndc}" is not a hyphenated 10-digit NDC`);
  const [labeler, product, pkg] = ndc.split('-') as [string, string, string];
  return labeler.padStart(5, '0') + product.padStart(4, '0') + pkg.padStart(2, '0');
}

// ─── Parties ──────────────────────────────────────────────────────────────────────────────────

export const addressSchema = z
  .object({
    streetAddressOne: text(100),
    streetAddressTwo: text(100).optional(),
    city: text(60),
    /** State or region code (US: two-letter state code). */
    state: text(30).optional(),
    postalCode: text(20),
    countryCode: market,
  })
  .strict();

export const partyMasterDataSchema = z
  .object({
    gln: z.string().refine(isGln, { message: 'must be a 13-digit GLN with a valid check digit' }),
    name: text(200),
    address: addressSchema,
  })
  .strict();
export type PartyMasterData = z.infer<typeof partyMasterDataSchema>;

export function partyMasterDataHash(doc: unknown): string {
  return hashOf(canonicalJson(partyMasterDataSchema.parse(doc) as CanonicalValue));
}

/** Where the EPCIS mapping and the DSCSA file find master data. */
export interface MasterDataSource {
  product?(gtin: string): ProductMasterData | undefined;
  party?(gln: string): PartyMasterData | undefined;
}

// ─── EPCIS 2.0 master data (epcisHeader.epcisMasterData.vocabularyList) ──────────────────────

export const VTYPE = {
  EPCClass: 'urn:epcglobal:epcis:vtype:EPCClass',
  Location: 'urn:epcglobal:epcis:vtype:Location',
  Party: 'urn:epcglobal:epcis:vtype:Party',
} as const;
/** CBV master data attribute names (`urn:epcglobal:cbv:mda#…`). */
export const MDA = (name: string) => `urn:epcglobal:cbv:mda#${name}`;

export interface VocabularyAttribute {
  id: string;
  attribute: string;
}
export interface VocabularyElement {
  id: string;
  attributes: VocabularyAttribute[];
}
export interface Vocabulary {
  type: string;
  vocabularyElementList: VocabularyElement[];
}

/** CBV attributes of a product (EPCClass), in the GS1 US Healthcare guideline's terms. */
export function productAttributes(p: ProductMasterData): VocabularyAttribute[] {
  const out: VocabularyAttribute[] = [];
  const add = (name: string, value: string | undefined) => value !== undefined && out.push({ id: MDA(name), attribute: value });
  if (p.ndc !== undefined) {
    add('additionalTradeItemIdentification', ndc11(p.ndc));
    add('additionalTradeItemIdentificationTypeCode', 'FDA_NDC_11');
  }
  add('regulatedProductName', p.name);
  add('manufacturerOfTradeItemPartyName', p.manufacturer);
  add('dosageFormType', p.dosageForm);
  add('strengthDescription', p.strength);
  add('netContentDescription', p.packSize);
  return out;
}

/** CBV attributes of a location or party: name and address. */
export function partyAttributes(p: PartyMasterData): VocabularyAttribute[] {
  const a = p.address;
  const out: VocabularyAttribute[] = [{ id: MDA('name'), attribute: p.name }];
  const add = (name: string, value: string | undefined) => value !== undefined && out.push({ id: MDA(name), attribute: value });
  add('streetAddressOne', a.streetAddressOne);
  add('streetAddressTwo', a.streetAddressTwo);
  add('city', a.city);
  add('state', a.state);
  add('postalCode', a.postalCode);
  add('countryCode', a.countryCode);
  return out;
}

/**
 * The vocabulary list of an EPCIS 2.0 document: products (EPCClass, id = GTIN Digital Link),
 * locations (id = `…/414/{gln}`) and parties (id = `…/417/{gln}`) for which master data is known.
 * Unknown ones are left out; empty vocabularies too. Sorted by id, so the header is deterministic.
 */
export function epcisVocabularyList(
  source: MasterDataSource,
  wanted: { gtins: Iterable<string>; locationGlns: Iterable<string>; partyGlns: Iterable<string> },
  resolver = 'https://id.gs1.org',
): Vocabulary[] {
  const sorted = (xs: Iterable<string>) => [...new Set(xs)].sort();
  const vocab = (type: string, elements: VocabularyElement[]): Vocabulary[] => (elements.length > 0 ? [{ type, vocabularyElementList: elements }] : []);
  const products = sorted(wanted.gtins).flatMap((g) => {
    const p = source.product?.(g);
    return p ? [{ id: `${resolver}/01/${g}`, attributes: productAttributes(p) }] : [];
  });
  const parties = (glns: Iterable<string>, ai: string) =>
    sorted(glns).flatMap((g) => {
      const p = source.party?.(g);
      return p ? [{ id: `${resolver}/${ai}/${g}`, attributes: partyAttributes(p) }] : [];
    });
  return [...vocab(VTYPE.EPCClass, products), ...vocab(VTYPE.Location, parties(wanted.locationGlns, '414')), ...vocab(VTYPE.Party, parties(wanted.partyGlns, '417'))];
}
