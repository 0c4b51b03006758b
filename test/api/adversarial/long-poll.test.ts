import net from "node:net";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { RelayClient } from "../../../api/client";
import { systemAt } from "../../fixtures/chain";
import { mintStock, relayConfig, shipData, signed, startChain, testLogger, who, type Chain } from "../relay/stack";

/**
 * Finding (low): `?wait=30` was always cut at 30 s. The long-poll is an idle connection while it
 * waits, and the server's idle timeout (connectionTimeout = 2 × REQUEST_TIMEOUT_MS, 30 s by
 * default) closed it at the moment it was due, so RelayClient.waitFor failed on any request
 * pending that long. Here REQUEST_TIMEOUT_MS is 1 s, so the old cut came at 2 s: each test waits
 * past that point (the timeout under test is the event), never on a wall-clock assertion.
 */
describe("adversarial: long-polls outlast the server's timeouts", function () {
  this.timeout(120_000);
  let chain: Chain;
  let app: FastifyInstance;
  let base: string;
  let batchId: bigint;
  const OLD_CUT_MS = 2 * 1_000;

  const queueOne = async () => {
    const nonce = (await app.relay.intake.nextNonce(who.producer.address)).nextNonce;
    const res = await app.inject({ method: "POST", url: "/v1/requests", payload: { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), nonce) } });
    expect(res.statusCode, res.body).to.equal(202);
    return res.json().id as string;
  };
  const finish = (id: string) =>
    app.relay.outbox.settle([{ id, state: "failed", txHash: null, blockNumber: null, success: null, errorCode: "DEADLINE_EXPIRED", errorMessage: "settled by the test" }]);
  const later = <T>(ms: number, fn: () => T) => new Promise<T>((resolve) => setTimeout(() => resolve(fn()), ms));

  before(async () => {
    chain = await startChain();
    batchId = await mintStock(chain, 100n);
    // Queue-only: a request stays queued until the test settles it.
    app = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", REQUEST_TIMEOUT_MS: "1000" }), testLogger());
    await app.listen({ port: 0, host: "127.0.0.1" });
    base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
    expect(await systemAt(chain.addresses, chain.provider).forwarder.nonces(who.producer.address)).to.equal(0n);
  });
  after(async () => {
    await app?.close();
    await chain?.stop();
  });

  it("answers GET /v1/requests/:id?wait=4 over a real socket after the wait, not cut by the idle timeout", async function () {
    const id = await queueOne();
    const res = await fetch(`${base}/v1/requests/${id}?wait=4`);
    expect(res.status).to.equal(200);
    expect(((await res.json()) as { state: string }).state).to.equal("queued");
  });

  it("lets RelayClient.waitFor follow a request that changes state after the old cut", async function () {
    const id = await queueOne();
    const waiting = new RelayClient(base).waitFor(id, { timeoutMs: 20_000 });
    const settled = later(OLD_CUT_MS + 1_000, () => finish(id));
    const final = await waiting;
    await settled;
    expect([final.state, final.error?.code]).to.deep.equal(["failed", "DEADLINE_EXPIRED"]);
  });

  it("lets RelayClient.waitFor survive a proxy that cuts idle connections after 1 s, asking again until the answer comes", async function () {
    // A TCP proxy in front of the relay with a 1 s idle timeout, like a load balancer's.
    const proxy = net.createServer((client) => {
      const upstream = net.connect((app.server.address() as net.AddressInfo).port, "127.0.0.1");
      client.pipe(upstream);
      upstream.pipe(client);
      const cut = () => {
        client.destroy();
        upstream.destroy();
      };
      client.setTimeout(1_000, cut);
      client.on("error", cut);
      upstream.on("error", cut);
    });
    await new Promise<void>((resolve) => proxy.listen(0, "127.0.0.1", resolve));
    try {
      const id = await queueOne();
      const waiting = new RelayClient(`http://127.0.0.1:${(proxy.address() as net.AddressInfo).port}`).waitFor(id, { timeoutMs: 20_000 });
      const settled = later(3_000, () => finish(id));
      const final = await waiting;
      await settled;
      expect(final.state).to.equal("failed");
    } finally {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it("ends RelayClient.waitFor with its own timeout (the request's state named), not with a transport error", async function () {
    const id = await queueOne();
    let error: Error | undefined;
    try {
      await new RelayClient(base).waitFor(id, { timeoutMs: OLD_CUT_MS + 2_000 });
    } catch (err) {
      error = err as Error;
    }
    expect(error?.message).to.equal(`request ${id} is still queued after ${OLD_CUT_MS + 2_000} ms`);
  });
});
