// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

/**
 * @title IConsortium
 * @notice Membership register and M-of-N governance of a medicine-traceability consortium.
 *
 * A member is an organisation with a stable **account** (an address: its identity in custody,
 * balances and events) and a **key** (the address whose signatures act for it). At admission the
 * key is the account; governance can rotate the key, and the account keeps its GLN, role,
 * jurisdiction, licence, company prefixes, stock and pending shipments while the old key is
 * dead at once. Every member also gets a compact index (1, 2, …) that custody records use.
 *
 * A member carries a role, a GS1 Global Location Number, an ISO 3166-1 alpha-2 jurisdiction, a
 * licence (reference hash and expiry), a status and, for producers, the GS1 Company Prefixes it
 * owns (6 to 12 digits; one prefix belongs to one member, and no registered prefix is a prefix of
 * another). Every change to the register, to the governor set, to the approval threshold and to
 * the governance charter is a governance action: a governor proposes it, governors approve it,
 * and once `threshold()` current governors approve it any governor executes it before it expires.
 * A governor may withdraw its approval before execution; the proposer, or a threshold of
 * governors through a `cancelProposal` action, may cancel a proposal. The threshold is kept
 * between 2 and N − 1 of N governors, so no single key acts alone and one lost governor key
 * blocks nothing. A proposal may also call another system contract (the BatchToken's pause,
 * recovery and recall-undo functions, which accept calls only from this contract).
 *
 * Two changes need no vote: a member whose licence expires becomes inactive by itself, and a
 * Regulator may suspend a member of its own jurisdiction at once (emergency); reinstatement needs
 * governance. Governors are keys, not members: licences do not apply to them, so a lapse can
 * never take away the quorum; governance replaces a lost or retired governor key.
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

    /// @notice Lifecycle of a proposal, as {proposalState} reports it.
    enum ProposalState {
        None,
        Open,
        Executed,
        Cancelled,
        Expired
    }

    /**
     * @notice A member record. The first slot holds everything the custody hot path reads
     * (1 + 1 + 2 + 8 + 8 + 4 + 1 bytes); `index` is the member's compact number, from 1;
     * `keyRotated` says the account no longer signs for itself (see {keyOf}).
     */
    struct Member {
        Role role;
        MemberStatus status;
        bytes2 jurisdiction;
        uint64 gln;
        uint64 licenceExpiry;
        uint32 index;
        bool keyRotated;
        bytes32 licenceHash;
    }

    /// @notice A governance proposal: one call to `target` (this contract or another system contract).
    struct Proposal {
        address proposer;
        uint64 expiresAt;
        bool executed;
        bool cancelled;
        address target;
        bytes action;
    }

    // ─── Events ────────────────────────────────────────────────────────────────────────────────

    event MemberAdmitted(
        address indexed account,
        Role indexed role,
        uint64 indexed gln,
        bytes2 jurisdiction,
        bytes32 licenceHash,
        uint64 licenceExpiry,
        uint32 index
    );
    event MemberRoleChanged(address indexed account, Role indexed previousRole, Role indexed newRole);
    event MemberSuspended(address indexed account, address indexed by, bytes32 reasonHash);
    event MemberReinstated(address indexed account);
    event MemberRevoked(address indexed account, bytes32 reasonHash);
    event LicenceRenewed(address indexed account, bytes32 licenceHash, uint64 licenceExpiry);
    event MemberKeyRotated(address indexed account, address indexed previousKey, address indexed newKey);
    event CompanyPrefixAssigned(address indexed account, uint64 indexed prefixKey, string prefix);
    event CompanyPrefixRemoved(address indexed account, uint64 indexed prefixKey, string prefix);

    event GovernorAdded(address indexed governor);
    event GovernorRemoved(address indexed governor);
    event ThresholdChanged(uint256 previousThreshold, uint256 newThreshold);
    event CharterChanged(bytes32 previousCharterHash, bytes32 newCharterHash);
    event ProposalLifetimeChanged(uint64 previousLifetime, uint64 newLifetime);

    event ProposalCreated(
        uint256 indexed proposalId,
        address indexed proposer,
        bytes4 indexed selector,
        address target,
        bytes action,
        uint64 expiresAt
    );
    event ProposalApproved(uint256 indexed proposalId, address indexed governor);
    event ProposalApprovalWithdrawn(uint256 indexed proposalId, address indexed governor);
    event ProposalCancelled(uint256 indexed proposalId, address indexed by);
    event ProposalExecuted(uint256 indexed proposalId, address indexed executor);

    // ─── Errors ────────────────────────────────────────────────────────────────────────────────

    /// @dev A governance function was called other than by executing an approved proposal.
    error ConsortiumOnlyGovernance(address caller);
    /// @dev `account` is not a governor.
    error ConsortiumNotGovernor(address account);
    /// @dev `account` cannot be a governor (zero, or this contract itself).
    error ConsortiumInvalidGovernor(address account);
    /// @dev `account` is already a governor.
    error ConsortiumGovernorExists(address account);
    /// @dev There can be at most `max` governors (every approval count loops over them).
    error ConsortiumTooManyGovernors(uint256 max);
    /// @dev The threshold must be at least 2 and at most the number of governors minus one.
    error ConsortiumInvalidThreshold(uint256 threshold, uint256 governorCount);
    /// @dev The zero address cannot be a member, a key or a governor.
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
    /// @dev `account` already has a member record (revoked members cannot be re-admitted under the same account).
    error ConsortiumMemberExists(address account);
    /// @dev `account` has no member record.
    error ConsortiumUnknownMember(address account);
    /// @dev The action needs `account` in another status.
    error ConsortiumInvalidMemberStatus(address account, MemberStatus status);
    /// @dev `key` signs for a member, is a member's account, or was rotated out (retired keys stay dead).
    error ConsortiumKeyInUse(address key);
    /// @dev `prefix` is not a GS1 Company Prefix: 6 to 12 digits.
    error ConsortiumInvalidPrefix(string prefix);
    /// @dev `prefix` (or a prefix of it, or a longer prefix starting with it) already belongs to `owner`.
    error ConsortiumPrefixTaken(string prefix, address owner);
    /// @dev `prefix` is not registered to anybody.
    error ConsortiumUnknownPrefix(string prefix);
    /// @dev Only producers own company prefixes.
    error ConsortiumPrefixNeedsProducer(address account, Role role);

    /// @dev `caller` is not an active Regulator.
    error ConsortiumNotActiveRegulator(address caller);
    /// @dev An emergency suspension only reaches members of the regulator's own jurisdiction.
    error ConsortiumJurisdictionMismatch(bytes2 regulatorJurisdiction, bytes2 memberJurisdiction);
    /// @dev Regulators cannot suspend regulators on their own; that takes governance.
    error ConsortiumCannotSuspendRegulator(address account);

    /// @dev `selector` is not one of this contract's governance functions.
    error ConsortiumUnsupportedAction(bytes4 selector);
    /// @dev A proposal's target must be this contract or a contract (code at `target`).
    error ConsortiumInvalidTarget(address target);
    /// @dev No proposal has id `proposalId`.
    error ConsortiumUnknownProposal(uint256 proposalId);
    /// @dev The proposal expired at `expiresAt`.
    error ConsortiumProposalExpired(uint256 proposalId, uint64 expiresAt);
    /// @dev The proposal was already executed.
    error ConsortiumProposalAlreadyExecuted(uint256 proposalId);
    /// @dev The proposal was cancelled.
    error ConsortiumProposalCancelled(uint256 proposalId);
    /// @dev `governor` already approved the proposal.
    error ConsortiumAlreadyApproved(uint256 proposalId, address governor);
    /// @dev `governor` has no approval of the proposal to withdraw.
    error ConsortiumNotApproved(uint256 proposalId, address governor);
    /// @dev Only the proposer cancels a proposal alone; others cancel it through a `cancelProposal` proposal.
    error ConsortiumNotProposer(uint256 proposalId, address caller);
    /// @dev The proposal has `approvals` approvals from current governors; `threshold` are needed.
    error ConsortiumInsufficientApprovals(uint256 proposalId, uint256 approvals, uint256 threshold);

    // ─── Governance process ────────────────────────────────────────────────────────────────────

    /**
     * @notice Propose a governance action; the proposer's approval is counted at once.
     * @param target This contract, for its governance functions below, or another system
     * contract whose governance functions accept calls from this contract (e.g. BatchToken's
     * `setPaused`, `recoverCustody`, `recoverShipment`, `undoRecall`, `setUndoWindow`).
     * @param action ABI-encoded call.
     *
     * Requirements:
     * - the caller is a governor;
     * - a call to this contract starts with the selector of a governance function; another
     *   target has code. The Consortium does not know another target's functions: a call that
     *   target refuses is only found at {execute}, which reverts and leaves the proposal open to
     *   be cancelled. `gov:propose` builds actions from the target's ABI and refuses unknown ones.
     *
     * Emits {ProposalCreated} and {ProposalApproved}.
     */
    function propose(address target, bytes calldata action) external returns (uint256 proposalId);

    /**
     * @notice Approve an open proposal.
     *
     * Requirements: the caller is a governor and has not approved it yet; the proposal is open
     * (exists, not executed, not cancelled, not expired).
     *
     * Emits {ProposalApproved}.
     */
    function approve(uint256 proposalId) external;

    /**
     * @notice Withdraw the caller's approval of an open proposal.
     *
     * Requirements: the caller is a governor whose approval counts; the proposal is open.
     *
     * Emits {ProposalApprovalWithdrawn}.
     */
    function withdrawApproval(uint256 proposalId) external;

    /**
     * @notice Cancel an open proposal the caller made. Other governors cancel a proposal together,
     * through a proposal whose action is {cancelProposal}.
     *
     * Requirements: the caller is a governor and the proposal's proposer; the proposal is open.
     *
     * Emits {ProposalCancelled}.
     */
    function cancel(uint256 proposalId) external;

    /**
     * @notice Execute a proposal approved by at least `threshold()` current governors.
     * @dev Approvals of governors removed since they approved no longer count. A reverting action
     * reverts the execution, and the proposal stays executable until it expires.
     *
     * Requirements: the caller is a governor; the proposal is open; enough current governors approved it.
     *
     * Emits {ProposalExecuted} and the events of the action.
     */
    function execute(uint256 proposalId) external;

    // ─── Governance actions (only through an executed proposal) ────────────────────────────────

    /**
     * @notice Admit `account` as an active member (its key is the account itself), with the GS1
     * Company Prefixes it owns (producers only; may be empty).
     *
     * Requirements:
     * - called by governance;
     * - `account` is not zero, has no member record and is not another member's key; `role` is not None;
     * - `gln` is a valid GLN not used by another member; `jurisdiction` is two letters A–Z;
     * - `licenceHash` is not zero and `licenceExpiry` is in the future;
     * - every prefix is 6–12 digits and free (see {addCompanyPrefix}).
     *
     * Emits {MemberAdmitted} and {CompanyPrefixAssigned} per prefix.
     */
    function admitMember(
        address account,
        Role role,
        uint64 gln,
        bytes2 jurisdiction,
        bytes32 licenceHash,
        uint64 licenceExpiry,
        string[] calldata companyPrefixes
    ) external;

    /**
     * @notice Change a member's role. Stock already held stays with the member; a member whose new
     * role cannot hold stock can move none of it, and governance recovers it (BatchToken). A former
     * producer keeps its company prefixes and products (it can mint no more): governance frees the
     * prefixes with {removeCompanyPrefix} if another member is to own them.
     *
     * Requirements: called by governance; the member exists, is not revoked; `role` differs and is not None.
     *
     * Emits {MemberRoleChanged}.
     */
    function changeRole(address account, Role role) external;

    /// @notice Suspend an active member. Requirements: called by governance; the member is Active. Emits {MemberSuspended}.
    function suspendMember(address account, bytes32 reasonHash) external;

    /// @notice Reinstate a suspended member. Requirements: called by governance; the member is Suspended. Emits {MemberReinstated}.
    function reinstateMember(address account) external;

    /**
     * @notice Revoke a membership for good. The GLN stays reserved so the history stays unambiguous;
     * the member's key stops signing. Its stock is recovered by governance (BatchToken).
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
     * @notice Give a member a new signing key: the old key is dead from this block on; the account
     * (its record, prefixes, stock and shipments) is unchanged.
     *
     * Requirements: called by governance; the member exists and is not revoked; `newKey` is not
     * zero, not a current key, not a key rotated out before (by any member) and not a member's
     * account (the rotating member's own account included: its original key may be the one that
     * leaked). The key rotated out is retired for good.
     *
     * Emits {MemberKeyRotated}.
     */
    function rotateKey(address account, address newKey) external;

    /**
     * @notice Register a GS1 Company Prefix (6–12 digits) as `account`'s.
     *
     * Requirements: called by governance; the member is a Producer and not revoked; neither the
     * prefix, nor a shorter registered prefix of it, nor a longer registered prefix starting with it
     * belongs to anybody.
     *
     * Emits {CompanyPrefixAssigned}.
     */
    function addCompanyPrefix(address account, string calldata prefix) external;

    /**
     * @notice Unregister a company prefix. Products registered under it keep their owner.
     *
     * Requirements: called by governance; the prefix is registered.
     *
     * Emits {CompanyPrefixRemoved}.
     */
    function removeCompanyPrefix(string calldata prefix) external;

    /**
     * @notice Add a governor. Requirements: called by governance; `governor` is not zero, not this
     * contract, not already a governor; at most {MAX_GOVERNORS}. Emits {GovernorAdded}.
     */
    function addGovernor(address governor) external;

    /**
     * @notice Remove a governor. Requirements: called by governance; `governor` is a governor;
     * the threshold stays at most the remaining governors minus one. Emits {GovernorRemoved}.
     */
    function removeGovernor(address governor) external;

    /**
     * @notice Replace a lost or retired governor key with another in one action (the count and the
     * threshold stay). Requirements: as {removeGovernor} and {addGovernor}; `newGovernor` is not
     * `governor`. Emits both events.
     */
    function replaceGovernor(address governor, address newGovernor) external;

    /**
     * @notice Set the number of approvals a proposal needs.
     *
     * Requirements: called by governance; 2 ≤ `threshold` ≤ number of governors − 1.
     *
     * Emits {ThresholdChanged}.
     */
    function setThreshold(uint256 threshold) external;

    /// @notice Replace the governance charter's document hash. Requirements: called by governance; not zero. Emits {CharterChanged}.
    function setCharter(bytes32 charterHash) external;

    /// @notice Set how long new proposals stay open. Requirements: called by governance; one hour to 90 days. Emits {ProposalLifetimeChanged}.
    function setProposalLifetime(uint64 lifetime) external;

    /// @notice Cancel an open proposal by a threshold of governors. Requirements: called by governance; the proposal is open. Emits {ProposalCancelled}.
    function cancelProposal(uint256 proposalId) external;

    // ─── Regulator emergency power ─────────────────────────────────────────────────────────────

    /**
     * @notice Suspend a member of the caller's jurisdiction at once. Reinstatement needs governance.
     *
     * Requirements:
     * - the caller's key belongs to an active Regulator;
     * - the member is Active, is not a Regulator, and has the caller's jurisdiction.
     *
     * Emits {MemberSuspended} with `by` = the regulator's account.
     */
    function emergencySuspend(address account, bytes32 reasonHash) external;

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @notice Most governors there can be.
    function MAX_GOVERNORS() external view returns (uint256);

    /**
     * @notice Who acts when `key` signs: its member account, that member's active role (None when
     * the member is not Active or its licence expired, or `key` is no current key) and its index.
     */
    function actor(address key) external view returns (address account, Role role, uint32 index);

    /// @notice A member account's active role (None when not Active or licence expired) and index (0 for no member).
    function participant(address account) external view returns (Role role, uint32 index);

    /// @notice The member account's role if it is Active and its licence has not expired, else Role.None.
    function activeRole(address account) external view returns (Role);

    /// @notice Whether the member account is Active and its licence has not expired.
    function isActiveMember(address account) external view returns (bool);

    /// @notice The member record of `account` (all zero when there is none).
    function member(address account) external view returns (Member memory);

    /// @notice The key that signs for `account` now (zero when none).
    function keyOf(address account) external view returns (address);

    /// @notice The member account `key` signs for now (zero when none).
    function accountOfKey(address key) external view returns (address);

    /// @notice The member with index `index` (1 … memberCount), or zero.
    function accountAt(uint256 index) external view returns (address);

    /// @notice Number of members ever admitted; indexes run from 1 to this number.
    function memberCount() external view returns (uint256);

    /// @notice The member holding `gln`, or the zero address.
    function memberByGln(uint64 gln) external view returns (address);

    /**
     * @notice The registered company prefix a GTIN-14 falls under, and its owner: the prefix of
     * 6–12 digits that follows the GTIN's indicator digit. Zeros when none is registered.
     * @dev `prefixKey` = (digits << 40) | value, e.g. "4012345" → (7 << 40) | 4012345.
     */
    function companyPrefixOf(uint64 gtin) external view returns (address owner, uint64 prefixKey);

    /// @notice Owner of a company prefix by key (see {companyPrefixOf}), or zero.
    function prefixOwner(uint64 prefixKey) external view returns (address);

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

    /// @notice Where a proposal stands: Open, Executed, Cancelled or Expired (None for no proposal).
    function proposalState(uint256 proposalId) external view returns (ProposalState);

    /// @notice Approvals of a proposal by current governors.
    function approvalCount(uint256 proposalId) external view returns (uint256);

    /// @notice Whether `governor`, as a current governor, approved the proposal (approvals given before a removal do not count).
    function hasApproved(uint256 proposalId, address governor) external view returns (bool);
}
