import { buildModule } from "@nomicfoundation/hardhat-ignition/modules";

/** OpenZeppelin's ERC2771Forwarder under the EIP-712 name "ConsortiumForwarder". */
export default buildModule("Forwarder", (m) => {
  const forwarder = m.contract("ConsortiumForwarder", [], { id: "ConsortiumForwarder" });
  return { forwarder };
});
