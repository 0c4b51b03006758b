// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IConsortium} from "../../../contracts/interfaces/IConsortium.sol";
import {IBatchToken} from "../../../contracts/interfaces/IBatchToken.sol";
import {GovernanceActions} from "./GovernanceActions.sol";
import {SerialTree} from "../utils/SerialTree.sol";
import {vm} from "../utils/Vm.sol";

/**
 * @title Checks
 * @notice The invariants, as functions that revert with a sentence naming what broke. The test
 * contract ({MedtraceInvariantsTest}) calls one per `invariant_` function; they read the
 * contracts' views and compare them with the handler's model, the register rebuilt from events,
 * or the violations recorded while acting.
 */
abstract contract Checks is GovernanceActions {
    /// @dev Thrown by the simulations of {checkPendingShipmentsClosable}, which always revert.
    error Simulated(bool landed);

    // ─── Conservation and per-pack custody ─────────────────────────────────────────────────────

    function checkSupplyConservation() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            BatchModel storage b = batches[id];
            uint256 accounted = _sumBalances(id) + _pending(id) + b.dispensed + b.decommissioned + b.writtenOff + b.recoveredFinal;
            if (accounted != b.minted) _fail("batch ", id, " breaks minted = balances + pending + dispensed + decommissioned + written off; accounted: ", accounted);
        }
    }

    function checkPackStatesMatchSupply() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            BatchModel storage b = batches[id];
            if (b.units == 0) continue;
            uint256[11] memory count;
            for (uint256 u = 0; u < b.units; ++u) {
                (IBatchToken.PackState state, , ) = token.packState(id, IBatchToken.ItemKind.Units, u);
                count[uint8(state)]++;
            }
            if (count[0] + count[2] != 0) _fail("batch ", id, " has packs in state None or Unpacked: ", count[0] + count[2]);
            if (count[1] + count[10] != _sumBalances(id)) _fail("batch ", id, " has held and locked packs unequal to the balances: ", count[1] + count[10]);
            if (count[3] != _pending(id)) _fail("batch ", id, " has packs in transit unequal to the pending quantities: ", count[3]);
            if (count[4] != b.dispensed) _fail("batch ", id, " has dispensed packs unequal to the dispenses: ", count[4]);
            uint256 out = count[5] + count[6] + count[7] + count[8] + count[9];
            if (out != b.decommissioned + b.recoveredFinal) _fail("batch ", id, " has decommissioned packs unequal to the decommissions: ", out);
        }
    }

    /**
     * @dev A pack in a member's record (sealed in a case or pallet, or detached with an index) names
     * one member by its index; a loose pack's holder is a bit in a per-account bitmap, which could
     * be set for two accounts at once: those are asked of every candidate address.
     */
    function checkSingleHolderPerPack() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            uint256 n = batches[id].units;
            for (uint256 u = 0; u < n; ++u) {
                (IBatchToken.PackState state, uint32 member, ) = token.packState(id, IBatchToken.ItemKind.Units, u);
                IBatchToken.Item[] memory item = _items1(IBatchToken.ItemKind.Units, u, 1);
                if (state != IBatchToken.PackState.Held) {
                    if (member != 0 && token.holdsUnits(id, rebuiltAccountAt[member], item)) _fail("batch ", id, " has a pack that is not held yet has a holder; pack: ", u);
                    continue;
                }
                if (member != 0) {
                    if (!token.holdsUnits(id, rebuiltAccountAt[member], item)) _fail("batch ", id, " has a held pack its recorded member does not hold; pack: ", u);
                    continue;
                }
                uint256 holders;
                for (uint256 i = 0; i < _candidateCount(); ++i) {
                    if (token.holdsUnits(id, _candidate(i), item)) ++holders;
                }
                if (holders != 1) _fail("batch ", id, " has a loose held pack with this many holders: ", holders * 1000 + u);
            }
        }
    }

    /// @dev Per member and batch, packs held + packs locked (each attributed once) equal the balance.
    function checkHeldPacksEqualBalance() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            uint256 n = batches[id].units;
            if (n == 0) continue;
            uint256[ACTORS] memory held;
            for (uint256 u = 0; u < n; ++u) {
                (IBatchToken.PackState state, uint32 member, ) = token.packState(id, IBatchToken.ItemKind.Units, u);
                address owner;
                if (state == IBatchToken.PackState.Locked || (state == IBatchToken.PackState.Held && member != 0)) {
                    owner = rebuiltAccountAt[member];
                } else if (state == IBatchToken.PackState.Held) {
                    owner = _looseHolder(id, u);
                } else {
                    continue;
                }
                uint256 a = _actorIndex(owner);
                if (a == type(uint256).max) _fail("batch ", id, " has a held or locked pack of no actor; pack: ", u);
                ++held[a];
            }
            for (uint256 i = 0; i < ACTORS; ++i) {
                if (held[i] != token.balanceOf(accounts[i], id)) _fail("batch ", id, " has a member whose held and locked packs differ from its balance; actor: ", i);
            }
        }
    }

    /// @dev The first candidate that holds loose pack `u`, asking the model's holder first.
    function _looseHolder(uint256 id, uint256 u) internal view returns (address) {
        IBatchToken.Item[] memory item = _items1(IBatchToken.ItemKind.Units, u, 1);
        address hint = packs[id][u].holder;
        if (hint != address(0) && token.holdsUnits(id, hint, item)) return hint;
        for (uint256 i = 0; i < _candidateCount(); ++i) if (token.holdsUnits(id, _candidate(i), item)) return _candidate(i);
        return address(0);
    }

    /// @dev Every address a loose pack's bitmap could name: the actors' accounts and the keys rotated in
    /// (governor keys, the relayer and the contracts hold no balance at all: {checkForeignAddressesHoldNothing}).
    function _candidateCount() internal view returns (uint256) {
        return ACTORS + rotatedKeys.length;
    }

    function _candidate(uint256 i) internal view returns (address) {
        return i < ACTORS ? accounts[i] : rotatedKeys[i - ACTORS];
    }

    function checkPackModel() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            uint256 n = batches[id].units;
            for (uint256 u = 0; u < n; ++u) {
                PackModel storage p = packs[id][u];
                (IBatchToken.PackState state, uint32 member, uint32 day) = token.packState(id, IBatchToken.ItemKind.Units, u);
                if (uint8(state) != p.state) _fail("batch ", id, " has a pack whose state differs from the model's; pack: ", u);
                if (p.state == uint8(IBatchToken.PackState.Held)) {
                    if (!token.holdsUnits(id, p.holder, _items1(IBatchToken.ItemKind.Units, u, 1))) _fail("batch ", id, " has a pack not held by the model's holder; pack: ", u);
                } else if (p.state != uint8(IBatchToken.PackState.InTransit)) {
                    if (member != rebuilt[p.by].index || day != p.day) _fail("batch ", id, " has a pack whose record names another member or day than the model; pack: ", u);
                }
            }
        }
    }

    function checkBalancesMatchModel() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            BatchModel storage b = batches[id];
            for (uint256 i = 0; i < ACTORS; ++i) {
                address x = accounts[i];
                uint256 expected = quantityOf[id][x];
                for (uint256 u = 0; u < b.units; ++u) {
                    PackModel storage p = packs[id][u];
                    if (p.holder == x && (p.state == uint8(IBatchToken.PackState.Held) || p.state == uint8(IBatchToken.PackState.Locked))) ++expected;
                }
                if (token.balanceOf(x, id) != expected) _fail("batch ", id, " has a member balance that differs from the model's; model: ", expected);
            }
        }
    }

    function checkContainersConsistent() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            BatchModel storage b = batches[id];
            uint256 cases = _caseCount(b);
            for (uint256 k = 0; k < cases; ++k) {
                (IBatchToken.PackState cs, uint32 cm, ) = token.packState(id, IBatchToken.ItemKind.Case, k);
                if (cs == IBatchToken.PackState.None) _fail("batch ", id, " has a case in state None: ", k);
                if (cs == IBatchToken.PackState.Unpacked) continue;
                (uint256 lo, uint256 hi) = _range(b, IBatchToken.Item(IBatchToken.ItemKind.Case, uint32(k), 1));
                for (uint256 u = lo; u < hi; ++u) {
                    (IBatchToken.PackState us, uint32 um, ) = token.packState(id, IBatchToken.ItemKind.Units, u);
                    if (us != cs || um != cm) _fail("batch ", id, " has a sealed case whose pack says something else; case: ", k);
                }
            }
            uint256 pallets = _palletCount(b);
            for (uint256 k = 0; k < pallets; ++k) {
                (IBatchToken.PackState ps, uint32 pm, ) = token.packState(id, IBatchToken.ItemKind.Pallet, k);
                if (ps == IBatchToken.PackState.None) _fail("batch ", id, " has a pallet in state None: ", k);
                if (ps == IBatchToken.PackState.Unpacked) continue;
                uint256 last = (k + 1) * b.casesPerPallet < cases ? (k + 1) * b.casesPerPallet : cases;
                for (uint256 c = k * b.casesPerPallet; c < last; ++c) {
                    (IBatchToken.PackState cs, uint32 cm, ) = token.packState(id, IBatchToken.ItemKind.Case, c);
                    if (cs != ps || cm != pm) _fail("batch ", id, " has a sealed pallet whose case says something else; pallet: ", k);
                }
            }
        }
    }

    function checkNoCreditToNonStockHolder() external view {
        _none("credit");
    }

    function checkForeignAddressesHoldNothing() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            for (uint256 i = 0; i < rotatedKeys.length; ++i) {
                if (token.balanceOf(rotatedKeys[i], id) != 0) _fail("batch ", id, " has a balance at a rotated key, not at its account; key number: ", i);
            }
            for (uint256 i = 0; i < GOVERNOR_POOL; ++i) {
                if (token.balanceOf(governorPool[i], id) != 0) _fail("batch ", id, " has a balance at a governor key: ", i);
            }
            address[4] memory others = [relayer, address(token), address(consortium), address(forwarder)];
            for (uint256 i = 0; i < 4; ++i) {
                if (token.balanceOf(others[i], id) != 0) _fail("batch ", id, " has a balance at the relayer or a system contract: ", i);
            }
        }
    }

    function checkRotatedKeysActForNobody() external view {
        _none("staleKey");
        for (uint256 i = 0; i < ACTORS; ++i) {
            address[] storage keys = retiredKeys[accounts[i]];
            for (uint256 k = 0; k < keys.length; ++k) {
                (address account, IConsortium.Role role, ) = consortium.actor(keys[k]);
                if (account != address(0) || role != IConsortium.Role.None) _fail("actor ", i, " has a rotated-out key that still maps to an account; key number: ", k);
                for (uint256 id = 1; id <= batchCount; ++id) {
                    if (keys[k] != accounts[i] && token.balanceOf(keys[k], id) != 0) _fail("actor ", i, " has a balance at a rotated-out key; batch: ", id);
                }
            }
        }
    }

    // ─── Governance ────────────────────────────────────────────────────────────────────────────

    function checkThresholdBounds() external view {
        uint256 t = consortium.threshold();
        uint256 n = consortium.governors().length;
        if (t < 2 || t + 1 > n) _fail("threshold ", t, " is outside 2 ... N - 1 for N = ", n);
        if (n > consortium.MAX_GOVERNORS()) _fail("governors ", n, " exceed the maximum ", consortium.MAX_GOVERNORS());
    }

    function checkGovernorSetMatchesModel() external view {
        address[] memory current = consortium.governors();
        if (current.length != govs.length) _fail("governors: ", current.length, " on chain, in the model: ", govs.length);
        for (uint256 i = 0; i < current.length; ++i) {
            if (!isGov[current[i]] || !consortium.isGovernor(current[i])) _fail("governor ", i, " on chain is not one in the model", 0);
        }
        if (consortium.threshold() != threshold) _fail("threshold ", consortium.threshold(), " differs from the model's ", threshold);
    }

    function checkExecutedHadQuorum() external view {
        _none("quorum");
    }

    function checkNoDoubleOrLateExecution() external view {
        _none("execution");
        for (uint256 id = 1; id <= proposalCount; ++id) {
            if (proposals[id].executions > 1) _fail("proposal ", id, " executed this many times: ", proposals[id].executions);
        }
    }

    function checkProposalsMatchModel() external view {
        if (consortium.proposalCount() != proposalCount) _fail("proposals: ", consortium.proposalCount(), " on chain, in the model: ", proposalCount);
        for (uint256 id = 1; id <= proposalCount; ++id) {
            ProposalModel storage p = proposals[id];
            IConsortium.ProposalState expected = p.executed
                ? IConsortium.ProposalState.Executed
                : p.cancelled
                    ? IConsortium.ProposalState.Cancelled
                    : block.timestamp >= p.expiresAt ? IConsortium.ProposalState.Expired : IConsortium.ProposalState.Open;
            if (consortium.proposalState(id) != expected) _fail("proposal ", id, " is in another state than the model's: ", uint8(expected));
            if (consortium.approvalCount(id) != _approvals(id)) _fail("proposal ", id, " counts other approvals than the model: ", _approvals(id));
            for (uint256 i = 0; i < govs.length; ++i) {
                if (consortium.hasApproved(id, govs[i]) != _approved(id, govs[i])) _fail("proposal ", id, " reports another approval of governor ", i);
            }
        }
    }

    function checkGovernanceProcess() external view {
        _none("governance");
    }

    // ─── Members ───────────────────────────────────────────────────────────────────────────────

    function checkMemberHistoryFromEvents() external view {
        if (consortium.memberCount() != rebuiltMemberCount) _fail("members: ", consortium.memberCount(), " on chain, from events: ", rebuiltMemberCount);
        for (uint32 i = 1; i <= rebuiltMemberCount; ++i) {
            if (consortium.accountAt(i) != rebuiltAccountAt[i]) _fail("member index ", i, " names another account than the events", 0);
        }
        for (uint256 i = 0; i < ACTORS; ++i) {
            address x = accounts[i];
            IConsortium.Member memory m = consortium.member(x);
            Rebuilt storage r = rebuilt[x];
            bool same = m.role == r.role && m.status == r.status && m.jurisdiction == r.jurisdiction && m.gln == r.gln &&
                m.licenceExpiry == r.licenceExpiry && m.index == r.index && m.keyRotated == r.keyRotated && m.licenceHash == r.licenceHash;
            if (!same) _fail("actor ", i, " has a member record that differs from the one rebuilt from events", 0);
            address key = r.status == IConsortium.MemberStatus.None ? address(0) : r.key;
            if (consortium.keyOf(x) != key) _fail("actor ", i, " has another key than the events say", 0);
            if (key != address(0) && consortium.accountOfKey(key) != x) _fail("actor ", i, " has a key that does not map back to it", 0);
        }
    }

    function checkLicencesLapseAtExpiry() external view {
        for (uint256 i = 0; i < ACTORS; ++i) {
            address x = accounts[i];
            Rebuilt storage r = rebuilt[x];
            if (r.status == IConsortium.MemberStatus.None) continue;
            bool active = r.status == IConsortium.MemberStatus.Active && block.timestamp < r.licenceExpiry;
            if (consortium.isActiveMember(x) != active) _fail("actor ", i, " is active when its licence lapsed, or the reverse, at time ", block.timestamp);
            (, IConsortium.Role role, ) = consortium.actor(r.key);
            if (role != (active ? r.role : IConsortium.Role.None)) _fail("actor ", i, " acts with another role than its record gives at time ", block.timestamp);
        }
    }

    function checkOnlyEntitledMembersAct() external view {
        _none("entitlement");
    }

    // ─── Custody rules ─────────────────────────────────────────────────────────────────────────

    function checkFlowTableRespected() external view {
        _none("flow");
    }

    function checkStatusOverlaysRespected() external view {
        _none("overlay");
        _none("undo");
        for (uint256 id = 1; id <= batchCount; ++id) {
            BatchModel storage b = batches[id];
            IBatchToken.BatchStatus expected = b.recalled
                ? IBatchToken.BatchStatus.Recalled
                : b.quarantineDE || b.quarantineFR ? IBatchToken.BatchStatus.Quarantined : IBatchToken.BatchStatus.Active;
            if (token.batch(id).status != expected) _fail("batch ", id, " has another status than its quarantines and recall give: ", uint8(expected));
        }
    }

    function checkNoCustodyOfUnheldPacks() external view {
        _none("unheld");
    }

    function checkPausedMeansNoCustodyChange() external view {
        _none("paused");
        if (token.paused() != paused) _fail("paused flag ", token.paused() ? 1 : 0, " differs from the model's ", paused ? 1 : 0);
    }

    function checkPendingShipmentsMatchModel() external view {
        if (token.shipmentCount() != shipmentCount) _fail("shipments: ", token.shipmentCount(), " on chain, in the model: ", shipmentCount);
        for (uint256 id = 1; id <= shipmentCount; ++id) {
            if (token.isPendingShipment(id, _shipment(id)) != shipments[id].open) _fail("shipment ", id, " is pending on chain and closed in the model, or the reverse", 0);
        }
    }

    /**
     * @dev Every pending shipment can be closed with its packs at an active stock holder: governance
     * recovery to one works (simulated, then rolled back), and its stock-holding sender can cancel it
     * while custody is not paused.
     */
    function checkPendingShipmentsClosable() external {
        for (uint256 i = 0; i < openShipments.length; ++i) {
            uint256 id = openShipments[i];
            ShipmentModel storage s = shipments[id];
            address to = _holdsStock(s.receiver) ? s.receiver : _holdsStock(s.sender) ? s.sender : _anyStockHolder();
            if (to != address(0) && !_simulate(abi.encodeCall(this.simulateRecovery, (id, to)))) _fail("shipment ", id, " cannot be recovered by governance to an active stock holder", 0);
            if (!paused && _holdsStock(s.sender) && !_simulate(abi.encodeCall(this.simulateCancel, (id)))) _fail("shipment ", id, " cannot be cancelled by its stock-holding sender", 0);
        }
    }

    function simulateRecovery(uint256 id, address to) external {
        IBatchToken.Shipment memory s = _shipment(id);
        uint256 before = token.balanceOf(to, s.batchId);
        vm.prank(address(consortium));
        token.recoverShipment(id, s, to, keccak256("simulated"));
        revert Simulated(_landed(s, to, before));
    }

    function simulateCancel(uint256 id) external {
        IBatchToken.Shipment memory s = _shipment(id);
        uint256 before = token.balanceOf(s.sender, s.batchId);
        vm.prank(currentKey[s.sender]);
        token.cancelShipment(id, s);
        revert Simulated(_landed(s, s.sender, before));
    }

    function _landed(IBatchToken.Shipment memory s, address to, uint256 before) internal view returns (bool) {
        if (token.balanceOf(to, s.batchId) != before + s.quantity) return false;
        return s.items.length == 0 || token.holdsUnits(s.batchId, to, s.items);
    }

    function _simulate(bytes memory call) internal returns (bool landed) {
        (bool ok, bytes memory ret) = address(this).call(call);
        if (ok || ret.length != 36 || bytes4(ret) != Simulated.selector) return false;
        return abi.decode(_args(ret), (bool));
    }

    function _anyStockHolder() internal view returns (address) {
        for (uint256 i = 0; i < ACTORS; ++i) if (_holdsStock(accounts[i])) return accounts[i];
        return address(0);
    }

    // ─── Verification ──────────────────────────────────────────────────────────────────────────

    function checkVerdictOrder() external view {
        for (uint256 id = 1; id <= batchCount; ++id) {
            BatchModel storage b = batches[id];
            if (b.units == 0) continue;
            bytes32[] memory unitLeaves = leaves[id];
            for (uint256 u = 0; u < b.units; ++u) {
                bytes32[] memory proof = SerialTree.proof(unitLeaves, u);
                IBatchToken.UnitVerdict v = token.verifyUnit(b.gtin, b.lot, SerialTree.serial(id, u), b.expiryDay, u, proof);
                if (v != _expectedVerdict(id, u)) _fail("batch ", id, " verifies a pack out of the documented order; pack: ", u);
            }
            bytes32[] memory proof0 = SerialTree.proof(unitLeaves, 0);
            if (token.verifyUnit(b.gtin, b.lot, "forged", b.expiryDay, 0, proof0) != IBatchToken.UnitVerdict.NotInBatch) _fail("batch ", id, " verifies a forged serial otherwise than NotInBatch", 0);
            if (token.verifyUnit(b.gtin, b.lot, SerialTree.serial(id, 0), b.expiryDay + 1, 0, proof0) != IBatchToken.UnitVerdict.ExpiryMismatch) _fail("batch ", id, " verifies a wrong expiry otherwise than ExpiryMismatch", 0);
            if (token.verifyUnit(b.gtin, "NOLOT", SerialTree.serial(id, 0), b.expiryDay, 0, proof0) != IBatchToken.UnitVerdict.UnknownBatch) _fail("batch ", id, " verifies an unknown lot otherwise than UnknownBatch", 0);
        }
    }

    /// @dev {IBatchToken-verifyUnit}'s order: Withdrawn, Recalled, Quarantined, the pack's own state, Expired, Genuine.
    function _expectedVerdict(uint256 id, uint256 u) internal view returns (IBatchToken.UnitVerdict) {
        BatchModel storage b = batches[id];
        if (withdrawn[b.gtin]) return IBatchToken.UnitVerdict.Withdrawn;
        if (b.recalled) return IBatchToken.UnitVerdict.Recalled;
        if (b.quarantineDE || b.quarantineFR) return IBatchToken.UnitVerdict.Quarantined;
        uint8 s = packs[id][u].state;
        if (s == uint8(IBatchToken.PackState.Dispensed)) return IBatchToken.UnitVerdict.Dispensed;
        if (s >= uint8(IBatchToken.PackState.Destroyed)) return IBatchToken.UnitVerdict(uint8(IBatchToken.UnitVerdict.Destroyed) + s - uint8(IBatchToken.PackState.Destroyed));
        if (s == uint8(IBatchToken.PackState.InTransit)) return IBatchToken.UnitVerdict.InTransit;
        if (_expired(id)) return IBatchToken.UnitVerdict.Expired;
        return IBatchToken.UnitVerdict.Genuine;
    }

    // ─── Helpers ───────────────────────────────────────────────────────────────────────────────

    function _sumBalances(uint256 id) internal view returns (uint256 sum) {
        for (uint256 i = 0; i < ACTORS; ++i) sum += token.balanceOf(accounts[i], id);
        for (uint256 i = 0; i < rotatedKeys.length; ++i) sum += token.balanceOf(rotatedKeys[i], id);
        for (uint256 i = 0; i < GOVERNOR_POOL; ++i) sum += token.balanceOf(governorPool[i], id);
        sum += token.balanceOf(relayer, id) + token.balanceOf(address(token), id) + token.balanceOf(address(consortium), id);
    }

    function _pending(uint256 id) internal view returns (uint256 sum) {
        for (uint256 i = 0; i < openShipments.length; ++i) {
            ShipmentModel storage s = shipments[openShipments[i]];
            if (s.batchId == id) sum += s.quantity;
        }
    }

    function _none(bytes32 category) internal view {
        if (violations[category] != 0) revert(string.concat(_label(category), ": ", firstViolation[category], "; times: ", _decimal(violations[category])));
    }

    function _label(bytes32 category) internal pure returns (string memory) {
        uint256 n;
        while (n < 32 && category[n] != 0) ++n;
        bytes memory text = new bytes(n);
        for (uint256 i = 0; i < n; ++i) text[i] = category[i];
        return string(text);
    }

    function _fail(string memory a, uint256 x, string memory b, uint256 y) internal pure {
        revert(string.concat(a, _decimal(x), b, _decimal(y)));
    }
}
