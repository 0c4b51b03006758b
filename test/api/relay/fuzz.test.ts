import { expect } from "chai";
import fc from "fast-check";
import type { FastifyInstance } from "fastify";
import { hexlify } from "ethers";
import { buildApp } from "../../../api/app";
import { mintStock, relayConfig, shipData, signed, startChain, tempDir, testLogger, who, type Chain } from "./stack";
import { custodialActions } from "../../../api/relay/schemas";
import { systemAt } from "../../fixtures/chain";

/**
 * HTTP fuzzing of the write side (fast-check, 2,800 cases): whatever the body, the relay answers
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
  describe("custodial and admin endpoints", function () {
    const ADMIN = "admin-token-for-fuzzing-0123456789";
    let custodial: FastifyInstance;
    let validKey: string;
    let revokedKey: string;

    before(async () => {
      custodial = await buildApp(
        relayConfig(chain.url, chain.addresses, {
          RELAY_SUBMITTER_ENABLED: "false",
          RELAY_ADMIN_TOKEN: ADMIN,
          RELAY_KEYSTORE_PASSPHRASE: "fuzzing passphrase",
          RELAY_KEYSTORE_SCRYPT_N: "1024",
          RELAY_ADMIN_RATE_PER_MINUTE: "100000",
        }, tempDir("fuzz-custodial")),
        testLogger(),
      );
      await custodial.ready();
      const auth = { authorization: `Bearer ${ADMIN}` };
      validKey = (await custodial.inject({ method: "POST", url: "/v1/admin/custodial-members", headers: auth, payload: { label: "producer", privateKey: who.producer.privateKey } })).json().apiKey;
      const second = (await custodial.inject({ method: "POST", url: `/v1/admin/custodial-members/${who.producer.address}/api-keys`, headers: auth, payload: { label: "to revoke" } })).json();
      revokedKey = second.apiKey;
      expect((await custodial.inject({ method: "DELETE", url: `/v1/admin/api-keys/${second.keyId}`, headers: auth })).statusCode).to.equal(200);
    });
    after(async () => {
      await custodial?.close();
    });

    const hex = (n: number) => fc.uint8Array({ minLength: n, maxLength: n }).map((b) => hexlify(b));
    const value = fc.oneof(
      fc.jsonValue(),
      fc.bigInt({ min: 0n, max: (1n << 260n) }).map(String),
      hex(20),
      hex(32),
      fc.constantFrom(String(1), who.distributor.address, "0x" + "0".repeat(64), "09506000134352"),
    );
    const fields = ["batchId", "quantity", "receiver", "referenceHash", "shipmentId", "shipment", "gtin", "lot", "expiryDay", "documentHash", "serialsRoot", "serialCount", "reasonHash", "index", "proof", "serial"];

    it("answers custodial actions with any key and body without a 5xx, and acts only for a valid key (300 cases)", async () => {
      const secret = fc.base64String({ minLength: 44, maxLength: 44 }).map((b) => b.slice(0, 43).replace(/[+/=]/g, "_"));
      const idOf = (k: string) => k.split("_")[1];
      const key = fc.oneof(
        fc.constant(validKey),
        fc.constant(revokedKey),
        fc.constant(undefined),
        fc.string({ maxLength: 80 }),
        fc.tuple(hex(8), secret).map(([id, s]) => `mtk_${id.slice(2)}_${s}`),
        // A real key id with a wrong secret: unknown, never "revoked" (that is said only to the holder).
        fc.tuple(fc.constantFrom(() => idOf(validKey), () => idOf(revokedKey)), secret).map(([id, s]) => `mtk_${id()}_${s}`),
      );
      // Half the bodies pass the ship schema, so authentication and the pipeline behind it are reached.
      const validShip = fc.record({
        batchId: fc.oneof(fc.constant(String(batchId)), fc.bigInt({ min: 0n, max: (1n << 256n) - 1n }).map(String)),
        quantity: fc.bigInt({ min: 0n, max: 5n }).map(String),
        receiver: fc.oneof(fc.constant(who.distributor.address), fc.constant(who.producer.address), hex(20)),
      });
      const body = fc.oneof(fc.jsonValue(), fc.dictionary(fc.constantFrom(...fields), value, { maxKeys: 6 }));
      const cases = fc.oneof(
        fc.tuple(fc.constant("ship"), key, validShip, fc.constant(true)),
        fc.tuple(fc.constantFrom(...Object.keys(custodialActions), "teleport"), key, body, fc.constant(false)),
      );
      let authenticated = 0;
      await fc.assert(
        fc.asyncProperty(cases, async ([action, apiKey, payload, schemaValid]) => {
          const res = await custodial.inject({
            method: "POST",
            url: `/v1/custodial/${action}`,
            headers: { "content-type": "application/json", ...(apiKey !== undefined ? { "x-api-key": apiKey } : {}) },
            payload: JSON.stringify(payload),
          });
          expect(res.statusCode, res.body).to.be.below(500);
          if (res.statusCode < 300) expect(apiKey, "only the valid key acts").to.equal(validKey);
          else check(res);
          // The key is checked before the body: without a valid one, every body gets the same 401.
          if (action in custodialActions && apiKey !== validKey) {
            expect(res.statusCode, res.body).to.equal(401);
            expect(res.json().error.code).to.equal(apiKey === revokedKey ? "API_KEY_REVOKED" : "API_KEY_INVALID");
          }
          if (schemaValid && apiKey === validKey) authenticated++;
        }),
        { numRuns: 300 },
      );
      expect(authenticated, "cases that passed authentication").to.be.greaterThan(10);
    });

    it("answers admin calls with any token, path and body without a 5xx; without the token, nothing changes and nothing is validated (200 cases)", async () => {
      const token = fc.oneof(fc.constant(ADMIN), fc.constant(undefined), fc.string({ maxLength: 60 }));
      const target = fc.oneof(fc.constant(who.producer.address), hex(20), fc.string({ maxLength: 50 }).map(encodeURIComponent));
      const call = fc.oneof(
        fc.record({ method: fc.constant("POST" as const), url: fc.constant("/v1/admin/custodial-members"), body: fc.oneof(fc.jsonValue(), fc.record({ label: value, privateKey: fc.oneof(hex(32), value) }, { requiredKeys: [] })) }),
        fc.record({ method: fc.constantFrom("GET" as const, "POST" as const), url: target.map((a) => `/v1/admin/custodial-members/${a}/api-keys`), body: fc.oneof(fc.jsonValue(), fc.record({ label: value }, { requiredKeys: [] })) }),
        fc.record({ method: fc.constant("DELETE" as const), url: fc.oneof(hex(8).map((h) => h.slice(2)), fc.string({ maxLength: 40 }).map(encodeURIComponent)).map((id) => `/v1/admin/api-keys/${id}`), body: fc.constant(undefined) }),
      );
      await fc.assert(
        fc.asyncProperty(token, call, async (t, c) => {
          const res = await custodial.inject({
            method: c.method,
            url: c.url,
            headers: { ...(t !== undefined ? { authorization: `Bearer ${t}` } : {}), ...(c.body !== undefined && c.method !== "GET" ? { "content-type": "application/json" } : {}) },
            ...(c.body !== undefined && c.method !== "GET" ? { payload: JSON.stringify(c.body) } : {}),
          });
          expect(res.statusCode, `${c.method} ${c.url}: ${res.body}`).to.be.below(500);
          if (res.statusCode < 300) expect(t, "only the admin token administers").to.equal(ADMIN);
          else check(res);
          // Without the token nothing is validated, so nothing about fields or values is said
          // (a URL that matches no route is a plain 404).
          if (t !== ADMIN) expect(res.json().error.code, `${c.method} ${c.url}: ${res.body}`).to.be.oneOf(["ADMIN_TOKEN_INVALID", "NOT_FOUND"]);
        }),
        { numRuns: 200 },
      );
      // The valid key still works: no fuzz case revoked it.
      const still = await custodial.inject({ method: "POST", url: "/v1/custodial/ship", headers: { "x-api-key": validKey }, payload: { batchId: String(batchId), quantity: "1", receiver: who.distributor.address } });
      expect(still.statusCode, still.body).to.be.oneOf([200, 202, 409]);
    });
  });
});
