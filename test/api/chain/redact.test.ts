import { expect } from "chai";
import { redactNodeDetails } from "../../../api/chain/redact";

describe("redactNodeDetails: node errors fit for public answers", function () {
  const url = "https://relay:S3cretPass@rpc.example.org:8545/v3/KEY0123456789abcdef?apikey=TOKEN-abcdef";

  it("removes every part of the configured URL wherever it appears, and keeps the kind of error", () => {
    for (const text of [
      `Request cannot be constructed from a URL that includes credentials: ${url}`,
      "getaddrinfo ENOTFOUND rpc.example.org",
      "connect ECONNREFUSED rpc.example.org:8545",
      "server response 401 (requestUrl=\"https://rpc.example.org:8545/v3/KEY0123456789abcdef\")",
      "auth failed for relay / S3cretPass at /v3/KEY0123456789abcdef with TOKEN-abcdef",
    ]) {
      const out = redactNodeDetails(text, url);
      for (const part of ["rpc.example.org", "S3cretPass", "KEY0123456789abcdef", "TOKEN-abcdef", "8545"]) expect(out, text).to.not.include(part);
    }
    expect(redactNodeDetails("connect ECONNREFUSED rpc.example.org:8545", url)).to.match(/^connect ECONNREFUSED <node/);
  });

  it("removes URLs, IP addresses with ports and resolved host names without knowing the URL", () => {
    expect(redactNodeDetails("eth_call: fetch failed (connect ECONNREFUSED 10.1.2.3:8545)")).to.equal("eth_call: fetch failed (connect ECONNREFUSED <node address>)");
    expect(redactNodeDetails("connect ECONNREFUSED [::1]:8545")).to.equal("connect ECONNREFUSED <node address>");
    expect(redactNodeDetails("getaddrinfo EAI_AGAIN besu-1.internal")).to.equal("getaddrinfo EAI_AGAIN <node host>");
    expect(redactNodeDetails("bad response from https://x.example/key?k=1, status 500")).to.equal("bad response from <node URL>, status 500");
    expect(redactNodeDetails("timeout: no answer from the node within 10000 ms")).to.equal("timeout: no answer from the node within 10000 ms");
  });
});
