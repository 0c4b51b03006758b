// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IERC1155} from "@openzeppelin/contracts/token/ERC1155/IERC1155.sol";
import {ERC2771Forwarder} from "@openzeppelin/contracts/metatx/ERC2771Forwarder.sol";
import {ConsortiumForwarder} from "../../../contracts/ConsortiumForwarder.sol";
import {Consortium} from "../../../contracts/Consortium.sol";
import {BatchToken} from "../../../contracts/BatchToken.sol";
import {IConsortium} from "../../../contracts/interfaces/IConsortium.sol";
import {IBatchToken} from "../../../contracts/interfaces/IBatchToken.sol";
import {vm, Vm} from "../utils/Vm.sol";

/**
 * @title World
 * @notice What every part of the invariant handler shares: the deployed system (the real
 * Forwarder, Consortium, BatchToken and its two linked libraries), the actors and their keys,
 * the handler's own model of custody and governance (written from the semantics of each action,
 * never read back from the contracts), the member register rebuilt from Consortium events, and
 * the violations the handler saw while acting.
 *
 * Every member action is sent either directly (`vm.prank(key)`) or as an EIP-712
 * `ForwardRequest` signed with `vm.sign` and relayed through the ERC2771Forwarder, chosen by the
 * fuzzer per call.
 */
abstract contract World {
    // ─── Actors ────────────────────────────────────────────────────────────────────────────────

    uint256 internal constant PRODUCER_A = 0; // DE, prefix 9506000, owns GTIN_A
    uint256 internal constant PRODUCER_B = 1; // FR, prefix 9506001, owns GTIN_B
    uint256 internal constant DISTRIBUTOR_1 = 2; // DE
    uint256 internal constant DISTRIBUTOR_2 = 3; // DE, short licence
    uint256 internal constant PHARMACY_1 = 4; // DE
    uint256 internal constant PHARMACY_2 = 5; // FR, short licence
    uint256 internal constant REGULATOR_DE = 6;
    uint256 internal constant REGULATOR_FR = 7;
    uint256 internal constant AUDITOR = 8;
    uint256 internal constant SPARE_1 = 9; // admitted by governance during a run
    uint256 internal constant SPARE_2 = 10;
    uint256 internal constant ACTORS = 11;
    uint256 internal constant GOVERNOR_POOL = 7;

    uint64 internal constant GTIN_A = 9506000134352; // 09506000134352
    uint64 internal constant GTIN_B = 9506001000014; // 09506001000014
    bytes2 internal constant DE = "DE";
    bytes2 internal constant FR = "FR";
    uint256 internal constant START = 1_750_000_000; // 2025-06-15, a Sunday
    uint64 internal constant PROPOSAL_LIFETIME = 2 days;
    uint256 internal constant MAX_BATCHES = 6;
    uint256 internal constant MAX_UNITS = 12;

    ConsortiumForwarder internal forwarder;
    Consortium internal consortium;
    BatchToken internal token;
    address internal relayer;

    /// @dev Actor accounts by the constants above; every key's private key.
    address[ACTORS] internal accounts;
    mapping(address key => uint256 pk) internal pkOf;
    /// @dev The key the handler believes signs for an account now, and the keys it rotated out.
    mapping(address account => address key) internal currentKey;
    mapping(address account => address[] keys) internal retiredKeys;
    /// @dev Every key made by rotation (never an account).
    address[] internal rotatedKeys;
    uint256 internal keyNonce;

    address[GOVERNOR_POOL] internal governorPool;

    // ─── Register rebuilt from Consortium events only ──────────────────────────────────────────

    struct Rebuilt {
        IConsortium.Role role;
        IConsortium.MemberStatus status;
        bytes2 jurisdiction;
        uint64 gln;
        uint64 licenceExpiry;
        uint32 index;
        bool keyRotated;
        bytes32 licenceHash;
        address key;
    }

    mapping(address account => Rebuilt) internal rebuilt;
    mapping(address key => address account) internal rebuiltAccountOfKey;
    mapping(uint32 index => address account) internal rebuiltAccountAt;
    uint32 internal rebuiltMemberCount;

    // ─── Governance model ──────────────────────────────────────────────────────────────────────

    struct ProposalModel {
        address proposer;
        uint64 expiresAt;
        bool executed;
        bool cancelled;
        uint256 executions;
        address target;
        bytes action;
    }

    address[] internal govs;
    mapping(address => bool) internal isGov;
    mapping(address => uint256) internal govEpoch;
    uint256 internal epochs;
    uint256 internal threshold;
    uint256 internal proposalCount;
    mapping(uint256 => ProposalModel) internal proposals;
    mapping(uint256 => mapping(address => uint256)) internal approvalEpoch;

    // ─── Custody model ─────────────────────────────────────────────────────────────────────────

    struct BatchModel {
        uint64 gtin;
        address producer;
        uint32 units; // serialised: packs; 0 for a batch without serials
        uint32 unitsPerCase;
        uint32 casesPerPallet;
        uint32 expiryDay;
        uint256 minted;
        uint256 dispensed;
        uint256 decommissioned;
        uint256 writtenOff;
        uint256 recoveredFinal;
        bool recalled;
        bool marketDE;
        bool marketFR;
        bool quarantineDE;
        bool quarantineFR;
        string lot;
    }

    /// @dev One pack: its PackState (as uint8), holder (Held/Locked), who set a final, revertible
    /// or locked state and when, its shipment, and the item that set the state (to undo it the same way).
    struct PackModel {
        uint8 state;
        address holder;
        address by;
        uint32 day;
        uint64 shipment;
        uint8 setKind;
        uint32 setIndex;
    }

    struct ShipmentModel {
        uint256 batchId;
        address sender;
        address receiver;
        uint256 quantity;
        IBatchToken.ShipmentKind kind;
        bool open;
    }

    uint256 internal batchCount;
    mapping(uint256 batchId => BatchModel) internal batches;
    mapping(uint256 batchId => bytes32[]) internal leaves;
    mapping(uint256 batchId => mapping(uint256 unit => PackModel)) internal packs;
    mapping(uint256 batchId => mapping(address => uint256)) internal quantityOf; // batches without serials
    mapping(uint64 gtin => bool) internal withdrawn;
    uint256 internal shipmentCount;
    mapping(uint256 => ShipmentModel) internal shipments;
    mapping(uint256 => IBatchToken.Item[]) internal shipmentItems;
    uint256[] internal openShipments;
    bool internal paused;
    uint256 internal undoWindow = 10;

    // ─── What the handler saw ──────────────────────────────────────────────────────────────────

    mapping(bytes32 category => uint256) internal violations;
    mapping(bytes32 category => string) internal firstViolation;
    mapping(bytes4 selector => uint256) internal successes;
    uint256 internal calls;
    bool internal governanceCall;

    // ─── Setup ─────────────────────────────────────────────────────────────────────────────────

    function _deploy() internal {
        vm.warp(START);
        relayer = vm.addr(0xBEEF);
        for (uint256 i = 0; i < GOVERNOR_POOL; ++i) {
            governorPool[i] = vm.addr(0xB000 + i);
            pkOf[governorPool[i]] = 0xB000 + i;
        }
        for (uint256 i = 0; i < ACTORS; ++i) {
            accounts[i] = vm.addr(0xA000 + i);
            pkOf[accounts[i]] = 0xA000 + i;
            currentKey[accounts[i]] = accounts[i];
        }

        forwarder = new ConsortiumForwarder();
        address[] memory initial = new address[](4);
        for (uint256 i = 0; i < 4; ++i) {
            initial[i] = governorPool[i];
            govs.push(governorPool[i]);
            isGov[governorPool[i]] = true;
            govEpoch[governorPool[i]] = ++epochs;
        }
        threshold = 2;
        consortium = new Consortium(address(forwarder), initial, 2, keccak256("charter v1"), PROPOSAL_LIFETIME);
        token = new BatchToken(IConsortium(address(consortium)), address(forwarder), "");
        vm.label(address(consortium), "Consortium");
        vm.label(address(token), "BatchToken");
        vm.label(address(forwarder), "Forwarder");
    }

    // ─── Sending calls ─────────────────────────────────────────────────────────────────────────

    /// @dev Sends `data` to `target` signed by `key`: directly, or relayed through the forwarder.
    function _send(address key, address target, bytes memory data, bool relayed) internal returns (bool ok, bytes memory ret) {
        if (!relayed) {
            vm.prank(key);
            return target.call(data);
        }
        bytes memory call = abi.encodeCall(ERC2771Forwarder.execute, (_signedRequest(key, target, data)));
        vm.prank(relayer);
        (ok, ) = address(forwarder).call(call);
        ret = ""; // the forwarder returns nothing of the call it made
    }

    /// @dev A ForwardRequest from `key`, signed with `vm.sign` over its EIP-712 digest.
    function _signedRequest(address key, address target, bytes memory data) internal view returns (ERC2771Forwarder.ForwardRequestData memory q) {
        q.from = key;
        q.to = target;
        q.gas = 8_000_000;
        q.deadline = uint48(block.timestamp + 1 hours);
        q.data = data;
        bytes32 digest = keccak256(abi.encodePacked("\x19\x01", _domainSeparator(), _requestHash(q, forwarder.nonces(key))));
        (uint8 v, bytes32 r, bytes32 s) = vm.sign(pkOf[key], digest);
        q.signature = abi.encodePacked(r, s, v);
    }

    /// @dev The forwarder's EIP-712 domain, computed here from the standard, not read from the forwarder.
    function _domainSeparator() internal view returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("EIP712Domain(string name,string version,uint256 chainId,address verifyingContract)"),
                keccak256("ConsortiumForwarder"),
                keccak256("1"),
                block.chainid,
                address(forwarder)
            )
        );
    }

    function _requestHash(ERC2771Forwarder.ForwardRequestData memory q, uint256 nonce) internal pure returns (bytes32) {
        return keccak256(
            abi.encode(
                keccak256("ForwardRequest(address from,address to,uint256 value,uint256 gas,uint256 nonce,uint48 deadline,bytes data)"),
                q.from,
                q.to,
                q.value,
                q.gas,
                nonce,
                q.deadline,
                keccak256(q.data)
            )
        );
    }

    /**
     * @dev A member action by actor `who`: usually signed with its current key; one call in 16 with
     * a key rotated out of it, which must act for nobody. Checks, on success, that the register
     * rebuilt from events gave the signer an active membership with one of `roles` (a bit mask of
     * IConsortium.Role) and returns the account the handler believes acted.
     */
    function _memberCall(uint256 who, uint256 seed, uint256 roles, address target, bytes memory data) internal returns (bool ok) {
        (address key, bool stale) = _signingKey(accounts[who % ACTORS], seed);
        bool entitled = _entitled(key, roles);
        (ok, ) = _send(key, target, data, (seed >> 12) % 3 == 0);
        if (!ok) return false;
        successes[bytes4(data)]++;
        if (stale) _violation("staleKey", "a rotated-out key acted for its old account");
        if (!entitled) _violation("entitlement", "an inactive member, or one without the role, acted");
    }

    /// @dev Whether the register rebuilt from events makes `key` an active member with one of `roles` (a bit mask).
    function _entitled(address key, uint256 roles) internal view returns (bool) {
        (IConsortium.Role role, bool active) = _rebuiltActor(key);
        return active && (roles & (1 << uint8(role))) != 0;
    }

    /// @dev The account's current key; one call in 16 a key rotated out of it, if it has one.
    function _signingKey(address account, uint256 seed) internal view returns (address key, bool stale) {
        address[] storage retired = retiredKeys[account];
        stale = seed % 16 == 0 && retired.length != 0;
        key = stale ? retired[(seed >> 4) % retired.length] : currentKey[account];
    }

    /// @dev A governance process call (propose, approve, ...) by governor `key`, direct or relayed.
    function _governorCall(address key, uint256 seed, bytes memory data) internal returns (bool ok, bytes memory ret) {
        (ok, ret) = _send(key, address(consortium), data, (seed >> 20) % 3 == 0);
        if (ok) successes[bytes4(data)]++;
    }

    // ─── Register rebuilt from events ──────────────────────────────────────────────────────────

    function _rebuiltActor(address key) internal view returns (IConsortium.Role role, bool active) {
        address account = rebuiltAccountOfKey[key];
        if (account == address(0)) return (IConsortium.Role.None, false);
        Rebuilt storage m = rebuilt[account];
        active = m.status == IConsortium.MemberStatus.Active && block.timestamp < m.licenceExpiry;
        role = m.role;
    }

    function _holdsStock(address account) internal view returns (bool) {
        Rebuilt storage m = rebuilt[account];
        if (m.status != IConsortium.MemberStatus.Active || block.timestamp >= m.licenceExpiry) return false;
        return m.role == IConsortium.Role.Producer || m.role == IConsortium.Role.Distributor || m.role == IConsortium.Role.Pharmacy;
    }

    function _activeRole(address account) internal view returns (IConsortium.Role) {
        Rebuilt storage m = rebuilt[account];
        if (m.status != IConsortium.MemberStatus.Active || block.timestamp >= m.licenceExpiry) return IConsortium.Role.None;
        return m.role;
    }

    /**
     * @dev Reads the logs of the last call: rebuilds the register from Consortium events, and checks
     * that every unit credited went to an active stock holder's account and that, while custody was
     * paused, no member action changed custody.
     */
    function _digestLogs(bool pausedBefore) internal {
        Vm.Log[] memory logs = vm.getRecordedLogs();
        for (uint256 i = 0; i < logs.length; ++i) {
            Vm.Log memory log = logs[i];
            if (log.emitter == address(consortium)) _applyMemberEvent(log);
            else if (log.emitter == address(token)) _checkCustodyEvent(log, pausedBefore);
        }
    }

    function _applyMemberEvent(Vm.Log memory log) internal {
        bytes32 topic = log.topics[0];
        if (topic == IConsortium.MemberAdmitted.selector) {
            address account = address(uint160(uint256(log.topics[1])));
            (bytes2 jurisdiction, bytes32 licenceHash, uint64 licenceExpiry, uint32 index) = abi.decode(log.data, (bytes2, bytes32, uint64, uint32));
            rebuilt[account] = Rebuilt({
                role: IConsortium.Role(uint8(uint256(log.topics[2]))),
                status: IConsortium.MemberStatus.Active,
                jurisdiction: jurisdiction,
                gln: uint64(uint256(log.topics[3])),
                licenceExpiry: licenceExpiry,
                index: index,
                keyRotated: false,
                licenceHash: licenceHash,
                key: account
            });
            rebuiltAccountOfKey[account] = account;
            rebuiltAccountAt[index] = account;
            rebuiltMemberCount++;
        } else if (topic == IConsortium.MemberRoleChanged.selector) {
            rebuilt[address(uint160(uint256(log.topics[1])))].role = IConsortium.Role(uint8(uint256(log.topics[3])));
        } else if (topic == IConsortium.MemberSuspended.selector) {
            rebuilt[address(uint160(uint256(log.topics[1])))].status = IConsortium.MemberStatus.Suspended;
        } else if (topic == IConsortium.MemberReinstated.selector) {
            rebuilt[address(uint160(uint256(log.topics[1])))].status = IConsortium.MemberStatus.Active;
        } else if (topic == IConsortium.MemberRevoked.selector) {
            rebuilt[address(uint160(uint256(log.topics[1])))].status = IConsortium.MemberStatus.Revoked;
        } else if (topic == IConsortium.LicenceRenewed.selector) {
            Rebuilt storage m = rebuilt[address(uint160(uint256(log.topics[1])))];
            (m.licenceHash, m.licenceExpiry) = abi.decode(log.data, (bytes32, uint64));
        } else if (topic == IConsortium.MemberKeyRotated.selector) {
            address account = address(uint160(uint256(log.topics[1])));
            address previousKey = address(uint160(uint256(log.topics[2])));
            address newKey = address(uint160(uint256(log.topics[3])));
            delete rebuiltAccountOfKey[previousKey];
            rebuiltAccountOfKey[newKey] = account;
            rebuilt[account].keyRotated = true;
            rebuilt[account].key = newKey;
        }
    }

    function _checkCustodyEvent(Vm.Log memory log, bool pausedBefore) internal {
        bytes32 topic = log.topics[0];
        if (topic == IERC1155.TransferSingle.selector) {
            address to = address(uint160(uint256(log.topics[3])));
            if (to != address(0) && !_holdsStock(to)) _violation("credit", "units were credited to an address that is not an active stock holder's account");
        }
        if (pausedBefore && !governanceCall && _isCustodyEvent(topic)) _violation("paused", "a member action changed custody while custody was paused");
    }

    function _isCustodyEvent(bytes32 topic) internal pure returns (bool) {
        return
            topic == IERC1155.TransferSingle.selector ||
            topic == IBatchToken.ShipmentCreated.selector ||
            topic == IBatchToken.ShipmentAccepted.selector ||
            topic == IBatchToken.ShipmentRejected.selector ||
            topic == IBatchToken.ShipmentCancelled.selector ||
            topic == IBatchToken.ContainerUnpacked.selector ||
            topic == IBatchToken.UnitDispensed.selector ||
            topic == IBatchToken.DispenseUndone.selector ||
            topic == IBatchToken.PacksDecommissioned.selector ||
            topic == IBatchToken.DecommissionReverted.selector ||
            topic == IBatchToken.PacksLocked.selector ||
            topic == IBatchToken.PacksUnlocked.selector ||
            topic == IBatchToken.UnitsWrittenOff.selector;
    }

    // ─── Model helpers ─────────────────────────────────────────────────────────────────────────

    function _violation(bytes32 category, string memory what) internal {
        if (violations[category]++ == 0) firstViolation[category] = string.concat(what, " (handler call ", _decimal(calls + 1), ")");
    }

    function _today() internal view returns (uint256) {
        return block.timestamp / 1 days;
    }

    function _batchActive(uint256 batchId) internal view returns (bool) {
        BatchModel storage b = batches[batchId];
        return !b.recalled && !b.quarantineDE && !b.quarantineFR;
    }

    function _expired(uint256 batchId) internal view returns (bool) {
        return _today() > batches[batchId].expiryDay;
    }

    function _caseCount(BatchModel storage b) internal view returns (uint256) {
        return b.unitsPerCase == 0 ? 0 : (b.units + b.unitsPerCase - 1) / b.unitsPerCase;
    }

    function _palletCount(BatchModel storage b) internal view returns (uint256) {
        return b.casesPerPallet == 0 ? 0 : (_caseCount(b) + b.casesPerPallet - 1) / b.casesPerPallet;
    }

    /// @dev The unit range [lo, hi) an item covers: items are always consecutive packs.
    function _range(BatchModel storage b, IBatchToken.Item memory item) internal view returns (uint256 lo, uint256 hi) {
        uint256 per = item.kind == IBatchToken.ItemKind.Units ? 1 : item.kind == IBatchToken.ItemKind.Case
            ? b.unitsPerCase
            : uint256(b.unitsPerCase) * b.casesPerPallet;
        lo = uint256(item.start) * per;
        hi = (uint256(item.start) + item.count) * per;
        if (hi > b.units) hi = b.units;
    }

    function _items1(IBatchToken.ItemKind kind, uint256 start, uint256 count) internal pure returns (IBatchToken.Item[] memory items) {
        items = new IBatchToken.Item[](1);
        items[0] = IBatchToken.Item(kind, uint32(start), uint32(count));
    }

    function _shipment(uint256 id) internal view returns (IBatchToken.Shipment memory s) {
        ShipmentModel storage m = shipments[id];
        s = IBatchToken.Shipment(m.batchId, m.sender, m.receiver, m.quantity, m.kind, shipmentItems[id]);
    }

    function _closeShipment(uint256 id) internal {
        shipments[id].open = false;
        for (uint256 i = 0; i < openShipments.length; ++i) {
            if (openShipments[i] == id) {
                openShipments[i] = openShipments[openShipments.length - 1];
                openShipments.pop();
                return;
            }
        }
    }

    /// @dev A closed shipment's packs (or units) arrive at `to`.
    function _landShipment(uint256 id, address to) internal {
        ShipmentModel storage s = shipments[id];
        BatchModel storage b = batches[s.batchId];
        if (b.units == 0) {
            quantityOf[s.batchId][to] += s.quantity;
        } else {
            IBatchToken.Item[] storage items = shipmentItems[id];
            for (uint256 i = 0; i < items.length; ++i) {
                (uint256 lo, uint256 hi) = _range(b, items[i]);
                for (uint256 u = lo; u < hi; ++u) {
                    PackModel storage p = packs[s.batchId][u];
                    if (p.state != uint8(IBatchToken.PackState.InTransit) || p.shipment != id) _violation("unheld", "a shipment closed with packs it did not carry");
                    packs[s.batchId][u] = PackModel(uint8(IBatchToken.PackState.Held), to, address(0), 0, 0, 0, 0);
                }
            }
        }
        _closeShipment(id);
    }

    /// @dev Whether the model has every pack of `items` held (or, with `orLocked`, locked) by `holder`.
    function _modelHolds(uint256 batchId, address holder, IBatchToken.Item[] memory items, bool orLocked) internal view returns (bool) {
        BatchModel storage b = batches[batchId];
        for (uint256 i = 0; i < items.length; ++i) {
            (uint256 lo, uint256 hi) = _range(b, items[i]);
            if (hi <= lo) return false;
            for (uint256 u = lo; u < hi; ++u) {
                PackModel storage p = packs[batchId][u];
                if (p.holder != holder) return false;
                if (p.state != uint8(IBatchToken.PackState.Held) && !(orLocked && p.state == uint8(IBatchToken.PackState.Locked))) return false;
            }
        }
        return true;
    }

    /// @dev Sets every pack of `items` to `state` set by `by` (the item kind and index remembered for undoing).
    function _setPacks(uint256 batchId, IBatchToken.Item[] memory items, uint8 state, address by, address holder) internal {
        BatchModel storage b = batches[batchId];
        for (uint256 i = 0; i < items.length; ++i) {
            (uint256 lo, uint256 hi) = _range(b, items[i]);
            for (uint256 u = lo; u < hi; ++u) {
                // A pack set through a Units item has a record of its own; one set through a container, the container's.
                uint32 index = items[i].kind == IBatchToken.ItemKind.Units ? uint32(u) : items[i].start;
                packs[batchId][u] = PackModel(state, holder, by, uint32(_today()), 0, uint8(items[i].kind), index);
            }
        }
    }

    function _unitsIn(uint256 batchId, IBatchToken.Item[] memory items) internal view returns (uint256 n) {
        BatchModel storage b = batches[batchId];
        for (uint256 i = 0; i < items.length; ++i) {
            (uint256 lo, uint256 hi) = _range(b, items[i]);
            n += hi > lo ? hi - lo : 0;
        }
    }

    function _decimal(uint256 v) internal pure returns (string memory) {
        if (v == 0) return "0";
        bytes memory digits;
        while (v != 0) {
            digits = bytes.concat(bytes1(uint8(48 + (v % 10))), digits);
            v /= 10;
        }
        return string(digits);
    }

    function _glnOf(uint256 stem) internal pure returns (uint64) {
        uint256 sum;
        uint256 weight = 3;
        for (uint256 rest = stem; rest != 0; rest /= 10) {
            sum += (rest % 10) * weight;
            weight = 4 - weight;
        }
        return uint64(stem * 10 + ((10 - (sum % 10)) % 10));
    }
}
