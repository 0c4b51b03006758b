import { readKeyCheck } from "./read-keys";
import { ROLE_NAMES } from "../domain/ledger-enums";
import { ITEM_KIND, caseCount, palletCount, unitRange, type Item } from "../domain/packing";
import { PACK_STATE_NAMES } from "../domain/pack-ledger";
import { redactUrls } from "./chain-reader";
import type { Uploader } from "./uploads";
import { getAddress } from "ethers";
import { z } from "zod";
import type { FastifyReply, FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { describeEvent } from "../domain/custody";
import { EpcisMappingError, toCsv, toEpcisDocument, type EpcisContext } from "../domain/epcis";
import { isoDate } from "../domain/gs1";
import { Gs1ScanError, parseGs1, toDigitalLink } from "../domain/gs1-scan";
import { itemsOf, type LedgerEvent } from "../domain/ledger-events";
import { ApiError, errorResponses } from "../errors";
import { auditLedger } from "./audit";
import type { Indexer } from "./indexer";
import * as S from "./schemas";
import { layoutOf, unitRangesOf, type BatchRow, type IndexStore, type PendingRow, type ProductRow } from "./store";
import type { PackQuery, VerificationResult, Verifier } from "./verification";

export interface ReadRouteOptions {
  store: IndexStore;
  indexer: Indexer | undefined;
  verifier: Verifier;
  uploader: Uploader;
  apiKeys: string[];
  publicRateLimitPerMinute: number;
  uploadRateLimitPerMinute: number;
  uploadMaxBytes: number;
  portalBaseUrl: string;
  /** Last block the index has fully read (-1 before the first range). */
  currentBlock: () => number;
  /** The EPCIS mapping's context over the index and its documents (epcis-context.ts). */
  epcisContext: EpcisContext;
}

const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();
const proofOf = (blockNumber: number, blockTime: number, txHash: string, logIndex: number) => ({ blockNumber, blockTime: iso(blockTime), txHash, logIndex });
const KIND_NAMES = ["Units", "Case", "Pallet"] as const;
const ZERO_ADDRESS = /^0x0{40}$/;
type PackStateOut = z.infer<typeof S.packStateName>;

/** Routes of the read side: public verification (rate-limited, no commercial data) and member/auditor queries. */
const readRoutes: FastifyPluginAsyncZod<ReadRouteOptions> = async (app, o) => {
  const { store, verifier } = o;
  const publicLimit = { rateLimit: { max: o.publicRateLimitPerMinute, timeWindow: "1 minute" } };

  /** Member/auditor endpoints: x-api-key (or Authorization: Bearer) when READ_API_KEYS is set. */
  const requireKey = readKeyCheck(o.apiKeys, "this endpoint serves commercial data to consortium members and auditors");
  const member = { onRequest: requireKey };
  const errors401 = { ...errorResponses, 401: errorResponses[400] };

  const glnOf = (a: string | null | undefined) => (a ? (store.member(a)?.gln ?? null) : null);
  const itemView = (b: BatchRow, i: Item) => {
    const layout = layoutOf(b);
    const [[firstUnit, endUnit]] = unitRangesOf(layout, [i]);
    const ssccs: string[] = [];
    if (i.kind !== ITEM_KIND.Units) {
      for (let k = i.start; k < i.start + i.count && ssccs.length < 1000; k++) {
        const s = store.ssccOf(b.batchId, i.kind, k);
        if (s) ssccs.push(s);
      }
    }
    return { kind: KIND_NAMES[i.kind] ?? "Units", start: i.start, count: i.count, firstUnit, endUnit, ssccs };
  };
  const pendingView = (p: PendingRow, b?: BatchRow) => {
    const batch = b ?? store.batch(p.batchId);
    return {
      shipmentId: p.shipmentId,
      batchId: p.batchId,
      sender: p.sender,
      senderGln: glnOf(p.sender),
      receiver: p.receiver,
      receiverGln: glnOf(p.receiver),
      quantity: p.quantity.toString(),
      kind: p.kind,
      isReturn: p.isReturn,
      referenceHash: p.referenceHash,
      items: batch ? p.items.map((i) => itemView(batch, i)) : [],
      createdAt: proofOf(p.createdBlock, p.createdTime, p.txHash, p.logIndex),
    };
  };
  const holdersView = (b: BatchRow) => {
    const sealed = store.sealedContainers(b);
    return store.holdersOf(b.batchId).map((h) => ({
      holder: h.holder,
      quantity: h.quantity.toString(),
      gln: glnOf(h.holder),
      packs: b.serialCount > 0 ? h.quantity.toString() : "0",
      sealedCases: sealed.get(h.holder)?.cases ?? 0,
      sealedPallets: sealed.get(h.holder)?.pallets ?? 0,
    }));
  };
  const today = () => Math.floor(Date.now() / 86_400_000);
  const batchOr404 = (batchId: string): BatchRow => {
    const b = store.batch(batchId);
    if (!b) throw new ApiError(404, "BATCH_NOT_FOUND", `no batch ${batchId} in the index (indexed up to block ${o.currentBlock()})`, "check the id; a batch minted seconds ago appears once the indexer reads its block");
    return b;
  };
  const productStatusOf = (gtin: string): "Active" | "Withdrawn" | "Unregistered" => store.product(gtin)?.status ?? "Unregistered";
  const batchView = (b: BatchRow) => {
    const serialised = !/^0x0{64}$/.test(b.serialsRoot);
    const layout = layoutOf(b);
    return {
      batchId: b.batchId,
      gtin: b.gtin,
      lot: b.lot,
      expiry: isoDate(b.expiryDay),
      expired: today() > b.expiryDay,
      quantity: b.quantity.toString(),
      producer: b.producer,
      serialised,
      serialCount: b.serialCount,
      serialsRoot: b.serialsRoot,
      serialListUploaded: serialised && store.serialList(b.batchId) !== undefined,
      documentHash: b.documentHash,
      status: b.status,
      statusSince: b.status === "Active" ? null : iso(b.statusSince),
      quarantines: store.quarantinesOf(b.batchId).map((q) => ({ jurisdiction: q.jurisdiction, regulator: q.regulator, since: proofOf(q.blockNumber, q.since, q.txHash, q.logIndex) })),
      markets: b.markets,
      productStatus: productStatusOf(b.gtin),
      layout: {
        unitsPerCase: b.unitsPerCase,
        casesPerPallet: b.casesPerPallet,
        cases: caseCount(layout),
        pallets: palletCount(layout),
        packingRoot: b.packingRoot,
        packingListUploaded: store.packingList(b.batchId) !== undefined,
      },
      digitalLink: toDigitalLink({ gtin: b.gtin, lot: b.lot }),
      minted: proofOf(b.mintedBlock, b.mintedTime, b.txHash, b.logIndex),
      holders: holdersView(b),
      pending: store.pendingOfBatch(b.batchId).map((p) => pendingView(p, b)),
      dispensed: b.dispensed,
    };
  };
  /** The pending shipment of the batch whose items cover unit `unit` (or container `kind`/`index`). */
  const shipmentCarrying = (b: BatchRow, kind: number, index: number): PendingRow | undefined => {
    const layout = layoutOf(b);
    const [first, end] = unitRange(layout, kind, index);
    return store.pendingOfBatch(b.batchId).find((p) => unitRangesOf(layout, p.items).some(([lo, hi]) => lo < end && first < hi));
  };
  const stateOut = (s: string): PackStateOut => (S.packStateName.options as readonly string[]).includes(s) ? (s as PackStateOut) : "None";

  // ── Batches (members and auditors) ──

  app.get(
    "/v1/batches/lookup",
    {
      ...member,
      schema: {
        tags: ["batches"],
        summary: "A batch by GTIN and lot: attributes, status, quarantines, layout, holders with pack counts, pending shipments with items",
        querystring: z.object({ gtin: z.string().regex(/^\d{8,14}$/, "8 to 14 digits"), lot: z.string().min(1).max(20) }),
        response: { 200: S.batchSchema, ...errors401 },
      },
    },
    async (request) => {
      const gtin = request.query.gtin.padStart(14, "0");
      const b = store.batchByGtinLot(gtin, request.query.lot);
      if (!b) throw new ApiError(404, "BATCH_NOT_FOUND", `no batch with GTIN ${gtin} and lot ${request.query.lot}`, "lots are case-sensitive; check both values on the pack");
      return batchView(b);
    },
  );

  app.get(
    "/v1/batches/:batchId",
    { ...member, schema: { tags: ["batches"], summary: "A batch by id: attributes, status, quarantines, layout, holders with pack counts, pending shipments with items", params: S.batchIdParam, response: { 200: S.batchSchema, ...errors401 } } },
    async (request) => batchView(batchOr404(request.params.batchId)),
  );

  app.get(
    "/v1/batches/:batchId/history",
    {
      ...member,
      schema: { tags: ["batches"], summary: "Custody chain and status history, in chain order, each with block, time, tx hash and log index", params: S.batchIdParam, response: { 200: S.historySchema, ...errors401 } },
      // Plain JSON.stringify: re-validating a few hundred entries with zod on every answer was the
      // largest cost of this route (bench:read profile). The handler's types fix the shape, and the
      // read tests check real answers against historySchema.
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request) => {
      const b = batchOr404(request.params.batchId);
      const quarantines = new Set<string>();
      let status: "Active" | "Quarantined" | "Recalled" = "Active";
      // A batch's history names the same few members hundreds of times: one lookup each.
      const named = new Map<string, string>();
      const names = (a: string) => {
        let name = named.get(a);
        if (name === undefined) {
          const gln = glnOf(a);
          name = gln ? `${a} (GLN ${gln})` : a;
          named.set(a, name);
        }
        return name;
      };
      const custody = store.eventsOfBatch(b.batchId).map((e) => {
        if (e.name === "BatchQuarantined") {
          quarantines.add(String(e.args.jurisdiction));
          if (status !== "Recalled") status = "Quarantined";
        }
        if (e.name === "BatchQuarantineLifted") {
          quarantines.delete(String(e.args.jurisdiction));
          if (status === "Quarantined" && quarantines.size === 0) status = "Active";
        }
        if (e.name === "BatchRecalled") status = "Recalled";
        if (e.name === "RecallUndone") status = quarantines.size > 0 ? "Quarantined" : "Active";
        const kind = STATUS_EVENTS.has(e.name) ? ("status" as const) : UNIT_EVENTS.has(e.name) ? ("unit" as const) : ("custody" as const);
        return { ...proofOf(e.blockNumber, e.blockTime, e.txHash, e.logIndex), event: e.name, kind, description: describeEvent(e, names), statusAfter: status, args: e.args };
      });
      return { batchId: b.batchId, gtin: b.gtin, lot: b.lot, status: b.status, custody, statusHistory: custody.filter((c) => c.kind === "status") };
    },
  );

  // ── Packs, cases, pallets ──

  const packOr404 = (b: BatchRow, unitIndex: string) => {
    const u = Number(unitIndex);
    const pack = store.pack(b, u);
    if (!pack) {
      throw new ApiError(
        404,
        "PACK_NOT_FOUND",
        b.serialCount === 0 ? `batch ${b.batchId} has no serialised packs` : `batch ${b.batchId} has packs 0 … ${b.serialCount - 1}, not ${unitIndex}`,
        "give a unit index below the batch's serialCount (GET /v1/batches/:batchId)",
      );
    }
    return pack;
  };

  app.get(
    "/v1/batches/:batchId/packs/:unitIndex",
    {
      ...member,
      schema: { tags: ["packs"], summary: "A pack: its state, holder, case and pallet (with SSCCs), and its serial when known", params: S.unitParams, response: { 200: S.packSchema, ...errors401 } },
    },
    async (request) => {
      const b = batchOr404(request.params.batchId);
      const pack = packOr404(b, request.params.unitIndex);
      const shipment = pack.state === "InTransit" ? shipmentCarrying(b, ITEM_KIND.Units, pack.unit) : undefined;
      return {
        batchId: b.batchId,
        unitIndex: pack.unit,
        serial: store.serialOf(b.batchId, pack.unit) ?? null,
        state: stateOut(pack.state),
        holder: pack.holder || null,
        holderGln: glnOf(pack.holder),
        since: pack.day > 0 ? isoDate(pack.day) : null,
        detached: pack.detached,
        case: pack.case ?? null,
        caseSscc: pack.case === undefined ? null : (store.ssccOf(b.batchId, ITEM_KIND.Case, pack.case) ?? null),
        pallet: pack.pallet ?? null,
        palletSscc: pack.pallet === undefined ? null : (store.ssccOf(b.batchId, ITEM_KIND.Pallet, pack.pallet) ?? null),
        pendingShipment: shipment?.shipmentId ?? null,
      };
    },
  );

  app.get(
    "/v1/batches/:batchId/packs/:unitIndex/history",
    {
      ...member,
      schema: {
        tags: ["packs"],
        summary: "A pack's own history for auditors: every holder with times, its case and pallet, each state change, each with tx hash and log index",
        params: S.unitParams,
        response: { 200: S.packHistorySchema, ...errors401 },
      },
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request) => packHistory(batchOr404(request.params.batchId), request.params.unitIndex),
  );

  app.get(
    "/v1/batches/:batchId/serials/:serial/history",
    {
      ...member,
      schema: {
        tags: ["packs"],
        summary: "A pack's history by its serial (needs the uploaded serial list)",
        params: S.batchIdParam.extend({ serial: z.string().min(1).max(20) }),
        response: { 200: S.packHistorySchema, ...errors401 },
      },
      serializerCompiler: () => (data) => JSON.stringify(data),
    },
    async (request) => {
      const b = batchOr404(request.params.batchId);
      const at = store.unitOfSerial(b.batchId, request.params.serial);
      if (!at) throw new ApiError(404, "SERIAL_NOT_FOUND", `serial ${request.params.serial} is not in batch ${b.batchId}'s uploaded list`, "check the serial, or ask the producer to upload the batch's serial list");
      return packHistory(b, String(at.unit));
    },
  );

  const packHistory = (b: BatchRow, unitIndex: string) => {
    const pack = packOr404(b, unitIndex);
    const u = pack.unit;
    const layout = layoutOf(b);
    const created = new Map<string, LedgerEvent>();
    let state: PackStateOut = "Held";
    let holder: string | null = b.producer;
    const holders: Array<{ holder: string; gln: string | null; from: string; to: string | null }> = [];
    const names = (a: string) => {
      const gln = glnOf(a);
      return gln ? `${a} (GLN ${gln})` : a;
    };
    const viaOf = (items: readonly Item[]): "pallet" | "case" | "pack" => {
      const hit = items.find((i) => unitRangesOf(layout, [i]).some(([lo, hi]) => lo <= u && u < hi));
      return hit?.kind === ITEM_KIND.Pallet ? "pallet" : hit?.kind === ITEM_KIND.Case ? "case" : "pack";
    };
    const entries = store.packHistory(b, u).map(({ event: e }) => {
      const a = e.args;
      let via: "batch" | "pallet" | "case" | "pack" = "batch";
      switch (e.name) {
        case "BatchMinted":
          state = "Held";
          holder = String(a.producer);
          break;
        case "ShipmentCreated":
          created.set(String(a.shipmentId), e);
          via = viaOf(itemsOf(e));
          state = "InTransit";
          holder = String(a.sender);
          break;
        case "ShipmentAccepted":
        case "ShipmentRejected":
        case "ShipmentCancelled":
        case "ShipmentRecovered": {
          const c = created.get(String(a.shipmentId));
          via = c ? viaOf(itemsOf(c)) : "pack";
          state = "Held";
          holder = e.name === "ShipmentAccepted" ? String(c?.args.receiver ?? a.receiver) : e.name === "ShipmentRecovered" ? String(a.to) : String(c?.args.sender ?? a.sender);
          break;
        }
        case "ContainerUnpacked":
          via = Number(a.kind) === ITEM_KIND.Pallet ? "pallet" : "case";
          break;
        case "UnitDispensed":
          via = "pack";
          state = "Dispensed";
          holder = String(a.pharmacy);
          break;
        case "DispenseUndone":
          via = "pack";
          state = "Held";
          holder = String(a.pharmacy);
          break;
        case "PacksDecommissioned":
          via = viaOf(itemsOf(e));
          state = stateOut(PACK_STATE_NAMES[Number(a.state)] ?? "None");
          holder = String(a.holder);
          break;
        case "PacksLocked":
          via = viaOf(itemsOf(e));
          state = "Locked";
          holder = String(a.holder);
          break;
        case "DecommissionReverted":
        case "PacksUnlocked":
          via = viaOf(itemsOf(e));
          state = "Held";
          holder = String(a.holder);
          break;
        case "CustodyRecovered":
          via = viaOf(itemsOf(e));
          if (ZERO_ADDRESS.test(String(a.to))) {
            state = stateOut(PACK_STATE_NAMES[Number(a.state)] ?? "None");
            holder = String(a.from);
          } else {
            state = "Held";
            holder = String(a.to);
          }
          break;
        default:
          break;
      }
      if (state === "Held" && holder && holders.at(-1)?.holder !== holder) {
        const last = holders.at(-1);
        if (last && last.to === null) last.to = iso(e.blockTime);
        holders.push({ holder, gln: glnOf(holder), from: iso(e.blockTime), to: null });
      } else if (state !== "Held" && state !== "Locked") {
        const last = holders.at(-1);
        if (last && last.to === null) last.to = iso(e.blockTime);
      }
      return { ...proofOf(e.blockNumber, e.blockTime, e.txHash, e.logIndex), event: e.name, description: describeEvent(e, names), via, state, holder, holderGln: glnOf(holder) };
    });
    return {
      batchId: b.batchId,
      unitIndex: u,
      serial: store.serialOf(b.batchId, u) ?? null,
      case: pack.case ?? null,
      pallet: pack.pallet ?? null,
      state: stateOut(pack.state),
      holders,
      entries,
    };
  };

  const containerView = (b: BatchRow, kind: number, index: number) => {
    const c = store.container(b, kind, index);
    if (!c) {
      const n = kind === ITEM_KIND.Case ? caseCount(layoutOf(b)) : palletCount(layoutOf(b));
      throw new ApiError(404, "CONTAINER_NOT_FOUND", `batch ${b.batchId} has ${n} ${kind === ITEM_KIND.Case ? "cases" : "pallets"}; there is no ${KIND_NAMES[kind].toLowerCase()} ${index}`, "give an index below the batch's count (GET /v1/batches/:batchId, layout)");
    }
    const [firstUnit, endUnit] = unitRange(layoutOf(b), kind, index);
    const shipment = c.state === "InTransit" ? shipmentCarrying(b, kind, index) : undefined;
    return {
      batchId: b.batchId,
      kind: KIND_NAMES[kind] as "Case" | "Pallet",
      index,
      sscc: store.ssccOf(b.batchId, kind, index) ?? null,
      state: stateOut(c.state),
      holder: c.holder || null,
      holderGln: glnOf(c.holder),
      sealed: c.state !== "Unpacked",
      firstUnit,
      endUnit,
      pallet: kind === ITEM_KIND.Case && b.casesPerPallet > 0 ? Math.floor(index / b.casesPerPallet) : null,
      pendingShipment: shipment?.shipmentId ?? null,
    };
  };

  for (const [segment, kind] of [["cases", ITEM_KIND.Case], ["pallets", ITEM_KIND.Pallet]] as const) {
    app.get(
      `/v1/batches/:batchId/${segment}/:index`,
      { ...member, schema: { tags: ["packs"], summary: `A ${segment.slice(0, -1)} by index: state, holder, SSCC, the packs it holds`, params: S.containerParams, response: { 200: S.containerSchema, ...errors401 } } },
      async (request) => containerView(batchOr404(request.params.batchId), kind, Number(request.params.index)),
    );
  }

  const containerBySscc = (sscc: string) => {
    const c = store.containerOfSscc(sscc);
    if (!c) throw new ApiError(404, "SSCC_NOT_FOUND", `no case or pallet with SSCC ${sscc} in the uploaded packing lists`, "check the label, or ask the producer to upload the batch's packing list");
    return { ...c, batch: batchOr404(c.batchId) };
  };

  app.get(
    "/v1/containers/:sscc",
    { ...member, schema: { tags: ["packs"], summary: "A case or pallet by its SSCC", params: S.ssccParam, response: { 200: S.containerSchema, ...errors401 } } },
    async (request) => {
      const c = containerBySscc(request.params.sscc);
      return containerView(c.batch, c.kind, c.index);
    },
  );

  app.get(
    "/v1/shipments",
    {
      ...member,
      schema: {
        tags: ["packs"],
        summary: "Pending shipments carrying a case or pallet, by its SSCC (a receiver scans a pallet label to accept)",
        querystring: S.ssccQuery,
        response: { 200: S.shipmentsBySsccSchema, ...errors401 },
      },
    },
    async (request) => {
      const c = containerBySscc(request.query.sscc);
      const layout = layoutOf(c.batch);
      const [first, end] = unitRange(layout, c.kind, c.index);
      const shipments = store.pendingOfBatch(c.batch.batchId).filter((p) => unitRangesOf(layout, p.items).some(([lo, hi]) => lo < end && first < hi));
      return {
        sscc: request.query.sscc,
        batchId: c.batch.batchId,
        kind: KIND_NAMES[c.kind] as "Case" | "Pallet",
        index: c.index,
        container: containerView(c.batch, c.kind, c.index),
        shipments: shipments.map((p) => pendingView(p, c.batch)),
      };
    },
  );

  // ── Members and products ──

  app.get(
    "/v1/members/:address/holdings",
    {
      ...member,
      schema: { tags: ["batches"], summary: "A member's holdings (batches, pack counts, sealed containers) and pending shipments in and out with their items", params: S.addressParam, response: { 200: S.holdingsSchema, ...errors401 } },
    },
    async (request) => {
      const a = getAddress(request.params.address);
      const m = store.member(a);
      const holdings = store.holdingsOf(a).map((h) => {
        const b = store.batch(h.batchId)!;
        const sealed = b.unitsPerCase > 0 ? store.sealedContainers(b).get(a) : undefined;
        return {
          batchId: h.batchId,
          gtin: b.gtin,
          lot: b.lot,
          status: b.status,
          quantity: h.quantity.toString(),
          packs: b.serialCount > 0 ? h.quantity.toString() : "0",
          sealedCases: sealed?.cases ?? 0,
          sealedPallets: sealed?.pallets ?? 0,
        };
      });
      return {
        address: a,
        role: ROLE_NAMES[m?.role ?? 0] ?? "None",
        gln: m?.gln ?? null,
        index: m?.index ?? 0,
        jurisdiction: m?.jurisdiction ?? "",
        key: m && !ZERO_ADDRESS.test(m.key) ? m.key : null,
        holdings,
        pendingIn: store.pendingIn(a).map((p) => pendingView(p)),
        pendingOut: store.pendingOut(a).map((p) => pendingView(p)),
      };
    },
  );

  const productView = (p: ProductRow) => ({
    gtin: p.gtin,
    owner: p.owner,
    ownerGln: glnOf(p.owner),
    prefixKey: p.prefixKey,
    status: p.status,
    statusSince: iso(p.statusSince),
    markets: p.markets,
    masterDataHash: p.masterDataHash,
    registered: proofOf(p.registeredBlock, p.statusSince, p.txHash, p.logIndex),
  });

  app.get(
    "/v1/products",
    { ...member, schema: { tags: ["products"], summary: "Registered products: owner, status (Active, Withdrawn), markets, master data hash", response: { 200: S.productsSchema, ...errors401 } } },
    async () => ({ products: store.products().map(productView) }),
  );

  app.get(
    "/v1/products/:gtin",
    { ...member, schema: { tags: ["products"], summary: "A registered product by GTIN", params: S.gtinParam, response: { 200: S.productSchema, ...errors401 } } },
    async (request) => {
      const gtin = request.params.gtin.padStart(14, "0");
      const p = store.product(gtin);
      if (!p) throw new ApiError(404, "PRODUCT_NOT_FOUND", `no product ${gtin} in the register`, "its brand owner registers it (BatchToken.registerProduct)");
      return productView(p);
    },
  );

  app.get(
    "/v1/alerts/holders",
    {
      ...member,
      schema: {
        tags: ["batches"],
        summary: "Who must act: current holders (and shipments in transit) of recalled or quarantined batches",
        querystring: z.object({ status: z.enum(["Recalled", "Quarantined", "any"]).default("any") }),
        response: { 200: S.alertHoldersSchema, ...errors401 },
      },
    },
    async (request) => {
      const wanted = request.query.status === "any" ? (["Recalled", "Quarantined"] as const) : ([request.query.status] as const);
      const batches = wanted.flatMap((s) => store.batchesWithStatus(s));
      return {
        batches: batches.map((b) => ({
          batchId: b.batchId,
          gtin: b.gtin,
          lot: b.lot,
          status: b.status,
          statusSince: iso(b.statusSince),
          holders: holdersView(b),
          inTransit: store.pendingOfBatch(b.batchId).map((p) => pendingView(p, b)),
        })),
      };
    },
  );

  // ── Serial and packing lists (producers; authenticated by their signature; bounded, rate-limited) ──

  await app.register(async (uploads) => {
    // The body stays raw here: it is parsed, checked and hashed in a worker thread (uploads.ts).
    uploads.removeContentTypeParser("application/json");
    uploads.addContentTypeParser("application/json", { parseAs: "buffer", bodyLimit: o.uploadMaxBytes }, (_request, body, done) => done(null, body));
    const tooLarge = () =>
      new ApiError(413, "UPLOAD_TOO_LARGE", `an upload may have at most ${o.uploadMaxBytes} bytes (SERIAL_UPLOAD_MAX_BYTES)`, "the operator sets SERIAL_UPLOAD_MAX_BYTES; a batch's list that does not fit needs it raised");
    for (const kind of ["serials", "packing"] as const) {
      uploads.post(
        `/v1/batches/:batchId/${kind}`,
        {
          bodyLimit: o.uploadMaxBytes,
          config: { rateLimit: { max: o.uploadRateLimitPerMinute, timeWindow: "1 minute" } },
          // Before the body is read: its size, and that the batch can take such a list at all.
          onRequest: async (request) => {
            const length = Number(request.headers["content-length"] ?? 0);
            if (length > o.uploadMaxBytes) throw tooLarge();
            // An id the index cannot hold (past 2^63 − 1) is left to the schema's 400, without a node call.
            const params = S.batchIdParam.safeParse(request.params);
            if (params.success) await o.uploader.batchOnChain(params.data.batchId, kind);
          },
          schema: {
            tags: ["batches"],
            summary: kind === "serials" ? "Upload a batch's serial list (signed by its producer, checked against the on-chain root)" : "Upload a batch's packing list: the SSCC of each case and pallet (signed by its producer, checked against the packing root)",
            description:
              (kind === "serials"
                ? "Body: {serials: [...], signature}. The producer signs (EIP-191) the upload message built from the batch's on-chain serialsRoot and serialCount (serialUploadMessage), "
                : "Body: {cases: [SSCC by case index], pallets: [SSCC by pallet index], signature}. The producer signs (EIP-191) the message built from the batch's on-chain packingRoot and its numbers of cases and pallets (packingUploadMessage), ") +
              "so the service checks the signature before it builds anything; the list must then build the on-chain root. The body is limited to SERIAL_UPLOAD_MAX_BYTES and parsed off the event loop; uploads are rate-limited per IP.",
            params: S.batchIdParam,
            response: { 201: S.serialUploadResult, 403: errorResponses[400], ...errorResponses },
          },
        },
        async (request, reply) => {
          const body = request.body;
          const { batchId } = request.params as { batchId: string };
          if (!Buffer.isBuffer(body)) throw new ApiError(415, "UNSUPPORTED_MEDIA_TYPE", "send the list as application/json", "set content-type: application/json");
          const r = await o.uploader.upload(kind, batchId, body);
          return reply.code(201).send({ batchId, ...r });
        },
      );
    }
  });

  // ── Exports ──

  // One context for every export, built from the index (never from the exported events): the same
  // ledger event exports the same EPCIS event whatever the window (epcis-context.ts).
  const epcisContext = o.epcisContext;
  /** A ledger event the EPCIS mapping cannot express is a 422 naming it, never a 500. */
  const mapped = <T>(f: () => T): T => {
    try {
      return f();
    } catch (err) {
      if (err instanceof EpcisMappingError) throw new ApiError(422, "EPCIS_UNMAPPABLE", err.message, "export these events as JSON (the same URL without .csv / .epcis.json) until the EPCIS mapping covers them");
      throw err;
    }
  };
  const exportTriplet = <P extends z.ZodTypeAny, Q extends z.ZodTypeAny>(
    base: string,
    what: string,
    params: P | undefined,
    query: Q | undefined,
    select: (request: FastifyRequest) => { events: LedgerEvent[]; truncated: boolean },
  ) => {
    const schemaBase = { tags: ["batches"], ...(params ? { params } : {}), ...(query ? { querystring: query } : {}) };
    app.get(base, { ...member, schema: { ...schemaBase, summary: `${what} as JSON, each with tx hash and log index`, response: { 200: S.eventsExportSchema, ...errors401 } } }, async (request) => {
      const { events, truncated } = select(request);
      return { count: events.length, truncated, events };
    });
    app.get(
      `${base}.csv`,
      { ...member, schema: { ...schemaBase, summary: `${what} as CSV (RFC 4180)`, produces: ["text/csv"], response: { 200: z.string().describe("text/csv"), ...errors401 } } },
      async (request, reply: FastifyReply) => {
        const csv = mapped(() => toCsv(select(request).events, epcisContext));
        return reply.type("text/csv; charset=utf-8").serializer((x: unknown) => x as string).send(csv);
      },
    );
    app.get(
      `${base}.epcis.json`,
      { ...member, schema: { ...schemaBase, summary: `${what} as an EPCIS 2.0 JSON-LD document`, produces: ["application/ld+json"], response: { 200: S.epcisDocumentSchema, ...errors401 } } },
      async (request, reply) => {
        const doc = mapped(() => toEpcisDocument(select(request).events, epcisContext));
        return reply.type("application/ld+json").send(doc as unknown as z.infer<typeof S.epcisDocumentSchema>);
      },
    );
  };
  exportTriplet("/v1/batches/:batchId/events", "A batch's ledger events", S.batchIdParam, undefined, (request) => {
    const { batchId } = request.params as z.infer<typeof S.batchIdParam>;
    batchOr404(batchId);
    return { events: store.eventsOfBatch(batchId), truncated: false };
  });
  exportTriplet("/v1/events", "Ledger events of a time window", undefined, S.windowQuery, (request) => {
    const q = request.query as z.infer<typeof S.windowQuery>;
    if (Date.parse(q.to) <= Date.parse(q.from)) throw new ApiError(400, "WINDOW_EMPTY", `'to' (${q.to}) must be after 'from' (${q.from})`, "swap or widen the window");
    // Block times are whole seconds: [from, to) in ms covers the seconds ceil(from) … ceil(to) − 1.
    const events = store.eventsInWindow(Math.ceil(Date.parse(q.from) / 1000), Math.ceil(Date.parse(q.to) / 1000), q.limit + 1);
    return { events: events.slice(0, q.limit), truncated: events.length > q.limit };
  });

  // ── Audit, alerts and status ──

  app.get(
    "/v1/audit",
    {
      ...member,
      schema: {
        tags: ["batches"],
        summary:
          "Integrity audit: custody and every pack rebuilt from the indexed events alone and compared with on-chain state; the index tables a verdict reads (status, quarantines, products, packs, serial and packing lists) compared with the chain and with the events",
        response: { 200: S.auditSchema, ...errors401 },
      },
    },
    async () => {
      const atBlock = o.currentBlock();
      if (atBlock < 0) throw new ApiError(503, "INDEX_NOT_READY", "the index has not read the chain yet", "retry in a few seconds");
      return auditLedger({ events: store.allEvents(), batchToken: app.chain.batchToken, atBlock, index: { balances: store.allBalances(), pending: store.allPending(), store } });
    },
  );

  app.get(
    "/v1/index/alerts" as const,
    {
      ...member,
      schema: {
        tags: ["operations"],
        summary: "Events the indexer could not decode, store or fit to the ledger: each kept as an alert while indexing goes on (operators)",
        querystring: S.alertsQuery,
        response: { 200: S.alertsSchema, ...errors401 },
      },
    },
    async (request) => ({
      total: store.alertCount(),
      alerts: store.alerts(request.query.after, request.query.limit).map((a) => ({ ...a, raisedAt: new Date(a.raisedAt).toISOString() })),
    }),
  );

  app.get(
    "/v1/index/status",
    { schema: { tags: ["operations"], summary: "How far the indexer has read", response: { 200: S.indexStatusSchema } } },
    async () => {
      const s = o.indexer?.status ?? { running: false, indexedBlock: o.currentBlock(), headBlock: -1, resets: 0, lastError: undefined };
      return {
        running: s.running,
        indexedBlock: s.indexedBlock,
        headBlock: s.headBlock,
        events: store.eventCount(),
        resets: s.resets,
        alerts: store.alertCount(),
        ...(s.lastError ? { lastError: redactUrls(s.lastError) } : {}),
      };
    },
  );

  // ── Public verification (rate-limited per IP; verdicts only, no quantities or partners) ──

  const packFrom = (gtin: string, lot: string | undefined, serial: string | undefined, expiry: string | undefined): PackQuery => {
    const padded = /^\d{8,13}$/.test(gtin) ? gtin.padStart(14, "0") : gtin;
    let parsed;
    try {
      // Re-parse as a Digital Link so every field gets the scanner's precise checks.
      parsed = parseGs1(toDigitalLink({ gtin: padded, lot, serial, expiry }));
    } catch (err) {
      if (err instanceof Gs1ScanError) throw scanError(err);
      throw err;
    }
    return complete(parsed);
  };
  const complete = (p: { gtin: string; lot?: string; serial?: string; expiry?: { day: number } }): PackQuery => {
    const missing = [p.lot === undefined ? "lot (AI 10)" : undefined, p.serial === undefined ? "serial (AI 21)" : undefined].filter(Boolean);
    if (missing.length > 0) {
      throw new ApiError(400, "GS1_INCOMPLETE", `the code has no ${missing.join(" and no ")}; a pack is verified by GTIN, lot, serial and expiry`, "scan the 2D code on the pack (not the linear barcode), or type all four fields");
    }
    return { gtin: p.gtin, lot: p.lot!, serial: p.serial!, expiryDay: p.expiry?.day };
  };

  app.get(
    "/v1/verify",
    {
      config: publicLimit,
      schema: { tags: ["verification"], summary: "Verify a pack by GTIN, lot, serial and expiry (public)", querystring: S.verifyQuery, response: { 200: S.verificationSchema, ...errorResponses } },
    },
    // The public hot path: the verdict's JSON text as the Verifier caches it, sent unchanged (zod's
    // output parse was ~8% of a verification in bench:read's profile). The Verifier builds every
    // field itself; the read tests hold real verdicts of every kind against verificationSchema (no
    // extra field, no wrong type) and equal to the scan route's, which is serialised through zod.
    async (request, reply) => {
      const json = verifier.verifyJson(packFrom(request.query.gtin, request.query.lot, request.query.serial, request.query.expiry));
      // A string with a JSON content type goes out unchanged (the typed reply expects the object).
      return reply.type("application/json; charset=utf-8").send(json as unknown as VerificationResult);
    },
  );

  app.get(
    "/v1/verify/scan",
    {
      config: publicLimit,
      schema: {
        tags: ["verification"],
        summary: "Verify a pack from a raw scan: element string, bracketed form or Digital Link (public)",
        querystring: S.scanQuery,
        response: { 200: S.verificationSchema, ...errorResponses },
      },
    },
    async (request) => {
      let parsed;
      try {
        parsed = parseGs1(request.query.code);
      } catch (err) {
        if (err instanceof Gs1ScanError) throw scanError(err);
        throw err;
      }
      return verifier.verify(complete(parsed));
    },
  );
  // The Digital Link resolver (/01/…) lives in api/exchange.
};

const STATUS_EVENTS = new Set(["BatchQuarantined", "BatchQuarantineLifted", "BatchRecalled", "RecallUndone", "SafetyNoticeIssued", "BatchMarkets", "BatchPacked"]);
const UNIT_EVENTS = new Set(["UnitDispensed", "DispenseUndone"]);

function scanError(err: Gs1ScanError): ApiError {
  const hints: Record<string, string> = {
    GS1_BAD_CHECK_DIGIT: "a digit was misread or mistyped: scan again or compare with the printed number",
    GS1_BAD_DATE: "the date must be YYMMDD (day 00 means the last day of the month)",
    GS1_BAD_LENGTH: "a field is too long or too short: if a separator (GS) is missing between lot and serial, scan again",
    GS1_BAD_CHARACTER: "lots and serials use GS1 characters only (letters, digits and !\"%&'()*+,-./:;<=>?_)",
    GS1_MISSING_GTIN: "scan the 2D code on the pack, not a logistic label",
  };
  return new ApiError(400, err.code, err.message, hints[err.code] ?? "scan the pack's 2D code again, or type the code as printed", err.ai ? { ai: err.ai } : undefined);
}

export default readRoutes;
