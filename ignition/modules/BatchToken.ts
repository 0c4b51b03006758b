import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import ConsortiumModule from "./Consortium";

/**
 * ERC-1155 batches with per-pack custody, products, status and verification, reading roles from
 * the Consortium. Two linked libraries carry the code that does not fit the 24 KB limit:
 * CustodyOps (the pack ledger's less frequent operations) and BatchRegistry (products, minting,
 * status, verification).
 *
 * Parameters (key "BatchToken"):
 * - uri: ERC-1155 metadata URI template; `{id}` is replaced by clients.
 */
export default buildModule("BatchToken", (m) => {
  const { forwarder, consortium } = m.useModule(ConsortiumModule);
  const uri = m.getParameter<string>("uri", "");
  const custodyOps = m.library("CustodyOps", { id: "CustodyOps" });
  const batchRegistry = m.library("BatchRegistry", { id: "BatchRegistry" });
  const batchToken = m.contract("BatchToken", [consortium, forwarder, uri], {
    id: "BatchToken",
    libraries: { CustodyOps: custodyOps, BatchRegistry: batchRegistry },
  });
  return { forwarder, consortium, batchToken };
});
