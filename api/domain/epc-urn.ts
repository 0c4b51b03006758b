import { hasValidCheckDigit, isGln, isGtin14 } from './gs1';

/**
 * GS1 keys as EPC URIs (GS1 EPC Tag Data Standard, "pure identity" URNs): what EPCIS 1.2 XML and
 * the GS1 US Healthcare guideline for DSCSA use. Unlike Digital Link URIs, an EPC URN splits the key
 * after the GS1 Company Prefix, whose length (6–12 digits) is not derivable from the key: the
 * caller gives it (the consortium's prefix register knows it). Pure; checked against
 * gs1-uri-normaliser.ts (URN → Digital Link) in test/domain/epc-urn.test.ts.
 */

export class EpcUrnError extends Error {
  override readonly name = 'EpcUrnError';
  constructor(
    readonly code: 'EPC_BAD_KEY' | 'EPC_BAD_PREFIX_LENGTH' | 'EPC_BAD_COMPONENT',
    message: string,
  ) {
    super(message);
  }
}

function checkPrefixLength(n: number, key: string): void {
  if (!Number.isInteger(n) || n < 6 || n > 12) {
    throw new EpcUrnError('EPC_BAD_PREFIX_LENGTH', `a GS1 Company Prefix has 6 to 12 digits; got ${n} for ${key}`);
  }
}

/**
 * TDS escaping of a serial or lot in an EPC URI: the characters of GS1 set 82 that are not allowed
 * as they are (`" % & / < > ?`) become %XX. Anything outside set 82 is refused.
 */
export function escapeEpcComponent(value: string): string {
  if (!/^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]{1,20}$/.test(value)) {
    throw new EpcUrnError('EPC_BAD_COMPONENT', `"${value}" is not 1–20 characters of GS1 character set 82`);
  }
  return value.replace(/["%&/<>?]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
}

/** Company prefix and the "indicator digit + item reference" of a GTIN-14. */
function splitGtin(gtin: string, prefixLength: number): [string, string] {
  if (!isGtin14(gtin)) throw new EpcUrnError('EPC_BAD_KEY', `"${gtin}" is not a GTIN-14 with a valid check digit`);
  checkPrefixLength(prefixLength, gtin);
  return [gtin.slice(1, 1 + prefixLength), gtin[0] + gtin.slice(1 + prefixLength, 13)];
}

/** `urn:epc:id:sgtin:{prefix}.{indicator+item}.{serial}` */
export function sgtinUrn(gtin: string, serial: string, prefixLength: number): string {
  const [cp, ir] = splitGtin(gtin, prefixLength);
  return `urn:epc:id:sgtin:${cp}.${ir}.${escapeEpcComponent(serial)}`;
}

/** `urn:epc:idpat:sgtin:{prefix}.{indicator+item}.*`: every serial of a GTIN (EPCClass master data). */
export function sgtinPatternUrn(gtin: string, prefixLength: number): string {
  const [cp, ir] = splitGtin(gtin, prefixLength);
  return `urn:epc:idpat:sgtin:${cp}.${ir}.*`;
}

/** `urn:epc:class:lgtin:{prefix}.{indicator+item}.{lot}`: a GTIN's lot (class level). */
export function lgtinUrn(gtin: string, lot: string, prefixLength: number): string {
  const [cp, ir] = splitGtin(gtin, prefixLength);
  return `urn:epc:class:lgtin:${cp}.${ir}.${escapeEpcComponent(lot)}`;
}

/** `urn:epc:id:sscc:{prefix}.{extension+serial reference}` */
export function ssccUrn(sscc: string, prefixLength: number): string {
  if (!/^\d{18}$/.test(sscc) || !hasValidCheckDigit(sscc)) throw new EpcUrnError('EPC_BAD_KEY', `"${sscc}" is not an SSCC with a valid check digit`);
  checkPrefixLength(prefixLength, sscc);
  return `urn:epc:id:sscc:${sscc.slice(1, 1 + prefixLength)}.${sscc[0]}${sscc.slice(1 + prefixLength, 17)}`;
}

function splitGln(gln: string, prefixLength: number): [string, string] {
  if (!isGln(gln)) throw new EpcUrnError('EPC_BAD_KEY', `"${gln}" is not a GLN with a valid check digit`);
  checkPrefixLength(prefixLength, gln);
  return [gln.slice(0, prefixLength), gln.slice(prefixLength, 12)];
}

/** `urn:epc:id:sgln:{prefix}.{location reference}.{extension}`: a location (extension "0": none). */
export function sglnUrn(gln: string, prefixLength: number, extension = '0'): string {
  const [cp, ref] = splitGln(gln, prefixLength);
  return `urn:epc:id:sgln:${cp}.${ref}.${extension === '0' ? '0' : escapeEpcComponent(extension)}`;
}

/** `urn:epc:id:pgln:{prefix}.{party reference}`: a party (CBV 1.2 and later). */
export function pglnUrn(gln: string, prefixLength: number): string {
  const [cp, ref] = splitGln(gln, prefixLength);
  return `urn:epc:id:pgln:${cp}.${ref}`;
}

/**
 * A `prefixLengthOf` for a list of known GS1 Company Prefixes (e.g. the consortium's prefix
 * register): the length of the longest prefix a key falls under. GTIN-14 and SSCC carry the prefix
 * after their first digit (indicator, extension), a GLN from its first digit.
 */
export function prefixLengthFinder(prefixes: Iterable<string>): (key: string) => number | undefined {
  const list = [...new Set(prefixes)].filter((p) => /^\d{6,12}$/.test(p)).sort((a, b) => b.length - a.length);
  return (key: string) => {
    const body = key.length === 14 || key.length === 18 ? key.slice(1) : key;
    return list.find((p) => body.startsWith(p))?.length;
  };
}
