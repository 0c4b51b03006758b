import type { LedgerState } from "../ledger-state";
import { Waker } from "../waker";
import { RelayRefusal, type RelayPort } from "../ports";
import type { ActionRow, EpcisStore } from "../store";

/**
 * Moves planned capture actions into the relay and follows them to `mined` or `failed`.
 *
 * Order: each member's actions go to the relay in the order they were captured (the relay gives a
 * member's requests consecutive forwarder nonces, so they also execute in that order). An action
 * waits when it needs a batch that is not on the ledger yet (commissioned by an earlier action:
 * it is sent once that mint is mined and projected, with the batch id filled in) or an earlier
 * action of its job to be mined (a ship after an accept of the same batch); the member's later
 * actions wait behind it. Members are served in parallel.
 *
 * Exactly once: each action has an idempotency key derived from its eventID and position; the
 * relay returns the request already queued for a key it has seen, so an action re-sent after a
 * crash (state still `planned`, or `queued` without the relay's answer recorded) is never
 * submitted twice. The capture job's rows are the state; nothing is kept only in memory.
 */
export class Dispatcher {
  private running = false;
  private loop: Promise<void> | undefined;
  private readonly waker = new Waker();
  private readonly busy = new Set<string>();
  lastError: string | undefined;

  constructor(
    private readonly o: {
      store: EpcisStore;
      relay: RelayPort;
      state: LedgerState;
      pollMs: number;
      log?: { warn(obj: unknown, msg?: string): void };
    },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.poke();
    await this.loop;
  }

  poke(): void {
    this.waker.poke();
  }

  private async run(): Promise<void> {
    while (this.running) {
      try {
        await this.tick();
        this.lastError = undefined;
      } catch (err) {
        this.lastError = (err as Error).message;
        this.o.log?.warn({ err: this.lastError }, "EPCIS capture dispatcher: a round failed; retrying");
      }
      if (!this.running) break;
      await this.waker.sleep(this.o.pollMs);
    }
  }

  /** One round: follow submitted actions, then send what is ready. */
  async tick(): Promise<void> {
    const open = this.o.store.openActions(20_000);
    const mined = new Set<number>();
    const byMember = new Map<string, ActionRow[]>();
    for (const a of open) {
      if (a.requestId && (a.state === "queued" || a.state === "submitted")) {
        const s = this.o.relay.status(a.requestId);
        if (s && s.state !== a.state) {
          this.o.store.updateAction(a.id, {
            state: s.state,
            txHash: s.txHash,
            blockNumber: s.blockNumber,
            ...(s.error ? { error: JSON.stringify({ code: s.error.code, name: s.error.name, args: s.error.args, message: s.error.message }) } : {}),
          });
          if (s.state === "mined") mined.add(a.id);
        }
        continue;
      }
      if (a.state !== "planned") continue;
      const list = byMember.get(a.member) ?? [];
      list.push(a);
      byMember.set(a.member, list);
    }
    const sends: Promise<void>[] = [];
    for (const [member, actions] of byMember) {
      if (this.busy.has(member)) continue;
      this.busy.add(member);
      sends.push(this.sendInOrder(actions, mined).finally(() => this.busy.delete(member)));
    }
    await Promise.all(sends);
    this.o.store.finishJobs();
  }

  private ready(a: ActionRow, mined: ReadonlySet<number>): { ok: true; body: string } | { ok: false } {
    if (a.afterAction !== null && !mined.has(a.afterAction)) {
      const before = this.o.store.action(a.afterAction);
      if (!before || before.state === "failed") return { ok: true, body: a.body }; // fails at the relay with the chain's reason
      if (before.state !== "mined") return { ok: false };
    }
    if (a.needsBatch === null) return { ok: true, body: a.body };
    const [gtin, lot] = [a.needsBatch.slice(0, a.needsBatch.indexOf("|")), a.needsBatch.slice(a.needsBatch.indexOf("|") + 1)];
    const b = this.o.state.batchByGtinLot(gtin, lot);
    if (!b) return { ok: false };
    const body = JSON.parse(a.body) as Record<string, unknown>;
    body.batchId = b.batchId;
    return { ok: true, body: JSON.stringify(body) };
  }

  private async sendInOrder(actions: ActionRow[], mined: ReadonlySet<number>): Promise<void> {
    for (const a of actions) {
      if (!this.running) return;
      const r = this.ready(a, mined);
      if (!r.ok) return; // the member's later actions wait behind this one
      try {
        const out = await this.o.relay.submit(a.member, a.action, JSON.parse(r.body) as Record<string, unknown>, a.idemKey);
        this.o.store.updateAction(a.id, {
          state: out.state,
          requestId: out.requestId,
          txHash: out.txHash,
          blockNumber: out.blockNumber,
          body: r.body,
          ...(out.error ? { error: JSON.stringify(out.error) } : {}),
        });
      } catch (err) {
        if (err instanceof RelayRefusal) {
          if (err.statusCode === 429 || err.statusCode === 503) return; // rate limit, full queue, node down: try again next round
          this.o.store.updateAction(a.id, { state: "failed", body: r.body, error: JSON.stringify({ code: err.code, message: err.message, hint: err.hint ?? null, details: err.details ?? null }) });
          continue;
        }
        throw err;
      }
    }
  }
}
