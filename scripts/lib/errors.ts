/**
 * An error a person can fix: printed as one line ("what is wrong — what to do"), never as a
 * stack trace. `code` is stable so scripts and tests can match on it.
 */
export class UserError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = "UserError";
  }

  oneLine(): string {
    return `error ${this.code}: ${this.message}${this.hint ? ` — ${this.hint}` : ""}`;
  }
}

/** Names the custom error inside an ethers revert, if the ABI knows it. */
export function revertName(err: unknown, decode: (data: string) => { name: string; args: unknown[] } | null): string | undefined {
  const data = findRevertData(err);
  if (!data) return undefined;
  const parsed = decode(data);
  return parsed ? parsed.name : undefined;
}

/** Walks an ethers/Hardhat error chain for the revert data (`0x` + selector + args). */
export function findRevertData(err: unknown): string | undefined {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0) {
    const e = queue.shift();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const o = e as Record<string, unknown>;
    for (const key of ["data", "revertData"]) {
      const v = o[key];
      if (typeof v === "string" && /^0x[0-9a-fA-F]{8,}$/.test(v)) return v;
    }
    for (const key of ["error", "info", "cause", "data", "value"]) if (o[key] && typeof o[key] === "object") queue.push(o[key]);
  }
  return undefined;
}
