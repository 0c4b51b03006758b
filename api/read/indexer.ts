import { EventEmitter } from "node:events";
import { getAddress } from "ethers";
import type { Consortium } from "../../typechain-types";
import type { LedgerEvent } from "../domain/ledger-events";
import { getBlockHeader, nextSpan, readLedgerRange, redactUrls, type RpcSender, type UndecodableLog } from "./chain-reader";
import type { AlertRow, IndexStore } from "./store";

export interface IndexerOptions {
  provider: RpcSender;
  store: IndexStore;
  batchToken: string;
  consortium: Consortium;
  chainId: bigint;
  startBlock: number;
  blockRange: number;
  confirmations: number;
  pollMs: number;
  log?: { info(o: object, msg: string): void; warn(o: object, msg: string): void };
  /** Called once per stored range (metrics). */
  onRange?: (added: number, toBlock: number) => void;
  /** Called for each alert raised (an event that could not be decoded, stored or applied). */
  onAlert?: (alert: AlertRow) => void;
}

export interface IndexerStatus {
  running: boolean;
  /** Last block fully indexed, or -1. */
  indexedBlock: number;
  headBlock: number;
  lastError?: string;
  lastErrorAt?: number;
  resets: number;
}

const MAX_BACKOFF_MS = 5_000;

/**
 * Follows the chain into the index: eth_getLogs in block ranges from the checkpoint to the head
 * (minus confirmations), each range stored with its checkpoint in one SQLite transaction, so a
 * crash or a restart resumes where it stopped and a range read twice adds nothing.
 *
 * Chain identity: the index remembers the chain id, the genesis hash, the BatchToken address and
 * the hash of its checkpoint block. A dev node restarted without its state has the same genesis
 * (anvil and Hardhat derive it from the config) but a different or missing checkpoint block, so
 * both are checked on every poll; any mismatch wipes the index and reads the new chain from the
 * start. A node that is down is retried with backoff; the readiness check reports it meanwhile.
 */
export class Indexer extends EventEmitter {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ticking: Promise<void> | undefined;
  private backoffMs: number;
  private span: number;
  private readonly memberSeen = new Set<string>();
  private memberTopics: Set<string> | undefined;
  readonly status: IndexerStatus;

  constructor(private readonly o: IndexerOptions) {
    super();
    this.backoffMs = o.pollMs;
    // Start small: a chain's first blocks may be dense; sparse ranges double up to blockRange.
    this.span = Math.min(o.blockRange, 100);
    this.status = { running: false, indexedBlock: o.store.checkpoint()?.block ?? -1, headBlock: -1, resets: 0 };
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.status.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    this.status.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.ticking;
  }

  private schedule(ms: number) {
    if (!this.running) return;
    this.timer = setTimeout(() => {
      this.ticking = this.tick().finally(() => {
        this.ticking = undefined;
      });
    }, ms);
  }

  private async tick(): Promise<void> {
    try {
      await this.syncOnce();
      this.backoffMs = this.o.pollMs;
      this.schedule(this.o.pollMs);
    } catch (err) {
      // lastError is public (/v1/index/status, /ready): no node address in it; the log keeps it all.
      const raw = (err as Error).message.split("\n")[0];
      const message = redactUrls(raw);
      if (this.status.lastError !== message) this.o.log?.warn({ err: raw }, "indexer: chain read failed; retrying");
      this.status.lastError = message;
      this.status.lastErrorAt = Date.now();
      this.emit("error-read", err);
      this.backoffMs = Math.min(this.backoffMs * 2, MAX_BACKOFF_MS);
      this.schedule(this.backoffMs);
    }
  }

  /** Reads from the checkpoint to the current head once. Safe to call while the loop runs only when it is stopped. */
  async syncOnce(): Promise<number> {
    const { provider, store } = this.o;
    await this.checkIdentity();
    const head = Number(await provider.send("eth_blockNumber", []));
    this.status.headBlock = head;
    const target = head - this.o.confirmations;
    let from = (store.checkpoint()?.block ?? this.o.startBlock - 1) + 1;
    let total = 0;
    while (from <= target) {
      const to = Math.min(from + this.span - 1, target);
      const undecodable: UndecodableLog[] = [];
      const [events, header, changed] = await Promise.all([
        readLedgerRange(provider, this.o.batchToken, from, to, (l) => undecodable.push(l)),
        getBlockHeader(provider, to),
        this.registerChanges(from, to),
      ]);
      if (!header) throw new Error(`block ${to} is missing on the node (chain reset while indexing)`);
      await this.learnMembers(events, changed);
      for (const l of undecodable) {
        store.raiseAlert({ kind: "undecodable", blockNumber: l.blockNumber, logIndex: l.logIndex, txHash: l.txHash, event: l.topic, batchId: "?", message: `a BatchToken log does not decode: ${l.reason}` });
      }
      const added = store.applyRange(events, { block: to, hash: header.hash });
      for (const alert of store.takeAlerts()) {
        this.o.log?.warn({ alert }, "indexer: event raised an alert; indexing goes on");
        this.o.onAlert?.(alert);
        this.emit("alert", alert);
      }
      total += added;
      this.status.indexedBlock = to;
      this.o.onRange?.(added, to);
      this.emit("progress", to);
      from = to + 1;
      this.span = nextSpan(this.span, events.length, this.o.blockRange);
    }
    this.status.lastError = undefined;
    return total;
  }

  /** Resolves when the index has reached `block` (or rejects after `timeoutMs`). */
  waitForBlock(block: number, timeoutMs = 30_000): Promise<void> {
    if (this.status.indexedBlock >= block) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.off("progress", onProgress);
        reject(new Error(`indexer did not reach block ${block} within ${timeoutMs} ms (at ${this.status.indexedBlock}; ${this.status.lastError ?? "no error"})`));
      }, timeoutMs);
      const onProgress = (b: number) => {
        if (b >= block) {
          clearTimeout(timer);
          this.off("progress", onProgress);
          resolve();
        }
      };
      this.on("progress", onProgress);
    });
  }

  private async checkIdentity(): Promise<void> {
    const { provider, store } = this.o;
    const genesis = await getBlockHeader(provider, 0);
    if (!genesis) throw new Error("the node has no genesis block");
    const identity = { chainId: String(this.o.chainId), genesisHash: genesis.hash, batchToken: this.o.batchToken.toLowerCase() };
    const known = { chainId: store.meta("chainId"), genesisHash: store.meta("genesisHash"), batchToken: store.meta("batchToken") };
    let reason: string | undefined;
    if (known.genesisHash === undefined) reason = undefined;
    else if (known.chainId !== identity.chainId) reason = `chain id changed from ${known.chainId} to ${identity.chainId}`;
    else if (known.genesisHash !== identity.genesisHash) reason = `genesis hash changed from ${known.genesisHash} to ${identity.genesisHash}`;
    else if (known.batchToken !== identity.batchToken) reason = `BatchToken address changed from ${known.batchToken} to ${identity.batchToken}`;
    else {
      const cp = store.checkpoint();
      if (cp) {
        const block = await getBlockHeader(provider, cp.block);
        if (!block) reason = `checkpoint block ${cp.block} no longer exists (the node restarted without its state)`;
        else if (block.hash !== cp.hash) reason = `block ${cp.block} has hash ${block.hash}, the index recorded ${cp.hash}`;
      }
    }
    if (known.genesisHash === undefined || reason !== undefined) {
      if (reason !== undefined) {
        this.status.resets++;
        this.o.log?.warn({ reason }, "indexer: chain reset detected; the index is rebuilt from the new chain");
        this.emit("reset", reason);
      }
      this.memberSeen.clear();
      store.reset(identity);
      this.status.indexedBlock = -1;
    }
  }

  /**
   * Accounts whose register entry changed in [from, to] (admission, role, status, licence, key,
   * prefixes): the Consortium's member events carry the account as their first indexed argument.
   */
  private async registerChanges(from: number, to: number): Promise<Set<string>> {
    const consortium = this.o.consortium;
    if (!this.memberTopics) {
      const names = ["MemberAdmitted", "MemberRoleChanged", "MemberSuspended", "MemberReinstated", "MemberRevoked", "LicenceRenewed", "MemberKeyRotated"];
      this.memberTopics = new Set(names.map((n) => consortium.interface.getEvent(n as never).topicHash));
    }
    const logs = (await this.o.provider.send("eth_getLogs", [
      { address: await consortium.getAddress(), fromBlock: "0x" + from.toString(16), toBlock: "0x" + to.toString(16), topics: [[...this.memberTopics]] },
    ])) as Array<{ topics: string[] }>;
    const out = new Set<string>();
    for (const l of logs) if (l.topics[1]) out.add(getAddress("0x" + l.topics[1].slice(26)));
    return out;
  }

  /**
   * Caches the register entry (index, role, GLN, jurisdiction, current key, status) of every party
   * seen, for exports, names and pack holders, and refreshes those the Consortium changed.
   */
  private async learnMembers(events: readonly LedgerEvent[], changed: ReadonlySet<string>): Promise<void> {
    const fresh = new Set<string>(changed);
    for (const e of events) {
      for (const k of ["producer", "sender", "receiver", "pharmacy", "holder", "regulator", "by", "owner", "licensee", "from", "to"]) {
        const v = e.args[k];
        if (typeof v === "string" && /^0x[0-9a-fA-F]{40}$/.test(v) && !/^0x0{40}$/.test(v) && !this.memberSeen.has(v) && this.o.store.member(v) === undefined) fresh.add(v);
      }
    }
    await Promise.all(
      [...fresh].map(async (address) => {
        const [m, key] = await Promise.all([this.o.consortium.member(address), this.o.consortium.keyOf(address)]);
        const gln = m.gln === 0n ? null : m.gln.toString().padStart(13, "0");
        const jurisdiction = Buffer.from(m.jurisdiction.slice(2), "hex").toString("latin1").replace(/\0/g, "");
        this.o.store.forgetMember(address);
        this.o.store.upsertMember({ address, index: Number(m.index), role: Number(m.role), gln, jurisdiction, key, status: Number(m.status) });
        this.memberSeen.add(address);
      }),
    );
  }
}
