import type { Signer } from "ethers";
import {
  FORWARD_REQUEST_TYPES,
  forwardRequestDigest,
  signDigest,
  toJson,
  type ForwardRequest,
  type ForwarderDomain,
  type SignedRequestJson,
} from "../relay/forward-request";
import { batchTokenInterface, consortiumInterface } from "../relay/policy";
import type { RequestStatus } from "../relay/schemas";
import type { Item } from "../domain/packing";

/**
 * A small typed client of the relay for members' systems, scripts and tests: it reads the signing
 * domain from the relay, asks for the next nonce, builds and signs the EIP-712 ForwardRequest
 * (with a raw key through native secp256k1, or with any ethers Signer), submits it, and waits
 * for its outcome.
 *
 *   const relay = new RelayClient("http://127.0.0.1:8080");
 *   const data = calls.ship(batchId, 10n, distributor, referenceHash);
 *   const { id } = await relay.send({ privateKey }, (await relay.domain()).contracts.batchToken, data);
 *   const status = await relay.waitFor(id);
 */

export { FORWARD_REQUEST_TYPES, forwardRequestDigest, toJson, type ForwardRequest, type SignedRequestJson };
export type { RequestStatus };

/** Gas the forwarder passes to the target when the caller does not say: enough for any custody call. */
export const DEFAULT_REQUEST_GAS = 500_000n;
/** Seconds a request stays valid when the caller does not say. */
export const DEFAULT_TTL_SECONDS = 3_600;

/** A relay answer that is not 2xx: the stable code, message and hint of the error body. */
export class RelayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly details?: unknown,
  ) {
    super(`${status} ${code}: ${message}`);
    this.name = "RelayError";
  }
}

/** Either a raw private key (fast native signing) or an ethers Signer (wallet, KMS adapter…). */
export type RequestSigner = { privateKey: string; address?: string } | { signer: Signer & { address?: string } };

export interface DomainInfo {
  domain: { name: string; version: string; chainId: string; verifyingContract: string };
  contracts: { batchToken: string; consortium: string; forwarder: string };
}

export interface Accepted {
  id: string;
  state: RequestStatus["state"];
  signer: string;
  nonce: string;
  duplicate: boolean;
  statusUrl: string;
}

/** An item as the contracts take it: `count` consecutive packs (kind 0), cases (1) or pallets (2) from `start`. */
export type { Item } from "../domain/packing";
export { units, cases, pallets } from "../domain/packing";

/** ISO 3166-1 codes as bytes2. */
const bytes2 = (codes: readonly string[]) => codes.map((c) => "0x" + Buffer.from(c, "utf8").toString("hex"));

export interface MintInput {
  gtin: bigint;
  lot: string;
  expiryDay: number;
  quantity: bigint;
  serialsRoot?: string;
  serialCount?: number;
  documentHash: string;
  unitsPerCase?: number;
  casesPerPallet?: number;
  packingRoot?: string;
  /** ISO 3166-1 codes; empty = the product's markets. */
  markets?: readonly string[];
}

const ZERO32 = "0x" + "0".repeat(64);

/** Calldata of the relayed functions (BatchToken products, custody and status; Consortium governance process). */
export const calls = {
  registerProduct: (gtin: bigint, markets: readonly string[], masterDataHash: string) => batchTokenInterface.encodeFunctionData("registerProduct", [gtin, bytes2(markets), masterDataHash]),
  updateProduct: (gtin: bigint, markets: readonly string[], masterDataHash: string) => batchTokenInterface.encodeFunctionData("updateProduct", [gtin, bytes2(markets), masterDataHash]),
  setProductStatus: (gtin: bigint, status: "Active" | "Withdrawn", reasonHash: string) =>
    batchTokenInterface.encodeFunctionData("setProductStatus", [gtin, status === "Withdrawn" ? 2 : 1, reasonHash]),
  setPrefixLicence: (prefixKey: bigint, licensee: string, granted: boolean) => batchTokenInterface.encodeFunctionData("setPrefixLicence", [prefixKey, licensee, granted]),
  mintBatch: (input: MintInput) =>
    batchTokenInterface.encodeFunctionData("mintBatch", [
      {
        serialsRoot: ZERO32,
        serialCount: 0,
        unitsPerCase: 0,
        casesPerPallet: 0,
        packingRoot: ZERO32,
        ...input,
        markets: bytes2(input.markets ?? []),
      },
    ]),
  ship: (batchId: bigint, receiver: string, quantity: bigint, items: readonly Item[] = [], referenceHash = ZERO32) =>
    batchTokenInterface.encodeFunctionData("ship", [batchId, receiver, quantity, items, referenceHash]),
  acceptShipment: (shipmentId: bigint, shipment: Shipment) => batchTokenInterface.encodeFunctionData("acceptShipment", [shipmentId, shipment]),
  rejectShipment: (shipmentId: bigint, shipment: Shipment, reason: number) => batchTokenInterface.encodeFunctionData("rejectShipment", [shipmentId, shipment, reason]),
  cancelShipment: (shipmentId: bigint, shipment: Shipment) => batchTokenInterface.encodeFunctionData("cancelShipment", [shipmentId, shipment]),
  unpack: (batchId: bigint, containers: readonly Item[]) => batchTokenInterface.encodeFunctionData("unpack", [batchId, containers]),
  decommission: (batchId: bigint, items: readonly Item[], state: "Destroyed" | "Stolen" | "Sample" | "FreeSample" | "Exported", evidenceHash: string) =>
    batchTokenInterface.encodeFunctionData("decommission", [batchId, items, { Destroyed: 5, Stolen: 6, Sample: 7, FreeSample: 8, Exported: 9 }[state], evidenceHash]),
  revertDecommission: (batchId: bigint, items: readonly Item[], reasonHash: string) => batchTokenInterface.encodeFunctionData("revertDecommission", [batchId, items, reasonHash]),
  lock: (batchId: bigint, items: readonly Item[], reasonHash: string) => batchTokenInterface.encodeFunctionData("lock", [batchId, items, reasonHash]),
  unlock: (batchId: bigint, holder: string, items: readonly Item[], reasonHash: string) => batchTokenInterface.encodeFunctionData("unlock", [batchId, holder, items, reasonHash]),
  writeOff: (batchId: bigint, quantity: bigint, reason: 0 | 1, evidenceHash: string) => batchTokenInterface.encodeFunctionData("writeOff", [batchId, quantity, reason, evidenceHash]),
  dispense: (batchId: bigint, unitIndex: bigint, serial: string, proof: string[]) => batchTokenInterface.encodeFunctionData("dispense", [batchId, unitIndex, serial, proof]),
  undoDispense: (batchId: bigint, unitIndex: bigint, reasonHash: string) => batchTokenInterface.encodeFunctionData("undoDispense", [batchId, unitIndex, reasonHash]),
  quarantine: (batchId: bigint, reasonHash: string) => batchTokenInterface.encodeFunctionData("quarantine", [batchId, reasonHash]),
  liftQuarantine: (batchId: bigint, reasonHash: string) => batchTokenInterface.encodeFunctionData("liftQuarantine", [batchId, reasonHash]),
  recall: (batchId: bigint, reasonHash: string) => batchTokenInterface.encodeFunctionData("recall", [batchId, reasonHash]),
  safetyNotice: (batchId: bigint, noticeHash: string) => batchTokenInterface.encodeFunctionData("safetyNotice", [batchId, noticeHash]),
  /** A governance proposal: `action` called on `target` (the Consortium itself, or the BatchToken for its governance functions). */
  propose: (target: string, action: string) => consortiumInterface.encodeFunctionData("propose", [target, action]),
  approve: (proposalId: bigint) => consortiumInterface.encodeFunctionData("approve", [proposalId]),
  withdrawApproval: (proposalId: bigint) => consortiumInterface.encodeFunctionData("withdrawApproval", [proposalId]),
  cancel: (proposalId: bigint) => consortiumInterface.encodeFunctionData("cancel", [proposalId]),
  execute: (proposalId: bigint) => consortiumInterface.encodeFunctionData("execute", [proposalId]),
  emergencySuspend: (account: string, reasonHash: string) => consortiumInterface.encodeFunctionData("emergencySuspend", [account, reasonHash]),
};

/** IBatchToken.Shipment, as ShipmentCreated carries it: pass it back to accept, reject or cancel. */
export interface Shipment {
  batchId: bigint;
  sender: string;
  receiver: string;
  quantity: bigint;
  /** 0 forward, 1 return: fixed at shipping. */
  kind: number | bigint;
  items: readonly Item[];
}

/** Signs `request` under `domain`: natively for a raw key, with EIP-712 signTypedData for a Signer. */
export async function signRequest(domain: ForwarderDomain, request: ForwardRequest, by: RequestSigner): Promise<SignedRequestJson> {
  if ("privateKey" in by) return toJson(request, signDigest(forwardRequestDigest(domain, request), by.privateKey));
  const signature = await by.signer.signTypedData(
    { name: "ConsortiumForwarder", version: "1", chainId: domain.chainId, verifyingContract: domain.verifyingContract },
    FORWARD_REQUEST_TYPES,
    request,
  );
  return toJson(request, signature);
}

export class RelayClient {
  private domainInfo: DomainInfo | undefined;

  constructor(
    readonly baseUrl: string,
    private readonly headers: Record<string, string> = {},
  ) {}

  private async call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...this.headers, ...headers },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await res.text();
    const json = text ? (JSON.parse(text) as unknown) : undefined;
    if (res.status >= 300) {
      const e = (json as { error?: { code: string; message: string; hint?: string; details?: unknown } })?.error;
      throw new RelayError(res.status, e?.code ?? "HTTP_ERROR", e?.message ?? text, e?.hint, e?.details);
    }
    return { status: res.status, body: json as T };
  }

  /** The forwarder's EIP-712 domain and the contract addresses (fetched once). */
  async domain(): Promise<DomainInfo> {
    this.domainInfo ??= (await this.call<DomainInfo>("GET", "/v1/relay/domain")).body;
    return this.domainInfo;
  }

  async nextNonce(address: string): Promise<bigint> {
    return BigInt((await this.call<{ nextNonce: string }>("GET", `/v1/nonces/${address}`)).body.nextNonce);
  }

  /** The request `from` signs to call `to` with `data`; nonce from the relay, deadline now + TTL unless given. */
  async buildRequest(from: string, to: string, data: string, opts: { gas?: bigint; nonce?: bigint; deadline?: bigint } = {}): Promise<ForwardRequest> {
    return {
      from,
      to,
      value: 0n,
      gas: opts.gas ?? DEFAULT_REQUEST_GAS,
      nonce: opts.nonce ?? (await this.nextNonce(from)),
      deadline: opts.deadline ?? BigInt(Math.floor(Date.now() / 1000) + DEFAULT_TTL_SECONDS),
      data,
    };
  }

  async sign(request: ForwardRequest, by: RequestSigner): Promise<SignedRequestJson> {
    const { domain } = await this.domain();
    return signRequest({ chainId: BigInt(domain.chainId), verifyingContract: domain.verifyingContract }, request, by);
  }

  /** POST /v1/requests. Throws RelayError for a refusal. */
  async submit(request: SignedRequestJson, opts: { idempotencyKey?: string } = {}): Promise<Accepted> {
    const { domain } = await this.domain();
    const body = { request, chainId: domain.chainId, forwarder: domain.verifyingContract, ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}) };
    return (await this.call<Accepted>("POST", "/v1/requests", body)).body;
  }

  /** Builds, signs and submits in one go. */
  async send(by: RequestSigner & { address: string }, to: string, data: string, opts: { gas?: bigint; nonce?: bigint; deadline?: bigint; idempotencyKey?: string } = {}): Promise<Accepted> {
    const request = await this.buildRequest(by.address, to, data, opts);
    return this.submit(await this.sign(request, by), opts);
  }

  /** POST /v1/custodial/<action> with an API key. */
  async custodial(action: string, apiKey: string, body: unknown, idempotencyKey?: string): Promise<Accepted> {
    return (await this.call<Accepted>("POST", `/v1/custodial/${action}`, body, { "x-api-key": apiKey, ...(idempotencyKey ? { "idempotency-key": idempotencyKey } : {}) })).body;
  }

  /** GET /v1/requests/:id; with `waitSeconds`, the relay answers at the next state change or after that long. */
  async status(id: string, opts: { waitSeconds?: number } = {}): Promise<RequestStatus> {
    const wait = opts.waitSeconds ? `?wait=${Math.min(30, Math.max(0, Math.floor(opts.waitSeconds)))}` : "";
    return (await this.call<RequestStatus>("GET", `/v1/requests/${id}${wait}`)).body;
  }

  /**
   * Follows the request until it is mined or failed, by long-polling (the relay answers at each
   * state change); throws after `timeoutMs`. `intervalMs` paces the last asks under a second.
   */
  async waitFor(id: string, opts: { timeoutMs?: number; intervalMs?: number } = {}): Promise<RequestStatus> {
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const until = Date.now() + timeoutMs;
    for (;;) {
      const waitSeconds = Math.min(30, Math.floor((until - Date.now()) / 1000));
      const s = await this.status(id, { waitSeconds: Math.max(0, waitSeconds) });
      if (s.state === "mined" || s.state === "failed") return s;
      if (Date.now() > until) throw new Error(`request ${id} is still ${s.state} after ${timeoutMs} ms`);
      if (waitSeconds < 1) await new Promise((r) => setTimeout(r, opts.intervalMs ?? 200));
    }
  }
}
