// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.30;

import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";
import {IBatchToken} from "../interfaces/IBatchToken.sol";
import {IConsortium} from "../interfaces/IConsortium.sol";
import {GS1} from "./GS1.sol";
import {PackLedger} from "./PackLedger.sol";

// Party and Caller structs stay `memory`: the token builds them in memory from the Consortium's
// answer and passes them to these linked (DELEGATECALL) functions; `calldata` would save only the
// copy of two words per call, and the audited gas figures (test/gas-snapshot.json) are on this code.
// solhint-disable gas-calldata-parameters

/**
 * @title BatchRegistry
 * @notice The register half of {BatchToken}: products and their licences, minting, regulator
 * status by market, and pack verification. Linked into the token (its external functions run by
 * DELEGATECALL on the token's storage), which keeps the token under the 24 KB code size limit
 * while custody's hot paths stay inside the token.
 *
 * Callers are resolved by the token ({IConsortium-actor} of its `_msgSender()`) and passed in:
 * nothing here reads `msg.sender`.
 */
library BatchRegistry {
    /// @dev The token's register state.
    struct Registry {
        uint256 batchCount;
        mapping(uint256 batchId => IBatchToken.Batch) batches;
        mapping(bytes32 gtinLotKey => uint256 batchId) batchIdByKey;
        mapping(uint64 gtin => IBatchToken.Product) products;
        mapping(uint64 prefixKey => mapping(address licensee => bool)) licences;
    }

    /// @dev A calling member as the token resolved it.
    struct Caller {
        address account;
        IConsortium.Role role;
        uint32 index;
    }

    uint256 private constant _MAX_MARKETS = 15;

    // ─── Products ──────────────────────────────────────────────────────────────────────────────

    function registerProduct(
        Registry storage r,
        IConsortium consortium,
        Caller memory caller,
        uint64 gtin,
        bytes2[] calldata markets,
        bytes32 masterDataHash
    ) external {
        _requireRole(caller, IConsortium.Role.Producer);
        if (!GS1.isValidGtin(gtin)) revert IBatchToken.BatchTokenInvalidGtin(gtin);
        IBatchToken.Product storage p = r.products[gtin];
        if (p.status != IBatchToken.ProductStatus.None) revert IBatchToken.BatchTokenProductExists(gtin, p.owner);
        (address prefixOwner, uint64 prefixKey) = consortium.companyPrefixOf(gtin);
        if (prefixOwner != caller.account) revert IBatchToken.BatchTokenNotBrandOwner(gtin, caller.account, prefixOwner);
        p.owner = caller.account;
        p.status = IBatchToken.ProductStatus.Active;
        p.prefixKey = prefixKey;
        p.markets = _packMarkets(markets);
        p.masterDataHash = masterDataHash;
        emit IBatchToken.ProductRegistered(gtin, caller.account, prefixKey, markets, masterDataHash);
    }

    function updateProduct(Registry storage r, Caller memory caller, uint64 gtin, bytes2[] calldata markets, bytes32 masterDataHash) external {
        IBatchToken.Product storage p = _requireProductOwner(r, caller, gtin);
        p.markets = _packMarkets(markets);
        p.masterDataHash = masterDataHash;
        emit IBatchToken.ProductUpdated(gtin, p.owner, markets, masterDataHash);
    }

    function setProductStatus(Registry storage r, Caller memory caller, uint64 gtin, IBatchToken.ProductStatus status, bytes32 reasonHash) external {
        IBatchToken.Product storage p = _requireProductOwner(r, caller, gtin);
        if ((status != IBatchToken.ProductStatus.Active && status != IBatchToken.ProductStatus.Withdrawn) || status == p.status) {
            revert IBatchToken.BatchTokenInvalidProductStatus(gtin, status);
        }
        p.status = status;
        emit IBatchToken.ProductStatusChanged(gtin, p.owner, status, reasonHash);
    }

    function setPrefixLicence(
        Registry storage r,
        IConsortium consortium,
        Caller memory caller,
        uint64 prefixKey,
        address licensee,
        bool granted
    ) external {
        _requireRole(caller, IConsortium.Role.Producer);
        address prefixOwner = consortium.prefixOwner(prefixKey);
        if (prefixOwner != caller.account) revert IBatchToken.BatchTokenNotPrefixOwner(prefixKey, caller.account, prefixOwner);
        if (licensee == address(0) || licensee == caller.account) revert IBatchToken.BatchTokenInvalidLicensee(licensee);
        r.licences[prefixKey][licensee] = granted;
        emit IBatchToken.PrefixLicenceChanged(prefixKey, caller.account, licensee, granted);
    }

    // ─── Minting ───────────────────────────────────────────────────────────────────────────────

    /// @notice Checks and stores a new batch of `caller`'s; the token then mints its units.
    function mint(Registry storage r, Caller memory caller, IBatchToken.BatchInput calldata input) external returns (uint256 batchId) {
        _requireRole(caller, IConsortium.Role.Producer);
        IBatchToken.Product storage p = r.products[input.gtin];
        if (p.status != IBatchToken.ProductStatus.Active) {
            if (p.status == IBatchToken.ProductStatus.Withdrawn) revert IBatchToken.BatchTokenProductWithdrawn(input.gtin);
            revert IBatchToken.BatchTokenUnknownProduct(input.gtin);
        }
        if (p.owner != caller.account && !r.licences[p.prefixKey][caller.account]) revert IBatchToken.BatchTokenNotLicensed(input.gtin, caller.account);
        _checkLot(input.lot);
        if (input.quantity == 0) revert IBatchToken.BatchTokenZeroQuantity();
        uint256 today = block.timestamp / 1 days;
        if (input.expiryDay < today) revert IBatchToken.BatchTokenExpiryInPast(input.expiryDay, today);
        _checkCommitments(input);
        bytes30 markets = input.markets.length == 0 ? p.markets : _subsetOf(input.gtin, p.markets, input.markets);
        bytes32 key = gtinLotKey(input.gtin, input.lot);
        uint256 existing = r.batchIdByKey[key];
        if (existing != 0) revert IBatchToken.BatchTokenDuplicateBatch(input.gtin, input.lot, existing);

        batchId = ++r.batchCount;
        r.batchIdByKey[key] = batchId;
        IBatchToken.Batch storage b = r.batches[batchId];
        b.producer = caller.account;
        b.gtin = uint48(input.gtin); // Fits: a registered GTIN-14 is below 10^14 < 2^48.
        b.expiryDay = input.expiryDay;
        b.status = IBatchToken.BatchStatus.Active;
        b.serialCount = input.serialCount;
        b.unitsPerCase = input.unitsPerCase;
        b.casesPerPallet = input.casesPerPallet;
        b.producerIndex = caller.index;
        b.quantity = input.quantity;
        b.serialsRoot = input.serialsRoot;
        b.packingRoot = input.packingRoot;
        b.markets = markets;
        b.documentHash = input.documentHash;
        b.lot = input.lot;
        _emitMinted(batchId, caller.account, input, markets);
    }

    // ─── Regulators, and the producer's own recall ────────────────────────────────────────────

    function quarantine(Registry storage r, IConsortium consortium, Caller memory caller, uint256 batchId, bytes32 reasonHash) external {
        bytes2 jurisdiction = _regulatorJurisdiction(consortium, caller);
        IBatchToken.Batch storage b = requireBatch(r, batchId);
        if (b.status == IBatchToken.BatchStatus.Recalled) revert IBatchToken.BatchTokenInvalidStatus(batchId, b.status);
        uint16 bit = _requireMarketBit(batchId, b, jurisdiction);
        if (b.quarantineMask & bit != 0) revert IBatchToken.BatchTokenQuarantineState(batchId, jurisdiction, true);
        b.quarantineMask |= bit;
        b.status = IBatchToken.BatchStatus.Quarantined;
        emit IBatchToken.BatchQuarantined(batchId, caller.account, jurisdiction, reasonHash);
    }

    function liftQuarantine(Registry storage r, IConsortium consortium, Caller memory caller, uint256 batchId, bytes32 reasonHash) external {
        bytes2 jurisdiction = _regulatorJurisdiction(consortium, caller);
        IBatchToken.Batch storage b = requireBatch(r, batchId);
        uint16 bit = _requireMarketBit(batchId, b, jurisdiction);
        if (b.quarantineMask & bit == 0) revert IBatchToken.BatchTokenQuarantineState(batchId, jurisdiction, false);
        b.quarantineMask &= ~bit;
        // Another market's quarantine keeps the batch on hold; a recall stays a recall.
        if (b.quarantineMask == 0 && b.status == IBatchToken.BatchStatus.Quarantined) b.status = IBatchToken.BatchStatus.Active;
        emit IBatchToken.BatchQuarantineLifted(batchId, caller.account, jurisdiction, reasonHash);
    }

    function recall(Registry storage r, IConsortium consortium, Caller memory caller, uint256 batchId, bytes32 reasonHash) external {
        IBatchToken.Batch storage b = requireBatch(r, batchId);
        if (caller.role == IConsortium.Role.Regulator) {
            requireMarketRegulator(consortium, batchId, b, caller.account);
        } else if (
            caller.role != IConsortium.Role.Producer ||
            (caller.account != b.producer && caller.account != r.products[uint64(b.gtin)].owner)
        ) {
            revert IBatchToken.BatchTokenNotRecaller(batchId, caller.account);
        }
        if (b.status == IBatchToken.BatchStatus.Recalled) revert IBatchToken.BatchTokenInvalidStatus(batchId, b.status);
        b.status = IBatchToken.BatchStatus.Recalled;
        emit IBatchToken.BatchRecalled(batchId, caller.account, reasonHash);
    }

    function safetyNotice(Registry storage r, IConsortium consortium, Caller memory caller, uint256 batchId, bytes32 noticeHash) external {
        bytes2 jurisdiction = _regulatorJurisdiction(consortium, caller);
        requireBatch(r, batchId);
        emit IBatchToken.SafetyNoticeIssued(batchId, caller.account, jurisdiction, noticeHash);
    }

    function undoRecall(Registry storage r, uint256 batchId, bytes32 reasonHash) external {
        IBatchToken.Batch storage b = requireBatch(r, batchId);
        if (b.status != IBatchToken.BatchStatus.Recalled) revert IBatchToken.BatchTokenInvalidStatus(batchId, b.status);
        b.status = b.quarantineMask != 0 ? IBatchToken.BatchStatus.Quarantined : IBatchToken.BatchStatus.Active;
        emit IBatchToken.RecallUndone(batchId, reasonHash);
    }

    /// @notice Reverts unless `regulator`'s jurisdiction is one of the batch's markets.
    function requireMarketRegulator(IConsortium consortium, uint256 batchId, IBatchToken.Batch storage b, address regulator) public view {
        _requireMarketBit(batchId, b, consortium.member(regulator).jurisdiction);
    }

    // ─── Views ─────────────────────────────────────────────────────────────────────────────────

    /// @notice See {IBatchToken-verifyUnit}.
    function verifyUnit(
        Registry storage r,
        mapping(uint256 => PackLedger.Book) storage books,
        uint64 gtin,
        string calldata lot,
        string calldata serial,
        uint32 expiryDay,
        uint256 unitIndex,
        bytes32[] calldata proof
    ) external view returns (IBatchToken.UnitVerdict) {
        uint256 batchId = r.batchIdByKey[gtinLotKey(gtin, lot)];
        if (batchId == 0) return IBatchToken.UnitVerdict.UnknownBatch;
        IBatchToken.Batch storage b = r.batches[batchId];
        bytes32 root = b.serialsRoot;
        if (root == bytes32(0) || unitIndex >= b.serialCount || !MerkleProof.verifyCalldata(proof, root, unitLeaf(unitIndex, serial))) {
            return IBatchToken.UnitVerdict.NotInBatch;
        }
        if (expiryDay != b.expiryDay) return IBatchToken.UnitVerdict.ExpiryMismatch;
        if (r.products[gtin].status == IBatchToken.ProductStatus.Withdrawn) return IBatchToken.UnitVerdict.Withdrawn;
        if (b.status == IBatchToken.BatchStatus.Recalled) return IBatchToken.UnitVerdict.Recalled;
        if (b.status == IBatchToken.BatchStatus.Quarantined) return IBatchToken.UnitVerdict.Quarantined;
        return _packVerdict(books[batchId], b, unitIndex);
    }

    /// @notice A batch's markets as a list.
    function marketsOf(Registry storage r, uint256 batchId) external view returns (bytes2[] memory) {
        return _unpackMarkets(r.batches[batchId].markets);
    }

    // ─── Shared with the token (internal: inlined there) ───────────────────────────────────────

    function requireBatch(Registry storage r, uint256 batchId) internal view returns (IBatchToken.Batch storage b) {
        b = r.batches[batchId];
        if (b.status == IBatchToken.BatchStatus.None) revert IBatchToken.BatchTokenUnknownBatch(batchId);
    }

    function gtinLotKey(uint64 gtin, string calldata lot) internal pure returns (bytes32) {
        return keccak256(abi.encode(gtin, lot));
    }

    /// @dev StandardMerkleTree leaf of `["uint256", "string"]` values `[unitIndex, serial]`.
    function unitLeaf(uint256 unitIndex, string calldata serial) internal pure returns (bytes32) {
        return keccak256(bytes.concat(keccak256(abi.encode(unitIndex, serial))));
    }

    // ─── Private ───────────────────────────────────────────────────────────────────────────────

    /// @dev The verdict from the pack's own state, once batch and product allow it: {verifyUnit}'s tail.
    function _packVerdict(PackLedger.Book storage book, IBatchToken.Batch storage b, uint256 unitIndex)
        private
        view
        returns (IBatchToken.UnitVerdict)
    {
        (IBatchToken.PackState state, , ) = PackLedger.unitNode(book, unitIndex);
        // PackState Destroyed … Locked map onto the verdicts of the same names, in the same order.
        if (state == IBatchToken.PackState.Dispensed) return IBatchToken.UnitVerdict.Dispensed;
        if (state >= IBatchToken.PackState.Destroyed && state <= IBatchToken.PackState.Locked) {
            return IBatchToken.UnitVerdict(uint8(IBatchToken.UnitVerdict.Destroyed) + uint8(state) - uint8(IBatchToken.PackState.Destroyed));
        }
        if (state == IBatchToken.PackState.InTransit) return IBatchToken.UnitVerdict.InTransit;
        if (block.timestamp / 1 days > b.expiryDay) return IBatchToken.UnitVerdict.Expired;
        return IBatchToken.UnitVerdict.Genuine;
    }

    function _requireRole(Caller memory caller, IConsortium.Role role) private pure {
        if (caller.role != role) revert IBatchToken.BatchTokenUnauthorizedMember(caller.account, caller.role);
    }

    function _regulatorJurisdiction(IConsortium consortium, Caller memory caller) private view returns (bytes2) {
        _requireRole(caller, IConsortium.Role.Regulator);
        return consortium.member(caller.account).jurisdiction;
    }

    function _requireProductOwner(Registry storage r, Caller memory caller, uint64 gtin) private view returns (IBatchToken.Product storage p) {
        _requireRole(caller, IConsortium.Role.Producer);
        p = r.products[gtin];
        if (p.status == IBatchToken.ProductStatus.None) revert IBatchToken.BatchTokenUnknownProduct(gtin);
        if (p.owner != caller.account) revert IBatchToken.BatchTokenNotProductOwner(gtin, caller.account, p.owner);
    }

    function _requireMarketBit(uint256 batchId, IBatchToken.Batch storage b, bytes2 jurisdiction) private view returns (uint16 bit) {
        bit = _marketBit(b.markets, jurisdiction);
        if (bit == 0) revert IBatchToken.BatchTokenJurisdictionNotMarket(batchId, jurisdiction);
    }

    function _checkLot(string calldata lotString) private pure {
        bytes calldata lot = bytes(lotString);
        if (lot.length == 0 || lot.length > GS1.MAX_LOT_LENGTH) revert IBatchToken.BatchTokenInvalidLotLength(lot.length);
        uint256 badPosition = GS1.firstInvalidCset82(lot);
        if (badPosition != type(uint256).max) revert IBatchToken.BatchTokenInvalidLotCharacter(badPosition, lot[badPosition]);
    }

    function _checkCommitments(IBatchToken.BatchInput calldata input) private pure {
        bool hasRoot = input.serialsRoot != bytes32(0);
        if (hasRoot ? input.serialCount != input.quantity : input.serialCount != 0) {
            revert IBatchToken.BatchTokenInvalidSerialCommitment(input.serialsRoot, input.serialCount, input.quantity);
        }
        bool hasCases = input.unitsPerCase != 0;
        if ((hasCases && !hasRoot) || (input.casesPerPallet != 0 && !hasCases) || (input.packingRoot != bytes32(0)) != hasCases) {
            revert IBatchToken.BatchTokenInvalidPacking(input.unitsPerCase, input.casesPerPallet, input.packingRoot);
        }
    }

    /// @dev Separate from {mint} to keep the stack shallow: the events have many fields.
    function _emitMinted(uint256 batchId, address producer, IBatchToken.BatchInput calldata input, bytes30 markets) private {
        emit IBatchToken.BatchMinted(
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
        emit IBatchToken.BatchMarkets(batchId, _unpackMarkets(markets));
        if (input.unitsPerCase != 0) emit IBatchToken.BatchPacked(batchId, input.unitsPerCase, input.casesPerPallet, input.packingRoot);
    }

    // ─── Markets: up to 15 ISO 3166-1 alpha-2 codes packed in 30 bytes, zero-terminated ────────

    function _packMarkets(bytes2[] calldata markets) private pure returns (bytes30) {
        uint256 n = markets.length;
        if (n == 0) revert IBatchToken.BatchTokenInvalidMarkets(bytes2(0));
        if (n > _MAX_MARKETS) revert IBatchToken.BatchTokenInvalidMarkets(markets[_MAX_MARKETS]);
        uint256 packed; // left-aligned: market i in bytes 2i and 2i + 1
        for (uint256 i = 0; i < n; ++i) {
            bytes2 m = markets[i];
            if (m[0] < "A" || m[0] > "Z" || m[1] < "A" || m[1] > "Z" || _marketBit(bytes30(bytes32(packed)), m) != 0) {
                revert IBatchToken.BatchTokenInvalidMarkets(m);
            }
            packed |= uint256(uint16(m)) << (240 - 16 * i);
        }
        return bytes30(bytes32(packed));
    }

    function _unpackMarkets(bytes30 packed) private pure returns (bytes2[] memory markets) {
        uint256 n;
        while (n < _MAX_MARKETS && bytes2(packed << (16 * n)) != bytes2(0)) ++n;
        markets = new bytes2[](n);
        for (uint256 i = 0; i < n; ++i) markets[i] = bytes2(packed << (16 * i));
    }

    /// @dev The bit of `market` in a batch's quarantine mask (1 << its position), or 0 when it is not in `packed`.
    function _marketBit(bytes30 packed, bytes2 market) private pure returns (uint16) {
        for (uint256 i = 0; i < _MAX_MARKETS; ++i) {
            bytes2 m = bytes2(packed << (16 * i));
            if (m == bytes2(0)) return 0;
            if (m == market) return uint16(1 << i);
        }
        return 0;
    }

    /// @dev `markets` packed, after checking each is one of the product's `registered` markets.
    function _subsetOf(uint64 gtin, bytes30 registered, bytes2[] calldata markets) private pure returns (bytes30) {
        for (uint256 i = 0; i < markets.length; ++i) {
            if (_marketBit(registered, markets[i]) == 0) revert IBatchToken.BatchTokenMarketNotRegistered(gtin, markets[i]);
        }
        return _packMarkets(markets);
    }
}
