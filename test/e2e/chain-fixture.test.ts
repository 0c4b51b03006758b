import { expect } from "chai";
import { startAnvil, type NodeProcess } from "../../scripts/lib/nodes";
import { deploySystemOnNode, rpcProvider, systemAt } from "../fixtures/chain";
import { DEMO_MEMBERS } from "../../scripts/lib/consortium-setup";

describe("a real anvil node with the System deployed through Ignition", function () {
  let node: NodeProcess;
  after(async () => node?.stop());

  it("deploys the System module and admits the demo consortium through governance", async function () {
    node = await startAnvil();
    const addresses = await deploySystemOnNode(node.url);
    const provider = rpcProvider(node.url);
    const { consortium } = systemAt(addresses, provider);
    expect((await consortium.members()).length).to.equal(DEMO_MEMBERS.length);
    expect(await consortium.threshold()).to.equal(2n);
    provider.destroy();
  });
});
