import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { spawn } from "node:child_process";
import { expect } from "chai";
import { REPO_ROOT } from "../../api/chain/addresses";
import { buildService, freePort, serviceEnv } from "../../scripts/lib/nodes";

/**
 * `npm run serve` runs the service compiled to dist/ (the benchmarks measure that build): it must
 * find the same repository files (portal, artifacts, data directory) as the sources do.
 */
describe("the compiled service (npm run build, node dist/api/server.js)", function () {
  this.timeout(180_000);

  it("starts, serves health, the portal and the API document, says why it is not ready, and stops on SIGTERM", async function () {
    const entry = buildService();
    expect(entry).to.equal(path.join(REPO_ROOT, "dist", "api", "server.js"));
    const port = await freePort();
    const dead = await freePort(); // nothing listens there: the chain is unreachable
    const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-compiled-"));
    const child = spawn(process.execPath, [entry], {
      cwd: os.tmpdir(),
      env: serviceEnv(
        {
          rpcUrl: `http://127.0.0.1:${dead}`,
          // Nothing answers there, so any well-formed addresses do.
          addresses: { forwarder: "0x5fbdb2315678afecb367f032d93f642f64180aa3", consortium: "0xe7f1725e7734ce288f8367e1bb143e90bb3f0512", batchToken: "0x9fe46736679d2d9a65f0992f2272bde9a8eb6a88" },
          dataDir,
          port,
        },
        { LOG_LEVEL: "error", RELAY_ENABLED: "false" },
      ),
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    try {
      const base = `http://127.0.0.1:${port}`;
      for (let i = 0; ; i++) {
        try {
          if ((await fetch(`${base}/health`)).ok) break;
        } catch {
          // not listening yet
        }
        if (i > 300 || child.exitCode !== null) throw new Error(`the compiled service did not start:\n${out}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      const portal = await fetch(`${base}/portal/`);
      expect(portal.status).to.equal(200);
      expect(portal.headers.get("content-security-policy")).to.include("default-src 'self'");
      expect(await portal.text()).to.include("<form");
      const docs = (await (await fetch(`${base}/docs/json`)).json()) as { paths: Record<string, unknown> };
      expect(Object.keys(docs.paths)).to.include("/v1/verify/scan");
      const ready = await fetch(`${base}/ready`);
      expect(ready.status).to.equal(503);
      expect(JSON.stringify(await ready.json())).to.match(/ECONNREFUSED|fetch failed/);
    } finally {
      child.kill("SIGTERM");
      expect(await exited, out).to.equal(0);
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
