import crypto from "node:crypto";
import { epcisDocumentContext } from "../domain/epcis";
import { canonicalId, cbvWord } from "./projector";
import type { EpcisStore } from "./store";

/**
 * The EPCIS 2.0 query language subset the binding answers (GS1 OpenAPI `/events` parameters),
 * over the projection's indexed columns, with visibility and paging. Pure SQL building plus the
 * page-token codec; the routes parse HTTP into a {@link EventFilter} with {@link parseFilter}.
 */

export const LIST_PARAMS = [
  "eventType",
  "EQ_action",
  "EQ_bizStep",
  "EQ_disposition",
  "EQ_readPoint",
  "EQ_bizLocation",
  "EQ_eventID",
  "MATCH_epc",
  "MATCH_anyEPC",
  "MATCH_epcClass",
  "MATCH_anyEPCClass",
  "MATCH_parentID",
] as const;
export const TIME_PARAMS = ["GE_eventTime", "LT_eventTime", "GE_recordTime", "LT_recordTime"] as const;
export const SUPPORTED_QUERY_PARAMS: readonly string[] = [...LIST_PARAMS, ...TIME_PARAMS];

export type ListParam = (typeof LIST_PARAMS)[number];
export type TimeParam = (typeof TIME_PARAMS)[number];
/** A query as stored (named queries, subscriptions): lists of values and times in ms. */
export type EventFilter = Partial<Record<ListParam, string[]> & Record<TimeParam, number>>;

export class QueryParameterError extends Error {
  constructor(
    readonly parameter: string,
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = "QueryParameterError";
  }
}

const EVENT_TYPES = ["ObjectEvent", "AggregationEvent", "TransactionEvent", "TransformationEvent", "AssociationEvent"];

/**
 * A filter from query parameters (values pipe-delimited as the OpenAPI's `style: pipeDelimited`,
 * or repeated) or from a named query's `query` object (arrays or strings). Unknown parameters are
 * refused, so a typo never silently widens a result.
 */
export function parseFilter(input: Record<string, unknown>, ignore: readonly string[] = []): EventFilter {
  const f: EventFilter = {};
  for (const [key, raw] of Object.entries(input)) {
    if (ignore.includes(key) || raw === undefined) continue;
    const values = (Array.isArray(raw) ? raw : [raw]).flatMap((v) => String(v).split("|")).map((v) => v.trim()).filter((v) => v !== "");
    if ((LIST_PARAMS as readonly string[]).includes(key)) {
      if (values.length === 0) throw new QueryParameterError(key, `${key} is empty`, `give one or more values separated by |`);
      if (values.length > 100) throw new QueryParameterError(key, `${key} has ${values.length} values`, "at most 100 values per parameter");
      let list = values;
      if (key === "eventType") {
        const bad = values.find((v) => !EVENT_TYPES.includes(v));
        if (bad) throw new QueryParameterError(key, `eventType ${bad} is not an EPCIS event type`, `use ${EVENT_TYPES.join(", ")}`);
      }
      if (key === "EQ_action") {
        const bad = values.find((v) => !["ADD", "OBSERVE", "DELETE"].includes(v));
        if (bad) throw new QueryParameterError(key, `EQ_action ${bad} is not ADD, OBSERVE or DELETE`, "use ADD, OBSERVE or DELETE");
      }
      if (key === "EQ_bizStep" || key === "EQ_disposition") list = values.map(cbvWord);
      if (key === "EQ_readPoint" || key === "EQ_bizLocation" || key.startsWith("MATCH_")) list = values.map(canonicalId);
      f[key as ListParam] = list;
    } else if ((TIME_PARAMS as readonly string[]).includes(key)) {
      if (values.length !== 1) throw new QueryParameterError(key, `${key} takes one time`, "give one RFC 3339 date-time, e.g. 2026-11-27T00:00:00Z");
      const t = Date.parse(values[0]!);
      if (!/^\d{4}-\d{2}-\d{2}T/.test(values[0]!) || Number.isNaN(t)) {
        throw new QueryParameterError(key, `${key} "${values[0]}" is not a date-time`, "give an RFC 3339 date-time with a time zone, e.g. 2026-11-27T10:00:00Z");
      }
      f[key as TimeParam] = t;
    } else {
      throw new QueryParameterError(key, `query parameter ${key} is not supported here`, `supported: ${SUPPORTED_QUERY_PARAMS.join(", ")}, perPage, nextPageToken`);
    }
  }
  return f;
}

/** The filter in a stable JSON form (the page token and named queries compare it). */
export function filterKey(f: EventFilter): string {
  return JSON.stringify(Object.keys(f).sort().map((k) => [k, f[k as keyof EventFilter]]));
}

/** Who sees what: `undefined` = everything (auditor), else the viewer keys (account, jurisdictions). */
export type Visibility = string[] | undefined;

interface Sql {
  where: string[];
  args: unknown[];
}

const GTIN_LEVEL = /^https:\/\/id\.gs1\.org\/01\/\d{14}$/;

function epcClause(sql: Sql, values: readonly string[], kinds: readonly number[], patterns: "instance" | "class" | "none"): void {
  const exact = values.filter((v) => patterns === "none" || !GTIN_LEVEL.test(v));
  const prefixes = patterns === "none" ? [] : values.filter((v) => GTIN_LEVEL.test(v)).map((v) => `${v}/${patterns === "instance" ? "21" : "10"}/`);
  const parts: string[] = [];
  const kindList = kinds.join(",");
  if (exact.length > 0) {
    parts.push(`e.seq IN (SELECT seq FROM event_epcs WHERE kind IN (${kindList}) AND epc IN (${exact.map(() => "?").join(",")}))`);
    sql.args.push(...exact);
  }
  for (const p of prefixes) {
    parts.push(`e.seq IN (SELECT seq FROM event_epcs WHERE kind IN (${kindList}) AND epc >= ? AND epc < ?)`);
    sql.args.push(p, p + "\uffff");
  }
  sql.where.push(`(${parts.join(" OR ")})`);
}

function build(f: EventFilter, visibility: Visibility): Sql {
  const sql: Sql = { where: [], args: [] };
  const inList = (column: string, values: readonly string[] | undefined) => {
    if (!values) return;
    sql.where.push(`e.${column} IN (${values.map(() => "?").join(",")})`);
    sql.args.push(...values);
  };
  inList("type", f.eventType);
  inList("action", f.EQ_action);
  inList("biz_step", f.EQ_bizStep);
  inList("disposition", f.EQ_disposition);
  inList("read_point", f.EQ_readPoint);
  inList("biz_location", f.EQ_bizLocation);
  inList("event_id", f.EQ_eventID);
  const time = (column: string, op: string, v: number | undefined) => {
    if (v === undefined) return;
    sql.where.push(`e.${column} ${op} ?`);
    sql.args.push(v);
  };
  time("event_time", ">=", f.GE_eventTime);
  time("event_time", "<", f.LT_eventTime);
  time("record_time", ">=", f.GE_recordTime);
  time("record_time", "<", f.LT_recordTime);
  if (f.MATCH_epc) epcClause(sql, f.MATCH_epc, [0], "instance");
  if (f.MATCH_parentID) epcClause(sql, f.MATCH_parentID, [1], "none");
  if (f.MATCH_anyEPC) epcClause(sql, f.MATCH_anyEPC, [0, 1], "instance");
  if (f.MATCH_epcClass) epcClause(sql, f.MATCH_epcClass, [2], "class");
  if (f.MATCH_anyEPCClass) epcClause(sql, f.MATCH_anyEPCClass, [2], "class");
  if (visibility !== undefined) {
    if (visibility.length === 0) sql.where.push("0");
    else {
      sql.where.push(`EXISTS (SELECT 1 FROM event_viewers v WHERE v.viewer IN (${visibility.map(() => "?").join(",")}) AND v.seq = e.seq)`);
      sql.args.push(...visibility);
    }
  }
  return sql;
}

export interface Page {
  /** The events' JSON, in ledger order. */
  events: string[];
  seqs: number[];
  lastSeq: number;
  more: boolean;
}

/** Events with seq in (afterSeq, upToSeq] matching the filter and visible, at most `limit`. */
export function queryPage(store: EpcisStore, f: EventFilter, visibility: Visibility, afterSeq: number, upToSeq: number, limit: number): Page {
  const sql = build(f, visibility);
  const where = ["e.seq > ?", "e.seq <= ?", ...sql.where].join(" AND ");
  const rows = store.db.prepare(`SELECT e.seq, e.json FROM events e WHERE ${where} ORDER BY e.seq LIMIT ?`).all(afterSeq, upToSeq, ...sql.args, limit + 1) as Array<{ seq: number; json: string }>;
  const more = rows.length > limit;
  const page = more ? rows.slice(0, limit) : rows;
  return { events: page.map((r) => r.json), seqs: page.map((r) => r.seq), lastSeq: page.length > 0 ? page[page.length - 1]!.seq : afterSeq, more };
}

// ─── Page tokens ──────────────────────────────────────────────────────────────────────────────

interface TokenBody {
  /** Last seq returned. */
  a: number;
  /** The snapshot: the highest seq when the first page was asked. */
  u: number;
  /** Hash of the filter and the caller, so a token only continues the query it came from. */
  h: string;
}

export function scopeHash(f: EventFilter, principal: string): string {
  return crypto.createHash("sha256").update(filterKey(f)).update("\n").update(principal).digest("base64url").slice(0, 16);
}

/**
 * An opaque token: the position after the last event returned and the snapshot's upper bound,
 * MAC'd so it cannot be forged or moved to another query. Stable under appends: new events get
 * higher sequence numbers than the snapshot, so a page never shifts; they show up in the next
 * query.
 */
export function encodePageToken(key: Buffer, body: TokenBody): string {
  const payload = Buffer.from(JSON.stringify(body)).toString("base64url");
  const mac = crypto.createHmac("sha256", key).update(payload).digest("base64url").slice(0, 22);
  return `${payload}.${mac}`;
}

export function decodePageToken(key: Buffer, token: string, expectedScope: string): TokenBody {
  const [payload, mac] = token.split(".");
  const bad = () => new QueryParameterError("nextPageToken", "nextPageToken is not a token this service gave", "start again without nextPageToken and follow the Link header's next URL");
  if (!payload || !mac) throw bad();
  const expected = crypto.createHmac("sha256", key).update(payload).digest("base64url").slice(0, 22);
  if (expected.length !== mac.length || !crypto.timingSafeEqual(Buffer.from(expected), Buffer.from(mac))) throw bad();
  const body = JSON.parse(Buffer.from(payload, "base64url").toString("utf8")) as TokenBody;
  if (body.h !== expectedScope) {
    throw new QueryParameterError("nextPageToken", "nextPageToken belongs to another query", "send the same query parameters as the page the token came from");
  }
  return body;
}

// ─── Documents ────────────────────────────────────────────────────────────────────────────────

const CONTEXT_JSON = JSON.stringify(epcisDocumentContext());

/** An EPCISQueryDocument around already serialised events (no re-parse: the bodies are stored JSON). */
export function queryDocument(events: readonly string[], queryName = "SimpleEventQuery", subscriptionID?: string): string {
  return (
    `{"@context":${CONTEXT_JSON},"type":"EPCISQueryDocument","schemaVersion":"2.0","creationDate":${JSON.stringify(new Date().toISOString())},` +
    `"epcisBody":{"queryResults":{${subscriptionID ? `"subscriptionID":${JSON.stringify(subscriptionID)},` : ""}"queryName":${JSON.stringify(queryName)},"resultsBody":{"eventList":[${events.join(",")}]}}}}`
  );
}
