import fp from "fastify-plugin";
import type { AppConfig } from "../config";

/** The read side: indexer, queries, exports, portal. Filled in by the read-side work (issue 5). */
export default fp(async (_app, _opts: { config: AppConfig }) => {}, { name: "read", dependencies: ["chain", "metrics", "readiness"] });
