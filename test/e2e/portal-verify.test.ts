import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { expect } from "chai";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import type { FastifyInstance } from "fastify";
import { freePort } from "../../scripts/lib/nodes";
import { code, GTIN, indexed, SERIALS, startReadFixture, uploadSerials, type ReadFixture } from "../api/read/read-fixture";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"];

describe("the public portal in a real browser (Chromium via playwright-core)", function () {
  this.timeout(120_000);
  let f: ReadFixture;
  let app: FastifyInstance;
  let context: BrowserContext | undefined;
  let page: Page;
  let base: string;
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), "medtrace-chromium-"));
  const foreignRequests: string[] = [];

  before(async function () {
    if (!fs.existsSync(CHROMIUM)) {
      console.log(`    SKIPPED portal browser tests: no Chromium at ${CHROMIUM}. Enable them with \`apt-get install -y chromium\` (or set CHROMIUM_PATH).`);
      this.skip();
    }
    f = await startReadFixture();
    app = await f.app();
    await indexed(app, f);
    for (const [id, serials] of [[f.batches.A, SERIALS.A], [f.batches.B, SERIALS.B], [f.batches.E, SERIALS.E]] as const) {
      const res = await uploadSerials(app, f, id, [...serials]);
      expect(res.statusCode, res.body).to.equal(201);
    }
    const port = await freePort();
    await app.listen({ host: "127.0.0.1", port });
    base = `http://127.0.0.1:${port}`;
    // A persistent context is how playwright passes --user-data-dir: a fresh profile directory each run.
    context = await chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM, args: FLAGS, headless: true });
    page = context.pages()[0] ?? (await context.newPage());
    page.on("request", (r) => {
      if (!r.url().startsWith(base)) foreignRequests.push(r.url());
    });
  });
  after(async () => {
    await context?.close();
    await f?.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  });

  /** Types the code with the keyboard only (Tab to the field, Enter to submit) and returns the verdict box. */
  async function check(c: string) {
    await page.goto(`${base}/portal/`);
    await page.keyboard.press("Tab"); // skip link
    await page.keyboard.press("Tab"); // "Check a pack"
    await page.keyboard.press("Tab"); // "Auditor"
    await page.keyboard.press("Tab"); // the code field
    expect(await page.locator("#code").evaluate((el) => el === el.ownerDocument.activeElement)).to.equal(true);
    await page.keyboard.insertText(c);
    await page.keyboard.press("Enter");
    const box = page.locator("#result");
    await box.waitFor({ state: "visible" });
    return { verdict: await box.getAttribute("data-verdict"), text: (await box.innerText()).replace(/\s+/g, " ") };
  }

  it("shows a genuine pack as genuine, with product, lot and expiry", async function () {
    const r = await check(code("GENUINE-A", "A-0001"));
    expect(r.verdict).to.equal("genuine");
    expect(r.text).to.include("Genuine pack");
    expect(r.text).to.include(`Product (GTIN) ${GTIN}`);
    expect(r.text).to.include("Lot GENUINE-A");
    expect(r.text).to.include("Expiry 2030-06-30");
    expect(await page.locator("#result").getAttribute("role")).to.equal("status");
  });

  it("warns that a dispensed pack was already handed out", async function () {
    const r = await check(code("GENUINE-A", "A-0002"));
    expect(r.verdict).to.equal("dispensed");
    expect(r.text).to.match(/Already dispensed on \d{4}-\d{2}-\d{2}/);
  });

  it("tells the patient not to use a recalled pack and to return it", async function () {
    const r = await check(code("RECALL-B", "B-0001"));
    expect(r.verdict).to.equal("recalled");
    expect(r.text).to.match(/Do not use — recalled on \d{4}-\d{2}-\d{2}/);
    expect(r.text).to.include("return it to your pharmacy");
  });

  it("says in plain words that a stolen pack must not be dispensed", async function () {
    const r = await check(code("PACKED-E", SERIALS.E[5]));
    expect(r.verdict).to.equal("stolen");
    expect(r.text).to.include("Reported stolen: do not dispense, return it to your supplier");
    expect(await page.locator("#result").getAttribute("class")).to.equal("bad");
  });

  it("shows a pack in transit as genuine but not yet received, and a locked pack as on hold", async function () {
    const transit = await check(code("PACKED-E", SERIALS.E[14]));
    expect(transit.verdict).to.equal("in_transit");
    expect(transit.text).to.include("recorded as in transit");
    const locked = await check(code("PACKED-E", SERIALS.E[9]));
    expect(locked.verdict).to.equal("locked");
    expect(locked.text).to.include("On hold");
  });

  it("flags a forged serial as possibly counterfeit", async function () {
    const r = await check(code("GENUINE-A", "FAKE-0001"));
    expect(r.verdict).to.equal("not_in_batch");
    expect(r.text).to.include("possibly counterfeit");
  });

  it("explains a malformed code: which field and what is wrong", async function () {
    const r = await check(code("GENUINE-A", "A-0001").replace(GTIN, GTIN.slice(0, 13) + "9"));
    expect(r.verdict).to.equal("malformed");
    expect(r.text).to.include("This code could not be read");
    expect(r.text).to.match(/check digit/i);
  });

  it("opens the verdict directly when a browser follows a Digital Link", async function () {
    await page.goto(`${base}/01/${GTIN}/10/RECALL-B/21/B-0002?17=300630`);
    expect(page.url()).to.match(/\/portal\/\?code=/);
    const box = page.locator("#result");
    await box.waitFor({ state: "visible" });
    expect(await box.getAttribute("data-verdict")).to.equal("recalled");
  });

  it("renders a batch's custody timeline in the auditor view", async function () {
    await page.goto(`${base}/portal/#auditor`);
    await page.getByLabel("Batch id").fill(String(f.batches.A));
    await page.getByRole("button", { name: "Show timeline" }).click();
    const items = page.locator("#timeline-list li");
    await items.first().waitFor();
    const events = await items.evaluateAll((lis) => lis.map((li) => li.getAttribute("data-event")));
    expect(events).to.deep.equal(app.read.store.eventsOfBatch(String(f.batches.A)).map((e) => e.name));
    expect(await items.first().innerText()).to.match(/minted 5 units, lot GENUINE-A/);
    expect(await page.locator("#timeline").innerText()).to.match(/tx 0x[0-9a-f]{64} · log \d+/);
  });

  it("renders a pack's history in the auditor view, by pack number and by serial", async function () {
    for (const ref of ["5", SERIALS.E[5]]) {
      await page.goto(`${base}/portal/#auditor`);
      await page.locator("#pack-batch").fill(String(f.batches.E));
      await page.locator("#pack-ref").fill(ref);
      await page.getByRole("button", { name: "Show pack history" }).click();
      const items = page.locator("#pack-history-list li");
      await items.first().waitFor();
      const states = await items.evaluateAll((lis) => lis.map((li) => li.getAttribute("data-state")));
      expect(states.at(-1)).to.equal("Stolen");
      expect(await page.locator("#pack-history").innerText()).to.match(/Pack 5 — serial E-0005 of batch \d+/);
      expect(await page.locator("#pack-history").innerText()).to.match(/tx 0x[0-9a-f]{64} · log \d+/);
    }
  });

  it("made no request to any other origin", function () {
    expect(foreignRequests).to.deep.equal([]);
  });
});
