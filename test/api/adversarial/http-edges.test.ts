import { Writable } from "node:stream";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
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
});
