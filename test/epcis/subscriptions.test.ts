import crypto from "node:crypto";
import http from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { expect } from "chai";
import { captureAndWait, commissioning, document, projected, sgtin, shipping, receiving, startEpcisStack, until, type EpcisStack } from "./fixture";

/**
 * Webhook subscriptions across restarts of both sides: a receiver that dies mid-stream without
 * answering a delivery it had read, stays down (connections refused) while events go on and the
 * service restarts, and comes back on the same port. The receiver dedupes by eventID, as the binding documents; what it keeps
 * must be every event the subscription's query sees, each once, in ledger order.
 */

const SECRET = "webhook-secret-for-the-epcis-tests";

class Receiver {
  server: http.Server | undefined;
  port = 0;
  /** Every delivered eventID, in arrival order, duplicates included. */
  arrivals: string[] = [];
  /** First arrivals only: what the receiver keeps. */
  kept: string[] = [];
  badSignatures = 0;
  /** Read the next delivery, then die without answering (a lost acknowledgement). */
  dieOnNext = false;
  private sockets = new Set<Socket>();

  async start(port = 0): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks);
        const expected = "sha256=" + crypto.createHmac("sha256", SECRET).update(body).digest("hex");
        if (req.headers["gs1-signature"] !== expected) {
          this.badSignatures++;
          res.writeHead(401).end();
          return;
        }
        const doc = JSON.parse(body.toString("utf8")) as { epcisBody: { queryResults: { resultsBody: { eventList: Array<{ eventID: string }> } } } };
        const ids = doc.epcisBody.queryResults.resultsBody.eventList.map((e) => e.eventID);
        this.arrivals.push(...ids);
        for (const id of ids) if (!this.kept.includes(id)) this.kept.push(id);
        if (this.dieOnNext) {
          this.dieOnNext = false;
          void this.kill();
          return;
        }
        res.writeHead(204).end();
      });
    });
    this.server.on("connection", (s) => {
      this.sockets.add(s);
      s.on("close", () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve) => this.server!.listen(port, "127.0.0.1", resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  /** Dies: stops listening and drops every open connection. */
  async kill(): Promise<void> {
    const s = this.server;
    this.server = undefined;
    if (!s) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
}

describe("EPCIS webhook subscriptions: exactly once, in order, across restarts of either side", function () {
  this.timeout(240_000);
  let stack: EpcisStack;
  const receiver = new Receiver();

  before(async () => {
    stack = await startEpcisStack({ EPCIS_WEBHOOK_BATCH: "3" });
    await receiver.start();
  });
  after(async () => {
    await receiver.kill();
    await stack?.close();
  });

  const producerEvents = async (): Promise<string[]> => {
    const ids: string[] = [];
    let url: string | undefined = "/epcis/events?perPage=100";
    while (url) {
      const res = await stack.app.inject({ method: "GET", url, headers: { "x-api-key": stack.keys.producer } });
      expect(res.statusCode, res.body).to.equal(200);
      ids.push(...(res.json().epcisBody.queryResults.resultsBody.eventList as Array<{ eventID: string }>).map((e) => e.eventID));
      const next = /<([^>]+)>;\s*rel="next"/.exec(String(res.headers.link ?? ""));
      url = next ? next[1]!.replace(/^https?:\/\/[^/]+/, "") : undefined;
    }
    return ids;
  };

  it("delivers every event once in order when the receiver dies after reading a delivery and the service restarts while it is down", async () => {
    const named = await stack.app.inject({ method: "POST", url: "/epcis/queries", headers: { "x-api-key": stack.keys.producer }, payload: { name: "all-mine", query: {} } });
    expect(named.statusCode, named.body).to.equal(201);
    const sub = await stack.app.inject({
      method: "POST",
      url: "/epcis/queries/all-mine/subscriptions",
      headers: { "x-api-key": stack.keys.producer },
      payload: { dest: `http://127.0.0.1:${receiver.port}/hook`, signatureToken: SECRET, stream: true, initialRecordTime: "2000-01-01T00:00:00Z" },
    });
    expect(sub.statusCode, sub.body).to.equal(201);

    // Batch 1: a commissioning of 8 packs (one EPCIS event per ledger event the mapping writes).
    const serials = Array.from({ length: 8 }, (_, i) => `W-${i}`);
    await captureAndWait(stack, "producer", document([commissioning("w-c", "producer", "WEBHOOK-L1", serials)]));
    await projected(stack);
    await until("the first deliveries", 20_000, () => receiver.kept.length > 0);

    // The receiver reads the next delivery and dies without answering; meanwhile more events.
    receiver.dieOnNext = true;
    await captureAndWait(stack, "producer", document([shipping("w-s1", "producer", "distributor", serials.slice(0, 4).map((s) => sgtin(s)))]));
    await captureAndWait(stack, "producer", document([shipping("w-s2", "producer", "distributor2", serials.slice(4).map((s) => sgtin(s)))]));
    await projected(stack);
    await until("the receiver to die", 20_000, () => receiver.server === undefined);

    // The service restarts while the receiver is down; more events land meanwhile.
    await stack.restart({ EPCIS_WEBHOOK_BATCH: "3" });
    await captureAndWait(stack, "distributor", document([receiving("w-r1", "distributor", serials.slice(0, 4).map((s) => sgtin(s)))]));
    await projected(stack);

    // The receiver comes back on the same port.
    await receiver.start(receiver.port);
    const expected = await producerEvents();
    expect(expected.length).to.be.at.least(4);
    await until("every event at the receiver", 60_000, () => receiver.kept.length >= expected.length);

    expect(receiver.badSignatures).to.equal(0);
    expect(receiver.kept, "every event once, in ledger order").to.deep.equal(expected);
    // The delivery the receiver died on came again (at-least-once on the wire), and nothing else repeated.
    const repeats = receiver.arrivals.length - receiver.kept.length;
    expect(repeats).to.be.greaterThan(0).and.at.most(3);
    // The service records the last delivery once the receiver's 200 is back, a moment after the
    // receiver kept the events: the failure count returns to 0 then (not asserted at the same instant).
    const subscription = async () =>
      (await stack.app.inject({ method: "GET", url: `/epcis/queries/all-mine/subscriptions/${sub.json().subscriptionID}`, headers: { "x-api-key": stack.keys.producer } })).json() as { failures: number };
    await until("the subscription to record the successful delivery", 20_000, async () => (await subscription()).failures === 0);
    expect((await subscription()).failures).to.equal(0);
  });
});
