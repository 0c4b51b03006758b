import path from "node:path";
import { REPO_ROOT } from "../chain/addresses";
import fp from "fastify-plugin";
import fastifyStatic from "@fastify/static";
import { Counter, Gauge } from "prom-client";
import type { AppConfig } from "../config";
import { JsonRpcClient } from "./chain-reader";
import { Indexer } from "./indexer";
import readRoutes from "./routes";
import { IndexStore } from "./store";
import { Verifier } from "./verification";

declare module "fastify" {
  interface FastifyInstance {
    /** The read side: index, indexer (absent when INDEXER_ENABLED=false) and verifier. */
    read: { store: IndexStore; indexer: Indexer | undefined; verifier: Verifier };
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
    const store = new IndexStore(file);
    const { chain } = app;
    const events = new Counter({ name: "medtrace_indexer_events_total", help: "Ledger events stored by the indexer", registers: [app.metrics] });
    const indexedBlock = new Gauge({ name: "medtrace_indexer_block", help: "Last block fully indexed", registers: [app.metrics] });

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
            events.inc(added);
            indexedBlock.set(to);
          },
        })
      : undefined;
    const currentBlock = () => indexer?.status.indexedBlock ?? store.checkpoint()?.block ?? -1;
    const verifier = new Verifier(store, chain.batchToken, chain.chainId, chain.addresses.batchToken, currentBlock, env.READ_TREE_CACHE, env.VERIFY_CACHE_SIZE);
    indexer?.on("reset", () => verifier.clear());
    app.decorate("read", { store, indexer, verifier });

    const apiKeys = env.READ_API_KEYS.split(",").map((k) => k.trim()).filter(Boolean);
    if (apiKeys.length === 0) app.log.warn("READ_API_KEYS is empty: custody, holdings, exports and audit are open to anyone who reaches the service (fine for a local demo only)");

    app.readiness.set("indexer", async () => {
      if (!indexer) return { ok: store.checkpoint() !== undefined, detail: `indexer disabled; serving the index at block ${currentBlock()}` };
      const s = indexer.status;
      if (s.lastError) return { ok: false, detail: `cannot read the chain: ${s.lastError} (index at block ${s.indexedBlock})` };
      if (s.indexedBlock < 0) return { ok: false, detail: "first read of the chain in progress" };
      return { ok: true, detail: `indexed to block ${s.indexedBlock} of ${s.headBlock}` };
    });

    await app.register(readRoutes, {
      store,
      indexer,
      verifier,
      apiKeys,
      publicRateLimitPerMinute: env.PUBLIC_RATE_LIMIT_PER_MINUTE,
      portalBaseUrl: env.PORTAL_BASE_URL,
      currentBlock,
    });
    await app.register(fastifyStatic, { root: path.join(REPO_ROOT, "api", "read", "public"), prefix: "/portal/", index: ["index.html"], maxAge: 60_000 });
    app.get("/", { schema: { hide: true } }, async (_request, reply) => reply.redirect("/portal/", 302));

    app.addHook("onReady", async () => indexer?.start());
    app.addHook("onClose", async () => {
      await indexer?.stop();
      store.close();
    });
  },
  { name: "read", dependencies: ["chain", "metrics", "readiness"] },
);
