// SPDX-License-Identifier: Apache-2.0
pragma solidity ^0.8.24;

import {IConsortium} from "./IConsortium.sol";

/**
 * @title IBatchToken
 * @notice Medicine batches as ERC-1155 tokens (one token id per batch) whose every serialised pack
 * has exactly one holder or one terminal state; products registered by their brand owners;
 * regulator status by the jurisdictions a batch is marketed in.
 *
 * ## Claims bound to their owner
 * A product (GTIN) is registered by the producer that owns the GS1 Company Prefix it falls under
 * (Consortium), with its markets (ISO 3166-1 codes) and the hash of its master data. A batch is
 * minted by the product's owner, or by a producer the owner licensed for that prefix (contract
 * manufacturers, repackagers). Quarantine and its lift belong to the regulators of the batch's
 * markets (a lift to the jurisdiction that set it); a recall to them and to the batch's producer
 * or the product's owner; any regulator may record a safety notice.
 *
 * ## Packs, cases, pallets
 * A serialised batch of N packs has unit indexes 0 … N − 1 (the producer's serial list order,
 * committed as a Merkle root). The producer may declare an aggregation at mint: cases of
 * `unitsPerCase` consecutive packs, pallets of `casesPerPallet` consecutive cases, each identified
 * by an SSCC (AI 00) committed as `packingRoot` (leaves `[level, index, sscc]`, see {mintBatch}).
 * Custody then moves whole pallets, whole cases or ranges of single packs (items). Opening a
 * container ({unpack}, or implicitly by taking something out of it) keeps its untouched content
 * with its holder. Non-serialised batches keep quantity-only custody.
 *
 * ## Pack states (who may move a pack from which state to which)
 *
 * | from           | to                                   | who                                              |
 * |----------------|--------------------------------------|--------------------------------------------------|
 * | held           | in transit                           | its holder (`ship`)                              |
 * | in transit     | held by the receiver                 | the receiver (`acceptShipment`)                  |
 * | in transit     | held by the sender                   | the receiver (`rejectShipment`), the sender (`cancelShipment`) |
 * | held           | dispensed                            | its holder, a pharmacy (`dispense`)              |
 * | dispensed      | held                                 | the same pharmacy within the undo window (`undoDispense`) |
 * | held           | destroyed, stolen                    | its holder (`decommission`); final               |
 * | held           | sample, free sample, exported        | its holder (`decommission`)                      |
 * | sample, free sample, exported | held                  | the same member within the undo window (`revertDecommission`) |
 * | held           | locked                               | its holder (`lock`: its own investigation hold)  |
 * | locked         | held                                 | the member that locked it, or a regulator of a market (`unlock`) |
 * | any but final  | held by another member, or a final state | governance (`recoverCustody`, `recoverShipment`) |
 *
 * Over those, batch status and product status: a batch quarantined (by any of its markets'
 * regulators) or recalled, or a product withdrawn, moves only back toward its producer or out of
 * circulation; nothing of it is dispensed. Undoing a dispense or a decommission follows EU FMD
 * (Delegated Regulation 2016/161, art. 13): same member, within the window (10 days by default),
 * not for a recalled or expired batch or a withdrawn product.
 *
 * ## Allowed custody flows (sender role → receiver role)
 *
 * | sender      | receiver                      | kind    | quarantined, recalled, withdrawn | batch expired |
 * |-------------|-------------------------------|---------|----------------------------------|---------------|
 * | Producer    | Distributor                   | Forward | refused                          | allowed       |
 * | Distributor | Distributor (another one)     | Forward | refused                          | allowed       |
 * | Distributor | Pharmacy                      | Forward | refused                          | refused       |
 * | Distributor | Producer (the batch producer) | Return  | allowed                          | allowed       |
 * | Pharmacy    | Distributor                   | Return  | allowed                          | allowed       |
 *
 * The kind is fixed when shipping; acceptance applies the table again to the recorded kind and
 * the parties' current roles, and both must allow it. Units only ever reach an active member with
 * a stock-holding role: a rejection or cancellation towards a party that can no longer hold stock
 * is refused, and governance recovers the shipment instead.
 *
 * Who is named where: every custom event and error names member *accounts*, never the key that
 * signed (a member may have rotated its key, see {IConsortium-rotateKey}); a key that belongs to
 * no active member is named as `address(0)` ("no member") in `BatchTokenUnauthorizedMember`,
 * `BatchTokenNotShipmentReceiver`, `BatchTokenNotShipmentSender` and `BatchTokenNotRecaller`. The
 * ERC-1155 `TransferSingle` events keep the standard's meaning: `from` and `to` are accounts,
 * `operator` is the address that made the call (the signing key, `_msgSender()`). Governance-only
 * functions check `msg.sender` itself (the Consortium contract), so `BatchTokenOnlyGovernance`
 * names `msg.sender`, which is the forwarder when a governor tries one through the relay.
 *
 * Serial commitment: leaves follow the StandardMerkleTree of the OpenZeppelin merkle-tree library
 * with leaf types `["uint256", "string"]` and values `[unitIndex, serial]`. Packing commitment:
 * types `["uint8", "uint256", "uint256"]`, values `[level (1 case, 2 pallet), index, sscc]`.
 */
interface IBatchToken {
    /// @notice Regulatory status of a batch. None means "no such batch".
    enum BatchStatus {
        None,
        Active,
        Quarantined,
        Recalled
    }

    /// @notice Status of a product (GTIN) in the register. None means "not registered".
    enum ProductStatus {
        None,
        Active,
        Withdrawn
    }

    /// @notice Whether a shipment goes down the chain or back up it; fixed when shipping.
    enum ShipmentKind {
        Forward,
        Return
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

    /// @notice Why a holder writes off units of a batch without serials.
    enum LossReason {
        Destroyed,
        Stolen
    }

    /**
     * @notice State of a pack or a container. `None` is "untouched": it has what its container
     * has (a sealed container at the producer, or the holder that opened its container).
     */
    enum PackState {
        None,
        Held,
        Unpacked,
        InTransit,
        Dispensed,
        Destroyed,
        Stolen,
        Sample,
        FreeSample,
        Exported,
        Locked
    }

    /// @notice What an item of a shipment or a state change names.
    enum ItemKind {
        Units,
        Case,
        Pallet
    }

    /// @notice Answer of {verifyUnit} for one pack. New values are appended, never reordered.
    enum UnitVerdict {
        Genuine,
        Dispensed,
        Recalled,
        Quarantined,
        Expired,
        UnknownBatch,
        NotInBatch,
        ExpiryMismatch,
        Destroyed,
        Stolen,
        Sample,
        FreeSample,
        Exported,
        Locked,
        InTransit,
        Withdrawn
    }

    /// @notice `count` consecutive units, cases or pallets starting at index `start`.
    struct Item {
        ItemKind kind;
        uint32 start;
        uint32 count;
    }

    /// @notice What a producer declares when minting a batch.
    struct BatchInput {
        uint64 gtin; // GTIN-14 as a number, check digit included; a registered, active product
        string lot; // 1–20 characters of GS1 character set 82
        uint32 expiryDay; // days since 1970-01-01 (UTC) of the expiry date (AI 17); usable through that day
        uint128 quantity; // units in the batch
        bytes32 serialsRoot; // Merkle root of the serial list, or zero for a batch without serials
        uint32 serialCount; // number of serials; equals quantity when serialsRoot is set, else zero
        bytes32 documentHash; // e.g. certificate of analysis or EPCIS commissioning event hash
        uint32 unitsPerCase; // packs per case (0: no cases); needs serials
        uint32 casesPerPallet; // cases per pallet (0: no pallets); needs cases
        bytes32 packingRoot; // Merkle root of the cases' and pallets' SSCCs; set exactly when there are cases
        bytes2[] markets; // where the batch is marketed; empty = the product's markets; else a subset of them
    }

    /**
     * @notice A stored batch. The first slot holds what every custody call reads; the second the
     * counts and the layout.
     */
    struct Batch {
        address producer;
        uint48 gtin;
        uint32 expiryDay;
        BatchStatus status;
        uint32 serialCount;
        uint32 unitsPerCase;
        uint32 casesPerPallet;
        uint32 producerIndex;
        uint128 quantity;
        bytes32 serialsRoot;
        bytes32 packingRoot;
        bytes30 markets;
        uint16 quarantineMask;
        bytes32 documentHash;
        string lot;
    }

    /// @notice A registered product (GTIN-14).
    struct Product {
        address owner;
        ProductStatus status;
        uint64 prefixKey;
        bytes30 markets;
        bytes32 masterDataHash;
    }

    /**
     * @notice A pending shipment. Only `keccak256(abi.encode(shipment))` is stored; the parties pass
     * the fields back (they are in {ShipmentCreated}) and the contract checks them against it.
     * `items` is empty for a batch without serials.
     */
    struct Shipment {
        uint256 batchId;
        address sender;
        address receiver;
        uint256 quantity;
        ShipmentKind kind;
        Item[] items;
    }

    // ─── Events ────────────────────────────────────────────────────────────────────────────────
    // Three indexed arguments is the EVM's limit: events index the batch and the parties, and
    // carry the shipment id as data where a fourth would be needed.

    event ProductRegistered(uint64 indexed gtin, address indexed owner, uint64 prefixKey, bytes2[] markets, bytes32 masterDataHash);
    event ProductUpdated(uint64 indexed gtin, address indexed owner, bytes2[] markets, bytes32 masterDataHash);
    event ProductStatusChanged(uint64 indexed gtin, address indexed owner, ProductStatus status, bytes32 reasonHash);
    event PrefixLicenceChanged(uint64 indexed prefixKey, address indexed owner, address indexed licensee, bool granted);

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
    /// @notice The batch's markets, emitted at mint right after {BatchMinted}.
    event BatchMarkets(uint256 indexed batchId, bytes2[] markets);
    /// @notice The batch's aggregation, emitted at mint when it has cases.
    event BatchPacked(uint256 indexed batchId, uint32 unitsPerCase, uint32 casesPerPallet, bytes32 packingRoot);

    event ShipmentCreated(
        uint256 indexed batchId,
        address indexed sender,
        address indexed receiver,
        uint256 shipmentId,
        uint256 quantity,
        ShipmentKind kind,
        bytes32 referenceHash,
        Item[] items
    );
    event ShipmentAccepted(uint256 indexed batchId, address indexed sender, address indexed receiver, uint256 shipmentId, uint256 quantity);
    event ShipmentRejected(
        uint256 indexed batchId,
        address indexed sender,
        address indexed receiver,
        uint256 shipmentId,
        uint256 quantity,
        RejectReason reason
    );
    event ShipmentCancelled(uint256 indexed batchId, address indexed sender, address indexed receiver, uint256 shipmentId, uint256 quantity);

    /// @notice A case or pallet was opened by its holder: its untouched content stays with `holder`.
    event ContainerUnpacked(uint256 indexed batchId, address indexed holder, ItemKind kind, uint32 index);
    event UnitDispensed(uint256 indexed batchId, address indexed pharmacy, uint256 indexed unitIndex, bytes32 leaf);
    event DispenseUndone(uint256 indexed batchId, address indexed pharmacy, uint256 indexed unitIndex, bytes32 reasonHash);
    event PacksDecommissioned(uint256 indexed batchId, address indexed holder, PackState indexed state, Item[] items, uint256 quantity, bytes32 evidenceHash);
    event DecommissionReverted(uint256 indexed batchId, address indexed holder, Item[] items, uint256 quantity, bytes32 reasonHash);
    event PacksLocked(uint256 indexed batchId, address indexed holder, Item[] items, bytes32 reasonHash);
    event PacksUnlocked(uint256 indexed batchId, address indexed holder, address indexed by, Item[] items, bytes32 reasonHash);
    event UnitsWrittenOff(
        uint256 indexed batchId,
        address indexed holder,
        LossReason indexed reason,
        uint256 quantity,
        bytes32 evidenceHash
    );

    event BatchQuarantined(uint256 indexed batchId, address indexed regulator, bytes2 jurisdiction, bytes32 reasonHash);
    event BatchQuarantineLifted(uint256 indexed batchId, address indexed regulator, bytes2 jurisdiction, bytes32 reasonHash);
    event BatchRecalled(uint256 indexed batchId, address indexed by, bytes32 reasonHash);
    event SafetyNoticeIssued(uint256 indexed batchId, address indexed regulator, bytes2 jurisdiction, bytes32 noticeHash);

    event RecallUndone(uint256 indexed batchId, bytes32 reasonHash);
    event CustodyPaused(bool paused, bytes32 reasonHash);
    event UndoWindowChanged(uint16 previousDays, uint16 newDays);
    /// @notice Governance moved what `from` held: to `to`, or (when `to` is zero) into `state`.
    event CustodyRecovered(
        uint256 indexed batchId,
        address indexed from,
        address indexed to,
        PackState state,
        Item[] items,
        uint256 quantity,
        bytes32 evidenceHash
    );
    event ShipmentRecovered(uint256 indexed batchId, uint256 indexed shipmentId, address indexed to, bytes32 evidenceHash);

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
    /// @dev Cases need serials, pallets need cases, and a packing root is set exactly when there are cases.
    error BatchTokenInvalidPacking(uint256 unitsPerCase, uint256 casesPerPallet, bytes32 packingRoot);
    /// @dev No batch has id `batchId`.
    error BatchTokenUnknownBatch(uint256 batchId);

    /// @dev `gtin` is not registered (or was withdrawn, see {BatchTokenProductWithdrawn}).
    error BatchTokenUnknownProduct(uint64 gtin);
    /// @dev `gtin` is registered already, by `owner`.
    error BatchTokenProductExists(uint64 gtin, address owner);
    /// @dev `gtin` falls under no company prefix of `caller`: its prefix belongs to `prefixOwner` (zero: to nobody).
    error BatchTokenNotBrandOwner(uint64 gtin, address caller, address prefixOwner);
    /// @dev Only the product's owner changes it.
    error BatchTokenNotProductOwner(uint64 gtin, address caller, address owner);
    /// @dev `producer` may not mint `gtin`: it is neither the product's owner nor licensed for its prefix.
    error BatchTokenNotLicensed(uint64 gtin, address producer);
    /// @dev The product was withdrawn from the market.
    error BatchTokenProductWithdrawn(uint64 gtin);
    /// @dev A market list needs 1 to 15 distinct ISO 3166-1 alpha-2 codes (A–Z); `market` is the first bad one.
    error BatchTokenInvalidMarkets(bytes2 market);
    /// @dev A batch's market must be one of its product's markets.
    error BatchTokenMarketNotRegistered(uint64 gtin, bytes2 market);
    /// @dev `caller` does not own company prefix `prefixKey` (its owner is `owner`).
    error BatchTokenNotPrefixOwner(uint64 prefixKey, address caller, address owner);
    /// @dev A product's status changes between Active and Withdrawn only, and to another status.
    error BatchTokenInvalidProductStatus(uint64 gtin, ProductStatus status);
    /// @dev A licence goes to another producer than the prefix's owner, and not to the zero address.
    error BatchTokenInvalidLicensee(address licensee);

    /// @dev Custody cannot move from a `from` to a `to` while the batch is in `status`.
    error BatchTokenFlowNotAllowed(IConsortium.Role from, IConsortium.Role to, BatchStatus status);
    /// @dev The shipment was recorded as `recorded`, but the parties' roles now make it the other kind (a flow they no longer allow at all reverts with that flow's error).
    error BatchTokenShipmentKindChanged(uint256 shipmentId, ShipmentKind recorded);
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
    /// @dev `account` cannot hold stock now (its active role is `role`): governance recovers what would go to it.
    error BatchTokenCannotHoldStock(address account, IConsortium.Role role);
    /// @dev The action needs the batch in another status.
    error BatchTokenInvalidStatus(uint256 batchId, BatchStatus status);
    /// @dev The batch has no serial commitment: its units move by quantity, not by item.
    error BatchTokenNotSerialised(uint256 batchId);
    /// @dev A serialised batch moves by items, whose units add up to the quantity given; a pack-state action (unpack, decommission, revert, lock, unlock) names at least one item.
    error BatchTokenItemsRequired(uint256 batchId);
    /// @dev The items name `itemUnits` units, not `quantity`.
    error BatchTokenQuantityMismatch(uint256 quantity, uint256 itemUnits);
    /// @dev An item is empty, of a kind the batch does not have, or reaches past the batch's `limit`.
    error BatchTokenInvalidItem(ItemKind kind, uint256 start, uint256 count, uint256 limit);
    /// @dev `account` does not hold the pack or container (`kind`, `index`): it is `state` (held by member `holderIndex`, 0 = someone else).
    error BatchTokenNotHolder(address account, ItemKind kind, uint256 index, PackState state, uint256 holderIndex);
    /// @dev The pack or container (`kind`, `index`) is `state`, not what the action needs.
    error BatchTokenInvalidPackState(ItemKind kind, uint256 index, PackState state);
    /// @dev A decommission state must be Destroyed, Stolen, Sample, FreeSample or Exported.
    error BatchTokenInvalidDecommission(PackState state);
    /// @dev The undo window of `windowDays` days after day `day` has passed.
    error BatchTokenUndoWindowPassed(uint256 day, uint256 windowDays);
    /// @dev Only the member that set the state (index `memberIndex`) may undo it.
    error BatchTokenNotStateOwner(address caller, uint256 memberIndex);
    /// @dev The proof does not place (unitIndex, serial) in the batch's serial tree.
    error BatchTokenInvalidUnitProof(uint256 batchId, uint256 unitIndex);
    /// @dev The unit was dispensed before: a second pack with this serial is a likely clone.
    error BatchTokenUnitAlreadyDispensed(uint256 batchId, uint256 unitIndex);
    /// @dev Only a regulator of one of the batch's markets (here: `jurisdiction`) may do this.
    error BatchTokenJurisdictionNotMarket(uint256 batchId, bytes2 jurisdiction);
    /// @dev The caller's jurisdiction has (or has not) a quarantine on the batch already.
    error BatchTokenQuarantineState(uint256 batchId, bytes2 jurisdiction, bool quarantined);
    /// @dev Recall belongs to the batch's market regulators, its producer and its product's owner.
    error BatchTokenNotRecaller(uint256 batchId, address caller);
    /// @dev Custody is paused by governance.
    error BatchTokenPaused();
    /// @dev Only the Consortium, executing a governance proposal, may call this.
    error BatchTokenOnlyGovernance(address caller);
    /// @dev The forwarder given at deployment is not the one the Consortium trusts.
    error BatchTokenForwarderMismatch(address forwarder);
    /// @dev The undo window must be 1 to 90 days.
    error BatchTokenInvalidUndoWindow(uint256 windowDays);
    /// @dev Units move only through custody (ship/accept/reject/cancel); plain ERC-1155 transfers are refused.
    error BatchTokenTransferBypassesCustody(address from, address to);
    /// @dev Operators cannot be approved: only a holder moves its own units.
    error BatchTokenApprovalsDisabled();

    // ─── Products (brand owners) ───────────────────────────────────────────────────────────────

    /**
     * @notice Register a product: the caller owns the company prefix `gtin` falls under.
     * @param markets Where the product is marketed (1–15 ISO 3166-1 alpha-2 codes).
     * @param masterDataHash Hash of the signed master data document (name, strength, dosage form,
     * pack size, national codes such as the NDC) that the read service serves.
     *
     * Requirements: the caller is an active Producer owning the GTIN's company prefix; `gtin` is a
     * valid GTIN-14 not registered yet.
     *
     * Emits {ProductRegistered}.
     */
    function registerProduct(uint64 gtin, bytes2[] calldata markets, bytes32 masterDataHash) external;

    /// @notice Replace a product's markets and master data hash. Requirements: the caller is its active owner. Emits {ProductUpdated}.
    function updateProduct(uint64 gtin, bytes2[] calldata markets, bytes32 masterDataHash) external;

    /**
     * @notice Withdraw a product from the market, or put it back (Active ⇄ Withdrawn). A withdrawn
     * product is minted, shipped forward and dispensed no more, and verifies as Withdrawn.
     *
     * Requirements: the caller is the product's active owner; `status` is Active or Withdrawn and differs.
     *
     * Emits {ProductStatusChanged}.
     */
    function setProductStatus(uint64 gtin, ProductStatus status, bytes32 reasonHash) external;

    /**
     * @notice Grant or revoke a producer's licence to mint batches of the caller's products under
     * company prefix `prefixKey` (contract manufacturing, repackaging).
     *
     * Requirements: the caller is an active Producer owning the prefix; `licensee` is not the caller.
     *
     * Emits {PrefixLicenceChanged}.
     */
    function setPrefixLicence(uint64 prefixKey, address licensee, bool granted) external;

    // ─── Producer ──────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Mint a new batch to the calling producer; all its packs, cases and pallets start with it.
     *
     * Requirements:
     * - the caller is an active Producer, the product's owner or licensed for its prefix;
     * - the product is registered and active; the batch's markets are the product's or a subset;
     * - `input.lot` has 1–20 characters of GS1 set 82; (GTIN, lot) is not used yet;
     * - quantity > 0; expiry day not in the past;
     * - serial root and count both zero, or both set with count = quantity;
     * - cases only with serials, pallets only with cases, a packing root exactly with cases.
     *
     * Emits {BatchMinted}, {BatchMarkets}, {BatchPacked} (with cases) and {IERC1155-TransferSingle}.
     */
    function mintBatch(BatchInput calldata input) external returns (uint256 batchId);

    // ─── Custody ───────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Ship packs to `receiver`: they leave the caller's custody into a pending shipment
     * until the receiver accepts them, or they return when the receiver rejects or the caller
     * cancels. In ERC-1155 terms the units are transferred to the zero address and back from it.
     * @param items What a serialised batch ships (pallets, cases or unit ranges the caller holds;
     * taking from a sealed container opens it); empty for a batch without serials.
     * @param referenceHash Hash of the business documents (despatch advice, invoice, DSCSA
     * transaction information) that identify the shipment off chain.
     *
     * Requirements:
     * - custody is not paused; caller and receiver are different active members and (caller role
     *   → receiver role) is an allowed flow for the batch's status, its product's status and its
     *   expiry (see the table above); a return to a Producer goes to the batch's producer;
     * - serialised: every item is held by the caller and the items add up to `quantity`;
     *   otherwise `items` is empty and the caller holds `quantity` > 0.
     *
     * Emits {ShipmentCreated}, {ContainerUnpacked} for each container opened, and {IERC1155-TransferSingle}.
     */
    function ship(uint256 batchId, address receiver, uint256 quantity, Item[] calldata items, bytes32 referenceHash)
        external
        returns (uint256 shipmentId);

    /**
     * @notice Accept a pending shipment: its packs arrive in the caller's custody.
     *
     * Requirements: custody is not paused; `shipment` matches pending shipment `shipmentId` and the
     * caller is its receiver; the flow table allows the recorded kind for the parties' current
     * roles and the batch's current state (a forward shipment of a batch quarantined or recalled
     * in transit can only be rejected or cancelled).
     *
     * Emits {ShipmentAccepted} and {IERC1155-TransferSingle}.
     */
    function acceptShipment(uint256 shipmentId, Shipment calldata shipment) external;

    /**
     * @notice Reject a pending shipment: its packs return to the sender.
     *
     * Requirements: custody is not paused; `shipment` matches; the caller is its receiver and an
     * active member; the sender can still hold stock.
     *
     * Emits {ShipmentRejected} and {IERC1155-TransferSingle}.
     */
    function rejectShipment(uint256 shipmentId, Shipment calldata shipment, RejectReason reason) external;

    /**
     * @notice Cancel a shipment not yet accepted: its packs return to the caller.
     *
     * Requirements: custody is not paused; `shipment` matches; the caller is its sender and can hold stock.
     *
     * Emits {ShipmentCancelled} and {IERC1155-TransferSingle}.
     */
    function cancelShipment(uint256 shipmentId, Shipment calldata shipment) external;

    /**
     * @notice Open cases or pallets the caller holds sealed: their content stays with the caller
     * and can then be picked pack by pack.
     *
     * Requirements: custody is not paused; every item is a case or pallet range held sealed by the caller.
     *
     * Emits {ContainerUnpacked} per container.
     */
    function unpack(uint256 batchId, Item[] calldata containers) external;

    /**
     * @notice Take packs the caller holds out of circulation: Destroyed or Stolen (final), Sample,
     * FreeSample or Exported (revertible within the undo window). They are burned.
     *
     * Requirements: custody is not paused; the batch is serialised; the caller holds every item.
     *
     * Emits {PacksDecommissioned} and {IERC1155-TransferSingle}.
     */
    function decommission(uint256 batchId, Item[] calldata items, PackState state, bytes32 evidenceHash) external;

    /**
     * @notice Put packs the caller decommissioned as Sample, FreeSample or Exported back into its custody.
     *
     * Requirements: custody is not paused; the caller set each item's state, within the undo window;
     * the batch is not recalled or expired and its product not withdrawn.
     *
     * Emits {DecommissionReverted} and {IERC1155-TransferSingle}.
     */
    function revertDecommission(uint256 batchId, Item[] calldata items, bytes32 reasonHash) external;

    /**
     * @notice Hold packs the caller holds for its own investigation: they move and leave no more
     * until unlocked. They stay in the caller's balance.
     *
     * Requirements: custody is not paused; the caller holds every item.
     *
     * Emits {PacksLocked}.
     */
    function lock(uint256 batchId, Item[] calldata items, bytes32 reasonHash) external;

    /**
     * @notice Release packs `holder` locked: by `holder` itself or by a regulator of one of the batch's markets.
     *
     * Requirements: every item is locked by `holder`; the caller is `holder` or such a regulator.
     *
     * Emits {PacksUnlocked}.
     */
    function unlock(uint256 batchId, address holder, Item[] calldata items, bytes32 reasonHash) external;

    /**
     * @notice Write off units of a batch without serials: destroyed or stolen. They are burned.
     *
     * Requirements: custody is not paused; the batch has no serials; the caller is an active member
     * with a stock-holding role and holds `quantity` > 0.
     *
     * Emits {UnitsWrittenOff} and {IERC1155-TransferSingle}.
     */
    function writeOff(uint256 batchId, uint256 quantity, LossReason reason, bytes32 evidenceHash) external;

    // ─── Pharmacy ──────────────────────────────────────────────────────────────────────────────

    /**
     * @notice Dispense one pack to a patient: proves (unitIndex, serial) against the batch's serial
     * root, records the pack as dispensed by the caller today and burns it.
     *
     * Requirements:
     * - custody is not paused; the caller is an active Pharmacy and holds the pack (taking it from
     *   a sealed case opens the case);
     * - the batch is Active and not expired, its product not withdrawn;
     * - the proof is valid.
     *
     * Emits {UnitDispensed} and {IERC1155-TransferSingle}.
     */
    function dispense(uint256 batchId, uint256 unitIndex, string calldata serial, bytes32[] calldata proof) external;

    /**
     * @notice Undo a dispense: the pack is back in the pharmacy's custody (a patient returned it
     * unopened, or the dispense was a mistake).
     *
     * Requirements: custody is not paused; the caller dispensed it, within the undo window; the
     * batch is not recalled or expired and its product not withdrawn.
     *
     * Emits {DispenseUndone} and {IERC1155-TransferSingle}.
     */
    function undoDispense(uint256 batchId, uint256 unitIndex, bytes32 reasonHash) external;

    // ─── Regulators, and the producer's own recall ────────────────────────────────────────────

    /**
     * @notice Put a suspect batch on hold for the caller's jurisdiction: forward custody and
     * dispensing stop while any market holds a quarantine; returns continue.
     *
     * Requirements: the caller is an active Regulator of one of the batch's markets without a
     * quarantine of its own on it; the batch is not recalled.
     *
     * Emits {BatchQuarantined}.
     */
    function quarantine(uint256 batchId, bytes32 reasonHash) external;

    /**
     * @notice Lift the caller's jurisdiction's quarantine.
     *
     * Requirements: the caller is an active Regulator whose jurisdiction holds a quarantine on the batch.
     *
     * Emits {BatchQuarantineLifted}.
     */
    function liftQuarantine(uint256 batchId, bytes32 reasonHash) external;

    /**
     * @notice Recall a batch: its packs move only back toward the producer or out of circulation.
     * Final, except for governance correcting a mistake ({undoRecall}).
     *
     * Requirements: the caller is an active Regulator of one of the batch's markets, or the batch's
     * producer, or its product's owner (voluntary recall); the batch is not recalled.
     *
     * Emits {BatchRecalled}.
     */
    function recall(uint256 batchId, bytes32 reasonHash) external;

    /**
     * @notice Record a safety notice on any batch (a regulator outside its markets warns the others).
     *
     * Requirements: the caller is an active Regulator.
     *
     * Emits {SafetyNoticeIssued}.
     */
    function safetyNotice(uint256 batchId, bytes32 noticeHash) external;

    // ─── Governance (calls from the Consortium executing a proposal) ──────────────────────────

    /**
     * @notice Pause or resume every custody action (incident): minting, shipping, receiving,
     * dispensing and every pack-state change, a regulator's {unlock} included. Quarantine, its
     * lift, recall and safety notices stay open, and so does governance recovery.
     * Emits {CustodyPaused}.
     */
    function setPaused(bool paused, bytes32 reasonHash) external;

    /// @notice Undo a recall made in error; the batch returns to Quarantined or Active by its quarantines. Emits {RecallUndone}.
    function undoRecall(uint256 batchId, bytes32 reasonHash) external;

    /// @notice Set the undo window of dispenses and decommissions (1–90 days; 10 by default). Emits {UndoWindowChanged}.
    function setUndoWindow(uint16 windowDays) external;

    /**
     * @notice Move what `from` holds (sealed, opened or locked) to `to`, an active member that can
     * hold stock, or, when `to` is zero, into the final `state` (Destroyed or Stolen). For a batch
     * without serials, `quantity` units and no items.
     *
     * Emits {CustodyRecovered} and {IERC1155-TransferSingle}.
     */
    function recoverCustody(
        uint256 batchId,
        address from,
        address to,
        uint256 quantity,
        Item[] calldata items,
        PackState state,
        bytes32 evidenceHash
    ) external;

    /// @notice Close a pending shipment by crediting its packs to `to`, an active member that can hold stock. Emits {ShipmentRecovered}.
    function recoverShipment(uint256 shipmentId, Shipment calldata shipment, address to, bytes32 evidenceHash) external;

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @notice The consortium register this token reads roles from.
    function consortium() external view returns (IConsortium);

    /// @notice A batch's attributes (status None when it does not exist).
    function batch(uint256 batchId) external view returns (Batch memory);

    /// @notice The batch's markets, as a list.
    function marketsOf(uint256 batchId) external view returns (bytes2[] memory);

    /// @notice A registered product (status None when it is not registered).
    function product(uint64 gtin) external view returns (Product memory);

    /// @notice Whether `licensee` may mint products of company prefix `prefixKey`.
    function isLicensed(uint64 prefixKey, address licensee) external view returns (bool);

    /// @notice The batch id of (GTIN, lot), or 0.
    function batchIdOf(uint64 gtin, string calldata lot) external view returns (uint256);

    /// @notice Number of batches minted; ids run from 1 to this number.
    function batchCount() external view returns (uint256);

    /// @notice Number of shipments ever created; ids run from 1 to this number.
    function shipmentCount() external view returns (uint256);

    /// @notice Whether shipment `shipmentId` with exactly these fields is pending.
    function isPendingShipment(uint256 shipmentId, Shipment calldata shipment) external view returns (bool);

    /**
     * @notice The state of a pack (kind Units), case or pallet, with the member index that has it
     * and the day a final or revertible state was set. A pack out of its case and in a holder's
     * hands reports Held with member 0: ask {holdsUnits} whose it is. A container reports what it
     * has for its untouched content (a sealed case inside a sealed pallet has the pallet's state).
     */
    function packState(uint256 batchId, ItemKind kind, uint256 index) external view returns (PackState state, uint32 memberIndex, uint32 day);

    /// @notice Whether `account` holds every pack and container of `items` (not in transit, not locked).
    function holdsUnits(uint256 batchId, address account, Item[] calldata items) external view returns (bool);

    /// @notice Whether the batch's expiry day is past.
    function isExpired(uint256 batchId) external view returns (bool);

    /// @notice Whether custody is paused.
    function paused() external view returns (bool);

    /// @notice Days within which a dispense or a revertible decommission can be undone.
    function undoWindowDays() external view returns (uint16);

    /**
     * @notice Verdict for a pack: (GTIN, lot, serial, expiry) as printed on it, with the unit's
     * index and Merkle proof. Checked in this order: UnknownBatch, NotInBatch, ExpiryMismatch,
     * Withdrawn, Recalled, Quarantined, then the pack's own state (Dispensed, Destroyed, Stolen,
     * Sample, FreeSample, Exported, Locked, InTransit), Expired, else Genuine.
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
