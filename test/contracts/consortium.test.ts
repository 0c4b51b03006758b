import { expect } from "chai";
import { ethers } from "hardhat";
import type { Interface } from "ethers";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import { Consortium__factory, IConsortium__factory, type Consortium } from "../../typechain-types";
import {
  CHARTER_HASH,
  GTIN,
  GTIN2,
  LICENCE_HASH,
  MemberStatus,
  ONE_YEAR,
  PREFIX,
  PREFIX2,
  Role,
  deploySystemFixture,
  gln,
  govern,
} from "../fixtures/system";
import { signedRequest, simulateForwardedCall } from "../fixtures/forwarder";
import { withCheckDigit } from "../../api/domain/gs1";
import { prefixKey } from "../../api/domain/packing";

/** Proposal states as numbered in IConsortium.ProposalState. */
const ProposalState = { None: 0, Open: 1, Executed: 2, Cancelled: 3, Expired: 4 } as const;

const DE = "0x4445"; // "DE"
const FR = "0x4652"; // "FR"
const HOUR = 3600n;
const DAY = 24n * HOUR;
const DEFAULT_LIFETIME = 7n * DAY; // Ignition module default
const MAX_LIFETIME = 90n * DAY;
const MAX_GOVERNORS = 32;
const REASON = ethers.id("reason: falsified temperature log");
const NEW_LICENCE = ethers.id("renewed-licence-document");
const NEW_CHARTER = ethers.id("Consortium governance charter v2");
const NEW_GLN = gln(950600013499);
const FIXTURE_MEMBERS = 9n;
const FIXTURE_PROPOSALS = 9n;
const FAR_FUTURE = 4_000_000_000n;
const LATER = HOUR;

/** The ABI-encoded governance actions, built from the Consortium's own interface. */
const I = Consortium__factory.createInterface();
const act = {
  admit: (a: Admission) =>
    I.encodeFunctionData("admitMember", [a.account, a.role, a.gln, a.jurisdiction, a.licenceHash, a.licenceExpiry, a.prefixes]),
  changeRole: (account: string, role: number) => I.encodeFunctionData("changeRole", [account, role]),
  suspend: (account: string) => I.encodeFunctionData("suspendMember", [account, REASON]),
  reinstate: (account: string) => I.encodeFunctionData("reinstateMember", [account]),
  revoke: (account: string) => I.encodeFunctionData("revokeMember", [account, REASON]),
  renew: (account: string, hash: string, expiry: bigint) => I.encodeFunctionData("renewLicence", [account, hash, expiry]),
  rotateKey: (account: string, newKey: string) => I.encodeFunctionData("rotateKey", [account, newKey]),
  addPrefix: (account: string, prefix: string) => I.encodeFunctionData("addCompanyPrefix", [account, prefix]),
  removePrefix: (prefix: string) => I.encodeFunctionData("removeCompanyPrefix", [prefix]),
  addGovernor: (governor: string) => I.encodeFunctionData("addGovernor", [governor]),
  removeGovernor: (governor: string) => I.encodeFunctionData("removeGovernor", [governor]),
  replaceGovernor: (governor: string, newGovernor: string) => I.encodeFunctionData("replaceGovernor", [governor, newGovernor]),
  setThreshold: (threshold: number | bigint) => I.encodeFunctionData("setThreshold", [threshold]),
  setCharter: (hash: string) => I.encodeFunctionData("setCharter", [hash]),
  setLifetime: (lifetime: bigint) => I.encodeFunctionData("setProposalLifetime", [lifetime]),
  cancelProposal: (id: bigint) => I.encodeFunctionData("cancelProposal", [id]),
};

interface Admission {
  account: string;
  role: number;
  gln: bigint;
  jurisdiction: string;
  licenceHash: string;
  licenceExpiry: bigint;
  prefixes: string[];
}

type GovernanceFunction = Parameters<typeof I.getFunction>[0];

/** Every governance function of the Consortium, with well-formed arguments (for selector and access tests). */
function allActions(account: string): { name: GovernanceFunction; data: string }[] {
  const admission: Admission = {
    account,
    role: Role.Producer,
    gln: NEW_GLN,
    jurisdiction: DE,
    licenceHash: LICENCE_HASH,
    licenceExpiry: FAR_FUTURE,
    prefixes: [],
  };
  return [
    { name: "admitMember", data: act.admit(admission) },
    { name: "changeRole", data: act.changeRole(account, Role.Pharmacy) },
    { name: "suspendMember", data: act.suspend(account) },
    { name: "reinstateMember", data: act.reinstate(account) },
    { name: "revokeMember", data: act.revoke(account) },
    { name: "renewLicence", data: act.renew(account, NEW_LICENCE, FAR_FUTURE) },
    { name: "rotateKey", data: act.rotateKey(account, account) },
    { name: "addCompanyPrefix", data: act.addPrefix(account, "123456") },
    { name: "removeCompanyPrefix", data: act.removePrefix("123456") },
    { name: "addGovernor", data: act.addGovernor(account) },
    { name: "removeGovernor", data: act.removeGovernor(account) },
    { name: "replaceGovernor", data: act.replaceGovernor(account, account) },
    { name: "setThreshold", data: act.setThreshold(3) },
    { name: "setCharter", data: act.setCharter(NEW_CHARTER) },
    { name: "setProposalLifetime", data: act.setLifetime(HOUR) },
    { name: "cancelProposal", data: act.cancelProposal(1n) },
  ];
}

/** A deterministic address nobody holds a key for (a governor slot filler). */
const filler = (n: number) => ethers.getAddress(ethers.toBeHex(0x100000 + n, 20));

/** A GTIN-14 (check digit computed) from its first 13 digits. */
const gtin14 = (first13: string) => BigInt(withCheckDigit(first13));

async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

interface Gov {
  consortium: Consortium;
  governors: HardhatEthersSigner[];
}

/** Proposes `action` (to `target`, default the Consortium) as governors[0] and approves it up to the threshold. */
async function proposeApproved({ consortium: c, governors }: Gov, action: string, target?: string): Promise<bigint> {
  await (await c.connect(governors[0]).propose(target ?? (await c.getAddress()), action)).wait();
  const id = await c.proposalCount();
  const threshold = await c.threshold();
  for (let i = 1; i < Number(threshold); i++) await (await c.connect(governors[i]).approve(id)).wait();
  return id;
}

/** Proposes, approves and executes `action`; resolves to the execute transaction (or rejects with its revert). */
async function run(gov: Gov, action: string, target?: string) {
  const id = await proposeApproved(gov, action, target);
  return gov.consortium.connect(gov.governors[0]).execute(id);
}

/**
 * Executes `action` in a block mined at exactly `timestamp` (at least LATER ahead of the latest block when
 * the action was built: proposing and approving take blocks whose timestamps follow the wall clock, slower under coverage).
 */
async function runAt(gov: Gov, action: string, timestamp: bigint) {
  const id = await proposeApproved(gov, action);
  await time.setNextBlockTimestamp(timestamp);
  return gov.consortium.connect(gov.governors[0]).execute(id);
}

/** `actor(key)` as a plain object. */
async function actorOf(c: Consortium, key: string) {
  const [account, role, index] = await c.actor(key);
  return { account, role: Number(role), index: Number(index) };
}

/** `participant(account)` as a plain object. */
async function participantOf(c: Consortium, account: string) {
  const [role, index] = await c.participant(account);
  return { role: Number(role), index: Number(index) };
}

/** `companyPrefixOf(gtin)` as a plain object. */
async function prefixOf(c: Consortium, gtin: bigint | string) {
  const [owner, key] = await c.companyPrefixOf(BigInt(gtin));
  return { owner, key };
}

// ─── Fixtures ──────────────────────────────────────────────────────────────────────────────────

/** The deployed system with the signers the system fixture leaves unused (spare governor and keys). */
async function systemFixture() {
  const sys = await deploySystemFixture();
  const signers = await ethers.getSigners();
  const [governor4, key1, key2, key3] = signers.slice(15, 19);
  return { ...sys, governor4, key1, key2, key3 };
}

/** The system with a fourth governor (threshold still 2), so that a governor can be removed. */
async function fourGovernorsFixture() {
  const sys = await systemFixture();
  await govern(sys.consortium, sys.governors, act.addGovernor(sys.governor4.address));
  return { ...sys, governors: [...sys.governors, sys.governor4] };
}

/** The system with one open setCharter proposal by governors[0]. */
async function pendingProposalFixture() {
  const sys = await systemFixture();
  const action = act.setCharter(NEW_CHARTER);
  await (await sys.consortium.connect(sys.governors[0]).propose(await sys.consortium.getAddress(), action)).wait();
  const id = await sys.consortium.proposalCount();
  const { expiresAt } = await sys.consortium.proposal(id);
  return { ...sys, action, id, expiresAt };
}

/** As pendingProposalFixture, with four governors. */
async function fourGovernorsPendingFixture() {
  const sys = await fourGovernorsFixture();
  const action = act.setCharter(NEW_CHARTER);
  await (await sys.consortium.connect(sys.governors[0]).propose(await sys.consortium.getAddress(), action)).wait();
  const id = await sys.consortium.proposalCount();
  return { ...sys, action, id };
}

/** The system after the producer's key was rotated to key1 and the DE regulator's to key2. */
async function rotatedFixture() {
  const sys = await systemFixture();
  await govern(sys.consortium, sys.governors, act.rotateKey(sys.producer.address, sys.key1.address));
  await govern(sys.consortium, sys.governors, act.rotateKey(sys.regulator.address, sys.key2.address));
  return sys;
}

/** A Consortium deployed directly (no forwarder) by `deployer`. */
async function deployDirect(
  deployer: HardhatEthersSigner,
  governors: string[],
  threshold: number | bigint,
  charter = CHARTER_HASH,
  lifetime: bigint = DAY,
) {
  return new Consortium__factory(deployer).deploy(ethers.ZeroAddress, governors, threshold, charter, lifetime);
}

/** A Consortium governed by the three first signers and 29 fillers: MAX_GOVERNORS governors, threshold 2. */
async function fullGovernorSetFixture() {
  const [deployer, g1, g2, g3] = await ethers.getSigners();
  const addresses = [g1.address, g2.address, g3.address, ...Array.from({ length: MAX_GOVERNORS - 3 }, (_, i) => filler(i))];
  const consortium = await deployDirect(deployer, addresses, 2);
  await consortium.waitForDeployment();
  return { consortium, governors: [g1, g2, g3] };
}

describe("Consortium", function () {
  describe("deployment", function () {
    async function signers() {
      const [deployer, g1, g2, g3, g4] = await ethers.getSigners();
      return { deployer, gs: [g1.address, g2.address, g3.address], g4: g4.address };
    }

    it("starts with its governors, threshold, charter and proposal lifetime, and no member or proposal", async function () {
      const { deployer, gs } = await signers();
      const c = await deployDirect(deployer, gs, 2, CHARTER_HASH, DAY);
      const tx = c.deploymentTransaction();
      for (const g of gs) await expect(tx).to.emit(c, "GovernorAdded").withArgs(g);
      await expect(tx).to.emit(c, "ThresholdChanged").withArgs(0, 2);
      await expect(tx).to.emit(c, "CharterChanged").withArgs(ethers.ZeroHash, CHARTER_HASH);
      await expect(tx).to.emit(c, "ProposalLifetimeChanged").withArgs(0, DAY);
      expect(await c.governors()).to.deep.equal(gs);
      expect(await c.threshold()).to.equal(2n);
      expect(await c.charterHash()).to.equal(CHARTER_HASH);
      expect(await c.proposalLifetime()).to.equal(DAY);
      expect(await c.proposalCount()).to.equal(0n);
      expect(await c.memberCount()).to.equal(0n);
      expect(await c.accountAt(1)).to.equal(ethers.ZeroAddress);
      expect(await c.MIN_THRESHOLD()).to.equal(2n);
      expect(await c.MAX_GOVERNORS()).to.equal(BigInt(MAX_GOVERNORS));
    });

    it("exposes the state of the Ignition deployment", async function () {
      const { consortium, governors, forwarder } = await loadFixture(systemFixture);
      expect(await consortium.governors()).to.deep.equal(governors.map((g) => g.address));
      expect(await consortium.threshold()).to.equal(2n);
      expect(await consortium.charterHash()).to.equal(CHARTER_HASH);
      expect(await consortium.proposalLifetime()).to.equal(DEFAULT_LIFETIME);
      expect(await consortium.proposalCount()).to.equal(FIXTURE_PROPOSALS); // one admission per fixture member
      expect(await consortium.memberCount()).to.equal(FIXTURE_MEMBERS);
      expect(await consortium.isTrustedForwarder(await forwarder.getAddress())).to.equal(true);
      expect(await consortium.trustedForwarder()).to.equal(await forwarder.getAddress());
    });

    it("accepts the largest threshold, N − 1 of N, and both proposal lifetime bounds", async function () {
      const { deployer, gs, g4 } = await signers();
      const c1 = await deployDirect(deployer, [...gs, g4], 3, CHARTER_HASH, HOUR);
      expect(await c1.threshold()).to.equal(3n);
      expect(await c1.proposalLifetime()).to.equal(HOUR);
      const c2 = await deployDirect(deployer, gs, 2, CHARTER_HASH, MAX_LIFETIME);
      expect(await c2.threshold()).to.equal(2n);
      expect(await c2.proposalLifetime()).to.equal(MAX_LIFETIME);
    });

    it("accepts MAX_GOVERNORS governors and refuses one more", async function () {
      const { deployer } = await signers();
      const factory = new Consortium__factory(deployer);
      const full = Array.from({ length: MAX_GOVERNORS }, (_, i) => filler(i));
      const c = await deployDirect(deployer, full, MAX_GOVERNORS - 1);
      expect(await c.governors()).to.have.lengthOf(MAX_GOVERNORS);
      await expect(deployDirect(deployer, [...full, filler(MAX_GOVERNORS)], 2))
        .to.be.revertedWithCustomError(factory, "ConsortiumTooManyGovernors")
        .withArgs(MAX_GOVERNORS);
    });

    it("refuses a duplicate governor", async function () {
      const { deployer, gs } = await signers();
      const factory = new Consortium__factory(deployer);
      await expect(deployDirect(deployer, [gs[0], gs[1], gs[2], gs[0]], 2))
        .to.be.revertedWithCustomError(factory, "ConsortiumGovernorExists")
        .withArgs(gs[0]);
    });

    it("refuses the zero address and the contract's own address as a governor", async function () {
      const { deployer, gs } = await signers();
      const factory = new Consortium__factory(deployer);
      await expect(deployDirect(deployer, [gs[0], ethers.ZeroAddress, gs[1], gs[2]], 2))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidGovernor")
        .withArgs(ethers.ZeroAddress);
      const self = ethers.getCreateAddress({ from: deployer.address, nonce: await deployer.getNonce() });
      await expect(deployDirect(deployer, [...gs, self], 2))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidGovernor")
        .withArgs(self);
    });

    it("refuses a threshold below two: no single key acts alone", async function () {
      const { deployer, gs } = await signers();
      const factory = new Consortium__factory(deployer);
      for (const t of [0, 1]) {
        await expect(deployDirect(deployer, gs, t))
          .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
          .withArgs(t, 3);
      }
    });

    it("refuses a threshold of N or more of N governors, and fewer than three governors", async function () {
      const { deployer, gs } = await signers();
      const factory = new Consortium__factory(deployer);
      await expect(deployDirect(deployer, gs, 3))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(3, 3);
      await expect(deployDirect(deployer, gs, 4))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(4, 3);
      await expect(deployDirect(deployer, gs.slice(0, 2), 2))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(2, 2);
      await expect(deployDirect(deployer, [], 2))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(2, 0);
    });

    it("refuses a zero charter hash", async function () {
      const { deployer, gs } = await signers();
      await expect(deployDirect(deployer, gs, 2, ethers.ZeroHash)).to.be.revertedWithCustomError(
        new Consortium__factory(deployer),
        "ConsortiumEmptyCharter",
      );
    });

    it("refuses a proposal lifetime below one hour or above 90 days", async function () {
      const { deployer, gs } = await signers();
      const factory = new Consortium__factory(deployer);
      for (const lifetime of [0n, HOUR - 1n, MAX_LIFETIME + 1n]) {
        await expect(deployDirect(deployer, gs, 2, CHARTER_HASH, lifetime))
          .to.be.revertedWithCustomError(factory, "ConsortiumInvalidProposalLifetime")
          .withArgs(lifetime);
      }
    });
  });

  describe("governance process", function () {
    describe("propose", function () {
      it("creates a proposal that carries its target, selector and action and counts the proposer's approval", async function () {
        const { consortium: c, governors } = await loadFixture(systemFixture);
        const target = await c.getAddress();
        const action = act.setCharter(NEW_CHARTER);
        const selector = I.getFunction("setCharter").selector;
        const id = FIXTURE_PROPOSALS + 1n;
        const t = (await now()) + 10n;
        await time.setNextBlockTimestamp(t);
        const tx = c.connect(governors[1]).propose(target, action);
        await expect(tx)
          .to.emit(c, "ProposalCreated")
          .withArgs(id, governors[1].address, selector, target, action, t + DEFAULT_LIFETIME);
        await expect(tx).to.emit(c, "ProposalApproved").withArgs(id, governors[1].address);
        expect(await c.proposalCount()).to.equal(id);
        const p = await c.proposal(id);
        expect(p.proposer).to.equal(governors[1].address);
        expect(p.expiresAt).to.equal(t + DEFAULT_LIFETIME);
        expect(p.executed).to.equal(false);
        expect(p.cancelled).to.equal(false);
        expect(p.target).to.equal(target);
        expect(p.action).to.equal(action);
        expect(await c.proposalState(id)).to.equal(ProposalState.Open);
        expect(await c.approvalCount(id)).to.equal(1n);
        expect(await c.hasApproved(id, governors[1].address)).to.equal(true);
        expect(await c.hasApproved(id, governors[0].address)).to.equal(false);
      });

      it("returns the new proposal id", async function () {
        const { consortium: c, governors } = await loadFixture(systemFixture);
        expect(await c.connect(governors[0]).propose.staticCall(await c.getAddress(), act.setCharter(NEW_CHARTER))).to.equal(FIXTURE_PROPOSALS + 1n);
      });

      it("accepts every governance function of the Consortium", async function () {
        const { consortium: c, governors, outsider } = await loadFixture(systemFixture);
        const actions = allActions(outsider.address);
        expect(actions).to.have.lengthOf(16);
        for (const { name, data } of actions) {
          await expect(c.connect(governors[2]).propose(await c.getAddress(), data), name)
            .to.emit(c, "ProposalCreated")
            .withArgs(
              (v: bigint) => v > 0n,
              governors[2].address,
              I.getFunction(name).selector,
              await c.getAddress(),
              data,
              (v: bigint) => v > 0n,
            );
        }
        expect(await c.proposalCount()).to.equal(FIXTURE_PROPOSALS + BigInt(actions.length));
      });

      it("refuses a proposal from a non-governor, member or not", async function () {
        const { consortium: c, outsider, regulator } = await loadFixture(systemFixture);
        for (const caller of [outsider, regulator]) {
          await expect(c.connect(caller).propose(await c.getAddress(), act.setCharter(NEW_CHARTER)))
            .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
            .withArgs(caller.address);
        }
      });

      it("refuses a call to the Consortium with a selector that is not a governance function", async function () {
        const { consortium: c, governors } = await loadFixture(systemFixture);
        const target = await c.getAddress();
        await expect(c.connect(governors[0]).propose(target, "0xdeadbeef"))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0xdeadbeef");
        await expect(c.connect(governors[0]).propose(target, "0xdeadbeef" + "00".repeat(32)))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0xdeadbeef");
        // Views, the process itself and the regulator's emergency power are not actions.
        for (const name of [
          "threshold",
          "member",
          "actor",
          "propose",
          "approve",
          "withdrawApproval",
          "cancel",
          "execute",
          "emergencySuspend",
        ] as const) {
          const selector = I.getFunction(name).selector;
          await expect(c.connect(governors[0]).propose(target, selector + "00".repeat(64)), name)
            .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
            .withArgs(selector);
        }
      });

      it("refuses an empty action and one shorter than a selector, with the zero selector", async function () {
        const { consortium: c, governors } = await loadFixture(systemFixture);
        const target = await c.getAddress();
        await expect(c.connect(governors[0]).propose(target, "0x"))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0x00000000");
        // The first three bytes of a real governance selector are not enough.
        const truncated = I.getFunction("setCharter").selector.slice(0, 8);
        await expect(c.connect(governors[0]).propose(target, truncated))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0x00000000");
      });

      it("opens new proposals for the current proposal lifetime and leaves older ones unchanged", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors } = sys;
        await (await run(sys, act.setLifetime(HOUR))).wait();
        expect((await c.proposal(sys.id)).expiresAt).to.equal(sys.expiresAt);
        const t = (await now()) + 5n;
        await time.setNextBlockTimestamp(t);
        await c.connect(governors[0]).propose(await c.getAddress(), sys.action);
        expect((await c.proposal(await c.proposalCount())).expiresAt).to.equal(t + HOUR);
      });
    });

    describe("proposals to another system contract", function () {
      it("pauses the BatchToken: the call comes from the Consortium, which the BatchToken trusts", async function () {
        const sys = await loadFixture(systemFixture);
        const { consortium: c, batchToken, governors } = sys;
        const target = await batchToken.getAddress();
        const action = batchToken.interface.encodeFunctionData("setPaused", [true, REASON]);
        await expect(batchToken.connect(governors[0]).setPaused(true, REASON))
          .to.be.revertedWithCustomError(batchToken, "BatchTokenOnlyGovernance")
          .withArgs(governors[0].address);

        await expect(c.connect(governors[0]).propose(target, action))
          .to.emit(c, "ProposalCreated")
          .withArgs(
            FIXTURE_PROPOSALS + 1n,
            governors[0].address,
            batchToken.interface.getFunction("setPaused").selector,
            target,
            action,
            (v: bigint) => v > 0n,
          );
        const id = await c.proposalCount();
        expect((await c.proposal(id)).target).to.equal(target);
        await c.connect(governors[1]).approve(id);
        const tx = c.connect(governors[2]).execute(id);
        await expect(tx).to.emit(c, "ProposalExecuted").withArgs(id, governors[2].address);
        await expect(tx).to.emit(batchToken, "CustodyPaused").withArgs(true, REASON);
        expect(await batchToken.paused()).to.equal(true);
        expect(await c.proposalState(id)).to.equal(ProposalState.Executed);
      });

      it("reverts with the target's own error when its call reverts, and the proposal stays open", async function () {
        const sys = await loadFixture(systemFixture);
        const { consortium: c, batchToken, governors } = sys;
        const target = await batchToken.getAddress();
        const id = await proposeApproved(sys, batchToken.interface.encodeFunctionData("setUndoWindow", [0]), target);
        await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(batchToken, "BatchTokenInvalidUndoWindow").withArgs(0);
        expect(await c.proposalState(id)).to.equal(ProposalState.Open);
      });

      it("accepts any selector for another contract, which decides: an unknown function fails the execution", async function () {
        const sys = await loadFixture(systemFixture);
        const { consortium: c, batchToken, governors } = sys;
        const id = await proposeApproved(sys, "0xdeadbeef", await batchToken.getAddress());
        await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(c, "FailedCall");
      });

      it("refuses a target without code: an account, a member or the zero address", async function () {
        const { consortium: c, batchToken, governors, outsider, producer } = await loadFixture(systemFixture);
        const action = batchToken.interface.encodeFunctionData("setPaused", [true, REASON]);
        for (const target of [outsider.address, producer.address, ethers.ZeroAddress]) {
          await expect(c.connect(governors[0]).propose(target, action)).to.be.revertedWithCustomError(c, "ConsortiumInvalidTarget").withArgs(target);
        }
      });
    });

    describe("approve", function () {
      it("records the approval of another governor", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[2]).approve(id)).to.emit(c, "ProposalApproved").withArgs(id, governors[2].address);
        expect(await c.approvalCount(id)).to.equal(2n);
        expect(await c.hasApproved(id, governors[2].address)).to.equal(true);
      });

      it("refuses a second approval by the same governor, the proposer included", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[0]).approve(id))
          .to.be.revertedWithCustomError(c, "ConsortiumAlreadyApproved")
          .withArgs(id, governors[0].address);
        await c.connect(governors[1]).approve(id);
        await expect(c.connect(governors[1]).approve(id))
          .to.be.revertedWithCustomError(c, "ConsortiumAlreadyApproved")
          .withArgs(id, governors[1].address);
      });

      it("refuses an approval by a non-governor", async function () {
        const { consortium: c, outsider, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(outsider).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(outsider.address);
      });

      it("refuses an unknown proposal id", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        for (const unknown of [0n, id + 1n]) {
          await expect(c.connect(governors[1]).approve(unknown)).to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal").withArgs(unknown);
        }
      });

      it("is possible until one second before expiry", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await time.setNextBlockTimestamp(expiresAt - 1n);
        await expect(c.connect(governors[1]).approve(id)).to.emit(c, "ProposalApproved");
      });

      it("refuses an expired proposal from its expiry second on", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await time.setNextBlockTimestamp(expiresAt);
        await expect(c.connect(governors[1]).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalExpired").withArgs(id, expiresAt);
        await time.increase(DEFAULT_LIFETIME);
        await expect(c.connect(governors[2]).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalExpired").withArgs(id, expiresAt);
      });

      it("refuses an executed proposal", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await c.connect(governors[1]).execute(id);
        await expect(c.connect(governors[2]).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted").withArgs(id);
      });

      it("refuses a cancelled proposal", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[0]).cancel(id);
        await expect(c.connect(governors[1]).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled").withArgs(id);
      });
    });

    describe("withdrawApproval", function () {
      it("withdraws a governor's approval, which then no longer counts", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await expect(c.connect(governors[1]).withdrawApproval(id)).to.emit(c, "ProposalApprovalWithdrawn").withArgs(id, governors[1].address);
        expect(await c.hasApproved(id, governors[1].address)).to.equal(false);
        expect(await c.approvalCount(id)).to.equal(1n);
        await expect(c.connect(governors[2]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals").withArgs(id, 1, 2);
        expect(await c.proposalState(id)).to.equal(ProposalState.Open);
      });

      it("lets the proposer withdraw its own approval, leaving the proposal open with none", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[0]).withdrawApproval(id)).to.emit(c, "ProposalApprovalWithdrawn").withArgs(id, governors[0].address);
        expect(await c.approvalCount(id)).to.equal(0n);
        expect(await c.proposalState(id)).to.equal(ProposalState.Open);
      });

      it("lets a governor approve again after withdrawing", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await c.connect(governors[1]).withdrawApproval(id);
        await expect(c.connect(governors[1]).approve(id)).to.emit(c, "ProposalApproved").withArgs(id, governors[1].address);
        await expect(c.connect(governors[1]).execute(id)).to.emit(c, "CharterChanged").withArgs(CHARTER_HASH, NEW_CHARTER);
      });

      it("refuses a governor who has not approved, or already withdrew", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[2]).withdrawApproval(id))
          .to.be.revertedWithCustomError(c, "ConsortiumNotApproved")
          .withArgs(id, governors[2].address);
        await c.connect(governors[0]).withdrawApproval(id);
        await expect(c.connect(governors[0]).withdrawApproval(id))
          .to.be.revertedWithCustomError(c, "ConsortiumNotApproved")
          .withArgs(id, governors[0].address);
      });

      it("refuses a non-governor", async function () {
        const { consortium: c, outsider, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(outsider).withdrawApproval(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(outsider.address);
      });

      it("refuses once the proposal is executed, cancelled or expired, and for an unknown id", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors, id, expiresAt } = sys;
        await expect(c.connect(governors[0]).withdrawApproval(id + 1n))
          .to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal")
          .withArgs(id + 1n);

        const executed = await proposeApproved(sys, act.setLifetime(HOUR));
        await c.connect(governors[0]).execute(executed);
        await expect(c.connect(governors[1]).withdrawApproval(executed))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted")
          .withArgs(executed);

        const cancelled = await proposeApproved(sys, act.setLifetime(2n * HOUR));
        await c.connect(governors[0]).cancel(cancelled);
        await expect(c.connect(governors[1]).withdrawApproval(cancelled))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled")
          .withArgs(cancelled);

        await time.increaseTo(expiresAt);
        await expect(c.connect(governors[0]).withdrawApproval(id))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalExpired")
          .withArgs(id, expiresAt);
      });
    });

    describe("cancel", function () {
      it("lets the proposer cancel its open proposal, which can no longer run", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await expect(c.connect(governors[0]).cancel(id)).to.emit(c, "ProposalCancelled").withArgs(id, governors[0].address);
        expect((await c.proposal(id)).cancelled).to.equal(true);
        expect(await c.proposalState(id)).to.equal(ProposalState.Cancelled);
        await expect(c.connect(governors[1]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled").withArgs(id);
        expect(await c.charterHash()).to.equal(CHARTER_HASH);
      });

      it("refuses a governor who is not the proposer, even one who approved", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        for (const g of [governors[1], governors[2]]) {
          await expect(c.connect(g).cancel(id)).to.be.revertedWithCustomError(c, "ConsortiumNotProposer").withArgs(id, g.address);
        }
      });

      it("refuses a non-governor", async function () {
        const { consortium: c, outsider, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(outsider).cancel(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(outsider.address);
      });

      it("refuses a proposer who is no longer a governor", async function () {
        const sys = await loadFixture(fourGovernorsFixture);
        const { consortium: c, governors, governor4 } = sys;
        await c.connect(governor4).propose(await c.getAddress(), act.setCharter(NEW_CHARTER));
        const id = await c.proposalCount();
        await govern(c, governors, act.removeGovernor(governor4.address));
        await expect(c.connect(governor4).cancel(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(governor4.address);
      });

      it("refuses a proposal that is cancelled, executed, expired or unknown", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors, id, expiresAt } = sys;
        await expect(c.connect(governors[0]).cancel(id + 1n))
          .to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal")
          .withArgs(id + 1n);

        const executed = await proposeApproved(sys, act.setLifetime(HOUR));
        await c.connect(governors[0]).execute(executed);
        await expect(c.connect(governors[0]).cancel(executed))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted")
          .withArgs(executed);

        const cancelled = await proposeApproved(sys, act.setLifetime(2n * HOUR));
        await c.connect(governors[0]).cancel(cancelled);
        await expect(c.connect(governors[0]).cancel(cancelled)).to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled").withArgs(cancelled);

        await time.increaseTo(expiresAt);
        await expect(c.connect(governors[0]).cancel(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalExpired").withArgs(id, expiresAt);
      });
    });

    describe("cancelProposal (by a threshold of governors)", function () {
      it("cancels another governor's proposal when a threshold of governors agree", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        const [g1, g2, g3] = governors;
        await c.connect(g2).approve(id); // executable by anyone now
        const tx = run({ consortium: c, governors: [g2, g3] }, act.cancelProposal(id));
        await expect(tx)
          .to.emit(c, "ProposalCancelled")
          .withArgs(id, await c.getAddress());
        expect(await c.proposalState(id)).to.equal(ProposalState.Cancelled);
        await expect(c.connect(g1).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled").withArgs(id);
      });

      it("refuses a proposal that is executed, cancelled, expired or unknown", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors, id, expiresAt } = sys;
        await expect(run(sys, act.cancelProposal(999n)))
          .to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal")
          .withArgs(999n);
        await expect(run(sys, act.cancelProposal(1n)))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted")
          .withArgs(1n);

        const cancelled = await proposeApproved(sys, act.setLifetime(HOUR));
        await c.connect(governors[0]).cancel(cancelled);
        await expect(run(sys, act.cancelProposal(cancelled)))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled")
          .withArgs(cancelled);

        // Made a day after `id`, the cancellation is still open when `id` expires.
        await time.increase(DAY);
        const cancelLate = await proposeApproved(sys, act.cancelProposal(id));
        await time.setNextBlockTimestamp(expiresAt);
        await expect(c.connect(governors[0]).execute(cancelLate))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalExpired")
          .withArgs(id, expiresAt);
      });

      it("cannot cancel itself: a proposal is marked executed before its action runs", async function () {
        const sys = await loadFixture(systemFixture);
        const { consortium: c, governors } = sys;
        const self = (await c.proposalCount()) + 1n;
        const id = await proposeApproved(sys, act.cancelProposal(self));
        expect(id).to.equal(self);
        await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted").withArgs(id);
        expect(await c.proposalState(id)).to.equal(ProposalState.Open);
      });
    });

    describe("proposalState", function () {
      it("is None for unknown ids, Open until one second before expiry and Expired from the expiry second", async function () {
        const { consortium: c, id, expiresAt } = await loadFixture(pendingProposalFixture);
        expect(await c.proposalState(0)).to.equal(ProposalState.None);
        expect(await c.proposalState(id + 1n)).to.equal(ProposalState.None);
        expect(await c.proposalState(id)).to.equal(ProposalState.Open);
        await time.increaseTo(expiresAt - 1n);
        expect(await c.proposalState(id)).to.equal(ProposalState.Open);
        await time.increaseTo(expiresAt);
        expect(await c.proposalState(id)).to.equal(ProposalState.Expired);
      });

      it("stays Executed or Cancelled after the expiry time has passed", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors, id, expiresAt } = sys;
        const executed = await proposeApproved(sys, act.setLifetime(HOUR));
        await c.connect(governors[0]).execute(executed);
        await c.connect(governors[0]).cancel(id);
        await time.increaseTo(expiresAt + DAY);
        expect(await c.proposalState(executed)).to.equal(ProposalState.Executed);
        expect(await c.proposalState(id)).to.equal(ProposalState.Cancelled);
        expect(await c.proposalState(1n)).to.equal(ProposalState.Executed); // a fixture admission
      });
    });

    describe("execute", function () {
      it("runs an approved action, emitting ProposalExecuted and the action's events", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        // Any governor may execute, also one who did not approve.
        const tx = c.connect(governors[2]).execute(id);
        await expect(tx).to.emit(c, "ProposalExecuted").withArgs(id, governors[2].address);
        await expect(tx).to.emit(c, "CharterChanged").withArgs(CHARTER_HASH, NEW_CHARTER);
        expect(await c.charterHash()).to.equal(NEW_CHARTER);
        expect((await c.proposal(id)).executed).to.equal(true);
        expect(await c.proposalState(id)).to.equal(ProposalState.Executed);
      });

      it("refuses a proposal with fewer approvals than the threshold", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals").withArgs(id, 1, 2);
      });

      it("refuses a non-governor executor", async function () {
        const { consortium: c, governors, outsider, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await expect(c.connect(outsider).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(outsider.address);
      });

      it("refuses an unknown proposal id", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        for (const unknown of [0n, id + 1n]) {
          await expect(c.connect(governors[0]).execute(unknown)).to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal").withArgs(unknown);
        }
      });

      it("refuses to execute a proposal twice", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await c.connect(governors[0]).execute(id);
        await expect(c.connect(governors[1]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted").withArgs(id);
      });

      it("refuses an approved proposal from exactly its expiry second, and later", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await time.setNextBlockTimestamp(expiresAt);
        await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalExpired").withArgs(id, expiresAt);
        await time.increase(DEFAULT_LIFETIME);
        await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalExpired").withArgs(id, expiresAt);
      });

      it("executes one second before expiry", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await time.setNextBlockTimestamp(expiresAt - 1n);
        await expect(c.connect(governors[0]).execute(id)).to.emit(c, "ProposalExecuted");
      });

      it("no longer counts the approval of a governor removed after approving", async function () {
        const { consortium: c, governors, id } = await loadFixture(fourGovernorsPendingFixture);
        const [g1, g2, g3, g4] = governors;
        await c.connect(g2).approve(id);
        expect(await c.approvalCount(id)).to.equal(2n);
        await govern(c, [g1, g3], act.removeGovernor(g2.address));
        expect(await c.approvalCount(id)).to.equal(1n);
        expect(await c.hasApproved(id, g2.address)).to.equal(false);
        await expect(c.connect(g1).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals").withArgs(id, 1, 2);
        for (const call of [c.connect(g2).execute(id), c.connect(g2).approve(id), c.connect(g2).withdrawApproval(id)]) {
          await expect(call).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(g2.address);
        }
        await c.connect(g4).approve(id);
        await expect(c.connect(g3).execute(id)).to.emit(c, "ProposalExecuted").withArgs(id, g3.address);
      });

      it("does not revive the approval of a governor who was removed and added again", async function () {
        const { consortium: c, governors, id } = await loadFixture(fourGovernorsPendingFixture);
        const [g1, g2, g3] = governors;
        await c.connect(g2).approve(id);
        await govern(c, [g1, g3], act.removeGovernor(g2.address));
        await govern(c, [g1, g3], act.addGovernor(g2.address));
        expect(await c.approvalCount(id)).to.equal(1n);
        expect(await c.hasApproved(id, g2.address)).to.equal(false);
        await expect(c.connect(g1).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals").withArgs(id, 1, 2);
        await expect(c.connect(g2).withdrawApproval(id)).to.be.revertedWithCustomError(c, "ConsortiumNotApproved").withArgs(id, g2.address);
        await c.connect(g2).approve(id);
        await expect(c.connect(g1).execute(id)).to.emit(c, "ProposalExecuted");
      });

      it("measures approvals against the threshold at execution time", async function () {
        const { consortium: c, governors, id } = await loadFixture(fourGovernorsPendingFixture);
        await c.connect(governors[1]).approve(id);
        await govern(c, governors, act.setThreshold(3));
        await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals").withArgs(id, 2, 3);
        await c.connect(governors[2]).approve(id);
        await expect(c.connect(governors[0]).execute(id)).to.emit(c, "CharterChanged");
      });

      it("reverts with the action's error when the action reverts, and the proposal stays executable", async function () {
        const sys = await loadFixture(systemFixture);
        const { consortium: c, governors, regulator, producer } = sys;
        // Reinstating an active member fails until the member has been suspended.
        const id = await proposeApproved(sys, act.reinstate(producer.address));
        await expect(c.connect(governors[0]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
          .withArgs(producer.address, MemberStatus.Active);
        expect((await c.proposal(id)).executed).to.equal(false);
        expect(await c.approvalCount(id)).to.equal(2n);

        await c.connect(regulator).emergencySuspend(producer.address, REASON);
        await expect(c.connect(governors[1]).execute(id)).to.emit(c, "MemberReinstated").withArgs(producer.address);
        expect((await c.proposal(id)).executed).to.equal(true);
        expect(await c.activeRole(producer.address)).to.equal(Role.Producer);
      });

      it("reverts with FailedCall when the action bytes cannot be decoded", async function () {
        const sys = await loadFixture(systemFixture);
        // A governance selector followed by too few argument bytes: the self-call reverts without data.
        await expect(run(sys, I.getFunction("setCharter").selector)).to.be.revertedWithCustomError(sys.consortium, "FailedCall");
      });
    });
  });

  describe("admitMember", function () {
    async function admission(sys: { outsider: HardhatEthersSigner }, overrides: Partial<Admission> = {}): Promise<Admission> {
      return {
        account: sys.outsider.address,
        role: Role.Pharmacy,
        gln: NEW_GLN,
        jurisdiction: DE,
        licenceHash: LICENCE_HASH,
        licenceExpiry: (await now()) + BigInt(ONE_YEAR),
        prefixes: [],
        ...overrides,
      };
    }

    it("admits an active member with its record, the next index, its GLN and its own address as key", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider } = sys;
      const a = await admission(sys, { jurisdiction: FR });
      const index = FIXTURE_MEMBERS + 1n;
      await expect(run(sys, act.admit(a)))
        .to.emit(c, "MemberAdmitted")
        .withArgs(outsider.address, Role.Pharmacy, NEW_GLN, FR, LICENCE_HASH, a.licenceExpiry, index);
      const m = await c.member(outsider.address);
      expect(m.role).to.equal(Role.Pharmacy);
      expect(m.status).to.equal(MemberStatus.Active);
      expect(m.jurisdiction).to.equal(FR);
      expect(m.gln).to.equal(NEW_GLN);
      expect(m.licenceExpiry).to.equal(a.licenceExpiry);
      expect(m.licenceHash).to.equal(LICENCE_HASH);
      expect(m.index).to.equal(index);
      expect(m.keyRotated).to.equal(false);
      expect(await c.memberByGln(NEW_GLN)).to.equal(outsider.address);
      expect(await c.memberCount()).to.equal(index);
      expect(await c.accountAt(index)).to.equal(outsider.address);
      expect(await c.keyOf(outsider.address)).to.equal(outsider.address);
      expect(await c.accountOfKey(outsider.address)).to.equal(outsider.address);
      expect(await actorOf(c, outsider.address)).to.deep.equal({ account: outsider.address, role: Role.Pharmacy, index: Number(index) });
      expect(await participantOf(c, outsider.address)).to.deep.equal({ role: Role.Pharmacy, index: Number(index) });
      expect(await c.activeRole(outsider.address)).to.equal(Role.Pharmacy);
      expect(await c.isActiveMember(outsider.address)).to.equal(true);
    });

    it("admits a producer with its company prefixes", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider } = sys;
      const prefixes = ["9507000", "950800123"];
      const tx = run(sys, act.admit(await admission(sys, { role: Role.Producer, prefixes })));
      await expect(tx).to.emit(c, "MemberAdmitted");
      for (const p of prefixes) await expect(tx).to.emit(c, "CompanyPrefixAssigned").withArgs(outsider.address, prefixKey(p), p);
      for (const p of prefixes) expect(await c.prefixOwner(prefixKey(p))).to.equal(outsider.address);
      expect(await prefixOf(c, gtin14("0950800123001"))).to.deep.equal({ owner: outsider.address, key: prefixKey("950800123") });
    });

    it("accepts every role other than None", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      for (let role = Role.Producer; role <= Role.Auditor; role++) {
        const account = filler(role);
        await (await run(sys, act.admit(await admission(sys, { account, role, gln: gln(950600013500 + role) })))).wait();
        expect(await c.activeRole(account)).to.equal(role);
      }
    });

    it("accepts GLNs with leading zeros and the largest 13-digit GLN", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      const small = BigInt(withCheckDigit("000000000001")); // 0000000000017
      const largest = BigInt(withCheckDigit("999999999999"));
      expect(small).to.equal(17n);
      await (await run(sys, act.admit(await admission(sys, { account: filler(1), gln: small })))).wait();
      await (await run(sys, act.admit(await admission(sys, { account: filler(2), gln: largest })))).wait();
      expect(await c.memberByGln(small)).to.equal(filler(1));
      expect(await c.memberByGln(largest)).to.equal(filler(2));
    });

    it("refuses the zero address", async function () {
      const sys = await loadFixture(systemFixture);
      await expect(run(sys, act.admit(await admission(sys, { account: ethers.ZeroAddress })))).to.be.revertedWithCustomError(
        sys.consortium,
        "ConsortiumZeroAddress",
      );
    });

    it("refuses an account that already has a member record, revoked ones included", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer } = sys;
      await expect(run(sys, act.admit(await admission(sys, { account: producer.address }))))
        .to.be.revertedWithCustomError(c, "ConsortiumMemberExists")
        .withArgs(producer.address);
      await govern(c, sys.governors, act.revoke(producer.address));
      await expect(run(sys, act.admit(await admission(sys, { account: producer.address }))))
        .to.be.revertedWithCustomError(c, "ConsortiumMemberExists")
        .withArgs(producer.address);
    });

    it("refuses an account that is another member's current key", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, key1 } = sys;
      await expect(run(sys, act.admit(await admission(sys, { account: key1.address }))))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(key1.address);
      expect(await c.memberCount()).to.equal(FIXTURE_MEMBERS);
    });

    it("refuses Role.None", async function () {
      const sys = await loadFixture(systemFixture);
      await expect(run(sys, act.admit(await admission(sys, { role: Role.None }))))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidRole")
        .withArgs(Role.None);
    });

    it("refuses a GLN with a wrong check digit", async function () {
      const sys = await loadFixture(systemFixture);
      const bad = NEW_GLN % 10n === 9n ? NEW_GLN - 1n : NEW_GLN + 1n;
      await expect(run(sys, act.admit(await admission(sys, { gln: bad }))))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidGln")
        .withArgs(bad);
    });

    it("refuses a GLN of 10^13 or more even with a valid check digit, and GLN zero", async function () {
      const sys = await loadFixture(systemFixture);
      const fourteenDigits = BigInt(withCheckDigit("9506000134000")); // a valid GTIN-14, not a GLN
      expect(fourteenDigits >= 10n ** 13n).to.equal(true);
      for (const bad of [fourteenDigits, 10n ** 13n, 0n]) {
        await expect(run(sys, act.admit(await admission(sys, { gln: bad }))))
          .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidGln")
          .withArgs(bad);
      }
    });

    it("refuses a GLN held by another member, also after that member's revocation", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer } = sys;
      const taken = (await c.member(producer.address)).gln;
      await expect(run(sys, act.admit(await admission(sys, { gln: taken }))))
        .to.be.revertedWithCustomError(c, "ConsortiumGlnTaken")
        .withArgs(taken, producer.address);
      await govern(c, sys.governors, act.revoke(producer.address));
      await expect(run(sys, act.admit(await admission(sys, { gln: taken }))))
        .to.be.revertedWithCustomError(c, "ConsortiumGlnTaken")
        .withArgs(taken, producer.address);
    });

    for (const [label, code] of [
      ["lower-case letters", "0x6465"], // "de"
      ["digits", "0x3132"], // "12"
      ["zero bytes", "0x0000"],
      ["a character just below A first", "0x4045"], // "@E"
      ["a character just above Z first", "0x5b45"], // "[E"
      ["a character just below A second", "0x4440"], // "D@"
      ["a character just above Z second", "0x445b"], // "D["
      ["a lower-case second letter", "0x4465"], // "De"
    ] as const) {
      it(`refuses a jurisdiction with ${label}`, async function () {
        const sys = await loadFixture(systemFixture);
        await expect(run(sys, act.admit(await admission(sys, { jurisdiction: code }))))
          .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidJurisdiction")
          .withArgs(code);
      });
    }

    it("accepts the jurisdiction bounds AA and ZZ", async function () {
      const sys = await loadFixture(systemFixture);
      await (await run(sys, act.admit(await admission(sys, { account: filler(1), jurisdiction: "0x4141" })))).wait();
      await (await run(sys, act.admit(await admission(sys, { account: filler(2), gln: gln(950600013510), jurisdiction: "0x5a5a" })))).wait();
      expect((await sys.consortium.member(filler(1))).jurisdiction).to.equal("0x4141");
      expect((await sys.consortium.member(filler(2))).jurisdiction).to.equal("0x5a5a");
    });

    it("refuses a zero licence hash", async function () {
      const sys = await loadFixture(systemFixture);
      await expect(run(sys, act.admit(await admission(sys, { licenceHash: ethers.ZeroHash })))).to.be.revertedWithCustomError(
        sys.consortium,
        "ConsortiumEmptyLicence",
      );
    });

    it("refuses a licence expiry in the past or at the current second", async function () {
      const sys = await loadFixture(systemFixture);
      const past = (await now()) - 1n;
      const t1 = (await now()) + LATER;
      await expect(runAt(sys, act.admit(await admission(sys, { licenceExpiry: past })), t1))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumLicenceExpiryInPast")
        .withArgs(past, t1);
      const t2 = t1 + LATER;
      await expect(runAt(sys, act.admit(await admission(sys, { licenceExpiry: t2 })), t2))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumLicenceExpiryInPast")
        .withArgs(t2, t2);
    });

    it("accepts a licence expiring one second after admission", async function () {
      const sys = await loadFixture(systemFixture);
      const t = (await now()) + LATER;
      await expect(runAt(sys, act.admit(await admission(sys, { licenceExpiry: t + 1n })), t)).to.emit(sys.consortium, "MemberAdmitted");
      expect(await sys.consortium.isActiveMember(sys.outsider.address)).to.equal(true);
      await time.increase(1);
      expect(await sys.consortium.isActiveMember(sys.outsider.address)).to.equal(false);
    });

    it("refuses company prefixes for a member that is not a producer, and admits nothing", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider } = sys;
      await expect(run(sys, act.admit(await admission(sys, { role: Role.Distributor, prefixes: ["9507000"] }))))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixNeedsProducer")
        .withArgs(outsider.address, Role.Distributor);
      expect(await c.memberCount()).to.equal(FIXTURE_MEMBERS);
      expect(await c.memberByGln(NEW_GLN)).to.equal(ethers.ZeroAddress);
    });

    it("refuses an invalid or taken prefix, or the same prefix twice, and admits nothing", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider, producer } = sys;
      const producerWith = async (prefixes: string[]) => act.admit(await admission(sys, { role: Role.Producer, prefixes }));
      await expect(run(sys, await producerWith(["9507000", "12345"])))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidPrefix")
        .withArgs("12345");
      await expect(run(sys, await producerWith(["9507000", PREFIX])))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs(PREFIX, producer.address);
      await expect(run(sys, await producerWith(["9507000", "9507000"])))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs("9507000", outsider.address);
      expect(await c.memberCount()).to.equal(FIXTURE_MEMBERS);
      expect(await c.prefixOwner(prefixKey("9507000"))).to.equal(ethers.ZeroAddress);
    });
  });

  describe("changeRole", function () {
    it("changes the role of a member", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor } = sys;
      await expect(run(sys, act.changeRole(distributor.address, Role.Pharmacy)))
        .to.emit(c, "MemberRoleChanged")
        .withArgs(distributor.address, Role.Distributor, Role.Pharmacy);
      expect((await c.member(distributor.address)).role).to.equal(Role.Pharmacy);
      expect(await c.activeRole(distributor.address)).to.equal(Role.Pharmacy);
      expect(await actorOf(c, distributor.address)).to.deep.equal({ account: distributor.address, role: Role.Pharmacy, index: 3 });
    });

    it("changes the role of a suspended member without reactivating it", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer, regulator } = sys;
      await c.connect(regulator).emergencySuspend(producer.address, REASON);
      await expect(run(sys, act.changeRole(producer.address, Role.Auditor)))
        .to.emit(c, "MemberRoleChanged")
        .withArgs(producer.address, Role.Producer, Role.Auditor);
      expect(await c.activeRole(producer.address)).to.equal(Role.None);
      expect((await c.member(producer.address)).status).to.equal(MemberStatus.Suspended);
    });

    it("leaves a former producer's prefixes registered to it, and it can add no more", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer } = sys;
      await govern(c, sys.governors, act.changeRole(producer.address, Role.Distributor));
      expect(await c.prefixOwner(prefixKey(PREFIX))).to.equal(producer.address);
      await expect(run(sys, act.addPrefix(producer.address, "9507000")))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixNeedsProducer")
        .withArgs(producer.address, Role.Distributor);
    });

    it("refuses the role the member already has, and Role.None", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer } = sys;
      for (const role of [Role.Producer, Role.None]) {
        await expect(run(sys, act.changeRole(producer.address, role)))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidRole")
          .withArgs(role);
      }
    });

    it("refuses a revoked member", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer } = sys;
      await govern(c, sys.governors, act.revoke(producer.address));
      await expect(run(sys, act.changeRole(producer.address, Role.Distributor)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(producer.address, MemberStatus.Revoked);
    });

    it("refuses an unknown account", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider } = sys;
      await expect(run(sys, act.changeRole(outsider.address, Role.Distributor)))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
    });
  });

  describe("member status: suspend, reinstate, revoke", function () {
    it("suspends an active member with `by` = the Consortium", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor } = sys;
      await expect(run(sys, act.suspend(distributor.address)))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, await c.getAddress(), REASON);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Suspended);
      expect(await c.activeRole(distributor.address)).to.equal(Role.None);
      expect(await c.isActiveMember(distributor.address)).to.equal(false);
      expect(await actorOf(c, distributor.address)).to.deep.equal({ account: distributor.address, role: Role.None, index: 3 });
      expect(await participantOf(c, distributor.address)).to.deep.equal({ role: Role.None, index: 3 });
    });

    it("suspends a regulator through governance", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, regulator } = sys;
      await expect(run(sys, act.suspend(regulator.address))).to.emit(c, "MemberSuspended");
      expect(await c.activeRole(regulator.address)).to.equal(Role.None);
    });

    it("reinstates a suspended member", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor } = sys;
      await govern(c, sys.governors, act.suspend(distributor.address));
      await expect(run(sys, act.reinstate(distributor.address)))
        .to.emit(c, "MemberReinstated")
        .withArgs(distributor.address);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Active);
      expect(await c.activeRole(distributor.address)).to.equal(Role.Distributor);
    });

    it("revokes an active member and keeps its record, index and GLN; its key no longer acts", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor } = sys;
      const before = await c.member(distributor.address);
      await expect(run(sys, act.revoke(distributor.address)))
        .to.emit(c, "MemberRevoked")
        .withArgs(distributor.address, REASON);
      const after = await c.member(distributor.address);
      expect(after.status).to.equal(MemberStatus.Revoked);
      expect(after.role).to.equal(before.role);
      expect(after.gln).to.equal(before.gln);
      expect(after.index).to.equal(before.index);
      expect(await c.memberByGln(before.gln)).to.equal(distributor.address);
      expect(await c.accountAt(before.index)).to.equal(distributor.address);
      expect(await c.activeRole(distributor.address)).to.equal(Role.None);
      expect((await actorOf(c, distributor.address)).role).to.equal(Role.None);
    });

    it("revokes a suspended member, and a member whose key was rotated, whose new key stops acting", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, distributor, producer, key1 } = sys;
      await govern(c, sys.governors, act.suspend(distributor.address));
      await expect(run(sys, act.revoke(distributor.address)))
        .to.emit(c, "MemberRevoked")
        .withArgs(distributor.address, REASON);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Revoked);
      await expect(run(sys, act.revoke(producer.address)))
        .to.emit(c, "MemberRevoked")
        .withArgs(producer.address, REASON);
      expect(await actorOf(c, key1.address)).to.deep.equal({ account: producer.address, role: Role.None, index: 1 });
    });

    it("refuses to suspend a member that is not active", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor, distributor2 } = sys;
      await govern(c, sys.governors, act.suspend(distributor.address));
      await expect(run(sys, act.suspend(distributor.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Suspended);
      await govern(c, sys.governors, act.revoke(distributor2.address));
      await expect(run(sys, act.suspend(distributor2.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor2.address, MemberStatus.Revoked);
    });

    it("refuses to reinstate a member that is not suspended", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor, distributor2 } = sys;
      await expect(run(sys, act.reinstate(distributor.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Active);
      await govern(c, sys.governors, act.revoke(distributor2.address));
      await expect(run(sys, act.reinstate(distributor2.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor2.address, MemberStatus.Revoked);
    });

    it("refuses to revoke a revoked member: revocation is final", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor } = sys;
      await govern(c, sys.governors, act.revoke(distributor.address));
      await expect(run(sys, act.revoke(distributor.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Revoked);
    });

    it("refuses each status change for an unknown account", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider } = sys;
      for (const action of [act.suspend(outsider.address), act.reinstate(outsider.address), act.revoke(outsider.address)]) {
        await expect(run(sys, action)).to.be.revertedWithCustomError(c, "ConsortiumUnknownMember").withArgs(outsider.address);
      }
    });
  });

  describe("renewLicence", function () {
    it("records a renewed licence", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, pharmacy } = sys;
      const expiry = (await now()) + 2n * BigInt(ONE_YEAR);
      await expect(run(sys, act.renew(pharmacy.address, NEW_LICENCE, expiry)))
        .to.emit(c, "LicenceRenewed")
        .withArgs(pharmacy.address, NEW_LICENCE, expiry);
      const m = await c.member(pharmacy.address);
      expect(m.licenceHash).to.equal(NEW_LICENCE);
      expect(m.licenceExpiry).to.equal(expiry);
      expect(m.status).to.equal(MemberStatus.Active);
    });

    it("makes a member whose licence expired active again", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, pharmacy } = sys;
      await time.increaseTo((await c.member(pharmacy.address)).licenceExpiry);
      expect(await c.isActiveMember(pharmacy.address)).to.equal(false);
      await expect(run(sys, act.renew(pharmacy.address, NEW_LICENCE, (await now()) + BigInt(ONE_YEAR)))).to.emit(c, "LicenceRenewed");
      expect(await c.isActiveMember(pharmacy.address)).to.equal(true);
      expect(await c.activeRole(pharmacy.address)).to.equal(Role.Pharmacy);
    });

    it("renews the licence of a suspended member, which stays suspended", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, pharmacy, regulator } = sys;
      await c.connect(regulator).emergencySuspend(pharmacy.address, REASON);
      await expect(run(sys, act.renew(pharmacy.address, NEW_LICENCE, (await now()) + BigInt(ONE_YEAR)))).to.emit(c, "LicenceRenewed");
      expect((await c.member(pharmacy.address)).status).to.equal(MemberStatus.Suspended);
      expect(await c.isActiveMember(pharmacy.address)).to.equal(false);
    });

    it("refuses a revoked member", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, pharmacy } = sys;
      await govern(c, sys.governors, act.revoke(pharmacy.address));
      await expect(run(sys, act.renew(pharmacy.address, NEW_LICENCE, (await now()) + BigInt(ONE_YEAR))))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(pharmacy.address, MemberStatus.Revoked);
    });

    it("refuses an unknown account", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider } = sys;
      await expect(run(sys, act.renew(outsider.address, NEW_LICENCE, (await now()) + BigInt(ONE_YEAR))))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
    });

    it("refuses a zero licence hash", async function () {
      const sys = await loadFixture(systemFixture);
      await expect(run(sys, act.renew(sys.pharmacy.address, ethers.ZeroHash, (await now()) + BigInt(ONE_YEAR)))).to.be.revertedWithCustomError(
        sys.consortium,
        "ConsortiumEmptyLicence",
      );
    });

    it("refuses an expiry that is not in the future", async function () {
      const sys = await loadFixture(systemFixture);
      const t = (await now()) + LATER;
      await expect(runAt(sys, act.renew(sys.pharmacy.address, NEW_LICENCE, t), t))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumLicenceExpiryInPast")
        .withArgs(t, t);
    });
  });

  describe("licence expiry", function () {
    it("makes a member inactive exactly at its licence expiry without any transaction, while member() still says Active", async function () {
      const { consortium: c, producer } = await loadFixture(systemFixture);
      const expiry = (await c.member(producer.address)).licenceExpiry;
      await time.increaseTo(expiry - 1n);
      expect(await c.activeRole(producer.address)).to.equal(Role.Producer);
      expect(await c.isActiveMember(producer.address)).to.equal(true);
      expect(await actorOf(c, producer.address)).to.deep.equal({ account: producer.address, role: Role.Producer, index: 1 });
      expect(await participantOf(c, producer.address)).to.deep.equal({ role: Role.Producer, index: 1 });
      await time.increaseTo(expiry);
      expect(await c.activeRole(producer.address)).to.equal(Role.None);
      expect(await c.isActiveMember(producer.address)).to.equal(false);
      expect(await actorOf(c, producer.address)).to.deep.equal({ account: producer.address, role: Role.None, index: 1 });
      expect(await participantOf(c, producer.address)).to.deep.equal({ role: Role.None, index: 1 });
      expect((await c.member(producer.address)).status).to.equal(MemberStatus.Active);
    });

    it("also takes the role from a rotated key at the expiry second", async function () {
      const { consortium: c, producer, key1 } = await loadFixture(rotatedFixture);
      const expiry = (await c.member(producer.address)).licenceExpiry;
      await time.increaseTo(expiry - 1n);
      expect((await actorOf(c, key1.address)).role).to.equal(Role.Producer);
      await time.increaseTo(expiry);
      expect(await actorOf(c, key1.address)).to.deep.equal({ account: producer.address, role: Role.None, index: 1 });
    });

    it("gives Role.None to unknown, suspended and revoked accounts", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider, distributor, distributor2, regulator } = sys;
      await c.connect(regulator).emergencySuspend(distributor.address, REASON);
      await govern(c, sys.governors, act.revoke(distributor2.address));
      for (const a of [outsider.address, distributor.address, distributor2.address]) {
        expect(await c.activeRole(a)).to.equal(Role.None);
        expect(await c.isActiveMember(a)).to.equal(false);
      }
    });
  });

  describe("rotateKey", function () {
    it("gives a member a new key: the account's own address is dead at once and the new key acts for the account", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, pharmacy, key1 } = sys;
      await expect(run(sys, act.rotateKey(pharmacy.address, key1.address)))
        .to.emit(c, "MemberKeyRotated")
        .withArgs(pharmacy.address, pharmacy.address, key1.address);
      expect(await c.keyOf(pharmacy.address)).to.equal(key1.address);
      expect(await c.accountOfKey(key1.address)).to.equal(pharmacy.address);
      expect(await c.accountOfKey(pharmacy.address)).to.equal(ethers.ZeroAddress);
      expect(await actorOf(c, key1.address)).to.deep.equal({ account: pharmacy.address, role: Role.Pharmacy, index: 5 });
      expect(await actorOf(c, pharmacy.address)).to.deep.equal({ account: ethers.ZeroAddress, role: Role.None, index: 0 });
      // The account itself is unchanged: custody records keep reading it.
      expect((await c.member(pharmacy.address)).keyRotated).to.equal(true);
      expect(await participantOf(c, pharmacy.address)).to.deep.equal({ role: Role.Pharmacy, index: 5 });
      expect(await c.activeRole(pharmacy.address)).to.equal(Role.Pharmacy);
      expect(await c.accountAt(5)).to.equal(pharmacy.address);
    });

    it("rotates a second time: the first new key is dead at once too", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, producer, key1, key3 } = sys;
      await expect(run(sys, act.rotateKey(producer.address, key3.address)))
        .to.emit(c, "MemberKeyRotated")
        .withArgs(producer.address, key1.address, key3.address);
      expect(await c.keyOf(producer.address)).to.equal(key3.address);
      expect(await actorOf(c, key1.address)).to.deep.equal({ account: ethers.ZeroAddress, role: Role.None, index: 0 });
      expect(await actorOf(c, producer.address)).to.deep.equal({ account: ethers.ZeroAddress, role: Role.None, index: 0 });
      expect(await actorOf(c, key3.address)).to.deep.equal({ account: producer.address, role: Role.Producer, index: 1 });
    });

    it("retires a rotated-out key for good: no member gets it back as a key or as an account", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, producer, pharmacy, key1, key3 } = sys;
      await run(sys, act.rotateKey(producer.address, key3.address)); // key1 is rotated out
      await expect(run(sys, act.rotateKey(pharmacy.address, key1.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(key1.address);
      await expect(run(sys, act.rotateKey(producer.address, key1.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(key1.address);
      const admission = {
        account: key1.address,
        role: Role.Pharmacy,
        gln: NEW_GLN,
        jurisdiction: DE,
        licenceHash: LICENCE_HASH,
        licenceExpiry: (await now()) + BigInt(ONE_YEAR),
        prefixes: [],
      };
      await expect(run(sys, act.admit(admission)))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(key1.address);
    });

    it("refuses the account's own address after a rotation: the leaked address never signs again", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, producer } = sys;
      await expect(run(sys, act.rotateKey(producer.address, producer.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(producer.address);
    });

    it("refuses the account's current key, its own address included before any rotation", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, producer, pharmacy, key1 } = sys;
      await expect(run(sys, act.rotateKey(producer.address, key1.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(key1.address);
      await expect(run(sys, act.rotateKey(pharmacy.address, pharmacy.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(pharmacy.address);
    });

    it("refuses a key that signs for another member", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, pharmacy, key1 } = sys;
      await expect(run(sys, act.rotateKey(pharmacy.address, key1.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
        .withArgs(key1.address);
    });

    it("refuses another member's account, rotated, revoked or neither", async function () {
      const sys = await loadFixture(rotatedFixture);
      const { consortium: c, pharmacy, producer, distributor, auditor } = sys;
      await govern(c, sys.governors, act.revoke(auditor.address));
      for (const other of [distributor, producer, auditor]) {
        await expect(run(sys, act.rotateKey(pharmacy.address, other.address)))
          .to.be.revertedWithCustomError(c, "ConsortiumKeyInUse")
          .withArgs(other.address);
      }
    });

    it("refuses the zero address", async function () {
      const sys = await loadFixture(systemFixture);
      await expect(run(sys, act.rotateKey(sys.pharmacy.address, ethers.ZeroAddress))).to.be.revertedWithCustomError(
        sys.consortium,
        "ConsortiumZeroAddress",
      );
    });

    it("rotates the key of a suspended member, which stays suspended", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, pharmacy, regulator, key1 } = sys;
      await c.connect(regulator).emergencySuspend(pharmacy.address, REASON);
      await expect(run(sys, act.rotateKey(pharmacy.address, key1.address))).to.emit(c, "MemberKeyRotated");
      expect(await actorOf(c, key1.address)).to.deep.equal({ account: pharmacy.address, role: Role.None, index: 5 });
      expect((await c.member(pharmacy.address)).status).to.equal(MemberStatus.Suspended);
    });

    it("refuses a revoked member and an unknown account", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, pharmacy, outsider, key1 } = sys;
      await govern(c, sys.governors, act.revoke(pharmacy.address));
      await expect(run(sys, act.rotateKey(pharmacy.address, key1.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(pharmacy.address, MemberStatus.Revoked);
      await expect(run(sys, act.rotateKey(outsider.address, key1.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
    });
  });

  describe("company prefixes", function () {
    it("registers a prefix to a producer, found by key and by the GTINs under it", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer } = sys;
      await expect(run(sys, act.addPrefix(producer.address, "9507000")))
        .to.emit(c, "CompanyPrefixAssigned")
        .withArgs(producer.address, prefixKey("9507000"), "9507000");
      expect(await c.prefixOwner(prefixKey("9507000"))).to.equal(producer.address);
      expect(await prefixOf(c, gtin14("0950700000001"))).to.deep.equal({ owner: producer.address, key: prefixKey("9507000") });
      expect(await c.prefixOwner(prefixKey(PREFIX))).to.equal(producer.address); // the admission's prefix stays
    });

    it("accepts prefixes of 6 and of 12 digits, and one with leading zeros", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer2 } = sys;
      for (const p of ["950700", "950800123456", "0614141"]) {
        await expect(run(sys, act.addPrefix(producer2.address, p)))
          .to.emit(c, "CompanyPrefixAssigned")
          .withArgs(producer2.address, prefixKey(p), p);
      }
      expect(prefixKey("0614141")).to.equal((7n << 40n) | 614141n);
      expect(await c.prefixOwner(prefixKey("0614141"))).to.equal(producer2.address);
      expect(await c.prefixOwner(prefixKey("614141"))).to.equal(ethers.ZeroAddress); // digit count is part of the key
    });

    for (const bad of ["", "95070", "9507000000000", "95070A0", "950 700", "950700/", "950700:", "-950700", "9507.00"]) {
      it(`refuses "${bad}" as a prefix (6 to 12 decimal digits), to add or to remove`, async function () {
        const sys = await loadFixture(systemFixture);
        const { consortium: c, producer } = sys;
        await expect(run(sys, act.addPrefix(producer.address, bad)))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidPrefix")
          .withArgs(bad);
        await expect(run(sys, act.removePrefix(bad)))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidPrefix")
          .withArgs(bad);
      });
    }

    it("refuses a member that is not a producer", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, distributor, regulator } = sys;
      for (const [m, role] of [
        [distributor, Role.Distributor],
        [regulator, Role.Regulator],
      ] as const) {
        await expect(run(sys, act.addPrefix(m.address, "9507000")))
          .to.be.revertedWithCustomError(c, "ConsortiumPrefixNeedsProducer")
          .withArgs(m.address, role);
      }
    });

    it("refuses an unknown account and a revoked producer", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, outsider, producer2 } = sys;
      await expect(run(sys, act.addPrefix(outsider.address, "9507000")))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
      await govern(c, sys.governors, act.revoke(producer2.address));
      await expect(run(sys, act.addPrefix(producer2.address, "9507000")))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(producer2.address, MemberStatus.Revoked);
    });

    it("refuses a prefix that is already registered, to another producer or to the same one", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer, producer2 } = sys;
      await expect(run(sys, act.addPrefix(producer2.address, PREFIX)))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs(PREFIX, producer.address);
      await expect(run(sys, act.addPrefix(producer.address, PREFIX)))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs(PREFIX, producer.address);
    });

    it("refuses a prefix that starts with a shorter registered prefix, naming its owner", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer, producer2 } = sys;
      for (const longer of [PREFIX + "1", PREFIX + "12345"]) {
        await expect(run(sys, act.addPrefix(producer2.address, longer)))
          .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
          .withArgs(longer, producer.address);
      }
    });

    it("refuses a prefix that a longer registered prefix starts with, naming no owner", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer2 } = sys;
      const shorter = PREFIX.slice(0, 6); // "950600": both fixture prefixes start with it
      await expect(run(sys, act.addPrefix(producer2.address, shorter)))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs(shorter, ethers.ZeroAddress);
    });

    it("frees both directions when a prefix is removed", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer, producer2 } = sys;
      const longer = PREFIX + "12"; // under PREFIX
      const shorter = PREFIX2.slice(0, 6); // PREFIX2 and PREFIX start with it
      await govern(c, sys.governors, act.removePrefix(PREFIX));
      await expect(run(sys, act.addPrefix(producer2.address, longer)))
        .to.emit(c, "CompanyPrefixAssigned")
        .withArgs(producer2.address, prefixKey(longer), longer);
      // "950600" is still covered by PREFIX2 and by the longer prefix just added.
      await expect(run(sys, act.addPrefix(producer.address, shorter)))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs(shorter, ethers.ZeroAddress);
      await govern(c, sys.governors, act.removePrefix(PREFIX2));
      await expect(run(sys, act.addPrefix(producer.address, shorter)))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs(shorter, ethers.ZeroAddress);
      await govern(c, sys.governors, act.removePrefix(longer));
      await expect(run(sys, act.addPrefix(producer.address, shorter)))
        .to.emit(c, "CompanyPrefixAssigned")
        .withArgs(producer.address, prefixKey(shorter), shorter);
      // And the shorter prefix now blocks what it covers.
      await expect(run(sys, act.addPrefix(producer2.address, PREFIX2)))
        .to.be.revertedWithCustomError(c, "ConsortiumPrefixTaken")
        .withArgs(PREFIX2, producer.address);
    });

    it("unregisters a prefix: its GTINs fall under nobody, its products keep their owner", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, batchToken, producer } = sys;
      await expect(run(sys, act.removePrefix(PREFIX)))
        .to.emit(c, "CompanyPrefixRemoved")
        .withArgs(producer.address, prefixKey(PREFIX), PREFIX);
      expect(await c.prefixOwner(prefixKey(PREFIX))).to.equal(ethers.ZeroAddress);
      expect(await prefixOf(c, GTIN)).to.deep.equal({ owner: ethers.ZeroAddress, key: 0n });
      expect((await batchToken.product(BigInt(GTIN))).owner).to.equal(producer.address);
    });

    it("unregisters a revoked producer's prefix, so another producer can take it", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer, producer2 } = sys;
      await govern(c, sys.governors, act.revoke(producer.address));
      await expect(run(sys, act.removePrefix(PREFIX)))
        .to.emit(c, "CompanyPrefixRemoved")
        .withArgs(producer.address, prefixKey(PREFIX), PREFIX);
      await expect(run(sys, act.addPrefix(producer2.address, PREFIX)))
        .to.emit(c, "CompanyPrefixAssigned")
        .withArgs(producer2.address, prefixKey(PREFIX), PREFIX);
    });

    it("refuses to unregister a prefix nobody holds, also twice", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      await expect(run(sys, act.removePrefix("9507000")))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownPrefix")
        .withArgs("9507000");
      // A prefix that only a longer registered prefix starts with is not registered either.
      await expect(run(sys, act.removePrefix("950600")))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownPrefix")
        .withArgs("950600");
      await govern(c, sys.governors, act.removePrefix(PREFIX));
      await expect(run(sys, act.removePrefix(PREFIX)))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownPrefix")
        .withArgs(PREFIX);
    });

    describe("companyPrefixOf", function () {
      /** The system with prefixes of 6, 8, 7 (leading zero) and 12 digits registered to producer2. */
      async function prefixesFixture() {
        const sys = await systemFixture();
        for (const p of ["950700", "00000950", "0614141", "950800123456"])
          await govern(sys.consortium, sys.governors, act.addPrefix(sys.producer2.address, p));
        return sys;
      }

      it("finds the owner of a GTIN-13 and of GTIN-14s with any indicator digit", async function () {
        const { consortium: c, producer, producer2 } = await loadFixture(prefixesFixture);
        expect(await prefixOf(c, GTIN)).to.deep.equal({ owner: producer.address, key: prefixKey(PREFIX) });
        expect(await prefixOf(c, GTIN2)).to.deep.equal({ owner: producer2.address, key: prefixKey(PREFIX2) });
        for (const indicator of ["1", "5", "8", "9"]) {
          expect(await prefixOf(c, gtin14(indicator + "950600013435")), indicator).to.deep.equal({ owner: producer.address, key: prefixKey(PREFIX) });
        }
      });

      it("finds a GTIN-12 (UPC) padded to 14 digits under a prefix with a leading zero", async function () {
        const { consortium: c, producer2 } = await loadFixture(prefixesFixture);
        const upc = withCheckDigit("61414100003"); // GTIN-12 614141000036
        expect(upc).to.equal("614141000036");
        expect(await prefixOf(c, upc.padStart(14, "0"))).to.deep.equal({ owner: producer2.address, key: prefixKey("0614141") });
      });

      it("finds a GTIN-8 padded to 14 digits under the prefix its padded digits start with", async function () {
        const { consortium: c, producer2 } = await loadFixture(prefixesFixture);
        const gtin8 = withCheckDigit("9501234"); // 95012346
        expect(await prefixOf(c, gtin8.padStart(14, "0"))).to.deep.equal({ owner: producer2.address, key: prefixKey("00000950") });
      });

      it("finds 6-digit and 12-digit prefixes", async function () {
        const { consortium: c, producer2 } = await loadFixture(prefixesFixture);
        expect(await prefixOf(c, gtin14("0950700123456"))).to.deep.equal({ owner: producer2.address, key: prefixKey("950700") });
        expect(await prefixOf(c, gtin14("0950800123456"))).to.deep.equal({ owner: producer2.address, key: prefixKey("950800123456") });
      });

      it("returns zeros for a GTIN under no registered prefix", async function () {
        const { consortium: c } = await loadFixture(prefixesFixture);
        for (const g of [gtin14("0950900000001"), gtin14("0950800123455"), BigInt(withCheckDigit("61414200003").padStart(14, "0"))]) {
          expect(await prefixOf(c, g)).to.deep.equal({ owner: ethers.ZeroAddress, key: 0n });
        }
        expect(await c.prefixOwner(prefixKey("950900"))).to.equal(ethers.ZeroAddress);
      });
    });
  });

  describe("governor set", function () {
    it("adds a governor who can then propose and approve", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors, governor4 } = sys;
      await expect(run(sys, act.addGovernor(governor4.address)))
        .to.emit(c, "GovernorAdded")
        .withArgs(governor4.address);
      expect(await c.isGovernor(governor4.address)).to.equal(true);
      expect(await c.governors()).to.deep.equal([...governors.map((g) => g.address), governor4.address]);
      await govern(c, [governor4, governors[0]], act.setCharter(NEW_CHARTER));
      expect(await c.charterHash()).to.equal(NEW_CHARTER);
    });

    it("refuses to add the zero address or the Consortium itself", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      for (const bad of [ethers.ZeroAddress, await c.getAddress()]) {
        await expect(run(sys, act.addGovernor(bad)))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidGovernor")
          .withArgs(bad);
      }
    });

    it("refuses to add an existing governor", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors } = sys;
      await expect(run(sys, act.addGovernor(governors[1].address)))
        .to.be.revertedWithCustomError(c, "ConsortiumGovernorExists")
        .withArgs(governors[1].address);
    });

    it("refuses a governor beyond MAX_GOVERNORS, but replaces one in a full set", async function () {
      const gov = await loadFixture(fullGovernorSetFixture);
      const { consortium: c } = gov;
      await expect(run(gov, act.addGovernor(filler(100))))
        .to.be.revertedWithCustomError(c, "ConsortiumTooManyGovernors")
        .withArgs(MAX_GOVERNORS);
      await expect(run(gov, act.replaceGovernor(filler(0), filler(100))))
        .to.emit(c, "GovernorAdded")
        .withArgs(filler(100));
      expect(await c.governors()).to.have.lengthOf(MAX_GOVERNORS);
      // Approvals are counted over all 32 governors.
      const id = await proposeApproved(gov, act.setCharter(NEW_CHARTER));
      expect(await c.approvalCount(id)).to.equal(2n);
    });

    it("removes a governor who then can no longer propose", async function () {
      const sys = await loadFixture(fourGovernorsFixture);
      const { consortium: c, governors } = sys;
      await expect(run(sys, act.removeGovernor(governors[2].address)))
        .to.emit(c, "GovernorRemoved")
        .withArgs(governors[2].address);
      expect(await c.isGovernor(governors[2].address)).to.equal(false);
      expect([...(await c.governors())]).to.have.members([governors[0].address, governors[1].address, governors[3].address]);
      await expect(c.connect(governors[2]).propose(await c.getAddress(), act.setCharter(NEW_CHARTER)))
        .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
        .withArgs(governors[2].address);
    });

    it("refuses to remove an account that is not a governor", async function () {
      const sys = await loadFixture(fourGovernorsFixture);
      const { consortium: c, outsider } = sys;
      await expect(run(sys, act.removeGovernor(outsider.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
        .withArgs(outsider.address);
    });

    it("refuses a removal that would leave the threshold above N − 1", async function () {
      const sys = await loadFixture(fourGovernorsFixture);
      const { consortium: c, governors } = sys;
      await govern(c, governors, act.setThreshold(3));
      await expect(run(sys, act.removeGovernor(governors[3].address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidThreshold")
        .withArgs(3, 3);
      expect(await c.isGovernor(governors[3].address)).to.equal(true);
    });

    it("refuses to go below three governors at threshold two", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors } = sys;
      await expect(run(sys, act.removeGovernor(governors[2].address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidThreshold")
        .withArgs(2, 2);
      expect(await c.governors()).to.have.lengthOf(3);
    });

    it("replaces a governor key in one action: count and threshold stay, approvals do not carry over", async function () {
      const sys = await loadFixture(pendingProposalFixture);
      const { consortium: c, governors, governor4, id } = sys;
      const [g1, g2, g3] = governors;
      await c.connect(g2).approve(id);
      const tx = run({ consortium: c, governors: [g1, g3] }, act.replaceGovernor(g2.address, governor4.address));
      await expect(tx).to.emit(c, "GovernorRemoved").withArgs(g2.address);
      await expect(tx).to.emit(c, "GovernorAdded").withArgs(governor4.address);
      expect([...(await c.governors())]).to.have.members([g1.address, g3.address, governor4.address]);
      expect(await c.threshold()).to.equal(2n);
      expect(await c.approvalCount(id)).to.equal(1n);
      expect(await c.hasApproved(id, governor4.address)).to.equal(false);
      await expect(c.connect(g2).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(g2.address);
      await c.connect(governor4).approve(id);
      await expect(c.connect(governor4).execute(id)).to.emit(c, "CharterChanged");
    });

    it("refuses to replace a non-governor, or with an invalid or existing governor", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors, outsider, governor4 } = sys;
      await expect(run(sys, act.replaceGovernor(outsider.address, governor4.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
        .withArgs(outsider.address);
      for (const bad of [ethers.ZeroAddress, await c.getAddress()]) {
        await expect(run(sys, act.replaceGovernor(governors[2].address, bad)))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidGovernor")
          .withArgs(bad);
      }
      await expect(run(sys, act.replaceGovernor(governors[2].address, governors[1].address)))
        .to.be.revertedWithCustomError(c, "ConsortiumGovernorExists")
        .withArgs(governors[1].address);
      expect(await c.isGovernor(governors[2].address)).to.equal(true);
    });

    it("refuses to replace a governor by itself, which would only discard its pending approvals", async function () {
      const sys = await loadFixture(pendingProposalFixture);
      const { consortium: c, governors, id } = sys;
      const [g1, g2, g3] = governors;
      await c.connect(g2).approve(id);
      await expect(run({ consortium: c, governors: [g1, g3] }, act.replaceGovernor(g2.address, g2.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumGovernorExists")
        .withArgs(g2.address);
      expect(await c.hasApproved(id, g2.address)).to.equal(true);
    });
  });

  describe("setThreshold, setCharter, setProposalLifetime", function () {
    it("raises the threshold, after which two approvals are no longer enough", async function () {
      const sys = await loadFixture(fourGovernorsFixture);
      const { consortium: c, governors } = sys;
      await expect(run(sys, act.setThreshold(3)))
        .to.emit(c, "ThresholdChanged")
        .withArgs(2, 3);
      expect(await c.threshold()).to.equal(3n);
      await c.connect(governors[0]).propose(await c.getAddress(), act.setCharter(NEW_CHARTER));
      const id = await c.proposalCount();
      await c.connect(governors[1]).approve(id);
      await expect(c.connect(governors[0]).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals").withArgs(id, 2, 3);
    });

    it("refuses a threshold below two, or of N or more of N governors", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      for (const t of [0, 1, 3, 4]) {
        await expect(run(sys, act.setThreshold(t)))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidThreshold")
          .withArgs(t, 3);
      }
      expect(await c.threshold()).to.equal(2n);
    });

    it("replaces the charter hash", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      await expect(run(sys, act.setCharter(NEW_CHARTER)))
        .to.emit(c, "CharterChanged")
        .withArgs(CHARTER_HASH, NEW_CHARTER);
      expect(await c.charterHash()).to.equal(NEW_CHARTER);
    });

    it("refuses a zero charter hash", async function () {
      const sys = await loadFixture(systemFixture);
      await expect(run(sys, act.setCharter(ethers.ZeroHash))).to.be.revertedWithCustomError(sys.consortium, "ConsortiumEmptyCharter");
    });

    it("sets the proposal lifetime to either bound", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      await expect(run(sys, act.setLifetime(HOUR)))
        .to.emit(c, "ProposalLifetimeChanged")
        .withArgs(DEFAULT_LIFETIME, HOUR);
      await expect(run(sys, act.setLifetime(MAX_LIFETIME)))
        .to.emit(c, "ProposalLifetimeChanged")
        .withArgs(HOUR, MAX_LIFETIME);
      expect(await c.proposalLifetime()).to.equal(MAX_LIFETIME);
    });

    it("refuses a proposal lifetime outside one hour to 90 days", async function () {
      const sys = await loadFixture(systemFixture);
      for (const lifetime of [0n, HOUR - 1n, MAX_LIFETIME + 1n]) {
        await expect(run(sys, act.setLifetime(lifetime)))
          .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidProposalLifetime")
          .withArgs(lifetime);
      }
    });
  });

  describe("governance-only functions", function () {
    it("refuse direct calls from governors, members and outsiders with ConsortiumOnlyGovernance(caller)", async function () {
      const { consortium: c, governors, regulator, outsider } = await loadFixture(systemFixture);
      const to = await c.getAddress();
      for (const caller of [governors[0], regulator, outsider]) {
        for (const { name, data } of allActions(outsider.address)) {
          await expect(caller.sendTransaction({ to, data }), `${name} by ${caller.address}`)
            .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
            .withArgs(caller.address);
        }
      }
    });

    it("refuse direct calls through the typed interface as well", async function () {
      const { consortium: c, governors, outsider } = await loadFixture(systemFixture);
      await expect(c.connect(governors[0]).setThreshold(2))
        .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
        .withArgs(governors[0].address);
      await expect(c.connect(governors[0]).rotateKey(outsider.address, governors[0].address))
        .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
        .withArgs(governors[0].address);
    });
  });

  describe("governors are keys, not members", function () {
    it("need no member record or licence to propose, approve and execute", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors } = sys;
      for (const g of governors) {
        expect((await c.member(g.address)).status).to.equal(MemberStatus.None);
        expect(await c.isActiveMember(g.address)).to.equal(false);
      }
      await expect(run(sys, act.setCharter(NEW_CHARTER))).to.emit(c, "CharterChanged");
    });

    it("keep governing when their membership's licence lapses or the membership is revoked", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors } = sys;
      const g3 = governors[2];
      const expiry = (await now()) + DAY;
      await govern(
        c,
        governors,
        act.admit({
          account: g3.address,
          role: Role.Auditor,
          gln: NEW_GLN,
          jurisdiction: DE,
          licenceHash: LICENCE_HASH,
          licenceExpiry: expiry,
          prefixes: [],
        }),
      );
      await time.increaseTo(expiry);
      expect(await c.isActiveMember(g3.address)).to.equal(false);
      await govern(c, [g3, governors[0]], act.setCharter(NEW_CHARTER));
      await govern(c, [g3, governors[1]], act.revoke(g3.address));
      expect(await c.isGovernor(g3.address)).to.equal(true);
      await expect(run({ consortium: c, governors: [g3, governors[0]] }, act.setCharter(CHARTER_HASH))).to.emit(c, "CharterChanged");
    });
  });

  describe("emergencySuspend", function () {
    it("lets a regulator suspend a member of its own jurisdiction at once, with `by` = the regulator", async function () {
      const { consortium: c, regulator, distributor } = await loadFixture(systemFixture);
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, regulator.address, REASON);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Suspended);
      expect(await c.activeRole(distributor.address)).to.equal(Role.None);
    });

    it("lets the FR regulator suspend an FR member and the DE regulator a DE auditor", async function () {
      const { consortium: c, regulator, foreignRegulator, producer2, auditor } = await loadFixture(systemFixture);
      await expect(c.connect(foreignRegulator).emergencySuspend(producer2.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(producer2.address, foreignRegulator.address, REASON);
      await expect(c.connect(regulator).emergencySuspend(auditor.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(auditor.address, regulator.address, REASON);
    });

    it("works through a rotated regulator key, with `by` = the regulator's account", async function () {
      const { consortium: c, regulator, distributor, key2 } = await loadFixture(rotatedFixture);
      await expect(c.connect(key2).emergencySuspend(distributor.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, regulator.address, REASON);
    });

    it("refuses a member of another jurisdiction", async function () {
      const { consortium: c, regulator, foreignRegulator, producer, producer2 } = await loadFixture(systemFixture);
      await expect(c.connect(regulator).emergencySuspend(producer2.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumJurisdictionMismatch")
        .withArgs(DE, FR);
      await expect(c.connect(foreignRegulator).emergencySuspend(producer.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumJurisdictionMismatch")
        .withArgs(FR, DE);
    });

    it("refuses to suspend a regulator, foreign or itself", async function () {
      const { consortium: c, regulator, foreignRegulator } = await loadFixture(systemFixture);
      for (const target of [foreignRegulator, regulator]) {
        await expect(c.connect(regulator).emergencySuspend(target.address, REASON))
          .to.be.revertedWithCustomError(c, "ConsortiumCannotSuspendRegulator")
          .withArgs(target.address);
      }
    });

    it("refuses callers that are not regulators", async function () {
      const { consortium: c, governors, producer, auditor, outsider, distributor } = await loadFixture(systemFixture);
      for (const caller of [producer, auditor, outsider, governors[0]]) {
        await expect(c.connect(caller).emergencySuspend(distributor.address, REASON))
          .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
          .withArgs(caller.address);
      }
    });

    it("refuses a suspended regulator and one whose role changed", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, regulator, foreignRegulator, distributor, pharmacy2 } = sys;
      await govern(c, sys.governors, act.suspend(regulator.address));
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
        .withArgs(regulator.address);
      await govern(c, sys.governors, act.changeRole(foreignRegulator.address, Role.Auditor));
      await expect(c.connect(foreignRegulator).emergencySuspend(pharmacy2.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
        .withArgs(foreignRegulator.address);
    });

    it("refuses a regulator whose licence has expired", async function () {
      const { consortium: c, regulator, distributor } = await loadFixture(systemFixture);
      await time.increaseTo((await c.member(regulator.address)).licenceExpiry);
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
        .withArgs(regulator.address);
    });

    it("refuses a member that is not active", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, regulator, distributor, distributor2 } = sys;
      await c.connect(regulator).emergencySuspend(distributor.address, REASON);
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Suspended);
      await govern(c, sys.governors, act.revoke(distributor2.address));
      await expect(c.connect(regulator).emergencySuspend(distributor2.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor2.address, MemberStatus.Revoked);
    });

    it("refuses an unknown account", async function () {
      const { consortium: c, regulator, outsider } = await loadFixture(systemFixture);
      await expect(c.connect(regulator).emergencySuspend(outsider.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
    });

    it("cannot be undone by the regulator: reinstatement needs governance", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, regulator, distributor } = sys;
      await c.connect(regulator).emergencySuspend(distributor.address, REASON);
      await expect(c.connect(regulator).reinstateMember(distributor.address))
        .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
        .withArgs(regulator.address);
      await expect(run(sys, act.reinstate(distributor.address)))
        .to.emit(c, "MemberReinstated")
        .withArgs(distributor.address);
      expect(await c.activeRole(distributor.address)).to.equal(Role.Distributor);
    });
  });

  describe("ERC-2771 forwarding", function () {
    it("attributes a forwarded proposal and emergency suspension to the signer, not the relayer", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, forwarder, governors, regulator, distributor, relayer } = sys;
      const target = await c.getAddress();
      const action = act.setCharter(NEW_CHARTER);
      const propose = await signedRequest(forwarder, governors[0], c, I.encodeFunctionData("propose", [target, action]));
      await expect(forwarder.connect(relayer).execute(propose))
        .to.emit(c, "ProposalCreated")
        .withArgs(FIXTURE_PROPOSALS + 1n, governors[0].address, I.getFunction("setCharter").selector, target, action, (v: bigint) => v > 0n);
      expect(await c.hasApproved(FIXTURE_PROPOSALS + 1n, governors[0].address)).to.equal(true);
      const suspend = await signedRequest(forwarder, regulator, c, I.encodeFunctionData("emergencySuspend", [distributor.address, REASON]));
      await expect(forwarder.connect(relayer).execute(suspend))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, regulator.address, REASON);
    });

    it("attributes a forwarded emergency suspension signed by a rotated regulator key to the regulator's account", async function () {
      const { consortium: c, forwarder, regulator, key2, distributor, relayer } = await loadFixture(rotatedFixture);
      const request = await signedRequest(forwarder, key2, c, I.encodeFunctionData("emergencySuspend", [distributor.address, REASON]));
      await expect(forwarder.connect(relayer).execute(request))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, regulator.address, REASON);
    });

    it("never lets a forwarded call pass as governance", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors, forwarder, outsider, relayer } = sys;
      const request = await signedRequest(forwarder, governors[0], c, act.addGovernor(outsider.address));
      await expect(simulateForwardedCall(forwarder, request))
        .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
        .withArgs(governors[0].address);
      await expect(forwarder.connect(relayer).execute(request)).to.be.revertedWithCustomError(forwarder, "FailedCall");
      expect(await c.isGovernor(outsider.address)).to.equal(false);
    });
  });

  describe("views", function () {
    it("numbers members from 1 in admission order, finds them by index and by GLN", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c } = sys;
      const expected = [
        sys.producer,
        sys.producer2,
        sys.distributor,
        sys.distributor2,
        sys.pharmacy,
        sys.pharmacy2,
        sys.regulator,
        sys.foreignRegulator,
        sys.auditor,
      ].map((s) => s.address);
      expect(await c.memberCount()).to.equal(BigInt(expected.length));
      for (let i = 0; i < expected.length; i++) {
        expect(await c.accountAt(i + 1)).to.equal(expected[i]);
        expect((await c.member(expected[i])).index).to.equal(i + 1);
        expect(await c.memberByGln(gln(950600013400 + i))).to.equal(expected[i]);
        expect((await c.member(expected[i])).gln).to.equal(gln(950600013400 + i));
      }
      expect(await c.accountAt(0)).to.equal(ethers.ZeroAddress);
      expect(await c.accountAt(expected.length + 1)).to.equal(ethers.ZeroAddress);
      expect(await c.accountAt(ethers.MaxUint256)).to.equal(ethers.ZeroAddress);
      expect(await c.memberByGln(NEW_GLN)).to.equal(ethers.ZeroAddress);
      expect(await c.memberByGln(0)).to.equal(ethers.ZeroAddress);
    });

    it("returns an all-zero record, no key, no account and no role for a non-member", async function () {
      const { consortium: c, outsider } = await loadFixture(systemFixture);
      const m = await c.member(outsider.address);
      expect([m.role, m.status, m.jurisdiction, m.gln, m.licenceExpiry, m.index, m.keyRotated, m.licenceHash]).to.deep.equal([
        0n,
        0n,
        "0x0000",
        0n,
        0n,
        0n,
        false,
        ethers.ZeroHash,
      ]);
      expect(await c.keyOf(outsider.address)).to.equal(ethers.ZeroAddress);
      expect(await c.accountOfKey(outsider.address)).to.equal(ethers.ZeroAddress);
      expect(await actorOf(c, outsider.address)).to.deep.equal({ account: ethers.ZeroAddress, role: Role.None, index: 0 });
      expect(await participantOf(c, outsider.address)).to.deep.equal({ role: Role.None, index: 0 });
    });

    it("offers no unbounded member list: members() is gone from the ABI", async function () {
      const { consortium: c } = await loadFixture(systemFixture);
      const interfaces: Interface[] = [c.interface, IConsortium__factory.createInterface()];
      for (const iface of interfaces) {
        const functions: string[] = [];
        iface.forEachFunction((f) => functions.push(f.name));
        expect(functions).to.include.members(["accountAt", "memberCount", "member"]);
        expect(functions).to.not.include("members");
        expect(iface.getFunction("members")).to.equal(null);
      }
      expect((c as unknown as Record<string, unknown>).members).to.equal(undefined);
    });

    it("lists the governors and answers isGovernor", async function () {
      const { consortium: c, governors, outsider, regulator } = await loadFixture(systemFixture);
      expect(await c.governors()).to.deep.equal(governors.map((g) => g.address));
      for (const g of governors) expect(await c.isGovernor(g.address)).to.equal(true);
      for (const a of [outsider.address, regulator.address, ethers.ZeroAddress]) expect(await c.isGovernor(a)).to.equal(false);
    });

    it("reports executed fixture proposals and zero for unknown ones", async function () {
      const { consortium: c, governors } = await loadFixture(systemFixture);
      const p = await c.proposal(1n);
      expect(p.proposer).to.equal(governors[0].address);
      expect(p.executed).to.equal(true);
      expect(p.target).to.equal(await c.getAddress());
      expect(I.parseTransaction({ data: p.action })?.name).to.equal("admitMember");
      expect(await c.approvalCount(1n)).to.equal(2n);
      expect(await c.hasApproved(1n, governors[1].address)).to.equal(true);
      expect(await c.hasApproved(1n, governors[2].address)).to.equal(false);

      const unknown = await c.proposal(99n);
      expect([unknown.proposer, unknown.expiresAt, unknown.executed, unknown.cancelled, unknown.target, unknown.action]).to.deep.equal([
        ethers.ZeroAddress,
        0n,
        false,
        false,
        ethers.ZeroAddress,
        "0x",
      ]);
      expect(await c.approvalCount(99n)).to.equal(0n);
      expect(await c.hasApproved(99n, governors[0].address)).to.equal(false);
    });
  });

  describe("security review regressions", function () {
    it("regression (issue 12): governance cannot change its mind — two approvers withdraw, and a third governor's late execution is refused", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors, pharmacy } = sys;
      const [g1, g2, g3] = governors;
      // g1 proposes to revoke a pharmacy and g2 approves; then the evidence turns out to be wrong.
      await c.connect(g1).propose(await c.getAddress(), act.revoke(pharmacy.address));
      const id = await c.proposalCount();
      await c.connect(g2).approve(id);
      expect(await c.approvalCount(id)).to.equal(2n);
      // On the old code nothing could stop it. Now both take their approvals back…
      await expect(c.connect(g1).withdrawApproval(id)).to.emit(c, "ProposalApprovalWithdrawn").withArgs(id, g1.address);
      await expect(c.connect(g2).withdrawApproval(id)).to.emit(c, "ProposalApprovalWithdrawn").withArgs(id, g2.address);
      // …and g3, who never approved, tries days later to execute.
      await time.increase(3n * DAY);
      await expect(c.connect(g3).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals").withArgs(id, 0, 2);
      expect(await c.activeRole(pharmacy.address)).to.equal(Role.Pharmacy);
    });

    it("regression (issue 12): governance cannot change its mind — the proposer cancels, and a third governor's late execution is refused", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors, pharmacy } = sys;
      const [g1, g2, g3] = governors;
      await c.connect(g1).propose(await c.getAddress(), act.revoke(pharmacy.address));
      const id = await c.proposalCount();
      await c.connect(g2).approve(id);
      await expect(c.connect(g1).cancel(id)).to.emit(c, "ProposalCancelled").withArgs(id, g1.address);
      await time.increase(3n * DAY);
      await expect(c.connect(g3).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled").withArgs(id);
      // Even g2's approval standing cannot revive it.
      await expect(c.connect(g3).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumProposalCancelled").withArgs(id);
      expect(await c.proposalState(id)).to.equal(ProposalState.Cancelled);
      expect(await c.activeRole(pharmacy.address)).to.equal(Role.Pharmacy);
    });

    it("regression (issue 12): N-of-N bricks — a threshold equal to the number of governors is refused, at deployment and later", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors } = sys;
      const [deployer] = await ethers.getSigners();
      const factory = new Consortium__factory(deployer);
      await expect(
        deployDirect(
          deployer,
          governors.map((g) => g.address),
          3,
        ),
      )
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(3, 3);
      await expect(run(sys, act.setThreshold(3)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidThreshold")
        .withArgs(3, 3);
    });

    it("regression (issue 12): N-of-N bricks — a governor key that never signs again blocks nothing, and is replaced", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, governors, governor4, outsider } = sys;
      const [g1, g2, lost] = governors;
      // From here on `lost` never signs. The two others still pass proposals…
      await expect(run({ consortium: c, governors: [g1, g2] }, act.setCharter(NEW_CHARTER))).to.emit(c, "CharterChanged");
      // …including the replacement of the lost key.
      await expect(run({ consortium: c, governors: [g2, g1] }, act.replaceGovernor(lost.address, governor4.address)))
        .to.emit(c, "GovernorRemoved")
        .withArgs(lost.address);
      expect([...(await c.governors())]).to.have.members([g1.address, g2.address, governor4.address]);
      // The new key governs with either of the others.
      await expect(run({ consortium: c, governors: [governor4, g1] }, act.addGovernor(outsider.address)))
        .to.emit(c, "GovernorAdded")
        .withArgs(outsider.address);
      await expect(c.connect(lost).propose(await c.getAddress(), act.setCharter(CHARTER_HASH)))
        .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
        .withArgs(lost.address);
    });

    it("regression (issue 12): no key rotation — a compromised member key is rotated; the account keeps GLN, role, jurisdiction, licence and prefixes, and the old key cannot act", async function () {
      const sys = await loadFixture(systemFixture);
      const { consortium: c, producer, regulator, distributor, key1, key2 } = sys;
      const before = await c.member(producer.address);
      // The old workaround, a new account under the same GLN, is refused: the GLN belongs to the account.
      await expect(
        run(
          sys,
          act.admit({
            account: key1.address,
            role: Role.Producer,
            gln: before.gln,
            jurisdiction: DE,
            licenceHash: LICENCE_HASH,
            licenceExpiry: before.licenceExpiry,
            prefixes: [],
          }),
        ),
      )
        .to.be.revertedWithCustomError(c, "ConsortiumGlnTaken")
        .withArgs(before.gln, producer.address);
      // Rotation keeps everything but the key.
      await expect(run(sys, act.rotateKey(producer.address, key1.address)))
        .to.emit(c, "MemberKeyRotated")
        .withArgs(producer.address, producer.address, key1.address);
      const after = await c.member(producer.address);
      expect([after.role, after.status, after.jurisdiction, after.gln, after.licenceHash, after.licenceExpiry, after.index]).to.deep.equal([
        before.role,
        before.status,
        before.jurisdiction,
        before.gln,
        before.licenceHash,
        before.licenceExpiry,
        before.index,
      ]);
      expect(await c.memberByGln(before.gln)).to.equal(producer.address);
      expect(await prefixOf(c, GTIN)).to.deep.equal({ owner: producer.address, key: prefixKey(PREFIX) });
      expect(await c.prefixOwner(prefixKey(PREFIX))).to.equal(producer.address);
      expect(await actorOf(c, key1.address)).to.deep.equal({ account: producer.address, role: Role.Producer, index: 1 });
      // The old key can no longer act.
      expect(await actorOf(c, producer.address)).to.deep.equal({ account: ethers.ZeroAddress, role: Role.None, index: 0 });
      expect(await c.accountOfKey(producer.address)).to.equal(ethers.ZeroAddress);

      // A rotated regulator's old key cannot suspend anyone; its new key can.
      await govern(c, sys.governors, act.rotateKey(regulator.address, key2.address));
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
        .withArgs(regulator.address);
      await expect(c.connect(key2).emergencySuspend(distributor.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, regulator.address, REASON);
    });
  });
});
