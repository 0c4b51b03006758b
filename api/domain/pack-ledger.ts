import { ITEM_KIND, caseCount, limitOf, palletCount, unitRange, type Item, type Layout } from "./packing";

/**
 * Who holds each serialised pack of a batch, and in which state, rebuilt from events: the same
 * representation and rules as contracts/libraries/PackLedger.sol (sealed containers with one
 * record, opened containers whose untouched packs stay with the opener, detached packs with a state
 * of their own), so the read side, the audit and the demo answer what the chain would.
 * Holders are member accounts (addresses). Pure: no I/O.
 */

/** IBatchToken.PackState by index. */
export const PACK_STATE_NAMES = ["None", "Held", "Unpacked", "InTransit", "Dispensed", "Destroyed", "Stolen", "Sample", "FreeSample", "Exported", "Locked"] as const;
export type PackStateName = (typeof PACK_STATE_NAMES)[number];

/** States a pack leaves circulation in (burned), final or revertible. */
export const OUT_OF_CIRCULATION: readonly PackStateName[] = ["Dispensed", "Destroyed", "Stolen", "Sample", "FreeSample", "Exported"];

export interface PackRecord {
  state: PackStateName;
  /** The member that holds it, sent it (InTransit) or set its state; "" when unknown. */
  holder: string;
  /** Day number the state was set (final and revertible states), else 0. */
  day: number;
}

/** A pack as resolved: its state, who, since which day, and its containers. */
export interface PackView extends PackRecord {
  unit: number;
  case?: number;
  pallet?: number;
  /** Whether the pack is out of its case (it has a state of its own). */
  detached: boolean;
}

/** What went wrong applying an event: the ledger is inconsistent (the audit reports it). */
export class PackLedgerAnomaly extends Error {}

const HELD: PackStateName = "Held";

/**
 * Where a book keeps its records of one kind, by index: a Map by default; the read side's index
 * passes SQLite-backed maps, so it applies these very rules to its tables.
 */
export interface RecordMap {
  get(index: number): PackRecord | undefined;
  set(index: number, record: PackRecord): void;
  keys(): Iterable<number>;
  values(): Iterable<PackRecord>;
  readonly size: number;
}

export interface PackMaps {
  cases: RecordMap;
  pallets: RecordMap;
  detached: RecordMap;
}

export class PackBook {
  readonly cases: RecordMap;
  readonly pallets: RecordMap;
  /** Detached packs, by unit index: Held (loose in `holder`'s hands), InTransit, or a state of their own. */
  readonly detached: RecordMap;

  constructor(
    readonly layout: Layout,
    readonly producer: string,
    maps?: PackMaps,
  ) {
    this.cases = maps?.cases ?? new Map<number, PackRecord>();
    this.pallets = maps?.pallets ?? new Map<number, PackRecord>();
    this.detached = maps?.detached ?? new Map<number, PackRecord>();
  }

  // ── Reading ──

  /** A pallet's state (untouched: sealed at the producer). */
  pallet(p: number): PackRecord {
    return this.pallets.get(p) ?? { state: HELD, holder: this.producer, day: 0 };
  }

  /** A case's effective state and whether it has it from its sealed pallet. */
  case(c: number): PackRecord & { inSealedPallet: boolean } {
    const own = this.cases.get(c);
    if (own) return { ...own, inSealedPallet: false };
    if (this.layout.casesPerPallet === 0) return { state: HELD, holder: this.producer, day: 0, inSealedPallet: false };
    const p = this.pallet(Math.floor(c / this.layout.casesPerPallet));
    if (p.state !== "Unpacked") return { ...p, inSealedPallet: true };
    return { state: HELD, holder: p.holder, day: 0, inSealedPallet: false };
  }

  /** A container's effective state (kind Case or Pallet). */
  container(kind: number, index: number): PackRecord & { inSealedPallet: boolean } {
    return kind === ITEM_KIND.Case ? this.case(index) : { ...this.pallet(index), inSealedPallet: false };
  }

  /** A pack's state, resolved through its containers as the contract's `packState` does, with its holder's account. */
  unit(u: number): PackView {
    const containers = this.containersOf(u);
    const own = this.detached.get(u);
    if (own) return { unit: u, ...own, ...containers, detached: true };
    if (containers.case === undefined) return { unit: u, state: HELD, holder: this.producer, day: 0, detached: false };
    const c = this.case(containers.case);
    if (c.state === "Unpacked") return { unit: u, state: HELD, holder: c.holder, day: 0, ...containers, detached: false };
    return { unit: u, state: c.state, holder: c.holder, day: c.day, ...containers, detached: false };
  }

  /** The record a pack or container has of its own (undefined when untouched). */
  ownRecord(kind: number, index: number): PackRecord | undefined {
    return this.records(kind).get(index);
  }

  containersOf(u: number): { case?: number; pallet?: number } {
    if (this.layout.unitsPerCase === 0) return {};
    const c = Math.floor(u / this.layout.unitsPerCase);
    return this.layout.casesPerPallet === 0 ? { case: c } : { case: c, pallet: Math.floor(c / this.layout.casesPerPallet) };
  }

  /**
   * Packs each member holds (held or locked: both count in its ERC-1155 balance), without
   * resolving every pack: sealed containers count whole, opened ones count their untouched packs.
   */
  holdings(): Map<string, number> {
    const out = new Map<string, number>();
    const add = (who: string, n: number) => n > 0 && out.set(who, (out.get(who) ?? 0) + n);
    const held = (r: PackRecord) => r.state === HELD || r.state === "Locked";
    const detachedIn = (first: number, end: number) => {
      let n = 0;
      for (const u of this.detached.keys()) if (u >= first && u < end) n++;
      return n;
    };
    const l = this.layout;
    for (const r of this.detached.values()) if (held(r)) add(r.holder, 1);
    if (l.unitsPerCase === 0) {
      add(this.producer, l.units - this.detached.size);
      return out;
    }
    // Detached packs per case, counted once.
    const perCase = new Map<number, number>();
    for (const u of this.detached.keys()) {
      const c = Math.floor(u / l.unitsPerCase);
      perCase.set(c, (perCase.get(c) ?? 0) + 1);
    }
    const countCase = (c: number) => {
      const eff = this.case(c);
      const [first, end] = unitRange(l, ITEM_KIND.Case, c);
      if (eff.state === "Unpacked") add(eff.holder, end - first - (perCase.get(c) ?? 0));
      else if (held(eff)) add(eff.holder, end - first);
    };
    if (l.casesPerPallet === 0) {
      for (let c = 0; c < caseCount(l); c++) countCase(c);
      return out;
    }
    for (let p = 0; p < palletCount(l); p++) {
      const pr = this.pallet(p);
      const [firstCase, endCase] = [p * l.casesPerPallet, Math.min((p + 1) * l.casesPerPallet, caseCount(l))];
      if (pr.state === "Unpacked") {
        for (let c = firstCase; c < endCase; c++) countCase(c);
      } else if (held(pr)) {
        const [first, end] = unitRange(l, ITEM_KIND.Pallet, p);
        add(pr.holder, end - first - detachedIn(first, end));
      }
    }
    return out;
  }

  // ── Changing (event by event, in chain order) ──

  /** A container opened by `holder` (explicitly, or on the way to taking something out of it). */
  open(holder: string, kind: number, index: number): void {
    const eff = this.container(kind, index);
    if (eff.state === "Unpacked" && eff.holder === holder) return; // already open
    if (eff.state !== HELD || eff.holder !== holder) throw new PackLedgerAnomaly(`${kindName(kind)} ${index} opened by ${holder} but it is ${eff.state} with ${eff.holder}`);
    if (eff.inSealedPallet) this.pallets.set(Math.floor(index / this.layout.casesPerPallet), { state: "Unpacked", holder, day: 0 });
    this.records(kind).set(index, { state: "Unpacked", holder, day: 0 });
  }

  /**
   * Takes `items` out of `from`'s custody into `into` (InTransit, a final or revertible state,
   * Locked); with `withLocked`, what `from` locked is taken too (governance recovery). Returns the
   * number of packs. Sealed containers something is taken out of are opened.
   */
  take(from: string, items: readonly Item[], into: PackStateName, day: number, withLocked = false): number {
    let quantity = 0;
    // As the contract records it: the day for every state it writes a record for; a single pack in
    // transit has only its transit bit (no record, so no day), a container in transit a record.
    const record = (kind: number): PackRecord => ({ state: into, holder: from, day: into === "InTransit" && kind === ITEM_KIND.Units ? 0 : day });
    for (const item of items) {
      this.checkItem(item);
      for (let k = item.start; k < item.start + item.count; k++) {
        if (item.kind === ITEM_KIND.Units) {
          const v = this.unit(k);
          const ok = (v.state === HELD || (withLocked && v.state === "Locked")) && v.holder === from;
          if (!ok) throw new PackLedgerAnomaly(`pack ${k} taken from ${from} but it is ${v.state} with ${v.holder || "someone"}`);
          if (!v.detached && v.case !== undefined) {
            const c = this.case(v.case);
            if (c.state === HELD) this.open(from, ITEM_KIND.Case, v.case);
          }
          this.detached.set(k, record(ITEM_KIND.Units));
          quantity += 1;
        } else {
          const c = this.container(item.kind, k);
          const ok = (c.state === HELD || (withLocked && c.state === "Locked")) && c.holder === from;
          if (!ok) throw new PackLedgerAnomaly(`${kindName(item.kind)} ${k} taken from ${from} but it is ${c.state} with ${c.holder}`);
          if (c.inSealedPallet) this.open(from, ITEM_KIND.Pallet, Math.floor(k / this.layout.casesPerPallet));
          this.records(item.kind).set(k, record(item.kind));
          const [first, end] = unitRange(this.layout, item.kind, k);
          quantity += end - first;
        }
      }
    }
    return quantity;
  }

  /** Puts `items`, all in transit, into `to`'s custody. */
  place(to: string, items: readonly Item[]): void {
    for (const item of items) {
      for (let k = item.start; k < item.start + item.count; k++) {
        const map = this.records(item.kind);
        const r = map.get(k);
        if (r?.state !== "InTransit") throw new PackLedgerAnomaly(`${kindName(item.kind)} ${k} placed with ${to} but it is ${r?.state ?? "untouched"}`);
        map.set(k, { state: HELD, holder: to, day: 0 });
      }
    }
  }

  /** A pack dispensed by `pharmacy` on `day` (the pharmacy held it, loose or in a case). */
  dispense(pharmacy: string, unit: number, day: number): void {
    this.take(pharmacy, [{ kind: ITEM_KIND.Units, start: unit, count: 1 }], "Dispensed", day);
  }

  /** Items set to a revertible or final state by `holder` come back to it (undo, revert, unlock). */
  release(holder: string, items: readonly Item[], from: readonly PackStateName[]): number {
    let quantity = 0;
    for (const item of items) {
      for (let k = item.start; k < item.start + item.count; k++) {
        const map = this.records(item.kind);
        const r = map.get(k);
        if (!r || !from.includes(r.state) || r.holder !== holder) {
          throw new PackLedgerAnomaly(`${kindName(item.kind)} ${k} released to ${holder} but it is ${r?.state ?? "untouched"} of ${r?.holder ?? "nobody"}`);
        }
        map.set(k, { state: HELD, holder, day: 0 });
        const [first, end] = unitRange(this.layout, item.kind, k);
        quantity += end - first;
      }
    }
    return quantity;
  }

  private records(kind: number): RecordMap {
    return kind === ITEM_KIND.Units ? this.detached : kind === ITEM_KIND.Case ? this.cases : this.pallets;
  }

  private checkItem(item: Item): void {
    if (item.count < 1 || item.start + item.count > limitOf(this.layout, item.kind)) {
      throw new PackLedgerAnomaly(`${kindName(item.kind)} ${item.start}+${item.count} does not fit the batch`);
    }
  }
}

function kindName(kind: number): string {
  return ["pack", "case", "pallet"][kind] ?? `kind ${kind}`;
}
