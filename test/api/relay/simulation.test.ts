import { expect } from "chai";
import { calls } from "../../../api/client";
import { ChainView } from "../../../api/relay/chain-view";
import { RpcClient, RpcError } from "../../../api/relay/rpc";
import { giveStock, mintStock, startChain, who, type Chain } from "./stack";

/** A node that refuses eth_call state overrides, as some clients do: its answers otherwise come from the real node. */
class NoOverrideRpc extends RpcClient {
  refused = 0;
  override send<T = unknown>(method: string, params: unknown[]): Promise<T> {
    if (method === "eth_call" && params.length > 2) {
      this.refused++;
      return Promise.reject(new RpcError(-32602, "invalid argument 2: state overrides are not supported"));
    }
    return super.send<T>(method, params);
  }
}

describe("relay simulations: many requests in one eth_call, judged like one eth_call each", function () {
  this.timeout(120_000);
  let chain: Chain;
  let batchId: bigint;

  before(async () => {
    chain = await startChain();
    batchId = await mintStock(chain, 100n);
    await giveStock(chain, batchId, who.distributor, 10n);
  });
  after(async () => chain?.stop());

  const requests = () => [
    // passes
    { from: who.producer.address, to: chain.addresses.batchToken, data: calls.ship(batchId, who.distributor.address, 5n), gas: 300_000n, value: 0n },
    // BatchTokenSelfShipment(account)
    { from: who.producer.address, to: chain.addresses.batchToken, data: calls.ship(batchId, who.producer.address, 1n), gas: 300_000n, value: 0n },
    // ERC1155InsufficientBalance: more than the distributor holds
    { from: who.distributor.address, to: chain.addresses.batchToken, data: calls.ship(batchId, who.pharmacy.address, 11n), gas: 300_000n, value: 0n },
    // each judged alone: this one passes although the first would have used the same stock
    { from: who.distributor.address, to: chain.addresses.batchToken, data: calls.ship(batchId, who.pharmacy.address, 10n), gas: 300_000n, value: 0n },
    // BatchTokenUnknownBatch
    { from: who.producer.address, to: chain.addresses.batchToken, data: calls.ship(999_999n, who.distributor.address, 1n), gas: 300_000n, value: 0n },
    // out of gas
    { from: who.producer.address, to: chain.addresses.batchToken, data: calls.ship(batchId, who.distributor.address, 1n), gas: 25_000n, value: 0n },
  ];

  it("gives, in one batched eth_call, the verdicts one eth_call per request gives", async function () {
    const view = new ChainView(new RpcClient(chain.url), chain.addresses, 0);
    const batched = await Promise.all(requests().map((r) => view.simulate(r)));
    expect(view.simulationMode).to.equal("batched");
    const single = await Promise.all(requests().map((r) => view.simulateOne(r)));
    expect(batched.map((r) => (r.ok ? "ok" : r.error))).to.deep.equal(["ok", "BatchTokenSelfShipment", "ERC1155InsufficientBalance", "ok", "BatchTokenUnknownBatch", "OutOfGas"]);
    // Same names and arguments; only the wording of a bare revert's reason may differ between the paths.
    expect(batched.map((r) => (r.ok ? "ok" : `${r.error} ${r.error === "OutOfGas" ? r.args.gas : JSON.stringify(r.args)}`))).to.deep.equal(
      single.map((r) => (r.ok ? "ok" : `${r.error} ${r.error === "OutOfGas" ? r.args.gas : JSON.stringify(r.args)}`)),
    );
  });

  it("falls back to one eth_call per request when the node refuses state overrides", async function () {
    const rpc = new NoOverrideRpc(chain.url);
    const view = new ChainView(rpc, chain.addresses, 0);
    for (let round = 0; round < 3; round++) {
      const results = await Promise.all(requests().map((r) => view.simulate(r)));
      expect(results.map((r) => (r.ok ? "ok" : r.error))).to.deep.equal(["ok", "BatchTokenSelfShipment", "ERC1155InsufficientBalance", "ok", "BatchTokenUnknownBatch", "OutOfGas"]);
    }
    expect(rpc.refused).to.equal(3);
    expect(view.simulationMode).to.equal("per-request");
    await view.simulate(requests()[0]);
    expect(rpc.refused).to.equal(3);
  });
});
