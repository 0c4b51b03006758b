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
 * asks for something smaller: "M named governors approve, then it runs, unless it expired or was
 * cancelled". This contract keeps that process to a few functions and builds it from audited
 * OpenZeppelin parts: {EnumerableSet} for the governor set, {Address-functionCall} to run an action
 * (the `onlyGovernance` self-call pattern Governor itself uses), and {ERC2771Context} so governors
 * and regulators can act through the consortium's {ERC2771Forwarder}.
 *
 * Security considerations:
 * - Identity comes only from {_msgSender}; the only trusted forwarder is fixed at deployment.
 *   Members are identified by their account; {_msgSender} is a key, mapped to its account by
 *   {actor}. A rotated key maps to nothing from the rotation on.
 * - Governance actions on this contract run as calls from this contract to itself. They check
 *   `msg.sender` (not `_msgSender()`): a forwarded call always has the forwarder as `msg.sender`,
 *   so it can never pass as governance. Actions on other targets are plain calls from this
 *   contract; only contracts that trust this contract (the BatchToken) give them any power.
 * - Approvals are counted over the *current* governor set at execution, so removing a governor
 *   also withdraws its pending approvals, and they stay withdrawn if it is added again.
 * - Every loop is bounded: over at most {MAX_GOVERNORS} governors, or over the 7 possible company
 *   prefix lengths. Members are read one by one ({accountAt}), never as one unbounded list.
 * - No multicall or delegatecall is offered next to ERC-2771 (address spoofing).
 */
// Seventeen state variables: the register, governance and key rotation each need theirs; splitting
// the contract would add cross-contract calls to every custody action that asks `actor`.
// solhint-disable-next-line max-states-count
contract Consortium is IConsortium, ERC2771Context {
    using EnumerableSet for EnumerableSet.AddressSet;

    /// @dev Fewest approvals any action needs: no single key can change the consortium.
    uint256 public constant MIN_THRESHOLD = 2;
    /// @inheritdoc IConsortium
    uint256 public constant MAX_GOVERNORS = 32;
    uint64 private constant _MIN_PROPOSAL_LIFETIME = 1 hours;
    uint64 private constant _MAX_PROPOSAL_LIFETIME = 90 days;
    uint256 private constant _MIN_PREFIX_DIGITS = 6;
    uint256 private constant _MAX_PREFIX_DIGITS = 12;

    mapping(address account => Member) private _members;
    mapping(uint64 gln => address account) private _memberByGln;
    address[] private _memberList;
    /// @dev Only for members whose key was rotated: until then an account signs for itself, which
    /// keeps {actor} at one storage read for nearly every call.
    mapping(address account => address key) private _keyOf;
    mapping(address key => address account) private _accountOfKey;
    /// @dev Keys rotated out: dead for good, never a key or an account again (they may have leaked).
    mapping(address key => bool) private _retiredKeys;

    mapping(uint64 prefixKey => address owner) private _prefixOwner;
    /// @dev How many registered prefixes are longer and start with this one (the no-overlap rule).
    mapping(uint64 prefixKey => uint256 count) private _longerPrefixes;

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
     * @param initialGovernors The governors: at least three (threshold ≤ N − 1), no duplicates, no zero address.
     * @param initialThreshold Approvals a proposal needs (2 ≤ threshold ≤ governors − 1).
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
    function propose(address target, bytes calldata action) external onlyGovernor returns (uint256 proposalId) {
        bytes4 selector = action.length >= 4 ? bytes4(action[:4]) : bytes4(0);
        if (target == address(this)) {
            if (!_isGovernanceAction(selector)) revert ConsortiumUnsupportedAction(selector);
        } else if (target.code.length == 0) {
            revert ConsortiumInvalidTarget(target);
        }

        proposalId = ++_proposalCount;
        uint64 expiresAt = uint64(block.timestamp) + _proposalLifetime;
        _proposals[proposalId] = Proposal({
            proposer: _msgSender(),
            expiresAt: expiresAt,
            executed: false,
            cancelled: false,
            target: target,
            action: action
        });
        emit ProposalCreated(proposalId, _msgSender(), selector, target, action, expiresAt);

        _approve(proposalId, _msgSender());
    }

    /// @inheritdoc IConsortium
    function approve(uint256 proposalId) external onlyGovernor {
        _requireOpen(proposalId);
        if (hasApproved(proposalId, _msgSender())) revert ConsortiumAlreadyApproved(proposalId, _msgSender());
        _approve(proposalId, _msgSender());
    }

    /// @inheritdoc IConsortium
    function withdrawApproval(uint256 proposalId) external onlyGovernor {
        _requireOpen(proposalId);
        address governor = _msgSender();
        if (!hasApproved(proposalId, governor)) revert ConsortiumNotApproved(proposalId, governor);
        delete _approvalEpoch[proposalId][governor];
        emit ProposalApprovalWithdrawn(proposalId, governor);
    }

    /// @inheritdoc IConsortium
    function cancel(uint256 proposalId) external onlyGovernor {
        Proposal storage p = _requireOpen(proposalId);
        if (p.proposer != _msgSender()) revert ConsortiumNotProposer(proposalId, _msgSender());
        p.cancelled = true;
        emit ProposalCancelled(proposalId, _msgSender());
    }

    /// @inheritdoc IConsortium
    function execute(uint256 proposalId) external onlyGovernor {
        Proposal storage p = _requireOpen(proposalId);
        uint256 approvals = approvalCount(proposalId);
        if (approvals < _threshold) revert ConsortiumInsufficientApprovals(proposalId, approvals, _threshold);

        // Marked before the call: the action may run on this contract and must not find the proposal open.
        p.executed = true;
        emit ProposalExecuted(proposalId, _msgSender());
        Address.functionCall(p.target, p.action);
    }

    // ─── Governance actions ────────────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortium
    function admitMember(
        address account,
        Role role,
        uint64 gln,
        bytes2 jurisdiction,
        bytes32 licenceHash,
        uint64 licenceExpiry,
        string[] calldata companyPrefixes
    ) external onlyGovernance {
        if (account == address(0)) revert ConsortiumZeroAddress();
        if (_members[account].status != MemberStatus.None) revert ConsortiumMemberExists(account);
        if (_accountOfKey[account] != address(0) || _retiredKeys[account]) revert ConsortiumKeyInUse(account);
        if (role == Role.None) revert ConsortiumInvalidRole(role);
        if (!GS1.isValidGln(gln)) revert ConsortiumInvalidGln(gln);
        address glnHolder = _memberByGln[gln];
        if (glnHolder != address(0)) revert ConsortiumGlnTaken(gln, glnHolder);
        if (!_isJurisdiction(jurisdiction)) revert ConsortiumInvalidJurisdiction(jurisdiction);
        _requireLicence(licenceHash, licenceExpiry);

        _memberList.push(account);
        uint32 index = uint32(_memberList.length); // Fits: one admission per proposal, far below 2^32.
        _members[account] = Member({
            role: role,
            status: MemberStatus.Active,
            jurisdiction: jurisdiction,
            gln: gln,
            licenceExpiry: licenceExpiry,
            index: index,
            keyRotated: false,
            licenceHash: licenceHash
        });
        _memberByGln[gln] = account;
        emit MemberAdmitted(account, role, gln, jurisdiction, licenceHash, licenceExpiry, index);
        for (uint256 i = 0; i < companyPrefixes.length; ++i) {
            _addCompanyPrefix(account, companyPrefixes[i]);
        }
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
    function rotateKey(address account, address newKey) external onlyGovernance {
        Member storage m = _requireMember(account);
        if (m.status == MemberStatus.Revoked) revert ConsortiumInvalidMemberStatus(account, m.status);
        if (newKey == address(0)) revert ConsortiumZeroAddress();
        // A current key, or any member's account (the rotating member's own included: its old
        // address may be the very key that leaked), can never sign for this member.
        if (_accountOfKey[newKey] != address(0) || _members[newKey].status != MemberStatus.None || _retiredKeys[newKey]) {
            revert ConsortiumKeyInUse(newKey);
        }
        address previousKey = m.keyRotated ? _keyOf[account] : account;
        delete _accountOfKey[previousKey];
        _retiredKeys[previousKey] = true;
        m.keyRotated = true;
        _accountOfKey[newKey] = account;
        _keyOf[account] = newKey;
        emit MemberKeyRotated(account, previousKey, newKey);
    }

    /// @inheritdoc IConsortium
    function addCompanyPrefix(address account, string calldata prefix) external onlyGovernance {
        Member storage m = _requireMember(account);
        if (m.status == MemberStatus.Revoked) revert ConsortiumInvalidMemberStatus(account, m.status);
        _addCompanyPrefix(account, prefix);
    }

    /// @inheritdoc IConsortium
    function removeCompanyPrefix(string calldata prefix) external onlyGovernance {
        (uint64 key, uint256 digits, uint256 value) = _parsePrefix(prefix);
        address owner = _prefixOwner[key];
        if (owner == address(0)) revert ConsortiumUnknownPrefix(prefix);
        delete _prefixOwner[key];
        for (uint256 shorter = _MIN_PREFIX_DIGITS; shorter < digits; ++shorter) {
            --_longerPrefixes[_prefixKey(shorter, value / 10 ** (digits - shorter))];
        }
        emit CompanyPrefixRemoved(owner, key, prefix);
    }

    /// @inheritdoc IConsortium
    function addGovernor(address governor) external onlyGovernance {
        _addGovernor(governor);
    }

    /// @inheritdoc IConsortium
    function removeGovernor(address governor) external onlyGovernance {
        _removeGovernor(governor);
        _requireThresholdFits(_threshold);
    }

    /// @inheritdoc IConsortium
    function replaceGovernor(address governor, address newGovernor) external onlyGovernance {
        // Replacing a governor by itself would only discard its pending approvals (a new epoch).
        if (newGovernor == governor) revert ConsortiumGovernorExists(newGovernor);
        _removeGovernor(governor);
        _addGovernor(newGovernor);
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

    /// @inheritdoc IConsortium
    function cancelProposal(uint256 proposalId) external onlyGovernance {
        Proposal storage p = _requireOpen(proposalId);
        p.cancelled = true;
        emit ProposalCancelled(proposalId, address(this));
    }

    // ─── Regulator emergency power ─────────────────────────────────────────────────────────────

    /// @inheritdoc IConsortium
    function emergencySuspend(address account, bytes32 reasonHash) external {
        (address regulator, Role role, ) = actor(_msgSender());
        if (role != Role.Regulator) revert ConsortiumNotActiveRegulator(_msgSender());
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
    function actor(address key) public view returns (address account, Role role, uint32 index) {
        Member storage m = _members[key];
        if (m.status != MemberStatus.None && !m.keyRotated) return (key, _activeRole(m), m.index);
        account = _accountOfKey[key];
        if (account == address(0)) return (address(0), Role.None, 0);
        m = _members[account];
        return (account, _activeRole(m), m.index);
    }

    /// @inheritdoc IConsortium
    function participant(address account) external view returns (Role role, uint32 index) {
        Member storage m = _members[account];
        return (_activeRole(m), m.index);
    }

    /// @inheritdoc IConsortium
    function activeRole(address account) public view returns (Role) {
        return _activeRole(_members[account]);
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
    function keyOf(address account) external view returns (address) {
        Member storage m = _members[account];
        if (m.status == MemberStatus.None) return address(0);
        return m.keyRotated ? _keyOf[account] : account;
    }

    /// @inheritdoc IConsortium
    function accountOfKey(address key) external view returns (address) {
        (address account, , ) = actor(key);
        return account;
    }

    /// @inheritdoc IConsortium
    function accountAt(uint256 index) external view returns (address) {
        return index == 0 || index > _memberList.length ? address(0) : _memberList[index - 1];
    }

    /// @inheritdoc IConsortium
    function memberCount() external view returns (uint256) {
        return _memberList.length;
    }

    /// @inheritdoc IConsortium
    function memberByGln(uint64 gln) external view returns (address) {
        return _memberByGln[gln];
    }

    /// @inheritdoc IConsortium
    function companyPrefixOf(uint64 gtin) external view returns (address owner, uint64 prefixKey) {
        // Digits 2 … 1 + n of the GTIN-14 (after the indicator digit) for n = 6 … 12. The no-overlap
        // rule means at most one of them is registered.
        for (uint256 digits = _MIN_PREFIX_DIGITS; digits <= _MAX_PREFIX_DIGITS; ++digits) {
            uint64 key = _prefixKey(digits, (uint256(gtin) / 10 ** (13 - digits)) % 10 ** digits);
            owner = _prefixOwner[key];
            if (owner != address(0)) return (owner, key);
        }
        return (address(0), 0);
    }

    /// @inheritdoc IConsortium
    function prefixOwner(uint64 prefixKey) external view returns (address) {
        return _prefixOwner[prefixKey];
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
    function proposalState(uint256 proposalId) external view returns (ProposalState) {
        Proposal storage p = _proposals[proposalId];
        if (p.proposer == address(0)) return ProposalState.None;
        if (p.executed) return ProposalState.Executed;
        if (p.cancelled) return ProposalState.Cancelled;
        if (block.timestamp >= p.expiresAt) return ProposalState.Expired;
        return ProposalState.Open;
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

    function _activeRole(Member storage m) private view returns (Role) {
        // A licence is valid up to, not including, its expiry second: nobody has to act when it lapses.
        if (m.status != MemberStatus.Active || block.timestamp >= m.licenceExpiry) return Role.None;
        return m.role;
    }

    function _approve(uint256 proposalId, address governor) private {
        _approvalEpoch[proposalId][governor] = _governorEpoch[governor];
        emit ProposalApproved(proposalId, governor);
    }

    function _requireOpen(uint256 proposalId) private view returns (Proposal storage p) {
        p = _proposals[proposalId];
        if (p.proposer == address(0)) revert ConsortiumUnknownProposal(proposalId);
        if (p.executed) revert ConsortiumProposalAlreadyExecuted(proposalId);
        if (p.cancelled) revert ConsortiumProposalCancelled(proposalId);
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

    function _addCompanyPrefix(address account, string calldata prefix) private {
        Role role = _members[account].role;
        if (role != Role.Producer) revert ConsortiumPrefixNeedsProducer(account, role);
        (uint64 key, uint256 digits, uint256 value) = _parsePrefix(prefix);
        address owner = _prefixOwner[key];
        if (owner != address(0)) revert ConsortiumPrefixTaken(prefix, owner);
        // Zero owner: a longer registered prefix starts with this one.
        if (_longerPrefixes[key] != 0) revert ConsortiumPrefixTaken(prefix, address(0));
        for (uint256 shorter = _MIN_PREFIX_DIGITS; shorter < digits; ++shorter) {
            uint64 shorterKey = _prefixKey(shorter, value / 10 ** (digits - shorter));
            owner = _prefixOwner[shorterKey];
            if (owner != address(0)) revert ConsortiumPrefixTaken(prefix, owner);
            ++_longerPrefixes[shorterKey];
        }
        _prefixOwner[key] = account;
        emit CompanyPrefixAssigned(account, key, prefix);
    }

    /// @dev A company prefix of 6–12 decimal digits: its key, digit count and value.
    function _parsePrefix(string calldata prefix) private pure returns (uint64 key, uint256 digits, uint256 value) {
        bytes calldata b = bytes(prefix);
        digits = b.length;
        if (digits < _MIN_PREFIX_DIGITS || digits > _MAX_PREFIX_DIGITS) revert ConsortiumInvalidPrefix(prefix);
        for (uint256 i = 0; i < digits; ++i) {
            bytes1 c = b[i];
            if (c < "0" || c > "9") revert ConsortiumInvalidPrefix(prefix);
            value = value * 10 + uint8(c) - uint8(bytes1("0"));
        }
        key = _prefixKey(digits, value);
    }

    function _prefixKey(uint256 digits, uint256 value) private pure returns (uint64) {
        // Fits: value < 10^12 < 2^40 and digits ≤ 12.
        return uint64((digits << 40) | value);
    }

    function _addGovernor(address governor) private {
        // This contract can never approve: as a governor it would only make thresholds unreachable.
        if (governor == address(0) || governor == address(this)) revert ConsortiumInvalidGovernor(governor);
        if (!_governors.add(governor)) revert ConsortiumGovernorExists(governor);
        if (_governors.length() > MAX_GOVERNORS) revert ConsortiumTooManyGovernors(MAX_GOVERNORS);
        _governorEpoch[governor] = ++_lastGovernorEpoch;
        emit GovernorAdded(governor);
    }

    function _removeGovernor(address governor) private {
        if (!_governors.remove(governor)) revert ConsortiumNotGovernor(governor);
        emit GovernorRemoved(governor);
    }

    function _setThreshold(uint256 newThreshold) private {
        _requireThresholdFits(newThreshold);
        emit ThresholdChanged(_threshold, newThreshold);
        _threshold = newThreshold;
    }

    /// @dev 2 ≤ threshold ≤ N − 1: no key acts alone, and losing one governor key blocks nothing.
    function _requireThresholdFits(uint256 t) private view {
        uint256 count = _governors.length();
        if (t < MIN_THRESHOLD || t + 1 > count) revert ConsortiumInvalidThreshold(t, count);
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
            selector == this.rotateKey.selector ||
            selector == this.addCompanyPrefix.selector ||
            selector == this.removeCompanyPrefix.selector ||
            selector == this.addGovernor.selector ||
            selector == this.removeGovernor.selector ||
            selector == this.replaceGovernor.selector ||
            selector == this.setThreshold.selector ||
            selector == this.setCharter.selector ||
            selector == this.setProposalLifetime.selector ||
            selector == this.cancelProposal.selector;
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
