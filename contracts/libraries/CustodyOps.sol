// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IBatchToken} from "../interfaces/IBatchToken.sol";
import {PackLedger} from "./PackLedger.sol";

// Party and Caller structs stay `memory`: the token builds them in memory from the Consortium's
// answer and passes them to these linked (DELEGATECALL) functions; `calldata` would save only the
// copy of two words per call, and the audited gas figures (test/gas-snapshot.json) are on this code.
// solhint-disable gas-calldata-parameters

/**
 * @title CustodyOps
 * @notice The {PackLedger} operations that {BatchToken} does not inline: opening containers,
 * decommissioning and reverting it, locks, governance recovery and the custody views. Linked into
 * the token (its external functions run by DELEGATECALL on the token's storage), which keeps the
 * token under the 24 KB code size limit while shipping, receiving and dispensing stay inline.
 * Callers are resolved and authorised by the token and passed in; nothing here reads `msg.sender`.
 */
library CustodyOps {
    function take(
        PackLedger.Book storage book,
        PackLedger.Party memory from,
        IBatchToken.Item[] calldata items,
        IBatchToken.PackState into,
        uint32 today,
        bool withLocked
    ) external returns (uint256) {
        return PackLedger.take(book, from, items, into, today, withLocked);
    }

    function place(PackLedger.Book storage book, PackLedger.Party memory to, IBatchToken.Item[] calldata items) external {
        PackLedger.place(book, to, items);
    }

    function unpack(PackLedger.Book storage book, PackLedger.Party memory holder, IBatchToken.Item[] calldata items) external {
        PackLedger.unpack(book, holder, items);
    }

    function restore(
        PackLedger.Book storage book,
        PackLedger.Party memory holder,
        IBatchToken.Item[] calldata items,
        uint32 today,
        uint256 windowDays
    ) external returns (uint256) {
        return PackLedger.restore(book, holder, items, today, windowDays);
    }

    function unlock(PackLedger.Book storage book, PackLedger.Party memory holder, IBatchToken.Item[] calldata items) external {
        PackLedger.unlock(book, holder, items);
    }

    function transfer(
        PackLedger.Book storage book,
        PackLedger.Party memory from,
        PackLedger.Party memory to,
        IBatchToken.Item[] calldata items,
        uint32 today
    ) external returns (uint256) {
        return PackLedger.transfer(book, from, to, items, today);
    }

    function undoDispense(PackLedger.Book storage book, PackLedger.Party memory pharmacy, uint256 unit, uint32 today, uint256 windowDays) external {
        PackLedger.undoDispense(book, pharmacy, unit, today, windowDays);
    }

    function dispense(PackLedger.Book storage book, PackLedger.Party memory pharmacy, uint256 unit, uint32 today) external {
        PackLedger.dispense(book, pharmacy, unit, today);
    }

    function unitNode(PackLedger.Book storage book, uint256 unit) external view returns (IBatchToken.PackState, uint32, uint32) {
        return PackLedger.unitNode(book, unit);
    }

    /// @notice See {IBatchToken-packState}: the state of a pack, case or pallet, after checking it exists.
    function packState(PackLedger.Book storage book, IBatchToken.ItemKind kind, uint256 index)
        external
        view
        returns (IBatchToken.PackState, uint32, uint32)
    {
        uint256 limit = PackLedger.limitOf(book.layout, kind);
        if (index >= limit) revert IBatchToken.BatchTokenInvalidItem(kind, index, 1, limit);
        if (kind == IBatchToken.ItemKind.Units) return PackLedger.unitNode(book, index);
        return PackLedger.containerNode(book, kind, index);
    }

    function holds(PackLedger.Book storage book, PackLedger.Party memory party, IBatchToken.Item[] calldata items) external view returns (bool) {
        return PackLedger.holds(book, party, items);
    }
}
