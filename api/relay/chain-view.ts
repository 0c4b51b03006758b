import fs from "node:fs";
import path from "node:path";
import { Interface, toQuantity } from "ethers";
import { RpcError, type RpcClient } from "./rpc";
import { REPO_ROOT, type SystemAddresses } from "../chain/addresses";
import { consortiumInterface, decodeRevert, forwarderInterface } from "./policy";

/**
 * Reads the relay needs from the chain, with short caches. Both cached facts only ever get
 * "worse" for a request (a nonce only grows; a role can be revoked): a stale cache can at most
 * let through a request the chain then refuses at execution, where the outcome is recorded as
 * failed with its decoded reason. RELAY_MEMBER_CACHE_MS bounds that window (default 2 s); intake
 * reads the nonce fresh (forwarderNonce(account, true)) and uses the cache for roles only.
 */

export interface MemberFacts {
  /** The member account the key signs for (zero address when none). */
  account: string;
  /** That member's active role (IConsortium.Role; 0 when none or not active). */
  role: number;
  governor: boolean;
}

export class NodeUnavailableError extends Error {
  constructor(override readonly cause: unknown) {
    super(`the chain node is not answering: ${(cause as Error)?.message?.split("\n")[0] ?? String(cause)}`);
    this.name = "NodeUnavailableError";
  }
}

export type SimulationResult = { ok: true } | { ok: false; error: string; args: Record<string, string> };

/** True for errors that mean "the node did not answer" rather than "the node said no". */
export function isTransportError(err: unknown): boolean {
  const e = err as { code?: string; message?: string; error?: { code?: number } };
  if (e?.code === "TIMEOUT" || e?.code === "NETWORK_ERROR" || e?.code === "SERVER_ERROR") return true;
  const msg = String(e?.message ?? "");
  return /ECONNREFUSED|ECONNRESET|fetch failed|socket hang up|EPIPE|ETIMEDOUT|other side closed|timeout/i.test(msg);
}

function toBlockTag(tag: string | number): string {
  return typeof tag === "number" ? toQuantity(tag) : tag;
}

type SimulatedRequest = { from: string; to: string; data: string; gas: bigint; value: bigint };

/** contracts/utils/RelaySimulator.sol as compiled by Hardhat: its runtime code goes into eth_call state overrides. */
function loadSimulator(): { iface: Interface; code: string } | undefined {
  try {
    const artifact = JSON.parse(fs.readFileSync(path.join(REPO_ROOT, "artifacts", "contracts", "utils", "RelaySimulator.sol", "RelaySimulator.json"), "utf8")) as { abi: []; deployedBytecode: string };
    return { iface: new Interface(artifact.abi), code: artifact.deployedBytecode };
  } catch {
    return undefined;
  }
}

/** Most calls and gas in one batched simulation (well under the eth_call gas caps nodes apply, e.g. geth's 50 M). */
const SIM_BATCH_CALLS = 64;
const SIM_BATCH_GAS = 25_000_000n;
/** Gas the simulator spends around each call (self-call, copying, the Outcome revert). */
const SIM_CALL_OVERHEAD = 40_000n;

const word = (v: bigint | number) => BigInt(v).toString(16).padStart(64, "0");
const padded = (hex: string) => (hex.length % 64 === 0 ? hex : hex + "0".repeat(64 - (hex.length % 64)));

/**
 * ABI encoding of `simulate((address target, uint256 gas, bytes data)[])`'s argument, each call's
 * data with the signer appended (ERC-2771). By hand: ethers' encoder cost more CPU than the
 * simulations saved. Checked by test/api/relay/simulation.test.ts (batched = one by one).
 */
export function encodeForwardedCalls(requests: SimulatedRequest[]): string {
  const tuples = requests.map((r) => {
    const data = r.data.slice(2).toLowerCase() + r.from.slice(2).toLowerCase();
    return word(BigInt(r.to)) + word(r.gas) + word(96) + word(data.length / 2) + padded(data);
  });
  let offset = tuples.length * 32;
  let head = "";
  for (const t of tuples) {
    head += word(offset);
    offset += t.length / 2;
  }
  return word(32) + word(tuples.length) + head + tuples.join("");
}

/** Decodes an ABI-encoded `bytes[]` return value into 0x hex strings. */
export function decodeBytesArray(raw: string): string[] {
  const hex = raw.slice(2);
  const at = (byteOffset: number) => Number(BigInt("0x" + hex.slice(byteOffset * 2, byteOffset * 2 + 64)));
  const base = at(0);
  const n = at(base);
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const start = base + 32 + at(base + 32 + i * 32);
    const length = at(start);
    out.push("0x" + hex.slice((start + 32) * 2, (start + 32 + length) * 2));
  }
  return out;
}

export class ChainView {
  private readonly simulator = loadSimulator();
  /** Whether the node runs batched simulations (eth_call with a state override); off after repeated refusals. */
  private batchedSimulation = this.simulator !== undefined;
  private simulationRefusals = 0;
  private readonly simulateSelector = this.simulator?.iface.getFunction("simulate")!.selector ?? "";
  private readonly outcomeSelector = this.simulator?.iface.getError("Outcome")!.selector ?? "";
  private simQueue: { request: SimulatedRequest; resolve: (r: SimulationResult) => void; reject: (e: unknown) => void }[] = [];
  private readonly members = new Map<string, { facts: MemberFacts; at: number }>();
  private readonly nonces = new Map<string, { nonce: bigint; at: number }>();

  constructor(
    readonly rpc: RpcClient,
    readonly addresses: SystemAddresses,
    private readonly cacheMs: number,
  ) {}

  /**
   * eth_call through the lean batched RpcClient: ethers' provider.call() managed ≈ 850 calls/s
   * and provider.send() ≈ 2,300/s with 400 concurrent calls on anvil here.
   */
  private async call(to: string, data: string, blockTag: string | number = "latest"): Promise<string> {
    try {
      return await this.rpc.send<string>("eth_call", [{ to, data }, toBlockTag(blockTag)]);
    } catch (err) {
      if (err instanceof RpcError) throw err;
      throw new NodeUnavailableError(err);
    }
  }

  private readonly inflight = new Map<string, Promise<unknown>>();

  /** One chain read per key at a time: concurrent requests of one member share it (no cache stampede). */
  private shared<T>(key: string, read: () => Promise<T>): Promise<T> {
    let p = this.inflight.get(key) as Promise<T> | undefined;
    if (!p) {
      p = read().finally(() => this.inflight.delete(key));
      this.inflight.set(key, p);
    }
    return p;
  }

  async memberFacts(account: string): Promise<MemberFacts> {
    const key = account.toLowerCase();
    const hit = this.members.get(key);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.facts;
    return this.shared(`member:${key}`, () => this.readMemberFacts(account, key));
  }

  private async readMemberFacts(account: string, key: string): Promise<MemberFacts> {
    // `account` here is the signing key: the Consortium's `actor` maps it to the member account
    // (a rotated-out key maps to nothing) and that member's active role.
    const [actorHex, govHex] = await Promise.all([
      this.call(this.addresses.consortium, consortiumInterface.encodeFunctionData("actor", [account])),
      this.call(this.addresses.consortium, consortiumInterface.encodeFunctionData("isGovernor", [account])),
    ]);
    const words = actorHex.slice(2).match(/.{64}/g) ?? [];
    const facts: MemberFacts = {
      account: "0x" + (words[0] ?? "").slice(24),
      role: Number(BigInt("0x" + (words[1] ?? "0"))),
      governor: BigInt(govHex) !== 0n,
    };
    this.members.set(key, { facts, at: Date.now() });
    return facts;
  }

  /** The signer's forwarder nonce (cached up to cacheMs unless `fresh`). */
  async forwarderNonce(account: string, fresh = false): Promise<bigint> {
    const key = account.toLowerCase();
    const hit = this.nonces.get(key);
    if (!fresh && hit && Date.now() - hit.at < this.cacheMs) return hit.nonce;
    return this.shared(`nonce:${key}`, () => this.readNonce(account, key));
  }

  private async readNonce(account: string, key: string): Promise<bigint> {
    const hex = await this.call(this.addresses.forwarder, forwarderInterface.encodeFunctionData("nonces", [account]));
    const nonce = BigInt(hex);
    // Nonces only grow: never let a late answer move the cache backwards.
    const current = this.nonces.get(key);
    if (!current || nonce >= current.nonce) this.nonces.set(key, { nonce, at: Date.now() });
    return nonce;
  }

  /** The forwarder nonce, read from the chain when the cached value is older than `maxAgeMs`. */
  async forwarderNonceMaxAge(account: string, maxAgeMs: number): Promise<bigint> {
    const hit = this.nonces.get(account.toLowerCase());
    if (hit && Date.now() - hit.at < maxAgeMs) return hit.nonce;
    return this.forwarderNonce(account, true);
  }

  forgetNonce(account: string) {
    this.nonces.delete(account.toLowerCase());
  }

  /**
   * Simulates exactly the call the forwarder makes: from the forwarder, to the target, with the
   * signer appended as the ERC-2771 suffix, and the gas the request grants. A revert comes back
   * decoded. Simulations at "latest" requested in the same event-loop turn run in one eth_call:
   * the RelaySimulator code placed at the forwarder's address by a state override makes each call
   * and undoes it (one eth_call per request cost the node and the relay ~30% of the accepted
   * rate under bench:relay). A node that refuses state overrides gets one eth_call per request.
   */
  simulate(request: SimulatedRequest, blockTag: string | number = "latest"): Promise<SimulationResult> {
    if (!this.batchedSimulation || blockTag !== "latest") return this.simulateOne(request, blockTag);
    return new Promise((resolve, reject) => {
      this.simQueue.push({ request, resolve, reject });
      if (this.simQueue.length === 1) setImmediate(() => this.flushSimulations());
    });
  }

  private flushSimulations() {
    const queue = this.simQueue;
    this.simQueue = [];
    let chunk: typeof queue = [];
    let gas = 0n;
    for (const item of queue) {
      const g = item.request.gas + SIM_CALL_OVERHEAD;
      if (chunk.length > 0 && (chunk.length >= SIM_BATCH_CALLS || gas + g > SIM_BATCH_GAS)) {
        void this.simulateBatch(chunk, gas);
        chunk = [];
        gas = 0n;
      }
      chunk.push(item);
      gas += g;
    }
    if (chunk.length > 0) void this.simulateBatch(chunk, gas);
  }

  private async simulateBatch(chunk: typeof this.simQueue, gas: bigint) {
    const { code } = this.simulator!;
    let outcomes: string[];
    try {
      const raw = await this.rpc.send<string>("eth_call", [
        { to: this.addresses.forwarder, data: this.simulateSelector + encodeForwardedCalls(chunk.map((c) => c.request)), gas: toQuantity(gas + 200_000n) },
        "latest",
        { [this.addresses.forwarder]: { code } },
      ]);
      outcomes = decodeBytesArray(raw);
      this.simulationRefusals = 0;
    } catch (err) {
      if (!(err instanceof RpcError) && isTransportError(err)) {
        for (const item of chunk) item.reject(new NodeUnavailableError(err));
        return;
      }
      // The node refused the state override (or the batch): one eth_call per request instead.
      if (++this.simulationRefusals >= 3) this.batchedSimulation = false;
      for (const item of chunk) this.simulateOne(item.request, "latest").then(item.resolve, item.reject);
      return;
    }
    chunk.forEach((item, i) => {
      const outcome = outcomes[i] && outcomes[i] !== "0x" ? this.decodeOutcome(outcomes[i], item.request) : undefined;
      if (outcome) item.resolve(outcome);
      else this.simulateOne(item.request, "latest").then(item.resolve, item.reject);
    });
  }

  private decodeOutcome(data: string, request: SimulatedRequest): SimulationResult | undefined {
    // Outcome(bool success, uint256 gasUsed, bytes returnData): selector, two words, offset, length, bytes.
    const hex = data.slice(2);
    if (hex.length < 8 + 5 * 64 || "0x" + hex.slice(0, 8) !== this.outcomeSelector) return undefined;
    const success = hex.slice(8 + 63, 8 + 64) === "1";
    const gasUsed = BigInt("0x" + hex.slice(8 + 64, 8 + 128));
    const length = Number(BigInt("0x" + hex.slice(8 + 192, 8 + 256)));
    const returnData = "0x" + hex.slice(8 + 256, 8 + 256 + length * 2);
    if (success) return { ok: true };
    const decoded = decodeRevert(returnData);
    if (decoded) return { ok: false, ...decoded };
    // No revert data: out of gas when the call used (nearly) all it was given.
    if (returnData === "0x" && gasUsed >= request.gas - request.gas / 64n) return { ok: false, error: "OutOfGas", args: { gas: request.gas.toString() } };
    return { ok: false, error: "RevertedWithoutData", args: { reason: "the call reverted without data" } };
  }

  /** One eth_call for one request. */
  async simulateOne(request: SimulatedRequest, blockTag: string | number = "latest"): Promise<SimulationResult> {
    const calldata = request.data + request.from.slice(2).toLowerCase();
    const intrinsic = 21_000n + 16n * BigInt((calldata.length - 2) / 2);
    try {
      await this.rpc.send("eth_call", [
        { from: this.addresses.forwarder, to: request.to, data: calldata, value: toQuantity(request.value), gas: toQuantity(request.gas + intrinsic) },
        toBlockTag(blockTag),
      ]);
      return { ok: true };
    } catch (err) {
      // The node answered: the call failed. Nodes report reverts as code 3 (Besu, geth) or with
      // the data nested; an out-of-gas comes back without data.
      if (err instanceof RpcError) {
        const decoded = decodeRevert(err.data);
        if (decoded) return { ok: false, ...decoded };
        if (/out ?of ?gas|gas required exceeds|intrinsic gas/i.test(err.message)) return { ok: false, error: "OutOfGas", args: { gas: request.gas.toString() } };
        return { ok: false, error: "RevertedWithoutData", args: { reason: err.message } };
      }
      throw new NodeUnavailableError(err);
    }
  }

  /** How simulations run now: batched, or one eth_call per request after the node refused overrides. */
  get simulationMode(): "batched" | "per-request" {
    return this.batchedSimulation ? "batched" : "per-request";
  }
}
