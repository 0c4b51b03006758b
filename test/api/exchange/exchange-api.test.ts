import { expect } from "chai";
import type { FastifyInstance, LightMyRequestResponse } from "fastify";
import { withCheckDigit } from "../../../api/domain/gs1";
import { VRS_CONTEXTS } from "../../../api/exchange/vrs";
import { EXPIRY_YYMMDD, GTIN, indexed, SERIALS, startReadFixture, uploadSerials, type ReadFixture } from "../read/read-fixture";

/** A partner's or a phone's view of the exchange routes: the Digital Link resolver and the VRS responder. */
describe("exchange over a real anvil node: Digital Link resolver and DSCSA VRS responder", function () {
  this.timeout(120_000);
  let f: ReadFixture;
  let app: FastifyInstance;
  const PRODUCER_GLN = withCheckDigit("400123400001");
  const REQUESTOR_GLN = withCheckDigit("400123400002"); // the distributor
  const OTHER_GLN = withCheckDigit("400123400004"); // the pharmacy
  const CONSORTIUM_GLN = withCheckDigit("400123499999");
  const KEY = "vrs-key-distributor-0001";
  const OTHER_KEY = "vrs-key-pharmacy-00000001";
  const get = (url: string, headers: Record<string, string> = {}) => app.inject({ method: "GET", url, headers });
  const json = { accept: "application/json" };

  before(async function () {
    f = await startReadFixture();
    app = await f.app({ VRS_API_KEYS: `${REQUESTOR_GLN}:${KEY},${OTHER_GLN}:${OTHER_KEY}`, VRS_RESPONDER_GLN: CONSORTIUM_GLN });
    await indexed(app, f);
    for (const [batch, serials] of [[f.batches.A, SERIALS.A], [f.batches.B, SERIALS.B]] as const) {
      expect((await uploadSerials(app, f, batch, [...serials])).statusCode).to.equal(201);
    }
  });
  after(async () => f?.close());

  describe("the resolver reaches the verifier from every URI form a pack can carry", function () {
    const gtin13 = GTIN.slice(1);
    const forms: Array<[string, string, string]> = [
      ["canonical", `/01/${GTIN}/10/GENUINE-A/21/A-0001?17=${EXPIRY_YYMMDD}`, "genuine"],
      ["GTIN-13", `/01/${gtin13}/10/GENUINE-A/21/A-0001?17=${EXPIRY_YYMMDD}`, "genuine"],
      ["path prefix", `/p/medtrace/01/${GTIN}/10/GENUINE-A/21/A-0001?17=${EXPIRY_YYMMDD}`, "genuine"],
      ["qualifiers in the query", `/01/${GTIN}?10=GENUINE-A&21=A-0001&17=${EXPIRY_YYMMDD}`, "genuine"],
      ["serial in the query", `/01/${GTIN}/10/GENUINE-A?21=A-0001`, "genuine"],
      ["aliases", `/gtin/${GTIN}/lot/GENUINE-A/ser/A-0001`, "genuine"],
      ["tracking parameter", `/01/${GTIN}/10/GENUINE-A/21/A-0001?utm_source=leaflet`, "genuine"],
      ["dispensed pack", `/01/${GTIN}/10/GENUINE-A/21/A-0002?17=${EXPIRY_YYMMDD}`, "dispensed"],
      ["recalled pack", `/01/${GTIN}/10/RECALL-B/21/B-0002?17=${EXPIRY_YYMMDD}`, "recalled"],
      ["wrong printed expiry", `/01/${GTIN}/10/GENUINE-A/21/A-0001?17=300629`, "expiry_mismatch"],
      ["forged serial", `/01/${GTIN}/10/GENUINE-A/21/A-9999`, "not_in_batch"],
      ["unknown lot", `/01/${GTIN}/10/NO-SUCH-LOT/21/A-0001`, "unknown_batch"],
    ];
    for (const [what, url, verdict] of forms) {
      it(`${what}: ${url} → ${verdict}`, async function () {
        const res = await get(url, json);
        expect(res.statusCode, res.body).to.equal(200);
        expect(res.json().verdict).to.equal(verdict);
        expect(res.json().product.gtin).to.equal(GTIN);
        expect(res.headers.vary).to.match(/Accept/);
        expect(res.headers.link).to.match(/rel="linkset"/);
        expect(res.headers["access-control-allow-origin"]).to.equal("*");
      });
    }

    it("answers a batch URI with the batch's status, and a product URI with its linkset", async function () {
      const recalled = (await get(`/01/${GTIN}/10/RECALL-B`, json)).json();
      expect(recalled).to.include({ registered: true, status: "Recalled", gtin: GTIN, lot: "RECALL-B" });
      expect(recalled.headline).to.match(/^Recalled on \d{4}-\d{2}-\d{2}$/);
      expect((await get(`/01/${GTIN}/10/NO-SUCH-LOT`, json)).json()).to.include({ registered: false, status: null });
      const product = await get(`/01/${gtin13}`, json);
      expect(product.statusCode).to.equal(200);
      expect(product.headers["content-type"]).to.match(/^application\/linkset\+json/);
      expect(product.json().linkset[0].anchor).to.equal(`http://localhost:80/01/${GTIN}`);
    });

    const refusals: Array<[string, number, string]> = [
      [`/01/${GTIN.slice(0, 13)}3/10/X/21/Y`, 400, "GS1_BAD_CHECK_DIGIT"],
      [`/01/${GTIN}/10/GENUINE-A/21/A-0001?17=301345`, 400, "GS1_BAD_DATE"],
      [`/01/${GTIN}/21/A-0001/10/GENUINE-A`, 400, "GS1_BAD_URI"],
      [`/01/${GTIN}/10/GENUINE-A/21/A%230001`, 400, "GS1_BAD_CHARACTER"],
      [`/00/106141411234567897`, 404, "RESOLVER_KEY_NOT_SERVED"],
      [`/no/key/here`, 404, "NOT_FOUND"],
    ];
    for (const [url, status, code] of refusals) {
      it(`refuses ${url} with ${status} ${code}, saying what to do`, async function () {
        const res = await get(url, json);
        expect(res.statusCode, res.body).to.equal(status);
        expect(res.json().error.code).to.equal(code);
        expect(res.json().error.hint).to.be.a("string").and.not.equal("");
      });
    }
  });

  describe("link types, linksets and redirects", function () {
    const pack = `/01/${GTIN}/10/RECALL-B/21/B-0003?17=${EXPIRY_YYMMDD}`;
    const follow = async (res: LightMyRequestResponse) => {
      const location = new URL(res.headers.location as string);
      return get(location.pathname + location.search, json);
    };

    it("sends browsers to the portal with a 307 and Vary: Accept", async function () {
      const res = await get(pack, { accept: "text/html,application/xhtml+xml,*/*;q=0.8" });
      expect(res.statusCode).to.equal(307);
      expect(res.headers.vary).to.match(/Accept/);
      const location = new URL(res.headers.location as string);
      expect(location.pathname).to.equal("/portal/");
      expect(location.searchParams.get("code")).to.equal(`https://id.gs1.org/01/${GTIN}/10/RECALL-B/21/B-0003?17=${EXPIRY_YYMMDD}`);
    });

    it("redirects gs1:verificationService to the verification, which says recalled", async function () {
      const res = await get(`${pack}&linkType=gs1:verificationService`, json);
      expect(res.statusCode).to.equal(307);
      const target = await follow(res);
      expect(target.json().verdict).to.equal("recalled");
    });

    it("redirects gs1:recallStatus (as an IRI too) to the batch status", async function () {
      for (const lt of ["gs1:recallStatus", encodeURIComponent("https://gs1.org/voc/recallStatus")]) {
        const res = await get(`${pack}&linkType=${lt}`, json);
        expect(res.statusCode).to.equal(307);
        expect((await follow(res)).json()).to.include({ status: "Recalled", registered: true });
      }
    });

    it("redirects gs1:defaultLink and an unknown link type (gs1:pip) to the portal", async function () {
      for (const lt of ["gs1:defaultLink", "gs1:pip"]) {
        const res = await get(`${pack}&linkType=${lt}`, json);
        expect(res.statusCode, lt).to.equal(307);
        expect(new URL(res.headers.location as string).pathname).to.equal("/portal/");
      }
    });

    it("answers linkType=all and Accept: application/linkset+json with the linkset, every link absolute", async function () {
      for (const [url, headers] of [[`${pack}&linkType=all`, json], [pack, { accept: "application/linkset+json" }]] as const) {
        const res = await get(url, headers);
        expect(res.statusCode).to.equal(200);
        expect(res.headers["content-type"]).to.match(/^application\/linkset\+json/);
        expect(res.headers.link).to.contain("http://www.w3.org/ns/json-ld#context");
        const entry = res.json().linkset[0];
        expect(entry.anchor).to.equal(`http://localhost:80/01/${GTIN}/10/RECALL-B/21/B-0003`);
        expect(entry["https://gs1.org/voc/verificationService"].map((l: { href: string }) => new URL(l.href).pathname)).to.deep.equal([
          "/v1/verify",
          `/verify/gtin/${GTIN}/lot/RECALL-B/ser/B-0003`,
        ]);
        expect(entry["https://gs1.org/voc/recallStatus"]).to.have.length(1);
        expect(entry["https://gs1.org/voc/defaultLink"]).to.have.length(1);
      }
    });

    it("uses PUBLIC_BASE_URL for links when it is set", async function () {
      const other = await f.app({ PUBLIC_BASE_URL: "https://verify.example.org", INDEXER_DB_FILE: "public-base.sqlite" });
      await indexed(other, f);
      const res = await other.inject({ method: "GET", url: `${pack}&linkType=all` });
      expect(res.json().linkset[0].anchor).to.equal(`https://verify.example.org/01/${GTIN}/10/RECALL-B/21/B-0003`);
      const wk = (await other.inject({ method: "GET", url: "/.well-known/gs1resolver" })).json();
      expect(wk.resolverRoot).to.equal("https://verify.example.org");
    });

    it("describes itself at /.well-known/gs1resolver", async function () {
      const res = await get("/.well-known/gs1resolver");
      expect(res.statusCode).to.equal(200);
      expect(res.headers["access-control-allow-origin"]).to.equal("*");
      expect(res.json()).to.deep.equal({
        name: "medtrace-ledger resolver",
        resolverRoot: "http://localhost:80",
        supportedPrimaryKeys: ["01"],
        supportedLinkType: [{ namespace: "https://gs1.org/voc/", prefix: "gs1:" }],
        linkTypeDefaultCanBeLinkset: false,
      });
    });

    it("opens CORS to any origin on public routes only, and answers preflights", async function () {
      expect((await get(`/v1/verify?gtin=${GTIN}&lot=GENUINE-A&serial=A-0001`)).headers["access-control-allow-origin"]).to.equal("*");
      expect((await get(`/v1/batch-status?gtin=${GTIN}&lot=RECALL-B`)).headers["access-control-allow-origin"]).to.equal("*");
      expect((await get(`/v1/batches/${f.batches.A}`)).headers["access-control-allow-origin"]).to.equal(undefined);
      expect((await get("/v1/audit")).headers["access-control-allow-origin"]).to.equal(undefined);
      const pre = await app.inject({ method: "OPTIONS", url: `/verify/gtin/${GTIN}/lot/X/ser/Y`, headers: { origin: "https://erp.example", "access-control-request-method": "GET" } });
      expect(pre.statusCode).to.equal(204);
      expect(pre.headers["access-control-allow-headers"]).to.match(/X-API-Key/);
    });
  });

  describe("VRS responder (DSCSA)", function () {
    const uuid = "1b4e28ba-2fa1-11d2-883f-0016d3cca427";
    const vrs = (lot: string, serial: string, q: Record<string, string | undefined> = {}, key: string | null = KEY) => {
      const query = { exp: EXPIRY_YYMMDD, linkType: "verificationService", context: "dscsaSaleableReturn", reqGLN: REQUESTOR_GLN, corrUUID: uuid, ...q };
      const qs = Object.entries(query)
        .filter((e): e is [string, string] => e[1] !== undefined)
        .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
        .join("&");
      return get(`/verify/gtin/${GTIN}/lot/${lot}/ser/${serial}?${qs}`, key ? { "x-api-key": key } : {});
    };

    it("answers every context of the standard for a genuine pack, echoing corrUUID, from the manufacturer's GLN", async function () {
      for (const context of VRS_CONTEXTS) {
        const res = await vrs("GENUINE-A", "A-0001", { context });
        expect(res.statusCode, res.body).to.equal(200);
        const body = res.json();
        expect(body.data, context).to.deep.equal({ verified: true });
        expect(body.corrUUID).to.equal(uuid);
        expect(body.responderGLN).to.equal(PRODUCER_GLN);
        expect(Date.parse(body.verificationTimestamp)).to.be.closeTo(Date.now(), 60_000);
      }
    });

    const cases: Array<[string, string, string, Record<string, string>, object]> = [
      ["dispensed, offered as a saleable return", "GENUINE-A", "A-0002", {}, { verified: false, verificationFailureReason: "Not_for_re-distribution", additionalInfo: "Suspect" }],
      ["dispensed, in a suspect investigation", "GENUINE-A", "A-0002", { context: "dscsaSuspectInvestigation" }, { verified: true, additionalInfo: "Suspect" }],
      ["recalled", "RECALL-B", "B-0003", {}, { verified: true, additionalInfo: "Recalled" }],
      ["forged serial", "GENUINE-A", "A-9999", {}, { verified: false, verificationFailureReason: "No_match_GTIN_Serial" }],
      ["unknown lot", "NO-SUCH-LOT", "A-0001", {}, { verified: false, verificationFailureReason: "No_match_GTIN_Serial_Lot" }],
      ["wrong expiry", "GENUINE-A", "A-0001", { exp: "300629" }, { verified: false, verificationFailureReason: "No_match_GTIN_Serial_Expiry" }],
      ["quarantined batch without a serial list", "QUAR-C", "C-0001", {}, { verified: false, verificationFailureReason: "No_reason_provided" }],
    ];
    for (const [what, lot, serial, q, data] of cases) {
      it(`${what} → ${JSON.stringify(data)}`, async function () {
        const res = await vrs(lot, serial, q);
        expect(res.statusCode, res.body).to.equal(200);
        expect(res.json().data).to.deep.equal(data);
      });
    }

    it("answers for a quarantined pack once the serial list is there: verified, suspect", async function () {
      expect((await uploadSerials(app, f, f.batches.C, [...SERIALS.C])).statusCode).to.equal(201);
      expect((await vrs("QUAR-C", "C-0001")).json().data).to.deep.equal({ verified: true, additionalInfo: "Suspect" });
    });

    it("names the consortium as responder when no manufacturer is known", async function () {
      expect((await vrs("NO-SUCH-LOT", "A-0001")).json().responderGLN).to.equal(CONSORTIUM_GLN);
    });

    it("answers checkConnectivity without verifying", async function () {
      const res = await vrs("ANY", "ANY", { linkType: "checkConnectivity", context: undefined, exp: undefined });
      expect(res.statusCode, res.body).to.equal(200);
      expect(res.json()).to.include({ corrUUID: uuid, responderGLN: CONSORTIUM_GLN });
      expect(res.json().data).to.equal(undefined);
    });

    const errors: Array<[string, () => Promise<LightMyRequestResponse>, number, string]> = [
      ["no API key", () => vrs("GENUINE-A", "A-0001", {}, null), 401, "VRS_CREDENTIAL_REQUIRED"],
      ["an unknown API key", () => vrs("GENUINE-A", "A-0001", {}, "not-a-key-of-anyone"), 401, "VRS_CREDENTIAL_UNKNOWN"],
      ["another partner's GLN", () => vrs("GENUINE-A", "A-0001", { reqGLN: OTHER_GLN }), 403, "VRS_REQUESTOR_NOT_AUTHORISED"],
      ["no exp", () => vrs("GENUINE-A", "A-0001", { exp: undefined }), 400, "VRS_EXPIRY_REQUIRED"],
      ["an impossible exp", () => vrs("GENUINE-A", "A-0001", { exp: "301345" }), 400, "GS1_BAD_DATE"],
      ["no context", () => vrs("GENUINE-A", "A-0001", { context: undefined }), 400, "VRS_CONTEXT_REQUIRED"],
      ["an unknown context", () => vrs("GENUINE-A", "A-0001", { context: "curiosity" }), 400, "VRS_BAD_CONTEXT"],
      ["no linkType", () => vrs("GENUINE-A", "A-0001", { linkType: undefined }), 400, "VRS_LINK_TYPE_REQUIRED"],
      ["another linkType", () => vrs("GENUINE-A", "A-0001", { linkType: "gs1:pip" }), 400, "VRS_BAD_LINK_TYPE"],
      ["no reqGLN", () => vrs("GENUINE-A", "A-0001", { reqGLN: undefined }), 400, "VRS_REQ_GLN_REQUIRED"],
      ["a reqGLN with a bad check digit", () => vrs("GENUINE-A", "A-0001", { reqGLN: "4001234000021" }), 400, "VRS_BAD_REQ_GLN"],
      ["a corrUUID that is not a UUID", () => vrs("GENUINE-A", "A-0001", { corrUUID: "42" }), 400, "VRS_BAD_CORR_UUID"],
      ["a lot with a character outside set 82", () => vrs("GENUINE%23A", "A-0001"), 400, "GS1_BAD_CHARACTER"],
      ["POST", () => app.inject({ method: "POST", url: `/verify/gtin/${GTIN}/lot/GENUINE-A/ser/A-0001`, headers: { "x-api-key": KEY } }), 405, "METHOD_NOT_ALLOWED"],
    ];
    for (const [what, send, status, code] of errors) {
      it(`refuses ${what} with ${status} ${code} and a hint`, async function () {
        const res = await send();
        expect(res.statusCode, res.body).to.equal(status);
        expect(res.json().error.code).to.equal(code);
        expect(res.json().error.message).to.be.a("string").and.not.equal("");
        expect(res.json().error.hint).to.be.a("string").and.not.equal("");
      });
    }

    it("takes the key as Authorization: Bearer too", async function () {
      const res = await get(`/verify/gtin/${GTIN}/lot/GENUINE-A/ser/A-0001?exp=${EXPIRY_YYMMDD}&linkType=verificationService&context=dscsaSaleableReturn&reqGLN=${REQUESTOR_GLN}`, { authorization: `Bearer ${KEY}` });
      expect(res.statusCode).to.equal(200);
      expect(res.json().corrUUID).to.equal(undefined);
    });

    it("answers 503 VRS_NOT_CONFIGURED on a node without requestor keys", async function () {
      const bare = await f.app({ INDEXER_DB_FILE: "no-vrs.sqlite" });
      const res = await bare.inject({ method: "GET", url: `/verify/gtin/${GTIN}/lot/GENUINE-A/ser/A-0001?exp=${EXPIRY_YYMMDD}`, headers: { "x-api-key": KEY } });
      expect(res.statusCode).to.equal(503);
      expect(res.json().error.code).to.equal("VRS_NOT_CONFIGURED");
    });
  });

  describe("OpenAPI", function () {
    it("documents every exchange route with its response schemas", async function () {
      const doc = (await get("/docs/json")).json();
      for (const p of ["/01/{gtin}", "/01/{gtin}/10/{lot}", "/01/{gtin}/10/{lot}/21/{serial}", "/.well-known/gs1resolver", "/v1/batch-status", "/verify/gtin/{gtin}/lot/{lot}/ser/{serial}"]) {
        expect(doc.paths, p).to.have.property(p);
        expect(doc.paths[p].get.responses["200"], p).to.have.property("content");
      }
      const vrsOp = doc.paths["/verify/gtin/{gtin}/lot/{lot}/ser/{serial}"].get;
      expect(vrsOp.parameters.map((x: { name: string }) => x.name)).to.include.members(["exp", "linkType", "context", "reqGLN", "corrUUID"]);
      for (const s of ["400", "401", "403", "503"]) expect(vrsOp.responses, s).to.have.property(s);
    });
  });
});
