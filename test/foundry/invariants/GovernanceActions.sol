// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IConsortium} from "../../../contracts/interfaces/IConsortium.sol";
import {IBatchToken} from "../../../contracts/interfaces/IBatchToken.sol";
import {CustodyActions} from "./CustodyActions.sol";
import {vm} from "../utils/Vm.sol";

/**
 * @title GovernanceActions
 * @notice The governance process (propose, approve, withdraw, cancel, execute) by governor keys,
 * direct or relayed, and the actions proposals carry: the register (admit, change role, suspend,
 * reinstate, revoke, renew, rotate key), the governor set and threshold, cancellation by
 * proposal, and the BatchToken's governance functions (pause, recovery, recall undo, undo
 * window). The model keeps the governor set with an epoch per addition, every approval with the
 * epoch it was given in, and what each proposal did. Violations recorded:
 * - "quorum": a proposal executed without `threshold` approvals of current governors;
 * - "execution": a proposal executed twice, after its expiry, or after it was cancelled;
 * - "governance": a propose, approve, withdraw or cancel the process forbids succeeded.
 */
abstract contract GovernanceActions is CustodyActions {
    // ─── The process ───────────────────────────────────────────────────────────────────────────

    /// @dev A current governor most of the time; one call in ten a key of the pool that may not be one.
    function _governor(uint256 seed) internal view returns (address) {
        if (seed % 10 == 0) return governorPool[(seed >> 4) % GOVERNOR_POOL];
        return govs[(seed >> 4) % govs.length];
    }

    function _isOpen(uint256 id) internal view returns (bool) {
        ProposalModel storage p = proposals[id];
        return p.proposer != address(0) && !p.executed && !p.cancelled && block.timestamp < p.expiresAt;
    }

    function _approved(uint256 id, address g) internal view returns (bool) {
        uint256 e = approvalEpoch[id][g];
        return e != 0 && isGov[g] && e == govEpoch[g];
    }

    function _approvals(uint256 id) internal view returns (uint256 n) {
        for (uint256 i = 0; i < govs.length; ++i) if (_approved(id, govs[i])) ++n;
    }

    function _propose(address g, address target, bytes memory action, uint256 seed) internal returns (uint256 id) {
        (bool ok, ) = _governorCall(g, seed, abi.encodeCall(IConsortium.propose, (target, action)));
        if (!ok) return 0;
        if (!isGov[g]) _violation("governance", "a key that is no governor proposed");
        id = ++proposalCount;
        if (consortium.proposalCount() != id) _violation("governance", "proposal ids do not count up from 1");
        proposals[id] = ProposalModel(g, uint64(block.timestamp) + PROPOSAL_LIFETIME, false, false, 0, target, action);
        approvalEpoch[id][g] = govEpoch[g];
    }

    function _approve(uint256 id, address g, uint256 seed) internal {
        bool entitled = isGov[g] && _isOpen(id) && !_approved(id, g);
        (bool ok, ) = _governorCall(g, seed, abi.encodeCall(IConsortium.approve, (id)));
        if (!ok) return;
        if (!entitled) _violation("governance", "an approval the process forbids was accepted");
        approvalEpoch[id][g] = govEpoch[g];
    }

    function _withdraw(uint256 id, address g, uint256 seed) internal {
        bool entitled = isGov[g] && _isOpen(id) && _approved(id, g);
        (bool ok, ) = _governorCall(g, seed, abi.encodeCall(IConsortium.withdrawApproval, (id)));
        if (!ok) return;
        if (!entitled) _violation("governance", "an approval was withdrawn that did not count");
        delete approvalEpoch[id][g];
    }

    function _cancelOwn(uint256 id, address g, uint256 seed) internal {
        bool entitled = isGov[g] && _isOpen(id) && proposals[id].proposer == g;
        (bool ok, ) = _governorCall(g, seed, abi.encodeCall(IConsortium.cancel, (id)));
        if (!ok) return;
        if (!entitled) _violation("governance", "a proposal was cancelled by other than its proposer, or when not open");
        proposals[id].cancelled = true;
    }

    function _execute(uint256 id, address g, uint256 seed) internal returns (bool ok) {
        bool open = _isOpen(id);
        uint256 approvals = _approvals(id);
        uint256 needed = threshold;
        bool governor = isGov[g];
        governanceCall = true; // what a proposal does to custody is governance, allowed while paused
        (ok, ) = _governorCall(g, seed, abi.encodeCall(IConsortium.execute, (id)));
        if (!ok) return false;
        ProposalModel storage p = proposals[id];
        if (++p.executions > 1) _violation("execution", "a proposal executed twice");
        if (!open) _violation("execution", "a proposal executed after its expiry, its cancellation or its execution");
        if (approvals < needed) _violation("quorum", "a proposal executed without a threshold of current governors' approvals");
        if (!governor) _violation("governance", "a key that is no governor executed a proposal");
        p.executed = true;
        _applyEffect(p.target, p.action);
    }

    /// @dev Propose, approve up to the threshold (one time in eight one short), and execute.
    function _govern(address target, bytes memory action, uint256 seed) internal returns (bool) {
        address proposer = govs[seed % govs.length];
        uint256 id = _propose(proposer, target, action, seed >> 8);
        if (id == 0) return false;
        uint256 wanted = (seed >> 16) % 8 == 0 ? threshold - 1 : threshold;
        for (uint256 i = 0; i < govs.length && _approvals(id) < wanted; ++i) {
            address g = govs[((seed % govs.length) + i) % govs.length];
            if (!_approved(id, g)) _approve(id, g, seed >> (24 + i));
        }
        return _execute(id, govs[(seed >> 40) % govs.length], seed >> 44);
    }

    /// @dev An existing proposal, the newest more often (they are the ones still open).
    function _someProposal(uint256 seed) internal view returns (uint256) {
        if (proposalCount == 0) return 0;
        uint256 back = seed % 4 == 0 ? (seed >> 2) % proposalCount : (seed >> 2) % (proposalCount < 3 ? proposalCount : 3);
        return proposalCount - back;
    }

    /// @dev One of the last 32 proposals that is open with a threshold of approvals (so executable
    /// until its expiry), searched from a seeded start; else {_someProposal}.
    function _ripeProposal(uint256 seed) internal view returns (uint256) {
        uint256 window = proposalCount < 32 ? proposalCount : 32;
        for (uint256 k = 0; k < window; ++k) {
            uint256 id = proposalCount - ((seed + k) % window);
            if (_isOpen(id) && _approvals(id) >= threshold) return id;
        }
        return _someProposal(seed);
    }

    // ─── What proposals carry ──────────────────────────────────────────────────────────────────

    /// @dev Any of the 21 kinds of action below (one of them refused at propose).
    function _governanceAction(uint256 seed) internal returns (address target, bytes memory action) {
        return _actionOf(seed % 21, seed >> 8);
    }

    /// @dev A change to the register: role, suspension, reinstatement, revocation or renewal, key rotation, admission.
    function _memberAction(uint256 seed) internal returns (address target, bytes memory action) {
        uint8[7] memory kinds = [11, 12, 13, 15, 16, 17, 19];
        return _actionOf(kinds[seed % 7], seed >> 8);
    }

    /// @dev A change to the governor set: threshold, addition, removal, replacement.
    function _governorSetAction(uint256 seed) internal returns (address target, bytes memory action) {
        return _actionOf(7 + (seed % 4), seed >> 8);
    }

    function _actionOf(uint256 kind, uint256 s) internal returns (address target, bytes memory action) {
        address c = address(consortium);
        address t = address(token);
        address member = accounts[s % ACTORS];
        // A pause stops all custody: resume at once, pause one time in four.
        if (kind <= 1 && (paused || s % 4 == 0)) return (t, abi.encodeCall(IBatchToken.setPaused, (!paused, keccak256("incident"))));
        if (kind <= 1) return (c, abi.encodeCall(IConsortium.reinstateMember, (member)));
        if (kind <= 3) return (t, _recoverCustodyAction(s));
        if (kind == 4) return (t, _recoverShipmentAction(s));
        if (kind == 5) return (t, abi.encodeCall(IBatchToken.undoRecall, (batchCount == 0 ? 1 : 1 + (s % batchCount), keccak256("recalled in error"))));
        if (kind == 6) return (t, abi.encodeCall(IBatchToken.setUndoWindow, (uint16(s % 16))));
        if (kind == 7) return (c, abi.encodeCall(IConsortium.setThreshold, (1 + (s % (govs.length + 1)))));
        if (kind == 8) return (c, abi.encodeCall(IConsortium.addGovernor, (governorPool[s % GOVERNOR_POOL])));
        if (kind == 9) return (c, abi.encodeCall(IConsortium.removeGovernor, (govs[s % govs.length])));
        if (kind == 10) return (c, abi.encodeCall(IConsortium.replaceGovernor, (govs[s % govs.length], governorPool[(s >> 8) % GOVERNOR_POOL])));
        if (kind == 11) return (c, abi.encodeCall(IConsortium.changeRole, (member, IConsortium.Role(1 + ((s >> 8) % 5)))));
        if (kind == 12) return (c, abi.encodeCall(IConsortium.suspendMember, (member, keccak256("audit finding"))));
        if (kind <= 14) return (c, abi.encodeCall(IConsortium.reinstateMember, (member)));
        if (kind == 15) {
            // Revocation is final: most of these renew a licence instead.
            if ((s >> 8) % 4 == 0) return (c, abi.encodeCall(IConsortium.revokeMember, (member, keccak256("licence withdrawn"))));
            return (c, abi.encodeCall(IConsortium.renewLicence, (member, keccak256("licence v2"), uint64(block.timestamp + 1 days + ((s >> 10) % 40 days)))));
        }
        if (kind == 16) return (c, abi.encodeCall(IConsortium.renewLicence, (member, keccak256("licence v2"), uint64(block.timestamp + 1 + ((s >> 8) % 40 days)))));
        if (kind == 17) return (c, abi.encodeCall(IConsortium.rotateKey, (member, _freshKey())));
        if (kind == 18) return (c, abi.encodeCall(IConsortium.cancelProposal, (_someProposal(s))));
        if (kind == 19) return (c, _admitAction(s));
        return (c, abi.encodeCall(IConsortium.emergencySuspend, (member, bytes32(0)))); // not a governance action: refused at propose
    }

    function _freshKey() internal returns (address key) {
        uint256 pk = 0xC000 + ++keyNonce;
        key = vm.addr(pk);
        pkOf[key] = pk;
    }

    function _admitAction(uint256 s) internal view returns (bytes memory) {
        uint256 who = s % 2 == 0 ? SPARE_1 : SPARE_2;
        string[] memory prefixes = new string[](0);
        return abi.encodeCall(
            IConsortium.admitMember,
            (
                accounts[who],
                IConsortium.Role(1 + ((s >> 1) % 5)),
                _glnOf(950600013400 + who),
                (s >> 4) % 2 == 0 ? DE : FR,
                keccak256("licence v1"),
                uint64(block.timestamp + 20 days),
                prefixes
            )
        );
    }

    function _recoverCustodyAction(uint256 s) internal view returns (bytes memory) {
        if (batchCount == 0) return abi.encodeCall(IBatchToken.setUndoWindow, (10));
        uint256 batchId = 1 + (s % batchCount);
        BatchModel storage b = batches[batchId];
        address to = (s >> 8) % 4 == 0 ? address(0) : accounts[(s >> 10) % ACTORS];
        IBatchToken.PackState state = (s >> 16) % 2 == 0 ? IBatchToken.PackState.Destroyed : IBatchToken.PackState.Stolen;
        IBatchToken.Item[] memory items;
        address from;
        uint256 quantity;
        if (b.units == 0) {
            (from, quantity) = _holderOfQuantity(batchId, s >> 20);
        } else {
            uint256 u = (s >> 20) % 3 == 0
                ? _findPack(batchId, s >> 24, uint8(IBatchToken.PackState.Locked))
                : _findPack(batchId, s >> 24, uint8(IBatchToken.PackState.Held));
            if (u == type(uint256).max) u = _findPack(batchId, s >> 24, uint8(IBatchToken.PackState.Held));
            if (u == type(uint256).max) return abi.encodeCall(IBatchToken.setUndoWindow, (10));
            PackModel storage p = packs[batchId][u];
            from = p.holder;
            items = p.state == uint8(IBatchToken.PackState.Locked) ? _settingItem(batchId, u) : _itemsAround(batchId, u, s >> 32);
            quantity = _unitsIn(batchId, items);
        }
        if (from == address(0)) return abi.encodeCall(IBatchToken.setUndoWindow, (10));
        return abi.encodeCall(IBatchToken.recoverCustody, (batchId, from, to, quantity, items, state, keccak256("evidence")));
    }

    function _recoverShipmentAction(uint256 s) internal view returns (bytes memory) {
        if (openShipments.length == 0) return abi.encodeCall(IBatchToken.setUndoWindow, (10));
        uint256 id = openShipments[s % openShipments.length];
        return abi.encodeCall(IBatchToken.recoverShipment, (id, _shipment(id), accounts[(s >> 8) % ACTORS], keccak256("evidence")));
    }

    // ─── What an executed proposal did, by the model ───────────────────────────────────────────

    function _args(bytes memory action) internal pure returns (bytes memory a) {
        a = new bytes(action.length - 4);
        for (uint256 i = 0; i < a.length; ++i) a[i] = action[i + 4];
    }

    function _applyEffect(address target, bytes memory action) internal {
        bytes4 sel = bytes4(action);
        bytes memory a = _args(action);
        if (target == address(token)) {
            _applyTokenEffect(sel, a);
            return;
        }
        if (sel == IConsortium.setThreshold.selector) {
            uint256 t = abi.decode(a, (uint256));
            if (t < 2 || t + 1 > govs.length) _violation("governance", "a threshold outside 2 ... N - 1 was set");
            threshold = t;
        } else if (sel == IConsortium.addGovernor.selector) {
            _addGov(abi.decode(a, (address)));
        } else if (sel == IConsortium.removeGovernor.selector) {
            _removeGov(abi.decode(a, (address)));
            if (threshold + 1 > govs.length) _violation("governance", "a removal left the threshold above N - 1");
        } else if (sel == IConsortium.replaceGovernor.selector) {
            (address old, address fresh) = abi.decode(a, (address, address));
            _removeGov(old);
            _addGov(fresh);
        } else if (sel == IConsortium.cancelProposal.selector) {
            uint256 id = abi.decode(a, (uint256));
            if (!_isOpen(id)) _violation("governance", "a proposal that was not open was cancelled");
            proposals[id].cancelled = true;
        } else if (sel == IConsortium.rotateKey.selector) {
            (address account, address key) = abi.decode(a, (address, address));
            retiredKeys[account].push(currentKey[account]);
            currentKey[account] = key;
            rotatedKeys.push(key);
        }
        // The register itself (admit, role, status, licence) is rebuilt from events, not modelled here.
    }

    function _addGov(address g) internal {
        if (isGov[g]) _violation("governance", "a governor was added twice");
        govs.push(g);
        isGov[g] = true;
        govEpoch[g] = ++epochs;
    }

    function _removeGov(address g) internal {
        if (!isGov[g]) _violation("governance", "a key that was no governor was removed");
        isGov[g] = false;
        for (uint256 i = 0; i < govs.length; ++i) {
            if (govs[i] == g) {
                govs[i] = govs[govs.length - 1];
                govs.pop();
                return;
            }
        }
    }

    function _applyTokenEffect(bytes4 sel, bytes memory a) internal {
        if (sel == IBatchToken.setPaused.selector) {
            (paused, ) = abi.decode(a, (bool, bytes32));
        } else if (sel == IBatchToken.setUndoWindow.selector) {
            undoWindow = abi.decode(a, (uint16));
        } else if (sel == IBatchToken.undoRecall.selector) {
            (uint256 batchId, ) = abi.decode(a, (uint256, bytes32));
            if (!batches[batchId].recalled) _violation("overlay", "a recall was undone on a batch that was not recalled");
            batches[batchId].recalled = false;
        } else if (sel == IBatchToken.recoverShipment.selector) {
            (uint256 id, , address to, ) = abi.decode(a, (uint256, IBatchToken.Shipment, address, bytes32));
            if (!shipments[id].open) _violation("unheld", "a closed shipment was recovered");
            if (!_holdsStock(to)) _violation("credit", "a shipment was recovered to an address that cannot hold stock");
            _landShipment(id, to);
        } else if (sel == IBatchToken.recoverCustody.selector) {
            _applyRecovery(a);
        }
    }

    function _applyRecovery(bytes memory a) internal {
        (uint256 batchId, address from, address to, uint256 quantity, IBatchToken.Item[] memory items, IBatchToken.PackState state, ) =
            abi.decode(a, (uint256, address, address, uint256, IBatchToken.Item[], IBatchToken.PackState, bytes32));
        BatchModel storage b = batches[batchId];
        if (b.units == 0) {
            if (quantity > quantityOf[batchId][from]) _violation("unheld", "governance recovered units the member did not hold");
            else quantityOf[batchId][from] -= quantity;
            if (to == address(0)) b.recoveredFinal += quantity;
            else quantityOf[batchId][to] += quantity;
            return;
        }
        if (!_modelHolds(batchId, from, items, true)) _violation("unheld", "governance recovered packs the member did not hold or lock");
        if (to == address(0)) {
            _setPacks(batchId, items, uint8(state), from, address(0));
            b.recoveredFinal += quantity;
        } else {
            _setPacks(batchId, items, uint8(IBatchToken.PackState.Held), address(0), to);
        }
    }
}
