// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IBatchToken} from "./interfaces/IBatchToken.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {BatchRegistry} from "./libraries/BatchRegistry.sol";
import {CustodyOps} from "./libraries/CustodyOps.sol";
import {PackLedger} from "./libraries/PackLedger.sol";

/**
 * @title BatchToken
 * @notice Medicine batches as ERC-1155 tokens with per-pack two-party custody, products bound to
 * their brand owners, regulator status by market, and pack verification. See {IBatchToken} for
 * the pack state table, the custody flow table and the status machines.
 *
 * Security considerations:
 * - Identity comes only from {_msgSender}, a key that the Consortium maps to a member account
 *   ({IConsortium-actor}); every member action works sent directly or relayed by the consortium's
 *   {ERC2771Forwarder}, whose address the Consortium must trust as well (checked at deployment).
 *   No multicall or delegatecall of caller-supplied data is offered (ERC-2771 address spoofing);
 *   the only DELEGATECALLs go to the linked {PackLedger} library, with arguments this contract builds.
 * - Every balance change goes through {_move}, which the custody functions alone call; the
 *   inherited {_update} hook, which every other ERC-1155 path runs through, always reverts. Plain
 *   ERC-1155 transfers and operator approvals are refused; ERC-1155 `data` is never passed anywhere.
 * - {_move} calls {ERC1155-_update} without the receiver acceptance check: units only ever go to
 *   members or out of circulation, so no external code runs during a state change (the Consortium
 *   is only read) and custody functions cannot be re-entered.
 * - For serialised batches the ERC-1155 balance is the count of the packs a member holds
 *   ({PackLedger} decides which): every path that moves packs moves exactly that many units.
 *   Packs in transit exist only in their pending shipment (a stored hash of all its fields and
 *   items); a forged field or item changes the hash and is refused. Supply per batch:
 *   minted = Σ balances + Σ pending shipments + dispensed + decommissioned + written off.
 * - Units are credited only to active members with a stock-holding role. What can no longer be
 *   credited (a shipment back to a revoked member) waits for governance recovery, which also
 *   requires an active stock holder or a final state.
 * - Governance functions check `msg.sender` against the Consortium: a forwarded call always has
 *   the forwarder as `msg.sender`, so it can never pass as governance.
 */
contract BatchToken is IBatchToken, ERC1155, ERC2771Context {
    uint16 private constant _DEFAULT_UNDO_WINDOW_DAYS = 10;
    uint16 private constant _MAX_UNDO_WINDOW_DAYS = 90;

    IConsortium private immutable _consortium;

    /// @dev Batches, products, licences: the state {BatchRegistry} keeps.
    BatchRegistry.Registry private _registry;
    // One slot: shipping reads the pause flag and bumps the counter together.
    uint64 private _shipmentCount;
    bool private _paused;
    uint16 private _undoWindowDays;
    mapping(uint256 shipmentId => bytes32 commitment) private _pendingShipments;
    mapping(uint256 batchId => PackLedger.Book) private _books;

    modifier whenNotPaused() {
        if (_paused) revert BatchTokenPaused();
        _;
    }

    modifier onlyGovernance() {
        if (msg.sender != address(_consortium)) revert BatchTokenOnlyGovernance(msg.sender);
        _;
    }

    /**
     * @param consortium_ The member register roles are read from; it executes governance proposals here.
     * @param trustedForwarder_ The consortium's ERC2771Forwarder (the one the Consortium trusts).
     * @param uri_ ERC-1155 metadata URI template (`{id}` is replaced by clients).
     */
    constructor(IConsortium consortium_, address trustedForwarder_, string memory uri_)
        ERC1155(uri_)
        ERC2771Context(trustedForwarder_)
    {
        if (ERC2771Context(address(consortium_)).trustedForwarder() != trustedForwarder_) {
            revert BatchTokenForwarderMismatch(trustedForwarder_);
        }
        _consortium = consortium_;
        _undoWindowDays = _DEFAULT_UNDO_WINDOW_DAYS;
    }

    // ─── Products ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function registerProduct(uint64 gtin, bytes2[] calldata markets, bytes32 masterDataHash) external {
        BatchRegistry.registerProduct(_registry, _consortium, _caller(), gtin, markets, masterDataHash);
    }

    /// @inheritdoc IBatchToken
    function updateProduct(uint64 gtin, bytes2[] calldata markets, bytes32 masterDataHash) external {
        BatchRegistry.updateProduct(_registry, _caller(), gtin, markets, masterDataHash);
    }

    /// @inheritdoc IBatchToken
    function setProductStatus(uint64 gtin, ProductStatus status, bytes32 reasonHash) external {
        BatchRegistry.setProductStatus(_registry, _caller(), gtin, status, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function setPrefixLicence(uint64 prefixKey, address licensee, bool granted) external {
        BatchRegistry.setPrefixLicence(_registry, _consortium, _caller(), prefixKey, licensee, granted);
    }

    // ─── Producer ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function mintBatch(BatchInput calldata input) external whenNotPaused returns (uint256 batchId) {
        BatchRegistry.Caller memory producer = _caller();
        batchId = BatchRegistry.mint(_registry, producer, input);
        if (input.serialCount != 0) {
            // Fits: batch ids count up from 1, far below 2^64.
            _books[batchId].layout = PackLedger.Layout(uint64(batchId), input.serialCount, input.unitsPerCase, input.casesPerPallet, producer.index);
        }
        _move(address(0), producer.account, batchId, input.quantity);
    }

    // ─── Custody ───────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function ship(uint256 batchId, address receiver, uint256 quantity, Item[] calldata items, bytes32 referenceHash)
        external
        whenNotPaused
        returns (uint256 shipmentId)
    {
        (PackLedger.Party memory sender, ShipmentKind kind) = _checkShipment(batchId, receiver, quantity, items);

        shipmentId = ++_shipmentCount; // Fits: one shipment per call, far below 2^64.
        _pendingShipments[shipmentId] = keccak256(abi.encode(batchId, sender.account, receiver, quantity, kind, items));
        emit ShipmentCreated(batchId, sender.account, receiver, shipmentId, quantity, kind, referenceHash, items);
        _move(sender.account, address(0), batchId, quantity);
    }

    /// @inheritdoc IBatchToken
    function acceptShipment(uint256 shipmentId, Shipment calldata shipment) external whenNotPaused {
        _requirePending(shipmentId, shipment);
        (address receiver, IConsortium.Role toRole, uint32 receiverIndex) = _actor();
        if (receiver != shipment.receiver) revert BatchTokenNotShipmentReceiver(shipmentId, receiver);
        if (!_holdsStock(toRole)) revert BatchTokenUnauthorizedMember(receiver, toRole);
        (IConsortium.Role fromRole, ) = _participant(shipment.sender);
        if (!_holdsStock(fromRole)) revert BatchTokenUnauthorizedMember(shipment.sender, fromRole);
        // Roles, statuses and the batch may all have changed in transit (a role change, a
        // suspension, a quarantine, a withdrawal, expiry): the flow table is applied again to the
        // parties as they are now, and must still give the kind recorded at shipping.
        uint256 batchId = shipment.batchId;
        if (_flowKind(batchId, _registry.batches[batchId], fromRole, toRole, receiver) != shipment.kind) {
            revert BatchTokenShipmentKindChanged(shipmentId, shipment.kind);
        }

        delete _pendingShipments[shipmentId];
        emit ShipmentAccepted(batchId, shipment.sender, receiver, shipmentId, shipment.quantity);
        _close(batchId, shipment, PackLedger.Party(receiver, receiverIndex));
    }

    /// @inheritdoc IBatchToken
    function rejectShipment(uint256 shipmentId, Shipment calldata shipment, RejectReason reason) external whenNotPaused {
        _requirePending(shipmentId, shipment);
        (address receiver, IConsortium.Role role, ) = _actor();
        if (receiver != shipment.receiver) revert BatchTokenNotShipmentReceiver(shipmentId, receiver);
        if (role == IConsortium.Role.None) revert BatchTokenUnauthorizedMember(receiver, role);
        (IConsortium.Role senderRole, uint32 senderIndex) = _participant(shipment.sender);
        if (!_holdsStock(senderRole)) revert BatchTokenCannotHoldStock(shipment.sender, senderRole);

        delete _pendingShipments[shipmentId];
        emit ShipmentRejected(shipment.batchId, shipment.sender, receiver, shipmentId, shipment.quantity, reason);
        _close(shipment.batchId, shipment, PackLedger.Party(shipment.sender, senderIndex));
    }

    /// @inheritdoc IBatchToken
    function cancelShipment(uint256 shipmentId, Shipment calldata shipment) external whenNotPaused {
        _requirePending(shipmentId, shipment);
        (address sender, IConsortium.Role role, uint32 senderIndex) = _actor();
        if (sender != shipment.sender) revert BatchTokenNotShipmentSender(shipmentId, sender);
        if (!_holdsStock(role)) revert BatchTokenCannotHoldStock(sender, role);

        delete _pendingShipments[shipmentId];
        emit ShipmentCancelled(shipment.batchId, sender, shipment.receiver, shipmentId, shipment.quantity);
        _close(shipment.batchId, shipment, PackLedger.Party(sender, senderIndex));
    }

    /// @inheritdoc IBatchToken
    function unpack(uint256 batchId, Item[] calldata containers) external whenNotPaused {
        (PackLedger.Party memory holder, ) = _holderOfSerialised(batchId);
        CustodyOps.unpack(_books[batchId], holder, containers);
    }

    /// @inheritdoc IBatchToken
    function decommission(uint256 batchId, Item[] calldata items, PackState state, bytes32 evidenceHash) external whenNotPaused {
        bool revertible = state == PackState.Sample || state == PackState.FreeSample || state == PackState.Exported;
        if (!revertible && state != PackState.Destroyed && state != PackState.Stolen) revert BatchTokenInvalidDecommission(state);
        (PackLedger.Party memory holder, Batch storage b) = _holderOfSerialised(batchId);
        // Supplying a pack (as a sample, or abroad) follows the rules of supplying it: not while its
        // batch is on hold or recalled or its product withdrawn. Destroyed and stolen always go.
        if (revertible) _requireSuppliable(batchId, b);
        uint256 quantity = CustodyOps.take(_books[batchId], holder, items, state, uint32(_today()), false);
        emit PacksDecommissioned(batchId, holder.account, state, items, quantity, evidenceHash);
        _move(holder.account, address(0), batchId, quantity);
    }

    /// @inheritdoc IBatchToken
    function revertDecommission(uint256 batchId, Item[] calldata items, bytes32 reasonHash) external whenNotPaused {
        (PackLedger.Party memory holder, Batch storage b) = _holderOfSerialised(batchId);
        _requireRevertible(batchId, b);
        uint256 quantity = CustodyOps.restore(_books[batchId], holder, items, uint32(_today()), _undoWindowDays);
        emit DecommissionReverted(batchId, holder.account, items, quantity, reasonHash);
        _move(address(0), holder.account, batchId, quantity);
    }

    /// @inheritdoc IBatchToken
    function lock(uint256 batchId, Item[] calldata items, bytes32 reasonHash) external whenNotPaused {
        (PackLedger.Party memory holder, ) = _holderOfSerialised(batchId);
        CustodyOps.take(_books[batchId], holder, items, PackState.Locked, uint32(_today()), false);
        emit PacksLocked(batchId, holder.account, items, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function unlock(uint256 batchId, address holder, Item[] calldata items, bytes32 reasonHash) external whenNotPaused {
        Batch storage b = _requireBatch(batchId);
        (address caller, IConsortium.Role role, ) = _actor();
        if (caller != holder) {
            if (role != IConsortium.Role.Regulator) revert BatchTokenUnauthorizedMember(caller, role);
            BatchRegistry.requireMarketRegulator(_consortium, batchId, b, caller);
        } else if (role == IConsortium.Role.None) {
            revert BatchTokenUnauthorizedMember(caller, role);
        }
        (, uint32 holderIndex) = _participant(holder);
        CustodyOps.unlock(_books[batchId], PackLedger.Party(holder, holderIndex), items);
        emit PacksUnlocked(batchId, holder, caller, items, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function writeOff(uint256 batchId, uint256 quantity, LossReason reason, bytes32 evidenceHash) external whenNotPaused {
        (address holder, IConsortium.Role role, ) = _actor();
        Batch storage b = _requireBatch(batchId);
        if (!_holdsStock(role)) revert BatchTokenUnauthorizedMember(holder, role);
        if (b.serialCount != 0) revert BatchTokenItemsRequired(batchId);
        if (quantity == 0) revert BatchTokenZeroQuantity();

        emit UnitsWrittenOff(batchId, holder, reason, quantity, evidenceHash);
        _move(holder, address(0), batchId, quantity);
    }

    // ─── Pharmacy ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function dispense(uint256 batchId, uint256 unitIndex, string calldata serial, bytes32[] calldata proof) external whenNotPaused {
        (address pharmacy, IConsortium.Role role, uint32 pharmacyIndex) = _actor();
        if (role != IConsortium.Role.Pharmacy) revert BatchTokenUnauthorizedMember(pharmacy, role);
        bytes32 leaf = _checkDispensable(batchId, unitIndex, serial, proof);
        // A pack out of its case, in the pharmacy's hands, is the hot path and stays inline; a pack
        // still in a case (which opens it), and every refusal, go through the library.
        PackLedger.Party memory party = PackLedger.Party(pharmacy, pharmacyIndex);
        if (!PackLedger.dispenseLoose(_books[batchId], party, unitIndex, uint32(_today()))) {
            CustodyOps.dispense(_books[batchId], party, unitIndex, uint32(_today()));
        }
        emit UnitDispensed(batchId, pharmacy, unitIndex, leaf);
        _move(pharmacy, address(0), batchId, 1);
    }

    /// @dev The batch and product allow supplying a pack, and the proof places (unitIndex, serial) in the batch: its leaf.
    function _checkDispensable(uint256 batchId, uint256 unitIndex, string calldata serial, bytes32[] calldata proof) private view returns (bytes32 leaf) {
        Batch storage b = _requireBatch(batchId);
        _requireSuppliable(batchId, b);
        if (_isExpired(b)) revert BatchTokenExpired(batchId, b.expiryDay);
        bytes32 root = b.serialsRoot;
        if (root == bytes32(0)) revert BatchTokenNotSerialised(batchId);
        leaf = BatchRegistry.unitLeaf(unitIndex, serial);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert BatchTokenInvalidUnitProof(batchId, unitIndex);
    }

    /// @inheritdoc IBatchToken
    function undoDispense(uint256 batchId, uint256 unitIndex, bytes32 reasonHash) external whenNotPaused {
        (address pharmacy, IConsortium.Role role, uint32 pharmacyIndex) = _actor();
        if (role != IConsortium.Role.Pharmacy) revert BatchTokenUnauthorizedMember(pharmacy, role);
        _requireRevertible(batchId, _requireBatch(batchId));
        CustodyOps.undoDispense(_books[batchId], PackLedger.Party(pharmacy, pharmacyIndex), unitIndex, uint32(_today()), _undoWindowDays);
        emit DispenseUndone(batchId, pharmacy, unitIndex, reasonHash);
        _move(address(0), pharmacy, batchId, 1);
    }

    // ─── Regulators, and the producer's own recall ────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function quarantine(uint256 batchId, bytes32 reasonHash) external {
        BatchRegistry.quarantine(_registry, _consortium, _caller(), batchId, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function liftQuarantine(uint256 batchId, bytes32 reasonHash) external {
        BatchRegistry.liftQuarantine(_registry, _consortium, _caller(), batchId, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function recall(uint256 batchId, bytes32 reasonHash) external {
        BatchRegistry.recall(_registry, _consortium, _caller(), batchId, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function safetyNotice(uint256 batchId, bytes32 noticeHash) external {
        BatchRegistry.safetyNotice(_registry, _consortium, _caller(), batchId, noticeHash);
    }

    // ─── Governance ────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function setPaused(bool paused_, bytes32 reasonHash) external onlyGovernance {
        _paused = paused_;
        emit CustodyPaused(paused_, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function undoRecall(uint256 batchId, bytes32 reasonHash) external onlyGovernance {
        BatchRegistry.undoRecall(_registry, batchId, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function setUndoWindow(uint16 windowDays) external onlyGovernance {
        if (windowDays == 0 || windowDays > _MAX_UNDO_WINDOW_DAYS) revert BatchTokenInvalidUndoWindow(windowDays);
        emit UndoWindowChanged(_undoWindowDays, windowDays);
        _undoWindowDays = windowDays;
    }

    /// @inheritdoc IBatchToken
    function recoverCustody(
        uint256 batchId,
        address from,
        address to,
        uint256 quantity,
        Item[] calldata items,
        PackState state,
        bytes32 evidenceHash
    ) external onlyGovernance {
        Batch storage b = _requireBatch(batchId);
        if (quantity == 0) revert BatchTokenZeroQuantity();
        (, uint32 fromIndex) = _participant(from);
        PackLedger.Party memory source = PackLedger.Party(from, fromIndex);
        if (to != address(0)) {
            _recoverTo(batchId, b, source, _stockHolder(to), quantity, items);
            state = PackState.Held;
        } else {
            if (state != PackState.Destroyed && state != PackState.Stolen) revert BatchTokenInvalidDecommission(state);
            _takeItems(batchId, b, source, quantity, items, state, true);
        }
        emit CustodyRecovered(batchId, from, to, state, items, quantity, evidenceHash);
        _move(from, to, batchId, quantity);
    }

    /// @inheritdoc IBatchToken
    function recoverShipment(uint256 shipmentId, Shipment calldata shipment, address to, bytes32 evidenceHash) external onlyGovernance {
        _requirePending(shipmentId, shipment);
        PackLedger.Party memory target = _stockHolder(to);
        delete _pendingShipments[shipmentId];
        emit ShipmentRecovered(shipment.batchId, shipmentId, to, evidenceHash);
        _close(shipment.batchId, shipment, target);
    }

    // ─── ERC-1155 surface that custody replaces ────────────────────────────────────────────────

    /// @dev Always reverts: only a holder moves its own units, through custody.
    function setApprovalForAll(address, bool) public pure override {
        revert BatchTokenApprovalsDisabled();
    }

    /// @dev Always reverts: units move only through custody. ({_update} refuses it too; refusing here
    /// leaves OpenZeppelin's receiver-hook code out of the contract.)
    function safeTransferFrom(address from, address to, uint256, uint256, bytes memory) public pure override {
        revert BatchTokenTransferBypassesCustody(from, to);
    }

    /// @dev Always reverts: units move only through custody.
    function safeBatchTransferFrom(address from, address to, uint256[] memory, uint256[] memory, bytes memory) public pure override {
        revert BatchTokenTransferBypassesCustody(from, to);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function consortium() external view returns (IConsortium) {
        return _consortium;
    }

    /// @inheritdoc IBatchToken
    function batch(uint256 batchId) external view returns (Batch memory) {
        return _registry.batches[batchId];
    }

    /// @inheritdoc IBatchToken
    function marketsOf(uint256 batchId) external view returns (bytes2[] memory) {
        return BatchRegistry.marketsOf(_registry, batchId);
    }

    /// @inheritdoc IBatchToken
    function product(uint64 gtin) external view returns (Product memory) {
        return _registry.products[gtin];
    }

    /// @inheritdoc IBatchToken
    function isLicensed(uint64 prefixKey, address licensee) external view returns (bool) {
        return _registry.licences[prefixKey][licensee];
    }

    /// @inheritdoc IBatchToken
    function batchIdOf(uint64 gtin, string calldata lot) external view returns (uint256) {
        return _registry.batchIdByKey[BatchRegistry.gtinLotKey(gtin, lot)];
    }

    /// @inheritdoc IBatchToken
    function batchCount() external view returns (uint256) {
        return _registry.batchCount;
    }

    /// @inheritdoc IBatchToken
    function shipmentCount() external view returns (uint256) {
        return _shipmentCount;
    }

    /// @inheritdoc IBatchToken
    function isPendingShipment(uint256 shipmentId, Shipment calldata shipment) external view returns (bool) {
        return _pendingShipments[shipmentId] == _shipmentHash(shipment);
    }

    /// @inheritdoc IBatchToken
    function packState(uint256 batchId, ItemKind kind, uint256 index) external view returns (PackState state, uint32 memberIndex, uint32 day) {
        _requireBatch(batchId);
        return CustodyOps.packState(_books[batchId], kind, index);
    }

    /// @inheritdoc IBatchToken
    function holdsUnits(uint256 batchId, address account, Item[] calldata items) external view returns (bool) {
        Batch storage b = _registry.batches[batchId];
        if (b.status == BatchStatus.None || b.serialCount == 0) return false;
        (, uint32 index) = _participant(account);
        return CustodyOps.holds(_books[batchId], PackLedger.Party(account, index), items);
    }

    /// @inheritdoc IBatchToken
    function isExpired(uint256 batchId) external view returns (bool) {
        return _isExpired(_requireBatch(batchId));
    }

    /// @inheritdoc IBatchToken
    function paused() external view returns (bool) {
        return _paused;
    }

    /// @inheritdoc IBatchToken
    function undoWindowDays() external view returns (uint16) {
        return _undoWindowDays;
    }

    /// @inheritdoc IBatchToken
    function verifyUnit(
        uint64 gtin,
        string calldata lot,
        string calldata serial,
        uint32 expiryDay,
        uint256 unitIndex,
        bytes32[] calldata proof
    ) external view returns (UnitVerdict) {
        return BatchRegistry.verifyUnit(_registry, _books, gtin, lot, serial, expiryDay, unitIndex, proof);
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    /**
     * @dev The hook every inherited balance change runs through (`safeTransferFrom`,
     * `safeBatchTransferFrom`, `_mint`, `_burn`, and anything a future change might inherit):
     * always refused. The only balance changes are {_move}'s, which call the ERC-1155 update
     * directly: the single choke point.
     */
    function _update(address from, address to, uint256[] memory, uint256[] memory) internal pure override {
        revert BatchTokenTransferBypassesCustody(from, to);
    }

    /// @dev Moves `value` units of `id` without the ERC-1155 receiver hook (see security considerations).
    function _move(address from, address to, uint256 id, uint256 value) private {
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = id;
        values[0] = value;
        ERC1155._update(from, to, ids, values);
    }

    /// @dev The checks of {ship}, and the items taken into transit: who sends, and the shipment's kind.
    function _checkShipment(uint256 batchId, address receiver, uint256 quantity, Item[] calldata items)
        private
        returns (PackLedger.Party memory sender, ShipmentKind kind)
    {
        (address account, IConsortium.Role fromRole, uint32 index) = _actor();
        Batch storage b = _requireBatch(batchId);
        if (receiver == account) revert BatchTokenSelfShipment(account);
        if (!_holdsStock(fromRole)) revert BatchTokenUnauthorizedMember(account, fromRole);
        (IConsortium.Role toRole, ) = _participant(receiver);
        if (!_holdsStock(toRole)) revert BatchTokenUnauthorizedMember(receiver, toRole);
        kind = _flowKind(batchId, b, fromRole, toRole, receiver);
        if (quantity == 0) revert BatchTokenZeroQuantity();
        sender = PackLedger.Party(account, index);
        _takeItems(batchId, b, sender, quantity, items, PackState.InTransit, false);
    }

    /// @dev Takes `items` (serialised) out of `from`'s custody into `into`, checking they add up to
    /// `quantity`; with `withLocked` (governance) what `from` locked is taken too.
    function _takeItems(
        uint256 batchId,
        Batch storage b,
        PackLedger.Party memory from,
        uint256 quantity,
        Item[] calldata items,
        PackState into,
        bool withLocked
    ) private {
        // Items mean a serialised batch (the ledger checks the layout it reads anyway); only a
        // shipment without items reads the count, to refuse it for a serialised batch.
        if (items.length == 0) {
            if (b.serialCount != 0) revert BatchTokenItemsRequired(batchId);
            return;
        }
        // The layout is read here first and warm in the ledger: ~100 gas for the right error.
        if (_books[batchId].layout.units == 0) revert BatchTokenNotSerialised(batchId);
        uint256 moved = CustodyOps.take(_books[batchId], from, items, into, uint32(_today()), withLocked);
        if (moved != quantity) revert BatchTokenQuantityMismatch(quantity, moved);
    }

    /// @dev Governance: everything of `items` that `from` holds or locked goes to `to`.
    function _recoverTo(
        uint256 batchId,
        Batch storage b,
        PackLedger.Party memory from,
        PackLedger.Party memory to,
        uint256 quantity,
        Item[] calldata items
    ) private {
        if (b.serialCount == 0) {
            if (items.length != 0) revert BatchTokenNotSerialised(batchId);
            return;
        }
        uint256 moved = CustodyOps.transfer(_books[batchId], from, to, items, uint32(_today()));
        if (moved != quantity) revert BatchTokenQuantityMismatch(quantity, moved);
    }

    /// @dev Puts a closed shipment's packs and units into `to`'s custody.
    function _close(uint256 batchId, Shipment calldata shipment, PackLedger.Party memory to) private {
        if (shipment.items.length != 0) PackLedger.place(_books[batchId], to, shipment.items);
        _move(address(0), to.account, batchId, shipment.quantity);
    }

    /// @dev The calling member: the account its key signs for, its active role and its index.
    function _caller() private view returns (BatchRegistry.Caller memory c) {
        (c.account, c.role, c.index) = _actor();
    }

    /// @dev {_caller} as a tuple. One call site for the Consortium's `actor`, which every action needs.
    function _actor() private view returns (address account, IConsortium.Role role, uint32 index) {
        return _consortium.actor(_msgSender());
    }

    /// @dev A member account's active role and index; one call site for the Consortium's `participant`.
    function _participant(address account) private view returns (IConsortium.Role role, uint32 index) {
        return _consortium.participant(account);
    }

    /// @dev The calling member, if it can hold stock, and the serialised batch.
    function _holderOfSerialised(uint256 batchId) private view returns (PackLedger.Party memory holder, Batch storage b) {
        (address account, IConsortium.Role role, uint32 index) = _actor();
        if (!_holdsStock(role)) revert BatchTokenUnauthorizedMember(account, role);
        b = _requireBatch(batchId);
        if (b.serialCount == 0) revert BatchTokenNotSerialised(batchId);
        holder = PackLedger.Party(account, index);
    }

    /// @dev An active member that can hold stock, as a custody party.
    function _stockHolder(address account) private view returns (PackLedger.Party memory) {
        (IConsortium.Role role, uint32 index) = _participant(account);
        if (!_holdsStock(role)) revert BatchTokenCannotHoldStock(account, role);
        return PackLedger.Party(account, index);
    }

    /// @dev Packs go to patients, samples or abroad only from an active batch of an active product.
    function _requireSuppliable(uint256 batchId, Batch storage b) private view {
        if (b.status != BatchStatus.Active) revert BatchTokenInvalidStatus(batchId, b.status);
        if (_registry.products[uint64(b.gtin)].status == ProductStatus.Withdrawn) revert BatchTokenProductWithdrawn(uint64(b.gtin));
    }

    /// @dev EU FMD art. 13: no undo for a recalled or expired batch or a withdrawn product.
    function _requireRevertible(uint256 batchId, Batch storage b) private view {
        if (b.status == BatchStatus.Recalled) revert BatchTokenInvalidStatus(batchId, b.status);
        if (_isExpired(b)) revert BatchTokenExpired(batchId, b.expiryDay);
        if (_registry.products[uint64(b.gtin)].status == ProductStatus.Withdrawn) revert BatchTokenProductWithdrawn(uint64(b.gtin));
    }

    /// @dev Checks the flow table of {IBatchToken} and tells the shipment's kind.
    function _flowKind(
        uint256 batchId,
        Batch storage b,
        IConsortium.Role fromRole,
        IConsortium.Role toRole,
        address receiver
    ) private view returns (ShipmentKind) {
        if (fromRole == IConsortium.Role.Distributor && toRole == IConsortium.Role.Producer) {
            if (receiver != b.producer) revert BatchTokenReturnToOtherProducer(receiver, b.producer);
            return ShipmentKind.Return;
        }
        if (fromRole == IConsortium.Role.Pharmacy && toRole == IConsortium.Role.Distributor) return ShipmentKind.Return;

        bool forward = fromRole == IConsortium.Role.Distributor
            ? toRole != IConsortium.Role.Producer // Distributor → Distributor or Pharmacy
            : fromRole == IConsortium.Role.Producer && toRole == IConsortium.Role.Distributor;
        if (!forward || b.status != BatchStatus.Active) revert BatchTokenFlowNotAllowed(fromRole, toRole, b.status);
        if (toRole == IConsortium.Role.Pharmacy && _isExpired(b)) revert BatchTokenExpired(batchId, b.expiryDay);
        if (_registry.products[uint64(b.gtin)].status == ProductStatus.Withdrawn) revert BatchTokenProductWithdrawn(uint64(b.gtin));
        return ShipmentKind.Forward;
    }

    function _requireBatch(uint256 batchId) private view returns (Batch storage b) {
        return BatchRegistry.requireBatch(_registry, batchId);
    }

    function _requirePending(uint256 shipmentId, Shipment calldata shipment) private view {
        if (_pendingShipments[shipmentId] != _shipmentHash(shipment)) revert BatchTokenUnknownShipment(shipmentId);
    }

    function _holdsStock(IConsortium.Role role) private pure returns (bool) {
        return role == IConsortium.Role.Producer || role == IConsortium.Role.Distributor || role == IConsortium.Role.Pharmacy;
    }

    function _isExpired(Batch storage b) private view returns (bool) {
        return _today() > b.expiryDay;
    }

    function _today() private view returns (uint256) {
        return block.timestamp / 1 days;
    }

    function _shipmentHash(Shipment calldata s) private pure returns (bytes32) {
        return keccak256(abi.encode(s.batchId, s.sender, s.receiver, s.quantity, s.kind, s.items));
    }


    // ─── ERC-2771 resolution ───────────────────────────────────────────────────────────────────

    function _msgSender() internal view override(Context, ERC2771Context) returns (address) {
        return ERC2771Context._msgSender();
    }

    function _msgData() internal view override(Context, ERC2771Context) returns (bytes calldata) {
        return ERC2771Context._msgData();
    }

    function _contextSuffixLength() internal view override(Context, ERC2771Context) returns (uint256) {
        return ERC2771Context._contextSuffixLength();
    }
}
