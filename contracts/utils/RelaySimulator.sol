// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title RelaySimulator
 * @notice Never deployed. The relay places this runtime code at the forwarder's address in an
 * `eth_call` state override and simulates many forwarded calls in one node call: each call is
 * made from the forwarder's address with the ERC-2771 suffix, exactly as the forwarder would make
 * it, and its effects are rolled back before the next one (every call is judged alone against the
 * same state, like one eth_call each).
 */
contract RelaySimulator {
    struct ForwardedCall {
        address target;
        uint256 gas;
        /// @dev The call's data followed by the 20-byte signer (ERC-2771).
        bytes data;
    }

    /// @notice How one call went; always the revert data of {callAndRevert}.
    error Outcome(bool success, uint256 gasUsed, bytes returnData);

    /// @notice Each call's {Outcome} revert data, in order; empty if the simulation itself ran out of gas.
    function simulate(ForwardedCall[] calldata calls) external returns (bytes[] memory outcomes) {
        outcomes = new bytes[](calls.length);
        for (uint256 i = 0; i < calls.length; ++i) {
            // callAndRevert always reverts: its revert data is the outcome.
            // solhint-disable-next-line avoid-low-level-calls
            (, outcomes[i]) = address(this).call(abi.encodeCall(this.callAndRevert, (calls[i].target, calls[i].gas, calls[i].data)));
        }
    }

    /// @notice Makes the call, then reverts with its {Outcome} so that its state changes are undone.
    function callAndRevert(address target, uint256 gas, bytes calldata data) external {
        uint256 before = gasleft();
        // solhint-disable-next-line avoid-low-level-calls
        (bool success, bytes memory returnData) = target.call{gas: gas}(data);
        revert Outcome(success, before - gasleft(), returnData);
    }
}
