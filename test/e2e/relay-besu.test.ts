import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { Wallet } from "ethers";
import { buildApp } from "../../api/app";
import { startBesuRules, type BesuRulesProxy } from "../fixtures/besu-rules";
import { systemAt } from "../fixtures/chain";
import { executedRequests, relayConfig, shipData, startStockedChain, testLogger, until, who, type Chain } from "../api/relay/stack";
import { driveLoad, statesOf, type Sender } from "../api/relay/load";

/**
 * The relay against Besu's JSON-RPC rules (test/fixtures/besu-rules.ts) in front of anvil mining
 * 1-second blocks: with the sequenced pool's per-sender cap of 5 and the layered pool's 200.
 */
describe("relay through the Besu-rules harness (anvil, 1 s blocks)", function () {
  this.timeout(180_000);
  let chain: Chain;
  let batchId: bigint;

  before(async () => {
    ({ chain, batchId } = await startStockedChain());
  });
  after(async () => chain?.stop());

  describe("the harness itself", function () {
    let proxy: BesuRulesProxy;
    before(async () => {
      proxy = await startBesuRules({ upstream: chain.url, pendingCap: 5, minGasPrice: 1n });
    });
    after(async () => proxy?.close());
    const rpc = async (method: string, params: unknown[]) => {
      const res = await fetch(proxy.url, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }) });
      return (await res.json()) as { result?: unknown; error?: { code: number; message: string } };
    };

    it("refuses eth_sendTransaction with −32604", async () => {
      const answer = await rpc("eth_sendTransaction", [{ from: who.producer.address, to: who.producer.address }]);
      expect(answer.error?.code).to.equal(-32604);
    });
    it("refuses a gas price below the minimum with −32009", async () => {
      const raw = await new Wallet(who.stranger.privateKey).signTransaction({ type: 0, chainId: 1337n, nonce: 0, to: who.stranger.address, gasLimit: 21_000n, gasPrice: 0n });
      expect((await rpc("eth_sendRawTransaction", [raw])).error).to.deep.equal({ code: -32009, message: "Gas price below configured minimum gas price" });
    });
    it("refuses a nonce `cap` or more ahead of the chain nonce with Besu's −32000 message", async () => {
      const chainNonce = Number(await chain.provider.getTransactionCount(who.stranger.address, "latest"));
      const raw = await new Wallet(who.stranger.privateKey).signTransaction({ type: 0, chainId: 1337n, nonce: chainNonce + 5, to: who.stranger.address, gasLimit: 21_000n, gasPrice: 5n });
      expect((await rpc("eth_sendRawTransaction", [raw])).error).to.deep.equal({ code: -32000, message: "Transaction nonce is too distant from current sender nonce" });
    });
  });

  for (const { cap, pending } of [
    { cap: 5, pending: 8 },
    { cap: 200, pending: 24 },
  ]) {
    it(`lands every accepted request exactly once with a per-sender cap of ${cap} (relay allows ${pending} in flight per key)`, async function () {
      const proxy = await startBesuRules({ upstream: chain.url, pendingCap: cap });
      // Small batches so a relayer key has more transactions in flight than the cap allows.
      const app: FastifyInstance = await buildApp(
        relayConfig(proxy.url, chain.addresses, { RELAY_MAX_BATCH_SIZE: "4", RELAY_MAX_PENDING_PER_KEY: String(pending), RELAYER_KEYS: "" }),
        testLogger(),
      );
      try {
        await app.listen({ port: 0, host: "127.0.0.1" });
        const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
        const { forwarder } = systemAt(chain.addresses, chain.provider);
        const senders: Sender[] = [];
        for (const [wallet, receiver] of [
          [who.producer, who.distributor],
          [who.distributor, who.pharmacy],
          [who.distributor2, who.pharmacy],
        ] as const) {
          senders.push({ wallet, to: chain.addresses.batchToken, data: () => shipData(batchId, receiver.address), startNonce: await forwarder.nonces(wallet.address) });
        }
        const load = await driveLoad({ url: () => url, addresses: chain.addresses, senders, perSender: 40, window: 20 });
        expect(load.refusals).to.deep.equal([]);
        expect(load.accepted.size).to.equal(120);
        const ids = [...load.accepted.values()];
        await until("every request to be mined", 90_000, async () => [...(await statesOf(url, ids)).values()].every((s) => s.state === "mined" || s.state === "failed"));
        const states = await statesOf(url, ids);
        expect([...states.values()].filter((s) => s.state !== "mined")).to.deep.equal([]);
        const executed = await executedRequests(chain);
        for (const key of load.accepted.keys()) expect(executed.get(key), key).to.deep.equal([true]);
        for (const s of senders) expect(await forwarder.nonces(s.wallet.address)).to.equal(s.startNonce + 40n);
        expect(proxy.stats.sendTransactionRefused).to.equal(0);
        if (cap === 5) expect(proxy.stats.tooDistant, "the relay must have met the cap").to.be.greaterThan(0);
        else expect(proxy.stats.tooDistant).to.equal(0);
      } finally {
        await app.close();
        await proxy.close();
      }
    });
  }
});
