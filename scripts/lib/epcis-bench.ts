import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import Database from "better-sqlite3";

/**
 * What `npm run bench:exchange` needs to drive the EPCIS 2.0 REST binding (api/epcis) from
 * outside, as a trading partner's systems would: EPCIS documents as an ERP writes them, a webhook
 * receiver that checks the signature and records when each event arrived, a pager that follows
 * the Link header of GET /epcis/events, and a seeder that copies projected events in the binding's
 * SQLite file (to query ≥ 200,000 events without putting as many transactions on the chain).
 */

export const EPCIS_CONTEXT = ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"];
export const sgtinUri = (gtin: string, serial: string) => `https://id.gs1.org/01/${gtin}/21/${encodeURIComponent(serial)}`;
const location = (gln: string) => ({ id: `https://id.gs1.org/414/${gln}` });
const party = (gln: string) => `https://id.gs1.org/417/${gln}`;

export function epcisDocument(eventList: object[]): object {
  return { "@context": EPCIS_CONTEXT, type: "EPCISDocument", schemaVersion: "2.0", creationDate: new Date().toISOString(), epcisBody: { eventList } };
}

const base = (eventTime: Date) => ({ eventID: `urn:uuid:${crypto.randomUUID()}`, eventTime: eventTime.toISOString(), eventTimeZoneOffset: "+00:00" });

/** Commissioning of a lot's serialised packs (one mint through the relay). */
export function commissioningEvent(at: Date, byGln: string, gtin: string, lot: string, serials: readonly string[], expiry: string): object {
  return {
    type: "ObjectEvent",
    ...base(at),
    epcList: serials.map((s) => sgtinUri(gtin, s)),
    action: "ADD",
    bizStep: "commissioning",
    disposition: "active",
    readPoint: location(byGln),
    bizLocation: location(byGln),
    ilmd: { "cbvmda:lotNumber": lot, "cbvmda:itemExpirationDate": expiry },
  };
}

export function shippingEvent(at: Date, fromGln: string, toGln: string, epcs: readonly string[]): object {
  return {
    type: "ObjectEvent",
    ...base(at),
    epcList: epcs,
    action: "OBSERVE",
    bizStep: "shipping",
    disposition: "in_transit",
    readPoint: location(fromGln),
    sourceList: [{ type: "owning_party", source: party(fromGln) }],
    destinationList: [{ type: "owning_party", destination: party(toGln) }],
  };
}

export function receivingEvent(at: Date, byGln: string, epcs: readonly string[]): object {
  return { type: "ObjectEvent", ...base(at), epcList: epcs, action: "OBSERVE", bizStep: "receiving", disposition: "in_progress", readPoint: location(byGln), bizLocation: location(byGln) };
}

/**
 * A webhook receiver on 127.0.0.1: checks `GS1-Signature` (HMAC-SHA256 of the body), keeps the
 * first arrival time of each eventID (a redelivery is not a second arrival) and each event's
 * bizStep, answers 204.
 */
export class WebhookReceiver {
  readonly arrivals = new Map<string, number>();
  readonly byBizStep = new Map<string, number>();
  posts = 0;
  badSignatures = 0;
  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(private readonly secret: string) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const at = Date.now();
        const body = Buffer.concat(chunks);
        const expected = "sha256=" + crypto.createHmac("sha256", this.secret).update(body).digest("hex");
        if (req.headers["gs1-signature"] !== expected) {
          this.badSignatures++;
          res.writeHead(401).end();
          return;
        }
        this.posts++;
        const doc = JSON.parse(body.toString("utf8")) as { epcisBody: { queryResults: { resultsBody: { eventList: Array<{ eventID: string; bizStep?: string }> } } } };
        for (const e of doc.epcisBody.queryResults.resultsBody.eventList) {
          if (this.arrivals.has(e.eventID)) continue;
          this.arrivals.set(e.eventID, at);
          const step = e.bizStep ?? "";
          this.byBizStep.set(step, (this.byBizStep.get(step) ?? 0) + 1);
        }
        res.writeHead(204).end();
      });
    });
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  count(bizStep: string): number {
    return this.byBizStep.get(bizStep) ?? 0;
  }

  async stop(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

/** Polls `check` (every `everyMs`) until it holds; fails naming `what` after `timeoutMs`. */
export async function waitUntil(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/**
 * When the binding's projector recorded each event (record_time: the moment it read the event's
 * block from the ledger feed, the `seenAt` its deliverer measures lag from), read from its SQLite
 * file with a read-only connection.
 */
export function recordTimes(dbFile: string, eventIds: readonly string[]): Map<string, number> {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    const get = db.prepare(`SELECT record_time AS t FROM events WHERE event_id = ?`);
    const out = new Map<string, number>();
    for (const id of eventIds) {
      const row = get.get(id) as { t: number } | undefined;
      if (row) out.set(id, row.t);
    }
    return out;
  } finally {
    db.close();
  }
}

/**
 * Copies the events the binding projected from the chain (with their query keys and viewers) in
 * its SQLite file until it holds `total` events, each copy with a new eventID; chunks of 2,000
 * rows per transaction so the running service's projector never waits long for the write lock.
 * Returns how many copies were written.
 */
export function seedProjection(dbFile: string, total: number): { copies: number; templates: number } {
  const db = new Database(dbFile, { fileMustExist: true });
  try {
    db.pragma("busy_timeout = 10000");
    db.pragma("synchronous = NORMAL");
    const templates = db.prepare(`SELECT * FROM events ORDER BY seq`).all() as Array<Record<string, unknown> & { seq: number; event_id: string; json: string }>;
    if (templates.length === 0) throw new Error("the binding projected no events to copy");
    const epcsOf = db.prepare(`SELECT epc, kind FROM event_epcs WHERE seq = ?`);
    const viewersOf = db.prepare(`SELECT viewer FROM event_viewers WHERE seq = ?`);
    const keys = templates.map((t) => ({ epcs: epcsOf.all(t.seq) as Array<{ epc: string; kind: number }>, viewers: (viewersOf.all(t.seq) as Array<{ viewer: string }>).map((v) => v.viewer) }));
    const insertEvent = db.prepare(
      `INSERT INTO events (event_id, type, event_time, record_time, action, biz_step, disposition, read_point, biz_location, batch_id, block_number, log_index, json)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    );
    const insertEpc = db.prepare(`INSERT OR IGNORE INTO event_epcs (epc, kind, seq) VALUES (?, ?, ?)`);
    const insertViewer = db.prepare(`INSERT OR IGNORE INTO event_viewers (viewer, seq) VALUES (?, ?)`);
    const present = (db.prepare(`SELECT count(*) AS n FROM events`).get() as { n: number }).n;
    const copies = Math.max(0, total - present);
    const chunk = db.transaction((from: number, to: number) => {
      for (let i = from; i < to; i++) {
        const t = templates[i % templates.length]!;
        const id = `urn:uuid:${crypto.randomUUID()}`;
        const json = t.json.replace(JSON.stringify(t.event_id), JSON.stringify(id));
        const r = insertEvent.run(id, t.type, t.event_time, t.record_time, t.action, t.biz_step, t.disposition, t.read_point, t.biz_location, t.batch_id, t.block_number, t.log_index, json);
        const seq = Number(r.lastInsertRowid);
        const k = keys[i % templates.length]!;
        for (const e of k.epcs) insertEpc.run(e.epc, e.kind, seq);
        for (const v of k.viewers) insertViewer.run(v, seq);
      }
    });
    for (let i = 0; i < copies; i += 2_000) chunk(i, Math.min(copies, i + 2_000));
    return { copies, templates: templates.length };
  } finally {
    db.close();
  }
}

/**
 * Pages through GET `path` (EPCIS events) following the Link header's next URL; returns the
 * events read, the pages and the time from the first request to the last answer's body.
 */
export async function pageThrough(base: string, path: string, headers: Record<string, string>): Promise<{ events: number; pages: number; ms: number; pageMs: number[] }> {
  const started = performance.now();
  let url: string | undefined = path;
  let events = 0;
  let pages = 0;
  const pageMs: number[] = [];
  while (url) {
    const t0 = performance.now();
    const res = await fetch(base + url, { headers });
    const text = await res.text();
    pageMs.push(performance.now() - t0);
    if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${text.slice(0, 500)}`);
    const doc = JSON.parse(text) as { epcisBody: { queryResults: { resultsBody: { eventList: unknown[] } } } };
    events += doc.epcisBody.queryResults.resultsBody.eventList.length;
    pages++;
    const next = /<([^>]+)>;\s*rel="next"/.exec(res.headers.get("link") ?? "");
    url = next ? next[1]!.replace(/^https?:\/\/[^/]+/, "") : undefined;
  }
  return { events, pages, ms: performance.now() - started, pageMs };
}
