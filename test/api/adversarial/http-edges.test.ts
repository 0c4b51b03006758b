import { Writable } from "node:stream";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { ConfigError, loadConfig } from "../../../api/config";
import { mintStock, relayConfig, startChain, testLogger, type Chain } from "../relay/stack";

describe("adversarial: edges of the HTTP surface", function () {
  this.timeout(120_000);
  let chain: Chain;

  before(async () => {
    chain = await startChain();
    await mintStock(chain, 10n);
  });
  after(async () => {
    await chain?.stop();
  });

  /**
   * Finding (low): a batch id above 2^63 − 1 answered 500 and logged an error-level stack trace:
   * the route's pattern allowed 20 digits and SQLite refused to bind the BigInt.
   */
  describe("batch ids the index cannot hold", function () {
    let app: FastifyInstance;
    const logged: { level: number; msg: string }[] = [];

    before(async () => {
      const stream = new Writable({
        write(chunk: Buffer, _encoding, done) {
          for (const line of chunk.toString().split("\n").filter(Boolean)) logged.push(JSON.parse(line) as { level: number; msg: string });
          done();
        },
      });
      // Read-only service, logging at warn and above into `logged`.
      app = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_ENABLED: "false", READ_ENABLED: "true" }), { logger: { level: "warn", stream } as never });
      await app.ready();
      await app.read.indexer!.waitForBlock(Number(await chain.provider.getBlockNumber()), 30_000);
    });
    after(async () => {
      await app?.close();
    });

    it("answers 400 VALIDATION_FAILED (never a 5xx, nothing logged as an error) for ids above 9223372036854775807 on every batch route", async function () {
      const tooLarge = ["9223372036854775808", "18446744073709551616", "99999999999999999999"];
      for (const id of tooLarge) {
        for (const [method, url] of [
          ["GET", `/v1/batches/${id}`],
          ["GET", `/v1/batches/${id}/history`],
          ["GET", `/v1/batches/${id}/events`],
          ["GET", `/v1/batches/${id}/events.csv`],
          ["GET", `/v1/batches/${id}/events.epcis.json`],
          ["POST", `/v1/batches/${id}/serials`],
        ] as const) {
          const res = await app.inject({ method, url, ...(method === "POST" ? { payload: { serials: ["S1"], signature: "0x" + "11".repeat(65) } } : {}) });
          expect(res.statusCode, `${method} ${url}: ${res.body}`).to.equal(400);
          expect(res.json().error.code).to.equal("VALIDATION_FAILED");
          expect(res.json().error.message).to.include("at most 9223372036854775807");
          expect(res.json().error.hint).to.be.a("string").and.not.empty;
        }
      }
      // The largest id the index can hold is simply not there.
      expect((await app.inject({ method: "GET", url: "/v1/batches/9223372036854775807" })).json().error.code).to.equal("BATCH_NOT_FOUND");
      expect((await app.inject({ method: "GET", url: "/v1/batches/1" })).statusCode).to.equal(200);
      expect(logged.filter((l) => l.level >= 50).map((l) => l.msg)).to.deep.equal([]);
      // The capture works: the read side's start-up warning (READ_API_KEYS is empty) is in it.
      expect(logged.some((l) => l.level === 40 && l.msg.includes("READ_API_KEYS"))).to.equal(true);
    });
  });

  /**
   * Finding (low): there was no trustProxy setting, so behind a reverse proxy every client had the
   * proxy's address and all shared one rate limit. TRUST_PROXY names the proxies whose
   * X-Forwarded-For is believed; by default none is, so a client cannot choose its own key.
   * GET /v1/relay/domain allows 10 per minute per client here (PUBLIC_RATE_LIMIT_PER_MINUTE=1).
   */
  describe("clients behind a reverse proxy", function () {
    const relay = async (env: Record<string, string>) => {
      const app = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", PUBLIC_RATE_LIMIT_PER_MINUTE: "1", ...env }), testLogger());
      await app.ready();
      return app;
    };
    const hit = (app: FastifyInstance, remoteAddress: string, forwardedFor?: string) =>
      app.inject({ method: "GET", url: "/v1/relay/domain", remoteAddress, headers: forwardedFor ? { "x-forwarded-for": forwardedFor } : {} });

    it("gives each client behind a trusted proxy (TRUST_PROXY=127.0.0.1) its own rate limit, and ignores X-Forwarded-For from anyone else", async function () {
      const app = await relay({ TRUST_PROXY: "127.0.0.1" });
      try {
        const viaProxy = [];
        for (let i = 1; i <= 11; i++) viaProxy.push((await hit(app, "127.0.0.1", `203.0.113.${i}`)).statusCode);
        expect(viaProxy, "eleven clients through the proxy").to.deep.equal(Array(11).fill(200));
        const one = [];
        for (let i = 0; i < 10; i++) one.push((await hit(app, "127.0.0.1", "203.0.113.1")).statusCode);
        expect(one, "one client through the proxy: 10 per minute").to.deep.equal([...Array(9).fill(200), 429]);
        const direct = [];
        for (let i = 0; i < 11; i++) direct.push((await hit(app, "198.51.100.7", `192.0.2.${i}`)).statusCode);
        expect(direct, "a direct client cannot pick its key with the header").to.deep.equal([...Array(10).fill(200), 429]);
      } finally {
        await app.close();
      }
    });

    it("ignores X-Forwarded-For by default (TRUST_PROXY unset)", async function () {
      const app = await relay({});
      try {
        const answers = [];
        for (let i = 1; i <= 11; i++) answers.push((await hit(app, "127.0.0.1", `203.0.113.${i}`)).statusCode);
        expect(answers).to.deep.equal([...Array(10).fill(200), 429]);
      } finally {
        await app.close();
      }
    });

    it("refuses a TRUST_PROXY that is neither false, true nor proxy addresses, saying what it takes", function () {
      const base = { FORWARDER_ADDRESS: chain.addresses.forwarder, CONSORTIUM_ADDRESS: chain.addresses.consortium, BATCH_TOKEN_ADDRESS: chain.addresses.batchToken };
      for (const value of ["2", "proxy.internal", "10.0.0.0/33", "127.0.0.1,"]) {
        expect(() => loadConfig({ ...base, TRUST_PROXY: value }), value).to.throw(ConfigError, /^TRUST_PROXY: must be false, true, or the proxies' IP addresses\/CIDR ranges/);
      }
      expect(loadConfig({ ...base, TRUST_PROXY: "10.0.0.0/8, 127.0.0.1" }).env.TRUST_PROXY).to.equal("10.0.0.0/8,127.0.0.1");
      expect(loadConfig({ ...base }).env.TRUST_PROXY).to.equal(false);
    });
  });
});
