import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawnSync } from "node:child_process";
import { expect } from "chai";
import { productMasterDataHash, type ProductMasterData } from "../../api/domain/master-data";
import { documentUploadMessage } from "../../api/read/documents";
import { packingUploadMessage, serialUploadMessage } from "../../api/read/verification";
import { DEMO_PRODUCT } from "../../scripts/lib/consortium-setup";
import { ChainLedgerFeed } from "../../api/epcis/adapters/chain-feed";
import { IndexLedgerFeed } from "../../api/epcis/adapters/index-feed";
import { JsonRpcClient } from "../../api/read/chain-reader";
import { devWallet } from "../fixtures/chain";
import {
  AUDITOR_KEY,
  captureAndWait,
  commissioning,
  document,
  glnOf,
  GTIN,
  member,
  packing,
  projected,
  sgtin,
  shipping,
  sscc,
  ssccUri,
  startEpcisStack,
  token,
  until,
  type EpcisStack,
  type Who,
} from "../epcis/fixture";

/**
 * The read side's EPCIS context (api/read/epcis-context.ts) with its documents (documents.ts) and
 * the DSCSA route, over a real chain: an ERP commissions and ships through the EPCIS binding, the
 * owners upload master data and lists (signed), and the exports and the DSCSA file carry them.
 */

const XSD = path.join(__dirname, "../fixtures/dscsa/xsd-1.2/EPCglobal-epcis-1_2.xsd");
const SERIALS = Array.from({ length: 10 }, (_, i) => `DX-${String(i).padStart(3, "0")}`);
const CASES = [sscc(701), sscc(702)];
const PALLET = sscc(801, 1);
const LOT = "DSCSA-L1";
const PO = `urn:epcglobal:cbv:bt:${glnOf("distributor")}:PO-4711`;
const US_PRODUCT: ProductMasterData = { ...DEMO_PRODUCT.masterData, markets: ["DE", "FR", "US"], ndc: "12345-678-90" };

const wallet = (who: Who) => devWallet(member(who).account);
const party = (who: Who, country: string) => ({
  gln: glnOf(who),
  name: member(who).name,
  address: { streetAddressOne: "1 Main Street", city: country === "US" ? "Newark" : "Mainz", ...(country === "US" ? { state: "NJ" } : {}), postalCode: "07102", countryCode: country },
});

function xsdValid(xml: string): { ok: boolean; output: string } {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "dscsa-route-")), "file.xml");
  fs.writeFileSync(file, xml);
  const r = spawnSync("xmllint", ["--noout", "--schema", XSD, file], { encoding: "utf8" });
  if (r.error) throw new Error(`xmllint is needed (Debian: apt-get install -y libxml2-utils): ${r.error.message}`);
  return { ok: r.status === 0, output: `${r.stdout}${r.stderr}` };
}

describe("read side: the EPCIS context over the index, signed documents, the DSCSA route", function () {
  this.timeout(180_000);
  let stack: EpcisStack;
  let batchId: bigint;
  let shipmentId: string;
  const chainId = () => stack.app.chain.chainId;
  const batchToken = () => stack.addresses.batchToken;
  const put = (url: string, payload: object) => stack.app.inject({ method: "PUT", url, payload });
  const get = (url: string) => stack.app.inject({ method: "GET", url, headers: { "x-api-key": AUDITOR_KEY } });
  const sign = (who: Who, kind: Parameters<typeof documentUploadMessage>[0]["kind"], subject: string, hash: string) =>
    wallet(who).signMessage(documentUploadMessage({ kind, chainId: chainId(), batchToken: batchToken(), subject, hash }));
  const indexed = () =>
    until("the read index to reach the head", 20_000, async () => (stack.app.read.indexer?.status.indexedBlock ?? -1) >= (await stack.provider.getBlockNumber()));

  before(async () => {
    stack = await startEpcisStack({ READ_ENABLED: "true", INDEXER_POLL_MS: "30", VRS_API_KEYS: "" });
    await captureAndWait(
      stack,
      "producer",
      document([
        commissioning("dx-c", "producer", LOT, SERIALS),
        packing("dx-k0", "producer", ssccUri(CASES[0]!), SERIALS.slice(0, 5).map((s) => sgtin(s))),
        packing("dx-k1", "producer", ssccUri(CASES[1]!), SERIALS.slice(5).map((s) => sgtin(s))),
        packing("dx-p0", "producer", ssccUri(PALLET), CASES.map((c) => ssccUri(c))),
      ]),
    );
    batchId = await token(stack).batchIdOf(BigInt(GTIN), LOT);
    await projected(stack);
    const job = await captureAndWait(stack, "producer", document([shipping("dx-s", "producer", "distributor", [ssccUri(PALLET)], [{ type: "po", bizTransaction: PO }])]));
    expect(job.success, JSON.stringify(job.errors)).to.equal(true);
    const t = token(stack);
    shipmentId = (await t.queryFilter(t.filters.ShipmentCreated(batchId))).map((e) => e.args.shipmentId.toString())[0]!;
    await indexed();
  });
  after(async () => {
    await stack?.close();
  });

  describe("product and party master data: checked, signed by the owner", () => {
    it("stores the product's document when it hashes to the on-chain masterDataHash and its owner signed", async () => {
      const hash = productMasterDataHash(DEMO_PRODUCT.masterData);
      const res = await put(`/v1/products/${GTIN}/master-data`, { document: DEMO_PRODUCT.masterData, signature: await sign("producer", "product master data", `GTIN ${GTIN}`, hash) });
      expect(res.statusCode, res.body).to.equal(201);
      expect(res.json().masterDataHash).to.equal(hash);
      const back = await get(`/v1/products/${GTIN}/master-data`);
      expect(back.json().name).to.equal(DEMO_PRODUCT.masterData.name);
    });
    it("refuses another document (409), another signer (403), an invalid document (400), an unknown product (404)", async () => {
      const other = { ...DEMO_PRODUCT.masterData, name: "Ibuprofen Rhein 600 mg" };
      const otherHash = productMasterDataHash(other);
      const mismatch = await put(`/v1/products/${GTIN}/master-data`, { document: other, signature: await sign("producer", "product master data", `GTIN ${GTIN}`, otherHash) });
      expect([mismatch.statusCode, mismatch.json().error.code]).to.deep.equal([409, "MASTER_DATA_HASH_MISMATCH"]);
      const hash = productMasterDataHash(DEMO_PRODUCT.masterData);
      const wrong = await put(`/v1/products/${GTIN}/master-data`, { document: DEMO_PRODUCT.masterData, signature: await sign("distributor", "product master data", `GTIN ${GTIN}`, hash) });
      expect([wrong.statusCode, wrong.json().error.code]).to.deep.equal([403, "SIGNATURE_NOT_OWNER"]);
      const invalid = await put(`/v1/products/${GTIN}/master-data`, { document: { ...DEMO_PRODUCT.masterData, ndc: "123" }, signature: "0x" + "11".repeat(65) });
      expect([invalid.statusCode, invalid.json().error.code]).to.deep.equal([400, "MASTER_DATA_INVALID"]);
      expect(invalid.json().error.message).to.match(/^document\.ndc: /);
      const unknown = await put(`/v1/products/09506000134369/master-data`, { document: DEMO_PRODUCT.masterData });
      expect([unknown.statusCode, unknown.json().error.code]).to.deep.equal([404, "PRODUCT_NOT_FOUND"]);
    });
    it("stores parties' documents signed by the member for its own register GLN", async () => {
      for (const [who, country] of [["producer", "DE"], ["distributor", "US"]] as const) {
        const doc = party(who, country);
        const { partyMasterDataHash } = await import("../../api/domain/master-data");
        const res = await put(`/v1/members/${wallet(who).address}/master-data`, { document: doc, companyPrefixLength: 7, signature: await sign(who, "party master data", `GLN ${glnOf(who)}`, partyMasterDataHash(doc)) });
        expect(res.statusCode, res.body).to.equal(201);
      }
      expect((await get(`/v1/parties/${glnOf("distributor")}/master-data`)).json().address.countryCode).to.equal("US");
      const foreign = await put(`/v1/members/${wallet("pharmacy").address}/master-data`, { document: party("producer", "DE"), signature: "0x" + "11".repeat(65) });
      expect([foreign.statusCode, foreign.json().error.code]).to.deep.equal([400, "MASTER_DATA_GLN_MISMATCH"]);
    });
  });

  describe("exports: one canonical EPCIS event per ledger event, with master data and the real documents", () => {
    it("names the captured PO (not the hash), and a window holding only the shipment gives the same event", async () => {
      const whole = (await get(`/v1/batches/${batchId}/events.epcis.json`)).json();
      const ship = (whole.epcisBody.eventList as Array<Record<string, unknown>>).find((e) => e.bizStep === "shipping")!;
      expect(ship.bizTransactionList).to.deep.equal([{ type: "po", bizTransaction: PO }]);
      const t = token(stack);
      const [created] = await t.queryFilter(t.filters.ShipmentCreated(batchId));
      const time = (await stack.provider.getBlock(created!.blockNumber))!.timestamp;
      const window = (await get(`/v1/events.epcis.json?from=${new Date(time * 1000).toISOString()}&to=${new Date((time + 1) * 1000).toISOString()}`)).json();
      const again = (window.epcisBody.eventList as Array<Record<string, unknown>>).find((e) => e.bizStep === "shipping")!;
      expect(again).to.deep.equal(ship);
      const vocab = JSON.stringify(whole.epcisHeader?.epcisMasterData ?? {});
      expect(vocab).to.contain(DEMO_PRODUCT.masterData.name);
      expect(vocab).to.contain(member("distributor").name);
    });
  });

  describe("business documents: checked against the shipment's referenceHash", () => {
    it("takes the same list signed by the receiver; refuses another list (409) and a stranger's signature (403)", async () => {
      const { bizTransactionsReferenceHash, parseBizTransactions } = await import("../../api/domain/biz-transactions");
      const list = [{ type: "po", id: "PO-4711", issuer: glnOf("distributor") }];
      const hash = bizTransactionsReferenceHash(parseBizTransactions(list));
      const ok = await put(`/v1/shipments/${shipmentId}/documents`, { bizTransactions: list, signature: await sign("distributor", "business transactions", `shipment ${shipmentId}`, hash) });
      expect(ok.statusCode, ok.body).to.equal(201);
      const other = [{ type: "po", id: "PO-4712", issuer: glnOf("distributor") }];
      const bad = await put(`/v1/shipments/${shipmentId}/documents`, { bizTransactions: other, signature: "0x" + "11".repeat(65) });
      expect([bad.statusCode, bad.json().error.code]).to.deep.equal([409, "BT_REFERENCE_MISMATCH"]);
      const stranger = await put(`/v1/shipments/${shipmentId}/documents`, { bizTransactions: list, signature: await sign("pharmacy", "business transactions", `shipment ${shipmentId}`, hash) });
      expect([stranger.statusCode, stranger.json().error.code]).to.deep.equal([403, "SIGNATURE_NOT_OWNER"]);
      const invalid = await put(`/v1/shipments/${shipmentId}/documents`, { bizTransactions: [{ type: "nope", id: "1", issuer: glnOf("distributor") }] });
      expect([invalid.statusCode, invalid.json().error.code]).to.deep.equal([400, "BT_TYPE_UNKNOWN"]);
    });
  });

  describe("the OpenAPI document at /docs", () => {
    it("lists the EPCIS binding's routes, the DSCSA file and the document uploads", async () => {
      const res = await stack.app.inject({ method: "GET", url: "/docs/json" });
      expect(res.statusCode).to.equal(200);
      const paths = Object.keys(res.json().paths as Record<string, unknown>);
      expect(paths).to.include.members([
        "/epcis/",
        "/epcis/capture",
        "/epcis/capture/{captureID}",
        "/epcis/events",
        "/epcis/events/{eventID}",
        "/epcis/eventTypes",
        "/epcis/queries",
        "/epcis/queries/{queryName}",
        "/epcis/queries/{queryName}/events",
        "/epcis/queries/{queryName}/subscriptions",
        "/epcis/queries/{queryName}/subscriptions/{subscriptionID}",
        "/v1/shipments/{shipmentId}/dscsa.xml",
        "/v1/shipments/{shipmentId}/documents",
        "/v1/products/{gtin}/master-data",
        "/v1/members/{address}/master-data",
        "/v1/parties/{gln}/master-data",
      ]);
    });
  });

  describe("GET /v1/shipments/{id}/dscsa.xml", () => {
    it("answers 422 listing every missing fact with its DSCSA code while the file cannot be made", async () => {
      const res = await get(`/v1/shipments/${shipmentId}/dscsa.xml`);
      expect(res.statusCode, res.body).to.equal(422);
      // Checked in stages: the product's master data first (it has no NDC yet), the packs' serials after.
      const codes = (res.json().error.details.problems as Array<{ code: string }>).map((p) => p.code);
      expect(codes).to.deep.equal(["DSCSA_NO_NDC"]);
      expect(res.json().error.code).to.equal("DSCSA_NO_NDC");
      expect((await get(`/v1/shipments/99999/dscsa.xml`)).json().error.code).to.equal("SHIPMENT_NOT_FOUND");
      expect((await stack.app.inject({ method: "GET", url: `/v1/shipments/${shipmentId}/dscsa.xml` })).statusCode).to.equal(401);
    });

    it("writes the TI/TS file, valid against the EPCIS 1.2 XSD, once the owners uploaded lists and master data", async () => {
      // The producer registers master data with an NDC (update-product through its custodial key) and uploads it.
      const hash = productMasterDataHash(US_PRODUCT);
      const upd = await stack.app.inject({ method: "POST", url: "/v1/custodial/update-product", headers: { "x-api-key": stack.keys.producer, "idempotency-key": "dx-update-product" }, payload: { gtin: GTIN, markets: ["DE", "FR", "US"], masterDataHash: hash } });
      expect(upd.statusCode, upd.body).to.be.oneOf([200, 202]);
      await until("the product's new hash in the index", 20_000, () => stack.app.read.store.product(GTIN)?.masterDataHash.toLowerCase() === hash);
      expect((await put(`/v1/products/${GTIN}/master-data`, { document: US_PRODUCT, signature: await sign("producer", "product master data", `GTIN ${GTIN}`, hash) })).statusCode).to.equal(201);
      // Serial and packing lists, in the order the mint committed to (what the binding captured).
      const lists = stack.app.epcis.lists;
      const serials = [...lists.serialsOf(batchId.toString())!];
      const b = await token(stack).batch(batchId);
      const serialSig = await wallet("producer").signMessage(serialUploadMessage({ chainId: chainId(), batchToken: batchToken(), batchId, root: b.serialsRoot, count: serials.length }));
      const up = await stack.app.inject({ method: "POST", url: `/v1/batches/${batchId}/serials`, payload: { serials, signature: serialSig } });
      expect(up.statusCode, up.body).to.equal(201);
      const cases = [0, 1].map((k) => lists.ssccOf(batchId.toString(), 1, k)!);
      const pallets = [lists.ssccOf(batchId.toString(), 2, 0)!];
      const packSig = await wallet("producer").signMessage(packingUploadMessage({ chainId: chainId(), batchToken: batchToken(), batchId, root: b.packingRoot, cases: 2, pallets: 1 }));
      const pk = await stack.app.inject({ method: "POST", url: `/v1/batches/${batchId}/packing`, payload: { cases, pallets, signature: packSig } });
      expect(pk.statusCode, pk.body).to.equal(201);

      const res = await get(`/v1/shipments/${shipmentId}/dscsa.xml`);
      expect(res.statusCode, res.body).to.equal(200);
      expect(res.headers["content-type"]).to.match(/^application\/xml/);
      const xml = res.body;
      const v = xsdValid(xml);
      expect(v.ok, v.output).to.equal(true);
      expect(xml).to.contain(PO);
      expect(xml).to.contain(">12345067890<"); // NDC-11 (5-4-2) of 12345-678-90
      expect(xml).to.contain(member("distributor").name);
      expect(xml).to.contain(`urn:epc:id:sscc:9506000.${PALLET.slice(0, 1)}${PALLET.slice(8, 17)}`);
      for (const s of SERIALS) expect(xml).to.contain(`.${s}<`);
      // The same shipment gives the same bytes.
      expect((await get(`/v1/shipments/${shipmentId}/dscsa.xml`)).body).to.equal(xml);
    });
  });

  describe("the EPCIS projection follows the read side's index", function () {
    it("the index feed gives exactly the chain feed's entries (cursors, events, order), whole and in pages", async function () {
      await indexed();
      const indexFeed = new IndexLedgerFeed(stack.app.read.store);
      const chainFeed = new ChainLedgerFeed(new JsonRpcClient(stack.node.url), batchToken(), { blockRange: 3 });
      expect(await indexFeed.identity()).to.equal(await chainFeed.identity());
      const fromChain = await chainFeed.after("", 100_000);
      const fromIndex = await indexFeed.after("", 100_000);
      expect(fromChain.length).to.be.greaterThan(4);
      expect(fromIndex).to.deep.equal(fromChain);
      expect(await indexFeed.head()).to.equal(fromChain[fromChain.length - 1]!.cursor);
      const paged: typeof fromIndex = [];
      for (let page = await indexFeed.after("", 2); page.length > 0; page = await indexFeed.after(page[page.length - 1]!.cursor, 2)) paged.push(...page);
      expect(paged).to.deep.equal(fromIndex);
      // The service's own projection is built from it and has reached the index's head.
      await projected(stack);
      expect(stack.app.epcis.projector.position).to.equal(await indexFeed.head());
    });

    it("refuses to mix two chains when the index is rebuilt for another one, and says what to do", async function () {
      const meta = new Map([["genesisHash", "0xaa"], ["batchToken", "0xBB"]]);
      const fake = { meta: (k: string) => meta.get(k), eventsAfter: () => [], lastEvent: () => undefined };
      const feed = new IndexLedgerFeed(fake);
      expect(await feed.identity()).to.equal("0xaa/0xbb");
      expect(await feed.after("", 10)).to.deep.equal([]);
      meta.set("genesisHash", "0xcc");
      await expectRejected(feed.after("", 10), /rebuilt for another chain .*restart the service/);
      meta.clear();
      await expectRejected(new IndexLedgerFeed(fake).identity(), /has not read the chain yet/);
      expect(await new IndexLedgerFeed(fake).identity().catch((e: { transient?: boolean }) => e.transient)).to.equal(true);
    });
  });
});

async function expectRejected(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  try {
    await p;
  } catch (err) {
    expect((err as Error).message).to.match(pattern);
    return;
  }
  expect.fail(`expected a rejection matching ${pattern}`);
}
