import { z } from "zod";

const bool = (fallback: "true" | "false") =>
  z
    .enum(["true", "false"])
    .default(fallback)
    .transform((v) => v === "true");

/** Environment of the read side (indexer, queries, exports, portal). Every variable is listed in .env.example. */
export const readEnvSchema = z.object({
  READ_ENABLED: bool("true").describe("false runs a write-only relay without indexer, queries and portal"),
  INDEXER_DB_FILE: z
    .string()
    .default("index.sqlite")
    .describe("SQLite file of the event index, relative to DATA_DIR (or absolute); deleted and rebuilt when the chain was reset"),
  INDEXER_START_BLOCK: z.coerce
    .number()
    .int()
    .min(0)
    .default(0)
    .describe("first block to read logs from (the BatchToken deployment block on a long-lived chain)"),
  INDEXER_BLOCK_RANGE: z.coerce
    .number()
    .int()
    .min(1)
    .max(100_000)
    .default(5_000)
    .describe("blocks per eth_getLogs call; halved automatically when the node refuses a range as too large"),
  INDEXER_CONFIRMATIONS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000)
    .default(0)
    .describe("blocks behind the head the indexer stays (0 on QBFT, which has immediate finality)"),
  INDEXER_POLL_MS: z.coerce.number().int().min(20).max(60_000).default(500).describe("pause between polls of the head once caught up"),
  INDEXER_ENABLED: bool("true").describe("false serves queries from an existing index without following the chain"),
  READ_API_KEYS: z
    .string()
    .default("")
    .describe(
      "comma-separated keys for the member/auditor endpoints (custody, holdings, exports, audit; header x-api-key). Empty = those endpoints are open (local demo only; a warning is logged)",
    ),
  READ_SQLITE_CACHE_MB: z.coerce
    .number()
    .int()
    .min(2)
    .max(16_384)
    .default(64)
    .describe("SQLite page cache of the index per connection, MB: with the verdict cache, what bounds the read side's memory (proofs are read from stored nodes, no tree is held in memory)"),
  SERIAL_UPLOAD_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(1024 * 1024 * 1024)
    .default(32 * 1024 * 1024)
    .describe("largest serial or packing list upload accepted, bytes (413 beyond; 32 MiB holds 1,000,000 serials of 20 characters as JSON)"),
  SERIAL_UPLOAD_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(6).describe("serial and packing list uploads per client IP and minute"),
  SERIAL_UPLOAD_QUEUE: z.coerce.number().int().min(1).max(100).default(2).describe("uploads processed or waiting at once (one runs at a time, off the event loop); more get 503 UPLOAD_BUSY"),
  SERIAL_UPLOAD_WORKER_MB: z.coerce
    .number()
    .int()
    .min(64)
    .max(16_384)
    .default(1024)
    .describe("heap cap of the worker thread that parses, checks and builds an uploaded list (1,000,000 serials need ~400 MB)"),
  VERIFY_CACHE_SIZE: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(50_000)
    .describe("verdicts cached per indexed block (a verdict is chain state at a block, so a new block invalidates it); 0 disables"),
  VERIFY_TREE_CACHE_MB: z.coerce
    .number()
    .int()
    .min(0)
    .max(16_384)
    .default(16)
    .describe("serial-tree nodes kept in memory for proofs, MB (2 KB chunks of the hot batches' stored trees, kept across blocks since they never change); 0 reads every proof from the index"),
  PORTAL_BASE_URL: z
    .string()
    .default("/portal/")
    .describe("where the Digital Link resolver sends browsers (the portal page; absolute URL when the portal is served elsewhere)"),
});
export type ReadEnv = z.infer<typeof readEnvSchema>;
