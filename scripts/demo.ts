/**
 * `npm run demo` (or `npx hardhat run scripts/demo.ts --network <net>`): the end-to-end
 * traceability story through the running consortium's relay and read service. It needs what
 * `npm start` sets up: the System deployed, the demo consortium admitted, the service running,
 * and the pharmacy enrolled for custodial signing. Locally it reads all of that from
 * .local/dev-keys.json; elsewhere DEMO_SERVICE_URL and DEMO_CUSTODIAL_API_KEY say where the
 * service is and which API key the pharmacy uses (the accounts follow scripts/lib/consortium-setup.ts).
 */
import hre from "hardhat";
import { loadSystem } from "./lib/deployment";
import { DEMO_MEMBERS } from "./lib/consortium-setup";
import { readDevKeys } from "./lib/dev-keys";
import { UserError } from "./lib/errors";
import { portalHints, runDemo } from "./lib/demo";
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
  const system = await loadSystem(hre);
  const devKeys = readDevKeys();
  // The file npm start wrote describes its own node: dev-chain addresses repeat across chains, so
  // it applies only when this network is that node.
  const networkUrl = (hre.network.config as { url?: string }).url;
  const local = devKeys && devKeys.rpcUrl === networkUrl && devKeys.contracts.batchToken.toLowerCase() === system.addresses.batchToken.toLowerCase() ? devKeys : undefined;
  const serviceUrl = process.env.DEMO_SERVICE_URL || local?.service?.url || `http://127.0.0.1:${process.env.PORT || "8080"}`;
  const ready = await fetch(new URL("/ready", serviceUrl)).then(
    (r) => r.status,
    () => 0,
  );
  if (ready !== 200) {
    throw new UserError(
      "SERVICE_UNAVAILABLE",
      ready === 0 ? `no service answers at ${serviceUrl}` : `the service at ${serviceUrl} is not ready (/ready answered ${ready})`,
      "start the consortium with `npm start` and run the demo in a second terminal, or set DEMO_SERVICE_URL to the service of this chain",
    );
  }

  const member = (key: string) => accounts[DEMO_MEMBERS.find((m) => m.key === key)!.account];
  const pharmacy = member("pharmacy");
  const apiKey = process.env.DEMO_CUSTODIAL_API_KEY || local?.accounts.find((a) => a.key === "pharmacy")?.apiKey;
  if (!apiKey) {
    throw new UserError(
      "NO_CUSTODIAL_KEY",
      `no API key for the custodial pharmacy ${pharmacy.address}`,
      "npm start enrols it and writes the key to .local/dev-keys.json; elsewhere enrol it (POST /v1/admin/custodial-members) and set DEMO_CUSTODIAL_API_KEY",
    );
  }
  for (const m of DEMO_MEMBERS) {
    if (Number((await system.consortium.member(accounts[m.account].address)).status) !== 1) {
      throw new UserError("NOT_A_MEMBER", `${m.name} (${accounts[m.account].address}) is not an active member on chain ${system.chainId}`, "npm start admits the demo consortium; elsewhere admit it through governance (gov:propose …)");
    }
  }

  const names = Object.fromEntries(DEMO_MEMBERS.map((m) => [accounts[m.account].address, m.name.replace(/ \(.*\)$/, "")]));
  const signing = (key: string) => ({ signer: member(key), address: member(key).address });
  console.log(`Traceability demo on network "${hre.network.name}" (chain ${system.chainId}), through the service at ${serviceUrl}\n`);
  const result = await runDemo({
    serviceUrl,
    batchToken: system.batchToken,
    signers: { producer: signing("producer"), distributor: signing("distributor"), regulator: signing("regulator") },
    pharmacy: { address: pharmacy.address, apiKey },
    names,
    log: (l) => console.log(l),
  });
  const signed = result.requests.filter((r) => r.via === "signed").length;
  console.log(`\n${result.requests.length} requests went through the relay (${signed} signed by their members, ${result.requests.length - signed} with the pharmacy's API key), each followed to mined.\n`);
  for (const line of portalHints(result, new URL("/", serviceUrl).toString())) console.log(line);
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
