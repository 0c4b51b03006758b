import { expect } from "chai";
import { ethers } from "hardhat";
import { loadFixture, time } from "@nomicfoundation/hardhat-network-helpers";
import type { HardhatEthersSigner } from "@nomicfoundation/hardhat-ethers/signers";
import type { Consortium } from "../../typechain-types";
import {
  CHARTER_HASH,
  LICENCE_HASH,
  MemberStatus,
  ONE_YEAR,
  Role,
  deploySystemFixture,
  gln,
  govern,
  type System,
} from "../fixtures/system";
import { FORWARD_REQUEST_TYPES, FORWARDER_NAME, FORWARDER_VERSION } from "../../api/relay/forward-request";
import { withCheckDigit } from "../../api/domain/gs1";

const DE = "0x4445"; // "DE"
const FR = "0x4652"; // "FR"
const HOUR = 3600n;
const DAY = 24n * HOUR;
const DEFAULT_LIFETIME = 7n * DAY; // Ignition module default
const MAX_LIFETIME = 90n * DAY;
const REASON = ethers.id("reason: falsified temperature log");
const NEW_LICENCE = ethers.id("renewed-licence-document");
const NEW_CHARTER = ethers.id("Consortium governance charter v2");
const NEW_GLN = gln(950600013499);

/** Every governance action, with harmless well-formed arguments (for selector and access tests). */
function allActions(c: Consortium, account: string): { name: string; data: string }[] {
  const i = c.interface;
  return [
    { name: "admitMember", data: i.encodeFunctionData("admitMember", [account, Role.Producer, NEW_GLN, DE, LICENCE_HASH, 4_000_000_000n]) },
    { name: "changeRole", data: i.encodeFunctionData("changeRole", [account, Role.Pharmacy]) },
    { name: "suspendMember", data: i.encodeFunctionData("suspendMember", [account, REASON]) },
    { name: "reinstateMember", data: i.encodeFunctionData("reinstateMember", [account]) },
    { name: "revokeMember", data: i.encodeFunctionData("revokeMember", [account, REASON]) },
    { name: "renewLicence", data: i.encodeFunctionData("renewLicence", [account, NEW_LICENCE, 4_000_000_000n]) },
    { name: "addGovernor", data: i.encodeFunctionData("addGovernor", [account]) },
    { name: "removeGovernor", data: i.encodeFunctionData("removeGovernor", [account]) },
    { name: "setThreshold", data: i.encodeFunctionData("setThreshold", [3]) },
    { name: "setCharter", data: i.encodeFunctionData("setCharter", [NEW_CHARTER]) },
    { name: "setProposalLifetime", data: i.encodeFunctionData("setProposalLifetime", [HOUR]) },
  ];
}

async function now(): Promise<bigint> {
  return BigInt(await time.latest());
}

/** Proposes `action` as governors[0] and approves it up to the threshold; returns the proposal id. */
async function proposeApproved(c: Consortium, governors: HardhatEthersSigner[], action: string): Promise<bigint> {
  await (await c.connect(governors[0]).propose(action)).wait();
  const id = await c.proposalCount();
  const threshold = await c.threshold();
  for (let i = 1; i < Number(threshold); i++) await (await c.connect(governors[i]).approve(id)).wait();
  return id;
}

/** Proposes, approves and executes `action`; resolves to the execute transaction (or rejects with its revert). */
async function run(sys: System, action: string) {
  const id = await proposeApproved(sys.consortium, sys.governors, action);
  return sys.consortium.connect(sys.governors[0]).execute(id);
}

/** Executes `action` in a block mined at exactly `timestamp`. */
async function runAt(sys: System, action: string, timestamp: bigint) {
  const id = await proposeApproved(sys.consortium, sys.governors, action);
  await time.setNextBlockTimestamp(timestamp);
  return sys.consortium.connect(sys.governors[0]).execute(id);
}

describe("Consortium", function () {
  describe("deployment", function () {
    async function deployDirect(governors: string[], threshold: bigint | number, charter: string, lifetime: bigint | number) {
      const factory = await ethers.getContractFactory("Consortium");
      return factory.deploy(ethers.ZeroAddress, governors, threshold, charter, lifetime);
    }

    async function signers() {
      const [, g1, g2, g3] = await ethers.getSigners();
      return [g1.address, g2.address, g3.address];
    }

    it("emits GovernorAdded for each governor and the initial threshold, charter and lifetime", async function () {
      const gs = await signers();
      const c = await deployDirect(gs, 2, CHARTER_HASH, DAY);
      const tx = c.deploymentTransaction();
      await expect(tx).to.emit(c, "GovernorAdded").withArgs(gs[0]);
      await expect(tx).to.emit(c, "GovernorAdded").withArgs(gs[1]);
      await expect(tx).to.emit(c, "GovernorAdded").withArgs(gs[2]);
      await expect(tx).to.emit(c, "ThresholdChanged").withArgs(0, 2);
      await expect(tx).to.emit(c, "CharterChanged").withArgs(ethers.ZeroHash, CHARTER_HASH);
      await expect(tx).to.emit(c, "ProposalLifetimeChanged").withArgs(0, DAY);
      expect(await c.governors()).to.deep.equal(gs);
      expect(await c.threshold()).to.equal(2n);
      expect(await c.charterHash()).to.equal(CHARTER_HASH);
      expect(await c.proposalLifetime()).to.equal(DAY);
      expect(await c.proposalCount()).to.equal(0n);
      expect(await c.members()).to.deep.equal([]);
      expect(await c.MIN_THRESHOLD()).to.equal(2n);
    });

    it("exposes the state of the Ignition deployment", async function () {
      const { consortium, governors, forwarder } = await loadFixture(deploySystemFixture);
      expect(await consortium.governors()).to.deep.equal(governors.map((g) => g.address));
      expect(await consortium.threshold()).to.equal(2n);
      expect(await consortium.charterHash()).to.equal(CHARTER_HASH);
      expect(await consortium.proposalLifetime()).to.equal(DEFAULT_LIFETIME);
      expect(await consortium.proposalCount()).to.equal(9n); // one admission per fixture member
      expect(await consortium.isTrustedForwarder(await forwarder.getAddress())).to.equal(true);
      expect(await consortium.trustedForwarder()).to.equal(await forwarder.getAddress());
    });

    it("accepts a threshold equal to the number of governors and both lifetime bounds", async function () {
      const gs = await signers();
      const c1 = await deployDirect(gs, 3, CHARTER_HASH, HOUR);
      expect(await c1.threshold()).to.equal(3n);
      expect(await c1.proposalLifetime()).to.equal(HOUR);
      const c2 = await deployDirect(gs.slice(0, 2), 2, CHARTER_HASH, MAX_LIFETIME);
      expect(await c2.proposalLifetime()).to.equal(MAX_LIFETIME);
    });

    it("rejects a duplicate governor", async function () {
      const gs = await signers();
      const factory = await ethers.getContractFactory("Consortium");
      await expect(deployDirect([gs[0], gs[1], gs[0]], 2, CHARTER_HASH, DAY))
        .to.be.revertedWithCustomError(factory, "ConsortiumGovernorExists")
        .withArgs(gs[0]);
    });

    it("rejects the zero address as governor", async function () {
      const gs = await signers();
      const factory = await ethers.getContractFactory("Consortium");
      await expect(deployDirect([gs[0], ethers.ZeroAddress, gs[1]], 2, CHARTER_HASH, DAY)).to.be.revertedWithCustomError(
        factory,
        "ConsortiumZeroAddress",
      );
    });

    it("rejects a threshold below two", async function () {
      const gs = await signers();
      const factory = await ethers.getContractFactory("Consortium");
      await expect(deployDirect(gs, 1, CHARTER_HASH, DAY))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(1, 3);
      await expect(deployDirect(gs, 0, CHARTER_HASH, DAY))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(0, 3);
    });

    it("rejects a threshold above the number of governors", async function () {
      const gs = await signers();
      const factory = await ethers.getContractFactory("Consortium");
      await expect(deployDirect(gs, 4, CHARTER_HASH, DAY))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(4, 3);
      await expect(deployDirect([], 2, CHARTER_HASH, DAY))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidThreshold")
        .withArgs(2, 0);
    });

    it("rejects a zero charter hash", async function () {
      const gs = await signers();
      const factory = await ethers.getContractFactory("Consortium");
      await expect(deployDirect(gs, 2, ethers.ZeroHash, DAY)).to.be.revertedWithCustomError(factory, "ConsortiumEmptyCharter");
    });

    it("rejects a proposal lifetime below one hour or above 90 days", async function () {
      const gs = await signers();
      const factory = await ethers.getContractFactory("Consortium");
      await expect(deployDirect(gs, 2, CHARTER_HASH, HOUR - 1n))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidProposalLifetime")
        .withArgs(HOUR - 1n);
      await expect(deployDirect(gs, 2, CHARTER_HASH, 0))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidProposalLifetime")
        .withArgs(0);
      await expect(deployDirect(gs, 2, CHARTER_HASH, MAX_LIFETIME + 1n))
        .to.be.revertedWithCustomError(factory, "ConsortiumInvalidProposalLifetime")
        .withArgs(MAX_LIFETIME + 1n);
    });
  });

  describe("governance process", function () {
    /** The system with one pending setCharter proposal by governors[0]. */
    async function pendingProposalFixture() {
      const sys = await deploySystemFixture();
      const action = sys.consortium.interface.encodeFunctionData("setCharter", [NEW_CHARTER]);
      await (await sys.consortium.connect(sys.governors[0]).propose(action)).wait();
      const id = await sys.consortium.proposalCount();
      const { expiresAt } = await sys.consortium.proposal(id);
      return { ...sys, action, id, expiresAt };
    }

    describe("propose", function () {
      it("creates a proposal that carries the selector and action bytes and counts the proposer's approval", async function () {
        const { consortium: c, governors } = await loadFixture(deploySystemFixture);
        const action = c.interface.encodeFunctionData("setCharter", [NEW_CHARTER]);
        const selector = c.interface.getFunction("setCharter").selector;
        const t = (await now()) + 10n;
        await time.setNextBlockTimestamp(t);
        const tx = c.connect(governors[1]).propose(action);
        await expect(tx)
          .to.emit(c, "ProposalCreated")
          .withArgs(10n, governors[1].address, selector, action, t + DEFAULT_LIFETIME);
        await expect(tx).to.emit(c, "ProposalApproved").withArgs(10n, governors[1].address);
        expect(await c.proposalCount()).to.equal(10n);
        const p = await c.proposal(10n);
        expect(p.proposer).to.equal(governors[1].address);
        expect(p.expiresAt).to.equal(t + DEFAULT_LIFETIME);
        expect(p.executed).to.equal(false);
        expect(p.action).to.equal(action);
        expect(await c.approvalCount(10n)).to.equal(1n);
        expect(await c.hasApproved(10n, governors[1].address)).to.equal(true);
        expect(await c.hasApproved(10n, governors[0].address)).to.equal(false);
      });

      it("returns the new proposal id", async function () {
        const { consortium: c, governors } = await loadFixture(deploySystemFixture);
        const action = c.interface.encodeFunctionData("setCharter", [NEW_CHARTER]);
        expect(await c.connect(governors[0]).propose.staticCall(action)).to.equal(10n);
      });

      it("accepts every governance function", async function () {
        const { consortium: c, governors, outsider } = await loadFixture(deploySystemFixture);
        const actions = allActions(c, outsider.address);
        for (const { name, data } of actions) {
          await expect(c.connect(governors[2]).propose(data), name).to.emit(c, "ProposalCreated");
        }
        expect(await c.proposalCount()).to.equal(9n + BigInt(actions.length));
      });

      it("refuses a proposal from a non-governor, member or not", async function () {
        const { consortium: c, outsider, regulator } = await loadFixture(deploySystemFixture);
        const action = c.interface.encodeFunctionData("setCharter", [NEW_CHARTER]);
        await expect(c.connect(outsider).propose(action))
          .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
          .withArgs(outsider.address);
        await expect(c.connect(regulator).propose(action))
          .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
          .withArgs(regulator.address);
      });

      it("refuses an action with an unknown selector", async function () {
        const { consortium: c, governors } = await loadFixture(deploySystemFixture);
        await expect(c.connect(governors[0]).propose("0xdeadbeef"))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0xdeadbeef");
        await expect(c.connect(governors[0]).propose("0xdeadbeef" + "00".repeat(32)))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0xdeadbeef");
      });

      it("refuses an empty action and one shorter than a selector with the zero selector", async function () {
        const { consortium: c, governors } = await loadFixture(deploySystemFixture);
        await expect(c.connect(governors[0]).propose("0x"))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0x00000000");
        // The first three bytes of a real governance selector are not enough.
        const truncated = c.interface.getFunction("setCharter").selector.slice(0, 8);
        await expect(c.connect(governors[0]).propose(truncated))
          .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
          .withArgs("0x00000000");
      });

      it("refuses view functions, process functions and the emergency power as actions", async function () {
        const { consortium: c, governors } = await loadFixture(deploySystemFixture);
        for (const name of ["threshold", "member", "propose", "approve", "execute", "emergencySuspend"] as const) {
          const selector = c.interface.getFunction(name).selector;
          await expect(c.connect(governors[0]).propose(selector + "00".repeat(64)), name)
            .to.be.revertedWithCustomError(c, "ConsortiumUnsupportedAction")
            .withArgs(selector);
        }
      });

      it("opens new proposals for the current proposal lifetime and leaves older ones unchanged", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors } = sys;
        await run(sys, c.interface.encodeFunctionData("setProposalLifetime", [HOUR]));
        expect((await c.proposal(sys.id)).expiresAt).to.equal(sys.expiresAt);
        const t = (await now()) + 5n;
        await time.setNextBlockTimestamp(t);
        await c.connect(governors[0]).propose(sys.action);
        expect((await c.proposal(await c.proposalCount())).expiresAt).to.equal(t + HOUR);
      });
    });

    describe("approve", function () {
      it("records the approval of another governor", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[2]).approve(id))
          .to.emit(c, "ProposalApproved")
          .withArgs(id, governors[2].address);
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
        await expect(c.connect(outsider).approve(id))
          .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
          .withArgs(outsider.address);
      });

      it("refuses an unknown proposal id", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[1]).approve(0))
          .to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal")
          .withArgs(0);
        await expect(c.connect(governors[1]).approve(id + 1n))
          .to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal")
          .withArgs(id + 1n);
      });

      it("is possible until one second before expiry", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await time.setNextBlockTimestamp(expiresAt - 1n);
        await expect(c.connect(governors[1]).approve(id)).to.emit(c, "ProposalApproved");
      });

      it("refuses an expired proposal from its expiry second on", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await time.setNextBlockTimestamp(expiresAt);
        await expect(c.connect(governors[1]).approve(id))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalExpired")
          .withArgs(id, expiresAt);
        await time.increase(DEFAULT_LIFETIME);
        await expect(c.connect(governors[2]).approve(id))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalExpired")
          .withArgs(id, expiresAt);
      });

      it("refuses an executed proposal", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await c.connect(governors[1]).execute(id);
        await expect(c.connect(governors[2]).approve(id))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted")
          .withArgs(id);
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
      });

      it("refuses a proposal with fewer approvals than the threshold", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[0]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals")
          .withArgs(id, 1, 2);
      });

      it("refuses a non-governor executor", async function () {
        const { consortium: c, governors, outsider, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await expect(c.connect(outsider).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
          .withArgs(outsider.address);
      });

      it("refuses an unknown proposal id", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await expect(c.connect(governors[0]).execute(id + 1n))
          .to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal")
          .withArgs(id + 1n);
        await expect(c.connect(governors[0]).execute(0))
          .to.be.revertedWithCustomError(c, "ConsortiumUnknownProposal")
          .withArgs(0);
      });

      it("refuses to execute a proposal twice", async function () {
        const { consortium: c, governors, id } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await c.connect(governors[0]).execute(id);
        await expect(c.connect(governors[1]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalAlreadyExecuted")
          .withArgs(id);
      });

      it("refuses an approved proposal once it has expired", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await time.increase(DEFAULT_LIFETIME + 1n);
        await expect(c.connect(governors[0]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalExpired")
          .withArgs(id, expiresAt);
      });

      it("refuses an approved proposal from exactly its expiry second", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await time.setNextBlockTimestamp(expiresAt);
        await expect(c.connect(governors[0]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumProposalExpired")
          .withArgs(id, expiresAt);
      });

      it("executes one second before expiry", async function () {
        const { consortium: c, governors, id, expiresAt } = await loadFixture(pendingProposalFixture);
        await c.connect(governors[1]).approve(id);
        await time.setNextBlockTimestamp(expiresAt - 1n);
        await expect(c.connect(governors[0]).execute(id)).to.emit(c, "ProposalExecuted");
      });

      it("no longer counts the approval of a governor removed after approving", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors, id } = sys;
        const [g1, g2, g3] = governors;
        await c.connect(g2).approve(id);
        expect(await c.approvalCount(id)).to.equal(2n);
        await govern(c, [g1, g3], c.interface.encodeFunctionData("removeGovernor", [g2.address]));
        expect(await c.approvalCount(id)).to.equal(1n);
        expect(await c.hasApproved(id, g2.address)).to.equal(false);
        await expect(c.connect(g1).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals")
          .withArgs(id, 1, 2);
        await expect(c.connect(g2).execute(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(g2.address);
        await expect(c.connect(g2).approve(id)).to.be.revertedWithCustomError(c, "ConsortiumNotGovernor").withArgs(g2.address);
        await c.connect(g3).approve(id);
        await expect(c.connect(g3).execute(id)).to.emit(c, "ProposalExecuted").withArgs(id, g3.address);
      });

      it("refuses the consortium contract itself as a governor", async function () {
        const sys = await loadFixture(deploySystemFixture);
        const { consortium: c, governors } = sys;
        const self = await c.getAddress();
        await c.connect(governors[0]).propose(c.interface.encodeFunctionData("addGovernor", [self]));
        const id = await c.proposalCount();
        await c.connect(governors[1]).approve(id);
        await expect(c.connect(governors[0]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidGovernor")
          .withArgs(self);
      });

      it("does not revive the approval of a governor who was removed and added again", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors, id } = sys;
        const [g1, g2, g3] = governors;
        await c.connect(g2).approve(id);
        await govern(c, [g1, g3], c.interface.encodeFunctionData("removeGovernor", [g2.address]));
        await govern(c, [g1, g3], c.interface.encodeFunctionData("addGovernor", [g2.address]));
        expect(await c.approvalCount(id)).to.equal(1n);
        expect(await c.hasApproved(id, g2.address)).to.equal(false);
        await expect(c.connect(g1).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals")
          .withArgs(id, 1, 2);
        await c.connect(g2).approve(id);
        await expect(c.connect(g1).execute(id)).to.emit(c, "ProposalExecuted");
      });

      it("measures approvals against the threshold at execution time", async function () {
        const sys = await loadFixture(pendingProposalFixture);
        const { consortium: c, governors, id } = sys;
        await c.connect(governors[1]).approve(id);
        await govern(c, governors, c.interface.encodeFunctionData("setThreshold", [3]));
        await expect(c.connect(governors[0]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals")
          .withArgs(id, 2, 3);
        await c.connect(governors[2]).approve(id);
        await expect(c.connect(governors[0]).execute(id)).to.emit(c, "CharterChanged");
      });

      it("reverts with the action's error when the action reverts, and the proposal stays executable", async function () {
        const sys = await loadFixture(deploySystemFixture);
        const { consortium: c, governors, regulator, producer } = sys;
        // Reinstating an active member fails until the member has been suspended.
        const id = await proposeApproved(c, governors, c.interface.encodeFunctionData("reinstateMember", [producer.address]));
        await expect(c.connect(governors[0]).execute(id))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
          .withArgs(producer.address, MemberStatus.Active);
        const p = await c.proposal(id);
        expect(p.executed).to.equal(false);
        expect(await c.approvalCount(id)).to.equal(2n);

        await c.connect(regulator).emergencySuspend(producer.address, REASON);
        await expect(c.connect(governors[1]).execute(id))
          .to.emit(c, "MemberReinstated")
          .withArgs(producer.address);
        expect((await c.proposal(id)).executed).to.equal(true);
        expect(await c.activeRole(producer.address)).to.equal(Role.Producer);
      });

      it("reverts with FailedCall when the action bytes cannot be decoded", async function () {
        const sys = await loadFixture(deploySystemFixture);
        const { consortium: c } = sys;
        // A governance selector followed by too few argument bytes: the self-call reverts without data.
        const selector = c.interface.getFunction("setCharter").selector;
        await expect(run(sys, selector)).to.be.revertedWithCustomError(c, "FailedCall");
      });
    });
  });

  describe("admitMember", function () {
    async function admission(sys: System, overrides: Partial<{ account: string; role: number; gln: bigint; jurisdiction: string; licenceHash: string; licenceExpiry: bigint }> = {}) {
      const p = {
        account: sys.outsider.address,
        role: Role.Pharmacy,
        gln: NEW_GLN,
        jurisdiction: DE,
        licenceHash: LICENCE_HASH,
        licenceExpiry: (await now()) + BigInt(ONE_YEAR),
        ...overrides,
      };
      return {
        p,
        action: sys.consortium.interface.encodeFunctionData("admitMember", [p.account, p.role, p.gln, p.jurisdiction, p.licenceHash, p.licenceExpiry]),
      };
    }

    it("admits an active member with its record, GLN index and list entry", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, outsider } = sys;
      const { p, action } = await admission(sys, { jurisdiction: FR });
      await expect(run(sys, action))
        .to.emit(c, "MemberAdmitted")
        .withArgs(outsider.address, Role.Pharmacy, NEW_GLN, FR, LICENCE_HASH, p.licenceExpiry);
      const m = await c.member(outsider.address);
      expect(m.role).to.equal(Role.Pharmacy);
      expect(m.status).to.equal(MemberStatus.Active);
      expect(m.jurisdiction).to.equal(FR);
      expect(m.gln).to.equal(NEW_GLN);
      expect(m.licenceExpiry).to.equal(p.licenceExpiry);
      expect(m.licenceHash).to.equal(LICENCE_HASH);
      expect(await c.memberByGln(NEW_GLN)).to.equal(outsider.address);
      expect((await c.members()).at(-1)).to.equal(outsider.address);
      expect(await c.members()).to.have.lengthOf(10);
      expect(await c.activeRole(outsider.address)).to.equal(Role.Pharmacy);
      expect(await c.isActiveMember(outsider.address)).to.equal(true);
    });

    it("accepts every role other than None", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c } = sys;
      const wallets = Array.from({ length: 5 }, () => ethers.Wallet.createRandom());
      for (let role = Role.Producer; role <= Role.Auditor; role++) {
        const { action } = await admission(sys, { account: wallets[role - 1].address, role, gln: gln(950600013500 + role) });
        await (await run(sys, action)).wait();
        expect(await c.activeRole(wallets[role - 1].address)).to.equal(role);
      }
    });

    it("accepts GLNs with leading zeros and the largest 13-digit GLN", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c } = sys;
      const small = BigInt(withCheckDigit("000000000001")); // 0000000000017
      const largest = BigInt(withCheckDigit("999999999999"));
      expect(small).to.equal(17n);
      const a = ethers.Wallet.createRandom().address;
      const b = ethers.Wallet.createRandom().address;
      await (await run(sys, (await admission(sys, { account: a, gln: small })).action)).wait();
      await (await run(sys, (await admission(sys, { account: b, gln: largest })).action)).wait();
      expect(await c.memberByGln(small)).to.equal(a);
      expect(await c.memberByGln(largest)).to.equal(b);
    });

    it("refuses the zero address", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { action } = await admission(sys, { account: ethers.ZeroAddress });
      await expect(run(sys, action)).to.be.revertedWithCustomError(sys.consortium, "ConsortiumZeroAddress");
    });

    it("refuses an account that already has a member record, revoked ones included", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, producer } = sys;
      await expect(run(sys, (await admission(sys, { account: producer.address })).action))
        .to.be.revertedWithCustomError(c, "ConsortiumMemberExists")
        .withArgs(producer.address);
      await govern(c, sys.governors, c.interface.encodeFunctionData("revokeMember", [producer.address, REASON]));
      await expect(run(sys, (await admission(sys, { account: producer.address })).action))
        .to.be.revertedWithCustomError(c, "ConsortiumMemberExists")
        .withArgs(producer.address);
    });

    it("refuses Role.None", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { action } = await admission(sys, { role: Role.None });
      await expect(run(sys, action)).to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidRole").withArgs(Role.None);
    });

    it("refuses a GLN with a wrong check digit", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const bad = NEW_GLN % 10n === 9n ? NEW_GLN - 1n : NEW_GLN + 1n;
      const { action } = await admission(sys, { gln: bad });
      await expect(run(sys, action)).to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidGln").withArgs(bad);
    });

    it("refuses a GLN of 10^13 or more even with a valid check digit", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const fourteenDigits = BigInt(withCheckDigit("9506000134000")); // a valid GTIN-14, not a GLN
      expect(fourteenDigits >= 10n ** 13n).to.equal(true);
      await expect(run(sys, (await admission(sys, { gln: fourteenDigits })).action))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidGln")
        .withArgs(fourteenDigits);
      const limit = 10n ** 13n;
      await expect(run(sys, (await admission(sys, { gln: limit })).action))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidGln")
        .withArgs(limit);
    });

    it("refuses GLN zero", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { action } = await admission(sys, { gln: 0n });
      await expect(run(sys, action)).to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidGln").withArgs(0);
    });

    it("refuses a GLN held by another member, also after that member's revocation", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, producer } = sys;
      const taken = (await c.member(producer.address)).gln;
      await expect(run(sys, (await admission(sys, { gln: taken })).action))
        .to.be.revertedWithCustomError(c, "ConsortiumGlnTaken")
        .withArgs(taken, producer.address);
      await govern(c, sys.governors, c.interface.encodeFunctionData("revokeMember", [producer.address, REASON]));
      await expect(run(sys, (await admission(sys, { gln: taken })).action))
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
        const sys = await loadFixture(deploySystemFixture);
        const { action } = await admission(sys, { jurisdiction: code });
        await expect(run(sys, action))
          .to.be.revertedWithCustomError(sys.consortium, "ConsortiumInvalidJurisdiction")
          .withArgs(code);
      });
    }

    it("accepts the jurisdiction bounds AA and ZZ", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const a = ethers.Wallet.createRandom().address;
      const z = ethers.Wallet.createRandom().address;
      await (await run(sys, (await admission(sys, { account: a, jurisdiction: "0x4141" })).action)).wait();
      await (await run(sys, (await admission(sys, { account: z, gln: gln(950600013510), jurisdiction: "0x5a5a" })).action)).wait();
      expect((await sys.consortium.member(a)).jurisdiction).to.equal("0x4141");
      expect((await sys.consortium.member(z)).jurisdiction).to.equal("0x5a5a");
    });

    it("refuses a zero licence hash", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { action } = await admission(sys, { licenceHash: ethers.ZeroHash });
      await expect(run(sys, action)).to.be.revertedWithCustomError(sys.consortium, "ConsortiumEmptyLicence");
    });

    it("refuses a licence expiry in the past or at the current second", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const past = (await now()) - 1n;
      const t1 = (await now()) + 100n;
      await expect(runAt(sys, (await admission(sys, { licenceExpiry: past })).action, t1))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumLicenceExpiryInPast")
        .withArgs(past, t1);
      const t2 = t1 + 100n;
      await expect(runAt(sys, (await admission(sys, { licenceExpiry: t2 })).action, t2))
        .to.be.revertedWithCustomError(sys.consortium, "ConsortiumLicenceExpiryInPast")
        .withArgs(t2, t2);
    });

    it("accepts a licence expiring one second after admission", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const t = (await now()) + 100n;
      const { action } = await admission(sys, { licenceExpiry: t + 1n });
      await expect(runAt(sys, action, t)).to.emit(sys.consortium, "MemberAdmitted");
      expect(await sys.consortium.isActiveMember(sys.outsider.address)).to.equal(true);
      await time.increase(1);
      expect(await sys.consortium.isActiveMember(sys.outsider.address)).to.equal(false);
    });
  });

  describe("changeRole", function () {
    const changeRole = (c: Consortium, account: string, role: number) => c.interface.encodeFunctionData("changeRole", [account, role]);

    it("changes the role of a member", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, producer } = sys;
      await expect(run(sys, changeRole(c, producer.address, Role.Distributor)))
        .to.emit(c, "MemberRoleChanged")
        .withArgs(producer.address, Role.Producer, Role.Distributor);
      expect((await c.member(producer.address)).role).to.equal(Role.Distributor);
      expect(await c.activeRole(producer.address)).to.equal(Role.Distributor);
    });

    it("changes the role of a suspended member without reactivating it", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, producer, regulator } = sys;
      await c.connect(regulator).emergencySuspend(producer.address, REASON);
      await expect(run(sys, changeRole(c, producer.address, Role.Auditor)))
        .to.emit(c, "MemberRoleChanged")
        .withArgs(producer.address, Role.Producer, Role.Auditor);
      expect(await c.activeRole(producer.address)).to.equal(Role.None);
      expect((await c.member(producer.address)).status).to.equal(MemberStatus.Suspended);
    });

    it("refuses the role the member already has", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, producer } = sys;
      await expect(run(sys, changeRole(c, producer.address, Role.Producer)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidRole")
        .withArgs(Role.Producer);
    });

    it("refuses Role.None", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, producer } = sys;
      await expect(run(sys, changeRole(c, producer.address, Role.None)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidRole")
        .withArgs(Role.None);
    });

    it("refuses a revoked member", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, producer } = sys;
      await govern(c, sys.governors, c.interface.encodeFunctionData("revokeMember", [producer.address, REASON]));
      await expect(run(sys, changeRole(c, producer.address, Role.Distributor)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(producer.address, MemberStatus.Revoked);
    });

    it("refuses an unknown account", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, outsider } = sys;
      await expect(run(sys, changeRole(c, outsider.address, Role.Distributor)))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
    });
  });

  describe("member status: suspend, reinstate, revoke", function () {
    const suspend = (c: Consortium, a: string) => c.interface.encodeFunctionData("suspendMember", [a, REASON]);
    const reinstate = (c: Consortium, a: string) => c.interface.encodeFunctionData("reinstateMember", [a]);
    const revoke = (c: Consortium, a: string) => c.interface.encodeFunctionData("revokeMember", [a, REASON]);

    it("suspends an active member with `by` = the consortium", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, distributor } = sys;
      await expect(run(sys, suspend(c, distributor.address)))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, await c.getAddress(), REASON);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Suspended);
      expect(await c.activeRole(distributor.address)).to.equal(Role.None);
      expect(await c.isActiveMember(distributor.address)).to.equal(false);
    });

    it("suspends a regulator through governance", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, regulator } = sys;
      await expect(run(sys, suspend(c, regulator.address))).to.emit(c, "MemberSuspended");
      expect(await c.activeRole(regulator.address)).to.equal(Role.None);
    });

    it("reinstates a suspended member", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, distributor } = sys;
      await govern(c, sys.governors, suspend(c, distributor.address));
      await expect(run(sys, reinstate(c, distributor.address))).to.emit(c, "MemberReinstated").withArgs(distributor.address);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Active);
      expect(await c.activeRole(distributor.address)).to.equal(Role.Distributor);
    });

    it("revokes an active member and keeps its record, list entry and GLN", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, distributor } = sys;
      const before = await c.member(distributor.address);
      await expect(run(sys, revoke(c, distributor.address))).to.emit(c, "MemberRevoked").withArgs(distributor.address, REASON);
      const after = await c.member(distributor.address);
      expect(after.status).to.equal(MemberStatus.Revoked);
      expect(after.role).to.equal(before.role);
      expect(after.gln).to.equal(before.gln);
      expect(await c.memberByGln(before.gln)).to.equal(distributor.address);
      expect(await c.members()).to.include(distributor.address);
      expect(await c.activeRole(distributor.address)).to.equal(Role.None);
    });

    it("revokes a suspended member", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, distributor } = sys;
      await govern(c, sys.governors, suspend(c, distributor.address));
      await expect(run(sys, revoke(c, distributor.address))).to.emit(c, "MemberRevoked").withArgs(distributor.address, REASON);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Revoked);
    });

    it("refuses to suspend a member that is not active", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, distributor, distributor2 } = sys;
      await govern(c, sys.governors, suspend(c, distributor.address));
      await expect(run(sys, suspend(c, distributor.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Suspended);
      await govern(c, sys.governors, revoke(c, distributor2.address));
      await expect(run(sys, suspend(c, distributor2.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor2.address, MemberStatus.Revoked);
    });

    it("refuses to reinstate a member that is not suspended", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, distributor, distributor2 } = sys;
      await expect(run(sys, reinstate(c, distributor.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Active);
      await govern(c, sys.governors, revoke(c, distributor2.address));
      await expect(run(sys, reinstate(c, distributor2.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor2.address, MemberStatus.Revoked);
    });

    it("refuses to revoke a revoked member: revocation is final", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, distributor } = sys;
      await govern(c, sys.governors, revoke(c, distributor.address));
      await expect(run(sys, revoke(c, distributor.address)))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Revoked);
    });

    it("refuses each status change for an unknown account", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, outsider } = sys;
      for (const action of [suspend(c, outsider.address), reinstate(c, outsider.address), revoke(c, outsider.address)]) {
        await expect(run(sys, action)).to.be.revertedWithCustomError(c, "ConsortiumUnknownMember").withArgs(outsider.address);
      }
    });
  });

  describe("renewLicence", function () {
    const renew = (c: Consortium, a: string, hash: string, expiry: bigint) =>
      c.interface.encodeFunctionData("renewLicence", [a, hash, expiry]);

    it("records a renewed licence", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, pharmacy } = sys;
      const expiry = (await now()) + 2n * BigInt(ONE_YEAR);
      await expect(run(sys, renew(c, pharmacy.address, NEW_LICENCE, expiry)))
        .to.emit(c, "LicenceRenewed")
        .withArgs(pharmacy.address, NEW_LICENCE, expiry);
      const m = await c.member(pharmacy.address);
      expect(m.licenceHash).to.equal(NEW_LICENCE);
      expect(m.licenceExpiry).to.equal(expiry);
      expect(m.status).to.equal(MemberStatus.Active);
    });

    it("makes a member whose licence expired active again", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, pharmacy } = sys;
      await time.increaseTo((await c.member(pharmacy.address)).licenceExpiry);
      expect(await c.isActiveMember(pharmacy.address)).to.equal(false);
      const expiry = (await now()) + BigInt(ONE_YEAR);
      await expect(run(sys, renew(c, pharmacy.address, NEW_LICENCE, expiry))).to.emit(c, "LicenceRenewed");
      expect(await c.isActiveMember(pharmacy.address)).to.equal(true);
      expect(await c.activeRole(pharmacy.address)).to.equal(Role.Pharmacy);
    });

    it("renews the licence of a suspended member, which stays suspended", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, pharmacy, regulator } = sys;
      await c.connect(regulator).emergencySuspend(pharmacy.address, REASON);
      await expect(run(sys, renew(c, pharmacy.address, NEW_LICENCE, (await now()) + BigInt(ONE_YEAR)))).to.emit(c, "LicenceRenewed");
      expect((await c.member(pharmacy.address)).status).to.equal(MemberStatus.Suspended);
      expect(await c.isActiveMember(pharmacy.address)).to.equal(false);
    });

    it("refuses a revoked member", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, pharmacy } = sys;
      await govern(c, sys.governors, c.interface.encodeFunctionData("revokeMember", [pharmacy.address, REASON]));
      await expect(run(sys, renew(c, pharmacy.address, NEW_LICENCE, (await now()) + BigInt(ONE_YEAR))))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(pharmacy.address, MemberStatus.Revoked);
    });

    it("refuses an unknown account", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, outsider } = sys;
      await expect(run(sys, renew(c, outsider.address, NEW_LICENCE, (await now()) + BigInt(ONE_YEAR))))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
    });

    it("refuses a zero licence hash", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, pharmacy } = sys;
      await expect(run(sys, renew(c, pharmacy.address, ethers.ZeroHash, (await now()) + BigInt(ONE_YEAR)))).to.be.revertedWithCustomError(
        c,
        "ConsortiumEmptyLicence",
      );
    });

    it("refuses an expiry that is not in the future", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, pharmacy } = sys;
      const t = (await now()) + 100n;
      await expect(runAt(sys, renew(c, pharmacy.address, NEW_LICENCE, t), t))
        .to.be.revertedWithCustomError(c, "ConsortiumLicenceExpiryInPast")
        .withArgs(t, t);
    });
  });

  describe("governor set", function () {
    it("adds a governor who can then propose and approve", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors, outsider } = sys;
      await expect(run(sys, c.interface.encodeFunctionData("addGovernor", [outsider.address])))
        .to.emit(c, "GovernorAdded")
        .withArgs(outsider.address);
      expect(await c.isGovernor(outsider.address)).to.equal(true);
      expect(await c.governors()).to.deep.equal([...governors.map((g) => g.address), outsider.address]);
      await govern(c, [outsider, governors[0]], c.interface.encodeFunctionData("setCharter", [NEW_CHARTER]));
      expect(await c.charterHash()).to.equal(NEW_CHARTER);
    });

    it("refuses to add the zero address", async function () {
      const sys = await loadFixture(deploySystemFixture);
      await expect(run(sys, sys.consortium.interface.encodeFunctionData("addGovernor", [ethers.ZeroAddress]))).to.be.revertedWithCustomError(
        sys.consortium,
        "ConsortiumZeroAddress",
      );
    });

    it("refuses to add an existing governor", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors } = sys;
      await expect(run(sys, c.interface.encodeFunctionData("addGovernor", [governors[1].address])))
        .to.be.revertedWithCustomError(c, "ConsortiumGovernorExists")
        .withArgs(governors[1].address);
    });

    it("removes a governor who then can no longer propose", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors } = sys;
      await expect(run(sys, c.interface.encodeFunctionData("removeGovernor", [governors[2].address])))
        .to.emit(c, "GovernorRemoved")
        .withArgs(governors[2].address);
      expect(await c.isGovernor(governors[2].address)).to.equal(false);
      expect(await c.governors()).to.deep.equal([governors[0].address, governors[1].address]);
      await expect(c.connect(governors[2]).propose(c.interface.encodeFunctionData("setCharter", [NEW_CHARTER])))
        .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
        .withArgs(governors[2].address);
    });

    it("refuses to remove an account that is not a governor", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, outsider } = sys;
      await expect(run(sys, c.interface.encodeFunctionData("removeGovernor", [outsider.address])))
        .to.be.revertedWithCustomError(c, "ConsortiumNotGovernor")
        .withArgs(outsider.address);
    });

    it("refuses a removal that leaves fewer governors than the threshold", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors } = sys;
      await govern(c, governors, c.interface.encodeFunctionData("setThreshold", [3]));
      await expect(run(sys, c.interface.encodeFunctionData("removeGovernor", [governors[2].address])))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidThreshold")
        .withArgs(3, 2);
      expect(await c.isGovernor(governors[2].address)).to.equal(true);
    });

    it("refuses to go below two governors", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors } = sys;
      await govern(c, governors, c.interface.encodeFunctionData("removeGovernor", [governors[2].address]));
      await expect(run(sys, c.interface.encodeFunctionData("removeGovernor", [governors[1].address])))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidThreshold")
        .withArgs(2, 1);
    });
  });

  describe("setThreshold, setCharter, setProposalLifetime", function () {
    it("raises the threshold, after which two approvals are no longer enough", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors } = sys;
      await expect(run(sys, c.interface.encodeFunctionData("setThreshold", [3])))
        .to.emit(c, "ThresholdChanged")
        .withArgs(2, 3);
      expect(await c.threshold()).to.equal(3n);
      const action = c.interface.encodeFunctionData("setCharter", [NEW_CHARTER]);
      await c.connect(governors[0]).propose(action);
      const id = await c.proposalCount();
      await c.connect(governors[1]).approve(id);
      await expect(c.connect(governors[0]).execute(id))
        .to.be.revertedWithCustomError(c, "ConsortiumInsufficientApprovals")
        .withArgs(id, 2, 3);
    });

    it("refuses a threshold below two or above the number of governors", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c } = sys;
      for (const [t, args] of [
        [0, [0, 3]],
        [1, [1, 3]],
        [4, [4, 3]],
      ] as const) {
        await expect(run(sys, c.interface.encodeFunctionData("setThreshold", [t])))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidThreshold")
          .withArgs(...args);
      }
    });

    it("replaces the charter hash", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c } = sys;
      await expect(run(sys, c.interface.encodeFunctionData("setCharter", [NEW_CHARTER])))
        .to.emit(c, "CharterChanged")
        .withArgs(CHARTER_HASH, NEW_CHARTER);
      expect(await c.charterHash()).to.equal(NEW_CHARTER);
    });

    it("refuses a zero charter hash", async function () {
      const sys = await loadFixture(deploySystemFixture);
      await expect(run(sys, sys.consortium.interface.encodeFunctionData("setCharter", [ethers.ZeroHash]))).to.be.revertedWithCustomError(
        sys.consortium,
        "ConsortiumEmptyCharter",
      );
    });

    it("sets the proposal lifetime to either bound", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c } = sys;
      await expect(run(sys, c.interface.encodeFunctionData("setProposalLifetime", [HOUR])))
        .to.emit(c, "ProposalLifetimeChanged")
        .withArgs(DEFAULT_LIFETIME, HOUR);
      await expect(run(sys, c.interface.encodeFunctionData("setProposalLifetime", [MAX_LIFETIME])))
        .to.emit(c, "ProposalLifetimeChanged")
        .withArgs(HOUR, MAX_LIFETIME);
      expect(await c.proposalLifetime()).to.equal(MAX_LIFETIME);
    });

    it("refuses a proposal lifetime outside one hour to 90 days", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c } = sys;
      for (const lifetime of [0n, HOUR - 1n, MAX_LIFETIME + 1n]) {
        await expect(run(sys, c.interface.encodeFunctionData("setProposalLifetime", [lifetime])))
          .to.be.revertedWithCustomError(c, "ConsortiumInvalidProposalLifetime")
          .withArgs(lifetime);
      }
    });
  });

  describe("governance-only functions", function () {
    it("refuse direct calls from governors, members and outsiders with ConsortiumOnlyGovernance(caller)", async function () {
      const { consortium: c, governors, regulator, outsider } = await loadFixture(deploySystemFixture);
      const to = await c.getAddress();
      for (const caller of [governors[0], regulator, outsider]) {
        for (const { name, data } of allActions(c, outsider.address)) {
          await expect(caller.sendTransaction({ to, data }), `${name} by ${caller.address}`)
            .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
            .withArgs(caller.address);
        }
      }
    });

    it("refuses direct calls through the typed interface as well", async function () {
      const { consortium: c, governors } = await loadFixture(deploySystemFixture);
      await expect(c.connect(governors[0]).setThreshold(3))
        .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
        .withArgs(governors[0].address);
    });
  });

  describe("licence expiry", function () {
    it("makes a member inactive exactly at its licence expiry without any transaction, while member() still says Active", async function () {
      const { consortium: c, producer } = await loadFixture(deploySystemFixture);
      const expiry = (await c.member(producer.address)).licenceExpiry;
      await time.increaseTo(expiry - 1n);
      expect(await c.activeRole(producer.address)).to.equal(Role.Producer);
      expect(await c.isActiveMember(producer.address)).to.equal(true);
      await time.increaseTo(expiry);
      expect(await c.activeRole(producer.address)).to.equal(Role.None);
      expect(await c.isActiveMember(producer.address)).to.equal(false);
      expect((await c.member(producer.address)).status).to.equal(MemberStatus.Active);
    });

    it("gives Role.None to unknown, suspended and revoked accounts", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, outsider, distributor, distributor2, regulator } = sys;
      await c.connect(regulator).emergencySuspend(distributor.address, REASON);
      await govern(c, sys.governors, c.interface.encodeFunctionData("revokeMember", [distributor2.address, REASON]));
      for (const a of [outsider.address, distributor.address, distributor2.address]) {
        expect(await c.activeRole(a)).to.equal(Role.None);
        expect(await c.isActiveMember(a)).to.equal(false);
      }
    });
  });

  describe("emergencySuspend", function () {
    it("lets a regulator suspend a member of its own jurisdiction at once, with `by` = the regulator", async function () {
      const { consortium: c, regulator, distributor } = await loadFixture(deploySystemFixture);
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, regulator.address, REASON);
      expect((await c.member(distributor.address)).status).to.equal(MemberStatus.Suspended);
      expect(await c.activeRole(distributor.address)).to.equal(Role.None);
    });

    it("lets the FR regulator suspend an FR member and an auditor be suspended by the DE regulator", async function () {
      const { consortium: c, regulator, foreignRegulator, producer2, auditor } = await loadFixture(deploySystemFixture);
      await expect(c.connect(foreignRegulator).emergencySuspend(producer2.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(producer2.address, foreignRegulator.address, REASON);
      await expect(c.connect(regulator).emergencySuspend(auditor.address, REASON))
        .to.emit(c, "MemberSuspended")
        .withArgs(auditor.address, regulator.address, REASON);
    });

    it("refuses a member of another jurisdiction", async function () {
      const { consortium: c, regulator, foreignRegulator, producer, producer2 } = await loadFixture(deploySystemFixture);
      await expect(c.connect(regulator).emergencySuspend(producer2.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumJurisdictionMismatch")
        .withArgs(DE, FR);
      await expect(c.connect(foreignRegulator).emergencySuspend(producer.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumJurisdictionMismatch")
        .withArgs(FR, DE);
    });

    it("refuses to suspend a regulator, foreign or itself", async function () {
      const { consortium: c, regulator, foreignRegulator } = await loadFixture(deploySystemFixture);
      await expect(c.connect(regulator).emergencySuspend(foreignRegulator.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumCannotSuspendRegulator")
        .withArgs(foreignRegulator.address);
      await expect(c.connect(regulator).emergencySuspend(regulator.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumCannotSuspendRegulator")
        .withArgs(regulator.address);
    });

    it("refuses callers that are not regulators", async function () {
      const { consortium: c, governors, producer, auditor, outsider, distributor } = await loadFixture(deploySystemFixture);
      for (const caller of [producer, auditor, outsider, governors[0]]) {
        await expect(c.connect(caller).emergencySuspend(distributor.address, REASON))
          .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
          .withArgs(caller.address);
      }
    });

    it("refuses a suspended regulator", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, regulator, distributor } = sys;
      await govern(c, sys.governors, c.interface.encodeFunctionData("suspendMember", [regulator.address, REASON]));
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
        .withArgs(regulator.address);
    });

    it("refuses a regulator whose licence has expired", async function () {
      const { consortium: c, regulator, distributor } = await loadFixture(deploySystemFixture);
      await time.increaseTo((await c.member(regulator.address)).licenceExpiry);
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
        .withArgs(regulator.address);
    });

    it("refuses a regulator whose role was changed", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, regulator, distributor } = sys;
      await govern(c, sys.governors, c.interface.encodeFunctionData("changeRole", [regulator.address, Role.Auditor]));
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumNotActiveRegulator")
        .withArgs(regulator.address);
    });

    it("refuses a member that is not active", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, regulator, distributor, distributor2 } = sys;
      await c.connect(regulator).emergencySuspend(distributor.address, REASON);
      await expect(c.connect(regulator).emergencySuspend(distributor.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor.address, MemberStatus.Suspended);
      await govern(c, sys.governors, c.interface.encodeFunctionData("revokeMember", [distributor2.address, REASON]));
      await expect(c.connect(regulator).emergencySuspend(distributor2.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumInvalidMemberStatus")
        .withArgs(distributor2.address, MemberStatus.Revoked);
    });

    it("refuses an unknown account", async function () {
      const { consortium: c, regulator, outsider } = await loadFixture(deploySystemFixture);
      await expect(c.connect(regulator).emergencySuspend(outsider.address, REASON))
        .to.be.revertedWithCustomError(c, "ConsortiumUnknownMember")
        .withArgs(outsider.address);
    });

    it("cannot be undone by the regulator: reinstatement needs governance", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, regulator, distributor } = sys;
      await c.connect(regulator).emergencySuspend(distributor.address, REASON);
      await expect(c.connect(regulator).reinstateMember(distributor.address))
        .to.be.revertedWithCustomError(c, "ConsortiumOnlyGovernance")
        .withArgs(regulator.address);
      await expect(run(sys, c.interface.encodeFunctionData("reinstateMember", [distributor.address])))
        .to.emit(c, "MemberReinstated")
        .withArgs(distributor.address);
      expect(await c.activeRole(distributor.address)).to.equal(Role.Distributor);
    });
  });

  describe("ERC-2771 forwarding", function () {
    async function forwarded(sys: System, signer: HardhatEthersSigner, data: string) {
      const { forwarder, consortium } = sys;
      const { chainId } = await ethers.provider.getNetwork();
      const request = {
        from: signer.address,
        to: await consortium.getAddress(),
        value: 0n,
        gas: 1_000_000n,
        nonce: await forwarder.nonces(signer.address),
        deadline: (await now()) + 3600n,
        data,
      };
      const signature = await signer.signTypedData(
        { name: FORWARDER_NAME, version: FORWARDER_VERSION, chainId, verifyingContract: await forwarder.getAddress() },
        FORWARD_REQUEST_TYPES,
        request,
      );
      const { nonce: _nonce, ...rest } = request;
      return forwarder.connect(sys.relayer).execute({ ...rest, signature });
    }

    it("attributes a forwarded proposal and emergency suspension to the signer, not the relayer", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors, regulator, distributor } = sys;
      const action = c.interface.encodeFunctionData("setCharter", [NEW_CHARTER]);
      await expect(forwarded(sys, governors[0], c.interface.encodeFunctionData("propose", [action])))
        .to.emit(c, "ProposalCreated")
        .withArgs(10n, governors[0].address, c.interface.getFunction("setCharter").selector, action, (v: bigint) => v > 0n);
      expect(await c.hasApproved(10n, governors[0].address)).to.equal(true);
      await expect(forwarded(sys, regulator, c.interface.encodeFunctionData("emergencySuspend", [distributor.address, REASON])))
        .to.emit(c, "MemberSuspended")
        .withArgs(distributor.address, regulator.address, REASON);
    });

    it("never lets a forwarded call pass as governance", async function () {
      const sys = await loadFixture(deploySystemFixture);
      const { consortium: c, governors, forwarder, outsider } = sys;
      await expect(forwarded(sys, governors[0], c.interface.encodeFunctionData("addGovernor", [outsider.address]))).to.be.revertedWithCustomError(
        forwarder,
        "FailedCall",
      );
      expect(await c.isGovernor(outsider.address)).to.equal(false);
    });
  });

  describe("views", function () {
    it("lists members in admission order and finds them by GLN", async function () {
      const sys = await loadFixture(deploySystemFixture);
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
      expect(await c.members()).to.deep.equal(expected);
      for (let i = 0; i < expected.length; i++) {
        expect(await c.memberByGln(gln(950600013400 + i))).to.equal(expected[i]);
        expect((await c.member(expected[i])).gln).to.equal(gln(950600013400 + i));
      }
      expect(await c.memberByGln(NEW_GLN)).to.equal(ethers.ZeroAddress);
      expect(await c.memberByGln(0)).to.equal(ethers.ZeroAddress);
    });

    it("returns an all-zero record for a non-member", async function () {
      const { consortium: c, outsider } = await loadFixture(deploySystemFixture);
      const m = await c.member(outsider.address);
      expect([m.role, m.status, m.jurisdiction, m.gln, m.licenceExpiry, m.licenceHash]).to.deep.equal([
        0n,
        0n,
        "0x0000",
        0n,
        0n,
        ethers.ZeroHash,
      ]);
    });

    it("lists the governors and answers isGovernor", async function () {
      const { consortium: c, governors, outsider, regulator } = await loadFixture(deploySystemFixture);
      expect(await c.governors()).to.deep.equal(governors.map((g) => g.address));
      for (const g of governors) expect(await c.isGovernor(g.address)).to.equal(true);
      expect(await c.isGovernor(outsider.address)).to.equal(false);
      expect(await c.isGovernor(regulator.address)).to.equal(false);
      expect(await c.isGovernor(ethers.ZeroAddress)).to.equal(false);
    });

    it("reports executed fixture proposals and zero for unknown ones", async function () {
      const { consortium: c, governors } = await loadFixture(deploySystemFixture);
      const p = await c.proposal(1n);
      expect(p.proposer).to.equal(governors[0].address);
      expect(p.executed).to.equal(true);
      expect(c.interface.parseTransaction({ data: p.action })?.name).to.equal("admitMember");
      expect(await c.approvalCount(1n)).to.equal(2n);
      expect(await c.hasApproved(1n, governors[1].address)).to.equal(true);
      expect(await c.hasApproved(1n, governors[2].address)).to.equal(false);

      const unknown = await c.proposal(99n);
      expect([unknown.proposer, unknown.expiresAt, unknown.executed, unknown.action]).to.deep.equal([
        ethers.ZeroAddress,
        0n,
        false,
        "0x",
      ]);
      expect(await c.approvalCount(99n)).to.equal(0n);
      expect(await c.hasApproved(99n, governors[0].address)).to.equal(false);
    });
  });
});
