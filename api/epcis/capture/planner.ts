import crypto from "node:crypto";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import { keccak256, toUtf8Bytes } from "ethers";
import { eventHashId, type JsonObject } from "../../domain/epcis-hash";
import { dayNumberOf, isGln, isGtin14 } from "../../domain/gs1";
import { normaliseGs1Uri } from "../../domain/gs1-uri-normaliser";
import { REJECT_REASONS } from "../../domain/ledger-enums";
import { buildSerialTree, serialProblem, type SerialTree } from "../../domain/merkle";
import { ITEM_KIND, PACKING_TREE_TYPES, isSscc, packingValues, prefixKey, unitRange, type Item, type Layout } from "../../domain/packing";
import { sameAddress, unitRangesOf, type LedgerState } from "../ledger-state";
import type { ListSource, MemberFacts } from "../ports";
import { cbvWord } from "../projector";
import type { CapturedList, NewAction } from "../store";
import { PendingIndex } from "./pending-index";
import type { CaptureProblem } from "./schema";

/**
 * Capture's semantic half: which on-chain actions of the capturing member an EPCIS document
 * stands for, checked against the ledger before anything is submitted. Pure over its inputs
 * (the ledger state, the lists, the member register as already read): the route gathers them.
 *
 * | EPCIS event (as captured)                                             | member action |
 * |-----------------------------------------------------------------------|---------------|
 * | ObjectEvent ADD commissioning, SGTINs (or an LGTIN quantity) + ILMD lot and expiry | `mint`, serial root from the SGTINs |
 * | AggregationEvent ADD packing, parent SSCC, children SGTINs (cases) or case SSCCs (pallets), in the commissioning's document | the layout of that `mint` (unitsPerCase, casesPerPallet, packing root) |
 * | ObjectEvent OBSERVE shipping, SGTINs/SSCCs (or LGTIN quantities), destination party or location = the receiver's GLN | `ship` per batch |
 * | ObjectEvent OBSERVE receiving, naming whole pending shipments to the member, disposition in_progress / active / sellable_* / absent, or `returned` for a Return shipment | `accept` per shipment |
 * | the same, disposition `returned` on a Forward shipment, or non_sellable_other / damaged / expired / mismatch_* | `reject` per shipment (reason from the disposition, or `ledger:rejectReason`) |
 * | ObjectEvent OBSERVE dispensing or retail_selling, SGTINs | `dispense` per pack (proof from the batch's serial list) |
 * | ObjectEvent destroying (or disposition destroyed) / disposition stolen / sampling / decommissioning with `ledger:packState` | `decommission` with that state (`write-off` for LGTIN quantities: destroyed, stolen) |
 * | AggregationEvent DELETE unpacking, parent SSCC | `unpack` |
 *
 * Everything else is refused (EVENT_NOT_SUPPORTED). Rules that only the chain can decide (flows
 * between roles, expiry at a pharmacy, a licence revoked a moment ago) are left to the relay's
 * simulation and to the chain; their refusal is the event's outcome (`failed`, with the
 * contract's error).
 */

export interface PlanInput {
  doc: { "@context"?: unknown; epcisBody: { eventList: JsonObject[] } };
  member: MemberFacts;
  state: LedgerState;
  lists: ListSource;
  /** Lists commissioned through capture whose mint is not on the ledger yet, by GTIN and lot. */
  pendingList(gtin: string, lot: string): CapturedList | undefined;
  /** Same, by SGTIN / SSCC. */
  pendingSgtin(gtin: string, serial: string): { lot: string; unit: number } | undefined;
  pendingSscc(sscc: string): { gtin: string; lot: string; kind: number; index: number } | undefined;
  /** eventIDs this member captured before. */
  alreadyCaptured(eventId: string): boolean;
  /** Account of a member by GLN (resolved before planning). */
  accountOfGln: ReadonlyMap<string, string>;
  /** Role of accounts named as receivers (resolved before planning). */
  memberFacts: ReadonlyMap<string, MemberFacts>;
  today: number;
  /** Serial trees by batch id (a cache the caller keeps). */
  treeOf(batchId: string, serials: readonly string[]): SerialTree;
}

export interface PlannedEvent {
  eventId: string;
  type: string;
  bizStep: string | null;
  duplicate: boolean;
  /** A packing event: its outcome is that of the commissioning at this index. */
  linkedIdx?: number;
}

export interface Plan {
  events: PlannedEvent[];
  actions: NewAction[];
  lists: CapturedList[];
  bizTransactions: Array<{ referenceHash: string; list: Array<{ type: string; uri: string }> }>;
}

/** GLNs named in a document's destinations and sources (to resolve before planning). */
export function glnsOf(doc: PlanInput["doc"]): string[] {
  const out = new Set<string>();
  for (const ev of doc.epcisBody.eventList) {
    for (const d of (ev.destinationList as Array<{ destination?: string }> | undefined) ?? []) {
      const g = glnOfUri(String(d.destination ?? ""));
      if (g) out.add(g);
    }
    for (const d of (ev.sourceList as Array<{ source?: string }> | undefined) ?? []) {
      const g = glnOfUri(String(d.source ?? ""));
      if (g) out.add(g);
    }
  }
  return [...out];
}

export function glnOfUri(uri: string): string | undefined {
  const m = /^https:\/\/id\.gs1\.org\/(?:414|417)\/(\d{13})(?:\/254\/.*)?$/.exec(normaliseGs1Uri(uri) ?? "");
  return m && isGln(m[1]!) ? m[1] : undefined;
}

type Epc = { kind: "sgtin"; gtin: string; serial: string } | { kind: "sscc"; sscc: string } | { kind: "lgtin"; gtin: string; lot: string };

function parseEpc(uri: string): Epc | undefined {
  const dl = normaliseGs1Uri(uri);
  if (!dl) return undefined;
  let m = /^https:\/\/id\.gs1\.org\/01\/(\d{14})\/21\/([^/?#]+)$/.exec(dl);
  if (m) {
    let serial: string;
    try {
      serial = decodeURIComponent(m[2]!);
    } catch {
      return undefined;
    }
    return isGtin14(m[1]!) ? { kind: "sgtin", gtin: m[1]!, serial } : undefined;
  }
  m = /^https:\/\/id\.gs1\.org\/00\/(\d{18})$/.exec(dl);
  if (m) return isSscc(m[1]!) ? { kind: "sscc", sscc: m[1]! } : undefined;
  m = /^https:\/\/id\.gs1\.org\/01\/(\d{14})\/10\/([^/?#]+)$/.exec(dl);
  if (m) {
    try {
      return isGtin14(m[1]!) ? { kind: "lgtin", gtin: m[1]!, lot: decodeURIComponent(m[2]!) } : undefined;
    } catch {
      return undefined;
    }
  }
  return undefined;
}

/** The canonical `referenceHash` of a shipment's documents (as api/domain/biz-transactions.ts computes it: header, then "type\turi\n" sorted). */
export function referenceHashOf(list: ReadonlyArray<{ type: string; uri: string }>): string {
  const sorted = [...list].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  return keccak256(toUtf8Bytes("medtrace-bt/1\n" + sorted.map((d) => `${d.type}\t${d.uri}\n`).join("")));
}

const ZERO32 = "0x" + "0".repeat(64);
const STOCK_ROLES = ["Producer", "Distributor", "Pharmacy"];
const ACCEPT_DISPOSITIONS = new Set(["in_progress", "active", "sellable_accessible", "sellable_not_accessible"]);
const REJECT_DISPOSITIONS: Record<string, (typeof REJECT_REASONS)[number]> = {
  returned: "Unspecified",
  non_sellable_other: "Unspecified",
  damaged: "Damaged",
  expired: "Unspecified",
  mismatch_class: "WrongProduct",
  mismatch_instance: "WrongQuantity",
  mismatch_quantity: "WrongQuantity",
};

/** A batch named by a document: on the ledger (id) or commissioned through capture and not minted yet (gtin|lot). */
interface BatchRef {
  key: string;
  batchId?: string;
  gtin: string;
  lot: string;
  layout: Layout;
  serialised: boolean;
}

class Problems {
  readonly list: CaptureProblem[] = [];
  add(eventIndex: number, eventID: string, field: string, code: string, message: string, hint: string): void {
    this.list.push({ eventIndex, eventID, field, code, message: `event ${eventIndex} (${eventID}): ${message}`, hint });
  }
}

/** Builds the plan, or returns the problems (all of them, in document order). */
export function planCapture(input: PlanInput): { plan: Plan } | { problems: CaptureProblem[] } {
  const { doc, member, state } = input;
  const events = doc.epcisBody.eventList;
  const p = new Problems();
  const plan: Plan = { events: [], actions: [], lists: [], bizTransactions: [] };
  const memberLower = member.account.toLowerCase();
  const idemBase = (eventId: string) => `epcis:${memberLower}:${crypto.createHash("sha256").update(eventId).digest("hex").slice(0, 40)}`;

  // ── Event ids: given, or the CBV 2.0 event hash (stable, so a re-post without ids is recognised) ──
  const ids = events.map((ev) => (typeof ev.eventID === "string" ? ev.eventID : eventHashId(ev, doc["@context"] as never)));
  const seen = new Map<string, number>();
  ids.forEach((id, i) => {
    const first = seen.get(id);
    if (first !== undefined) p.add(i, id, "/eventID", "DUPLICATE_EVENT_ID", `repeats the eventID of event ${first}`, "give every event its own eventID (or none: the event hash is used)");
    else seen.set(id, i);
  });

  if (!STOCK_ROLES.includes(member.role) || !member.active) {
    return {
      problems: [
        {
          field: "/",
          code: member.active ? "ROLE_CANNOT_CAPTURE" : "MEMBER_NOT_ACTIVE",
          message: member.active ? `a ${member.role} holds no stock: it has no custody events to capture` : `${member.account} is not an active member`,
          hint: member.active ? "capture is for producers, distributors and pharmacies; regulators act through /v1/custodial" : "renew the licence or ask governance for reinstatement",
        },
      ],
    };
  }

  const ownLocation = (i: number, ev: JsonObject, field: "readPoint" | "bizLocation") => {
    const v = (ev[field] as { id?: unknown } | undefined)?.id;
    if (typeof v !== "string") return;
    const gln = glnOfUri(v);
    if (!gln || gln !== member.gln) {
      p.add(i, ids[i]!, `/${field}/id`, "NOT_YOUR_LOCATION", `${field} ${v} is not the capturing member's location (GLN ${member.gln ?? "none in the register"})`, "a member captures only what happens at its own GLN: use https://id.gs1.org/414/{your GLN} or leave the field out");
    }
  };

  // ── The overlay: what earlier events of this document already did ──
  const consumed = new Map<string, Set<number>>(); // batch key → unit indexes taken out of the member's hands
  const consumedQty = new Map<string, bigint>();
  const newBatches = new Map<string, { list: CapturedList; actionIndex: number; eventIndex: number }>();
  const acceptedHere = new Map<string, number>(); // batch key → index of an accept action by this member
  const receivedShipments = new Set<string>();
  // The pending shipments to the member, indexed at the first receiving (the ledger state is fixed while planning).
  let pendingIndex: PendingIndex | undefined;
  const pendingToMember = () => (pendingIndex ??= new PendingIndex(state.pendingTo(member.account), (shipmentId) => state.shipments.get(shipmentId)?.batchId));

  const pendingRef = (gtin: string, lot: string): BatchRef | undefined => {
    const l = newBatches.get(`${gtin}|${lot}`)?.list ?? input.pendingList(gtin, lot);
    if (!l || (l.member && l.member !== memberLower)) return undefined;
    return { key: `${gtin}|${lot}`, gtin, lot, layout: { units: l.serials.length, unitsPerCase: l.unitsPerCase, casesPerPallet: l.casesPerPallet }, serialised: l.serials.length > 0 };
  };
  const ledgerRef = (batchId: string): BatchRef | undefined => {
    const b = state.batch(batchId);
    if (!b) return undefined;
    return { key: batchId, batchId, gtin: b.gtin, lot: b.lot, layout: { units: b.serialCount, unitsPerCase: b.unitsPerCase, casesPerPallet: b.casesPerPallet }, serialised: b.serialCount > 0 };
  };

  /** EPCs of an event resolved to batches and items; problems reported. */
  const resolveItems = (i: number, ev: JsonObject, field: "epcList" | "childEPCs") => {
    const byBatch = new Map<string, { ref: BatchRef; units: Set<number>; containers: Item[] }>();
    const list = (ev[field] as unknown[] | undefined) ?? [];
    list.forEach((raw, k) => {
      const epc = parseEpc(String(raw));
      const at = `/${field}/${k}`;
      if (!epc || epc.kind === "lgtin") {
        p.add(i, ids[i]!, at, "EPC_NOT_UNDERSTOOD", `${String(raw)} is not an SGTIN or SSCC with a valid check digit`, "name packs as https://id.gs1.org/01/{gtin}/21/{serial} (or urn:epc:id:sgtin) and cases/pallets as https://id.gs1.org/00/{sscc}");
        return;
      }
      let ref: BatchRef | undefined;
      let item: Item | undefined;
      if (epc.kind === "sgtin") {
        const known = input.lists.findSgtin(epc.gtin, epc.serial);
        if (known) {
          ref = ledgerRef(known.batchId);
          item = { kind: ITEM_KIND.Units, start: known.unit, count: 1 };
        } else {
          const pend = newBatchSgtin(epc.gtin, epc.serial) ?? input.pendingSgtin(epc.gtin, epc.serial);
          if (pend) {
            ref = pendingRef(epc.gtin, pend.lot);
            item = { kind: ITEM_KIND.Units, start: pend.unit, count: 1 };
          }
        }
      } else {
        const known = input.lists.findSscc(epc.sscc);
        if (known) {
          ref = ledgerRef(known.batchId);
          item = { kind: known.kind, start: known.index, count: 1 };
        } else {
          const pend = newBatchSscc(epc.sscc) ?? input.pendingSscc(epc.sscc);
          if (pend) {
            ref = pendingRef(pend.gtin, pend.lot);
            item = { kind: pend.kind, start: pend.index, count: 1 };
          }
        }
      }
      if (!ref || !item) {
        p.add(i, ids[i]!, at, "EPC_UNKNOWN", `${String(raw)} is not a pack or container of any batch this service knows`, "commission it first (a commissioning event with its SGTINs), or have the producer upload the batch's serial and packing lists");
        return;
      }
      const entry = byBatch.get(ref.key) ?? { ref, units: new Set<number>(), containers: [] };
      byBatch.set(ref.key, entry);
      const [first, end] = unitRangesOf(ref.layout, [item])[0]!;
      for (let u = first; u < end; u++) {
        if (entry.units.has(u)) {
          p.add(i, ids[i]!, at, "EPC_TWICE", `${String(raw)} names pack ${u} of lot ${ref.lot} a second time in this event`, "name each pack once: either the pack or the case or pallet it is in");
          return;
        }
        entry.units.add(u);
      }
      if (item.kind !== ITEM_KIND.Units) entry.containers.push(item);
    });
    return byBatch;
  };

  /** Whether the member holds these items now (ledger + this document so far). */
  const checkHeld = (i: number, field: string, ref: BatchRef, units: Set<number>, containers: Item[]): boolean => {
    const taken = consumed.get(ref.key);
    for (const u of units) {
      if (taken?.has(u)) {
        p.add(i, ids[i]!, field, "NOT_HELD", `pack ${u} of lot ${ref.lot} left the member's hands in an earlier event of this document`, "each pack can be shipped, dispensed or written off once");
        return false;
      }
    }
    if (ref.batchId === undefined) return true; // commissioned by this member, not on the ledger yet: all its packs are the member's
    const containerUnits = new Set<number>();
    for (const c of containers) {
      if (!state.holdsContainer(member.account, ref.batchId, c.kind, c.start)) {
        p.add(i, ids[i]!, field, "NOT_HELD", `${c.kind === ITEM_KIND.Case ? "case" : "pallet"} ${c.start} of lot ${ref.lot} is not held by ${member.account} (sealed or opened by it)`, "ship only what you hold; the ledger's custody of the container is GET /v1/containers/{sscc}");
        return false;
      }
      const [first, end] = unitRange(ref.layout, c.kind, c.start);
      for (let u = first; u < end; u++) containerUnits.add(u);
    }
    for (const u of units) {
      if (containerUnits.has(u)) continue;
      if (!state.holdsUnit(member.account, ref.batchId, u)) {
        p.add(i, ids[i]!, field, "NOT_HELD", `pack ${u} of lot ${ref.lot} is not held by ${member.account}`, "ship, dispense or write off only packs you hold; a pack's holder and state are at GET /v1/batches/{id}/packs/{unit}");
        return false;
      }
    }
    return true;
  };
  const consume = (ref: BatchRef, units: Set<number>) => {
    const set = consumed.get(ref.key) ?? new Set<number>();
    for (const u of units) set.add(u);
    consumed.set(ref.key, set);
  };

  /** Items naming exactly `units`: whole containers named as such, the rest as runs of packs. */
  const itemsOf = (ref: BatchRef, units: Set<number>, containers: Item[]): Item[] => {
    const inContainers = new Set<number>();
    for (const c of containers) {
      const [first, end] = unitRange(ref.layout, c.kind, c.start);
      for (let u = first; u < end; u++) inContainers.add(u);
    }
    const loose = [...units].filter((u) => !inContainers.has(u)).sort((a, b) => a - b);
    const items: Item[] = [];
    const merged = [...containers].sort((a, b) => a.kind - b.kind || a.start - b.start);
    for (const c of merged) {
      const last = items[items.length - 1];
      if (last && last.kind === c.kind && last.start + last.count === c.start) last.count++;
      else items.push({ ...c });
    }
    for (const u of loose) {
      const last = items[items.length - 1];
      if (last && last.kind === ITEM_KIND.Units && last.start + last.count === u) last.count++;
      else items.push({ kind: ITEM_KIND.Units, start: u, count: 1 });
    }
    return items;
  };
  const itemJson = (items: Item[]) => items.map((it) => ({ kind: (["units", "case", "pallet"] as const)[it.kind]!, start: it.start, count: it.count }));

  const bizTransactions = (i: number, ev: JsonObject): string | undefined => {
    const list = (ev.bizTransactionList as Array<{ type?: string; bizTransaction?: string }> | undefined) ?? [];
    if (list.length === 0) return undefined;
    const docs = list.map((b) => ({ type: b.type ? b.type.replace(/^(?:urn:epcglobal:cbv:btt:|https:\/\/ref\.gs1\.org\/cbv\/BTT-)/, "") : "", uri: String(b.bizTransaction ?? "") }));
    const bad = docs.findIndex((d) => !d.type);
    if (bad >= 0) {
      p.add(i, ids[i]!, `/bizTransactionList/${bad}/type`, "BIZ_TRANSACTION_TYPE_MISSING", "a business transaction without a type cannot be committed to", "give each document its CBV type (po, inv, desadv, …)");
      return undefined;
    }
    const hash = referenceHashOf(docs);
    plan.bizTransactions.push({ referenceHash: hash.toLowerCase(), list: [...docs].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : a.uri < b.uri ? -1 : 1)) });
    return hash;
  };

  // SGTINs and SSCCs commissioned earlier in this document.
  const newSgtins = new Map<string, { lot: string; unit: number }>();
  const newSsccs = new Map<string, { gtin: string; lot: string; kind: number; index: number }>();
  const newBatchSgtin = (gtin: string, serial: string) => newSgtins.get(`${gtin}|${serial}`);
  const newBatchSscc = (sscc: string) => newSsccs.get(sscc);

  // ── Packing: the document's AggregationEvents ADD packing, grouped by parent ──
  const packing = new Map<string, { index: number; children: Epc[] }>();
  events.forEach((ev, i) => {
    if (ev.type === "AggregationEvent" && ev.action === "ADD" && cbvWord(String(ev.bizStep ?? "")) === "packing") {
      const parent = parseEpc(String(ev.parentID ?? ""));
      if (!parent || parent.kind !== "sscc") {
        p.add(i, ids[i]!, "/parentID", "PARENT_NOT_SSCC", `parentID ${String(ev.parentID)} is not an SSCC with a valid check digit`, "a case or pallet is https://id.gs1.org/00/{sscc} (or urn:epc:id:sscc)");
        return;
      }
      const children = ((ev.childEPCs as unknown[] | undefined) ?? []).map((c) => parseEpc(String(c)));
      const bad = children.findIndex((c) => !c || c.kind === "lgtin");
      if (bad >= 0 || children.length === 0) {
        p.add(i, ids[i]!, bad >= 0 ? `/childEPCs/${bad}` : "/childEPCs", "CHILD_NOT_UNDERSTOOD", "children must be SGTINs (a case) or case SSCCs (a pallet)", "list the packs of a case, or the cases of a pallet, in childEPCs");
        return;
      }
      if (packing.has(parent.sscc)) {
        p.add(i, ids[i]!, "/parentID", "PACKED_TWICE", `SSCC ${parent.sscc} is packed twice in this document`, "pack each container once");
        return;
      }
      packing.set(parent.sscc, { index: i, children: children as Epc[] });
    }
  });
  const packingUsed = new Set<string>();

  events.forEach((ev, i) => {
    const id = ids[i]!;
    const type = String(ev.type);
    const bizStep = typeof ev.bizStep === "string" ? cbvWord(ev.bizStep) : null;
    const duplicate = input.alreadyCaptured(id);
    // A packing event's entry may exist already: its commissioning (earlier in the document) linked it.
    const planned: PlannedEvent = { ...plan.events[i], eventId: id, type, bizStep, duplicate };
    plan.events[i] = planned;
    if (duplicate) return; // captured before: its outcome is the earlier one's; nothing is planned again
    if (type === "AggregationEvent" && ev.action === "ADD" && bizStep === "packing") return; // attached to its commissioning below
    ownLocation(i, ev, "readPoint");
    ownLocation(i, ev, "bizLocation");
    const disposition = typeof ev.disposition === "string" ? cbvWord(ev.disposition) : undefined;
    const actionsBefore = plan.actions.length;
    const addAction = (a: Omit<NewAction, "eventIdx" | "idemKey">) => {
      const n = plan.actions.length - actionsBefore;
      plan.actions.push({ ...a, eventIdx: i, idemKey: `${idemBase(id)}:${n}` });
      return plan.actions.length - 1;
    };

    if (type === "ObjectEvent" && ev.action === "ADD" && bizStep === "commissioning") {
      commissioning(i, ev, addAction, planned);
    } else if (type === "ObjectEvent" && ev.action === "OBSERVE" && bizStep === "shipping") {
      shipping(i, ev, addAction);
    } else if (type === "ObjectEvent" && ev.action === "OBSERVE" && bizStep === "receiving") {
      receiving(i, ev, disposition, addAction);
    } else if (type === "ObjectEvent" && (bizStep === "dispensing" || bizStep === "retail_selling")) {
      dispensing(i, ev, addAction);
    } else if (type === "ObjectEvent" && (bizStep === "destroying" || bizStep === "decommissioning" || bizStep === "sampling" || disposition === "stolen" || disposition === "destroyed")) {
      decommissioning(i, ev, bizStep, disposition, addAction);
    } else if (type === "AggregationEvent" && ev.action === "DELETE" && bizStep === "unpacking") {
      unpacking(i, ev, addAction);
    } else {
      p.add(
        i,
        id,
        type !== "ObjectEvent" && type !== "AggregationEvent" ? "/type" : "/bizStep",
        "EVENT_NOT_SUPPORTED",
        `${type} ${String(ev.action)} ${bizStep ?? "(no bizStep)"} is not an action this ledger takes from EPCIS`,
        "capture commissioning (+ packing), shipping, receiving, dispensing/retail_selling, destroying, decommissioning, sampling or unpacking events; see the table in api/epcis/README.md",
      );
    }
  });

  for (const [sscc, pk] of packing) {
    if (!packingUsed.has(sscc)) {
      p.add(pk.index, ids[pk.index]!, "/parentID", "PACKING_WITHOUT_COMMISSIONING", `SSCC ${sscc} packs packs that are not commissioned in this document`, "cases and pallets are declared at mint: send the packing AggregationEvents in the same document as the commissioning ObjectEvent");
    }
  }

  return p.list.length > 0 ? { problems: p.list } : { plan };

  // ── Event kinds ──

  function commissioning(i: number, ev: JsonObject, addAction: (a: Omit<NewAction, "eventIdx" | "idemKey">) => number, planned: PlannedEvent): void {
    const id = ids[i]!;
    if (member.role !== "Producer") {
      p.add(i, id, "/bizStep", "ROLE_NOT_ALLOWED", `a ${member.role} does not commission (mint) batches`, "commissioning is the producer's; capture receiving for goods you take in");
      return;
    }
    const ilmd = (ev.ilmd as Record<string, unknown> | undefined) ?? {};
    const lotRaw = ilmd["cbvmda:lotNumber"] ?? ilmd["lotNumber"];
    const expRaw = ilmd["cbvmda:itemExpirationDate"] ?? ilmd["itemExpirationDate"];
    let gtin: string | undefined;
    let lot = typeof lotRaw === "string" ? lotRaw : undefined;
    const serials: string[] = [];
    let quantity = 0n;
    const epcList = (ev.epcList as unknown[] | undefined) ?? [];
    const quantityList = (ev.quantityList as Array<{ epcClass?: unknown; quantity?: unknown }> | undefined) ?? [];
    if (epcList.length > 0 && quantityList.length > 0) {
      p.add(i, id, "/quantityList", "MIXED_COMMISSIONING", "a commissioning names serialised packs (epcList) or a quantity of a lot (quantityList), not both", "send one event per batch");
      return;
    }
    const seenSerials = new Set<string>();
    for (const [k, raw] of epcList.entries()) {
      const epc = parseEpc(String(raw));
      if (!epc || epc.kind !== "sgtin") {
        p.add(i, id, `/epcList/${k}`, "EPC_NOT_SGTIN", `${String(raw)} is not an SGTIN with a valid GTIN`, "commission packs as https://id.gs1.org/01/{gtin}/21/{serial} or urn:epc:id:sgtin:…");
        return;
      }
      if (gtin !== undefined && epc.gtin !== gtin) {
        p.add(i, id, `/epcList/${k}`, "MIXED_GTINS", `${String(raw)} has GTIN ${epc.gtin}, the event's first pack ${gtin}`, "commission one batch (one GTIN and lot) per event");
        return;
      }
      gtin = epc.gtin;
      const bad = serialProblem(epc.serial);
      if (bad) {
        p.add(i, id, `/epcList/${k}`, "SERIAL_INVALID", `serial "${epc.serial}": ${bad}`, "serials are 1–20 characters of GS1 character set 82");
        return;
      }
      if (seenSerials.has(epc.serial)) {
        p.add(i, id, `/epcList/${k}`, "SERIAL_TWICE", `serial ${epc.serial} is commissioned twice`, "each pack has its own serial");
        return;
      }
      seenSerials.add(epc.serial);
      serials.push(epc.serial);
    }
    for (const [k, q] of quantityList.entries()) {
      const epc = parseEpc(String(q.epcClass ?? ""));
      if (!epc || epc.kind !== "lgtin" || quantityList.length > 1) {
        p.add(i, id, `/quantityList/${k}/epcClass`, "CLASS_NOT_LGTIN", `${String(q.epcClass)} is not one lot of a GTIN`, "name the batch as https://id.gs1.org/01/{gtin}/10/{lot}, one per event");
        return;
      }
      if (typeof q.quantity !== "number" || !Number.isInteger(q.quantity) || q.quantity < 1) {
        p.add(i, id, `/quantityList/${k}/quantity`, "QUANTITY_INVALID", `quantity ${String(q.quantity)} is not a whole number of packs`, "give the number of units of the batch");
        return;
      }
      gtin = epc.gtin;
      if (lot !== undefined && lot !== epc.lot) {
        p.add(i, id, `/quantityList/${k}/epcClass`, "LOT_MISMATCH", `the class names lot ${epc.lot}, the ILMD lot ${lot}`, "one lot per event");
        return;
      }
      lot = epc.lot;
      quantity = BigInt(q.quantity);
    }
    if (serials.length > 0) quantity = BigInt(serials.length);
    if (gtin === undefined) {
      p.add(i, id, "/epcList", "NOTHING_COMMISSIONED", "the event names no packs and no quantity", "list the packs' SGTINs in epcList");
      return;
    }
    if (lot === undefined || lot.length < 1 || lot.length > 20 || !/^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]+$/.test(lot)) {
      p.add(i, id, "/ilmd/cbvmda:lotNumber", "LOT_MISSING", `the lot ${lot === undefined ? "is missing" : `"${lot}" is not 1–20 characters of GS1 set 82`}`, "give ilmd.cbvmda:lotNumber");
      return;
    }
    const expiry = typeof expRaw === "string" && /^\d{4}-\d{2}-\d{2}$/.test(expRaw) ? dayNumberOf(new Date(`${expRaw}T00:00:00Z`)) : undefined;
    if (expiry === undefined || Number.isNaN(expiry)) {
      p.add(i, id, "/ilmd/cbvmda:itemExpirationDate", "EXPIRY_MISSING", `the expiry date ${expRaw === undefined ? "is missing" : `"${String(expRaw)}" is not YYYY-MM-DD`}`, "give ilmd.cbvmda:itemExpirationDate as YYYY-MM-DD");
      return;
    }
    if (expiry < input.today) {
      p.add(i, id, "/ilmd/cbvmda:itemExpirationDate", "EXPIRY_IN_PAST", `the expiry date ${String(expRaw)} is past`, "commission batches that are not expired");
      return;
    }
    const product = state.products.get(gtin);
    if (!product) {
      p.add(i, id, serials.length > 0 ? "/epcList/0" : "/quantityList/0/epcClass", "PRODUCT_UNKNOWN", `GTIN ${gtin} is not a registered product`, "its brand owner registers it first (POST /v1/custodial/register-product)");
      return;
    }
    if (product.status !== "Active") {
      p.add(i, id, serials.length > 0 ? "/epcList/0" : "/quantityList/0/epcClass", "PRODUCT_WITHDRAWN", `GTIN ${gtin} was withdrawn`, "a withdrawn product is not minted");
      return;
    }
    const prefixKeys = (g: string) => [6, 7, 8, 9, 10, 11, 12].map((n) => prefixKey(g.slice(1, 1 + n)).toString());
    if (!state.mayMint(member.account, gtin, prefixKeys)) {
      p.add(i, id, serials.length > 0 ? "/epcList/0" : "/quantityList/0/epcClass", "NOT_BRAND_OWNER", `${member.account} neither owns GTIN ${gtin} (owner ${product.owner}) nor holds a licence for its prefix`, "mint only your own products, or ask the brand owner for a licence (PrefixLicenceChanged)");
      return;
    }
    if (state.batchByGtinLot(gtin, lot) || input.pendingList(gtin, lot) || newBatches.has(`${gtin}|${lot}`)) {
      p.add(i, id, "/ilmd/cbvmda:lotNumber", "BATCH_EXISTS", `lot ${lot} of GTIN ${gtin} is minted (or being minted) already`, "a (GTIN, lot) is minted once; use a new lot number");
      return;
    }

    // Packing from the document's AggregationEvents: cases of this batch's packs, pallets of those cases.
    const bySerial = new Map(serials.map((s, u) => [s, u]));
    const cases: Array<{ sscc: string; units: number[]; index: number }> = [];
    const caseOfSscc = new Map<string, (typeof cases)[number]>();
    for (const [sscc, pk] of packing) {
      const first = pk.children[0]!;
      if (first.kind !== "sgtin" || first.gtin !== gtin || !bySerial.has(first.serial)) continue;
      const units: number[] = [];
      for (const [k, c] of pk.children.entries()) {
        if (c.kind !== "sgtin" || c.gtin !== gtin || !bySerial.has(c.serial)) {
          p.add(pk.index, ids[pk.index]!, `/childEPCs/${k}`, "CHILD_NOT_IN_BATCH", "a case holds packs of the batch commissioned in this document only", "one lot per case");
          return;
        }
        units.push(bySerial.get(c.serial)!);
      }
      const entry = { sscc, units, index: pk.index };
      cases.push(entry);
      caseOfSscc.set(sscc, entry);
      packingUsed.add(sscc);
    }
    const pallets: Array<{ sscc: string; cases: Array<(typeof cases)[number]>; index: number }> = [];
    for (const [sscc, pk] of packing) {
      const first = pk.children[0]!;
      if (first.kind !== "sscc" || !caseOfSscc.has(first.sscc)) continue;
      const members: Array<(typeof cases)[number]> = [];
      for (const [k, c] of pk.children.entries()) {
        const cs = c.kind === "sscc" ? caseOfSscc.get(c.sscc) : undefined;
        if (!cs) {
          p.add(pk.index, ids[pk.index]!, `/childEPCs/${k}`, "CHILD_NOT_A_CASE", "a pallet holds cases packed in this document", "pack the cases first (their AggregationEvents), then the pallet");
          return;
        }
        members.push(cs);
      }
      pallets.push({ sscc, cases: members, index: pk.index });
      packingUsed.add(sscc);
    }
    let layoutCases: typeof cases = [];
    let layoutPallets: typeof pallets = [];
    let unitsPerCase = 0;
    let casesPerPallet = 0;
    let orderedSerials = serials;
    if (cases.length > 0) {
      const fail = (index: number, message: string) =>
        p.add(index, ids[index]!, "/childEPCs", "PACKING_IRREGULAR", message, "the ledger records a regular layout: every case holds the same number of packs (the last may hold fewer), every pallet the same number of cases (the last may hold fewer), and every pack is in a case");
      // Pallet order first (cases of pallet 0, then pallet 1, …), else document order; the partial one last.
      if (pallets.length > 0) {
        const palletOfCase = new Map<string, number>();
        for (const pl of pallets) for (const c of pl.cases) {
          if (palletOfCase.has(c.sscc)) return fail(pl.index, `case ${c.sscc} is on two pallets`);
          palletOfCase.set(c.sscc, 0);
        }
        if (palletOfCase.size !== cases.length) return fail(pallets[0]!.index, `${cases.length - palletOfCase.size} cases are on no pallet`);
        layoutPallets = [...pallets].sort((a, b) => b.cases.length - a.cases.length);
        casesPerPallet = layoutPallets[0]!.cases.length;
        if (layoutPallets.slice(0, -1).some((pl) => pl.cases.length !== casesPerPallet)) return fail(layoutPallets[0]!.index, `pallets hold different numbers of cases (${layoutPallets.map((pl) => pl.cases.length).join(", ")})`);
        // Within the pallets, the partial case (if any) must be the very last case.
        layoutCases = layoutPallets.flatMap((pl) => [...pl.cases].sort((a, b) => b.units.length - a.units.length));
      } else {
        layoutCases = [...cases].sort((a, b) => b.units.length - a.units.length);
      }
      unitsPerCase = layoutCases[0]!.units.length;
      if (layoutCases.slice(0, -1).some((c) => c.units.length !== unitsPerCase)) return fail(layoutCases[0]!.index, `cases hold different numbers of packs (${layoutCases.map((c) => c.units.length).join(", ")}), or a partial case is not the last`);
      const covered = new Set<number>();
      for (const c of layoutCases) for (const u of c.units) {
        if (covered.has(u)) return fail(c.index, `pack ${serials[u]} is in two cases`);
        covered.add(u);
      }
      if (covered.size !== serials.length) return fail(layoutCases[0]!.index, `${serials.length - covered.size} commissioned packs are in no case`);
      orderedSerials = layoutCases.flatMap((c) => c.units.map((u) => serials[u]!));
    }
    const list: CapturedList = {
      gtin,
      lot,
      member: memberLower,
      serials: orderedSerials,
      cases: layoutCases.map((c) => c.sscc),
      pallets: layoutPallets.map((pl) => pl.sscc),
      unitsPerCase,
      casesPerPallet,
    };
    let serialsRoot = ZERO32;
    if (orderedSerials.length > 0) {
      try {
        serialsRoot = buildSerialTree(orderedSerials).root;
      } catch (err) {
        p.add(i, id, "/epcList", "SERIALS_INVALID", (err as Error).message, "serials are 1–20 characters of GS1 character set 82, each once");
        return;
      }
    }
    const packingRoot = list.cases.length > 0 ? StandardMerkleTree.of(packingValues(list), [...PACKING_TREE_TYPES]).root : ZERO32;
    const eventHex = /^ni:\/\/\/sha-256;([0-9a-f]{64})/.exec(id)?.[1];
    const actionIndex = addAction({
      action: "mint",
      body: {
        gtin,
        lot,
        expiryDay: expiry,
        quantity: quantity.toString(),
        ...(orderedSerials.length > 0 ? { serialsRoot, serialCount: orderedSerials.length } : {}),
        documentHash: eventHex ? `0x${eventHex}` : keccak256(toUtf8Bytes(id)),
        ...(list.cases.length > 0 ? { unitsPerCase, casesPerPallet, packingRoot } : {}),
      },
    });
    plan.lists.push(list);
    newBatches.set(`${gtin}|${lot}`, { list, actionIndex, eventIndex: i });
    orderedSerials.forEach((s, u) => newSgtins.set(`${gtin}|${s}`, { lot: lot!, unit: u }));
    list.cases.forEach((s, k) => newSsccs.set(s, { gtin: gtin!, lot: lot!, kind: ITEM_KIND.Case, index: k }));
    list.pallets.forEach((s, k) => newSsccs.set(s, { gtin: gtin!, lot: lot!, kind: ITEM_KIND.Pallet, index: k }));
    for (const c of layoutCases) plan.events[c.index] = { ...(plan.events[c.index] ?? { eventId: ids[c.index]!, type: "AggregationEvent", bizStep: "packing", duplicate: false }), linkedIdx: i };
    for (const pl of layoutPallets) plan.events[pl.index] = { ...(plan.events[pl.index] ?? { eventId: ids[pl.index]!, type: "AggregationEvent", bizStep: "packing", duplicate: false }), linkedIdx: i };
    void planned;
  }

  /** The action index this batch's action must wait for (a mint or accept earlier in this document). */
  function dependency(ref: BatchRef): { needsBatch?: string; afterIndex?: number } {
    const fresh = newBatches.get(ref.key);
    if (fresh) return { needsBatch: ref.key, afterIndex: fresh.actionIndex };
    if (ref.batchId === undefined) return { needsBatch: ref.key };
    const accepted = acceptedHere.get(ref.key);
    return accepted === undefined ? {} : { afterIndex: accepted };
  }

  function shipping(i: number, ev: JsonObject, addAction: (a: Omit<NewAction, "eventIdx" | "idemKey">) => number): void {
    const id = ids[i]!;
    const dests = ((ev.destinationList as Array<{ type?: string; destination?: string }> | undefined) ?? []).map((d, k) => ({ k, gln: glnOfUri(String(d.destination ?? "")), raw: d.destination }));
    const receivers = new Set(dests.map((d) => (d.gln ? input.accountOfGln.get(d.gln) : undefined)).filter((a): a is string => !!a).map((a) => a.toLowerCase()));
    if (dests.length === 0) {
      p.add(i, id, "/destinationList", "RECEIVER_MISSING", "a shipping event names its receiver", "add destinationList [{type: owning_party, destination: https://id.gs1.org/417/{receiver GLN}}]");
      return;
    }
    const unknown = dests.find((d) => !d.gln || !input.accountOfGln.get(d.gln));
    if (unknown) {
      p.add(i, id, `/destinationList/${unknown.k}/destination`, "RECEIVER_UNKNOWN", `${String(unknown.raw)} is not the GLN of a consortium member`, "ship to a member: its GLN is in the member register (GET /v1/members)");
      return;
    }
    if (receivers.size !== 1) {
      p.add(i, id, "/destinationList", "RECEIVERS_DIFFER", "the destinations name more than one member", "one receiver per shipping event");
      return;
    }
    const receiver = input.accountOfGln.get(dests[0]!.gln!)!;
    if (sameAddress(receiver, member.account)) {
      p.add(i, id, "/destinationList/0/destination", "SELF_SHIPMENT", "the receiver is the shipping member itself", "ship to another member");
      return;
    }
    const rf = input.memberFacts.get(receiver.toLowerCase());
    if (!rf || !rf.active || !STOCK_ROLES.includes(rf.role)) {
      p.add(i, id, "/destinationList/0/destination", "RECEIVER_CANNOT_HOLD", `${receiver} is ${rf ? `a ${rf.active ? "" : "inactive "}${rf.role}` : "not a member"}: it cannot hold stock`, "ship to an active producer, distributor or pharmacy");
      return;
    }
    for (const [k, s] of ((ev.sourceList as Array<{ source?: string }> | undefined) ?? []).entries()) {
      const g = glnOfUri(String(s.source ?? ""));
      if (g !== member.gln) {
        p.add(i, id, `/sourceList/${k}/source`, "NOT_YOUR_SOURCE", `the source ${String(s.source)} is not the capturing member`, "a member ships only its own goods: the source is your GLN or absent");
        return;
      }
    }
    const referenceHash = bizTransactions(i, ev) ?? ZERO32;
    const byBatch = resolveItems(i, ev, "epcList");
    for (const { ref, units, containers } of byBatch.values()) {
      if (!checkHeld(i, "/epcList", ref, units, containers)) return;
      const items = itemsOf(ref, units, containers);
      if (items.length > 256) {
        p.add(i, id, "/epcList", "TOO_MANY_ITEMS", `the packs of lot ${ref.lot} make ${items.length} separate runs; a shipment carries at most 256`, "ship whole cases, or split the shipment into several events");
        return;
      }
      consume(ref, units);
      addAction({ action: "ship", body: { batchId: ref.batchId ?? "0", receiver, quantity: String(units.size), items: itemJson(items), referenceHash }, ...dependency(ref) });
    }
    for (const [k, q] of ((ev.quantityList as Array<{ epcClass?: unknown; quantity?: unknown }> | undefined) ?? []).entries()) {
      const r = quantityBatch(i, k, q);
      if (!r) return;
      const left = state.balance(member.account, r.batchId) - (consumedQty.get(r.batchId) ?? 0n);
      if (left < r.quantity) {
        p.add(i, id, `/quantityList/${k}/quantity`, "NOT_HELD", `${member.account} holds ${left} units of lot ${r.lot}, not ${r.quantity}`, "ship only what you hold");
        return;
      }
      consumedQty.set(r.batchId, (consumedQty.get(r.batchId) ?? 0n) + r.quantity);
      addAction({ action: "ship", body: { batchId: r.batchId, receiver, quantity: r.quantity.toString(), items: [], referenceHash } });
    }
    if (byBatch.size === 0 && ((ev.quantityList as unknown[] | undefined) ?? []).length === 0 && p.list.length === 0) {
      p.add(i, id, "/epcList", "NOTHING_SHIPPED", "the event names no packs, containers or quantities", "list what is shipped in epcList (SGTINs, SSCCs) or quantityList (a lot's quantity)");
    }
  }

  function quantityBatch(i: number, k: number, q: { epcClass?: unknown; quantity?: unknown }): { batchId: string; lot: string; quantity: bigint } | undefined {
    const epc = parseEpc(String(q.epcClass ?? ""));
    const b = epc && epc.kind === "lgtin" ? state.batchByGtinLot(epc.gtin, epc.lot) : undefined;
    if (!b) {
      p.add(i, ids[i]!, `/quantityList/${k}/epcClass`, "BATCH_UNKNOWN", `${String(q.epcClass)} is not a batch on the ledger`, "name the lot as https://id.gs1.org/01/{gtin}/10/{lot}");
      return undefined;
    }
    if (b.serialCount > 0) {
      p.add(i, ids[i]!, `/quantityList/${k}/epcClass`, "BATCH_SERIALISED", `lot ${b.lot} is serialised: its packs move by SGTIN or SSCC`, "name the packs (epcList) instead of a quantity");
      return undefined;
    }
    if (typeof q.quantity !== "number" || !Number.isInteger(q.quantity) || q.quantity < 1) {
      p.add(i, ids[i]!, `/quantityList/${k}/quantity`, "QUANTITY_INVALID", `quantity ${String(q.quantity)} is not a whole number of units`, "give a positive whole number");
      return undefined;
    }
    return { batchId: b.batchId, lot: b.lot, quantity: BigInt(q.quantity) };
  }

  function receiving(i: number, ev: JsonObject, disposition: string | undefined, addAction: (a: Omit<NewAction, "eventIdx" | "idemKey">) => number): void {
    const id = ids[i]!;
    const byBatch = resolveItems(i, ev, "epcList");
    if (p.list.length > 0) return;
    const pending = pendingToMember();
    const sourceGlns = ((ev.sourceList as Array<{ source?: string }> | undefined) ?? []).map((s) => glnOfUri(String(s.source ?? "")));
    const chosen: Array<{ shipmentId: string; batchId: string; sender: string; receiver: string; quantity: bigint; kind: string; items: Item[] }> = [];
    for (const { ref, units } of byBatch.values()) {
      if (ref.batchId === undefined) {
        p.add(i, id, "/epcList", "NOT_SHIPPED_TO_YOU", `the packs of lot ${ref.lot} are not on the ledger yet`, "capture the receiving once the sender's shipping is on the ledger");
        return;
      }
      const { chosen: whole, left } = pending.matchPacks(ref.batchId, ref.layout, units, (shipmentId) => receivedShipments.has(shipmentId));
      for (const s of whole) chosen.push({ shipmentId: s.shipmentId, batchId: ref.batchId, sender: s.sender, receiver: s.receiver, quantity: s.quantity, kind: s.kind, items: s.items });
      if (left.size > 0) {
        p.add(i, id, "/epcList", "NO_MATCHING_SHIPMENT", `${left.size} of the packs of lot ${ref.lot} named here are in no pending shipment to ${member.account} (or only part of a shipment is named)`, "a receiving names whole shipments: every pack, case or pallet the sender shipped (GET /v1/shipments?receiver=… lists them)");
        return;
      }
    }
    for (const [k, q] of ((ev.quantityList as Array<{ epcClass?: unknown; quantity?: unknown }> | undefined) ?? []).entries()) {
      const r = quantityBatch(i, k, q);
      if (!r) return;
      const s = pending.ofBatch(r.batchId).find((x) => x.quantity === r.quantity && !receivedShipments.has(x.shipmentId) && !chosen.some((c) => c.shipmentId === x.shipmentId));
      if (!s) {
        p.add(i, id, `/quantityList/${k}`, "NO_MATCHING_SHIPMENT", `no pending shipment to ${member.account} carries ${r.quantity} units of lot ${r.lot}`, "receive the quantity the sender shipped");
        return;
      }
      chosen.push({ shipmentId: s.shipmentId, batchId: r.batchId, sender: s.sender, receiver: s.receiver, quantity: s.quantity, kind: s.kind, items: [] });
    }
    if (chosen.length === 0) {
      p.add(i, id, "/epcList", "NOTHING_RECEIVED", "the event names nothing received", "list the packs or containers received");
      return;
    }
    for (const c of chosen) {
      const senderGln = input.memberFacts.get(c.sender.toLowerCase())?.gln;
      const badSource = sourceGlns.findIndex((g) => g !== undefined && g !== senderGln);
      if (badSource >= 0) {
        p.add(i, id, `/sourceList/${badSource}/source`, "SOURCE_MISMATCH", `shipment ${c.shipmentId} comes from ${c.sender} (GLN ${senderGln ?? "none"}), not from the source named`, "name the sender's GLN as the source, or leave the source out");
        return;
      }
      let action: "accept" | "reject";
      let reason: string | undefined;
      const override = ev["ledger:rejectReason"];
      if (disposition === undefined || ACCEPT_DISPOSITIONS.has(disposition) || (disposition === "returned" && c.kind === "Return")) action = "accept";
      else if (REJECT_DISPOSITIONS[disposition] !== undefined) {
        action = "reject";
        reason = typeof override === "string" && (REJECT_REASONS as readonly string[]).includes(override) ? override : REJECT_DISPOSITIONS[disposition];
      } else {
        p.add(i, id, "/disposition", "DISPOSITION_NOT_UNDERSTOOD", `a receiving with disposition ${disposition} is neither an acceptance nor a rejection`, "in_progress (or active, sellable_*) accepts; returned, damaged, non_sellable_other, expired or mismatch_* rejects");
        return;
      }
      receivedShipments.add(c.shipmentId);
      const shipment = { batchId: c.batchId, sender: c.sender, receiver: c.receiver, quantity: c.quantity.toString(), kind: c.kind, items: itemJson(c.items) };
      const index = addAction({ action, body: { shipmentId: c.shipmentId, shipment, ...(reason ? { reason } : {}) } });
      if (action === "accept" && !acceptedHere.has(c.batchId)) acceptedHere.set(c.batchId, index);
    }
  }

  function dispensing(i: number, ev: JsonObject, addAction: (a: Omit<NewAction, "eventIdx" | "idemKey">) => number): void {
    const id = ids[i]!;
    if (member.role !== "Pharmacy") {
      p.add(i, id, "/bizStep", "ROLE_NOT_ALLOWED", `a ${member.role} does not dispense`, "dispensing is a pharmacy's");
      return;
    }
    const list = (ev.epcList as unknown[] | undefined) ?? [];
    if (list.length === 0) {
      p.add(i, id, "/epcList", "NOTHING_DISPENSED", "a dispensing names the packs dispensed", "list the packs' SGTINs in epcList");
      return;
    }
    for (const [k, raw] of list.entries()) {
      const epc = parseEpc(String(raw));
      if (!epc || epc.kind !== "sgtin") {
        p.add(i, id, `/epcList/${k}`, "EPC_NOT_SGTIN", `${String(raw)} is not a pack (SGTIN)`, "dispense packs, named https://id.gs1.org/01/{gtin}/21/{serial}");
        return;
      }
      const known = input.lists.findSgtin(epc.gtin, epc.serial);
      const ref = known && ledgerRef(known.batchId);
      if (!known || !ref) {
        p.add(i, id, `/epcList/${k}`, "EPC_UNKNOWN", `${String(raw)} is not a pack of a batch whose serial list this service holds`, "the producer uploads the batch's serial list (or commissions it through capture)");
        return;
      }
      const units = new Set([known.unit]);
      if (!checkHeld(i, `/epcList/${k}`, ref, units, [])) return;
      const serials = input.lists.serialsOf(known.batchId);
      if (!serials) {
        p.add(i, id, `/epcList/${k}`, "SERIALS_UNKNOWN", `the serial list of lot ${ref.lot} is not at this service`, "the producer uploads it; a dispense needs the pack's proof");
        return;
      }
      const tree = input.treeOf(known.batchId, serials);
      consume(ref, units);
      addAction({ action: "dispense", body: { batchId: known.batchId, unitIndex: String(known.unit), serial: epc.serial, proof: tree.proof(known.unit) }, ...dependency(ref) });
    }
  }

  function decommissioning(i: number, ev: JsonObject, bizStep: string | null, disposition: string | undefined, addAction: (a: Omit<NewAction, "eventIdx" | "idemKey">) => number): void {
    const id = ids[i]!;
    const given = ev["ledger:packState"];
    let state: "Destroyed" | "Stolen" | "Sample" | "FreeSample" | "Exported" | undefined;
    if (disposition === "stolen") state = "Stolen";
    else if (bizStep === "destroying" || disposition === "destroyed") state = "Destroyed";
    else if (bizStep === "sampling") state = "Sample";
    else if (typeof given === "string" && ["Sample", "FreeSample", "Exported", "Destroyed", "Stolen"].includes(given)) state = given as typeof state;
    if (!state) {
      p.add(i, id, "/ledger:packState", "DECOMMISSION_AMBIGUOUS", "a decommissioning without a state the ledger knows", 'add "ledger:packState": "FreeSample" or "Exported" (or use bizStep destroying / sampling, disposition stolen)');
      return;
    }
    const evidence = bizTransactions(i, ev) ?? keccak256(toUtf8Bytes(id));
    const byBatch = resolveItems(i, ev, "epcList");
    for (const { ref, units, containers } of byBatch.values()) {
      if (!checkHeld(i, "/epcList", ref, units, containers)) return;
      const items = itemsOf(ref, units, containers);
      if (items.length > 256) {
        p.add(i, id, "/epcList", "TOO_MANY_ITEMS", `${items.length} runs of packs; at most 256 per action`, "split the event");
        return;
      }
      consume(ref, units);
      addAction({ action: "decommission", body: { batchId: ref.batchId ?? "0", items: itemJson(items), state, evidenceHash: evidence }, ...dependency(ref) });
    }
    for (const [k, q] of ((ev.quantityList as Array<{ epcClass?: unknown; quantity?: unknown }> | undefined) ?? []).entries()) {
      const r = quantityBatch(i, k, q);
      if (!r) return;
      if (state !== "Destroyed" && state !== "Stolen") {
        p.add(i, id, `/quantityList/${k}`, "WRITE_OFF_STATE", `a batch without serials is written off as destroyed or stolen only, not ${state}`, "use bizStep destroying or disposition stolen");
        return;
      }
      const left = state === "Destroyed" || state === "Stolen" ? this_balance(r.batchId) : 0n;
      if (left < r.quantity) {
        p.add(i, id, `/quantityList/${k}/quantity`, "NOT_HELD", `${member.account} holds ${left} units of lot ${r.lot}, not ${r.quantity}`, "write off only what you hold");
        return;
      }
      consumedQty.set(r.batchId, (consumedQty.get(r.batchId) ?? 0n) + r.quantity);
      addAction({ action: "write-off", body: { batchId: r.batchId, quantity: r.quantity.toString(), reason: state, evidenceHash: evidence } });
    }
    if (byBatch.size === 0 && ((ev.quantityList as unknown[] | undefined) ?? []).length === 0 && p.list.length === 0) {
      p.add(i, id, "/epcList", "NOTHING_DECOMMISSIONED", "the event names nothing", "list the packs or containers in epcList");
    }
  }

  function this_balance(batchId: string): bigint {
    return state.balance(member.account, batchId) - (consumedQty.get(batchId) ?? 0n);
  }

  function unpacking(i: number, ev: JsonObject, addAction: (a: Omit<NewAction, "eventIdx" | "idemKey">) => number): void {
    const id = ids[i]!;
    const parent = parseEpc(String(ev.parentID ?? ""));
    const known = parent?.kind === "sscc" ? input.lists.findSscc(parent.sscc) : undefined;
    const ref = known && ledgerRef(known.batchId);
    if (!known || !ref) {
      p.add(i, id, "/parentID", "EPC_UNKNOWN", `${String(ev.parentID)} is not a case or pallet this service knows`, "name the container by its SSCC (https://id.gs1.org/00/{sscc})");
      return;
    }
    if (!state.holdsContainer(member.account, known.batchId, known.kind, known.index)) {
      p.add(i, id, "/parentID", "NOT_HELD", `${String(ev.parentID)} is not held by ${member.account}`, "unpack only containers you hold");
      return;
    }
    addAction({ action: "unpack", body: { batchId: known.batchId, containers: [{ kind: known.kind === ITEM_KIND.Case ? "case" : "pallet", start: known.index, count: 1 }] }, ...dependency(ref) });
  }
}

/** An LRU of serial trees by batch id (a tree of 100,000 serials takes ~10 MB). */
export class TreeCache {
  private readonly map = new Map<string, SerialTree>();
  constructor(private readonly size = 16) {}
  get(batchId: string, serials: readonly string[]): SerialTree {
    let t = this.map.get(batchId);
    if (t) {
      this.map.delete(batchId);
      this.map.set(batchId, t);
      return t;
    }
    t = buildSerialTree(serials);
    this.map.set(batchId, t);
    if (this.map.size > this.size) this.map.delete(this.map.keys().next().value!);
    return t;
  }
}
