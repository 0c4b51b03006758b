// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {EnumerableSet} from "@openzeppelin/contracts/utils/structs/EnumerableSet.sol";
import {Address} from "@openzeppelin/contracts/utils/Address.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {GS1} from "./libraries/GS1.sol";

/**
 * @title Consortium
 * @notice Member register and M-of-N governance of the consortium. See {IConsortium}.
 *
 * Design choice — why not OpenZeppelin's Governor: Governor counts token-weighted votes over a
 * voting period and executes only after that period ends (or through a super-quorum extension),
 * needs a votes token with checkpoints, and adds about 20 KB of bytecode. A consortium charter
 * asks for something smaller: "M named governors approve, then it runs, unless it expired". This
 * contract keeps that process to three functions and builds it from audited OpenZeppelin parts:
 * {EnumerableSet} for the governor set, {Address-functionCall} to run an action as a self-call
 * (the `onlyGovernance` pattern Governor itself uses), and {ERC2771Context} so governors and
 * regulators can act through the consortium's {ERC2771Forwarder}.
 *
 * Security considerations:
 * - Identity comes only from {_msgSender}; the only trusted forwarder is fixed at deployment.
 * - Governance actions run as calls from this contract to itself. They check `msg.sender` (not
 *   `_msgSender()`): a forwarded call always has the forwarder as `msg.sender`, so it can never
 *   pass as governance.
 * - Approvals are counted over the *current* governor set at execution, so removing a governor
 *   also withdraws its pending approvals, and they stay withdrawn if it is added again.
 * - No multicall or delegatecall is offered next to ERC-2771 (address spoofing).
 */
contract Consortium is IConsortium, ERC2771Context {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @dev Fewest approvals any action needs: no single key can change the consortium.
    uint256 public constant MIN_THRESHOLD = 2;
    uint64 private constant _MIN_PROPOSAL_LIFETIME = 1 hours;
    uint64 private constant _MAX_PROPOSAL_LIFETIME = 90 days;

    mapping(address account => Member) private _members;
    mapping(uint64 gln => address account) private _memberByGln;
    address[] private _memberList;

    EnumerableSet.AddressSet private _governors;
    uint256 private _threshold;
    bytes32 private _charterHash;
    uint64 private _proposalLifetime;

    uint256 private _proposalCount;
    mapping(uint256 proposalId => Proposal) private _proposals;
    /// @dev Each time an address becomes a governor it gets a fresh epoch; an approval records the
    /// epoch it was given in, so approvals from before a removal never count again after a re-add.
    uint256 private _lastGovernorEpoch;
    mapping(address governor => uint256 epoch) private _governorEpoch;
    mapping(uint256 proposalId => mapping(address governor => uint256 epoch)) private _approvalEpoch;

    modifier onlyGovernance() {
        if (msg.sender != address(this)) revert ConsortiumOnlyGovernance(_msgSender());
        _;
    }

    modifier onlyGovernor() {
        if (!_governors.contains(_msgSender())) revert ConsortiumNotGovernor(_msgSender());
        _;
    }

    /**
     * @param trustedForwarder_ The consortium's ERC2771Forwarder.
     * @param initialGovernors The governors; at least `initialThreshold`, no duplicates, no zero address.
     * @param initialThreshold Approvals a proposal needs (2 ≤ threshold ≤ governors).
     * @param initialCharterHash Hash of the governance charter document.
     * @param initialProposalLifetime Seconds a proposal stays open (one hour to 90 days).
     */
    constructor(
        address trustedForwarder_,
        address[] memory initialGovernors,
        uint256 initialThreshold,
        bytes32 initialCharterHash,
        uint64 initialProposalLifetime
    ) ERC2771Context(trustedForwarder_) {
        for (uint256 i = 0; i < initialGovernors.length; ++i) {
            _addGovernor(initialGovernors[i]);
        }
        _setThreshold(initialThreshold);
        _setCharter(initialCharterHash);
        _setProposalLifetime(initialProposalLifetime);
    }

    // ─── Governance process ────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortium
    function propose(bytes calldata action) external onlyGovernor returns (uint256 proposalId) {
        bytes4 selector = action.length >= 4 ? bytes4(action[:4]) : bytes4(0);
        if (!_isGovernanceAction(selector)) revert ConsortiumUnsupportedAction(selector);

        proposalId = ++_proposalCount;
        uint64 expiresAt = uint64(block.timestamp) + _proposalLifetime;
        _proposals[proposalId] = Proposal({proposer: _msgSender(), expiresAt: expiresAt, executed: false, action: action});
        emit ProposalCreated(proposalId, _msgSender(), selector, action, expiresAt);

        _approve(proposalId, _msgSender());
    }

    /// @inheritdoc IConsortium
    function approve(uint256 proposalId) external onlyGovernor {
        _requireOpen(proposalId);
        if (hasApproved(proposalId, _msgSender())) revert ConsortiumAlreadyApproved(proposalId, _msgSender());
        _approve(proposalId, _msgSender());
    }

    /// @inheritdoc IConsortium
    function execute(uint256 proposalId) external onlyGovernor {
        Proposal storage p = _requireOpen(proposalId);
        uint256 approvals = approvalCount(proposalId);
        if (approvals < _threshold) revert ConsortiumInsufficientApprovals(proposalId, approvals, _threshold);

        // Marked before the call: the action runs on this contract and must not find the proposal open.
        p.executed = true;
        emit ProposalExecuted(proposalId, _msgSender());
        Address.functionCall(address(this), p.action);
    }

    // ─── Governance actions ────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortium
    function admitMember(
        address account,
        Role role,
        uint64 gln,
        bytes2 jurisdiction,
        bytes32 licenceHash,
        uint64 licenceExpiry
    ) external onlyGovernance {
        if (account == address(0)) revert ConsortiumZeroAddress();
        if (_members[account].status != MemberStatus.None) revert ConsortiumMemberExists(account);
        if (role == Role.None) revert ConsortiumInvalidRole(role);
        if (!GS1.isValidGln(gln)) revert ConsortiumInvalidGln(gln);
        address glnHolder = _memberByGln[gln];
        if (glnHolder != address(0)) revert ConsortiumGlnTaken(gln, glnHolder);
        if (!_isJurisdiction(jurisdiction)) revert ConsortiumInvalidJurisdiction(jurisdiction);
        _requireLicence(licenceHash, licenceExpiry);

        _members[account] = Member({
            role: role,
            status: MemberStatus.Active,
            jurisdiction: jurisdiction,
            gln: gln,
            licenceExpiry: licenceExpiry,
            licenceHash: licenceHash
        });
        _memberByGln[gln] = account;
        _memberList.push(account);
        emit MemberAdmitted(account, role, gln, jurisdiction, licenceHash, licenceExpiry);
    }

    /// @inheritdoc IConsortium
    function changeRole(address account, Role role) external onlyGovernance {
        Member storage m = _requireMember(account);
        if (m.status == MemberStatus.Revoked) revert ConsortiumInvalidMemberStatus(account, m.status);
        Role previous = m.role;
        if (role == Role.None || role == previous) revert ConsortiumInvalidRole(role);
        m.role = role;
        emit MemberRoleChanged(account, previous, role);
    }

    /// @inheritdoc IConsortium
    function suspendMember(address account, bytes32 reasonHash) external onlyGovernance {
        Member storage m = _requireMember(account);
        if (m.status != MemberStatus.Active) revert ConsortiumInvalidMemberStatus(account, m.status);
        m.status = MemberStatus.Suspended;
        emit MemberSuspended(account, address(this), reasonHash);
    }

    /// @inheritdoc IConsortium
    function reinstateMember(address account) external onlyGovernance {
        Member storage m = _requireMember(account);
        if (m.status != MemberStatus.Suspended) revert ConsortiumInvalidMemberStatus(account, m.status);
        m.status = MemberStatus.Active;
        emit MemberReinstated(account);
    }

    /// @inheritdoc IConsortium
    function revokeMember(address account, bytes32 reasonHash) external onlyGovernance {
        Member storage m = _requireMember(account);
        if (m.status == MemberStatus.Revoked) revert ConsortiumInvalidMemberStatus(account, m.status);
        m.status = MemberStatus.Revoked;
        emit MemberRevoked(account, reasonHash);
    }

    /// @inheritdoc IConsortium
    function renewLicence(address account, bytes32 licenceHash, uint64 licenceExpiry) external onlyGovernance {
        Member storage m = _requireMember(account);
        if (m.status == MemberStatus.Revoked) revert ConsortiumInvalidMemberStatus(account, m.status);
        _requireLicence(licenceHash, licenceExpiry);
        m.licenceHash = licenceHash;
        m.licenceExpiry = licenceExpiry;
        emit LicenceRenewed(account, licenceHash, licenceExpiry);
    }

    /// @inheritdoc IConsortium
    function addGovernor(address governor) external onlyGovernance {
        _addGovernor(governor);
    }

    /// @inheritdoc IConsortium
    function removeGovernor(address governor) external onlyGovernance {
        if (!_governors.remove(governor)) revert ConsortiumNotGovernor(governor);
        if (_governors.length() < _threshold) revert ConsortiumInvalidThreshold(_threshold, _governors.length());
        emit GovernorRemoved(governor);
    }

    /// @inheritdoc IConsortium
    function setThreshold(uint256 newThreshold) external onlyGovernance {
        _setThreshold(newThreshold);
    }

    /// @inheritdoc IConsortium
    function setCharter(bytes32 newCharterHash) external onlyGovernance {
        _setCharter(newCharterHash);
    }

    /// @inheritdoc IConsortium
    function setProposalLifetime(uint64 lifetime) external onlyGovernance {
        _setProposalLifetime(lifetime);
    }

    // ─── Regulator emergency power ─────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortium
    function emergencySuspend(address account, bytes32 reasonHash) external {
        address regulator = _msgSender();
        if (activeRole(regulator) != Role.Regulator) revert ConsortiumNotActiveRegulator(regulator);
        Member storage m = _requireMember(account);
        if (m.status != MemberStatus.Active) revert ConsortiumInvalidMemberStatus(account, m.status);
        if (m.role == Role.Regulator) revert ConsortiumCannotSuspendRegulator(account);
        bytes2 regulatorJurisdiction = _members[regulator].jurisdiction;
        if (m.jurisdiction != regulatorJurisdiction) {
            revert ConsortiumJurisdictionMismatch(regulatorJurisdiction, m.jurisdiction);
        }
        m.status = MemberStatus.Suspended;
        emit MemberSuspended(account, regulator, reasonHash);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortium
    function activeRole(address account) public view returns (Role) {
        Member storage m = _members[account];
        // A licence is valid up to, not including, its expiry second: nobody has to act when it lapses.
        if (m.status != MemberStatus.Active || block.timestamp >= m.licenceExpiry) return Role.None;
        return m.role;
    }

    /// @inheritdoc IConsortium
    function isActiveMember(address account) external view returns (bool) {
        return activeRole(account) != Role.None;
    }

    /// @inheritdoc IConsortium
    function member(address account) external view returns (Member memory) {
        return _members[account];
    }

    /// @inheritdoc IConsortium
    function memberByGln(uint64 gln) external view returns (address) {
        return _memberByGln[gln];
    }

    /// @inheritdoc IConsortium
    function members() external view returns (address[] memory) {
        return _memberList;
    }

    /// @inheritdoc IConsortium
    function governors() external view returns (address[] memory) {
        return _governors.values();
    }

    /// @inheritdoc IConsortium
    function isGovernor(address account) external view returns (bool) {
        return _governors.contains(account);
    }

    /// @inheritdoc IConsortium
    function threshold() external view returns (uint256) {
        return _threshold;
    }

    /// @inheritdoc IConsortium
    function charterHash() external view returns (bytes32) {
        return _charterHash;
    }

    /// @inheritdoc IConsortium
    function proposalLifetime() external view returns (uint64) {
        return _proposalLifetime;
    }

    /// @inheritdoc IConsortium
    function proposalCount() external view returns (uint256) {
        return _proposalCount;
    }

    /// @inheritdoc IConsortium
    function proposal(uint256 proposalId) external view returns (Proposal memory) {
        return _proposals[proposalId];
    }

    /// @inheritdoc IConsortium
    function approvalCount(uint256 proposalId) public view returns (uint256 approvals) {
        uint256 n = _governors.length();
        for (uint256 i = 0; i < n; ++i) {
            if (hasApproved(proposalId, _governors.at(i))) ++approvals;
        }
    }

    /// @inheritdoc IConsortium
    function hasApproved(uint256 proposalId, address governor) public view returns (bool) {
        uint256 epoch = _approvalEpoch[proposalId][governor];
        return epoch != 0 && epoch == _governorEpoch[governor] && _governors.contains(governor);
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    function _approve(uint256 proposalId, address governor) private {
        _approvalEpoch[proposalId][governor] = _governorEpoch[governor];
        emit ProposalApproved(proposalId, governor);
    }

    function _requireOpen(uint256 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.proposer == address(0)) revert ConsortiumUnknownProposal(proposalId);
        if (p.executed) revert ConsortiumProposalAlreadyExecuted(proposalId);
        if (block.timestamp >= p.expiresAt) revert ConsortiumProposalExpired(proposalId, p.expiresAt);
    }

    function _requireMember(address account) private view returns (Member storage m) {
        m = _members[account];
        if (m.status == MemberStatus.None) revert ConsortiumUnknownMember(account);
    }

    function _requireLicence(bytes32 licenceHash, uint64 licenceExpiry) private view {
        if (licenceHash == bytes32(0)) revert ConsortiumEmptyLicence();
        if (licenceExpiry <= block.timestamp) revert ConsortiumLicenceExpiryInPast(licenceExpiry, block.timestamp);
    }

    function _addGovernor(address governor) private {
        if (governor == address(0)) revert ConsortiumZeroAddress();
        // This contract can never approve: as a governor it would only make thresholds unreachable.
        if (governor == address(this)) revert ConsortiumInvalidGovernor(governor);
        if (!_governors.add(governor)) revert ConsortiumGovernorExists(governor);
        _governorEpoch[governor] = ++_lastGovernorEpoch;
        emit GovernorAdded(governor);
    }

    function _setThreshold(uint256 newThreshold) private {
        uint256 count = _governors.length();
        if (newThreshold < MIN_THRESHOLD || newThreshold > count) revert ConsortiumInvalidThreshold(newThreshold, count);
        emit ThresholdChanged(_threshold, newThreshold);
        _threshold = newThreshold;
    }

    function _setCharter(bytes32 newCharterHash) private {
        if (newCharterHash == bytes32(0)) revert ConsortiumEmptyCharter();
        emit CharterChanged(_charterHash, newCharterHash);
        _charterHash = newCharterHash;
    }

    function _setProposalLifetime(uint64 lifetime) private {
        if (lifetime < _MIN_PROPOSAL_LIFETIME || lifetime > _MAX_PROPOSAL_LIFETIME) {
            revert ConsortiumInvalidProposalLifetime(lifetime);
        }
        emit ProposalLifetimeChanged(_proposalLifetime, lifetime);
        _proposalLifetime = lifetime;
    }

    function _isGovernanceAction(bytes4 selector) private pure returns (bool) {
        return
            selector == this.admitMember.selector ||
            selector == this.changeRole.selector ||
            selector == this.suspendMember.selector ||
            selector == this.reinstateMember.selector ||
            selector == this.revokeMember.selector ||
            selector == this.renewLicence.selector ||
            selector == this.addGovernor.selector ||
            selector == this.removeGovernor.selector ||
            selector == this.setThreshold.selector ||
            selector == this.setCharter.selector ||
            selector == this.setProposalLifetime.selector;
    }

    function _isJurisdiction(bytes2 code) private pure returns (bool) {
        return code[0] >= "A" && code[0] <= "Z" && code[1] >= "A" && code[1] <= "Z";
    }

    // ─── ERC-2771 resolution ───────────────────────────────────────────────────────────────────

    function _msgSender() internal view override(ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
