import { expect } from "chai";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { hexlify } from "ethers";
import { buildApp } from "../../../api/app";
import { mintStock, relayConfig, shipData, signed, startChain, testLogger, who, type Chain } from "./stack";
import { systemAt } from "../../fixtures/chain";

/**
 * HTTP fuzzing of the write side (fast-check, 2,300 cases): whatever the body, the relay answers
 * with a 4xx and an error code — never a 5xx — and never accepts a request whose signed content
 * was altered.
 */
describe("relay HTTP fuzz: no 5xx, no wrongful acceptance", function () {
  this.timeout(180_000);
  let chain: Chain;
  let app: FastifyInstance;
  let base: ReturnType<typeof signed>;
  let batchId: bigint;

  before(async () => {
    chain = await startChain();
    batchId = await mintStock(chain, 100n);
    // Queue-only: accepted requests stay in the outbox, so the same valid base can be mutated throughout.
    app = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", RELAY_MEMBER_CACHE_MS: "60000" }), testLogger());
    await app.ready();
    const nonce = await systemAt(chain.addresses, chain.provider).forwarder.nonces(who.producer.address);
    base = signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), nonce);
  });
  after(async () => {
    await app?.close();
    await chain?.stop();
  });

  const check = (res: { statusCode: number; body: string }) => {
    expect(res.statusCode, res.body).to.be.within(400, 499);
    const body = JSON.parse(res.body) as { error?: { code?: string } };
    expect(body.error?.code, res.body).to.match(/^[A-Z0-9_]+$/);
  };

  it("answers arbitrary JSON bodies with a 4xx and an error code (800 cases)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.jsonValue(), fc.record({ request: fc.jsonValue() }), fc.record({ request: fc.dictionary(fc.string(), fc.jsonValue()) })), async (body) => {
        check(await app.inject({ method: "POST", url: "/v1/requests", payload: JSON.stringify(body), headers: { "content-type": "application/json" } }));
      }),
      { numRuns: 800 },
    );
  });

  it("answers raw strings and odd content types with a 4xx (400 cases)", async () => {
    await fc.assert(
      fc.asyncProperty(fc.string({ maxLength: 200 }), fc.constantFrom("application/json", "text/plain", "application/x-www-form-urlencoded", "application/octet-stream"), async (payload, type) => {
        check(await app.inject({ method: "POST", url: "/v1/requests", payload, headers: { "content-type": type } }));
      }),
      { numRuns: 400 },
    );
  });

  it("never accepts a signed request with any field altered or added (800 cases)", async () => {
    const fields = ["from", "to", "value", "gas", "nonce", "deadline", "data", "signature"] as const;
    const altered = fc.oneof(
      fc.string(),
      fc.integer(),
      fc.constant(null),
      fc.boolean(),
      fc.uint8Array({ maxLength: 80 }).map((b) => hexlify(b)),
      fc.bigInt({ min: 0n, max: (1n << 256n) + 5n }).map(String),
      fc.uint8Array({ minLength: 20, maxLength: 20 }).map((b) => hexlify(b)),
      fc.uint8Array({ minLength: 65, maxLength: 65 }).map((b) => hexlify(b)),
    );
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("set" as const), field: fc.constantFrom(...fields), value: altered }),
      fc.record({ kind: fc.constant("drop" as const), field: fc.constantFrom(...fields), value: fc.constant(null) }),
      fc.record({ kind: fc.constant("extra" as const), field: fc.string({ minLength: 1 }).filter((k) => !(fields as readonly string[]).includes(k)), value: fc.jsonValue() }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(mutation, { minLength: 1, maxLength: 3 }), async (mutations) => {
        const request: Record<string, unknown> = { ...base };
        let changed = false;
        for (const m of mutations) {
          if (m.kind === "drop") {
            delete request[m.field];
            changed = true;
          } else if (m.kind === "extra") {
            request[m.field] = m.value;
            changed = true;
          } else if (typeof m.value !== "string" || m.value.toLowerCase() !== String((base as unknown as Record<string, unknown>)[m.field]).toLowerCase()) {
            request[m.field] = m.value;
            changed = true;
          }
        }
        fc.pre(changed);
        const res = await app.inject({ method: "POST", url: "/v1/requests", payload: { request } });
        check(res);
      }),
      { numRuns: 800 },
    );
  });

  it("never fails with a 5xx on correctly signed requests with random calldata (300 cases)", async () => {
    let nonce = await systemAt(chain.addresses, chain.provider).forwarder.nonces(who.producer.address);
    nonce += 1n; // the base request's nonce may be queued by a case above
    await fc.assert(
      fc.asyncProperty(fc.constantFrom("0xdcbf8b1b", shipData(1n, who.distributor.address).slice(0, 10), "0x00000000"), fc.uint8Array({ maxLength: 200 }), fc.bigInt({ min: 0n, max: 3_000_000n }), async (selector, rest, gas) => {
        const body = signed(chain.addresses, who.producer, chain.addresses.batchToken, selector + hexlify(rest).slice(2), nonce, { gas });
        const res = await app.inject({ method: "POST", url: "/v1/requests", payload: { request: body } });
        expect(res.statusCode, res.body).to.be.below(500);
        if (res.statusCode === 202) nonce++;
      }),
      { numRuns: 300 },
    );
  });
});
