import { readKeyCheck } from "./read-keys";
import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ApiError, errorResponses } from "../errors";
import { productMasterDataSchema, partyMasterDataSchema } from "../domain/master-data";
import type { DocumentStore } from "./documents";

/**
 * Uploads of the documents the chain commits to (documents.ts): product master data (by the
 * product's owner), party master data (by the member), a shipment's business transactions (by its
 * sender or receiver). Each is signed (EIP-191) over the message the refusal's `details.message`
 * names, so an upload needs no API key; reads of master data are for members and auditors.
 */

export interface DocumentRouteOptions {
  documents: DocumentStore;
  apiKeys: string[];
  uploadRateLimitPerMinute: number;
}

const signature = z.string().describe("EIP-191 signature (0x, 65 bytes) over the upload message (documentUploadMessage: chain, BatchToken, subject, document hash)");
const uploadResult = z.object({ hash: z.string(), signer: z.string() }).passthrough();
const errors401 = { ...errorResponses, 401: errorResponses[400], 403: errorResponses[400] };

const documentRoutes: FastifyPluginAsyncZod<DocumentRouteOptions> = async (app, o) => {
  const requireKey = readKeyCheck(o.apiKeys, "this endpoint serves consortium data to members and auditors");
  const limited = { config: { rateLimit: { max: o.uploadRateLimitPerMinute, timeWindow: "1 minute" } } };

  app.put(
    "/v1/products/:gtin/master-data",
    {
      ...limited,
      schema: {
        tags: ["batches"],
        summary: "Upload a product's master data (name, strength, dosage form, pack size, NDC…): checked against its on-chain masterDataHash, signed by its owner",
        description:
          "Body: {document, signature}. The document must validate (api/domain/master-data.ts) and its canonical JSON must hash (keccak-256) to the product's masterDataHash on chain; the product's owner signs the upload message (in details.message of a refusal). EPCIS headers and DSCSA files then carry it.",
        params: z.strictObject({ gtin: z.string().regex(/^\d{14}$/, { message: "must be a GTIN-14" }) }),
        body: z.object({ document: z.unknown(), signature: signature.optional() }),
        response: { 201: uploadResult, ...errors401 },
      },
    },
    async (request, reply) => {
      const r = o.documents.putProductMasterData(request.params.gtin, request.body);
      return reply.code(201).send({ ...r, hash: r.masterDataHash });
    },
  );

  app.get(
    "/v1/products/:gtin/master-data",
    {
      onRequest: requireKey,
      schema: {
        tags: ["batches"],
        summary: "A product's master data, as uploaded and matching its on-chain hash",
        params: z.strictObject({ gtin: z.string().regex(/^\d{14}$/, { message: "must be a GTIN-14" }) }),
        response: { 200: productMasterDataSchema, ...errors401 },
      },
    },
    async (request) => {
      const doc = o.documents.productMasterData(request.params.gtin);
      if (!doc) throw new ApiError(404, "MASTER_DATA_NOT_FOUND", `no master data matching product ${request.params.gtin}'s on-chain hash was uploaded`, "its owner uploads it: PUT /v1/products/{gtin}/master-data");
      return doc;
    },
  );

  app.put(
    "/v1/members/:address/master-data",
    {
      ...limited,
      schema: {
        tags: ["batches"],
        summary: "Upload a member's party master data (name and address of its GLN), signed by the member",
        description:
          "Body: {document, companyPrefixLength?, signature}. The document names the member's register GLN; companyPrefixLength (6–12) is the GS1 Company Prefix length of that GLN, needed for SGLN/PGLN URNs when the GLN is under no registered product prefix. The member (its account or its current key) signs the upload message.",
        params: z.strictObject({ address: z.string().regex(/^0x[0-9a-fA-F]{40}$/, { message: "must be a 0x address" }) }),
        body: z.object({ document: z.unknown(), companyPrefixLength: z.unknown().optional(), signature: signature.optional() }),
        response: { 201: uploadResult, ...errors401 },
      },
    },
    async (request, reply) => reply.code(201).send(o.documents.putPartyMasterData(request.params.address, request.body)),
  );

  app.get(
    "/v1/parties/:gln/master-data",
    {
      onRequest: requireKey,
      schema: {
        tags: ["batches"],
        summary: "A party's master data by GLN (the member whose register GLN it is)",
        params: z.strictObject({ gln: z.string().regex(/^\d{13}$/, { message: "must be a 13-digit GLN" }) }),
        response: { 200: partyMasterDataSchema, ...errors401 },
      },
    },
    async (request) => {
      const doc = o.documents.partyMasterData(request.params.gln);
      if (!doc) throw new ApiError(404, "MASTER_DATA_NOT_FOUND", `no party master data for GLN ${request.params.gln}`, "the member uploads it: PUT /v1/members/{address}/master-data");
      return doc;
    },
  );

  app.put(
    "/v1/shipments/:shipmentId/documents",
    {
      ...limited,
      schema: {
        tags: ["batches"],
        summary: "Upload a shipment's business transactions (PO, invoice, despatch advice…): checked against its on-chain referenceHash, signed by its sender or receiver",
        description:
          "Body: {bizTransactions: [{type, id, issuer} | {type, gdti}], signature}. The list's canonical form (api/domain/biz-transactions.ts) must hash to the shipment's referenceHash; the sender or the receiver signs the upload message. EPCIS exports and DSCSA files then name the documents instead of the hash.",
        params: z.strictObject({ shipmentId: z.string().regex(/^[1-9]\d{0,77}$/, { message: "must be a shipment id" }) }),
        body: z.object({ bizTransactions: z.unknown(), signature: signature.optional() }),
        response: { 201: uploadResult, ...errors401 },
      },
    },
    async (request, reply) => {
      const r = o.documents.putBizTransactions(request.params.shipmentId, request.body);
      return reply.code(201).send({ ...r, hash: r.referenceHash });
    },
  );
};

export default documentRoutes;
