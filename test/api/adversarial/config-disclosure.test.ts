import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { devWallet, systemAt } from "../../fixtures/chain";
import { startRpcRecorder, type RpcRecorder } from "../../fixtures/rpc-recorder";
import { mintStock, relayConfig, shipData, signed, startChain, tempDir, testLogger, until, who, type Chain } from "../relay/stack";

/**
 * Finding (medium): the node URL leaks. When the node failed, the public /ready and
 * /v1/index/status printed the RPC URL — API key included — or the node's address. General form:
 * no public route reveals configuration (the RPC URL or any part of it, keys, tokens, file paths),
 * asked the way an outsider asks (no credentials), while the node is down and every error path runs.
 */
describe("adversarial: no public route reveals configuration", function () {
  this.timeout(180_000);
  let chain: Chain;

  const ADMIN_TOKEN = "ADMIN-TOKEN-5b0e7c1d9a2f4e6b8c3d1a0f";
  const PASSPHRASE = "KEYSTORE-PASSPHRASE-2e7c";
  const READ_KEY = "READ-KEY-8f3a6d1c4b9e";
  const relayerKey = devWallet(11).privateKey;

  before(async () => {
    chain = await startChain();
    await mintStock(chain, 10n);
  });
  after(async () => {
    await chain?.stop();
  });

  /** Every route of the OpenAPI document, hidden ones too, with plausible parameters. */
  async function publicCalls(app: FastifyInstance, requestId: string): Promise<{ method: "GET" | "POST" | "DELETE"; url: string; payload?: object }[]> {
    const doc = (await app.inject({ method: "GET", url: "/docs/json" })).json() as { paths: Record<string, Record<string, unknown>> };
    const params: Record<string, string> = {
      batchId: "1",
      address: who.producer.address,
      id: requestId,
      keyId: "0123456789abcdef",
      gtin: "09506000134352",
      lot: "L1",
      serial: "S1",
    };
    const queries: Record<string, string> = {
      "/v1/verify": "?gtin=09506000134352&lot=L1&serial=S1&expiry=301231",
      "/v1/verify/scan": "?code=(01)09506000134352(17)301231(10)L1(21)S1",
      "/v1/batches/lookup": "?gtin=09506000134352&lot=L1",
      "/v1/events": "?from=2020-01-01T00:00:00Z&to=2030-01-01T00:00:00Z",
      "/v1/requests/{id}": "?wait=0",
    };
    const out: { method: "GET" | "POST" | "DELETE"; url: string; payload?: object }[] = [];
    for (const [path, methods] of Object.entries(doc.paths)) {
      const url = path.replace(/\{(\w+)\}/g, (_, name: string) => params[name] ?? "x") + (queries[path] ?? "");
      for (const method of Object.keys(methods)) {
        const m = method.toUpperCase();
        if (m === "GET" || m === "DELETE") out.push({ method: m, url });
        if (m === "POST") out.push({ method: m, url, payload: {} });
      }
    }
    for (const url of ["/ready", "/health", "/metrics", "/", "/portal/", "/docs/json", "/v1/index/status", "/no-such-route"]) out.push({ method: "GET", url });
    return out;
  }

  for (const variant of [
    { name: "an API key in the URL's path and query", url: (r: RpcRecorder) => `${r.url}/v3/KEY-4f9a7c2e81b6d035?apikey=TOKEN-93be1f0c7a`, parts: ["KEY-4f9a7c2e81b6d035", "TOKEN-93be1f0c7a"] },
    { name: "user and password in the URL", url: (r: RpcRecorder) => `http://relay-user:PASS-7d1e9a5c@127.0.0.1:${r.port}/rpc`, parts: ["relay-user", "PASS-7d1e9a5c"] },
  ]) {
    it(`answers every route without the node's URL, keys, tokens or data path when the node is down (${variant.name})`, async function () {
      const recorder = await startRpcRecorder(chain.url);
      const rpcUrl = variant.url(recorder);
      const dataDir = tempDir("disclosure");
      const app = await buildApp(
        relayConfig(
          rpcUrl,
          chain.addresses,
          {
            READ_ENABLED: "true",
            INDEXER_POLL_MS: "100",
            READY_CACHE_MS: "0",
            RELAYER_KEYS: relayerKey,
            RELAY_ADMIN_TOKEN: ADMIN_TOKEN,
            RELAY_KEYSTORE_PASSPHRASE: PASSPHRASE,
            RELAY_KEYSTORE_SCRYPT_N: "1024",
            READ_API_KEYS: READ_KEY,
          },
          dataDir,
        ),
        testLogger(),
      );
      try {
        await app.ready();
        const nonce = await systemAt(chain.addresses, chain.provider).forwarder.nonces(who.distributor.address);
        const accepted = await app.inject({ method: "POST", url: "/v1/requests", payload: { request: signed(chain.addresses, who.distributor, chain.addresses.batchToken, shipData(1n, who.pharmacy.address), nonce) } });
        // The request is refused or accepted on its merits; either way it leaves a request id to ask about (or none).
        const requestId = accepted.statusCode === 202 ? (accepted.json().id as string) : crypto.randomUUID();

        await recorder.close(); // the node goes away
        await until("/ready to report the node failures", 30_000, async () => {
          const checks = (await app.inject({ method: "GET", url: "/ready" })).json().checks as Record<string, { ok: boolean }>;
          return !checks.chain.ok && !checks.relayChain.ok && !checks.submitter.ok && !checks.indexer.ok;
        });
        await until("the indexer to record the failure", 30_000, async () => (await app.inject({ method: "GET", url: "/v1/index/status" })).json().lastError !== undefined);

        const forbidden = [rpcUrl, `127.0.0.1:${recorder.port}`, ...variant.parts, ADMIN_TOKEN, PASSPHRASE, READ_KEY, relayerKey.slice(2).toLowerCase(), dataDir];
        const calls = await publicCalls(app, requestId);
        calls.push({ method: "POST", url: "/v1/requests", payload: { request: signed(chain.addresses, who.producer, chain.addresses.batchToken, shipData(1n, who.distributor.address), 0n) } });
        calls.push({ method: "GET", url: `/v1/nonces/${who.pharmacy2.address}` });
        expect(calls.length).to.be.greaterThan(30);
        const leaks: string[] = [];
        const statuses = new Set<number>();
        for (const call of calls) {
          const res = await app.inject({ method: call.method, url: call.url, ...(call.payload ? { payload: call.payload } : {}) });
          statuses.add(res.statusCode);
          const text = `${JSON.stringify(res.headers)}\n${res.body}`;
          for (const secret of forbidden) if (text.toLowerCase().includes(secret.toLowerCase())) leaks.push(`${call.method} ${call.url} → ${res.statusCode} reveals ${secret}: ${res.body.slice(0, 300)}`);
        }
        expect(leaks).to.deep.equal([]);
        // The failure paths ran: the node's outage was reported, not merely absent.
        expect([...statuses]).to.include.members([503, 401]);
        const ready = (await app.inject({ method: "GET", url: "/ready" })).json();
        expect(ready.checks.submitter.detail).to.match(/node unreachable/);
        expect(ready.checks.indexer.detail).to.match(/cannot read the chain/);
      } finally {
        await app.close();
      }
    });
  }
});
