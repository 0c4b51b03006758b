import path from "node:path";
import { spawn, type ChildProcess } from "node:child_process";
import { expect } from "chai";
import type { FastifyInstance } from "fastify";
import { HDNodeWallet, Mnemonic } from "ethers";
import { buildApp } from "../../api/app";
import { REPO_ROOT } from "../../api/chain/addresses";
import { freePort, startAnvil, type NodeProcess } from "../../scripts/lib/nodes";
import { systemAt } from "../fixtures/chain";
import { executedRequests, giveStock, mintStock, relayConfig, shipData, startChain, startStockedChain, tempDir, testLogger, until, who, type Chain } from "../api/relay/stack";
import { driveLoad, statesOf, type LoadResult, type Sender } from "../api/relay/load";

/**
 * Fault drills: the relay process is SIGKILLed under load and restarted; the node stops and comes
 * back mid-load; two relays with different relayer keys share one chain. In every drill each
 * accepted request must end mined, executed exactly once on chain (one ExecutedForwardRequest
 * per signer and nonce, success true), and the signers' forwarder nonces must end exactly where
 * the accepted requests say.
 */

const TS_NODE = require.resolve("ts-node/dist/bin.js");
const DEV = Mnemonic.fromPhrase("test test test test test test test test test test test junk");
const devKey = (i: number) => HDNodeWallet.fromMnemonic(DEV, `m/44'/60'/0'/0/${i}`).privateKey;

interface RelayProcess {
  child: ChildProcess;
  output: () => string;
}

/** api/server.ts as a child process (ts-node --transpile-only), answering /health. */
async function spawnRelay(env: Record<string, string>, port: number): Promise<RelayProcess> {
  let out = "";
  const child = spawn(process.execPath, [TS_NODE, "--transpile-only", path.join(REPO_ROOT, "api", "server.ts")], {
    cwd: REPO_ROOT,
    env: { ...process.env, ...env, HOST: "127.0.0.1", PORT: String(port) },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const keep = (c: Buffer) => {
    out = (out + c.toString()).slice(-6_000);
  };
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  await until(`the relay process on port ${port} to answer /health`, 60_000, async () => {
    if (child.exitCode !== null) throw new Error(`relay exited with ${child.exitCode}: ${out}`);
    try {
      return (await fetch(`http://127.0.0.1:${port}/health`)).ok;
    } catch {
      return false;
    }
  });
  return { child, output: () => out };
}

function kill(p: RelayProcess, signal: NodeJS.Signals): Promise<void> {
  return new Promise((resolve) => {
    if (p.child.exitCode !== null || p.child.signalCode !== null) return resolve();
    p.child.once("exit", () => resolve());
    p.child.kill(signal);
  });
}

async function sendersFor(chain: Chain, batchId: bigint, pairs: [HDNodeWallet, HDNodeWallet][]): Promise<Sender[]> {
  const { forwarder } = systemAt(chain.addresses, chain.provider);
  return Promise.all(
    pairs.map(async ([wallet, receiver]) => ({ wallet, to: chain.addresses.batchToken, data: () => shipData(batchId, receiver.address), startNonce: await forwarder.nonces(wallet.address) })),
  );
}

/** Every accepted request mined, executed once with success, nonces exactly advanced. */
async function expectExactlyOnce(chain: Chain, url: string, load: LoadResult, senders: Sender[], perSender: number | ((s: Sender) => number)) {
  expect(load.refusals).to.deep.equal([]);
  const ids = [...load.accepted.values()];
  await until("every accepted request to be final", 120_000, async () => {
    try {
      return [...(await statesOf(url, ids)).values()].every((s) => s.state === "mined" || s.state === "failed");
    } catch {
      return false;
    }
  });
  const states = await statesOf(url, ids);
  expect([...states.entries()].filter(([, s]) => s.state !== "mined").map(([id, s]) => ({ id, ...s }))).to.deep.equal([]);
  const executed = await executedRequests(chain);
  for (const key of load.accepted.keys()) expect(executed.get(key), key).to.deep.equal([true]);
  const { forwarder } = systemAt(chain.addresses, chain.provider);
  for (const s of senders) {
    const n = typeof perSender === "number" ? perSender : perSender(s);
    expect(await forwarder.nonces(s.wallet.address), s.wallet.address).to.equal(s.startNonce + BigInt(n));
  }
}

describe("relay fault drills", function () {
  this.timeout(300_000);

  describe("on one chain with 1 s blocks", function () {
    let chain: Chain;
    let batchId: bigint;
    before(async () => {
      ({ chain, batchId } = await startStockedChain());
    });
    after(async () => chain?.stop());

    it("(a) SIGKILL of the relay process at random moments under load, three times: every accepted request mined exactly once", async function () {
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      const env = {
        CHAIN_RPC_URL: chain.url,
        CHAIN_ID: "1337",
        FORWARDER_ADDRESS: chain.addresses.forwarder,
        CONSORTIUM_ADDRESS: chain.addresses.consortium,
        BATCH_TOKEN_ADDRESS: chain.addresses.batchToken,
        DATA_DIR: tempDir("kill"),
        READ_ENABLED: "false",
        LOG_LEVEL: "warn",
        RELAY_MAX_BATCH_SIZE: "10",
        RELAY_POLL_MS: "100",
        RELAY_REBROADCAST_MS: "3000",
      };
      let relay = await spawnRelay(env, port);
      const senders = await sendersFor(chain, batchId, [
        [who.producer, who.distributor],
        [who.distributor, who.pharmacy],
        [who.distributor2, who.pharmacy],
      ]);
      const perSender = 100;
      // Three random moments under load: the relay is SIGKILLed the instant a random share of the
      // requests has been accepted, with the other senders' requests in flight. (Waiting for the
      // count by polling let a fast machine finish the whole load before the first kill.)
      const total = senders.length * perSender;
      const points = [Math.random(), Math.random(), Math.random()].map((x) => Math.floor((0.1 + 0.6 * x) * total)).sort((x, y) => x - y);
      let killedAt: (() => void) | undefined;
      const onAccepted = (count: number) => {
        if (count >= points[0] && relay.child.exitCode === null && relay.child.signalCode === null && killedAt) {
          points.shift();
          relay.child.kill("SIGKILL");
          killedAt();
        }
      };
      const loading = driveLoad({ url: () => url, addresses: chain.addresses, senders, perSender, window: 10, timeoutMs: 200_000, onAccepted });
      try {
        for (let k = 0; k < 3; k++) {
          await new Promise<void>((resolve) => (killedAt = resolve));
          killedAt = undefined;
          await kill(relay, "SIGKILL"); // waits for the exit
          relay = await spawnRelay(env, port);
        }
        const load = await loading;
        expect(load.accepted.size).to.equal(senders.length * perSender);
        expect(load.retries, "the kills must have interrupted the load").to.be.greaterThan(0);
        await expectExactlyOnce(chain, url, load, senders, perSender);
      } finally {
        await kill(relay, "SIGTERM");
      }
    });

    it("(c) two relay instances with different relayer keys on one chain do not interfere", async function () {
      const startOne = async (keys: number[]) => {
        const app: FastifyInstance = await buildApp(relayConfig(chain.url, chain.addresses, { RELAYER_KEYS: keys.map(devKey).join(","), RELAY_MAX_BATCH_SIZE: "10" }), testLogger());
        await app.listen({ port: 0, host: "127.0.0.1" });
        return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
      };
      const a = await startOne([11, 12, 13, 14]);
      const b = await startOne([15, 16, 17, 18]);
      try {
        const sendersA = await sendersFor(chain, batchId, [[who.producer, who.distributor], [who.distributor, who.pharmacy]]);
        const sendersB = await sendersFor(chain, batchId, [[who.distributor2, who.pharmacy]]);
        const [loadA, loadB] = await Promise.all([
          driveLoad({ url: () => a.url, addresses: chain.addresses, senders: sendersA, perSender: 80, window: 20 }),
          driveLoad({ url: () => b.url, addresses: chain.addresses, senders: sendersB, perSender: 80, window: 20 }),
        ]);
        await expectExactlyOnce(chain, a.url, loadA, sendersA, 80);
        await expectExactlyOnce(chain, b.url, loadB, sendersB, 80);
        // Each relay used only its own keys.
        const relayersOf = async (url: string, load: LoadResult) => {
          const states = await statesOf(url, [...load.accepted.values()]);
          const hashes = new Set([...states.values()].map((s) => (s as unknown as { txHash: string }).txHash));
          return new Set(await Promise.all([...hashes].map(async (h) => (await chain.provider.getTransaction(h))!.from.toLowerCase())));
        };
        const keysA = new Set([11, 12, 13, 14].map((i) => HDNodeWallet.fromMnemonic(DEV, `m/44'/60'/0'/0/${i}`).address.toLowerCase()));
        for (const r of await relayersOf(a.url, loadA)) expect(keysA.has(r), r).to.equal(true);
        for (const r of await relayersOf(b.url, loadB)) expect(keysA.has(r), r).to.equal(false);
      } finally {
        await a.app.close();
        await b.app.close();
      }
    });
  });

  it("(b) the node stops for a few seconds mid-load and comes back: nothing lost, nothing run twice", async function () {
    const stateFile = path.join(tempDir("state"), "anvil-state.json");
    const chain = await startChain({ blockTime: 1, stateFile });
    let node: NodeProcess = chain.node;
    const port = node.port;
    const batchId = await mintStock(chain, 1_000_000n);
    await giveStock(chain, batchId, who.distributor, 100_000n);
    const app: FastifyInstance = await buildApp(relayConfig(chain.url, chain.addresses, { RELAY_MAX_BATCH_SIZE: "10", RELAY_REBROADCAST_MS: "2000" }), testLogger());
    try {
      await app.listen({ port: 0, host: "127.0.0.1" });
      const url = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
      const senders = await sendersFor(chain, batchId, [[who.producer, who.distributor], [who.distributor, who.pharmacy]]);
      const perSender = 100;
      const loading = driveLoad({ url: () => url, addresses: chain.addresses, senders, perSender, window: 10, timeoutMs: 200_000 });
      await until("some requests to be accepted", 30_000, () => app.relay.outbox.counts().mined > 20);
      await node.stop(); // anvil writes its state file on exit; its transaction pool is lost
      const ready = await app.inject({ method: "GET", url: "/ready" });
      expect(ready.statusCode).to.equal(503);
      await new Promise((r) => setTimeout(r, 3_000)); // the outage itself
      node = await startAnvil({ port, stateFile, blockTime: 1 });
      const load = await loading;
      expect(load.accepted.size).to.equal(senders.length * perSender);
      await expectExactlyOnce({ ...chain, provider: chain.provider }, url, load, senders, perSender);
      await until("/ready to recover", 20_000, async () => (await app.inject({ method: "GET", url: "/ready" })).statusCode === 200);
    } finally {
      await app.close();
      chain.provider.destroy();
      await node.stop();
    }
  });
});
