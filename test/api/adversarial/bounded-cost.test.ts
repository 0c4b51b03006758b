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
});
