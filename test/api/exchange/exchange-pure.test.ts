import { expect } from "chai";
import { chooseLink, linkHeader, linksFor, parseLinkType, parseResolverRequest, ResolverRequestError, toLinkset, wantsHtml } from "../../../api/exchange/digital-link";
import { VRS_ADDITIONAL_INFO, VRS_CONTEXTS, VRS_FAILURE_REASONS, vrsVerification, type VrsMappableVerdict } from "../../../api/exchange/vrs";
import { ApiKeyAuthenticator, parseVrsApiKeys, VrsKeyConfigError } from "../../../api/exchange/vrs-auth";
import { VERDICTS } from "../../../api/read/verification";
import { withCheckDigit } from "../../../api/domain/gs1";

const GTIN = "09506000134352";
const targets = { base: "https://ledger.example", portal: "/portal/" };

describe("exchange, pure parts: Digital Link requests, linksets, the VRS mapping, requestor keys", function () {
  describe("resolver requests", function () {
    const forms: Array<[string, string, Record<string, string | undefined>]> = [
      ["pack, canonical", `/01/${GTIN}/10/L1/21/S1?17=271231`, { granularity: "pack", gtin: GTIN, lot: "L1", serial: "S1", expiry: "271231" }],
      ["pack, GTIN-13", `/01/${GTIN.slice(1)}/10/L1/21/S1`, { granularity: "pack", gtin: GTIN }],
      ["pack, GTIN-12", `/01/614141123452/10/L1/21/S1`, { granularity: "pack", gtin: "00614141123452" }],
      ["pack, GTIN-8", `/01/${withCheckDigit("9506000")}/10/L1/21/S1`, { granularity: "pack", gtin: withCheckDigit("9506000").padStart(14, "0") }],
      ["pack, path prefix", `/shop/de/01/${GTIN}/10/L1/21/S1`, { granularity: "pack", lot: "L1", serial: "S1" }],
      ["pack, qualifiers in the query", `/01/${GTIN}?10=L1&21=S1&17=271231`, { granularity: "pack", lot: "L1", serial: "S1", expiry: "271231" }],
      ["pack, serial in the query", `/01/${GTIN}/10/L1?21=S1`, { granularity: "pack", serial: "S1" }],
      ["pack, aliases", `/gtin/${GTIN}/lot/L1/ser/S1`, { granularity: "pack", lot: "L1", serial: "S1" }],
      ["pack, percent-encoded lot", `/01/${GTIN}/10/L%2F1/21/S1`, { granularity: "pack", lot: "L/1" }],
      ["batch", `/01/${GTIN}/10/L1`, { granularity: "batch", lot: "L1", serial: undefined }],
      ["product", `/01/${GTIN}`, { granularity: "product", lot: undefined }],
      ["product with a tracking parameter", `/01/${GTIN}?utm_source=box`, { granularity: "product" }],
    ];
    for (const [what, url, expected] of forms) {
      it(`reads ${what}: ${url}`, function () {
        const r = parseResolverRequest(url);
        for (const [k, v] of Object.entries(expected)) expect((r as unknown as Record<string, unknown>)[k], k).to.equal(v);
      });
    }

    const bad: Array<[string, string]> = [
      [`/01/09506000134353/10/L1`, "GS1_BAD_CHECK_DIGIT"],
      [`/01/${GTIN}/10/L1/21/S1?17=271345`, "GS1_BAD_DATE"],
      [`/01/${GTIN}/21/S1/10/L1`, "GS1_BAD_URI"],
      [`/01/${GTIN}/10/L1?10=L2`, "GS1_DUPLICATE_AI"],
      [`/00/106141411234567897`, "RESOLVER_KEY_NOT_SERVED"],
    ];
    for (const [url, code] of bad) {
      it(`refuses ${url} with ${code}`, function () {
        expect(() => parseResolverRequest(url)).to.throw(ResolverRequestError).with.property("code", code);
      });
    }

    it("reads link types as CURIE, IRI or bare word; all and linkset ask for the set", function () {
      expect(parseLinkType("gs1:verificationService")).to.deep.equal({ kind: "one", type: "verificationService" });
      expect(parseLinkType("https://gs1.org/voc/recallStatus")).to.deep.equal({ kind: "one", type: "recallStatus" });
      expect(parseLinkType("defaultLink")).to.deep.equal({ kind: "one", type: "defaultLink" });
      expect(parseLinkType("all")).to.deep.equal({ kind: "all" });
      expect(parseLinkType("linkset")).to.deep.equal({ kind: "all" });
      expect(parseLinkType("gs1:pip")).to.deep.equal({ kind: "unknown", asked: "gs1:pip" });
      expect(parseLinkType(undefined)).to.deep.equal({ kind: "none" });
    });

    it("offers verification links for a pack, the recall status for a batch, the portal always (absolute URLs)", function () {
      const rels = (url: string) => linksFor(parseResolverRequest(url), targets).map((l) => l.rel);
      expect(rels(`/01/${GTIN}/10/L1/21/S1`)).to.deep.equal(["defaultLink", "verificationService", "verificationService", "recallStatus"]);
      expect(rels(`/01/${GTIN}/10/L1`)).to.deep.equal(["defaultLink", "recallStatus"]);
      expect(rels(`/01/${GTIN}`)).to.deep.equal(["defaultLink"]);
      for (const l of linksFor(parseResolverRequest(`/01/${GTIN}/10/L1/21/S1?17=271231`), targets)) expect(l.href).to.match(/^https:\/\/ledger\.example\//);
    });

    it("follows an unknown or unavailable link type to the default link", function () {
      const batch = parseResolverRequest(`/01/${GTIN}/10/L1?linkType=gs1:verificationService`);
      expect(chooseLink(batch, linksFor(batch, targets)).rel).to.equal("defaultLink");
      const pip = parseResolverRequest(`/01/${GTIN}/10/L1/21/S1?linkType=gs1:pip`);
      expect(chooseLink(pip, linksFor(pip, targets)).rel).to.equal("defaultLink");
    });

    it("writes an RFC 9264 linkset keyed by GS1 vocabulary IRIs, and a Link header with the linkset first", function () {
      const r = parseResolverRequest(`/01/${GTIN}/10/L1/21/S1`);
      const links = linksFor(r, targets);
      const set = toLinkset("https://ledger.example/01/09506000134352/10/L1/21/S1", links);
      expect(set.linkset).to.have.length(1);
      const entry = set.linkset[0]!;
      expect(entry["anchor"]).to.equal("https://ledger.example/01/09506000134352/10/L1/21/S1");
      expect(entry["https://gs1.org/voc/verificationService"]).to.have.length(2);
      expect(Object.keys(entry).sort()).to.deep.equal(["anchor", "https://gs1.org/voc/defaultLink", "https://gs1.org/voc/recallStatus", "https://gs1.org/voc/verificationService"]);
      const header = linkHeader("https://ledger.example/x?linkType=linkset", links);
      expect(header.startsWith('<https://ledger.example/x?linkType=linkset>; rel="linkset"; type="application/linkset+json"')).to.equal(true);
      expect(header).to.contain('rel="https://gs1.org/voc/recallStatus"');
    });

    it("tells browsers from programs by Accept", function () {
      expect(wantsHtml("text/html,application/xhtml+xml,*/*;q=0.8")).to.equal(true);
      expect(wantsHtml("application/json")).to.equal(false);
      expect(wantsHtml(undefined)).to.equal(false);
      expect(wantsHtml("*/*")).to.equal(false);
    });
  });

  describe("the VRS mapping", function () {
    const anticipated: VrsMappableVerdict[] = ["stolen", "destroyed", "sample", "free_sample", "exported", "locked", "in_transit", "withdrawn"];
    it("answers every verdict of today and every anticipated one, in every context, with the standard's codes", function () {
      for (const v of [...VERDICTS, ...anticipated]) {
        for (const c of VRS_CONTEXTS) {
          const a = vrsVerification(v, c);
          expect(a.verified, `${v}/${c}`).to.be.a("boolean");
          if (a.verified) expect(a.verificationFailureReason, `${v}/${c}`).to.equal(undefined);
          else expect(VRS_FAILURE_REASONS, `${v}/${c}`).to.include(a.verificationFailureReason);
          if (a.additionalInfo !== undefined) expect(VRS_ADDITIONAL_INFO).to.include(a.additionalInfo);
        }
      }
    });

    const table: Array<[VrsMappableVerdict, string, object]> = [
      ["genuine", "dscsaSaleableReturn", { verified: true }],
      ["expired", "dscsaSaleableReturn", { verified: true, additionalInfo: "Expired" }],
      ["recalled", "dscsaSaleableReturn", { verified: true, additionalInfo: "Recalled" }],
      ["quarantined", "dscsaSaleableReturn", { verified: true, additionalInfo: "Suspect" }],
      ["dispensed", "dscsaSaleableReturn", { verified: false, verificationFailureReason: "Not_for_re-distribution", additionalInfo: "Suspect" }],
      ["dispensed", "dscsaSuspectInvestigation", { verified: true, additionalInfo: "Suspect" }],
      ["unknown_batch", "dscsaSaleableReturn", { verified: false, verificationFailureReason: "No_match_GTIN_Serial_Lot" }],
      ["not_in_batch", "dscsaSaleableReturn", { verified: false, verificationFailureReason: "No_match_GTIN_Serial" }],
      ["expiry_mismatch", "dscsaSaleableReturn", { verified: false, verificationFailureReason: "No_match_GTIN_Serial_Expiry" }],
      ["serials_unavailable", "dscsaSaleableReturn", { verified: false, verificationFailureReason: "No_reason_provided" }],
      ["stolen", "dscsaIllegitimateInvestigation", { verified: false, verificationFailureReason: "Not_for_re-distribution", additionalInfo: "Illegitimate" }],
      ["withdrawn", "dscsaSaleableReturn", { verified: true, additionalInfo: "Recalled" }],
      ["sample", "dscsaSaleableReturn", { verified: false, verificationFailureReason: "Not_for_re-distribution" }],
    ];
    for (const [v, c, expected] of table) {
      it(`${v} in ${c} → ${JSON.stringify(expected)}`, function () {
        expect(vrsVerification(v, c as (typeof VRS_CONTEXTS)[number])).to.deep.equal(expected);
      });
    }
  });

  describe("requestor keys", function () {
    const glnA = withCheckDigit("400123400002");
    const glnB = withCheckDigit("400123400004");
    it("reads gln:key pairs, several keys per GLN, and refuses a bad GLN or a short key", function () {
      const m = parseVrsApiKeys(`${glnA}:aaaaaaaaaaaaaaaa1, ${glnA}:aaaaaaaaaaaaaaaa2,${glnB}:bbbbbbbbbbbbbbbb`);
      expect(m.get(glnA)).to.deep.equal(["aaaaaaaaaaaaaaaa1", "aaaaaaaaaaaaaaaa2"]);
      expect(() => parseVrsApiKeys("4001234000021:aaaaaaaaaaaaaaaa")).to.throw(VrsKeyConfigError, /check digit/);
      expect(() => parseVrsApiKeys(`${glnA}:short`)).to.throw(VrsKeyConfigError, /16/);
      expect(parseVrsApiKeys("").size).to.equal(0);
    });
    it("accepts a key for its own GLN only: 401 without or with an unknown key, 403 for another GLN", function () {
      const auth = new ApiKeyAuthenticator(parseVrsApiKeys(`${glnA}:aaaaaaaaaaaaaaaa1`));
      expect(auth.authenticate(glnA, {})).to.include({ ok: false, status: 401, code: "VRS_CREDENTIAL_REQUIRED" });
      expect(auth.authenticate(glnA, { apiKey: "nope" })).to.include({ ok: false, status: 401, code: "VRS_CREDENTIAL_UNKNOWN" });
      expect(auth.authenticate(glnB, { apiKey: "aaaaaaaaaaaaaaaa1" })).to.include({ ok: false, status: 403, code: "VRS_REQUESTOR_NOT_AUTHORISED" });
      expect(auth.authenticate(glnA, { apiKey: "aaaaaaaaaaaaaaaa1" })).to.deep.equal({ ok: true, requestorGLN: glnA, method: "api-key" });
    });
  });
});
