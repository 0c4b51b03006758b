import { z } from "zod";

const bool = (def: "true" | "false") =>
  z
    .enum(["true", "false"])
    .default(def)
    .transform((v) => v === "true");

/** Environment of the relay (write side). Every variable is listed in .env.example. */
export const relayEnvSchema = z.object({
  RELAY_ENABLED: bool("true").describe("false runs a read-only node (auditors): no request intake, no submitter"),
  RELAYER_KEYS: z
    .string()
    .default("")
    .describe(
      "comma-separated 0x private keys of the relayer accounts that pay for (free) transactions; empty = dev accounts 11–14 of the public test mnemonic (chain 1337 only)",
    ),
  RELAY_SUBMITTER_ENABLED: bool("true").describe("false accepts and queues requests but sends nothing (a second intake node, or maintenance)"),
  RELAY_MAX_BATCH_SIZE: z.coerce.number().int().min(1).max(500).default(100).describe("most forward requests in one executeBatch transaction"),
  RELAY_BATCH_WAIT_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(10_000)
    .default(50)
    .describe("how long a relayer lane waits for more requests before sending a batch smaller than RELAY_MAX_BATCH_SIZE"),
  RELAY_MAX_PENDING_PER_KEY: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .default(4)
    .describe("most unmined transactions per relayer key; keep it below the node's per-sender cap (Besu sequenced pool: 5, layered: 200)"),
  RELAY_POLL_MS: z.coerce.number().int().min(20).max(10_000).default(200).describe("how often receipts of sent transactions are polled"),
  RELAY_REBROADCAST_MS: z.coerce
    .number()
    .int()
    .min(500)
    .max(600_000)
    .default(6_000)
    .describe("a sent transaction not mined after this long is checked and, if the node lost it, sent again"),
  RELAY_TX_GAS_CAP: z.coerce
    .number()
    .int()
    .min(100_000)
    .default(25_000_000)
    .describe("largest gas limit of one executeBatch transaction (below the chain's block gas limit)"),
  RELAY_MAX_REQUEST_GAS: z.coerce
    .number()
    .int()
    .min(21_000)
    .default(2_000_000)
    .describe("largest `gas` a signed request may ask the forwarder to pass to its target"),
  RELAY_NONCE_WINDOW: z.coerce
    .number()
    .int()
    .min(1)
    .max(10_000)
    .default(256)
    .describe("how far ahead of a signer's on-chain forwarder nonce a request's nonce may be (out-of-order arrival)"),
  RELAY_MEMBER_CACHE_MS: z.coerce
    .number()
    .int()
    .min(0)
    .max(60_000)
    .default(2_000)
    .describe("how long a signer's on-chain role is cached (intake reads the forwarder nonce fresh); the chain re-checks at execution anyway"),
  RELAY_MIN_DEADLINE_SECONDS: z.coerce
    .number()
    .int()
    .min(0)
    .max(86_400)
    .default(30)
    .describe("a request whose deadline is closer than this is refused: it could expire in the queue"),
  RELAY_MEMBER_RATE_PER_SECOND: z.coerce
    .number()
    .min(0.1)
    .default(2_000)
    .describe("sustained requests per second one member (signer or API key) may submit"),
  RELAY_MEMBER_BURST: z.coerce.number().int().min(1).default(4_000).describe("burst size of the per-member rate limit"),
  RELAY_IP_RATE_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .default(600_000)
    .describe("requests per minute one client IP may make to the write endpoints"),
  RELAY_ADMIN_RATE_PER_MINUTE: z.coerce
    .number()
    .int()
    .min(1)
    .default(30)
    .describe("requests per minute one client IP may make to each admin endpoint (raise it for scripted bulk enrolment)"),
  RELAY_MAX_QUEUE: z.coerce
    .number()
    .int()
    .min(1)
    .default(200_000)
    .describe("queued requests at which intake answers 503 QUEUE_FULL instead of accepting more"),
  RELAY_MAX_QUEUED_PER_MEMBER: z.coerce
    .number()
    .int()
    .min(1)
    .max(1_000_000)
    .default(200)
    .describe(
      "requests of one member (signer) not yet on chain — queued or submitted — at which intake answers 429 MEMBER_QUEUE_FULL; bounds what one member, e.g. one parking requests behind a nonce gap, holds of the relay",
    ),
  RELAY_STALL_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(3_600_000)
    .default(30_000)
    .describe("a relayer lane whose ready requests (or whose oldest unmined transaction) waited longer than this is reported stalled on /ready and in the metrics"),
  RELAY_ADDRESS_CACHE_SIZE: z.coerce
    .number()
    .int()
    .min(100)
    .max(10_000_000)
    .default(10_000)
    .describe("addresses whose role, forwarder nonce and rate-limit state the relay keeps in memory (least recently used go first; they are read again when next seen)"),
  RELAY_MAX_LONG_POLLS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(10_000)
    .describe("GET /v1/requests/:id?wait= calls held open at once; past it, the status is answered at once (the client simply asks again)"),
  RELAY_ADMIN_TOKEN: z
    .string()
    .min(24, "must be at least 24 characters")
    .optional()
    .describe("bearer token of the admin endpoints (custodial enrolment); unset = admin endpoints answer 404"),
  RELAY_KEYSTORE_PASSPHRASE: z
    .string()
    .min(12, "must be at least 12 characters")
    .optional()
    .describe("passphrase of the encrypted keystores of custodial members; unset = custodial signing off"),
  RELAY_KEYSTORE_SCRYPT_N: z.coerce
    .number()
    .int()
    .refine((n) => n >= 1024 && (n & (n - 1)) === 0, { message: "must be a power of two ≥ 1024" })
    .default(131_072)
    .describe("scrypt cost of newly written custodial keystores (ethers default 131072; tests lower it)"),
  RELAY_CUSTODIAL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(30 * 86_400)
    .default(3_600)
    .describe("deadline the relay gives the requests it signs for custodial members"),
});
export type RelayEnv = z.infer<typeof relayEnvSchema>;
