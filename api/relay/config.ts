import { z } from "zod";

/** Environment of the relay (write side). Every variable is listed in .env.example. */
export const relayEnvSchema = z.object({
  RELAY_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .describe("false runs a read-only node (auditors): no request intake, no submitter"),
});
export type RelayEnv = z.infer<typeof relayEnvSchema>;
