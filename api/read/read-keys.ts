import { timingSafeEqual } from "node:crypto";
import type { FastifyRequest } from "fastify";
import { ApiError } from "../errors";

/**
 * The onRequest check of the member/auditor endpoints (custody, holdings, exports, audit, master
 * data, DSCSA files): a key from READ_API_KEYS in `x-api-key` (or `Authorization: Bearer`),
 * compared in constant time; `401 API_KEY_REQUIRED` saying what the endpoint serves otherwise.
 * With no keys configured the endpoints are open (a local demo; the service logs a warning).
 */
export function readKeyCheck(apiKeys: readonly string[], serves: string): (request: FastifyRequest) => Promise<void> {
  const keys = apiKeys.map((k) => Buffer.from(k));
  return async (request) => {
    if (keys.length === 0) return;
    const header = request.headers["x-api-key"] ?? request.headers.authorization?.replace(/^Bearer\s+/i, "");
    const given = Buffer.from(typeof header === "string" ? header : "");
    if (!keys.some((k) => k.length === given.length && timingSafeEqual(k, given))) {
      throw new ApiError(401, "API_KEY_REQUIRED", serves, "send a key from READ_API_KEYS in the x-api-key header");
    }
  };
}
