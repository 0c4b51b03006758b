import fs from "node:fs";
import path from "node:path";
import { Writable } from "node:stream";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { batchTokenInterface } from "../../../api/relay/policy";
import { giveStock, mintStock, relayConfig, startChain, tempDir, until, who, type Chain } from "./stack";

const ADMIN = "admin-token-for-tests-0123456789";
const PASSPHRASE = "correct horse battery staple";

describe("relay custodial signing: API keys, encrypted keystores, same pipeline", function () {
  this.timeout(120_000);
  let chain: Chain;
  let app: FastifyInstance;
  let dataDir: string;
  let logs = "";
  let batchId: bigint;
  const keys: Record<string, string> = {};

  const enrol = (label: string, privateKey: string | undefined, token = ADMIN) =>
    app.inject({ method: "POST", url: "/v1/admin/custodial-members", headers: { authorization: `Bearer ${token}` }, payload: { label, ...(privateKey ? { privateKey } : {}) } });
  const act = (action: string, apiKey: string | undefined, body: object, headers: Record<string, string> = {}) =>
    app.inject({ method: "POST", url: `/v1/custodial/${action}`, headers: { ...(apiKey ? { "x-api-key": apiKey } : {}), ...headers }, payload: body });
  const finished = async (id: string) => {
    let s = { state: "", txHash: "" as string | null, error: null as unknown };
    await until(`request ${id} to finish`, 20_000, async () => {
      s = (await app.inject({ method: "GET", url: `/v1/requests/${id}` })).json();
      return s.state === "mined" || s.state === "failed";
    });
    return s;
  };

  before(async () => {
    chain = await startChain();
    batchId = await mintStock(chain, 100n);
    await giveStock(chain, batchId, who.distributor, 50n);
    dataDir = tempDir("custodial");
    const stream = new Writable({
      write(chunk, _enc, cb) {
        logs += chunk.toString();
        cb();
      },
    });
    const config = relayConfig(chain.url, chain.addresses, { RELAY_ADMIN_TOKEN: ADMIN, RELAY_KEYSTORE_PASSPHRASE: PASSPHRASE, RELAY_KEYSTORE_SCRYPT_N: "1024", LOG_LEVEL: "trace" }, dataDir);
    app = await buildApp(config, { logger: { level: "trace", stream } });
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await chain?.stop();
  });

  it("enrols members with the admin token only, and keeps their keys encrypted on disk", async () => {
    expect((await enrol("distributor", who.distributor.privateKey, "wrong-token-wrong-token-wrong")).json().error.code).to.equal("ADMIN_TOKEN_INVALID");
    for (const [name, wallet] of [["distributor", who.distributor], ["pharmacy", who.pharmacy]] as const) {
      const res = await enrol(name, wallet.privateKey);
      expect(res.statusCode, res.body).to.equal(201);
      expect(res.json().member).to.equal(wallet.address);
      keys[name] = res.json().apiKey;
      const file = fs.readFileSync(path.join(dataDir, "custodial", res.json().keystore), "utf8");
      expect(file).to.not.include(wallet.privateKey.slice(2));
      expect(Object.keys(JSON.parse(file)).map((k) => k.toLowerCase())).to.include("crypto");
    }
    const generated = await enrol("new organisation", undefined);
    expect(generated.statusCode).to.equal(201);
    expect(generated.json().member).to.match(/^0x[0-9a-fA-F]{40}$/);
  });

  it("ships as the distributor and accepts as the pharmacy, signed by the relay, both mined", async () => {
    const ship = await act("ship", keys.distributor, { batchId: String(batchId), quantity: "3", receiver: who.pharmacy.address });
    expect(ship.statusCode, ship.body).to.equal(202);
    const shipped = await finished(ship.json().id);
    expect(shipped.state).to.equal("mined");
    const receipt = await chain.provider.getTransactionReceipt(shipped.txHash!);
    const created = receipt!.logs.map((l) => batchTokenInterface.parseLog(l)).find((p) => p?.name === "ShipmentCreated")!;
    const shipment = { batchId: String(batchId), sender: who.distributor.address, receiver: who.pharmacy.address, quantity: "3", kind: "Forward", items: [] };
    const accept = await act("accept", keys.pharmacy, { shipmentId: String(created.args.shipmentId), shipment });
    expect(accept.statusCode, accept.body).to.equal(202);
    expect((await finished(accept.json().id)).state).to.equal("mined");
    const { batchToken } = await import("../../fixtures/chain").then((m) => m.systemAt(chain.addresses, chain.provider));
    expect(await batchToken.balanceOf(who.pharmacy.address, batchId)).to.equal(3n);
  });

  it("runs the same checks: a call that would revert is refused with its error name", async () => {
    const res = await act("ship", keys.pharmacy, { batchId: String(batchId), quantity: "1000", receiver: who.distributor.address });
    expect(res.statusCode).to.equal(422);
    expect(res.json().error.code).to.equal("CALL_REVERTED");
    expect(res.json().error.details.error).to.be.a("string").and.not.equal("UnknownError");
  });

  it("answers 401 API_KEY_INVALID without a key, with a wrong key, and 400 for unknown fields", async () => {
    expect((await act("ship", undefined, { batchId: "1", quantity: "1", receiver: who.pharmacy.address })).json().error.code).to.equal("API_KEY_INVALID");
    // The key is checked first: without one, a malformed body says nothing about the schema.
    const unauthenticated = await act("ship", undefined, { nonsense: true });
    expect(unauthenticated.statusCode).to.equal(401);
    expect(unauthenticated.body).not.to.match(/batchId|receiver/);
    const forged = keys.pharmacy.slice(0, -4) + (keys.pharmacy.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect((await act("ship", forged, { batchId: "1", quantity: "1", receiver: who.pharmacy.address })).statusCode).to.equal(401);
    expect((await act("ship", keys.pharmacy, { batchId: "1", quantity: "1", receiver: who.pharmacy.address, gas: "1" })).json().error.code).to.equal("VALIDATION_FAILED");
  });

  it("makes retries safe with an Idempotency-Key", async () => {
    const body = { batchId: String(batchId), quantity: "1", receiver: who.pharmacy.address };
    const first = await act("ship", keys.distributor, body, { "idempotency-key": "despatch-1" });
    const again = await act("ship", keys.distributor, body, { "idempotency-key": "despatch-1" });
    expect(first.statusCode).to.equal(202);
    expect(again.statusCode).to.equal(200);
    expect(again.json().id).to.equal(first.json().id);
    expect((await finished(first.json().id)).state).to.equal("mined");
  });

  it("rotates API keys: issues a second key, lists keys without secrets, revokes the first at once", async () => {
    const auth = { authorization: `Bearer ${ADMIN}` };
    const keysUrl = `/v1/admin/custodial-members/${who.distributor.address}/api-keys`;
    const issued = await app.inject({ method: "POST", url: keysUrl, headers: auth, payload: { label: "warehouse ERP, 2027" } });
    expect(issued.statusCode, issued.body).to.equal(201);
    expect(issued.json().member).to.equal(who.distributor.address);
    keys.distributorNew = issued.json().apiKey;
    const oldKeyId = keys.distributor.split("_")[1];

    const listed = await app.inject({ method: "GET", url: keysUrl.toLowerCase(), headers: auth });
    expect(listed.statusCode, listed.body).to.equal(200);
    const list = listed.json() as { member: string; keys: { keyId: string; label: string; revokedAt: string | null }[] };
    expect(list.member).to.equal(who.distributor.address);
    expect(list.keys.map((k) => k.keyId)).to.have.members([oldKeyId, issued.json().keyId]);
    expect(list.keys.every((k) => k.revokedAt === null)).to.equal(true);
    for (const secret of [keys.distributor, keys.distributorNew].map((k) => k.split("_").slice(2).join("_"))) expect(listed.body).to.not.include(secret);

    const revoked = await app.inject({ method: "DELETE", url: `/v1/admin/api-keys/${oldKeyId}`, headers: auth });
    expect(revoked.statusCode, revoked.body).to.equal(200);
    expect(revoked.json().revokedAt).to.be.a("string");
    const again = await app.inject({ method: "DELETE", url: `/v1/admin/api-keys/${oldKeyId}`, headers: auth });
    expect(again.json().revokedAt, "revoking twice keeps the first date").to.equal(revoked.json().revokedAt);

    const body = { batchId: String(batchId), quantity: "1", receiver: who.pharmacy.address };
    const refused = await act("ship", keys.distributor, body);
    expect(refused.statusCode).to.equal(401);
    expect(refused.json().error.code).to.equal("API_KEY_REVOKED");
    const works = await act("ship", keys.distributorNew, body);
    expect(works.statusCode, works.body).to.equal(202);
    expect((await finished(works.json().id)).state).to.equal("mined");
  });

  it("refuses key administration without the admin token, for unknown members, unknown or malformed key ids and impossible private keys", async () => {
    const auth = { authorization: `Bearer ${ADMIN}` };
    const keysUrl = `/v1/admin/custodial-members/${who.distributor.address}/api-keys`;
    expect((await app.inject({ method: "GET", url: keysUrl })).json().error.code).to.equal("ADMIN_TOKEN_INVALID");
    expect((await app.inject({ method: "POST", url: keysUrl, headers: { authorization: "Bearer not-the-admin-token-at-all" }, payload: { label: "x" } })).json().error.code).to.equal("ADMIN_TOKEN_INVALID");
    expect((await app.inject({ method: "DELETE", url: "/v1/admin/api-keys/0123456789abcdef" })).json().error.code).to.equal("ADMIN_TOKEN_INVALID");

    const stranger = `/v1/admin/custodial-members/${who.regulator.address}/api-keys`;
    const list = await app.inject({ method: "GET", url: stranger, headers: auth });
    expect([list.statusCode, list.json().error.code]).to.deep.equal([404, "MEMBER_NOT_ENROLLED"]);
    const issue = await app.inject({ method: "POST", url: stranger, headers: auth, payload: { label: "x" } });
    expect([issue.statusCode, issue.json().error.code]).to.deep.equal([404, "MEMBER_NOT_ENROLLED"]);

    const unknown = await app.inject({ method: "DELETE", url: "/v1/admin/api-keys/0123456789abcdef", headers: auth });
    expect([unknown.statusCode, unknown.json().error.code]).to.deep.equal([404, "API_KEY_NOT_FOUND"]);
    const malformed = await app.inject({ method: "DELETE", url: `/v1/admin/api-keys/${keys.pharmacy}`, headers: auth });
    expect(malformed.statusCode).to.equal(400);
    expect(malformed.json().error.message).to.match(/key id/);
    const noLabel = await app.inject({ method: "POST", url: keysUrl, headers: auth, payload: { label: "" } });
    expect(noLabel.statusCode).to.equal(400);
    for (const privateKey of ["0x" + "0".repeat(64), "0x" + "f".repeat(64)]) {
      const bad = await enrol("not a key", privateKey);
      expect([bad.statusCode, bad.json().error.code]).to.deep.equal([400, "VALIDATION_FAILED"]);
      expect(bad.json().error.message).to.match(/curve order/);
    }
  });

  it("never writes a private key, an API key or the passphrase to the logs", async () => {
    // A client that pastes its whole key into a URL: the URL is logged with the secret masked.
    await app.inject({ method: "DELETE", url: `/v1/admin/api-keys/${keys.pharmacy}`, headers: { authorization: `Bearer ${ADMIN}` } });
    expect(logs.length).to.be.greaterThan(1_000);
    for (const secret of [who.distributor.privateKey.slice(2), who.pharmacy.privateKey.slice(2), PASSPHRASE, ADMIN, ...Object.values(keys).map((k) => k.split("_").slice(2).join("_"))]) {
      expect(logs).to.not.include(secret);
    }
    expect(logs, "a key pasted into a URL is logged masked").to.include(`/v1/admin/api-keys/mtk_${keys.pharmacy.split("_")[1]}_***`);
  });

  it("answers 404 CUSTODIAL_DISABLED when no keystore passphrase is configured", async () => {
    const plain = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false" }), { logger: false });
    try {
      const res = await plain.inject({ method: "POST", url: "/v1/custodial/ship", headers: { "x-api-key": keys.pharmacy }, payload: { batchId: "1", quantity: "1", receiver: who.pharmacy.address } });
      expect(res.statusCode).to.equal(404);
      expect(res.json().error.code).to.equal("CUSTODIAL_DISABLED");
    } finally {
      await plain.close();
    }
  });
});
