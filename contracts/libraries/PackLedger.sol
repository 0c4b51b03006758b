// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IBatchToken} from "../interfaces/IBatchToken.sol";

/**
 * @title PackLedger
 * @notice Who holds each serialised pack of a batch, and in which state, at the cost of whole
 * containers rather than single packs. Internal functions only: {BatchToken} inlines the ones its
 * hot paths use (shipping, receiving, dispensing), {CustodyOps} and {BatchRegistry} the others.
 *
 * Representation (chosen against per-pack records and per-holder bitmaps alone; figures in the
 * README's design decisions):
 * - **Containers.** A batch's packs may be packed into cases of `unitsPerCase` consecutive unit
 *   indexes, and cases into pallets of `casesPerPallet` consecutive cases. Each pallet and case
 *   has a 64-bit record (state, member index, day), four to a storage slot. A zero record means
 *   "untouched": the container has what its parent has — a sealed pallet at the producer, or
 *   the holder who opened the pallet. Moving a sealed case or pallet rewrites one record.
 * - **Opened containers.** Opening a container (`Unpacked`) keeps its untouched content with
 *   the member who opened it, so a wholesaler picking one pack out of a case of 100 writes
 *   nothing for the other 99.
 * - **Loose packs.** A pack taken out of its case is *detached*. For 128 consecutive packs one
 *   slot holds both the detached bits (low half) and the in-transit bits (high half), so a pick
 *   sets and clears its transit bits in a slot that stays non-zero. A detached pack is held by the
 *   member whose `loose` bitmap (256 packs a slot) has its bit, is in transit when its transit bit
 *   is set, or has a 64-bit record of its own for the states that need who and when (dispensed,
 *   destroyed, stolen, sample, free sample, exported, locked).
 *
 * Invariant (checked by the property tests): every unit index below the batch's count has
 * exactly one of: a holder, a pending shipment, a final or revertible state.
 */
library PackLedger {
    /// @dev Per batch: its layout (written once at mint), the bitmaps and the packed records.
    struct Book {
        Layout layout;
        mapping(uint256 chunk => uint256 bits) states;
        mapping(address holder => mapping(uint256 word => uint256 bits)) loose;
        mapping(uint256 slot => uint256 records) units;
        mapping(uint256 slot => uint256 records) cases;
        mapping(uint256 slot => uint256 records) pallets;
    }

    /// @dev What the ledger needs to know of a batch.
    struct Layout {
        uint64 batchId;
        uint32 units;
        uint32 unitsPerCase;
        uint32 casesPerPallet;
        uint32 producer; // member index of the producer: holder of everything untouched at the root
    }

    /// @dev A member as custody records it: its account (for bitmaps and events) and its index (for records).
    struct Party {
        address account;
        uint32 index;
    }

    uint256 private constant _RECORD_MASK = 0xFFFFFFFFFFFFFFFF;
    uint256 private constant _CHUNK = 128;

    // ─── Moving custody ────────────────────────────────────────────────────────────────────────

    /**
     * @dev Takes `items` out of `from`'s custody into `into` (InTransit, a final or revertible
     * state, or Locked) and returns the number of packs. Sealed containers that something is taken
     * out of are opened. With `withLocked`, packs and containers `from` locked are taken too
     * (governance recovery).
     */
    function take(
        Book storage book,
        Party memory from,
        IBatchToken.Item[] calldata items,
        IBatchToken.PackState into,
        uint32 today,
        bool withLocked
    ) internal returns (uint256 quantity) {
        Layout memory layout = book.layout;
        if (items.length == 0) revert IBatchToken.BatchTokenItemsRequired(layout.batchId);
        uint256 r = _record(into, from.index, today);
        for (uint256 i = 0; i < items.length; ++i) {
            IBatchToken.Item calldata item = items[i];
            uint256 end = _checkedEnd(layout, item);
            if (item.kind == IBatchToken.ItemKind.Units) {
                _takeUnits(book, layout, from, item.start, end, r, withLocked);
                quantity += item.count;
            } else {
                for (uint256 k = item.start; k < end; ) {
                    quantity += _takeContainer(book, layout, from, item.kind, k, r, withLocked);
                    // Overflow not possible: k < end ≤ 2^33.
                    unchecked {
                        ++k;
                    }
                }
            }
        }
    }

    /**
     * @dev Puts `items`, all in transit, into `to`'s custody (acceptance, rejection, cancellation,
     * recovery). The items were checked against the layout when they left ({take}), and the
     * shipment's stored hash holds them since: the layout is not read again.
     */
    function place(Book storage book, Party memory to, IBatchToken.Item[] calldata items) internal {
        uint256 held = _record(IBatchToken.PackState.Held, to.index, 0);
        for (uint256 i = 0; i < items.length; ++i) {
            IBatchToken.Item calldata item = items[i];
            uint256 end = uint256(item.start) + item.count;
            if (item.kind == IBatchToken.ItemKind.Units) {
                // Overflow not possible: the items were checked against the batch's count at shipping.
                unchecked {
                    for (uint256 base = (uint256(item.start) / _CHUNK) * _CHUNK; base < end; base += _CHUNK) {
                        uint256 lo = item.start > base ? item.start - base : 0;
                        uint256 hi = end < base + _CHUNK ? end - base : _CHUNK;
                        uint256 m = ((uint256(1) << hi) - 1) & ~((uint256(1) << lo) - 1);
                        uint256 c = base / _CHUNK;
                        uint256 s = book.states[c];
                        if ((s >> 128) & m != m) revert IBatchToken.BatchTokenInvalidPackState(IBatchToken.ItemKind.Units, base + lo, IBatchToken.PackState.Held);
                        book.states[c] = s & ~(m << 128);
                        book.loose[to.account][c >> 1] |= m << ((c & 1) * 128);
                    }
                }
            } else {
                mapping(uint256 => uint256) storage records = _records(book, item.kind);
                for (uint256 k = item.start; k < end; ++k) {
                    IBatchToken.PackState state = _state(_read(records, k));
                    if (state != IBatchToken.PackState.InTransit) revert IBatchToken.BatchTokenInvalidPackState(item.kind, k, state);
                    _write(records, k, held);
                }
            }
        }
    }

    /// @dev Opens sealed cases or pallets `holder` holds; their content stays with it.
    function unpack(Book storage book, Party memory holder, IBatchToken.Item[] calldata items) internal {
        Layout memory layout = book.layout;
        if (items.length == 0) revert IBatchToken.BatchTokenItemsRequired(layout.batchId);
        for (uint256 i = 0; i < items.length; ++i) {
            IBatchToken.Item calldata item = items[i];
            if (item.kind == IBatchToken.ItemKind.Units) revert IBatchToken.BatchTokenInvalidItem(item.kind, item.start, item.count, 0);
            uint256 end = _checkedEnd(layout, item);
            for (uint256 k = item.start; k < end; ++k) {
                (IBatchToken.PackState state, uint32 member, , bool inSealedPallet) = _node(book, layout, item.kind, k);
                if (state != IBatchToken.PackState.Held || member != holder.index) revert IBatchToken.BatchTokenNotHolder(holder.account, item.kind, k, state, member);
                if (inSealedPallet) _open(book, layout, holder, IBatchToken.ItemKind.Pallet, k / layout.casesPerPallet);
                _open(book, layout, holder, item.kind, k);
            }
        }
    }

    /**
     * @dev Puts items `holder` set to one of the revertible states (Sample, FreeSample, Exported)
     * back into its custody, within `windowDays` of the day it set them. Returns the packs.
     */
    function restore(Book storage book, Party memory holder, IBatchToken.Item[] calldata items, uint32 today, uint256 windowDays)
        internal
        returns (uint256 quantity)
    {
        Layout memory layout = book.layout;
        if (items.length == 0) revert IBatchToken.BatchTokenItemsRequired(layout.batchId);
        for (uint256 i = 0; i < items.length; ++i) {
            quantity += _restoreItem(book, layout, holder, items[i], today, windowDays);
        }
    }

    /// @dev Releases items `holder` locked: they are held by it again.
    function unlock(Book storage book, Party memory holder, IBatchToken.Item[] calldata items) internal {
        Layout memory layout = book.layout;
        if (items.length == 0) revert IBatchToken.BatchTokenItemsRequired(layout.batchId);
        for (uint256 i = 0; i < items.length; ++i) {
            IBatchToken.Item calldata item = items[i];
            uint256 end = _checkedEnd(layout, item);
            mapping(uint256 => uint256) storage records = _records(book, item.kind);
            for (uint256 k = item.start; k < end; ++k) {
                uint256 r = _read(records, k);
                if (_state(r) != IBatchToken.PackState.Locked) revert IBatchToken.BatchTokenInvalidPackState(item.kind, k, _state(r));
                if (_member(r) != holder.index) revert IBatchToken.BatchTokenNotStateOwner(holder.account, _member(r));
                _release(book, layout, holder, item.kind, k);
            }
        }
    }

    /**
     * @dev Governance recovery: everything of `items` that `from` holds or locked goes to `to`,
     * through transit and straight out of it (the checks of a shipment). Returns the packs.
     */
    function transfer(Book storage book, Party memory from, Party memory to, IBatchToken.Item[] calldata items, uint32 today)
        internal
        returns (uint256 quantity)
    {
        quantity = take(book, from, items, IBatchToken.PackState.InTransit, today, true);
        place(book, to, items);
    }

    /// @dev Undoes a dispense of `unit` by `pharmacy` within `windowDays`: the pack is loose in its hands again.
    function undoDispense(Book storage book, Party memory pharmacy, uint256 unit, uint32 today, uint256 windowDays) internal {
        uint256 r = _read(book.units, unit);
        if (_state(r) != IBatchToken.PackState.Dispensed) revert IBatchToken.BatchTokenInvalidPackState(IBatchToken.ItemKind.Units, unit, _state(r));
        checkUndo(r, pharmacy, today, windowDays);
        _write(book.units, unit, 0);
        book.loose[pharmacy.account][unit >> 8] |= 1 << (unit & 255);
    }

    /**
     * @dev The hot path of {dispense}, small enough to inline: a pack out of its case, in `from`'s
     * loose bitmap, goes to Dispensed. Returns false (changing nothing) for any other pack.
     */
    function dispenseLoose(Book storage book, Party memory from, uint256 unit, uint32 today) internal returns (bool) {
        // A loose bit is set only for a detached pack held by that member: nothing else to read.
        uint256 looseBit = 1 << (unit & 255);
        uint256 loose = book.loose[from.account][unit >> 8];
        if (loose & looseBit == 0) return false;
        book.loose[from.account][unit >> 8] = loose & ~looseBit;
        _write(book.units, unit, _record(IBatchToken.PackState.Dispensed, from.index, today));
        return true;
    }

    /**
     * @dev Takes one pack out of `from`'s hands into Dispensed (dispense's custody part). A loose
     * pack leaves the pharmacy's bitmap; a pack still in a case is detached, opening the case.
     */
    function dispense(Book storage book, Party memory from, uint256 unit, uint32 today) internal {
        uint256 c = unit / _CHUNK;
        uint256 bit = 1 << (unit % _CHUNK);
        uint256 s = book.states[c];
        if (s & bit != 0) {
            uint256 looseBit = 1 << (unit & 255);
            uint256 loose = book.loose[from.account][unit >> 8];
            if ((s >> 128) & bit != 0 || loose & looseBit == 0) {
                // A second dispense of a serial is a likely clone: say so by name.
                if (_state(_read(book.units, unit)) == IBatchToken.PackState.Dispensed) revert IBatchToken.BatchTokenUnitAlreadyDispensed(book.layout.batchId, unit);
                _revertNotHolder(book, book.layout, from, unit);
            }
            book.loose[from.account][unit >> 8] = loose & ~looseBit;
        } else {
            Layout memory layout = book.layout;
            if (unit >= layout.units) revert IBatchToken.BatchTokenInvalidItem(IBatchToken.ItemKind.Units, unit, 1, layout.units);
            _openCasesFor(book, layout, from, c * _CHUNK, unit, unit + 1, bit);
            book.states[c] = s | bit;
        }
        _write(book.units, unit, _record(IBatchToken.PackState.Dispensed, from.index, today));
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @dev A pack's state; member 0 with Held means "out of its case: held by whoever's bitmap has it".
    function unitNode(Book storage book, uint256 unit) internal view returns (IBatchToken.PackState state, uint32 member, uint32 day) {
        return _unitNode(book, book.layout, unit);
    }

    /// @dev A container's effective state (what it has, including what it inherits from a sealed pallet).
    function containerNode(Book storage book, IBatchToken.ItemKind kind, uint256 index)
        internal
        view
        returns (IBatchToken.PackState state, uint32 member, uint32 day)
    {
        (state, member, day, ) = _node(book, book.layout, kind, index);
    }

    /// @dev Whether `party` holds every item (sealed containers, packs of opened ones, or loose packs).
    function holds(Book storage book, Party memory party, IBatchToken.Item[] calldata items) internal view returns (bool) {
        Layout memory layout = book.layout;
        for (uint256 i = 0; i < items.length; ++i) {
            IBatchToken.Item calldata item = items[i];
            if (item.count == 0 || uint256(item.start) + item.count > _limit(layout, item.kind)) return false;
            uint256 end = uint256(item.start) + item.count;
            for (uint256 k = item.start; k < end; ++k) {
                IBatchToken.PackState state;
                uint32 member;
                if (item.kind == IBatchToken.ItemKind.Units) {
                    (state, member, ) = _unitNode(book, layout, k);
                    if (state == IBatchToken.PackState.Held && member == 0) {
                        if (book.loose[party.account][k >> 8] & (1 << (k & 255)) == 0) return false;
                        continue;
                    }
                } else {
                    (state, member, , ) = _node(book, layout, item.kind, k);
                }
                if (state != IBatchToken.PackState.Held || member != party.index) return false;
            }
        }
        return true;
    }

    // ─── Records ───────────────────────────────────────────────────────────────────────────────

    function readUnit(Book storage book, uint256 unit) internal view returns (uint256) {
        return _read(book.units, unit);
    }

    function stateOf(uint256 r) internal pure returns (IBatchToken.PackState) {
        return _state(r);
    }

    /// @dev Reverts unless `r` was set by `who` at most `windowDays` before `today`.
    function checkUndo(uint256 r, Party memory who, uint32 today, uint256 windowDays) internal pure {
        if (_member(r) != who.index) revert IBatchToken.BatchTokenNotStateOwner(who.account, _member(r));
        uint256 day = _day(r);
        if (today > day + windowDays) revert IBatchToken.BatchTokenUndoWindowPassed(day, windowDays);
    }

    /// @dev How many units, cases or pallets the batch has.
    function limitOf(Layout memory layout, IBatchToken.ItemKind kind) internal pure returns (uint256) {
        return _limit(layout, kind);
    }

    // ─── Private ───────────────────────────────────────────────────────────────────────────────

    /**
     * @dev Takes packs [start, end) out of `from`'s hands into record `r`'s state, chunk by chunk:
     * loose ones from its bitmap, the others out of their cases; all end up detached.
     */
    function _takeUnits(Book storage book, Layout memory layout, Party memory from, uint256 start, uint256 end, uint256 r, bool withLocked) private {
        // Overflow not possible: unit indexes are below the batch's count (2^32), checked by the caller.
        unchecked {
            for (uint256 base = (start / _CHUNK) * _CHUNK; base < end; base += _CHUNK) {
                _takeChunk(book, layout, from, base, start > base ? start : base, end < base + _CHUNK ? end : base + _CHUNK, r, withLocked);
            }
        }
    }

    /// @dev {_takeUnits} for packs [lo, hi) of the chunk that starts at unit `base`.
    function _takeChunk(
        Book storage book,
        Layout memory layout,
        Party memory from,
        uint256 base,
        uint256 lo,
        uint256 hi,
        uint256 r,
        bool withLocked
    ) private {
        unchecked {
            uint256 m = ((uint256(1) << (hi - base)) - 1) & ~((uint256(1) << (lo - base)) - 1);
            uint256 c = base / _CHUNK;
            uint256 s = book.states[c];
            uint256 detached = s & m;
            if (detached != 0) _takeLoose(book, layout, from, c, s, m, withLocked);
            if (detached != m) _openCasesFor(book, layout, from, base, lo, hi, m & ~detached);
            if (_state(r) == IBatchToken.PackState.InTransit) {
                book.states[c] = s | m | (m << 128);
            } else {
                book.states[c] = s | m;
                for (uint256 u = lo; u < hi; ++u) _write(book.units, u, r);
            }
        }
    }

    /// @dev The detached packs of mask `m` in chunk `c` (state `s`) leave `from`'s loose bitmap; with `withLocked`, or from its locks.
    function _takeLoose(Book storage book, Layout memory layout, Party memory from, uint256 c, uint256 s, uint256 m, bool withLocked) private {
        uint256 detached = s & m;
        uint256 shift = (c & 1) * 128;
        uint256 loose = book.loose[from.account][c >> 1];
        // Packs in transit, or with a record, are in no holder's bitmap.
        uint256 inTransit = (s >> 128) & m;
        uint256 missing = detached & ~((loose >> shift) | (s >> 128));
        if (inTransit != 0 || (missing != 0 && !withLocked)) _revertNotHolder(book, layout, from, _firstMissing(c, inTransit, missing));
        if (missing != 0) _takeLocked(book, layout, from, c, missing);
        book.loose[from.account][c >> 1] = loose & ~(detached << shift);
    }

    function _restoreItem(
        Book storage book,
        Layout memory layout,
        Party memory holder,
        IBatchToken.Item calldata item,
        uint32 today,
        uint256 windowDays
    ) private returns (uint256 quantity) {
        uint256 end = _checkedEnd(layout, item);
        mapping(uint256 => uint256) storage records = _records(book, item.kind);
        for (uint256 k = item.start; k < end; ++k) {
            uint256 r = _read(records, k);
            IBatchToken.PackState state = _state(r);
            if (state != IBatchToken.PackState.Sample && state != IBatchToken.PackState.FreeSample && state != IBatchToken.PackState.Exported) {
                revert IBatchToken.BatchTokenInvalidPackState(item.kind, k, state);
            }
            checkUndo(r, holder, today, windowDays);
            quantity += _release(book, layout, holder, item.kind, k);
        }
    }

    /// @dev Recovery: detached packs `missing` of chunk `c` must be locked by `from`; their records are cleared.
    function _takeLocked(Book storage book, Layout memory layout, Party memory from, uint256 c, uint256 missing) private {
        for (uint256 b = 0; b < _CHUNK; ++b) {
            if (missing & (1 << b) == 0) continue;
            uint256 unit = c * _CHUNK + b;
            uint256 r = _read(book.units, unit);
            if (_state(r) != IBatchToken.PackState.Locked || _member(r) != from.index) _revertNotHolder(book, layout, from, unit);
            _write(book.units, unit, 0);
        }
    }

    /**
     * @dev Packs `nd` (bits of the chunk starting at unit `base`) of units [lo, hi), all still in
     * their containers, must be held by `from` through their case (sealed or opened by `from`), or
     * through the batch itself when it has no cases (the producer). Sealed cases, and sealed
     * pallets around them, are opened. Only cases that have packs in `nd` are looked at.
     */
    function _openCasesFor(Book storage book, Layout memory layout, Party memory from, uint256 base, uint256 lo, uint256 hi, uint256 nd) private {
        uint256 perCase = layout.unitsPerCase;
        if (perCase == 0) {
            if (layout.producer != from.index) {
                revert IBatchToken.BatchTokenNotHolder(from.account, IBatchToken.ItemKind.Units, base + _lowBit(nd), IBatchToken.PackState.Held, layout.producer);
            }
            return;
        }
        // Overflow not possible: unit and case indexes are below 2^32.
        unchecked {
            for (uint256 k = lo / perCase; k * perCase < hi; ++k) {
                uint256 caseLo = k * perCase > lo ? k * perCase : lo;
                uint256 caseHi = (k + 1) * perCase < hi ? (k + 1) * perCase : hi;
                uint256 caseBits = nd & ((uint256(1) << (caseHi - base)) - 1) & ~((uint256(1) << (caseLo - base)) - 1);
                if (caseBits != 0) _openCaseFor(book, layout, from, k, base, caseBits);
            }
        }
    }

    /// @dev Case `k` must be held by `from`, sealed or opened; a sealed one (and its sealed pallet) is opened. `caseBits` of the chunk at `base` name the packs in an error.
    function _openCaseFor(Book storage book, Layout memory layout, Party memory from, uint256 k, uint256 base, uint256 caseBits) private {
        (IBatchToken.PackState state, uint32 member, , bool inSealedPallet) = _caseNode(book, layout, k);
        if (member != from.index || (state != IBatchToken.PackState.Held && state != IBatchToken.PackState.Unpacked)) {
            // Name the pack, with the state it has through its case.
            IBatchToken.PackState packState = state == IBatchToken.PackState.Unpacked ? IBatchToken.PackState.Held : state;
            revert IBatchToken.BatchTokenNotHolder(from.account, IBatchToken.ItemKind.Units, base + _lowBit(caseBits), packState, member);
        }
        if (state == IBatchToken.PackState.Held) {
            if (inSealedPallet) _open(book, layout, from, IBatchToken.ItemKind.Pallet, k / layout.casesPerPallet);
            _open(book, layout, from, IBatchToken.ItemKind.Case, k);
        }
    }

    /// @dev Takes container `k`, held sealed by `from` (or locked by it, `withLocked`), writing `newRecord`; returns its packs.
    function _takeContainer(
        Book storage book,
        Layout memory layout,
        Party memory from,
        IBatchToken.ItemKind kind,
        uint256 k,
        uint256 newRecord,
        bool withLocked
    ) private returns (uint256) {
        (IBatchToken.PackState state, uint32 member, , bool inSealedPallet) = _node(book, layout, kind, k);
        if (member != from.index || (state != IBatchToken.PackState.Held && !(withLocked && state == IBatchToken.PackState.Locked))) {
            revert IBatchToken.BatchTokenNotHolder(from.account, kind, k, state, member);
        }
        if (inSealedPallet) {
            // Only a held pallet is opened: a case of a locked pallet is never taken alone (opening
            // the pallet would release the lock of its other cases); the pallet is taken whole.
            if (state != IBatchToken.PackState.Held) revert IBatchToken.BatchTokenNotHolder(from.account, kind, k, state, member);
            _open(book, layout, from, IBatchToken.ItemKind.Pallet, k / layout.casesPerPallet);
        }
        _write(_records(book, kind), k, newRecord);
        return _containerUnits(layout, kind, k);
    }

    /// @dev A pack or container with a record of `holder`'s (revertible state, lock) is held by it again; returns its packs.
    function _release(Book storage book, Layout memory layout, Party memory holder, IBatchToken.ItemKind kind, uint256 k) private returns (uint256) {
        if (kind == IBatchToken.ItemKind.Units) {
            _write(book.units, k, 0);
            book.loose[holder.account][k >> 8] |= 1 << (k & 255);
            return 1;
        }
        _write(_records(book, kind), k, _record(IBatchToken.PackState.Held, holder.index, 0));
        return _containerUnits(layout, kind, k);
    }

    function _open(Book storage book, Layout memory layout, Party memory holder, IBatchToken.ItemKind kind, uint256 k) private {
        _write(_records(book, kind), k, _record(IBatchToken.PackState.Unpacked, holder.index, 0));
        emit IBatchToken.ContainerUnpacked(layout.batchId, holder.account, kind, uint32(k));
    }

    /// @dev Reverts for a pack `from` does not hold, naming the state it is in.
    function _revertNotHolder(Book storage book, Layout memory layout, Party memory from, uint256 unit) private view {
        (IBatchToken.PackState state, uint32 member, ) = _unitNode(book, layout, unit);
        revert IBatchToken.BatchTokenNotHolder(from.account, IBatchToken.ItemKind.Units, unit, state, member);
    }

    /// @dev The first pack of chunk `c` in `a`, else in `b` (both not empty together).
    function _firstMissing(uint256 c, uint256 a, uint256 b) private pure returns (uint256) {
        return c * _CHUNK + _lowBit(a != 0 ? a : b);
    }

    function _unitNode(Book storage book, Layout memory layout, uint256 unit)
        private
        view
        returns (IBatchToken.PackState state, uint32 member, uint32 day)
    {
        uint256 s = book.states[unit / _CHUNK];
        uint256 bit = 1 << (unit % _CHUNK);
        if (s & bit != 0) {
            uint256 r = _read(book.units, unit);
            if (_state(r) != IBatchToken.PackState.None) return (_state(r), _member(r), _day(r));
            if ((s >> 128) & bit != 0) return (IBatchToken.PackState.InTransit, 0, 0);
            return (IBatchToken.PackState.Held, 0, 0);
        }
        if (layout.unitsPerCase == 0) return (IBatchToken.PackState.Held, layout.producer, 0);
        (state, member, day, ) = _caseNode(book, layout, unit / layout.unitsPerCase);
        if (state == IBatchToken.PackState.Unpacked) return (IBatchToken.PackState.Held, member, 0);
    }

    function _node(Book storage book, Layout memory layout, IBatchToken.ItemKind kind, uint256 k)
        private
        view
        returns (IBatchToken.PackState, uint32, uint32, bool inSealedPallet)
    {
        if (kind == IBatchToken.ItemKind.Case) return _caseNode(book, layout, k);
        uint256 r = _read(book.pallets, k);
        if (_state(r) == IBatchToken.PackState.None) return (IBatchToken.PackState.Held, layout.producer, 0, false);
        return (_state(r), _member(r), _day(r), false);
    }

    /**
     * @dev A case's state; `inSealedPallet` when it has its pallet's state because the pallet is not
     * open. A case with a record of its own is in an opened pallet (a sealed pallet's cases are all
     * untouched), so its pallet is read only for a case without one.
     */
    function _caseNode(Book storage book, Layout memory layout, uint256 c)
        private
        view
        returns (IBatchToken.PackState, uint32, uint32, bool inSealedPallet)
    {
        uint256 r = _read(book.cases, c);
        if (_state(r) != IBatchToken.PackState.None) return (_state(r), _member(r), _day(r), false);
        if (layout.casesPerPallet == 0) return (IBatchToken.PackState.Held, layout.producer, 0, false);
        uint256 p = _read(book.pallets, c / layout.casesPerPallet);
        IBatchToken.PackState ps = _state(p);
        if (ps == IBatchToken.PackState.None) return (IBatchToken.PackState.Held, layout.producer, 0, true);
        if (ps != IBatchToken.PackState.Unpacked) return (ps, _member(p), _day(p), true);
        return (IBatchToken.PackState.Held, _member(p), 0, false);
    }

    function _records(Book storage book, IBatchToken.ItemKind kind) private view returns (mapping(uint256 => uint256) storage) {
        if (kind == IBatchToken.ItemKind.Units) return book.units;
        return kind == IBatchToken.ItemKind.Case ? book.cases : book.pallets;
    }

    /// @dev End (exclusive) of an item, after checking it is not empty and fits the batch's layout.
    function _checkedEnd(Layout memory layout, IBatchToken.Item calldata item) private pure returns (uint256 end) {
        // Overflow not possible: start and count are uint32.
        unchecked {
            end = uint256(item.start) + item.count;
        }
        uint256 limit = _limit(layout, item.kind);
        if (item.count == 0 || end > limit) revert IBatchToken.BatchTokenInvalidItem(item.kind, item.start, item.count, limit);
    }

    /// @dev How many units, cases or pallets the batch has.
    function _limit(Layout memory layout, IBatchToken.ItemKind kind) private pure returns (uint256) {
        if (kind == IBatchToken.ItemKind.Units) return layout.units;
        uint256 perCase = layout.unitsPerCase;
        if (perCase == 0) return 0;
        // Overflow not possible: the layout's numbers are uint32; divisions by non-zero values.
        unchecked {
            uint256 caseCount = (uint256(layout.units) + perCase - 1) / perCase;
            if (kind == IBatchToken.ItemKind.Case) return caseCount;
            uint256 perPallet = layout.casesPerPallet;
            return perPallet == 0 ? 0 : (caseCount + perPallet - 1) / perPallet;
        }
    }

    /// @dev Packs in container `k` of `kind`; the last case and pallet of a batch may be short.
    function _containerUnits(Layout memory layout, IBatchToken.ItemKind kind, uint256 k) private pure returns (uint256) {
        // Overflow not possible: k is a checked container index, the layout's numbers are uint32.
        unchecked {
            uint256 perContainer = uint256(layout.unitsPerCase) * (kind == IBatchToken.ItemKind.Pallet ? layout.casesPerPallet : 1);
            uint256 first = k * perContainer;
            uint256 end = first + perContainer;
            return (end < layout.units ? end : layout.units) - first;
        }
    }

    function _record(IBatchToken.PackState state, uint32 member, uint32 day) private pure returns (uint256) {
        return uint256(uint8(state)) | (uint256(member) << 8) | (uint256(day) << 40);
    }

    function _state(uint256 r) private pure returns (IBatchToken.PackState) {
        return IBatchToken.PackState(uint8(r));
    }

    function _member(uint256 r) private pure returns (uint32) {
        return uint32(r >> 8);
    }

    function _day(uint256 r) private pure returns (uint32) {
        return uint32(r >> 40) & 0xFFFFFF;
    }

    function _read(mapping(uint256 => uint256) storage records, uint256 i) private view returns (uint256) {
        return (records[i >> 2] >> ((i & 3) << 6)) & _RECORD_MASK;
    }

    function _write(mapping(uint256 => uint256) storage records, uint256 i, uint256 r) private {
        uint256 shift = (i & 3) << 6;
        uint256 slot = i >> 2;
        records[slot] = (records[slot] & ~(_RECORD_MASK << shift)) | (r << shift);
    }

    /// @dev Index of the lowest set bit of a non-zero chunk mask (128 bits).
    function _lowBit(uint256 x) private pure returns (uint256 i) {
        x &= ~x + 1;
        if (x >= 1 << 64) (x, i) = (x >> 64, i + 64);
        if (x >= 1 << 32) (x, i) = (x >> 32, i + 32);
        if (x >= 1 << 16) (x, i) = (x >> 16, i + 16);
        if (x >= 1 << 8) (x, i) = (x >> 8, i + 8);
        if (x >= 1 << 4) (x, i) = (x >> 4, i + 4);
        if (x >= 1 << 2) (x, i) = (x >> 2, i + 2);
        if (x >= 1 << 1) ++i;
    }
}
