import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";
import ForwarderModule from "./Forwarder";

/**
 * The member register and its M-of-N governance.
 *
 * Parameters (ignition/parameters/<network>.json, key "Consortium"):
 * - governors: addresses of the governors (at least `threshold` + 1, at most 32)
 * - threshold: approvals a proposal needs (2 … governors − 1: one lost key never blocks governance)
 * - charterHash: keccak-256 (or sha-256) of the governance charter document
 * - proposalLifetime: seconds a proposal stays open (3,600 to 7,776,000)
 */
export default buildModule("Consortium", (m) => {
  const { forwarder } = m.useModule(ForwarderModule);
  const governors = m.getParameter<string[]>("governors");
  const threshold = m.getParameter<number>("threshold", 2);
  const charterHash = m.getParameter<string>("charterHash");
  const proposalLifetime = m.getParameter<number>("proposalLifetime", 7 * 24 * 3600);

  const consortium = m.contract("Consortium", [forwarder, governors, threshold, charterHash, proposalLifetime], {
    id: "Consortium",
  });
  return { forwarder, consortium };
});
