import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Interface, type HDNodeWallet, type JsonRpcProvider } from "ethers";
import { startAnvil, type NodeProcess } from "../../../scripts/lib/nodes";
import { deploySystemOnNode, devWallet, rpcProvider, systemAt } from "../../fixtures/chain";
import { envSchema, type AppConfig } from "../../../api/config";
import type { SystemAddresses } from "../../../api/chain/addresses";
import { dayNumberOf } from "../../../api/domain/gs1";
import { calls, DEFAULT_TTL_SECONDS } from "../../../api/client";
import { forwardRequestDigest, signDigest, toJson, type ForwardRequest, type SignedRequestJson } from "../../../api/relay/forward-request";

/**
 * Shared set-up of the relay tests: a real anvil node with the System deployed through Ignition
 * and the demo consortium admitted, the relay's AppConfig for it, and helpers to make stock and
 * signed requests. Dev accounts: producer 4, distributor 5, distributor2 6, pharmacy 7,
 * pharmacy2 8, regulator 9, auditor 10; relayers 11–14 (default) and 15–18 (a second relay).
 */

export const GTIN = 9506000134352n;
export const ZERO32 = "0x" + "0".repeat(64);

export const who = {
  producer: devWallet(4),
  distributor: devWallet(5),
  distributor2: devWallet(6),
  pharmacy: devWallet(7),
  pharmacy2: devWallet(8),
  regulator: devWallet(9),
  auditor: devWallet(10),
  stranger: devWallet(19),
};

export interface Chain {
  node: NodeProcess;
  url: string;
  addresses: SystemAddresses;
  provider: JsonRpcProvider;
  stop(): Promise<void>;
}

/** anvil with the System deployed (automine for the deployment), then `blockTime` s interval mining if given. */
export async function startChain(opts: { blockTime?: number; gasLimit?: number; stateFile?: string } = {}): Promise<Chain> {
  const node = await startAnvil({ stateFile: opts.stateFile, extraArgs: opts.gasLimit ? ["--gas-limit", String(opts.gasLimit)] : [] });
  const addresses = await deploySystemOnNode(node.url);
  const provider = rpcProvider(node.url);
  if (opts.blockTime) {
    await provider.send("evm_setAutomine", [false]);
    await provider.send("evm_setIntervalMining", [opts.blockTime]);
  }
  return {
    node,
    url: node.url,
    addresses,
    provider,
    stop: async () => {
      provider.destroy();
      await node.stop();
    },
  };
}

export function tempDir(prefix: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `medtrace-${prefix}-`));
}

/** AppConfig of a relay-only service on `rpcUrl`, data in a fresh temp dir unless given. */
export function relayConfig(rpcUrl: string, addresses: SystemAddresses, env: Record<string, string> = {}, dataDir = tempDir("relay")): AppConfig {
  const parsed = envSchema.parse({
    CHAIN_RPC_URL: rpcUrl,
    CHAIN_ID: "1337",
    READ_ENABLED: "false",
    LOG_LEVEL: "silent",
    RELAY_POLL_MS: "100",
    RELAY_BATCH_WAIT_MS: "20",
    ...env,
  });
  return { env: parsed, addresses, dataDir };
}

/** A chain mining 1-second blocks with one large batch: 100,000 units each at the two distributors, the rest at the producer. */
export async function startStockedChain(): Promise<{ chain: Chain; batchId: bigint }> {
  const chain = await startChain({ blockTime: 1 });
  const batchId = await mintStock(chain, 1_000_000n);
  await giveStock(chain, batchId, who.distributor, 100_000n);
  await giveStock(chain, batchId, who.distributor2, 100_000n);
  return { chain, batchId };
}

/** Mints a batch of `quantity` units without serials to the producer (sent directly by the producer) and returns its id. */
export async function mintStock(chain: Chain, quantity: bigint, lot = `L${Date.now().toString(36)}${Math.floor(Math.random() * 1e6)}`.slice(0, 20)): Promise<bigint> {
  const { batchToken } = systemAt(chain.addresses, who.producer.connect(chain.provider));
  const expiryDay = dayNumberOf(new Date()) + 365;
  const tx = await batchToken.mintBatch(
    { gtin: GTIN, lot, expiryDay, quantity, serialsRoot: ZERO32, serialCount: 0, documentHash: ZERO32, unitsPerCase: 0, casesPerPallet: 0, packingRoot: ZERO32, markets: [] },
    { gasPrice: 0 },
  );
  const receipt = await tx.wait();
  for (const log of receipt!.logs) {
    const parsed = batchToken.interface.parseLog(log);
    if (parsed?.name === "BatchMinted") return parsed.args.batchId as bigint;
  }
  throw new Error("no BatchMinted");
}

/** Moves `quantity` units from the producer to `receiver` directly (ship + accept), to give others stock. */
export async function giveStock(chain: Chain, batchId: bigint, receiver: HDNodeWallet, quantity: bigint) {
  const producer = systemAt(chain.addresses, who.producer.connect(chain.provider)).batchToken;
  const receipt = await (await producer.ship(batchId, receiver.address, quantity, [], ZERO32, { gasPrice: 0 })).wait();
  let shipmentId = 0n;
  for (const log of receipt!.logs) {
    const parsed = producer.interface.parseLog(log);
    if (parsed?.name === "ShipmentCreated") shipmentId = parsed.args.shipmentId as bigint;
  }
  const token = systemAt(chain.addresses, receiver.connect(chain.provider)).batchToken;
  await (await token.acceptShipment(shipmentId, { batchId, sender: who.producer.address, receiver: receiver.address, quantity, kind: 0, items: [] }, { gasPrice: 0 })).wait();
}

/** A signed request body (as POST /v1/requests takes it) from `wallet` to `to` with `data`. */
export function signed(
  addresses: SystemAddresses,
  wallet: HDNodeWallet,
  to: string,
  data: string,
  nonce: bigint,
  overrides: Partial<ForwardRequest> = {},
  domain = { chainId: 1337n, verifyingContract: addresses.forwarder },
): SignedRequestJson {
  const request: ForwardRequest = {
    from: wallet.address,
    to,
    value: 0n,
    gas: 300_000n,
    nonce,
    deadline: BigInt(Math.floor(Date.now() / 1000) + DEFAULT_TTL_SECONDS),
    data,
    ...overrides,
  };
  return toJson(request, signDigest(forwardRequestDigest(domain, request), wallet.privateKey));
}

export const shipData = (batchId: bigint, receiver: string, quantity = 1n) => calls.ship(batchId, receiver, quantity);

/** Every ExecutedForwardRequest (signer, nonce, success) of the forwarder, as "signer:nonce" → successes seen. */
export async function executedRequests(chain: { provider: JsonRpcProvider; addresses: SystemAddresses }): Promise<Map<string, boolean[]>> {
  const iface = new Interface(["event ExecutedForwardRequest(address indexed signer, uint256 nonce, bool success)"]);
  const logs = await chain.provider.getLogs({ address: chain.addresses.forwarder, topics: [iface.getEvent("ExecutedForwardRequest")!.topicHash], fromBlock: 0, toBlock: "latest" });
  const out = new Map<string, boolean[]>();
  for (const log of logs) {
    const p = iface.parseLog(log)!;
    const key = `${(p.args.signer as string).toLowerCase()}:${p.args.nonce}`;
    out.set(key, [...(out.get(key) ?? []), p.args.success as boolean]);
  }
  return out;
}

/** Polls `check` every 100 ms until it returns true; fails after `timeoutMs` with `what`. */
export async function until(what: string, timeoutMs: number, check: () => Promise<boolean> | boolean): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** buildApp options for tests: silent, or error logs on stderr when TEST_LOG=1. */
export function testLogger(): { logger: false | { level: string } } {
  return { logger: process.env.TEST_LOG ? { level: process.env.TEST_LOG === "1" ? "error" : process.env.TEST_LOG } : false };
}
