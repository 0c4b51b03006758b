import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import ConsortiumModule from "./Consortium";

/**
 * ERC-1155 batches with custody, status and serial verification, reading roles from the Consortium.
 *
 * Parameters (key "BatchToken"):
 * - uri: ERC-1155 metadata URI template; `{id}` is replaced by clients.
 */
export default buildModule("BatchToken", (m) => {
  const { forwarder, consortium } = m.useModule(ConsortiumModule);
  const uri = m.getParameter<string>("uri", "");
  const batchToken = m.contract("BatchToken", [consortium, forwarder, uri], { id: "BatchToken" });
  return { forwarder, consortium, batchToken };
});
