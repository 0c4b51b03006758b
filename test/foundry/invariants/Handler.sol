// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {IConsortium} from "../../../contracts/interfaces/IConsortium.sol";
import {Checks} from "./Checks.sol";
import {IBatchToken} from "../../../contracts/interfaces/IBatchToken.sol";
import {vm} from "../utils/Vm.sol";

/**
 * @title Handler
 * @notice The only contract the fuzzer calls. Each entry point takes one fuzzed seed and performs
 * one action of one actor (or, for {govern}, one whole proposal), then reads the call's logs. The
 * system starts, in {bootstrap}, as a consortium of nine members (two producers owning prefixes
 * 9506000 and 9506001, two distributors, two pharmacies, regulators of DE and FR, an auditor;
 * two licences lapse within days), four governors with threshold 2, two registered products, and
 * four batches: 12 packs in cases of 3 on pallets of 2 cases; 7 packs in cases of 3; 5 loose
 * packs; 30 units without serials.
 */
contract Handler is Checks {
    /**
     * @dev Every entry point slices its one seed into many choices (`seed % 7`, `seed >> 64`, ...).
     * forge draws most inputs from its dictionary (small constants, storage values, addresses),
     * whose high bits are zero: hashed first, each still gives the same call when replayed or shrunk.
     */
    function _mix(uint256 seed) internal pure returns (uint256) {
        return uint256(keccak256(abi.encode(seed)));
    }

    modifier step(bool governance) {
        governanceCall = governance;
        bool pausedBefore = token.paused();
        vm.recordLogs();
        _;
        _digestLogs(pausedBefore);
        calls++;
    }

    // ─── Setup ─────────────────────────────────────────────────────────────────────────────────

    function bootstrap() external {
        _deploy();
        vm.recordLogs();
        governanceCall = true;
        _admit(PRODUCER_A, IConsortium.Role.Producer, DE, 60 days, "9506000");
        _admit(PRODUCER_B, IConsortium.Role.Producer, FR, 60 days, "9506001");
        _admit(DISTRIBUTOR_1, IConsortium.Role.Distributor, DE, 60 days, "");
        _admit(DISTRIBUTOR_2, IConsortium.Role.Distributor, DE, 3 days, "");
        _admit(PHARMACY_1, IConsortium.Role.Pharmacy, DE, 60 days, "");
        _admit(PHARMACY_2, IConsortium.Role.Pharmacy, FR, 2 days + 12 hours, "");
        _admit(REGULATOR_DE, IConsortium.Role.Regulator, DE, 60 days, "");
        _admit(REGULATOR_FR, IConsortium.Role.Regulator, FR, 60 days, "");
        _admit(AUDITOR, IConsortium.Role.Auditor, DE, 60 days, "");
        _digestLogs(false);

        bytes2[] memory markets = new bytes2[](2);
        (markets[0], markets[1]) = (DE, FR);
        vm.prank(accounts[PRODUCER_A]);
        token.registerProduct(GTIN_A, markets, keccak256("master data A"));
        vm.prank(accounts[PRODUCER_B]);
        token.registerProduct(GTIN_B, markets, keccak256("master data B"));

        uint32 today = uint32(_today());
        uint256 direct = 1 << 12;
        _mintWith(MintSpec(PRODUCER_A, 12, 12, 3, 2, today + 8, 0), direct);
        _mintWith(MintSpec(PRODUCER_B, 7, 7, 3, 0, today + 3, 2), direct);
        _mintWith(MintSpec(PRODUCER_A, 5, 5, 0, 0, today + 1, 1), direct);
        _mintWith(MintSpec(PRODUCER_A, 0, 30, 0, 0, today + 20, 0), direct);
        // Some stock already down the chain, so every run reaches the pharmacies' actions.
        _deliverExact(1, PRODUCER_A, DISTRIBUTOR_1, _items1(IBatchToken.ItemKind.Pallet, 1, 1), 0);
        _deliverExact(1, DISTRIBUTOR_1, PHARMACY_1, _items1(IBatchToken.ItemKind.Case, 3, 1), 0);
        _deliverExact(2, PRODUCER_B, DISTRIBUTOR_2, _items1(IBatchToken.ItemKind.Case, 0, 2), 0);
        _deliverExact(2, DISTRIBUTOR_2, PHARMACY_2, _items1(IBatchToken.ItemKind.Case, 0, 1), 0);
        _deliverExact(3, PRODUCER_A, DISTRIBUTOR_1, _items1(IBatchToken.ItemKind.Units, 0, 3), 0);
        _deliverExact(3, DISTRIBUTOR_1, PHARMACY_1, _items1(IBatchToken.ItemKind.Units, 0, 2), 0);
        _deliverExact(4, PRODUCER_A, DISTRIBUTOR_1, new IBatchToken.Item[](0), 10);
        _deliverExact(4, DISTRIBUTOR_1, PHARMACY_1, new IBatchToken.Item[](0), 5);
        _digestLogs(false);
        governanceCall = false;
        calls = 0;
    }

    function _admit(uint256 who, IConsortium.Role role, bytes2 jurisdiction, uint256 licence, string memory prefix) internal {
        string[] memory prefixes = new string[](bytes(prefix).length == 0 ? 0 : 1);
        if (prefixes.length != 0) prefixes[0] = prefix;
        bytes memory action = abi.encodeCall(
            IConsortium.admitMember,
            (accounts[who], role, _glnOf(950600013400 + who), jurisdiction, keccak256("licence v1"), uint64(block.timestamp + licence), prefixes)
        );
        uint256 direct = 1 << 20;
        uint256 id = _propose(govs[0], address(consortium), action, direct);
        _approve(id, govs[1], direct);
        _execute(id, govs[0], direct);
    }

    function _deliverExact(uint256 batchId, uint256 from, uint256 to, IBatchToken.Item[] memory items, uint256 quantity) internal {
        ShipPlan memory plan;
        (plan.batchId, plan.sender, plan.receiver, plan.items) = (batchId, accounts[from], accounts[to], items);
        plan.quantity = items.length == 0 ? quantity : _unitsIn(batchId, items);
        (plan.allowed, plan.kind) = _flow(batchId, plan.sender, plan.receiver);
        bytes memory call = abi.encodeCall(IBatchToken.ship, (batchId, plan.receiver, plan.quantity, items, keccak256("despatch advice")));
        require(_memberCall(from, 1 << 12, STOCK_ROLES, address(token), call), "bootstrap: shipment refused");
        uint256 id = _recordShipment(plan);
        _acceptShipment(id, 1 | (1 << 12));
        require(!shipments[id].open, "bootstrap: acceptance refused");
    }

    /// @notice The selectors the fuzzer calls.
    function actions() external pure returns (bytes4[] memory s) {
        s = new bytes4[](28);
        s[0] = this.mint.selector;
        s[1] = this.ship.selector;
        s[2] = this.deliver.selector;
        s[3] = this.acceptShipment.selector;
        s[4] = this.rejectShipment.selector;
        s[5] = this.cancelShipment.selector;
        s[6] = this.unpack.selector;
        s[7] = this.dispense.selector;
        s[8] = this.undoDispense.selector;
        s[9] = this.decommission.selector;
        s[10] = this.revertDecommission.selector;
        s[11] = this.lock.selector;
        s[12] = this.unlock.selector;
        s[13] = this.writeOff.selector;
        s[14] = this.quarantine.selector;
        s[15] = this.liftQuarantine.selector;
        s[16] = this.recall.selector;
        s[17] = this.setProductStatus.selector;
        s[18] = this.emergencySuspend.selector;
        s[19] = this.govern.selector;
        s[20] = this.propose.selector;
        s[21] = this.approve.selector;
        s[22] = this.withdrawApproval.selector;
        s[23] = this.cancelProposal.selector;
        s[24] = this.execute.selector;
        s[25] = this.warp.selector;
        s[26] = this.governMembers.selector;
        s[27] = this.governGovernors.selector;
    }

    // ─── Custody ───────────────────────────────────────────────────────────────────────────────

    function mint(uint256 seed) external step(false) {
        seed = _mix(seed);
        _mint(seed);
    }

    function ship(uint256 seed) external step(false) {
        seed = _mix(seed);
        _ship(seed);
    }

    /// @notice Ship, then accept at once: most goods flow this way, and it reaches deeper states.
    function deliver(uint256 seed) external step(false) {
        seed = _mix(seed);
        uint256 id = _ship(seed);
        if (id != 0) _acceptShipment(id, seed >> 128);
    }

    function acceptShipment(uint256 seed) external step(false) {
        seed = _mix(seed);
        _accept(seed);
    }

    function rejectShipment(uint256 seed) external step(false) {
        seed = _mix(seed);
        _reject(seed);
    }

    function cancelShipment(uint256 seed) external step(false) {
        seed = _mix(seed);
        _cancel(seed);
    }

    function unpack(uint256 seed) external step(false) {
        seed = _mix(seed);
        _unpack(seed);
    }

    function dispense(uint256 seed) external step(false) {
        seed = _mix(seed);
        _dispense(seed);
    }

    function undoDispense(uint256 seed) external step(false) {
        seed = _mix(seed);
        _undoDispense(seed);
    }

    function decommission(uint256 seed) external step(false) {
        seed = _mix(seed);
        _decommission(seed);
    }

    function revertDecommission(uint256 seed) external step(false) {
        seed = _mix(seed);
        _revertDecommission(seed);
    }

    function lock(uint256 seed) external step(false) {
        seed = _mix(seed);
        _lock(seed);
    }

    function unlock(uint256 seed) external step(false) {
        seed = _mix(seed);
        _unlock(seed);
    }

    function writeOff(uint256 seed) external step(false) {
        seed = _mix(seed);
        _writeOff(seed);
    }

    function quarantine(uint256 seed) external step(false) {
        seed = _mix(seed);
        _quarantine(seed, false);
    }

    function liftQuarantine(uint256 seed) external step(false) {
        seed = _mix(seed);
        _quarantine(seed, true);
    }

    function recall(uint256 seed) external step(false) {
        seed = _mix(seed);
        _recall(seed);
    }

    function setProductStatus(uint256 seed) external step(false) {
        seed = _mix(seed);
        _setProductStatus(seed);
    }

    function emergencySuspend(uint256 seed) external step(false) {
        seed = _mix(seed);
        uint256 caller = _regulatorish(seed);
        // Two calls in three aim at a regulator, which only governance may suspend: suspensions stay rare.
        address target = (seed >> 6) % 3 == 0 ? accounts[(seed >> 8) % ACTORS] : accounts[caller];
        Rebuilt storage t = rebuilt[target];
        bool entitled = _activeRole(accounts[caller]) == IConsortium.Role.Regulator && t.status == IConsortium.MemberStatus.Active &&
            t.role != IConsortium.Role.Regulator && t.jurisdiction == rebuilt[accounts[caller]].jurisdiction;
        bool ok = _memberCall(caller, seed >> 16, REGULATOR_ROLE, address(consortium), abi.encodeCall(IConsortium.emergencySuspend, (target, keccak256("emergency"))));
        if (ok && !entitled) _violation("entitlement", "an emergency suspension outside the regulator's powers succeeded");
    }

    // ─── Governance ────────────────────────────────────────────────────────────────────────────

    function govern(uint256 seed) external step(true) {
        seed = _mix(seed);
        (address target, bytes memory action) = _governanceAction(seed);
        _govern(target, action, seed >> 64);
    }

    /// @notice A whole proposal that changes the register (roles, status, licences, keys, admissions).
    function governMembers(uint256 seed) external step(true) {
        seed = _mix(seed);
        (address target, bytes memory action) = _memberAction(seed);
        _govern(target, action, seed >> 64);
    }

    /// @notice A whole proposal that changes the governor set or the threshold.
    function governGovernors(uint256 seed) external step(true) {
        seed = _mix(seed);
        (address target, bytes memory action) = _governorSetAction(seed);
        _govern(target, action, seed >> 64);
    }

    function propose(uint256 seed) external step(true) {
        seed = _mix(seed);
        (address target, bytes memory action) = _governanceAction(seed);
        _propose(_governor(seed >> 64), target, action, seed >> 128);
    }

    function approve(uint256 seed) external step(true) {
        seed = _mix(seed);
        _approve(_someProposal(seed), _governor(seed >> 64), seed >> 128);
    }

    function withdrawApproval(uint256 seed) external step(true) {
        seed = _mix(seed);
        _withdraw(_someProposal(seed), _governor(seed >> 64), seed >> 128);
    }

    function cancelProposal(uint256 seed) external step(true) {
        seed = _mix(seed);
        uint256 id = _someProposal(seed);
        address g = seed % 3 == 0 ? _governor(seed >> 64) : proposals[id].proposer;
        if (g == address(0)) return;
        _cancelOwn(id, g, seed >> 128);
    }

    /// @notice Executes a proposal: one time in two one that has its approvals (it may be old, or at its expiry).
    function execute(uint256 seed) external step(true) {
        seed = _mix(seed);
        _execute(seed % 2 == 0 ? _ripeProposal(seed >> 1) : _someProposal(seed >> 1), _governor(seed >> 64), seed >> 128);
    }

    // ─── Time ──────────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Moves time forward: a few minutes; to the second before or exactly at midnight; to the
     * second before or exactly at the next licence lapse (up to two weeks ahead), a batch's expiry
     * (the end of its expiry day), or a proposal's expiry; or a whole day.
     */
    function warp(uint256 seed) external step(false) {
        seed = _mix(seed);
        uint256 kind = seed % 9;
        uint256 s = seed >> 8;
        uint256 exact = s % 2; // 0: the second before, 1: exactly at
        uint256 target = block.timestamp + 1 days;
        if (kind == 0) {
            target = block.timestamp + 1 + (s % 3600);
        } else if (kind <= 2) {
            target = ((block.timestamp / 1 days) + 1) * 1 days - 1 + exact;
        } else if (kind <= 4) {
            uint256 expiry = _nextLapse();
            target = expiry != 0 && expiry <= block.timestamp + 14 days ? expiry - 1 + exact : 0;
        } else if (kind <= 6 && batchCount != 0) {
            target = (uint256(batches[1 + ((s >> 1) % batchCount)].expiryDay) + 1) * 1 days - 1 + exact;
        } else if (kind == 7 && proposalCount != 0) {
            target = uint256(proposals[_ripeProposal(s >> 1)].expiresAt) - 1 + exact;
        }
        // Other boundaries more than three days ahead would age the whole consortium at once: step an hour instead.
        if (target <= block.timestamp || (kind > 4 && target > block.timestamp + 3 days)) target = block.timestamp + 1 hours;
        vm.warp(target);
        vm.roll(block.number + 1);
    }

    /// @dev The soonest licence expiry still ahead (or now+1 when one lapses at the next second); 0 when none.
    function _nextLapse() internal view returns (uint256 next) {
        for (uint256 i = 0; i < ACTORS; ++i) {
            Rebuilt storage m = rebuilt[accounts[i]];
            if (m.status == IConsortium.MemberStatus.None || m.licenceExpiry <= block.timestamp) continue;
            if (next == 0 || m.licenceExpiry < next) next = m.licenceExpiry;
        }
    }

}
