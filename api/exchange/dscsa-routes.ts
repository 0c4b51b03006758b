import { readKeyCheck } from "../read/read-keys";
import { z } from "zod";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ApiError, errorResponses } from "../errors";
import { EpcisMappingError, type LedgerEvent, type LedgerEventName } from "../domain/epcis";
import { DscsaError, dscsaShipmentFromEvent, toDscsaShipmentXml } from "../dscsa";
import type { DocumentStore } from "../read/documents";
import type { ReadEpcisContext } from "../read/epcis-context";

/**
 * `GET /v1/shipments/{shipmentId}/dscsa.xml`: the DSCSA Transaction Information and Transaction
 * Statement of a shipment as EPCIS 1.2 XML with SBDH (api/dscsa), built with the read side's EPCIS
 * context (api/read/epcis-context.ts: batch facts, serials, SSCCs, master data, business
 * documents, prefix lengths). What the file cannot say is a 422 naming every missing fact with its
 * stable code (`DSCSA_*`, `EPCIS_*`), never a 500. For members and auditors (READ_API_KEYS).
 */

export interface DscsaRouteOptions {
  documents: DocumentStore;
  epcisContext: ReadEpcisContext;
  apiKeys: string[];
}

export const dscsaProblemSchema = z.object({ code: z.string(), message: z.string(), hint: z.string() });

const dscsaRoutes: FastifyPluginAsyncZod<DscsaRouteOptions> = async (app, o) => {
  const requireKey = readKeyCheck(o.apiKeys, "DSCSA files carry commercial data for consortium members and auditors");

  app.get(
    "/v1/shipments/:shipmentId/dscsa.xml",
    {
      onRequest: requireKey,
      schema: {
        tags: ["batches"],
        summary: "A shipment's DSCSA Transaction Information and Statement: EPCIS 1.2 XML with SBDH (GS1 US Healthcare guideline)",
        description:
          "For a forward shipment to a US trading partner. Needs the batch's serial (and packing) list, the product's master data with NDC, both parties' master data and GLN prefix lengths; the shipment's business transactions when uploaded. Anything missing is a 422 whose details.problems lists every DSCSA_* code with a hint. `partyIdentifier=pgln` writes parties as PGLN instead of SGLN.",
        params: z.strictObject({ shipmentId: z.string().regex(/^[1-9]\d{0,77}$/, { message: "must be a shipment id (decimal)" }) }),
        querystring: z.strictObject({ partyIdentifier: z.enum(["sgln", "pgln"]).default("sgln") }),
        produces: ["application/xml"],
        response: { 200: z.string().describe("application/xml: EPCIS 1.2 document with SBDH"), ...errorResponses, 401: errorResponses[400] },
      },
    },
    async (request, reply) => {
      const { shipmentId } = request.params;
      const row = o.documents.shipmentCreated(shipmentId);
      if (!row) throw new ApiError(404, "SHIPMENT_NOT_FOUND", `no shipment ${shipmentId} in the index`, "check the shipment id, or wait for the index to reach its block (GET /v1/index/status)");
      const event: LedgerEvent = {
        name: String(row.name) as LedgerEventName,
        batchId: String(row.batch_id),
        args: JSON.parse(String(row.args)) as LedgerEvent["args"],
        blockNumber: Number(row.block_number),
        blockTime: Number(row.block_time),
        txHash: String(row.tx_hash),
        logIndex: Number(row.log_index),
      };
      let xml: string;
      try {
        // Created at the shipment's time: the same shipment gives the same bytes (the SBDH id is derived too).
        xml = toDscsaShipmentXml(dscsaShipmentFromEvent(event), o.epcisContext, { creationDate: new Date(event.blockTime * 1000), partyIdentifier: request.query.partyIdentifier });
      } catch (err) {
        if (err instanceof DscsaError) {
          const first = err.problems[0]!;
          throw new ApiError(422, first.code, err.problems.map((p) => p.message).join("; "), first.hint, { problems: err.problems });
        }
        if (err instanceof EpcisMappingError) throw new ApiError(422, err.code, err.message, "the ledger event cannot be expressed in EPCIS yet; export it as JSON (GET /v1/batches/{id}/events)");
        throw err;
      }
      return reply.type("application/xml; charset=utf-8").serializer((x: unknown) => x as string).send(xml);
    },
  );
};

export default dscsaRoutes;
