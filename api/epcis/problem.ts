import { z } from "zod";
import type { CaptureProblem } from "./capture/schema";

/**
 * RFC 7807 problem details, as GS1's OpenAPI for EPCIS 2.0 declares them
 * (`application/problem+json`, `type` an `epcisException:…`), with this service's stable `code`
 * and a `hint` that says what to do, and for capture the list of problems per event.
 */
export type EpcisExceptionType =
  | "ValidationException"
  | "QueryParameterException"
  | "NoSuchResourceException"
  | "NoSuchNameException"
  | "SecurityException"
  | "CaptureLimitExceededException"
  | "DuplicateNameException"
  | "SubscriptionControlsException"
  | "InvalidURIException"
  | "NotAcceptableException"
  | "ImplementationException";

export class Problem extends Error {
  constructor(
    readonly status: number,
    readonly type: EpcisExceptionType,
    readonly code: string,
    message: string,
    readonly hint: string,
    readonly errors?: CaptureProblem[],
  ) {
    super(message);
    this.name = "Problem";
  }
}

export const captureProblemSchema = z.object({
  eventIndex: z.number().int().optional().describe("index of the event in epcisBody.eventList"),
  eventID: z.string().optional(),
  field: z.string().describe("JSON pointer of the field, inside the event"),
  code: z.string(),
  message: z.string(),
  hint: z.string(),
});

export const problemSchema = z
  .object({
    type: z.string().describe("epcisException:<name>"),
    title: z.string(),
    status: z.number().int(),
    detail: z.string(),
    instance: z.string().optional(),
    code: z.string().describe("stable machine-readable code"),
    hint: z.string().describe("what to do about it"),
    errors: z.array(captureProblemSchema).optional().describe("capture: every problem found, per event and field"),
  })
  .describe("RFC 7807 problem details");
export type ProblemBody = z.infer<typeof problemSchema>;

const TITLES: Record<EpcisExceptionType, string> = {
  ValidationException: "The EPCIS document or event is not valid",
  QueryParameterException: "A query parameter is not valid",
  NoSuchResourceException: "No such resource",
  NoSuchNameException: "No such named query",
  SecurityException: "Not allowed",
  CaptureLimitExceededException: "The capture is too large",
  DuplicateNameException: "The name is taken",
  SubscriptionControlsException: "The subscription is not valid",
  InvalidURIException: "The destination is not acceptable",
  NotAcceptableException: "The requested version or format is not supported",
  ImplementationException: "Internal error",
};

export function problemBody(p: Problem, instance?: string): ProblemBody {
  return {
    type: `epcisException:${p.type}`,
    title: TITLES[p.type],
    status: p.status,
    detail: p.message,
    ...(instance ? { instance } : {}),
    code: p.code,
    hint: p.hint,
    ...(p.errors ? { errors: p.errors } : {}),
  };
}

/** Response schemas of the error statuses (OpenAPI). */
export const problemResponses = {
  400: problemSchema,
  401: problemSchema,
  403: problemSchema,
  404: problemSchema,
  406: problemSchema,
  409: problemSchema,
  413: problemSchema,
  415: problemSchema,
  422: problemSchema,
  429: problemSchema,
  503: problemSchema,
} as const;
