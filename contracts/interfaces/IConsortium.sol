// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IConsortium
 * @notice Membership register and M-of-N governance of a medicine-traceability consortium.
 *
 * A member is an organisation (one address) with a role, a GS1 Global Location Number, an ISO
 * 3166-1 alpha-2 jurisdiction, a licence (reference hash and expiry) and a status. Every change to
 * the register, to the governor set, to the approval threshold and to the governance charter is a
 * governance action: a governor proposes it, governors approve it, and once `threshold()` current
 * governors have approved it any governor executes it before it expires. No single key can admit a
 * member: the threshold is at least two.
 *
 * Two changes need no vote: a member whose licence expires becomes inactive by itself, and a
 * Regulator may suspend a member of its own jurisdiction at once (emergency); reinstatement needs
 * governance.
 */
interface IConsortium {
    /// @notice What a member does in the supply chain. Regulators and Auditors never hold stock.
    enum Role {
        None,
        Producer,
        Distributor,
        Pharmacy,
        Regulator,
        Auditor
    }

    /// @notice Lifecycle of a membership. Revoked is final.
    enum MemberStatus {
        None,
        Active,
        Suspended,
        Revoked
    }

    /// @notice A member record. Fits in two storage slots; the first holds everything the custody hot path reads.
    struct Member {
        Role role;
        MemberStatus status;
        bytes2 jurisdiction;
        uint64 gln;
        uint64 licenceExpiry;
        bytes32 licenceHash;
    }

    /// @notice A governance proposal: one call to one of this contract's governance functions.
    struct Proposal {
        address proposer;
        uint64 expiresAt;
        bool executed;
        bytes action;
    }

    // ─── Events ────────────────────────────────────────────────────────────────────────────────

    event MemberAdmitted(
        address indexed account,
        Role indexed role,
        uint64 indexed gln,
        bytes2 jurisdiction,
        bytes32 licenceHash,
        uint64 licenceExpiry
    );
    event MemberRoleChanged(address indexed account, Role indexed previousRole, Role indexed newRole);
    event MemberSuspended(address indexed account, address indexed by, bytes32 reasonHash);
    event MemberReinstated(address indexed account);
    event MemberRevoked(address indexed account, bytes32 reasonHash);
    event LicenceRenewed(address indexed account, bytes32 licenceHash, uint64 licenceExpiry);

    event GovernorAdded(address indexed governor);
    event GovernorRemoved(address indexed governor);
    event ThresholdChanged(uint256 previousThreshold, uint256 newThreshold);
    event CharterChanged(bytes32 previousCharterHash, bytes32 newCharterHash);
    event ProposalLifetimeChanged(uint64 previousLifetime, uint64 newLifetime);

    event ProposalCreated(uint256 indexed proposalId, address indexed proposer, bytes4 indexed selector, bytes action, uint64 expiresAt);
    event ProposalApproved(uint256 indexed proposalId, address indexed governor);
    event ProposalExecuted(uint256 indexed proposalId, address indexed executor);

    // ─── Errors ────────────────────────────────────────────────────────────────────────────────

    /// @dev A governance function was called other than by executing an approved proposal.
    error ConsortiumOnlyGovernance(address caller);
    /// @dev `account` is not a governor.
    error ConsortiumNotGovernor(address account);
    /// @dev `account` cannot be a governor (this contract itself).
    error ConsortiumInvalidGovernor(address account);
    /// @dev `account` is already a governor.
    error ConsortiumGovernorExists(address account);
    /// @dev The threshold must be at least 2 and at most the number of governors.
    error ConsortiumInvalidThreshold(uint256 threshold, uint256 governorCount);
    /// @dev The zero address cannot be a member or a governor.
    error ConsortiumZeroAddress();
    /// @dev The charter hash must not be zero.
    error ConsortiumEmptyCharter();
    /// @dev Proposal lifetime must be between one hour and 90 days.
    error ConsortiumInvalidProposalLifetime(uint64 lifetime);

    /// @dev `gln` is not 13 digits with a valid GS1 check digit.
    error ConsortiumInvalidGln(uint256 gln);
    /// @dev `gln` already identifies `holder`.
    error ConsortiumGlnTaken(uint64 gln, address holder);
    /// @dev `jurisdiction` is not two upper-case letters (ISO 3166-1 alpha-2).
    error ConsortiumInvalidJurisdiction(bytes2 jurisdiction);
    /// @dev `role` cannot be given to a member (Role.None) or is the role the member already has.
    error ConsortiumInvalidRole(Role role);
    /// @dev The licence expiry must be in the future.
    error ConsortiumLicenceExpiryInPast(uint64 licenceExpiry, uint256 now_);
    /// @dev The licence reference hash must not be zero.
    error ConsortiumEmptyLicence();
    /// @dev `account` already has a member record (revoked members cannot be re-admitted under the same key).
    error ConsortiumMemberExists(address account);
    /// @dev `account` has no member record.
    error ConsortiumUnknownMember(address account);
    /// @dev The action needs `account` in another status.
    error ConsortiumInvalidMemberStatus(address account, MemberStatus status);

    /// @dev `caller` is not an active Regulator.
    error ConsortiumNotActiveRegulator(address caller);
    /// @dev An emergency suspension only reaches members of the regulator's own jurisdiction.
    error ConsortiumJurisdictionMismatch(bytes2 regulatorJurisdiction, bytes2 memberJurisdiction);
    /// @dev Regulators cannot suspend regulators on their own; that takes governance.
    error ConsortiumCannotSuspendRegulator(address account);

    /// @dev `selector` is not one of this contract's governance functions.
    error ConsortiumUnsupportedAction(bytes4 selector);
    /// @dev No proposal has id `proposalId`.
    error ConsortiumUnknownProposal(uint256 proposalId);
    /// @dev The proposal expired at `expiresAt`.
    error ConsortiumProposalExpired(uint256 proposalId, uint64 expiresAt);
    /// @dev The proposal was already executed.
    error ConsortiumProposalAlreadyExecuted(uint256 proposalId);
    /// @dev `governor` already approved the proposal.
    error ConsortiumAlreadyApproved(uint256 proposalId, address governor);
    /// @dev The proposal has `approvals` approvals from current governors; `threshold` are needed.
    error ConsortiumInsufficientApprovals(uint256 proposalId, uint256 approvals, uint256 threshold);

    // ─── Governance process ────────────────────────────────────────────────────────────────────

    /**
     * @notice Propose a governance action; the proposer's approval is counted at once.
     * @param action ABI-encoded call to one of the governance functions below (admitMember,
     * changeRole, suspendMember, reinstateMember, revokeMember, renewLicence, addGovernor,
     * removeGovernor, setThreshold, setCharter, setProposalLifetime).
     *
     * Requirements:
     * - the caller is a governor;
     * - `action` starts with the selector of a governance function.
     *
     * Emits {ProposalCreated} and {ProposalApproved}.
     */
    function propose(bytes calldata action) external returns (uint256 proposalId);

    /**
     * @notice Approve a pending proposal.
     *
     * Requirements:
     * - the caller is a governor and has not approved it yet;
     * - the proposal exists, is not executed and has not expired.
     *
     * Emits {ProposalApproved}.
     */
    function approve(uint256 proposalId) external;

    /**
     * @notice Execute a proposal approved by at least `threshold()` current governors.
     * @dev Approvals of governors removed since they approved no longer count. A reverting action
     * reverts the execution, and the proposal stays executable until it expires.
     *
     * Requirements:
     * - the caller is a governor;
     * - the proposal exists, is not executed and has not expired;
     * - enough current governors approved it.
     *
     * Emits {ProposalExecuted} and the events of the action.
     */
    function execute(uint256 proposalId) external;

    // ─── Governance actions (only through an executed proposal) ────────────────────────────────

    /**
     * @notice Admit `account` as an active member.
     *
     * Requirements:
     * - called by governance;
     * - `account` is not zero and has no member record; `role` is not None;
     * - `gln` is a valid GLN not used by another member; `jurisdiction` is two letters A–Z;
     * - `licenceHash` is not zero and `licenceExpiry` is in the future.
     *
     * Emits {MemberAdmitted}.
     */
    function admitMember(
        address account,
        Role role,
        uint64 gln,
        bytes2 jurisdiction,
        bytes32 licenceHash,
        uint64 licenceExpiry
    ) external;

    /**
     * @notice Change a member's role. Stock already held stays with the member.
     *
     * Requirements: called by governance; the member exists, is not revoked; `role` differs and is not None.
     *
     * Emits {MemberRoleChanged}.
     */
    function changeRole(address account, Role role) external;

    /**
     * @notice Suspend an active member.
     *
     * Requirements: called by governance; the member is Active.
     *
     * Emits {MemberSuspended} with `by` = this contract.
     */
    function suspendMember(address account, bytes32 reasonHash) external;

    /**
     * @notice Reinstate a suspended member.
     *
     * Requirements: called by governance; the member is Suspended.
     *
     * Emits {MemberReinstated}.
     */
    function reinstateMember(address account) external;

    /**
     * @notice Revoke a membership for good. The GLN stays reserved so the history stays unambiguous.
     *
     * Requirements: called by governance; the member is Active or Suspended.
     *
     * Emits {MemberRevoked}.
     */
    function revokeMember(address account, bytes32 reasonHash) external;

    /**
     * @notice Record a renewed licence.
     *
     * Requirements: called by governance; the member exists and is not revoked; `licenceHash` is not
     * zero; `licenceExpiry` is in the future.
     *
     * Emits {LicenceRenewed}.
     */
    function renewLicence(address account, bytes32 licenceHash, uint64 licenceExpiry) external;

    /**
     * @notice Add a governor.
     *
     * Requirements: called by governance; `governor` is not zero, not this contract, and not already a governor.
     *
     * Emits {GovernorAdded}.
     */
    function addGovernor(address governor) external;

    /**
     * @notice Remove a governor.
     *
     * Requirements: called by governance; `governor` is a governor; the threshold stays reachable.
     *
     * Emits {GovernorRemoved}.
     */
    function removeGovernor(address governor) external;

    /**
     * @notice Set the number of approvals a proposal needs.
     *
     * Requirements: called by governance; 2 ≤ `threshold` ≤ number of governors.
     *
     * Emits {ThresholdChanged}.
     */
    function setThreshold(uint256 threshold) external;

    /**
     * @notice Replace the governance charter's document hash.
     *
     * Requirements: called by governance; `charterHash` is not zero.
     *
     * Emits {CharterChanged}.
     */
    function setCharter(bytes32 charterHash) external;

    /**
     * @notice Set how long new proposals stay open.
     *
     * Requirements: called by governance; one hour ≤ `lifetime` ≤ 90 days.
     *
     * Emits {ProposalLifetimeChanged}.
     */
    function setProposalLifetime(uint64 lifetime) external;

    // ─── Regulator emergency power ─────────────────────────────────────────────────────────────

    /**
     * @notice Suspend a member of the caller's jurisdiction at once. Reinstatement needs governance.
     *
     * Requirements:
     * - the caller is an active Regulator;
     * - the member is Active, is not a Regulator, and has the caller's jurisdiction.
     *
     * Emits {MemberSuspended} with `by` = the regulator.
     */
    function emergencySuspend(address account, bytes32 reasonHash) external;

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @notice The member's role if it is Active and its licence has not expired, else Role.None.
    function activeRole(address account) external view returns (Role);

    /// @notice Whether the member is Active and its licence has not expired.
    function isActiveMember(address account) external view returns (bool);

    /// @notice The member record of `account` (all zero when there is none).
    function member(address account) external view returns (Member memory);

    /// @notice The member holding `gln`, or the zero address.
    function memberByGln(uint64 gln) external view returns (address);

    /// @notice All addresses ever admitted, in admission order.
    function members() external view returns (address[] memory);

    /// @notice The current governors.
    function governors() external view returns (address[] memory);

    /// @notice Whether `account` is a current governor.
    function isGovernor(address account) external view returns (bool);

    /// @notice Approvals a proposal needs.
    function threshold() external view returns (uint256);

    /// @notice Hash of the governance charter document.
    function charterHash() external view returns (bytes32);

    /// @notice Seconds a new proposal stays open.
    function proposalLifetime() external view returns (uint64);

    /// @notice Number of proposals ever created; ids run from 1 to this number.
    function proposalCount() external view returns (uint256);

    /// @notice A proposal by id.
    function proposal(uint256 proposalId) external view returns (Proposal memory);

    /// @notice Approvals of a proposal by current governors.
    function approvalCount(uint256 proposalId) external view returns (uint256);

    /// @notice Whether `governor`, as a current governor, approved the proposal (approvals given before a removal do not count).
    function hasApproved(uint256 proposalId, address governor) external view returns (bool);
}
