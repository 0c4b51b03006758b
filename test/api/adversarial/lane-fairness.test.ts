import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { calls } from "../../../api/client";
import { devWallet, systemAt } from "../../fixtures/chain";
import { giveStock, mintStock, relayConfig, shipData, signed, startChain, testLogger, until, who, ZERO32, type Chain } from "../relay/stack";
import { finalState, inWaves, metric, metricsOf } from "./helpers";

/**
 * Finding (high): one member stalls a relayer lane. A member parked ≥ 200 requests behind a nonce
 * gap; the submitter read only the first 2 × RELAY_MAX_BATCH_SIZE queued rows of the lane in
 * (signer, nonce) order, so every member whose address sorts after it was never sent, nor expired,
 * while /ready stayed green. Here everyone shares one relayer key (one lane), batches hold 20
 * requests, and the attackers' addresses sort first: producer 0x15d3… and distributor2 0x976E…
 * before distributor 0x9965… and regulator 0xa0Ee….
 */
describe("adversarial: no member delays another on a relayer lane", function () {
  this.timeout(180_000);
  let chain: Chain;
  let app: FastifyInstance;
  let batchId: bigint;
  const relayerKey = devWallet(11).privateKey;
  const relayer = devWallet(11).address;
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  const post = (target: FastifyInstance, body: unknown) => target.inject({ method: "POST", url: "/v1/requests", payload: body as object });
  const nonceOf = async (address: string) => systemAt(chain.addresses, chain.provider).forwarder.nonces(address);
  const queuedOf = (signer: string) => (app.relay.outbox.db.prepare(`SELECT COUNT(*) AS n FROM requests WHERE state = 'queued' AND signer = ?`).get(signer) as { n: number }).n;

  before(async () => {
    chain = await startChain({ blockTime: 1 });
    batchId = await mintStock(chain, 100_000n);
    await giveStock(chain, batchId, who.distributor, 1_000n);
    await giveStock(chain, batchId, who.distributor2, 1_000n);
    app = await buildApp(
      relayConfig(chain.url, chain.addresses, {
        RELAYER_KEYS: relayerKey,
        RELAY_MAX_BATCH_SIZE: "20",
        RELAY_MAX_PENDING_PER_KEY: "1",
        RELAY_NONCE_WINDOW: "1000",
        RELAY_MAX_QUEUED_PER_MEMBER: "1000",
        RELAY_MIN_DEADLINE_SECONDS: "1",
      }),
      testLogger(),
    );
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await chain?.stop();
  });

  it("sends another member's request in the lane's next batch while a member parks 250 requests behind a nonce gap (far deadline)", async function () {
    const p = await nonceOf(who.producer.address);
    const parked = await inWaves(range(250), 50, (i) => post(app, { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), p + 1n + BigInt(i)) }));
    expect(parked.filter((r) => r.statusCode !== 202).map((r) => r.body)).to.deep.equal([]);

    const res = await post(app, { request: signed(chain.addresses, who.distributor, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), await nonceOf(who.distributor.address)) });
    expect(res.statusCode, res.body).to.equal(202);
    const before = app.relay.outbox.maxRelayerNonce(relayer) ?? -1;
    const done = await finalState(app, res.json().id, 30_000);
    expect(done.state).to.equal("mined");
    // At most one batch already in the making when it was accepted goes before it.
    expect(app.relay.outbox.tx(done.txHash!)!.relayer_nonce).to.be.at.most(before + 2);

    // The parked requests wait for their gap, untouched; the lane is not stalled by them.
    expect(queuedOf(who.producer.address)).to.equal(250);
    const ready = await app.inject({ method: "GET", url: "/ready" });
    expect(ready.statusCode, ready.body).to.equal(200);
    expect(ready.json().checks.submitter.detail).to.include("1 signers waiting behind a nonce gap");
    const metrics = await metricsOf(app);
    expect(metric(metrics, "medtrace_relay_lane_gapped_signers", { lane: "0" })).to.equal(1);
    expect(metric(metrics, "medtrace_relay_lane_stalled", { lane: "0" })).to.equal(0);
    expect(metric(metrics, "medtrace_relay_lane_queued", { lane: "0" })).to.be.at.least(250);
  });

  it("fails a request that can no longer run (its deadline passed behind its own gap) with DEADLINE_EXPIRED, though another member's parked requests fill the lane ahead of it", async function () {
    const r = await nonceOf(who.regulator.address);
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 5);
    const res = await post(app, { request: signed(chain.addresses, who.regulator, chain.addresses.batchToken, calls.quarantine(batchId, ZERO32), r + 1n, { deadline }) });
    expect(res.statusCode, res.body).to.equal(202);
    const done = await finalState(app, res.json().id, 30_000);
    expect([done.state, done.error?.code, done.txHash]).to.deep.equal(["failed", "DEADLINE_EXPIRED", null]);
    expect(done.error?.message).to.include("deadline passed");
    // Its nonce is free again: the regulator can sign a new request for it.
    expect(app.relay.outbox.liveRequest(who.regulator.address, r + 1n)).to.equal(undefined);
  });

  it("does not delay another member's request by more than one batch while a member floods its own lane with 400 valid requests", async function () {
    const d2 = await nonceOf(who.distributor2.address);
    const flood = await inWaves(range(400), 50, (i) => post(app, { request: signed(chain.addresses, who.distributor2, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), d2 + BigInt(i)) }));
    expect(flood.filter((r) => r.statusCode !== 202).map((r) => r.body)).to.deep.equal([]);
    // The flood is still ahead when the other member's request arrives (else this proves nothing).
    expect(queuedOf(who.distributor2.address)).to.be.at.least(200);

    const res = await post(app, { request: signed(chain.addresses, who.distributor, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), await nonceOf(who.distributor.address)) });
    expect(res.statusCode, res.body).to.equal(202);
    const before = app.relay.outbox.maxRelayerNonce(relayer) ?? -1;
    const done = await finalState(app, res.json().id, 60_000);
    expect(done.state).to.equal("mined");
    expect(app.relay.outbox.tx(done.txHash!)!.relayer_nonce).to.be.at.most(before + 2);
    // …and the flood shares that batch rather than being pushed out of it.
    const batch = JSON.parse(app.relay.outbox.tx(done.txHash!)!.request_ids) as string[];
    const signers = new Set(batch.map((id) => app.relay.outbox.get(id)!.signer));
    expect([...signers].sort()).to.deep.equal([who.distributor.address, who.distributor2.address].sort());
  });

  it("bounds each member's requests not yet on chain: 429 MEMBER_QUEUE_FULL naming the gap, decided before any simulation, and the missing nonce still gets in", async function () {
    const relay = await buildApp(
      relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", RELAY_MAX_QUEUED_PER_MEMBER: "5", RELAY_NONCE_WINDOW: "1000" }),
      testLogger(),
    );
    try {
      await relay.ready();
      const r = await nonceOf(who.regulator.address);
      const quarantine = (nonce: bigint) => signed(chain.addresses, who.regulator, chain.addresses.batchToken, calls.quarantine(batchId, ZERO32), nonce);
      for (let i = 1n; i <= 5n; i++) expect((await post(relay, { request: quarantine(r + i) })).statusCode).to.equal(202);

      const simulations = metric(await metricsOf(relay), "medtrace_relay_simulation_seconds_count");
      const refused = await post(relay, { request: quarantine(r + 6n) });
      expect(refused.statusCode, refused.body).to.equal(429);
      expect(refused.json().error.code).to.equal("MEMBER_QUEUE_FULL");
      expect(refused.json().error.message).to.include("5 requests not yet on chain");
      expect(refused.json().error.hint).to.include(`nonce ${r} is missing`);
      expect(refused.json().error.details).to.deep.equal({ live: 5, max: 5 });
      expect(metric(await metricsOf(relay), "medtrace_relay_simulation_seconds_count"), "refused before the node simulated it").to.equal(simulations);

      expect((await post(relay, { request: quarantine(r) })).statusCode, "the missing nonce fills the gap").to.equal(202);
      expect((await post(relay, { request: quarantine(r + 7n) })).json().error.code).to.equal("MEMBER_QUEUE_FULL");
      const other = await post(relay, { request: signed(chain.addresses, who.distributor, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), await nonceOf(who.distributor.address)) });
      expect(other.statusCode, "another member is not held back").to.equal(202);
    } finally {
      await relay.close();
    }
  });

  describe("a lane that stops moving", function () {
    let still: Chain;
    let relay: FastifyInstance;
    let stillBatch: bigint;

    before(async () => {
      still = await startChain();
      stillBatch = await mintStock(still, 100n);
      await giveStock(still, stillBatch, who.distributor, 10n);
      // From here on nothing is mined until the test says so.
      await still.provider.send("evm_setAutomine", [false]);
      relay = await buildApp(
        relayConfig(still.url, still.addresses, { RELAYER_KEYS: relayerKey, RELAY_STALL_MS: "1000", READY_CACHE_MS: "0", RELAY_MAX_PENDING_PER_KEY: "1" }),
        testLogger(),
      );
      await relay.ready();
    });
    after(async () => {
      await relay?.close();
      await still?.stop();
    });

    it("is reported on /ready (503, naming the lane) and by medtrace_relay_lane_stalled while its transaction is not mined, and no longer once it is", async function () {
      const nonce = await systemAt(still.addresses, still.provider).forwarder.nonces(who.distributor.address);
      const res = await post(relay, { request: signed(still.addresses, who.distributor, still.addresses.batchToken, shipData(stillBatch, who.pharmacy.address), nonce) });
      expect(res.statusCode, res.body).to.equal(202);

      await until("/ready to report the stalled lane", 20_000, async () => (await relay.inject({ method: "GET", url: "/ready" })).statusCode === 503);
      const ready = (await relay.inject({ method: "GET", url: "/ready" })).json();
      expect(Object.entries(ready.checks).filter(([, c]) => !(c as { ok: boolean }).ok).map(([name]) => name)).to.deep.equal(["submitter"]);
      expect(ready.checks.submitter.detail).to.match(/lanes stalled or saturated.*lane 0 \(relayer 0x[0-9a-fA-F]{40}\)/);
      const metrics = await metricsOf(relay);
      expect(metric(metrics, "medtrace_relay_lane_stalled", { lane: "0" })).to.equal(1);
      expect(metric(metrics, "medtrace_relay_lane_oldest_inflight_seconds", { lane: "0" })).to.be.greaterThan(1);
      expect(metric(metrics, "medtrace_relay_lane_inflight_transactions", { lane: "0" })).to.equal(1);

      await still.provider.send("evm_mine", []);
      expect((await finalState(relay, res.json().id, 20_000)).state).to.equal("mined");
      await until("/ready to be ready again", 20_000, async () => (await relay.inject({ method: "GET", url: "/ready" })).statusCode === 200);
      expect(metric(await metricsOf(relay), "medtrace_relay_lane_stalled", { lane: "0" })).to.equal(0);
    });
  });
});
