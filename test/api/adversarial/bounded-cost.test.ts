import crypto from "node:crypto";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { Wallet, getAddress, hexlify } from "ethers";
import { buildApp } from "../../../api/app";
import { DEFAULT_TTL_SECONDS } from "../../../api/client";
import { forwardRequestDigest, signDigest, toJson, type ForwardRequest } from "../../../api/relay/forward-request";
import { startRpcRecorder, type RpcRecorder } from "../../fixtures/rpc-recorder";
import { mintStock, relayConfig, shipData, signed, startChain, testLogger, until, who, type Chain } from "../relay/stack";
import { inWaves, metric, metricsOf } from "./helpers";

/**
 * Findings (low): per-address caches were never emptied, every request signed with a fresh key
 * cost three eth_calls, and /ready had no rate limit while each hit made a synced SQLite write and
 * node calls. General form: a public client cannot make the service spend more than a bounded
 * amount of node calls, disk writes or memory per request, whatever it sends. The relay talks to
 * anvil through a recording proxy, so what each request costs the node is counted, not guessed.
 */
describe("adversarial: what a public request can cost the service is bounded", function () {
  this.timeout(180_000);
  let chain: Chain;
  let recorder: RpcRecorder;
  let app: FastifyInstance;
  let batchId: bigint;
  const CACHE = 100;
  const post = (body: unknown) => app.inject({ method: "POST", url: "/v1/requests", payload: body as object });
  const freshWallet = () => new Wallet(hexlify(crypto.randomBytes(32)));
  const signedBy = (wallet: Wallet, data: string): ReturnType<typeof toJson> => {
    const request: ForwardRequest = { from: wallet.address, to: chain.addresses.batchToken, value: 0n, gas: 300_000n, nonce: 0n, deadline: BigInt(Math.floor(Date.now() / 1000) + DEFAULT_TTL_SECONDS), data };
    return toJson(request, signDigest(forwardRequestDigest({ chainId: 1337n, verifyingContract: chain.addresses.forwarder }, request), wallet.privateKey));
  };

  before(async () => {
    chain = await startChain();
    batchId = await mintStock(chain, 100n);
    recorder = await startRpcRecorder(chain.url);
    app = await buildApp(
      relayConfig(recorder.url, chain.addresses, {
        RELAY_SUBMITTER_ENABLED: "false",
        RELAY_ADDRESS_CACHE_SIZE: String(CACHE),
        READY_CACHE_MS: "60000",
        OPS_RATE_PER_MINUTE: "30",
        RELAY_MAX_LONG_POLLS: "3",
      }),
      testLogger(),
    );
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await recorder?.close();
    await chain?.stop();
  });

  it("costs the node at most one eth_call per request signed with a fresh key, and keeps per-address state within RELAY_ADDRESS_CACHE_SIZE", async function () {
    const n = 300;
    const bodies = Array.from({ length: n }, () => ({ request: signedBy(freshWallet(), shipData(batchId, who.distributor.address)) }));
    recorder.reset();
    const answers = await inWaves(bodies, 50, post);
    expect(answers.filter((r) => r.statusCode !== 403 || r.json().error.code !== "NOT_A_MEMBER").map((r) => r.body)).to.deep.equal([]);
    expect(recorder.ethCalls(), "eth_calls for 300 fresh signers").to.be.at.most(n);
    const metrics = await metricsOf(app);
    for (const cache of ["members", "nonces", "rateLimitBuckets", "lanePins"]) {
      expect(metric(metrics, "medtrace_relay_cache_entries", { cache }), cache).to.be.a("number").and.at.most(CACHE);
    }
    // A member is still recognised (its facts are read again when evicted).
    const nonce = (await app.relay.intake.nextNonce(who.producer.address)).nextNonce;
    expect((await post({ request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), nonce) })).statusCode).to.equal(202);
  });

  it("costs the node one eth_call per GET /v1/nonces of a fresh address and keeps the nonce cache bounded", async function () {
    const addresses = Array.from({ length: 200 }, () => getAddress(hexlify(crypto.randomBytes(20))));
    recorder.reset();
    const answers = await inWaves(addresses, 50, (a) => app.inject({ method: "GET", url: `/v1/nonces/${a}` }));
    expect(answers.every((r) => r.statusCode === 200 && r.json().nextNonce === "0")).to.equal(true);
    expect(recorder.ethCalls()).to.be.at.most(addresses.length);
    expect(metric(await metricsOf(app), "medtrace_relay_cache_entries", { cache: "nonces" })).to.be.at.most(CACHE);
  });

  it("costs the node nothing for requests whose signature does not verify", async function () {
    const bodies = Array.from({ length: 200 }, () => {
      const body = signedBy(freshWallet(), shipData(batchId, who.distributor.address));
      return { request: { ...body, from: getAddress(hexlify(crypto.randomBytes(20))) } };
    });
    recorder.reset();
    const answers = await inWaves(bodies, 50, post);
    expect(new Set(answers.map((r) => r.json().error.code))).to.deep.equal(new Set(["SIGNATURE_INVALID"]));
    expect(recorder.ethCalls()).to.equal(0);
  });

  it("answers /ready from checks run at most once per READY_CACHE_MS (no node call, no disk write per hit), and rate-limits it per client", async function () {
    const writes = () => (app.relay.outbox.db.prepare("SELECT total_changes() AS n").get() as { n: number }).n;
    recorder.reset();
    const before = writes();
    const answers = [];
    for (let i = 0; i < 40; i++) answers.push(await app.inject({ method: "GET", url: "/ready" }));
    const limited = answers.filter((r) => r.statusCode === 429);
    expect(answers.slice(0, 30).map((r) => r.statusCode)).to.deep.equal(Array(30).fill(200));
    expect(limited.length).to.equal(10);
    expect(limited[0].json().error.code).to.equal("RATE_LIMITED");
    expect(recorder.calls("eth_chainId"), "node checks of /ready").to.be.at.most(1);
    expect(writes() - before, "SQLite writes by /ready").to.be.at.most(1);
  });

  it("holds at most RELAY_MAX_LONG_POLLS long-polls open: past it, GET /v1/requests/:id?wait answers at once", async function () {
    const nonce = (await app.relay.intake.nextNonce(who.producer.address)).nextNonce;
    const res = await post({ request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), nonce) });
    expect(res.statusCode, res.body).to.equal(202);
    const id = res.json().id as string;
    const held = [0, 1, 2].map(() => app.inject({ method: "GET", url: `/v1/requests/${id}?wait=25` }));
    await until("three long-polls to be held", 10_000, async () => metric(await metricsOf(app), "medtrace_relay_long_polls") === 3);
    // A generous bound far below the 25 s wait: only a held long-poll misses it.
    const fourth = await Promise.race([
      app.inject({ method: "GET", url: `/v1/requests/${id}?wait=25` }).then((r) => r.json().state as string),
      new Promise<string>((resolve) => setTimeout(() => resolve("still held"), 8_000)),
    ]);
    expect(fourth).to.equal("queued");
    app.relay.outbox.settle([{ id, state: "failed", txHash: null, blockNumber: null, success: null, errorCode: "DEADLINE_EXPIRED", errorMessage: "settled by the test" }]);
    expect((await Promise.all(held)).map((r) => r.json().state)).to.deep.equal(["failed", "failed", "failed"]);
  });
});
