import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { BaseContract, ContractTransactionResponse, FunctionFragment } from "ethers";
import { BatchToken__factory, Consortium__factory, IERC1155__factory } from "../../typechain-types";
import { prefixKey } from "../../api/domain/packing";
import { CHARTER_HASH, LICENCE_HASH, MemberStatus, PackState, ProductStatus, Role, batchInput, codes, gln } from "../fixtures/system";
import {
  DE,
  EVIDENCE,
  FR,
  GROUPS,
  REASON,
  REFERENCE,
  ROLE_NAMES,
  STOCK_ROLES,
  accessFixture,
  tuples,
  type AccessSystem,
  type Actor,
  type Holding,
  type Member,
  type RoleName,
  type StockRole,
  type Team,
} from "../fixtures/access";

/**
 * The access-control matrix: every state-changing external function of BatchToken (with the
 * ERC-1155 entry points it inherits and refuses) and of Consortium, against every kind of caller.
 * Each cell says whether the call goes through (and the event that proves it) or which custom
 * error, with which arguments, refuses it. The matrix is data (ROWS below); the tests are
 * generated from it, and a guard test fails when either contract's ABI gains a state-changing
 * function without a row.
 *
 * Custody functions act on the caller's own stock: every stock-holding caller, active or not,
 * holds packs and units and has pending shipments both ways (test/fixtures/access.ts), so a
 * refusal comes from who calls, not from having nothing to act on.
 */

// ─── Callers ───────────────────────────────────────────────────────────────────────────────────

const CALLERS = [
  "producer",
  "otherProducer",
  "distributor",
  "pharmacy",
  "marketRegulator",
  "outsideRegulator",
  "auditor",
  "suspended",
  "revoked",
  "licenceExpired",
  "oldKey",
  "newKey",
  "governor",
  "outsider",
  "consortium",
] as const;
type CallerKind = (typeof CALLERS)[number];

const LABEL: Record<CallerKind, string> = {
  producer: "a producer (the brand owner)",
  otherProducer: "another producer",
  distributor: "a distributor",
  pharmacy: "a pharmacy",
  marketRegulator: "a regulator of the batch's market",
  outsideRegulator: "a regulator outside the batch's markets",
  auditor: "an auditor",
  suspended: "a suspended member",
  revoked: "a revoked member",
  licenceExpired: "a member whose licence expired",
  oldKey: "a member's rotated-out old key",
  newKey: "a member's rotated-in new key",
  governor: "a governor who is not a member",
  outsider: "an outsider",
  consortium: "the Consortium itself (an executed proposal)",
};

/** One cell's caller, as the contracts will see it. */
interface Cell {
  kind: CallerKind;
  /** The key that sends; none for the Consortium (a proposal runs the call). */
  signer?: Actor;
  /** `msg.sender` of a direct call (the key), or the Consortium. */
  sender: string;
  /**
   * The member account the contracts resolve the sender to (IConsortium.actor): zero for a key
   * that signs for no member (an outsider, a governor, a rotated-out key, the Consortium).
   */
  account: string;
  /** The active role the contracts see (None when suspended, revoked, lapsed, or no member). */
  role: number;
  /** Whose stock, product or shipment the arguments name, and that member's team. */
  subject: Member;
  team: Team;
}

const holding = (c: Cell): Holding => {
  if (!c.subject.holding) throw new Error(`${c.subject.account} holds no stock`);
  return c.subject.holding;
};

// ─── Outcomes ──────────────────────────────────────────────────────────────────────────────────

type ArgsOf = (x: AccessSystem, c: Cell) => unknown[];
type Outcome =
  /** The call succeeds and emits these events with these arguments. */
  | { readonly type: "allowed"; readonly events: readonly (readonly [string, ArgsOf])[] }
  /** The call reverts with the row contract's custom error `error` and these arguments. */
  | { readonly type: "refused"; readonly error: string; readonly args: ArgsOf }
  /** Only for the Consortium: no proposal can carry the call (ConsortiumUnsupportedAction). */
  | { readonly type: "unsupported" };

const allowed = (event: string, args: ArgsOf, ...more: [string, ArgsOf][]): Outcome => ({ type: "allowed", events: [[event, args], ...more] });
const refused = (error: string, args: ArgsOf): Outcome => ({ type: "refused", error, args });
const UNSUPPORTED: Outcome = { type: "unsupported" };

const unauthorized = refused("BatchTokenUnauthorizedMember", (_x, c) => [c.account, c.role]);
const cannotHoldStock = refused("BatchTokenCannotHoldStock", (_x, c) => [c.account, c.role]);
const notHolder = refused("BatchTokenNotHolder", (_x, c) => {
  const { kind, index, state } = holding(c).heldAs;
  return [c.account, kind, index, state, c.subject.index];
});
const notReceiver = (what: "items" | "quantity") => refused("BatchTokenNotShipmentReceiver", (_x, c) => [holding(c).incoming[what].shipmentId, c.account]);
const notSender = (what: "items" | "quantity") => refused("BatchTokenNotShipmentSender", (_x, c) => [holding(c).outgoing[what].shipmentId, c.account]);
/** Another producer takes units of a batch without serials that it does not hold. */
const insufficientBalance = refused("ERC1155InsufficientBalance", (_x, c) => [c.account, 0n, 1n, holding(c).quantityBatch]);
const notMarket = (batch: (x: AccessSystem, c: Cell) => bigint) => refused("BatchTokenJurisdictionNotMarket", (x, c) => [batch(x, c), FR]);
const tokenOnlyGovernance = refused("BatchTokenOnlyGovernance", (_x, c) => [c.sender]);
const onlyGovernance = refused("ConsortiumOnlyGovernance", (_x, c) => [c.sender]);
const notGovernor = refused("ConsortiumNotGovernor", (_x, c) => [c.sender]);

type Expect = Readonly<Record<CallerKind, Outcome>>;
/** Every caller meets `rest` but those named. */
function cells(named: Partial<Record<CallerKind, Outcome>>, rest: Outcome): Expect {
  return Object.fromEntries(CALLERS.map((k) => [k, named[k] ?? rest])) as Expect;
}
/** The same outcome for several callers. */
const each = (kinds: readonly CallerKind[], outcome: Outcome) => Object.fromEntries(kinds.map((k) => [k, outcome])) as Partial<Record<CallerKind, Outcome>>;
const HOLDERS = ["producer", "distributor", "pharmacy", "newKey"] as const;
const LOST_STANDING = ["suspended", "revoked", "licenceExpired"] as const;
/** Governance only: allowed to the Consortium, refused to every key. */
const governanceOnly = (refusal: Outcome, outcome: Outcome): Expect => cells({ consortium: outcome }, refusal);

interface Row {
  readonly contract: "BatchToken" | "Consortium";
  readonly fn: string;
  /** Tells rows of one function apart (items or quantity custody). */
  readonly variant?: string;
  /** The member whose resources the arguments name, and who acts for a group (suspended, revoked, lapsed, rotated). */
  readonly role: RoleName;
  /** Custody: the producer, distributor and pharmacy act on their own stock, not the role's. */
  readonly own?: boolean;
  readonly args: ArgsOf;
  readonly expect: Expect;
}

// ─── Fixed arguments ───────────────────────────────────────────────────────────────────────────

const MASTER_DATA = ethers.id("master data v2");
const NOTICE = ethers.id("safety notice");
const FAR_EXPIRY = 4_102_444_800n; // 2100-01-01
const RENEWED_LICENCE = ethers.id("renewed licence");
const NEW_MEMBER = ethers.Wallet.createRandom().address;
const NEW_MEMBER_GLN = gln(950600029999);
const NEW_KEY = ethers.Wallet.createRandom().address;
const NEW_GOVERNOR = ethers.Wallet.createRandom().address;
const NEW_PREFIX = "9506009";
const SEVEN_DAYS = 7n * 24n * 3600n;
const THREE_DAYS = 3n * 24n * 3600n;
const charter = (v: string) => ethers.id(`charter ${v}`);
const setCharter = (x: AccessSystem, v: string) => x.consortium.interface.encodeFunctionData("setCharter", [charter(v)]);
const newBatch = (x: AccessSystem, c: Cell) =>
  batchInput(x.today, { gtin: String(c.team.product.gtin).padStart(14, "0"), lot: "AC-NEW", units: 10, markets: ["DE"] }).input;
const leaf = (unitIndex: number, serial: string) =>
  ethers.keccak256(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["uint256", "string"], [unitIndex, serial])));
const addressOf = (contract: BaseContract) => contract.target as string;

// ─── Allowed outcomes ──────────────────────────────────────────────────────────────────────────

const shipped = allowed("ShipmentCreated", (x, c) => {
  const h = holding(c);
  return [h.batch, c.account, h.receiver, x.next.shipmentId, h.quantity, h.kind, REFERENCE, tuples(h.items)];
});
const shippedQuantity = allowed("ShipmentCreated", (x, c) => {
  const h = holding(c);
  return [h.quantityBatch, c.account, h.receiver, x.next.shipmentId, 1n, h.kind, REFERENCE, []];
});
const accepted = (what: "items" | "quantity") =>
  allowed("ShipmentAccepted", (_x, c) => {
    const { shipmentId, shipment: s } = holding(c).incoming[what];
    return [s.batchId, s.sender, c.account, shipmentId, s.quantity];
  });
const rejected = (what: "items" | "quantity") =>
  allowed("ShipmentRejected", (_x, c) => {
    const { shipmentId, shipment: s } = holding(c).incoming[what];
    return [s.batchId, s.sender, c.account, shipmentId, s.quantity, 1 /* Damaged */];
  });
const cancelled = (what: "items" | "quantity") =>
  allowed("ShipmentCancelled", (_x, c) => {
    const { shipmentId, shipment: s } = holding(c).outgoing[what];
    return [s.batchId, c.account, s.receiver, shipmentId, s.quantity];
  });

// ─── The matrix ────────────────────────────────────────────────────────────────────────────────

const ROWS: readonly Row[] = [
  // ── Products: the brand owner alone ──
  {
    contract: "BatchToken",
    fn: "registerProduct",
    role: "Producer",
    args: (_x, c) => [c.team.product.unregistered, codes(["DE", "FR"]), MASTER_DATA],
    expect: cells(
      {
        ...each(
          ["producer", "newKey"],
          allowed("ProductRegistered", (_x, c) => [c.team.product.unregistered, c.account, c.team.product.prefixKey, [DE, FR], MASTER_DATA]),
        ),
        otherProducer: refused("BatchTokenNotBrandOwner", (_x, c) => [c.team.product.unregistered, c.account, c.subject.account]),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "updateProduct",
    role: "Producer",
    args: (_x, c) => [c.team.product.gtin, codes(["DE"]), MASTER_DATA],
    expect: cells(
      {
        ...each(
          ["producer", "newKey"],
          allowed("ProductUpdated", (_x, c) => [c.team.product.gtin, c.account, [DE], MASTER_DATA]),
        ),
        otherProducer: refused("BatchTokenNotProductOwner", (_x, c) => [c.team.product.gtin, c.account, c.subject.account]),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "setProductStatus",
    role: "Producer",
    args: (_x, c) => [c.team.product.gtin, ProductStatus.Withdrawn, REASON],
    expect: cells(
      {
        ...each(
          ["producer", "newKey"],
          allowed("ProductStatusChanged", (_x, c) => [c.team.product.gtin, c.account, ProductStatus.Withdrawn, REASON]),
        ),
        otherProducer: refused("BatchTokenNotProductOwner", (_x, c) => [c.team.product.gtin, c.account, c.subject.account]),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "setPrefixLicence",
    role: "Producer",
    args: (x, c) => [c.team.product.prefixKey, x.producer2.address, true],
    expect: cells(
      {
        ...each(
          ["producer", "newKey"],
          allowed("PrefixLicenceChanged", (x, c) => [c.team.product.prefixKey, c.account, x.producer2.address, true]),
        ),
        otherProducer: refused("BatchTokenNotPrefixOwner", (_x, c) => [c.team.product.prefixKey, c.account, c.subject.account]),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "mintBatch",
    role: "Producer",
    args: (x, c) => [newBatch(x, c)],
    expect: cells(
      {
        ...each(
          ["producer", "newKey"],
          allowed("BatchMinted", (x, c) => {
            const b = newBatch(x, c);
            return [x.next.batchId, c.account, b.gtin, b.lot, b.expiryDay, b.quantity, b.serialsRoot, b.serialCount, b.documentHash];
          }),
        ),
        otherProducer: refused("BatchTokenNotLicensed", (_x, c) => [c.team.product.gtin, c.account]),
      },
      unauthorized,
    ),
  },

  // ── Custody: the holder of the packs, the receiver or the sender of the shipment ──
  {
    contract: "BatchToken",
    fn: "ship",
    variant: "items",
    role: "Producer",
    own: true,
    args: (_x, c) => {
      const h = holding(c);
      return [h.batch, h.receiver, h.quantity, h.items, REFERENCE];
    },
    expect: cells({ ...each(HOLDERS, shipped), otherProducer: notHolder }, unauthorized),
  },
  {
    contract: "BatchToken",
    fn: "ship",
    variant: "quantity",
    role: "Distributor",
    own: true,
    args: (_x, c) => {
      const h = holding(c);
      return [h.quantityBatch, h.receiver, 1n, [], REFERENCE];
    },
    expect: cells({ ...each(HOLDERS, shippedQuantity), otherProducer: insufficientBalance }, unauthorized),
  },
  ...(["items", "quantity"] as const).flatMap((what): Row[] => [
    {
      contract: "BatchToken",
      fn: "acceptShipment",
      variant: what,
      role: what === "items" ? "Distributor" : "Pharmacy",
      own: true,
      args: (_x, c) => {
        const { shipmentId, shipment } = holding(c).incoming[what];
        return [shipmentId, shipment];
      },
      // Nobody else is the receiver: the nearest call is accepting the subject's shipment.
      expect: cells({ ...each(HOLDERS, accepted(what)), ...each(LOST_STANDING, unauthorized) }, notReceiver(what)),
    },
    {
      contract: "BatchToken",
      fn: "rejectShipment",
      variant: what,
      role: what === "items" ? "Distributor" : "Producer",
      own: true,
      args: (_x, c) => {
        const { shipmentId, shipment } = holding(c).incoming[what];
        return [shipmentId, shipment, 1 /* Damaged */];
      },
      expect: cells({ ...each(HOLDERS, rejected(what)), ...each(LOST_STANDING, unauthorized) }, notReceiver(what)),
    },
    {
      contract: "BatchToken",
      fn: "cancelShipment",
      variant: what,
      role: what === "items" ? "Producer" : "Pharmacy",
      own: true,
      args: (_x, c) => {
        const { shipmentId, shipment } = holding(c).outgoing[what];
        return [shipmentId, shipment];
      },
      // A sender that lost its standing cannot take the packs back: governance recovers them.
      expect: cells({ ...each(HOLDERS, cancelled(what)), ...each(LOST_STANDING, cannotHoldStock) }, notSender(what)),
    },
  ]),
  {
    contract: "BatchToken",
    fn: "unpack",
    role: "Distributor",
    own: true,
    args: (_x, c) => [holding(c).batch, [holding(c).sealed]],
    expect: cells(
      {
        ...each(
          HOLDERS,
          allowed("ContainerUnpacked", (_x, c) => {
            const h = holding(c);
            return [h.batch, c.account, h.sealed.kind, h.sealed.start];
          }),
        ),
        otherProducer: notHolder,
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "decommission",
    role: "Pharmacy",
    own: true,
    args: (_x, c) => [holding(c).batch, holding(c).items, PackState.Destroyed, EVIDENCE],
    expect: cells(
      {
        ...each(
          HOLDERS,
          allowed("PacksDecommissioned", (_x, c) => {
            const h = holding(c);
            return [h.batch, c.account, PackState.Destroyed, tuples(h.items), h.quantity, EVIDENCE];
          }),
        ),
        otherProducer: notHolder,
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "revertDecommission",
    role: "Producer",
    own: true,
    args: (_x, c) => [holding(c).batch, holding(c).sample, REASON],
    expect: cells(
      {
        ...each(
          HOLDERS,
          allowed("DecommissionReverted", (_x, c) => {
            const h = holding(c);
            return [h.batch, c.account, tuples(h.sample), h.sampleQuantity, REASON];
          }),
        ),
        otherProducer: refused("BatchTokenNotStateOwner", (_x, c) => [c.account, c.subject.index]),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "lock",
    role: "Pharmacy",
    own: true,
    args: (_x, c) => [holding(c).batch, holding(c).items, REASON],
    expect: cells(
      {
        ...each(
          HOLDERS,
          allowed("PacksLocked", (_x, c) => [holding(c).batch, c.account, tuples(holding(c).items), REASON]),
        ),
        otherProducer: notHolder,
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "unlock",
    role: "Distributor",
    own: true,
    args: (_x, c) => [holding(c).batch, c.subject.account, holding(c).locked, REASON],
    expect: cells(
      {
        // The holder itself, or a regulator of the batch's market.
        ...each(
          [...HOLDERS, "marketRegulator"],
          allowed("PacksUnlocked", (_x, c) => [holding(c).batch, c.subject.account, c.account, tuples(holding(c).locked), REASON]),
        ),
        outsideRegulator: notMarket((_x, c) => holding(c).batch),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "writeOff",
    role: "Distributor",
    own: true,
    args: (_x, c) => [holding(c).quantityBatch, 1n, 0 /* Destroyed */, EVIDENCE],
    expect: cells(
      {
        ...each(
          HOLDERS,
          allowed("UnitsWrittenOff", (_x, c) => [holding(c).quantityBatch, c.account, 0, 1n, EVIDENCE]),
        ),
        otherProducer: insufficientBalance,
      },
      unauthorized,
    ),
  },

  // ── Pharmacy ──
  {
    contract: "BatchToken",
    fn: "dispense",
    role: "Pharmacy",
    args: (_x, c) => [c.team.batch, c.team.dispensable, c.team.serials[c.team.dispensable], c.team.proofOf(c.team.dispensable)],
    expect: cells(
      {
        ...each(
          ["pharmacy", "newKey"],
          allowed("UnitDispensed", (_x, c) => [c.team.batch, c.account, c.team.dispensable, leaf(c.team.dispensable, c.team.serials[c.team.dispensable])]),
        ),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "undoDispense",
    role: "Pharmacy",
    args: (_x, c) => [c.team.batch, c.team.dispensed, REASON],
    expect: cells(
      {
        ...each(
          ["pharmacy", "newKey"],
          allowed("DispenseUndone", (_x, c) => [c.team.batch, c.account, c.team.dispensed, REASON]),
        ),
      },
      unauthorized,
    ),
  },

  // ── Regulators of the batch's markets; recall also by its producer ──
  {
    contract: "BatchToken",
    fn: "quarantine",
    role: "Regulator",
    args: (_x, c) => [c.team.batch, REASON],
    expect: cells(
      {
        ...each(
          ["marketRegulator", "newKey"],
          allowed("BatchQuarantined", (_x, c) => [c.team.batch, c.account, DE, REASON]),
        ),
        outsideRegulator: notMarket((_x, c) => c.team.batch),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "liftQuarantine",
    role: "Regulator",
    args: (x) => [x.quarantinedBatch, REASON],
    expect: cells(
      {
        // The German quarantine is Germany's: any active German regulator lifts it.
        ...each(
          ["marketRegulator", "newKey"],
          allowed("BatchQuarantineLifted", (x, c) => [x.quarantinedBatch, c.account, DE, REASON]),
        ),
        outsideRegulator: notMarket((x) => x.quarantinedBatch),
      },
      unauthorized,
    ),
  },
  {
    contract: "BatchToken",
    fn: "recall",
    role: "Producer",
    args: (_x, c) => [c.team.batch, REASON],
    expect: cells(
      {
        ...each(
          ["producer", "newKey", "marketRegulator"],
          allowed("BatchRecalled", (_x, c) => [c.team.batch, c.account, REASON]),
        ),
        outsideRegulator: notMarket((_x, c) => c.team.batch),
      },
      refused("BatchTokenNotRecaller", (_x, c) => [c.team.batch, c.account]),
    ),
  },
  {
    contract: "BatchToken",
    fn: "safetyNotice",
    role: "Regulator",
    args: (_x, c) => [c.team.batch, NOTICE],
    expect: cells(
      {
        ...each(
          ["marketRegulator", "newKey"],
          allowed("SafetyNoticeIssued", (_x, c) => [c.team.batch, c.account, DE, NOTICE]),
        ),
        // Any regulator may warn about any batch.
        outsideRegulator: allowed("SafetyNoticeIssued", (_x, c) => [c.team.batch, c.account, FR, NOTICE]),
      },
      unauthorized,
    ),
  },

  // ── BatchToken governance: calls from the Consortium only ──
  {
    contract: "BatchToken",
    fn: "setPaused",
    role: "Distributor",
    args: () => [true, REASON],
    expect: governanceOnly(
      tokenOnlyGovernance,
      allowed("CustodyPaused", () => [true, REASON]),
    ),
  },
  {
    contract: "BatchToken",
    fn: "undoRecall",
    role: "Distributor",
    args: (x) => [x.recalledBatch, REASON],
    expect: governanceOnly(
      tokenOnlyGovernance,
      allowed("RecallUndone", (x) => [x.recalledBatch, REASON]),
    ),
  },
  {
    contract: "BatchToken",
    fn: "setUndoWindow",
    role: "Distributor",
    args: () => [30],
    expect: governanceOnly(
      tokenOnlyGovernance,
      allowed("UndoWindowChanged", () => [10, 30]),
    ),
  },
  {
    contract: "BatchToken",
    fn: "recoverCustody",
    variant: "items",
    role: "Distributor",
    // What the revoked distributor held goes to the active one.
    args: (x) => {
      const from = x.groups.revoked.members.Distributor;
      const h = from.holding!;
      return [h.batch, from.account, x.distributor.address, h.quantity, h.items, PackState.Held, EVIDENCE];
    },
    expect: governanceOnly(
      tokenOnlyGovernance,
      allowed("CustodyRecovered", (x) => {
        const from = x.groups.revoked.members.Distributor;
        const h = from.holding!;
        return [h.batch, from.account, x.distributor.address, PackState.Held, tuples(h.items), h.quantity, EVIDENCE];
      }),
    ),
  },
  {
    contract: "BatchToken",
    fn: "recoverCustody",
    variant: "quantity",
    role: "Distributor",
    args: (x) => {
      const from = x.groups.revoked.members.Distributor;
      return [from.holding!.quantityBatch, from.account, x.distributor.address, 5n, [], PackState.Held, EVIDENCE];
    },
    expect: governanceOnly(
      tokenOnlyGovernance,
      allowed("CustodyRecovered", (x) => {
        const from = x.groups.revoked.members.Distributor;
        return [from.holding!.quantityBatch, from.account, x.distributor.address, PackState.Held, [], 5n, EVIDENCE];
      }),
    ),
  },
  {
    contract: "BatchToken",
    fn: "recoverShipment",
    role: "Distributor",
    // The revoked distributor's shipment to the revoked pharmacy, which can no longer accept it.
    args: (x) => {
      const { shipmentId, shipment } = x.groups.revoked.members.Distributor.holding!.outgoing.items;
      return [shipmentId, shipment, x.pharmacy.address, EVIDENCE];
    },
    expect: governanceOnly(
      tokenOnlyGovernance,
      allowed("ShipmentRecovered", (x) => {
        const { shipmentId, shipment } = x.groups.revoked.members.Distributor.holding!.outgoing.items;
        return [shipment.batchId, shipmentId, x.pharmacy.address, EVIDENCE];
      }),
    ),
  },

  // ── ERC-1155 surface: custody replaces it, for everyone, holders and governance included ──
  {
    contract: "BatchToken",
    fn: "safeTransferFrom",
    role: "Distributor",
    own: true,
    args: (_x, c) => [c.subject.account, holding(c).receiver, holding(c).batch, 1n, "0x"],
    expect: cells(
      {},
      refused("BatchTokenTransferBypassesCustody", (_x, c) => [c.subject.account, holding(c).receiver]),
    ),
  },
  {
    contract: "BatchToken",
    fn: "safeBatchTransferFrom",
    role: "Distributor",
    own: true,
    args: (_x, c) => [c.subject.account, holding(c).receiver, [holding(c).batch], [1n], "0x"],
    expect: cells(
      {},
      refused("BatchTokenTransferBypassesCustody", (_x, c) => [c.subject.account, holding(c).receiver]),
    ),
  },
  {
    contract: "BatchToken",
    fn: "setApprovalForAll",
    role: "Distributor",
    args: (x) => [x.distributor2.address, true],
    expect: cells(
      {},
      refused("BatchTokenApprovalsDisabled", () => []),
    ),
  },

  // ── Consortium: the governance process, governors only ──
  {
    contract: "Consortium",
    fn: "propose",
    role: "Auditor",
    args: (x) => [addressOf(x.consortium), setCharter(x, "v3")],
    expect: cells(
      {
        governor: allowed(
          "ProposalCreated",
          (x, c) => [x.next.proposalId, c.sender, setCharter(x, "v3").slice(0, 10), addressOf(x.consortium), setCharter(x, "v3"), anyValue],
          ["ProposalApproved", (x, c) => [x.next.proposalId, c.sender]],
        ),
        consortium: UNSUPPORTED,
      },
      notGovernor,
    ),
  },
  {
    contract: "Consortium",
    fn: "approve",
    role: "Auditor",
    args: (x) => [x.approvedProposal],
    expect: cells({ governor: allowed("ProposalApproved", (x, c) => [x.approvedProposal, c.sender]), consortium: UNSUPPORTED }, notGovernor),
  },
  {
    contract: "Consortium",
    fn: "withdrawApproval",
    role: "Auditor",
    args: (x) => [x.ownProposal],
    expect: cells({ governor: allowed("ProposalApprovalWithdrawn", (x, c) => [x.ownProposal, c.sender]), consortium: UNSUPPORTED }, notGovernor),
  },
  {
    contract: "Consortium",
    fn: "cancel",
    role: "Auditor",
    args: (x) => [x.ownProposal],
    expect: cells({ governor: allowed("ProposalCancelled", (x, c) => [x.ownProposal, c.sender]), consortium: UNSUPPORTED }, notGovernor),
  },
  {
    contract: "Consortium",
    fn: "execute",
    role: "Auditor",
    args: (x) => [x.approvedProposal],
    expect: cells(
      {
        governor: allowed("ProposalExecuted", (x, c) => [x.approvedProposal, c.sender], ["CharterChanged", () => [CHARTER_HASH, charter("v2")]]),
        consortium: UNSUPPORTED,
      },
      notGovernor,
    ),
  },

  // ── Consortium: governance actions, only as a self-call of an executed proposal ──
  {
    contract: "Consortium",
    fn: "admitMember",
    role: "Auditor",
    args: () => [NEW_MEMBER, Role.Pharmacy, NEW_MEMBER_GLN, DE, LICENCE_HASH, FAR_EXPIRY, []],
    expect: governanceOnly(
      onlyGovernance,
      allowed("MemberAdmitted", (x) => [NEW_MEMBER, Role.Pharmacy, NEW_MEMBER_GLN, DE, LICENCE_HASH, FAR_EXPIRY, x.next.memberIndex]),
    ),
  },
  {
    contract: "Consortium",
    fn: "changeRole",
    role: "Auditor",
    args: (x) => [x.distributor2.address, Role.Pharmacy],
    expect: governanceOnly(
      onlyGovernance,
      allowed("MemberRoleChanged", (x) => [x.distributor2.address, Role.Distributor, Role.Pharmacy]),
    ),
  },
  {
    contract: "Consortium",
    fn: "suspendMember",
    role: "Auditor",
    args: (x) => [x.distributor2.address, REASON],
    expect: governanceOnly(
      onlyGovernance,
      allowed("MemberSuspended", (x) => [x.distributor2.address, addressOf(x.consortium), REASON]),
    ),
  },
  {
    contract: "Consortium",
    fn: "reinstateMember",
    role: "Auditor",
    args: (x) => [x.groups.suspended.members.Producer.account],
    expect: governanceOnly(
      onlyGovernance,
      allowed("MemberReinstated", (x) => [x.groups.suspended.members.Producer.account]),
    ),
  },
  {
    contract: "Consortium",
    fn: "revokeMember",
    role: "Auditor",
    args: (x) => [x.distributor2.address, REASON],
    expect: governanceOnly(
      onlyGovernance,
      allowed("MemberRevoked", (x) => [x.distributor2.address, REASON]),
    ),
  },
  {
    contract: "Consortium",
    fn: "renewLicence",
    role: "Auditor",
    args: (x) => [x.groups.licenceExpired.members.Producer.account, RENEWED_LICENCE, FAR_EXPIRY],
    expect: governanceOnly(
      onlyGovernance,
      allowed("LicenceRenewed", (x) => [x.groups.licenceExpired.members.Producer.account, RENEWED_LICENCE, FAR_EXPIRY]),
    ),
  },
  {
    contract: "Consortium",
    fn: "rotateKey",
    role: "Auditor",
    args: (x) => [x.distributor2.address, NEW_KEY],
    expect: governanceOnly(
      onlyGovernance,
      allowed("MemberKeyRotated", (x) => [x.distributor2.address, x.distributor2.address, NEW_KEY]),
    ),
  },
  {
    contract: "Consortium",
    fn: "addCompanyPrefix",
    role: "Auditor",
    args: (x) => [x.producer2.address, NEW_PREFIX],
    expect: governanceOnly(
      onlyGovernance,
      allowed("CompanyPrefixAssigned", (x) => [x.producer2.address, prefixKey(NEW_PREFIX), NEW_PREFIX]),
    ),
  },
  {
    contract: "Consortium",
    fn: "removeCompanyPrefix",
    role: "Auditor",
    args: (x) => [x.other.product.prefix],
    expect: governanceOnly(
      onlyGovernance,
      allowed("CompanyPrefixRemoved", (x) => [x.producer2.address, x.other.product.prefixKey, x.other.product.prefix]),
    ),
  },
  {
    contract: "Consortium",
    fn: "addGovernor",
    role: "Auditor",
    args: (x) => [x.auditor.address],
    expect: governanceOnly(
      onlyGovernance,
      allowed("GovernorAdded", (x) => [x.auditor.address]),
    ),
  },
  {
    contract: "Consortium",
    fn: "removeGovernor",
    role: "Auditor",
    args: (x) => [x.governors[3].address],
    expect: governanceOnly(
      onlyGovernance,
      allowed("GovernorRemoved", (x) => [x.governors[3].address]),
    ),
  },
  {
    contract: "Consortium",
    fn: "replaceGovernor",
    role: "Auditor",
    args: (x) => [x.governors[3].address, NEW_GOVERNOR],
    expect: governanceOnly(
      onlyGovernance,
      allowed("GovernorRemoved", (x) => [x.governors[3].address], ["GovernorAdded", () => [NEW_GOVERNOR]]),
    ),
  },
  {
    contract: "Consortium",
    fn: "setThreshold",
    role: "Auditor",
    args: () => [3],
    expect: governanceOnly(
      onlyGovernance,
      allowed("ThresholdChanged", () => [2, 3]),
    ),
  },
  {
    contract: "Consortium",
    fn: "setCharter",
    role: "Auditor",
    args: () => [charter("v3")],
    expect: governanceOnly(
      onlyGovernance,
      allowed("CharterChanged", () => [CHARTER_HASH, charter("v3")]),
    ),
  },
  {
    contract: "Consortium",
    fn: "setProposalLifetime",
    role: "Auditor",
    args: () => [THREE_DAYS],
    expect: governanceOnly(
      onlyGovernance,
      allowed("ProposalLifetimeChanged", () => [SEVEN_DAYS, THREE_DAYS]),
    ),
  },
  {
    contract: "Consortium",
    fn: "cancelProposal",
    role: "Auditor",
    args: (x) => [x.approvedProposal],
    expect: governanceOnly(
      onlyGovernance,
      allowed("ProposalCancelled", (x) => [x.approvedProposal, addressOf(x.consortium)]),
    ),
  },

  // ── Consortium: a regulator's emergency suspension in its own jurisdiction ──
  {
    contract: "Consortium",
    fn: "emergencySuspend",
    role: "Regulator",
    args: (x) => [x.distributor2.address, REASON],
    expect: cells(
      {
        ...each(
          ["marketRegulator", "newKey"],
          allowed("MemberSuspended", (x, c) => [x.distributor2.address, c.account, REASON]),
        ),
        outsideRegulator: refused("ConsortiumJurisdictionMismatch", () => [FR, DE]),
        consortium: UNSUPPORTED,
      },
      refused("ConsortiumNotActiveRegulator", (_x, c) => [c.sender]),
    ),
  },
];

// ─── Running a cell ────────────────────────────────────────────────────────────────────────────

const STOCK_KIND: Partial<Record<CallerKind, StockRole>> = { producer: "Producer", distributor: "Distributor", pharmacy: "Pharmacy" };

function cellOf(x: AccessSystem, row: Row, kind: CallerKind): Cell {
  const roleMember = x.active.members[row.role];
  const keyed = (signer: Actor, account: string, role: number, subject: Member, team: Team): Cell => ({
    kind,
    signer,
    sender: signer.address,
    account,
    role,
    subject,
    team,
  });
  switch (kind) {
    case "producer":
    case "distributor":
    case "pharmacy": {
      const self = x.active.members[STOCK_KIND[kind]!];
      return keyed(self.key, self.account, Role[STOCK_KIND[kind]!], row.own ? self : roleMember, x.active);
    }
    case "otherProducer":
      // Another producer, with stock of its own, reaching for the producer's.
      return keyed(x.producer2, x.producer2.address, Role.Producer, row.own ? x.active.members.Producer : roleMember, x.active);
    case "marketRegulator":
      return keyed(x.regulator, x.regulator.address, Role.Regulator, roleMember, x.active);
    case "outsideRegulator":
      return keyed(x.foreignRegulator, x.foreignRegulator.address, Role.Regulator, roleMember, x.active);
    case "auditor":
      return keyed(x.auditor, x.auditor.address, Role.Auditor, roleMember, x.active);
    case "suspended":
    case "revoked":
    case "licenceExpired": {
      const m = x.groups[kind].members[row.role];
      return keyed(m.key, m.account, Role.None, m, x.groups[kind]);
    }
    case "oldKey": {
      const m = x.groups.rotated.members[row.role];
      return keyed(x.oldKeys[row.role], ethers.ZeroAddress, Role.None, m, x.groups.rotated);
    }
    case "newKey": {
      const m = x.groups.rotated.members[row.role];
      return keyed(m.key, m.account, Role[row.role], m, x.groups.rotated);
    }
    case "governor":
      return keyed(x.governors[2], ethers.ZeroAddress, Role.None, roleMember, x.active);
    case "outsider":
      return keyed(x.outsider, ethers.ZeroAddress, Role.None, roleMember, x.active);
    case "consortium":
      return { kind, sender: addressOf(x.consortium), account: ethers.ZeroAddress, role: Role.None, subject: roleMember, team: x.active };
  }
}

const contractOf = (x: AccessSystem, row: Row): BaseContract => (row.contract === "Consortium" ? x.consortium : x.batchToken);
const keyOf = (row: Row) => `${row.contract}.${row.fn}${row.variant ? ` (${row.variant})` : ""}`;

async function expectOutcome(tx: Promise<ContractTransactionResponse>, contract: BaseContract, outcome: Outcome, x: AccessSystem, c: Cell) {
  if (outcome.type === "allowed") {
    for (const [event, args] of outcome.events)
      await expect(tx)
        .to.emit(contract, event)
        .withArgs(...args(x, c));
  } else if (outcome.type === "refused") {
    await expect(tx)
      .to.be.revertedWithCustomError(contract, outcome.error)
      .withArgs(...outcome.args(x, c));
  } else {
    throw new Error("only a proposal can be unsupported");
  }
}

async function runCell(x: AccessSystem, row: Row, kind: CallerKind) {
  const c = cellOf(x, row, kind);
  const contract = contractOf(x, row);
  const outcome = row.expect[kind];
  const args = row.args(x, c);
  if (c.signer) {
    // `.send` makes it a transaction even where the contract declares the function `pure`.
    const tx = (contract.connect(c.signer) as BaseContract).getFunction(row.fn).send(...args);
    return expectOutcome(tx, contract, outcome, x, c);
  }
  // The Consortium calls only by executing a proposal: propose, approve (threshold 2), execute.
  const { consortium, governors } = x;
  const action = contract.interface.encodeFunctionData(row.fn, args);
  const proposal = consortium.connect(governors[0]).propose(addressOf(contract), action);
  if (outcome.type === "unsupported") {
    await expect(proposal).to.be.revertedWithCustomError(consortium, "ConsortiumUnsupportedAction").withArgs(action.slice(0, 10));
    return;
  }
  await (await proposal).wait();
  const id = await consortium.proposalCount();
  await (await consortium.connect(governors[1]).approve(id)).wait();
  const tx = consortium.connect(governors[0]).execute(id);
  if (outcome.type === "allowed") await expect(tx).to.emit(consortium, "ProposalExecuted").withArgs(id, governors[0].address);
  await expectOutcome(tx, contract, outcome, x, c);
}

function title(outcome: Outcome, kind: CallerKind): string {
  switch (outcome.type) {
    case "allowed":
      return `lets ${LABEL[kind]} call it (${outcome.events.map(([e]) => e).join(", ")})`;
    case "refused":
      return `refuses ${LABEL[kind]} with ${outcome.error}`;
    case "unsupported":
      return `cannot be proposed to ${LABEL[kind]}: ConsortiumUnsupportedAction`;
  }
}

// ─── Tests ─────────────────────────────────────────────────────────────────────────────────────

describe("Access control matrix", function () {
  describe("the matrix itself", function () {
    it("has a row for every state-changing external function of BatchToken and Consortium, and for nothing else", function () {
      const expected = new Set<string>();
      const abis = [
        ["Consortium", Consortium__factory.createInterface()],
        ["BatchToken", BatchToken__factory.createInterface()],
      ] as const;
      for (const [name, iface] of abis) {
        for (const f of iface.fragments) {
          if (f.type !== "function") continue;
          const fn = f as FunctionFragment;
          if (fn.stateMutability === "nonpayable" || fn.stateMutability === "payable") expected.add(`${name}.${fn.name}`);
        }
      }
      // BatchToken refuses the ERC-1155 entry points by overriding them `pure`, which hides them
      // from the scan above: they stay rows, from the interface it inherits.
      for (const f of IERC1155__factory.createInterface().fragments) {
        if (f.type === "function" && (f as FunctionFragment).stateMutability !== "view") expected.add(`BatchToken.${(f as FunctionFragment).name}`);
      }
      const covered = new Set(ROWS.map((r) => `${r.contract}.${r.fn}`));
      expect([...covered].sort()).to.deep.equal([...expected].sort());
      expect(new Set(ROWS.map(keyOf)).size, "two rows share a function and variant").to.equal(ROWS.length);
    });

    it(`has ${CALLERS.length} caller kinds, an outcome for each in every row, and 'unsupported' only for the Consortium`, function () {
      for (const row of ROWS) {
        expect(Object.keys(row.expect).sort(), keyOf(row)).to.deep.equal([...CALLERS].sort());
        for (const kind of CALLERS) {
          if (kind !== "consortium") expect(row.expect[kind].type, `${keyOf(row)} / ${kind}`).to.not.equal("unsupported");
        }
      }
    });

    it("uses callers that really are of their kind", async function () {
      const x = await loadFixture(accessFixture);
      const { consortium, batchToken } = x;
      const active: [Actor, number, string][] = [
        [x.producer, Role.Producer, "DE"],
        [x.producer2, Role.Producer, "FR"],
        [x.distributor, Role.Distributor, "DE"],
        [x.pharmacy, Role.Pharmacy, "DE"],
        [x.regulator, Role.Regulator, "DE"],
        [x.foreignRegulator, Role.Regulator, "FR"],
        [x.auditor, Role.Auditor, "DE"],
      ];
      for (const [who, role, jurisdiction] of active) {
        expect(await consortium.activeRole(who.address)).to.equal(role);
        expect((await consortium.member(who.address)).jurisdiction).to.equal(ethers.hexlify(ethers.toUtf8Bytes(jurisdiction)));
      }
      expect(await batchToken.marketsOf(x.active.batch)).to.deep.equal([DE]);
      const now = await time.latest();
      for (const role of ROLE_NAMES) {
        const status = async (account: string) => (await consortium.member(account)).status;
        expect(await status(x.groups.suspended.members[role].account)).to.equal(MemberStatus.Suspended);
        expect(await status(x.groups.revoked.members[role].account)).to.equal(MemberStatus.Revoked);
        const lapsed = await consortium.member(x.groups.licenceExpired.members[role].account);
        expect(lapsed.status).to.equal(MemberStatus.Active);
        expect(lapsed.licenceExpiry).to.be.at.most(BigInt(now));
        for (const group of ["suspended", "revoked", "licenceExpired"] as const) {
          const m = x.groups[group].members[role];
          expect([...(await consortium.actor(m.key.address))]).to.deep.equal([m.account, BigInt(Role.None), m.index]);
        }
        const rotated = x.groups.rotated.members[role];
        expect(x.oldKeys[role].address).to.equal(rotated.account);
        expect(await consortium.keyOf(rotated.account)).to.equal(rotated.key.address);
        expect([...(await consortium.actor(rotated.key.address))]).to.deep.equal([rotated.account, BigInt(Role[role]), rotated.index]);
        expect([...(await consortium.actor(rotated.account))]).to.deep.equal([ethers.ZeroAddress, BigInt(Role.None), 0n]);
      }
      expect(await consortium.isGovernor(x.governors[2].address)).to.equal(true);
      expect((await consortium.member(x.governors[2].address)).status).to.equal(MemberStatus.None);
      expect(await consortium.isGovernor(x.outsider.address)).to.equal(false);
      expect((await consortium.member(x.outsider.address)).status).to.equal(MemberStatus.None);
    });

    it("gives every stock-holding caller packs, units and pending shipments both ways, so refusals come from authorisation alone", async function () {
      const x = await loadFixture(accessFixture);
      const { batchToken } = x;
      const teams = [x.active, x.other, ...GROUPS.map((g) => x.groups[g])];
      let holders = 0;
      for (const team of teams) {
        for (const role of STOCK_ROLES) {
          const m = team.members[role];
          const h = m.holding!;
          expect(await batchToken.holdsUnits(h.batch, m.account, h.items), `${m.account} holds its items`).to.equal(true);
          expect(await batchToken.holdsUnits(h.batch, m.account, [h.sealed])).to.equal(true);
          expect(await batchToken.balanceOf(m.account, h.quantityBatch)).to.be.greaterThan(0n);
          for (const item of h.locked) expect((await batchToken.packState(h.batch, item.kind, item.start))[0]).to.equal(PackState.Locked);
          for (const item of h.sample) expect((await batchToken.packState(h.batch, item.kind, item.start))[0]).to.equal(PackState.Sample);
          for (const what of ["items", "quantity"] as const) {
            const out = h.outgoing[what];
            const inc = h.incoming[what];
            expect(await batchToken.isPendingShipment(out.shipmentId, out.shipment)).to.equal(true);
            expect(await batchToken.isPendingShipment(inc.shipmentId, inc.shipment)).to.equal(true);
            expect(out.shipment.sender).to.equal(m.account);
            expect(inc.shipment.receiver).to.equal(m.account);
          }
          holders++;
        }
        expect((await batchToken.packState(team.batch, 0, team.dispensed))[0]).to.equal(PackState.Dispensed);
      }
      expect(holders).to.equal(18);
    });
  });

  for (const row of ROWS) {
    describe(keyOf(row), function () {
      for (const kind of CALLERS) {
        const outcome = row.expect[kind];
        it(title(outcome, kind), async function () {
          const x = await loadFixture(accessFixture);
          await runCell(x, row, kind);
        });
      }
    });
  }
});
