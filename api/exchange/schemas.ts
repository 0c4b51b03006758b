import { z } from "zod";
import { batchStatus } from "../read/schemas";
import { VRS_ADDITIONAL_INFO, VRS_CONTEXTS, VRS_FAILURE_REASONS } from "./vrs";

/** Payloads of the exchange layer (resolver, VRS), one zod schema each, shared by routes and tests. */

const linkTarget = z.object({ href: z.string(), title: z.string().optional(), type: z.string().optional(), hreflang: z.array(z.string()).optional() });

/** RFC 9264 linkset; relation types are GS1 web vocabulary IRIs (https://gs1.org/voc/…). */
export const linksetSchema = z
  .object({
    linkset: z.array(z.object({ anchor: z.string().describe("the Digital Link the links are about") }).catchall(z.array(linkTarget))),
  })
  .describe("application/linkset+json (RFC 9264)");

export const resolverDescriptionSchema = z.object({
  name: z.string(),
  resolverRoot: z.string(),
  supportedPrimaryKeys: z.array(z.string()),
  supportedLinkType: z.array(z.object({ namespace: z.string(), prefix: z.string() })),
  linkTypeDefaultCanBeLinkset: z.boolean(),
});

export const batchStatusQuery = z.object({
  gtin: z.string().describe("GTIN-8/12/13/14"),
  lot: z.string().describe("AI 10"),
});

export const batchStatusSchema = z.object({
  gtin: z.string(),
  lot: z.string(),
  digitalLink: z.string(),
  registered: z.boolean().describe("a manufacturer registered this GTIN and lot"),
  status: batchStatus.nullable().describe("Active, Quarantined (suspect, under investigation) or Recalled; null when not registered"),
  statusSince: z.string().nullable().describe("YYYY-MM-DD of the last status change"),
  expiry: z.string().nullable(),
  expired: z.boolean().nullable(),
  headline: z.string(),
  advice: z.string(),
  chain: z.object({ block: z.number().int() }),
});

export const resolverQuery = z
  .object({
    linkType: z.string().optional().describe("gs1:verificationService, gs1:recallStatus, gs1:defaultLink (or the IRI); all / linkset = the whole linkset"),
    "17": z.string().optional().describe("expiry YYMMDD"),
    "10": z.string().optional().describe("lot, when not in the path"),
    "21": z.string().optional().describe("serial, when not in the path"),
    context: z.string().optional(),
  })
  .catchall(z.string());

export const vrsParams = z.object({ gtin: z.string(), lot: z.string(), serial: z.string() });

/** Kept as strings here: the handler checks each with its own error code and hint. */
export const vrsQuery = z
  .object({
    exp: z.string().optional().describe("expiry YYMMDD as printed (required)"),
    linkType: z.string().optional().describe("verificationService (or gs1:verificationService); checkConnectivity to test the path (required)"),
    context: z.string().optional().describe(`why you verify (required): ${VRS_CONTEXTS.join(", ")}`),
    reqGLN: z.string().optional().describe("your GLN, the one your API key was issued for (required)"),
    corrUUID: z.string().optional().describe("your correlation id (UUID), echoed in the answer"),
  })
  .catchall(z.string());

export const vrsResponseSchema = z.object({
  verificationTimestamp: z.string().describe("ISO 8601 UTC"),
  responderGLN: z.string().nullable().describe("the GLN of the batch's manufacturer from the register (else VRS_RESPONDER_GLN)"),
  data: z.object({
    verified: z.boolean(),
    verificationFailureReason: z.enum(VRS_FAILURE_REASONS).optional(),
    additionalInfo: z.enum(VRS_ADDITIONAL_INFO).optional(),
  }),
  corrUUID: z.string().optional(),
});

export const vrsConnectivitySchema = z.object({
  verificationTimestamp: z.string(),
  responderGLN: z.string().nullable(),
  corrUUID: z.string().optional(),
});
