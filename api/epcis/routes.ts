import crypto from "node:crypto";
import { z } from "zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { Problem, problemResponses } from "./problem";
import { canonicalId, cbvWord } from "./projector";
import {
  decodePageToken,
  encodePageToken,
  parseFilter,
  queryDocument,
  queryPage,
  QueryParameterError,
  scopeHash,
  type EventFilter,
} from "./query";
import { ownerOf, principalOf, visibilityOfOwner, type EpcisService } from "./service";
import { checkDestination, DestinationError } from "./subscriptions";

/**
 * Query side of the binding (GS1 OpenAPI for EPCIS 2.0): discovery, events with the standard
 * query parameters and paging, the per-type / per-EPC / per-vocabulary resource paths, named
 * queries and their webhook subscriptions. Capture is in capture/routes.ts, the WebSocket stream
 * in websocket.ts.
 */

const multi = z.union([z.string(), z.array(z.string())]);
const param = (description: string) => multi.optional().describe(description);

/** The query string of every events route: the supported parameters, paging, nothing else. */
export const eventsQuerySchema = z
  .strictObject({
    eventType: param("ObjectEvent|AggregationEvent|… (pipe-delimited or repeated)"),
    GE_eventTime: z.string().optional().describe("RFC 3339 date-time: eventTime ≥"),
    LT_eventTime: z.string().optional().describe("RFC 3339 date-time: eventTime <"),
    GE_recordTime: z.string().optional().describe("RFC 3339 date-time: recordTime ≥ (when the projection recorded it)"),
    LT_recordTime: z.string().optional().describe("RFC 3339 date-time: recordTime <"),
    EQ_action: param("ADD|OBSERVE|DELETE"),
    EQ_bizStep: param("CBV bizStep words or URIs, e.g. shipping|receiving"),
    EQ_disposition: param("CBV disposition words or URIs"),
    EQ_readPoint: param("location URIs (Digital Link 414 or SGLN)"),
    EQ_bizLocation: param("location URIs (Digital Link 414 or SGLN)"),
    EQ_eventID: param("eventIDs"),
    MATCH_epc: param("EPCs in epcList/childEPCs: SGTIN/SSCC as Digital Link or EPC URN; a GTIN-level URI or urn:epc:idpat:sgtin:….* matches every serial"),
    MATCH_anyEPC: param("EPCs in epcList, childEPCs or parentID"),
    MATCH_epcClass: param("classes in quantityList/childQuantityList (LGTIN; a GTIN-level URI matches every lot)"),
    MATCH_anyEPCClass: param("same as MATCH_epcClass (the ledger writes no transformation events)"),
    MATCH_parentID: param("parent IDs (SSCC) of AggregationEvents"),
    perPage: z.coerce.number().int().min(1).optional().describe("events per page (default 30)"),
    nextPageToken: z.string().max(512).optional().describe("the token of the Link header's next URL"),
  })
  .describe("EPCIS query parameters (GS1 OpenAPI), values pipe-delimited");

export const queryDocumentSchema = z
  .object({
    "@context": z.unknown(),
    type: z.literal("EPCISQueryDocument"),
    schemaVersion: z.string(),
    creationDate: z.string(),
    epcisBody: z.object({ queryResults: z.object({ queryName: z.string(), subscriptionID: z.string().optional(), resultsBody: z.object({ eventList: z.array(z.record(z.string(), z.unknown())) }) }) }),
  })
  .describe("EPCISQueryDocument; the Link header has the next page (rel=\"next\") while there is one");

const eventSchema = z.record(z.string(), z.unknown()).describe("an EPCIS 2.0 event (JSON-LD)");
const queryNameSchema = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, { message: "must be 1–64 characters of A–Z a–z 0–9 _ . -" });
const queryBodySchema = z.strictObject({
  name: queryNameSchema,
  query: z.record(z.string(), z.union([z.string(), z.array(z.string())])).describe("EPCIS query parameters as in GET /events (values as arrays or pipe-delimited strings)"),
});
const queryInfoSchema = z.object({ name: z.string(), query: z.record(z.string(), z.unknown()), createdAt: z.string() });
const subscriptionBodySchema = z
  .strictObject({
    dest: z.string().max(2048).describe("callback URL (https)"),
    signatureToken: z.string().min(16).max(256).optional().describe("shared secret: each POST carries GS1-Signature: sha256=<hex HMAC-SHA256 of the body>"),
    secret: z.string().min(16).max(256).optional().describe("same as signatureToken"),
    stream: z.literal(true).describe("stream subscriptions only (no schedules): every new matching event is sent"),
    initialRecordTime: z.string().optional().describe("RFC 3339: start with events recorded at or after this time (default: only events recorded from now on)"),
    reportIfEmpty: z.boolean().optional().describe("ignored: empty notifications are never sent"),
  })
  .describe("A stream subscription by webhook");
const subscriptionSchema = z.object({
  subscriptionID: z.string(),
  queryName: z.string(),
  dest: z.string(),
  stream: z.literal(true),
  createdAt: z.string(),
  lastNotifiedAt: z.string().nullable(),
  cursor: z.number().describe("events delivered up to this position (acknowledged with a 2xx)"),
  failures: z.number(),
  nextAttemptAt: z.string().nullable(),
  lastError: z.string().nullable(),
});

export const TOP_LEVEL = ["events", "eventTypes", "epcs", "bizSteps", "bizLocations", "readPoints", "dispositions", "capture", "queries"] as const;
const EVENT_TYPES = ["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"];

const routes: FastifyPluginAsyncZod<{ service: EpcisService }> = async (app, { service }) => {
  const { store, env, directory } = service;
  const prefix = service.prefix;
  const tags = ["epcis"];

  /** Answers a page of events for a filter, with the Link header of the next page. */
  async function answerEvents(request: FastifyRequest, reply: FastifyReply, query: Record<string, unknown>, base: EventFilter, queryName?: string) {
    const principal = principalOf(service, request);
    const owner = ownerOf(principal);
    let filter: EventFilter;
    try {
      filter = { ...parseFilter(query, ["perPage", "nextPageToken"]), ...base };
    } catch (err) {
      if (err instanceof QueryParameterError) throw new Problem(400, "QueryParameterException", "QUERY_PARAMETER_INVALID", err.message, err.hint);
      throw err;
    }
    const perPage = (query.perPage as number | undefined) ?? 30;
    if (perPage > env.EPCIS_PER_PAGE_MAX) {
      throw new Problem(413, "QueryParameterException", "PER_PAGE_TOO_LARGE", `perPage ${perPage} is above this service's limit of ${env.EPCIS_PER_PAGE_MAX}`, `ask for at most ${env.EPCIS_PER_PAGE_MAX} events per page and follow the Link header`);
    }
    const scope = scopeHash(filter, owner);
    let after = 0;
    let upTo = store.maxSeq();
    if (typeof query.nextPageToken === "string") {
      try {
        const t = decodePageToken(store.tokenKey, query.nextPageToken, scope);
        after = t.a;
        upTo = t.u;
      } catch (err) {
        if (err instanceof QueryParameterError) throw new Problem(400, "QueryParameterException", "PAGE_TOKEN_INVALID", err.message, err.hint);
        throw err;
      }
    }
    const visibility = await visibilityOfOwner(directory, owner);
    const page = queryPage(store, filter, visibility, after, upTo, perPage);
    if (page.more) {
      const token = encodePageToken(store.tokenKey, { a: page.lastSeq, u: upTo, h: scope });
      const url = new URL(request.url, "http://x");
      url.searchParams.set("nextPageToken", token);
      reply.header("Link", `<${url.pathname}${url.search}>; rel="next"`);
    }
    return reply.type("application/ld+json").send(queryDocument(page.events, queryName) as never);
  }

  const eventsRoute = (summary: string, params?: z.ZodTypeAny) => ({
    schema: {
      tags,
      summary,
      ...(params ? { params } : {}),
      querystring: eventsQuerySchema,
      response: { 200: queryDocumentSchema, ...problemResponses },
    },
  });

  // ── Discovery ──
  app.get(
    "/",
    { schema: { tags, summary: "EPCIS 2.0 top-level resources (GS1 OpenAPI GET /)", response: { 200: z.array(z.enum(TOP_LEVEL)), ...problemResponses } } },
    async (request) => {
      principalOf(service, request);
      return [...TOP_LEVEL];
    },
  );

  // ── Events ──
  app.get("/events", eventsRoute("Events matching the query parameters, paged (perPage, nextPageToken, Link rel=next)"), (request, reply) =>
    answerEvents(request, reply, request.query as Record<string, unknown>, {}),
  );

  app.get(
    "/events/:eventID",
    {
      schema: {
        tags,
        summary: "One event by its eventID (URL-encoded)",
        params: z.strictObject({ eventID: z.string().min(1).max(512) }),
        response: { 200: eventSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(service, request);
      const row = store.eventById(request.params.eventID);
      const visibility = await visibilityOfOwner(directory, ownerOf(principal));
      if (!row || (visibility !== undefined && !store.isVisible(row.seq, visibility))) {
        throw new Problem(404, "NoSuchResourceException", "EVENT_NOT_FOUND", `no event ${request.params.eventID} that you may see`, "eventIDs are ni:///sha-256;…?ver=CBV2.0; list events with GET /events");
      }
      return reply.type("application/ld+json").send(row.json as never);
    },
  );

  app.get(
    "/eventTypes",
    { schema: { tags, summary: "The event types this repository serves", response: { 200: z.array(z.string()), ...problemResponses } } },
    async (request) => {
      principalOf(service, request);
      return EVENT_TYPES;
    },
  );

  const pathParam = (name: string) => z.strictObject({ [name]: z.string().min(1).max(512) });
  app.get("/eventTypes/:eventType/events", eventsRoute("Events of one type", pathParam("eventType")), (request, reply) => {
    const t = (request.params as { eventType: string }).eventType;
    if (!EVENT_TYPES.includes(t)) throw new Problem(404, "NoSuchResourceException", "EVENT_TYPE_UNKNOWN", `no event type ${t}`, `one of ${EVENT_TYPES.join(", ")}`);
    return answerEvents(request, reply, request.query as Record<string, unknown>, { eventType: [t] });
  });
  app.get("/epcs/:epc/events", eventsRoute("Events naming an EPC (epcList, childEPCs or parentID; URL-encoded URI)", pathParam("epc")), (request, reply) =>
    answerEvents(request, reply, request.query as Record<string, unknown>, { MATCH_anyEPC: [canonicalId((request.params as { epc: string }).epc)] }),
  );
  app.get("/bizSteps/:bizStep/events", eventsRoute("Events of one bizStep", pathParam("bizStep")), (request, reply) =>
    answerEvents(request, reply, request.query as Record<string, unknown>, { EQ_bizStep: [cbvWord((request.params as { bizStep: string }).bizStep)] }),
  );
  app.get("/bizLocations/:bizLocation/events", eventsRoute("Events at one business location (URL-encoded URI)", pathParam("bizLocation")), (request, reply) =>
    answerEvents(request, reply, request.query as Record<string, unknown>, { EQ_bizLocation: [canonicalId((request.params as { bizLocation: string }).bizLocation)] }),
  );
  app.get("/readPoints/:readPoint/events", eventsRoute("Events read at one read point (URL-encoded URI)", pathParam("readPoint")), (request, reply) =>
    answerEvents(request, reply, request.query as Record<string, unknown>, { EQ_readPoint: [canonicalId((request.params as { readPoint: string }).readPoint)] }),
  );
  app.get("/dispositions/:disposition/events", eventsRoute("Events with one disposition", pathParam("disposition")), (request, reply) =>
    answerEvents(request, reply, request.query as Record<string, unknown>, { EQ_disposition: [cbvWord((request.params as { disposition: string }).disposition)] }),
  );

  // ── Named queries ──
  const nameParams = z.strictObject({ queryName: queryNameSchema });
  const findQuery = (request: FastifyRequest, name: string) => {
    const owner = ownerOf(principalOf(service, request));
    const q = store.query(owner, name);
    if (!q) throw new Problem(404, "NoSuchNameException", "QUERY_NOT_FOUND", `you have no named query ${name}`, "create it with POST /queries {name, query}");
    return { owner, q };
  };

  app.post(
    "/queries",
    {
      schema: {
        tags,
        summary: "Create a named query (visible to its creator only)",
        body: queryBodySchema,
        response: { 201: queryInfoSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const owner = ownerOf(principalOf(service, request));
      let filter: EventFilter;
      try {
        filter = parseFilter(request.body.query);
      } catch (err) {
        if (err instanceof QueryParameterError) throw new Problem(400, "QueryParameterException", "QUERY_PARAMETER_INVALID", `query.${err.message}`, err.hint);
        throw err;
      }
      if (!store.saveQuery(owner, request.body.name, filter)) {
        throw new Problem(409, "DuplicateNameException", "QUERY_EXISTS", `you have a named query ${request.body.name} already`, "choose another name, or DELETE /queries/{name} first");
      }
      reply.header("Location", `${prefix}/queries/${encodeURIComponent(request.body.name)}`);
      return reply.code(201).send({ name: request.body.name, query: request.body.query, createdAt: new Date().toISOString() });
    },
  );

  app.get(
    "/queries",
    { schema: { tags, summary: "Your named queries", response: { 200: z.array(queryInfoSchema), ...problemResponses } } },
    async (request) => {
      const owner = ownerOf(principalOf(service, request));
      return store.queries(owner).map((q) => ({ name: q.name, query: q.params, createdAt: new Date(q.createdAt).toISOString() }));
    },
  );

  app.get(
    "/queries/:queryName",
    { schema: { tags, summary: "One named query", params: nameParams, response: { 200: queryInfoSchema, ...problemResponses } } },
    async (request) => {
      const { q } = findQuery(request, request.params.queryName);
      return { name: q.name, query: q.params, createdAt: new Date(q.createdAt).toISOString() };
    },
  );

  app.delete(
    "/queries/:queryName",
    { schema: { tags, summary: "Delete a named query and its subscriptions", params: nameParams, response: { 204: z.null().describe("deleted"), ...problemResponses } } },
    async (request, reply) => {
      const { owner } = findQuery(request, request.params.queryName);
      store.deleteQuery(owner, request.params.queryName);
      return reply.code(204).send(null);
    },
  );

  app.get(
    "/queries/:queryName/events",
    {
      schema: {
        tags,
        summary: "The named query's events, paged; with Upgrade: websocket, a live stream of its new events",
        description:
          "A WebSocket client connects to the same URL (X-API-Key on the upgrade request; `?initialRecordTime=` to start earlier) and receives each new matching event, in ledger order, as an EPCISQueryDocument message.",
        params: nameParams,
        querystring: z.strictObject({ perPage: eventsQuerySchema.shape.perPage, nextPageToken: eventsQuerySchema.shape.nextPageToken }),
        response: { 200: queryDocumentSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { q } = findQuery(request, request.params.queryName);
      return answerEvents(request, reply, request.query as Record<string, unknown>, q.params as EventFilter, q.name);
    },
  );

  // ── Subscriptions ──
  const subView = (s: NonNullable<ReturnType<typeof store.subscription>>) => ({
    subscriptionID: s.id,
    queryName: s.queryName,
    dest: s.dest,
    stream: true as const,
    createdAt: new Date(s.createdAt).toISOString(),
    lastNotifiedAt: s.lastNotifiedAt === null ? null : new Date(s.lastNotifiedAt).toISOString(),
    cursor: s.cursorSeq,
    failures: s.failures,
    nextAttemptAt: s.nextAttemptAt > 0 ? new Date(s.nextAttemptAt).toISOString() : null,
    lastError: s.lastError,
  });

  app.post(
    "/queries/:queryName/subscriptions",
    {
      schema: {
        tags,
        summary: "Subscribe by webhook to the named query's new events (signed, retried, in order)",
        description:
          "Every POST to `dest` is an EPCISQueryDocument of the next events after the subscription's cursor, signed `GS1-Signature: sha256=<hex HMAC-SHA256(secret, body)>`, with `X-EPCIS-Delivery: <subscriptionID>:<first>-<last>`. The cursor moves only after a 2xx; failures are retried with exponential backoff. A body may be delivered again after a lost acknowledgement: dedupe by eventID.",
        params: nameParams,
        body: subscriptionBodySchema,
        response: { 201: subscriptionSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const { owner, q } = findQuery(request, request.params.queryName);
      const secret = request.body.signatureToken ?? request.body.secret;
      if (!secret) throw new Problem(400, "SubscriptionControlsException", "SECRET_REQUIRED", "a webhook subscription needs a shared secret to sign its payloads", "send signatureToken: at least 16 random characters, kept by your receiver");
      try {
        await checkDestination(request.body.dest, { allowPrivate: env.EPCIS_WEBHOOK_ALLOW_PRIVATE, allowHttp: env.EPCIS_WEBHOOK_ALLOW_HTTP });
      } catch (err) {
        if (err instanceof DestinationError) throw new Problem(400, "InvalidURIException", "DEST_NOT_ALLOWED", err.message, "give a public https URL of your receiver");
        throw err;
      }
      let cursor = store.maxSeq();
      if (request.body.initialRecordTime !== undefined) {
        const t = Date.parse(request.body.initialRecordTime);
        if (Number.isNaN(t)) throw new Problem(400, "SubscriptionControlsException", "INITIAL_RECORD_TIME_INVALID", `initialRecordTime "${request.body.initialRecordTime}" is not a date-time`, "give an RFC 3339 date-time");
        const first = store.db.prepare(`SELECT min(seq) AS s FROM events WHERE record_time >= ?`).get(t) as { s: number | null };
        cursor = first.s === null ? cursor : first.s - 1;
      }
      const id = crypto.randomUUID();
      store.addSubscription({ id, owner, queryName: q.name, params: JSON.stringify(q.params), dest: request.body.dest, secret, createdAt: Date.now(), cursorSeq: cursor });
      service.deliverer.spawn(id);
      reply.header("Location", `${prefix}/queries/${encodeURIComponent(q.name)}/subscriptions/${id}`);
      return reply.code(201).send(subView(store.subscription(id)!));
    },
  );

  app.get(
    "/queries/:queryName/subscriptions",
    { schema: { tags, summary: "The named query's subscriptions (secrets never shown)", params: nameParams, response: { 200: z.array(subscriptionSchema), ...problemResponses } } },
    async (request) => {
      const { owner, q } = findQuery(request, request.params.queryName);
      return store.subscriptions(owner, q.name).map(subView);
    },
  );

  const subParams = z.strictObject({ queryName: queryNameSchema, subscriptionID: z.string().uuid({ message: "must be a subscriptionID (UUID)" }) });
  const findSub = (request: FastifyRequest, p: { queryName: string; subscriptionID: string }) => {
    const { owner, q } = findQuery(request, p.queryName);
    const s = store.subscription(p.subscriptionID);
    if (!s || s.owner !== owner || s.queryName !== q.name) throw new Problem(404, "NoSuchResourceException", "SUBSCRIPTION_NOT_FOUND", `no subscription ${p.subscriptionID} of query ${q.name}`, "list them with GET /queries/{name}/subscriptions");
    return { owner, s };
  };
  app.get(
    "/queries/:queryName/subscriptions/:subscriptionID",
    { schema: { tags, summary: "One subscription, with its delivery state", params: subParams, response: { 200: subscriptionSchema, ...problemResponses } } },
    async (request) => subView(findSub(request, request.params).s),
  );
  app.delete(
    "/queries/:queryName/subscriptions/:subscriptionID",
    { schema: { tags, summary: "Unsubscribe", params: subParams, response: { 204: z.null().describe("deleted"), ...problemResponses } } },
    async (request, reply) => {
      const { owner, s } = findSub(request, request.params);
      store.deleteSubscription(owner, s.queryName, s.id);
      return reply.code(204).send(null);
    },
  );

};

export default routes;
