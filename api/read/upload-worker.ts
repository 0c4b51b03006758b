import { parentPort } from "node:worker_threads";
import Database from "better-sqlite3";
import { verifyMessage } from "ethers";
import { buildPackingTree, buildSerialTree, SerialTreeError } from "../domain/merkle";
import { isSscc } from "../domain/packing";
import { writePackingList, writeSerialList } from "./store";

/**
 * The upload worker: everything an upload costs in CPU and memory happens here, off the service's
 * event loop, in this order — parse the body, check the producer's signature over the message the
 * service built from the on-chain batch, check the count, and only then build the tree, compare
 * its root with the chain's and write the list to the index (its own SQLite connection, in
 * bounded transactions). The service keeps one such worker (heap capped), started on the first
 * upload and ended when idle, and sends it one upload at a time.
 */

export interface UploadTask {
  kind: "serials" | "packing";
  /** The index file, or ":memory:" (then the lists travel back and the service writes them). */
  dbFile: string;
  batchId: string;
  body: Uint8Array;
  /** The message the producer must have signed, and who the producer is. */
  message: string;
  producer: string;
  /** What the chain commits: the root, and the count(s). */
  root: string;
  count: number;
  cases: number;
  pallets: number;
  uploadedAt: number;
}

export interface UploadError {
  status: number;
  code: string;
  message: string;
  hint: string;
  details?: unknown;
}

export type UploadReply =
  | { ok: true; root: string; count: number; producer: string; treeBuilt: true; lists?: { serials?: string[]; leafNodes?: Uint32Array; nodes?: Uint8Array; cases?: string[]; pallets?: string[] } }
  | { ok: false; error: UploadError; treeBuilt: boolean };

function refuse(status: number, code: string, message: string, hint: string, details?: unknown): UploadReply {
  return { ok: false, error: { status, code, message, hint, details }, treeBuilt: false };
}

function checkSignature(task: UploadTask, signature: unknown): UploadReply | undefined {
  if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    return refuse(400, "SIGNATURE_MISSING", "the upload carries no 65-byte signature", "sign the upload message (details.message) with personal_sign (EIP-191) as the batch's producer and send it as `signature`", { message: task.message });
  }
  let signer: string;
  try {
    signer = verifyMessage(task.message, signature);
  } catch {
    return refuse(400, "SIGNATURE_MALFORMED", "signature is not a valid secp256k1 signature", "sign the upload message with personal_sign (EIP-191) and send the 0x… result", { message: task.message });
  }
  if (signer.toLowerCase() !== task.producer.toLowerCase()) {
    return refuse(403, "SIGNATURE_NOT_PRODUCER", `the upload is not signed by batch ${task.batchId}'s producer ${task.producer} over the batch's on-chain commitment (recovered ${signer})`, "the batch's producer signs the message in `details.message` (EIP-191); it names the on-chain root and count", { message: task.message });
  }
  return undefined;
}

export function runUpload(task: UploadTask): UploadReply {
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(task.body.buffer, task.body.byteOffset, task.body.byteLength).toString("utf8"));
  } catch (err) {
    return refuse(400, "BODY_NOT_JSON", `the body is not JSON: ${(err as Error).message}`, "send application/json");
  }
  if (typeof body !== "object" || body === null) return refuse(400, "VALIDATION_FAILED", "the body must be a JSON object", "send {serials, signature} or {cases, pallets, signature}");
  const b = body as Record<string, unknown>;
  const bad = checkSignature(task, b.signature);
  if (bad) return bad;

  if (task.kind === "serials") {
    const serials = b.serials;
    if (!Array.isArray(serials)) return refuse(400, "SERIALS_NOT_ARRAY", "`serials` must be an array of strings", "send the serial list as a JSON array");
    if (serials.length !== task.count) {
      return refuse(422, "SERIALS_COUNT_MISMATCH", `the list has ${serials.length} serials, batch ${task.batchId} commits ${task.count}`, "upload exactly the list the batch's serialsRoot was built from");
    }
    let tree;
    try {
      tree = buildSerialTree(serials as string[]);
    } catch (err) {
      if (err instanceof SerialTreeError) return { ok: false, error: { status: 400, code: err.code, message: err.message, hint: "fix the serial list and upload it again" }, treeBuilt: true };
      throw err;
    }
    if (tree.root !== task.root.toLowerCase()) {
      return {
        ok: false,
        treeBuilt: true,
        error: {
          status: 422,
          code: "SERIALS_ROOT_MISMATCH",
          message: `the list of ${tree.count} serials builds root ${tree.root}, but batch ${task.batchId} commits root ${task.root} over ${task.count} serials`,
          hint: "upload exactly the list, in the same order, that the batch's serialsRoot was built from",
        },
      };
    }
    const row = { batchId: task.batchId, root: tree.root, count: tree.count, uploadedBy: task.producer, uploadedAt: task.uploadedAt };
    if (task.dbFile === ":memory:") {
      return { ok: true, root: tree.root, count: tree.count, producer: task.producer, treeBuilt: true, lists: { serials: serials as string[], leafNodes: tree.leafNodes(), nodes: new Uint8Array(tree.nodeArray()) } };
    }
    const db = new Database(task.dbFile);
    try {
      db.pragma("busy_timeout = 10000");
      writeSerialList(db, row, serials as string[], tree.leafNodes(), tree.nodeArray());
    } finally {
      db.close();
    }
    return { ok: true, root: tree.root, count: tree.count, producer: task.producer, treeBuilt: true };
  }

  const cases = b.cases;
  const pallets = b.pallets ?? [];
  if (!Array.isArray(cases) || !Array.isArray(pallets)) return refuse(400, "PACKING_NOT_ARRAYS", "`cases` and `pallets` must be arrays of SSCCs", "send {cases: [18-digit SSCC by case index], pallets: […], signature}");
  if (cases.length !== task.cases || pallets.length !== task.pallets) {
    return refuse(422, "PACKING_COUNT_MISMATCH", `the list has ${cases.length} cases and ${pallets.length} pallets, batch ${task.batchId} has ${task.cases} and ${task.pallets}`, "send one SSCC per case and per pallet of the batch's layout, by index");
  }
  const all = [...cases, ...pallets];
  const badSscc = all.findIndex((s) => typeof s !== "string" || !isSscc(s));
  if (badSscc >= 0) return refuse(400, "SSCC_INVALID", `entry ${badSscc} (${String(all[badSscc]).slice(0, 30)}) is not an 18-digit SSCC with a valid check digit`, "fix the packing list");
  if (new Set(all).size !== all.length) return refuse(400, "SSCC_DUPLICATE", "an SSCC appears twice in the packing list", "every case and pallet has its own SSCC");
  const tree = buildPackingTree({ cases: cases as string[], pallets: pallets as string[] });
  if (tree.root !== task.root.toLowerCase()) {
    return { ok: false, treeBuilt: true, error: { status: 422, code: "PACKING_ROOT_MISMATCH", message: `the packing list builds root ${tree.root}, but batch ${task.batchId} commits ${task.root}`, hint: "upload the SSCCs, by case and pallet index, that the batch's packingRoot was built from" } };
  }
  const row = { batchId: task.batchId, root: tree.root, cases: cases.length, pallets: pallets.length, uploadedBy: task.producer, uploadedAt: task.uploadedAt };
  if (task.dbFile === ":memory:") return { ok: true, root: tree.root, count: all.length, producer: task.producer, treeBuilt: true, lists: { cases: cases as string[], pallets: pallets as string[] } };
  const db = new Database(task.dbFile);
  try {
    db.pragma("busy_timeout = 10000");
    writePackingList(db, row, cases as string[], pallets as string[]);
  } finally {
    db.close();
  }
  return { ok: true, root: tree.root, count: all.length, producer: task.producer, treeBuilt: true };
}

parentPort?.on("message", ({ id, task }: { id: number; task: UploadTask }) => {
  let reply: UploadReply;
  try {
    reply = runUpload(task);
  } catch (err) {
    reply = { ok: false, treeBuilt: false, error: { status: 500, code: "UPLOAD_FAILED", message: (err as Error).message, hint: "retry; if it persists, tell the operator" } };
  }
  parentPort!.postMessage({ id, reply });
});
