// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

/**
 * @notice A batch's serial commitment built in Solidity: leaves with the OpenZeppelin
 * StandardMerkleTree encoding of `["uint256", "string"]` values `[unitIndex, serial]`
 * (`keccak256(bytes.concat(keccak256(abi.encode(index, serial))))`), paired with sorted hashing
 * as OpenZeppelin's `MerkleProof` verifies it. The tree's shape (leaves in index order, an odd
 * node carried up) differs from the JavaScript library's, which sorts its leaves; any shape
 * verifies, since the contract only checks proofs against the root the producer committed.
 */
library SerialTree {
    function leaf(uint256 index, string memory text) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(index, text))));
    }

    /// @notice "SN" followed by the batch number and the unit index, e.g. "SN3-07".
    function serial(uint256 batchId, uint256 index) internal pure returns (string memory) {
        return string.concat("SN", _decimal(batchId), "-", _decimal(index));
    }

    function root(bytes32[] memory leaves) internal pure returns (bytes32) {
        bytes32[] memory level = leaves;
        while (level.length > 1) level = _up(level);
        return level[0];
    }

    function proof(bytes32[] memory leaves, uint256 index) internal pure returns (bytes32[] memory path) {
        bytes32[] memory buffer = new bytes32[](32);
        uint256 depth;
        bytes32[] memory level = leaves;
        while (level.length > 1) {
            uint256 sibling = index ^ 1;
            if (sibling < level.length) buffer[depth++] = level[sibling];
            level = _up(level);
            index /= 2;
        }
        path = new bytes32[](depth);
        for (uint256 i = 0; i < depth; ++i) path[i] = buffer[i];
    }

    function _up(bytes32[] memory level) private pure returns (bytes32[] memory next) {
        next = new bytes32[]((level.length + 1) / 2);
        for (uint256 i = 0; i < next.length; ++i) {
            uint256 l = 2 * i;
            next[i] = l + 1 < level.length ? _hashPair(level[l], level[l + 1]) : level[l];
        }
    }

    function _hashPair(bytes32 a, bytes32 b) private pure returns (bytes32) {
        return a < b ? keccak256(abi.encode(a, b)) : keccak256(abi.encode(b, a));
    }

    function _decimal(uint256 v) private pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory digits;
        while (v != 0) {
            digits = bytes.concat(bytes1(uint8(48 + (v % 10))), digits);
            v /= 10;
        }
        return string(digits);
    }
}
