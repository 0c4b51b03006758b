import crypto from "node:crypto";
import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import type { JsonObject } from "../../domain/epcis-hash";
import { dayNumberOf } from "../../domain/gs1";
import type { MemberFacts } from "../ports";
import { Problem, problemResponses } from "../problem";
import { principalOf, type EpcisService } from "../service";
import type { ActionRow } from "../store";
import { glnsOf, planCapture } from "./planner";
import { schemaProblems } from "./schema";

/**
 * POST /capture and GET /capture/{captureID}: the ERP connector. A member's system posts the
 * EPCIS events it produces; the document is checked whole (GS1's JSON schema, then what the
 * ledger says: the member's own locations, known products and batches, packs it holds, pending
 * shipments to it), refused whole with one problem per event and field if anything is wrong,
 * else stored as a capture job and answered 202 with its Location. The dispatcher then turns
 * each event into the member's actions through the relay's custodial path; GET /capture/{id}
 * follows each event to mined or failed.
 */

const actionSchema = z.object({
  action: z.string().describe("the member action (POST /v1/custodial/<action>)"),
  state: z.enum(["planned", "queued", "submitted", "mined", "failed"]),
  requestId: z.string().nullable().describe("the relay request (GET /v1/requests/{id})"),
  txHash: z.string().nullable(),
  blockNumber: z.number().nullable(),
  error: z.unknown().nullable().describe("the relay's refusal or the contract's error"),
});
const eventOutcomeSchema = z.object({
  index: z.number(),
  eventID: z.string(),
  type: z.string(),
  bizStep: z.string().nullable(),
  state: z.enum(["queued", "submitted", "mined", "failed"]).describe("queued: waiting for the relay or for an earlier action; mined: every action of the event is on chain"),
  duplicateOf: z.object({ captureID: z.string(), index: z.number() }).nullable().describe("a re-posted eventID: the capture that applied it (the outcome is that one's)"),
  partOf: z.number().nullable().describe("a packing event: the index of the commissioning whose mint declares it"),
  actions: z.array(actionSchema),
});
export const captureJobSchema = z.object({
  captureID: z.string(),
  createdAt: z.string(),
  finishedAt: z.string().nullable(),
  running: z.boolean(),
  success: z.boolean(),
  captureErrorBehaviour: z.literal("rollback"),
  errors: z.array(z.object({ index: z.number(), eventID: z.string(), error: z.unknown() })),
  events: z.array(eventOutcomeSchema),
});

const stateOf = (actions: ActionRow[]): "queued" | "submitted" | "mined" | "failed" => {
  if (actions.some((a) => a.state === "failed")) return "failed";
  if (actions.length > 0 && actions.every((a) => a.state === "mined")) return "mined";
  if (actions.some((a) => a.state === "submitted" || a.state === "mined")) return "submitted";
  return actions.length === 0 ? "mined" : "queued";
};

const captureRoutes: FastifyPluginAsyncZod<{ service: EpcisService }> = async (app, { service }) => {
  const { store, env, directory } = service;
  const tags = ["epcis"];

  app.post(
    "/capture",
    {
      bodyLimit: env.EPCIS_CAPTURE_MAX_BYTES,
      schema: {
        tags,
        summary: "Capture an EPCIS document: the member's own events become its on-chain actions",
        description:
          "Authenticated with the member's custodial API key (X-API-Key). All or nothing (GS1-Capture-Error-Behaviour: rollback): the document is validated entirely — GS1's JSON schema, then the ledger (own locations, known products and batches, packs held, pending shipments) — and refused with one RFC 7807 problem per event and field, or stored and answered 202 with Location /capture/{captureID}. A re-posted eventID is never applied twice.",
        headers: z
          .object({
            "gs1-capture-error-behaviour": z.string().optional().describe("rollback (the only one this ledger offers)"),
            "gs1-epcis-version": z.string().optional(),
            "gs1-cbv-version": z.string().optional(),
          })
          .passthrough(),
        body: z.unknown().describe("EPCISDocument (application/json or application/ld+json)"),
        response: { 202: captureJobSchema, ...problemResponses },
      },
    },
    async (request, reply) => {
      const principal = principalOf(service, request);
      if (principal.kind !== "member") throw new Problem(403, "SecurityException", "CAPTURE_MEMBERS_ONLY", "auditors read; only members capture their own events", "capture with a member's custodial API key");
      if (!service.relay || !service.dispatcher) throw new Problem(503, "ImplementationException", "CAPTURE_DISABLED", "capture needs the relay, which is off on this service", "capture at a service with RELAY_ENABLED=true");
      const behaviour = request.headers["gs1-capture-error-behaviour"];
      if (behaviour !== undefined && behaviour !== "rollback") {
        throw new Problem(400, "ValidationException", "CAPTURE_BEHAVIOUR_NOT_SUPPORTED", `GS1-Capture-Error-Behaviour ${String(behaviour)} is not offered`, "send rollback or leave the header out: a document is captured whole or not at all");
      }
      const doc = request.body as { type?: unknown; epcisBody?: { eventList?: unknown } } | null;
      if (!doc || typeof doc !== "object" || doc.type !== "EPCISDocument") {
        throw new Problem(400, "ValidationException", "NOT_AN_EPCIS_DOCUMENT", "the body is not an EPCISDocument", 'send {"@context": [...], "type": "EPCISDocument", "schemaVersion": "2.0", "creationDate": …, "epcisBody": {"eventList": [...]}}');
      }
      const count = Array.isArray(doc.epcisBody?.eventList) ? doc.epcisBody!.eventList.length : 0;
      if (count > env.EPCIS_CAPTURE_LIMIT) {
        throw new Problem(413, "CaptureLimitExceededException", "CAPTURE_LIMIT_EXCEEDED", `the document holds ${count} events; this service captures at most ${env.EPCIS_CAPTURE_LIMIT} per document`, "split it into several documents");
      }
      const problems = schemaProblems(doc);
      if (problems.length > 0) throw new Problem(400, "ValidationException", "DOCUMENT_INVALID", problems[0]!.message, "fix every listed field; nothing of the document was captured", problems);
      if (count === 0) throw new Problem(400, "ValidationException", "DOCUMENT_EMPTY", "the document holds no events", "send at least one event");

      const member = await directory.member(principal.account);
      if (!member) throw new Problem(403, "SecurityException", "NOT_A_MEMBER", `${principal.account} is not in the member register`, "ask the governors for admission");
      if (!service.relay.isCustodial(principal.account)) {
        throw new Problem(403, "SecurityException", "NOT_CUSTODIAL", `the relay holds no custodial key for ${principal.account}`, "ask the relay's operators to enrol the member (POST /v1/admin/custodial-members)");
      }
      await service.projector.whenReady();
      // Read your writes: what the member had mined before posting (a product it just registered) is checked too.
      await service.projector.catchUp(env.EPCIS_CAPTURE_CATCHUP_MS);
      const typed = doc as unknown as { "@context"?: unknown; epcisBody: { eventList: JsonObject[] } };
      // What planning must know of other members: receivers by GLN, senders of pending shipments.
      const accountOfGln = new Map<string, string>();
      const facts = new Map<string, MemberFacts>();
      for (const gln of glnsOf(typed)) {
        const a = await directory.accountOfGln(gln);
        if (a) accountOfGln.set(gln, a);
      }
      const others = new Set<string>([...accountOfGln.values(), ...service.projector.state.pendingTo(principal.account).map((s) => s.sender)]);
      for (const a of others) {
        const f = await directory.member(a);
        if (f) facts.set(a.toLowerCase(), f);
      }
      const result = planCapture({
        doc: typed,
        member,
        state: service.projector.state,
        lists: service.lists,
        pendingList: (gtin, lot) => (service.projector.state.batchByGtinLot(gtin, lot) ? undefined : store.capturedList(gtin, lot)),
        pendingSgtin: (gtin, serial) => {
          const hit = store.findSgtin(gtin, serial);
          return hit && !service.projector.state.batchByGtinLot(gtin, hit.lot) ? hit : undefined;
        },
        pendingSscc: (sscc) => {
          const hit = store.findSscc(sscc);
          return hit && !service.projector.state.batchByGtinLot(hit.gtin, hit.lot) ? hit : undefined;
        },
        alreadyCaptured: (eventId) => store.isCaptured(principal.account, eventId),
        accountOfGln,
        memberFacts: facts,
        today: dayNumberOf(new Date()),
        treeOf: (batchId, serials) => service.trees.get(batchId, serials),
      });
      if ("problems" in result) {
        const first = result.problems[0]!;
        const forbidden = result.problems.every((p) => p.code === "ROLE_CANNOT_CAPTURE" || p.code === "MEMBER_NOT_ACTIVE");
        throw new Problem(forbidden ? 403 : 422, forbidden ? "SecurityException" : "ValidationException", forbidden ? first.code : "DOCUMENT_REFUSED", first.message, "fix every listed event; nothing of the document was captured", result.problems);
      }
      const id = crypto.randomUUID();
      store.saveJob({
        id,
        member: principal.account,
        keyId: principal.keyId,
        events: result.plan.events.map((e) => ({ eventId: e.eventId, type: e.type, bizStep: e.bizStep, linkedIdx: e.linkedIdx })),
        actions: result.plan.actions,
        lists: result.plan.lists,
        bizTransactions: result.plan.bizTransactions,
      });
      // The read side names these documents in its exports and DSCSA files too (their hash is what the shipment commits to).
      for (const b of result.plan.bizTransactions) service.documents?.remember(b.referenceHash, b.list, principal.account);
      service.dispatcher.poke();
      reply.header("Location", `${service.prefix}/capture/${id}`);
      return reply.code(202).send(jobView(id));
    },
  );

  function jobView(id: string): z.infer<typeof captureJobSchema> {
    const job = store.job(id)!;
    const events = store.jobEvents(id);
    const outcomes = events.map((e) => {
      const source = e.duplicateOfJob !== null ? { job: e.duplicateOfJob, idx: e.duplicateOfIdx! } : { job: id, idx: e.linkedIdx ?? e.idx };
      const actions = store.actionsOfEvent(source.job, source.idx);
      return {
        index: e.idx,
        eventID: e.eventId,
        type: e.type,
        bizStep: e.bizStep,
        state: stateOf(actions),
        duplicateOf: e.duplicateOfJob !== null ? { captureID: e.duplicateOfJob, index: e.duplicateOfIdx! } : null,
        partOf: e.linkedIdx,
        actions: actions.map((a) => ({ action: a.action, state: a.state, requestId: a.requestId, txHash: a.txHash, blockNumber: a.blockNumber, error: a.error === null ? null : (JSON.parse(a.error) as unknown) })),
      };
    });
    const running = outcomes.some((o) => o.state === "queued" || o.state === "submitted");
    const failed = outcomes.filter((o) => o.state === "failed");
    return {
      captureID: id,
      createdAt: new Date(job.createdAt).toISOString(),
      finishedAt: running || job.finishedAt === null ? null : new Date(job.finishedAt).toISOString(),
      running,
      success: failed.length === 0,
      captureErrorBehaviour: "rollback",
      errors: failed.map((o) => ({ index: o.index, eventID: o.eventID, error: o.actions.find((a) => a.state === "failed")?.error ?? null })),
      events: outcomes,
    };
  }

  app.get(
    "/capture/:captureID",
    {
      schema: {
        tags,
        summary: "A capture job: each event's outcome (queued → submitted → mined | failed with the contract's error)",
        params: z.strictObject({ captureID: z.string().uuid({ message: "must be a captureID (UUID) from a Location header" }) }),
        response: { 200: captureJobSchema, ...problemResponses },
      },
    },
    async (request) => {
      const principal = principalOf(service, request);
      const job = store.job(request.params.captureID);
      if (!job || principal.kind !== "member" || job.member !== principal.account.toLowerCase()) {
        throw new Problem(404, "NoSuchResourceException", "CAPTURE_NOT_FOUND", `you have no capture job ${request.params.captureID}`, "use the Location header of your POST /capture");
      }
      return jobView(job.id);
    },
  );

  app.get(
    "/capture",
    {
      schema: {
        tags,
        summary: "Your latest capture jobs (newest first, at most 100)",
        response: { 200: z.array(z.object({ captureID: z.string(), createdAt: z.string(), eventCount: z.number(), finishedAt: z.string().nullable() })), ...problemResponses },
      },
    },
    async (request) => {
      const principal = principalOf(service, request);
      if (principal.kind !== "member") return [];
      const rows = store.db
        .prepare(`SELECT id, created_at, event_count, finished_at FROM capture_jobs WHERE member = ? ORDER BY seq DESC LIMIT 100`)
        .all(principal.account.toLowerCase()) as Array<{ id: string; created_at: number; event_count: number; finished_at: number | null }>;
      return rows.map((r) => ({ captureID: r.id, createdAt: new Date(r.created_at).toISOString(), eventCount: r.event_count, finishedAt: r.finished_at === null ? null : new Date(r.finished_at).toISOString() }));
    },
  );
};

export default captureRoutes;
