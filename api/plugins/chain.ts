import fp from "fastify-plugin";
import { FetchRequest, JsonRpcProvider, Network } from "ethers";
import type { AppConfig } from "../config";
import type { SystemAddresses } from "../chain/addresses";
import { connectSystem, type SystemContractSet } from "../chain/contracts";

export interface Chain extends SystemContractSet {
  provider: JsonRpcProvider;
  chainId: bigint;
  addresses: SystemAddresses;
}

declare module "fastify" {
  interface FastifyInstance {
    chain: Chain;
  }
}

/**
 * One JSON-RPC client for the whole service. The network is static (the configured chain id):
 * ethers then never probes the node in the background, so a node outage shows up as failed
 * calls and a not-ready /ready, not as a retry storm in the logs.
 */
export function createChain(config: AppConfig): Chain {
  const request = new FetchRequest(config.env.CHAIN_RPC_URL);
  request.timeout = 10_000;
  const network = Network.from(config.env.CHAIN_ID);
  const provider = new JsonRpcProvider(request, network, { staticNetwork: network, polling: false });
  const { addresses } = config;
  return {
    provider,
    chainId: BigInt(config.env.CHAIN_ID),
    addresses,
    ...connectSystem(addresses, provider),
  };
}

export default fp(
  async (app, opts: { config: AppConfig }) => {
    const chain = createChain(opts.config);
    app.decorate("chain", chain);
    app.addHook("onClose", async () => chain.provider.destroy());
  },
  { name: "chain" },
);
