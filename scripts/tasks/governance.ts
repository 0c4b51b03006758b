import { task, types } from "hardhat/config";

/*
 * Governance and membership tasks for consortium operators. Task definitions import nothing
 * that needs compiled artifacts: the bodies load their helpers lazily, so `hardhat compile`
 * works on a fresh clone.
 */

import { MEMBER_STATUS_NAMES as STATUS_NAMES, ROLE_NAMES } from "../../api/domain/ledger-enums";
import { common } from "./load";

task("members:list", "Lists the consortium's members with role, GLN, jurisdiction, licence and status").setAction(async (_args, hre) => {
  const c = await common(hre);
  return c.taskBody(async () => {
    const sys = await c.system(hre);
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    const rows = [];
    for (const account of await sys.consortium.members()) {
      const m = await sys.consortium.member(account);
      const expired = m.licenceExpiry <= now;
      rows.push({
        account,
        role: ROLE_NAMES[Number(m.role)],
        gln: m.gln.toString().padStart(13, "0"),
        jurisdiction: Buffer.from(m.jurisdiction.slice(2), "hex").toString("latin1"),
        licenceExpiry: new Date(Number(m.licenceExpiry) * 1000).toISOString().slice(0, 10),
        status: STATUS_NAMES[Number(m.status)] + (expired && Number(m.status) === 1 ? " (licence expired: inactive)" : ""),
      });
    }
    console.table(rows);
    console.log(`governors: ${(await sys.consortium.governors()).join(", ")}; threshold ${await sys.consortium.threshold()}; charter ${await sys.consortium.charterHash()}`);
    return rows;
  });
});

task("gov:propose", "Proposes a governance action (the proposer's approval counts at once)")
  .addParam("action", "admitMember | changeRole | suspendMember | reinstateMember | revokeMember | renewLicence | addGovernor | removeGovernor | setThreshold | setCharter | setProposalLifetime")
  .addParam("params", "The action's arguments as a JSON array, e.g. '[\"0xabc…\", 3, \"4001234000046\", \"DE\", \"licence-ref\", \"2027-12-31\"]' for admitMember (role by number or name, GLN, jurisdiction, licence reference text or 0x hash, expiry YYYY-MM-DD or unix seconds)")
  .addOptionalParam("as", "Governor to propose as (name, index or address)", "governor1")
  .setAction(async (args: { action: string; params: string; as: string }, hre) => {
    const c = await common(hre);
    const { UserError } = await import("../lib/errors");
    return c.taskBody(async () => {
      const sys = await c.system(hre);
      const iface = sys.consortium.interface as unknown as import("ethers").Interface;
      const fragment = /^[A-Za-z]+$/.test(args.action) ? iface.getFunction(args.action) : null;
      const governance = ["admitMember", "changeRole", "suspendMember", "reinstateMember", "revokeMember", "renewLicence", "addGovernor", "removeGovernor", "setThreshold", "setCharter", "setProposalLifetime"];
      if (!fragment || !governance.includes(args.action)) {
        throw new UserError("UNKNOWN_ACTION", `"${args.action}" is not a governance action`, `use one of ${governance.join(", ")}`);
      }
      let raw: unknown;
      try {
        raw = JSON.parse(args.params);
      } catch (err) {
        throw new UserError("BAD_PARAMS", `--params is not valid JSON (${(err as Error).message})`, "quote it as a JSON array, e.g. '[\"0xabc…\"]'");
      }
      if (!Array.isArray(raw) || raw.length !== fragment.inputs.length) {
        throw new UserError("BAD_PARAMS", `${args.action} takes ${fragment.inputs.length} arguments (${fragment.inputs.map((i) => `${i.name} ${i.type}`).join(", ")})`, "pass them as a JSON array in that order");
      }
      const values = raw.map((v, i) => normalise(fragment.inputs[i].name, fragment.inputs[i].type, v, c, UserError));
      const data = iface.encodeFunctionData(fragment, values);
      const governor = await c.actor(hre, args.as);
      if (!(await sys.consortium.isGovernor(governor.address))) throw new UserError("NOT_GOVERNOR", `${governor.address} is not a governor`, "propose as a governor (--as governor1)");
      const receipt = await (await sys.consortium.connect(governor).propose(data)).wait();
      const created = receipt!.logs.map((l) => sys.consortium.interface.parseLog(l)).find((p) => p?.name === "ProposalCreated");
      const id = created!.args.proposalId as bigint;
      console.log(`proposal ${id}: ${args.action}(${values.map(String).join(", ")}) by ${governor.address}; expires ${new Date(Number(created!.args.expiresAt) * 1000).toISOString()}; ${await sys.consortium.approvalCount(id)} of ${await sys.consortium.threshold()} approvals`);
      return id;
    });
  });

task("gov:approve", "Approves a pending proposal")
  .addParam("id", "Proposal id", undefined, types.string)
  .addOptionalParam("as", "Governor to approve as", "governor2")
  .setAction(async (args: { id: string; as: string }, hre) => {
    const c = await common(hre);
    return c.taskBody(async () => {
      const sys = await c.system(hre);
      const id = c.parsePositive("id", args.id);
      const governor = await c.actor(hre, args.as);
      await (await sys.consortium.connect(governor).approve(id)).wait();
      console.log(`proposal ${id} approved by ${governor.address}: ${await sys.consortium.approvalCount(id)} of ${await sys.consortium.threshold()} approvals`);
    });
  });

task("gov:execute", "Executes a proposal that has enough approvals")
  .addParam("id", "Proposal id", undefined, types.string)
  .addOptionalParam("as", "Governor to execute as", "governor1")
  .setAction(async (args: { id: string; as: string }, hre) => {
    const c = await common(hre);
    return c.taskBody(async () => {
      const sys = await c.system(hre);
      const id = c.parsePositive("id", args.id);
      const governor = await c.actor(hre, args.as);
      const receipt = await (await sys.consortium.connect(governor).execute(id)).wait();
      const events = receipt!.logs.map((l) => sys.consortium.interface.parseLog(l)).filter((p) => p && p.name !== "ProposalExecuted");
      console.log(`proposal ${id} executed: ${events.map((e) => `${e!.name}(${e!.args.map(String).join(", ")})`).join("; ")}`);
    });
  });

task("gov:proposals", "Lists proposals with their approvals and state").setAction(async (_args, hre) => {
  const c = await common(hre);
  return c.taskBody(async () => {
    const sys = await c.system(hre);
    const now = BigInt((await hre.ethers.provider.getBlock("latest"))!.timestamp);
    const count = await sys.consortium.proposalCount();
    const threshold = await sys.consortium.threshold();
    const rows = [];
    for (let id = 1n; id <= count; id++) {
      const p = await sys.consortium.proposal(id);
      const action = sys.consortium.interface.parseTransaction({ data: p.action });
      const approvals = await sys.consortium.approvalCount(id);
      rows.push({
        id: id.toString(),
        action: action ? `${action.name}(${action.args.map(String).join(", ")})` : p.action.slice(0, 10),
        approvals: `${approvals}/${threshold}`,
        state: p.executed ? "executed" : p.expiresAt <= now ? "expired" : approvals >= threshold ? "ready to execute" : "pending",
      });
    }
    console.table(rows);
    return rows;
  });
});

function normalise(
  name: string,
  type: string,
  value: unknown,
  c: typeof import("./common"),
  UserError: typeof import("../lib/errors").UserError,
): unknown {
  const text = String(value);
  if (type === "uint8" && name === "role") {
    const index = /^\d+$/.test(text) ? Number(text) : ROLE_NAMES.findIndex((r: string) => r.toLowerCase() === text.toLowerCase());
    if (index < 1 || index >= ROLE_NAMES.length) throw new UserError("BAD_ROLE", `role "${text}" is not one of ${ROLE_NAMES.slice(1).join(", ")}`, "use a name or 1–5");
    return index;
  }
  if (type === "bytes2") {
    if (!/^[A-Z]{2}$/.test(text)) throw new UserError("BAD_JURISDICTION", `jurisdiction "${text}" must be two upper-case letters (ISO 3166-1 alpha-2)`, "e.g. DE");
    return "0x" + Buffer.from(text, "latin1").toString("hex");
  }
  if (type === "bytes32") return c.bytes32Of(text);
  if (type === "uint64" && name === "gln") {
    const { isGln } = require("../../api/domain/gs1") as typeof import("../../api/domain/gs1");
    if (!isGln(text)) throw new UserError("BAD_GLN", `GLN "${text}" is not 13 digits with a valid GS1 check digit`, "copy the member's GLN from its GS1 registration");
    return BigInt(text);
  }
  if (type === "uint64" && name === "licenceExpiry") {
    if (/^\d{4}-\d{2}-\d{2}$/.test(text)) return BigInt(Date.parse(`${text}T00:00:00Z`) / 1000);
    if (/^\d+$/.test(text)) return BigInt(text);
    throw new UserError("BAD_DATE", `licence expiry "${text}" must be YYYY-MM-DD or unix seconds`, "e.g. 2027-12-31");
  }
  if (type === "address") {
    if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value)) throw new UserError("BAD_ADDRESS", `${name} "${text}" is not an address`, "use a 0x-prefixed 20-byte hex address");
    return value;
  }
  return value;
}
