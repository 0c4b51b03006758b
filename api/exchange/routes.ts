import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { z } from "zod";
import { isGln, isoDate } from "../domain/gs1";
import { formatDigitalLink, Gs1ScanError, parseGs1, toDigitalLink } from "../domain/gs1-scan";
import { ApiError, errorBodySchema, errorResponses } from "../errors";
import { verificationSchema } from "../read/schemas";
import type { BatchRow, IndexStore } from "../read/store";
import type { PackQuery, Verifier } from "../read/verification";
import {
  chooseLink,
  LINKSET_CONTEXT,
  linkHeader,
  linksFor,
  parseResolverRequest,
  resolverDescription,
  ResolverRequestError,
  toLinkset,
  wantsHtml,
  wantsLinkset,
  type ResolverRequest,
} from "./digital-link";
import * as S from "./schemas";
import { CONNECTIVITY_LINK_TYPES, VRS_CONTEXTS, VRS_LINK_TYPES, vrsResponse, vrsVerification, type VrsContext } from "./vrs";
import type { RequestorAuthenticator } from "./vrs-auth";

export interface ExchangeRouteOptions {
  store: IndexStore;
  verifier: Verifier;
  currentBlock: () => number;
  /** The VRS requestor check; undefined = VRS not configured (503). */
  authenticator: RequestorAuthenticator | undefined;
  responderGln: string | undefined;
  publicBaseUrl: string | undefined;
  resolverName: string;
  portalBaseUrl: string;
  publicRateLimitPerMinute: number;
}

/** CORS for the public routes: anyone's page or app may read verdicts and links (no cookies are used). */
export const PUBLIC_CORS_HEADERS = {
  "access-control-allow-origin": "*",
  "access-control-expose-headers": "Link, Location, Vary",
} as const;
const PREFLIGHT_HEADERS = {
  ...PUBLIC_CORS_HEADERS,
  "access-control-allow-methods": "GET, OPTIONS",
  "access-control-allow-headers": "Accept, Authorization, X-API-Key",
  "access-control-max-age": "600",
} as const;
const cors = async (_request: FastifyRequest, reply: FastifyReply) => {
  reply.headers(PUBLIC_CORS_HEADERS);
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DL_KEY_IN_PATH = /(^|\/)(01|gtin|00|sscc|414|gln|417|party)\/[^/?]+/i;
const iso = (unixSeconds: number) => isoDate(Math.floor(unixSeconds / 86_400));

function scanError(err: Gs1ScanError): ApiError {
  return new ApiError(400, err.code, err.message, "check the identifiers against the pack; dates are YYMMDD (day 00 = last day of the month)", err.ai ? { ai: err.ai } : undefined);
}

/**
 * The exchange routes: the GS1-Conformant Digital Link resolver (any pack, batch or product URI,
 * link types, linksets, /.well-known/gs1resolver) and the DSCSA VRS responder. Public, CORS `*`;
 * the VRS answers authenticated trading partners only.
 */
const exchangeRoutes: FastifyPluginAsyncZod<ExchangeRouteOptions> = async (app, o) => {
  const { store, verifier } = o;
  const publicLimit = { rateLimit: { max: o.publicRateLimitPerMinute, timeWindow: "1 minute" } };
  const baseOf = (request: FastifyRequest) => o.publicBaseUrl || `${request.protocol}://${request.host}`;
  const errors = { ...errorResponses, 401: errorBodySchema, 403: errorBodySchema, 405: errorBodySchema };

  // Batch rows and producer GLNs by (GTIN, lot), valid for one indexed block.
  let cachedBlock = -1;
  const batchCache = new Map<string, BatchRow | null>();
  const batchOf = (gtin: string, lot: string): BatchRow | null => {
    const block = o.currentBlock();
    if (block !== cachedBlock) {
      batchCache.clear();
      cachedBlock = block;
    }
    const key = `${gtin}|${lot}`;
    let b = batchCache.get(key);
    if (b === undefined) {
      if (batchCache.size > 10_000) batchCache.clear();
      b = store.batchByGtinLot(gtin, lot) ?? null;
      batchCache.set(key, b);
    }
    return b;
  };

  const batchStatus = (gtin: string, lot: string): z.infer<typeof S.batchStatusSchema> => {
    const block = o.currentBlock();
    if (block < 0) throw new ApiError(503, "INDEX_NOT_READY", "the index has not read the chain yet", "retry in a few seconds");
    const b = batchOf(gtin, lot);
    const digitalLink = toDigitalLink({ gtin, lot });
    if (!b) {
      return {
        gtin, lot, digitalLink, registered: false, status: null, statusSince: null, expiry: null, expired: null,
        headline: "Unknown batch — possibly counterfeit",
        advice: "No manufacturer registered this product and lot. Do not use it; show it to your pharmacist or report it to the medicines regulator.",
        chain: { block },
      };
    }
    const expired = Math.floor(Date.now() / 86_400_000) > b.expiryDay;
    const since = b.status === "Active" ? null : iso(b.statusSince);
    const words =
      b.status === "Recalled"
        ? { headline: `Recalled on ${since}`, advice: "Do not use or sell packs of this batch; return them along the supply chain as the recall notice says." }
        : b.status === "Quarantined"
          ? { headline: `Under investigation since ${since}`, advice: "The regulator has put this batch on hold: do not use, sell or ship its packs until the hold is lifted." }
          : expired
            ? { headline: `Expired on ${isoDate(b.expiryDay)}`, advice: "Do not use or sell packs of this batch." }
            : { headline: "Registered batch, not recalled", advice: "The batch is registered by its manufacturer and not under recall. Verify single packs by their serial number." };
    return { gtin, lot, digitalLink, registered: true, status: b.status, statusSince: since, expiry: isoDate(b.expiryDay), expired, ...words, chain: { block } };
  };

  // ── Digital Link resolver ──

  const resolve = async (request: FastifyRequest, reply: FastifyReply) => {
    const path = request.url.split("?")[0]!;
    if (!DL_KEY_IN_PATH.test(path)) return reply.callNotFound();
    let r: ResolverRequest;
    try {
      r = parseResolverRequest(request.url);
    } catch (err) {
      if (err instanceof ResolverRequestError) {
        const status = err.code === "RESOLVER_KEY_NOT_SERVED" ? 404 : 400;
        throw new ApiError(status, err.code, err.message, err.hint, err.ai ? { ai: err.ai } : undefined);
      }
      throw err;
    }
    const base = baseOf(request);
    const links = linksFor(r, { base, portal: o.portalBaseUrl });
    const anchor = formatDigitalLink({ gtin: r.gtin, lot: r.lot, serial: r.serial }, base);
    const linksetHref = `${anchor}?linkType=linkset`;
    reply.header("link", linkHeader(linksetHref, links)).header("vary", "Accept");
    const accept = request.headers.accept;
    if (r.linkType.kind === "all" || (r.linkType.kind === "none" && wantsLinkset(accept))) {
      return reply
        .type("application/linkset+json")
        .header("link", `${reply.getHeader("link") as string}, <${LINKSET_CONTEXT}>; rel="http://www.w3.org/ns/json-ld#context"; type="application/ld+json"`)
        .send(toLinkset(anchor, links));
    }
    if (r.linkType.kind === "one" || r.linkType.kind === "unknown" || wantsHtml(accept)) {
      return reply.redirect(chooseLink(r, links).href, 307);
    }
    // A program without a link type: the answer itself, at the granularity of the code.
    switch (r.granularity) {
      case "pack":
        // The verdict's JSON text as the Verifier caches it (no serialisation on a cache hit).
        return reply.type("application/json; charset=utf-8").send(verifier.verifyJson({ gtin: r.gtin, lot: r.lot!, serial: r.serial!, expiryDay: r.expiryDay }));
      case "batch":
        return batchStatus(r.gtin, r.lot!);
      case "product":
        return reply.type("application/linkset+json").send(toLinkset(anchor, links));
    }
  };
  const resolverSchema = (summary: string, params: z.ZodTypeAny | undefined, hide = false) => ({
    tags: ["resolver"],
    summary,
    hide,
    description:
      "GS1-Conformant resolver. Any domain prefix before /01/, GTIN-8/12/13/14, key qualifiers in the path (/10/, /21/, aliases lot/ser) or the query (?10=…&21=…), data attributes in the query (?17=YYMMDD). " +
      "Browsers (Accept: text/html) and requests with a linkType get a 307 to the link (unknown link types: the default link); programs get the verification (pack), the batch status (batch) or the linkset (product); " +
      "?linkType=all or Accept: application/linkset+json gets the RFC 9264 linkset. Every answer carries a Link header and Vary: Accept.",
    ...(params ? { params } : {}),
    querystring: S.resolverQuery,
    response: { 200: z.union([verificationSchema, S.batchStatusSchema, S.linksetSchema]), 307: z.null().describe("redirect to the chosen link"), ...errors },
  });
  // The public hot path (bench:read profile): the schemas document the resolver's requests and
  // answers, but zod runs on neither. The handler reads the whole request from its URL with
  // parseResolverRequest, which refuses a bad code with a GS1 error code and hint (zod's check of
  // params and query, all plain strings, cost 7% of a request); answers are plain JSON.stringify
  // (zod's output parse cost ~8%), built field by field and held against their schemas by the tests.
  const resolverRoute = {
    config: publicLimit,
    onSend: cors,
    validatorCompiler: () => () => true,
    serializerCompiler: () => (data: unknown) => JSON.stringify(data),
  };
  app.get("/01/:gtin", { ...resolverRoute, schema: resolverSchema("Digital Link of a product (GTIN): its linkset", z.object({ gtin: z.string() })) }, resolve);
  app.get("/01/:gtin/10/:lot", { ...resolverRoute, schema: resolverSchema("Digital Link of a batch: its recall/quarantine status", z.object({ gtin: z.string(), lot: z.string() })) }, resolve);
  app.get(
    "/01/:gtin/10/:lot/21/:serial",
    { ...resolverRoute, schema: resolverSchema("Digital Link of a pack: JSON verdict for programs, 307 to the portal for browsers", z.object({ gtin: z.string(), lot: z.string(), serial: z.string() })) },
    resolve,
  );
  // Every other form (path prefix, aliases, 22/21 qualifiers…); anything without a GS1 key is a plain 404.
  app.get("/*", { ...resolverRoute, schema: resolverSchema("Digital Link in any other form (prefix, aliases)", undefined, true) }, resolve);

  app.get(
    "/.well-known/gs1resolver",
    { config: publicLimit, onSend: cors, schema: { tags: ["resolver"], summary: "Resolver description file (GS1-Conformant resolver)", response: { 200: S.resolverDescriptionSchema } } },
    async (request) => resolverDescription(baseOf(request), o.resolverName),
  );

  app.get(
    "/v1/batch-status",
    {
      config: publicLimit,
      onSend: cors,
      schema: { tags: ["resolver"], summary: "Recall and quarantine status of a batch (gs1:recallStatus target; public)", querystring: S.batchStatusQuery, response: { 200: S.batchStatusSchema, ...errors } },
    },
    async (request) => {
      let parsed;
      try {
        parsed = parseGs1(toDigitalLink({ gtin: /^\d{8,13}$/.test(request.query.gtin) ? request.query.gtin.padStart(14, "0") : request.query.gtin, lot: request.query.lot }));
      } catch (err) {
        if (err instanceof Gs1ScanError) throw scanError(err);
        throw err;
      }
      return batchStatus(parsed.gtin, parsed.lot!);
    },
  );

  // ── VRS responder (DSCSA) ──

  const vrsError = (code: string, message: string, hint: string) => new ApiError(400, code, message, hint);
  const vrsPack = (params: z.infer<typeof S.vrsParams>, exp: string | undefined): PackQuery => {
    if (exp === undefined || exp === "") throw vrsError("VRS_EXPIRY_REQUIRED", "the request has no exp (expiry date)", "add exp=YYMMDD as printed on the pack (DSCSA product identifiers include the expiry)");
    const gtin = /^\d{8,13}$/.test(params.gtin) ? params.gtin.padStart(14, "0") : params.gtin;
    try {
      const p = parseGs1(toDigitalLink({ gtin, lot: params.lot, serial: params.serial, expiry: exp }));
      return { gtin: p.gtin, lot: p.lot!, serial: p.serial!, expiryDay: p.expiry!.day };
    } catch (err) {
      if (err instanceof Gs1ScanError) throw scanError(err);
      throw err;
    }
  };
  const responderGlnOf = (pack: Pick<PackQuery, "gtin" | "lot">): string | null => {
    const b = batchOf(pack.gtin, pack.lot);
    const gln = b ? store.member(b.producer)?.gln : undefined;
    return gln ?? o.responderGln ?? null;
  };

  app.get(
    "/verify/gtin/:gtin/lot/:lot/ser/:serial",
    {
      config: publicLimit,
      onSend: cors,
      schema: {
        tags: ["vrs"],
        summary: "DSCSA Verification Router Service: verify a product identifier (trading partners, API key)",
        description:
          "GS1 Lightweight Messaging Standard for Verification of Product Identifiers. Authenticate with the API key issued to your GLN (x-api-key or Authorization: Bearer). " +
          "linkType=checkConnectivity tests the path without verifying. 400: malformed request (the code names the parameter); 401: no or unknown key; 403: the key is not for reqGLN; 503: not configured or index not ready.",
        params: S.vrsParams,
        querystring: S.vrsQuery,
        response: { 200: z.union([S.vrsResponseSchema, S.vrsConnectivitySchema]), ...errors },
      },
    },
    async (request) => {
      if (!o.authenticator) {
        throw new ApiError(503, "VRS_NOT_CONFIGURED", "this node has no VRS requestors configured", "the operator sets VRS_API_KEYS (gln:key,…) to admit trading partners");
      }
      const header = request.headers["x-api-key"] ?? request.headers.authorization?.replace(/^Bearer\s+/i, "");
      const apiKey = typeof header === "string" ? header : undefined;
      if (apiKey === undefined || apiKey === "") {
        throw new ApiError(401, "VRS_CREDENTIAL_REQUIRED", "the VRS responder answers consortium trading partners only, and the request carries no API key", "send the key issued to your GLN in the x-api-key header (or Authorization: Bearer)");
      }
      const q = request.query;
      const connectivity = (CONNECTIVITY_LINK_TYPES as readonly string[]).includes(q.linkType ?? "");
      if (!connectivity && !(VRS_LINK_TYPES as readonly string[]).includes(q.linkType ?? "")) {
        throw vrsError(q.linkType ? "VRS_BAD_LINK_TYPE" : "VRS_LINK_TYPE_REQUIRED", q.linkType ? `linkType '${q.linkType}' is not served here` : "the request has no linkType", "use linkType=verificationService (or checkConnectivity to test the connection)");
      }
      if (!q.reqGLN) throw vrsError("VRS_REQ_GLN_REQUIRED", "the request has no reqGLN", "add reqGLN=<your 13-digit GLN>, the GLN your API key was issued for");
      if (!isGln(q.reqGLN)) throw vrsError("VRS_BAD_REQ_GLN", `reqGLN '${q.reqGLN}' is not a 13-digit GLN with a valid check digit`, "send your GLN exactly as registered (13 digits)");
      if (q.corrUUID !== undefined && !UUID.test(q.corrUUID)) throw vrsError("VRS_BAD_CORR_UUID", `corrUUID '${q.corrUUID}' is not a UUID`, "send a UUID such as 1b4e28ba-2fa1-11d2-883f-0016d3cca427, or leave corrUUID out");
      let context: VrsContext | undefined;
      if (!connectivity) {
        if (!q.context) throw vrsError("VRS_CONTEXT_REQUIRED", "the request has no context", `add context=${VRS_CONTEXTS[0]} (or one of ${VRS_CONTEXTS.slice(1).join(", ")})`);
        if (!(VRS_CONTEXTS as readonly string[]).includes(q.context)) throw vrsError("VRS_BAD_CONTEXT", `context '${q.context}' is not one this responder serves`, `use one of ${VRS_CONTEXTS.join(", ")}`);
        context = q.context as VrsContext;
      }
      const pack = connectivity ? undefined : vrsPack(request.params, q.exp);
      const check = await o.authenticator.authenticate(q.reqGLN, { apiKey });
      if (!check.ok) throw new ApiError(check.status, check.code, check.message, check.hint);
      if (connectivity || !pack || !context) return { verificationTimestamp: new Date().toISOString(), responderGLN: o.responderGln ?? null, ...(q.corrUUID ? { corrUUID: q.corrUUID } : {}) };
      const result = await verifier.verify(pack);
      return vrsResponse(vrsVerification(result.verdict, context), responderGlnOf(pack), q.corrUUID);
    },
  );
  app.route({
    method: ["POST", "PUT", "PATCH", "DELETE"],
    url: "/verify/*",
    schema: { hide: true },
    handler: async (request, reply) => {
      reply.header("allow", "GET, OPTIONS");
      throw new ApiError(405, "METHOD_NOT_ALLOWED", `${request.method} is not served on the VRS responder`, "verification requests are GET requests");
    },
  });

  for (const url of ["/verify/*", "/01/*", "/.well-known/gs1resolver", "/v1/batch-status", "/v1/verify", "/v1/verify/scan"]) {
    app.options(url, { schema: { hide: true } }, async (_request, reply) => reply.code(204).headers(PREFLIGHT_HEADERS).send());
  }
};

export default exchangeRoutes;
