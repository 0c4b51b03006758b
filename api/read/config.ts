import { z } from "zod";

/** Environment of the read side (indexer, queries, exports, portal). Every variable is listed in .env.example. */
export const readEnvSchema = z.object({
  READ_ENABLED: z
    .enum(["true", "false"])
    .default("true")
    .transform((v) => v === "true")
    .describe("false runs a write-only relay without indexer, queries and portal"),
});
export type ReadEnv = z.infer<typeof readEnvSchema>;
