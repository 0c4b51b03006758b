import type { LedgerState } from "../ledger-state";
import type { ListSource } from "../ports";
import type { EpcisStore } from "../store";

/**
 * The serial and packing lists the binding can name packs with: those captured with
 * commissioning events (this store), then those of another source (the read side's uploads),
 * resolved to batch ids through the ledger state.
 */
export class CapturedListSource implements ListSource {
  private readonly cache = new Map<string, { serials: string[]; cases: string[]; pallets: string[] } | null>();

  constructor(
    private readonly store: EpcisStore,
    private readonly state: LedgerState,
    private readonly fallback?: ListSource,
  ) {}

  private listOf(batchId: string) {
    const hit = this.cache.get(batchId);
    if (hit !== undefined) return hit ?? undefined;
    const b = this.state.batch(batchId);
    const list = b ? this.store.capturedList(b.gtin, b.lot) : undefined;
    // Only a batch on the ledger is cached (a list captured for a batch not minted yet may come later).
    if (b) this.cache.set(batchId, list ?? null);
    return list;
  }

  serialsOf(batchId: string): readonly string[] | undefined {
    return this.listOf(batchId)?.serials ?? this.fallback?.serialsOf(batchId);
  }

  ssccOf(batchId: string, kind: number, index: number): string | undefined {
    const l = this.listOf(batchId);
    const own = kind === 1 ? l?.cases[index] : kind === 2 ? l?.pallets[index] : undefined;
    return own ?? this.fallback?.ssccOf(batchId, kind, index);
  }

  findSgtin(gtin: string, serial: string): { batchId: string; unit: number } | undefined {
    const hit = this.store.findSgtin(gtin, serial);
    const b = hit && this.state.batchByGtinLot(gtin, hit.lot);
    if (hit && b) return { batchId: b.batchId, unit: hit.unit };
    return this.fallback?.findSgtin(gtin, serial);
  }

  findSscc(sscc: string): { batchId: string; kind: number; index: number } | undefined {
    const hit = this.store.findSscc(sscc);
    const b = hit && this.state.batchByGtinLot(hit.gtin, hit.lot);
    if (hit && b) return { batchId: b.batchId, kind: hit.kind, index: hit.index };
    return this.fallback?.findSscc(sscc);
  }
}
