/**
 * Enrols a member for custodial signing at a running relay, through its admin API: the relay
 * keeps the member's key in an encrypted keystore and issues an API key. Used by `npm start` for
 * the demo's custodial member; the same two calls are what an operator makes with curl.
 */
export interface CustodialEnrolment {
  member: string;
  keyId: string;
  apiKey: string;
}

export async function enrolCustodialMember(
  serviceUrl: string,
  adminToken: string,
  member: { privateKey: string; label: string },
): Promise<CustodialEnrolment> {
  const call = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(new URL(path, serviceUrl), {
      method,
      headers: { authorization: `Bearer ${adminToken}`, ...(body ? { "content-type": "application/json" } : {}) },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = (await res.json()) as Record<string, unknown> & { error?: { code: string; message: string } };
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${json.error?.code ?? ""} ${json.error?.message ?? ""}`.trim());
    return json;
  };
  const enrolled = (await call("POST", "/v1/admin/custodial-members", { label: member.label, privateKey: member.privateKey })) as unknown as CustodialEnrolment;
  // Each start issues a fresh key; revoke the ones earlier starts issued under the same label so
  // they do not pile up (a restart keeps the keystore, so the member's address stays the same).
  const { keys } = (await call("GET", `/v1/admin/custodial-members/${enrolled.member}/api-keys`)) as unknown as {
    keys: { keyId: string; label: string; revokedAt: string | null }[];
  };
  for (const k of keys) {
    if (k.keyId !== enrolled.keyId && k.label === member.label && k.revokedAt === null) await call("DELETE", `/v1/admin/api-keys/${k.keyId}`);
  }
  return enrolled;
}
