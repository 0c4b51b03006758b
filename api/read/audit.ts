import type { BatchToken } from "../../typechain-types";
import { isConserved, replayBatch, type BatchStatusName, type CustodyState } from "../domain/custody";
import type { LedgerEvent } from "../domain/ledger-events";
import type { HoldingRow, PendingRow } from "./store";

/**
 * Integrity audit: rebuild every batch's custody from its events alone (the pure reducer) and
 * compare with what the contract says at one block — balanceOf for every holder ever seen, the
 * pending shipments, the status and the number of batches. Optionally also compare the index's
 * own derived tables with the replay (a tampered or corrupted index shows up either way).
 * Used by GET /v1/audit and by `npx hardhat audit:check`.
 */
export type DivergenceKind = "balance" | "pending" | "status" | "missing-batch" | "unknown-batch" | "anomaly" | "conservation" | "index-balance" | "index-pending";

export interface Divergence {
  kind: DivergenceKind;
  batchId: string;
  holder?: string;
  shipmentId?: string;
  /** What the events imply. */
  fromEvents: string;
  /** What the chain (or, for index-* kinds, the index tables) says. */
  actual: string;
  detail: string;
}

export interface AuditReport {
  ok: boolean;
  atBlock: number;
  batches: number;
  events: number;
  holdersChecked: number;
  pendingChecked: number;
  divergences: Divergence[];
}

const STATUS_BY_INDEX: Record<number, BatchStatusName | "None"> = { 0: "None", 1: "Active", 2: "Quarantined", 3: "Recalled" };
const PARTY_ARGS = ["producer", "sender", "receiver", "pharmacy", "holder"] as const;
const CHUNK = 400;

export interface AuditInput {
  events: readonly LedgerEvent[];
  batchToken: BatchToken;
  atBlock: number;
  /** The index's derived state, to compare with the replay as well. */
  index?: { balances: readonly HoldingRow[]; pending: readonly PendingRow[] };
}

export async function auditLedger(input: AuditInput): Promise<AuditReport> {
  const { batchToken, atBlock } = input;
  const overrides = { blockTag: atBlock };
  const byBatch = new Map<string, LedgerEvent[]>();
  for (const e of input.events) {
    const list = byBatch.get(e.batchId);
    if (list) list.push(e);
    else byBatch.set(e.batchId, [e]);
  }
  const divergences: Divergence[] = [];
  const states = new Map<string, CustodyState>();
  const pairs: Array<{ batchId: string; holder: string; expected: bigint }> = [];
  for (const [batchId, events] of byBatch) {
    const state = replayBatch(batchId, events);
    states.set(batchId, state);
    for (const a of state.anomalies) divergences.push({ kind: "anomaly", batchId, fromEvents: a, actual: "-", detail: `events of batch ${batchId} do not fit together: ${a}` });
    if (!isConserved(state)) {
      divergences.push({ kind: "conservation", batchId, fromEvents: `minted ${state.minted}`, actual: "-", detail: `batch ${batchId}: minted ≠ held + in transit + dispensed + written off` });
    }
    const seen = new Set<string>();
    for (const e of events) for (const k of PARTY_ARGS) if (typeof e.args[k] === "string") seen.add(e.args[k] as string);
    for (const holder of seen) pairs.push({ batchId, holder, expected: state.holders.get(holder) ?? 0n });
  }

  // Balances of every holder seen, at the audited block.
  for (let i = 0; i < pairs.length; i += CHUNK) {
    const chunk = pairs.slice(i, i + CHUNK);
    const onChain = await batchToken.balanceOfBatch(
      chunk.map((p) => p.holder),
      chunk.map((p) => BigInt(p.batchId)),
      overrides,
    );
    chunk.forEach((p, j) => {
      const actual = onChain[j];
      if (actual !== p.expected) {
        divergences.push({
          kind: "balance",
          batchId: p.batchId,
          holder: p.holder,
          fromEvents: p.expected.toString(),
          actual: actual.toString(),
          detail: `batch ${p.batchId}: events give ${p.holder} ${p.expected} units, balanceOf says ${actual}`,
        });
      }
    });
  }

  // Pending shipments, status, and batches the events never mention.
  let pendingChecked = 0;
  const batchCount = Number(await batchToken.batchCount(overrides));
  await Promise.all(
    [...states.values()].map(async (state) => {
      const onChain = await batchToken.batch(BigInt(state.batchId), overrides);
      const status = STATUS_BY_INDEX[Number(onChain.status)] ?? `Status(${onChain.status})`;
      if (status !== state.status) {
        divergences.push({ kind: "status", batchId: state.batchId, fromEvents: state.status, actual: status, detail: `batch ${state.batchId}: events say ${state.status}, the contract says ${status}` });
      }
      for (const p of state.pending.values()) {
        pendingChecked++;
        const pending = await batchToken.isPendingShipment(
          BigInt(p.shipmentId),
          { batchId: BigInt(state.batchId), sender: p.sender, receiver: p.receiver, quantity: p.quantity, isReturn: p.isReturn },
          overrides,
        );
        if (!pending) {
          divergences.push({
            kind: "pending",
            batchId: state.batchId,
            shipmentId: p.shipmentId,
            fromEvents: `pending ${p.quantity} ${p.sender} → ${p.receiver}`,
            actual: "not pending",
            detail: `shipment ${p.shipmentId} of batch ${state.batchId} is pending by the events but not on chain (or with other fields)`,
          });
        }
      }
    }),
  );
  for (let id = 1; id <= batchCount; id++) {
    if (!states.has(String(id))) {
      divergences.push({ kind: "missing-batch", batchId: String(id), fromEvents: "no events", actual: "exists", detail: `batch ${id} exists on chain but no event of it was read` });
    }
  }
  for (const id of states.keys()) {
    if (Number(id) > batchCount) {
      divergences.push({ kind: "unknown-batch", batchId: id, fromEvents: "has events", actual: `batchCount ${batchCount}`, detail: `events name batch ${id}, the contract has ${batchCount} batches` });
    }
  }

  if (input.index) compareIndex(states, input.index, divergences);

  divergences.sort((a, b) => Number(a.batchId) - Number(b.batchId) || a.kind.localeCompare(b.kind));
  return {
    ok: divergences.length === 0,
    atBlock,
    batches: states.size,
    events: input.events.length,
    holdersChecked: pairs.length,
    pendingChecked,
    divergences,
  };
}

/** The index tables against the replay of the index's own events. */
function compareIndex(states: Map<string, CustodyState>, index: NonNullable<AuditInput["index"]>, out: Divergence[]): void {
  const tableBalances = new Map<string, bigint>();
  for (const b of index.balances) tableBalances.set(`${b.batchId}|${b.holder}`, b.quantity);
  const replayBalances = new Map<string, bigint>();
  for (const s of states.values()) for (const [holder, q] of s.holders) replayBalances.set(`${s.batchId}|${holder}`, q);
  for (const key of new Set([...tableBalances.keys(), ...replayBalances.keys()])) {
    const t = tableBalances.get(key) ?? 0n;
    const r = replayBalances.get(key) ?? 0n;
    if (t !== r) {
      const [batchId, holder] = key.split("|");
      out.push({ kind: "index-balance", batchId, holder, fromEvents: r.toString(), actual: t.toString(), detail: `index table says ${holder} holds ${t} of batch ${batchId}; its events give ${r}` });
    }
  }
  const tablePending = new Map(index.pending.map((p) => [p.shipmentId, p]));
  const replayPending = new Map<string, { batchId: string; quantity: bigint }>();
  for (const s of states.values()) for (const p of s.pending.values()) replayPending.set(p.shipmentId, { batchId: s.batchId, quantity: p.quantity });
  for (const id of new Set([...tablePending.keys(), ...replayPending.keys()])) {
    const t = tablePending.get(id);
    const r = replayPending.get(id);
    if (t?.quantity !== r?.quantity || (t && r && t.batchId !== r.batchId)) {
      out.push({
        kind: "index-pending",
        batchId: t?.batchId ?? r?.batchId ?? "?",
        shipmentId: id,
        fromEvents: r ? `pending ${r.quantity}` : "not pending",
        actual: t ? `pending ${t.quantity}` : "not pending",
        detail: `shipment ${id}: index table and events disagree`,
      });
    }
  }
}
