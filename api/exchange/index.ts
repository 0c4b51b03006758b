import fp from "fastify-plugin";
import type { AppConfig } from "../config";
import exchangeRoutes, { PUBLIC_CORS_HEADERS } from "./routes";
import { ApiKeyAuthenticator, parseVrsApiKeys, VrsKeyConfigError } from "./vrs-auth";
import { ConfigError } from "../config";

/** Read-side routes that are public too and get the same CORS headers as the exchange routes. */
const PUBLIC_READ_ROUTES = new Set(["/v1/verify", "/v1/verify/scan"]);

/**
 * The exchange layer, above the read side: the GS1-Conformant Digital Link resolver and the DSCSA
 * VRS responder. Uses the read side's index and verifier (`app.read`), adds nothing to them.
 */
export default fp(
  async (app, opts: { config: AppConfig }) => {
    const env = opts.config.env;
    let keys;
    try {
      keys = parseVrsApiKeys(env.VRS_API_KEYS);
    } catch (err) {
      if (err instanceof VrsKeyConfigError) throw new ConfigError(`${err.message} — fix it in .env (see .env.example)`);
      throw err;
    }
    const authenticator = keys.size > 0 ? new ApiKeyAuthenticator(keys) : undefined;
    if (!authenticator) app.log.info("VRS_API_KEYS is empty: the VRS responder answers 503 VRS_NOT_CONFIGURED");
    const { store, verifier, indexer } = app.read;

    app.addHook("onSend", async (request, reply) => {
      if (PUBLIC_READ_ROUTES.has(request.routeOptions.url ?? "")) reply.headers(PUBLIC_CORS_HEADERS);
    });

    await app.register(exchangeRoutes, {
      store,
      verifier,
      currentBlock: () => indexer?.status.indexedBlock ?? store.checkpoint()?.block ?? -1,
      authenticator,
      responderGln: env.VRS_RESPONDER_GLN || undefined,
      publicBaseUrl: env.PUBLIC_BASE_URL || undefined,
      resolverName: env.RESOLVER_NAME,
      portalBaseUrl: env.PORTAL_BASE_URL,
      publicRateLimitPerMinute: env.PUBLIC_RATE_LIMIT_PER_MINUTE,
    });
  },
  { name: "exchange", dependencies: ["read"] },
);
