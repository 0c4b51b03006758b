import { AbiCoder, Interface, type FunctionFragment } from "ethers";
import { BatchToken__factory, ConsortiumForwarder__factory, Consortium__factory } from "../../typechain-types";
import type { SystemAddresses } from "../chain/addresses";
import { canonicalAbiError, tupleOf } from "./abi-strict";

/**
 * What the relay forwards: an allow-list of (target contract, function) with the roles that may
 * call each. The contracts enforce roles themselves; checking here turns a wasted transaction
 * into an immediate 403 that says what is wrong. Everything not listed is refused — including the
 * plain ERC-1155 transfer functions (the token refuses them anyway) and every view.
 */

import { ROLE, ROLE_NAMES, type RoleName } from "../domain/ledger-enums";
export { ROLE, ROLE_NAMES, type RoleName };

export const batchTokenInterface = new Interface(BatchToken__factory.abi);
export const consortiumInterface = new Interface(Consortium__factory.abi);
export const forwarderInterface = new Interface(ConsortiumForwarder__factory.abi);

export type Contract = "batchToken" | "consortium";

export interface AllowedFunction {
  contract: Contract;
  name: string;
  selector: string;
  fragment: FunctionFragment;
  /** The parameters as the strict ABI checker sees them. */
  params: ReturnType<typeof tupleOf>;
  /** Roles (IConsortium.Role) of active members allowed to call it; "governor" = a current governor. */
  roles: readonly number[] | "governor";
}

const HOLDERS = [ROLE.Producer, ROLE.Distributor, ROLE.Pharmacy] as const;

const TABLE: { contract: Contract; name: string; roles: readonly number[] | "governor" }[] = [
  // Products: brand owners (the contract checks prefix ownership).
  { contract: "batchToken", name: "registerProduct", roles: [ROLE.Producer] },
  { contract: "batchToken", name: "updateProduct", roles: [ROLE.Producer] },
  { contract: "batchToken", name: "setProductStatus", roles: [ROLE.Producer] },
  { contract: "batchToken", name: "setPrefixLicence", roles: [ROLE.Producer] },
  { contract: "batchToken", name: "mintBatch", roles: [ROLE.Producer] },
  // Custody.
  { contract: "batchToken", name: "ship", roles: HOLDERS },
  { contract: "batchToken", name: "acceptShipment", roles: HOLDERS },
  { contract: "batchToken", name: "rejectShipment", roles: HOLDERS },
  { contract: "batchToken", name: "cancelShipment", roles: HOLDERS },
  { contract: "batchToken", name: "unpack", roles: HOLDERS },
  { contract: "batchToken", name: "decommission", roles: HOLDERS },
  { contract: "batchToken", name: "revertDecommission", roles: HOLDERS },
  { contract: "batchToken", name: "lock", roles: HOLDERS },
  { contract: "batchToken", name: "unlock", roles: [...HOLDERS, ROLE.Regulator] },
  { contract: "batchToken", name: "writeOff", roles: HOLDERS },
  { contract: "batchToken", name: "dispense", roles: [ROLE.Pharmacy] },
  { contract: "batchToken", name: "undoDispense", roles: [ROLE.Pharmacy] },
  // Regulators; producers recall their own batches.
  { contract: "batchToken", name: "quarantine", roles: [ROLE.Regulator] },
  { contract: "batchToken", name: "liftQuarantine", roles: [ROLE.Regulator] },
  { contract: "batchToken", name: "recall", roles: [ROLE.Regulator, ROLE.Producer] },
  { contract: "batchToken", name: "safetyNotice", roles: [ROLE.Regulator] },
  // Governance process: governors need not be members (the demo's are not).
  { contract: "consortium", name: "propose", roles: "governor" },
  { contract: "consortium", name: "approve", roles: "governor" },
  { contract: "consortium", name: "withdrawApproval", roles: "governor" },
  { contract: "consortium", name: "cancel", roles: "governor" },
  { contract: "consortium", name: "execute", roles: "governor" },
  { contract: "consortium", name: "emergencySuspend", roles: [ROLE.Regulator] },
];

const ifaceOf = (c: Contract) => (c === "batchToken" ? batchTokenInterface : consortiumInterface);

// Selectors are computed once here: ethers' FunctionFragment.selector hashes the signature (in
// JS keccak) on every access, and decode/encodeFunctionData do that per call — measurable at
// thousands of requests per second. The hot path uses AbiCoder on the precomputed fragments.
export const ALLOWED_FUNCTIONS: AllowedFunction[] = TABLE.map((t) => {
  const fragment = ifaceOf(t.contract).getFunction(t.name)!;
  return { ...t, fragment, selector: fragment.selector, params: tupleOf(fragment.inputs) };
});

/** ERC-1155 functions whose last argument is the receiver hook's `data`. */
const ERC1155_DATA_FUNCTIONS = ["safeTransferFrom", "safeBatchTransferFrom"].map((n) => {
  const fragment = batchTokenInterface.getFunction(n)!;
  return { name: n, fragment, selector: fragment.selector };
});
const coder = AbiCoder.defaultAbiCoder();

export type PolicyVerdict =
  | { ok: true; fn: AllowedFunction }
  | { ok: false; code: "TARGET_NOT_ALLOWED" | "SELECTOR_NOT_ALLOWED" | "ERC1155_DATA_NOT_EMPTY" | "BAD_CALLDATA"; message: string; hint: string };

/** Checks target and calldata against the allow-list; the calldata must be the canonical ABI encoding of the function's arguments. */
export function checkCall(addresses: SystemAddresses, to: string, data: string): PolicyVerdict {
  const target = to.toLowerCase();
  const contract: Contract | undefined =
    target === addresses.batchToken.toLowerCase() ? "batchToken" : target === addresses.consortium.toLowerCase() ? "consortium" : undefined;
  if (!contract) {
    return {
      ok: false,
      code: "TARGET_NOT_ALLOWED",
      message: `the relay does not forward calls to ${to}`,
      hint: `address the BatchToken (${addresses.batchToken}) or the Consortium (${addresses.consortium})`,
    };
  }
  const selector = data.slice(0, 10).toLowerCase();
  const erc1155 = contract === "batchToken" ? ERC1155_DATA_FUNCTIONS.find((f) => f.selector === selector) : undefined;
  if (erc1155) {
    let dataArg: string | undefined;
    try {
      const args = coder.decode(erc1155.fragment.inputs, "0x" + data.slice(10));
      dataArg = args[args.length - 1] as string;
    } catch {
      dataArg = undefined;
    }
    if (dataArg !== undefined && dataArg !== "0x") {
      return {
        ok: false,
        code: "ERC1155_DATA_NOT_EMPTY",
        message: `${erc1155.name} carries non-empty ERC-1155 data (${(dataArg.length - 2) / 2} bytes)`,
        hint: "the relay never forwards ERC-1155 receiver data; move stock with ship / acceptShipment instead",
      };
    }
  }
  const fn = ALLOWED_FUNCTIONS.find((f) => f.contract === contract && f.selector === selector);
  if (!fn) {
    const names = ALLOWED_FUNCTIONS.filter((f) => f.contract === contract).map((f) => f.name);
    return {
      ok: false,
      code: "SELECTOR_NOT_ALLOWED",
      message: `function ${selector} of the ${contract === "batchToken" ? "BatchToken" : "Consortium"} is not relayed`,
      hint: `allowed: ${names.join(", ")}`,
    };
  }
  const problem = canonicalAbiError(fn.params, data.slice(10).toLowerCase());
  if (problem) {
    return {
      ok: false,
      code: "BAD_CALLDATA",
      message: `data is not a canonical ABI encoding of ${fn.name}: ${problem}`,
      hint: `encode the call with the ${contract === "batchToken" ? "BatchToken" : "Consortium"} ABI (see api/client)`,
    };
  }
  return { ok: true, fn };
}

/** Decodes revert data with the BatchToken, Consortium and Forwarder ABIs (custom errors, Error(string), Panic). */
export function decodeRevert(data: string | undefined | null): { error: string; args: Record<string, string> } | undefined {
  if (!data || data === "0x" || data.length < 10) return undefined;
  for (const iface of [batchTokenInterface, consortiumInterface, forwarderInterface]) {
    try {
      const parsed = iface.parseError(data);
      if (!parsed) continue;
      const args: Record<string, string> = {};
      parsed.fragment.inputs.forEach((input, i) => {
        args[input.name || String(i)] = String(parsed.args[i]);
      });
      return { error: parsed.name, args };
    } catch {
      // try the next ABI
    }
  }
  return { error: "UnknownError", args: { selector: data.slice(0, 10) } };
}
