// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title GS1
 * @notice On-chain checks of GS1 identifiers: the mod-10 check digit shared by GTIN, GLN and SSCC,
 * and the GS1 AI encodable character set 82 used by batch/lot numbers (AI 10) and serials (AI 21).
 *
 * Identifiers are carried as unsigned integers: leading zeros are not significant for the check
 * digit (they add 0 to the weighted sum), and a GTIN-14 or a GLN (13 digits) always fits in 64 bits.
 */
library GS1 {
    /// @dev 10^14: every GTIN-14 is below it.
    uint256 internal constant GTIN14_LIMIT = 1e14;
    /// @dev 10^13: every GLN is below it.
    uint256 internal constant GLN_LIMIT = 1e13;
    /// @dev Longest batch/lot number GS1 allows (AI 10, X..20).
    uint256 internal constant MAX_LOT_LENGTH = 20;

    /**
     * @notice Whether `code`'s last digit is the GS1 check digit of the digits before it.
     * @dev From the rightmost data digit leftwards, digits are weighted 3, 1, 3, 1, …; the check digit
     * is (10 − sum mod 10) mod 10.
     */
    function hasValidCheckDigit(uint256 code) internal pure returns (bool) {
        uint256 checkDigit = code % 10;
        uint256 rest = code / 10;
        uint256 sum;
        uint256 weight = 3;
        while (rest != 0) {
            sum += (rest % 10) * weight;
            rest /= 10;
            weight = 4 - weight; // 3 → 1 → 3 …
        }
        return (10 - (sum % 10)) % 10 == checkDigit;
    }

    /// @notice Whether `gtin` is a well-formed GTIN-14 (GTIN-8/12/13 padded with leading zeros included).
    function isValidGtin(uint256 gtin) internal pure returns (bool) {
        return gtin != 0 && gtin < GTIN14_LIMIT && hasValidCheckDigit(gtin);
    }

    /// @notice Whether `gln` is a well-formed 13-digit Global Location Number.
    function isValidGln(uint256 gln) internal pure returns (bool) {
        return gln != 0 && gln < GLN_LIMIT && hasValidCheckDigit(gln);
    }

    /**
     * @notice Position of the first character of `value` outside GS1 character set 82, or
     * `type(uint256).max` when every character belongs to it.
     * @dev Set 82 is `!"%&'()*+,-./0-9:;<=>?A-Z_a-z`: printable ASCII except space, `#`, `$`, `@`,
     * `[`, `\`, `]`, `^`, backtick, `{`, `|`, `}` and `~`.
     */
    function firstInvalidCset82(bytes memory value) internal pure returns (uint256) {
        for (uint256 i = 0; i < value.length; ++i) {
            if (!_isCset82(value[i])) return i;
        }
        return type(uint256).max;
    }

    function _isCset82(bytes1 c) private pure returns (bool) {
        if (c >= "0" && c <= "9") return true; // digits
        if (c >= "A" && c <= "Z") return true; // upper case
        if (c >= "a" && c <= "z") return true; // lower case
        if (c >= "%" && c <= "/") return true; // % & ' ( ) * + , - . /
        if (c >= ":" && c <= "?") return true; // : ; < = > ?
        return c == "!" || c == "\"" || c == "_";
    }
}
