import { expect } from "chai";
import type { ValidateFunction } from "ajv";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { FastifyInstance } from "fastify";
import { ethers } from "ethers";
import { fetchLedgerEvents } from "../../../api/chain/logs";
import { CSV_COLUMNS } from "../../../api/domain/epcis";
import { readLedgerRange } from "../../../api/read/chain-reader";
import { CHAIN_VERDICTS } from "../../../api/read/verification";
import { historySchema } from "../../../api/read/schemas";
import { epcisValidator } from "../../fixtures/epcis/validator";
import { compareWithEpcis2 } from "../../fixtures/epcis/reference-hash";
import { code, EXPIRY_DAY, GTIN, indexed, SERIALS, startReadFixture, uploadSerials, type ReadFixture } from "./read-fixture";

describe("read side over a real anvil node (indexer, queries, verification, exports, audit)", function () {
  this.timeout(120_000);
  let f: ReadFixture;
  let app: FastifyInstance;
  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: "GET", url, headers });
  const scan = (c: string) => get(`/v1/verify/scan?code=${encodeURIComponent(c)}`);

  before(async function () {
    f = await startReadFixture();
    app = await f.app();
    await indexed(app, f);
  });
  after(async () => f?.close());

  describe("the indexer", function () {
    it("stores exactly the ledger events the chain logged, with their chain coordinates", async function () {
      const fromChain = await fetchLedgerEvents(f.provider, f.addresses.batchToken);
      const stored = app.read.store.allEvents();
      expect(stored).to.deep.equal(fromChain);
      // A: mint, 3 ships, 2 accepts, dispense; B: mint, ship, accept, recall; C: mint, quarantine; D: mint.
      expect(stored.length).to.equal(14);
    });

    it("adds nothing when a block range is read a second time", async function () {
      const before = app.read.store.eventCount();
      const cp = app.read.store.checkpoint()!;
      const again = await readLedgerRange(f.provider, f.addresses.batchToken, 0, cp.block);
      expect(again.length).to.equal(before);
      expect(app.read.store.applyRange(again, cp)).to.equal(0);
      expect(app.read.store.eventCount()).to.equal(before);
      const audit = await get("/v1/audit");
      expect(audit.json().ok, audit.body).to.equal(true);
    });

    it("follows new blocks: a batch minted now is queryable once its block is indexed", async function () {
      await (
        await f.token("producer").mintBatch({ gtin: BigInt(GTIN), lot: "LATE-E", expiryDay: EXPIRY_DAY, quantity: 3n, serialsRoot: ethers.ZeroHash, serialCount: 0, documentHash: ethers.ZeroHash })
      ).wait();
      await indexed(app, f);
      const res = await get(`/v1/batches/lookup?gtin=${GTIN}&lot=LATE-E`);
      expect(res.statusCode).to.equal(200);
      expect(res.json().holders).to.deep.equal([{ holder: f.wallet("producer").address, quantity: "3", gln: res.json().holders[0].gln }]);
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

    it("reports its progress in /ready and /v1/index/status", async function () {
      const ready = await get("/ready");
      expect(ready.json().checks.indexer).to.include({ ok: true });
      const status = (await get("/v1/index/status")).json();
      expect(status.indexedBlock).to.equal(await f.head());
      expect(status.events).to.equal(app.read.store.eventCount());
    });
  });

  describe("batch, custody and holdings queries", function () {
    it("returns a batch by id with status, holders and pending shipments", async function () {
      const res = await get(`/v1/batches/${f.batches.A}`);
      expect(res.statusCode).to.equal(200);
      const b = res.json();
      expect(b).to.include({ gtin: GTIN, lot: "GENUINE-A", status: "Active", quantity: "5", serialCount: 5, dispensed: 1, serialised: true });
      const holders = Object.fromEntries(b.holders.map((h: { holder: string; quantity: string }) => [h.holder, h.quantity]));
      expect(holders).to.deep.equal({ [f.wallet("distributor").address]: "1", [f.wallet("pharmacy").address]: "2" });
      expect(b.pending).to.have.length(1);
      expect(b.pending[0]).to.include({ sender: f.wallet("distributor").address, receiver: f.wallet("pharmacy2").address, quantity: "1", isReturn: false });
      const created = app.read.store.eventsOfBatch(String(f.batches.A)).filter((e) => e.name === "ShipmentCreated").at(-1)!;
      expect(b.pending[0].createdAt).to.include({ txHash: created.txHash, logIndex: created.logIndex, blockNumber: created.blockNumber });
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

    it("lists the custody chain and status history in chain order with block, time, tx hash and log index", async function () {
      const h = (await get(`/v1/batches/${f.batches.B}/history`)).json();
      // The route skips zod at serialization for speed: its answer must still be exactly the schema's shape.
      expect(historySchema.parse(h)).to.deep.equal(h);
      expect(h.custody.map((e: { event: string }) => e.event)).to.deep.equal(["BatchMinted", "ShipmentCreated", "ShipmentAccepted", "BatchRecalled"]);
      for (const e of h.custody) {
        expect(e.txHash).to.match(/^0x[0-9a-f]{64}$/);
        expect(e.logIndex).to.be.a("number");
        expect(Date.parse(e.blockTime)).to.be.greaterThan(0);
      }
      const blocks = h.custody.map((e: { blockNumber: number }) => e.blockNumber);
      expect(blocks).to.deep.equal([...blocks].sort((a, b) => a - b));
      expect(h.statusHistory).to.have.length(1);
      expect(h.statusHistory[0]).to.include({ event: "BatchRecalled", statusAfter: "Recalled", kind: "status" });
      const receipt = await f.provider.getTransactionReceipt(h.statusHistory[0].txHash);
      expect(receipt!.blockNumber).to.equal(h.statusHistory[0].blockNumber);
    });

    it("shows a member's holdings and its pending shipments in and out", async function () {
      const d = (await get(`/v1/members/${f.wallet("distributor").address}/holdings`)).json();
      expect(d.role).to.equal("Distributor");
      expect(d.gln).to.match(/^\d{13}$/);
      expect(d.holdings.map((x: { lot: string; quantity: string }) => `${x.lot}:${x.quantity}`).sort()).to.deep.equal(["GENUINE-A:1", "RECALL-B:4"]);
      expect(d.pendingOut).to.have.length(1);
      expect(d.pendingIn).to.have.length(0);
      const p2 = (await get(`/v1/members/${f.wallet("pharmacy2").address.toLowerCase()}/holdings`)).json();
      expect(p2.pendingIn.map((x: { quantity: string }) => x.quantity)).to.deep.equal(["1"]);
      expect(p2.holdings).to.deep.equal([]);
    });

    it("names who must act on recalled and quarantined batches", async function () {
      const all = (await get("/v1/alerts/holders")).json();
      expect(all.batches.map((b: { lot: string; status: string }) => `${b.lot}:${b.status}`).sort()).to.deep.equal(["QUAR-C:Quarantined", "RECALL-B:Recalled"]);
      const recalled = (await get("/v1/alerts/holders?status=Recalled")).json();
      expect(recalled.batches).to.have.length(1);
      expect(recalled.batches[0].holders).to.deep.equal([{ holder: f.wallet("distributor").address, quantity: "4", gln: recalled.batches[0].holders[0].gln }]);
    });
  });

  describe("serial lists", function () {
    it("refuses an upload signed by anyone but the batch's producer", async function () {
      const res = await uploadSerials(app, f, f.batches.A, SERIALS.A, f.wallet("distributor"));
      expect(res.statusCode).to.equal(403);
      expect(res.json().error.code).to.equal("SIGNATURE_NOT_PRODUCER");
    });

    it("refuses a list that does not build the on-chain root", async function () {
      const res = await uploadSerials(app, f, f.batches.A, [...SERIALS.A].reverse());
      expect(res.statusCode).to.equal(422);
      expect(res.json().error.code).to.equal("SERIALS_ROOT_MISMATCH");
      const dup = await app.inject({ method: "POST", url: `/v1/batches/${f.batches.A}/serials`, payload: { serials: ["A-0001", "A-0001"], signature: "0x" + "11".repeat(65) } });
      expect(dup.statusCode).to.equal(400);
      expect(dup.json().error.code).to.equal("SERIAL_DUPLICATE");
    });

    it("stores the producer's list when it matches the root", async function () {
      for (const [id, serials] of [[f.batches.A, SERIALS.A], [f.batches.B, SERIALS.B]] as const) {
        const res = await uploadSerials(app, f, id, [...serials]);
        expect(res.statusCode, res.body).to.equal(201);
        expect(res.json()).to.include({ count: serials.length, producer: f.wallet("producer").address });
      }
    });
  });

  describe("public verification", function () {
    it("says genuine for a registered, active, undispensed pack, with the OpenZeppelin-identical proof", async function () {
      const r = (await scan(code("GENUINE-A", "A-0001"))).json();
      expect(r.verdict).to.equal("genuine");
      expect(r.chain.method).to.equal("index");
      const oz = StandardMerkleTree.of(SERIALS.A.map((s, i) => [i, s]), ["uint256", "string"]);
      expect(r.proof.root).to.equal(oz.root);
      expect(r.proof.siblings).to.deep.equal(oz.getProof(0));
      expect(r.product).to.include({ gtin: GTIN, lot: "GENUINE-A", serial: "A-0001", expiry: "2030-06-30" });
    });

    it("reads all three scan forms the same way", async function () {
      const element = `]d201${GTIN}17${"300630"}10GENUINE-A\x1d21A-0001`;
      const dl = `https://id.gs1.org/01/${GTIN}/10/GENUINE-A/21/A-0001?17=300630`;
      for (const c of [element, element.replace("\x1d", "<GS>"), dl]) expect((await scan(c)).json().verdict, c).to.equal("genuine");
    });

    it("gives each verdict its reason: dispensed, recalled, quarantined, forged serial, unknown lot, wrong expiry", async function () {
      const dispensed = (await scan(code("GENUINE-A", "A-0002"))).json();
      expect(dispensed.verdict).to.equal("dispensed");
      expect(dispensed.dispensedOn).to.match(/^\d{4}-\d{2}-\d{2}$/);
      const recalled = (await scan(code("RECALL-B", "B-0003"))).json();
      expect(recalled.verdict).to.equal("recalled");
      expect(recalled.headline).to.match(/^Do not use — recalled on \d{4}-\d{2}-\d{2}$/);
      expect(recalled.advice).to.match(/return it to your pharmacy/);
      const quarantined = (await scan(code("QUAR-C", "C-0001"))).json();
      expect(quarantined.verdict).to.equal("serials_unavailable");
      expect(quarantined.batch.status).to.equal("Quarantined");
      expect(quarantined.headline).to.match(/^Do not use for now/);
      expect((await scan(code("GENUINE-A", "A-9999"))).json().verdict).to.equal("not_in_batch");
      expect((await scan(code("NO-SUCH-LOT", "A-0001"))).json().verdict).to.equal("unknown_batch");
      expect((await scan(code("GENUINE-A", "A-0001", "300629"))).json()).to.include({ verdict: "expiry_mismatch" });
    });

    it("says the printed expiry was not compared only when the code carried none", async function () {
      const without = (await scan(`(01)${GTIN}(10)GENUINE-A(21)A-0001`)).json();
      expect(without).to.include({ verdict: "genuine", expiryChecked: false });
      expect(without.expiryNote).to.match(/carried no expiry date/);
      const withExpiry = (await scan(code("GENUINE-A", "A-0001"))).json();
      expect(withExpiry).to.include({ verdict: "genuine", expiryChecked: true, expiryNote: null });
      // Without an uploaded serial list the printed expiry is still held against the batch's.
      const quarantined = (await scan(code("QUAR-C", "C-0001"))).json();
      expect(quarantined).to.include({ verdict: "serials_unavailable", expiryChecked: true, expiryNote: null });
      expect((await scan(code("QUAR-C", "C-0001", "300629"))).json()).to.include({ verdict: "expiry_mismatch", expiryChecked: true });
    });

    it("gives, for every verdict, the answer BatchToken.verifyUnit gives on the node with the returned proof", async function () {
      // QUAR-C's list is uploaded here so that a quarantined unit with a proof is compared too.
      expect((await uploadSerials(app, f, f.batches.C, [...SERIALS.C])).statusCode).to.equal(201);
      const cases: Array<[string, string, string?]> = [
        ["GENUINE-A", "A-0001"],
        ["GENUINE-A", "A-0002"],
        ["RECALL-B", "B-0003"],
        ["QUAR-C", "C-0001"],
        ["GENUINE-A", "A-9999"],
        ["NO-SUCH-LOT", "A-0001"],
        ["GENUINE-A", "A-0001", "300629"],
        ["RECALL-B", "B-0003", "300629"],
      ];
      const seen = new Set<string>();
      for (const [lot, serial, expiry] of cases) {
        const r = (await scan(code(lot, serial, expiry))).json();
        expect(r.chain.method, `${lot}/${serial}`).to.equal("index");
        const expiryDay = expiry === undefined ? EXPIRY_DAY : EXPIRY_DAY - 1;
        const onChain = await f.token("producer").verifyUnit(BigInt(GTIN), lot, serial, expiryDay, r.proof?.unitIndex ?? 0, r.proof?.siblings ?? [], { blockTag: r.chain.block });
        expect(r.verdict, `${lot}/${serial}/${expiry ?? "printed expiry"}`).to.equal(CHAIN_VERDICTS[Number(onChain)]);
        seen.add(r.verdict);
      }
      expect([...seen].sort()).to.deep.equal(["dispensed", "expiry_mismatch", "genuine", "not_in_batch", "quarantined", "recalled", "unknown_batch"]);
    });

    it("answers a bad scan with the AI and what is wrong, never a generic failure", async function () {
      const badCheck = await scan(code("GENUINE-A", "A-0001").replace(GTIN, GTIN.slice(0, 13) + "3"));
      expect(badCheck.statusCode).to.equal(400);
      expect(badCheck.json().error).to.include({ code: "GS1_BAD_CHECK_DIGIT" });
      expect(badCheck.json().error.details).to.deep.equal({ ai: "01" });
      const badDate = await scan(code("GENUINE-A", "A-0001", "301345"));
      expect(badDate.json().error.code).to.equal("GS1_BAD_DATE");
      const noSerial = await scan(`(01)${GTIN}(10)GENUINE-A`);
      expect(noSerial.json().error.code).to.equal("GS1_INCOMPLETE");
      const fields = await get(`/v1/verify?gtin=${GTIN}&lot=GENUINE-A&serial=A%230001`);
      expect(fields.json().error).to.include({ code: "GS1_BAD_CHARACTER" });
    });

    it("verifies by separate fields too (GET /v1/verify)", async function () {
      const r = (await get(`/v1/verify?gtin=${GTIN}&lot=GENUINE-A&serial=A-0003&expiry=300630`)).json();
      expect(r).to.include({ verdict: "genuine", expiryChecked: true });
    });

    it("reveals no quantities or trading partners", async function () {
      const bodies = [(await scan(code("GENUINE-A", "A-0001"))).body, (await scan(code("RECALL-B", "B-0001"))).body];
      for (const body of bodies) {
        for (const role of ["producer", "distributor", "pharmacy", "pharmacy2", "regulator"] as const) {
          expect(body.toLowerCase()).to.not.include(f.wallet(role).address.toLowerCase().slice(2));
        }
        expect(body).to.not.match(/quantity|holder|receiver|sender/i);
      }
    });

    it("resolves Digital Links: JSON for programs, a redirect to the portal for browsers", async function () {
      const url = `/01/${GTIN}/10/RECALL-B/21/B-0002?17=300630`;
      const json = await get(url, { accept: "application/json" });
      expect(json.statusCode).to.equal(200);
      expect(json.json().verdict).to.equal("recalled");
      const html = await get(url, { accept: "text/html,application/xhtml+xml,*/*;q=0.8" });
      // The resolver moved to api/exchange (test/api/exchange has its URI forms and link types).
      expect(html.statusCode).to.equal(307);
      const location = new URL(html.headers.location as string);
      expect(location.pathname).to.equal("/portal/");
      expect(location.searchParams.get("code")).to.equal(`https://id.gs1.org/01/${GTIN}/10/RECALL-B/21/B-0002?17=300630`);
      const bad = await get(`/01/${GTIN.slice(0, 13)}0/10/X/21/Y`, { accept: "application/json" });
      expect(bad.json().error.code).to.equal("GS1_BAD_CHECK_DIGIT");
    });

    it("serves the portal page from the same origin, with no third-party references", async function () {
      const page = await get("/portal/");
      expect(page.statusCode).to.equal(200);
      expect(page.headers["content-security-policy"]).to.include("default-src 'self'");
      for (const file of ["/portal/", "/portal/app.js", "/portal/style.css"]) {
        expect((await get(file)).body).to.not.match(/(src|href)=["']?(https?:)?\/\//i);
      }
    });
  });

  describe("OpenAPI", function () {
    it("documents every read route with its request and response schemas", async function () {
      const doc = (await get("/docs/json")).json();
      for (const p of [
        "/v1/batches/lookup",
        "/v1/batches/{batchId}",
        "/v1/batches/{batchId}/history",
        "/v1/members/{address}/holdings",
        "/v1/alerts/holders",
        "/v1/batches/{batchId}/serials",
        "/v1/batches/{batchId}/events.epcis.json",
        "/v1/events.csv",
        "/v1/audit",
        "/v1/verify",
        "/v1/verify/scan",
        "/01/{gtin}/10/{lot}/21/{serial}",
      ]) {
        expect(doc.paths, p).to.have.property(p);
      }
      const scanOp = doc.paths["/v1/verify/scan"].get;
      expect(scanOp.parameters.map((x: { name: string }) => x.name)).to.deep.equal(["code"]);
      expect(scanOp.responses["200"].content["application/json"].schema.properties.verdict.enum).to.include.members(["genuine", "recalled", "not_in_batch"]);
    });
  });

  describe("exports", function () {
    it("exports a batch's events as JSON with tx hash and log index", async function () {
      const r = (await get(`/v1/batches/${f.batches.A}/events`)).json();
      expect(r.count).to.equal(r.events.length);
      expect(r.events.map((e: { name: string }) => e.name)).to.include.members(["BatchMinted", "UnitDispensed"]);
      expect(r.events[0].txHash).to.match(/^0x[0-9a-f]{64}$/);
    });

    it("exports CSV with the documented columns, one row per event", async function () {
      const res = await get(`/v1/batches/${f.batches.A}/events.csv`);
      expect(res.headers["content-type"]).to.match(/^text\/csv/);
      const lines = res.body.trimEnd().split("\r\n");
      expect(lines[0]).to.equal(CSV_COLUMNS.join(","));
      expect(lines.length - 1).to.equal(app.read.store.eventsOfBatch(String(f.batches.A)).length);
    });

    it("exports EPCIS 2.0 documents (a batch and a time window) that validate against GS1's schema", async function () {
      const validate = epcisValidator();
      const doc = (await get(`/v1/batches/${f.batches.A}/events.epcis.json`)).json();
      expect(validate(doc), JSON.stringify(validate.errors)).to.equal(true);
      const events = doc.epcisBody.eventList;
      expect(events.map((e: { bizStep: string }) => e.bizStep)).to.include.members(["commissioning", "shipping", "receiving", "dispensing"]);
      for (const e of events) expect(e["ledger:txHash"]).to.match(/^0x[0-9a-f]{64}$/);
      const dispense = events.find((e: { bizStep: string }) => e.bizStep === "dispensing");
      expect(dispense.epcList).to.deep.equal([`https://id.gs1.org/01/${GTIN}/21/A-0002`]);
      expect(dispense.readPoint.id).to.match(/^https:\/\/id\.gs1\.org\/414\/\d{13}$/);

      const from = new Date(Date.now() - 86_400_000).toISOString();
      const to = new Date(Date.now() + 86_400_000).toISOString();
      const window = (await get(`/v1/events.epcis.json?from=${from}&to=${to}`)).json();
      expect(validate(window), JSON.stringify(validate.errors)).to.equal(true);
      expect(window.epcisBody.eventList).to.have.length(app.read.store.eventCount());
      // Every eventID is the CBV 2.0 hash another tool computes (epcis2.js; see reference-hash.ts).
      const ids = compareWithEpcis2(window.epcisBody.eventList, window["@context"]);
      expect(ids.mismatches, JSON.stringify(ids.mismatches)).to.deep.equal([]);
      expect(ids.identical + ids.listOrderOnly).to.equal(app.read.store.eventCount());
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
      const no = await keyed.inject({ method: "GET", url: `/v1/batches/${f.batches.A}` });
      expect(no.statusCode).to.equal(401);
      expect(no.json().error.code).to.equal("API_KEY_REQUIRED");
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
      const other = await limited.inject({ method: "GET", url, remoteAddress: "198.51.100.8" });
      expect(other.statusCode).to.equal(200);
    });
  });

  describe("integrity audit", function () {
    it("passes on an index that matches the chain", async function () {
      const r = (await get("/v1/audit")).json();
      expect(r.ok, JSON.stringify(r.divergences)).to.equal(true);
      expect(r.batches).to.equal(5);
      expect(r.holdersChecked).to.be.greaterThan(8);
      expect(r.pendingChecked).to.equal(1);
    });

    it("fails, naming batch, holder and both numbers, when the index was tampered with", async function () {
      const db = app.read.store.db;
      const row = db.prepare("SELECT block_number, log_index, args FROM events WHERE name = 'ShipmentCreated' AND batch_id = ?").get(f.batches.B) as { block_number: number; log_index: number; args: string };
      const args = JSON.parse(row.args);
      args.quantity = "3";
      db.prepare("UPDATE events SET args = ? WHERE block_number = ? AND log_index = ?").run(JSON.stringify(args), row.block_number, row.log_index);
      db.prepare("DELETE FROM balances WHERE batch_id = ? AND holder = ?").run(f.batches.A, f.wallet("pharmacy").address);
      const r = (await get("/v1/audit")).json();
      expect(r.ok).to.equal(false);
      const kinds = r.divergences.map((d: { kind: string; batchId: string; holder?: string; fromEvents: string; actual: string }) => `${d.kind}:${d.batchId}:${d.holder ?? ""}:${d.fromEvents}:${d.actual}`);
      expect(kinds).to.include(`index-balance:${f.batches.A}:${f.wallet("pharmacy").address}:2:0`);
      // The forged ShipmentCreated (3 instead of 4) leaves 1 unit at the producer by the events; the chain says 0.
      expect(kinds).to.include(`balance:${f.batches.B}:${f.wallet("producer").address}:1:0`);
      expect(kinds).to.include(`balance:${f.batches.B}:${f.wallet("distributor").address}:3:4`);
    });
  });
});
