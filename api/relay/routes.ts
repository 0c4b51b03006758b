import { z } from "zod";
import { Gauge } from "prom-client";
import { getAddress } from "ethers";
import type { FastifyRequest } from "fastify";
import type { FastifyPluginAsyncZod } from "fastify-type-provider-zod";
import { ApiError, errorBodySchema, errorResponses } from "../errors";
import type { AppConfig } from "../config";
import { FORWARD_REQUEST_TYPES, FORWARDER_NAME, FORWARDER_VERSION, forwardRequestDigest, toJson, type ForwardRequest } from "./forward-request";
import { statusOf, type Accepted, type Intake } from "./intake";
import { scopeIdempotencyKey, type Outbox } from "./outbox";
import { ALLOWED_FUNCTIONS, ROLE_NAMES, batchTokenInterface } from "./policy";
import {
  acceptedSchema,
  addressParamsSchema,
  apiKeyInfoSchema,
  apiKeyListSchema,
  custodialActions,
  domainInfoSchema,
  enrolBodySchema,
  enrolResponseSchema,
  idParamsSchema,
  issueKeyBodySchema,
  issuedKeySchema,
  keyIdParamsSchema,
  nonceSchema,
  requestStatusSchema,
  statusQuerySchema,
  submitBodySchema,
  type CustodialAction,
} from "./schemas";
import { adminTokenMatches, type CustodialStore } from "./custodial";

export interface RelayRoutesOptions {
  config: AppConfig;
  intake: Intake;
  outbox: Outbox;
  custodial: CustodialStore | undefined;
}

const errors = { ...errorResponses, 401: errorBodySchema, 403: errorBodySchema };

/** Routes of the write side: signed requests, request status, nonces, the signing domain, custodial actions, enrolment. */
const relayRoutes: FastifyPluginAsyncZod<RelayRoutesOptions> = async (app, { config, intake, outbox, custodial }) => {
  const env = config.env;
  // Long-polls answer at once when the service closes, so a graceful close does not wait for them.
  let closing = false;
  app.addHook("preClose", async () => {
    closing = true;
    outbox.wakeAll();
  });
  /** Long-polls held open now: each holds a socket, a timer and a watcher, so their number is bounded. */
  let longPolls = 0;
  new Gauge({
    name: "medtrace_relay_long_polls",
    help: "GET /v1/requests/:id?wait= calls held open now (at most RELAY_MAX_LONG_POLLS)",
    registers: [app.metrics],
    collect() {
      this.set(longPolls);
    },
  });
  const writeLimit = { rateLimit: { max: env.RELAY_IP_RATE_PER_MINUTE, timeWindow: "1 minute" } };
  const readLimit = { rateLimit: { max: env.PUBLIC_RATE_LIMIT_PER_MINUTE * 10, timeWindow: "1 minute" } };
  const accepted = (a: Accepted) => ({
    id: a.row.id,
    state: a.row.state,
    signer: a.row.signer,
    nonce: String(a.row.nonce),
    duplicate: a.duplicate,
    statusUrl: `/v1/requests/${a.row.id}`,
  });

  app.post(
    "/v1/requests",
    {
      config: writeLimit,
      schema: {
        tags: ["requests"],
        summary: "Submit a signed ForwardRequest",
        description:
          "Verifies schema, signature, deadline, domain, forwarder nonce, membership and role, the allow-list and an eth_call simulation, then stores the request durably and answers 202 with its id. An `Idempotency-Key` header (or `idempotencyKey` field) makes retries safe.",
        headers: z.object({ "idempotency-key": z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/).optional() }).passthrough(),
        body: submitBodySchema,
        response: { 202: acceptedSchema, 200: acceptedSchema, ...errors },
      },
    },
    async (request, reply) => {
      const result = await intake.submit(request.body, { idempotencyKey: request.headers["idempotency-key"] as string | undefined });
      return reply.code(result.duplicate ? 200 : 202).send(accepted(result));
    },
  );

  app.get(
    "/v1/requests/:id",
    {
      config: readLimit,
      schema: {
        tags: ["requests"],
        summary: "State of a request: queued → submitted → mined | failed",
        description:
          "With `?wait=N` (≤ 30 s) the answer comes at the request's next state change or after N seconds, whichever is first, so a client can follow a request without polling; a finished request answers at once.",
        params: idParamsSchema,
        querystring: statusQuerySchema,
        response: { 200: requestStatusSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { id } = request.params;
      const row = outbox.get(id);
      if (!row) throw new ApiError(404, "REQUEST_NOT_FOUND", `no request ${id} at this relay`, "use the id returned by POST /v1/requests, at the relay that accepted it");
      // Past RELAY_MAX_LONG_POLLS the answer comes at once: the client asks again, nothing is refused.
      if (request.query.wait === 0 || row.state === "mined" || row.state === "failed" || closing || longPolls >= env.RELAY_MAX_LONG_POLLS) return statusOf(row);
      longPolls++;
      await new Promise<void>((resolve) => {
        let finished = false;
        const done = () => {
          if (finished) return;
          finished = true;
          longPolls--;
          clearTimeout(timer);
          cancel();
          reply.raw.off("close", done);
          resolve();
        };
        const cancel = outbox.watch(id, done);
        const timer = setTimeout(done, request.query.wait * 1000);
        // The client went away: stop waiting (the response's close, as the request's fires once its body is read).
        reply.raw.once("close", done);
      });
      return statusOf(outbox.get(id) ?? row);
    },
  );

  app.get(
    "/v1/nonces/:address",
    {
      config: readLimit,
      schema: { tags: ["requests"], summary: "The forwarder nonce to sign next", params: addressParamsSchema, response: { 200: nonceSchema, ...errors } },
    },
    async (request) => {
      const { chainNonce, nextNonce } = await intake.nextNonce(request.params.address).catch((err: Error) => {
        // The node's error stays in the log: it names the node's address (configuration).
        request.log.warn({ err: err.message }, "nonce read failed");
        throw new ApiError(503, "NODE_UNAVAILABLE", "the chain node is not reachable, so the nonce cannot be read", "retry in a few seconds; /ready shows the node's state");
      });
      return { address: request.params.address, chainNonce: chainNonce.toString(), nextNonce: nextNonce.toString() };
    },
  );

  app.get(
    "/v1/relay/domain",
    { config: readLimit, schema: { tags: ["requests"], summary: "EIP-712 domain, types, contracts and the allow-list", response: { 200: domainInfoSchema } } },
    async () => ({
      domain: { name: FORWARDER_NAME, version: FORWARDER_VERSION, chainId: String(env.CHAIN_ID), verifyingContract: config.addresses.forwarder },
      types: FORWARD_REQUEST_TYPES,
      contracts: config.addresses,
      allowed: ALLOWED_FUNCTIONS.map((f) => ({
        contract: f.contract,
        function: f.name,
        selector: f.selector,
        roles: f.roles === "governor" ? ["Governor"] : f.roles.map((r) => ROLE_NAMES[r]),
      })),
      limits: { maxRequestGas: String(env.RELAY_MAX_REQUEST_GAS), nonceWindow: env.RELAY_NONCE_WINDOW, minDeadlineSeconds: env.RELAY_MIN_DEADLINE_SECONDS },
    }),
  );

  // ── Custodial actions ──
  const custodialOff = () =>
    new ApiError(404, "CUSTODIAL_DISABLED", "custodial signing is not enabled on this relay", "sign requests yourself (POST /v1/requests) or ask the operators to enable it");

  // The API key is checked before the body is validated, as the admin token is: a caller without a
  // valid key learns nothing about the body, and every call with a key counts against its quota.
  const custodialCallers = new WeakMap<FastifyRequest, { member: string; keyId: string }>();
  const custodialFirst = async (request: FastifyRequest) => {
    if (!custodial) throw custodialOff();
    const auth = custodial.authenticate(request.headers["x-api-key"] as string | undefined);
    if (!auth) throw new ApiError(401, "API_KEY_INVALID", "missing or unknown API key", "send the key issued at enrolment in the X-API-Key header");
    if (auth.revokedAt) throw new ApiError(401, "API_KEY_REVOKED", `this API key was revoked at ${auth.revokedAt}`, "ask the relay's operators for a new key (POST /v1/admin/custodial-members/{address}/api-keys)");
    intake.takeToken(`key:${auth.keyId}`);
    custodialCallers.set(request, auth);
  };

  for (const [action, spec] of Object.entries(custodialActions) as [CustodialAction, (typeof custodialActions)[CustodialAction]][]) {
    app.post(
      `/v1/custodial/${action}`,
      {
        config: writeLimit,
        preValidation: custodialFirst,
        schema: {
          tags: ["custodial"],
          summary: `${action} signed by the relay with the member's custodial key (${spec.fn})`,
          headers: z.object({ "x-api-key": z.string().optional(), "idempotency-key": z.string().regex(/^[A-Za-z0-9_.:-]{1,128}$/).optional() }).passthrough(),
          body: spec.schema,
          response: { 202: acceptedSchema, 200: acceptedSchema, ...errors },
        },
      },
      async (request, reply) => {
        const auth = custodialCallers.get(request);
        if (!custodial || !auth) throw custodialOff();
        const idem = request.headers["idempotency-key"] as string | undefined;
        // The member's own namespace (the API key authenticated it), shared with its signed requests.
        const idemKey = idem ? scopeIdempotencyKey(auth.member, idem) : undefined;
        const data = batchTokenInterface.encodeFunctionData(spec.fn, spec.args(request.body as Record<string, unknown>) as unknown[]);
        const signer = await custodial.signer(auth.member);
        const result = await custodial.exclusive(auth.member, async () => {
          // A retry: the relay would sign a new request (new nonce and deadline), so the key is looked up first.
          const existing = idemKey ? outbox.byIdempotencyKey(idemKey) : undefined;
          if (existing) {
            if (existing.fn !== spec.fn || existing.payload.toLowerCase().indexOf(data.slice(2).toLowerCase()) < 0) {
              throw new ApiError(409, "IDEMPOTENCY_CONFLICT", "this idempotency key was used for a different action", "use a new idempotency key for a new action");
            }
            return { row: existing, duplicate: true };
          }
          const { nextNonce } = await intake.nextNonce(auth.member);
          const req: ForwardRequest = {
            from: auth.member,
            to: config.addresses.batchToken,
            value: 0n,
            gas: BigInt(Math.min(env.RELAY_MAX_REQUEST_GAS, 1_000_000)),
            nonce: nextNonce,
            deadline: BigInt(Math.floor(Date.now() / 1000) + env.RELAY_CUSTODIAL_TTL_SECONDS),
            data,
          };
          const signature = await signer.signDigest(forwardRequestDigest({ chainId: BigInt(env.CHAIN_ID), verifyingContract: config.addresses.forwarder }, req));
          return intake.submit({ request: toJson(req, signature) }, { custodial: true, idempotencyKey: idem });
        });
        return reply.code(result.duplicate ? 200 : 202).send(accepted(result));
      },
    );
  }

  // ── Admin: custodial members and their API keys ──
  // The token is checked before the params and body are validated: without it, nothing about the
  // admin endpoints (which fields, which values) is said.
  const adminFirst = async (request: FastifyRequest) => {
    if (!env.RELAY_ADMIN_TOKEN) throw new ApiError(404, "ADMIN_DISABLED", "admin endpoints are disabled", "set RELAY_ADMIN_TOKEN to enable them");
    const presented = /^Bearer (.+)$/.exec((request.headers.authorization as string | undefined) ?? "")?.[1];
    if (!adminTokenMatches(presented, env.RELAY_ADMIN_TOKEN)) throw new ApiError(401, "ADMIN_TOKEN_INVALID", "missing or wrong admin token", "send Authorization: Bearer <RELAY_ADMIN_TOKEN>");
    if (!custodial) throw custodialOff();
  };
  /** What every admin route shares: its own rate limit, and the token checked first. */
  const adminRoute = { config: { rateLimit: { max: env.RELAY_ADMIN_RATE_PER_MINUTE, timeWindow: "1 minute" } }, preValidation: adminFirst };
  /** The custodial store (adminFirst has refused the call if there is none). */
  const store = (): CustodialStore => {
    if (!custodial) throw custodialOff();
    return custodial;
  };
  const adminHeaders = z.object({ authorization: z.string().optional() }).passthrough();
  const notEnrolled = (address: string) =>
    new ApiError(404, "MEMBER_NOT_ENROLLED", `${address} is not a custodial member of this relay`, "enrol it first: POST /v1/admin/custodial-members");

  app.post(
    "/v1/admin/custodial-members",
    {
      ...adminRoute,
      schema: {
        tags: ["custodial"],
        summary: "Enrol a custodial member (admin token): stores its key encrypted and issues an API key",
        headers: adminHeaders,
        body: enrolBodySchema,
        response: { 201: enrolResponseSchema, ...errors },
      },
    },
    async (request, reply) => {
      const result = await store().enrol(request.body.label, request.body.privateKey);
      request.log.info({ member: result.member, keyId: result.keyId, label: request.body.label }, "custodial member enrolled");
      return reply.code(201).send(result);
    },
  );

  app.get(
    "/v1/admin/custodial-members/:address/api-keys",
    {
      ...adminRoute,
      schema: {
        tags: ["custodial"],
        summary: "List a custodial member's API keys (admin token): ids, labels, dates; never the secrets",
        headers: adminHeaders,
        params: addressParamsSchema,
        response: { 200: apiKeyListSchema, ...errors },
      },
    },
    async (request) => {
      if (!store().isEnrolled(request.params.address)) throw notEnrolled(request.params.address);
      const keys = store().listKeys(request.params.address);
      return { member: getAddress(request.params.address.toLowerCase()), keys };
    },
  );

  app.post(
    "/v1/admin/custodial-members/:address/api-keys",
    {
      ...adminRoute,
      schema: {
        tags: ["custodial"],
        summary: "Issue another API key for a custodial member (admin token); to rotate, issue one, switch over, revoke the old one",
        headers: adminHeaders,
        params: addressParamsSchema,
        body: issueKeyBodySchema,
        response: { 201: issuedKeySchema, ...errors },
      },
    },
    async (request, reply) => {
      const issued = store().issueKey(request.params.address, request.body.label);
      if (!issued) throw notEnrolled(request.params.address);
      request.log.info({ member: issued.member, keyId: issued.keyId, label: request.body.label }, "custodial API key issued");
      return reply.code(201).send(issued);
    },
  );

  app.delete(
    "/v1/admin/api-keys/:keyId",
    {
      ...adminRoute,
      schema: {
        tags: ["custodial"],
        summary: "Revoke an API key (admin token): refused from the next request on; revoking twice keeps the first date",
        headers: adminHeaders,
        params: keyIdParamsSchema,
        response: { 200: apiKeyInfoSchema, ...errors },
      },
    },
    async (request) => {
      const info = store().revokeKey(request.params.keyId);
      if (!info) throw new ApiError(404, "API_KEY_NOT_FOUND", `no API key has id ${request.params.keyId}`, "list the member's keys: GET /v1/admin/custodial-members/{address}/api-keys");
      request.log.info({ member: info.member, keyId: info.keyId }, "custodial API key revoked");
      return info;
    },
  );
};

export default relayRoutes;
