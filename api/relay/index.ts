import fp from "fastify-plugin";
import type { AppConfig } from "../config";

/** The write side: request intake, durable outbox, submitter. Filled in by the relay work (issue 4). */
export default fp(async (_app, _opts: { config: AppConfig }) => {}, { name: "relay", dependencies: ["chain", "metrics", "readiness"] });
