import { expect } from "chai";
import { describeFailure, runInvariants, type Campaign } from "../../scripts/lib/forge";

/**
 * The short Foundry invariant campaign (foundry.toml profile "short"), part of `npm test`. The
 * suite (test/foundry/) fuzzes the real contracts through a handler with its own model,
 * independent of the TypeScript domain model; `npm run fuzz` runs the long campaign.
 */
describe("Forge invariant campaign (short profile)", function () {
  // forge compiles the contracts with solc-js first (about a minute on a fresh clone), then fuzzes.
  this.timeout(15 * 60_000);

  let campaign: Campaign;

  before(async function () {
    campaign = await runInvariants("short");
  });

  it("runs every invariant of the suite, each for the profile's runs", function () {
    expect(campaign.results.length).to.be.greaterThanOrEqual(20);
    // A broken invariant stops its campaign early: its report is the next test's.
    for (const r of campaign.results.filter((x) => x.passed)) expect(r.runs, r.name).to.equal(campaign.runs);
  });

  it("breaks no invariant (a failure shows forge's shrunk call sequence)", function () {
    const report = campaign.broken.map(describeFailure).join("\n\n");
    expect(campaign.broken.map((r) => r.name), report).to.deep.equal([]);
  });
});
