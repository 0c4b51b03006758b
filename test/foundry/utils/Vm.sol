// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/**
 * @notice The few forge cheatcodes this suite uses, declared here instead of depending on
 * forge-std (not published on npm in a current version; the cheatcode ABI is stable).
 */
interface Vm {
    struct Log {
        bytes32[] topics;
        bytes data;
        address emitter;
    }

    function warp(uint256 timestamp) external;
    function roll(uint256 blockNumber) external;
    function prank(address sender) external;
    function addr(uint256 privateKey) external pure returns (address);
    function sign(uint256 privateKey, bytes32 digest) external pure returns (uint8 v, bytes32 r, bytes32 s);
    function label(address account, string calldata name) external;
    function recordLogs() external;
    function getRecordedLogs() external returns (Log[] memory logs);
}

/// @dev The cheatcode address: uint160(uint256(keccak256("hevm cheat code"))).
Vm constant vm = Vm(0x7109709ECfa91a80626fF3989D68f67F5b1DD12D);
