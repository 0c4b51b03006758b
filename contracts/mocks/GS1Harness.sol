// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {GS1} from "../libraries/GS1.sol";

/// @dev Exposes the internal functions of the {GS1} library so tests can call them directly. Tests only.
contract GS1Harness {
    function gtin14Limit() external pure returns (uint256) {
        return GS1.GTIN14_LIMIT;
    }

    function glnLimit() external pure returns (uint256) {
        return GS1.GLN_LIMIT;
    }

    function maxLotLength() external pure returns (uint256) {
        return GS1.MAX_LOT_LENGTH;
    }

    function hasValidCheckDigit(uint256 code) external pure returns (bool) {
        return GS1.hasValidCheckDigit(code);
    }

    function isValidGtin(uint256 gtin) external pure returns (bool) {
        return GS1.isValidGtin(gtin);
    }

    function isValidGln(uint256 gln) external pure returns (bool) {
        return GS1.isValidGln(gln);
    }

    function firstInvalidCset82(bytes calldata value) external pure returns (uint256) {
        return GS1.firstInvalidCset82(value);
    }
}
