import { expect } from "chai";
import { startAnvil, type NodeProcess } from "../../scripts/lib/nodes";
import { deploySystemOnNode, rpcProvider, systemAt } from "../fixtures/chain";
import { DEMO_MEMBERS, DEMO_PRODUCT } from "../../scripts/lib/consortium-setup";

describe("a real anvil node with the System deployed through Ignition", function () {
  let node: NodeProcess;
  after(async () => node?.stop());

  it("deploys the System module, admits the demo consortium through governance and registers the demo product", async function () {
    node = await startAnvil();
    const addresses = await deploySystemOnNode(node.url);
    const provider = rpcProvider(node.url);
    const { consortium, batchToken } = systemAt(addresses, provider);
    expect(await consortium.memberCount()).to.equal(BigInt(DEMO_MEMBERS.length));
    expect(await consortium.threshold()).to.equal(2n);
    const producer = DEMO_MEMBERS.find((m) => m.key === "producer")!;
    const [owner, prefixKey] = await consortium.companyPrefixOf(BigInt(DEMO_PRODUCT.gtin));
    expect(owner).to.equal(await consortium.accountAt(DEMO_MEMBERS.indexOf(producer) + 1));
    expect(prefixKey).to.equal((7n << 40n) | 9506000n);
    const product = await batchToken.product(BigInt(DEMO_PRODUCT.gtin));
    expect(product.owner).to.equal(owner);
    expect(product.status).to.equal(1n);
    provider.destroy();
  });
});
