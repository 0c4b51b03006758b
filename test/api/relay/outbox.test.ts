import { expect } from "chai";
import fc from "fast-check";
import Database from "better-sqlite3";
import path from "node:path";
import { Outbox, type NewRequest } from "../../../api/relay/outbox";
import { tempDir } from "./stack";

const SIGNER = "0x" + "11".repeat(20);

function request(nonce: number): NewRequest {
  return {
    signer: SIGNER,
    nonce: BigInt(nonce),
    target: "0x" + "22".repeat(20),
    fn: "ship",
    request: { from: SIGNER, to: "0x" + "22".repeat(20), value: 0n, gas: 100_000n, deadline: 9_999_999_999n, data: "0x", signature: "0x" },
    lane: 0,
    acceptedBlock: 0,
    custodial: false,
  };
}

/** The counts as a full scan gives them: what the trigger-kept table must always equal. */
function scanned(file: string): Record<string, number> {
  const db = new Database(file, { readonly: true });
  try {
    const out: Record<string, number> = { queued: 0, submitted: 0, mined: 0, failed: 0 };
    for (const r of db.prepare(`SELECT state, COUNT(*) AS n FROM requests GROUP BY state`).all() as { state: string; n: number }[]) out[r.state] = r.n;
    return out;
  } finally {
    db.close();
  }
}

describe("relay outbox: request counts per state", function () {
  it("keeps counts() equal to a full scan through any sequence of accepts, submissions, outcomes and requeues (150 sequences)", () => {
    const op = fc.oneof(
      fc.record({ kind: fc.constant("accept" as const), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant("submit" as const), n: fc.integer({ min: 1, max: 4 }) }),
      fc.record({ kind: fc.constant("settle" as const), n: fc.integer({ min: 1, max: 4 }), mined: fc.boolean(), fromQueue: fc.boolean() }),
      fc.record({ kind: fc.constant("requeue" as const), n: fc.integer({ min: 1, max: 4 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 25 }), (ops) => {
        const dir = tempDir("outbox-counts");
        const outbox = new Outbox(dir);
        const file = path.join(dir, "relay-outbox.sqlite");
        const ids = { queued: [] as string[], submitted: [] as string[] };
        let nonce = 0;
        let tx = 0;
        try {
          for (const o of ops) {
            if (o.kind === "accept") {
              for (let i = 0; i < o.n; i++) ids.queued.push(outbox.insert(request(nonce++)).id);
            } else if (o.kind === "submit") {
              const take = ids.queued.splice(0, o.n);
              if (take.length) outbox.recordTx({ hash: `0x${(++tx).toString(16).padStart(64, "0")}`, relayer: SIGNER, relayerNonce: tx, raw: "0x", requestIds: take });
              ids.submitted.push(...take);
            } else if (o.kind === "settle") {
              const from = o.fromQueue ? ids.queued : ids.submitted;
              const take = from.splice(0, o.n);
              outbox.settle(take.map((id) => ({ id, state: o.mined ? "mined" : "failed", txHash: null, blockNumber: 1, success: o.mined })));
            } else {
              const take = ids.submitted.splice(0, o.n);
              outbox.settle([], take);
              ids.queued.push(...take);
            }
            const scan = scanned(file);
            expect(outbox.counts()).to.deep.equal(scan);
            // The per-signer depth RELAY_MAX_QUEUED_PER_MEMBER is checked against, kept by triggers too.
            expect(outbox.liveCount(SIGNER)).to.equal(scan.queued + scan.submitted);
          }
        } finally {
          outbox.close();
        }
      }),
      { numRuns: 150 },
    );
  });

  it("opens an outbox of the previous release: deadlines filled from the payloads, depths counted, idempotency keys scoped by member", () => {
    const dir = tempDir("outbox-previous");
    const db = new Database(path.join(dir, "relay-outbox.sqlite"));
    // The previous release's requests table: no deadline column; keys stored as the client sent them
    // (signed requests) or as custodial:<API key id>:<key>.
    db.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE requests (id TEXT PRIMARY KEY, idempotency_key TEXT UNIQUE, signer TEXT NOT NULL, nonce INTEGER NOT NULL, target TEXT NOT NULL,
        fn TEXT NOT NULL, payload TEXT NOT NULL, lane INTEGER NOT NULL, state TEXT NOT NULL, tx_hash TEXT, block_number INTEGER, success INTEGER,
        error_code TEXT, error_name TEXT, error_args TEXT, error_message TEXT, attempts INTEGER NOT NULL DEFAULT 0, accepted_at INTEGER NOT NULL,
        accepted_block INTEGER NOT NULL, submitted_at INTEGER, finished_at INTEGER, custodial INTEGER NOT NULL DEFAULT 0);
    `);
    const other = "0x" + "AB".repeat(20);
    const insert = db.prepare(`INSERT INTO requests (id, idempotency_key, signer, nonce, target, fn, payload, lane, state, accepted_at, accepted_block, custodial) VALUES (?, ?, ?, ?, 't', 'ship', ?, 0, ?, 0, 0, ?)`);
    const payload = (deadline: number) => JSON.stringify({ from: SIGNER, to: "t", value: "0", gas: "1", deadline: String(deadline), data: "0x", signature: "0x" });
    insert.run("a", "order-1", SIGNER, 0, payload(1_000), "queued", 0);
    insert.run("b", "custodial:0123456789abcdef:order-2", other, 0, payload(2_000_000_000), "submitted", 1);
    insert.run("c", null, SIGNER, 1, payload(2_000_000_000), "mined", 0);
    db.close();

    const outbox = new Outbox(dir);
    try {
      expect(outbox.get("a")!.deadline).to.equal(1_000);
      expect(outbox.expiredQueued(2_000, 10)).to.deep.equal(["a"]);
      expect([outbox.liveCount(SIGNER), outbox.liveCount(other)]).to.deep.equal([1, 1]);
      expect(outbox.byIdempotencyKey(`${SIGNER.toLowerCase()}:order-1`)?.id).to.equal("a");
      expect(outbox.byIdempotencyKey(`${other.toLowerCase()}:order-2`)?.id).to.equal("b");
      expect(outbox.byIdempotencyKey("order-1")).to.equal(undefined);
    } finally {
      outbox.close();
    }
    // Done once: opening again changes nothing.
    const again = new Outbox(dir);
    try {
      expect(again.byIdempotencyKey(`${SIGNER.toLowerCase()}:order-1`)?.id).to.equal("a");
    } finally {
      again.close();
    }
  });

  it("counts an outbox written before the counts table once, when it is opened", () => {
    const dir = tempDir("outbox-legacy");
    const file = path.join(dir, "relay-outbox.sqlite");
    const first = new Outbox(dir);
    const ids = [0, 1, 2, 3, 4].map((n) => first.insert(request(n)).id);
    first.settle([{ id: ids[0], state: "mined", txHash: null, blockNumber: 1, success: true }]);
    first.close();
    // What an outbox from the previous release looks like: no counts table, no triggers.
    const db = new Database(file);
    db.exec(`DROP TRIGGER requests_count_insert; DROP TRIGGER requests_count_update; DROP TRIGGER requests_count_delete; DROP TABLE state_counts;`);
    db.close();

    const reopened = new Outbox(dir);
    try {
      expect(reopened.counts()).to.deep.equal({ queued: 4, submitted: 0, mined: 1, failed: 0 });
      reopened.insert(request(5));
      expect(reopened.counts()).to.deep.equal(scanned(file));
    } finally {
      reopened.close();
    }
  });
});
