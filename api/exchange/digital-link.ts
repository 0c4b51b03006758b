/**
 * The GS1-Conformant resolver, pure part: what a Digital Link request asks for (which pack, batch
 * or product; which link type; linkset or redirect), the links the consortium offers for it, and
 * their serialisations — an RFC 9264 linkset (`application/linkset+json`) with GS1 web vocabulary
 * link relations, an RFC 8288 `Link` header, and the `/.well-known/gs1resolver` description file.
 * No Fastify, no I/O: routes.ts does the HTTP, tests call these directly.
 *
 * Parsing is api/domain/gs1-scan.ts's `parseGs1` (any domain and path prefix, GTIN-8/12/13 padded,
 * qualifiers in the path or the query, data attributes such as AI 17 in the query, check digits and
 * dates checked), so the resolver and the scanner never disagree about a code.
 */
import { isoDate } from '../domain/gs1';
import { formatDigitalLink, Gs1ScanError, parseGs1Elements, type Gs1Elements } from '../domain/gs1-scan';

export const GS1_VOC = 'https://gs1.org/voc/';

/** The link types this resolver can answer, by their GS1 web vocabulary name. */
export const LINK_TYPES = ['defaultLink', 'verificationService', 'recallStatus'] as const;
export type LinkType = (typeof LINK_TYPES)[number];

/** What the request identifies: a serialised pack, a batch, or a product (GTIN only). */
export type Granularity = 'pack' | 'batch' | 'product';

export interface ResolverRequest {
  granularity: Granularity;
  gtin: string;
  lot?: string;
  serial?: string;
  /** AI 17 as printed (YYMMDD), when the URI carried it. */
  expiry?: string;
  /** Its day number (day 00 resolved). */
  expiryDay?: number;
  /** The canonical Digital Link of what was asked for (on id.gs1.org, with AI 17 when given). */
  uri: string;
  /** `linkType` as asked: `all`/`linkset` for the whole set, a known type, or an unknown one. */
  linkType: { kind: 'none' } | { kind: 'all' } | { kind: 'one'; type: LinkType } | { kind: 'unknown'; asked: string };
  /** Other query parameters the client sent (context, tracking…): kept, not interpreted. */
  context?: string;
}

export class ResolverRequestError extends Error {
  override readonly name = 'ResolverRequestError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint: string,
    readonly ai?: string,
  ) {
    super(message);
  }
}

/** Reads `linkType`: `gs1:verificationService`, the full IRI, or the bare word; `all` and `linkset` ask for the set. */
export function parseLinkType(raw: string | undefined): ResolverRequest['linkType'] {
  if (raw === undefined || raw === '') return { kind: 'none' };
  if (raw === 'all' || raw === 'linkset') return { kind: 'all' };
  const bare = raw.startsWith(GS1_VOC) ? raw.slice(GS1_VOC.length) : raw.startsWith('gs1:') ? raw.slice(4) : raw;
  return (LINK_TYPES as readonly string[]).includes(bare) ? { kind: 'one', type: bare as LinkType } : { kind: 'unknown', asked: raw };
}

/**
 * Reads a resolver request from the request path and query string (as received, percent-encoded).
 * Throws {@link ResolverRequestError} (a 400) for a malformed code and for keys this resolver does
 * not serve (SSCC, GLN: 404 by the caller).
 */
export function parseResolverRequest(pathAndQuery: string): ResolverRequest {
  let parsed: Gs1Elements;
  try {
    parsed = parseGs1Elements(`https://resolver.invalid${pathAndQuery.startsWith('/') ? '' : '/'}${pathAndQuery}`);
  } catch (err) {
    if (err instanceof Gs1ScanError) throw new ResolverRequestError(err.code, err.message, scanHint(err.code), err.ai);
    throw err;
  }
  if (parsed.gtin === undefined) {
    const key = parsed.sscc !== undefined ? 'SSCC (00)' : parsed.locationGln !== undefined ? 'GLN (414)' : parsed.partyGln !== undefined ? 'party GLN (417)' : 'this key';
    throw new ResolverRequestError('RESOLVER_KEY_NOT_SERVED', `this resolver has no links for ${key}; it serves trade items (GTIN, AI 01)`, 'see /.well-known/gs1resolver for the keys served');
  }
  const query = new URLSearchParams(pathAndQuery.includes('?') ? pathAndQuery.slice(pathAndQuery.indexOf('?') + 1) : '');
  const granularity: Granularity = parsed.lot === undefined ? 'product' : parsed.serial === undefined ? 'batch' : 'pack';
  const id = { gtin: parsed.gtin, lot: parsed.lot, serial: parsed.serial, expiry: parsed.expiry?.yymmdd };
  const context = query.get('context') ?? undefined;
  return {
    granularity,
    gtin: parsed.gtin,
    ...(parsed.lot !== undefined ? { lot: parsed.lot } : {}),
    ...(parsed.serial !== undefined ? { serial: parsed.serial } : {}),
    ...(parsed.expiry ? { expiry: parsed.expiry.yymmdd, expiryDay: parsed.expiry.day } : {}),
    uri: formatDigitalLink(id),
    linkType: parseLinkType(query.get('linkType') ?? undefined),
    ...(context ? { context } : {}),
  };
}

function scanHint(code: string): string {
  switch (code) {
    case 'GS1_BAD_CHECK_DIGIT':
      return 'a digit was misread or mistyped: scan again or compare with the printed number';
    case 'GS1_BAD_DATE':
      return 'dates are YYMMDD (day 00 = last day of the month), e.g. ?17=271231';
    case 'GS1_BAD_URI':
      return 'use /01/{gtin}[/10/{lot}][/21/{serial}] with an optional path prefix, qualifiers in that order, other AIs in the query (?17=YYMMDD)';
    default:
      return 'check the code against the GS1 Digital Link syntax: /01/{gtin}/10/{lot}/21/{serial}?17={YYMMDD}';
  }
}

// ─── Links ───────────────────────────────────────────────────────────────────────────────────

export interface Link {
  rel: LinkType;
  href: string;
  title: string;
  type: string;
  /** Set on the one link a resolver follows when no link type is asked for. */
  isDefault?: true;
}

export interface LinkTargets {
  /** Absolute base URL of this service (scheme, host, port), without a trailing slash. */
  base: string;
  /** Where browsers see a verdict: the portal page (absolute, or a path on `base`). */
  portal: string;
}

const abs = (base: string, path: string) => (/^https?:\/\//.test(path) ? path : `${base}${path.startsWith('/') ? '' : '/'}${path}`);
const enc = encodeURIComponent;

/** The links offered for a request, default first. Built by hand: every resolver answer carries them in its Link header. */
export function linksFor(r: ResolverRequest, t: LinkTargets): Link[] {
  const sep = t.portal.includes('?') ? '&' : '?';
  const links: Link[] = [
    { rel: 'defaultLink', href: abs(t.base, `${t.portal}${sep}code=${enc(r.uri)}`), title: 'Check this pack in the public portal', type: 'text/html', isDefault: true },
  ];
  if (r.granularity === 'pack' && r.lot !== undefined && r.serial !== undefined) {
    const expiry = r.expiry === undefined ? '' : `&expiry=${enc(r.expiry)}`;
    links.push({
      rel: 'verificationService',
      href: `${t.base}/v1/verify?gtin=${enc(r.gtin)}&lot=${enc(r.lot)}&serial=${enc(r.serial)}${expiry}`,
      title: 'Pack verification: verdict and Merkle proof (public)',
      type: 'application/json',
    });
    links.push({
      rel: 'verificationService',
      href: `${t.base}/verify/gtin/${r.gtin}/lot/${enc(r.lot)}/ser/${enc(r.serial)}?${r.expiry === undefined ? '' : `exp=${enc(r.expiry)}&`}linkType=verificationService`,
      title: 'DSCSA Verification Router Service responder (trading partners, API key; add context, reqGLN, corrUUID)',
      type: 'application/json',
    });
  }
  if (r.lot !== undefined) {
    links.push({ rel: 'recallStatus', href: `${t.base}/v1/batch-status?gtin=${enc(r.gtin)}&lot=${enc(r.lot)}`, title: 'Recall and quarantine status of the batch', type: 'application/json' });
  }
  return links;
}

/** RFC 9264 linkset (JSON), relation types as GS1 web vocabulary IRIs. */
export function toLinkset(anchor: string, links: readonly Link[]): { linkset: Array<Record<string, unknown>> } {
  const entry: Record<string, unknown> = { anchor };
  for (const l of links) {
    const key = GS1_VOC + l.rel;
    const target = { href: l.href, title: l.title, type: l.type, hreflang: ['en'] };
    (entry[key] as unknown[] | undefined)?.push(target) ?? (entry[key] = [target]);
  }
  return { linkset: [entry] };
}

/** The `Link` header: the linkset itself, then each link (RFC 8288, extension relation types as IRIs). */
export function linkHeader(linksetHref: string, links: readonly Link[]): string {
  let header = `<${linksetHref}>; rel="linkset"; type="application/linkset+json"`;
  for (const l of links) header += `, <${l.href}>${linkParams(l)}`;
  return header;
}

/** A link's parameters (`; rel=…; type=…; title=…`): a few fixed sets, quoted once each. */
const linkParamCache = new Map<string, string>();
function linkParams(l: Link): string {
  const key = `${l.rel}\n${l.type}\n${l.title}`;
  let params = linkParamCache.get(key);
  if (params === undefined) {
    const q = (s: string) => `"${s.replace(/["\\]/g, '')}"`;
    params = `; rel=${q(GS1_VOC + l.rel)}; type=${q(l.type)}; title=${q(l.title)}`;
    if (linkParamCache.size < 256) linkParamCache.set(key, params);
  }
  return params;
}

/**
 * Which link a request is answered with when it names a link type: the link of that type, or the
 * default link when this item has none of that type (GS1-Conformant resolver: redirect to the
 * default rather than fail).
 */
export function chooseLink(r: ResolverRequest, links: readonly Link[]): Link {
  const wanted = r.linkType.kind === 'one' ? r.linkType.type : 'defaultLink';
  return links.find((l) => l.rel === wanted) ?? links.find((l) => l.isDefault)!;
}

/** Does the client ask for a web page rather than data? */
export function wantsHtml(accept: string | undefined): boolean {
  const a = (accept ?? '').toLowerCase();
  return /text\/html/.test(a) && !/^(application\/(json|ld\+json|linkset\+json))/.test(a);
}

/** Does the client ask for the linkset by media type? */
export function wantsLinkset(accept: string | undefined): boolean {
  return /application\/linkset\+json/i.test(accept ?? '');
}

/** The resolver description file served at /.well-known/gs1resolver (fields of the GS1-Conformant resolver 1.2 description-file schema). */
export function resolverDescription(base: string, name: string) {
  return {
    name,
    resolverRoot: base,
    supportedPrimaryKeys: ['01'],
    supportedLinkType: [{ namespace: GS1_VOC, prefix: 'gs1:' }],
    linkTypeDefaultCanBeLinkset: false,
  };
}

/** The JSON-LD context that turns a GS1 linkset into JSON-LD (GS1-Conformant resolver artefact). */
export const LINKSET_CONTEXT = 'https://ref.gs1.org/standards/resolver/1.2.0/linkset-context';

/** An ISO date of a YYMMDD code for messages. */
export const expiryIso = (r: Pick<ResolverRequest, 'expiryDay'>) => (r.expiryDay === undefined ? undefined : isoDate(r.expiryDay));
