import Fastify, { type FastifyInstance, type FastifyRequest, type FastifyServerOptions } from "fastify";
import cors from "@fastify/cors";
import helmet from "helmet";
import rateLimit from "@fastify/rate-limit";
import swagger from "@fastify/swagger";
import swaggerUi from "@fastify/swagger-ui";
import {
  hasZodFastifySchemaValidationErrors,
  isResponseSerializationError,
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from "fastify-type-provider-zod";
import type { AppConfig } from "./config";
import { ApiError, type ErrorBody } from "./errors";
import chainPlugin from "./plugins/chain";
import metricsPlugin from "./plugins/metrics";
import readinessPlugin from "./plugins/readiness";
import healthRoutes from "./routes/health";
import relay from "./relay";
import read from "./read";
import exchange from "./exchange";

export interface BuildAppOptions {
  /** Pino options or false; tests pass false. */
  logger?: FastifyServerOptions["logger"];
}

/** An API key's secret that a client put in a URL by mistake is masked before the URL is logged. */
export const maskApiKeys = (text: string) => text.replace(/(mtk_[0-9a-f]{16}_)[A-Za-z0-9_-]+/g, "$1***");

/** Fastify's request log fields, with API keys masked in the URL. */
function requestForLog(request: FastifyRequest) {
  return { method: request.method, url: maskApiKeys(request.url), host: request.host, remoteAddress: request.ip, remotePort: request.socket?.remotePort };
}

/**
 * Builds the service without listening: external plugins (security headers, rate limits, docs),
 * then the app's plugins (chain, metrics, readiness), then the write side (relay) and the read
 * side (indexer, queries, portal), each switchable by configuration. server.ts listens;
 * tests use app.inject.
 */
export async function buildApp(config: AppConfig, options: BuildAppOptions = {}): Promise<FastifyInstance> {
  const app = Fastify({
    logger:
      options.logger === false
        ? false
        : {
            level: config.env.LOG_LEVEL,
            ...(typeof options.logger === "object" ? options.logger : {}),
            // Request logs carry no headers (requestForLog); these catch headers logged by hand.
            redact: ["req.headers.authorization", "req.headers[\"x-api-key\"]", "headers.authorization", "headers[\"x-api-key\"]", "*.headers.authorization", "*.headers[\"x-api-key\"]"],
            serializers: { req: requestForLog },
          },
    bodyLimit: config.env.BODY_LIMIT_BYTES,
    requestTimeout: config.env.REQUEST_TIMEOUT_MS,
    connectionTimeout: config.env.REQUEST_TIMEOUT_MS * 2,
    requestIdHeader: "x-request-id",
    genReqId: () => crypto.randomUUID(),
    ajv: { customOptions: { removeAdditional: false } },
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);

  // ── External plugins ──
  // helmet's headers, computed once. @fastify/helmet rebuilds helmet (and re-parses the CSP) on
  // every request: 7% of the service's CPU under public verification load (bench:read profile);
  // running helmet's middleware per request still cost 4% of the relay's (bench:relay profile).
  const securityHeaders = helmet({
    contentSecurityPolicy: {
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        connectSrc: ["'self'"],
      },
    },
  });
  // The configuration is static, so the headers are too: computed once, set in one call per reply.
  const headers: Record<string, string> = {};
  securityHeaders(
    {} as never,
    { setHeader: (name: string, value: string) => (headers[name.toLowerCase()] = value), removeHeader: () => undefined } as never,
    () => undefined,
  );
  if (Object.keys(headers).length < 10) throw new Error(`helmet set only ${Object.keys(headers).length} security headers`);
  app.addHook("onRequest", (_request, reply, done) => {
    reply.headers(headers);
    done();
  });
  const origins = config.env.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean);
  if (origins.length > 0) await app.register(cors, { origin: origins });
  await app.register(rateLimit, {
    global: false,
    errorResponseBuilder: (request, context) => {
      const body: ErrorBody & { statusCode: number } = {
        statusCode: context.statusCode,
        error: {
          code: "RATE_LIMITED",
          message: `too many requests: the limit is ${context.max} per ${context.after}`,
          hint: `retry after ${Math.ceil(context.ttl / 1000)} s`,
        },
        requestId: request.id,
      };
      return body;
    },
  });
  await app.register(swagger, {
    openapi: {
      info: {
        title: "Medicine traceability ledger — relay and read API",
        description: "Submit signed custody requests; read custody history, verify packs, export EPCIS 2.0.",
        version: "0.1.0",
      },
      tags: [
        { name: "requests", description: "Signed (non-custodial) requests" },
        { name: "custodial", description: "Actions signed by the relay for members without wallets" },
        { name: "batches", description: "Batches, custody history and exports" },
        { name: "verification", description: "Public pack verification" },
        { name: "resolver", description: "GS1 Digital Link resolver (GS1-Conformant resolver standard)" },
        { name: "vrs", description: "DSCSA Verification Router Service responder (trading partners)" },
        { name: "operations", description: "Health, readiness, metrics" },
      ],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: "/docs" });

  // ── Errors: one handler, stable codes, 5xx masked ──
  app.setErrorHandler((err, request, reply) => {
    const send = (status: number, code: string, message: string, hint?: string, details?: unknown) =>
      reply.code(status).send({ error: { code, message, ...(hint ? { hint } : {}), ...(details !== undefined ? { details } : {}) }, requestId: request.id });
    if (err instanceof ApiError) return send(err.statusCode, err.code, err.message, err.hint, err.details);
    if (hasZodFastifySchemaValidationErrors(err)) {
      const issues = err.validation.map((v) => ({ path: `${err.validationContext ?? "body"}${v.instancePath || ""}`, message: v.message }));
      return send(400, "VALIDATION_FAILED", `request ${issues[0].path}: ${issues[0].message}`, "fix the listed fields; the OpenAPI document at /docs/json describes every payload", issues);
    }
    if (isResponseSerializationError(err)) {
      request.log.error({ err }, "response did not match its schema");
      return send(500, "INTERNAL", "internal error", "try again later; the operators have the details under this request id");
    }
    const e = err as { statusCode?: number; code?: string; message: string };
    switch (e.code) {
      case "FST_ERR_CTP_BODY_TOO_LARGE":
        return send(413, "BODY_TOO_LARGE", `request body is larger than ${config.env.BODY_LIMIT_BYTES} bytes`, "send a smaller body");
      case "FST_ERR_CTP_INVALID_MEDIA_TYPE":
        return send(415, "UNSUPPORTED_MEDIA_TYPE", "unsupported content type", "send application/json");
      case "FST_ERR_CTP_EMPTY_JSON_BODY":
        return send(400, "MALFORMED_JSON", "the body is empty but the content type is application/json", "send a JSON document");
      case "FST_ERR_CTP_INVALID_JSON_BODY":
        return send(400, "MALFORMED_JSON", `the body is not valid JSON: ${e.message}`, "send a JSON document");
    }
    if (e.statusCode === 429) return reply.code(429).send(err);
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      const code = e.message.includes("JSON") ? "MALFORMED_JSON" : "BAD_REQUEST";
      return send(e.statusCode, code, e.message, "check the request against the OpenAPI document at /docs/json");
    }
    request.log.error({ err }, "unhandled error");
    return send(500, "INTERNAL", "internal error", "try again later; the operators have the details under this request id");
  });
  app.setNotFoundHandler((request, reply) =>
    reply.code(404).send({
      error: { code: "NOT_FOUND", message: `no route ${request.method} ${request.url.split("?")[0]}`, hint: "see /docs for the API" },
      requestId: request.id,
    }),
  );

  // ── Application plugins ──
  await app.register(readinessPlugin);
  await app.register(metricsPlugin);
  await app.register(chainPlugin, { config });
  app.readiness.set("chain", async () => {
    const id = BigInt(await app.chain.provider.send("eth_chainId", []));
    if (id !== app.chain.chainId) return { ok: false, detail: `node is on chain ${id}, configured CHAIN_ID is ${app.chain.chainId}` };
    for (const [name, address] of Object.entries(app.chain.addresses)) {
      if ((await app.chain.provider.getCode(address)) === "0x") {
        return { ok: false, detail: `no code for ${name} at ${address}: the chain was reset or the addresses are wrong` };
      }
    }
    return { ok: true, detail: `chain ${id}, contracts found` };
  });
  await app.register(healthRoutes);

  // ── Write side and read side ──
  if (config.env.RELAY_ENABLED) await app.register(relay, { config });
  if (config.env.READ_ENABLED) {
    await app.register(read, { config });
    await app.register(exchange, { config });
  }

  return app;
}
