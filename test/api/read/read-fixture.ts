import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { ethers, type JsonRpcProvider, type Signer } from "ethers";
import type { FastifyInstance } from "fastify";
import { buildApp } from "../../../api/app";
import { loadConfig } from "../../../api/config";
import type { SystemAddresses } from "../../../api/chain/addresses";
import { dayNumber, dayToGs1Date, withCheckDigit } from "../../../api/domain/gs1";
import { buildSerialTree, type SerialTree } from "../../../api/domain/merkle";
import { serialUploadMessage } from "../../../api/read/verification";
import { startAnvil, type NodeProcess } from "../../../scripts/lib/nodes";
import { deploySystemOnNode, devWallet, rpcProvider, systemAt } from "../../fixtures/chain";
import type { BatchToken } from "../../../typechain-types";

/**
 * A real anvil node with the System deployed and a small but complete history, plus a read-only
 * service (relay off) over it: the fixture the read-side API tests and the portal browser tests share.
 *
 *  - GENUINE-A: 5 serialised units; producer → distributor (5) → pharmacy (3); unit 1 dispensed;
 *    1 unit pending distributor → pharmacy2.
 *  - RECALL-B: 4 serialised units; producer → distributor; recalled by the regulator.
 *  - QUAR-C: 2 serialised units, serial list never uploaded; quarantined.
 *  - PLAIN-D: 10 units without serials, at the producer.
 */
export const GTIN = withCheckDigit("0950600013435"); // 09506000134352
export const EXPIRY_DAY = dayNumber(2030, 6, 30);
export const EXPIRY_YYMMDD = dayToGs1Date(EXPIRY_DAY);
export const SERIALS = {
  A: ["A-0001", "A-0002", "A-0003", "A-0004", "A-0005"],
  B: ["B-0001", "B-0002", "B-0003", "B-0004"],
  C: ["C-0001", "C-0002"],
};
export const WHO = { producer: 4, distributor: 5, distributor2: 6, pharmacy: 7, pharmacy2: 8, regulator: 9, auditor: 10 } as const;

export interface ReadFixture {
  node: NodeProcess;
  addresses: SystemAddresses;
  provider: JsonRpcProvider;
  dataDir: string;
  batches: { A: bigint; B: bigint; C: bigint; D: bigint };
  trees: { A: SerialTree; B: SerialTree; C: SerialTree };
  wallet(role: keyof typeof WHO): Signer & { address: string };
  token(role: keyof typeof WHO): BatchToken;
  /** Builds (and remembers, for close) a read-only service over the node. */
  app(extraEnv?: Record<string, string>): Promise<FastifyInstance>;
  /** Latest block number. */
  head(): Promise<number>;
  close(): Promise<void>;
}

export const code = (lot: string, serial: string, expiry = EXPIRY_YYMMDD) => `(01)${GTIN}(17)${expiry}(10)${lot}(21)${serial}`;

async function shipmentOf(token: BatchToken, receipt: ethers.TransactionReceipt) {
  for (const l of receipt.logs) {
    const p = token.interface.parseLog(l);
    if (p?.name === "ShipmentCreated") {
      return {
        id: p.args.shipmentId as bigint,
        shipment: { batchId: p.args.batchId as bigint, sender: p.args.sender as string, receiver: p.args.receiver as string, quantity: p.args.quantity as bigint, isReturn: p.args.isReturn as boolean },
      };
    }
  }
  throw new Error(`no ShipmentCreated in ${receipt.hash}`);
}

export async function startReadFixture(): Promise<ReadFixture> {
  const node = await startAnvil();
  const addresses = await deploySystemOnNode(node.url);
  const provider = rpcProvider(node.url);
  const wallet = (role: keyof typeof WHO) => devWallet(WHO[role], provider);
  const token = (role: keyof typeof WHO) => systemAt(addresses, wallet(role)).batchToken;
  const send = async (p: Promise<ethers.ContractTransactionResponse>) => (await (await p).wait())!;

  const trees = { A: buildSerialTree(SERIALS.A), B: buildSerialTree(SERIALS.B), C: buildSerialTree(SERIALS.C) };
  const producer = token("producer");
  const mint = async (lot: string, quantity: number, tree?: SerialTree) => {
    await send(
      producer.mintBatch({
        gtin: BigInt(GTIN),
        lot,
        expiryDay: EXPIRY_DAY,
        quantity: BigInt(quantity),
        serialsRoot: tree?.root ?? ethers.ZeroHash,
        serialCount: tree?.count ?? 0,
        documentHash: ethers.id(`CoA ${lot}`),
      }),
    );
    return producer.batchIdOf(BigInt(GTIN), lot);
  };
  const move = async (batchId: bigint, from: keyof typeof WHO, to: keyof typeof WHO, quantity: number, accept = true) => {
    const receipt = await send(token(from).ship(batchId, BigInt(quantity), wallet(to).address, ethers.id(`despatch ${batchId} ${from}→${to}`)));
    const s = await shipmentOf(token(from), receipt);
    if (accept) await send(token(to).acceptShipment(s.id, s.shipment));
  };

  const A = await mint("GENUINE-A", 5, trees.A);
  await move(A, "producer", "distributor", 5);
  await move(A, "distributor", "pharmacy", 3);
  await send(token("pharmacy").dispense(A, 1n, SERIALS.A[1], trees.A.proof(1)));
  await move(A, "distributor", "pharmacy2", 1, false);
  const B = await mint("RECALL-B", 4, trees.B);
  await move(B, "producer", "distributor", 4);
  await send(token("regulator").recall(B, ethers.id("recall notice 2026-17")));
  const C = await mint("QUAR-C", 2, trees.C);
  await send(token("regulator").quarantine(C, ethers.id("suspect temperature excursion")));
  const D = await mint("PLAIN-D", 10);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-read-"));
  const apps: FastifyInstance[] = [];
  const chainId = (await provider.getNetwork()).chainId;

  const fixture: ReadFixture = {
    node,
    addresses,
    provider,
    dataDir,
    batches: { A, B, C, D },
    trees,
    wallet,
    token,
    head: async () => provider.getBlockNumber(),
    async app(extraEnv = {}) {
      const config = loadConfig({
        CHAIN_RPC_URL: node.url,
        CHAIN_ID: String(chainId),
        FORWARDER_ADDRESS: addresses.forwarder,
        CONSORTIUM_ADDRESS: addresses.consortium,
        BATCH_TOKEN_ADDRESS: addresses.batchToken,
        DATA_DIR: dataDir,
        RELAY_ENABLED: "false",
        INDEXER_POLL_MS: "50",
        LOG_LEVEL: "silent",
        ...extraEnv,
      });
      const app = await buildApp(config, { logger: false });
      await app.ready();
      apps.push(app);
      return app;
    },
    async close() {
      for (const a of apps) await a.close();
      provider.destroy();
      await node.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** Uploads a serial list the way a producer does: EIP-191 signature over the upload message. */
export async function uploadSerials(app: FastifyInstance, f: ReadFixture, batchId: bigint, serials: string[], signer: Signer = f.wallet("producer")) {
  const tree = buildSerialTree(serials);
  const chainId = (await f.provider.getNetwork()).chainId;
  const message = serialUploadMessage({ chainId, batchToken: f.addresses.batchToken, batchId, root: tree.root, count: tree.count });
  const signature = await signer.signMessage(message);
  return app.inject({ method: "POST", url: `/v1/batches/${batchId}/serials`, payload: { serials, signature } });
}

/** Waits until the app's indexer has read the node's current head. */
export async function indexed(app: FastifyInstance, f: ReadFixture): Promise<void> {
  await app.read.indexer!.waitForBlock(await f.head(), 30_000);
}
