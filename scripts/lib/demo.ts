import { ethers, type ContractTransactionResponse, type Signer } from "ethers";
import type { BatchToken, Consortium } from "../../typechain-types";
import { buildSerialTree } from "../../api/domain/merkle";
import { dayNumberOf, dayToGs1Date, isoDate } from "../../api/domain/gs1";
import { fetchLedgerEvents } from "../../api/chain/logs";
import { describeEvent, inTransit, isConserved, replayBatch } from "../../api/domain/custody";
import { findRevertData } from "./errors";

export type Actor = Signer & { address: string };

export interface DemoActors {
  producer: Actor;
  distributor: Actor;
  pharmacy: Actor;
  regulator: Actor;
}

export interface DemoOptions {
  batchToken: BatchToken;
  consortium: Consortium;
  actors: DemoActors;
  /** Human names by address, for the timeline. */
  names?: Record<string, string>;
  log?: (line: string) => void;
  units?: number;
  /** Lot number; default DEMO-<time> so the demo can run again on the same chain. */
  lot?: string;
}

export interface DemoResult {
  batchId: bigint;
  gtin: string;
  lot: string;
  expiry: string;
  balances: { producer: bigint; distributor: bigint; pharmacy: bigint };
  dispensedSerials: string[];
  refused: { action: string; error: string }[];
  status: number;
  history: string[];
  conserved: boolean;
}

export const DEMO_GTIN = "09506000134352";

/**
 * The traceability story end to end, through the contracts: mint 1,000 serialised units, ship
 * 400 to a distributor who accepts, ship 100 on to a pharmacy who accepts, dispense 3 units by
 * serial, have a forged serial and a second dispense refused, quarantine then recall, have a
 * shipment after the recall refused, and rebuild the custody history from events alone.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const { batchToken, actors } = opts;
  const log = opts.log ?? (() => undefined);
  const names = opts.names ?? {};
  const nameOf = (a: string) => names[ethers.getAddress(a)] ?? a;
  const units = opts.units ?? 1000;
  const provider = batchToken.runner!.provider!;
  const now = Number((await provider.getBlock("latest"))!.timestamp);
  // Unique per run on the same chain: two runs can start within one block time.
  const lot = opts.lot ?? `DEMO-${now.toString(36).toUpperCase()}-${(await batchToken.batchCount()) + 1n}`;
  const refused: DemoResult["refused"] = [];
  const step = (n: number, text: string) => log(`${String(n).padStart(2)}. ${text}`);
  const send = async (tx: Promise<ContractTransactionResponse>) => {
    const receipt = await (await tx).wait();
    if (!receipt || receipt.status !== 1) throw new Error("transaction failed");
    return receipt;
  };
  const expectRefusal = async (action: string, attempt: () => Promise<unknown>) => {
    try {
      await attempt();
    } catch (err) {
      const data = findRevertData(err);
      const parsed = data ? batchToken.interface.parseError(data) : null;
      const name = parsed ? `${parsed.name}(${parsed.args.map(String).join(", ")})` : (err as Error).message.split("\n")[0];
      refused.push({ action, error: parsed?.name ?? name });
      log(`    refused as expected: ${name}`);
      return;
    }
    throw new Error(`${action} was accepted but must be refused`);
  };

  // 1. Mint
  const serials = Array.from({ length: units }, (_, i) => `SN${now.toString(36).toUpperCase()}${String(i).padStart(6, "0")}`);
  const tree = buildSerialTree(serials);
  const expiryDay = dayNumberOf(new Date(now * 1000)) + 730;
  const producerToken = batchToken.connect(actors.producer);
  const mintReceipt = await send(
    producerToken.mintBatch({
      gtin: BigInt(DEMO_GTIN),
      lot,
      expiryDay,
      quantity: BigInt(units),
      serialsRoot: tree.root,
      serialCount: units,
      documentHash: ethers.id(`certificate of analysis ${lot}`),
    }),
  );
  const batchId = await batchToken.batchIdOf(BigInt(DEMO_GTIN), lot);
  step(1, `${nameOf(actors.producer.address)} minted batch #${batchId}: GTIN ${DEMO_GTIN}, lot ${lot}, expiry ${isoDate(expiryDay)}, ${units} serialised units (root ${tree.root.slice(0, 10)}…, block ${mintReceipt.blockNumber})`);

  // 2–3. Producer → distributor → pharmacy
  const handover = async (n: number, from: Actor, to: Actor, quantity: number) => {
    const tx = await batchToken.connect(from).ship(batchId, quantity, to.address, ethers.id(`despatch advice ${lot} ${n}`));
    const receipt = await send(Promise.resolve(tx));
    const created = receipt.logs.map((l) => batchToken.interface.parseLog(l)).find((p) => p?.name === "ShipmentCreated")!;
    const { shipmentId, sender, receiver, isReturn } = created.args;
    step(n, `${nameOf(from.address)} shipped ${quantity} units to ${nameOf(to.address)} (shipment ${shipmentId})`);
    await send(batchToken.connect(to).acceptShipment(shipmentId, { batchId, sender, receiver, quantity, isReturn }));
    log(`    ${nameOf(to.address)} accepted shipment ${shipmentId}`);
  };
  await handover(2, actors.producer, actors.distributor, 400);
  await handover(3, actors.distributor, actors.pharmacy, 100);

  // 4. Dispense three units by serial
  const pharmacyToken = batchToken.connect(actors.pharmacy);
  const dispensed = [7, 8, 9].map((i) => serials[i]);
  for (const serial of dispensed) {
    const index = tree.indexOfSerial(serial)!;
    await send(pharmacyToken.dispense(batchId, index, serial, tree.proof(index)));
  }
  step(4, `${nameOf(actors.pharmacy.address)} dispensed 3 units by serial: ${dispensed.join(", ")}`);

  // 5. A forged serial: the proof of a real unit does not place a made-up serial in the batch.
  step(5, `a pack with forged serial FORGED-0001 is presented for dispensing`);
  await expectRefusal("dispense forged serial", () => pharmacyToken.dispense.staticCall(batchId, 10, "FORGED-0001", tree.proof(10)));

  // 6. The same serial a second time: a likely clone.
  step(6, `serial ${dispensed[0]} is presented a second time (a clone?)`);
  const again = tree.indexOfSerial(dispensed[0])!;
  await expectRefusal("dispense same serial twice", () => pharmacyToken.dispense.staticCall(batchId, again, dispensed[0], tree.proof(again)));

  // 7. Quarantine, then recall.
  const regulatorToken = batchToken.connect(actors.regulator);
  await send(regulatorToken.quarantine(batchId, ethers.id("suspected contamination report")));
  step(7, `${nameOf(actors.regulator.address)} quarantined the batch`);
  await send(regulatorToken.recall(batchId, ethers.id("contamination confirmed")));
  step(8, `${nameOf(actors.regulator.address)} recalled the batch (irreversible)`);

  // 9. Forward custody after the recall is refused.
  step(9, `${nameOf(actors.distributor.address)} tries to ship 50 more units to ${nameOf(actors.pharmacy.address)}`);
  await expectRefusal("ship after recall", () =>
    batchToken.connect(actors.distributor).ship.staticCall(batchId, 50, actors.pharmacy.address, ethers.id("late despatch")),
  );

  // 10. History from events alone.
  const events = await fetchLedgerEvents(provider, await batchToken.getAddress(), { fromBlock: mintReceipt.blockNumber, batchId });
  const history = events.map((e) => `block ${e.blockNumber}  ${describeEvent(e, nameOf)}  (tx ${e.txHash.slice(0, 10)}…#${e.logIndex})`);
  const state = replayBatch(batchId.toString(), events);
  log(`\nCustody history of batch #${batchId} rebuilt from ${events.length} events:`);
  for (const line of history) log(`  ${line}`);
  log(`\nHolders from events: ${[...state.holders].map(([a, q]) => `${nameOf(a)} ${q}`).join(", ")}; in transit ${inTransit(state)}; dispensed ${state.dispensed}; status ${state.status}`);
  log(`Conservation (minted = held + in transit + dispensed + written off): ${isConserved(state) ? "holds" : "BROKEN"}`);

  const balance = (a: Actor) => batchToken.balanceOf(a.address, batchId);
  return {
    batchId,
    gtin: DEMO_GTIN,
    lot,
    expiry: dayToGs1Date(expiryDay),
    balances: { producer: await balance(actors.producer), distributor: await balance(actors.distributor), pharmacy: await balance(actors.pharmacy) },
    dispensedSerials: dispensed,
    refused,
    status: Number((await batchToken.batch(batchId)).status),
    history,
    conserved: isConserved(state),
  };
}
