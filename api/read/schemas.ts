import { z } from "zod";
import { isAddress } from "ethers";
import { VERDICTS } from "./verification";

/** Payloads of the read side, one zod schema each, shared by routes, scripts and tests. */

export const batchIdParam = z.object({ batchId: z.string().regex(/^[1-9]\d{0,19}$/, "a batch id is a positive whole number").describe("Batch (token) id") });
export const addressParam = z.object({
  address: z.string().refine((v) => isAddress(v), "must be a 0x-prefixed 20-byte hex address").describe("Member address"),
});
const quantity = z.string().regex(/^\d+$/).describe("Units, decimal string (uint)");
const address = z.string().describe("Checksummed address");
const isoDay = z.string().describe("YYYY-MM-DD (UTC)");
const isoTime = z.string().describe("ISO 8601 UTC time");
export const batchStatus = z.enum(["Active", "Quarantined", "Recalled"]);

export const chainProof = z.object({
  blockNumber: z.number().int(),
  blockTime: isoTime,
  txHash: z.string(),
  logIndex: z.number().int(),
});

export const itemSchema = z.object({
  kind: z.enum(["Units", "Case", "Pallet"]),
  start: z.number().int(),
  count: z.number().int(),
  firstUnit: z.number().int().describe("first unit index the item covers"),
  endUnit: z.number().int().describe("unit index after the last one the item covers"),
  ssccs: z.array(z.string()).describe("the SSCCs of the cases or pallets named, where the packing list was uploaded"),
});

export const pendingSchema = z.object({
  shipmentId: z.string(),
  batchId: z.string(),
  sender: address,
  senderGln: z.string().nullable(),
  receiver: address,
  receiverGln: z.string().nullable(),
  quantity,
  kind: z.enum(["Forward", "Return"]),
  isReturn: z.boolean(),
  referenceHash: z.string(),
  items: z.array(itemSchema).describe("what the shipment carries (empty for a batch without serials)"),
  createdAt: chainProof,
});

export const holderSchema = z.object({
  holder: address,
  quantity,
  gln: z.string().nullable(),
  packs: quantity.describe("serialised packs held (held or locked; equals quantity for a serialised batch)"),
  sealedCases: z.number().int().describe("cases held unopened"),
  sealedPallets: z.number().int().describe("pallets held unopened"),
});

export const quarantineSchema = z.object({ jurisdiction: z.string(), regulator: address, since: chainProof });

export const layoutSchema = z.object({
  unitsPerCase: z.number().int(),
  casesPerPallet: z.number().int(),
  cases: z.number().int(),
  pallets: z.number().int(),
  packingRoot: z.string(),
  packingListUploaded: z.boolean(),
});

export const batchSchema = z.object({
  batchId: z.string(),
  gtin: z.string(),
  lot: z.string(),
  expiry: isoDay,
  expired: z.boolean(),
  quantity,
  producer: address,
  serialised: z.boolean(),
  serialCount: z.number().int(),
  serialsRoot: z.string(),
  serialListUploaded: z.boolean(),
  documentHash: z.string(),
  status: batchStatus,
  statusSince: isoTime.nullable(),
  quarantines: z.array(quarantineSchema).describe("the jurisdictions holding a quarantine, each with its regulator and since when"),
  markets: z.array(z.string()).describe("ISO 3166-1 codes the batch is marketed in"),
  productStatus: z.enum(["Active", "Withdrawn", "Unregistered"]),
  layout: layoutSchema,
  digitalLink: z.string(),
  minted: chainProof,
  holders: z.array(holderSchema),
  pending: z.array(pendingSchema),
  dispensed: z.number().int(),
});

export const packStateName = z.enum(["Held", "Unpacked", "InTransit", "Dispensed", "Destroyed", "Stolen", "Sample", "FreeSample", "Exported", "Locked", "None"]);

export const packSchema = z.object({
  batchId: z.string(),
  unitIndex: z.number().int(),
  serial: z.string().nullable().describe("the serial, when the producer uploaded the serial list"),
  state: packStateName,
  holder: address.nullable().describe("who holds it, sent it (InTransit) or set its state"),
  holderGln: z.string().nullable(),
  since: isoDay.nullable().describe("the day its state was set (dispensed, destroyed, stolen, sample, …)"),
  detached: z.boolean().describe("out of its case (it has a record of its own)"),
  case: z.number().int().nullable(),
  caseSscc: z.string().nullable(),
  pallet: z.number().int().nullable(),
  palletSscc: z.string().nullable(),
  pendingShipment: z.string().nullable().describe("the pending shipment carrying it, when in transit"),
});

export const containerSchema = z.object({
  batchId: z.string(),
  kind: z.enum(["Case", "Pallet"]),
  index: z.number().int(),
  sscc: z.string().nullable(),
  state: packStateName,
  holder: address.nullable(),
  holderGln: z.string().nullable(),
  sealed: z.boolean().describe("never opened (its packs move with it)"),
  firstUnit: z.number().int(),
  endUnit: z.number().int(),
  pallet: z.number().int().nullable(),
  pendingShipment: z.string().nullable(),
});

export const packHistoryEntrySchema = chainProof.extend({
  event: z.string(),
  description: z.string(),
  via: z.enum(["batch", "pallet", "case", "pack"]).describe("how the event reached the pack: the whole batch, its pallet, its case, or the pack itself"),
  state: packStateName.describe("the pack's state after the event"),
  holder: address.nullable().describe("who holds it (or sent it, or set its state) after the event"),
  holderGln: z.string().nullable(),
});

export const packHistorySchema = z.object({
  batchId: z.string(),
  unitIndex: z.number().int(),
  serial: z.string().nullable(),
  case: z.number().int().nullable(),
  pallet: z.number().int().nullable(),
  state: packStateName,
  holders: z.array(z.object({ holder: address, gln: z.string().nullable(), from: isoTime, to: isoTime.nullable() })).describe("every holder, with when it took the pack and when it passed it on"),
  entries: z.array(packHistoryEntrySchema),
});

export const shipmentsBySsccSchema = z.object({
  sscc: z.string(),
  batchId: z.string(),
  kind: z.enum(["Case", "Pallet"]),
  index: z.number().int(),
  container: containerSchema,
  shipments: z.array(pendingSchema).describe("pending shipments carrying this container (the receiver accepts one of them)"),
});

export const productSchema = z.object({
  gtin: z.string(),
  owner: address,
  ownerGln: z.string().nullable(),
  prefixKey: z.string(),
  status: z.enum(["Active", "Withdrawn"]),
  statusSince: isoTime,
  markets: z.array(z.string()),
  masterDataHash: z.string(),
  registered: chainProof,
});
export const productsSchema = z.object({ products: z.array(productSchema) });
export const gtinParam = z.object({ gtin: z.string().regex(/^\d{8,14}$/, "8 to 14 digits").describe("GTIN") });

export const alertSchema = z.object({
  id: z.number().int(),
  kind: z.enum(["undecodable", "unstorable", "anomaly"]),
  raisedAt: isoTime,
  blockNumber: z.number().int(),
  logIndex: z.number().int(),
  txHash: z.string(),
  event: z.string(),
  batchId: z.string(),
  message: z.string(),
});
export const alertsSchema = z.object({ total: z.number().int(), alerts: z.array(alertSchema) });
export const alertsQuery = z.object({
  after: z.coerce.number().int().min(0).default(0).describe("only alerts with a larger id"),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
});

export const unitParams = batchIdParam.extend({ unitIndex: z.string().regex(/^\d{1,10}$/, "a unit index is a whole number").describe("Unit index (0 … serialCount − 1)") });
export const containerParams = batchIdParam.extend({ index: z.string().regex(/^\d{1,10}$/, "an index is a whole number").describe("Case or pallet index") });
export const ssccParam = z.object({ sscc: z.string().regex(/^\d{18}$/, "an SSCC has 18 digits").describe("SSCC (AI 00)") });
export const ssccQuery = z.object({ sscc: z.string().regex(/^\d{18}$/, "an SSCC has 18 digits").describe("SSCC (AI 00), as scanned from a case or pallet label") });

export const historyEntrySchema = chainProof.extend({
  event: z.string().describe("Ledger event name, e.g. ShipmentCreated"),
  kind: z.enum(["custody", "status", "unit"]).describe("custody movement, regulator status change, or single-unit event"),
  description: z.string(),
  statusAfter: batchStatus,
  args: z.record(z.string(), z.unknown()),
});

export const historySchema = z.object({
  batchId: z.string(),
  gtin: z.string(),
  lot: z.string(),
  status: batchStatus,
  custody: z.array(historyEntrySchema).describe("Every event of the batch in chain order"),
  statusHistory: z.array(historyEntrySchema).describe("Regulator status changes only"),
});

export const holdingsSchema = z.object({
  address,
  role: z.string(),
  gln: z.string().nullable(),
  index: z.number().int().describe("the member's compact index (IConsortium member index)"),
  jurisdiction: z.string(),
  key: address.nullable().describe("the key that signs for this account now"),
  holdings: z.array(
    z.object({ batchId: z.string(), gtin: z.string(), lot: z.string(), status: batchStatus, quantity, packs: quantity, sealedCases: z.number().int(), sealedPallets: z.number().int() }),
  ),
  pendingIn: z.array(pendingSchema),
  pendingOut: z.array(pendingSchema),
});

export const alertHoldersSchema = z.object({
  batches: z.array(
    z.object({
      batchId: z.string(),
      gtin: z.string(),
      lot: z.string(),
      status: batchStatus,
      statusSince: isoTime.nullable(),
      holders: z.array(holderSchema),
      inTransit: z.array(pendingSchema),
    }),
  ),
});

export const verifyQuery = z.object({
  gtin: z.string().describe("GTIN-8/12/13/14 (padded to 14 digits)"),
  lot: z.string().describe("AI 10"),
  serial: z.string().describe("AI 21"),
  expiry: z.string().optional().describe("AI 17, YYMMDD (day 00 = month end)"),
});

export const scanQuery = z.object({
  code: z.string().min(1).max(2048).describe("A scan: DataMatrix element string (GS as ASCII 29, <GS> or \\x1d, optional ]d2), (01)…(17)…(10)…(21)… or a GS1 Digital Link URI"),
});

export const verificationSchema = z.object({
  verdict: z.enum(VERDICTS),
  headline: z.string(),
  advice: z.string(),
  product: z.object({ gtin: z.string(), lot: z.string(), serial: z.string(), expiry: isoDay.nullable(), digitalLink: z.string(), status: z.enum(["Active", "Withdrawn", "Unregistered"]) }),
  batch: z.object({ status: batchStatus, statusSince: isoDay.nullable(), expiry: isoDay, expired: z.boolean() }).nullable(),
  stateSince: isoDay.nullable().describe("the day the pack's own state (destroyed, stolen, sample, …) was recorded"),
  expiryChecked: z.boolean().describe("true when the printed expiry (AI 17) was compared with the batch's registered expiry"),
  expiryNote: z.string().nullable().describe("why the printed expiry was not compared (the code carried none), for the reader; null otherwise"),
  dispensedOn: isoDay.nullable(),
  proof: z.object({ unitIndex: z.number().int(), leaf: z.string(), root: z.string(), siblings: z.array(z.string()) }).nullable(),
  chain: z.object({
    block: z.number().int().describe("the last indexed block: the verdict is the ledger's state at this block"),
    method: z
      .enum(["index", "none"])
      .describe("index: BatchToken.verifyUnit's checks over the indexed ledger state (re-run verifyUnit with `proof` on any node to confirm); none: the serial list is not available, only the batch was checked"),
  }),
});

/** Documented only: the upload routes read the body raw and parse it in a worker (see uploads.ts). */
export const serialUploadBody = z.object({
  serials: z.array(z.string()).min(1).describe("The batch's serials in the order its serialsRoot was built from"),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, "a 65-byte signature in 0x hex").describe("EIP-191 personal_sign by the batch's producer of the upload message (see serialUploadMessage)"),
});
export const packingUploadBody = z.object({
  cases: z.array(z.string()).describe("SSCC of each case, by case index"),
  pallets: z.array(z.string()).describe("SSCC of each pallet, by pallet index"),
  signature: z.string().describe("EIP-191 personal_sign by the batch's producer of the packing upload message (see packingUploadMessage)"),
});
export const serialUploadResult = z.object({ batchId: z.string(), root: z.string(), count: z.number().int(), producer: address });

export const ledgerEventSchema = z.object({
  name: z.string(),
  batchId: z.string(),
  args: z.record(z.string(), z.unknown()),
  blockNumber: z.number().int(),
  blockTime: z.number().int(),
  txHash: z.string(),
  logIndex: z.number().int(),
});
export const eventsExportSchema = z.object({ count: z.number().int(), truncated: z.boolean(), events: z.array(ledgerEventSchema) });

export const windowQuery = z.object({
  from: z.iso.datetime({ offset: true }).describe("Start (inclusive), ISO 8601"),
  to: z.iso.datetime({ offset: true }).describe("End (exclusive), ISO 8601"),
  limit: z.coerce.number().int().min(1).max(100_000).default(10_000),
});

export const epcisDocumentSchema = z
  .object({
    "@context": z.array(z.unknown()),
    type: z.literal("EPCISDocument"),
    schemaVersion: z.literal("2.0"),
    creationDate: z.string(),
    epcisBody: z.object({ eventList: z.array(z.record(z.string(), z.unknown())) }),
  })
  .describe("EPCIS 2.0 JSON-LD document (validated against GS1's EPCIS JSON schema in the tests)");

export const auditSchema = z.object({
  ok: z.boolean(),
  atBlock: z.number().int(),
  batches: z.number().int(),
  events: z.number().int(),
  holdersChecked: z.number().int(),
  pendingChecked: z.number().int(),
  packsChecked: z.number().int(),
  listsChecked: z.number().int(),
  divergences: z.array(
    z.object({
      kind: z.string(),
      batchId: z.string(),
      holder: z.string().optional(),
      shipmentId: z.string().optional(),
      unit: z.number().int().optional(),
      fromEvents: z.string(),
      actual: z.string(),
      detail: z.string(),
    }),
  ),
});

export const indexStatusSchema = z.object({
  running: z.boolean(),
  indexedBlock: z.number().int(),
  headBlock: z.number().int(),
  events: z.number().int(),
  resets: z.number().int(),
  alerts: z.number().int().describe("events raised as alerts (GET /v1/index/alerts); indexing goes on past them"),
  lastError: z.string().optional().describe("the last chain read error (no URL: node URLs may carry keys)"),
});
