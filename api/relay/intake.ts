import { ApiError } from "../errors";
import type { SystemAddresses } from "../chain/addresses";
import { NodeUnavailableError, type ChainView } from "./chain-view";
import type { RpcClient } from "./rpc";
import { checksum, forwardRequestDigest, type ForwardRequestData } from "./forward-request";
import type { SignerRecovery } from "./recovery";
import { DuplicateNonceError, type Outbox, type RequestRow } from "./outbox";
import { ROLE_NAMES, checkCall, consortiumInterface } from "./policy";
import type { Submitter } from "./submitter";
import type { RelayMetrics } from "./metrics";
import type { RelayEnv } from "./config";
import type { RequestStatus, SubmitBody } from "./schemas";

/**
 * Request intake: every check a request must pass before it is written to the outbox, in order
 * of cost — schema (done by the route), static checks, signature (native, no I/O), per-member
 * rate limit, membership and nonce (cached chain reads), simulation (one eth_call) — then the
 * durable insert. Each refusal is an ApiError with a stable code and a hint.
 */

export interface IntakeOptions {
  env: RelayEnv;
  chainId: bigint;
  addresses: SystemAddresses;
  rpc: RpcClient;
  outbox: Outbox;
  view: ChainView;
  submitter: Submitter;
  metrics: RelayMetrics;
  recovery: SignerRecovery;
}

export interface Accepted {
  row: RequestRow;
  duplicate: boolean;
}

/** Token bucket per member: RELAY_MEMBER_RATE_PER_SECOND sustained, RELAY_MEMBER_BURST burst. */
class MemberBuckets {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {}
  take(key: string): number | undefined {
    const now = Date.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: now };
    b.tokens = Math.min(this.burst, b.tokens + ((now - b.at) / 1000) * this.rate);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < 1) return Math.ceil(((1 - b.tokens) / this.rate) * 1000);
    b.tokens -= 1;
    return undefined;
  }
}

export class Intake {
  private readonly buckets: MemberBuckets;
  private chainIssue: string | undefined;
  private queued = { n: 0, at: 0 };
  private block = { n: 0, at: 0 };

  constructor(private readonly o: IntakeOptions) {
    this.buckets = new MemberBuckets(o.env.RELAY_MEMBER_RATE_PER_SECOND, o.env.RELAY_MEMBER_BURST);
  }

  setChainIssue(issue: string | undefined) {
    this.chainIssue = issue;
  }

  private refuse(status: number, code: string, message: string, hint: string, details?: unknown): never {
    this.o.metrics.rejected.inc({ code });
    throw new ApiError(status, code, message, hint, details);
  }

  private nonceUsed(request: { from: string; nonce: bigint }, chainNonce: bigint): never {
    this.refuse(409, "NONCE_USED", `nonce ${request.nonce} of ${request.from} is already used (the forwarder is at ${chainNonce})`, "GET /v1/nonces/{address} and sign again with nextNonce");
  }

  /** Rate-limits `key` (a signer address or an API key id). */
  takeToken(key: string) {
    const wait = this.o.env.RELAY_MEMBER_RATE_PER_SECOND > 0 ? this.buckets.take(key) : undefined;
    if (wait !== undefined) this.refuse(429, "MEMBER_RATE_LIMITED", `member ${key} is over its rate limit of ${this.o.env.RELAY_MEMBER_RATE_PER_SECOND} requests/s`, `retry after ${wait} ms`);
  }

  private queuedCount(): number {
    if (Date.now() - this.queued.at > 200) this.queued = { n: this.o.outbox.counts().queued, at: Date.now() };
    return this.queued.n;
  }

  private async acceptedBlock(): Promise<number> {
    if (Date.now() - this.block.at > 1_000) {
      this.block = { n: Number(await this.o.rpc.send<string>("eth_blockNumber", [])), at: Date.now() };
    }
    // A margin: the block number is cached, and reorg-free chains still answer from a lagging replica.
    return Math.max(0, this.block.n - 2);
  }

  /** Verifies a signed request and, if it passes, writes it to the outbox. */
  async submit(body: SubmitBody, opts: { custodial?: boolean; idempotencyKey?: string; skipSignature?: boolean } = {}): Promise<Accepted> {
    const started = process.hrtime.bigint();
    try {
      return await this.submitInner(body, opts);
    } catch (err) {
      if (err instanceof NodeUnavailableError) {
        this.o.metrics.rejected.inc({ code: "NODE_UNAVAILABLE" });
        throw new ApiError(503, "NODE_UNAVAILABLE", "the chain node is not reachable, so the request cannot be verified", "retry in a few seconds; /ready shows the node's state");
      }
      throw err;
    } finally {
      this.o.metrics.verifyDuration.observe(Number(process.hrtime.bigint() - started) / 1e9);
    }
  }

  private async submitInner(body: SubmitBody, opts: { custodial?: boolean; idempotencyKey?: string; skipSignature?: boolean }): Promise<Accepted> {
    const { env, addresses } = this.o;
    if (this.chainIssue) this.refuse(503, "CHAIN_RESET", this.chainIssue, "the operators must redeploy or reconfigure the relay; nothing is accepted meanwhile");
    if (this.queuedCount() >= env.RELAY_MAX_QUEUE) this.refuse(503, "QUEUE_FULL", `the relay has ${env.RELAY_MAX_QUEUE} requests queued`, "retry later");

    const idem = opts.idempotencyKey ?? body.idempotencyKey;
    if (opts.idempotencyKey && body.idempotencyKey && opts.idempotencyKey !== body.idempotencyKey) {
      this.refuse(400, "IDEMPOTENCY_KEY_MISMATCH", "the Idempotency-Key header and the idempotencyKey field differ", "send one of them, or the same value in both");
    }
    const r = body.request;
    const request: ForwardRequestData & { nonce: bigint } = {
      from: checksum(r.from.slice(2).toLowerCase()),
      to: checksum(r.to.slice(2).toLowerCase()),
      value: BigInt(r.value),
      gas: BigInt(r.gas),
      nonce: BigInt(r.nonce),
      deadline: BigInt(r.deadline),
      data: r.data.toLowerCase(),
      signature: r.signature.toLowerCase(),
    };

    if (idem) {
      const existing = this.o.outbox.byIdempotencyKey(idem);
      if (existing) return this.replay(existing, request);
    }
    if (body.chainId !== undefined && BigInt(body.chainId) !== this.o.chainId) {
      this.refuse(422, "WRONG_CHAIN", `the request is for chain ${body.chainId}; this relay serves chain ${this.o.chainId}`, `sign for chainId ${this.o.chainId} (GET /v1/relay/domain)`);
    }
    if (body.forwarder !== undefined && body.forwarder.toLowerCase() !== addresses.forwarder.toLowerCase()) {
      this.refuse(422, "WRONG_FORWARDER", `the request is for forwarder ${body.forwarder}; this relay uses ${addresses.forwarder}`, "sign with verifyingContract from GET /v1/relay/domain");
    }
    if (request.value !== 0n) this.refuse(422, "VALUE_NOT_ALLOWED", "value must be 0: no relayed function takes ether", "set value to \"0\" and sign again");
    if (request.gas > BigInt(env.RELAY_MAX_REQUEST_GAS)) {
      this.refuse(422, "GAS_TOO_HIGH", `gas ${request.gas} is above the relay's limit of ${env.RELAY_MAX_REQUEST_GAS}`, `ask for at most ${env.RELAY_MAX_REQUEST_GAS} gas and sign again`);
    }
    const policy = checkCall(addresses, request.to, request.data);
    if (!policy.ok) this.refuse(policy.code === "TARGET_NOT_ALLOWED" || policy.code === "SELECTOR_NOT_ALLOWED" ? 403 : 422, policy.code, policy.message, policy.hint);
    const fn = policy.fn;

    const now = BigInt(Math.floor(Date.now() / 1000));
    if (request.deadline < now) this.refuse(422, "DEADLINE_EXPIRED", `the deadline ${request.deadline} is in the past (now ${now})`, "sign the request again with a later deadline");
    if (request.deadline < now + BigInt(env.RELAY_MIN_DEADLINE_SECONDS)) {
      this.refuse(422, "DEADLINE_TOO_CLOSE", `the deadline is less than ${env.RELAY_MIN_DEADLINE_SECONDS} s away`, "give the request more time (e.g. an hour) and sign again");
    }

    if (!opts.skipSignature) {
      const digest = forwardRequestDigest({ chainId: this.o.chainId, verifyingContract: addresses.forwarder }, request);
      const recovered = await this.o.recovery.recover(digest, request.signature);
      if (!recovered) this.refuse(401, "SIGNATURE_INVALID", "the signature is malformed (v must be 27 or 28, s in the lower half of the curve order)", "sign the EIP-712 ForwardRequest with a standard wallet or api/client");
      if (recovered !== request.from) {
        this.refuse(
          401,
          "SIGNATURE_INVALID",
          `the signature does not match from=${request.from}`,
          `sign the ForwardRequest (with its nonce) as ${request.from} under the domain {name "ConsortiumForwarder", version "1", chainId ${this.o.chainId}, verifyingContract ${addresses.forwarder}}`,
        );
      }
      this.takeToken(request.from.toLowerCase());
    }

    const facts = await this.o.view.memberFacts(request.from);
    if (fn.roles === "governor") {
      if (!facts.governor) this.refuse(403, "NOT_A_GOVERNOR", `${request.from} is not a governor; ${fn.name} is for governors`, "ask a governor to submit it");
    } else if (!fn.roles.includes(facts.role)) {
      if (facts.role === 0) {
        // Why: no member behind the key (never admitted, or a rotated-out key), or a member not active.
        const account = /^0x0{40}$/i.test(facts.account) ? request.from : facts.account;
        const member = await this.o.rpc
          .send<string>("eth_call", [{ to: addresses.consortium, data: consortiumInterface.encodeFunctionData("member", [account]) }, "latest"])
          .catch(() => undefined);
        const word = (i: number) => (member ? BigInt("0x" + (member.slice(2 + 64 * i, 2 + 64 * (i + 1)) || "0")) : 0n);
        const status = Number(word(1));
        const keyRotated = word(6) !== 0n;
        if (status === 0) this.refuse(403, "NOT_A_MEMBER", `${request.from} is not a member of the consortium`, "only admitted members can submit; ask the governors for admission");
        if (account === request.from && keyRotated) {
          this.refuse(403, "KEY_ROTATED", `${request.from} no longer signs for its member: governance rotated the member's key`, "sign with the member's current key (Consortium.keyOf(account))");
        }
        this.refuse(403, "MEMBER_NOT_ACTIVE", `${account} is not an active member (suspended, revoked or licence expired)`, "renew the licence or ask governance for reinstatement");
      }
      this.refuse(
        403,
        "ROLE_NOT_ALLOWED",
        `${fn.name} is not allowed for a ${ROLE_NAMES[facts.role] ?? facts.role}`,
        `${fn.name} is for: ${(fn.roles as readonly number[]).map((x) => ROLE_NAMES[x]).join(", ")}`,
      );
    }

    // Nonces only grow: below the cached nonce is used for sure (a replayed request costs no call).
    const cachedNonce = await this.o.view.forwarderNonce(request.from);
    if (request.nonce < cachedNonce) {
      this.nonceUsed(request, cachedNonce);
    }
    // Otherwise the nonce is read fresh: another relay (or the member itself) may have used it a
    // moment ago. The read runs beside the simulation and is shared by the member's concurrent
    // requests, so it costs neither latency nor many calls.
    const simStarted = process.hrtime.bigint();
    const [chainNonce, sim] = await Promise.all([
      this.o.view.forwarderNonce(request.from, true),
      this.o.view.simulate(request).then((r) => {
        this.o.metrics.simulationDuration.observe(Number(process.hrtime.bigint() - simStarted) / 1e9);
        return r;
      }),
    ]);
    if (request.nonce < chainNonce) {
      this.nonceUsed(request, chainNonce);
    }
    if (request.nonce >= chainNonce + BigInt(env.RELAY_NONCE_WINDOW)) {
      this.refuse(422, "NONCE_TOO_FAR", `nonce ${request.nonce} is more than ${env.RELAY_NONCE_WINDOW} ahead of the forwarder's ${chainNonce}`, "GET /v1/nonces/{address} and sign with nextNonce");
    }
    if (this.o.outbox.liveRequest(request.from, request.nonce)) {
      this.refuse(409, "NONCE_ALREADY_QUEUED", `a request with nonce ${request.nonce} of ${request.from} is already at this relay`, "GET /v1/nonces/{address} and sign again with nextNonce");
    }
    if (!sim.ok) {
      this.o.metrics.reverts.inc({ error: sim.error, stage: "simulation" });
      this.refuse(422, "CALL_REVERTED", `${fn.name} would revert with ${sim.error}`, "fix the call: the error name and arguments say why the contract refuses it", { error: sim.error, args: sim.args });
    }

    const lane = this.o.submitter.laneFor(request.from);
    let row: RequestRow;
    try {
      row = await this.o.outbox.enqueue({
        idempotencyKey: idem,
        signer: request.from,
        nonce: request.nonce,
        target: request.to,
        fn: fn.name,
        request,
        lane,
        acceptedBlock: await this.acceptedBlock(),
        custodial: !!opts.custodial,
      });
    } catch (err) {
      if (err instanceof DuplicateNonceError) {
        this.refuse(409, "NONCE_ALREADY_QUEUED", `a request with nonce ${request.nonce} of ${request.from} is already at this relay`, "GET /v1/nonces/{address} and sign again with nextNonce");
      }
      throw err;
    }
    if (row.nonce !== Number(request.nonce) || row.signer !== request.from) return this.replay(row, request);
    this.o.metrics.accepted.inc({ mode: opts.custodial ? "custodial" : "signed" });
    this.queued.n++;
    this.o.submitter.notify(lane);
    return { row, duplicate: false };
  }

  /** Same idempotency key again: the same request gets its original answer, a different one a conflict. */
  private replay(existing: RequestRow, request: ForwardRequestData & { nonce: bigint }): Accepted {
    const same = existing.signer === request.from && BigInt(existing.nonce) === request.nonce && (JSON.parse(existing.payload) as { signature: string }).signature === request.signature;
    if (!same) this.refuse(409, "IDEMPOTENCY_CONFLICT", "this idempotency key was used for a different request", "use a new idempotency key for a new request");
    return { row: existing, duplicate: true };
  }

  /** The nonce a signer should sign next at this relay. */
  async nextNonce(signer: string): Promise<{ chainNonce: bigint; nextNonce: bigint }> {
    const chainNonce = await this.o.view.forwarderNonce(signer, true);
    const pending = this.o.outbox.maxPendingNonce(checksum(signer.slice(2).toLowerCase()));
    const next = pending !== undefined && BigInt(pending) + 1n > chainNonce ? BigInt(pending) + 1n : chainNonce;
    return { chainNonce, nextNonce: next };
  }
}

export function statusOf(row: RequestRow): RequestStatus {
  const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());
  return {
    id: row.id,
    state: row.state,
    signer: row.signer,
    nonce: String(row.nonce),
    target: row.target,
    function: row.fn,
    custodial: row.custodial === 1,
    acceptedAt: new Date(row.accepted_at).toISOString(),
    submittedAt: iso(row.submitted_at),
    finishedAt: iso(row.finished_at),
    txHash: row.tx_hash,
    blockNumber: row.block_number,
    success: row.success === null ? null : row.success === 1,
    error: row.error_code
      ? { code: row.error_code, name: row.error_name, args: row.error_args ? (JSON.parse(row.error_args) as Record<string, string>) : null, message: row.error_message }
      : null,
  };
}
