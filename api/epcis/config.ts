import { z } from "zod";

const bool = (fallback: "true" | "false") =>
  z
    .enum(["true", "false"])
    .default(fallback)
    .transform((v) => v === "true");

/** Environment of the EPCIS 2.0 REST binding (api/epcis). Every variable is listed in .env.example. */
export const epcisEnvSchema = z.object({
  EPCIS_ENABLED: bool("true").describe("false leaves the EPCIS binding (/epcis) out"),
  EPCIS_DB_FILE: z.string().default("epcis.sqlite").describe("SQLite file of the EPCIS projection, capture jobs and subscriptions, relative to DATA_DIR (or absolute)"),
  EPCIS_POLL_MS: z.coerce.number().int().min(10).max(60_000).default(250).describe("how often the projector asks the ledger feed for new events, and the capture dispatcher follows its requests"),
  EPCIS_PER_PAGE_MAX: z.coerce.number().int().min(1).max(10_000).default(1_000).describe("the largest perPage a query may ask for (default page: 30, as GS1's OpenAPI says)"),
  EPCIS_CAPTURE_LIMIT: z.coerce.number().int().min(1).max(100_000).default(10_000).describe("the most events one capture document may hold (GS1-EPCIS-Capture-Limit)"),
  EPCIS_CAPTURE_MAX_BYTES: z.coerce.number().int().min(1_024).max(104_857_600).default(16_777_216).describe("the largest capture document, bytes (GS1-EPCIS-Capture-File-Size-Limit)"),
  EPCIS_CAPTURE_CATCHUP_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(5_000)
    .describe("how long a capture waits for the projection to reach the chain's head before its checks (read your writes); after it, the checks run on what is projected"),
  EPCIS_WEBHOOK_BATCH: z.coerce.number().int().min(1).max(1_000).default(100).describe("events per webhook POST"),
  EPCIS_WEBHOOK_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(10_000).describe("how long a webhook receiver has to answer"),
  EPCIS_WEBHOOK_BACKOFF_MS: z.coerce.number().int().min(10).max(600_000).default(1_000).describe("first retry delay after a failed delivery; doubles each failure"),
  EPCIS_WEBHOOK_BACKOFF_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(300_000).describe("longest retry delay"),
  EPCIS_WEBHOOK_ALLOW_PRIVATE: bool("false").describe("true lets subscriptions post to loopback and private addresses (tests, a receiver on the same host); keep false where members are not trusted with the service's network"),
  EPCIS_WEBHOOK_ALLOW_HTTP: bool("false").describe("true accepts http:// destinations (payloads are signed but not encrypted)"),
});
export type EpcisEnv = z.infer<typeof epcisEnvSchema>;
