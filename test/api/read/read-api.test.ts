import { expect } from "chai";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { FastifyInstance } from "fastify";
import { fetchLedgerEvents } from "../../../api/chain/logs";
import { CSV_COLUMNS, ledgerActionOf } from "../../../api/domain/epcis";
import { replayBatch } from "../../../api/domain/custody";
import { withCheckDigit } from "../../../api/domain/gs1";
import { readLedgerRange } from "../../../api/read/chain-reader";
import { CHAIN_VERDICTS, VERDICTS, wording } from "../../../api/read/verification";
import { historySchema, packHistorySchema, verificationSchema } from "../../../api/read/schemas";
import { epcisValidator } from "../../fixtures/epcis/validator";
import { compareWithEpcis2 } from "../../fixtures/epcis/reference-hash";
import { code, EXPIRY_DAY, EXPIRY_YYMMDD, GTIN, GTIN2, indexed, PACKING_E, SERIALS, startReadFixture, uploadPacking, uploadSerials, type ReadFixture } from "./read-fixture";

describe("read side over a real anvil node (indexer, queries, packs, verification, exports, audit)", function () {
  this.timeout(180_000);
  let f: ReadFixture;
  let app: FastifyInstance;
  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: "GET", url, headers });
  const scan = (c: string) => get(`/v1/verify/scan?code=${encodeURIComponent(c)}`);
  const addr = (role: Parameters<ReadFixture["wallet"]>[0]) => f.wallet(role).address;

  before(async function () {
    f = await startReadFixture();
    app = await f.app();
    await indexed(app, f);
  });
  after(async () => f?.close());

  describe("the indexer", function () {
    it("stores exactly the ledger events the chain logged (the fast decoder equals ethers'), with their chain coordinates", async function () {
      const fromChain = await fetchLedgerEvents(f.provider, f.addresses.batchToken);
      const stored = app.read.store.allEvents();
      expect(stored).to.deep.equal(fromChain);
      const names = new Set(stored.map((e) => e.name));
      for (const n of ["ProductRegistered", "ProductStatusChanged", "BatchMarkets", "BatchPacked", "ContainerUnpacked", "PacksDecommissioned", "PacksLocked", "UnitDispensed", "BatchRecalled", "BatchQuarantined"]) {
        expect(names, n).to.include(n);
      }
      expect(app.read.store.alertCount()).to.equal(0);
    });

    it("adds nothing when a block range is read a second time", async function () {
      const before = app.read.store.eventCount();
      const cp = app.read.store.checkpoint()!;
      const again = await readLedgerRange(f.provider, f.addresses.batchToken, 0, cp.block);
      expect(again.length).to.equal(before);
      expect(app.read.store.applyRange(again, cp)).to.equal(0);
      expect(app.read.store.eventCount()).to.equal(before);
    });

    it("resolves every pack exactly as PackBook replayed from the same events does", async function () {
      for (const id of Object.values(f.batches)) {
        const batch = app.read.store.batch(String(id))!;
        if (batch.serialCount === 0) continue;
        const replay = replayBatch(String(id), app.read.store.eventsOfBatch(String(id)));
        expect(replay.anomalies, `batch ${id}`).to.deep.equal([]);
        for (let u = 0; u < batch.serialCount; u++) expect(app.read.store.pack(batch, u), `batch ${id} pack ${u}`).to.deep.equal(replay.packs!.unit(u));
      }
    });

    it("follows new blocks: a batch minted now is queryable once its block is indexed", async function () {
      await f.mint("LATE-G", 3n);
      await indexed(app, f);
      const res = await get(`/v1/batches/lookup?gtin=${GTIN}&lot=LATE-G`);
      expect(res.statusCode).to.equal(200);
      expect(res.json().holders.map((h: { holder: string; quantity: string }) => [h.holder, h.quantity])).to.deep.equal([[addr("producer"), "3"]]);
    });

    it("resumes from its checkpoint after a restart without reading anything twice", async function () {
      const count = app.read.store.eventCount();
      const cp = app.read.store.checkpoint()!;
      const second = await f.app({ INDEXER_ENABLED: "false" });
      expect(second.read.store.checkpoint()).to.deep.equal(cp);
      expect(second.read.store.eventCount()).to.equal(count);
      const ready = await second.inject({ method: "GET", url: "/ready" });
      expect(ready.json().checks.indexer.ok).to.equal(true);
    });

    it("reports its progress in /ready and /v1/index/status, and its alerts to operators", async function () {
      const ready = await get("/ready");
      expect(ready.json().checks.indexer).to.include({ ok: true });
      const status = (await get("/v1/index/status")).json();
      expect(status.indexedBlock).to.equal(await f.head());
      expect(status.events).to.equal(app.read.store.eventCount());
      expect(status.alerts).to.equal(0);
      const alerts = (await get("/v1/index/alerts")).json();
      expect(alerts).to.deep.equal({ total: 0, alerts: [] });
    });

    it("learns members by account: index, role, GLN, jurisdiction and current key", async function () {
      const m = app.read.store.member(addr("pharmacy"))!;
      expect(m).to.include({ address: addr("pharmacy"), role: 3, jurisdiction: "DE", key: addr("pharmacy") });
      expect(m.index).to.be.greaterThan(0);
      expect(m.gln).to.match(/^\d{13}$/);
    });
  });

  describe("batches, holders and pending shipments", function () {
    it("returns a batch with status, markets, layout, holders with pack counts and pending shipments with items", async function () {
      const res = await get(`/v1/batches/${f.batches.A}`);
      expect(res.statusCode).to.equal(200);
      const b = res.json();
      expect(b).to.include({ gtin: GTIN, lot: "GENUINE-A", status: "Active", quantity: "5", serialCount: 5, dispensed: 1, serialised: true, productStatus: "Active" });
      expect(b.markets).to.deep.equal(["DE", "FR"]);
      const holders = Object.fromEntries(b.holders.map((h: { holder: string; packs: string }) => [h.holder, h.packs]));
      expect(holders).to.deep.equal({ [addr("distributor")]: "1", [addr("pharmacy")]: "2" });
      expect(b.pending).to.have.length(1);
      expect(b.pending[0]).to.include({ sender: addr("distributor"), receiver: addr("pharmacy2"), quantity: "1", kind: "Forward", isReturn: false });
      expect(b.pending[0].items).to.deep.equal([{ kind: "Units", start: 3, count: 1, firstUnit: 3, endUnit: 4, ssccs: [] }]);
      const created = app.read.store.eventsOfBatch(String(f.batches.A)).filter((e) => e.name === "ShipmentCreated").at(-1)!;
      expect(b.pending[0].createdAt).to.include({ txHash: created.txHash, logIndex: created.logIndex, blockNumber: created.blockNumber });
    });

    it("shows a packed batch's layout and who holds its sealed cases and pallets", async function () {
      const b = (await get(`/v1/batches/${f.batches.E}`)).json();
      expect(b.layout).to.include({ unitsPerCase: 4, casesPerPallet: 3, cases: 6, pallets: 2 });
      // Pallet 0 was opened by the distributor (a pick from case 1); pallet 1 is in transit.
      const d = b.holders.find((h: { holder: string }) => h.holder === addr("distributor"));
      // 24 − 12 in transit − packs 5, 6 (pharmacy) − 0, 1, 2, 7 (out of circulation) = 6 at the distributor (3, 4 loose; case 2 locked).
      expect(d).to.include({ packs: "6", sealedCases: 0, sealedPallets: 0 });
      expect(b.pending[0].items[0]).to.include({ kind: "Pallet", start: 1, count: 1, firstUnit: 12, endUnit: 24 });
    });

    it("names every quarantining jurisdiction with its regulator", async function () {
      const b = (await get(`/v1/batches/${f.batches.C}`)).json();
      expect(b.status).to.equal("Quarantined");
      expect(b.quarantines.map((q: { jurisdiction: string; regulator: string }) => [q.jurisdiction, q.regulator])).to.deep.equal([["DE", addr("regulator")]]);
    });

    it("finds the same batch by GTIN (any length) and lot, and says precisely when none exists", async function () {
      const byLot = await get(`/v1/batches/lookup?gtin=${GTIN.slice(1)}&lot=GENUINE-A`);
      expect(byLot.json().batchId).to.equal(String(f.batches.A));
      const none = await get(`/v1/batches/lookup?gtin=${GTIN}&lot=genuine-a`);
      expect(none.statusCode).to.equal(404);
      expect(none.json().error.code).to.equal("BATCH_NOT_FOUND");
      const bad = await get("/v1/batches/0");
      expect(bad.statusCode).to.equal(400);
      expect(bad.json().error.code).to.equal("VALIDATION_FAILED");
    });

    it("answers batch ids above 2^63 − 1 with 400 VALIDATION_FAILED naming the limit, never 500 (issue 15, Low)", async function () {
      // Batch ids are given in sequence from 1 on chain: one past the index's 64-bit integers cannot exist.
      for (const id of ["9223372036854775808", "18446744073709551615", "99999999999999999999"]) {
        for (const url of [`/v1/batches/${id}`, `/v1/batches/${id}/history`, `/v1/batches/${id}/packs/0`, `/v1/batches/${id}/events`, `/v1/batches/${id}/cases/0`]) {
          const res = await get(url);
          expect(res.statusCode, url).to.equal(400);
          expect(res.json().error.code, url).to.equal("VALIDATION_FAILED");
          expect(res.json().error.message, url).to.include("at most 9223372036854775807");
        }
      }
      expect((await get("/v1/batches/9223372036854775807")).statusCode).to.equal(404);
      expect((await get("/v1/batches/123456789012345678901")).statusCode).to.equal(400);
    });

    it("lists the custody chain and status history in chain order with block, time, tx hash and log index", async function () {
      const h = (await get(`/v1/batches/${f.batches.B}/history`)).json();
      // The route skips zod at serialization for speed: its answer must still be exactly the schema's shape.
      expect(historySchema.parse(h)).to.deep.equal(h);
      expect(h.custody.map((e: { event: string }) => e.event)).to.deep.equal(["BatchMinted", "BatchMarkets", "ShipmentCreated", "ShipmentAccepted", "BatchRecalled"]);
      for (const e of h.custody) {
        expect(e.txHash).to.match(/^0x[0-9a-f]{64}$/);
        expect(Date.parse(e.blockTime)).to.be.greaterThan(0);
      }
      const recall = h.statusHistory.find((e: { event: string }) => e.event === "BatchRecalled");
      expect(recall).to.include({ statusAfter: "Recalled", kind: "status" });
      const receipt = await f.provider.getTransactionReceipt(recall.txHash);
      expect(receipt!.blockNumber).to.equal(recall.blockNumber);
    });

    it("shows a member's holdings with pack counts and sealed containers, and its pending shipments in and out with items", async function () {
      const d = (await get(`/v1/members/${addr("distributor")}/holdings`)).json();
      expect(d).to.include({ role: "Distributor", jurisdiction: "DE", key: addr("distributor") });
      expect(d.index).to.be.greaterThan(0);
      expect(d.holdings.map((x: { lot: string; packs: string }) => `${x.lot}:${x.packs}`).sort()).to.deep.equal(["GENUINE-A:1", "PACKED-E:6", "RECALL-B:4"]);
      expect(d.pendingOut).to.have.length(1);
      expect(d.pendingIn.map((p: { items: Array<{ kind: string }> }) => p.items[0].kind)).to.deep.equal(["Pallet"]);
      const p = (await get(`/v1/members/${addr("producer").toLowerCase()}/holdings`)).json();
      const plain = p.holdings.find((x: { lot: string }) => x.lot === "PLAIN-D");
      expect(plain).to.include({ quantity: "10", packs: "0", sealedCases: 0 });
    });

    it("names who must act on recalled and quarantined batches", async function () {
      const all = (await get("/v1/alerts/holders")).json();
      expect(all.batches.map((b: { lot: string; status: string }) => `${b.lot}:${b.status}`).sort()).to.deep.equal(["QUAR-C:Quarantined", "RECALL-B:Recalled"]);
      const recalled = (await get("/v1/alerts/holders?status=Recalled")).json();
      expect(recalled.batches[0].holders.map((h: { holder: string; quantity: string }) => [h.holder, h.quantity])).to.deep.equal([[addr("distributor"), "4"]]);
    });

    it("lists products with owner and status, and one product by GTIN", async function () {
      const all = (await get("/v1/products")).json();
      expect(all.products.map((p: { gtin: string; status: string }) => `${p.gtin}:${p.status}`)).to.deep.equal([`${GTIN}:Active`, `${GTIN2}:Withdrawn`]);
      const one = (await get(`/v1/products/${GTIN2}`)).json();
      expect(one).to.include({ owner: addr("producer"), status: "Withdrawn" });
      expect(one.markets).to.deep.equal(["DE"]);
      expect((await get(`/v1/products/${withCheckDigit("0950600013499")}`)).statusCode).to.equal(404);
    });
  });

  describe("serial and packing lists", function () {
    it("refuses an upload signed by anyone but the batch's producer", async function () {
      const res = await uploadSerials(app, f, f.batches.A, SERIALS.A, f.wallet("distributor"));
      expect(res.statusCode).to.equal(403);
      expect(res.json().error.code).to.equal("SIGNATURE_NOT_PRODUCER");
      expect(res.json().error.details.message).to.match(/^medtrace: upload the serial list of a batch/);
    });

    it("refuses a list that does not build the on-chain root, or has the wrong count", async function () {
      // Signed over the on-chain commitment, so the signature is fine; the list is not.
      const signed = await app.inject({ method: "POST", url: `/v1/batches/${f.batches.A}/serials`, payload: { serials: [...SERIALS.A].reverse(), signature: await signedFor(f.batches.A) } });
      expect(signed.statusCode).to.equal(422);
      expect(signed.json().error.code).to.equal("SERIALS_ROOT_MISMATCH");
      const short = await app.inject({ method: "POST", url: `/v1/batches/${f.batches.A}/serials`, payload: { serials: SERIALS.A.slice(1), signature: await signedFor(f.batches.A) } });
      expect(short.json().error.code).to.equal("SERIALS_COUNT_MISMATCH");
      const dup = await app.inject({ method: "POST", url: `/v1/batches/${f.batches.A}/serials`, payload: { serials: ["A-0001", "A-0001", "A-0003", "A-0004", "A-0005"], signature: await signedFor(f.batches.A) } });
      expect(dup.statusCode).to.equal(400);
      expect(dup.json().error.code).to.equal("SERIAL_DUPLICATE");
    });

    it("stores the producer's list when it matches the root", async function () {
      for (const [id, serials] of [[f.batches.A, SERIALS.A], [f.batches.B, SERIALS.B], [f.batches.E, SERIALS.E], [f.batches.F, SERIALS.F]] as const) {
        const res = await uploadSerials(app, f, id, [...serials]);
        expect(res.statusCode, res.body).to.equal(201);
        expect(res.json()).to.include({ count: serials.length, producer: addr("producer") });
      }
    });

    it("stores a packing list whose SSCCs build the batch's packing root, and refuses others", async function () {
      const wrong = await uploadPacking(app, f, f.batches.E, { cases: [...PACKING_E.cases].reverse(), pallets: PACKING_E.pallets });
      expect(wrong.statusCode).to.equal(403); // its message names another root: not what the producer signed for
      const res = await uploadPacking(app, f, f.batches.E, PACKING_E);
      expect(res.statusCode, res.body).to.equal(201);
      expect(res.json()).to.include({ count: 8 });
      const plain = await uploadPacking(app, f, f.batches.A, PACKING_E);
      expect(plain.statusCode).to.equal(409);
      expect(plain.json().error.code).to.equal("BATCH_NOT_PACKED");
    });

    async function signedFor(batchId: bigint): Promise<string> {
      const { serialUploadMessage } = await import("../../../api/read/verification");
      const b = await f.token("producer").batch(batchId);
      return f.wallet("producer").signMessage(serialUploadMessage({ chainId: f.chainId, batchToken: f.addresses.batchToken, batchId, root: b.serialsRoot, count: Number(b.serialCount) }));
    }
  });

  describe("packs, cases, pallets and SSCCs", function () {
    it("returns a pack: state, holder, case and pallet with their SSCCs, and its serial", async function () {
      const p = (await get(`/v1/batches/${f.batches.E}/packs/5`)).json();
      expect(p).to.include({ unitIndex: 5, serial: SERIALS.E[5], state: "Stolen", holder: addr("pharmacy"), case: 1, pallet: 0, caseSscc: PACKING_E.cases[1], palletSscc: PACKING_E.pallets[0], detached: true });
      expect(p.since).to.match(/^\d{4}-\d{2}-\d{2}$/);
      const transit = (await get(`/v1/batches/${f.batches.E}/packs/13`)).json();
      expect(transit).to.include({ state: "InTransit", holder: addr("producer"), detached: false });
      expect(transit.pendingShipment).to.match(/^\d+$/);
      const missing = await get(`/v1/batches/${f.batches.E}/packs/24`);
      expect(missing.statusCode).to.equal(404);
      expect(missing.json().error.code).to.equal("PACK_NOT_FOUND");
    });

    it("gives a pack's own history: every holder with times, its case and pallet, each state change with tx hash and log index", async function () {
      const res = await get(`/v1/batches/${f.batches.E}/packs/5/history`);
      const h = res.json();
      expect(packHistorySchema.parse(h)).to.deep.equal(h);
      expect(h).to.include({ case: 1, pallet: 0, state: "Stolen", serial: SERIALS.E[5] });
      expect(h.entries.map((e: { event: string; via: string; state: string }) => `${e.event}/${e.via}/${e.state}`)).to.deep.equal([
        "BatchMinted/batch/Held",
        "BatchMarkets/batch/Held",
        "BatchPacked/batch/Held",
        "ShipmentCreated/pallet/InTransit",
        "ShipmentAccepted/pallet/Held",
        "ContainerUnpacked/pallet/Held",
        "ContainerUnpacked/case/Held",
        "ShipmentCreated/pack/InTransit",
        "ShipmentAccepted/pack/Held",
        "PacksDecommissioned/pack/Stolen",
      ]);
      expect(h.holders.map((x: { holder: string }) => x.holder)).to.deep.equal([addr("producer"), addr("distributor"), addr("pharmacy")]);
      expect(h.holders[2].to).to.be.a("string");
      for (const e of h.entries) expect(e.txHash).to.match(/^0x[0-9a-f]{64}$/);
      const bySerial = (await get(`/v1/batches/${f.batches.E}/serials/${SERIALS.E[5]}/history`)).json();
      expect(bySerial).to.deep.equal(h);
      // A pack of another case never shows the pick from case 1.
      const other = (await get(`/v1/batches/${f.batches.E}/packs/9/history`)).json();
      expect(other.entries.map((e: { event: string }) => e.event)).to.include("PacksLocked").and.not.include("PacksDecommissioned");
    });

    it("returns a case or pallet by index and by SSCC", async function () {
      const c = (await get(`/v1/batches/${f.batches.E}/cases/2`)).json();
      expect(c).to.include({ kind: "Case", index: 2, state: "Locked", holder: addr("distributor"), sscc: PACKING_E.cases[2], firstUnit: 8, endUnit: 12, pallet: 0 });
      const p = (await get(`/v1/containers/${PACKING_E.pallets[1]}`)).json();
      expect(p).to.include({ kind: "Pallet", index: 1, state: "InTransit", sealed: true });
      expect((await get(`/v1/batches/${f.batches.E}/pallets/2`)).statusCode).to.equal(404);
      expect((await get(`/v1/containers/000000000000000000`)).json().error.code).to.equal("SSCC_NOT_FOUND");
    });

    it("finds the pending shipment a receiver accepts by scanning a pallet or case label", async function () {
      for (const sscc of [PACKING_E.pallets[1], PACKING_E.cases[4]]) {
        const r = (await get(`/v1/shipments?sscc=${sscc}`)).json();
        expect(r.batchId).to.equal(String(f.batches.E));
        expect(r.shipments).to.have.length(1);
        expect(r.shipments[0]).to.include({ sender: addr("producer"), receiver: addr("distributor") });
        expect(r.shipments[0].items[0].ssccs).to.deep.equal([PACKING_E.pallets[1]]);
      }
      const none = (await get(`/v1/shipments?sscc=${PACKING_E.cases[0]}`)).json();
      expect(none.shipments).to.deep.equal([]);
    });
  });

  describe("public verification", function () {
    it("says genuine for a registered, active, undispensed pack, with the OpenZeppelin-identical proof from stored nodes", async function () {
      const r = (await scan(code("GENUINE-A", "A-0001"))).json();
      expect(r.verdict).to.equal("genuine");
      expect(r.chain.method).to.equal("index");
      const oz = StandardMerkleTree.of(SERIALS.A.map((s, i) => [i, s]), ["uint256", "string"]);
      expect(r.proof.root).to.equal(oz.root);
      expect(r.proof.siblings).to.deep.equal(oz.getProof(0));
      expect(r.product).to.include({ gtin: GTIN, lot: "GENUINE-A", serial: "A-0001", expiry: "2030-06-30", status: "Active" });
    });

    it("reads all three scan forms the same way", async function () {
      const element = `]d201${GTIN}17${"300630"}10GENUINE-A\x1d21A-0001`;
      const dl = `https://id.gs1.org/01/${GTIN}/10/GENUINE-A/21/A-0001?17=300630`;
      for (const c of [element, element.replace("\x1d", "<GS>"), dl]) expect((await scan(c)).json().verdict, c).to.equal("genuine");
    });

    it("gives each pack state its verdict and plain words", async function () {
      const expected: Array<[string, string, string, RegExp]> = [
        ["PACKED-E", SERIALS.E[5], "stolen", /^Reported stolen: do not dispense, return it to your supplier$/],
        ["PACKED-E", SERIALS.E[7], "destroyed", /^Reported destroyed on \d{4}-\d{2}-\d{2} — do not use$/],
        ["PACKED-E", SERIALS.E[0], "sample", /^Sample — not for sale/],
        ["PACKED-E", SERIALS.E[1], "free_sample", /^Free sample — not for sale/],
        ["PACKED-E", SERIALS.E[2], "exported", /^Exported — not for sale here/],
        ["PACKED-E", SERIALS.E[9], "locked", /^On hold — under investigation/],
        ["PACKED-E", SERIALS.E[14], "in_transit", /in transit/],
        ["PACKED-E", SERIALS.E[6], "dispensed", /^Already dispensed on \d{4}-\d{2}-\d{2}$/],
        ["PACKED-E", SERIALS.E[3], "genuine", /^Genuine pack$/],
        ["RECALL-B", "B-0003", "recalled", /^Do not use — recalled on \d{4}-\d{2}-\d{2}$/],
        ["GENUINE-A", "A-9999", "not_in_batch", /possibly counterfeit/],
        ["NO-SUCH-LOT", "A-0001", "unknown_batch", /possibly counterfeit/],
      ];
      for (const [lot, serial, verdict, headline] of expected) {
        const r = (await scan(code(lot, serial))).json();
        expect(r.verdict, `${lot}/${serial}`).to.equal(verdict);
        expect(r.headline, verdict).to.match(headline);
        expect(r.advice, verdict).to.be.a("string").with.length.greaterThan(40);
      }
      const withdrawn = (await scan(code("WITHDRAWN-F", "F-0001", undefined, GTIN2))).json();
      expect(withdrawn).to.include({ verdict: "withdrawn", headline: "Do not use — product withdrawn from the market" });
      expect(withdrawn.product.status).to.equal("Withdrawn");
      const dispensed = (await scan(code("GENUINE-A", "A-0002"))).json();
      expect(dispensed.dispensedOn).to.match(/^\d{4}-\d{2}-\d{2}$/);
    });

    it("has plain words for every verdict the API can give", function () {
      const seen = new Set<string>();
      for (const v of VERDICTS) {
        const w = wording(v, { batch: { status: "Active", statusSince: null, expiry: "2030-06-30", expired: false }, dispensedOn: null });
        expect(w.headline, v).to.have.length.greaterThan(5);
        seen.add(w.headline);
      }
      // serials_unavailable borrows nothing here (active batch), so every verdict has its own headline.
      expect(seen.size).to.equal(VERDICTS.length);
    });

    it("says the printed expiry was not compared only when the code carried none", async function () {
      const without = (await scan(`(01)${GTIN}(10)GENUINE-A(21)A-0001`)).json();
      expect(without).to.include({ verdict: "genuine", expiryChecked: false });
      expect(without.expiryNote).to.match(/carried no expiry date/);
      const withExpiry = (await scan(code("GENUINE-A", "A-0001"))).json();
      expect(withExpiry).to.include({ verdict: "genuine", expiryChecked: true, expiryNote: null });
      const quarantined = (await scan(code("QUAR-C", "C-0001"))).json();
      expect(quarantined).to.include({ verdict: "serials_unavailable", expiryChecked: true, expiryNote: null });
      expect(quarantined.headline).to.match(/^Do not use for now/);
      expect((await scan(code("QUAR-C", "C-0001", "300629"))).json()).to.include({ verdict: "expiry_mismatch", expiryChecked: true });
    });

    it("gives, for every verdict, the answer BatchToken.verifyUnit gives on the node with the returned proof", async function () {
      // QUAR-C's list is uploaded here so that a quarantined unit with a proof is compared too.
      expect((await uploadSerials(app, f, f.batches.C, [...SERIALS.C])).statusCode).to.equal(201);
      const cases: Array<[string, string, string?, string?]> = [
        ["GENUINE-A", "A-0001"],
        ["GENUINE-A", "A-0002"],
        ["RECALL-B", "B-0003"],
        ["QUAR-C", "C-0001"],
        ["GENUINE-A", "A-9999"],
        ["NO-SUCH-LOT", "A-0001"],
        ["GENUINE-A", "A-0001", "300629"],
        ["RECALL-B", "B-0003", "300629"],
        ["GENUINE-A", "A-0004"],
        ...[0, 1, 2, 3, 5, 6, 7, 9, 14].map((u): [string, string] => ["PACKED-E", SERIALS.E[u]]),
        ["WITHDRAWN-F", "F-0002", undefined, GTIN2],
      ];
      const seen = new Set<string>();
      for (const [lot, serial, expiry, gtin] of cases) {
        const r = (await scan(code(lot, serial, expiry, gtin))).json();
        expect(r.chain.method, `${lot}/${serial}`).to.equal("index");
        const expiryDay = expiry === undefined ? EXPIRY_DAY : EXPIRY_DAY - 1;
        const onChain = await f.token("producer").verifyUnit(BigInt(gtin ?? GTIN), lot, serial, expiryDay, r.proof?.unitIndex ?? 0, r.proof?.siblings ?? [], { blockTag: r.chain.block });
        expect(r.verdict, `${lot}/${serial}/${expiry ?? "printed expiry"}`).to.equal(CHAIN_VERDICTS[Number(onChain)]);
        seen.add(r.verdict);
      }
      // Every verdict but Expired (no batch can be minted already expired): the whole UnitVerdict enum.
      expect([...seen].sort()).to.deep.equal(CHAIN_VERDICTS.filter((v) => v !== "expired").sort());
    });

    it("answers a bad scan with the AI and what is wrong, never a generic failure", async function () {
      const badCheck = await scan(code("GENUINE-A", "A-0001").replace(GTIN, GTIN.slice(0, 13) + "3"));
      expect(badCheck.statusCode).to.equal(400);
      expect(badCheck.json().error).to.include({ code: "GS1_BAD_CHECK_DIGIT" });
      expect(badCheck.json().error.details).to.deep.equal({ ai: "01" });
      expect((await scan(code("GENUINE-A", "A-0001", "301345"))).json().error.code).to.equal("GS1_BAD_DATE");
      expect((await scan(`(01)${GTIN}(10)GENUINE-A`)).json().error.code).to.equal("GS1_INCOMPLETE");
      expect((await get(`/v1/verify?gtin=${GTIN}&lot=GENUINE-A&serial=A%230001`)).json().error).to.include({ code: "GS1_BAD_CHARACTER" });
    });

    it("verifies by separate fields too (GET /v1/verify)", async function () {
      const r = (await get(`/v1/verify?gtin=${GTIN}&lot=GENUINE-A&serial=A-0003&expiry=300630`)).json();
      expect(r).to.include({ verdict: "genuine", expiryChecked: true });
    });

    it("answers /v1/verify and the Digital Link exactly as the scan route, every verdict within verificationSchema (no extra field)", async function () {
      // The two public hot paths serialise with plain JSON.stringify; the scan route still goes through zod.
      const cases: Array<[string, string, string?]> = [
        ["GENUINE-A", "A-0001"],
        ["GENUINE-A", "A-0002"],
        ["RECALL-B", "B-0003"],
        ["GENUINE-A", "A-9999"],
        ["NO-SUCH-LOT", "A-0001"],
        ["GENUINE-A", "A-0001", "300629"],
        ...[0, 1, 2, 3, 5, 6, 7, 9, 14].map((u): [string, string] => ["PACKED-E", SERIALS.E[u]]),
        ["WITHDRAWN-F", "F-0002", GTIN2],
      ];
      for (const [lot, serial, third] of cases) {
        const gtin = third === GTIN2 ? GTIN2 : GTIN;
        const expiry = third === GTIN2 || third === undefined ? EXPIRY_YYMMDD : third;
        const viaScan = (await scan(code(lot, serial, expiry, gtin))).json();
        const viaFields = (await get(`/v1/verify?gtin=${gtin}&lot=${encodeURIComponent(lot)}&serial=${encodeURIComponent(serial)}&expiry=${expiry}`)).json();
        const viaLink = (await get(`/01/${gtin}/10/${encodeURIComponent(lot)}/21/${encodeURIComponent(serial)}?17=${expiry}`, { accept: "application/json" })).json();
        for (const answer of [viaFields, viaLink]) {
          expect(answer, `${lot}/${serial}`).to.deep.equal(viaScan);
          expect(verificationSchema.parse(answer), `${lot}/${serial}`).to.deep.equal(answer);
        }
      }
    });

    it("reveals no quantities or trading partners", async function () {
      const bodies = [(await scan(code("GENUINE-A", "A-0001"))).body, (await scan(code("RECALL-B", "B-0001"))).body, (await scan(code("PACKED-E", SERIALS.E[14]))).body];
      for (const body of bodies) {
        for (const role of ["producer", "distributor", "pharmacy", "pharmacy2", "regulator"] as const) expect(body.toLowerCase()).to.not.include(addr(role).toLowerCase().slice(2));
        expect(body).to.not.match(/quantity|holder|receiver|sender/i);
      }
    });

    it("resolves Digital Links: JSON for programs, a redirect to the portal for browsers", async function () {
      const url = `/01/${GTIN}/10/RECALL-B/21/B-0002?17=300630`;
      const json = await get(url, { accept: "application/json" });
      expect(json.statusCode).to.equal(200);
      expect(json.json().verdict).to.equal("recalled");
      const html = await get(url, { accept: "text/html,application/xhtml+xml,*/*;q=0.8" });
      expect(html.statusCode).to.equal(307);
      expect(new URL(html.headers.location as string).pathname).to.equal("/portal/");
    });

    it("serves the portal page from the same origin, with no third-party references", async function () {
      const page = await get("/portal/");
      expect(page.statusCode).to.equal(200);
      expect(page.headers["content-security-policy"]).to.include("default-src 'self'");
      for (const file of ["/portal/", "/portal/app.js", "/portal/style.css"]) expect((await get(file)).body).to.not.match(/(src|href)=["']?(https?:)?\/\//i);
    });
  });

  describe("OpenAPI", function () {
    it("documents every read route with its request and response schemas", async function () {
      const doc = (await get("/docs/json")).json();
      for (const p of [
        "/v1/batches/lookup",
        "/v1/batches/{batchId}",
        "/v1/batches/{batchId}/history",
        "/v1/batches/{batchId}/packs/{unitIndex}",
        "/v1/batches/{batchId}/packs/{unitIndex}/history",
        "/v1/batches/{batchId}/cases/{index}",
        "/v1/batches/{batchId}/pallets/{index}",
        "/v1/containers/{sscc}",
        "/v1/shipments",
        "/v1/products",
        "/v1/members/{address}/holdings",
        "/v1/alerts/holders",
        "/v1/index/alerts",
        "/v1/batches/{batchId}/serials",
        "/v1/batches/{batchId}/packing",
        "/v1/batches/{batchId}/events.epcis.json",
        "/v1/events.csv",
        "/v1/audit",
        "/v1/verify",
        "/v1/verify/scan",
      ]) {
        expect(doc.paths, p).to.have.property(p);
      }
      const scanOp = doc.paths["/v1/verify/scan"].get;
      expect(scanOp.responses["200"].content["application/json"].schema.properties.verdict.enum).to.include.members(["genuine", "stolen", "withdrawn", "in_transit"]);
    });
  });

  describe("exports", function () {
    it("exports a batch's events as JSON with tx hash and log index", async function () {
      const r = (await get(`/v1/batches/${f.batches.E}/events`)).json();
      expect(r.count).to.equal(r.events.length);
      expect(r.events.map((e: { name: string }) => e.name)).to.include.members(["BatchMinted", "BatchPacked", "PacksDecommissioned", "UnitDispensed"]);
      const ship = r.events.find((e: { name: string }) => e.name === "ShipmentCreated");
      expect(ship.args.items).to.deep.equal([{ kind: 2, start: 0, count: 1 }]);
    });

    it("exports CSV and EPCIS 2.0 (instance-level, with SSCCs) once the EPCIS mapping covers the package-level events", async function () {
      const probe = app.read.store.eventsOfBatch(String(f.batches.E)).find((e) => e.name === "BatchMarkets")!;
      try {
        ledgerActionOf(probe);
      } catch {
        // The EPCIS/CSV mapping of the new events is another engineer's (api/domain/epcis.ts);
        // until it lands the routes answer 422 EPCIS_UNMAPPABLE, never 500.
        const res = await get(`/v1/batches/${f.batches.E}/events.epcis.json`);
        expect(res.statusCode).to.equal(422);
        expect(res.json().error.code).to.equal("EPCIS_UNMAPPABLE");
        this.skip();
      }
      const res = await get(`/v1/batches/${f.batches.A}/events.csv`);
      expect(res.headers["content-type"]).to.match(/^text\/csv/);
      expect(res.body.split("\r\n")[0]).to.equal(CSV_COLUMNS.join(","));
      const validate = epcisValidator();
      const doc = (await get(`/v1/batches/${f.batches.E}/events.epcis.json`)).json();
      expect(validate(doc), JSON.stringify(validate.errors)).to.equal(true);
      const text = JSON.stringify(doc);
      expect(text).to.include(SERIALS.E[6]);
      expect(text).to.include(PACKING_E.pallets[0]);
      const from = new Date(Date.now() - 86_400_000).toISOString();
      const to = new Date(Date.now() + 86_400_000).toISOString();
      const window = (await get(`/v1/events.epcis.json?from=${from}&to=${to}`)).json();
      expect(validate(window), JSON.stringify(validate.errors)).to.equal(true);
      const ids = compareWithEpcis2(window.epcisBody.eventList, window["@context"]);
      expect(ids.mismatches, JSON.stringify(ids.mismatches)).to.deep.equal([]);
    });

    it("refuses an empty time window", async function () {
      const t = new Date().toISOString();
      const res = await get(`/v1/events?from=${t}&to=${t}`);
      expect(res.statusCode).to.equal(400);
      expect(res.json().error.code).to.equal("WINDOW_EMPTY");
    });
  });

  describe("access control and rate limits", function () {
    it("requires an API key for commercial data when READ_API_KEYS is set, but not for verification", async function () {
      const keyed = await f.app({ READ_API_KEYS: "k-auditor-1,k-auditor-2", INDEXER_DB_FILE: "keyed.sqlite" });
      await keyed.read.indexer!.waitForBlock(await f.head());
      for (const url of [`/v1/batches/${f.batches.A}`, `/v1/batches/${f.batches.E}/packs/3/history`, "/v1/index/alerts", "/v1/products", `/v1/shipments?sscc=${PACKING_E.pallets[1]}`]) {
        const no = await keyed.inject({ method: "GET", url });
        expect(no.statusCode, url).to.equal(401);
        expect(no.json().error.code).to.equal("API_KEY_REQUIRED");
      }
      const yes = await keyed.inject({ method: "GET", url: `/v1/batches/${f.batches.A}`, headers: { "x-api-key": "k-auditor-2" } });
      expect(yes.statusCode).to.equal(200);
      const pub = await keyed.inject({ method: "GET", url: `/v1/verify/scan?code=${encodeURIComponent(code("GENUINE-A", "A-0001"))}` });
      expect(pub.statusCode).to.equal(200);
    });

    it("limits public verification per IP", async function () {
      const limited = await f.app({ PUBLIC_RATE_LIMIT_PER_MINUTE: "2", INDEXER_DB_FILE: "limited.sqlite" });
      await limited.read.indexer!.waitForBlock(await f.head());
      const url = `/v1/verify/scan?code=${encodeURIComponent(code("GENUINE-A", "A-0001"))}`;
      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await limited.inject({ method: "GET", url, remoteAddress: "198.51.100.7" })).statusCode);
      expect(codes).to.deep.equal([200, 200, 429]);
      expect((await limited.inject({ method: "GET", url, remoteAddress: "198.51.100.8" })).statusCode).to.equal(200);
    });
  });

  describe("integrity audit", function () {
    it("passes on an index that matches the chain, pack by pack", async function () {
      const r = (await get("/v1/audit")).json();
      expect(r.ok, JSON.stringify(r.divergences)).to.equal(true);
      expect(r.batches).to.equal(7);
      expect(r.packsChecked).to.equal(5 + 4 + 2 + 24 + 3);
      expect(r.listsChecked).to.equal(6);
      expect(r.pendingChecked).to.equal(2);
    });

    it("fails, naming batch, holder and both numbers, when the index's events or balances were tampered with", async function () {
      const db = app.read.store.db;
      const row = db.prepare("SELECT block_number, log_index, args FROM events WHERE name = 'ShipmentCreated' AND batch_id = ?").get(f.batches.B) as { block_number: number; log_index: number; args: string };
      const args = JSON.parse(row.args);
      args.quantity = "3";
      db.prepare("UPDATE events SET args = ? WHERE block_number = ? AND log_index = ?").run(JSON.stringify(args), row.block_number, row.log_index);
      db.prepare("DELETE FROM balances WHERE batch_id = ? AND holder = ?").run(f.batches.A, addr("pharmacy"));
      const r = (await get("/v1/audit")).json();
      expect(r.ok).to.equal(false);
      const kinds = r.divergences.map((d: { kind: string; batchId: string; holder?: string; fromEvents: string; actual: string }) => `${d.kind}:${d.batchId}:${d.holder ?? ""}:${d.fromEvents}:${d.actual}`);
      expect(kinds).to.include(`index-balance:${f.batches.A}:${addr("pharmacy")}:2:0`);
      expect(kinds).to.include(`balance:${f.batches.B}:${addr("producer")}:1:0`);
      expect(kinds).to.include(`balance:${f.batches.B}:${addr("distributor")}:3:4`);
    });
  });
});
