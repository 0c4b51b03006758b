import { ethers, type ContractTransactionResponse, type Signer } from "ethers";
import type { BatchToken, Consortium } from "../../typechain-types";
import { withCheckDigit } from "../../api/domain/gs1";
import { productMasterDataHash } from "../../api/domain/master-data";

/** Roles as numbered in IConsortium.Role. */
import { ROLE, ROLE_NAMES } from "../../api/domain/ledger-enums";
export { ROLE, ROLE_NAMES };

/**
 * The demo consortium of `npm start` and `npm run demo`: who is who, by index into the network's
 * accounts (0 deploys; 1–3 are the governors of ignition/parameters/localnode.json).
 */
export const DEMO_GOVERNOR_INDICES = [1, 2, 3] as const;
/** `custodial`: `npm start` enrols this member at the relay, which then signs for it (API key). */
export const DEMO_MEMBERS = [
  { key: "producer", name: "Rhein Pharma GmbH (producer)", account: 4, role: ROLE.Producer, gln: withCheckDigit("400123400001"), jurisdiction: "DE", custodial: false, prefixes: ["9506000"] },
  { key: "distributor", name: "Nord Großhandel AG (distributor)", account: 5, role: ROLE.Distributor, gln: withCheckDigit("400123400002"), jurisdiction: "DE", custodial: false, prefixes: [] },
  { key: "distributor2", name: "Süd Logistik GmbH (distributor)", account: 6, role: ROLE.Distributor, gln: withCheckDigit("400123400003"), jurisdiction: "DE", custodial: false, prefixes: [] },
  { key: "pharmacy", name: "Apotheke am Markt (pharmacy)", account: 7, role: ROLE.Pharmacy, gln: withCheckDigit("400123400004"), jurisdiction: "DE", custodial: true, prefixes: [] },
  { key: "pharmacy2", name: "Pharmacie du Centre (pharmacy)", account: 8, role: ROLE.Pharmacy, gln: withCheckDigit("300123400005"), jurisdiction: "FR", custodial: false, prefixes: [] },
  { key: "regulator", name: "Landesamt für Arzneimittel (regulator)", account: 9, role: ROLE.Regulator, gln: withCheckDigit("400123400006"), jurisdiction: "DE", custodial: false, prefixes: [] },
  { key: "auditor", name: "Prüfgesellschaft (auditor)", account: 10, role: ROLE.Auditor, gln: withCheckDigit("400123400007"), jurisdiction: "DE", custodial: false, prefixes: [] },
] as const;
export type DemoMemberKey = (typeof DEMO_MEMBERS)[number]["key"];

const LICENCE_YEARS = 3;

/** The demo's product: a GTIN under the producer's company prefix 9506000, marketed in DE and FR. */
export const DEMO_PRODUCT = {
  gtin: "09506000134352",
  markets: ["DE", "FR"],
  /** Master data as the brand owner publishes it; its keccak-256 hash is registered on chain. */
  masterData: {
    gtin: "09506000134352",
    name: "Ibuprofen Rhein 400 mg",
    strength: "400 mg",
    dosageForm: "film-coated tablet",
    packSize: "20 tablets",
    manufacturer: "Rhein Pharma GmbH",
    markets: ["DE", "FR"],
    nationalCodes: { DE: "PZN 12345678" },
  },
};

/**
 * Admits every demo member that is not a member yet, through real governance: all proposals are
 * sent, then the approvals, then the executions, each wave in one go so that on a chain with a
 * block period the whole admission takes three blocks rather than three per member.
 * Idempotent: a member already admitted is skipped, so a second start changes nothing.
 */
export async function admitDemoMembers(
  consortium: Consortium,
  accounts: (Signer & { address: string })[],
  log: (line: string) => void = () => undefined,
): Promise<{ admitted: number; skipped: number }> {
  const governors = DEMO_GOVERNOR_INDICES.map((i) => accounts[i]);
  const threshold = Number(await consortium.threshold());
  const pending: (typeof DEMO_MEMBERS)[number][] = [];
  for (const m of DEMO_MEMBERS) {
    const record = await consortium.member(accounts[m.account].address);
    if (Number(record.status) === 0) pending.push(m);
  }
  if (pending.length === 0) return { admitted: 0, skipped: DEMO_MEMBERS.length };

  const block = await consortium.runner!.provider!.getBlock("latest");
  const licenceExpiry = BigInt(block!.timestamp) + BigInt(LICENCE_YEARS * 365 * 86400);
  const proposer = consortium.connect(governors[0]);
  const consortiumAddress = await consortium.getAddress();
  const proposals = await sendAll(
    pending.map((m) => () =>
      proposer.propose(
        consortiumAddress,
        consortium.interface.encodeFunctionData("admitMember", [
          accounts[m.account].address,
          m.role,
          BigInt(m.gln),
          ethers.hexlify(ethers.toUtf8Bytes(m.jurisdiction)),
          ethers.id(`licence ${m.name}`),
          licenceExpiry,
          [...m.prefixes],
        ]),
      ),
    ),
  );
  const ids = proposals.map((receipt) => {
    for (const l of receipt.logs) {
      const parsed = consortium.interface.parseLog(l);
      if (parsed?.name === "ProposalCreated") return parsed.args.proposalId as bigint;
    }
    throw new Error(`propose transaction ${receipt.hash} emitted no ProposalCreated`);
  });
  log(`proposed ${ids.length} admissions (proposals ${ids.join(", ")})`);
  for (let g = 1; g < threshold; g++) {
    const approver = consortium.connect(governors[g]);
    await sendAll(ids.map((id) => () => approver.approve(id)));
  }
  log(`approved by ${threshold} of ${governors.length} governors`);
  await sendAll(ids.map((id) => () => proposer.execute(id)));
  for (const m of pending) log(`admitted ${m.name} ${accounts[m.account].address} GLN ${m.gln} ${m.jurisdiction}`);
  return { admitted: pending.length, skipped: DEMO_MEMBERS.length - pending.length };
}

/** Sends transactions one after another without waiting for blocks, then waits for all receipts. */
async function sendAll(sends: (() => Promise<ContractTransactionResponse>)[]) {
  const txs: ContractTransactionResponse[] = [];
  for (const send of sends) txs.push(await send());
  const receipts = await Promise.all(txs.map((tx) => tx.wait()));
  return receipts.map((r) => {
    if (!r || r.status !== 1) throw new Error(`transaction ${r?.hash} failed`);
    return r;
  });
}

/** keccak-256 of the demo product's master data document (JSON, keys in the order above). */
export function demoMasterDataHash(): string {
  return productMasterDataHash(DEMO_PRODUCT.masterData);
}

/**
 * Registers the demo product as its brand owner (the producer) unless it is registered already.
 * Idempotent, like the admissions.
 */
export async function registerDemoProduct(batchToken: BatchToken, accounts: (Signer & { address: string })[], log: (line: string) => void = () => undefined): Promise<boolean> {
  const gtin = BigInt(DEMO_PRODUCT.gtin);
  if (Number((await batchToken.product(gtin)).status) !== 0) return false;
  const producer = accounts[DEMO_MEMBERS.find((m) => m.key === "producer")!.account];
  const markets = DEMO_PRODUCT.markets.map((c) => ethers.hexlify(ethers.toUtf8Bytes(c)));
  const receipt = await (await batchToken.connect(producer).registerProduct(gtin, markets, demoMasterDataHash())).wait();
  if (!receipt || receipt.status !== 1) throw new Error("registering the demo product failed");
  log(`registered product ${DEMO_PRODUCT.gtin} (${DEMO_PRODUCT.masterData.name}) for ${DEMO_PRODUCT.markets.join(", ")}`);
  return true;
}
