import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import hre from "hardhat";
import { ethers, type JsonRpcProvider, type Signer } from "ethers";
import type { FastifyInstance } from "fastify";
import { deploy, DeploymentResultType, type EIP1193Provider } from "@nomicfoundation/ignition-core";
import { HardhatArtifactResolver } from "@nomicfoundation/hardhat-ignition/helpers";
import SystemModule from "../../../ignition/modules/System";
import { buildApp } from "../../../api/app";
import { loadConfig } from "../../../api/config";
import type { SystemAddresses } from "../../../api/chain/addresses";
import { connectSystem } from "../../../api/chain/contracts";
import { dayNumber, dayToGs1Date, withCheckDigit } from "../../../api/domain/gs1";
import { buildPackingTree, buildSerialTree, type SerialTree } from "../../../api/domain/merkle";
import { assignSsccs, cases, itemUnits, pallets, units, type Item, type Layout, type PackingList } from "../../../api/domain/packing";
import { packingUploadMessage, serialUploadMessage } from "../../../api/read/verification";
import { parametersFor } from "../../../scripts/lib/deployment";
import { startAnvil, type NodeProcess } from "../../../scripts/lib/nodes";
export { startAnvil };
import { devWallet, rpcProvider } from "../../fixtures/chain";
import type { BatchToken, Consortium } from "../../../typechain-types";

/**
 * A real anvil node with the System deployed through Ignition, a consortium admitted through real
 * governance (the producer with its GS1 Company Prefix), two products registered by their owner,
 * and a history that reaches every pack state and verdict; plus a read-only service (relay off)
 * over it. Seeded through the contracts directly. Shared by the read-side API tests and the portal
 * browser tests.
 *
 *  - GENUINE-A: 5 serialised packs, no cases; producer → distributor (all) → pharmacy (0–2);
 *    pack 1 dispensed; pack 3 pending distributor → pharmacy2 (in transit); pack 4 at the distributor.
 *  - RECALL-B: 4 packs; producer → distributor; recalled by the regulator.
 *  - QUAR-C: 2 packs, serial list never uploaded (until a test does); quarantined by DE.
 *  - PLAIN-D: 10 units without serials, at the producer.
 *  - PACKED-E: 24 packs in 6 cases of 4, 2 pallets of 3 cases; pallet 0 to the distributor; packs
 *    5–6 picked from case 1 to the pharmacy; pack 5 stolen, pack 6 dispensed (pharmacy); pack 7
 *    destroyed, 0 sample, 1 free sample, 2 exported, case 2 locked (distributor); pallet 1 pending
 *    producer → distributor; packs 3 and 4 held (distributor).
 *  - WITHDRAWN-F: 3 packs of the second product, which its owner withdrew.
 */
export const GTIN = withCheckDigit("0950600013435"); // 09506000134352
export const GTIN2 = withCheckDigit("0950600013436");
export const PREFIX = "9506000";
export const EXPIRY_DAY = dayNumber(2030, 6, 30);
export const EXPIRY_YYMMDD = dayToGs1Date(EXPIRY_DAY);
export const SERIALS = {
  A: ["A-0001", "A-0002", "A-0003", "A-0004", "A-0005"],
  B: ["B-0001", "B-0002", "B-0003", "B-0004"],
  C: ["C-0001", "C-0002"],
  E: Array.from({ length: 24 }, (_, i) => `E-${String(i).padStart(4, "0")}`),
  F: ["F-0001", "F-0002", "F-0003"],
};
export const WHO = { producer: 4, distributor: 5, distributor2: 6, pharmacy: 7, pharmacy2: 8, regulator: 9, auditor: 10, regulatorFR: 11 } as const;
export const LAYOUT_E: Layout = { units: 24, unitsPerCase: 4, casesPerPallet: 3 };
export const PACKING_E: PackingList = assignSsccs(LAYOUT_E, PREFIX, 5000);
export const PACK_STATE = { Destroyed: 5, Stolen: 6, Sample: 7, FreeSample: 8, Exported: 9 } as const;
const GOVERNORS = [1, 2, 3];

export interface ReadFixture {
  node: NodeProcess;
  addresses: SystemAddresses;
  provider: JsonRpcProvider;
  dataDir: string;
  chainId: bigint;
  batches: { A: bigint; B: bigint; C: bigint; D: bigint; E: bigint; F: bigint };
  trees: { A: SerialTree; B: SerialTree; C: SerialTree; E: SerialTree; F: SerialTree };
  wallet(role: keyof typeof WHO): Signer & { address: string };
  token(role: keyof typeof WHO): BatchToken;
  /** Mints a batch as the producer; returns its id. */
  mint(lot: string, quantity: bigint, opts?: { serials?: string[]; layout?: Layout; packing?: PackingList; gtin?: string }): Promise<bigint>;
  /** Ships items (or a quantity) and optionally has the receiver accept; returns the shipment id. */
  move(batchId: bigint, from: keyof typeof WHO, to: keyof typeof WHO, what: Item[] | bigint, opts?: { accept?: boolean; layout?: Layout }): Promise<bigint>;
  send(p: Promise<ethers.ContractTransactionResponse>): Promise<ethers.TransactionReceipt>;
  /** Builds (and remembers, for close) a read-only service over the node. */
  app(extraEnv?: Record<string, string>): Promise<FastifyInstance>;
  /** Latest block number. */
  head(): Promise<number>;
  close(): Promise<void>;
}

export const code = (lot: string, serial: string, expiry = EXPIRY_YYMMDD, gtin = GTIN) => `(01)${gtin}(17)${expiry}(10)${lot}(21)${serial}`;
const bytes2 = (c: string) => ethers.hexlify(ethers.toUtf8Bytes(c));

export async function deploySystem(url: string): Promise<SystemAddresses> {
  const provider = rpcProvider(url);
  const eip1193: EIP1193Provider = { request: async ({ method, params }) => provider.send(method, (params as unknown[]) ?? []) };
  const accounts = (await provider.send("eth_accounts", [])) as string[];
  const result = await deploy({
    config: {},
    provider: eip1193,
    artifactResolver: new HardhatArtifactResolver(hre),
    ignitionModule: SystemModule,
    deploymentParameters: parametersFor("localnode") as never,
    accounts,
  });
  if (result.type !== DeploymentResultType.SUCCESSFUL_DEPLOYMENT) throw new Error(`Ignition deployment failed: ${JSON.stringify(result)}`);
  provider.destroy();
  return {
    forwarder: result.contracts["Forwarder#ConsortiumForwarder"].address,
    consortium: result.contracts["Consortium#Consortium"].address,
    batchToken: result.contracts["BatchToken#BatchToken"].address,
  };
}

/** Admits the read tests' consortium through governance (threshold 2 of the three governors). */
export async function admitMembers(consortiumAt: (i: number) => Consortium, provider: JsonRpcProvider): Promise<void> {
  const block = await provider.getBlock("latest");
  const expiry = BigInt(block!.timestamp + 3 * 365 * 86_400);
  const members: Array<[keyof typeof WHO, number, string, string, string[]]> = [
    ["producer", 1, withCheckDigit("400123400001"), "DE", [PREFIX]],
    ["distributor", 2, withCheckDigit("400123400002"), "DE", []],
    ["distributor2", 2, withCheckDigit("400123400003"), "DE", []],
    ["pharmacy", 3, withCheckDigit("400123400004"), "DE", []],
    ["pharmacy2", 3, withCheckDigit("300123400005"), "FR", []],
    ["regulator", 4, withCheckDigit("400123400006"), "DE", []],
    ["auditor", 5, withCheckDigit("400123400007"), "DE", []],
    ["regulatorFR", 4, withCheckDigit("300123400008"), "FR", []],
  ];
  const proposer = consortiumAt(GOVERNORS[0]);
  for (const [who, role, gln, jurisdiction, prefixes] of members) {
    const action = proposer.interface.encodeFunctionData("admitMember", [
      devWallet(WHO[who]).address,
      role,
      BigInt(gln),
      bytes2(jurisdiction),
      ethers.id(`licence ${who}`),
      expiry,
      prefixes,
    ]);
    await (await proposer.propose(await proposer.getAddress(), action)).wait();
    const id = await proposer.proposalCount();
    await (await consortiumAt(GOVERNORS[1]).approve(id)).wait();
    await (await proposer.execute(id)).wait();
  }
}

export async function startReadFixture(opts: { seed?: boolean; anvil?: Parameters<typeof startAnvil>[0] } = {}): Promise<ReadFixture> {
  const node = await startAnvil(opts.anvil);
  const addresses = await deploySystem(node.url);
  const provider = rpcProvider(node.url);
  const wallet = (role: keyof typeof WHO) => devWallet(WHO[role], provider);
  const token = (role: keyof typeof WHO) => connectSystem(addresses, wallet(role)).batchToken;
  const send = async (p: Promise<ethers.ContractTransactionResponse>) => (await (await p).wait())!;
  await admitMembers((i) => connectSystem(addresses, devWallet(i, provider)).consortium, provider);
  const producer = token("producer");
  await send(producer.registerProduct(BigInt(GTIN), [bytes2("DE"), bytes2("FR")], ethers.id("master data v1")));
  await send(producer.registerProduct(BigInt(GTIN2), [bytes2("DE")], ethers.id("master data 2 v1")));

  const layouts = new Map<bigint, Layout>();
  const mint: ReadFixture["mint"] = async (lot, quantity, o = {}) => {
    const tree = o.serials ? buildSerialTree(o.serials) : undefined;
    const layout = o.layout ?? { units: o.serials?.length ?? 0, unitsPerCase: 0, casesPerPallet: 0 };
    await send(
      producer.mintBatch({
        gtin: BigInt(o.gtin ?? GTIN),
        lot,
        expiryDay: EXPIRY_DAY,
        quantity,
        serialsRoot: tree?.root ?? ethers.ZeroHash,
        serialCount: tree?.count ?? 0,
        documentHash: ethers.id(`CoA ${lot}`),
        unitsPerCase: layout.unitsPerCase,
        casesPerPallet: layout.casesPerPallet,
        packingRoot: o.packing ? buildPackingTree(o.packing).root : ethers.ZeroHash,
        markets: [],
      }),
    );
    const id = await producer.batchCount();
    layouts.set(id, layout);
    return id;
  };
  const move: ReadFixture["move"] = async (batchId, from, to, what, o = {}) => {
    const items = Array.isArray(what) ? what : [];
    const layout = o.layout ?? layouts.get(batchId)!;
    const quantity = Array.isArray(what) ? BigInt(items.reduce((n, i) => n + itemUnits(layout, i), 0)) : what;
    const receipt = await send(token(from).ship(batchId, wallet(to).address, quantity, items, ethers.id(`despatch ${batchId} ${from}→${to}`)));
    let shipmentId = 0n;
    let shipment: Parameters<BatchToken["acceptShipment"]>[1] | undefined;
    for (const l of receipt.logs) {
      const p = producer.interface.parseLog(l);
      if (p?.name === "ShipmentCreated") {
        shipmentId = p.args.shipmentId as bigint;
        shipment = {
          batchId: p.args.batchId,
          sender: p.args.sender,
          receiver: p.args.receiver,
          quantity: p.args.quantity,
          kind: p.args.kind,
          items: (p.args.items as Array<{ kind: bigint; start: bigint; count: bigint }>).map((i) => ({ kind: Number(i.kind), start: Number(i.start), count: Number(i.count) })),
        };
      }
    }
    if (!shipment) throw new Error(`no ShipmentCreated in ${receipt.hash}`);
    if (o.accept ?? true) await send(token(to).acceptShipment(shipmentId, shipment));
    return shipmentId;
  };

  const trees = { A: buildSerialTree(SERIALS.A), B: buildSerialTree(SERIALS.B), C: buildSerialTree(SERIALS.C), E: buildSerialTree(SERIALS.E), F: buildSerialTree(SERIALS.F) };
  const batches = { A: 0n, B: 0n, C: 0n, D: 0n, E: 0n, F: 0n };
  if (opts.seed ?? true) {
    const A = await mint("GENUINE-A", 5n, { serials: SERIALS.A });
    await move(A, "producer", "distributor", [units(0, 5)]);
    await move(A, "distributor", "pharmacy", [units(0, 3)]);
    await send(token("pharmacy").dispense(A, 1n, SERIALS.A[1], trees.A.proof(1)));
    await move(A, "distributor", "pharmacy2", [units(3)], { accept: false });
    const B = await mint("RECALL-B", 4n, { serials: SERIALS.B });
    await move(B, "producer", "distributor", [units(0, 4)]);
    await send(token("regulator").recall(B, ethers.id("recall notice 2026-17")));
    const C = await mint("QUAR-C", 2n, { serials: SERIALS.C });
    await send(token("regulator").quarantine(C, ethers.id("suspect temperature excursion")));
    const D = await mint("PLAIN-D", 10n);
    const E = await mint("PACKED-E", 24n, { serials: SERIALS.E, layout: LAYOUT_E, packing: PACKING_E });
    await move(E, "producer", "distributor", [pallets(0)]);
    await move(E, "distributor", "pharmacy", [units(5, 2)]);
    await send(token("pharmacy").decommission(E, [units(5)], PACK_STATE.Stolen, ethers.id("police report 17")));
    await send(token("pharmacy").dispense(E, 6n, SERIALS.E[6], trees.E.proof(6)));
    await send(token("distributor").decommission(E, [units(7)], PACK_STATE.Destroyed, ethers.id("crushed")));
    await send(token("distributor").decommission(E, [units(0)], PACK_STATE.Sample, ethers.id("lab sample")));
    await send(token("distributor").decommission(E, [units(1)], PACK_STATE.FreeSample, ethers.id("free sample")));
    await send(token("distributor").decommission(E, [units(2)], PACK_STATE.Exported, ethers.id("export to CH")));
    await send(token("distributor").lock(E, [cases(2)], ethers.id("investigation 4")));
    await move(E, "producer", "distributor", [pallets(1)], { accept: false });
    const F = await mint("WITHDRAWN-F", 3n, { serials: SERIALS.F, gtin: GTIN2 });
    await send(producer.setProductStatus(BigInt(GTIN2), 2, ethers.id("withdrawn from the market")));
    Object.assign(batches, { A, B, C, D, E, F });
  }

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-read-"));
  const apps: FastifyInstance[] = [];
  const chainId = (await provider.getNetwork()).chainId;

  const fixture: ReadFixture = {
    node,
    addresses,
    provider,
    dataDir,
    chainId,
    batches,
    trees,
    wallet,
    token,
    mint,
    move,
    send,
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
        // The tests upload many lists from one address; the limit has its own test.
        SERIAL_UPLOAD_RATE_LIMIT_PER_MINUTE: "1000",
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
      await fixture.node.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
  return fixture;
}

/** Uploads a serial list the way a producer does: EIP-191 signature over the upload message (the on-chain root and count). */
export async function uploadSerials(app: FastifyInstance, f: ReadFixture, batchId: bigint, serials: string[], signer: Signer = f.wallet("producer")) {
  const tree = buildSerialTree(serials);
  const message = serialUploadMessage({ chainId: f.chainId, batchToken: f.addresses.batchToken, batchId, root: tree.root, count: tree.count });
  const signature = await signer.signMessage(message);
  return app.inject({ method: "POST", url: `/v1/batches/${batchId}/serials`, payload: { serials, signature } });
}

/** Uploads a packing list (SSCCs of cases and pallets), signed by the producer. */
export async function uploadPacking(app: FastifyInstance, f: ReadFixture, batchId: bigint, packing: PackingList, signer: Signer = f.wallet("producer")) {
  const root = buildPackingTree(packing).root;
  const message = packingUploadMessage({ chainId: f.chainId, batchToken: f.addresses.batchToken, batchId, root, cases: packing.cases.length, pallets: packing.pallets.length });
  const signature = await signer.signMessage(message);
  return app.inject({ method: "POST", url: `/v1/batches/${batchId}/packing`, payload: { ...packing, signature } });
}

/** Waits until the app's indexer has read the node's current head. */
export async function indexed(app: FastifyInstance, f: ReadFixture): Promise<void> {
  await app.read.indexer!.waitForBlock(await f.head(), 30_000);
}
