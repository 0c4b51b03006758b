/**
 * Error text about the chain node, made safe for public answers (/ready, /v1/index/status, 503
 * bodies). Node errors carry the node's address in many shapes — the whole URL with an API key in
 * its path or query ("Request cannot be constructed from a URL that includes credentials: https://…",
 * ethers' `requestUrl`), `connect ECONNREFUSED 10.0.0.5:8545`, `getaddrinfo ENOTFOUND rpc.internal`
 * — and the RPC URL is configuration: it often holds a provider's key. The error's kind
 * (ECONNREFUSED, a timeout, an HTTP status) stays, so operators and monitors still learn what is
 * wrong; the full text goes to the service's log only.
 */

/** A URL up to whitespace, a quote or a closing bracket, not ending on sentence punctuation. */
const URL_PATTERN = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'<>)\]}]*[^\s"'<>)\]},.;:]/gi;
const IPV4_PORT = /\b(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?\b/g;
const IPV6_PORT = /\[[0-9a-f:.]+\](?::\d{1,5})?/gi;
/** Name-resolution and TLS errors name the host. */
const HOST_AFTER = /\b(ENOTFOUND|EAI_AGAIN|EAI_FAIL|ESERVFAIL|getaddrinfo \w+|Host:|hostname|altnames:)\s+[^\s,;)]+/gi;

/**
 * Removes every URL, IP address (with its port) and resolved host name from `text`, and — when the
 * configured node URL is given — each of its parts (host, user, password, path segments, query
 * values) wherever they appear.
 */
export function redactNodeDetails(text: string, nodeUrl?: string): string {
  let out = text;
  if (nodeUrl) {
    for (const secret of urlParts(nodeUrl)) out = out.split(secret).join("<node>");
  }
  return out.replace(URL_PATTERN, "<node URL>").replace(HOST_AFTER, "$1 <node host>").replace(IPV6_PORT, "<node address>").replace(IPV4_PORT, "<node address>");
}

/** The parts of a URL that identify or authenticate the node, longest first (so a part inside another goes after it). */
function urlParts(nodeUrl: string): string[] {
  let u: URL;
  try {
    u = new URL(nodeUrl);
  } catch {
    return nodeUrl.length >= 4 ? [nodeUrl] : [];
  }
  const parts = new Set<string>([nodeUrl, u.href, u.origin, u.host, u.hostname, u.username, u.password, decode(u.username), decode(u.password)]);
  for (const segment of u.pathname.split("/")) {
    parts.add(segment);
    parts.add(decode(segment));
  }
  for (const [k, v] of u.searchParams) {
    parts.add(k);
    parts.add(v);
  }
  // Short fragments ("v3", "rpc", a port alone) would mangle unrelated words; keys are long.
  return [...parts].filter((p) => p.length >= 4).sort((a, b) => b.length - a.length);
}

function decode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
