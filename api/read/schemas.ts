import { z } from "zod";
import { isAddress } from "ethers";
import { VERDICTS } from "./verification";

/** Payloads of the read side, one zod schema each, shared by routes, scripts and tests. */

// The index stores batch ids as SQLite 64-bit integers: a larger id cannot exist there, and binding
// one threw a RangeError (a 500 with an error-level stack trace) instead of a clear refusal.
export const batchIdParam = z.object({
  batchId: z
    .string()
    .regex(/^[1-9]\d{0,19}$/, "a batch id is a positive whole number")
    // zod runs refinements after a failed regex too: test the form again before BigInt.
    .refine((v) => !/^\d{1,20}$/.test(v) || BigInt(v) <= 9_223_372_036_854_775_807n, "a batch id is at most 9223372036854775807")
    .describe("Batch (token) id"),
});
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

export const pendingSchema = z.object({
  shipmentId: z.string(),
  batchId: z.string(),
  sender: address,
  receiver: address,
  quantity,
  isReturn: z.boolean(),
  referenceHash: z.string(),
  createdAt: chainProof,
});

export const holderSchema = z.object({ holder: address, quantity, gln: z.string().nullable() });

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
  digitalLink: z.string(),
  minted: chainProof,
  holders: z.array(holderSchema),
  pending: z.array(pendingSchema),
  dispensed: z.number().int(),
});

export const historyEntrySchema = chainProof.extend({
  event: z.string().describe("Ledger event name, e.g. ShipmentCreated"),
  kind: z.enum(["custody", "status", "unit"]).describe("custody movement, regulator status change, or single-unit event"),
  description: z.string(),
  statusAfter: batchStatus,
  args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
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
  holdings: z.array(z.object({ batchId: z.string(), gtin: z.string(), lot: z.string(), status: batchStatus, quantity })),
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
  product: z.object({ gtin: z.string(), lot: z.string(), serial: z.string(), expiry: isoDay.nullable(), digitalLink: z.string() }),
  batch: z.object({ status: batchStatus, statusSince: isoDay.nullable(), expiry: isoDay, expired: z.boolean() }).nullable(),
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

export const serialUploadBody = z.object({
  serials: z.array(z.string()).min(1).describe("The batch's serials in the order its serialsRoot was built from"),
  signature: z.string().regex(/^0x[0-9a-fA-F]{130}$/, "a 65-byte signature in 0x hex").describe("EIP-191 personal_sign by the batch's producer of the upload message (see serialUploadMessage)"),
});
export const serialUploadResult = z.object({ batchId: z.string(), root: z.string(), count: z.number().int(), producer: address });

export const ledgerEventSchema = z.object({
  name: z.string(),
  batchId: z.string(),
  args: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
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
  divergences: z.array(
    z.object({
      kind: z.string(),
      batchId: z.string(),
      holder: z.string().optional(),
      shipmentId: z.string().optional(),
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
  lastError: z.string().optional(),
});
