import path from "node:path";
import fp from "fastify-plugin";
import type { FastifyInstance, FastifyPluginAsync } from "fastify";
import { hasZodFastifySchemaValidationErrors } from "fastify-type-provider-zod";
import type { AppConfig } from "../config";
import { ChainLedgerFeed } from "./adapters/chain-feed";
import { IndexLedgerFeed } from "./adapters/index-feed";
import { JsonRpcClient } from "../read/chain-reader";
import { ChainMemberDirectory } from "./adapters/chain-directory";
import { CapturedListSource } from "./adapters/lists";
import { domainMapping } from "./adapters/mapping";
import { InProcessRelayPort } from "./adapters/relay-port";
import { ApiKeyAuthenticator } from "./adapters/auth";
import { Dispatcher } from "./capture/dispatcher";
import { TreeCache } from "./capture/planner";
import captureRoutes from "./capture/routes";
import type { EpcisEnv } from "./config";
import type { Authenticator, DocumentPort, EpcisMapping, LedgerFeed, ListSource, MemberDirectory, RelayPort } from "./ports";
import { Problem, problemBody } from "./problem";
import { Projector } from "./projector";
import routes, { TOP_LEVEL } from "./routes";
import type { EpcisService } from "./service";
import { EpcisStore } from "./store";
import { WebhookDeliverer } from "./subscriptions";
import { visibilityOfOwner } from "./service";
import { attachWebSocket } from "./websocket";

declare module "fastify" {
  interface FastifyInstance {
    /** The EPCIS 2.0 REST binding (tests and operators' tools reach its parts here). */
    epcis: EpcisService;
  }
}

export const EPCIS_PREFIX = "/epcis";
export const EPCIS_VERSION = "2.0.0";
export const CBV_VERSION = "2.0.0";

export interface EpcisPluginOptions {
  config: AppConfig;
  env: EpcisEnv;
  /** The ledger; default: the chain itself (eth_getLogs), see adapters/chain-feed.ts. */
  feed?: LedgerFeed;
  /** Ledger events → EPCIS; default: api/domain/epcis.ts. */
  mapping?: EpcisMapping;
  /** The member register; default: the Consortium contract. */
  directory?: MemberDirectory;
  /** Serial and packing lists beyond those captured here (the read side's uploads). */
  lists?: ListSource;
  /** The relay's custodial path; default: the relay in this process (app.relay), if enabled. */
  relay?: RelayPort;
  /** Who calls; default: custodial API keys (members) and READ_API_KEYS (auditors). */
  auth?: Authenticator;
  /** Business documents beside the captured ones; default: the read side's (app.read.documents), if it runs. */
  documents?: DocumentPort;
}

/** GS1 headers of every answer of the binding. */
const GS1_HEADERS = {
  "GS1-EPCIS-Version": EPCIS_VERSION,
  "GS1-CBV-Version": CBV_VERSION,
  "GS1-EPC-Format": "Always_GS1_Digital_Link",
  "GS1-Extensions": "ledger=https://example.org/medtrace/ledger#",
};

const versionOk = (v: string, cmp: "eq" | "min" | "max") => {
  const m = /^(\d+)\.(\d+)(?:\.(\d+))?$/.exec(v.trim());
  if (!m) return false;
  const n = Number(m[1]) * 10_000 + Number(m[2]) * 100 + Number(m[3] ?? 0);
  return cmp === "eq" ? Number(m[1]) === 2 && Number(m[2]) === 0 : cmp === "min" ? n <= 20_000 : n >= 20_000;
};

/** The routes under the prefix, with the binding's own error format (RFC 7807). */
const scoped: FastifyPluginAsync<{ service: EpcisService }> = async (app, { service }) => {
  const env = service.env;
  app.addContentTypeParser("application/ld+json", { parseAs: "string", bodyLimit: env.EPCIS_CAPTURE_MAX_BYTES }, (_request, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      (err as { statusCode?: number }).statusCode = 400;
      done(err as Error, undefined);
    }
  });
  app.addHook("onRequest", async (request, reply) => {
    reply.headers(GS1_HEADERS);
    // Version negotiation: the client's required versions must include 2.0.
    const h = request.headers;
    const checks: Array<[string, "eq" | "min" | "max"]> = [
      ["gs1-epcis-version", "eq"],
      ["gs1-epcis-min", "min"],
      ["gs1-epcis-max", "max"],
      ["gs1-cbv-version", "eq"],
      ["gs1-cbv-min", "min"],
      ["gs1-cbv-max", "max"],
    ];
    for (const [name, cmp] of checks) {
      const v = h[name];
      if (typeof v === "string" && !versionOk(v, cmp)) {
        throw new Problem(406, "NotAcceptableException", "VERSION_NOT_SUPPORTED", `${name} ${v} excludes version 2.0.0, the only one this service speaks`, "ask for EPCIS 2.0.0 and CBV 2.0.0 (or leave the header out)");
      }
    }
    const fmt = h["gs1-epc-format"];
    if (typeof fmt === "string" && fmt === "Always_EPC_URN") {
      throw new Problem(406, "NotAcceptableException", "EPC_FORMAT_NOT_SUPPORTED", "this service writes identifiers as GS1 Digital Link URIs only", "send GS1-EPC-Format: Always_GS1_Digital_Link or No_Preference");
    }
  });
  app.setErrorHandler((err, request, reply) => {
    let p: Problem;
    if (err instanceof Problem) p = err;
    else if (hasZodFastifySchemaValidationErrors(err)) {
      const issue = err.validation[0]!;
      const where = `${err.validationContext ?? "request"}${issue.instancePath || ""}`;
      const type = err.validationContext === "querystring" ? "QueryParameterException" : err.validationContext === "body" ? "ValidationException" : "QueryParameterException";
      const unknown = /Unrecognized key/i.test(issue.message ?? "");
      p = new Problem(400, type, unknown ? "QUERY_PARAMETER_UNKNOWN" : "REQUEST_INVALID", `${where}: ${issue.message}`, unknown ? "see the supported parameters in the OpenAPI document at /docs/json" : "fix the field as the OpenAPI document at /docs/json describes it");
    } else {
      const e = err as { statusCode?: number; code?: string; message: string };
      if (e.code === "FST_ERR_CTP_BODY_TOO_LARGE") p = new Problem(413, "CaptureLimitExceededException", "BODY_TOO_LARGE", `the body is larger than ${env.EPCIS_CAPTURE_MAX_BYTES} bytes`, "split the document into several captures");
      else if (e.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE") p = new Problem(415, "ValidationException", "UNSUPPORTED_MEDIA_TYPE", "unsupported content type", "send application/json or application/ld+json");
      else if (e.statusCode === 429) p = new Problem(429, "SecurityException", "RATE_LIMITED", e.message, "retry later");
      else if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) p = new Problem(e.statusCode, "ValidationException", /JSON/i.test(e.message) ? "MALFORMED_JSON" : "BAD_REQUEST", e.message, "send a JSON document");
      else {
        request.log.error({ err }, "EPCIS: unhandled error");
        p = new Problem(500, "ImplementationException", "INTERNAL", "internal error", "try again later; the operators have the details under this request id");
      }
    }
    return reply.code(p.status).type("application/problem+json").send(problemBody(p, request.url.split("?")[0]));
  });
  app.setNotFoundHandler((request, reply) => {
    const p = new Problem(404, "NoSuchResourceException", "NOT_FOUND", `no resource ${request.method} ${request.url.split("?")[0]}`, `the binding's resources: ${TOP_LEVEL.join(", ")} under ${service.prefix}; see /docs`);
    return reply.code(404).type("application/problem+json").send(problemBody(p));
  });

  // Discovery: OPTIONS on every resource (capabilities only, no data: no key needed).
  const discovery = (allow: string, extra: Record<string, string> = {}) => ({
    schema: { tags: ["epcis"], summary: `Discovery (${allow})`, hide: false },
    handler: async (_request: unknown, reply: { code(n: number): { headers(h: Record<string, string>): { send(): unknown } } }) =>
      reply
        .code(204)
        .headers({
          Allow: allow,
          "GS1-EPCIS-Min": EPCIS_VERSION,
          "GS1-EPCIS-Max": EPCIS_VERSION,
          "GS1-CBV-Min": CBV_VERSION,
          "GS1-CBV-Max": CBV_VERSION,
          "GS1-Vendor-Version": "medtrace-ledger 0.1.0",
          ...extra,
        })
        .send(),
  });
  const capture = { "GS1-EPCIS-Capture-Limit": String(env.EPCIS_CAPTURE_LIMIT), "GS1-EPCIS-Capture-File-Size-Limit": String(env.EPCIS_CAPTURE_MAX_BYTES), "GS1-Capture-Error-Behaviour": "rollback" };
  const options: Array<[string, string, Record<string, string>?]> = [
    ["/", "OPTIONS, GET", capture],
    ["/capture", "OPTIONS, GET, POST", capture],
    ["/capture/:captureID", "OPTIONS, GET"],
    ["/events", "OPTIONS, GET"],
    ["/events/:eventID", "OPTIONS, GET"],
    ["/eventTypes", "OPTIONS, GET"],
    ["/queries", "OPTIONS, GET, POST"],
    ["/queries/:queryName", "OPTIONS, GET, DELETE"],
    ["/queries/:queryName/events", "OPTIONS, GET"],
    ["/queries/:queryName/subscriptions", "OPTIONS, GET, POST"],
    ["/queries/:queryName/subscriptions/:subscriptionID", "OPTIONS, GET, DELETE"],
  ];
  for (const [url, allow, extra] of options) app.route({ method: "OPTIONS", url, ...(discovery(allow, extra) as object) } as never);

  await app.register(routes, { service });
  await app.register(captureRoutes, { service });
};

/**
 * The EPCIS 2.0 REST binding under /epcis: the projection of the ledger into EPCIS events
 * (projector), their queries, named queries and subscriptions (webhook, WebSocket), and capture
 * (EPCIS documents from members' systems become their on-chain actions through the relay).
 */
export default fp(
  async (app: FastifyInstance, opts: EpcisPluginOptions) => {
    const { config, env } = opts;
    const file = path.isAbsolute(env.EPCIS_DB_FILE) ? env.EPCIS_DB_FILE : path.join(config.dataDir, env.EPCIS_DB_FILE);
    const store = new EpcisStore(file);
    // With the read side in this service, follow its index (the chain read once, paged from SQLite);
    // without it, read the chain directly.
    const feed =
      opts.feed ??
      (app.hasDecorator("read")
        ? new IndexLedgerFeed(app.read.store, app.read.indexer, async (timeoutMs) => {
            const indexer = app.read.indexer;
            if (!indexer) return; // another process indexes: the feed is as fresh as its index
            const head = await app.chain.provider.getBlockNumber();
            await indexer.waitForBlock(head - config.env.INDEXER_CONFIRMATIONS, timeoutMs);
          })
        : new ChainLedgerFeed(new JsonRpcClient(config.env.CHAIN_RPC_URL, 30_000), config.addresses.batchToken, { pollMs: env.EPCIS_POLL_MS }));
    const directory = opts.directory ?? new ChainMemberDirectory(app.chain.consortium);
    const relayParts = app.hasDecorator("relay") ? app.relay : undefined;
    const relay =
      opts.relay ??
      (relayParts
        ? new InProcessRelayPort(relayParts, {
            addresses: config.addresses,
            chainId: BigInt(config.env.CHAIN_ID),
            maxRequestGas: config.env.RELAY_MAX_REQUEST_GAS,
            ttlSeconds: config.env.RELAY_CUSTODIAL_TTL_SECONDS,
          })
        : undefined);
    const readKeys = config.env.READ_API_KEYS.split(",").map((k) => k.trim()).filter(Boolean);
    const auth = opts.auth ?? new ApiKeyAuthenticator(relayParts?.custodial, readKeys);
    let lists: ListSource | undefined;
    const readDocs = app.hasDecorator("read") ? app.read.documents : undefined;
    const documents: DocumentPort | undefined =
      opts.documents ??
      (readDocs
        ? {
            bizTransactionsOf: (h) => readDocs.bizTransactions(h),
            remember: (h, list, by) => readDocs.rememberBizTransactions(h, list, by),
          }
        : undefined);
    const projector = new Projector({
      documents,
      feed,
      store,
      mapping: opts.mapping ?? domainMapping,
      directory,
      lists: {
        serialsOf: (id) => lists!.serialsOf(id),
        ssccOf: (id, k, i) => lists!.ssccOf(id, k, i),
        findSgtin: (g, s) => lists!.findSgtin(g, s),
        findSscc: (s) => lists!.findSscc(s),
      },
      pollMs: env.EPCIS_POLL_MS,
      log: app.log,
    });
    lists = new CapturedListSource(store, projector.state, opts.lists);
    const dispatcher = relay ? new Dispatcher({ store, relay, state: projector.state, pollMs: Math.min(env.EPCIS_POLL_MS, 100), log: app.log }) : undefined;
    projector.on("appended", () => dispatcher?.poke());
    const deliverer = new WebhookDeliverer({
      store,
      projector,
      visibilityOf: (owner) => visibilityOfOwner(directory, owner),
      batchSize: env.EPCIS_WEBHOOK_BATCH,
      timeoutMs: env.EPCIS_WEBHOOK_TIMEOUT_MS,
      backoffBaseMs: env.EPCIS_WEBHOOK_BACKOFF_MS,
      backoffMaxMs: env.EPCIS_WEBHOOK_BACKOFF_MAX_MS,
      allowPrivate: env.EPCIS_WEBHOOK_ALLOW_PRIVATE,
      allowHttp: env.EPCIS_WEBHOOK_ALLOW_HTTP,
      log: app.log,
    });
    const service: EpcisService = { env, prefix: EPCIS_PREFIX, store, projector, dispatcher, deliverer, directory, auth, relay, lists, trees: new TreeCache(), documents };
    app.decorate("epcis", service);

    app.readiness.set("epcis", async () => {
      if (projector.lastError) return { ok: false, detail: `the projector cannot read the ledger: ${projector.lastError}` };
      const at = projector.position === "" ? -1 : Number(projector.position.split(":")[0]);
      return { ok: true, detail: `${store.maxSeq()} EPCIS events projected, the last from the ledger event in block ${at}` };
    });

    await app.register(scoped, { prefix: EPCIS_PREFIX, service });

    let detachWs: (() => Promise<void>) | undefined;
    app.addHook("onReady", async () => {
      await projector.start();
      dispatcher?.start();
      deliverer.start();
      detachWs = attachWebSocket(app.server, service, app.log);
    });
    app.addHook("preClose", async () => {
      await detachWs?.();
    });
    app.addHook("onClose", async () => {
      await deliverer.stop();
      await dispatcher?.stop();
      await projector.stop();
      store.close();
    });
  },
  { name: "epcis", dependencies: ["chain", "readiness"] },
);
