import fs from "node:fs";
import { task } from "hardhat/config";

/*
 * Product, batch, custody, status and verification tasks for members and auditors. Bodies load
 * their helpers lazily so that `hardhat compile` works before typechain types exist.
 */

import {
  BATCH_STATUS_NAMES,
  REJECT_REASONS,
  UNIT_VERDICTS as VERDICTS,
} from "../../api/domain/ledger-enums";
import { common } from "./load";

type Hre = import("hardhat/types").HardhatRuntimeEnvironment;

task(
  "product:register",
  "Registers a product (GTIN) under the caller's company prefix, with its markets and the hash of its master data",
)
  .addParam(
    "gtin",
    "GTIN-8/12/13/14 with check digit, under one of the producer's company prefixes",
  )
  .addParam("markets", "Where it is marketed: ISO 3166-1 codes, e.g. DE,FR")
  .addParam(
    "masterData",
    "The master data document (JSON: gtin, name, strength, dosage form, pack size, NDC, national codes); the keccak-256 of its canonical JSON is registered",
  )
  .addOptionalParam("as", "Brand owner (producer)", "producer")
  .setAction(
    async (
      args: { gtin: string; markets: string; masterData: string; as: string },
      hre,
    ) => {
      const c = await common(hre);
      const { UserError } = await import("../lib/errors");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const gtin = c.parseGtin(args.gtin);
        const markets = c.parseMarkets(args.markets);
        if (!fs.existsSync(args.masterData))
          throw new UserError(
            "NO_FILE",
            `master data file ${args.masterData} does not exist`,
            "give the product's master data as a JSON file",
          );
        const { productMasterDataSchema, productMasterDataHash } = await import("../../api/domain/master-data");
        let doc: unknown;
        try {
          doc = JSON.parse(fs.readFileSync(args.masterData, "utf8"));
        } catch (err) {
          throw new UserError("BAD_MASTER_DATA", `${args.masterData} is not JSON: ${(err as Error).message}`, "give the master data as a JSON object");
        }
        const parsed = productMasterDataSchema.safeParse(doc);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new UserError("BAD_MASTER_DATA", `${args.masterData}: ${issue.path.join(".") || "document"} ${issue.message}`, "see productMasterDataSchema in api/domain/master-data.ts for the fields");
        }
        const gtin14 = gtin.toString().padStart(14, "0");
        if (parsed.data.gtin !== gtin14) {
          throw new UserError("MASTER_DATA_GTIN", `${args.masterData} describes GTIN ${parsed.data.gtin}, not ${gtin14}`, "register the product the document describes, or fix its gtin");
        }
        const hash = productMasterDataHash(parsed.data);
        const owner = await c.actor(hre, args.as);
        await c.requireMember(sys, owner.address, [1]);
        await (
          await sys.batchToken
            .connect(owner)
            .registerProduct(gtin, c.marketBytes(markets), hash)
        ).wait();
        console.log(
          `product ${gtin.toString().padStart(14, "0")} registered by ${owner.address} for ${markets.join(", ")} (master data ${hash})`,
        );
      });
    },
  );

task(
  "product:status",
  "Withdraws a product from the market, or reinstates it (brand owner)",
)
  .addParam("gtin", "GTIN")
  .addParam("status", "Withdrawn or Active")
  .addParam("reason", "Reason (text, hashed) or 0x hash")
  .addOptionalParam("as", "Brand owner", "producer")
  .setAction(
    async (
      args: { gtin: string; status: string; reason: string; as: string },
      hre,
    ) => {
      const c = await common(hre);
      const { UserError } = await import("../lib/errors");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const status = ["Active", "Withdrawn"].indexOf(args.status) + 1;
        if (status === 0)
          throw new UserError(
            "BAD_STATUS",
            `--status "${args.status}" is not Withdrawn or Active`,
            "e.g. --status Withdrawn",
          );
        const owner = await c.actor(hre, args.as);
        await (
          await sys.batchToken
            .connect(owner)
            .setProductStatus(
              c.parseGtin(args.gtin),
              status,
              c.bytes32Of(args.reason),
            )
        ).wait();
        console.log(`product ${args.gtin} is now ${args.status}`);
      });
    },
  );

task(
  "batch:mint",
  "Mints a batch from a serial list (JSON array or CSV, one serial per pack), optionally packed in cases and pallets with SSCCs",
)
  .addParam(
    "gtin",
    "GTIN-8/12/13/14 with check digit (a registered product of the producer, or one it is licensed for)",
  )
  .addParam("lot", "Batch/lot number (1–20 characters of GS1 set 82)")
  .addParam("expiry", "Expiry date, YYMMDD (AI 17) or YYYY-MM-DD")
  .addParam("serials", "Path of the serial list (.json or .csv)")
  .addOptionalParam(
    "document",
    "Certificate of analysis reference (text, hashed) or 0x hash",
  )
  .addOptionalParam("unitsPerCase", "Packs per case (0 = no cases)", "0")
  .addOptionalParam("casesPerPallet", "Cases per pallet (0 = no pallets)", "0")
  .addOptionalParam(
    "ssccPrefix",
    "GS1 Company Prefix of the SSCCs (default: the GTIN's first 7 digits after the indicator)",
  )
  .addOptionalParam("firstSscc", "Serial reference of the first SSCC", "1")
  .addOptionalParam(
    "packingOut",
    "Where to write the packing list (SSCC of each case and pallet)",
    "",
  )
  .addOptionalParam(
    "markets",
    "Markets of the batch, a subset of the product's (default: the product's), e.g. DE",
  )
  .addOptionalParam("as", "Producer to mint as", "producer")
  .setAction(
    async (
      args: {
        gtin: string;
        lot: string;
        expiry: string;
        serials: string;
        document?: string;
        unitsPerCase: string;
        casesPerPallet: string;
        ssccPrefix?: string;
        firstSscc: string;
        packingOut: string;
        markets?: string;
        as: string;
      },
      hre,
    ) => {
      const c = await common(hre);
      const { buildSerialTree } = await import("../../api/domain/merkle");
      const { assignSsccs, packingValues, PACKING_TREE_TYPES } =
        await import("../../api/domain/packing");
      const { StandardMerkleTree } = await import("@openzeppelin/merkle-tree");
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
          throw new UserError(
            "BAD_SERIALS",
            (err as Error).message,
            `fix ${args.serials}`,
          );
        }
        const unitsPerCase = Number(args.unitsPerCase);
        const casesPerPallet = Number(args.casesPerPallet);
        if (
          !Number.isInteger(unitsPerCase) ||
          unitsPerCase < 0 ||
          !Number.isInteger(casesPerPallet) ||
          casesPerPallet < 0 ||
          (casesPerPallet > 0 && unitsPerCase === 0)
        ) {
          throw new UserError(
            "BAD_PACKING",
            "--units-per-case and --cases-per-pallet are whole numbers; pallets need cases",
            "e.g. --units-per-case 50 --cases-per-pallet 5",
          );
        }
        const layout = { units: tree.count, unitsPerCase, casesPerPallet };
        const packing =
          unitsPerCase > 0
            ? assignSsccs(
                layout,
                args.ssccPrefix ??
                  gtin.toString().padStart(14, "0").slice(1, 8),
                Number(args.firstSscc),
              )
            : undefined;
        const packingRoot = packing
          ? StandardMerkleTree.of(packingValues(packing), [
              ...PACKING_TREE_TYPES,
            ]).root
          : hre.ethers.ZeroHash;
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
            unitsPerCase,
            casesPerPallet,
            packingRoot,
            markets: c.marketBytes(c.parseMarkets(args.markets)),
          })
        ).wait();
        const id = await sys.batchToken.batchIdOf(gtin, args.lot);
        if (packing && args.packingOut)
          fs.writeFileSync(
            args.packingOut,
            JSON.stringify({ batchId: id.toString(), ...packing }, null, 2),
          );
        console.log(
          `batch ${id} minted: GTIN ${gtin.toString().padStart(14, "0")}, lot ${args.lot}, ${tree.count} packs${packing ? ` in ${packing.cases.length} cases and ${packing.pallets.length} pallets (packing root ${packingRoot}${args.packingOut ? `, SSCCs in ${args.packingOut}` : ""})` : ""}, serial root ${tree.root} (block ${receipt!.blockNumber})`,
        );
        return id;
      });
    },
  );

task(
  "custody:ship",
  "Ships packs, cases or pallets of a batch (or a quantity of a batch without serials) to another member; pending until accepted",
)
  .addOptionalParam("batch", "Batch id")
  .addOptionalParam("gtin", "GTIN (with --lot, instead of --batch)")
  .addOptionalParam("lot", "Lot (with --gtin)")
  .addOptionalParam(
    "items",
    "What to ship: pack:7, packs:10-19, case:3, cases:3-5, pallet:0, sscc:<18 digits>, comma-separated",
  )
  .addOptionalParam("packing", "Packing list file (to name containers by SSCC)")
  .addOptionalParam("quantity", "Units to ship (batches without serials)")
  .addParam("to", "Receiver: address or demo name (distributor, pharmacy, …)")
  .addOptionalParam(
    "reference",
    "Despatch advice reference (text, hashed) or 0x hash",
  )
  .addOptionalParam("as", "Sender", "producer")
  .setAction(
    async (
      args: {
        batch?: string;
        gtin?: string;
        lot?: string;
        items?: string;
        packing?: string;
        quantity?: string;
        to: string;
        reference?: string;
        as: string;
      },
      hre,
    ) => {
      const c = await common(hre);
      const { itemUnits } = await import("../../api/domain/packing");
      const { UserError } = await import("../lib/errors");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const batchId = await c.resolveBatch(sys, args);
        const b = await sys.batchToken.batch(batchId);
        const layout = {
          units: Number(b.serialCount),
          unitsPerCase: Number(b.unitsPerCase),
          casesPerPallet: Number(b.casesPerPallet),
        };
        let items: { kind: number; start: number; count: number }[] = [];
        let quantity: bigint;
        if (layout.units > 0) {
          if (!args.items)
            throw new UserError(
              "ITEMS_REQUIRED",
              `batch ${batchId} is serialised: name what to ship`,
              "e.g. --items pallet:0 or --items packs:10-19",
            );
          items = c.parseItems(
            args.items,
            args.packing ? c.readPackingFile(args.packing) : undefined,
          );
          quantity = BigInt(
            items.reduce((n, i) => n + itemUnits(layout, i), 0),
          );
        } else {
          if (!args.quantity || args.items)
            throw new UserError(
              "QUANTITY_REQUIRED",
              `batch ${batchId} has no serials: give --quantity and no items`,
              "e.g. --quantity 10",
            );
          quantity = c.parsePositive("quantity", args.quantity);
        }
        const sender = await c.actor(hre, args.as);
        const to = await c.addressOf(hre, args.to);
        await c.requireMember(sys, sender.address, [1, 2, 3]);
        await c.requireMember(sys, to, [1, 2, 3]);
        const receipt = await (
          await sys.batchToken
            .connect(sender)
            .ship(batchId, to, quantity, items, c.bytes32Of(args.reference))
        ).wait();
        const created = receipt!.logs
          .map((l) => sys.batchToken.interface.parseLog(l))
          .find((p) => p?.name === "ShipmentCreated")!;
        console.log(
          `shipment ${created.args.shipmentId}: ${quantity} units of batch ${batchId} from ${sender.address} to ${to}${Number(created.args.kind) === 1 ? " (return)" : ""}; pending until the receiver accepts`,
        );
        return created.args.shipmentId as bigint;
      });
    },
  );

async function pendingShipment(hre: Hre, shipmentArg: string) {
  const c = await common(hre);
  const { UserError } = await import("../lib/errors");
  const { fetchLedgerEvents } = await import("../../api/chain/logs");
  const { itemsOf } = await import("../../api/domain/ledger-events");
  const sys = await c.system(hre);
  const id = c.parsePositive("shipment", shipmentArg);
  const events = await fetchLedgerEvents(
    hre.ethers.provider,
    sys.addresses.batchToken,
  );
  const created = events.find(
    (e) => e.name === "ShipmentCreated" && e.args.shipmentId === id.toString(),
  );
  if (!created)
    throw new UserError(
      "UNKNOWN_SHIPMENT",
      `no shipment ${id} (${await sys.batchToken.shipmentCount()} shipments so far)`,
      "check the id printed by custody:ship",
    );
  const a = created.args;
  const shipment = {
    batchId: BigInt(created.batchId),
    sender: String(a.sender),
    receiver: String(a.receiver),
    quantity: BigInt(String(a.quantity)),
    kind: Number(a.kind),
    items: itemsOf(created),
  };
  if (!(await sys.batchToken.isPendingShipment(id, shipment))) {
    const closed = events.find(
      (e) =>
        e.name !== "ShipmentCreated" && e.args.shipmentId === id.toString(),
    );
    throw new UserError(
      "SHIPMENT_CLOSED",
      `shipment ${id} is no longer pending (${closed?.name ?? "closed"} in block ${closed?.blockNumber})`,
      "nothing to do",
    );
  }
  return { sys, id, shipment };
}

for (const [name, description, fn] of [
  ["custody:accept", "Accepts a pending shipment as its receiver", "accept"],
  [
    "custody:reject",
    "Rejects a pending shipment as its receiver (packs return to the sender)",
    "reject",
  ],
  ["custody:cancel", "Cancels a pending shipment as its sender", "cancel"],
] as const) {
  const t = task(name, description)
    .addParam("shipment", "Shipment id")
    .addOptionalParam(
      "as",
      fn === "cancel"
        ? "Sender"
        : "Receiver (default: the shipment's own receiver/sender if its key is configured)",
    );
  if (fn === "reject")
    t.addOptionalParam(
      "reason",
      `One of ${REJECT_REASONS.join(", ")}`,
      "Unspecified",
    );
  t.setAction(
    async (args: { shipment: string; as?: string; reason?: string }, hre) => {
      const c = await common(hre);
      const { UserError } = await import("../lib/errors");
      return c.taskBody(async () => {
        const { sys, id, shipment } = await pendingShipment(hre, args.shipment);
        const who = await c.actor(
          hre,
          args.as ?? (fn === "cancel" ? shipment.sender : shipment.receiver),
        );
        const token = sys.batchToken.connect(who);
        if (fn === "accept")
          await (await token.acceptShipment(id, shipment)).wait();
        if (fn === "cancel")
          await (await token.cancelShipment(id, shipment)).wait();
        if (fn === "reject") {
          const reason = (REJECT_REASONS as readonly string[]).indexOf(
            args.reason ?? "Unspecified",
          );
          if (reason < 0)
            throw new UserError(
              "BAD_REASON",
              `reason "${args.reason}" is not one of ${REJECT_REASONS.join(", ")}`,
              "pick one",
            );
          await (await token.rejectShipment(id, shipment, reason)).wait();
        }
        console.log(
          `shipment ${id} ${fn === "accept" ? "accepted" : fn === "reject" ? "rejected" : "cancelled"} by ${who.address}`,
        );
      });
    },
  );
}

/** Tasks that act on items of a serialised batch the caller holds. */
for (const [name, description, fn, defaultAs] of [
  [
    "custody:unpack",
    "Opens cases or pallets the caller holds sealed (their packs stay with it)",
    "unpack",
    "distributor",
  ],
  [
    "custody:decommission",
    "Takes packs out of circulation: Destroyed, Stolen, Sample, FreeSample or Exported",
    "decommission",
    "distributor",
  ],
  [
    "custody:revert",
    "Puts packs the caller decommissioned as Sample, FreeSample or Exported back (within the undo window)",
    "revertDecommission",
    "distributor",
  ],
  [
    "custody:lock",
    "Holds packs for the caller's own investigation (they stay in its custody and balance)",
    "lock",
    "distributor",
  ],
  [
    "custody:unlock",
    "Releases packs locked by --holder (by the holder, or a regulator of one of the batch's markets)",
    "unlock",
    "distributor",
  ],
] as const) {
  const t = task(name, description)
    .addOptionalParam("batch", "Batch id")
    .addOptionalParam("gtin", "GTIN (with --lot)")
    .addOptionalParam("lot", "Lot (with --gtin)")
    .addParam(
      "items",
      "pack:7, packs:10-19, case:3, cases:3-5, pallet:0 or sscc:<18 digits>, comma-separated",
    )
    .addOptionalParam(
      "packing",
      "Packing list file (to name containers by SSCC)",
    )
    .addOptionalParam(
      "reason",
      "Evidence or reason (text, hashed) or 0x hash",
      "",
    )
    .addOptionalParam("as", "Acting member", defaultAs);
  if (fn === "decommission")
    t.addParam("state", "Destroyed, Stolen, Sample, FreeSample or Exported");
  if (fn === "unlock")
    t.addOptionalParam("holder", "The member that locked them (default: --as)");
  t.setAction(
    async (
      args: {
        batch?: string;
        gtin?: string;
        lot?: string;
        items: string;
        packing?: string;
        reason: string;
        as: string;
        state?: string;
        holder?: string;
      },
      hre,
    ) => {
      const c = await common(hre);
      const { UserError } = await import("../lib/errors");
      const { PACK_STATE_NAMES } = await import("../../api/domain/pack-ledger");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const batchId = await c.resolveBatch(sys, args);
        const items = c.parseItems(
          args.items,
          args.packing ? c.readPackingFile(args.packing) : undefined,
        );
        const who = await c.actor(hre, args.as);
        const token = sys.batchToken.connect(who);
        const reason = c.bytes32Of(
          args.reason || `${fn} ${new Date().toISOString()}`,
        );
        if (fn === "unpack") await (await token.unpack(batchId, items)).wait();
        if (fn === "revertDecommission")
          await (await token.revertDecommission(batchId, items, reason)).wait();
        if (fn === "lock")
          await (await token.lock(batchId, items, reason)).wait();
        if (fn === "unlock")
          await (
            await token.unlock(
              batchId,
              await c.addressOf(hre, args.holder ?? args.as),
              items,
              reason,
            )
          ).wait();
        if (fn === "decommission") {
          const state = (PACK_STATE_NAMES as readonly string[]).indexOf(
            args.state ?? "",
          );
          if (
            ![
              "Destroyed",
              "Stolen",
              "Sample",
              "FreeSample",
              "Exported",
            ].includes(args.state ?? "")
          ) {
            throw new UserError(
              "BAD_STATE",
              `--state "${args.state}" is not Destroyed, Stolen, Sample, FreeSample or Exported`,
              "pick one",
            );
          }
          await (
            await token.decommission(batchId, items, state, reason)
          ).wait();
        }
        console.log(
          `${name.slice("custody:".length)}: ${args.items} of batch ${batchId} by ${who.address}`,
        );
      });
    },
  );
}

task(
  "custody:write-off",
  "Writes off units of a batch without serials (destroyed or stolen)",
)
  .addOptionalParam("batch", "Batch id")
  .addOptionalParam("gtin", "GTIN (with --lot)")
  .addOptionalParam("lot", "Lot (with --gtin)")
  .addParam("quantity", "Units")
  .addParam("reason", "Destroyed or Stolen")
  .addOptionalParam("evidence", "Evidence (text, hashed) or 0x hash", "")
  .addOptionalParam("as", "Holder", "distributor")
  .setAction(
    async (
      args: {
        batch?: string;
        gtin?: string;
        lot?: string;
        quantity: string;
        reason: string;
        evidence: string;
        as: string;
      },
      hre,
    ) => {
      const c = await common(hre);
      const { UserError } = await import("../lib/errors");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const batchId = await c.resolveBatch(sys, args);
        const reason = ["Destroyed", "Stolen"].indexOf(args.reason);
        if (reason < 0)
          throw new UserError(
            "BAD_REASON",
            `--reason "${args.reason}" is not Destroyed or Stolen`,
            "pick one; serialised batches use custody:decommission",
          );
        const who = await c.actor(hre, args.as);
        await (
          await sys.batchToken
            .connect(who)
            .writeOff(
              batchId,
              c.parsePositive("quantity", args.quantity),
              reason,
              c.bytes32Of(args.evidence || "write-off"),
            )
        ).wait();
        console.log(
          `${args.quantity} units of batch ${batchId} written off as ${args.reason} by ${who.address}`,
        );
      });
    },
  );

/** The (GTIN, lot, serial, expiry) of a pack from --scan or the separate fields. */
async function packOf(
  hre: Hre,
  args: {
    scan?: string;
    gtin?: string;
    lot?: string;
    serial?: string;
    expiry?: string;
  },
) {
  const c = await common(hre);
  const { parseGs1 } = await import("../../api/domain/gs1-scan");
  const { UserError } = await import("../lib/errors");
  if (args.scan) {
    let scan;
    try {
      scan = parseGs1(args.scan);
    } catch (err) {
      throw new UserError(
        (err as { code?: string }).code ?? "BAD_SCAN",
        (err as Error).message,
        "rescan the pack",
      );
    }
    if (!scan.lot || !scan.serial || !scan.expiry)
      throw new UserError(
        "INCOMPLETE_SCAN",
        "the code lacks (10) lot, (21) serial or (17) expiry",
        "scan the pack's 2D code, not the linear barcode",
      );
    return {
      gtin: BigInt(scan.gtin),
      lot: scan.lot,
      serial: scan.serial,
      expiryDay: scan.expiry.day,
    };
  }
  if (!args.gtin || !args.lot || !args.serial || !args.expiry)
    throw new UserError(
      "MISSING_FIELDS",
      "give --scan, or all of --gtin --lot --serial --expiry",
      "e.g. --scan '(01)09506000134352(17)281125(10)LOT(21)SN1'",
    );
  return {
    gtin: c.parseGtin(args.gtin),
    lot: args.lot,
    serial: args.serial,
    expiryDay: c.parseExpiry(args.expiry),
  };
}

for (const [name, description, fn] of [
  [
    "custody:dispense",
    "Dispenses one pack the pharmacy holds, by its scan and the batch's serial list (the proof)",
    "dispense",
  ],
  [
    "custody:undo-dispense",
    "Undoes a dispense by the same pharmacy within the undo window",
    "undoDispense",
  ],
] as const) {
  task(name, description)
    .addOptionalParam("scan", "The pack's GS1 code")
    .addOptionalParam("gtin", "GTIN (instead of --scan)")
    .addOptionalParam("lot", "Lot (instead of --scan)")
    .addOptionalParam("serial", "Serial (instead of --scan)")
    .addOptionalParam(
      "expiry",
      "Expiry YYMMDD or YYYY-MM-DD (instead of --scan)",
    )
    .addParam("serials", "The batch's serial list (.json or .csv)")
    .addOptionalParam(
      "reason",
      "Why (undo): text, hashed, or 0x hash",
      "returned unopened",
    )
    .addOptionalParam("as", "Pharmacy", "pharmacy")
    .setAction(
      async (
        args: {
          scan?: string;
          gtin?: string;
          lot?: string;
          serial?: string;
          expiry?: string;
          serials: string;
          reason: string;
          as: string;
        },
        hre,
      ) => {
        const c = await common(hre);
        const { buildSerialTree } = await import("../../api/domain/merkle");
        const { UserError } = await import("../lib/errors");
        return c.taskBody(async () => {
          const sys = await c.system(hre);
          const pack = await packOf(hre, args);
          const batchId = await sys.batchToken.batchIdOf(pack.gtin, pack.lot);
          if (batchId === 0n)
            throw new UserError(
              "UNKNOWN_BATCH",
              `no batch with GTIN ${pack.gtin} and lot "${pack.lot}"`,
              "check the scan",
            );
          const found = buildSerialTree(
            c.readSerialFile(args.serials),
          ).proofOfSerial(pack.serial);
          if (!found)
            throw new UserError(
              "NOT_IN_LIST",
              `serial ${pack.serial} is not in ${args.serials}`,
              "give the batch's serial list",
            );
          const pharmacy = await c.actor(hre, args.as);
          const token = sys.batchToken.connect(pharmacy);
          if (fn === "dispense")
            await (
              await token.dispense(
                batchId,
                found.index,
                pack.serial,
                found.proof,
              )
            ).wait();
          else
            await (
              await token.undoDispense(
                batchId,
                found.index,
                c.bytes32Of(args.reason),
              )
            ).wait();
          console.log(
            `${fn === "dispense" ? "dispensed" : "dispense undone"}: serial ${pack.serial} (pack ${found.index} of batch ${batchId}) by ${pharmacy.address}`,
          );
        });
      },
    );
}

for (const [name, description, fn, defaultAs] of [
  [
    "status:quarantine",
    "Quarantines a suspect batch for the regulator's jurisdiction (a market of the batch)",
    "quarantine",
    "regulator",
  ],
  [
    "status:lift",
    "Lifts the regulator's jurisdiction's quarantine",
    "liftQuarantine",
    "regulator",
  ],
  [
    "status:recall",
    "Recalls a batch (a regulator of its markets, its producer or its product's owner); final but for governance",
    "recall",
    "regulator",
  ],
  [
    "status:notice",
    "Records a safety notice on a batch (any regulator)",
    "safetyNotice",
    "regulator",
  ],
] as const) {
  task(name, description)
    .addOptionalParam("batch", "Batch id")
    .addOptionalParam("gtin", "GTIN (with --lot)")
    .addOptionalParam("lot", "Lot (with --gtin)")
    .addParam(
      "reason",
      "Reason (text, hashed) or 0x hash of the decision document",
    )
    .addOptionalParam(
      "as",
      "Regulator (or, for a recall, the producer)",
      defaultAs,
    )
    .setAction(
      async (
        args: {
          batch?: string;
          gtin?: string;
          lot?: string;
          reason: string;
          as: string;
        },
        hre,
      ) => {
        const c = await common(hre);
        return c.taskBody(async () => {
          const sys = await c.system(hre);
          const batchId = await c.resolveBatch(sys, args);
          const who = await c.actor(hre, args.as);
          await c.requireMember(
            sys,
            who.address,
            fn === "recall" ? [1, 4] : [4],
          );
          await (
            await sys.batchToken
              .connect(who)
              [fn](batchId, c.bytes32Of(args.reason))
          ).wait();
          const status =
            BATCH_STATUS_NAMES[
              Number((await sys.batchToken.batch(batchId)).status)
            ];
          console.log(`batch ${batchId} is now ${status}`);
          return status;
        });
      },
    );
}

task(
  "unit:verify",
  "Verifies one pack against the chain: genuine, dispensed, recalled, stolen, in transit, withdrawn…",
)
  .addOptionalParam(
    "scan",
    "The pack's GS1 code: DataMatrix element string, (01)…(17)…(10)…(21)… or a Digital Link URI",
  )
  .addOptionalParam("gtin", "GTIN (instead of --scan)")
  .addOptionalParam("lot", "Lot (instead of --scan)")
  .addOptionalParam("serial", "Serial (instead of --scan)")
  .addOptionalParam("expiry", "Expiry YYMMDD or YYYY-MM-DD (instead of --scan)")
  .addParam(
    "serials",
    "The batch's serial list (.json or .csv) to build the pack's Merkle proof from",
  )
  .setAction(
    async (
      args: {
        scan?: string;
        gtin?: string;
        lot?: string;
        serial?: string;
        expiry?: string;
        serials: string;
      },
      hre,
    ) => {
      const c = await common(hre);
      const { buildSerialTree } = await import("../../api/domain/merkle");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const { gtin, lot, serial, expiryDay } = await packOf(hre, args);
        const tree = buildSerialTree(c.readSerialFile(args.serials));
        const found = tree.proofOfSerial(serial);
        const verdict = Number(
          await sys.batchToken.verifyUnit(
            gtin,
            lot,
            serial,
            expiryDay,
            found?.index ?? 0,
            found?.proof ?? [],
          ),
        );
        console.log(
          `${VERDICTS[verdict]}: GTIN ${gtin.toString().padStart(14, "0")}, lot ${lot}, serial ${serial}${found ? ` (pack ${found.index})` : " (not in the given serial list)"}`,
        );
        return VERDICTS[verdict];
      });
    },
  );

task(
  "batch:history",
  "Prints a batch's custody and status history from events alone, with the conservation check",
)
  .addOptionalParam("batch", "Batch id")
  .addOptionalParam("gtin", "GTIN (with --lot)")
  .addOptionalParam("lot", "Lot (with --gtin)")
  .setAction(
    async (args: { batch?: string; gtin?: string; lot?: string }, hre) => {
      const c = await common(hre);
      const { fetchLedgerEvents } = await import("../../api/chain/logs");
      const { describeEvent, replayBatch, inTransit, isConserved } =
        await import("../../api/domain/custody");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const batchId = await c.resolveBatch(sys, args);
        const events = await fetchLedgerEvents(
          hre.ethers.provider,
          sys.addresses.batchToken,
          { batchId },
        );
        for (const e of events) {
          console.log(
            `${new Date(e.blockTime * 1000).toISOString()}  block ${e.blockNumber}  ${describeEvent(e)}  tx ${e.txHash}#${e.logIndex}`,
          );
        }
        const state = replayBatch(batchId.toString(), events);
        const out = state.decommissioned;
        console.log(
          `status ${state.status}; holders ${[...state.holders].map(([a, q]) => `${a} ${q}`).join(", ") || "none"}; in transit ${inTransit(state)}; dispensed ${state.dispensed}; destroyed ${out.Destroyed + state.destroyed}; stolen ${out.Stolen + state.stolen}; samples ${out.Sample + out.FreeSample}; exported ${out.Exported}; conservation ${isConserved(state) ? "holds" : "BROKEN"}`,
        );
        return { events, state };
      });
    },
  );

task(
  "pack:history",
  "Prints one pack's history from events alone: its holders with times, its case and pallet, each state change",
)
  .addOptionalParam("batch", "Batch id")
  .addOptionalParam("gtin", "GTIN (with --lot)")
  .addOptionalParam("lot", "Lot (with --gtin)")
  .addParam("unit", "The pack's unit index (its place in the serial list)")
  .setAction(
    async (
      args: { batch?: string; gtin?: string; lot?: string; unit: string },
      hre,
    ) => {
      const c = await common(hre);
      const { fetchLedgerEvents } = await import("../../api/chain/logs");
      const { describeEvent, packEvents, replayBatch } =
        await import("../../api/domain/custody");
      const { UserError } = await import("../lib/errors");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const batchId = await c.resolveBatch(sys, args);
        const events = await fetchLedgerEvents(
          hre.ethers.provider,
          sys.addresses.batchToken,
          { batchId },
        );
        const state = replayBatch(batchId.toString(), events);
        if (!state.packs)
          throw new UserError(
            "NOT_SERIALISED",
            `batch ${batchId} has no serials: its units have no history of their own`,
            "use batch:history",
          );
        const unit = Number(args.unit);
        if (
          !Number.isInteger(unit) ||
          unit < 0 ||
          unit >= state.packs.layout.units
        )
          throw new UserError(
            "BAD_UNIT",
            `--unit ${args.unit} is not a pack of batch ${batchId} (0 … ${state.packs.layout.units - 1})`,
            "give the pack's index in the serial list",
          );
        const now = state.packs.unit(unit);
        for (const e of packEvents(events, state.packs.layout, unit))
          console.log(
            `${new Date(e.blockTime * 1000).toISOString()}  block ${e.blockNumber}  ${describeEvent(e)}  tx ${e.txHash}#${e.logIndex}`,
          );
        console.log(
          `pack ${unit}: ${now.state}${now.holder ? ` with ${now.holder}` : ""}${now.case !== undefined ? `; case ${now.case}` : ""}${now.pallet !== undefined ? `, pallet ${now.pallet}` : ""}${now.detached ? " (out of its case)" : ""}`,
        );
        return now;
      });
    },
  );
