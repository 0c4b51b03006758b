import fs from "node:fs";
import path from "node:path";
import Ajv, { type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { REPO_ROOT } from "../../chain/addresses";

/**
 * Syntax check of a captured document against GS1's EPCIS 2.0 JSON schema (vendored in
 * ../openapi/), compiled once. Errors are reported per event — index, eventID and the field as a
 * JSON pointer inside the event — the deepest error of each event first, because the schema's
 * `if/then` branches report a cascade of less precise errors above the real one.
 */

export interface CaptureProblem {
  /** Index of the event in `epcisBody.eventList`; absent for a document-level problem. */
  eventIndex?: number;
  eventID?: string;
  /** JSON pointer of the field, inside the event (`/bizStep`) or the document (`/epcisBody`). */
  field: string;
  code: string;
  message: string;
  hint: string;
}

export const SCHEMA_FILE = path.join(REPO_ROOT, "api", "epcis", "openapi", "EPCIS-JSON-Schema.json");

let compiled: ValidateFunction | undefined;

export function epcisSchemaValidator(): ValidateFunction {
  if (!compiled) {
    const ajv = new Ajv({ strict: false, allErrors: true });
    addFormats(ajv);
    compiled = ajv.compile(JSON.parse(fs.readFileSync(SCHEMA_FILE, "utf8")) as object);
  }
  return compiled;
}

const EVENT_PATH = /^\/epcisBody\/eventList\/(\d+)(\/.*)?$/;

function describe(e: ErrorObject): string {
  const p = e.params as Record<string, unknown>;
  if (e.keyword === "required") return `${String(p.missingProperty)} is required`;
  if (e.keyword === "additionalProperties") return `${String(p.additionalProperty)} is not allowed here`;
  if (e.keyword === "enum") return `must be one of ${(p.allowedValues as unknown[]).map(String).join(", ")}`;
  return e.message ?? e.keyword;
}

/** The schema's problems with `doc`, at most `max` (one per event, deepest first). */
export function schemaProblems(doc: unknown, max = 50): CaptureProblem[] {
  const validate = epcisSchemaValidator();
  if (validate(doc)) return [];
  const errors = validate.errors ?? [];
  const events = ((doc as { epcisBody?: { eventList?: unknown[] } })?.epcisBody?.eventList ?? []) as Array<{ eventID?: unknown }>;
  const byEvent = new Map<number | "doc", ErrorObject[]>();
  const anyEventError = errors.some((e) => EVENT_PATH.test(e.instancePath));
  for (const e of errors) {
    const m = EVENT_PATH.exec(e.instancePath);
    // The schema's conditionals above an event only repeat that event's error: keep the event's.
    if (!m && anyEventError && (e.keyword === "if" || e.keyword === "anyOf" || e.keyword === "oneOf" || e.keyword === "allOf")) continue;
    const key = m ? Number(m[1]) : "doc";
    const list = byEvent.get(key) ?? [];
    list.push(e);
    byEvent.set(key, list);
  }
  const out: CaptureProblem[] = [];
  for (const [key, list] of [...byEvent.entries()].sort((a, b) => (a[0] === "doc" ? -1 : b[0] === "doc" ? 1 : (a[0] as number) - (b[0] as number)))) {
    // The deepest error: the longest path (a `required` error points at its parent: count the property).
    const depth = (e: ErrorObject) => e.instancePath.split("/").length + (e.keyword === "required" || e.keyword === "additionalProperties" ? 1 : 0) - (e.keyword === "if" || e.keyword === "oneOf" || e.keyword === "anyOf" ? 1 : 0);
    const best = [...list].sort((a, b) => depth(b) - depth(a))[0]!;
    const p = best.params as Record<string, unknown>;
    const extra = best.keyword === "required" ? `/${String(p.missingProperty)}` : best.keyword === "additionalProperties" ? `/${String(p.additionalProperty)}` : "";
    if (key === "doc") {
      out.push({ field: (best.instancePath || "") + extra || "/", code: "SCHEMA_INVALID", message: `the document ${describe(best)}`, hint: "send an EPCISDocument valid against GS1's EPCIS 2.0 JSON schema (https://ref.gs1.org/standards/epcis/)" });
    } else {
      const m = EVENT_PATH.exec(best.instancePath)!;
      const eventID = events[key]?.eventID;
      out.push({
        eventIndex: key,
        ...(typeof eventID === "string" ? { eventID } : {}),
        field: ((m[2] ?? "") + extra) || "/",
        code: "SCHEMA_INVALID",
        message: `event ${key}${typeof eventID === "string" ? ` (${eventID})` : ""}: ${((m[2] ?? "") + extra) || "the event"} ${describe(best)}`,
        hint: "fix the field as GS1's EPCIS 2.0 JSON schema defines it; the whole document was refused, nothing was captured",
      });
    }
    if (out.length >= max) break;
  }
  return out;
}
