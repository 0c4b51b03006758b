import { z } from "zod";
import { REJECT_REASONS } from "../domain/ledger-enums";
import { checksum } from "./forward-request";

/** Wire schemas of the write side, shared by routes, the client helper and tests. Strict: unknown fields are refused. */

const UINT256_MAX = (1n << 256n) - 1n;
const UINT48_MAX = (1n << 48n) - 1n;

const uint = (max: bigint, what: string) =>
  z
    .string()
    .regex(/^(0|[1-9][0-9]{0,77})$/, { message: `must be a decimal integer string (${what})` })
    // zod 4 runs refinements after a failed regex too: guard before BigInt.
    .refine((v) => !/^[0-9]{1,78}$/.test(v) || BigInt(v) <= max, { message: `must be at most ${max} (${what})` });

export const addressSchema = z
  .string()
  .regex(/^0x[0-9a-fA-F]{40}$/, { message: "must be a 0x-prefixed 20-byte hex address" })
  .refine(
    (v) => {
      if (!/^0x[0-9a-fA-F]{40}$/.test(v)) return true; // the regex above already reported it
      const hex = v.slice(2);
      return hex === hex.toLowerCase() || hex === hex.toUpperCase() || checksum(hex.toLowerCase()) === v;
    },
    { message: "has a wrong EIP-55 checksum: send it all lower case or correctly checksummed" },
  );

export const hexBytesSchema = z.string().regex(/^0x([0-9a-fA-F]{2})*$/, { message: "must be 0x-prefixed hex with an even number of digits" });
export const bytes32Schema = z.string().regex(/^0x[0-9a-fA-F]{64}$/, { message: "must be 0x-prefixed 32-byte hex" });

export const signedRequestSchema = z
  .strictObject({
    from: addressSchema.describe("the member's address: the signer"),
    to: addressSchema.describe("target contract: the BatchToken or the Consortium"),
    value: uint(UINT256_MAX, "uint256").describe("wei sent with the call; always 0"),
    gas: uint(UINT256_MAX, "uint256").describe("gas the forwarder passes to the target"),
    nonce: uint(UINT256_MAX, "uint256").describe("the signer's forwarder nonce (GET /v1/nonces/{address})"),
    deadline: uint(UINT48_MAX, "uint48").describe("unix seconds after which the request is void"),
    data: hexBytesSchema
      .refine((v) => v.length >= 10, { message: "must hold at least a 4-byte function selector" })
      .describe("ABI-encoded call of an allowed function"),
    signature: z
      .string()
      .regex(/^0x[0-9a-fA-F]{130}$/, { message: "must be a 65-byte 0x-prefixed hex signature (r, s, v)" })
      .describe("EIP-712 signature of the ForwardRequest"),
  })
  .describe("An OpenZeppelin ERC2771Forwarder ForwardRequest with its signature; integers as decimal strings");

export const submitBodySchema = z.strictObject({
  request: signedRequestSchema,
  idempotencyKey: z
    .string()
    .regex(/^[A-Za-z0-9_.:-]{1,128}$/, { message: "must be 1–128 characters of A–Z a–z 0–9 _ . : -" })
    .optional()
    .describe("resubmitting with the same key returns the original request instead of a second one"),
  chainId: uint(UINT256_MAX, "chain id").optional().describe("chain id the request was signed for; checked when present"),
  forwarder: addressSchema.optional().describe("forwarder (EIP-712 verifyingContract) the request was signed for; checked when present"),
});
export type SubmitBody = z.infer<typeof submitBodySchema>;

export const requestStateSchema = z.enum(["queued", "submitted", "mined", "failed"]);

export const acceptedSchema = z.object({
  id: z.string().uuid(),
  state: requestStateSchema,
  signer: z.string(),
  nonce: z.string(),
  duplicate: z.boolean().describe("true when an earlier request with the same idempotency key is returned"),
  statusUrl: z.string(),
});

export const requestStatusSchema = z.object({
  id: z.string(),
  state: requestStateSchema,
  signer: z.string(),
  nonce: z.string(),
  target: z.string(),
  function: z.string(),
  custodial: z.boolean(),
  acceptedAt: z.string(),
  submittedAt: z.string().nullable(),
  finishedAt: z.string().nullable(),
  txHash: z.string().nullable(),
  blockNumber: z.number().nullable(),
  success: z.boolean().nullable().describe("the forwarder's success flag for this request, once executed"),
  error: z
    .object({ code: z.string(), name: z.string().nullable(), args: z.record(z.string(), z.string()).nullable(), message: z.string().nullable() })
    .nullable(),
});
export type RequestStatus = z.infer<typeof requestStatusSchema>;

export const idParamsSchema = z.strictObject({ id: z.string().uuid({ message: "must be a request id (UUID) returned by POST /v1/requests" }) });
export const addressParamsSchema = z.strictObject({ address: addressSchema });
export const statusQuerySchema = z.strictObject({
  wait: z.coerce
    .number({ message: "must be a number of seconds from 0 to 30" })
    .int({ message: "must be a whole number of seconds from 0 to 30" })
    .min(0, { message: "must be a number of seconds from 0 to 30" })
    .max(30, { message: "must be at most 30 seconds; ask again to wait longer" })
    .default(0)
    .describe("long-poll: answer at the request's next state change, or after this many seconds (0 = at once; a finished request answers at once)"),
});

export const nonceSchema = z.object({
  address: z.string(),
  chainNonce: z.string().describe("the forwarder's nonce on chain"),
  nextNonce: z.string().describe("the nonce to sign next: after the chain nonce and every request still queued at this relay"),
});

export const domainInfoSchema = z.object({
  domain: z.object({ name: z.string(), version: z.string(), chainId: z.string(), verifyingContract: z.string() }),
  types: z.record(z.string(), z.array(z.object({ name: z.string(), type: z.string() }))),
  contracts: z.object({ batchToken: z.string(), consortium: z.string(), forwarder: z.string() }),
  allowed: z.array(z.object({ contract: z.string(), function: z.string(), selector: z.string(), roles: z.array(z.string()) })),
  limits: z.object({ maxRequestGas: z.string(), nonceWindow: z.number(), minDeadlineSeconds: z.number() }),
});

// ── Custodial actions: plain JSON; the relay encodes and signs ──

const uintString = uint(UINT256_MAX, "uint256");
const UINT32_MAX = 2n ** 32n - 1n;
const itemSchema = z.strictObject({
  kind: z.enum(["units", "case", "pallet"]).describe("what the item names: consecutive packs (unit indexes), cases or pallets"),
  start: z.number().int().min(0).max(Number(UINT32_MAX)).describe("first unit index, case index or pallet index"),
  count: z.number().int().min(1).max(Number(UINT32_MAX)).default(1).describe("how many consecutive ones"),
});
export type ItemInput = z.infer<typeof itemSchema>;
const ITEM_KINDS = ["units", "case", "pallet"] as const;
const itemsSchema = z.array(itemSchema).max(256, { message: "at most 256 items per call; split larger moves" });
const toItems = (items: unknown) => ((items as ItemInput[] | undefined) ?? []).map((i) => ({ kind: ITEM_KINDS.indexOf(i.kind), start: i.start, count: i.count }));
const marketsSchema = z.array(z.string().regex(/^[A-Z]{2}$/, { message: "must be an ISO 3166-1 alpha-2 code such as DE" })).max(15);
const toMarkets = (m: unknown) => ((m as string[] | undefined) ?? []).map((c) => "0x" + Buffer.from(c, "utf8").toString("hex"));
const shipmentSchema = z.strictObject({
  batchId: uintString,
  sender: addressSchema,
  receiver: addressSchema,
  quantity: uintString,
  kind: z.enum(["Forward", "Return"]).describe("as recorded at shipping (ShipmentCreated)"),
  items: itemsSchema.default([]),
});
const toShipment = (b: Record<string, unknown>) => {
  const s = b.shipment as z.infer<typeof shipmentSchema>;
  return { batchId: BigInt(s.batchId), sender: s.sender, receiver: s.receiver, quantity: BigInt(s.quantity), kind: s.kind === "Return" ? 1 : 0, items: toItems(s.items) };
};
const ZERO32 = "0x" + "0".repeat(64);
/** IBatchToken.PackState values a holder may decommission to. */
const DECOMMISSION_STATES = { Destroyed: 5, Stolen: 6, Sample: 7, FreeSample: 8, Exported: 9 } as const;

/**
 * Custodial actions: what a member without a wallet sends as plain JSON. The relay encodes the
 * call, signs it with the member's key and submits it like any signed request. Items name packs
 * (unit indexes), cases or pallets by index; SSCCs resolve to indexes through the read side
 * (GET /v1/containers/{sscc}).
 */
export const custodialActions = {
  "register-product": {
    fn: "registerProduct",
    schema: z.strictObject({ gtin: z.string().regex(/^[0-9]{14}$/, { message: "must be a 14-digit GTIN" }), markets: marketsSchema.min(1), masterDataHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.gtin as string), toMarkets(b.markets), b.masterDataHash],
  },
  "update-product": {
    fn: "updateProduct",
    schema: z.strictObject({ gtin: z.string().regex(/^[0-9]{14}$/, { message: "must be a 14-digit GTIN" }), markets: marketsSchema.min(1), masterDataHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.gtin as string), toMarkets(b.markets), b.masterDataHash],
  },
  "product-status": {
    fn: "setProductStatus",
    schema: z.strictObject({ gtin: z.string().regex(/^[0-9]{14}$/, { message: "must be a 14-digit GTIN" }), status: z.enum(["Active", "Withdrawn"]), reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.gtin as string), b.status === "Withdrawn" ? 2 : 1, b.reasonHash],
  },
  mint: {
    fn: "mintBatch",
    schema: z.strictObject({
      gtin: z.string().regex(/^[0-9]{14}$/, { message: "must be a 14-digit GTIN" }),
      lot: z.string().min(1).max(20),
      expiryDay: z.number().int().min(0).max(2 ** 32 - 1).describe("days since 1970-01-01 (UTC)"),
      quantity: uintString,
      serialsRoot: bytes32Schema.optional(),
      serialCount: z.number().int().min(0).max(2 ** 32 - 1).optional(),
      documentHash: bytes32Schema,
      unitsPerCase: z.number().int().min(0).max(2 ** 32 - 1).optional(),
      casesPerPallet: z.number().int().min(0).max(2 ** 32 - 1).optional(),
      packingRoot: bytes32Schema.optional(),
      markets: marketsSchema.optional().describe("empty = the product's markets"),
    }),
    args: (b: Record<string, unknown>) => [
      {
        gtin: BigInt(b.gtin as string),
        lot: b.lot,
        expiryDay: b.expiryDay,
        quantity: BigInt(b.quantity as string),
        serialsRoot: b.serialsRoot ?? ZERO32,
        serialCount: b.serialCount ?? 0,
        documentHash: b.documentHash,
        unitsPerCase: b.unitsPerCase ?? 0,
        casesPerPallet: b.casesPerPallet ?? 0,
        packingRoot: b.packingRoot ?? ZERO32,
        markets: toMarkets(b.markets),
      },
    ],
  },
  ship: {
    fn: "ship",
    schema: z.strictObject({
      batchId: uintString,
      receiver: addressSchema,
      quantity: uintString.describe("packs the items cover (a batch without serials: the quantity, and no items)"),
      items: itemsSchema.default([]),
      referenceHash: bytes32Schema.optional(),
    }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), b.receiver, BigInt(b.quantity as string), toItems(b.items), b.referenceHash ?? ZERO32],
  },
  accept: {
    fn: "acceptShipment",
    schema: z.strictObject({ shipmentId: uintString, shipment: shipmentSchema }),
    args: (b: Record<string, unknown>) => [BigInt(b.shipmentId as string), toShipment(b)],
  },
  reject: {
    fn: "rejectShipment",
    schema: z.strictObject({ shipmentId: uintString, shipment: shipmentSchema, reason: z.enum(REJECT_REASONS) }),
    args: (b: Record<string, unknown>) => [BigInt(b.shipmentId as string), toShipment(b), REJECT_REASONS.indexOf(b.reason as (typeof REJECT_REASONS)[number])],
  },
  cancel: {
    fn: "cancelShipment",
    schema: z.strictObject({ shipmentId: uintString, shipment: shipmentSchema }),
    args: (b: Record<string, unknown>) => [BigInt(b.shipmentId as string), toShipment(b)],
  },
  unpack: {
    fn: "unpack",
    schema: z.strictObject({ batchId: uintString, containers: itemsSchema.min(1) }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), toItems(b.containers)],
  },
  decommission: {
    fn: "decommission",
    schema: z.strictObject({ batchId: uintString, items: itemsSchema.min(1), state: z.enum(["Destroyed", "Stolen", "Sample", "FreeSample", "Exported"]), evidenceHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), toItems(b.items), DECOMMISSION_STATES[b.state as keyof typeof DECOMMISSION_STATES], b.evidenceHash],
  },
  "revert-decommission": {
    fn: "revertDecommission",
    schema: z.strictObject({ batchId: uintString, items: itemsSchema.min(1), reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), toItems(b.items), b.reasonHash],
  },
  lock: {
    fn: "lock",
    schema: z.strictObject({ batchId: uintString, items: itemsSchema.min(1), reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), toItems(b.items), b.reasonHash],
  },
  unlock: {
    fn: "unlock",
    schema: z.strictObject({ batchId: uintString, holder: addressSchema, items: itemsSchema.min(1), reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), b.holder, toItems(b.items), b.reasonHash],
  },
  "write-off": {
    fn: "writeOff",
    schema: z.strictObject({ batchId: uintString, quantity: uintString, reason: z.enum(["Destroyed", "Stolen"]), evidenceHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), BigInt(b.quantity as string), b.reason === "Destroyed" ? 0 : 1, b.evidenceHash],
  },
  dispense: {
    fn: "dispense",
    schema: z.strictObject({ batchId: uintString, unitIndex: uintString, serial: z.string().min(1).max(20), proof: z.array(bytes32Schema).max(64) }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), BigInt(b.unitIndex as string), b.serial, b.proof],
  },
  "undo-dispense": {
    fn: "undoDispense",
    schema: z.strictObject({ batchId: uintString, unitIndex: uintString, reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), BigInt(b.unitIndex as string), b.reasonHash],
  },
  quarantine: {
    fn: "quarantine",
    schema: z.strictObject({ batchId: uintString, reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), b.reasonHash],
  },
  "lift-quarantine": {
    fn: "liftQuarantine",
    schema: z.strictObject({ batchId: uintString, reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), b.reasonHash],
  },
  recall: {
    fn: "recall",
    schema: z.strictObject({ batchId: uintString, reasonHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), b.reasonHash],
  },
  "safety-notice": {
    fn: "safetyNotice",
    schema: z.strictObject({ batchId: uintString, noticeHash: bytes32Schema }),
    args: (b: Record<string, unknown>) => [BigInt(b.batchId as string), b.noticeHash],
  },
} as const;
export type CustodialAction = keyof typeof custodialActions;

/** secp256k1 group order n: a private key is an integer in [1, n − 1]. */
const SECP256K1_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

export const enrolBodySchema = z.strictObject({
  label: z.string().min(1).max(100).describe("who this is, for operators"),
  privateKey: bytes32Schema
    // zod runs refinements after a failed regex too: test the form again before BigInt.
    .refine((k) => !/^0x[0-9a-fA-F]{64}$/.test(k) || (BigInt(k) > 0n && BigInt(k) < SECP256K1_ORDER), { message: "must be a secp256k1 private key: not zero and below the curve order" })
    .optional()
    .describe("import this member key; omitted = generate one (admit its address through governance)"),
});
export const enrolResponseSchema = z.object({
  member: z.string(),
  keyId: z.string().describe("the API key's id, for listing and revoking it"),
  apiKey: z.string().describe("shown once; the relay stores only a salted hash"),
  keystore: z.string().describe("file name of the encrypted keystore under DATA_DIR/custodial"),
});

export const issueKeyBodySchema = z.strictObject({
  label: z.string().min(1).max(100).describe("what this key is for, e.g. the system or site that uses it"),
});
export const issuedKeySchema = z.object({
  member: z.string(),
  keyId: z.string(),
  apiKey: z.string().describe("shown once; the relay stores only a salted hash"),
});
export const apiKeyInfoSchema = z.object({
  keyId: z.string(),
  member: z.string(),
  label: z.string(),
  createdAt: z.string(),
  revokedAt: z.string().nullable().describe("null while the key works"),
});
export const apiKeyListSchema = z.object({ member: z.string(), keys: z.array(apiKeyInfoSchema) });
export const keyIdParamsSchema = z.strictObject({ keyId: z.string().regex(/^[0-9a-f]{16}$/, { message: "must be a key id: the 16 hex digits after mtk_ in the API key" }) });
