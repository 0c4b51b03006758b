import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import BatchTokenModule from "./BatchToken";

/** The whole on-chain system: forwarder, consortium register and batch token. */
export default buildModule("System", (m) => {
  const { forwarder, consortium, batchToken } = m.useModule(BatchTokenModule);
  return { forwarder, consortium, batchToken };
});
