import fp from "fastify-plugin";
import { HDNodeWallet, Mnemonic, keccak256 } from "ethers";
import type { AppConfig } from "../config";
import { cachedCheck } from "../plugins/readiness";
import { ConfigError } from "../config";
import { ChainView } from "./chain-view";
import { CustodialStore } from "./custodial";
import { nativeCryptoStatus } from "./forward-request";
import { Intake } from "./intake";
import { SignerRecovery } from "./recovery";
import { createRelayMetrics, registerCacheMetrics, registerLaneMetrics } from "./metrics";
import { Outbox } from "./outbox";
import relayRoutes from "./routes";
import { Submitter } from "./submitter";
import { RpcClient } from "./rpc";

declare module "fastify" {
  interface FastifyInstance {
    /** The write side: outbox, intake and submitter (tests and operators' tools reach them here). */
    relay: { outbox: Outbox; intake: Intake; submitter: Submitter; custodial: CustodialStore | undefined };
  }
}

/** Public Hardhat/anvil development mnemonic (same as hardhat.config.ts): its keys hold nothing of value. */
const DEV_MNEMONIC = "test test test test test test test test test test test junk";
const DEV_RELAYER_INDICES = [11, 12, 13, 14];

/** RELAYER_KEYS, or on the dev chain (1337) the dev accounts 11–14. */
export function relayerKeys(config: AppConfig): string[] {
  const keys = config.env.RELAYER_KEYS.split(",").map((k) => k.trim()).filter(Boolean);
  for (const k of keys) if (!/^0x[0-9a-fA-F]{64}$/.test(k)) throw new ConfigError("RELAYER_KEYS: every key must be 0x followed by 64 hex digits");
  if (keys.length > 0) return keys;
  if (config.env.CHAIN_ID !== 1337) throw new ConfigError("RELAYER_KEYS is empty: set the relayer private keys (dev keys are only used on chain 1337)");
  const mnemonic = Mnemonic.fromPhrase(DEV_MNEMONIC);
  return DEV_RELAYER_INDICES.map((i) => HDNodeWallet.fromMnemonic(mnemonic, `m/44'/60'/0'/0/${i}`).privateKey);
}

/**
 * The write side: request intake (verification → durable outbox), the submitter (relayer key
 * pool → executeBatch), request status, custodial signing, and chain-reset detection.
 */
export default fp(
  async (app, opts: { config: AppConfig }) => {
    const { config } = opts;
    const env = config.env;
    const native = nativeCryptoStatus();
    if (!native.secp256k1 || !native.keccak) {
      app.log.warn({ native }, "secp256k1/keccak native bindings did not load: signature checks fall back to pure JS and are ~20x slower");
    }
    const keys = relayerKeys(config);
    const outbox = new Outbox(config.dataDir);
    const metrics = createRelayMetrics(app.metrics, outbox);
    const rpc = new RpcClient(env.CHAIN_RPC_URL);
    const view = new ChainView(rpc, config.addresses, env.RELAY_MEMBER_CACHE_MS, env.RELAY_ADDRESS_CACHE_SIZE);
    const submitter = new Submitter({
      rpc,
      chainId: app.chain.chainId,
      addresses: config.addresses,
      outbox,
      view,
      metrics,
      log: app.log.child({ component: "submitter" }),
      relayerKeys: keys,
      maxBatchSize: env.RELAY_MAX_BATCH_SIZE,
      batchWaitMs: env.RELAY_BATCH_WAIT_MS,
      maxPendingPerKey: env.RELAY_MAX_PENDING_PER_KEY,
      pollMs: env.RELAY_POLL_MS,
      rebroadcastMs: env.RELAY_REBROADCAST_MS,
      txGasCap: env.RELAY_TX_GAS_CAP,
      enabled: env.RELAY_SUBMITTER_ENABLED,
      stallMs: env.RELAY_STALL_MS,
      addressCacheSize: env.RELAY_ADDRESS_CACHE_SIZE,
    });
    const recovery = new SignerRecovery();
    const intake = new Intake({ env, chainId: app.chain.chainId, addresses: config.addresses, rpc, outbox, view, submitter, metrics, recovery });
    const custodial = env.RELAY_KEYSTORE_PASSPHRASE ? new CustodialStore(outbox.db, config.dataDir, env.RELAY_KEYSTORE_PASSPHRASE, env.RELAY_KEYSTORE_SCRYPT_N) : undefined;
    app.decorate("relay", { outbox, intake, submitter, custodial });
    registerLaneMetrics(app.metrics, outbox, () => submitter.laneStates());
    registerCacheMetrics(app.metrics, () => ({ ...view.cacheSizes(), rateLimitBuckets: intake.bucketCount, lanePins: submitter.pinnedSigners }));

    // ── Chain identity: the genesis hash and the forwarder's code are remembered in the outbox. A
    // different genesis (the chain was reset) or no code (wrong addresses, fresh chain) stops intake
    // and submission and is reported on /ready; queued requests are kept for the operators.
    let chainIssue: string | undefined;
    const checkChain = async () => {
      const [genesis, code] = await Promise.all([
        app.chain.provider.send("eth_getBlockByNumber", ["0x0", false]) as Promise<{ hash: string } | null>,
        app.chain.provider.getCode(config.addresses.forwarder),
      ]);
      let issue: string | undefined;
      const known = outbox.getMeta("genesis");
      if (!genesis) issue = "the node has no genesis block";
      else if (known && known !== genesis.hash) issue = `chain reset: genesis is ${genesis.hash}, the outbox was written for ${known}`;
      else if (code === "0x") issue = `no forwarder code at ${config.addresses.forwarder}: the chain was reset or FORWARDER_ADDRESS is wrong`;
      else {
        const codeHash = keccak256(code);
        const knownCode = outbox.getMeta("forwarderCode");
        if (knownCode && knownCode !== codeHash) issue = `the code at the forwarder address changed (${knownCode} → ${codeHash})`;
        if (!known) outbox.setMeta("genesis", genesis.hash);
        if (!knownCode) outbox.setMeta("forwarderCode", codeHash);
      }
      if (issue !== chainIssue) {
        if (issue) app.log.error({ issue }, "chain identity check failed: intake and submission stopped");
        else if (chainIssue) app.log.info("chain identity check passes again");
      }
      chainIssue = issue;
      intake.setChainIssue(issue);
      submitter.setChainIssue(issue);
    };
    let timer: NodeJS.Timeout | undefined;
    const scheduleChainCheck = () => {
      timer = setTimeout(() => {
        checkChain()
          .catch(() => undefined) // node down: the submitter and /ready report that
          .finally(scheduleChainCheck);
      }, 5_000);
      timer.unref();
    };

    // The write probe (a synced SQLite commit) and the chain identity (two node calls) are reused
    // for READY_CACHE_MS; the counts and the submitter's state are in memory and always fresh.
    const probe = cachedCheck(async () => {
      outbox.probeWrite();
      return { ok: true, detail: "writable" };
    }, env.READY_CACHE_MS);
    app.readiness.set("outbox", async () => {
      const written = await probe();
      if (!written.ok) return written;
      const c = outbox.counts();
      return { ok: true, detail: `writable; ${c.queued} queued, ${c.submitted} submitted, ${c.mined} mined, ${c.failed} failed` };
    });
    app.readiness.set(
      "relayChain",
      cachedCheck(async () => {
        await checkChain();
        return chainIssue ? { ok: false, detail: chainIssue } : { ok: true, detail: "genesis and forwarder code match the outbox" };
      }, env.READY_CACHE_MS),
    );
    app.readiness.set("submitter", async () => submitter.status());

    await app.register(relayRoutes, { config, intake, outbox, custodial });

    app.addHook("onReady", async () => {
      await checkChain().catch((err: Error) => app.log.warn({ err: err.message }, "chain not reachable at start: requests stay queued until it is"));
      scheduleChainCheck();
      await submitter.start();
    });
    app.addHook("onClose", async () => {
      if (timer) clearTimeout(timer);
      await submitter.stop();
      await recovery.close();
      outbox.close();
    });
  },
  { name: "relay", dependencies: ["chain", "metrics", "readiness"] },
);
