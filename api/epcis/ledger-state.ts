import { applyEvent, emptyCustody, type CustodyState, type PendingShipment } from "../domain/custody";
import { itemsOf, type LedgerEvent } from "../domain/ledger-events";
import { ITEM_KIND, unitRange, type Item, type Layout } from "../domain/packing";
import type { MappingBatchInfo, MappingShipmentFacts } from "./ports";

/**
 * What the binding knows of the ledger, folded from the LedgerFeed in chain order with the
 * domain's custody reducer (api/domain/custody.ts, the same rules as the contract): batches and
 * their layout, products, shipments as created, and each batch's custody (balances, pending
 * shipments, the pack ledger). The projector uses it for the mapping context and for visibility
 * (who held what when an event happened); capture uses it for its semantic checks (does the
 * member hold these packs? which pending shipment does this receiving accept?).
 *
 * In memory only: after a restart the projector replays the feed up to its cursor (no writes),
 * which costs about a second per 100,000 events here.
 */
export interface BatchFacts extends MappingBatchInfo {
  batchId: string;
  quantity: bigint;
  markets: string[];
  serialCount: number;
  unitsPerCase: number;
  casesPerPallet: number;
}

export interface ProductFacts {
  gtin: string;
  owner: string;
  status: "Active" | "Withdrawn";
  markets: string[];
}

const gtin14 = (v: unknown) => String(v).padStart(14, "0");

export class LedgerState {
  readonly batches = new Map<string, BatchFacts>();
  private readonly byGtinLot = new Map<string, string>();
  readonly products = new Map<string, ProductFacts>();
  /**
   * Shipments as created, while they are open: the facts of a settled one (accepted, rejected,
   * cancelled, recovered) are dropped once the event after its settlement is applied, so the
   * mapping of the settling event still finds them and memory follows the open shipments, not
   * every shipment the ledger ever had.
   */
  readonly shipments = new Map<string, MappingShipmentFacts & { batchId: string; quantity: string }>();
  private settled: string | undefined;
  private readonly custody = new Map<string, CustodyState>();
  /** Licences: prefix key → licensees. */
  private readonly licences = new Map<string, Set<string>>();
  applied = 0;

  /** Forgets everything applied (a replay that failed half-way starts again from nothing). */
  reset(): void {
    for (const m of [this.batches, this.byGtinLot, this.products, this.shipments, this.custody, this.licences]) m.clear();
    this.settled = undefined;
    this.applied = 0;
  }

  apply(e: LedgerEvent): void {
    this.applied++;
    if (this.settled !== undefined) {
      this.shipments.delete(this.settled);
      this.settled = undefined;
    }
    const a = e.args;
    switch (e.name) {
      case "ShipmentAccepted":
      case "ShipmentRejected":
      case "ShipmentCancelled":
      case "ShipmentRecovered":
        this.settled = String(a.shipmentId);
        break;
      case "BatchMinted": {
        const facts: BatchFacts = {
          batchId: e.batchId,
          gtin: gtin14(a.gtin),
          lot: String(a.lot),
          expiryDay: Number(a.expiryDay),
          producer: String(a.producer),
          quantity: BigInt(String(a.quantity)),
          serialCount: Number(a.serialCount ?? 0),
          unitsPerCase: 0,
          casesPerPallet: 0,
          markets: [],
          mintedAt: e.blockTime,
        };
        this.batches.set(e.batchId, facts);
        this.byGtinLot.set(`${facts.gtin}|${facts.lot}`, e.batchId);
        break;
      }
      case "BatchMarkets": {
        const b = this.batches.get(e.batchId);
        if (b) b.markets = [...(a.markets as string[])];
        break;
      }
      case "BatchPacked": {
        const b = this.batches.get(e.batchId);
        if (b) {
          b.unitsPerCase = Number(a.unitsPerCase);
          b.casesPerPallet = Number(a.casesPerPallet);
        }
        break;
      }
      case "ShipmentCreated":
        this.shipments.set(String(a.shipmentId), {
          kind: Number(a.kind),
          sender: String(a.sender),
          receiver: String(a.receiver),
          items: itemsOf(e).map((i) => ({ ...i })),
          referenceHash: String(a.referenceHash),
          batchId: e.batchId,
          quantity: String(a.quantity),
          shippedAt: e.blockTime,
        });
        break;
      case "ProductRegistered":
      case "ProductUpdated": {
        const gtin = gtin14(a.gtin);
        const prev = this.products.get(gtin);
        this.products.set(gtin, { gtin, owner: String(a.owner), status: prev?.status ?? "Active", markets: [...(a.markets as string[])] });
        break;
      }
      case "ProductStatusChanged": {
        const p = this.products.get(gtin14(a.gtin));
        if (p) p.status = Number(a.status) === 2 ? "Withdrawn" : "Active";
        break;
      }
      case "PrefixLicenceChanged": {
        const key = String(a.prefixKey);
        const set = this.licences.get(key) ?? new Set<string>();
        if (a.granted === true) set.add(String(a.licensee).toLowerCase());
        else set.delete(String(a.licensee).toLowerCase());
        this.licences.set(key, set);
        break;
      }
    }
    if (e.batchId !== "0") {
      let s = this.custody.get(e.batchId);
      if (!s) {
        s = emptyCustody(e.batchId);
        this.custody.set(e.batchId, s);
      }
      applyEvent(s, e);
    }
  }

  batch(batchId: string): BatchFacts | undefined {
    return this.batches.get(batchId);
  }

  batchByGtinLot(gtin: string, lot: string): BatchFacts | undefined {
    const id = this.byGtinLot.get(`${gtin}|${lot}`);
    return id === undefined ? undefined : this.batches.get(id);
  }

  layout(batchId: string): Layout | undefined {
    const b = this.batches.get(batchId);
    return b && { units: b.serialCount, unitsPerCase: b.unitsPerCase, casesPerPallet: b.casesPerPallet };
  }

  custodyOf(batchId: string): CustodyState | undefined {
    return this.custody.get(batchId);
  }

  /** Whether `member` holds pack `unit` (loose or in a container it holds). */
  holdsUnit(member: string, batchId: string, unit: number): boolean {
    const v = this.custody.get(batchId)?.packs?.unit(unit);
    return !!v && v.state === "Held" && sameAddress(v.holder, member);
  }

  /** Whether `member` holds container (kind, index) sealed or opened by it, with nothing of it elsewhere. */
  holdsContainer(member: string, batchId: string, kind: number, index: number): boolean {
    const book = this.custody.get(batchId)?.packs;
    if (!book) return false;
    const c = book.container(kind, index);
    if (c.state !== "Held" || !sameAddress(c.holder, member)) return false;
    // A sealed container held by the member: everything in it is with the member.
    return true;
  }

  /** Balance of `member` in a batch. */
  balance(member: string, batchId: string): bigint {
    const holders = this.custody.get(batchId)?.holders;
    if (!holders) return 0n;
    for (const [who, q] of holders) if (sameAddress(who, member)) return q;
    return 0n;
  }

  /** Pending shipments addressed to `receiver`. */
  pendingTo(receiver: string): PendingShipment[] {
    const out: PendingShipment[] = [];
    for (const s of this.custody.values()) for (const p of s.pending.values()) if (sameAddress(p.receiver, receiver)) out.push(p);
    return out;
  }

  /** Accounts that hold stock of a batch now or have it in a pending shipment, and its producer. */
  stakeholders(batchId: string): string[] {
    const s = this.custody.get(batchId);
    const out = new Set<string>();
    if (!s) return [];
    if (s.producer) out.add(s.producer.toLowerCase());
    for (const who of s.holders.keys()) out.add(who.toLowerCase());
    for (const p of s.pending.values()) {
      out.add(p.sender.toLowerCase());
      out.add(p.receiver.toLowerCase());
    }
    return [...out];
  }

  quarantinesOf(batchId: string): string[] {
    return [...(this.custody.get(batchId)?.quarantines ?? [])];
  }

  /** Whether `producer` may mint `gtin`: it owns the product, or holds a licence for its prefix. */
  mayMint(producer: string, gtin: string, prefixKeyOf: (gtin: string) => string[]): boolean {
    const p = this.products.get(gtin);
    if (!p) return false;
    if (sameAddress(p.owner, producer)) return true;
    return prefixKeyOf(gtin).some((k) => this.licences.get(k)?.has(producer.toLowerCase()));
  }
}

export function sameAddress(a: string | undefined, b: string | undefined): boolean {
  return !!a && !!b && a.toLowerCase() === b.toLowerCase();
}

/** The unit indexes items cover, as [first, end) ranges. */
export function unitRangesOf(layout: Layout, items: readonly Item[]): Array<[number, number]> {
  return items.map((i) => {
    if (i.kind === ITEM_KIND.Units) return [i.start, i.start + i.count] as [number, number];
    const [first] = unitRange(layout, i.kind, i.start);
    const [, end] = unitRange(layout, i.kind, i.start + i.count - 1);
    return [first, end] as [number, number];
  });
}
