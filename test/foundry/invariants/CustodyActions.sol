// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IConsortium} from "../../../contracts/interfaces/IConsortium.sol";
import {IBatchToken} from "../../../contracts/interfaces/IBatchToken.sol";
import {World} from "./World.sol";
import {SerialTree} from "../utils/SerialTree.sol";

/**
 * @title CustodyActions
 * @notice Member actions on the BatchToken, driven by a fuzzed seed. Each picks something the
 * model says is plausible (a pack the model has held by the caller, an open shipment, ...), lets
 * the contract decide, and on success moves the model by the action's documented semantics. A
 * success that the model says the rules forbid is recorded as a violation of its category:
 * - "unheld": custody of packs or units the caller did not hold;
 * - "flow": a shipment or an acceptance the flow table of {IBatchToken} refuses;
 * - "overlay": a batch or product status, or the expiry, that forbids the action;
 * - "undo": an undo by another member or outside the undo window.
 */
abstract contract CustodyActions is World {
    uint256 internal constant PRODUCER_ROLE = 1 << 1;
    uint256 internal constant STOCK_ROLES = (1 << 1) | (1 << 2) | (1 << 3);
    uint256 internal constant PHARMACY_ROLE = 1 << 3;
    uint256 internal constant REGULATOR_ROLE = 1 << 4;
    uint256 internal constant ANY_ROLE = 0x3E;

    // ─── Minting ───────────────────────────────────────────────────────────────────────────────

    struct MintSpec {
        uint256 who;
        uint32 units; // 0: a batch without serials
        uint128 quantity;
        uint32 unitsPerCase;
        uint32 casesPerPallet;
        uint32 expiryDay;
        uint256 markets; // 0: the product's (DE, FR); 1: DE; 2: FR
    }

    function _mint(uint256 seed) internal {
        uint256 layout = (seed >> 8) % 5;
        MintSpec memory spec;
        spec.who = seed % 2 == 0 ? PRODUCER_A : PRODUCER_B;
        spec.units = layout == 0 ? 0 : uint32(1 + ((seed >> 16) % MAX_UNITS));
        spec.quantity = layout == 0 ? uint128(1 + ((seed >> 16) % 40)) : spec.units;
        spec.unitsPerCase = layout >= 2 ? uint32(1 + ((seed >> 24) % 4)) : 0;
        spec.casesPerPallet = layout >= 3 ? uint32(1 + ((seed >> 32) % 3)) : 0;
        spec.expiryDay = uint32(_today() + ((seed >> 40) % 12));
        spec.markets = (seed >> 48) % 3;
        _mintWith(spec, seed >> 56);
    }

    function _mintWith(MintSpec memory spec, uint256 seed) internal {
        if (batchCount >= MAX_BATCHES) return;
        uint256 id = batchCount + 1;
        uint64 gtin = spec.who == PRODUCER_A ? GTIN_A : GTIN_B;
        bytes32[] memory unitLeaves = new bytes32[](spec.units);
        for (uint256 u = 0; u < spec.units; ++u) unitLeaves[u] = SerialTree.leaf(u, SerialTree.serial(id, u));
        IBatchToken.BatchInput memory input;
        input.gtin = gtin;
        input.lot = string.concat("L", _decimal(id));
        input.expiryDay = spec.expiryDay;
        input.quantity = spec.quantity;
        input.serialsRoot = spec.units == 0 ? bytes32(0) : SerialTree.root(unitLeaves);
        input.serialCount = spec.units;
        input.documentHash = keccak256("certificate of analysis");
        input.unitsPerCase = spec.unitsPerCase;
        input.casesPerPallet = spec.casesPerPallet;
        input.packingRoot = spec.unitsPerCase == 0 ? bytes32(0) : keccak256(abi.encode("SSCCs", id));
        input.markets = new bytes2[](spec.markets == 0 ? 0 : 1);
        if (spec.markets != 0) input.markets[0] = spec.markets == 1 ? DE : FR;

        bool ok = _memberCall(spec.who, seed, PRODUCER_ROLE, address(token), abi.encodeCall(IBatchToken.mintBatch, (input)));
        if (!ok) return;
        address producer = accounts[spec.who];
        if (withdrawn[gtin]) _violation("overlay", "a batch of a withdrawn product was minted");
        if (token.batchCount() != id) _violation("unheld", "batch ids do not count up from 1");
        batchCount = id;
        BatchModel storage b = batches[id];
        b.gtin = gtin;
        b.producer = producer;
        b.units = spec.units;
        b.unitsPerCase = spec.unitsPerCase;
        b.casesPerPallet = spec.casesPerPallet;
        b.expiryDay = spec.expiryDay;
        b.minted = spec.quantity;
        b.marketDE = spec.markets != 2;
        b.marketFR = spec.markets != 1;
        b.lot = input.lot;
        if (spec.units == 0) {
            quantityOf[id][producer] = spec.quantity;
        } else {
            leaves[id] = unitLeaves;
            for (uint256 u = 0; u < spec.units; ++u) packs[id][u] = PackModel(uint8(IBatchToken.PackState.Held), producer, address(0), 0, 0, 0, 0);
        }
    }

    // ─── Shipping ──────────────────────────────────────────────────────────────────────────────

    function _actorIndex(address account) internal view returns (uint256) {
        for (uint256 i = 0; i < ACTORS; ++i) if (accounts[i] == account) return i;
        return type(uint256).max;
    }

    /// @dev A pack of the batch in `state`, searched from a seeded start; `type(uint256).max` when none.
    function _findPack(uint256 batchId, uint256 seed, uint8 state) internal view returns (uint256) {
        uint256 n = batches[batchId].units;
        for (uint256 k = 0; k < n; ++k) {
            uint256 u = ((seed % n) + k) % n;
            if (packs[batchId][u].state == state) return u;
        }
        return type(uint256).max;
    }

    /// @dev Prefers a held pack whose holder the register says has `role`.
    function _findHeldBy(uint256 batchId, uint256 seed, IConsortium.Role role) internal view returns (uint256) {
        uint256 n = batches[batchId].units;
        for (uint256 k = 0; k < n; ++k) {
            uint256 u = ((seed % n) + k) % n;
            PackModel storage p = packs[batchId][u];
            if (p.state == uint8(IBatchToken.PackState.Held) && rebuilt[p.holder].role == role) return u;
        }
        return _findPack(batchId, seed, uint8(IBatchToken.PackState.Held));
    }

    /// @dev Items around pack `u`: its pallet, its case, or a run of up to four packs its holder holds.
    function _itemsAround(uint256 batchId, uint256 u, uint256 seed) internal view returns (IBatchToken.Item[] memory) {
        BatchModel storage b = batches[batchId];
        uint256 mode = seed % 3;
        if (mode == 0 && b.casesPerPallet != 0) return _items1(IBatchToken.ItemKind.Pallet, u / (uint256(b.unitsPerCase) * b.casesPerPallet), 1);
        if (mode <= 1 && b.unitsPerCase != 0) return _items1(IBatchToken.ItemKind.Case, u / b.unitsPerCase, 1);
        address holder = packs[batchId][u].holder;
        uint256 count = 1;
        uint256 want = 1 + ((seed >> 8) % 4);
        while (count < want && u + count < b.units) {
            PackModel storage next = packs[batchId][u + count];
            if (next.state != uint8(IBatchToken.PackState.Held) || next.holder != holder) break;
            ++count;
        }
        return _items1(IBatchToken.ItemKind.Units, u, count);
    }

    /// @dev What the flow table of {IBatchToken} says of `from` → `to` for the batch now, and the kind.
    function _flow(uint256 batchId, address from, address to) internal view returns (bool allowed, IBatchToken.ShipmentKind kind) {
        IConsortium.Role fromRole = _activeRole(from);
        IConsortium.Role toRole = _activeRole(to);
        if (from == to || !_holdsStock(from) || !_holdsStock(to)) return (false, IBatchToken.ShipmentKind.Forward);
        if (fromRole == IConsortium.Role.Distributor && toRole == IConsortium.Role.Producer) {
            return (to == batches[batchId].producer, IBatchToken.ShipmentKind.Return);
        }
        if (fromRole == IConsortium.Role.Pharmacy && toRole == IConsortium.Role.Distributor) return (true, IBatchToken.ShipmentKind.Return);
        bool forward = (fromRole == IConsortium.Role.Producer && toRole == IConsortium.Role.Distributor) ||
            (fromRole == IConsortium.Role.Distributor && (toRole == IConsortium.Role.Distributor || toRole == IConsortium.Role.Pharmacy));
        if (!forward || !_batchActive(batchId) || withdrawn[batches[batchId].gtin]) return (false, IBatchToken.ShipmentKind.Forward);
        if (toRole == IConsortium.Role.Pharmacy && _expired(batchId)) return (false, IBatchToken.ShipmentKind.Forward);
        return (true, IBatchToken.ShipmentKind.Forward);
    }

    /// @dev Picks a receiver the flow table would allow for `sender` (one call in four: anybody).
    function _receiverFor(uint256 batchId, address sender, uint256 seed) internal view returns (address) {
        if (seed % 4 == 0) return accounts[(seed >> 2) % ACTORS];
        for (uint256 k = 0; k < ACTORS; ++k) {
            address candidate = accounts[(((seed >> 2) % ACTORS) + k) % ACTORS];
            (bool allowed, ) = _flow(batchId, sender, candidate);
            if (allowed) return candidate;
        }
        return accounts[(seed >> 2) % ACTORS];
    }

    struct ShipPlan {
        uint256 batchId;
        address sender;
        address receiver;
        uint256 quantity;
        IBatchToken.Item[] items;
        bool allowed;
        IBatchToken.ShipmentKind kind;
        bool held;
    }

    function _ship(uint256 seed) internal returns (uint256) {
        if (batchCount == 0) return 0;
        ShipPlan memory plan;
        plan.batchId = 1 + (seed % batchCount);
        BatchModel storage b = batches[plan.batchId];
        if (b.units == 0) {
            (plan.sender, plan.quantity) = _holderOfQuantity(plan.batchId, seed >> 8);
            if (plan.sender == address(0)) return 0;
        } else {
            // Half the shipments start from a distributor's stock, so goods reach the pharmacies.
            uint256 u = (seed >> 7) % 2 == 0
                ? _findHeldBy(plan.batchId, seed >> 8, IConsortium.Role.Distributor)
                : _findPack(plan.batchId, seed >> 8, uint8(IBatchToken.PackState.Held));
            if (u == type(uint256).max) return 0;
            plan.sender = packs[plan.batchId][u].holder;
            plan.items = _itemsAround(plan.batchId, u, seed >> 16);
            plan.quantity = _unitsIn(plan.batchId, plan.items);
        }
        if ((seed >> 30) % 25 == 0) plan.quantity += 1; // a count that does not match the items must be refused
        plan.receiver = _receiverFor(plan.batchId, plan.sender, seed >> 32);
        (plan.allowed, plan.kind) = _flow(plan.batchId, plan.sender, plan.receiver);
        plan.held = b.units == 0
            ? plan.quantity <= quantityOf[plan.batchId][plan.sender] && plan.quantity != 0
            : _modelHolds(plan.batchId, plan.sender, plan.items, false) && plan.quantity == _unitsIn(plan.batchId, plan.items);
        bytes memory call = abi.encodeCall(IBatchToken.ship, (plan.batchId, plan.receiver, plan.quantity, plan.items, keccak256("despatch advice")));
        bool ok = _memberCall(_actorIndex(plan.sender), seed >> 64, STOCK_ROLES, address(token), call);
        if (!ok) return 0;
        if (!plan.allowed) _violation("flow", "a shipment the flow table refuses was created");
        if (!plan.held) _violation("unheld", "a member shipped packs or units it did not hold");
        return _recordShipment(plan);
    }

    function _recordShipment(ShipPlan memory plan) internal returns (uint256 id) {
        id = ++shipmentCount;
        if (token.shipmentCount() != id) _violation("unheld", "shipment ids do not count up from 1");
        shipments[id] = ShipmentModel(plan.batchId, plan.sender, plan.receiver, plan.quantity, plan.kind, true);
        for (uint256 i = 0; i < plan.items.length; ++i) shipmentItems[id].push(plan.items[i]);
        openShipments.push(id);
        BatchModel storage b = batches[plan.batchId];
        if (b.units == 0) {
            uint256 held = quantityOf[plan.batchId][plan.sender];
            quantityOf[plan.batchId][plan.sender] = plan.quantity <= held ? held - plan.quantity : 0;
            return id;
        }
        for (uint256 i = 0; i < plan.items.length; ++i) {
            (uint256 lo, uint256 hi) = _range(b, plan.items[i]);
            for (uint256 u = lo; u < hi; ++u) packs[plan.batchId][u] = PackModel(uint8(IBatchToken.PackState.InTransit), address(0), address(0), 0, uint64(id), 0, 0);
        }
    }

    function _holderOfQuantity(uint256 batchId, uint256 seed) internal view returns (address holder, uint256 quantity) {
        for (uint256 k = 0; k < ACTORS; ++k) {
            address candidate = accounts[((seed % ACTORS) + k) % ACTORS];
            uint256 held = quantityOf[batchId][candidate];
            if (held != 0) return (candidate, 1 + ((seed >> 8) % held));
        }
    }

    /// @dev The caller for an action meant for `account`: usually it, one call in eight somebody else.
    function _callerFor(address account, uint256 seed) internal view returns (uint256) {
        if (seed % 8 == 0 || account == address(0)) return (seed >> 3) % ACTORS;
        return _actorIndex(account);
    }

    function _accept(uint256 seed) internal {
        if (openShipments.length == 0) return;
        _acceptShipment(openShipments[seed % openShipments.length], seed >> 16);
    }

    function _acceptShipment(uint256 id, uint256 seed) internal {
        ShipmentModel memory s = shipments[id];
        uint256 caller = _callerFor(s.receiver, seed);
        (bool allowed, IBatchToken.ShipmentKind kind) = _flow(s.batchId, s.sender, s.receiver);
        bool entitled = accounts[caller] == s.receiver && allowed && kind == s.kind;
        bool ok = _memberCall(caller, seed >> 8, STOCK_ROLES, address(token), abi.encodeCall(IBatchToken.acceptShipment, (id, _shipment(id))));
        if (!ok) return;
        if (!entitled) _violation("flow", "a shipment was accepted that the flow table, applied again, refuses");
        _landShipment(id, s.receiver);
    }

    function _reject(uint256 seed) internal {
        if (openShipments.length == 0) return;
        uint256 id = openShipments[seed % openShipments.length];
        ShipmentModel memory s = shipments[id];
        uint256 caller = _callerFor(s.receiver, seed >> 16);
        bool entitled = accounts[caller] == s.receiver && _activeRole(s.receiver) != IConsortium.Role.None && _holdsStock(s.sender);
        bool ok = _memberCall(caller, seed >> 24, ANY_ROLE, address(token), abi.encodeCall(IBatchToken.rejectShipment, (id, _shipment(id), IBatchToken.RejectReason.Damaged)));
        if (!ok) return;
        if (!entitled) _violation("flow", "a shipment was rejected by other than its active receiver, or towards a sender that holds no stock");
        _landShipment(id, s.sender);
    }

    function _cancel(uint256 seed) internal {
        if (openShipments.length == 0) return;
        uint256 id = openShipments[seed % openShipments.length];
        ShipmentModel memory s = shipments[id];
        uint256 caller = _callerFor(s.sender, seed >> 16);
        bool entitled = accounts[caller] == s.sender && _holdsStock(s.sender);
        bool ok = _memberCall(caller, seed >> 24, STOCK_ROLES, address(token), abi.encodeCall(IBatchToken.cancelShipment, (id, _shipment(id))));
        if (!ok) return;
        if (!entitled) _violation("flow", "a shipment was cancelled by other than its stock-holding sender");
        _landShipment(id, s.sender);
    }

    // ─── Containers and packs ──────────────────────────────────────────────────────────────────

    function _serialisedBatch(uint256 seed) internal view returns (uint256) {
        for (uint256 k = 0; k < batchCount; ++k) {
            uint256 id = 1 + (((seed % batchCount) + k) % batchCount);
            if (batches[id].units != 0) return id;
        }
        return 0;
    }

    function _unpack(uint256 seed) internal {
        uint256 batchId = _serialisedBatch(seed);
        if (batchId == 0) return;
        BatchModel storage b = batches[batchId];
        if (b.unitsPerCase == 0) return;
        uint256 u = _findPack(batchId, seed >> 8, uint8(IBatchToken.PackState.Held));
        if (u == type(uint256).max) return;
        IBatchToken.Item[] memory items = (seed >> 16) % 2 == 0 && b.casesPerPallet != 0
            ? _items1(IBatchToken.ItemKind.Pallet, u / (uint256(b.unitsPerCase) * b.casesPerPallet), 1)
            : _items1(IBatchToken.ItemKind.Case, u / b.unitsPerCase, 1);
        uint256 caller = _callerFor(packs[batchId][u].holder, seed >> 24);
        bool held = _modelHolds(batchId, accounts[caller], items, false);
        bool ok = _memberCall(caller, seed >> 32, STOCK_ROLES, address(token), abi.encodeCall(IBatchToken.unpack, (batchId, items)));
        if (ok && !held) _violation("unheld", "a member opened a container whose packs it did not all hold");
    }

    function _dispense(uint256 seed) internal {
        uint256 batchId = _serialisedBatch(seed);
        if (batchId == 0) return;
        // One call in eight tries a pack already dispensed: a second pack with its serial is a clone.
        uint256 u = (seed >> 8) % 8 == 0
            ? _findPack(batchId, seed >> 12, uint8(IBatchToken.PackState.Dispensed))
            : _findHeldBy(batchId, seed >> 12, IConsortium.Role.Pharmacy);
        if (u == type(uint256).max) return;
        PackModel memory p = packs[batchId][u];
        uint256 caller = p.state == uint8(IBatchToken.PackState.Held) ? _callerFor(p.holder, seed >> 20) : ((seed >> 20) % 2 == 0 ? PHARMACY_1 : PHARMACY_2);
        address pharmacy = accounts[caller];
        bool held = p.state == uint8(IBatchToken.PackState.Held) && p.holder == pharmacy;
        bool suppliable = _batchActive(batchId) && !withdrawn[batches[batchId].gtin] && !_expired(batchId);
        bytes memory call = abi.encodeCall(IBatchToken.dispense, (batchId, u, SerialTree.serial(batchId, u), SerialTree.proof(leaves[batchId], u)));
        bool ok = _memberCall(caller, seed >> 28, PHARMACY_ROLE, address(token), call);
        if (!ok) return;
        if (!held) _violation("unheld", "a pack was dispensed by other than its holder, or twice");
        if (!suppliable) _violation("overlay", "a pack of a batch on hold, recalled or expired, or of a withdrawn product, was dispensed");
        packs[batchId][u] = PackModel(uint8(IBatchToken.PackState.Dispensed), address(0), pharmacy, uint32(_today()), 0, 0, uint32(u));
        batches[batchId].dispensed++;
    }

    function _undoDispense(uint256 seed) internal {
        uint256 batchId = _serialisedBatch(seed);
        if (batchId == 0) return;
        uint256 u = _findPack(batchId, seed >> 8, uint8(IBatchToken.PackState.Dispensed));
        if (u == type(uint256).max) return;
        PackModel memory p = packs[batchId][u];
        uint256 caller = _callerFor(p.by, seed >> 16);
        bool entitled = accounts[caller] == p.by && _today() <= p.day + undoWindow && _revertible(batchId);
        bool ok = _memberCall(caller, seed >> 24, PHARMACY_ROLE, address(token), abi.encodeCall(IBatchToken.undoDispense, (batchId, u, keccak256("returned unopened"))));
        if (!ok) return;
        if (!entitled) _violation("undo", "a dispense was undone by another member, too late, or for a recalled or expired batch");
        packs[batchId][u] = PackModel(uint8(IBatchToken.PackState.Held), p.by, address(0), 0, 0, 0, 0);
        batches[batchId].dispensed--;
    }

    /// @dev EU FMD art. 13: an undo needs the batch not recalled, not expired, its product not withdrawn.
    function _revertible(uint256 batchId) internal view returns (bool) {
        return !batches[batchId].recalled && !_expired(batchId) && !withdrawn[batches[batchId].gtin];
    }

    function _decommission(uint256 seed) internal {
        uint256 batchId = _serialisedBatch(seed);
        if (batchId == 0) return;
        uint256 u = _findPack(batchId, seed >> 8, uint8(IBatchToken.PackState.Held));
        if (u == type(uint256).max) return;
        IBatchToken.Item[] memory items = _itemsAround(batchId, u, seed >> 16);
        // Destroyed 5, Stolen 6, Sample 7, FreeSample 8, Exported 9; Dispensed 4 must be refused.
        uint8 state = uint8(4 + ((seed >> 24) % 6));
        uint256 caller = _callerFor(packs[batchId][u].holder, seed >> 28);
        address holder = accounts[caller];
        bool held = _modelHolds(batchId, holder, items, false);
        bool allowed = state != 4 && (state < 7 || (_batchActive(batchId) && !withdrawn[batches[batchId].gtin]));
        bytes memory call = abi.encodeCall(IBatchToken.decommission, (batchId, items, IBatchToken.PackState(state), keccak256("evidence")));
        bool ok = _memberCall(caller, seed >> 36, STOCK_ROLES, address(token), call);
        if (!ok) return;
        if (!held) _violation("unheld", "a member decommissioned packs it did not hold");
        if (!allowed) _violation("overlay", "a decommission into a refused state, or a supply of a batch on hold");
        _setPacks(batchId, items, state, holder, address(0));
        batches[batchId].decommissioned += _unitsIn(batchId, items);
    }

    /// @dev The item that set pack `u`'s state (kind and index remembered by the model), one long.
    function _settingItem(uint256 batchId, uint256 u) internal view returns (IBatchToken.Item[] memory) {
        PackModel storage p = packs[batchId][u];
        return _items1(IBatchToken.ItemKind(p.setKind), p.setIndex, 1);
    }

    /// @dev Whether every pack of `items` is in `state`, set by `by` on day `day` through the same item.
    function _allSetBy(uint256 batchId, IBatchToken.Item[] memory items, uint8 state, address by) internal view returns (bool) {
        BatchModel storage b = batches[batchId];
        (uint256 lo, uint256 hi) = _range(b, items[0]);
        for (uint256 u = lo; u < hi; ++u) {
            PackModel storage p = packs[batchId][u];
            if (p.state != state || p.by != by || p.setKind != uint8(items[0].kind) || p.setIndex != items[0].start) return false;
        }
        return hi > lo;
    }

    function _revertDecommission(uint256 seed) internal {
        uint256 batchId = _serialisedBatch(seed);
        if (batchId == 0) return;
        uint8 state = uint8(7 + ((seed >> 8) % 3));
        uint256 u = _findPack(batchId, seed >> 12, state);
        if (u == type(uint256).max) return;
        PackModel memory p = packs[batchId][u];
        IBatchToken.Item[] memory items = _settingItem(batchId, u);
        uint256 caller = _callerFor(p.by, seed >> 20);
        bool entitled = accounts[caller] == p.by && _allSetBy(batchId, items, state, p.by) && _today() <= p.day + undoWindow && _revertible(batchId);
        bytes memory call = abi.encodeCall(IBatchToken.revertDecommission, (batchId, items, keccak256("sample returned")));
        bool ok = _memberCall(caller, seed >> 28, STOCK_ROLES, address(token), call);
        if (!ok) return;
        if (!entitled) _violation("undo", "a decommission was reverted by another member, too late, or for a recalled or expired batch");
        uint256 n = _unitsIn(batchId, items);
        _setPacks(batchId, items, uint8(IBatchToken.PackState.Held), address(0), p.by);
        batches[batchId].decommissioned -= n;
    }

    function _lock(uint256 seed) internal {
        uint256 batchId = _serialisedBatch(seed);
        if (batchId == 0) return;
        uint256 u = _findPack(batchId, seed >> 8, uint8(IBatchToken.PackState.Held));
        if (u == type(uint256).max) return;
        IBatchToken.Item[] memory items = _itemsAround(batchId, u, seed >> 16);
        uint256 caller = _callerFor(packs[batchId][u].holder, seed >> 24);
        address holder = accounts[caller];
        bool held = _modelHolds(batchId, holder, items, false);
        bool ok = _memberCall(caller, seed >> 32, STOCK_ROLES, address(token), abi.encodeCall(IBatchToken.lock, (batchId, items, keccak256("investigation"))));
        if (!ok) return;
        if (!held) _violation("unheld", "a member locked packs it did not hold");
        _setPacks(batchId, items, uint8(IBatchToken.PackState.Locked), holder, holder);
    }

    function _unlock(uint256 seed) internal {
        uint256 batchId = _serialisedBatch(seed);
        if (batchId == 0) return;
        uint256 u = _findPack(batchId, seed >> 8, uint8(IBatchToken.PackState.Locked));
        if (u == type(uint256).max) return;
        PackModel memory p = packs[batchId][u];
        IBatchToken.Item[] memory items = _settingItem(batchId, u);
        uint256 pick = (seed >> 16) % 4;
        uint256 caller = pick == 0 ? REGULATOR_DE : pick == 1 ? REGULATOR_FR : _callerFor(p.by, seed >> 18);
        address who = accounts[caller];
        bool entitled = _allSetBy(batchId, items, uint8(IBatchToken.PackState.Locked), p.by) &&
            (who == p.by ? _activeRole(who) != IConsortium.Role.None : _isMarketRegulator(batchId, who));
        bool ok = _memberCall(caller, seed >> 24, ANY_ROLE, address(token), abi.encodeCall(IBatchToken.unlock, (batchId, p.by, items, keccak256("released"))));
        if (!ok) return;
        if (!entitled) _violation("entitlement", "packs were unlocked by other than their locker or a regulator of the batch's markets");
        _setPacks(batchId, items, uint8(IBatchToken.PackState.Held), address(0), p.by);
    }

    function _isMarketRegulator(uint256 batchId, address who) internal view returns (bool) {
        if (_activeRole(who) != IConsortium.Role.Regulator) return false;
        bytes2 j = rebuilt[who].jurisdiction;
        return (j == DE && batches[batchId].marketDE) || (j == FR && batches[batchId].marketFR);
    }

    function _writeOff(uint256 seed) internal {
        if (batchCount == 0) return;
        uint256 batchId = 1 + (seed % batchCount);
        if (batches[batchId].units != 0) return;
        (address holder, uint256 quantity) = _holderOfQuantity(batchId, seed >> 8);
        if (holder == address(0)) return;
        if ((seed >> 24) % 10 == 0) quantity = quantityOf[batchId][holder] + 1; // more than held must be refused
        uint256 caller = _callerFor(holder, seed >> 32);
        bool held = quantity <= quantityOf[batchId][accounts[caller]];
        bytes memory call = abi.encodeCall(IBatchToken.writeOff, (batchId, quantity, IBatchToken.LossReason.Destroyed, keccak256("evidence")));
        bool ok = _memberCall(caller, seed >> 40, STOCK_ROLES, address(token), call);
        if (!ok) return;
        if (!held) _violation("unheld", "a member wrote off units it did not hold");
        quantityOf[batchId][accounts[caller]] -= held ? quantity : quantityOf[batchId][accounts[caller]];
        batches[batchId].writtenOff += quantity;
    }

    // ─── Regulators, producers and products ────────────────────────────────────────────────────

    function _regulatorish(uint256 seed) internal pure returns (uint256) {
        uint256 pick = seed % 6;
        return pick < 2 ? REGULATOR_DE : pick < 4 ? REGULATOR_FR : pick == 4 ? AUDITOR : PRODUCER_A;
    }

    function _quarantine(uint256 seed, bool lift) internal {
        if (batchCount == 0) return;
        uint256 batchId = 1 + (seed % batchCount);
        uint256 caller = _regulatorish(seed >> 8);
        address who = accounts[caller];
        BatchModel storage b = batches[batchId];
        bytes2 j = rebuilt[who].jurisdiction;
        bool own = j == DE ? b.quarantineDE : b.quarantineFR;
        bool entitled = _isMarketRegulator(batchId, who) && (lift ? own : !own && !b.recalled);
        bytes memory call = lift
            ? abi.encodeCall(IBatchToken.liftQuarantine, (batchId, keccak256("cleared")))
            : abi.encodeCall(IBatchToken.quarantine, (batchId, keccak256("suspect")));
        bool ok = _memberCall(caller, seed >> 16, REGULATOR_ROLE, address(token), call);
        if (!ok) return;
        if (!entitled) _violation("overlay", "a quarantine was set or lifted by other than a regulator of the batch's markets, or twice");
        if (j == DE) b.quarantineDE = !lift;
        else b.quarantineFR = !lift;
    }

    function _recall(uint256 seed) internal {
        if (batchCount == 0) return;
        // A recall is final but for governance: two calls in three lift a quarantine instead.
        if ((seed >> 200) % 3 != 0) return _quarantine(seed, true);
        uint256 batchId = 1 + (seed % batchCount);
        uint256 pick = (seed >> 8) % 5;
        uint256 caller = pick == 0 ? REGULATOR_DE : pick == 1 ? REGULATOR_FR : pick == 2 ? PRODUCER_A : pick == 3 ? PRODUCER_B : DISTRIBUTOR_1;
        address who = accounts[caller];
        BatchModel storage b = batches[batchId];
        address owner = b.gtin == GTIN_A ? accounts[PRODUCER_A] : accounts[PRODUCER_B];
        bool byProducer = _activeRole(who) == IConsortium.Role.Producer && (who == b.producer || who == owner);
        bool entitled = !b.recalled && (_isMarketRegulator(batchId, who) || byProducer);
        bool ok = _memberCall(caller, seed >> 16, REGULATOR_ROLE | PRODUCER_ROLE, address(token), abi.encodeCall(IBatchToken.recall, (batchId, keccak256("defect"))));
        if (!ok) return;
        if (!entitled) _violation("overlay", "a batch was recalled by someone without the power, or twice");
        b.recalled = true;
    }

    function _setProductStatus(uint256 seed) internal {
        uint256 caller = seed % 2 == 0 ? PRODUCER_A : PRODUCER_B;
        uint64 gtin = (seed >> 1) % 4 == 0 ? (caller == PRODUCER_A ? GTIN_B : GTIN_A) : (caller == PRODUCER_A ? GTIN_A : GTIN_B);
        if (!withdrawn[gtin] && (seed >> 4) % 3 != 0) return; // withdraw one time in three, put back always
        IBatchToken.ProductStatus status = withdrawn[gtin] ? IBatchToken.ProductStatus.Active : IBatchToken.ProductStatus.Withdrawn;
        bool owner = (gtin == GTIN_A) == (caller == PRODUCER_A);
        bool ok = _memberCall(caller, seed >> 8, PRODUCER_ROLE, address(token), abi.encodeCall(IBatchToken.setProductStatus, (gtin, status, keccak256("market action"))));
        if (!ok) return;
        if (!owner) _violation("entitlement", "a product's status was changed by other than its owner");
        withdrawn[gtin] = status == IBatchToken.ProductStatus.Withdrawn;
    }
}
