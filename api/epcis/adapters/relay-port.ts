import type { SystemAddresses } from "../../chain/addresses";
import { ApiError } from "../../errors";
import type { CustodialStore } from "../../relay/custodial";
import { forwardRequestDigest, toJson, type ForwardRequest } from "../../relay/forward-request";
import type { Intake } from "../../relay/intake";
import type { Outbox, RequestRow } from "../../relay/outbox";
import { batchTokenInterface } from "../../relay/policy";
import { custodialActions, type CustodialAction } from "../../relay/schemas";
import { RelayRefusal, type RelayOutcome, type RelayPort } from "../ports";

export interface RelayParts {
  outbox: Outbox;
  intake: Intake;
  custodial: CustodialStore | undefined;
}

/**
 * The relay's custodial path, in process: exactly what POST /v1/custodial/<action> does after it
 * has authenticated the API key (api/relay/routes.ts) — the body checked by the action's schema,
 * the call encoded, a ForwardRequest with the member's next nonce signed by its custodial key,
 * and the request verified (membership, role, simulation) and written to the outbox by the
 * intake. Under the member's lock, so nonces never interleave with its other requests. The
 * idempotency key is looked up first: a retry returns the request already queued.
 *
 * Why in process and not app.inject with the member's API key: capture runs after the answer
 * (a restart may resume it), and the binding must not keep API key secrets to replay them; the
 * capture request was authenticated with that key already.
 */
export class InProcessRelayPort implements RelayPort {
  constructor(
    private readonly relay: RelayParts,
    private readonly o: { addresses: SystemAddresses; chainId: bigint; maxRequestGas: number; ttlSeconds: number },
  ) {}

  isCustodial(member: string): boolean {
    return this.relay.custodial?.isEnrolled(member) ?? false;
  }

  status(requestId: string): RelayOutcome | undefined {
    const row = this.relay.outbox.get(requestId);
    return row && outcome(row);
  }

  async submit(member: string, action: string, body: Record<string, unknown>, idempotencyKey: string): Promise<RelayOutcome> {
    const custodial = this.relay.custodial;
    if (!custodial) throw new RelayRefusal(503, "CUSTODIAL_DISABLED", "custodial signing is not enabled on this relay", "ask the operators to set RELAY_KEYSTORE_PASSPHRASE");
    const spec = custodialActions[action as CustodialAction];
    if (!spec) throw new RelayRefusal(500, "UNKNOWN_ACTION", `no custodial action ${action}`);
    const parsed = spec.schema.safeParse(body);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      throw new RelayRefusal(400, "VALIDATION_FAILED", `${action}: ${issue.path.join(".")}: ${issue.message}`);
    }
    const data = batchTokenInterface.encodeFunctionData(spec.fn, spec.args(parsed.data as Record<string, unknown>) as unknown[]);
    const signer = await custodial.signer(member);
    try {
      return await custodial.exclusive(member, async () => {
        const existing = this.relay.outbox.byIdempotencyKey(idempotencyKey);
        if (existing) return outcome(existing);
        const { nextNonce } = await this.relay.intake.nextNonce(member);
        const req: ForwardRequest = {
          from: signer.address,
          to: this.o.addresses.batchToken,
          value: 0n,
          gas: BigInt(Math.min(this.o.maxRequestGas, 1_000_000)),
          nonce: nextNonce,
          deadline: BigInt(Math.floor(Date.now() / 1000) + this.o.ttlSeconds),
          data,
        };
        const signature = await signer.signDigest(forwardRequestDigest({ chainId: this.o.chainId, verifyingContract: this.o.addresses.forwarder }, req));
        const accepted = await this.relay.intake.submit({ request: toJson(req, signature) }, { custodial: true, idempotencyKey });
        return outcome(accepted.row);
      });
    } catch (err) {
      if (err instanceof ApiError) throw new RelayRefusal(err.statusCode, err.code, err.message, err.hint, err.details);
      throw err;
    }
  }
}

function outcome(row: RequestRow): RelayOutcome {
  return {
    requestId: row.id,
    state: row.state,
    txHash: row.tx_hash,
    blockNumber: row.block_number,
    error: row.error_code
      ? { code: row.error_code, name: row.error_name, args: row.error_args ? (JSON.parse(row.error_args) as Record<string, string>) : null, message: row.error_message }
      : null,
  };
}
