import { timingSafeEqual } from "node:crypto";
import { ROLE_NAMES } from "../domain/ledger-enums";
import { getAddress } from "ethers";
import { z } from "zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { describeEvent } from "../domain/custody";
import { toCsv, toEpcisDocument, type EpcisContext } from "../domain/epcis";
import { isoDate } from "../domain/gs1";
import { Gs1ScanError, parseGs1, toDigitalLink } from "../domain/gs1-scan";
import type { LedgerEvent } from "../domain/ledger-events";
import { ApiError, errorResponses } from "../errors";
import { auditLedger } from "./audit";
import type { Indexer } from "./indexer";
import * as S from "./schemas";
import type { BatchRow, IndexStore, PendingRow } from "./store";
import type { PackQuery, Verifier } from "./verification";

export interface ReadRouteOptions {
  store: IndexStore;
  indexer: Indexer | undefined;
  verifier: Verifier;
  apiKeys: string[];
  publicRateLimitPerMinute: number;
  portalBaseUrl: string;
  /** Last block the index has fully read (-1 before the first range). */
  currentBlock: () => number;
}

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();
const proofOf = (blockNumber: number, blockTime: number, txHash: string, logIndex: number) => ({ blockNumber, blockTime: iso(blockTime), txHash, logIndex });

/** Routes of the read side: public verification (rate-limited, no commercial data) and member/auditor queries. */
const readRoutes: FastifyPluginAsyncZod<ReadRouteOptions> = async (app, o) => {
  const { store, verifier } = o;
  const keys = o.apiKeys.map((k) => Buffer.from(k));
  const publicLimit = { rateLimit: { max: o.publicRateLimitPerMinute, timeWindow: "1 minute" } };

  /** Member/auditor endpoints: x-api-key (or Authorization: Bearer) when READ_API_KEYS is set. */
  const requireKey = async (request: FastifyRequest) => {
    if (keys.length === 0) return;
    const header = request.headers["x-api-key"] ?? request.headers.authorization?.replace(/^Bearer\s+/i, "");
    const given = Buffer.from(typeof header === "string" ? header : "");
    if (!keys.some((k) => k.length === given.length && timingSafeEqual(k, given))) {
      throw new ApiError(401, "API_KEY_REQUIRED", "this endpoint serves commercial data to consortium members and auditors", "send a key from READ_API_KEYS in the x-api-key header");
    }
  };
  const member = { onRequest: requireKey };
  const errors401 = { ...errorResponses, 401: errorResponses[400] };

  const glnOf = (a: string) => store.member(a)?.gln ?? null;
  const pendingView = (p: PendingRow) => ({
    shipmentId: p.shipmentId,
    batchId: p.batchId,
    sender: p.sender,
    receiver: p.receiver,
    quantity: p.quantity.toString(),
    isReturn: p.isReturn,
    referenceHash: p.referenceHash,
    createdAt: proofOf(p.createdBlock, p.createdTime, p.txHash, p.logIndex),
  });
  const holdersView = (batchId: string) => store.holdersOf(batchId).map((h) => ({ holder: h.holder, quantity: h.quantity.toString(), gln: glnOf(h.holder) }));
  const today = () => Math.floor(Date.now() / 86_400_000);
  const batchOr404 = (batchId: string): BatchRow => {
    const b = store.batch(batchId);
    if (!b) throw new ApiError(404, "BATCH_NOT_FOUND", `no batch ${batchId} in the index (indexed up to block ${o.currentBlock()})`, "check the id; a batch minted seconds ago appears once the indexer reads its block");
    return b;
  };
  const batchView = (b: BatchRow) => {
    const serialised = !/^0x0{64}$/.test(b.serialsRoot);
    return {
      batchId: b.batchId,
      gtin: b.gtin,
      lot: b.lot,
      expiry: isoDate(b.expiryDay),
      expired: today() > b.expiryDay,
      quantity: b.quantity.toString(),
      producer: b.producer,
      serialised,
      serialCount: b.serialCount,
      serialsRoot: b.serialsRoot,
      serialListUploaded: serialised && store.serialList(b.batchId) !== undefined,
      documentHash: b.documentHash,
      status: b.status,
      statusSince: b.status === "Active" ? null : iso(b.statusSince),
      digitalLink: toDigitalLink({ gtin: b.gtin, lot: b.lot }),
      minted: proofOf(b.mintedBlock, b.mintedTime, b.txHash, b.logIndex),
      holders: holdersView(b.batchId),
      pending: store.pendingOfBatch(b.batchId).map(pendingView),
      dispensed: store.eventsOfBatch(b.batchId).filter((e) => e.name === "UnitDispensed").length,
    };
  };

  // ── Batches (members and auditors) ──

  app.get(
    "/v1/batches/lookup",
    {
      ...member,
      schema: {
        tags: ["batches"],
        summary: "A batch by GTIN and lot: attributes, status, holders, pending shipments",
        querystring: z.object({ gtin: z.string().regex(/^\d{8,14}$/, "8 to 14 digits"), lot: z.string().min(1).max(20) }),
        response: { 200: S.batchSchema, ...errors401 },
      },
    },
    async (request) => {
      const gtin = request.query.gtin.padStart(14, "0");
      const b = store.batchByGtinLot(gtin, request.query.lot);
      if (!b) throw new ApiError(404, "BATCH_NOT_FOUND", `no batch with GTIN ${gtin} and lot ${request.query.lot}`, "lots are case-sensitive; check both values on the pack");
      return batchView(b);
    },
  );

  app.get(
    "/v1/batches/:batchId",
    { ...member, schema: { tags: ["batches"], summary: "A batch by id: attributes, status, holders, pending shipments", params: S.batchIdParam, response: { 200: S.batchSchema, ...errors401 } } },
    async (request) => batchView(batchOr404(request.params.batchId)),
  );

  app.get(
    "/v1/batches/:batchId/history",
    {
      ...member,
      schema: { tags: ["batches"], summary: "Custody chain and status history, in chain order, each with block, time, tx hash and log index", params: S.batchIdParam, response: { 200: S.historySchema, ...errors401 } },
      // Plain JSON.stringify: re-validating a few hundred entries with zod on every answer was the
      // largest cost of this route (bench:read profile). The handler's types fix the shape, and the
      // read tests check real answers against historySchema.
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request) => {
      const b = batchOr404(request.params.batchId);
      let status: "Active" | "Quarantined" | "Recalled" = "Active";
      // A batch's history names the same few members hundreds of times: one lookup each.
      const named = new Map<string, string>();
      const names = (a: string) => {
        let name = named.get(a);
        if (name === undefined) {
          const gln = glnOf(a);
          name = gln ? `${a} (GLN ${gln})` : a;
          named.set(a, name);
        }
        return name;
      };
      const custody = store.eventsOfBatch(b.batchId).map((e) => {
        if (e.name === "BatchQuarantined") status = "Quarantined";
        if (e.name === "BatchQuarantineLifted") status = "Active";
        if (e.name === "BatchRecalled") status = "Recalled";
        const kind = e.name.startsWith("Batch") && e.name !== "BatchMinted" ? ("status" as const) : e.name === "UnitDispensed" ? ("unit" as const) : ("custody" as const);
        return { ...proofOf(e.blockNumber, e.blockTime, e.txHash, e.logIndex), event: e.name, kind, description: describeEvent(e, names), statusAfter: status, args: e.args };
      });
      return { batchId: b.batchId, gtin: b.gtin, lot: b.lot, status: b.status, custody, statusHistory: custody.filter((c) => c.kind === "status") };
    },
  );

  app.get(
    "/v1/members/:address/holdings",
    { ...member, schema: { tags: ["batches"], summary: "A member's holdings and pending shipments in and out", params: S.addressParam, response: { 200: S.holdingsSchema, ...errors401 } } },
    async (request) => {
      const a = getAddress(request.params.address);
      const m = store.member(a);
      const holdings = store.holdingsOf(a).map((h) => {
        const b = store.batch(h.batchId)!;
        return { batchId: h.batchId, gtin: b.gtin, lot: b.lot, status: b.status, quantity: h.quantity.toString() };
      });
      return { address: a, role: ROLE_NAMES[m?.role ?? 0] ?? "None", gln: m?.gln ?? null, holdings, pendingIn: store.pendingIn(a).map(pendingView), pendingOut: store.pendingOut(a).map(pendingView) };
    },
  );

  app.get(
    "/v1/alerts/holders",
    {
      ...member,
      schema: {
        tags: ["batches"],
        summary: "Who must act: current holders (and shipments in transit) of recalled or quarantined batches",
        querystring: z.object({ status: z.enum(["Recalled", "Quarantined", "any"]).default("any") }),
        response: { 200: S.alertHoldersSchema, ...errors401 },
      },
    },
    async (request) => {
      const wanted = request.query.status === "any" ? (["Recalled", "Quarantined"] as const) : ([request.query.status] as const);
      const batches = wanted.flatMap((s) => store.batchesWithStatus(s));
      return {
        batches: batches.map((b) => ({
          batchId: b.batchId,
          gtin: b.gtin,
          lot: b.lot,
          status: b.status,
          statusSince: iso(b.statusSince),
          holders: holdersView(b.batchId),
          inTransit: store.pendingOfBatch(b.batchId).map(pendingView),
        })),
      };
    },
  );

  // ── Serial lists (producers; authenticated by their signature) ──

  app.post(
    "/v1/batches/:batchId/serials",
    {
      bodyLimit: 64 * 1024 * 1024,
      schema: {
        tags: ["batches"],
        summary: "Upload a batch's serial list (signed by its producer, checked against the on-chain root)",
        description:
          "Authentication is the producer's EIP-191 signature over the upload message (chain id, BatchToken address, batch id, serials root, count), so no shared secret exists and an upload cannot be replayed onto another batch or chain. The list must build the batch's on-chain serialsRoot.",
        params: S.batchIdParam,
        body: S.serialUploadBody,
        response: { 201: S.serialUploadResult, 403: errorResponses[400], ...errorResponses },
      },
    },
    async (request, reply) => {
      const r = await verifier.upload(request.params.batchId, request.body.serials, request.body.signature);
      return reply.code(201).send({ batchId: request.params.batchId, ...r });
    },
  );

  // ── Exports ──

  const epcisContext: EpcisContext = {
    batches: (batchId) => {
      const b = store.batch(batchId);
      return b && { gtin: b.gtin, lot: b.lot, expiryDay: b.expiryDay, producer: b.producer };
    },
    glnOf: (a) => store.member(a)?.gln ?? undefined,
    serialOf: (batchId, unitIndex) => {
      const tree = verifier.tree(batchId);
      const i = Number(unitIndex);
      return tree && i < tree.count ? tree.serialAt(i) : undefined;
    },
  };
  const exportTriplet = <P extends z.ZodTypeAny, Q extends z.ZodTypeAny>(
    base: string,
    what: string,
    params: P | undefined,
    query: Q | undefined,
    select: (request: FastifyRequest) => { events: LedgerEvent[]; truncated: boolean },
  ) => {
    const schemaBase = { tags: ["batches"], ...(params ? { params } : {}), ...(query ? { querystring: query } : {}) };
    app.get(base, { ...member, schema: { ...schemaBase, summary: `${what} as JSON, each with tx hash and log index`, response: { 200: S.eventsExportSchema, ...errors401 } } }, async (request) => {
      const { events, truncated } = select(request);
      return { count: events.length, truncated, events };
    });
    app.get(
      `${base}.csv`,
      { ...member, schema: { ...schemaBase, summary: `${what} as CSV (RFC 4180)`, produces: ["text/csv"], response: { 200: z.string().describe("text/csv"), ...errors401 } } },
      async (request, reply: FastifyReply) => {
        const csv = toCsv(select(request).events, epcisContext);
        return reply.type("text/csv; charset=utf-8").serializer((x: unknown) => x as string).send(csv);
      },
    );
    app.get(
      `${base}.epcis.json`,
      { ...member, schema: { ...schemaBase, summary: `${what} as an EPCIS 2.0 JSON-LD document`, produces: ["application/ld+json"], response: { 200: S.epcisDocumentSchema, ...errors401 } } },
      async (request, reply) => {
        const doc = toEpcisDocument(select(request).events, epcisContext);
        return reply.type("application/ld+json").send(doc as unknown as z.infer<typeof S.epcisDocumentSchema>);
      },
    );
  };
  exportTriplet("/v1/batches/:batchId/events", "A batch's ledger events", S.batchIdParam, undefined, (request) => {
    const { batchId } = request.params as z.infer<typeof S.batchIdParam>;
    batchOr404(batchId);
    return { events: store.eventsOfBatch(batchId), truncated: false };
  });
  exportTriplet("/v1/events", "Ledger events of a time window", undefined, S.windowQuery, (request) => {
    const q = request.query as z.infer<typeof S.windowQuery>;
    if (Date.parse(q.to) <= Date.parse(q.from)) throw new ApiError(400, "WINDOW_EMPTY", `'to' (${q.to}) must be after 'from' (${q.from})`, "swap or widen the window");
    // Block times are whole seconds: [from, to) in ms covers the seconds ceil(from) … ceil(to) − 1.
    const events = store.eventsInWindow(Math.ceil(Date.parse(q.from) / 1000), Math.ceil(Date.parse(q.to) / 1000), q.limit + 1);
    return { events: events.slice(0, q.limit), truncated: events.length > q.limit };
  });

  // ── Audit and status ──

  app.get(
    "/v1/audit",
    {
      ...member,
      schema: {
        tags: ["batches"],
        summary: "Integrity audit: every batch's balances rebuilt from the indexed events alone, compared with on-chain state and with the index tables",
        response: { 200: S.auditSchema, ...errors401 },
      },
    },
    async () => {
      const atBlock = o.currentBlock();
      if (atBlock < 0) throw new ApiError(503, "INDEX_NOT_READY", "the index has not read the chain yet", "retry in a few seconds");
      return auditLedger({ events: store.allEvents(), batchToken: app.chain.batchToken, atBlock, index: { balances: store.allBalances(), pending: store.allPending() } });
    },
  );

  app.get(
    "/v1/index/status",
    { schema: { tags: ["operations"], summary: "How far the indexer has read", response: { 200: S.indexStatusSchema } } },
    async () => {
      const s = o.indexer?.status ?? { running: false, indexedBlock: o.currentBlock(), headBlock: -1, resets: 0 };
      return { running: s.running, indexedBlock: s.indexedBlock, headBlock: s.headBlock, events: store.eventCount(), resets: s.resets, ...(s.lastError ? { lastError: s.lastError } : {}) };
    },
  );

  // ── Public verification (rate-limited per IP; verdicts only, no quantities or partners) ──

  const packFrom = (gtin: string, lot: string | undefined, serial: string | undefined, expiry: string | undefined): PackQuery => {
    const padded = /^\d{8,13}$/.test(gtin) ? gtin.padStart(14, "0") : gtin;
    let parsed;
    try {
      // Re-parse as a Digital Link so every field gets the scanner's precise checks.
      parsed = parseGs1(toDigitalLink({ gtin: padded, lot, serial, expiry }));
    } catch (err) {
      if (err instanceof Gs1ScanError) throw scanError(err);
      throw err;
    }
    return complete(parsed);
  };
  const complete = (p: { gtin: string; lot?: string; serial?: string; expiry?: { day: number } }): PackQuery => {
    const missing = [p.lot === undefined ? "lot (AI 10)" : undefined, p.serial === undefined ? "serial (AI 21)" : undefined].filter(Boolean);
    if (missing.length > 0) {
      throw new ApiError(400, "GS1_INCOMPLETE", `the code has no ${missing.join(" and no ")}; a pack is verified by GTIN, lot, serial and expiry`, "scan the 2D code on the pack (not the linear barcode), or type all four fields");
    }
    return { gtin: p.gtin, lot: p.lot!, serial: p.serial!, expiryDay: p.expiry?.day };
  };

  app.get(
    "/v1/verify",
    {
      config: publicLimit,
      schema: { tags: ["verification"], summary: "Verify a pack by GTIN, lot, serial and expiry (public)", querystring: S.verifyQuery, response: { 200: S.verificationSchema, ...errorResponses } },
    },
    async (request) => verifier.verify(packFrom(request.query.gtin, request.query.lot, request.query.serial, request.query.expiry)),
  );

  app.get(
    "/v1/verify/scan",
    {
      config: publicLimit,
      schema: {
        tags: ["verification"],
        summary: "Verify a pack from a raw scan: element string, bracketed form or Digital Link (public)",
        querystring: S.scanQuery,
        response: { 200: S.verificationSchema, ...errorResponses },
      },
    },
    async (request) => {
      let parsed;
      try {
        parsed = parseGs1(request.query.code);
      } catch (err) {
        if (err instanceof Gs1ScanError) throw scanError(err);
        throw err;
      }
      return verifier.verify(complete(parsed));
    },
  );
  // The Digital Link resolver (/01/…) lives in api/exchange.
};

function scanError(err: Gs1ScanError): ApiError {
  const hints: Record<string, string> = {
    GS1_BAD_CHECK_DIGIT: "a digit was misread or mistyped: scan again or compare with the printed number",
    GS1_BAD_DATE: "the date must be YYMMDD (day 00 means the last day of the month)",
    GS1_BAD_LENGTH: "a field is too long or too short: if a separator (GS) is missing between lot and serial, scan again",
    GS1_BAD_CHARACTER: "lots and serials use GS1 characters only (letters, digits and !\"%&'()*+,-./:;<=>?_)",
    GS1_MISSING_GTIN: "scan the 2D code on the pack, not a logistic label",
  };
  return new ApiError(400, err.code, err.message, hints[err.code] ?? "scan the pack's 2D code again, or type the code as printed", err.ai ? { ai: err.ai } : undefined);
}

export default readRoutes;
