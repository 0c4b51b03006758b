import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { RelayClient, calls } from "../../../api/client";
import { batchTokenInterface } from "../../../api/relay/policy";
import { devWallet, systemAt } from "../../fixtures/chain";
import { Outbox } from "../../../api/relay/outbox";
import { executedRequests, giveStock, mintStock, relayConfig, shipData, signed, startChain, tempDir, testLogger, until, who, ZERO32, type Chain } from "./stack";

describe("relay intake: signed requests through app.inject against a real anvil node", function () {
  this.timeout(120_000);
  let chain: Chain;
  let app: FastifyInstance;
  let queueOnly: FastifyInstance;
  let batchId: bigint;

  const post = (target: FastifyInstance, body: unknown, headers: Record<string, string> = {}) =>
    target.inject({ method: "POST", url: "/v1/requests", payload: body as object, headers });
  const expectError = (res: { statusCode: number; json(): { error: { code: string; message: string; hint?: string } } }, status: number, code: string) => {
    expect(res.statusCode, JSON.stringify(res.json())).to.equal(status);
    expect(res.json().error.code).to.equal(code);
    expect(res.json().error.message).to.be.a("string").and.not.empty;
  };
  const nonceOf = async (address: string) => systemAt(chain.addresses, chain.provider).forwarder.nonces(address);

  before(async () => {
    chain = await startChain();
    batchId = await mintStock(chain, 1_000n);
    await giveStock(chain, batchId, who.distributor, 100n);
    app = await buildApp(relayConfig(chain.url, chain.addresses), testLogger());
    await app.ready();
    // A second relay that only queues, without the member cache: for the checks about what is
    // already queued, and for on-chain membership changes seen at once.
    queueOnly = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", RELAY_MEMBER_CACHE_MS: "0" }), testLogger());
    await queueOnly.ready();
  });
  after(async () => {
    await app?.close();
    await queueOnly?.close();
    await chain?.stop();
  });

  it("accepts a producer's signed ship, answers 202 with an id, and the request ends mined with its transaction", async function () {
    const before = await nonceOf(who.producer.address);
    const res = await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), before) });
    expect(res.statusCode, res.body).to.equal(202);
    const { id, state } = res.json();
    expect(state).to.equal("queued");
    let status: { state: string; txHash: string | null; blockNumber: number | null; success: boolean | null } = { state: "", txHash: null, blockNumber: null, success: null };
    await until("the request to be mined", 20_000, async () => {
      status = (await app.inject({ method: "GET", url: `/v1/requests/${id}` })).json();
      return status.state === "mined" || status.state === "failed";
    });
    expect(status.state).to.equal("mined");
    expect(status.success).to.equal(true);
    const receipt = await chain.provider.getTransactionReceipt(status.txHash!);
    expect(receipt!.blockNumber).to.equal(status.blockNumber);
    expect(await nonceOf(who.producer.address)).to.equal(before + 1n);
    const events = await executedRequests(chain);
    expect(events.get(`${who.producer.address.toLowerCase()}:${before}`)).to.deep.equal([true]);
  });

  it("works end to end through the typed client over HTTP, including a relayed governance-free regulator action", async function () {
    await app.listen({ port: 0, host: "127.0.0.1" });
    const address = app.server.address() as { port: number };
    const client = new RelayClient(`http://127.0.0.1:${address.port}`);
    const { contracts } = await client.domain();
    const accepted = await client.send({ privateKey: who.regulator.privateKey, address: who.regulator.address }, contracts.batchToken, calls.quarantine(batchId, ZERO32));
    const done = await client.waitFor(accepted.id, { timeoutMs: 20_000 });
    expect(done.state).to.equal("mined");
    const lift = await client.send({ signer: who.regulator, address: who.regulator.address }, contracts.batchToken, calls.liftQuarantine(batchId, ZERO32));
    expect((await client.waitFor(lift.id, { timeoutMs: 20_000 })).state).to.equal("mined");
    const batch = await systemAt(chain.addresses, chain.provider).batchToken.batch(batchId);
    expect(batch.status).to.equal(1n);
  });

  it("long-polls a request's status over HTTP: ?wait answers at the next state change, at once when finished, and when the service closes", async function () {
    // A relay that only queues, listening on a real socket as clients use it; the state change is
    // the submitter's write-ahead record of a transaction, made here through the relay's own outbox.
    const relay = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false" }), testLogger());
    await relay.listen({ port: 0, host: "127.0.0.1" });
    const { port } = relay.server.address() as { port: number };
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, body: (await res.json()) as { state: string; txHash: string | null; error?: { code: string; message: string } } };
    };
    const later = <T>(ms: number, value: T) => new Promise<T>((r) => setTimeout(() => r(value), ms));
    try {
      const ids: string[] = [];
      for (const [from, to] of [[who.producer, who.distributor], [who.distributor, who.pharmacy]] as const) {
        const res = await post(relay, { request: signed(chain.addresses, from, chain.addresses.batchToken, shipData(batchId, to.address), await nonceOf(from.address)) });
        expect(res.statusCode, res.body).to.equal(202);
        ids.push(res.json().id);
      }
      expect((await get(`/v1/requests/${ids[0]}`)).body.state, "no wait: at once").to.equal("queued");

      const polling = get(`/v1/requests/${ids[0]}?wait=25`);
      expect(await Promise.race([polling.then(() => "answered"), later(300, "waiting")])).to.equal("waiting");
      const hash = "0x" + "ab".repeat(32);
      relay.relay.outbox.recordTx({ hash, relayer: who.producer.address, relayerNonce: 1_000_000, raw: "0x00", requestIds: [ids[0]] });
      const answer = await polling;
      expect([answer.status, answer.body.state, answer.body.txHash]).to.deep.equal([200, "submitted", hash]);

      for (const bad of ["31", "-1", "soon", "1.5"]) {
        const refused = await get(`/v1/requests/${ids[0]}?wait=${bad}`);
        expect([refused.status, refused.body.error?.code]).to.deep.equal([400, "VALIDATION_FAILED"]);
        expect(refused.body.error?.message).to.include("wait");
      }

      const left = get(`/v1/requests/${ids[1]}?wait=25`);
      await later(100, undefined);
      const closed = relay.close();
      expect(await Promise.race([left.then(() => "answered"), later(15_000, "still waiting")]), "closing wakes long-polls").to.equal("answered");
      expect((await left).body.state).to.equal("queued");
      await closed;
    } finally {
      await relay.close();
    }
  });

  it("answers a long-poll on a finished request at once", async function () {
    const nonce = await nonceOf(who.producer.address);
    const res = await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), nonce) });
    const id = res.json().id as string;
    await new RelayClient(`http://127.0.0.1:${(app.server.address() as { port: number }).port}`).waitFor(id, { timeoutMs: 20_000 });
    expect((await app.inject({ method: "GET", url: `/v1/requests/${id}?wait=30` })).json().state).to.equal("mined");
  });

  describe("bad input gets a 4xx with a stable code", function () {
    let nonce: bigint;
    beforeEach(async () => {
      nonce = await nonceOf(who.producer.address);
    });
    const ship = () => shipData(batchId, who.distributor.address);

    it("malformed JSON → 400 MALFORMED_JSON", async () => {
      const res = await app.inject({ method: "POST", url: "/v1/requests", payload: "{\"request\": ", headers: { "content-type": "application/json" } });
      expectError(res, 400, "MALFORMED_JSON");
    });
    it("wrong types → 400 VALIDATION_FAILED naming the field", async () => {
      const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce) as unknown as Record<string, unknown>;
      const res = await post(app, { request: { ...body, gas: 300000 } });
      expectError(res, 400, "VALIDATION_FAILED");
      expect(res.json().error.message).to.include("gas");
    });
    it("oversized body → 413 BODY_TOO_LARGE", async () => {
      const res = await post(app, { request: { data: "0x" + "ab".repeat(300_000) } });
      expectError(res, 413, "BODY_TOO_LARGE");
    });
    it("unknown fields → 400 VALIDATION_FAILED (strict schemas)", async () => {
      const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce);
      expectError(await post(app, { request: { ...body, extra: 1 } }), 400, "VALIDATION_FAILED");
      expectError(await post(app, { request: body, extra: 1 }), 400, "VALIDATION_FAILED");
    });
    it("bad hex → 400 VALIDATION_FAILED", async () => {
      const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce);
      expectError(await post(app, { request: { ...body, data: "0xzz" + body.data.slice(4) } }), 400, "VALIDATION_FAILED");
      expectError(await post(app, { request: { ...body, data: body.data + "a" } }), 400, "VALIDATION_FAILED");
      expectError(await post(app, { request: { ...body, signature: "0x1234" } }), 400, "VALIDATION_FAILED");
    });
    it("a signature by another key → 401 SIGNATURE_INVALID", async () => {
      const forged = signed(chain.addresses, who.distributor, chain.addresses.batchToken, ship(), nonce);
      const body = { ...forged, from: who.producer.address };
      expectError(await post(app, { request: body }), 401, "SIGNATURE_INVALID");
    });
    it("a malformed signature (v = 0, high s) → 401 SIGNATURE_INVALID", async () => {
      const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce);
      expectError(await post(app, { request: { ...body, signature: body.signature.slice(0, 130) + "00" } }), 401, "SIGNATURE_INVALID");
      const highS = body.signature.slice(0, 66) + "f".repeat(64) + body.signature.slice(130);
      expectError(await post(app, { request: { ...body, signature: highS } }), 401, "SIGNATURE_INVALID");
    });
    it("a signer that is not a member → 403 NOT_A_MEMBER", async () => {
      const body = signed(chain.addresses, who.stranger, chain.addresses.batchToken, ship(), 0n);
      expectError(await post(app, { request: body }), 403, "NOT_A_MEMBER");
    });
    it("a role the function does not allow → 403 ROLE_NOT_ALLOWED", async () => {
      const body = signed(chain.addresses, who.auditor, chain.addresses.batchToken, ship(), 0n);
      expectError(await post(app, { request: body }), 403, "ROLE_NOT_ALLOWED");
    });
    it("a governance process call by a non-governor → 403 NOT_A_GOVERNOR", async () => {
      const body = signed(chain.addresses, who.producer, chain.addresses.consortium, calls.approve(1n), nonce);
      expectError(await post(app, { request: body }), 403, "NOT_A_GOVERNOR");
    });
    it("an expired deadline → 422 DEADLINE_EXPIRED; one too close → 422 DEADLINE_TOO_CLOSE", async () => {
      const now = BigInt(Math.floor(Date.now() / 1000));
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce, { deadline: now - 10n }) }), 422, "DEADLINE_EXPIRED");
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce, { deadline: now + 5n }) }), 422, "DEADLINE_TOO_CLOSE");
    });
    it("a used nonce → 409 NONCE_USED; one too far ahead → 422 NONCE_TOO_FAR", async () => {
      expect(nonce > 0n).to.equal(true);
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce - 1n) }), 409, "NONCE_USED");
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce + 10_000n) }), 422, "NONCE_TOO_FAR");
    });
    it("a nonce another relay used a moment ago → 409 NONCE_USED, though the member cache is warm", async () => {
      // A relay whose member cache lasts a minute, so a cached nonce would still be the old one.
      const relay = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", RELAY_MEMBER_CACHE_MS: "60000" }), testLogger());
      try {
        // Warm its caches for the producer (refused: too far ahead), then let "another relay"
        // (dev account 15, straight to the forwarder) execute the producer's next request.
        expectError(await post(relay, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce + 10_000n) }), 422, "NONCE_TOO_FAR");
        const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce);
        const { forwarder } = systemAt(chain.addresses, devWallet(15).connect(chain.provider));
        const { nonce: _used, ...request } = body;
        await (await forwarder.execute(request, { gasPrice: 0 })).wait();
        expect(await nonceOf(who.producer.address)).to.equal(nonce + 1n);
        expectError(await post(relay, { request: body }), 409, "NONCE_USED");
      } finally {
        await relay.close();
      }
    });
    it("a nonce already queued → 409 NONCE_ALREADY_QUEUED, and nextNonce counts it", async () => {
      const q = await nonceOf(who.producer.address);
      const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), q);
      expect((await post(queueOnly, { request: body })).statusCode).to.equal(202);
      const again = signed(chain.addresses, who.producer, chain.addresses.batchToken, calls.ship(batchId, who.distributor.address, 2n), q);
      expectError(await post(queueOnly, { request: again }), 409, "NONCE_ALREADY_QUEUED");
      const next = (await queueOnly.inject({ method: "GET", url: `/v1/nonces/${who.producer.address}` })).json();
      expect(next).to.deep.include({ chainNonce: String(q), nextNonce: String(q + 1n) });
    });
    it("a request for another chain → 422 WRONG_CHAIN (declared) or 401 SIGNATURE_INVALID (signed for it)", async () => {
      const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce, {}, { chainId: 1n, verifyingContract: chain.addresses.forwarder });
      expectError(await post(app, { request: body, chainId: "1" }), 422, "WRONG_CHAIN");
      const res = await post(app, { request: body });
      expectError(res, 401, "SIGNATURE_INVALID");
      expect(res.json().error.hint).to.include("chainId 1337");
      expectError(await post(app, { request: body, forwarder: chain.addresses.batchToken }), 422, "WRONG_FORWARDER");
    });
    it("a target or function not on the allow-list → 403 TARGET_NOT_ALLOWED / SELECTOR_NOT_ALLOWED", async () => {
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.forwarder, ship(), nonce) }), 403, "TARGET_NOT_ALLOWED");
      const approval = batchTokenInterface.encodeFunctionData("setApprovalForAll", [who.distributor.address, true]);
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, approval, nonce) }), 403, "SELECTOR_NOT_ALLOWED");
      const transfer = batchTokenInterface.encodeFunctionData("safeTransferFrom", [who.producer.address, who.distributor.address, batchId, 1n, "0x"]);
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, transfer, nonce) }), 403, "SELECTOR_NOT_ALLOWED");
    });
    it("non-empty ERC-1155 data → 422 ERC1155_DATA_NOT_EMPTY", async () => {
      const transfer = batchTokenInterface.encodeFunctionData("safeTransferFrom", [who.producer.address, who.distributor.address, batchId, 1n, "0xdeadbeef"]);
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, transfer, nonce) }), 422, "ERC1155_DATA_NOT_EMPTY");
      const batchTransfer = batchTokenInterface.encodeFunctionData("safeBatchTransferFrom", [who.producer.address, who.distributor.address, [batchId], [1n], "0x01"]);
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, batchTransfer, nonce) }), 422, "ERC1155_DATA_NOT_EMPTY");
    });
    it("calldata that does not decode canonically → 422 BAD_CALLDATA; value or gas out of bounds → 422", async () => {
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship().slice(0, 50), nonce) }), 422, "BAD_CALLDATA");
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce, { value: 1n }) }), 422, "VALUE_NOT_ALLOWED");
      expectError(await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce, { gas: 50_000_000n }) }), 422, "GAS_TOO_HIGH");
    });
    it("a call that would revert → 422 CALL_REVERTED with the custom error's name and arguments", async () => {
      const res = await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, calls.ship(batchId, who.producer.address, 1n), nonce) });
      expectError(res, 422, "CALL_REVERTED");
      expect(res.json().error.details).to.deep.equal({ error: "BatchTokenSelfShipment", args: { account: who.producer.address } });
      const unknown = await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, calls.ship(999_999n, who.distributor.address, 1n), nonce) });
      expectError(unknown, 422, "CALL_REVERTED");
      expect(unknown.json().error.details.error).to.equal("BatchTokenUnknownBatch");
    });
    it("too little gas for the call → 422 CALL_REVERTED (OutOfGas)", async () => {
      const res = await post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, ship(), nonce, { gas: 25_000n }) });
      expectError(res, 422, "CALL_REVERTED");
      expect(res.json().error.details.error).to.equal("OutOfGas");
    });
    it("an unknown request id → 404 REQUEST_NOT_FOUND; a malformed one → 400", async () => {
      expectError(await app.inject({ method: "GET", url: `/v1/requests/${crypto.randomUUID()}` }), 404, "REQUEST_NOT_FOUND");
      expectError(await app.inject({ method: "GET", url: "/v1/requests/not-an-id" }), 400, "VALIDATION_FAILED");
    });
    it("idempotency: the same key and request answer 200 with the original id; another request under that key → 409", async () => {
      const q = (await queueOnly.inject({ method: "GET", url: `/v1/nonces/${who.distributor.address}` })).json().nextNonce as string;
      const body = signed(chain.addresses, who.distributor, chain.addresses.batchToken, calls.ship(batchId, who.pharmacy.address, 1n), BigInt(q));
      const first = await post(queueOnly, { request: body, idempotencyKey: "order-4711" });
      expect(first.statusCode).to.equal(202);
      const again = await post(queueOnly, { request: body }, { "idempotency-key": "order-4711" });
      expect(again.statusCode).to.equal(200);
      expect(again.json()).to.include({ id: first.json().id, duplicate: true });
      const other = signed(chain.addresses, who.distributor, chain.addresses.batchToken, calls.ship(batchId, who.pharmacy.address, 2n), BigInt(q) + 1n);
      expectError(await post(queueOnly, { request: other, idempotencyKey: "order-4711" }), 409, "IDEMPOTENCY_CONFLICT");
    });
  });

  it("a member suspended on chain → 403 MEMBER_NOT_ACTIVE (after the regulator's relayed emergency suspension)", async function () {
    const n = await nonceOf(who.regulator.address);
    const res = await post(app, { request: signed(chain.addresses, who.regulator, chain.addresses.consortium, calls.emergencySuspend(who.distributor2.address, ZERO32), n) });
    expect(res.statusCode, res.body).to.equal(202);
    await until("the suspension to be mined", 20_000, async () => (await app.inject({ method: "GET", url: `/v1/requests/${res.json().id}` })).json().state === "mined");
    // Asked of the relay without a member cache, so the chain's answer is seen at once (no sleep).
    const body = signed(chain.addresses, who.distributor2, chain.addresses.batchToken, calls.ship(batchId, who.pharmacy.address, 1n), await nonceOf(who.distributor2.address));
    expectError(await post(queueOnly, { request: body }), 403, "MEMBER_NOT_ACTIVE");
  });

  it("detects a chain reset (the outbox was written for another genesis): /ready says so and intake answers 503 CHAIN_RESET", async function () {
    const dataDir = tempDir("reset");
    const first = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false" }, dataDir), testLogger());
    await first.ready();
    await first.close();
    const outbox = new Outbox(dataDir);
    expect(outbox.getMeta("genesis")).to.match(/^0x[0-9a-f]{64}$/);
    outbox.setMeta("genesis", "0x" + "ab".repeat(32)); // as if this outbox belonged to an earlier chain
    outbox.close();
    const second = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false" }, dataDir), testLogger());
    try {
      await second.ready();
      const ready = await second.inject({ method: "GET", url: "/ready" });
      expect(ready.statusCode).to.equal(503);
      expect(ready.json().checks.relayChain).to.deep.include({ ok: false });
      expect(ready.json().checks.relayChain.detail).to.include("chain reset");
      const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), await nonceOf(who.producer.address));
      expectError(await post(second, { request: body }), 503, "CHAIN_RESET");
    } finally {
      await second.close();
    }
  });

  it("keeps requests durable: what a queue-only relay (4 relayer keys) accepted, a relay on the same outbox with 1 key sends after restart, and a failing request in the batch does not sink the others", async function () {
    const dataDir = tempDir("restart");
    const first = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false" }, dataDir), testLogger());
    const p = await nonceOf(who.producer.address);
    const d = await nonceOf(who.distributor.address);
    const small = await mintStock(chain, 5n);
    // Producer: ship all 5, then 5 again (simulates fine now, fails on chain after the first); distributor: a valid ship.
    const ids: string[] = [];
    for (const body of [
      signed(chain.addresses, who.producer, chain.addresses.batchToken, calls.ship(small, who.distributor.address, 5n), p),
      signed(chain.addresses, who.producer, chain.addresses.batchToken, calls.ship(small, who.distributor.address, 5n), p + 1n),
      signed(chain.addresses, who.producer, chain.addresses.batchToken, calls.ship(batchId, who.distributor.address, 1n), p + 2n),
      signed(chain.addresses, who.distributor, chain.addresses.batchToken, calls.ship(batchId, who.pharmacy.address, 1n), d),
    ]) {
      const res = await post(first, { request: body });
      expect(res.statusCode, res.body).to.equal(202);
      ids.push(res.json().id);
    }
    // The first relay spread the two signers over two of its four lanes; the second has one lane.
    const lanes = new Set(first.relay.outbox.liveLanes().map((r) => r.lane));
    expect(lanes.size).to.equal(2);
    await first.close();
    const second = await buildApp(relayConfig(chain.url, chain.addresses, { RELAYER_KEYS: devWallet(11).privateKey }, dataDir), testLogger());
    await second.ready();
    try {
      const states = async () => Promise.all(ids.map(async (id) => (await second.inject({ method: "GET", url: `/v1/requests/${id}` })).json()));
      await until("all four requests to finish", 30_000, async () => (await states()).every((s) => s.state === "mined" || s.state === "failed"));
      const final = await states();
      expect(final.map((s) => s.state)).to.deep.equal(["mined", "failed", "mined", "mined"]);
      expect(final[1].success).to.equal(false);
      expect(final[1].error.code).to.equal("CALL_REVERTED");
      expect(final[1].error.name).to.equal("ERC1155InsufficientBalance");
      expect(await nonceOf(who.producer.address)).to.equal(p + 3n);
    } finally {
      await second.close();
    }
  });

  describe("throttling: clear 429/503 answers, nothing stored", function () {
    const tight = async (env: Record<string, string>) => {
      const relay = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", RELAY_MEMBER_CACHE_MS: "0", ...env }), testLogger());
      await relay.ready();
      return relay;
    };
    const ships = async (relay: FastifyInstance, n: number) => {
      const next = BigInt((await relay.inject({ method: "GET", url: `/v1/nonces/${who.distributor.address}` })).json().nextNonce as string);
      return Array.from({ length: n }, (_, i) => signed(chain.addresses, who.distributor, chain.addresses.batchToken, calls.ship(batchId, who.pharmacy.address, 1n), next + BigInt(i)));
    };

    it("a member over its rate → 429 MEMBER_RATE_LIMITED saying when to retry; the refused request is not queued", async () => {
      const relay = await tight({ RELAY_MEMBER_RATE_PER_SECOND: "0.1", RELAY_MEMBER_BURST: "2" });
      try {
        const [a, b, c] = await ships(relay, 3);
        expect((await post(relay, { request: a })).statusCode).to.equal(202);
        expect((await post(relay, { request: b })).statusCode).to.equal(202);
        const refused = await post(relay, { request: c });
        expectError(refused, 429, "MEMBER_RATE_LIMITED");
        expect(refused.json().error.hint).to.match(/^retry after \d+ ms$/);
        expect(relay.relay.outbox.counts().queued).to.equal(2);
        // Another member is not held back by it.
        const other = signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), await nonceOf(who.producer.address));
        expect((await post(relay, { request: other })).statusCode).to.equal(202);
      } finally {
        await relay.close();
      }
    });

    it("one client address over RELAY_IP_RATE_PER_MINUTE → 429 RATE_LIMITED with the limit and the wait", async () => {
      const relay = await tight({ RELAY_IP_RATE_PER_MINUTE: "2" });
      try {
        const [a, b, c] = await ships(relay, 3);
        expect((await post(relay, { request: a })).statusCode).to.equal(202);
        expect((await post(relay, { request: b })).statusCode).to.equal(202);
        const refused = await post(relay, { request: c });
        expectError(refused, 429, "RATE_LIMITED");
        expect(refused.json().error.message).to.equal("too many requests: the limit is 2 per 1 minute");
        expect(refused.json().error.hint).to.match(/^retry after \d+ s$/);
        expect(refused.headers["retry-after"]).to.match(/^\d+$/);
        expect(relay.relay.outbox.counts().queued).to.equal(2);
      } finally {
        await relay.close();
      }
    });

    it("a full queue → 503 QUEUE_FULL; nothing is lost from what was already accepted", async () => {
      const relay = await tight({ RELAY_MAX_QUEUE: "1" });
      try {
        const [a, b] = await ships(relay, 2);
        const first = await post(relay, { request: a });
        expect(first.statusCode).to.equal(202);
        expectError(await post(relay, { request: b }), 503, "QUEUE_FULL");
        const status = (await relay.inject({ method: "GET", url: `/v1/requests/${first.json().id}` })).json();
        expect(status.state).to.equal("queued");
        expect(relay.relay.outbox.counts().queued).to.equal(1);
      } finally {
        await relay.close();
      }
    });
  });
});
