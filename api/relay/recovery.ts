import { Worker } from "node:worker_threads";
import { checksum, recoverFromParts, signatureParts } from "./forward-request";

/**
 * Signature recovery off the event loop. Recovering a secp256k1 public key is the largest single
 * cost of accepting a request (12% of the relay's event-loop time under scripts/bench-relay.ts,
 * even with the native binding); the event loop also parses, validates, answers HTTP and runs the
 * submitter. Recoveries requested in the same turn of the loop go to a worker thread as one
 * message, so the messaging cost is shared. If the worker fails, recovery falls back to the event
 * loop: an answer is never lost.
 */

const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const secp256k1 = require(workerData.secp256k1);
const createKeccakHash = require(workerData.keccak);
parentPort.on("message", ({ id, digests, signatures, recids }) => {
  const addresses = [];
  for (let i = 0; i < recids.length; i++) {
    try {
      const pub = secp256k1.ecdsaRecover(signatures.subarray(i * 64, i * 64 + 64), recids[i], digests.subarray(i * 32, i * 32 + 32), false);
      addresses.push(createKeccakHash("keccak256").update(Buffer.from(pub.subarray(1))).digest().subarray(12).toString("hex"));
    } catch {
      addresses.push(null);
    }
  }
  parentPort.postMessage({ id, addresses });
});
`;

interface Pending {
  digest: Buffer;
  signature: Buffer;
  recid: number;
  resolve: (address: string | undefined) => void;
}

const recoverHere = (p: Pending) => recoverFromParts(p.digest, p.signature, p.recid);

export class SignerRecovery {
  private worker: Worker | undefined;
  private queue: Pending[] = [];
  private readonly inflight = new Map<number, Pending[]>();
  private nextId = 1;
  private closed = false;

  constructor(useWorker = true) {
    if (useWorker) this.startWorker();
  }

  private startWorker() {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { secp256k1: require.resolve("secp256k1"), keccak: require.resolve("keccak") } });
    worker.unref();
    worker.on("message", ({ id, addresses }: { id: number; addresses: (string | null)[] }) => {
      const batch = this.inflight.get(id);
      if (!batch) return;
      this.inflight.delete(id);
      batch.forEach((p, i) => p.resolve(addresses[i] === null ? undefined : checksum(addresses[i]!)));
    });
    const fail = () => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      // Whatever the worker held is recovered here instead.
      for (const batch of this.inflight.values()) for (const p of batch) p.resolve(recoverHere(p));
      this.inflight.clear();
    };
    worker.on("error", fail);
    worker.on("exit", fail);
    this.worker = worker;
  }

  /**
   * The address that signed `digest`, or undefined when the signature is not one OpenZeppelin's
   * ECDSA.tryRecover accepts (same rules as recoverSigner).
   */
  recover(digest: Buffer, signature: string): Promise<string | undefined> {
    const parts = signatureParts(signature);
    if (!parts) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      const p: Pending = { digest, signature: parts.rs, recid: parts.recid, resolve };
      if (!this.worker || this.closed) return resolve(recoverHere(p));
      this.queue.push(p);
      if (this.queue.length === 1) setImmediate(() => this.flush());
    });
  }

  private flush() {
    const batch = this.queue;
    this.queue = [];
    if (batch.length === 0) return;
    if (!this.worker) {
      for (const p of batch) p.resolve(recoverHere(p));
      return;
    }
    const id = this.nextId++;
    this.inflight.set(id, batch);
    this.worker.postMessage({
      id,
      digests: Buffer.concat(batch.map((p) => p.digest)),
      signatures: Buffer.concat(batch.map((p) => p.signature)),
      recids: batch.map((p) => p.recid),
    });
  }

  async close() {
    this.closed = true;
    this.flush();
    const worker = this.worker;
    this.worker = undefined;
    for (const batch of this.inflight.values()) for (const p of batch) p.resolve(recoverHere(p));
    this.inflight.clear();
    await worker?.terminate();
  }
}
