// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";

/**
 * @title ConsortiumForwarder
 * @notice OpenZeppelin's audited {ERC2771Forwarder}, unchanged, under the EIP-712 domain name
 * "ConsortiumForwarder" (version "1"). Members sign `ForwardRequest`s; relayers submit them with
 * `execute` or `executeBatch`. It exists as its own contract only so Hardhat compiles and deploys it.
 */
contract ConsortiumForwarder is ERC2771Forwarder {
    constructor() ERC2771Forwarder("ConsortiumForwarder") {}
}
