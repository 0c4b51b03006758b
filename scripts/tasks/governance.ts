import { task, types } from "hardhat/config";

/*
 * Governance and membership tasks for consortium operators. Task definitions import nothing
 * that needs compiled artifacts: the bodies load their helpers lazily, so `hardhat compile`
 * works on a fresh clone.
 */

import {
  MEMBER_STATUS_NAMES as STATUS_NAMES,
  ROLE_NAMES,
} from "../../api/domain/ledger-enums";
import { common } from "./load";

task(
  "members:list",
  "Lists the consortium's members with role, GLN, jurisdiction, licence, status, key and company prefixes",
).setAction(async (_args, hre) => {
  const c = await common(hre);
  return c.taskBody(async () => {
    const sys = await c.system(hre);
    const now = BigInt(
      (await hre.ethers.provider.getBlock("latest"))!.timestamp,
    );
    // Prefixes from the register's events: the Consortium keeps no list (every loop is bounded).
    const prefixes = new Map<string, string[]>();
    for (const log of await sys.consortium.queryFilter(
      sys.consortium.filters.CompanyPrefixAssigned(),
    ))
      prefixes.set(log.args.account, [
        ...(prefixes.get(log.args.account) ?? []),
        log.args.prefix,
      ]);
    for (const log of await sys.consortium.queryFilter(
      sys.consortium.filters.CompanyPrefixRemoved(),
    ))
      prefixes.set(
        log.args.account,
        (prefixes.get(log.args.account) ?? []).filter(
          (p) => p !== log.args.prefix,
        ),
      );
    const rows = [];
    const count = await sys.consortium.memberCount();
    for (let i = 1n; i <= count; i++) {
      const account = await sys.consortium.accountAt(i);
      const m = await sys.consortium.member(account);
      const expired = m.licenceExpiry <= now;
      const key = await sys.consortium.keyOf(account);
      rows.push({
        index: Number(m.index),
        account,
        key: key === account ? "(the account)" : key,
        role: ROLE_NAMES[Number(m.role)],
        gln: m.gln.toString().padStart(13, "0"),
        jurisdiction: Buffer.from(m.jurisdiction.slice(2), "hex").toString(
          "latin1",
        ),
        licenceExpiry: new Date(Number(m.licenceExpiry) * 1000)
          .toISOString()
          .slice(0, 10),
        status:
          STATUS_NAMES[Number(m.status)] +
          (expired && Number(m.status) === 1
            ? " (licence expired: inactive)"
            : ""),
        prefixes: (prefixes.get(account) ?? []).join(" "),
      });
    }
    console.table(rows);
    console.log(
      `governors: ${(await sys.consortium.governors()).join(", ")}; threshold ${await sys.consortium.threshold()}; charter ${await sys.consortium.charterHash()}`,
    );
    return rows;
  });
});

/** Governance actions by target: the Consortium's own, and the BatchToken's governance functions. */
const ACTIONS = {
  consortium: [
    "admitMember",
    "changeRole",
    "suspendMember",
    "reinstateMember",
    "revokeMember",
    "renewLicence",
    "rotateKey",
    "addCompanyPrefix",
    "removeCompanyPrefix",
    "addGovernor",
    "removeGovernor",
    "replaceGovernor",
    "setThreshold",
    "setCharter",
    "setProposalLifetime",
    "cancelProposal",
  ],
  batchToken: [
    "setPaused",
    "undoRecall",
    "setUndoWindow",
    "recoverCustody",
    "recoverShipment",
  ],
} as const;

task(
  "gov:propose",
  "Proposes a governance action (the proposer's approval counts at once)",
)
  .addParam(
    "action",
    `Consortium: ${ACTIONS.consortium.join(" | ")}; BatchToken: ${ACTIONS.batchToken.join(" | ")}`,
  )
  .addParam(
    "params",
    'The action\'s arguments as a JSON array, e.g. \'["0xabc…", "Pharmacy", "4001234000046", "DE", "licence-ref", "2027-12-31", []]\' for admitMember (role by number or name, GLN, jurisdiction, licence reference text or 0x hash, expiry YYYY-MM-DD or unix seconds, company prefixes); items as pack:7,case:3… strings; pack states by name',
  )
  .addOptionalParam(
    "as",
    "Governor to propose as (name, index or address)",
    "governor1",
  )
  .setAction(
    async (args: { action: string; params: string; as: string }, hre) => {
      const c = await common(hre);
      const { UserError } = await import("../lib/errors");
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const onToken = (ACTIONS.batchToken as readonly string[]).includes(
          args.action,
        );
        const iface = (onToken
          ? sys.batchToken.interface
          : sys.consortium.interface) as unknown as import("ethers").Interface;
        const fragment = /^[A-Za-z]+$/.test(args.action)
          ? iface.getFunction(args.action)
          : null;
        if (
          !fragment ||
          !(
            onToken ||
            (ACTIONS.consortium as readonly string[]).includes(args.action)
          )
        ) {
          throw new UserError(
            "UNKNOWN_ACTION",
            `"${args.action}" is not a governance action`,
            `use one of ${[...ACTIONS.consortium, ...ACTIONS.batchToken].join(", ")}`,
          );
        }
        let raw: unknown;
        try {
          raw = JSON.parse(args.params);
        } catch (err) {
          throw new UserError(
            "BAD_PARAMS",
            `--params is not valid JSON (${(err as Error).message})`,
            "quote it as a JSON array, e.g. '[\"0xabc…\"]'",
          );
        }
        if (!Array.isArray(raw) || raw.length !== fragment.inputs.length) {
          throw new UserError(
            "BAD_PARAMS",
            `${args.action} takes ${fragment.inputs.length} arguments (${fragment.inputs.map((i) => `${i.name} ${i.type}`).join(", ")})`,
            "pass them as a JSON array in that order",
          );
        }
        const values = raw.map((v, i) =>
          normalise(
            fragment.inputs[i].name,
            fragment.inputs[i].type,
            v,
            c,
            UserError,
          ),
        );
        const data = iface.encodeFunctionData(fragment, values);
        const target = onToken
          ? sys.addresses.batchToken
          : sys.addresses.consortium;
        const governor = await c.actor(hre, args.as);
        if (!(await sys.consortium.isGovernor(governor.address)))
          throw new UserError(
            "NOT_GOVERNOR",
            `${governor.address} is not a governor`,
            "propose as a governor (--as governor1)",
          );
        const receipt = await (
          await sys.consortium.connect(governor).propose(target, data)
        ).wait();
        const created = receipt!.logs
          .map((l) => sys.consortium.interface.parseLog(l))
          .find((p) => p?.name === "ProposalCreated");
        const id = created!.args.proposalId as bigint;
        console.log(
          `proposal ${id}: ${onToken ? "BatchToken." : ""}${args.action}(${values.map((v) => (typeof v === "object" ? JSON.stringify(v, (_k, x) => (typeof x === "bigint" ? x.toString() : x)) : String(v))).join(", ")}) by ${governor.address}; expires ${new Date(Number(created!.args.expiresAt) * 1000).toISOString()}; ${await sys.consortium.approvalCount(id)} of ${await sys.consortium.threshold()} approvals`,
        );
        return id;
      });
    },
  );

for (const [name, description, fn, defaultAs] of [
  [
    "gov:withdraw",
    "Withdraws the governor's approval of an open proposal",
    "withdrawApproval",
    "governor2",
  ],
  [
    "gov:cancel",
    "Cancels an open proposal the governor made (others cancel together through gov:propose cancelProposal)",
    "cancel",
    "governor1",
  ],
] as const) {
  task(name, description)
    .addParam("id", "Proposal id", undefined, types.string)
    .addOptionalParam("as", "Governor", defaultAs)
    .setAction(async (args: { id: string; as: string }, hre) => {
      const c = await common(hre);
      return c.taskBody(async () => {
        const sys = await c.system(hre);
        const id = c.parsePositive("id", args.id);
        const governor = await c.actor(hre, args.as);
        await (await sys.consortium.connect(governor)[fn](id)).wait();
        console.log(
          `proposal ${id}: ${fn === "cancel" ? "cancelled" : "approval withdrawn"} by ${governor.address}; ${await sys.consortium.approvalCount(id)} of ${await sys.consortium.threshold()} approvals`,
        );
      });
    });
}

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
      console.log(
        `proposal ${id} approved by ${governor.address}: ${await sys.consortium.approvalCount(id)} of ${await sys.consortium.threshold()} approvals`,
      );
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
      const receipt = await (
        await sys.consortium.connect(governor).execute(id)
      ).wait();
      const events = receipt!.logs
        .map((l) => sys.consortium.interface.parseLog(l))
        .filter((p) => p && p.name !== "ProposalExecuted");
      console.log(
        `proposal ${id} executed: ${events.map((e) => `${e!.name}(${e!.args.map(String).join(", ")})`).join("; ")}`,
      );
    });
  });

task(
  "gov:proposals",
  "Lists proposals with their target, approvals and state",
).setAction(async (_args, hre) => {
  const c = await common(hre);
  const { PROPOSAL_STATE_NAMES } =
    await import("../../api/domain/ledger-enums");
  return c.taskBody(async () => {
    const sys = await c.system(hre);
    const count = await sys.consortium.proposalCount();
    const threshold = await sys.consortium.threshold();
    const rows = [];
    for (let id = 1n; id <= count; id++) {
      const p = await sys.consortium.proposal(id);
      const onToken =
        p.target.toLowerCase() === sys.addresses.batchToken.toLowerCase();
      const action = (
        onToken ? sys.batchToken.interface : sys.consortium.interface
      ).parseTransaction({ data: p.action });
      const approvals = await sys.consortium.approvalCount(id);
      const state =
        PROPOSAL_STATE_NAMES[Number(await sys.consortium.proposalState(id))];
      rows.push({
        id: id.toString(),
        action: `${onToken ? "BatchToken." : ""}${action ? `${action.name}(${action.args.map(String).join(", ")})` : p.action.slice(0, 10)}`,
        approvals: `${approvals}/${threshold}`,
        state:
          state === "Open" && approvals >= threshold
            ? "ready to execute"
            : state,
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
    const index = /^\d+$/.test(text)
      ? Number(text)
      : ROLE_NAMES.findIndex(
          (r: string) => r.toLowerCase() === text.toLowerCase(),
        );
    if (index < 1 || index >= ROLE_NAMES.length)
      throw new UserError(
        "BAD_ROLE",
        `role "${text}" is not one of ${ROLE_NAMES.slice(1).join(", ")}`,
        "use a name or 1–5",
      );
    return index;
  }
  if (type === "bytes2") {
    if (!/^[A-Z]{2}$/.test(text))
      throw new UserError(
        "BAD_JURISDICTION",
        `jurisdiction "${text}" must be two upper-case letters (ISO 3166-1 alpha-2)`,
        "e.g. DE",
      );
    return "0x" + Buffer.from(text, "latin1").toString("hex");
  }
  if (type === "bytes32") return c.bytes32Of(text);
  if (type === "uint64" && name === "gln") {
    const { isGln } =
      require("../../api/domain/gs1") as typeof import("../../api/domain/gs1");
    if (!isGln(text))
      throw new UserError(
        "BAD_GLN",
        `GLN "${text}" is not 13 digits with a valid GS1 check digit`,
        "copy the member's GLN from its GS1 registration",
      );
    return BigInt(text);
  }
  if (type === "uint64" && name === "licenceExpiry") {
    if (/^\d{4}-\d{2}-\d{2}$/.test(text))
      return BigInt(Date.parse(`${text}T00:00:00Z`) / 1000);
    if (/^\d+$/.test(text)) return BigInt(text);
    throw new UserError(
      "BAD_DATE",
      `licence expiry "${text}" must be YYYY-MM-DD or unix seconds`,
      "e.g. 2027-12-31",
    );
  }
  if (type === "string[]" && name === "companyPrefixes") {
    if (
      !Array.isArray(value) ||
      !value.every((p) => typeof p === "string" && /^\d{6,12}$/.test(p))
    ) {
      throw new UserError(
        "BAD_PREFIXES",
        `companyPrefixes must be a JSON array of 6–12-digit strings, got ${JSON.stringify(value)}`,
        'e.g. ["4012345"]',
      );
    }
    return value;
  }
  if (type === "bool") {
    if (typeof value !== "boolean")
      throw new UserError(
        "BAD_BOOL",
        `${name} must be true or false`,
        "e.g. true",
      );
    return value;
  }
  if (type === "uint8" && name === "state") {
    const { PACK_STATE_NAMES } =
      require("../../api/domain/pack-ledger") as typeof import("../../api/domain/pack-ledger");
    const index = (PACK_STATE_NAMES as readonly string[]).indexOf(text);
    if (index < 0)
      throw new UserError(
        "BAD_STATE",
        `state "${text}" is not a pack state (${PACK_STATE_NAMES.join(", ")})`,
        "e.g. Destroyed",
      );
    return index;
  }
  if (type.startsWith("tuple(uint8,uint32,uint32)[]"))
    return c.parseItems(text);
  if (type.startsWith("tuple") && name === "shipment") {
    const shipment = value as {
      batchId: string;
      sender: string;
      receiver: string;
      quantity: string;
      kind: string | number;
      items: string;
    };
    return {
      ...shipment,
      kind: shipment.kind === "Return" || Number(shipment.kind) === 1 ? 1 : 0,
      items: shipment.items ? c.parseItems(shipment.items) : [],
    };
  }
  if (type === "address") {
    if (typeof value !== "string" || !/^0x[0-9a-fA-F]{40}$/.test(value))
      throw new UserError(
        "BAD_ADDRESS",
        `${name} "${text}" is not an address`,
        "use a 0x-prefixed 20-byte hex address",
      );
    return value;
  }
  return value;
}
