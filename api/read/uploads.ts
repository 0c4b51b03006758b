import path from "node:path";
import { Worker } from "node:worker_threads";
import type { BatchToken } from "../../typechain-types";
import { caseCount, palletCount } from "../domain/packing";
import { ApiError } from "../errors";
import type { IndexStore } from "./store";
import type { UploadReply, UploadTask } from "./upload-worker";
import { packingUploadMessage, serialUploadMessage } from "./verification";

export interface UploaderOptions {
  store: IndexStore;
  batchToken: BatchToken;
  chainId: bigint;
  batchTokenAddress: string;
  /** Uploads waiting or running at once; more are refused with 503 UPLOAD_BUSY. */
  queueLimit: number;
  /** Heap cap of the worker, MB. */
  workerHeapMb: number;
  /** Called after a list is stored (drop cached verdicts). */
  onStored: (batchId: string) => void;
}

export interface UploadStats {
  /** Uploads that reached the tree build (signature and size were fine). */
  treesBuilt: number;
  /** Uploads refused before any tree was built. */
  refusedEarly: number;
  running: number;
}

/**
 * Serial and packing list uploads, hardened (issue 15): the route bounds the body size and the
 * rate; this checks the batch on chain before the body is even parsed, builds the message the
 * producer must have signed from the on-chain commitment, and hands the body to a worker thread
 * that parses it, checks the signature and the count, and only then builds the tree and stores
 * it. The event loop never parses, hashes or writes a list. At most `queueLimit` uploads wait.
 */
export class Uploader {
  readonly stats: UploadStats = { treesBuilt: 0, refusedEarly: 0, running: 0 };
  private chain: Promise<unknown> = Promise.resolve();
  private queued = 0;

  constructor(private readonly o: UploaderOptions) {}

  /** The on-chain batch, or a 404/409 saying why nothing can be uploaded for it. */
  async batchOnChain(batchId: string, kind: "serials" | "packing") {
    const onChain = await this.o.batchToken.batch(BigInt(batchId));
    if (Number(onChain.status) === 0) throw new ApiError(404, "BATCH_NOT_FOUND", `no batch ${batchId} on chain`, "check the batch id (GET /v1/batches/lookup?gtin=…&lot=…)");
    if (kind === "serials" && /^0x0{64}$/.test(onChain.serialsRoot)) {
      throw new ApiError(409, "BATCH_NOT_SERIALISED", `batch ${batchId} was minted without a serial commitment`, "serial lists can only be stored for batches minted with serialsRoot");
    }
    if (kind === "packing" && /^0x0{64}$/.test(onChain.packingRoot)) {
      throw new ApiError(409, "BATCH_NOT_PACKED", `batch ${batchId} was minted without cases`, "packing lists can only be stored for batches minted with unitsPerCase and packingRoot");
    }
    return onChain;
  }

  async upload(kind: "serials" | "packing", batchId: string, body: Buffer): Promise<{ root: string; count: number; producer: string }> {
    if (this.queued >= this.o.queueLimit) {
      this.stats.refusedEarly++;
      throw new ApiError(503, "UPLOAD_BUSY", `${this.queued} uploads are already being processed`, "retry in a minute");
    }
    const onChain = await this.batchOnChain(batchId, kind);
    const layout = { units: Number(onChain.serialCount), unitsPerCase: Number(onChain.unitsPerCase), casesPerPallet: Number(onChain.casesPerPallet) };
    const common = { chainId: this.o.chainId, batchToken: this.o.batchTokenAddress, batchId };
    const task: UploadTask =
      kind === "serials"
        ? {
            kind,
            dbFile: this.o.store.file,
            batchId,
            body,
            message: serialUploadMessage({ ...common, root: onChain.serialsRoot, count: layout.units }),
            producer: onChain.producer,
            root: onChain.serialsRoot,
            count: layout.units,
            cases: 0,
            pallets: 0,
            uploadedAt: Math.floor(Date.now() / 1000),
          }
        : {
            kind,
            dbFile: this.o.store.file,
            batchId,
            body,
            message: packingUploadMessage({ ...common, root: onChain.packingRoot, cases: caseCount(layout), pallets: palletCount(layout) }),
            producer: onChain.producer,
            root: onChain.packingRoot,
            count: caseCount(layout) + palletCount(layout),
            cases: caseCount(layout),
            pallets: palletCount(layout),
            uploadedAt: Math.floor(Date.now() / 1000),
          };
    this.queued++;
    // One upload at a time: each may take a core and hundreds of MB for a million serials.
    const run = this.chain.then(() => this.inWorker(task));
    this.chain = run.catch(() => undefined);
    let reply: UploadReply;
    try {
      reply = await run;
    } finally {
      this.queued--;
    }
    if (reply.treeBuilt) this.stats.treesBuilt++;
    else this.stats.refusedEarly++;
    if (!reply.ok) throw new ApiError(reply.error.status, reply.error.code, reply.error.message, reply.error.hint, reply.error.details);
    if (reply.lists) {
      const row = { batchId, root: reply.root, uploadedBy: reply.producer, uploadedAt: task.uploadedAt };
      if (kind === "serials") this.o.store.saveSerialList({ ...row, count: reply.count }, reply.lists.serials!, reply.lists.leafNodes!, reply.lists.nodes!);
      else this.o.store.savePackingList({ ...row, cases: task.cases, pallets: task.pallets }, reply.lists.cases!, reply.lists.pallets!);
    }
    this.o.onStored(batchId);
    return { root: reply.root, count: reply.count, producer: reply.producer };
  }

  /** Ends the worker (service shutdown). */
  async close(): Promise<void> {
    clearTimeout(this.idle);
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }

  private worker: Worker | undefined;
  private idle: NodeJS.Timeout | undefined;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve(r: UploadReply): void; reject(e: Error): void }>();

  /** The upload worker, started on first use (under ts-node the worker is the .ts file and needs the same loader). */
  private workerThread(): Worker {
    if (this.worker) return this.worker;
    const ts = __filename.endsWith(".ts");
    const file = path.join(__dirname, ts ? "upload-worker.ts" : "upload-worker.js");
    const worker = new Worker(file, {
      execArgv: ts ? ["--require", "ts-node/register/transpile-only"] : [],
      resourceLimits: { maxOldGenerationSizeMb: this.o.workerHeapMb },
    });
    worker.unref();
    const failAll = (err: Error) => {
      if (this.worker === worker) this.worker = undefined;
      for (const w of this.waiting.values()) w.reject(err);
      this.waiting.clear();
    };
    worker.on("message", ({ id, reply }: { id: number; reply: UploadReply }) => {
      const w = this.waiting.get(id);
      this.waiting.delete(id);
      w?.resolve(reply);
    });
    worker.on("error", (err) => {
      const memory = /heap|memory/i.test(err.message);
      failAll(memory ? new ApiError(413, "UPLOAD_TOO_LARGE", "the list needs more memory than SERIAL_UPLOAD_WORKER_MB allows", "split the upload or ask the operator to raise SERIAL_UPLOAD_WORKER_MB") : err);
    });
    worker.on("exit", (code) => failAll(new Error(`upload worker exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private inWorker(task: UploadTask): Promise<UploadReply> {
    clearTimeout(this.idle);
    const worker = this.workerThread();
    const id = this.nextId++;
    this.stats.running++;
    return new Promise<UploadReply>((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      worker.postMessage({ id, task }, [task.body.buffer as ArrayBuffer].filter((b) => b.byteLength === task.body.byteLength));
    }).finally(() => {
      this.stats.running--;
      // An idle worker gives its memory back.
      this.idle = setTimeout(() => void this.close(), IDLE_MS).unref();
    });
  }
}

/** How long an idle upload worker is kept. */
const IDLE_MS = 5 * 60_000;
