import type { FastifyRequest } from "fastify";
import type { EpcisEnv } from "./config";
import type { Dispatcher } from "./capture/dispatcher";
import type { TreeCache } from "./capture/planner";
import type { Authenticator, ListSource, MemberDirectory, Principal, RelayPort, DocumentPort } from "./ports";
import { Problem } from "./problem";
import type { Projector } from "./projector";
import type { Visibility } from "./query";
import type { EpcisStore } from "./store";
import type { WebhookDeliverer } from "./subscriptions";

/** What the routes share: the parts of the binding, and who is calling. */
export interface EpcisService {
  env: EpcisEnv;
  prefix: string;
  store: EpcisStore;
  projector: Projector;
  dispatcher: Dispatcher | undefined;
  deliverer: WebhookDeliverer;
  directory: MemberDirectory;
  auth: Authenticator;
  relay: RelayPort | undefined;
  lists: ListSource;
  trees: TreeCache;
  /** The read side's documents, when it runs in this service. */
  documents: DocumentPort | undefined;
}

/** The caller, or a 401 problem (no key, unknown key, revoked key). */
export function principalOf(service: EpcisService, request: FastifyRequest): Principal {
  const p = service.auth.authenticate(request.headers);
  if (!p) {
    throw new Problem(401, "SecurityException", "API_KEY_REQUIRED", "the EPCIS interface serves consortium members and auditors only", "send your custodial API key (X-API-Key: mtk_…) or an auditor key in X-API-Key");
  }
  if ("error" in p) {
    throw new Problem(401, "SecurityException", p.error, p.detail, p.error === "API_KEY_REVOKED" ? "ask the relay's operators for a new key" : "send the key issued at enrolment in the X-API-Key header");
  }
  return p;
}

/** The key a principal's named queries and subscriptions are kept under. */
export function ownerOf(p: Principal): string {
  return p.kind === "member" ? `member:${p.account.toLowerCase()}` : `auditor:${p.keyId}`;
}

/**
 * What an owner sees: an auditor (a READ_API_KEYS holder, or a member whose role is Auditor)
 * everything; a regulator the events it is a party to and those of batches marketed in its
 * jurisdiction; any other member the events it is a party to or held the packs of.
 */
export async function visibilityOfOwner(directory: MemberDirectory, owner: string): Promise<Visibility> {
  if (owner.startsWith("auditor:")) return undefined;
  const account = owner.slice("member:".length);
  const facts = await directory.member(account);
  if (facts?.role === "Auditor") return undefined;
  const own = [`a:${account}`];
  if (facts?.role === "Regulator") own.push(`j:${facts.jurisdiction}`);
  return own;
}
