import { task } from "hardhat/config";

/*
 * Batch, custody, status and verification tasks for members and auditors. Bodies load their
 * helpers lazily so that `hardhat compile` works before typechain types exist.
 */

import { BATCH_STATUS_NAMES, REJECT_REASONS, UNIT_VERDICTS as VERDICTS } from "../../api/domain/ledger-enums";
import { common } from "./load";

task("batch:mint", "Mints a batch to a producer from a serial list (JSON array or CSV, one serial per unit)")
  .addParam("gtin", "GTIN-8/12/13/14 with check digit")
  .addParam("lot", "Batch/lot number (1–20 characters of GS1 set 82)")
  .addParam("expiry", "Expiry date, YYMMDD (AI 17) or YYYY-MM-DD")
  .addParam("serials", "Path of the serial list (.json or .csv)")
  .addOptionalParam("document", "Certificate of analysis reference (text, hashed) or 0x hash")
  .addOptionalParam("as", "Producer to mint as", "producer")
  .setAction(async (args: { gtin: string; lot: string; expiry: string; serials: string; document?: string; as: string }, hre) => {
    const c = await common(hre);
    const { buildSerialTree } = await import("../../api/domain/merkle");
    const { UserError } = await import("../lib/errors");
    return c.taskBody(async () => {
      const sys = await c.system(hre);
      const gtin = c.parseGtin(args.gtin);
      const expiryDay = c.parseExpiry(args.expiry);
      const serials = c.readSerialFile(args.serials);
      let tree;
      try {
        tree = buildSerialTree(serials);
      } catch (err) {
        throw new UserError("BAD_SERIALS", (err as Error).message, `fix ${args.serials}`);
      }
      const producer = await c.actor(hre, args.as);
      await c.requireMember(sys, producer.address, [1]);
      const receipt = await (
        await sys.batchToken.connect(producer).mintBatch({
          gtin,
          lot: args.lot,
          expiryDay,
          quantity: BigInt(tree.count),
          serialsRoot: tree.root,
          serialCount: tree.count,
          documentHash: c.bytes32Of(args.document),
        })
      ).wait();
      const id = await sys.batchToken.batchIdOf(gtin, args.lot);
      console.log(`batch ${id} minted: GTIN ${gtin.toString().padStart(14, "0")}, lot ${args.lot}, ${tree.count} units, serial root ${tree.root} (block ${receipt!.blockNumber})`);
      return id;
    });
  });

task("custody:ship", "Ships units of a batch to another member (they stay pending until accepted)")
  .addOptionalParam("batch", "Batch id")
  .addOptionalParam("gtin", "GTIN (with --lot, instead of --batch)")
  .addOptionalParam("lot", "Lot (with --gtin)")
  .addParam("quantity", "Units to ship")
  .addParam("to", "Receiver: address or demo name (distributor, pharmacy, …)")
  .addOptionalParam("reference", "Despatch advice reference (text, hashed) or 0x hash")
  .addOptionalParam("as", "Sender", "producer")
  .setAction(async (args: { batch?: string; gtin?: string; lot?: string; quantity: string; to: string; reference?: string; as: string }, hre) => {
    const c = await common(hre);
    return c.taskBody(async () => {
      const sys = await c.system(hre);
      const batchId = await c.resolveBatch(sys, args);
      const quantity = c.parsePositive("quantity", args.quantity);
      const sender = await c.actor(hre, args.as);
      const to = await c.addressOf(hre, args.to);
      await c.requireMember(sys, sender.address, [1, 2, 3]);
      await c.requireMember(sys, to, [1, 2, 3]);
      const receipt = await (await sys.batchToken.connect(sender).ship(batchId, quantity, to, c.bytes32Of(args.reference))).wait();
      const created = receipt!.logs.map((l) => sys.batchToken.interface.parseLog(l)).find((p) => p?.name === "ShipmentCreated")!;
      console.log(`shipment ${created.args.shipmentId}: ${quantity} units of batch ${batchId} from ${sender.address} to ${to}${created.args.isReturn ? " (return)" : ""}; pending until the receiver accepts`);
      return created.args.shipmentId as bigint;
    });
  });

async function pendingShipment(hre: import("hardhat/types").HardhatRuntimeEnvironment, shipmentArg: string) {
  const c = await common(hre);
  const { UserError } = await import("../lib/errors");
  const { fetchLedgerEvents } = await import("../../api/chain/logs");
  const sys = await c.system(hre);
  const id = c.parsePositive("shipment", shipmentArg);
  const events = await fetchLedgerEvents(hre.ethers.provider, sys.addresses.batchToken);
  const created = events.find((e) => e.name === "ShipmentCreated" && e.args.shipmentId === id.toString());
  if (!created) throw new UserError("UNKNOWN_SHIPMENT", `no shipment ${id} (${await sys.batchToken.shipmentCount()} shipments so far)`, "check the id printed by custody:ship");
  const a = created.args;
  const shipment = { batchId: BigInt(created.batchId), sender: String(a.sender), receiver: String(a.receiver), quantity: BigInt(String(a.quantity)), isReturn: Boolean(a.isReturn) };
  if (!(await sys.batchToken.isPendingShipment(id, shipment))) {
    const closed = events.find((e) => e.name !== "ShipmentCreated" && e.args.shipmentId === id.toString());
    throw new UserError("SHIPMENT_CLOSED", `shipment ${id} is no longer pending (${closed?.name ?? "closed"} in block ${closed?.blockNumber})`, "nothing to do");
  }
  return { sys, id, shipment };
}

for (const [name, description, fn] of [
  ["custody:accept", "Accepts a pending shipment as its receiver", "accept"],
  ["custody:reject", "Rejects a pending shipment as its receiver (units return to the sender)", "reject"],
  ["custody:cancel", "Cancels a pending shipment as its sender", "cancel"],
] as const) {
  const t = task(name, description)
    .addParam("shipment", "Shipment id")
    .addOptionalParam("as", fn === "cancel" ? "Sender" : "Receiver (default: the shipment's own receiver/sender if its key is configured)");
  if (fn === "reject") t.addOptionalParam("reason", `One of ${REJECT_REASONS.join(", ")}`, "Unspecified");
  t.setAction(async (args: { shipment: string; as?: string; reason?: string }, hre) => {
    const c = await common(hre);
    const { UserError } = await import("../lib/errors");
    return c.taskBody(async () => {
      const { sys, id, shipment } = await pendingShipment(hre, args.shipment);
      const who = await c.actor(hre, args.as ?? (fn === "cancel" ? shipment.sender : shipment.receiver));
      const token = sys.batchToken.connect(who);
      if (fn === "accept") await (await token.acceptShipment(id, shipment)).wait();
      if (fn === "cancel") await (await token.cancelShipment(id, shipment)).wait();
      if (fn === "reject") {
        const reason = (REJECT_REASONS as readonly string[]).indexOf(args.reason ?? "Unspecified");
        if (reason < 0) throw new UserError("BAD_REASON", `reason "${args.reason}" is not one of ${REJECT_REASONS.join(", ")}`, "pick one");
        await (await token.rejectShipment(id, shipment, reason)).wait();
      }
      console.log(`shipment ${id} ${fn === "accept" ? "accepted" : fn === "reject" ? "rejected" : "cancelled"} by ${who.address}`);
    });
  });
}

for (const [name, description, fn] of [
  ["status:quarantine", "Quarantines a suspect batch (regulator)", "quarantine"],
  ["status:lift", "Lifts a quarantine (regulator)", "liftQuarantine"],
  ["status:recall", "Recalls a batch, irreversibly (regulator)", "recall"],
] as const) {
  task(name, description)
    .addOptionalParam("batch", "Batch id")
    .addOptionalParam("gtin", "GTIN (with --lot)")
    .addOptionalParam("lot", "Lot (with --gtin)")
    .addParam("reason", "Reason (text, hashed) or 0x hash of the decision document")
    .addOptionalParam("as", "Regulator", "regulator")
    .setAction(async (args: { batch?: string; gtin?: string; lot?: string; reason: string; as: string }, hre) => {
      const c = await common(hre);
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const batchId = await c.resolveBatch(sys, args);
        const regulator = await c.actor(hre, args.as);
        await c.requireMember(sys, regulator.address, [4]);
        await (await sys.batchToken.connect(regulator)[fn](batchId, c.bytes32Of(args.reason))).wait();
        const status = BATCH_STATUS_NAMES[Number((await sys.batchToken.batch(batchId)).status)];
        console.log(`batch ${batchId} is now ${status}`);
        return status;
      });
    });
}

task("unit:verify", "Verifies one pack against the chain: genuine, dispensed, recalled, quarantined, expired, unknown…")
  .addOptionalParam("scan", "The pack's GS1 code: DataMatrix element string, (01)…(17)…(10)…(21)… or a Digital Link URI")
  .addOptionalParam("gtin", "GTIN (instead of --scan)")
  .addOptionalParam("lot", "Lot (instead of --scan)")
  .addOptionalParam("serial", "Serial (instead of --scan)")
  .addOptionalParam("expiry", "Expiry YYMMDD or YYYY-MM-DD (instead of --scan)")
  .addParam("serials", "The batch's serial list (.json or .csv) to build the unit's Merkle proof from")
  .setAction(async (args: { scan?: string; gtin?: string; lot?: string; serial?: string; expiry?: string; serials: string }, hre) => {
    const c = await common(hre);
    const { parseGs1 } = await import("../../api/domain/gs1-scan");
    const { buildSerialTree } = await import("../../api/domain/merkle");
    const { UserError } = await import("../lib/errors");
    return c.taskBody(async () => {
      const sys = await c.system(hre);
      let gtin: bigint, lot: string, serial: string, expiryDay: number;
      if (args.scan) {
        let scan;
        try {
          scan = parseGs1(args.scan);
        } catch (err) {
          throw new UserError((err as { code?: string }).code ?? "BAD_SCAN", (err as Error).message, "rescan the pack");
        }
        if (!scan.lot || !scan.serial || !scan.expiry) throw new UserError("INCOMPLETE_SCAN", "the code lacks (10) lot, (21) serial or (17) expiry", "scan the pack's 2D code, not the linear barcode");
        [gtin, lot, serial, expiryDay] = [BigInt(scan.gtin), scan.lot, scan.serial, scan.expiry.day];
      } else {
        if (!args.gtin || !args.lot || !args.serial || !args.expiry) throw new UserError("MISSING_FIELDS", "give --scan, or all of --gtin --lot --serial --expiry", "e.g. --scan '(01)09506000134352(17)281125(10)LOT(21)SN1'");
        [gtin, lot, serial, expiryDay] = [c.parseGtin(args.gtin), args.lot, args.serial, c.parseExpiry(args.expiry)];
      }
      const tree = buildSerialTree(c.readSerialFile(args.serials));
      const found = tree.proofOfSerial(serial);
      const verdict = Number(await sys.batchToken.verifyUnit(gtin, lot, serial, expiryDay, found?.index ?? 0, found?.proof ?? []));
      console.log(`${VERDICTS[verdict]}: GTIN ${gtin.toString().padStart(14, "0")}, lot ${lot}, serial ${serial}${found ? ` (unit ${found.index})` : " (not in the given serial list)"}`);
      return VERDICTS[verdict];
    });
  });

task("batch:history", "Prints a batch's custody and status history from events alone, with the conservation check")
  .addOptionalParam("batch", "Batch id")
  .addOptionalParam("gtin", "GTIN (with --lot)")
  .addOptionalParam("lot", "Lot (with --gtin)")
  .setAction(async (args: { batch?: string; gtin?: string; lot?: string }, hre) => {
    const c = await common(hre);
    const { fetchLedgerEvents } = await import("../../api/chain/logs");
    const { describeEvent, replayBatch, inTransit, isConserved } = await import("../../api/domain/custody");
    return c.taskBody(async () => {
      const sys = await c.system(hre);
      const batchId = await c.resolveBatch(sys, args);
      const events = await fetchLedgerEvents(hre.ethers.provider, sys.addresses.batchToken, { batchId });
      for (const e of events) {
        console.log(`${new Date(e.blockTime * 1000).toISOString()}  block ${e.blockNumber}  ${describeEvent(e)}  tx ${e.txHash}#${e.logIndex}`);
      }
      const state = replayBatch(batchId.toString(), events);
      console.log(`status ${state.status}; holders ${[...state.holders].map(([a, q]) => `${a} ${q}`).join(", ") || "none"}; in transit ${inTransit(state)}; dispensed ${state.dispensed}; destroyed ${state.destroyed}; stolen ${state.stolen}; conservation ${isConserved(state) ? "holds" : "BROKEN"}`);
      return { events, state };
    });
  });
