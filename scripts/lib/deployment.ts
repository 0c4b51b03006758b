import fs from "node:fs";
import path from "node:path";
import type { HardhatRuntimeEnvironment } from "hardhat/types";
import type { DeploymentParameters } from "@nomicfoundation/ignition-core";
import SystemModule from "../../ignition/modules/System";
import { connectSystem, type SystemContractSet } from "../../api/chain/contracts";
import { UserError } from "./errors";
import { REPO_ROOT, deploymentDir, readDeploymentAddresses, type SystemAddresses } from "../../api/chain/addresses";

export { REPO_ROOT, deploymentDir, type SystemAddresses };

export interface SystemContracts extends SystemContractSet {
  deploymentId: string;
  chainId: bigint;
  addresses: SystemAddresses;
}

/** Ignition deployment id of a chain: DEPLOYMENT_ID from env, else `chain-<chainId>`. */
export function deploymentIdFor(chainId: bigint): string {
  return process.env.DEPLOYMENT_ID || `chain-${chainId}`;
}

const readAddresses = readDeploymentAddresses;

async function hasCode(hre: HardhatRuntimeEnvironment, a: SystemAddresses): Promise<boolean> {
  for (const address of [a.forwarder, a.consortium, a.batchToken]) {
    if ((await hre.ethers.provider.getCode(address)) === "0x") return false;
  }
  return true;
}

async function chainIdOf(hre: HardhatRuntimeEnvironment): Promise<bigint> {
  try {
    return (await hre.ethers.provider.getNetwork()).chainId;
  } catch (err) {
    const url = (hre.network.config as { url?: string }).url ?? hre.network.name;
    throw new UserError(
      "RPC_UNREACHABLE",
      `cannot reach the JSON-RPC node of network "${hre.network.name}" at ${url} (${(err as Error).message.split("\n")[0]})`,
      "start the node (npm start), or fix the URL in .env",
    );
  }
}

async function connect(hre: HardhatRuntimeEnvironment, deploymentId: string, chainId: bigint, addresses: SystemAddresses): Promise<SystemContracts> {
  const [runner] = await hre.ethers.getSigners();
  const provider = runner ?? hre.ethers.provider;
  return {
    deploymentId,
    chainId,
    addresses,
    ...connectSystem(addresses, provider),
  };
}

/** The system deployed on the current network, or a clear error telling how to deploy it. */
export async function loadSystem(hre: HardhatRuntimeEnvironment): Promise<SystemContracts> {
  const chainId = await chainIdOf(hre);
  const env = process.env;
  const fromEnv =
    env.FORWARDER_ADDRESS && env.CONSORTIUM_ADDRESS && env.BATCH_TOKEN_ADDRESS
      ? { forwarder: env.FORWARDER_ADDRESS, consortium: env.CONSORTIUM_ADDRESS, batchToken: env.BATCH_TOKEN_ADDRESS }
      : undefined;
  const deploymentId = fromEnv ? "from-env" : deploymentIdFor(chainId);
  const addresses = fromEnv ?? readAddresses(deploymentId);
  if (!addresses) {
    throw new UserError(
      "NO_DEPLOYMENT",
      `no deployment "${deploymentId}" of the System module for chain ${chainId} (network "${hre.network.name}")`,
      `run \`npm start\` for the local consortium, or \`npx hardhat ignition deploy ignition/modules/System.ts --network ${hre.network.name} --parameters ignition/parameters/${hre.network.name}.json --deployment-id ${deploymentId}\``,
    );
  }
  if (!(await hasCode(hre, addresses))) {
    throw new UserError(
      "STALE_DEPLOYMENT",
      `deployment "${deploymentId}" names contracts that have no code on chain ${chainId} (network "${hre.network.name}"): wrong network, or the chain was reset`,
      "check --network, run `npm start` again (it redeploys), or set DEPLOYMENT_ID / the *_ADDRESS variables to this chain's deployment",
    );
  }
  return connect(hre, deploymentId, chainId, addresses);
}

export interface DeployOptions {
  parameters: Record<string, Record<string, unknown>>;
  log?: (line: string) => void;
}

/**
 * Deploys the System module through Ignition, or reuses the deployment the chain already has.
 * Ignition's journal makes an interrupted deployment resumable. A journal whose contracts have
 * no code belongs to a chain that no longer exists (a restarted dev node): it is moved aside
 * and the system deployed anew, so a second start never trips over a half-deployed state.
 */
export async function deploySystem(hre: HardhatRuntimeEnvironment, options: DeployOptions): Promise<SystemContracts & { reused: boolean }> {
  const log = options.log ?? (() => undefined);
  const chainId = await chainIdOf(hre);
  if (hre.network.name === "hardhat") {
    // The in-process network lives as long as this process: Ignition keeps no journal for it, and
    // the journal of a real chain with the same id must not be touched.
    const deployed = await hre.ignition.deploy(SystemModule, { parameters: options.parameters as DeploymentParameters });
    const addresses: SystemAddresses = {
      forwarder: await deployed.forwarder.getAddress(),
      consortium: await deployed.consortium.getAddress(),
      batchToken: await deployed.batchToken.getAddress(),
    };
    log(`deployed System on the in-process Hardhat network`);
    return { ...(await connect(hre, "in-process", chainId, addresses)), reused: false };
  }
  const deploymentId = deploymentIdFor(chainId);
  const existing = readAddresses(deploymentId);
  if (existing && (await hasCode(hre, existing))) {
    log(`reusing deployment ${deploymentId} (already on chain ${chainId})`);
    return { ...(await connect(hre, deploymentId, chainId, existing)), reused: true };
  }
  const dir = deploymentDir(deploymentId);
  if (fs.existsSync(dir) && (existing || !fs.existsSync(path.join(dir, "journal.jsonl")) || (await journalIsStale(hre, dir)))) {
    const aside = `${dir}.stale-${Date.now()}`;
    fs.renameSync(dir, aside);
    log(`previous deployment ${deploymentId} belongs to a chain that no longer exists; moved to ${path.basename(aside)}`);
  }
  await requireFunds(hre);
  process.env.HARDHAT_IGNITION_CONFIRM_DEPLOYMENT ??= "1";
  const deployed = await hre.ignition.deploy(SystemModule, {
    parameters: options.parameters as DeploymentParameters,
    deploymentId,
    displayUi: false,
  });
  const addresses: SystemAddresses = {
    forwarder: await deployed.forwarder.getAddress(),
    consortium: await deployed.consortium.getAddress(),
    batchToken: await deployed.batchToken.getAddress(),
  };
  log(`deployed System (${deploymentId}): forwarder ${addresses.forwarder}, consortium ${addresses.consortium}, batch token ${addresses.batchToken}`);
  return { ...(await connect(hre, deploymentId, chainId, addresses)), reused: false };
}

/** On a chain that charges for gas, a deployer without funds would fail half-way: say so first. */
async function requireFunds(hre: HardhatRuntimeEnvironment): Promise<void> {
  const [deployer] = await hre.ethers.getSigners();
  if (!deployer) {
    throw new UserError("NO_DEPLOYER", `network "${hre.network.name}" has no account to deploy with`, "set BESU_DEPLOYER_KEY (or the network's accounts) in .env");
  }
  const { gasPrice, maxFeePerGas } = await hre.ethers.provider.getFeeData();
  const configured = (hre.network.config as { gasPrice?: number | "auto" }).gasPrice;
  const price = configured === 0 ? 0n : (maxFeePerGas ?? gasPrice ?? 0n);
  if (price > 0n && (await hre.ethers.provider.getBalance(deployer.address)) === 0n) {
    throw new UserError(
      "NO_FUNDS",
      `the deployer ${deployer.address} has no funds and network "${hre.network.name}" charges ${price} wei per gas`,
      "fund the deployer in the genesis alloc, or run the chain with free gas (min-gas-price=0, zeroBaseFee)",
    );
  }
}

/** A journal whose first recorded transaction is unknown to the chain was written for another chain. */
async function journalIsStale(hre: HardhatRuntimeEnvironment, dir: string): Promise<boolean> {
  const lines = fs.readFileSync(path.join(dir, "journal.jsonl"), "utf8").split("\n").filter(Boolean);
  for (const line of lines) {
    const entry = JSON.parse(line) as { type?: string; hash?: string };
    if (entry.type === "TRANSACTION_SEND" && entry.hash) {
      return (await hre.ethers.provider.getTransaction(entry.hash)) === null;
    }
  }
  return false;
}

/** Ignition parameters for a network: ignition/parameters/<network>.json. */
export function parametersFor(networkName: string): Record<string, Record<string, unknown>> {
  const file = path.join(REPO_ROOT, "ignition", "parameters", `${networkName}.json`);
  if (!fs.existsSync(file)) {
    throw new UserError(
      "NO_PARAMETERS",
      `no Ignition parameter file for network "${networkName}" (${path.relative(REPO_ROOT, file)})`,
      "copy ignition/parameters/besu.example.json and fill in governors and the charter hash",
    );
  }
  return JSON.parse(fs.readFileSync(file, "utf8"));
}
