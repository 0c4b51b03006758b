import path from "node:path";
import { REPO_ROOT } from "../chain/addresses";
import fp from "fastify-plugin";
import fastifyStatic from "@fastify/static";
import { Counter, Gauge } from "prom-client";
import { Uploader } from "./uploads";
import type { AppConfig } from "../config";
import { JsonRpcClient, redactUrls } from "./chain-reader";
import { Indexer } from "./indexer";
import readRoutes from "./routes";
import { IndexStore } from "./store";
import { DocumentStore } from "./documents";
import documentRoutes from "./document-routes";
import { epcisContextOf, type ReadEpcisContext } from "./epcis-context";
import { Verifier } from "./verification";

declare module "fastify" {
  interface FastifyInstance {
    /** The read side: index, indexer (absent when INDEXER_ENABLED=false) and verifier. */
    read: { store: IndexStore; indexer: Indexer | undefined; verifier: Verifier; uploader: Uploader; documents: DocumentStore; epcisContext: ReadEpcisContext };
  }
}

/**
 * The read side: the indexer (chain → SQLite), member/auditor queries and exports, public
 * verification with the Digital Link resolver, and the portal's static files under /portal/.
 * Works with the relay switched off (a read-only auditor node).
 */
export default fp(
  async (app, opts: { config: AppConfig }) => {
    const env = opts.config.env;
    const file = path.isAbsolute(env.INDEXER_DB_FILE) ? env.INDEXER_DB_FILE : path.join(opts.config.dataDir, env.INDEXER_DB_FILE);
    const store = new IndexStore(file, { cacheMb: env.READ_SQLITE_CACHE_MB });
    const { chain } = app;
    const events = new Counter({ name: "medtrace_indexer_events_total", help: "Ledger events stored by the indexer", registers: [app.metrics] });
    const indexedBlock = new Gauge({ name: "medtrace_indexer_block", help: "Last block fully indexed", registers: [app.metrics] });
    const alerts = new Counter({
      name: "medtrace_indexer_alerts_total",
      help: "Ledger events the indexer could not decode, store or fit to the ledger (kept as alerts; indexing goes on)",
      labelNames: ["kind"],
      registers: [app.metrics],
    });

    // Master data and business documents the chain commits to (documents.ts), and the EPCIS context over both.
    const documents = new DocumentStore(store, { chainId: chain.chainId, batchToken: chain.addresses.batchToken });
    const epcisContext = epcisContextOf(store, documents);

    const rpc = new JsonRpcClient(env.CHAIN_RPC_URL, 30_000);
    const indexer = env.INDEXER_ENABLED
      ? new Indexer({
          provider: rpc,
          store,
          batchToken: chain.addresses.batchToken,
          consortium: chain.consortium,
          chainId: chain.chainId,
          startBlock: env.INDEXER_START_BLOCK,
          blockRange: env.INDEXER_BLOCK_RANGE,
          confirmations: env.INDEXER_CONFIRMATIONS,
          pollMs: env.INDEXER_POLL_MS,
          log: app.log,
          onRange: (added, to) => {
            documents.clearCache();
            events.inc(added);
            indexedBlock.set(to);
          },
          onAlert: (alert) => alerts.inc({ kind: alert.kind }),
        })
      : undefined;
    const currentBlock = () => indexer?.status.indexedBlock ?? store.checkpoint()?.block ?? -1;
    const verifier = new Verifier(store, currentBlock, env.VERIFY_CACHE_SIZE, env.VERIFY_TREE_CACHE_MB);
    indexer?.on("reset", () => {
      verifier.clear();
      documents.clearCache();
    });
    const uploader = new Uploader({
      store,
      batchToken: chain.batchToken,
      chainId: chain.chainId,
      batchTokenAddress: chain.addresses.batchToken,
      queueLimit: env.SERIAL_UPLOAD_QUEUE,
      workerHeapMb: env.SERIAL_UPLOAD_WORKER_MB,
      onStored: () => verifier.clear(),
    });
    app.decorate("read", { store, indexer, verifier, uploader, documents, epcisContext });

    const apiKeys = env.READ_API_KEYS.split(",").map((k) => k.trim()).filter(Boolean);
    if (apiKeys.length === 0) app.log.warn("READ_API_KEYS is empty: custody, holdings, exports and audit are open to anyone who reaches the service (fine for a local demo only)");

    app.readiness.set("indexer", async () => {
      if (!indexer) return { ok: store.checkpoint() !== undefined, detail: `indexer disabled; serving the index at block ${currentBlock()}` };
      const s = indexer.status;
      // lastError carries no URL (redacted where it is recorded): /ready is public.
      if (s.lastError) return { ok: false, detail: `cannot read the chain: ${redactUrls(s.lastError)} (index at block ${s.indexedBlock})` };
      if (s.indexedBlock < 0) return { ok: false, detail: "first read of the chain in progress" };
      return { ok: true, detail: `indexed to block ${s.indexedBlock} of ${s.headBlock}` };
    });

    await app.register(readRoutes, {
      store,
      indexer,
      verifier,
      uploader,
      apiKeys,
      publicRateLimitPerMinute: env.PUBLIC_RATE_LIMIT_PER_MINUTE,
      uploadRateLimitPerMinute: env.SERIAL_UPLOAD_RATE_LIMIT_PER_MINUTE,
      uploadMaxBytes: env.SERIAL_UPLOAD_MAX_BYTES,
      portalBaseUrl: env.PORTAL_BASE_URL,
      currentBlock,
      epcisContext,
    });
    await app.register(documentRoutes, { documents, apiKeys, uploadRateLimitPerMinute: env.SERIAL_UPLOAD_RATE_LIMIT_PER_MINUTE });
    await app.register(fastifyStatic, { root: path.join(REPO_ROOT, "api", "read", "public"), prefix: "/portal/", index: ["index.html"], maxAge: 60_000 });
    app.get("/", { schema: { hide: true } }, async (_request, reply) => reply.redirect("/portal/", 302));

    app.addHook("onReady", async () => indexer?.start());
    app.addHook("onClose", async () => {
      await indexer?.stop();
      await uploader.close();
      store.close();
    });
  },
  { name: "read", dependencies: ["chain", "metrics", "readiness"] },
);
