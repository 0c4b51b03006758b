import { z } from "zod";

/**
 * An error the API answers with: an HTTP status, a stable machine code, a message that says
 * what is wrong, and a hint that says what to do. Routes and plugins throw it; the root error
 * handler in app.ts turns it into the JSON body below. Anything else becomes a masked 500.
 */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    readonly hint?: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** The body of every error answer. */
export const errorBodySchema = z.object({
  error: z.object({
    code: z.string().describe("Stable machine-readable code, e.g. SIGNATURE_INVALID"),
    message: z.string().describe("What is wrong"),
    hint: z.string().optional().describe("What to do about it"),
    details: z.unknown().optional(),
  }),
  requestId: z.string(),
});
export type ErrorBody = z.infer<typeof errorBodySchema>;

/** Response schemas for the error statuses a route may answer with (for the OpenAPI document). */
export const errorResponses = {
  400: errorBodySchema,
  404: errorBodySchema,
  409: errorBodySchema,
  413: errorBodySchema,
  422: errorBodySchema,
  429: errorBodySchema,
  503: errorBodySchema,
} as const;
