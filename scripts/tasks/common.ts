import fs from "node:fs";
import { HardhatPluginError } from "hardhat/plugins";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import { ethers, type Signer } from "ethers";
import { loadSystem, type SystemContracts } from "../lib/deployment";
import { DEMO_GOVERNOR_INDICES, DEMO_MEMBERS } from "../lib/consortium-setup";
import { findRevertData, UserError } from "../lib/errors";
import { dayNumber, gs1DateToDay, isGtin14 } from "../../api/domain/gs1";
import { batchTokenInterface } from "../../api/chain/logs";
import {
  BATCH_STATUS_NAMES,
  MEMBER_STATUS_NAMES,
  ROLE_NAMES,
} from "../../api/domain/ledger-enums";
import {
  Consortium__factory,
  ConsortiumForwarder__factory,
} from "../../typechain-types";

const PLUGIN = "medtrace";
const errorInterfaces = [
  batchTokenInterface,
  Consortium__factory.createInterface(),
  ConsortiumForwarder__factory.createInterface(),
];

/** Names a contract revert inside an ethers error: `ErrorName(arg, …)`. */
export function describeRevert(err: unknown): string | undefined {
  const data = findRevertData(err);
  if (!data) return undefined;
  for (const iface of errorInterfaces) {
    try {
      const parsed = iface.parseError(data);
      if (parsed) {
        const args = parsed.fragment.inputs.map(
          (input, i) =>
            `${input.name}=${enumName(parsed.name, input.name, parsed.args[i])}`,
        );
        return `${parsed.name}(${args.join(", ")})`;
      }
    } catch {
      // not this interface
    }
  }
  return `unknown revert ${data.slice(0, 10)}`;
}

/** Enum arguments of the contracts' errors by name, for people. */
function enumName(error: string, param: string, value: unknown): string {
  if (["from", "to", "role"].includes(param))
    return ROLE_NAMES[Number(value)] ?? String(value);
  if (param === "status")
    return (
      (error.startsWith("Consortium")
        ? MEMBER_STATUS_NAMES
        : BATCH_STATUS_NAMES)[Number(value)] ?? String(value)
    );
  return String(value);
}

/**
 * Runs a task body and turns what a person can fix into one line: UserErrors and contract
 * reverts (by custom error name), never a stack trace.
 */
export async function taskBody<T>(body: () => Promise<T>): Promise<T> {
  try {
    return await body();
  } catch (err) {
    if (err instanceof UserError)
      throw new HardhatPluginError(PLUGIN, err.oneLine());
    const revert = describeRevert(err);
    if (revert)
      throw new HardhatPluginError(
        PLUGIN,
        `error CALL_REVERTED: the contract refused the call: ${revert} — see contracts/interfaces for what it means`,
      );
    throw err;
  }
}

export async function system(
  hre: HardhatRuntimeEnvironment,
): Promise<SystemContracts> {
  return loadSystem(hre);
}

const NAMED_ACCOUNTS: Record<string, number> = {
  deployer: 0,
  ...Object.fromEntries(
    DEMO_GOVERNOR_INDICES.map((i, n) => [`governor${n + 1}`, i]),
  ),
  ...Object.fromEntries(DEMO_MEMBERS.map((m) => [m.key, m.account])),
};

/**
 * The signer a task acts as: a name of the demo layout (producer, governor1, …), an account
 * index, or an address among the network's accounts.
 */
export async function actor(
  hre: HardhatRuntimeEnvironment,
  as: string,
): Promise<Signer & { address: string }> {
  const accounts = await hre.ethers.getSigners();
  let index: number | undefined;
  if (as in NAMED_ACCOUNTS) index = NAMED_ACCOUNTS[as];
  else if (/^\d+$/.test(as)) index = Number(as);
  else if (ethers.isAddress(as))
    index = accounts.findIndex(
      (a) => a.address.toLowerCase() === as.toLowerCase(),
    );
  if (index === undefined || index < 0 || index >= accounts.length) {
    throw new UserError(
      "UNKNOWN_ACCOUNT",
      `--as "${as}" is not one of this network's ${accounts.length} accounts`,
      `use a name (${Object.keys(NAMED_ACCOUNTS).join(", ")}), an index, or an address whose key is configured for network "${hre.network.name}"`,
    );
  }
  return accounts[index];
}

/** An address from an address or a demo name. */
export async function addressOf(
  hre: HardhatRuntimeEnvironment,
  who: string,
): Promise<string> {
  if (ethers.isAddress(who)) return ethers.getAddress(who);
  return (await actor(hre, who)).address;
}

export function parseGtin(gtin: string): bigint {
  const g = gtin.trim();
  const padded = /^\d{8}$|^\d{12,14}$/.test(g) ? g.padStart(14, "0") : g;
  if (!isGtin14(padded)) {
    throw new UserError(
      "BAD_GTIN",
      `GTIN "${gtin}" is not 8, 12, 13 or 14 digits with a valid GS1 check digit`,
      "copy it from the pack's (01) field",
    );
  }
  return BigInt(padded);
}

/** Expiry as YYMMDD (GS1 AI 17, day 00 = month end) or YYYY-MM-DD → days since 1970-01-01. */
export function parseExpiry(expiry: string): number {
  const iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(expiry);
  const day = iso
    ? dayNumber(Number(iso[1]), Number(iso[2]), Number(iso[3]))
    : gs1DateToDay(expiry);
  if (
    day === undefined ||
    Number.isNaN(day) ||
    (iso && new Date(day * 86_400_000).toISOString().slice(0, 10) !== expiry)
  ) {
    throw new UserError(
      "BAD_EXPIRY",
      `expiry "${expiry}" is not a real date as YYMMDD or YYYY-MM-DD`,
      "e.g. 271231 or 2027-12-31",
    );
  }
  return day;
}

export function parsePositive(name: string, value: string): bigint {
  if (!/^\d+$/.test(value) || BigInt(value) === 0n)
    throw new UserError(
      "BAD_NUMBER",
      `--${name} "${value}" must be a positive whole number`,
      `e.g. --${name} 10`,
    );
  return BigInt(value);
}

/** A batch by id, or by GTIN and lot; refuses unknown batches. */
export async function resolveBatch(
  sys: SystemContracts,
  args: { batch?: string; gtin?: string; lot?: string },
): Promise<bigint> {
  let id: bigint;
  if (args.batch) {
    id = parsePositive("batch", args.batch);
  } else if (args.gtin && args.lot) {
    id = await sys.batchToken.batchIdOf(parseGtin(args.gtin), args.lot);
    if (id === 0n)
      throw new UserError(
        "UNKNOWN_BATCH",
        `no batch with GTIN ${args.gtin} and lot "${args.lot}"`,
        "check the lot, or list batches with batch:history",
      );
  } else {
    throw new UserError(
      "MISSING_BATCH",
      "name the batch with --batch <id> or --gtin and --lot",
      "e.g. --batch 1",
    );
  }
  const batch = await sys.batchToken.batch(id);
  if (Number(batch.status) === 0)
    throw new UserError(
      "UNKNOWN_BATCH",
      `batch ${id} does not exist (${await sys.batchToken.batchCount()} batches minted)`,
      "check the id",
    );
  return id;
}

/** Reads a serial list: a JSON array of strings, JSON {serials:[…]}, or CSV/text with one serial per line (header "serial" allowed). */
export function readSerialFile(file: string): string[] {
  if (!fs.existsSync(file))
    throw new UserError(
      "NO_FILE",
      `serial file ${file} does not exist`,
      "give the path of a .json or .csv file",
    );
  const text = fs.readFileSync(file, "utf8");
  if (/\.json$/i.test(file)) {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch (err) {
      throw new UserError(
        "BAD_FILE",
        `serial file ${file} is not valid JSON (${(err as Error).message})`,
        'use an array of strings or {"serials": [...]}',
      );
    }
    const list = Array.isArray(data)
      ? data
      : (data as { serials?: unknown }).serials;
    if (!Array.isArray(list) || !list.every((s) => typeof s === "string")) {
      throw new UserError(
        "BAD_FILE",
        `serial file ${file} must hold an array of strings or {"serials": [...]}`,
        "one string per unit",
      );
    }
    return list as string[];
  }
  const lines = text
    .split(/\r?\n/)
    .map((l) => l.split(",")[0].trim())
    .filter((l) => l.length > 0);
  return lines[0]?.toLowerCase() === "serial" ? lines.slice(1) : lines;
}

export function bytes32Of(text: string | undefined): string {
  if (!text) return ethers.ZeroHash;
  return /^0x[0-9a-fA-F]{64}$/.test(text) ? text : ethers.id(text);
}

/**
 * Checks the key signs for an active member (with one of `roles`, if given) before sending: the
 * Consortium maps the key to its member account (a rotated-out key maps to none).
 */
export async function requireMember(
  sys: SystemContracts,
  who: string,
  roles?: number[],
): Promise<void> {
  const [, actorRole] = await sys.consortium.actor(who);
  const role =
    Number(actorRole) || Number(await sys.consortium.activeRole(who));
  if (role === 0)
    throw new UserError(
      "NOT_A_MEMBER",
      `${who} is not an active member of the consortium`,
      "admit it through governance (gov:propose) or act as another account (--as)",
    );
  if (roles && !roles.includes(role)) {
    throw new UserError(
      "WRONG_ROLE",
      `${who} is a ${ROLE_NAMES[role]}; this action needs a ${roles.map((r) => ROLE_NAMES[r]).join(" or ")}`,
      "act as another account (--as)",
    );
  }
}

export { Consortium__factory };

/** ISO 3166-1 alpha-2 codes from "DE,FR". */
export function parseMarkets(list: string | undefined): string[] {
  if (!list) return [];
  const codes = list
    .split(",")
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
  for (const c of codes)
    if (!/^[A-Z]{2}$/.test(c))
      throw new UserError(
        "BAD_MARKET",
        `market "${c}" is not an ISO 3166-1 alpha-2 code`,
        "e.g. --markets DE,FR",
      );
  return codes;
}

/** bytes2 values of ISO 3166-1 codes. */
export const marketBytes = (codes: readonly string[]) =>
  codes.map((c) => ethers.hexlify(ethers.toUtf8Bytes(c)));

/** A packing list file as batch:mint writes it: {"cases": [sscc…], "pallets": [sscc…]}. */
export function readPackingFile(file: string): {
  cases: string[];
  pallets: string[];
} {
  if (!fs.existsSync(file))
    throw new UserError(
      "NO_FILE",
      `packing list ${file} does not exist`,
      "give the file batch:mint wrote with --packing-out",
    );
  let data: { cases?: unknown; pallets?: unknown };
  try {
    data = JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (err) {
    throw new UserError(
      "BAD_FILE",
      `packing list ${file} is not valid JSON (${(err as Error).message})`,
      "use the file batch:mint wrote",
    );
  }
  const list = (v: unknown) =>
    Array.isArray(v) && v.every((x) => typeof x === "string")
      ? (v as string[])
      : [];
  return { cases: list(data.cases), pallets: list(data.pallets) };
}

/**
 * Items from "pallet:0,case:3-5,pack:7,packs:10-19,sscc:00950600…": packs (unit indexes), cases and
 * pallets by index or range, or containers by SSCC (looked up in `packing`).
 */
export function parseItems(
  spec: string,
  packing?: { cases: string[]; pallets: string[] },
): { kind: number; start: number; count: number }[] {
  const items: { kind: number; start: number; count: number }[] = [];
  for (const part of spec
    .split(",")
    .map((p) => p.trim())
    .filter(Boolean)) {
    const m =
      /^(pack|packs|unit|units|case|cases|pallet|pallets|sscc):(.+)$/i.exec(
        part,
      );
    if (!m)
      throw new UserError(
        "BAD_ITEMS",
        `"${part}" is not an item`,
        "write pack:7, packs:10-19, case:3, cases:3-5, pallet:0 or sscc:<18 digits>, separated by commas",
      );
    const word = m[1].toLowerCase();
    if (word === "sscc") {
      if (!packing)
        throw new UserError(
          "NO_PACKING",
          `"${part}" names an SSCC but no packing list was given`,
          "pass --packing <file batch:mint wrote>",
        );
      const c = packing.cases.indexOf(m[2]);
      const p = packing.pallets.indexOf(m[2]);
      if (c < 0 && p < 0)
        throw new UserError(
          "UNKNOWN_SSCC",
          `SSCC ${m[2]} is not in the packing list`,
          "check the label, or the packing list of this batch",
        );
      items.push(
        c >= 0
          ? { kind: 1, start: c, count: 1 }
          : { kind: 2, start: p, count: 1 },
      );
      continue;
    }
    const range = /^(\d+)(?:-(\d+))?$/.exec(m[2]);
    if (
      !range ||
      (range[2] !== undefined && Number(range[2]) < Number(range[1]))
    )
      throw new UserError(
        "BAD_ITEMS",
        `"${part}": ${m[2]} is not an index or a range a-b`,
        "e.g. case:3 or packs:10-19",
      );
    const start = Number(range[1]);
    const count = range[2] === undefined ? 1 : Number(range[2]) - start + 1;
    items.push({
      kind: word.startsWith("pallet") ? 2 : word.startsWith("case") ? 1 : 0,
      start,
      count,
    });
  }
  if (items.length === 0)
    throw new UserError(
      "BAD_ITEMS",
      "no items given",
      "e.g. --items case:3,packs:10-19",
    );
  return items;
}
