import { expect } from "chai";
import hre, { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import { anyValue } from "@nomicfoundation/hardhat-chai-matchers/withArgs";
import type { BaseContract, ContractTransactionResponse, FunctionFragment, LogDescription } from "ethers";
import { BatchToken__factory, ConsortiumForwarder__factory, Consortium__factory, IERC1155__factory } from "../../typechain-types";
import {
  CHARTER_HASH,
  Kind,
  LICENCE_HASH,
  PackState,
  ProductStatus,
  Role,
  batchInput,
  cases,
  codes,
  gln,
  govern,
  pallets,
  units,
  type Item,
} from "../fixtures/system";
import { DE, EVIDENCE, FR, REASON, REFERENCE, accessFixture, tuples, type AccessSystem, type Actor, type RoleName, type Team } from "../fixtures/access";
import {
  FORWARDER_NAME,
  FORWARDER_VERSION,
  buildRequest,
  forwarderDomain,
  recoveredSigner,
  signRequest,
  signedRequest,
  simulateForwardedCall,
  withSignature,
  type ForwardRequestData,
} from "../fixtures/forwarder";

/**
 * Every member action through the consortium's OpenZeppelin ERC2771Forwarder: members sign
 * ForwardRequests (ethers signTypedData), a relayer submits them with `execute` or `executeBatch`.
 * The contracts resolve the signing key to its member account (a rotated-in key included) and
 * name that account in their events; the relayer appears nowhere. Governance can never be
 * reached through the forwarder, and the forwarder refuses requests that are expired, replayed,
 * signed for another nonce, chain or domain, signed by another key than `from`, or tampered with.
 * The chain is gas-free (gasPrice 0 on the Hardhat network): relaying costs the relayer nothing
 * and a member's key needs no ether.
 */

const NOTICE = ethers.id("safety notice");
const MASTER_DATA = ethers.id("master data v2");

const isCoverage = () => Boolean((hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING);
const addressOf = (contract: BaseContract) => contract.target as string;
const leaf = (unitIndex: number, serial: string) =>
  ethers.keccak256(ethers.keccak256(ethers.AbiCoder.defaultAbiCoder().encode(["uint256", "string"], [unitIndex, serial])));

/** Signs a request from `key` to `target` with `data` and has the fixture's relayer execute it. */
async function relay(x: AccessSystem, key: Actor, target: BaseContract, data: string): Promise<ContractTransactionResponse> {
  const request = await signedRequest(x.forwarder, key, target, data);
  return x.forwarder.connect(x.relayer).execute(request);
}

/** Events named `name` that `contract` emitted in the transaction. */
async function eventsOf(tx: ContractTransactionResponse, contract: BaseContract, name: string): Promise<LogDescription[]> {
  const receipt = (await tx.wait())!;
  return receipt.logs
    .filter((log) => log.address === addressOf(contract))
    .map((log) => contract.interface.parseLog(log))
    .filter((parsed): parsed is LogDescription => parsed?.name === name);
}

/** Asserts that no log of the transaction (of `contract` only, if given) mentions `address` in a topic or its data. */
async function expectNotNamed(tx: ContractTransactionResponse, address: string, contract?: BaseContract): Promise<void> {
  const receipt = (await tx.wait())!;
  const needle = address.slice(2).toLowerCase();
  const logs = contract ? receipt.logs.filter((log) => log.address === addressOf(contract)) : receipt.logs;
  expect(logs.length, "the transaction emitted nothing to look at").to.be.greaterThan(0);
  for (const log of logs) expect([...log.topics, log.data].join("").toLowerCase()).to.not.include(needle);
}

/**
 * Asserts that the target's events name the member `account` and not the `key` that signed,
 * except the ERC-1155 TransferSingle's `operator`: OpenZeppelin's ERC1155 sets it to
 * `_msgSender()`, which is the signing key (see the report on this test file).
 */
async function expectAccountNotKey(tx: ContractTransactionResponse, target: BaseContract, account: string, key: string): Promise<void> {
  expect(key).to.not.equal(account);
  const receipt = (await tx.wait())!;
  const needle = (a: string) => a.slice(2).toLowerCase();
  let namesAccount = false;
  for (const log of receipt.logs.filter((l) => l.address === addressOf(target))) {
    const parsed = target.interface.parseLog(log)!;
    if (parsed.name === "TransferSingle") {
      expect(parsed.args.operator).to.equal(key);
      expect([parsed.args.from, parsed.args.to]).to.not.include(key);
      continue;
    }
    const text = [...log.topics, log.data].join("").toLowerCase();
    expect(text, `${parsed.name} names the key`).to.not.include(needle(key));
    namesAccount ||= text.includes(needle(account));
  }
  expect(namesAccount, "no event names the account").to.equal(true);
}

// ─── Member actions ────────────────────────────────────────────────────────────────────────────

/** A member action: who of a team signs it, what it calls, and the event that names the member. */
interface MemberAction {
  readonly what: string;
  readonly fn: string;
  readonly role: RoleName;
  readonly target: "BatchToken" | "Consortium";
  readonly data: (x: AccessSystem, t: Team) => string;
  readonly event: string;
  readonly args: (x: AccessSystem, t: Team) => unknown[];
}

const token = (x: AccessSystem) => x.batchToken.interface;
const account = (t: Team, role: RoleName) => t.members[role].account;
const holding = (t: Team, role: "Producer" | "Distributor" | "Pharmacy") => t.members[role].holding!;
const newBatch = (x: AccessSystem, t: Team) =>
  batchInput(x.today, { gtin: String(t.product.gtin).padStart(14, "0"), lot: "RELAY-NEW", units: 10, markets: ["DE"] }).input;

const MEMBER_ACTIONS: readonly MemberAction[] = [
  {
    what: "a producer's product registration",
    fn: "registerProduct",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("registerProduct", [t.product.unregistered, codes(["DE", "FR"]), MASTER_DATA]),
    event: "ProductRegistered",
    args: (_x, t) => [t.product.unregistered, account(t, "Producer"), t.product.prefixKey, [DE, FR], MASTER_DATA],
  },
  {
    what: "a producer's product update",
    fn: "updateProduct",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("updateProduct", [t.product.gtin, codes(["DE"]), MASTER_DATA]),
    event: "ProductUpdated",
    args: (_x, t) => [t.product.gtin, account(t, "Producer"), [DE], MASTER_DATA],
  },
  {
    what: "a producer's product withdrawal",
    fn: "setProductStatus",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("setProductStatus", [t.product.gtin, ProductStatus.Withdrawn, REASON]),
    event: "ProductStatusChanged",
    args: (_x, t) => [t.product.gtin, account(t, "Producer"), ProductStatus.Withdrawn, REASON],
  },
  {
    what: "a producer's licence to a contract manufacturer",
    fn: "setPrefixLicence",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("setPrefixLicence", [t.product.prefixKey, x.producer2.address, true]),
    event: "PrefixLicenceChanged",
    args: (x, t) => [t.product.prefixKey, account(t, "Producer"), x.producer2.address, true],
  },
  {
    what: "a producer's mint",
    fn: "mintBatch",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("mintBatch", [newBatch(x, t)]),
    event: "BatchMinted",
    args: (x, t) => {
      const b = newBatch(x, t);
      return [x.next.batchId, account(t, "Producer"), b.gtin, b.lot, b.expiryDay, b.quantity, b.serialsRoot, b.serialCount, b.documentHash];
    },
  },
  {
    what: "a producer's shipment of a sealed pallet",
    fn: "ship",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("ship", [t.batch, account(t, "Distributor"), 50, [pallets(3)], REFERENCE]),
    event: "ShipmentCreated",
    args: (x, t) => [t.batch, account(t, "Producer"), account(t, "Distributor"), x.next.shipmentId, 50n, Kind.Forward, REFERENCE, tuples([pallets(3)])],
  },
  {
    what: "a pharmacy's return of units without serials",
    fn: "ship",
    role: "Pharmacy",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("ship", [t.quantityBatch, account(t, "Distributor"), 1, [], REFERENCE]),
    event: "ShipmentCreated",
    args: (x, t) => [t.quantityBatch, account(t, "Pharmacy"), account(t, "Distributor"), x.next.shipmentId, 1n, Kind.Return, REFERENCE, []],
  },
  {
    what: "a distributor's acceptance of a case",
    fn: "acceptShipment",
    role: "Distributor",
    target: "BatchToken",
    data: (x, t) => {
      const { shipmentId, shipment } = holding(t, "Distributor").incoming.items;
      return token(x).encodeFunctionData("acceptShipment", [shipmentId, shipment]);
    },
    event: "ShipmentAccepted",
    args: (_x, t) => {
      const { shipmentId, shipment } = holding(t, "Distributor").incoming.items;
      return [t.batch, account(t, "Producer"), account(t, "Distributor"), shipmentId, shipment.quantity];
    },
  },
  {
    what: "a pharmacy's acceptance of units without serials",
    fn: "acceptShipment",
    role: "Pharmacy",
    target: "BatchToken",
    data: (x, t) => {
      const { shipmentId, shipment } = holding(t, "Pharmacy").incoming.quantity;
      return token(x).encodeFunctionData("acceptShipment", [shipmentId, shipment]);
    },
    event: "ShipmentAccepted",
    args: (_x, t) => {
      const { shipmentId, shipment } = holding(t, "Pharmacy").incoming.quantity;
      return [t.quantityBatch, account(t, "Distributor"), account(t, "Pharmacy"), shipmentId, shipment.quantity];
    },
  },
  {
    what: "a producer's rejection of a return",
    fn: "rejectShipment",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => {
      const { shipmentId, shipment } = holding(t, "Producer").incoming.items;
      return token(x).encodeFunctionData("rejectShipment", [shipmentId, shipment, 4 /* TemperatureExcursion */]);
    },
    event: "ShipmentRejected",
    args: (_x, t) => {
      const { shipmentId, shipment } = holding(t, "Producer").incoming.items;
      return [t.batch, account(t, "Distributor"), account(t, "Producer"), shipmentId, shipment.quantity, 4];
    },
  },
  {
    what: "a distributor's cancellation of its shipment",
    fn: "cancelShipment",
    role: "Distributor",
    target: "BatchToken",
    data: (x, t) => {
      const { shipmentId, shipment } = holding(t, "Distributor").outgoing.items;
      return token(x).encodeFunctionData("cancelShipment", [shipmentId, shipment]);
    },
    event: "ShipmentCancelled",
    args: (_x, t) => {
      const { shipmentId, shipment } = holding(t, "Distributor").outgoing.items;
      return [t.batch, account(t, "Distributor"), account(t, "Pharmacy"), shipmentId, shipment.quantity];
    },
  },
  {
    what: "a distributor's opening of a case",
    fn: "unpack",
    role: "Distributor",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("unpack", [t.batch, [cases(7)]]),
    event: "ContainerUnpacked",
    args: (_x, t) => [t.batch, account(t, "Distributor"), 1 /* Case */, 7],
  },
  {
    what: "a pharmacy's report of stolen packs",
    fn: "decommission",
    role: "Pharmacy",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("decommission", [t.batch, [units(15, 2)], PackState.Stolen, EVIDENCE]),
    event: "PacksDecommissioned",
    args: (_x, t) => [t.batch, account(t, "Pharmacy"), PackState.Stolen, tuples([units(15, 2)]), 2n, EVIDENCE],
  },
  {
    what: "a producer's revert of a sample",
    fn: "revertDecommission",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("revertDecommission", [t.batch, [cases(12)], REASON]),
    event: "DecommissionReverted",
    args: (_x, t) => [t.batch, account(t, "Producer"), tuples([cases(12)]), 10n, REASON],
  },
  {
    what: "a distributor's investigation hold",
    fn: "lock",
    role: "Distributor",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("lock", [t.batch, [cases(6)], REASON]),
    event: "PacksLocked",
    args: (_x, t) => [t.batch, account(t, "Distributor"), tuples([cases(6)]), REASON],
  },
  {
    what: "a pharmacy's release of its own hold",
    fn: "unlock",
    role: "Pharmacy",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("unlock", [t.batch, account(t, "Pharmacy"), [units(14)], REASON]),
    event: "PacksUnlocked",
    args: (_x, t) => [t.batch, account(t, "Pharmacy"), account(t, "Pharmacy"), tuples([units(14)]), REASON],
  },
  {
    what: "a market regulator's release of a distributor's hold",
    fn: "unlock",
    role: "Regulator",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("unlock", [t.batch, account(t, "Distributor"), [cases(4)], REASON]),
    event: "PacksUnlocked",
    args: (_x, t) => [t.batch, account(t, "Distributor"), account(t, "Regulator"), tuples([cases(4)]), REASON],
  },
  {
    what: "a distributor's write-off of stolen units",
    fn: "writeOff",
    role: "Distributor",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("writeOff", [t.quantityBatch, 2, 1 /* Stolen */, EVIDENCE]),
    event: "UnitsWrittenOff",
    args: (_x, t) => [t.quantityBatch, account(t, "Distributor"), 1, 2n, EVIDENCE],
  },
  {
    what: "a pharmacy's dispense",
    fn: "dispense",
    role: "Pharmacy",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("dispense", [t.batch, t.dispensable, t.serials[t.dispensable], t.proofOf(t.dispensable)]),
    event: "UnitDispensed",
    args: (_x, t) => [t.batch, account(t, "Pharmacy"), t.dispensable, leaf(t.dispensable, t.serials[t.dispensable])],
  },
  {
    what: "a pharmacy's undo of a dispense",
    fn: "undoDispense",
    role: "Pharmacy",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("undoDispense", [t.batch, t.dispensed, REASON]),
    event: "DispenseUndone",
    args: (_x, t) => [t.batch, account(t, "Pharmacy"), t.dispensed, REASON],
  },
  {
    what: "a regulator's quarantine",
    fn: "quarantine",
    role: "Regulator",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("quarantine", [t.batch, REASON]),
    event: "BatchQuarantined",
    args: (_x, t) => [t.batch, account(t, "Regulator"), DE, REASON],
  },
  {
    what: "a regulator's lift of its jurisdiction's quarantine",
    fn: "liftQuarantine",
    role: "Regulator",
    target: "BatchToken",
    data: (x) => token(x).encodeFunctionData("liftQuarantine", [x.quarantinedBatch, REASON]),
    event: "BatchQuarantineLifted",
    args: (x, t) => [x.quarantinedBatch, account(t, "Regulator"), DE, REASON],
  },
  {
    what: "a producer's voluntary recall",
    fn: "recall",
    role: "Producer",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("recall", [t.batch, REASON]),
    event: "BatchRecalled",
    args: (_x, t) => [t.batch, account(t, "Producer"), REASON],
  },
  {
    what: "a regulator's recall",
    fn: "recall",
    role: "Regulator",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("recall", [t.batch, REASON]),
    event: "BatchRecalled",
    args: (_x, t) => [t.batch, account(t, "Regulator"), REASON],
  },
  {
    what: "a regulator's safety notice",
    fn: "safetyNotice",
    role: "Regulator",
    target: "BatchToken",
    data: (x, t) => token(x).encodeFunctionData("safetyNotice", [t.batch, NOTICE]),
    event: "SafetyNoticeIssued",
    args: (_x, t) => [t.batch, account(t, "Regulator"), DE, NOTICE],
  },
  {
    what: "a regulator's emergency suspension",
    fn: "emergencySuspend",
    role: "Regulator",
    target: "Consortium",
    data: (x) => x.consortium.interface.encodeFunctionData("emergencySuspend", [x.distributor2.address, REASON]),
    event: "MemberSuspended",
    args: (x, t) => [x.distributor2.address, account(t, "Regulator"), REASON],
  },
];

/** The governance process, which governors (keys, not members) run: tested below, relayed. */
const PROCESS = ["propose", "approve", "withdrawApproval", "cancel", "execute"];

// ─── Governance-only functions ─────────────────────────────────────────────────────────────────

interface GovernanceCall {
  readonly fn: string;
  readonly target: "BatchToken" | "Consortium";
  readonly args: (x: AccessSystem) => unknown[];
}

const FAR_EXPIRY = 4_102_444_800n; // 2100-01-01
const GOVERNANCE_CALLS: readonly GovernanceCall[] = [
  { fn: "setPaused", target: "BatchToken", args: () => [true, REASON] },
  { fn: "undoRecall", target: "BatchToken", args: (x) => [x.recalledBatch, REASON] },
  { fn: "setUndoWindow", target: "BatchToken", args: () => [30] },
  {
    fn: "recoverCustody",
    target: "BatchToken",
    args: (x) => {
      const d = x.groups.revoked.members.Distributor;
      return [d.holding!.batch, d.account, x.distributor.address, 10, [cases(6)], PackState.Held, EVIDENCE];
    },
  },
  {
    fn: "recoverShipment",
    target: "BatchToken",
    args: (x) => {
      const { shipmentId, shipment } = x.groups.revoked.members.Distributor.holding!.outgoing.items;
      return [shipmentId, shipment, x.pharmacy.address, EVIDENCE];
    },
  },
  { fn: "admitMember", target: "Consortium", args: (x) => [x.outsider.address, Role.Pharmacy, gln(950600029999), DE, LICENCE_HASH, FAR_EXPIRY, []] },
  { fn: "changeRole", target: "Consortium", args: (x) => [x.distributor2.address, Role.Pharmacy] },
  { fn: "suspendMember", target: "Consortium", args: (x) => [x.distributor2.address, REASON] },
  { fn: "reinstateMember", target: "Consortium", args: (x) => [x.groups.suspended.members.Producer.account] },
  { fn: "revokeMember", target: "Consortium", args: (x) => [x.distributor2.address, REASON] },
  { fn: "renewLicence", target: "Consortium", args: (x) => [x.groups.licenceExpired.members.Producer.account, LICENCE_HASH, FAR_EXPIRY] },
  { fn: "rotateKey", target: "Consortium", args: (x) => [x.distributor2.address, x.outsider.address] },
  { fn: "addCompanyPrefix", target: "Consortium", args: (x) => [x.producer2.address, "9506009"] },
  { fn: "removeCompanyPrefix", target: "Consortium", args: (x) => [x.other.product.prefix] },
  { fn: "addGovernor", target: "Consortium", args: (x) => [x.outsider.address] },
  { fn: "removeGovernor", target: "Consortium", args: (x) => [x.governors[3].address] },
  { fn: "replaceGovernor", target: "Consortium", args: (x) => [x.governors[3].address, x.outsider.address] },
  { fn: "setThreshold", target: "Consortium", args: () => [3] },
  { fn: "setCharter", target: "Consortium", args: () => [ethers.id("charter v3")] },
  { fn: "setProposalLifetime", target: "Consortium", args: () => [3 * 24 * 3600] },
  { fn: "cancelProposal", target: "Consortium", args: (x) => [x.approvedProposal] },
];

const contractOf = (x: AccessSystem, target: "BatchToken" | "Consortium"): BaseContract => (target === "Consortium" ? x.consortium : x.batchToken);

// ─── Refusals by the target, relayed ───────────────────────────────────────────────────────────

interface TargetRefusal {
  readonly what: string;
  readonly fn: string;
  readonly key: (x: AccessSystem) => Actor;
  readonly target: "BatchToken" | "Consortium";
  readonly data: (x: AccessSystem) => string;
  readonly error: string;
  readonly args: (x: AccessSystem) => unknown[];
}

const ship = (x: AccessSystem, batch: bigint, to: string, items: Item[], quantity: number) =>
  x.batchToken.interface.encodeFunctionData("ship", [batch, to, quantity, items, REFERENCE]);

const TARGET_REFUSALS: readonly TargetRefusal[] = [
  {
    what: "an outsider's mint, resolved to no account",
    fn: "mintBatch",
    key: (x) => x.outsider,
    target: "BatchToken",
    data: (x) => x.batchToken.interface.encodeFunctionData("mintBatch", [newBatch(x, x.active)]),
    error: "BatchTokenUnauthorizedMember",
    args: () => [ethers.ZeroAddress, Role.None],
  },
  {
    what: "an auditor's shipment",
    fn: "ship",
    key: (x) => x.auditor,
    target: "BatchToken",
    data: (x) => ship(x, x.active.batch, x.distributor.address, [pallets(3)], 50),
    error: "BatchTokenUnauthorizedMember",
    args: (x) => [x.auditor.address, Role.Auditor],
  },
  {
    what: "a rotated-out key's shipment of its account's packs, resolved to no account",
    fn: "ship",
    key: (x) => x.oldKeys.Producer,
    target: "BatchToken",
    data: (x) => ship(x, x.groups.rotated.batch, x.groups.rotated.members.Distributor.account, [pallets(3)], 50),
    error: "BatchTokenUnauthorizedMember",
    args: () => [ethers.ZeroAddress, Role.None],
  },
  {
    what: "a suspended producer's shipment of its own packs",
    fn: "ship",
    key: (x) => x.groups.suspended.members.Producer.key,
    target: "BatchToken",
    data: (x) => ship(x, x.groups.suspended.batch, x.groups.suspended.members.Distributor.account, [pallets(3)], 50),
    error: "BatchTokenUnauthorizedMember",
    args: (x) => [x.groups.suspended.members.Producer.account, Role.None],
  },
  {
    what: "a distributor's quarantine",
    fn: "quarantine",
    key: (x) => x.distributor,
    target: "BatchToken",
    data: (x) => x.batchToken.interface.encodeFunctionData("quarantine", [x.active.batch, REASON]),
    error: "BatchTokenUnauthorizedMember",
    args: (x) => [x.distributor.address, Role.Distributor],
  },
  {
    what: "a quarantine by a regulator outside the batch's markets",
    fn: "quarantine",
    key: (x) => x.foreignRegulator,
    target: "BatchToken",
    data: (x) => x.batchToken.interface.encodeFunctionData("quarantine", [x.active.batch, REASON]),
    error: "BatchTokenJurisdictionNotMarket",
    args: (x) => [x.active.batch, FR],
  },
  {
    what: "a holder's plain ERC-1155 transfer",
    fn: "safeTransferFrom",
    key: (x) => x.producer,
    target: "BatchToken",
    data: (x) => x.batchToken.interface.encodeFunctionData("safeTransferFrom", [x.producer.address, x.distributor.address, x.active.batch, 1, "0x"]),
    error: "BatchTokenTransferBypassesCustody",
    args: (x) => [x.producer.address, x.distributor.address],
  },
  {
    what: "a holder's plain ERC-1155 batch transfer",
    fn: "safeBatchTransferFrom",
    key: (x) => x.producer,
    target: "BatchToken",
    data: (x) => x.batchToken.interface.encodeFunctionData("safeBatchTransferFrom", [x.producer.address, x.distributor.address, [x.active.batch], [1], "0x"]),
    error: "BatchTokenTransferBypassesCustody",
    args: (x) => [x.producer.address, x.distributor.address],
  },
  {
    what: "a holder's operator approval",
    fn: "setApprovalForAll",
    key: (x) => x.producer,
    target: "BatchToken",
    data: (x) => x.batchToken.interface.encodeFunctionData("setApprovalForAll", [x.distributor.address, true]),
    error: "BatchTokenApprovalsDisabled",
    args: () => [],
  },
  {
    what: "an outsider's emergency suspension",
    fn: "emergencySuspend",
    key: (x) => x.outsider,
    target: "Consortium",
    data: (x) => x.consortium.interface.encodeFunctionData("emergencySuspend", [x.distributor2.address, REASON]),
    error: "ConsortiumNotActiveRegulator",
    args: (x) => [x.outsider.address],
  },
  {
    what: "a member's proposal",
    fn: "propose",
    key: (x) => x.producer,
    target: "Consortium",
    data: (x) =>
      x.consortium.interface.encodeFunctionData("propose", [addressOf(x.consortium), x.consortium.interface.encodeFunctionData("setCharter", [CHARTER_HASH])]),
    error: "ConsortiumNotGovernor",
    args: (x) => [x.producer.address],
  },
];

// ─── Tests ─────────────────────────────────────────────────────────────────────────────────────

describe("Relayed calls through the ConsortiumForwarder", function () {
  it("signs under the EIP-712 domain the forwarder publishes, which both contracts trust", async function () {
    const x = await loadFixture(accessFixture);
    const published = await x.forwarder.eip712Domain();
    const domain = await forwarderDomain(x.forwarder);
    expect(published.name).to.equal(FORWARDER_NAME);
    expect(published.version).to.equal(FORWARDER_VERSION);
    expect(published.chainId).to.equal(domain.chainId);
    expect(published.verifyingContract).to.equal(domain.verifyingContract);
    expect(await x.batchToken.isTrustedForwarder(addressOf(x.forwarder))).to.equal(true);
    expect(await x.consortium.isTrustedForwarder(addressOf(x.forwarder))).to.equal(true);
  });

  it("has a relayed test for every state-changing function of both contracts", function () {
    const expected = new Set<string>();
    for (const iface of [Consortium__factory.createInterface(), BatchToken__factory.createInterface()]) {
      for (const f of iface.fragments) {
        if (f.type === "function" && ["nonpayable", "payable"].includes((f as FunctionFragment).stateMutability)) expected.add((f as FunctionFragment).name);
      }
    }
    for (const f of IERC1155__factory.createInterface().fragments) {
      if (f.type === "function" && (f as FunctionFragment).stateMutability !== "view") expected.add((f as FunctionFragment).name);
    }
    const covered = new Set([...MEMBER_ACTIONS.map((a) => a.fn), ...PROCESS, ...GOVERNANCE_CALLS.map((g) => g.fn), ...TARGET_REFUSALS.map((r) => r.fn)]);
    expect([...covered].sort()).to.deep.equal([...expected].sort());
  });

  describe("a member's relayed action is its account's own", function () {
    for (const team of ["active", "rotated"] as const) {
      const whose = team === "active" ? "the member's key" : "a rotated-in key";
      for (const action of MEMBER_ACTIONS) {
        it(`relays ${action.what} signed by ${whose}, naming the member's account and never the relayer`, async function () {
          const x = await loadFixture(accessFixture);
          const t = team === "active" ? x.active : x.groups.rotated;
          const member = t.members[action.role];
          const target = contractOf(x, action.target);
          const nonce = await x.forwarder.nonces(member.key.address);

          const tx = await relay(x, member.key, target, action.data(x, t));

          await expect(tx)
            .to.emit(target, action.event)
            .withArgs(...action.args(x, t));
          await expect(tx).to.emit(x.forwarder, "ExecutedForwardRequest").withArgs(member.key.address, nonce, true);
          expect(tx.from).to.equal(x.relayer.address);
          await expectNotNamed(tx, x.relayer.address);
          if (team === "rotated") await expectAccountNotKey(tx, target, member.account, member.key.address);
          expect(await x.forwarder.nonces(member.key.address)).to.equal(nonce + 1n);
        });
      }
    }

    it("takes a shipment relayed by a rotated-in key out of the account's custody, never the key's (the key appears only as the ERC-1155 operator)", async function () {
      const x = await loadFixture(accessFixture);
      const t = x.groups.rotated;
      const producer = t.members.Producer;
      const before = await x.batchToken.balanceOf(producer.account, t.batch);
      const data = x.batchToken.interface.encodeFunctionData("ship", [t.batch, t.members.Distributor.account, 50, [pallets(3)], REFERENCE]);

      const tx = await relay(x, producer.key, x.batchToken, data);

      const [created] = await eventsOf(tx, x.batchToken, "ShipmentCreated");
      // OpenZeppelin's ERC1155 names `_msgSender()` as the operator: the signing key, not the account.
      await expect(tx).to.emit(x.batchToken, "TransferSingle").withArgs(producer.key.address, producer.account, ethers.ZeroAddress, t.batch, 50n);
      const shipment = {
        batchId: t.batch,
        sender: producer.account,
        receiver: t.members.Distributor.account,
        quantity: 50n,
        kind: BigInt(Kind.Forward),
        items: [pallets(3)],
      };
      expect(await x.batchToken.isPendingShipment(created.args.shipmentId, shipment)).to.equal(true);
      expect(await x.batchToken.balanceOf(producer.account, t.batch)).to.equal(before - 50n);
      expect(await x.batchToken.holdsUnits(t.batch, producer.account, [pallets(3)])).to.equal(false);
      expect(await x.batchToken.balanceOf(producer.key.address, t.batch)).to.equal(0n);
      expect(await x.batchToken.balanceOf(x.relayer.address, t.batch)).to.equal(0n);
    });

    it("lets governors propose, approve, withdraw, cancel and execute through the relayer, each named as itself", async function () {
      const x = await loadFixture(accessFixture);
      const [g0, g1, g2] = x.governors;
      const c = x.consortium.interface;
      // A proposal that reaches the BatchToken: the Consortium, not the forwarder, makes that call.
      const action = x.batchToken.interface.encodeFunctionData("setUndoWindow", [30]);
      const id = x.next.proposalId;

      const proposed = await relay(x, g0, x.consortium, c.encodeFunctionData("propose", [addressOf(x.batchToken), action]));
      await expect(proposed).to.emit(x.consortium, "ProposalCreated").withArgs(id, g0.address, action.slice(0, 10), addressOf(x.batchToken), action, anyValue);
      await expect(proposed).to.emit(x.consortium, "ProposalApproved").withArgs(id, g0.address);

      const approved = await relay(x, g1, x.consortium, c.encodeFunctionData("approve", [id]));
      await expect(approved).to.emit(x.consortium, "ProposalApproved").withArgs(id, g1.address);
      const withdrawn = await relay(x, g1, x.consortium, c.encodeFunctionData("withdrawApproval", [id]));
      await expect(withdrawn).to.emit(x.consortium, "ProposalApprovalWithdrawn").withArgs(id, g1.address);
      const reapproved = await relay(x, g2, x.consortium, c.encodeFunctionData("approve", [id]));
      await expect(reapproved).to.emit(x.consortium, "ProposalApproved").withArgs(id, g2.address);

      const executed = await relay(x, g1, x.consortium, c.encodeFunctionData("execute", [id]));
      await expect(executed).to.emit(x.consortium, "ProposalExecuted").withArgs(id, g1.address);
      await expect(executed).to.emit(x.batchToken, "UndoWindowChanged").withArgs(10, 30);
      expect(await x.batchToken.undoWindowDays()).to.equal(30n);

      const cancelled = await relay(x, g2, x.consortium, c.encodeFunctionData("cancel", [x.ownProposal]));
      await expect(cancelled).to.emit(x.consortium, "ProposalCancelled").withArgs(x.ownProposal, g2.address);
      for (const tx of [proposed, approved, withdrawn, reapproved, executed, cancelled]) await expectNotNamed(tx, x.relayer.address);
    });

    it("costs the relayer nothing and needs no ether in the member's key on the gas-free chain", async function () {
      if (isCoverage()) this.skip(); // solidity-coverage forces a gas price
      const x = await loadFixture(accessFixture);
      // distributor2 gets a brand-new key that never held ether.
      const fresh = ethers.Wallet.createRandom().connect(ethers.provider);
      await govern(x.consortium, x.governors.slice(0, 2), x.consortium.interface.encodeFunctionData("rotateKey", [x.distributor2.address, fresh.address]));
      expect(await ethers.provider.getBalance(fresh.address)).to.equal(0n);
      const h = x.other.members.Distributor.holding!;
      const relayerBefore = await ethers.provider.getBalance(x.relayer.address);

      const tx = await relay(x, fresh, x.batchToken, x.batchToken.interface.encodeFunctionData("ship", [h.batch, h.receiver, h.quantity, h.items, REFERENCE]));

      await expect(tx)
        .to.emit(x.batchToken, "ShipmentCreated")
        .withArgs(h.batch, x.distributor2.address, h.receiver, x.next.shipmentId, h.quantity, h.kind, REFERENCE, tuples(h.items));
      const receipt = (await tx.wait())!;
      expect(receipt.gasUsed).to.be.greaterThan(0n);
      expect(receipt.gasPrice).to.equal(0n);
      expect(await ethers.provider.getBalance(x.relayer.address)).to.equal(relayerBefore);
      expect(await ethers.provider.getBalance(fresh.address)).to.equal(0n);
    });
  });

  describe("governance cannot be reached through the forwarder: it is msg.sender, never governance", function () {
    for (const call of GOVERNANCE_CALLS) {
      it(`refuses a governor's relayed ${call.target}.${call.fn}`, async function () {
        const x = await loadFixture(accessFixture);
        const target = contractOf(x, call.target);
        const governor = x.governors[0];
        const request = await signedRequest(x.forwarder, governor, target, target.interface.encodeFunctionData(call.fn, call.args(x)));
        expect(await x.forwarder.verify(request)).to.equal(true);

        // The BatchToken names msg.sender (the forwarder); the Consortium names the signer it resolves.
        const named = call.target === "BatchToken" ? addressOf(x.forwarder) : governor.address;
        const error = call.target === "BatchToken" ? "BatchTokenOnlyGovernance" : "ConsortiumOnlyGovernance";
        await expect(simulateForwardedCall(x.forwarder, request)).to.be.revertedWithCustomError(target, error).withArgs(named);
        await expect(x.forwarder.connect(x.relayer).execute(request)).to.be.revertedWithCustomError(x.forwarder, "FailedCall");

        const tx = await x.forwarder.connect(x.relayer).executeBatch([request], x.relayer.address);
        await expect(tx).to.emit(x.forwarder, "ExecutedForwardRequest").withArgs(governor.address, 0n, false);
        expect((await tx.wait())!.logs.filter((log) => log.address === addressOf(target))).to.deep.equal([]);
      });
    }

    it("refuses a request that names the Consortium itself as `from`: nobody can sign for it", async function () {
      const x = await loadFixture(accessFixture);
      const data = x.consortium.interface.encodeFunctionData("setThreshold", [3]);
      const request = await buildRequest(x.forwarder, addressOf(x.consortium), x.consortium, data);
      const signed = await signRequest(x.forwarder, x.governors[0], request);
      await expect(x.forwarder.connect(x.relayer).execute(signed))
        .to.be.revertedWithCustomError(x.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(x.governors[0].address, addressOf(x.consortium));
      // Even a forwarded call "from" the Consortium is no self-call: msg.sender is the forwarder.
      await expect(simulateForwardedCall(x.forwarder, signed))
        .to.be.revertedWithCustomError(x.consortium, "ConsortiumOnlyGovernance")
        .withArgs(addressOf(x.consortium));
      expect(await x.consortium.threshold()).to.equal(2n);
    });

    it("does not take an address appended to calldata as the sender when the forwarder did not send it", async function () {
      const x = await loadFixture(accessFixture);
      const data = x.batchToken.interface.encodeFunctionData("mintBatch", [newBatch(x, x.active)]);
      await expect(x.outsider.sendTransaction({ to: addressOf(x.batchToken), data: ethers.concat([data, x.producer.address]) }))
        .to.be.revertedWithCustomError(x.batchToken, "BatchTokenUnauthorizedMember")
        .withArgs(ethers.ZeroAddress, Role.None);
    });
  });

  describe("a relayed call the target refuses", function () {
    for (const refusal of TARGET_REFUSALS) {
      it(`refuses ${refusal.what} with ${refusal.error} (execute: FailedCall, nonce kept; executeBatch: success = false, nonce spent)`, async function () {
        const x = await loadFixture(accessFixture);
        const key = refusal.key(x);
        const target = contractOf(x, refusal.target);
        const request = await signedRequest(x.forwarder, key, target, refusal.data(x));

        // The request is valid; the target refuses who signed it.
        expect(await x.forwarder.verify(request)).to.equal(true);
        await expect(simulateForwardedCall(x.forwarder, request))
          .to.be.revertedWithCustomError(target, refusal.error)
          .withArgs(...refusal.args(x));
        // OpenZeppelin's forwarder does not bubble the target's revert data up.
        await expect(x.forwarder.connect(x.relayer).execute(request)).to.be.revertedWithCustomError(x.forwarder, "FailedCall");
        expect(await x.forwarder.nonces(key.address)).to.equal(0n);
        await expect(x.forwarder.connect(x.relayer).executeBatch([request], ethers.ZeroAddress))
          .to.emit(x.forwarder, "ExecutedForwardRequest")
          .withArgs(key.address, 0n, false);
        expect(await x.forwarder.nonces(key.address)).to.equal(1n);
      });
    }
  });

  describe("requests the forwarder refuses", function () {
    /** The producer's valid ship request data: a sealed pallet to the distributor. */
    const shipData = (x: AccessSystem) =>
      x.batchToken.interface.encodeFunctionData("ship", [x.active.batch, x.distributor.address, 50, [pallets(3)], REFERENCE]);

    /** Asserts the forwarder refuses `request` alone, and skips it in a batch with a refund receiver. */
    async function expectRefused(x: AccessSystem, request: ForwardRequestData, error: string, args: unknown[]) {
      expect(await x.forwarder.verify(request)).to.equal(false);
      await expect(x.forwarder.connect(x.relayer).execute(request))
        .to.be.revertedWithCustomError(x.forwarder, error)
        .withArgs(...args);
      const skipped = await x.forwarder.connect(x.relayer).executeBatch([request], x.relayer.address);
      expect(await eventsOf(skipped, x.forwarder, "ExecutedForwardRequest")).to.deep.equal([]);
      expect(await x.forwarder.nonces(request.from)).to.equal(0n);
      expect(await x.batchToken.holdsUnits(x.active.batch, x.producer.address, [pallets(3)])).to.equal(true);
    }

    it("refuses a request past its deadline with ERC2771ForwarderExpiredRequest", async function () {
      const x = await loadFixture(accessFixture);
      const deadline = BigInt(await time.latest()) + 60n;
      const request = await signedRequest(x.forwarder, x.producer, x.batchToken, shipData(x), { deadline });
      expect(await x.forwarder.verify(request)).to.equal(true);
      await time.increaseTo(deadline + 1n);
      await expectRefused(x, request, "ERC2771ForwarderExpiredRequest", [deadline]);
    });

    it("refuses a request signed for another nonce than `from`'s next with ERC2771ForwarderInvalidSigner", async function () {
      const x = await loadFixture(accessFixture);
      const request = await signedRequest(x.forwarder, x.producer, x.batchToken, shipData(x), { nonce: 1n });
      const recovered = await recoveredSigner(x.forwarder, request);
      expect(recovered).to.not.equal(x.producer.address);
      await expectRefused(x, request, "ERC2771ForwarderInvalidSigner", [recovered, x.producer.address]);
    });

    it("refuses a replayed request: its nonce is spent, so it recovers to another key", async function () {
      const x = await loadFixture(accessFixture);
      const data = x.batchToken.interface.encodeFunctionData("writeOff", [x.active.quantityBatch, 1, 0, EVIDENCE]);
      const request = await signedRequest(x.forwarder, x.distributor, x.batchToken, data);
      const balance = await x.batchToken.balanceOf(x.distributor.address, x.active.quantityBatch);
      await expect(x.forwarder.connect(x.relayer).execute(request)).to.emit(x.forwarder, "ExecutedForwardRequest").withArgs(x.distributor.address, 0n, true);

      const recoveredNow = await recoveredSigner(x.forwarder, request);
      expect(recoveredNow).to.not.equal(x.distributor.address);
      expect(await x.forwarder.verify(request)).to.equal(false);
      await expect(x.forwarder.connect(x.relayer).execute(request))
        .to.be.revertedWithCustomError(x.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(recoveredNow, x.distributor.address);
      expect(await x.batchToken.balanceOf(x.distributor.address, x.active.quantityBatch)).to.equal(balance - 1n);
    });

    const domains: [string, (x: AccessSystem) => Promise<Record<string, unknown>>][] = [
      ["another chain", async () => ({ chainId: 1n })],
      ["another forwarder", async (x) => ({ verifyingContract: addressOf(await new ConsortiumForwarder__factory(x.deployer).deploy()) })],
      ["another name", async () => ({ name: "OtherForwarder" })],
      ["another version", async () => ({ version: "2" })],
    ];
    for (const [what, override] of domains) {
      it(`refuses a request signed under ${what}'s domain with ERC2771ForwarderInvalidSigner`, async function () {
        const x = await loadFixture(accessFixture);
        const request = await buildRequest(x.forwarder, x.producer.address, x.batchToken, shipData(x));
        const signed = await signRequest(x.forwarder, x.producer, request, await forwarderDomain(x.forwarder, await override(x)));
        const recovered = await recoveredSigner(x.forwarder, signed);
        expect(recovered).to.not.equal(x.producer.address);
        await expectRefused(x, signed, "ERC2771ForwarderInvalidSigner", [recovered, x.producer.address]);
      });
    }

    it("refuses a request signed by one key with `from` of another (the distributor signing as the producer)", async function () {
      const x = await loadFixture(accessFixture);
      const request = await buildRequest(x.forwarder, x.producer.address, x.batchToken, shipData(x));
      const signed = await signRequest(x.forwarder, x.distributor, request);
      await expectRefused(x, signed, "ERC2771ForwarderInvalidSigner", [x.distributor.address, x.producer.address]);
    });

    it("refuses a rotated-in key signing with its account's address as `from`: a key signs only as itself", async function () {
      const x = await loadFixture(accessFixture);
      const member = x.groups.rotated.members.Producer;
      const data = x.batchToken.interface.encodeFunctionData("recall", [x.groups.rotated.batch, REASON]);
      const signed = await signRequest(x.forwarder, member.key, await buildRequest(x.forwarder, member.account, x.batchToken, data));
      expect(await x.forwarder.verify(signed)).to.equal(false);
      await expect(x.forwarder.connect(x.relayer).execute(signed))
        .to.be.revertedWithCustomError(x.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(member.key.address, member.account);
    });

    for (const field of ["data", "to", "gas"] as const) {
      it(`refuses a request whose ${field} was changed after signing with ERC2771ForwarderInvalidSigner`, async function () {
        const x = await loadFixture(accessFixture);
        const signed = await signedRequest(x.forwarder, x.producer, x.batchToken, shipData(x));
        const tampered: ForwardRequestData = {
          ...signed,
          ...(field === "data" && {
            // The same pallet, shipped to the second distributor instead.
            data: x.batchToken.interface.encodeFunctionData("ship", [x.active.batch, x.distributor2.address, 50, [pallets(3)], REFERENCE]),
          }),
          ...(field === "to" && { to: addressOf(x.consortium) }),
          ...(field === "gas" && { gas: signed.gas + 1n }),
        };
        const recovered = await recoveredSigner(x.forwarder, tampered);
        expect(recovered).to.not.equal(x.producer.address);
        await expectRefused(x, tampered, "ERC2771ForwarderInvalidSigner", [recovered, x.producer.address]);
      });
    }

    it("refuses a signature of random bytes, recovering no key", async function () {
      const x = await loadFixture(accessFixture);
      const request = await buildRequest(x.forwarder, x.producer.address, x.batchToken, shipData(x));
      await expectRefused(x, withSignature(request, ethers.hexlify(ethers.toUtf8Bytes("not a signature"))), "ERC2771ForwarderInvalidSigner", [
        ethers.ZeroAddress,
        x.producer.address,
      ]);
    });

    it("refuses, through another forwarder, a target that trusts only the consortium's (ERC2771UntrustfulTarget)", async function () {
      const x = await loadFixture(accessFixture);
      const other = await new ConsortiumForwarder__factory(x.deployer).deploy();
      const request = await signedRequest(other, x.producer, x.batchToken, shipData(x));
      await expect(other.connect(x.relayer).execute(request))
        .to.be.revertedWithCustomError(other, "ERC2771UntrustfulTarget")
        .withArgs(addressOf(x.batchToken), addressOf(other));
    });
  });

  describe("executeBatch", function () {
    it("skips an invalid request when a refund receiver is given, and runs the others; without one, the invalid request sinks the batch", async function () {
      const x = await loadFixture(accessFixture);
      const t = x.active;
      const bt = x.batchToken.interface;
      const quarantine = await signedRequest(x.forwarder, x.regulator, x.batchToken, bt.encodeFunctionData("quarantine", [t.batch, REASON]));
      // Invalid: claims to come from the distributor, signed by the pharmacy.
      const forged = await signRequest(
        x.forwarder,
        x.pharmacy,
        await buildRequest(x.forwarder, x.distributor.address, x.batchToken, bt.encodeFunctionData("writeOff", [t.quantityBatch, 23, 0, EVIDENCE])),
      );
      const notice = await signedRequest(x.forwarder, x.foreignRegulator, x.batchToken, bt.encodeFunctionData("safetyNotice", [t.batch, NOTICE]));
      const requests = [quarantine, forged, notice];

      await expect(x.forwarder.connect(x.relayer).executeBatch(requests, ethers.ZeroAddress))
        .to.be.revertedWithCustomError(x.forwarder, "ERC2771ForwarderInvalidSigner")
        .withArgs(x.pharmacy.address, x.distributor.address);

      const tx = await x.forwarder.connect(x.relayer).executeBatch(requests, x.relayer.address);
      const executed = await eventsOf(tx, x.forwarder, "ExecutedForwardRequest");
      expect(executed.map((e) => [e.args.signer, e.args.success])).to.deep.equal([
        [x.regulator.address, true],
        [x.foreignRegulator.address, true],
      ]);
      await expect(tx).to.emit(x.batchToken, "BatchQuarantined").withArgs(t.batch, x.regulator.address, DE, REASON);
      await expect(tx).to.emit(x.batchToken, "SafetyNoticeIssued").withArgs(t.batch, x.foreignRegulator.address, FR, NOTICE);
      expect(await x.forwarder.nonces(x.distributor.address)).to.equal(0n);
      expect(await x.batchToken.balanceOf(x.distributor.address, t.quantityBatch)).to.equal(23n);
    });

    for (const refundReceiver of ["no refund receiver", "a refund receiver"] as const) {
      it(`runs the others when one valid request's call fails, with ${refundReceiver}: it is reported and its nonce spent`, async function () {
        const x = await loadFixture(accessFixture);
        const t = x.active;
        const bt = x.batchToken.interface;
        const lock = await signedRequest(x.forwarder, x.distributor, x.batchToken, bt.encodeFunctionData("lock", [t.batch, [cases(6)], REASON]));
        // Valid request, refused call: the auditor holds nothing and cannot ship.
        const auditorShip = await signedRequest(
          x.forwarder,
          x.auditor,
          x.batchToken,
          bt.encodeFunctionData("ship", [t.batch, x.distributor.address, 50, [pallets(3)], REFERENCE]),
        );
        const notice = await signedRequest(x.forwarder, x.regulator, x.batchToken, bt.encodeFunctionData("safetyNotice", [t.batch, NOTICE]));

        const receiver = refundReceiver === "a refund receiver" ? x.relayer.address : ethers.ZeroAddress;
        const tx = await x.forwarder.connect(x.relayer).executeBatch([lock, auditorShip, notice], receiver);

        const executed = await eventsOf(tx, x.forwarder, "ExecutedForwardRequest");
        expect(executed.map((e) => [e.args.signer, e.args.nonce, e.args.success])).to.deep.equal([
          [x.distributor.address, 0n, true],
          [x.auditor.address, 0n, false],
          [x.regulator.address, 0n, true],
        ]);
        await expect(tx)
          .to.emit(x.batchToken, "PacksLocked")
          .withArgs(t.batch, x.distributor.address, tuples([cases(6)]), REASON);
        await expect(tx).to.emit(x.batchToken, "SafetyNoticeIssued").withArgs(t.batch, x.regulator.address, DE, NOTICE);
        await expect(tx).to.not.emit(x.batchToken, "ShipmentCreated");
        expect(await x.forwarder.nonces(x.auditor.address)).to.equal(1n);
      });
    }

    it("runs a custody chain of several members in one transaction: ship a pallet and accept it, ship a case on, accept it, dispense from it", async function () {
      const x = await loadFixture(accessFixture);
      const t = x.active;
      const bt = x.batchToken.interface;
      const [palletId, caseId] = [x.next.shipmentId, x.next.shipmentId + 1n];
      const pallet = { batchId: t.batch, sender: x.producer.address, receiver: x.distributor.address, quantity: 50n, kind: Kind.Forward, items: [pallets(3)] };
      const box = { batchId: t.batch, sender: x.distributor.address, receiver: x.pharmacy.address, quantity: 10n, kind: Kind.Forward, items: [cases(6)] };
      const unit = 60; // in case 6
      const sign = (key: Actor, data: string, nonce: bigint) => signedRequest(x.forwarder, key, x.batchToken, data, { nonce });
      // Signed before anything runs: shipment ids and structs are known in advance, nonces are consecutive per key.
      const requests = [
        await sign(x.producer, bt.encodeFunctionData("ship", [t.batch, x.distributor.address, 50, [pallets(3)], REFERENCE]), 0n),
        await sign(x.distributor, bt.encodeFunctionData("acceptShipment", [palletId, pallet]), 0n),
        await sign(x.distributor, bt.encodeFunctionData("ship", [t.batch, x.pharmacy.address, 10, [cases(6)], REFERENCE]), 1n),
        await sign(x.pharmacy, bt.encodeFunctionData("acceptShipment", [caseId, box]), 0n),
        await sign(x.pharmacy, bt.encodeFunctionData("dispense", [t.batch, unit, t.serials[unit], t.proofOf(unit)]), 1n),
      ];

      const tx = await x.forwarder.connect(x.relayer).executeBatch(requests, ethers.ZeroAddress);

      const executed = await eventsOf(tx, x.forwarder, "ExecutedForwardRequest");
      expect(executed.map((e) => [e.args.signer, e.args.success])).to.deep.equal([
        [x.producer.address, true],
        [x.distributor.address, true],
        [x.distributor.address, true],
        [x.pharmacy.address, true],
        [x.pharmacy.address, true],
      ]);
      await expect(tx).to.emit(x.batchToken, "ShipmentAccepted").withArgs(t.batch, x.producer.address, x.distributor.address, palletId, 50n);
      await expect(tx).to.emit(x.batchToken, "ShipmentAccepted").withArgs(t.batch, x.distributor.address, x.pharmacy.address, caseId, 10n);
      await expect(tx).to.emit(x.batchToken, "ContainerUnpacked").withArgs(t.batch, x.pharmacy.address, 1 /* Case */, 6);
      await expect(tx).to.emit(x.batchToken, "UnitDispensed").withArgs(t.batch, x.pharmacy.address, unit, leaf(unit, t.serials[unit]));
      await expectNotNamed(tx, x.relayer.address);

      const pharmacyIndex = (await x.consortium.member(x.pharmacy.address)).index;
      expect(await x.batchToken.holdsUnits(t.batch, x.distributor.address, [pallets(3)])).to.equal(true);
      expect(await x.batchToken.holdsUnits(t.batch, x.pharmacy.address, [units(61, 9)])).to.equal(true);
      const [state, member] = await x.batchToken.packState(t.batch, 0, unit);
      expect([state, member]).to.deep.equal([BigInt(PackState.Dispensed), pharmacyIndex]);
    });
  });
});
