import fs from "node:fs";
import path from "node:path";
import { expect } from "chai";
import { parse } from "dotenv";
import { loadConfig, envSchema, ConfigError, applyHeapTuning } from "../../api/config";
import { REPO_ROOT } from "../../api/chain/addresses";

const ADDRESSES = {
  FORWARDER_ADDRESS: "0x5FbDB2315678afecb367f032d93F642f64180aa3",
  CONSORTIUM_ADDRESS: "0xe7f1725E7734CE288F8367e1Bb143E90bb3F0512",
  BATCH_TOKEN_ADDRESS: "0x9fE46736679d2D9a65F0992F2272dE9f3c7fa6e0",
};

describe("service configuration", function () {
  const example = parse(fs.readFileSync(path.join(REPO_ROOT, ".env.example"), "utf8"));

  it("accepts .env.example copied as it is: an empty value means the default", function () {
    const config = loadConfig({ ...example, ...ADDRESSES });
    expect(config.env.PORT).to.equal(8080);
    expect(config.env.LOG_LEVEL).to.equal("info");
    expect(config.dataDir).to.equal(path.join(REPO_ROOT, ".local", "data"));
    expect(config.addresses.batchToken).to.equal(ADDRESSES.BATCH_TOKEN_ADDRESS);
  });

  it("lists every variable the service reads in .env.example", function () {
    const missing = Object.keys(envSchema.shape).filter((name) => !(name in example));
    expect(missing, `add these to .env.example with a comment: ${missing.join(", ")}`).to.deep.equal([]);
  });

  it("tunes V8's heap growth unless it is 0 or node was given the flag itself", function () {
    expect(applyHeapTuning({ HEAP_GROWING_PERCENT: 0 }, "")).to.equal(false);
    expect(applyHeapTuning({ HEAP_GROWING_PERCENT: 100 }, "--max-old-space-size=512 --heap-growing-percent=50")).to.equal(false);
    expect(applyHeapTuning({ HEAP_GROWING_PERCENT: 100 }, "--heap_growing_percent=50")).to.equal(false);
    expect(applyHeapTuning({ HEAP_GROWING_PERCENT: 100 }, "--max-old-space-size=512")).to.equal(true);
  });

  it("names the variable and what to do when a value is malformed", function () {
    expect(() => loadConfig({ ...ADDRESSES, PORT: "eighty" })).to.throw(ConfigError, /^PORT: .* — fix it in .env/);
    expect(() => loadConfig({ ...ADDRESSES, BATCH_TOKEN_ADDRESS: "0x123" })).to.throw(ConfigError, /BATCH_TOKEN_ADDRESS: must be a 0x-prefixed 20-byte hex address/);
    expect(() => loadConfig({ ...ADDRESSES, HEAP_GROWING_PERCENT: "-5" })).to.throw(ConfigError, /^HEAP_GROWING_PERCENT: .*>=0/);
    expect(() => loadConfig({ DEPLOYMENT_ID: "no-such-deployment" })).to.throw(ConfigError, /deploy first \(npm start\)/);
  });
});
