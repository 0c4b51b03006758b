import { gs1CheckDigit, hasValidCheckDigit } from "./gs1";

/**
 * The aggregation of a serialised batch, as BatchToken declares it at mint: cases of
 * `unitsPerCase` consecutive unit indexes, pallets of `casesPerPallet` consecutive cases, each
 * identified by an SSCC (AI 00); and the items that name what a shipment or a state change
 * covers. Pure functions shared by the client, the tasks, the read side and the tests.
 */

/** IBatchToken.ItemKind. */
export const ITEM_KIND = { Units: 0, Case: 1, Pallet: 2 } as const;
export type ItemKindName = keyof typeof ITEM_KIND;
export const ITEM_KIND_NAMES = ["Units", "Case", "Pallet"] as const;

/** IBatchToken.Item: `count` consecutive units, cases or pallets from `start`. */
export interface Item {
  kind: number;
  start: number;
  count: number;
}

export const units = (start: number, count = 1): Item => ({ kind: ITEM_KIND.Units, start, count });
export const cases = (start: number, count = 1): Item => ({ kind: ITEM_KIND.Case, start, count });
export const pallets = (start: number, count = 1): Item => ({ kind: ITEM_KIND.Pallet, start, count });

export interface Layout {
  units: number;
  unitsPerCase: number;
  casesPerPallet: number;
}

export const caseCount = (l: Layout): number => (l.unitsPerCase === 0 ? 0 : Math.ceil(l.units / l.unitsPerCase));
export const palletCount = (l: Layout): number => (l.casesPerPallet === 0 ? 0 : Math.ceil(caseCount(l) / l.casesPerPallet));

/** How many units, cases or pallets a batch has. */
export function limitOf(l: Layout, kind: number): number {
  if (kind === ITEM_KIND.Units) return l.units;
  if (kind === ITEM_KIND.Case) return caseCount(l);
  return palletCount(l);
}

/** The unit index range [first, end) of container `index` of `kind`. */
export function unitRange(l: Layout, kind: number, index: number): [number, number] {
  if (kind === ITEM_KIND.Units) return [index, index + 1];
  const firstCase = kind === ITEM_KIND.Pallet ? index * l.casesPerPallet : index;
  const endCase = kind === ITEM_KIND.Pallet ? firstCase + l.casesPerPallet : firstCase + 1;
  return [Math.min(firstCase * l.unitsPerCase, l.units), Math.min(endCase * l.unitsPerCase, l.units)];
}

/** Units an item covers. */
export function itemUnits(l: Layout, item: Item): number {
  if (item.kind === ITEM_KIND.Units) return item.count;
  const [first] = unitRange(l, item.kind, item.start);
  const [, end] = unitRange(l, item.kind, item.start + item.count - 1);
  return end - first;
}

/** Why an item does not fit a layout, or undefined. */
export function itemProblem(l: Layout, item: Item): string | undefined {
  if (![0, 1, 2].includes(item.kind)) return `kind ${item.kind} is not Units (0), Case (1) or Pallet (2)`;
  if (!Number.isInteger(item.start) || item.start < 0 || !Number.isInteger(item.count) || item.count < 1) return "start must be ≥ 0 and count ≥ 1";
  const limit = limitOf(l, item.kind);
  if (item.start + item.count > limit) return `${ITEM_KIND_NAMES[item.kind]} ${item.start}…${item.start + item.count - 1} reaches past the batch's ${limit} ${ITEM_KIND_NAMES[item.kind].toLowerCase()}`;
  return undefined;
}

/** The case (and pallet) a unit is in; undefined where the batch has none. */
export function containersOf(l: Layout, unit: number): { case?: number; pallet?: number } {
  if (l.unitsPerCase === 0) return {};
  const c = Math.floor(unit / l.unitsPerCase);
  return l.casesPerPallet === 0 ? { case: c } : { case: c, pallet: Math.floor(c / l.casesPerPallet) };
}

// ─── SSCC (AI 00): extension digit, GS1 Company Prefix, serial reference, check digit ─────────

/** An SSCC of 18 digits from an extension digit, a company prefix and a serial reference. */
export function sscc(extension: number, companyPrefix: string, serialReference: number | bigint): string {
  if (!Number.isInteger(extension) || extension < 0 || extension > 9) throw new RangeError("the SSCC extension digit is 0–9");
  if (!/^\d{6,12}$/.test(companyPrefix)) throw new RangeError("a GS1 Company Prefix has 6 to 12 digits");
  const refDigits = 16 - companyPrefix.length;
  const ref = String(serialReference);
  if (!/^\d+$/.test(ref) || ref.length > refDigits) throw new RangeError(`the serial reference must fit ${refDigits} digits after a ${companyPrefix.length}-digit prefix`);
  const body = `${extension}${companyPrefix}${ref.padStart(refDigits, "0")}`;
  return body + gs1CheckDigit(body);
}

export function isSscc(value: string): boolean {
  return /^\d{18}$/.test(value) && hasValidCheckDigit(value);
}

/** Packing leaves as BatchToken commits them: `[level (1 case, 2 pallet), index, sscc]`. */
export const PACKING_TREE_TYPES = ["uint8", "uint256", "uint256"] as const;
export const PACKING_LEVEL = { Case: 1, Pallet: 2 } as const;

export interface PackingList {
  /** SSCC of each case, by case index. */
  cases: string[];
  /** SSCC of each pallet, by pallet index. */
  pallets: string[];
}

/** The packing tree's leaf values, cases first, then pallets. */
export function packingValues(p: PackingList): [number, number, bigint][] {
  return [
    ...p.cases.map((s, i): [number, number, bigint] => [PACKING_LEVEL.Case, i, BigInt(s)]),
    ...p.pallets.map((s, i): [number, number, bigint] => [PACKING_LEVEL.Pallet, i, BigInt(s)]),
  ];
}

/**
 * SSCCs for every case and pallet of a layout: consecutive serial references from `firstReference`
 * under `companyPrefix` (extension 0 for cases, 1 for pallets, as many packers label them).
 */
export function assignSsccs(l: Layout, companyPrefix: string, firstReference: number): PackingList {
  return {
    cases: Array.from({ length: caseCount(l) }, (_, i) => sscc(0, companyPrefix, firstReference + i)),
    pallets: Array.from({ length: palletCount(l) }, (_, i) => sscc(1, companyPrefix, firstReference + i)),
  };
}

/**
 * The company prefix key as the Consortium stores it: (digits << 40) | value. The prefix of a
 * GTIN-14 is digits 2 … 1 + n (after the indicator digit).
 */
export function prefixKey(prefix: string): bigint {
  if (!/^\d{6,12}$/.test(prefix)) throw new RangeError(`"${prefix}" is not a GS1 Company Prefix (6 to 12 digits)`);
  return (BigInt(prefix.length) << 40n) | BigInt(prefix);
}

export function prefixOfKey(key: bigint): string {
  const digits = Number(key >> 40n);
  return String(key & ((1n << 40n) - 1n)).padStart(digits, "0");
}

/** Whether `gtin` (14 digits) falls under `prefix`. */
export function gtinUnderPrefix(gtin: string, prefix: string): boolean {
  return gtin.slice(1, 1 + prefix.length) === prefix;
}
