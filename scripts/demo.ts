/**
 * `npm run demo` (or `npx hardhat run scripts/demo.ts --network <net>`): the end-to-end
 * traceability story on the network's deployed system. On a network without a deployment (the
 * in-process Hardhat network, a fresh anvil) it deploys the System module first and admits the
 * demo consortium through governance; the accounts follow the demo layout of
 * scripts/lib/consortium-setup.ts.
 */
import hre from "hardhat";
import { deploySystem, loadSystem, parametersFor } from "./lib/deployment";
import { admitDemoMembers, DEMO_MEMBERS } from "./lib/consortium-setup";
import { UserError } from "./lib/errors";
import { runDemo } from "./lib/demo";
import { describeRevert } from "./tasks/common";

async function main() {
  const accounts = await hre.ethers.getSigners();
  const needed = Math.max(...DEMO_MEMBERS.map((m) => m.account)) + 1;
  if (accounts.length < needed) {
    throw new UserError(
      "NOT_ENOUGH_ACCOUNTS",
      `network "${hre.network.name}" has ${accounts.length} accounts; the demo needs ${needed} (deployer, 3 governors, 7 members)`,
      "on Besu set BESU_MEMBER_KEYS to the governor and member keys in the order of scripts/lib/consortium-setup.ts",
    );
  }
  let system;
  try {
    system = await loadSystem(hre);
    console.log(`using deployment ${system.deploymentId} on chain ${system.chainId}`);
  } catch (err) {
    if (!(err instanceof UserError) || (err.code !== "NO_DEPLOYMENT" && err.code !== "STALE_DEPLOYMENT")) throw err;
    console.log(`no deployment on network "${hre.network.name}": deploying the System module`);
    system = await deploySystem(hre, { parameters: parametersFor(hre.network.name), log: (l) => console.log(l) });
  }
  await admitDemoMembers(system.consortium, accounts, (l) => console.log(l));
  const actor = (key: string) => accounts[DEMO_MEMBERS.find((m) => m.key === key)!.account];
  const names = Object.fromEntries(DEMO_MEMBERS.map((m) => [accounts[m.account].address, m.name.replace(/ \(.*\)$/, "")]));
  console.log(`\nTraceability demo on network "${hre.network.name}" (chain ${system.chainId})\n`);
  const result = await runDemo({
    batchToken: system.batchToken,
    consortium: system.consortium,
    actors: { producer: actor("producer"), distributor: actor("distributor"), pharmacy: actor("pharmacy"), regulator: actor("regulator") },
    names,
    log: (l) => console.log(l),
  });
  console.log(
    `\nTry it in the portal: GTIN ${result.gtin}, lot ${result.lot}, expiry ${result.expiry}, serial ${result.dispensedSerials[0]} (dispensed, recalled)`,
  );
}

main().catch((err) => {
  if (err instanceof UserError) {
    console.error(err.oneLine());
  } else {
    const revert = describeRevert(err);
    console.error(`error DEMO_FAILED: ${revert ? `the contract refused a step: ${revert}` : (err as Error).message.split("\n")[0]}`);
  }
  process.exitCode = 1;
});
