import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, setBalance, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { BaseContract, FunctionFragment, Signer } from "ethers";
import { BatchToken__factory, Consortium__factory, IERC1155__factory } from "../../typechain-types";
import {
  GTIN,
  LICENCE_HASH,
  CHARTER_HASH,
  MemberStatus,
  ONE_YEAR,
  Role,
  deploySystemFixture,
  gln,
  govern,
  serialTree,
  shipmentFrom,
  today,
  type System,
} from "../fixtures/system";

/**
 * The access-control matrix: every external state-changing function of Consortium and BatchToken
 * (with the ERC-1155 entry points BatchToken inherits) against every kind of caller. Each cell
 * says whether the call goes through (and which event proves it) or which custom error, with
 * which arguments, refuses it. The matrix is data (MATRIX below); the tests are generated from it,
 * and a guard test fails when a contract gains a state-changing function without a row.
 */

// ─── Caller kinds ──────────────────────────────────────────────────────────────────────────────

const KINDS = [
  "producer",
  "distributor",
  "pharmacy",
  "regulator",
  "auditor",
  "nonMember",
  "suspended",
  "revoked",
  "licenceExpired",
  "governor",
  "governance",
] as const;
type Kind = (typeof KINDS)[number];

const KIND_LABEL: Record<Kind, string> = {
  producer: "an active Producer",
  distributor: "an active Distributor",
  pharmacy: "an active Pharmacy",
  regulator: "an active Regulator",
  auditor: "an active Auditor",
  nonMember: "a non-member",
  suspended: "a suspended member",
  revoked: "a revoked member",
  licenceExpired: "a member whose licence expired",
  governor: "a governor (who is not a member)",
  governance: "governance (a self-call of an executed proposal)",
};

type RoleName = "Producer" | "Distributor" | "Pharmacy" | "Regulator" | "Auditor";
const ROLE_NAMES: readonly RoleName[] = ["Producer", "Distributor", "Pharmacy", "Regulator", "Auditor"];
const INACTIVE_KINDS = ["suspended", "revoked", "licenceExpired"] as const;
type InactiveKind = (typeof INACTIVE_KINDS)[number];

/** A Hardhat signer or an ethers Wallet (extra members beyond the node's 20 accounts). */
type Actor = Signer & { readonly address: string };

// ─── Fixture ───────────────────────────────────────────────────────────────────────────────────

const DAY = 24 * 3600;
/** Licence term of the members whose licence the fixture lets expire. */
const SHORT_LICENCE = 30 * DAY;
const REFERENCE = ethers.id("despatch-advice");
const REASON = ethers.id("access-control reason");
const EVIDENCE = ethers.id("destruction certificate");

interface Pending {
  shipmentId: bigint;
  shipment: { batchId: bigint; sender: string; receiver: string; quantity: bigint; isReturn: boolean };
}

/** What a stock-holding member holds: units of one batch, one pending shipment out and one in. */
interface Holding {
  batchId: bigint;
  serials: string[];
  proofOf: (index: number) => string[];
  /** Whom the member ships to in an allowed flow. */
  receiver: Actor;
  outgoing: Pending;
  incoming: Pending;
}

async function mintAs(sys: System, producer: Actor, lot: string) {
  const trees = serialTree(100, `${lot}-`);
  const input = {
    gtin: BigInt(GTIN),
    lot,
    expiryDay: (await today()) + 365,
    quantity: 100n,
    serialsRoot: trees.root,
    serialCount: 100,
    documentHash: ethers.id(`CoA ${lot}`),
  };
  await (await sys.batchToken.connect(producer).mintBatch(input)).wait();
  return { batchId: await sys.batchToken.batchCount(), ...trees };
}

async function shipAs(sys: System, from: Actor, batchId: bigint, quantity: bigint, to: Actor): Promise<Pending> {
  const tx = await sys.batchToken.connect(from).ship(batchId, quantity, to.address, REFERENCE);
  await tx.wait();
  const { shipmentId, shipment } = await shipmentFrom(sys.batchToken, tx.hash);
  return {
    shipmentId,
    shipment: {
      batchId: shipment.batchId as bigint,
      sender: shipment.sender as string,
      receiver: shipment.receiver as string,
      quantity: shipment.quantity as bigint,
      isReturn: shipment.isReturn as boolean,
    },
  };
}

async function deliverAs(sys: System, from: Actor, batchId: bigint, quantity: bigint, to: Actor): Promise<void> {
  const { shipmentId, shipment } = await shipAs(sys, from, batchId, quantity, to);
  await (await sys.batchToken.connect(to).acceptShipment(shipmentId, shipment)).wait();
}

/**
 * Gives a producer / distributor / pharmacy trio stock of a fresh batch and, for each of them, a
 * pending shipment it sent and one it must accept or reject.
 */
async function stockUp(sys: System, trio: Record<"producer" | "distributor" | "pharmacy", Actor>, lot: string) {
  const { producer, distributor, pharmacy } = trio;
  const batch = await mintAs(sys, producer, lot);
  await deliverAs(sys, producer, batch.batchId, 40n, distributor);
  await deliverAs(sys, distributor, batch.batchId, 10n, pharmacy);
  const producerToDistributor = await shipAs(sys, producer, batch.batchId, 5n, distributor);
  const distributorToPharmacy = await shipAs(sys, distributor, batch.batchId, 5n, pharmacy);
  const pharmacyReturn = await shipAs(sys, pharmacy, batch.batchId, 1n, distributor);
  const distributorReturn = await shipAs(sys, distributor, batch.batchId, 2n, producer);
  const base = { batchId: batch.batchId, serials: batch.serials, proofOf: batch.proofOf };
  return new Map<string, Holding>([
    [producer.address, { ...base, receiver: distributor, outgoing: producerToDistributor, incoming: distributorReturn }],
    [distributor.address, { ...base, receiver: pharmacy, outgoing: distributorToPharmacy, incoming: producerToDistributor }],
    [pharmacy.address, { ...base, receiver: distributor, outgoing: pharmacyReturn, incoming: distributorToPharmacy }],
  ]);
}

/**
 * deploySystemFixture plus, for each of "suspended", "revoked" and "licence expired", one member
 * of every role (all DE). Every stock-holding member, active or not, holds units and has pending
 * shipments in both directions, created while it was still active, so a refusal in the matrix is
 * due to the caller's status and nothing else. Then: suspensions (Regulator emergency power, and
 * governance for the Regulator), revocations (governance), time travel past the short licences,
 * a quarantined batch, and a pending proposal approved by two governors.
 */
async function accessControlFixture() {
  const sys = await deploySystemFixture();
  const { consortium, governors } = sys;
  const encode = consortium.interface.encodeFunctionData.bind(consortium.interface);
  const start = await time.latest();
  const shortLicenceExpiry = start + SHORT_LICENCE;

  const inactive = {} as Record<InactiveKind, Record<RoleName, Actor>>;
  let glnStem = 950600020000;
  for (const kind of INACTIVE_KINDS) {
    inactive[kind] = {} as Record<RoleName, Actor>;
    for (const roleName of ROLE_NAMES) {
      const wallet = new ethers.Wallet(ethers.id(`access-control/${kind}/${roleName}`), ethers.provider);
      await setBalance(wallet.address, ethers.parseEther("100"));
      const expiry = kind === "licenceExpired" ? shortLicenceExpiry : start + ONE_YEAR;
      const admission = encode("admitMember", [
        wallet.address,
        Role[roleName],
        gln(glnStem++),
        ethers.toUtf8Bytes("DE"),
        LICENCE_HASH,
        expiry,
      ]);
      await govern(consortium, governors, admission);
      inactive[kind][roleName] = wallet;
    }
  }

  const holdings = await stockUp(sys, sys, "AC-ACTIVE");
  const lots: Record<InactiveKind, string> = { suspended: "AC-SUSPENDED", revoked: "AC-REVOKED", licenceExpired: "AC-EXPIRED" };
  for (const kind of INACTIVE_KINDS) {
    const trio = { producer: inactive[kind].Producer, distributor: inactive[kind].Distributor, pharmacy: inactive[kind].Pharmacy };
    for (const [address, holding] of await stockUp(sys, trio, lots[kind])) holdings.set(address, holding);
  }
  const activeBatch = holdings.get(sys.producer.address)!.batchId;
  const quarantinedBatch = (await mintAs(sys, sys.producer, "AC-QUARANTINED")).batchId;
  await (await sys.batchToken.connect(sys.regulator).quarantine(quarantinedBatch, REASON)).wait();

  for (const roleName of ["Producer", "Distributor", "Pharmacy", "Auditor"] as const) {
    await (await consortium.connect(sys.regulator).emergencySuspend(inactive.suspended[roleName].address, REASON)).wait();
  }
  // Regulators cannot suspend regulators: governance does.
  await govern(consortium, governors, encode("suspendMember", [inactive.suspended.Regulator.address, REASON]));
  for (const roleName of ROLE_NAMES) {
    await govern(consortium, governors, encode("revokeMember", [inactive.revoked[roleName].address, REASON]));
  }
  await time.increaseTo(shortLicenceExpiry);

  // A proposal two governors approved: a third governor may still approve it, any governor may execute it.
  const pendingAction = encode("setCharter", [ethers.id("Consortium governance charter v2")]);
  await (await consortium.connect(governors[0]).propose(pendingAction)).wait();
  const pendingProposal = await consortium.proposalCount();
  await (await consortium.connect(governors[1]).approve(pendingProposal)).wait();

  const now = await time.latest();
  const newBatch = {
    gtin: BigInt(GTIN),
    lot: "AC-NEW",
    expiryDay: (await today()) + 365,
    quantity: 50n,
    serialsRoot: ethers.ZeroHash,
    serialCount: 0,
    documentHash: ethers.id("CoA AC-NEW"),
  };
  return {
    ...sys,
    inactive,
    holdings,
    activeBatch,
    quarantinedBatch,
    pendingProposal,
    newBatch,
    newMember: new ethers.Wallet(ethers.id("access-control/new-member")).address,
    newMemberGln: gln(950600029999),
    renewedLicenceExpiry: BigInt(now + 2 * ONE_YEAR),
  };
}

type Ctx = Awaited<ReturnType<typeof accessControlFixture>>;

/** The caller's holding, or `fallback`'s when the caller holds nothing (then the call is refused anyway). */
function holdingOf(ctx: Ctx, caller: string, fallback: Actor): Holding {
  return ctx.holdings.get(caller) ?? ctx.holdings.get(fallback.address)!;
}

function leafOf(unitIndex: number, serial: string): string {
  return ethers.keccak256(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["uint256", "string"], [unitIndex, serial])));
}

// ─── Outcomes ──────────────────────────────────────────────────────────────────────────────────

type ArgsOf = (ctx: Ctx, caller: string) => unknown[];
type Outcome =
  /** The call succeeds and emits `event` with these arguments (caller = the consortium for governance). */
  | { readonly type: "allowed"; readonly event: string; readonly args: ArgsOf }
  /** The call reverts with the row contract's custom error `error` with these arguments. */
  | { readonly type: "refused"; readonly error: string; readonly args: ArgsOf }
  /** Governance cannot even propose it: its selector is not a governance action (ConsortiumUnsupportedAction). */
  | { readonly type: "unreachable" };

const allowed = (event: string, args: ArgsOf): Outcome => ({ type: "allowed", event, args });
const refused = (error: string, args: ArgsOf): Outcome => ({ type: "refused", error, args });
const unreachable: Outcome = { type: "unreachable" };

/** BatchTokenUnauthorizedMember(caller, the caller's active role). */
const unauthorized = (role: number) => refused("BatchTokenUnauthorizedMember", (_c, caller) => [caller, role]);
/** ConsortiumOnlyGovernance(caller). */
const onlyGovernance = refused("ConsortiumOnlyGovernance", (_c, caller) => [caller]);
/** ConsortiumNotGovernor(caller). */
const notGovernor = refused("ConsortiumNotGovernor", (_c, caller) => [caller]);
/** ConsortiumNotActiveRegulator(caller). */
const notActiveRegulator = refused("ConsortiumNotActiveRegulator", (_c, caller) => [caller]);
/** BatchTokenTransferBypassesCustody(from = caller, to). */
const bypassesCustody = refused("BatchTokenTransferBypassesCustody", (c, caller) => [
  caller,
  holdingOf(c, caller, c.producer).receiver.address,
]);
const approvalsDisabled = refused("BatchTokenApprovalsDisabled", () => []);
const notReceiver = refused("BatchTokenNotShipmentReceiver", (c, caller) => [
  holdingOf(c, caller, c.distributor).incoming.shipmentId,
  caller,
]);
const notSender = refused("BatchTokenNotShipmentSender", (c, caller) => [
  holdingOf(c, caller, c.producer).outgoing.shipmentId,
  caller,
]);

/** A governance action: every direct caller is refused; an executed proposal runs it. */
function governanceAction(args: (ctx: Ctx) => unknown[], event: string, eventArgs: ArgsOf): Row {
  return {
    inactiveRole: "Producer",
    args: (ctx) => args(ctx),
    expect: {
      producer: onlyGovernance,
      distributor: onlyGovernance,
      pharmacy: onlyGovernance,
      regulator: onlyGovernance,
      auditor: onlyGovernance,
      nonMember: onlyGovernance,
      suspended: onlyGovernance,
      revoked: onlyGovernance,
      licenceExpired: onlyGovernance,
      governor: onlyGovernance,
      governance: allowed(event, eventArgs),
    },
  };
}

interface Row {
  /** Role of the suspended / revoked / licence-expired member used as caller: the role the function is for. */
  readonly inactiveRole: RoleName;
  /** Valid arguments for `caller` (its own batch, its own pending shipment, …). */
  readonly args: (ctx: Ctx, caller: Actor) => unknown[];
  readonly expect: Readonly<Record<Kind, Outcome>>;
}

// ─── The matrix ────────────────────────────────────────────────────────────────────────────────

const MATRIX: Readonly<Record<string, Row>> = {
  // ── BatchToken ──
  "BatchToken.mintBatch": {
    inactiveRole: "Producer",
    args: (c) => [c.newBatch],
    expect: {
      producer: allowed("BatchMinted", (c, caller) => {
        const b = c.newBatch;
        return [anyValue, caller, b.gtin, b.lot, b.expiryDay, b.quantity, b.serialsRoot, b.serialCount, b.documentHash];
      }),
      distributor: unauthorized(Role.Distributor),
      pharmacy: unauthorized(Role.Pharmacy),
      regulator: unauthorized(Role.Regulator),
      auditor: unauthorized(Role.Auditor),
      nonMember: unauthorized(Role.None),
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: unauthorized(Role.None),
      governance: unreachable,
    },
  },
  "BatchToken.ship": {
    inactiveRole: "Producer",
    args: (c, caller) => {
      const h = holdingOf(c, caller.address, c.producer);
      return [h.batchId, 1n, h.receiver.address, REFERENCE];
    },
    expect: {
      ...(() => {
        const shipped = allowed("ShipmentCreated", (c, caller) => {
          const h = holdingOf(c, caller, c.producer);
          return [h.batchId, caller, h.receiver.address, anyValue, 1n, h.outgoing.shipment.isReturn, REFERENCE];
        });
        return { producer: shipped, distributor: shipped, pharmacy: shipped };
      })(),
      regulator: unauthorized(Role.Regulator),
      auditor: unauthorized(Role.Auditor),
      nonMember: unauthorized(Role.None),
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: unauthorized(Role.None),
      governance: unreachable,
    },
  },
  "BatchToken.acceptShipment": {
    inactiveRole: "Distributor",
    args: (c, caller) => {
      const { shipmentId, shipment } = holdingOf(c, caller.address, c.distributor).incoming;
      return [shipmentId, shipment];
    },
    expect: {
      ...(() => {
        const accepted = allowed("ShipmentAccepted", (c, caller) => {
          const { shipmentId, shipment } = holdingOf(c, caller, c.distributor).incoming;
          return [shipment.batchId, shipment.sender, caller, shipmentId, shipment.quantity];
        });
        return { producer: accepted, distributor: accepted, pharmacy: accepted };
      })(),
      // Nobody ships to these: the nearest call is accepting someone else's shipment.
      regulator: notReceiver,
      auditor: notReceiver,
      nonMember: notReceiver,
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: notReceiver,
      governance: unreachable,
    },
  },
  "BatchToken.rejectShipment": {
    inactiveRole: "Distributor",
    args: (c, caller) => {
      const { shipmentId, shipment } = holdingOf(c, caller.address, c.distributor).incoming;
      return [shipmentId, shipment, 1 /* Damaged */];
    },
    expect: {
      ...(() => {
        const rejected = allowed("ShipmentRejected", (c, caller) => {
          const { shipmentId, shipment } = holdingOf(c, caller, c.distributor).incoming;
          return [shipment.batchId, shipment.sender, caller, shipmentId, shipment.quantity, 1];
        });
        return { producer: rejected, distributor: rejected, pharmacy: rejected };
      })(),
      regulator: notReceiver,
      auditor: notReceiver,
      nonMember: notReceiver,
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: notReceiver,
      governance: unreachable,
    },
  },
  "BatchToken.cancelShipment": {
    inactiveRole: "Producer",
    args: (c, caller) => {
      const { shipmentId, shipment } = holdingOf(c, caller.address, c.producer).outgoing;
      return [shipmentId, shipment];
    },
    expect: {
      ...(() => {
        const cancelled = allowed("ShipmentCancelled", (c, caller) => {
          const { shipmentId, shipment } = holdingOf(c, caller, c.producer).outgoing;
          return [shipment.batchId, caller, shipment.receiver, shipmentId, shipment.quantity];
        });
        return { producer: cancelled, distributor: cancelled, pharmacy: cancelled };
      })(),
      // They never ship: the nearest call is cancelling someone else's shipment.
      regulator: notSender,
      auditor: notSender,
      nonMember: notSender,
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: notSender,
      governance: unreachable,
    },
  },
  "BatchToken.writeOff": {
    inactiveRole: "Distributor",
    args: (c, caller) => [holdingOf(c, caller.address, c.producer).batchId, 1n, 0 /* Destroyed */, EVIDENCE],
    expect: {
      ...(() => {
        const writtenOff = allowed("UnitsWrittenOff", (c, caller) => [
          holdingOf(c, caller, c.producer).batchId,
          caller,
          0,
          1n,
          EVIDENCE,
        ]);
        return { producer: writtenOff, distributor: writtenOff, pharmacy: writtenOff };
      })(),
      regulator: unauthorized(Role.Regulator),
      auditor: unauthorized(Role.Auditor),
      nonMember: unauthorized(Role.None),
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: unauthorized(Role.None),
      governance: unreachable,
    },
  },
  "BatchToken.dispense": {
    inactiveRole: "Pharmacy",
    args: (c, caller) => {
      const h = holdingOf(c, caller.address, c.pharmacy);
      return [h.batchId, 0n, h.serials[0], h.proofOf(0)];
    },
    expect: {
      producer: unauthorized(Role.Producer),
      distributor: unauthorized(Role.Distributor),
      pharmacy: allowed("UnitDispensed", (c, caller) => {
        const h = holdingOf(c, caller, c.pharmacy);
        return [h.batchId, caller, 0n, leafOf(0, h.serials[0])];
      }),
      regulator: unauthorized(Role.Regulator),
      auditor: unauthorized(Role.Auditor),
      nonMember: unauthorized(Role.None),
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: unauthorized(Role.None),
      governance: unreachable,
    },
  },
  "BatchToken.quarantine": {
    inactiveRole: "Regulator",
    args: (c) => [c.activeBatch, REASON],
    expect: {
      producer: unauthorized(Role.Producer),
      distributor: unauthorized(Role.Distributor),
      pharmacy: unauthorized(Role.Pharmacy),
      regulator: allowed("BatchQuarantined", (c, caller) => [c.activeBatch, caller, REASON]),
      auditor: unauthorized(Role.Auditor),
      nonMember: unauthorized(Role.None),
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: unauthorized(Role.None),
      governance: unreachable,
    },
  },
  "BatchToken.liftQuarantine": {
    inactiveRole: "Regulator",
    args: (c) => [c.quarantinedBatch, REASON],
    expect: {
      producer: unauthorized(Role.Producer),
      distributor: unauthorized(Role.Distributor),
      pharmacy: unauthorized(Role.Pharmacy),
      regulator: allowed("BatchQuarantineLifted", (c, caller) => [c.quarantinedBatch, caller, REASON]),
      auditor: unauthorized(Role.Auditor),
      nonMember: unauthorized(Role.None),
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: unauthorized(Role.None),
      governance: unreachable,
    },
  },
  "BatchToken.recall": {
    inactiveRole: "Regulator",
    args: (c) => [c.activeBatch, REASON],
    expect: {
      producer: unauthorized(Role.Producer),
      distributor: unauthorized(Role.Distributor),
      pharmacy: unauthorized(Role.Pharmacy),
      regulator: allowed("BatchRecalled", (c, caller) => [c.activeBatch, caller, REASON]),
      auditor: unauthorized(Role.Auditor),
      nonMember: unauthorized(Role.None),
      suspended: unauthorized(Role.None),
      revoked: unauthorized(Role.None),
      licenceExpired: unauthorized(Role.None),
      governor: unauthorized(Role.None),
      governance: unreachable,
    },
  },
  // ERC-1155 surface: custody replaces it, for everyone, holders included.
  "BatchToken.safeTransferFrom": {
    inactiveRole: "Distributor",
    args: (c, caller) => {
      const h = holdingOf(c, caller.address, c.producer);
      return [caller.address, h.receiver.address, h.batchId, 1n, "0x"];
    },
    expect: {
      producer: bypassesCustody,
      distributor: bypassesCustody,
      pharmacy: bypassesCustody,
      regulator: bypassesCustody,
      auditor: bypassesCustody,
      nonMember: bypassesCustody,
      suspended: bypassesCustody,
      revoked: bypassesCustody,
      licenceExpired: bypassesCustody,
      governor: bypassesCustody,
      governance: unreachable,
    },
  },
  "BatchToken.safeBatchTransferFrom": {
    inactiveRole: "Distributor",
    args: (c, caller) => {
      const h = holdingOf(c, caller.address, c.producer);
      return [caller.address, h.receiver.address, [h.batchId], [1n], "0x"];
    },
    expect: {
      producer: bypassesCustody,
      distributor: bypassesCustody,
      pharmacy: bypassesCustody,
      regulator: bypassesCustody,
      auditor: bypassesCustody,
      nonMember: bypassesCustody,
      suspended: bypassesCustody,
      revoked: bypassesCustody,
      licenceExpired: bypassesCustody,
      governor: bypassesCustody,
      governance: unreachable,
    },
  },
  "BatchToken.setApprovalForAll": {
    inactiveRole: "Distributor",
    args: (c) => [c.distributor2.address, true],
    expect: {
      producer: approvalsDisabled,
      distributor: approvalsDisabled,
      pharmacy: approvalsDisabled,
      regulator: approvalsDisabled,
      auditor: approvalsDisabled,
      nonMember: approvalsDisabled,
      suspended: approvalsDisabled,
      revoked: approvalsDisabled,
      licenceExpired: approvalsDisabled,
      governor: approvalsDisabled,
      governance: unreachable,
    },
  },

  // ── Consortium: governance process ──
  "Consortium.propose": {
    inactiveRole: "Producer",
    args: (c) => [c.consortium.interface.encodeFunctionData("setCharter", [ethers.id("charter v3")])],
    expect: {
      producer: notGovernor,
      distributor: notGovernor,
      pharmacy: notGovernor,
      regulator: notGovernor,
      auditor: notGovernor,
      nonMember: notGovernor,
      suspended: notGovernor,
      revoked: notGovernor,
      licenceExpired: notGovernor,
      governor: allowed("ProposalCreated", (c, caller) => {
        const action = c.consortium.interface.encodeFunctionData("setCharter", [ethers.id("charter v3")]);
        return [c.pendingProposal + 1n, caller, action.slice(0, 10), action, anyValue];
      }),
      governance: unreachable,
    },
  },
  "Consortium.approve": {
    inactiveRole: "Producer",
    args: (c) => [c.pendingProposal],
    expect: {
      producer: notGovernor,
      distributor: notGovernor,
      pharmacy: notGovernor,
      regulator: notGovernor,
      auditor: notGovernor,
      nonMember: notGovernor,
      suspended: notGovernor,
      revoked: notGovernor,
      licenceExpired: notGovernor,
      governor: allowed("ProposalApproved", (c, caller) => [c.pendingProposal, caller]),
      governance: unreachable,
    },
  },
  "Consortium.execute": {
    inactiveRole: "Producer",
    args: (c) => [c.pendingProposal],
    expect: {
      producer: notGovernor,
      distributor: notGovernor,
      pharmacy: notGovernor,
      regulator: notGovernor,
      auditor: notGovernor,
      nonMember: notGovernor,
      suspended: notGovernor,
      revoked: notGovernor,
      licenceExpired: notGovernor,
      governor: allowed("ProposalExecuted", (c, caller) => [c.pendingProposal, caller]),
      governance: unreachable,
    },
  },

  // ── Consortium: governance actions (only as a self-call of an executed proposal) ──
  "Consortium.admitMember": governanceAction(
    (c) => [c.newMember, Role.Producer, c.newMemberGln, ethers.toUtf8Bytes("DE"), LICENCE_HASH, c.renewedLicenceExpiry],
    "MemberAdmitted",
    (c) => [c.newMember, Role.Producer, c.newMemberGln, "0x4445", LICENCE_HASH, c.renewedLicenceExpiry],
  ),
  "Consortium.changeRole": governanceAction(
    (c) => [c.distributor2.address, Role.Pharmacy],
    "MemberRoleChanged",
    (c) => [c.distributor2.address, Role.Distributor, Role.Pharmacy],
  ),
  "Consortium.suspendMember": governanceAction(
    (c) => [c.distributor2.address, REASON],
    "MemberSuspended",
    (c, caller) => [c.distributor2.address, caller, REASON],
  ),
  "Consortium.reinstateMember": governanceAction(
    (c) => [c.inactive.suspended.Producer.address],
    "MemberReinstated",
    (c) => [c.inactive.suspended.Producer.address],
  ),
  "Consortium.revokeMember": governanceAction(
    (c) => [c.distributor2.address, REASON],
    "MemberRevoked",
    (c) => [c.distributor2.address, REASON],
  ),
  "Consortium.renewLicence": governanceAction(
    (c) => [c.inactive.licenceExpired.Producer.address, ethers.id("renewed licence"), c.renewedLicenceExpiry],
    "LicenceRenewed",
    (c) => [c.inactive.licenceExpired.Producer.address, ethers.id("renewed licence"), c.renewedLicenceExpiry],
  ),
  "Consortium.addGovernor": governanceAction(
    (c) => [c.auditor.address],
    "GovernorAdded",
    (c) => [c.auditor.address],
  ),
  "Consortium.removeGovernor": governanceAction(
    (c) => [c.governors[2].address],
    "GovernorRemoved",
    (c) => [c.governors[2].address],
  ),
  "Consortium.setThreshold": governanceAction(() => [3n], "ThresholdChanged", () => [2n, 3n]),
  "Consortium.setCharter": governanceAction(
    () => [ethers.id("charter v3")],
    "CharterChanged",
    () => [CHARTER_HASH, ethers.id("charter v3")],
  ),
  "Consortium.setProposalLifetime": governanceAction(
    () => [3n * BigInt(DAY)],
    "ProposalLifetimeChanged",
    () => [7n * BigInt(DAY), 3n * BigInt(DAY)],
  ),

  // ── Consortium: regulator emergency power ──
  "Consortium.emergencySuspend": {
    inactiveRole: "Regulator",
    args: (c) => [c.distributor2.address, REASON],
    expect: {
      producer: notActiveRegulator,
      distributor: notActiveRegulator,
      pharmacy: notActiveRegulator,
      regulator: allowed("MemberSuspended", (c, caller) => [c.distributor2.address, caller, REASON]),
      auditor: notActiveRegulator,
      nonMember: notActiveRegulator,
      suspended: notActiveRegulator,
      revoked: notActiveRegulator,
      licenceExpired: notActiveRegulator,
      governor: notActiveRegulator,
      governance: unreachable,
    },
  },
};

// ─── Running a cell ────────────────────────────────────────────────────────────────────────────

function callerOf(ctx: Ctx, kind: Exclude<Kind, "governance">, row: Row): Actor {
  switch (kind) {
    case "producer":
      return ctx.producer;
    case "distributor":
      return ctx.distributor;
    case "pharmacy":
      return ctx.pharmacy;
    case "regulator":
      return ctx.regulator;
    case "auditor":
      return ctx.auditor;
    case "nonMember":
      return ctx.outsider;
    case "governor":
      return ctx.governors[2];
    default:
      return ctx.inactive[kind][row.inactiveRole];
  }
}

function contractOf(ctx: Ctx, contractName: string): BaseContract {
  if (contractName === "Consortium") return ctx.consortium;
  if (contractName === "BatchToken") return ctx.batchToken;
  throw new Error(`no contract ${contractName}`);
}

function title(outcome: Outcome, kind: Kind): string {
  switch (outcome.type) {
    case "allowed":
      return `lets ${KIND_LABEL[kind]} call it (${outcome.event})`;
    case "refused":
      return `refuses ${KIND_LABEL[kind]} with ${outcome.error}`;
    case "unreachable":
      return `cannot be reached by ${KIND_LABEL[kind]}: proposing it fails with ConsortiumUnsupportedAction`;
  }
}

async function runDirect(ctx: Ctx, contractName: string, fn: string, kind: Exclude<Kind, "governance">, row: Row, outcome: Outcome) {
  const contract = contractOf(ctx, contractName);
  const caller = callerOf(ctx, kind, row);
  // `.send` makes it a transaction even for functions the contract declares `pure` (setApprovalForAll).
  const tx = (contract.connect(caller) as BaseContract).getFunction(fn).send(...row.args(ctx, caller));
  if (outcome.type === "allowed") {
    await expect(tx).to.emit(contract, outcome.event).withArgs(...outcome.args(ctx, caller.address));
  } else if (outcome.type === "refused") {
    await expect(tx).to.be.revertedWithCustomError(contract, outcome.error).withArgs(...outcome.args(ctx, caller.address));
  } else {
    throw new Error("only governance can be 'unreachable'");
  }
}

async function runAsGovernance(ctx: Ctx, contractName: string, fn: string, row: Row, outcome: Outcome) {
  const { consortium, governors } = ctx;
  const action = contractOf(ctx, contractName).interface.encodeFunctionData(fn, row.args(ctx, governors[0]));
  if (outcome.type === "unreachable") {
    await expect(consortium.connect(governors[0]).propose(action))
      .to.be.revertedWithCustomError(consortium, "ConsortiumUnsupportedAction")
      .withArgs(action.slice(0, 10));
    return;
  }
  if (outcome.type !== "allowed") throw new Error("governance cells are either allowed or unreachable");
  await (await consortium.connect(governors[0]).propose(action)).wait();
  const id = await consortium.proposalCount();
  await (await consortium.connect(governors[1]).approve(id)).wait();
  const tx = consortium.connect(governors[0]).execute(id);
  await expect(tx).to.emit(consortium, "ProposalExecuted").withArgs(id, governors[0].address);
  await expect(tx)
    .to.emit(consortium, outcome.event)
    .withArgs(...outcome.args(ctx, await consortium.getAddress()));
}

// ─── Tests ─────────────────────────────────────────────────────────────────────────────────────

describe("Access control matrix", function () {
  describe("the matrix itself", function () {
    it("has exactly one row per state-changing external function of Consortium and BatchToken", function () {
      const expected: string[] = [];
      const contracts = [
        ["Consortium", Consortium__factory.createInterface()],
        ["BatchToken", BatchToken__factory.createInterface()],
      ] as const;
      for (const [name, iface] of contracts) {
        const stateChanging = iface.fragments
          .filter((f) => f.type === "function")
          .map((f) => f as FunctionFragment)
          .filter((f) => f.stateMutability !== "view" && f.stateMutability !== "pure");
        // An overload would share a row key and slip through: there must be none.
        const names = stateChanging.map((f) => f.name);
        expect(new Set(names).size, `${name} has overloaded state-changing functions`).to.equal(names.length);
        expected.push(...names.map((n) => `${name}.${n}`));
      }
      // The ERC-1155 entry points BatchToken inherits stay rows even where BatchToken overrides them
      // as `pure` to refuse them (setApprovalForAll is then absent from the non-pure ABI functions).
      for (const f of IERC1155__factory.createInterface().fragments) {
        if (f.type !== "function") continue;
        const fn = f as FunctionFragment;
        if (fn.stateMutability !== "view" && !expected.includes(`BatchToken.${fn.name}`)) {
          expected.push(`BatchToken.${fn.name}`);
        }
      }
      expect(Object.keys(MATRIX).sort()).to.deep.equal(expected.sort());
    });

    it("gives every row an outcome for every caller kind, and 'unreachable' only to governance", function () {
      for (const [key, row] of Object.entries(MATRIX)) {
        expect(Object.keys(row.expect).sort(), key).to.deep.equal([...KINDS].sort());
        for (const kind of KINDS) {
          if (kind !== "governance") expect(row.expect[kind].type, `${key} / ${kind}`).to.not.equal("unreachable");
          else expect(row.expect[kind].type, `${key} / governance`).to.not.equal("refused");
        }
      }
    });

    it("uses callers that really are of their kind", async function () {
      const ctx = await loadFixture(accessControlFixture);
      const { consortium } = ctx;
      const now = await time.latest();
      const active: [Actor, number][] = [
        [ctx.producer, Role.Producer],
        [ctx.distributor, Role.Distributor],
        [ctx.pharmacy, Role.Pharmacy],
        [ctx.regulator, Role.Regulator],
        [ctx.auditor, Role.Auditor],
      ];
      for (const [actor, role] of active) expect(await consortium.activeRole(actor.address)).to.equal(role);
      expect((await consortium.member(ctx.outsider.address)).status).to.equal(MemberStatus.None);
      expect(await consortium.isGovernor(ctx.outsider.address)).to.equal(false);
      expect(await consortium.isGovernor(ctx.governors[2].address)).to.equal(true);
      expect((await consortium.member(ctx.governors[2].address)).status).to.equal(MemberStatus.None);
      for (const roleName of ROLE_NAMES) {
        const suspended = await consortium.member(ctx.inactive.suspended[roleName].address);
        const revoked = await consortium.member(ctx.inactive.revoked[roleName].address);
        const expired = await consortium.member(ctx.inactive.licenceExpired[roleName].address);
        for (const m of [suspended, revoked, expired]) expect(m.role).to.equal(Role[roleName]);
        expect(suspended.status).to.equal(MemberStatus.Suspended);
        expect(revoked.status).to.equal(MemberStatus.Revoked);
        expect(expired.status).to.equal(MemberStatus.Active);
        expect(expired.licenceExpiry).to.be.at.most(BigInt(now));
        for (const kind of INACTIVE_KINDS) {
          expect(await consortium.activeRole(ctx.inactive[kind][roleName].address)).to.equal(Role.None);
        }
      }
    });

    it("gives every stock-holding caller units and pending shipments both ways, so refusals come from status alone", async function () {
      const ctx = await loadFixture(accessControlFixture);
      const { batchToken } = ctx;
      expect(ctx.holdings.size).to.equal(12);
      for (const [address, h] of ctx.holdings) {
        expect(await batchToken.balanceOf(address, h.batchId)).to.be.greaterThan(0n);
        expect(await batchToken.isPendingShipment(h.outgoing.shipmentId, h.outgoing.shipment)).to.equal(true);
        expect(await batchToken.isPendingShipment(h.incoming.shipmentId, h.incoming.shipment)).to.equal(true);
        expect(h.outgoing.shipment.sender).to.equal(address);
        expect(h.incoming.shipment.receiver).to.equal(address);
      }
    });
  });

  for (const [key, row] of Object.entries(MATRIX)) {
    const [contractName, fn] = key.split(".");
    describe(key, function () {
      for (const kind of KINDS) {
        const outcome = row.expect[kind];
        it(title(outcome, kind), async function () {
          const ctx = await loadFixture(accessControlFixture);
          if (kind === "governance") await runAsGovernance(ctx, contractName, fn, row, outcome);
          else await runDirect(ctx, contractName, fn, kind, row, outcome);
        });
      }
    });
  }
});
