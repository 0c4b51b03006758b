import path from "node:path";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { systemAt } from "../../fixtures/chain";
import { giveStock, mintStock, relayConfig, shipData, signed, startChain, testLogger, who, type Chain } from "../relay/stack";

/**
 * Finding (low): idempotency keys shared one global namespace and were looked up before the
 * signature was checked: anyone could probe whether a key was in use (409 IDEMPOTENCY_CONFLICT
 * for a request with any signature), and a member that used a key first took it from every other
 * member. Keys now belong to the signer, and are looked up only once the signature proves it.
 */
describe("adversarial: idempotency keys belong to their member", function () {
  this.timeout(120_000);
  let chain: Chain;
  let app: FastifyInstance;
  let batchId: bigint;
  const KEY = "despatch-4711";
  const post = (body: unknown) => app.inject({ method: "POST", url: "/v1/requests", payload: body as object });
  const nonceOf = async (address: string) => systemAt(chain.addresses, chain.provider).forwarder.nonces(address);

  before(async () => {
    chain = await startChain();
    batchId = await mintStock(chain, 1_000n);
    await giveStock(chain, batchId, who.distributor, 100n);
    app = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false" }), testLogger());
    await app.ready();
  });
  after(async () => {
    await app?.close();
    await chain?.stop();
  });

  it("does not tell a caller whose signature fails whether another member uses a key, and does not let one member take another's key", async function () {
    const distributorRequest = signed(chain.addresses, who.distributor, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), await nonceOf(who.distributor.address));
    const first = await post({ request: distributorRequest, idempotencyKey: KEY });
    expect(first.statusCode, first.body).to.equal(202);

    // A forged request "from" the distributor under its key: refused for the signature, as without the key.
    const forged = { ...signed(chain.addresses, who.stranger, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), 5n), from: who.distributor.address };
    const probe = await post({ request: forged, idempotencyKey: KEY });
    expect([probe.statusCode, probe.json().error.code]).to.deep.equal([401, "SIGNATURE_INVALID"]);
    expect(probe.body).to.not.include(first.json().id);

    // A non-member with a valid signature learns only that it is not a member.
    const stranger = await post({ request: signed(chain.addresses, who.stranger, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), 0n), idempotencyKey: KEY });
    expect([stranger.statusCode, stranger.json().error.code]).to.deep.equal([403, "NOT_A_MEMBER"]);

    // Another member uses the same key for its own request: its own namespace, accepted.
    const producer = await post({ request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), await nonceOf(who.producer.address)), idempotencyKey: KEY });
    expect(producer.statusCode, producer.body).to.equal(202);
    expect(producer.json().id).to.not.equal(first.json().id);

    // The owner's retry gets its original request; a different request under its key is a conflict.
    const retry = await post({ request: distributorRequest, idempotencyKey: KEY });
    expect([retry.statusCode, retry.json().id, retry.json().duplicate]).to.deep.equal([200, first.json().id, true]);
    const other = signed(chain.addresses, who.distributor, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address, 2n), (await nonceOf(who.distributor.address)) + 1n);
    expect((await post({ request: other, idempotencyKey: KEY })).json().error.code).to.equal("IDEMPOTENCY_CONFLICT");
  });

  it("gives a retry that races its original (same key, same request, while the original is still being checked) the original's id, never a 409", async function () {
    const nonce = (await app.relay.intake.nextNonce(who.distributor.address)).nextNonce;
    const request = signed(chain.addresses, who.distributor, chain.addresses.batchToken, shipData(batchId, who.pharmacy.address), nonce);
    const answers = await Promise.all([0, 1, 2, 3].map(() => post({ request, idempotencyKey: "raced-4712" })));
    expect(answers.map((r) => r.statusCode).filter((s) => s !== 202 && s !== 200), answers.map((r) => r.body).join("\n")).to.deep.equal([]);
    expect(new Set(answers.map((r) => r.json().id)).size).to.equal(1);
  });

  // Keys are now looked up after the signature; a retry must still get its original answer before
  // anything that may have changed since (here the deadline rule) is judged again.
  it("answers a retry with its original request although, as a new request, it would now be refused (deadline too close)", async function () {
    const nonce = (await app.relay.intake.nextNonce(who.producer.address)).nextNonce;
    const deadline = BigInt(Math.floor(Date.now() / 1000) + 31);
    const request = signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), nonce, { deadline });
    const first = await post({ request, idempotencyKey: "late-retry" });
    expect(first.statusCode, first.body).to.equal(202);
    // A relay asking for more time than this request has left would refuse it as new…
    const dataDir = path.dirname(app.relay.outbox.db.name);
    const strict = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false", RELAY_MIN_DEADLINE_SECONDS: "3600" }, dataDir), testLogger());
    try {
      await app.close(); // one process per outbox
      await strict.ready();
      const retry = await strict.inject({ method: "POST", url: "/v1/requests", payload: { request, idempotencyKey: "late-retry" } });
      // …but a retry is answered with the original.
      expect([retry.statusCode, retry.json().id]).to.deep.equal([200, first.json().id]);
      const fresh = signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(batchId, who.distributor.address), nonce + 1n, { deadline });
      expect((await strict.inject({ method: "POST", url: "/v1/requests", payload: { request: fresh } })).json().error.code).to.equal("DEADLINE_TOO_CLOSE");
    } finally {
      await strict.close();
      app = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_SUBMITTER_ENABLED: "false" }), testLogger());
      await app.ready();
    }
  });
});
