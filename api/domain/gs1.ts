/**
 * GS1 identifier rules shared by scripts, the relay and tests: the mod-10 check digit of
 * GTIN/GLN/SSCC, character set 82, and expiry dates (AI 17, YYMMDD with day 00 = month end).
 * Pure functions, no I/O.
 */

/** GS1 AI encodable character set 82: `!"%&'()*+,-./0-9:;<=>?A-Z_a-z`. */
export const CSET82 = /^[!"%&'()*+,\-./0-9:;<=>?A-Z_a-z]*$/;

/** The check digit for `digits` (all digits before the check digit). */
export function gs1CheckDigit(digits: string): number {
  if (!/^\d+$/.test(digits)) throw new TypeError(`GS1 data digits must be decimal digits, got "${digits}"`);
  let sum = 0;
  // From the rightmost data digit leftwards the weights are 3, 1, 3, 1, …
  for (let i = digits.length - 1, weight = 3; i >= 0; i--, weight = 4 - weight) {
    sum += (digits.charCodeAt(i) - 48) * weight;
  }
  return (10 - (sum % 10)) % 10;
}

/** Whether the last digit of `code` is the GS1 check digit of the digits before it. */
export function hasValidCheckDigit(code: string): boolean {
  return /^\d{2,}$/.test(code) && gs1CheckDigit(code.slice(0, -1)) === Number(code.at(-1));
}

/** Appends the check digit to `digits`. */
export function withCheckDigit(digits: string): string {
  return digits + gs1CheckDigit(digits);
}

/** Whether `gtin` is a 14-digit GTIN with a valid check digit. */
export function isGtin14(gtin: string): boolean {
  return /^\d{14}$/.test(gtin) && hasValidCheckDigit(gtin);
}

/** Whether `gln` is a 13-digit GLN with a valid check digit. */
export function isGln(gln: string): boolean {
  return /^\d{13}$/.test(gln) && hasValidCheckDigit(gln);
}

/** Whether `value` has 1–20 characters of GS1 set 82 (AI 10 lot, AI 21 serial). */
export function isCset82Field(value: string): boolean {
  return value.length >= 1 && value.length <= 20 && CSET82.test(value);
}

const MS_PER_DAY = 86_400_000;

/** Days since 1970-01-01 UTC of a calendar date. */
export function dayNumber(year: number, month: number, day: number): number {
  return Date.UTC(year, month - 1, day) / MS_PER_DAY;
}

/** Days since 1970-01-01 UTC of the UTC day that contains `date`. */
export function dayNumberOf(date: Date): number {
  return Math.floor(date.getTime() / MS_PER_DAY);
}

/** ISO date (YYYY-MM-DD) of a day number. */
export function isoDate(day: number): string {
  let iso = isoDates.get(day);
  if (iso === undefined) {
    iso = new Date(day * MS_PER_DAY).toISOString().slice(0, 10);
    // A few thousand distinct days are ever asked for (expiries, today): memoised, bounded anyway.
    if (isoDates.size >= 10_000) isoDates.clear();
    isoDates.set(day, iso);
  }
  return iso;
}
const isoDates = new Map<number, string>();

/**
 * Day number of a GS1 date (AI 11/15/17, YYMMDD). Day 00 means the last day of the month.
 * Years follow GS1 General Specifications 7.12: the century is chosen so that the year falls
 * between 49 years before and 50 years after the current year.
 * Returns undefined for an impossible date (month 13, 31 April, …): never rolls over.
 */
export function gs1DateToDay(yymmdd: string, now: Date = new Date()): number | undefined {
  const m = /^(\d{2})(\d{2})(\d{2})$/.exec(yymmdd);
  if (!m) return undefined;
  const yy = Number(m[1]);
  const month = Number(m[2]);
  let day = Number(m[3]);
  if (month < 1 || month > 12) return undefined;
  const currentYear = now.getUTCFullYear();
  const currentCentury = currentYear - (currentYear % 100);
  const diff = yy - (currentYear % 100);
  let year = currentCentury + yy;
  if (diff >= 51) year -= 100;
  else if (diff <= -50) year += 100;
  const lastDay = new Date(Date.UTC(year, month, 0)).getUTCDate();
  if (day === 0) day = lastDay;
  if (day > lastDay) return undefined;
  return dayNumber(year, month, day);
}

/** GS1 YYMMDD form of a day number. */
export function dayToGs1Date(day: number): string {
  const iso = isoDate(day);
  return iso.slice(2, 4) + iso.slice(5, 7) + iso.slice(8, 10);
}
