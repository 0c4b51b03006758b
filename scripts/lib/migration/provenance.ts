import { compareEvents, itemsOf, type LedgerEvent } from "../../../api/domain/ledger-events";
import type { Item } from "../../../api/domain/packing";
import type { Edge, Hop, PathRun } from "./types";

/**
 * How each item of a batch got where it is, from the batch's events: the custody path of every
 * pallet, case and pack that has a record of its own, with loops removed, and what set its final,
 * revertible or locked state (a member, or governance, and with which hash). A migration replays
 * these paths hop by hop, so every hop is one the ledger itself took: between the same members, by
 * the same kind of action (a shipment, or a governance recovery). Pure.
 *
 * An item's own path starts with the first time it moves on its own: from its container's opener
 * (a case out of an opened pallet, a pack out of an opened case), or from the producer when it has
 * no container. A path never visits a member twice: a shipment rejected or cancelled, or anything
 * that came back to a member it had been with, cuts the loop, so what remains is the shortest
 * route through members that really held it.
 */

const ZERO = "0x0000000000000000000000000000000000000000";

/** A persistent list: items that moved together share one object, and a loop cut is a pointer to an ancestor. */
interface Chain {
  hop: Hop;
  prev?: Chain;
}

/** What set a record's final, revertible or locked state: governance (with its evidence), or the member (with its hash, if any). */
export interface TerminalInfo {
  via?: "governance";
  hash?: string;
}

export interface BatchProvenance {
  paths: PathRun[];
  /** By node key (see nodeKey). */
  terminals: Map<number, TerminalInfo>;
  /** Edges the batch's units took between members, in first-seen order (the route of a batch without serials). */
  edges: Edge[];
}

/** One number per pallet, case or pack of a batch: kind (0 pack, 1 case, 2 pallet) above a 32-bit index. */
export const nodeKey = (kind: number, index: number): number => kind * 2 ** 32 + index;
export const nodeOf = (key: number): { kind: number; index: number } => ({ kind: Math.floor(key / 2 ** 32), index: key % 2 ** 32 });

function find(chain: Chain | undefined, account: string): Chain | undefined {
  for (let c = chain; c; c = c.prev) if (c.hop.to === account) return c;
  return undefined;
}

function toArray(chain: Chain): Hop[] {
  const hops: Hop[] = [];
  for (let c: Chain | undefined = chain; c; c = c.prev) hops.push(c.hop);
  return hops.reverse();
}

function* nodesOf(items: readonly Item[]): Generator<number> {
  for (const item of items) for (let k = item.start; k < item.start + item.count; k++) yield nodeKey(item.kind, k);
}

export function trackProvenance(events: readonly LedgerEvent[]): BatchProvenance {
  const chains = new Map<number, Chain>();
  const terminals = new Map<number, TerminalInfo>();
  const shipments = new Map<string, { sender: string; receiver: string; items: Item[] }>();
  const edges = new Map<string, Edge>();

  const start = (nodes: Iterable<number>, from: string) => {
    for (const n of nodes) if (!chains.has(n)) chains.set(n, { hop: { to: from, via: "source" } });
  };
  /** Moves `nodes` to `hop.to`; items that moved together keep sharing their path object. */
  const move = (nodes: Iterable<number>, hop: Hop) => {
    const memo = new Map<Chain, Chain>();
    for (const n of nodes) {
      const chain = chains.get(n);
      if (!chain) continue; // an item in transit always has a path: ShipmentCreated started it
      let next = memo.get(chain);
      if (!next) {
        next = find(chain, hop.to) ?? { hop, prev: chain };
        memo.set(chain, next);
      }
      chains.set(n, next);
    }
  };
  const edge = (e: Edge) => {
    const key = `${e.from}|${e.to}|${e.via}|${e.receiver ?? ""}|${e.evidenceHash ?? ""}`;
    if (!edges.has(key)) edges.set(key, e);
  };

  for (const e of [...events].sort(compareEvents)) {
    const a = e.args;
    const items = itemsOf(e);
    switch (e.name) {
      case "ShipmentCreated":
        shipments.set(String(a.shipmentId), { sender: String(a.sender), receiver: String(a.receiver), items });
        start(nodesOf(items), String(a.sender));
        break;
      case "ShipmentAccepted":
      case "ShipmentRejected":
      case "ShipmentCancelled":
      case "ShipmentRecovered": {
        const s = shipments.get(String(a.shipmentId));
        if (!s) break; // the custody reducer reports it as an anomaly
        shipments.delete(String(a.shipmentId));
        if (e.name === "ShipmentAccepted") {
          move(nodesOf(s.items), { to: s.receiver, via: "ship" });
          edge({ from: s.sender, to: s.receiver, via: "ship" });
        } else if (e.name === "ShipmentRecovered") {
          const hop: Hop = { to: String(a.to), via: "recoverShipment", receiver: s.receiver, evidenceHash: String(a.evidenceHash) };
          move(nodesOf(s.items), hop);
          edge({ from: s.sender, ...hop } as Edge);
        } else {
          move(nodesOf(s.items), { to: s.sender, via: "ship" });
        }
        break;
      }
      case "CustodyRecovered": {
        const from = String(a.from);
        const to = String(a.to);
        start(nodesOf(items), from);
        if (to !== ZERO) {
          const hop: Hop = { to, via: "recoverCustody", evidenceHash: String(a.evidenceHash) };
          move(nodesOf(items), hop);
          for (const n of nodesOf(items)) terminals.delete(n); // a lock goes with the packs
          edge({ from, ...hop } as Edge);
        } else {
          for (const n of nodesOf(items)) terminals.set(n, { via: "governance", hash: String(a.evidenceHash) });
        }
        break;
      }
      case "UnitDispensed": {
        const n = nodeKey(0, Number(a.unitIndex));
        start([n], String(a.pharmacy));
        terminals.set(n, {});
        break;
      }
      case "PacksDecommissioned":
        start(nodesOf(items), String(a.holder));
        for (const n of nodesOf(items)) terminals.set(n, { hash: String(a.evidenceHash) });
        break;
      case "PacksLocked":
        start(nodesOf(items), String(a.holder));
        for (const n of nodesOf(items)) terminals.set(n, { hash: String(a.reasonHash) });
        break;
      case "DispenseUndone":
        terminals.delete(nodeKey(0, Number(a.unitIndex)));
        break;
      case "DecommissionReverted":
      case "PacksUnlocked":
        for (const n of nodesOf(items)) terminals.delete(n);
        break;
      default:
        break;
    }
  }

  // Consecutive items of one kind with the same path become one run.
  const paths: PathRun[] = [];
  const texts = new Map<Chain, string>();
  const textOf = (c: Chain) => texts.get(c) ?? (texts.set(c, JSON.stringify(toArray(c))), texts.get(c)!);
  let run: { kind: number; start: number; count: number; chain: Chain } | undefined;
  for (const key of [...chains.keys()].sort((x, y) => x - y)) {
    const { kind, index } = nodeOf(key);
    const chain = chains.get(key)!;
    if (run && run.kind === kind && run.start + run.count === index && (run.chain === chain || textOf(run.chain) === textOf(chain))) {
      run.count++;
      continue;
    }
    if (run) paths.push({ kind: run.kind, start: run.start, count: run.count, path: toArray(run.chain) });
    run = { kind, start: index, count: 1, chain };
  }
  if (run) paths.push({ kind: run.kind, start: run.start, count: run.count, path: toArray(run.chain) });
  return { paths, terminals, edges: [...edges.values()] };
}
