import { expect } from "chai";
import { buildSerialTree } from "../../api/domain/merkle";
import { referenceHashOf } from "../../api/epcis/capture/planner";
import type { JsonObject } from "../../api/domain/epcis-hash";
import { compareWithEpcis2 } from "../fixtures/epcis/reference-hash";
import {
  account,
  AUDITOR_KEY,
  capture,
  captureAndWait,
  commissioning,
  destroying,
  dispensing,
  document,
  glnOf,
  GTIN,
  packing,
  projected,
  receiving,
  sgtin,
  shipping,
  sscc,
  ssccUri,
  startEpcisStack,
  token,
  until,
  waitForJob,
  type EpcisStack,
} from "./fixture";

const SERIALS = Array.from({ length: 20 }, (_, i) => `P1-${String(i).padStart(3, "0")}`);
const CASES = [sscc(101), sscc(102), sscc(103), sscc(104)];
const PALLETS = [sscc(201, 1), sscc(202, 1)];
const LOT = "EPCIS-L1";

describe("EPCIS capture: an ERP's events become its on-chain actions", function () {
  this.timeout(180_000);
  let stack: EpcisStack;
  let batchId: bigint;

  before(async () => {
    stack = await startEpcisStack();
  });
  after(async () => {
    await stack?.close();
  });

  describe("the commission → pack → ship → receive → dispense story", () => {
    it("commissions 20 packs in 4 cases on 2 pallets: one mint with the serial root and the packing layout", async () => {
      const doc = document([
        commissioning("c-1", "producer", LOT, SERIALS),
        ...CASES.map((c, k) => packing(`pk-${k}`, "producer", ssccUri(c), SERIALS.slice(k * 5, k * 5 + 5).map((s) => sgtin(s)))),
        packing("pl-0", "producer", ssccUri(PALLETS[0]!), [ssccUri(CASES[0]!), ssccUri(CASES[1]!)]),
        packing("pl-1", "producer", ssccUri(PALLETS[1]!), [ssccUri(CASES[2]!), ssccUri(CASES[3]!)]),
      ]);
      const res = await capture(stack.app, stack.keys.producer, doc);
      expect(res.statusCode, res.body).to.equal(202);
      expect(res.headers.location).to.match(/^\/epcis\/capture\/[0-9a-f-]{36}$/);
      const job = await waitForJob(stack, "producer", res.headers.location as string);
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
      expect(job.events.map((e) => e.state)).to.deep.equal(Array(7).fill("mined"));
      expect(job.events.slice(1).map((e) => e.partOf)).to.deep.equal(Array(6).fill(0));
      expect(job.events[0]!.actions.map((a) => a.action)).to.deep.equal(["mint"]);

      batchId = await token(stack).batchIdOf(BigInt(GTIN), LOT);
      expect(batchId).to.be.greaterThan(0n);
      const b = await token(stack).batch(batchId);
      expect(b.producer).to.equal(account("producer"));
      expect(b.serialCount).to.equal(20n);
      expect(b.unitsPerCase).to.equal(5n);
      expect(b.casesPerPallet).to.equal(2n);
      expect(b.serialsRoot).to.equal(buildSerialTree(SERIALS).root);
    });

    it("ships pallet 0 by its SSCC with a despatch advice: the shipment carries the pallet and the documents' hash", async () => {
      const docs = [{ type: "desadv", bizTransaction: `urn:epcglobal:cbv:bt:${glnOf("producer")}:DA-4711` }];
      const job = await captureAndWait(stack, "producer", document([shipping("s-1", "producer", "distributor", [ssccUri(PALLETS[0]!)], docs)]));
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
      const t = token(stack);
      const created = (await t.queryFilter(t.filters.ShipmentCreated(batchId))).map((l) => l.args);
      expect(created).to.have.length(1);
      expect(created[0]!.receiver).to.equal(account("distributor"));
      expect(created[0]!.quantity).to.equal(10n);
      expect(created[0]!.items.map((i) => [Number(i.kind), Number(i.start), Number(i.count)])).to.deep.equal([[2, 0, 1]]);
      expect(created[0]!.referenceHash).to.equal(referenceHashOf([{ type: "desadv", uri: docs[0]!.bizTransaction }]));
    });

    it("the distributor receives the pallet: the pending shipment is accepted", async () => {
      await projected(stack);
      const job = await captureAndWait(stack, "distributor", document([receiving("r-1", "distributor", [ssccUri(PALLETS[0]!)])]));
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
      expect(job.events[0]!.actions.map((a) => a.action)).to.deep.equal(["accept"]);
      expect(await token(stack).balanceOf(account("distributor"), batchId)).to.equal(10n);
    });

    it("the distributor picks 3 packs out of case 0 for the pharmacy, which receives them", async () => {
      await projected(stack);
      const picked = SERIALS.slice(0, 3).map((s) => sgtin(s));
      expect((await captureAndWait(stack, "distributor", document([shipping("s-2", "distributor", "pharmacy", picked)]))).success).to.equal(true);
      await projected(stack);
      expect((await captureAndWait(stack, "pharmacy", document([receiving("r-2", "pharmacy", picked)]))).success).to.equal(true);
      expect(await token(stack).balanceOf(account("pharmacy"), batchId)).to.equal(3n);
    });

    it("the pharmacy dispenses one pack: the relay lands the dispense with the pack's proof", async () => {
      await projected(stack);
      const job = await captureAndWait(stack, "pharmacy", document([dispensing("d-1", "pharmacy", [sgtin(SERIALS[1]!)])]));
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
      const [state] = await token(stack).packState(batchId, 0, 1);
      expect(Number(state)).to.equal(4); // Dispensed
      const t = token(stack);
      expect(await t.queryFilter(t.filters.UnitDispensed(batchId))).to.have.length(1);
    });

    it("finds the story in the query interface: the dispense by its SGTIN, the shipments by bizStep", async () => {
      await projected(stack);
      const q = (url: string, key = stack.keys.pharmacy) => stack.app.inject({ method: "GET", url, headers: { "x-api-key": key } });
      const byEpc = await q(`/epcis/events?MATCH_epc=${encodeURIComponent(sgtin(SERIALS[1]!))}`);
      expect(byEpc.statusCode, byEpc.body).to.equal(200);
      const events = byEpc.json().epcisBody.queryResults.resultsBody.eventList as Array<Record<string, unknown>>;
      expect(events.map((e) => e.bizStep)).to.include("dispensing");
      const shipped = (await q("/epcis/events?EQ_bizStep=shipping|receiving", stack.keys.distributor)).json().epcisBody.queryResults.resultsBody.eventList as Array<Record<string, unknown>>;
      expect(shipped.map((e) => e.bizStep)).to.deep.equal(["shipping", "receiving", "shipping", "receiving"]);
      const one = await q(`/epcis/events/${encodeURIComponent(String(events[events.length - 1]!.eventID))}`);
      expect(one.statusCode).to.equal(200);
      expect(one.json().eventID).to.equal(events[events.length - 1]!.eventID);
    });
  });

  describe("eventIDs: the CBV 2.0 event hash as the reference implementation computes it", () => {
    it("every event the binding serves has the eventID epcis2.js computes (the documented source/destination order aside)", async () => {
      await projected(stack);
      const res = await stack.app.inject({ method: "GET", url: "/epcis/events?perPage=1000", headers: { "x-api-key": AUDITOR_KEY } });
      expect(res.statusCode, res.body).to.equal(200);
      const doc = res.json();
      const events = doc.epcisBody.queryResults.resultsBody.eventList as JsonObject[];
      const r = compareWithEpcis2(events, doc["@context"]);
      expect(r.mismatches, JSON.stringify(r.mismatches, null, 1)).to.deep.equal([]);
      expect(r.compared).to.be.greaterThan(10);
      expect(r.identical + r.listOrderOnly).to.equal(r.compared);
      expect([...new Set(events.map((e) => e.type))]).to.include.members(["ObjectEvent", "AggregationEvent"]);
    });
  });

  describe("visibility per role", () => {
    it("members see the events of packs they held, the regulator its jurisdiction, the auditor everything, the public nothing", async () => {
      await projected(stack);
      const ids = async (key?: string) => {
        const res = await stack.app.inject({ method: "GET", url: "/epcis/events?perPage=1000", headers: key ? { "x-api-key": key } : {} });
        return res.statusCode === 200 ? (res.json().epcisBody.queryResults.resultsBody.eventList as Array<{ eventID: string; bizStep?: string }>) : res.statusCode;
      };
      expect(await ids()).to.equal(401);
      const all = (await ids(AUDITOR_KEY)) as Array<{ eventID: string; bizStep?: string }>;
      const regulator = (await ids(stack.keys.regulator)) as typeof all; // DE: the product's market
      const distributor = (await ids(stack.keys.distributor)) as typeof all;
      const pharmacy2 = (await ids(stack.keys.pharmacy2)) as typeof all; // a member that never held any of it
      expect(all.length).to.be.greaterThan(10);
      expect(regulator.map((e) => e.eventID)).to.deep.equal(all.map((e) => e.eventID));
      expect(pharmacy2).to.deep.equal([]);
      expect(distributor.length).to.be.greaterThan(0).and.lessThan(all.length);
      expect(distributor.map((e) => e.bizStep)).to.not.include("dispensing"); // the pharmacy's own act
      const dispense = all.find((e) => e.bizStep === "dispensing")!;
      const one = await stack.app.inject({ method: "GET", url: `/epcis/events/${encodeURIComponent(dispense.eventID)}`, headers: { "x-api-key": stack.keys.distributor } });
      expect(one.statusCode).to.equal(404);
    });
  });

  describe("idempotency: a re-posted eventID is never applied twice", () => {
    it("answers a re-posted dispensing with the earlier capture, and the chain keeps one dispense", async () => {
      const doc = document([dispensing("d-1", "pharmacy", [sgtin(SERIALS[1]!)])]);
      const again = await capture(stack.app, stack.keys.pharmacy, doc);
      expect(again.statusCode, again.body).to.equal(202);
      const job = await waitForJob(stack, "pharmacy", again.headers.location as string);
      expect(job.events[0]!.duplicateOf).to.not.equal(null);
      expect(job.events[0]!.state).to.equal("mined");
      const t = token(stack);
      expect(await t.queryFilter(t.filters.UnitDispensed(batchId))).to.have.length(1);
    });

    it("re-posting a shipping document twice at once creates one shipment", async () => {
      await projected(stack);
      const doc = document([shipping("s-3", "distributor", "distributor2", [sgtin(SERIALS[5]!)])]);
      const [a, b] = await Promise.all([capture(stack.app, stack.keys.distributor, doc), capture(stack.app, stack.keys.distributor, doc)]);
      expect([a.statusCode, b.statusCode]).to.deep.equal([202, 202]);
      await waitForJob(stack, "distributor", a.headers.location as string);
      await waitForJob(stack, "distributor", b.headers.location as string);
      const t = token(stack);
      const toD2 = (await t.queryFilter(t.filters.ShipmentCreated(batchId, account("distributor"), account("distributor2")))).length;
      expect(toD2).to.equal(1);
    });
  });

  describe("whole-document refusal: a problem document naming the event and the field", () => {
    const refused = async (who: keyof EpcisStack["keys"], doc: object, status: number, code: string, index: number, field: string) => {
      const before = stack.app.relay.outbox.counts();
      const res = await capture(stack.app, stack.keys[who], doc);
      expect(res.statusCode, res.body).to.equal(status);
      expect(res.headers["content-type"]).to.match(/^application\/problem\+json/);
      const body = res.json();
      expect(body.type).to.match(/^epcisException:/);
      const err = (body.errors as Array<{ eventIndex: number; eventID: string; field: string; code: string; hint: string }>).find((e) => e.code === code);
      expect(err, res.body).to.not.equal(undefined);
      expect(err!.eventIndex).to.equal(index);
      expect(err!.eventID).to.be.a("string");
      expect(err!.field).to.equal(field);
      expect(err!.hint).to.be.a("string").and.not.equal("");
      const after = stack.app.relay.outbox.counts();
      expect(after.queued + after.submitted + after.mined + after.failed).to.equal(before.queued + before.submitted + before.mined + before.failed);
    };
    const okShip = () => shipping(`ok-${Math.random()}`, "distributor", "distributor2", [sgtin(SERIALS[6]!)]);

    it("refuses a document failing GS1's schema (event 1's action)", async () => {
      const bad = { ...(shipping("x-1", "distributor", "distributor2", [sgtin(SERIALS[7]!)]) as Record<string, unknown>), action: "SHIP" };
      await refused("distributor", document([okShip(), bad]), 400, "SCHEMA_INVALID", 1, "/action");
    });
    it("refuses an EPC no batch has", async () => {
      await refused("distributor", document([okShip(), shipping("x-2", "distributor", "distributor2", [sgtin("NOPE-1")])]), 422, "EPC_UNKNOWN", 1, "/epcList/0");
    });
    it("refuses packs the member does not hold", async () => {
      await refused("distributor", document([okShip(), shipping("x-3", "distributor", "distributor2", [sgtin(SERIALS[15]!)])]), 422, "NOT_HELD", 1, "/epcList");
    });
    it("refuses a pack shipped twice within the document", async () => {
      await refused("distributor", document([shipping("x-4a", "distributor", "distributor2", [sgtin(SERIALS[8]!)]), shipping("x-4b", "distributor", "pharmacy", [sgtin(SERIALS[8]!)])]), 422, "NOT_HELD", 1, "/epcList");
    });
    it("refuses another member's location", async () => {
      const ev = { ...(okShip() as Record<string, unknown>), readPoint: { id: `https://id.gs1.org/414/${glnOf("pharmacy")}` } };
      await refused("distributor", document([okShip(), ev]), 422, "NOT_YOUR_LOCATION", 1, "/readPoint/id");
    });
    it("refuses a receiver that is no member", async () => {
      const ev = { ...(okShip() as Record<string, unknown>), destinationList: [{ type: "owning_party", destination: "https://id.gs1.org/417/4000000000007" }] };
      await refused("distributor", document([okShip(), ev]), 422, "RECEIVER_UNKNOWN", 1, "/destinationList/0/destination");
    });
    it("refuses a product nobody registered, and a distributor commissioning", async () => {
      await refused("producer", document([commissioning("x-5", "producer", "L-X5", ["Z1"]).valueOf() as object, { ...(commissioning("x-6", "producer", "L-X6", ["Z2"]) as Record<string, unknown>), epcList: ["https://id.gs1.org/01/09506000134369/21/Z2"] }]), 422, "PRODUCT_UNKNOWN", 1, "/epcList/0");
      await refused("distributor", document([commissioning("x-7", "distributor", "L-X7", ["Z3"])]), 422, "ROLE_NOT_ALLOWED", 0, "/bizStep");
    });
    it("refuses the same eventID twice in a document, and an event the ledger does not take", async () => {
      const ev = okShip();
      await refused("distributor", document([ev, ev]), 422, "DUPLICATE_EVENT_ID", 1, "/eventID");
      const observe = { ...(okShip() as Record<string, unknown>), bizStep: "inspecting" };
      await refused("distributor", document([okShip(), observe]), 422, "EVENT_NOT_SUPPORTED", 1, "/bizStep");
    });
    it("refuses irregular packing and packing without its commissioning", async () => {
      // Cases of 3, 1 and 2 packs: two partial cases (a 4 + 1 split would be regular: the partial case last).
      const s = ["Q-1", "Q-2", "Q-3", "Q-4", "Q-5", "Q-6"];
      await refused(
        "producer",
        document([
          commissioning("x-8", "producer", "L-X8", s),
          packing("x-8a", "producer", ssccUri(sscc(301)), s.slice(0, 3).map((x) => sgtin(x))),
          packing("x-8b", "producer", ssccUri(sscc(302)), [sgtin(s[3]!)]),
          packing("x-8c", "producer", ssccUri(sscc(304)), s.slice(4).map((x) => sgtin(x))),
        ]),
        422,
        "PACKING_IRREGULAR",
        1,
        "/childEPCs",
      );
      await refused("producer", document([packing("x-9", "producer", ssccUri(sscc(303)), [sgtin(SERIALS[19]!)])]), 422, "PACKING_WITHOUT_COMMISSIONING", 0, "/parentID");
    });
    it("refuses a receiving that names only part of a pending shipment", async () => {
      await projected(stack);
      await captureAndWait(stack, "distributor", document([shipping("s-4", "distributor", "pharmacy", [sgtin(SERIALS[8]!), sgtin(SERIALS[9]!)])]));
      await projected(stack);
      await refused("pharmacy", document([receiving("x-10", "pharmacy", [sgtin(SERIALS[8]!)])]), 422, "NO_MATCHING_SHIPMENT", 0, "/epcList");
    });
    it("answers 401 without a key and 403 to an auditor, as problem documents", async () => {
      const none = await stack.app.inject({ method: "POST", url: "/epcis/capture", payload: document([okShip()]) });
      expect(none.statusCode).to.equal(401);
      expect(none.json().code).to.equal("API_KEY_REQUIRED");
      const auditor = await stack.app.inject({ method: "POST", url: "/epcis/capture", headers: { "x-api-key": "auditor-read-key-for-epcis-tests" }, payload: document([okShip()]) });
      expect(auditor.statusCode).to.equal(403);
    });
  });

  describe("receiving as a rejection, and destroying", () => {
    it("a receiving with disposition damaged rejects the shipment: the packs go back to the sender", async () => {
      await projected(stack);
      const job = await captureAndWait(stack, "pharmacy", document([receiving("rj-1", "pharmacy", [sgtin(SERIALS[8]!), sgtin(SERIALS[9]!)], "damaged")]));
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
      expect(job.events[0]!.actions.map((a) => a.action)).to.deep.equal(["reject"]);
      const t = token(stack);
      const rejected = await t.queryFilter(t.filters.ShipmentRejected(batchId));
      expect(rejected.map((r) => Number(r.args.reason))).to.deep.equal([1]); // Damaged
    });
    it("a destroying event decommissions the packs as Destroyed", async () => {
      await projected(stack);
      const job = await captureAndWait(stack, "distributor", document([destroying("ds-1", "distributor", [sgtin(SERIALS[9]!)])]));
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
      const [state] = await token(stack).packState(batchId, 0, 9);
      expect(Number(state)).to.equal(5); // Destroyed
    });
  });

  describe("a contract refusal after acceptance is the event's outcome", () => {
    it("reports failed with the contract's error when the chain refuses (the relay's simulation)", async () => {
      // The planner lets it through (the pharmacy holds the pack, the producer holds stock), but
      // the flow table has no Pharmacy → Producer flow: the relay's simulation refuses it.
      await projected(stack);
      const res = await capture(stack.app, stack.keys.pharmacy, document([shipping("f-1", "pharmacy", "producer", [sgtin(SERIALS[0]!)])]));
      expect(res.statusCode, res.body).to.equal(202);
      const job = await waitForJob(stack, "pharmacy", res.headers.location as string);
      expect(job.success).to.equal(false);
      expect(job.events[0]!.state).to.equal("failed");
      const err = job.events[0]!.actions[0]!.error as { code: string; details?: { error?: string } };
      expect(err.code).to.equal("CALL_REVERTED");
      expect(err.details?.error).to.match(/^BatchToken/);
    });
  });

  describe("restart of the service side", () => {
    it("resumes a capture job after a restart, and applies it once", async () => {
      await projected(stack);
      const res = await capture(stack.app, stack.keys.distributor, document([shipping("rs-1", "distributor", "distributor2", [sgtin(SERIALS[7]!)])]));
      expect(res.statusCode, res.body).to.equal(202);
      await stack.restart();
      const job = await waitForJob(stack, "distributor", res.headers.location as string);
      expect(job.success, JSON.stringify(job.errors)).to.equal(true);
      await until("the shipment on chain", 10_000, async () => {
        const t = token(stack);
        return (await t.queryFilter(t.filters.ShipmentCreated(batchId, account("distributor"), account("distributor2")))).length === 2;
      });
      const t = token(stack);
      expect(await t.queryFilter(t.filters.ShipmentCreated(batchId, account("distributor"), account("distributor2")))).to.have.length(2);
    });
  });
});
