import { expect } from "chai";
import { contextFromEvents, toEpcisDocument, type EpcisContext } from "../../api/domain/epcis";
import { domainMapping } from "../../api/epcis/adapters/mapping";
import { LedgerState } from "../../api/epcis/ledger-state";
import type { MappingContext } from "../../api/epcis/ports";
import { BASE_CONTEXT, EVENTS } from "../domain/ledger-scenario";

const SETTLING = new Set(["ShipmentAccepted", "ShipmentRejected", "ShipmentCancelled", "ShipmentRecovered"]);

describe("EPCIS binding: LedgerState", function () {
  it("keeps the facts of open shipments only, yet maps every settlement from them as the whole-ledger mapping does", function () {
    const state = new LedgerState();
    const ctx = { ...BASE_CONTEXT, batches: (id: string) => state.batch(id), shipmentOf: (id: string) => state.shipments.get(id), openQuarantinesAfter: (id: string) => state.quarantinesOf(id) };
    const projected: string[] = [];
    let settlements = 0;
    let settled: string | undefined;
    for (const e of EVENTS) {
      state.apply(e);
      // The shipment the previous event settled is gone once the next event is applied.
      if (settled !== undefined) expect(state.shipments.has(settled), `shipment ${settled} after the event that followed its settlement`).to.equal(false);
      settled = undefined;
      // The projector maps an event right after applying it: a settlement still finds its shipment.
      const mapped = domainMapping([e], ctx as unknown as MappingContext);
      projected.push(...mapped.map((m) => m.eventID));
      if (SETTLING.has(e.name)) {
        settlements++;
        expect(mapped.length, `${e.name} of shipment ${e.args.shipmentId}`).to.be.greaterThan(0);
        settled = String(e.args.shipmentId);
      }
    }
    expect(settlements).to.be.greaterThan(3);
    // What is left is what is still in transit, and nothing else.
    const open = new Set<string>();
    for (const e of EVENTS) {
      if (e.name === "ShipmentCreated") open.add(String(e.args.shipmentId));
      if (SETTLING.has(e.name)) open.delete(String(e.args.shipmentId));
    }
    if (settled !== undefined) open.add(settled); // the last event settled it; the next apply drops it
    expect([...state.shipments.keys()].sort()).to.deep.equal([...open].sort());
    // Event by event over the state, the same EPCIS events as the whole ledger in one document.
    const whole = toEpcisDocument(EVENTS, contextFromEvents(EVENTS, BASE_CONTEXT) as EpcisContext).epcisBody.eventList.map((ev) => String((ev as { eventID: string }).eventID));
    expect(projected).to.deep.equal(whole);
  });
});
