import type { EpcisContext, ShipmentFacts } from "../domain/epcis";
import type { DscsaContext } from "../dscsa";
import type { MasterDataSource } from "../domain/master-data";
import type { DocumentStore } from "./documents";
import { storableId, type IndexStore } from "./store";

/**
 * The EPCIS mapping's context over the read side's index (api/read/store.ts) and its documents
 * (documents.ts): every member of `EpcisContext` answered from stored facts, never from the events
 * being mapped, so one ledger event has one canonical EPCIS form whatever the export's window —
 * the export routes, the DSCSA file and the EPCIS binding's projection all map with it.
 *
 *  - batches: the batch row (GTIN, lot, expiry, producer, serial count, layout, mint time);
 *  - glnOf: the member register as the indexer cached it;
 *  - serialOf / ssccOf: the producers' uploaded serial and packing lists;
 *  - shipmentOf: the shipment's ShipmentCreated (open or settled: the `events` table by id);
 *  - openQuarantinesAfter: the batch's quarantine events up to (block, log);
 *  - bizTransactionsOf: the documents a shipment's referenceHash commits to (uploaded or captured);
 *  - masterData: product documents matching the product's on-chain hash, party documents per GLN;
 *  - prefixLengthOf: GTINs from their product's registered prefix; GLNs and SSCCs from the longest
 *    registered product prefix they fall under, else (GLNs) the length their member declared.
 */
export type ReadEpcisContext = Required<Omit<EpcisContext, "batches">> & { batches(batchId: string): ReturnType<Extract<EpcisContext["batches"], (id: string) => unknown>> } & DscsaContext;

export function epcisContextOf(store: IndexStore, docs: DocumentStore): ReadEpcisContext {
  const quarantineEvents = store.db.prepare(
    `SELECT name, args FROM events
     WHERE batch_id = ? AND name IN ('BatchQuarantined', 'BatchQuarantineLifted')
       AND (block_number < ? OR (block_number = ? AND log_index <= ?))
     ORDER BY block_number, log_index`,
  );
  const masterData: MasterDataSource = {
    product: (gtin) => docs.productMasterData(gtin),
    party: (gln) => docs.partyMasterData(gln),
  };
  /** Registered product prefixes (digits) with their length, longest first; rebuilt when the product count changes. */
  let prefixes: { count: number; list: string[] } = { count: -1, list: [] };
  const productPrefixes = (): string[] => {
    const products = store.products();
    if (products.length !== prefixes.count) {
      const set = new Set<string>();
      for (const p of products) {
        const len = Number(BigInt(p.prefixKey) >> 40n);
        if (len >= 6 && len <= 12) set.add(p.gtin.slice(1, 1 + len));
      }
      prefixes = { count: products.length, list: [...set].sort((a, b) => b.length - a.length) };
    }
    return prefixes.list;
  };
  const prefixLengthOf = (key: string): number | undefined => {
    if (/^\d{14}$/.test(key)) {
      const p = store.product(key);
      if (p) {
        const len = Number(BigInt(p.prefixKey) >> 40n);
        if (len >= 6 && len <= 12) return len;
      }
    }
    const body = key.length === 14 || key.length === 18 ? key.slice(1) : key;
    const hit = productPrefixes().find((p) => body.startsWith(p));
    if (hit) return hit.length;
    return key.length === 13 ? docs.partyPrefixLength(key) : undefined;
  };
  return {
    batches: (batchId) => {
      const b = store.batch(batchId);
      return (
        b && {
          gtin: b.gtin,
          lot: b.lot,
          expiryDay: b.expiryDay,
          producer: b.producer,
          serialCount: b.serialCount,
          unitsPerCase: b.unitsPerCase,
          casesPerPallet: b.casesPerPallet,
          mintedAt: b.mintedTime,
        }
      );
    },
    glnOf: (a) => store.member(a)?.gln ?? undefined,
    serialOf: (batchId, unitIndex) => store.serialOf(batchId, Number(unitIndex)),
    ssccOf: (batchId, kind, index) => store.ssccOf(batchId, Number(kind), Number(index)),
    shipmentOf: (shipmentId): ShipmentFacts | undefined => {
      const row = docs.shipmentCreated(shipmentId);
      if (!row) return undefined;
      const a = JSON.parse(String(row.args)) as Record<string, unknown>;
      return {
        kind: Number(a.kind),
        sender: String(a.sender),
        receiver: String(a.receiver),
        items: Array.isArray(a.items) ? (a.items as ShipmentFacts["items"]) : [],
        referenceHash: String(a.referenceHash),
        batchId: String(row.batch_id),
        quantity: String(a.quantity),
        shippedAt: Number(row.block_time),
      };
    },
    bizTransactionsOf: (hash) => docs.bizTransactions(hash),
    openQuarantinesAfter: (batchId, blockNumber, logIndex) => {
      const open = new Set<string>();
      const id = storableId(batchId);
      if (id === undefined) return [];
      for (const r of quarantineEvents.all(id, blockNumber, blockNumber, logIndex) as Array<{ name: string; args: string }>) {
        const j = String((JSON.parse(r.args) as { jurisdiction?: unknown }).jurisdiction);
        if (r.name === "BatchQuarantined") open.add(j);
        else open.delete(j);
      }
      return [...open].sort();
    },
    masterData,
    prefixLengthOf,
  };
}
