import { z } from "zod";
import { isGln } from "../domain/gs1";

/** Environment of the exchange layer (resolver, VRS). Every variable is listed in .env.example. */
export const exchangeEnvSchema = z.object({
  VRS_API_KEYS: z
    .string()
    .default("")
    .describe("requestor API keys of the VRS responder, `gln:key,gln:key` (key ≥ 16 characters; a GLN may have several). Empty = every VRS request is refused with 503 VRS_NOT_CONFIGURED"),
  VRS_RESPONDER_GLN: z
    .string()
    .default("")
    .refine((v) => v === "" || isGln(v), { message: "must be a 13-digit GLN with a valid check digit" })
    .describe("responderGLN when the batch's producer has no GLN in the register or the batch is unknown (the consortium's own GLN); empty = null then"),
  PUBLIC_BASE_URL: z
    .string()
    .default("")
    .refine((v) => v === "" || /^https?:\/\/[^/]+$/.test(v), { message: "must be scheme://host[:port] without a path" })
    .describe("absolute origin of the service as the public sees it (resolver links, linksets, /.well-known/gs1resolver); empty = taken from each request's Host"),
  RESOLVER_NAME: z.string().default("medtrace-ledger resolver").describe("name in /.well-known/gs1resolver"),
});
export type ExchangeEnv = z.infer<typeof exchangeEnvSchema>;
