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
  READ_TREE_CACHE: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(64)
    .describe("serial Merkle trees kept in memory (least recently used first out); a tree of 1M serials takes about 100 MB"),
  VERIFY_CACHE_SIZE: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(50_000)
    .describe("verdicts cached per indexed block (a verdict is chain state at a block, so a new block invalidates it); 0 disables"),
  PORTAL_BASE_URL: z
    .string()
    .default("/portal/")
    .describe("where the Digital Link resolver sends browsers (the portal page; absolute URL when the portal is served elsewhere)"),
});
export type ReadEnv = z.infer<typeof readEnvSchema>;
