// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {Context} from "@openzeppelin/contracts/utils/Context.sol";
import {ERC1155} from "@openzeppelin/contracts/token/ERC1155/ERC1155.sol";
import {ERC2771Context} from "@openzeppelin/contracts/metatx/ERC2771Context.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {BitMaps} from "@openzeppelin/contracts/utils/structs/BitMaps.sol";
import {IBatchToken} from "./interfaces/IBatchToken.sol";
import {IConsortium} from "./interfaces/IConsortium.sol";
import {GS1} from "./libraries/GS1.sol";

/**
 * @title BatchToken
 * @notice Medicine batches as ERC-1155 tokens with two-party custody, regulator status and
 * unit-level serial verification. See {IBatchToken} for the custody flow table and status machine.
 *
 * Security considerations:
 * - Identity comes only from {_msgSender}; every member action works sent directly or relayed by
 *   the consortium's {ERC2771Forwarder}. No multicall or delegatecall is offered (ERC-2771 address
 *   spoofing).
 * - Every balance change goes through {_update}, and {_update} accepts only changes started by
 *   this contract's custody functions (a transient flag set by {_move}). Plain ERC-1155 transfers
 *   and operator approvals are refused; ERC-1155 `data` is therefore never passed anywhere.
 * - {_move} calls {ERC1155-_update} without the receiver acceptance check: units only ever go to
 *   members or out of circulation, so no external code runs during a state change and custody
 *   functions cannot be re-entered.
 * - Units in transit exist only as their pending shipment: `ship` takes them out of the sender's
 *   balance (an ERC-1155 transfer to the zero address) and acceptance, rejection or cancellation
 *   puts them into a balance again (a transfer from the zero address). Each pending shipment is
 *   one stored hash; the parties replay the fields from {ShipmentCreated}, and a forged field
 *   changes the hash and is refused. Holding them in an escrow balance instead would cost a
 *   storage slot set and cleared per handover (about 22,000 gas, 11% of a relayed handover).
 *   Supply per batch is therefore: minted = Σ balances + Σ pending shipments + dispensed +
 *   written off, which the events rebuild exactly.
 * - Dispensing binds the unit index into the Merkle leaf, so one serial cannot be proved at two
 *   positions of the bitmap.
 */
contract BatchToken is IBatchToken, ERC1155, ERC2771Context {
    using BitMaps for BitMaps.BitMap;

    IConsortium private immutable _consortium;

    uint256 private _batchCount;
    uint256 private _shipmentCount;
    mapping(uint256 batchId => Batch) private _batches;
    mapping(bytes32 gtinLotKey => uint256 batchId) private _batchIdByKey;
    mapping(uint256 shipmentId => bytes32 commitment) private _pendingShipments;
    mapping(uint256 batchId => BitMaps.BitMap) private _dispensedUnits;

    /// @dev Set only while {_move} runs: {_update} refuses every balance change that did not come through it.
    bool private transient _custodyMove;

    /**
     * @param consortium_ The member register roles are read from.
     * @param trustedForwarder_ The consortium's ERC2771Forwarder.
     * @param uri_ ERC-1155 metadata URI template (`{id}` is replaced by clients).
     */
    constructor(IConsortium consortium_, address trustedForwarder_, string memory uri_)
        ERC1155(uri_)
        ERC2771Context(trustedForwarder_)
    {
        _consortium = consortium_;
    }

    // ─── Producer ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function mintBatch(BatchInput calldata input) external returns (uint256 batchId) {
        address producer = _requireRole(IConsortium.Role.Producer);
        if (!GS1.isValidGtin(input.gtin)) revert BatchTokenInvalidGtin(input.gtin);
        bytes calldata lot = bytes(input.lot);
        if (lot.length == 0 || lot.length > GS1.MAX_LOT_LENGTH) revert BatchTokenInvalidLotLength(lot.length);
        uint256 badPosition = GS1.firstInvalidCset82(lot);
        if (badPosition != type(uint256).max) revert BatchTokenInvalidLotCharacter(badPosition, lot[badPosition]);
        if (input.quantity == 0) revert BatchTokenZeroQuantity();
        uint256 today = _today();
        if (input.expiryDay < today) revert BatchTokenExpiryInPast(input.expiryDay, today);
        bool hasRoot = input.serialsRoot != bytes32(0);
        if (hasRoot ? input.serialCount != input.quantity : input.serialCount != 0) {
            revert BatchTokenInvalidSerialCommitment(input.serialsRoot, input.serialCount, input.quantity);
        }
        bytes32 key = _gtinLotKey(input.gtin, input.lot);
        uint256 existing = _batchIdByKey[key];
        if (existing != 0) revert BatchTokenDuplicateBatch(input.gtin, input.lot, existing);

        batchId = ++_batchCount;
        _batchIdByKey[key] = batchId;
        _batches[batchId] = Batch({
            producer: producer,
            gtin: uint48(input.gtin), // Fits: a valid GTIN-14 is below 10^14 < 2^48.
            expiryDay: input.expiryDay,
            status: BatchStatus.Active,
            serialCount: input.serialCount,
            quantity: input.quantity,
            serialsRoot: input.serialsRoot,
            documentHash: input.documentHash,
            lot: input.lot
        });
        _emitMinted(batchId, producer, input);
        _move(address(0), producer, batchId, input.quantity);
    }

    // ─── Custody ───────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function ship(uint256 batchId, uint256 quantity, address receiver, bytes32 referenceHash)
        external
        returns (uint256 shipmentId)
    {
        address sender = _msgSender();
        Batch storage b = _requireBatch(batchId);
        if (quantity == 0) revert BatchTokenZeroQuantity();
        if (receiver == sender) revert BatchTokenSelfShipment(sender);
        IConsortium.Role fromRole = _consortium.activeRole(sender);
        if (!_holdsStock(fromRole)) revert BatchTokenUnauthorizedMember(sender, fromRole);
        IConsortium.Role toRole = _consortium.activeRole(receiver);
        if (!_holdsStock(toRole)) revert BatchTokenUnauthorizedMember(receiver, toRole);
        bool isReturn = _checkFlow(batchId, b, fromRole, toRole, receiver);

        shipmentId = ++_shipmentCount;
        _pendingShipments[shipmentId] = _shipmentHash(Shipment(batchId, sender, receiver, quantity, isReturn));
        emit ShipmentCreated(batchId, sender, receiver, shipmentId, quantity, isReturn, referenceHash);
        _move(sender, address(0), batchId, quantity);
    }

    /// @inheritdoc IBatchToken
    function acceptShipment(uint256 shipmentId, Shipment calldata shipment) external {
        _requirePending(shipmentId, shipment);
        address receiver = _msgSender();
        if (receiver != shipment.receiver) revert BatchTokenNotShipmentReceiver(shipmentId, receiver);
        // Roles, statuses and the batch may all have changed in transit (a role change, a
        // suspension, a quarantine, expiry): the flow table is applied again to the parties as
        // they are now, so acceptance is exactly as strict as shipping.
        IConsortium.Role toRole = _consortium.activeRole(receiver);
        if (!_holdsStock(toRole)) revert BatchTokenUnauthorizedMember(receiver, toRole);
        IConsortium.Role fromRole = _consortium.activeRole(shipment.sender);
        if (!_holdsStock(fromRole)) revert BatchTokenUnauthorizedMember(shipment.sender, fromRole);
        _checkFlow(shipment.batchId, _batches[shipment.batchId], fromRole, toRole, receiver);

        delete _pendingShipments[shipmentId];
        emit ShipmentAccepted(shipment.batchId, shipment.sender, receiver, shipmentId, shipment.quantity);
        _move(address(0), receiver, shipment.batchId, shipment.quantity);
    }

    /// @inheritdoc IBatchToken
    function rejectShipment(uint256 shipmentId, Shipment calldata shipment, RejectReason reason) external {
        _requirePending(shipmentId, shipment);
        address receiver = _msgSender();
        if (receiver != shipment.receiver) revert BatchTokenNotShipmentReceiver(shipmentId, receiver);
        _requireActive(receiver);

        delete _pendingShipments[shipmentId];
        emit ShipmentRejected(shipment.batchId, shipment.sender, receiver, shipmentId, shipment.quantity, reason);
        _move(address(0), shipment.sender, shipment.batchId, shipment.quantity);
    }

    /// @inheritdoc IBatchToken
    function cancelShipment(uint256 shipmentId, Shipment calldata shipment) external {
        _requirePending(shipmentId, shipment);
        address sender = _msgSender();
        if (sender != shipment.sender) revert BatchTokenNotShipmentSender(shipmentId, sender);
        _requireActive(sender);

        delete _pendingShipments[shipmentId];
        emit ShipmentCancelled(shipment.batchId, sender, shipment.receiver, shipmentId, shipment.quantity);
        _move(address(0), sender, shipment.batchId, shipment.quantity);
    }

    /// @inheritdoc IBatchToken
    function writeOff(uint256 batchId, uint256 quantity, LossReason reason, bytes32 evidenceHash) external {
        address holder = _msgSender();
        _requireBatch(batchId);
        IConsortium.Role role = _consortium.activeRole(holder);
        if (!_holdsStock(role)) revert BatchTokenUnauthorizedMember(holder, role);
        if (quantity == 0) revert BatchTokenZeroQuantity();

        emit UnitsWrittenOff(batchId, holder, reason, quantity, evidenceHash);
        _move(holder, address(0), batchId, quantity);
    }

    // ─── Pharmacy ──────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function dispense(uint256 batchId, uint256 unitIndex, string calldata serial, bytes32[] calldata proof) external {
        address pharmacy = _requireRole(IConsortium.Role.Pharmacy);
        Batch storage b = _requireBatch(batchId);
        if (b.status != BatchStatus.Active) revert BatchTokenInvalidStatus(batchId, b.status);
        if (_isExpired(b)) revert BatchTokenExpired(batchId, b.expiryDay);
        bytes32 root = b.serialsRoot;
        if (root == bytes32(0)) revert BatchTokenNotSerialised(batchId);
        bytes32 leaf = _unitLeaf(unitIndex, serial);
        if (!MerkleProof.verifyCalldata(proof, root, leaf)) revert BatchTokenInvalidUnitProof(batchId, unitIndex);
        BitMaps.BitMap storage dispensed = _dispensedUnits[batchId];
        if (dispensed.get(unitIndex)) revert BatchTokenUnitAlreadyDispensed(batchId, unitIndex);

        dispensed.set(unitIndex);
        emit UnitDispensed(batchId, pharmacy, unitIndex, leaf);
        _move(pharmacy, address(0), batchId, 1);
    }

    // ─── Regulator ─────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function quarantine(uint256 batchId, bytes32 reasonHash) external {
        address regulator = _requireRole(IConsortium.Role.Regulator);
        Batch storage b = _requireBatch(batchId);
        if (b.status != BatchStatus.Active) revert BatchTokenInvalidStatus(batchId, b.status);
        b.status = BatchStatus.Quarantined;
        emit BatchQuarantined(batchId, regulator, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function liftQuarantine(uint256 batchId, bytes32 reasonHash) external {
        address regulator = _requireRole(IConsortium.Role.Regulator);
        Batch storage b = _requireBatch(batchId);
        if (b.status != BatchStatus.Quarantined) revert BatchTokenInvalidStatus(batchId, b.status);
        b.status = BatchStatus.Active;
        emit BatchQuarantineLifted(batchId, regulator, reasonHash);
    }

    /// @inheritdoc IBatchToken
    function recall(uint256 batchId, bytes32 reasonHash) external {
        address regulator = _requireRole(IConsortium.Role.Regulator);
        Batch storage b = _requireBatch(batchId);
        if (b.status == BatchStatus.Recalled) revert BatchTokenInvalidStatus(batchId, b.status);
        b.status = BatchStatus.Recalled;
        emit BatchRecalled(batchId, regulator, reasonHash);
    }

    // ─── ERC-1155 surface that custody replaces ────────────────────────────────────────────────

    /// @dev Always reverts: only a holder moves its own units, through custody.
    function setApprovalForAll(address, bool) public pure override {
        revert BatchTokenApprovalsDisabled();
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @inheritdoc IBatchToken
    function consortium() external view returns (IConsortium) {
        return _consortium;
    }

    /// @inheritdoc IBatchToken
    function batch(uint256 batchId) external view returns (Batch memory) {
        return _batches[batchId];
    }

    /// @inheritdoc IBatchToken
    function batchIdOf(uint64 gtin, string calldata lot) external view returns (uint256) {
        return _batchIdByKey[_gtinLotKey(gtin, lot)];
    }

    /// @inheritdoc IBatchToken
    function batchCount() external view returns (uint256) {
        return _batchCount;
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
    function isDispensed(uint256 batchId, uint256 unitIndex) external view returns (bool) {
        return _dispensedUnits[batchId].get(unitIndex);
    }

    /// @inheritdoc IBatchToken
    function isExpired(uint256 batchId) external view returns (bool) {
        return _isExpired(_requireBatch(batchId));
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
        uint256 batchId = _batchIdByKey[_gtinLotKey(gtin, lot)];
        if (batchId == 0) return UnitVerdict.UnknownBatch;
        Batch storage b = _batches[batchId];
        bytes32 root = b.serialsRoot;
        if (root == bytes32(0) || !MerkleProof.verifyCalldata(proof, root, _unitLeaf(unitIndex, serial))) {
            return UnitVerdict.NotInBatch;
        }
        if (expiryDay != b.expiryDay) return UnitVerdict.ExpiryMismatch;
        if (b.status == BatchStatus.Recalled) return UnitVerdict.Recalled;
        if (b.status == BatchStatus.Quarantined) return UnitVerdict.Quarantined;
        if (_dispensedUnits[batchId].get(unitIndex)) return UnitVerdict.Dispensed;
        if (_isExpired(b)) return UnitVerdict.Expired;
        return UnitVerdict.Genuine;
    }

    // ─── Internal ──────────────────────────────────────────────────────────────────────────────

    /**
     * @dev The single choke point of every balance change. It only lets through changes started by
     * {_move}; everything else — `safeTransferFrom`, `safeBatchTransferFrom`, and anything a future
     * change might inherit — is refused.
     */
    function _update(address from, address to, uint256[] memory ids, uint256[] memory values) internal override {
        if (!_custodyMove) revert BatchTokenTransferBypassesCustody(from, to);
        super._update(from, to, ids, values);
    }

    /// @dev Moves `value` units of `id` without the ERC-1155 receiver hook (see security considerations).
    function _move(address from, address to, uint256 id, uint256 value) private {
        uint256[] memory ids = new uint256[](1);
        uint256[] memory values = new uint256[](1);
        ids[0] = id;
        values[0] = value;
        _custodyMove = true;
        _update(from, to, ids, values);
        _custodyMove = false;
    }

    /// @dev Separate from {mintBatch} to keep the stack shallow: the event has nine fields.
    function _emitMinted(uint256 batchId, address producer, BatchInput calldata input) private {
        emit BatchMinted(
            batchId,
            producer,
            input.gtin,
            input.lot,
            input.expiryDay,
            input.quantity,
            input.serialsRoot,
            input.serialCount,
            input.documentHash
        );
    }

    /// @dev Checks the flow table of {IBatchToken} and tells whether the shipment is a return.
    function _checkFlow(
        uint256 batchId,
        Batch storage b,
        IConsortium.Role fromRole,
        IConsortium.Role toRole,
        address receiver
    ) private view returns (bool isReturn) {
        if (fromRole == IConsortium.Role.Distributor && toRole == IConsortium.Role.Producer) {
            if (receiver != b.producer) revert BatchTokenReturnToOtherProducer(receiver, b.producer);
            return true;
        }
        if (fromRole == IConsortium.Role.Pharmacy && toRole == IConsortium.Role.Distributor) return true;

        bool forward = fromRole == IConsortium.Role.Distributor
            ? toRole != IConsortium.Role.Producer // Distributor → Distributor or Pharmacy
            : fromRole == IConsortium.Role.Producer && toRole == IConsortium.Role.Distributor;
        if (!forward || b.status != BatchStatus.Active) revert BatchTokenFlowNotAllowed(fromRole, toRole, b.status);
        if (toRole == IConsortium.Role.Pharmacy && _isExpired(b)) revert BatchTokenExpired(batchId, b.expiryDay);
        return false;
    }

    function _requireRole(IConsortium.Role role) private view returns (address account) {
        account = _msgSender();
        IConsortium.Role actual = _consortium.activeRole(account);
        if (actual != role) revert BatchTokenUnauthorizedMember(account, actual);
    }

    function _requireActive(address account) private view {
        IConsortium.Role role = _consortium.activeRole(account);
        if (role == IConsortium.Role.None) revert BatchTokenUnauthorizedMember(account, role);
    }

    function _requireBatch(uint256 batchId) private view returns (Batch storage b) {
        b = _batches[batchId];
        if (b.status == BatchStatus.None) revert BatchTokenUnknownBatch(batchId);
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

    function _shipmentHash(Shipment memory shipment) private pure returns (bytes32) {
        return keccak256(abi.encode(shipment));
    }

    function _gtinLotKey(uint64 gtin, string calldata lot) private pure returns (bytes32) {
        return keccak256(abi.encode(gtin, lot));
    }

    /// @dev StandardMerkleTree leaf of `["uint256", "string"]` values `[unitIndex, serial]`.
    function _unitLeaf(uint256 unitIndex, string calldata serial) private pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(unitIndex, serial))));
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
