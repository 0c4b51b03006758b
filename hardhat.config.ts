import path from "node:path";
import { subtask } from "hardhat/config";
import { TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD } from "hardhat/builtin-tasks/task-names";
import type { HardhatUserConfig } from "hardhat/config";
import "@nomicfoundation/hardhat-toolbox";
import "./scripts/tasks";
// The migration tasks (docs/MIGRATION.md).
import "./scripts/tasks/migrate";

// No compiler can be downloaded on the consortium's build machines, so compilation uses the
// solc-js build shipped in the npm `solc` package. The version is read from that package so the
// pinned dependency and the configured compiler can never drift apart.
const SOLC_VERSION: string = require("solc/package.json").version;

subtask(TASK_COMPILE_SOLIDITY_GET_SOLC_BUILD, async (args: { solcVersion: string }, _hre, runSuper) => {
  if (args.solcVersion !== SOLC_VERSION) return runSuper();
  return {
    compilerPath: path.join(path.dirname(require.resolve("solc/package.json")), "soljson.js"),
    isSolcJs: true,
    version: args.solcVersion,
    longVersion: require("solc").version(),
  };
});

/** Public Hardhat/anvil development mnemonic: its keys are well known and hold nothing of value. */
export const DEV_MNEMONIC = "test test test test test test test test test test test junk";

const env = process.env;
const blockIntervalMs = Number(env.BLOCK_INTERVAL_MS || 0);
const privateKeys = (list: string | undefined) =>
  (list ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k.length > 0);

const config: HardhatUserConfig = {
  solidity: {
    version: SOLC_VERSION,
    settings: {
      evmVersion: "cancun",
      optimizer: { enabled: true, runs: 200 },
    },
  },
  networks: {
    hardhat: {
      chainId: 1337,
      // A consortium chain has free gas: zero price, zero base fee (Besu: min-gas-price=0, zeroBaseFee).
      gasPrice: 0,
      initialBaseFeePerGas: 0,
      hardfork: "cancun",
      allowUnlimitedContractSize: false,
      // `npm start` sets BLOCK_INTERVAL_MS to imitate a QBFT block period; tests keep automine.
      mining: blockIntervalMs > 0 ? { auto: false, interval: blockIntervalMs } : { auto: true },
    },
    // The node `npm start` runs (or any node named by CHAIN_RPC_URL). Transactions are signed
    // locally, as on Besu, which refuses eth_sendTransaction.
    localnode: {
      url: env.CHAIN_RPC_URL || `http://127.0.0.1:${env.RPC_PORT || "8545"}`,
      accounts: { mnemonic: DEV_MNEMONIC, count: 20 },
      gasPrice: 0,
    },
    // anvil (npm @foundry-rs/anvil), the second EVM implementation the demo runs on.
    anvil: {
      url: env.ANVIL_RPC_URL || "http://127.0.0.1:8546",
      accounts: { mnemonic: DEV_MNEMONIC, count: 20 },
      gasPrice: 0,
    },
    // A Hyperledger Besu QBFT network (see `npm run besu:kit` and the README). The first key
    // deploys; BESU_MEMBER_KEYS adds the keys the tasks and the demo act with.
    besu: {
      url: env.BESU_RPC_URL || "http://127.0.0.1:8545",
      accounts: privateKeys([env.BESU_DEPLOYER_KEY, env.BESU_MEMBER_KEYS].filter(Boolean).join(",")),
      gasPrice: 0,
      timeout: 60_000,
    },
  },
  // QBFT blocks are final when sealed, so one confirmation is enough on Besu, and on the local
  // nodes; Ignition's default of five only slows every deployment down.
  ignition: { requiredConfirmations: 1, blockPollingInterval: 250 },
  gasReporter: { enabled: process.env.REPORT_GAS === "true" },
  // Test files run in two worker processes (one per core): most of the suite waits on nodes,
  // services and browsers it starts, so two files at a time took `npm test` from 16 to ~9 minutes.
  // Every test starts what it needs on its own loopback ports and temporary directories.
  mocha: { timeout: 120_000, parallel: true, jobs: 2 },
};

export default config;
