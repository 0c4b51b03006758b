import type { Item } from "../../../api/domain/packing";

/**
 * The steps of a migration plan, and the one key per step that says "done" when the new
 * ledger's events show it. Member steps are recognised by the event their call emits (so a run
 * that crashed between sending and recording is never repeated); governance steps by the
 * proposal that carries their action. Keys are built from the plan (batches named by GTIN and
 * lot) and from events (batches by id) with the same functions, so they meet.
 */

export type Phase =
  | "members"
  | "products"
  | "mint"
  | "custody"
  | "states"
  | "pending"
  | "roles"
  | "products-final"
  | "status"
  | "members-final"
  | "pause";

export const PHASES: readonly Phase[] = ["members", "products", "mint", "custody", "states", "pending", "roles", "products-final", "status", "members-final", "pause"];

/** A batch of the new ledger, named as in the old one: its id is only known once minted. */
export interface BatchRef {
  gtin: string;
  lot: string;
}

/** A governance action: a call the Consortium makes when a proposal for it is executed. */
export type GovCall =
  | { target: "consortium"; fn: string; args: unknown[] }
  | { target: "batchToken"; fn: "setPaused" | "setUndoWindow"; args: unknown[] }
  | { target: "batchToken"; fn: "recoverCustody"; batch: BatchRef; from: string; to: string; quantity: string; items: Item[]; state: number; evidenceHash: string }
  | { target: "batchToken"; fn: "recoverShipment"; shipStep: string; to: string; evidenceHash: string };

export type Op =
  | { type: "propose" | "approve" | "execute"; gov: string; call: GovCall }
  | { type: "registerProduct" | "updateProduct"; gtin: string; markets: string[]; masterDataHash: string }
  | { type: "setProductStatus"; gtin: string; status: number; reasonHash: string }
  | { type: "setPrefixLicence"; prefixKey: string; licensee: string; granted: boolean }
  | {
      type: "mint";
      batch: BatchRef;
      expiryDay: number;
      quantity: string;
      serialsRoot: string;
      serialCount: number;
      documentHash: string;
      unitsPerCase: number;
      casesPerPallet: number;
      packingRoot: string;
      markets: string[];
    }
  | { type: "ship"; batch: BatchRef; receiver: string; quantity: string; items: Item[]; referenceHash: string; oldShipmentId?: string }
  | { type: "accept"; shipStep: string }
  | { type: "unpack"; batch: BatchRef; items: Item[] }
  | { type: "dispense"; batch: BatchRef; unit: number; serial: string; proof: string[] }
  | { type: "decommission"; batch: BatchRef; items: Item[]; state: number; evidenceHash: string }
  | { type: "lock"; batch: BatchRef; items: Item[]; reasonHash: string }
  | { type: "writeOff"; batch: BatchRef; quantity: string; reason: number; evidenceHash: string }
  | { type: "quarantine"; batch: BatchRef; reasonHash: string }
  | { type: "recall"; batch: BatchRef; reasonHash: string }
  | { type: "safetyNotice"; batch: BatchRef; noticeHash: string }
  | { type: "emergencySuspend"; member: string; reasonHash: string };

export interface Step {
  /** "s0001", … in global order. */
  id: string;
  /** Position in the global order: a step runs once every step before it is done. */
  seq: number;
  /** The member account (or governor) whose key signs it. */
  account: string;
  phase: Phase;
  op: Op;
  /** The n-th step with the same key (1 for nearly all): done when the ledger shows n such events. */
  occurrence: number;
  /** What it does, for people. */
  note: string;
}

export const itemsKey = (items: readonly Item[]): string => items.map((i) => `${i.kind}:${i.start}:${i.count}`).join(",");
export const refKey = (b: BatchRef): string => `${b.gtin}|${b.lot}`;

/**
 * The key of a member step, with the batch named by `batch` (a ref key in the plan, the new id at
 * run time) and a shipment by `shipment` (the ship step id in the plan, the new shipment id at run
 * time). Undefined for governance steps.
 */
export function opKey(op: Op, account: string, batch: (b: BatchRef) => string, shipment: (stepId: string) => string): string | undefined {
  switch (op.type) {
    case "propose":
    case "approve":
    case "execute":
      return undefined;
    case "registerProduct":
      return `product|${op.gtin}`;
    case "updateProduct":
      return `productUpdated|${op.gtin}|${op.markets.join(",")}|${op.masterDataHash}`;
    case "setProductStatus":
      return `productStatus|${op.gtin}|${op.status}|${op.reasonHash}`;
    case "setPrefixLicence":
      return `licence|${op.prefixKey}|${op.licensee}|${op.granted}`;
    case "mint":
      return `minted|${op.batch.gtin}|${op.batch.lot}`;
    case "ship":
      return `shipped|${batch(op.batch)}|${account}|${op.receiver}|${op.quantity}|${itemsKey(op.items)}|${op.referenceHash}`;
    case "accept":
      return `accepted|${shipment(op.shipStep)}`;
    case "unpack":
      return `unpacked|${batch(op.batch)}|${account}|${op.items[0].kind}:${op.items[0].start}`;
    case "dispense":
      return `dispensed|${batch(op.batch)}|${op.unit}`;
    case "decommission":
      return `decommissioned|${batch(op.batch)}|${account}|${op.state}|${itemsKey(op.items)}|${op.evidenceHash}`;
    case "lock":
      return `locked|${batch(op.batch)}|${account}|${itemsKey(op.items)}|${op.reasonHash}`;
    case "writeOff":
      return `writtenOff|${batch(op.batch)}|${account}|${op.reason}|${op.quantity}|${op.evidenceHash}`;
    case "quarantine":
      return `quarantined|${batch(op.batch)}|${account}|${op.reasonHash}`;
    case "recall":
      return `recalled|${batch(op.batch)}|${account}|${op.reasonHash}`;
    case "safetyNotice":
      return `notice|${batch(op.batch)}|${account}|${op.noticeHash}`;
    case "emergencySuspend":
      return `suspended|${op.member}|${account}|${op.reasonHash}`;
  }
}

/** Governance actions are unique within a plan: this names one. */
export function govKey(call: GovCall): string {
  switch (call.fn) {
    case "recoverCustody": {
      const c = call as Extract<GovCall, { fn: "recoverCustody" }>;
      return `recoverCustody|${refKey(c.batch)}|${c.from}|${c.to}|${c.quantity}|${itemsKey(c.items)}|${c.state}|${c.evidenceHash}`;
    }
    case "recoverShipment": {
      const c = call as Extract<GovCall, { fn: "recoverShipment" }>;
      return `recoverShipment|${c.shipStep}|${c.to}|${c.evidenceHash}`;
    }
    default:
      return `${call.target}.${call.fn}|${JSON.stringify((call as { args: unknown[] }).args)}`;
  }
}
