import type { IncomingMessage, Server } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer, type WebSocket } from "ws";
import { Problem, problemBody } from "./problem";
import { queryDocument, queryPage, type EventFilter } from "./query";
import { ownerOf, visibilityOfOwner, type EpcisService } from "./service";
import type { AppendedBatch } from "./projector";

/**
 * WebSocket subscriptions (GS1 OpenAPI: `GET /queries/{queryName}/events` with `Upgrade:
 * websocket`): the upgrade request carries the API key (X-API-Key); the stream starts after the
 * newest event (or at `?initialRecordTime=`) and sends every new matching event, in ledger order,
 * as EPCISQueryDocument text messages of up to 100 events. A socket whose client does not read
 * (more than 4 MB buffered) is closed (1013) rather than buffered without bound; the client
 * reconnects with `initialRecordTime` and dedupes by eventID.
 */
export function attachWebSocket(server: Server, service: EpcisService, log?: { warn(obj: unknown, msg?: string): void }): () => Promise<void> {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 4096 });
  const path = new RegExp(`^${service.prefix.replace(/\//g, "\\/")}/queries/([A-Za-z0-9_.-]{1,64})/events$`);
  const sockets = new Set<WebSocket>();

  const refuse = (socket: Duplex, p: Problem) => {
    const body = JSON.stringify(problemBody(p));
    const reason = { 401: "Unauthorized", 404: "Not Found", 400: "Bad Request" }[p.status] ?? "Error";
    socket.end(`HTTP/1.1 ${p.status} ${reason}\r\ncontent-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  };

  const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
    const url = new URL(request.url ?? "/", "http://x");
    const m = path.exec(url.pathname);
    if (!m) return; // another upgrade handler's, or nobody's
    const p = service.auth.authenticate(request.headers);
    if (!p || "error" in p) {
      return refuse(socket, new Problem(401, "SecurityException", p ? p.error : "API_KEY_REQUIRED", p ? p.detail : "the stream serves consortium members and auditors only", "send X-API-Key on the upgrade request"));
    }
    const owner = ownerOf(p);
    const q = service.store.query(owner, m[1]!);
    if (!q) return refuse(socket, new Problem(404, "NoSuchNameException", "QUERY_NOT_FOUND", `you have no named query ${m[1]}`, "create it with POST /queries"));
    let cursor = service.store.maxSeq();
    const initial = url.searchParams.get("initialRecordTime");
    if (initial !== null) {
      const t = Date.parse(initial);
      if (Number.isNaN(t)) return refuse(socket, new Problem(400, "SubscriptionControlsException", "INITIAL_RECORD_TIME_INVALID", `initialRecordTime "${initial}" is not a date-time`, "give an RFC 3339 date-time"));
      const first = service.store.db.prepare(`SELECT min(seq) AS s FROM events WHERE record_time >= ?`).get(t) as { s: number | null };
      if (first.s !== null) cursor = first.s - 1;
    }
    wss.handleUpgrade(request, socket, head, (ws) => {
      sockets.add(ws);
      let sending = false;
      const filter = q.params as EventFilter;
      const pump = async () => {
        if (sending) return;
        sending = true;
        try {
          const visibility = await visibilityOfOwner(service.directory, owner);
          for (;;) {
            if (ws.readyState !== 1) return;
            if (ws.bufferedAmount > 4 * 1024 * 1024) {
              ws.close(1013, "client too slow: reconnect with initialRecordTime");
              return;
            }
            const max = service.store.maxSeq();
            const page = queryPage(service.store, filter, visibility, cursor, max, 100);
            if (page.events.length === 0) {
              cursor = max;
              return;
            }
            ws.send(queryDocument(page.events, q.name));
            cursor = page.lastSeq;
          }
        } catch (err) {
          log?.warn({ err: (err as Error).message }, "EPCIS WebSocket: send failed");
        } finally {
          sending = false;
        }
      };
      const onAppended = (_b: AppendedBatch) => void pump();
      service.projector.on("appended", onAppended);
      ws.on("close", () => {
        sockets.delete(ws);
        service.projector.off("appended", onAppended);
      });
      ws.on("error", () => ws.terminate());
      void pump();
    });
  };
  server.on("upgrade", onUpgrade);
  return async () => {
    server.off("upgrade", onUpgrade);
    for (const ws of sockets) ws.close(1001, "service closing");
    await new Promise<void>((resolve) => wss.close(() => resolve()));
  };
}
