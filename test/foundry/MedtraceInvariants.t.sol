// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Handler} from "./invariants/Handler.sol";

/**
 * @title MedtraceInvariantsTest
 * @notice Invariant fuzzing of the real contracts (ConsortiumForwarder, Consortium, BatchToken with
 * its linked BatchRegistry and CustodyOps libraries), independent of the TypeScript model: the
 * fuzzer calls only {Handler}, whose actors act directly or through the forwarder, and each
 * `invariant_` function below is checked after every call.
 *
 * Every invariant was seen to fail once, each under its own local mutation of the handler's
 * model or expectation (a ghost assumption made wrong; tried by hand, never committed), so none
 * of them holds vacuously. Checks run after every call in the short campaign (`npm test`); the
 * long one (`npm run fuzz`) checks every `check_interval` calls and at the end of each run.
 */
contract MedtraceInvariantsTest {
    struct FuzzSelector {
        address addr;
        bytes4[] selectors;
    }

    Handler internal handler;

    function setUp() public {
        handler = new Handler();
        handler.bootstrap();
    }

    function targetContracts() public view returns (address[] memory targets) {
        targets = new address[](1);
        targets[0] = address(handler);
    }

    function targetSelectors() public view returns (FuzzSelector[] memory selectors) {
        selectors = new FuzzSelector[](1);
        selectors[0] = FuzzSelector(address(handler), handler.actions());
    }

    // ─── Supply and per-pack custody ───────────────────────────────────────────────────────────

    /// @notice Per batch: minted = Σ balances + Σ pending + dispensed + decommissioned + written off
    /// (+ recovered into a final state), with undone dispenses and reverted decommissions netted out.
    function invariant_supplyIsConserved() public view {
        handler.checkSupplyConservation();
    }

    /// @notice Counting the packs of each serialised batch by `packState`: held + locked = Σ balances,
    /// in transit = Σ pending, dispensed and decommissioned = what the handler did.
    function invariant_packStatesAddUpToSupply() public view {
        handler.checkPackStatesMatchSupply();
    }

    /// @notice Every pack has exactly one holder (by `holdsUnits`, asked of every actor and every
    /// rotated key) when it is Held, and none in any other state.
    function invariant_everyPackHasOneHolderOrOneState() public view {
        handler.checkSingleHolderPerPack();
    }

    /// @notice For every member and batch: packs it holds + packs it locked = its ERC-1155 balance.
    function invariant_heldPacksEqualBalance() public view {
        handler.checkHeldPacksEqualBalance();
    }

    /// @notice Every pack's state, holder, and recorded member and day equal the handler's model.
    function invariant_packsMatchTheModel() public view {
        handler.checkPackModel();
    }

    /// @notice Every member's balance of every batch equals the model's.
    function invariant_balancesMatchTheModel() public view {
        handler.checkBalancesMatchModel();
    }

    /// @notice A case or pallet that is not opened says what all its packs (cases) say.
    function invariant_sealedContainersAgreeWithTheirContent() public view {
        handler.checkContainersConsistent();
    }

    /// @notice No unit was ever credited to an address that was not, at that moment, the account of
    /// an active member with a stock-holding role (read from every TransferSingle).
    function invariant_unitsOnlyReachActiveStockHolders() public view {
        handler.checkNoCreditToNonStockHolder();
    }

    /// @notice Rotated keys, governor keys, the relayer and the system contracts never hold units.
    function invariant_foreignAddressesHoldNothing() public view {
        handler.checkForeignAddressesHoldNothing();
    }

    /// @notice A key rotated out of an account maps to nobody, holds nothing, and never acted again.
    function invariant_rotatedOutKeysActForNobody() public view {
        handler.checkRotatedKeysActForNobody();
    }

    // ─── Custody rules ─────────────────────────────────────────────────────────────────────────

    /// @notice Every shipment created and accepted was allowed by the flow table for the parties'
    /// roles then, the batch's status, its product's status and its expiry; rejections and
    /// cancellations came from the receiver and the stock-holding sender.
    function invariant_flowTableIsRespected() public view {
        handler.checkFlowTableRespected();
    }

    /// @notice Batch status follows the quarantines and the recall; nothing of a batch on hold,
    /// recalled, expired or withdrawn was dispensed or supplied; undo only by the same member in the window.
    function invariant_statusOverlaysAreRespected() public view {
        handler.checkStatusOverlaysRespected();
    }

    /// @notice No member shipped, dispensed, decommissioned, locked, opened or wrote off what the
    /// model says it did not hold; governance recovered only what the member held or locked.
    function invariant_nobodyMovesWhatItDoesNotHold() public view {
        handler.checkNoCustodyOfUnheldPacks();
    }

    /// @notice While custody is paused, no member action changes custody (governance recovery may).
    function invariant_pausedMeansNoCustodyChange() public view {
        handler.checkPausedMeansNoCustodyChange();
    }

    /// @notice The model's shipments are exactly the pending ones, with the same fields and items.
    function invariant_pendingShipmentsMatchTheModel() public view {
        handler.checkPendingShipmentsMatchModel();
    }

    /// @notice Every pending shipment can be closed with its units at an active stock holder:
    /// governance recovery works (simulated), and its stock-holding sender can cancel it when not paused.
    function invariant_pendingShipmentsCanBeClosed() public {
        handler.checkPendingShipmentsClosable();
    }

    /// @notice verifyUnit answers in the documented order: Withdrawn, Recalled, Quarantined, the
    /// pack's state, Expired, Genuine; and NotInBatch, ExpiryMismatch, UnknownBatch for forgeries.
    function invariant_verdictsFollowTheDocumentedOrder() public view {
        handler.checkVerdictOrder();
    }

    // ─── Members ───────────────────────────────────────────────────────────────────────────────

    /// @notice Every member record, key and index rebuilt from Consortium events equals `member()`.
    function invariant_memberHistoryRebuildsFromEvents() public view {
        handler.checkMemberHistoryFromEvents();
    }

    /// @notice A member is active exactly while its status is Active and `now < licenceExpiry`.
    function invariant_licencesLapseAtTheirExpiry() public view {
        handler.checkLicencesLapseAtExpiry();
    }

    /// @notice Every member action that succeeded was signed by an active member with the role it needs.
    function invariant_onlyEntitledMembersAct() public view {
        handler.checkOnlyEntitledMembersAct();
    }

    // ─── Governance ────────────────────────────────────────────────────────────────────────────

    /// @notice 2 ≤ threshold ≤ governors − 1, and at most MAX_GOVERNORS governors.
    function invariant_thresholdStaysWithinBounds() public view {
        handler.checkThresholdBounds();
    }

    /// @notice The governor set and threshold equal the model's.
    function invariant_governorsMatchTheModel() public view {
        handler.checkGovernorSetMatchesModel();
    }

    /// @notice Every executed proposal had, at execution, a threshold of current governors' approvals.
    function invariant_executedProposalsHadQuorum() public view {
        handler.checkExecutedHadQuorum();
    }

    /// @notice No proposal executed twice, after its expiry, or after it was cancelled.
    function invariant_proposalsExecuteOnceWhileOpen() public view {
        handler.checkNoDoubleOrLateExecution();
    }

    /// @notice Every proposal's state, approval count and approvals equal the model's.
    function invariant_proposalsMatchTheModel() public view {
        handler.checkProposalsMatchModel();
    }

    /// @notice No propose, approve, withdraw or cancel succeeded that the process forbids.
    function invariant_governanceProcessIsRespected() public view {
        handler.checkGovernanceProcess();
    }
}
