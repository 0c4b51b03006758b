// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortium} from "./IConsortium.sol";

/**
 * @title IBatchToken
 * @notice Medicine batches as ERC-1155 tokens (one token id per batch), moved only by two-party
 * custody, overlaid with regulator status, and verified unit by unit against a Merkle commitment
 * of the batch's serial numbers.
 *
 * Allowed custody flows (sender role → receiver role), checked at `ship` and again at `accept`:
 *
 * | sender      | receiver                      | kind    | while quarantined/recalled | batch expired |
 * |-------------|-------------------------------|---------|----------------------------|---------------|
 * | Producer    | Distributor                   | forward | refused                    | allowed       |
 * | Distributor | Distributor (another one)     | forward | refused                    | allowed       |
 * | Distributor | Pharmacy                      | forward | refused                    | refused       |
 * | Distributor | Producer (the batch producer) | return  | allowed                    | allowed       |
 * | Pharmacy    | Distributor                   | return  | allowed                    | allowed       |
 *
 * Every other pair is refused, and so is every party that is not an active member (Regulators
 * and Auditors never hold stock). Units can always leave circulation by a holder's write-off
 * (destroyed or stolen); a Pharmacy dispenses single serialised units while the batch is Active
 * and not expired.
 *
 * Status machine of a batch: Active ⇄ Quarantined (regulator sets and lifts); Active or
 * Quarantined → Recalled (regulator; final). Expiry is derived from time, never stored.
 *
 * Serial commitment: leaves follow the StandardMerkleTree of the OpenZeppelin merkle-tree library with leaf types
 * `["uint256", "string"]` and values `[unitIndex, serial]`, i.e.
 * `keccak256(bytes.concat(keccak256(abi.encode(unitIndex, serial))))`. The unit index (its place in
 * the producer's serial list) is bound into the leaf, so the dispense bitmap cannot be fooled by
 * proving the same serial at another index.
 */
interface IBatchToken {
    /// @notice Regulatory status of a batch. None means "no such batch".
    enum BatchStatus {
        None,
        Active,
        Quarantined,
        Recalled
    }

    /// @notice Why a receiver refused a delivery.
    enum RejectReason {
        Unspecified,
        Damaged,
        WrongProduct,
        WrongQuantity,
        TemperatureExcursion,
        SuspectProduct,
        NotOrdered
    }

    /// @notice Why a holder writes units off.
    enum LossReason {
        Destroyed,
        Stolen
    }

    /// @notice Answer of {verifyUnit} for one pack.
    enum UnitVerdict {
        Genuine,
        Dispensed,
        Recalled,
        Quarantined,
        Expired,
        UnknownBatch,
        NotInBatch,
        ExpiryMismatch
    }

    /// @notice What a producer declares when minting a batch.
    struct BatchInput {
        uint64 gtin; // GTIN-14 as a number, check digit included
        string lot; // 1–20 characters of GS1 character set 82
        uint32 expiryDay; // days since 1970-01-01 (UTC) of the expiry date (AI 17); usable through that day
        uint128 quantity; // units in the batch
        bytes32 serialsRoot; // Merkle root of the serial list, or zero for a batch without serials
        uint32 serialCount; // number of serials; equals quantity when serialsRoot is set, else zero
        bytes32 documentHash; // e.g. certificate of analysis or EPCIS commissioning event hash
    }

    /**
     * @notice A stored batch. The first slot holds everything the custody hot path reads.
     */
    struct Batch {
        address producer;
        uint48 gtin;
        uint32 expiryDay;
        BatchStatus status;
        uint32 serialCount;
        uint128 quantity;
        bytes32 serialsRoot;
        bytes32 documentHash;
        string lot;
    }

    /**
     * @notice A pending shipment. Only `keccak256(abi.encode(shipment))` is stored; the parties pass
     * the fields back (they are in {ShipmentCreated}) and the contract checks them against it.
     */
    struct Shipment {
        uint256 batchId;
        address sender;
        address receiver;
        uint256 quantity;
        bool isReturn;
    }

    // ─── Events ────────────────────────────────────────────────────────────────────────────────
    // Three indexed arguments is the EVM's limit: events index the batch and the parties, and
    // carry the shipment id as data where a fourth would be needed.

    event BatchMinted(
        uint256 indexed batchId,
        address indexed producer,
        uint64 indexed gtin,
        string lot,
        uint32 expiryDay,
        uint128 quantity,
        bytes32 serialsRoot,
        uint32 serialCount,
        bytes32 documentHash
    );
    event ShipmentCreated(
        uint256 indexed batchId,
        address indexed sender,
        address indexed receiver,
        uint256 shipmentId,
        uint256 quantity,
        bool isReturn,
        bytes32 referenceHash
    );
    event ShipmentAccepted(
        uint256 indexed batchId,
        address indexed sender,
        address indexed receiver,
        uint256 shipmentId,
        uint256 quantity
    );
    event ShipmentRejected(
        uint256 indexed batchId,
        address indexed sender,
        address indexed receiver,
        uint256 shipmentId,
        uint256 quantity,
        RejectReason reason
    );
    event ShipmentCancelled(
        uint256 indexed batchId,
        address indexed sender,
        address indexed receiver,
        uint256 shipmentId,
        uint256 quantity
    );
    event BatchQuarantined(uint256 indexed batchId, address indexed regulator, bytes32 reasonHash);
    event BatchQuarantineLifted(uint256 indexed batchId, address indexed regulator, bytes32 reasonHash);
    event BatchRecalled(uint256 indexed batchId, address indexed regulator, bytes32 reasonHash);
    event UnitDispensed(uint256 indexed batchId, address indexed pharmacy, uint256 indexed unitIndex, bytes32 leaf);
    event UnitsWrittenOff(
        uint256 indexed batchId,
        address indexed holder,
        LossReason indexed reason,
        uint256 quantity,
        bytes32 evidenceHash
    );

    // ─── Errors ────────────────────────────────────────────────────────────────────────────────

    /// @dev `account` is not an active member with the role the action needs (its active role is `role`).
    error BatchTokenUnauthorizedMember(address account, IConsortium.Role role);
    /// @dev `gtin` is not a GTIN-14 with a valid check digit.
    error BatchTokenInvalidGtin(uint256 gtin);
    /// @dev A lot must have 1 to 20 characters.
    error BatchTokenInvalidLotLength(uint256 length);
    /// @dev The lot's character at `position` is outside GS1 character set 82.
    error BatchTokenInvalidLotCharacter(uint256 position, bytes1 character);
    /// @dev Quantities must be positive.
    error BatchTokenZeroQuantity();
    /// @dev The expiry day is already past (`today` in days since 1970-01-01).
    error BatchTokenExpiryInPast(uint256 expiryDay, uint256 today);
    /// @dev (GTIN, lot) already names batch `batchId`.
    error BatchTokenDuplicateBatch(uint256 gtin, string lot, uint256 batchId);
    /// @dev Serial root and count must be both set (count = quantity) or both zero.
    error BatchTokenInvalidSerialCommitment(bytes32 serialsRoot, uint256 serialCount, uint256 quantity);
    /// @dev No batch has id `batchId`.
    error BatchTokenUnknownBatch(uint256 batchId);
    /// @dev Custody cannot move from a `from` to a `to` while the batch is in `status`.
    error BatchTokenFlowNotAllowed(IConsortium.Role from, IConsortium.Role to, BatchStatus status);
    /// @dev Returns to a producer go only to the batch's own producer.
    error BatchTokenReturnToOtherProducer(address receiver, address producer);
    /// @dev A member cannot ship to itself.
    error BatchTokenSelfShipment(address account);
    /// @dev The batch expired after day `expiryDay`: it cannot go to or be dispensed by a pharmacy.
    error BatchTokenExpired(uint256 batchId, uint256 expiryDay);
    /// @dev No pending shipment `shipmentId` with these fields.
    error BatchTokenUnknownShipment(uint256 shipmentId);
    /// @dev Only the shipment's receiver may accept or reject it.
    error BatchTokenNotShipmentReceiver(uint256 shipmentId, address caller);
    /// @dev Only the shipment's sender may cancel it.
    error BatchTokenNotShipmentSender(uint256 shipmentId, address caller);
    /// @dev The action needs the batch in another status.
    error BatchTokenInvalidStatus(uint256 batchId, BatchStatus status);
    /// @dev The batch has no serial commitment, so units cannot be dispensed by serial.
    error BatchTokenNotSerialised(uint256 batchId);
    /// @dev The proof does not place (unitIndex, serial) in the batch's serial tree.
    error BatchTokenInvalidUnitProof(uint256 batchId, uint256 unitIndex);
    /// @dev The unit was dispensed before: a second pack with this serial is a likely clone.
    error BatchTokenUnitAlreadyDispensed(uint256 batchId, uint256 unitIndex);
    /// @dev Units move only through custody (ship/accept/reject/cancel); plain ERC-1155 transfers are refused.
    error BatchTokenTransferBypassesCustody(address from, address to);
    /// @dev Operators cannot be approved: only a holder moves its own units.
    error BatchTokenApprovalsDisabled();

    // ─── Producer ──────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Mint a new batch to the calling producer.
     *
     * Requirements:
     * - the caller is an active Producer;
     * - `input.gtin` is a valid GTIN-14; `input.lot` has 1–20 characters of GS1 set 82;
     * - (GTIN, lot) is not used yet; quantity > 0; expiry day not in the past;
     * - serial root and count are both zero, or set with count = quantity.
     *
     * Emits {BatchMinted} and {IERC1155-TransferSingle}.
     */
    function mintBatch(BatchInput calldata input) external returns (uint256 batchId);

    // ─── Custody ───────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Ship `quantity` units of `batchId` to `receiver`: units leave the caller's balance into
     * a pending shipment until the receiver accepts them, or they return to the caller when the
     * receiver rejects or the caller cancels. In ERC-1155 terms they are transferred to the zero
     * address and back from it; {ShipmentCreated} and its follow-up event tell the two apart from
     * a burn or a mint.
     * @param referenceHash Hash of the despatch advice / DSCSA transaction information, kept off chain.
     *
     * Requirements:
     * - caller and receiver are different active members and (caller role → receiver role) is an
     *   allowed flow for the batch's status and expiry (see the table above);
     * - a return to a Producer goes to the batch's producer;
     * - quantity > 0 and the caller holds at least `quantity`.
     *
     * Emits {ShipmentCreated} and {IERC1155-TransferSingle}.
     */
    function ship(uint256 batchId, uint256 quantity, address receiver, bytes32 referenceHash)
        external
        returns (uint256 shipmentId);

    /**
     * @notice Accept a pending shipment: the units arrive in the caller's balance.
     *
     * Requirements:
     * - `shipment` matches pending shipment `shipmentId` and the caller is its receiver;
     * - sender and receiver are still active members and (sender role → receiver role) is still an
     *   allowed flow for the batch's current status and expiry (see the table above): a forward
     *   shipment of a batch quarantined or recalled in transit, or to a party whose role changed,
     *   can only be rejected or cancelled.
     *
     * Emits {ShipmentAccepted} and {IERC1155-TransferSingle}.
     */
    function acceptShipment(uint256 shipmentId, Shipment calldata shipment) external;

    /**
     * @notice Reject a pending shipment: the units return to the sender.
     *
     * Requirements: `shipment` matches pending shipment `shipmentId`; the caller is its receiver
     * and an active member.
     *
     * Emits {ShipmentRejected} and {IERC1155-TransferSingle}.
     */
    function rejectShipment(uint256 shipmentId, Shipment calldata shipment, RejectReason reason) external;

    /**
     * @notice Cancel a shipment not yet accepted: the units return to the caller.
     *
     * Requirements: `shipment` matches pending shipment `shipmentId`; the caller is its sender and
     * an active member.
     *
     * Emits {ShipmentCancelled} and {IERC1155-TransferSingle}.
     */
    function cancelShipment(uint256 shipmentId, Shipment calldata shipment) external;

    /**
     * @notice Write off units the caller held: destroyed or stolen. They are burned.
     *
     * Requirements: the caller is an active member with a stock-holding role and holds `quantity` > 0.
     *
     * Emits {UnitsWrittenOff} and {IERC1155-TransferSingle}.
     */
    function writeOff(uint256 batchId, uint256 quantity, LossReason reason, bytes32 evidenceHash) external;

    // ─── Pharmacy ──────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Dispense one serialised unit to a patient: proves (unitIndex, serial) against the
     * batch's serial root, marks the unit in the dispense bitmap and burns one unit of the caller.
     *
     * Requirements:
     * - the caller is an active Pharmacy holding at least one unit;
     * - the batch is Active and not expired and has a serial commitment;
     * - the proof is valid and the unit was not dispensed before.
     *
     * Emits {UnitDispensed} and {IERC1155-TransferSingle}.
     */
    function dispense(uint256 batchId, uint256 unitIndex, string calldata serial, bytes32[] calldata proof) external;

    // ─── Regulator ─────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Quarantine a suspect batch: forward custody and dispensing stop; returns continue.
     *
     * Requirements: the caller is an active Regulator; the batch is Active.
     *
     * Emits {BatchQuarantined}.
     */
    function quarantine(uint256 batchId, bytes32 reasonHash) external;

    /**
     * @notice Lift a quarantine.
     *
     * Requirements: the caller is an active Regulator; the batch is Quarantined.
     *
     * Emits {BatchQuarantineLifted}.
     */
    function liftQuarantine(uint256 batchId, bytes32 reasonHash) external;

    /**
     * @notice Recall a batch. Irreversible: its units move only back toward the producer or to destruction.
     *
     * Requirements: the caller is an active Regulator; the batch is Active or Quarantined.
     *
     * Emits {BatchRecalled}.
     */
    function recall(uint256 batchId, bytes32 reasonHash) external;

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @notice The consortium register this token reads roles from.
    function consortium() external view returns (IConsortium);

    /// @notice A batch's attributes (status None when it does not exist).
    function batch(uint256 batchId) external view returns (Batch memory);

    /// @notice The batch id of (GTIN, lot), or 0.
    function batchIdOf(uint64 gtin, string calldata lot) external view returns (uint256);

    /// @notice Number of batches minted; ids run from 1 to this number.
    function batchCount() external view returns (uint256);

    /// @notice Number of shipments ever created; ids run from 1 to this number.
    function shipmentCount() external view returns (uint256);

    /// @notice Whether shipment `shipmentId` with exactly these fields is pending.
    function isPendingShipment(uint256 shipmentId, Shipment calldata shipment) external view returns (bool);

    /// @notice Whether unit `unitIndex` of the batch was dispensed.
    function isDispensed(uint256 batchId, uint256 unitIndex) external view returns (bool);

    /// @notice Whether the batch's expiry day is past.
    function isExpired(uint256 batchId) external view returns (bool);

    /**
     * @notice Verdict for a pack: (GTIN, lot, serial, expiry) as printed on it, with the unit's
     * index and Merkle proof. Checked in this order: UnknownBatch, NotInBatch, ExpiryMismatch,
     * Recalled, Quarantined, Dispensed, Expired, else Genuine.
     */
    function verifyUnit(
        uint64 gtin,
        string calldata lot,
        string calldata serial,
        uint32 expiryDay,
        uint256 unitIndex,
        bytes32[] calldata proof
    ) external view returns (UnitVerdict);
}
