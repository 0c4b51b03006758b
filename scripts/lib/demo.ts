import { ethers, type Provider } from "ethers";
import { StandardMerkleTree } from "@openzeppelin/merkle-tree";
import type { BatchToken } from "../../typechain-types";
import { buildSerialTree } from "../../api/domain/merkle";
import { dayNumberOf, dayToGs1Date, isoDate } from "../../api/domain/gs1";
import { toBracketed } from "../../api/domain/gs1-scan";
import { fetchLedgerEvents } from "../../api/chain/logs";
import { describeEvent, inTransit, isConserved, packEvents, replayBatch } from "../../api/domain/custody";
import { assignSsccs, cases, itemUnits, packingValues, pallets, units as packs, PACKING_TREE_TYPES, type Item, type Layout } from "../../api/domain/packing";
import { calls, RelayClient, RelayError, type RequestSigner, type RequestStatus } from "../../api/client";
import { serialUploadMessage, type VerificationResult } from "../../api/read/verification";

/**
 * `npm run demo`: the traceability story told the way members really work, through the running
 * consortium's service, pack by pack. Members with their own keys sign EIP-712 requests that the
 * relay lands through the forwarder; the pharmacy has no wallet and uses its custodial API key;
 * the producer packs its batch in cases and pallets (each with an SSCC) and uploads the serial
 * list, signed; the distributor receives pallets, opens one and picks single packs; the pharmacy's
 * till asks the public verification for each pack's proof before dispensing it. The relay refuses
 * what the ledger would (a foreign product, a forged serial, a clone, a pack the pharmacy does not
 * hold, a shipment after the recall). Every request is followed to `mined`, and the story ends
 * with the verdicts the portal now gives for the demo's packs.
 */

/** A member that signs its own requests: an ethers Signer (wallet, Hardhat account, KMS adapter). */
export type SigningMember = { signer: ethers.Signer; address: string };

export interface DemoOptions {
  /** Base URL of the relay and read service (`npm start` serves on http://127.0.0.1:8080). */
  serviceUrl: string;
  /** BatchToken, read-only: ids, balances and events for the history rebuilt from events alone. */
  batchToken: BatchToken;
  signers: { producer: SigningMember; distributor: SigningMember; regulator: SigningMember };
  /** The custodial member: the relay signs for it when it presents its API key. */
  pharmacy: { address: string; apiKey: string };
  /** Human names by address, for the timeline. */
  names?: Record<string, string>;
  log?: (line: string) => void;
  units?: number;
  /** Lot number; default DEMO-<time>-<n> so the demo can run again on the same chain. */
  lot?: string;
  /** How long to wait for one request to be mined, and for the index to catch up. */
  timeoutMs?: number;
}

export interface DemoRequest {
  step: string;
  via: "signed" | "custodial";
  id: string;
  block: number;
}

export interface DemoResult {
  batchId: bigint;
  gtin: string;
  lot: string;
  expiry: string;
  layout: Layout;
  /** SSCCs of the shipped containers, for people. */
  ssccs: { pallets: string[]; case: string };
  balances: { producer: bigint; distributor: bigint; pharmacy: bigint };
  dispensedSerials: string[];
  /** A serial never shipped from the producer: recalled with its batch. */
  untouchedSerial: string;
  /** The pack the distributor reported stolen, and what verification said right after. */
  stolen: { serial: string; verdict: VerificationResult };
  /** History of the first dispensed pack, from events: every line names its case and pallet moves. */
  packHistory: string[];
  refused: { action: string; error: string }[];
  requests: DemoRequest[];
  status: number;
  history: string[];
  conserved: boolean;
  /** What the public verification (and so the portal) says of the demo's packs at the end. */
  verdicts: { dispensed: VerificationResult; untouched: VerificationResult };
}

export const DEMO_GTIN = "09506000134352";

const signingOf = (m: SigningMember) => ({ signer: m.signer, address: m.address }) as RequestSigner & { address: string };

export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const { batchToken, signers, pharmacy } = opts;
  const log = opts.log ?? (() => undefined);
  const names = opts.names ?? {};
  const nameOf = (a: string) => names[ethers.getAddress(a)] ?? a;
  const units = opts.units ?? 1000;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const provider = batchToken.runner!.provider as Provider;
  const relay = new RelayClient(opts.serviceUrl);
  const { contracts } = await relay.domain();
  if (contracts.batchToken.toLowerCase() !== (await batchToken.getAddress()).toLowerCase()) {
    throw new Error(`the service at ${opts.serviceUrl} relays to BatchToken ${contracts.batchToken}, not to this network's ${await batchToken.getAddress()}: point the demo at the service of this chain`);
  }
  const now = Number((await provider.getBlock("latest"))!.timestamp);
  const lot = opts.lot ?? `DEMO-${now.toString(36).toUpperCase()}-${(await batchToken.batchCount()) + 1n}`;
  const refused: DemoResult["refused"] = [];
  const requests: DemoRequest[] = [];
  const step = (n: number, text: string) => log(`${String(n).padStart(2)}. ${text}`);

  /** Follows an accepted request to `mined`; a failure on chain stops the demo. */
  const follow = async (what: string, via: DemoRequest["via"], accepted: { id: string }): Promise<RequestStatus> => {
    const s = await relay.waitFor(accepted.id, { timeoutMs });
    if (s.state !== "mined" || s.success === false) throw new Error(`${what}: request ${accepted.id} ${s.state}${s.error ? ` (${s.error.name ?? s.error.code})` : ""}`);
    requests.push({ step: what, via, id: s.id, block: s.blockNumber! });
    log(`    ${via === "custodial" ? "custodial API key" : "signed request"} ${s.id.slice(0, 8)}… mined in block ${s.blockNumber} (tx ${s.txHash!.slice(0, 10)}…)`);
    return s;
  };
  const signedCall = async (what: string, by: SigningMember, data: string) => follow(what, "signed", await relay.send(signingOf(by), contracts.batchToken, data));
  const custodialCall = async (what: string, action: string, body: unknown) => follow(what, "custodial", await relay.custodial(action, pharmacy.apiKey, body));
  /** The relay simulates every request before it accepts it: a call the contract would refuse never gets queued. */
  const expectRefusal = async (action: string, attempt: () => Promise<unknown>) => {
    try {
      await attempt();
    } catch (err) {
      if (err instanceof RelayError && err.code === "CALL_REVERTED") {
        const name = (err.details as { error?: string } | undefined)?.error ?? "unknown";
        refused.push({ action, error: name });
        log(`    refused by the relay before it reached the chain (${err.status} ${err.code}): ${name}`);
        return;
      }
      throw err;
    }
    throw new Error(`${action} was accepted but must be refused`);
  };
  const eventsOf = async (txHash: string, name: string) => {
    const receipt = await provider.getTransactionReceipt(txHash);
    return receipt!.logs.map((l) => batchToken.interface.parseLog(l)).filter((p): p is ethers.LogDescription => p?.name === name);
  };
  /** Waits until the read service has indexed `block`: verification answers from the index. */
  const indexed = async (block: number) => {
    const until = Date.now() + timeoutMs;
    for (;;) {
      const res = await fetch(new URL("/v1/index/status", opts.serviceUrl));
      const s = (await res.json()) as { indexedBlock: number };
      if (s.indexedBlock >= block) return;
      if (Date.now() > until) throw new Error(`the read service indexed only up to block ${s.indexedBlock} after ${timeoutMs} ms, not ${block}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };
  const verify = async (serial: string): Promise<VerificationResult> => {
    const q = new URLSearchParams({ gtin: DEMO_GTIN, lot, serial, expiry: dayToGs1Date(expiryDay) });
    const res = await fetch(new URL(`/v1/verify?${q}`, opts.serviceUrl), { headers: { accept: "application/json" } });
    const body = (await res.json()) as VerificationResult & { error?: { code: string; message: string } };
    if (!res.ok) throw new Error(`verification of ${serial}: ${res.status} ${body.error?.code}: ${body.error?.message}`);
    return body;
  };

  // 1. Mint 1,000 packs in cases of 50 and pallets of 5 cases, signed by the producer; then the
  //    producer uploads the serial list it committed to.
  const layout: Layout = { units, unitsPerCase: 50, casesPerPallet: 5 };
  const serials = Array.from({ length: units }, (_, i) => `SN${now.toString(36).toUpperCase()}${String(i).padStart(6, "0")}`);
  const tree = buildSerialTree(serials);
  const packing = assignSsccs(layout, "9506000", Number(BigInt(now) % 10_000_000n) * 10);
  const packingTree = StandardMerkleTree.of(packingValues(packing), [...PACKING_TREE_TYPES]);
  const expiryDay = dayNumberOf(new Date(now * 1000)) + 730;
  const minted = await signedCall(
    "mint",
    signers.producer,
    calls.mintBatch({
      gtin: BigInt(DEMO_GTIN),
      lot,
      expiryDay,
      quantity: BigInt(units),
      serialsRoot: tree.root,
      serialCount: units,
      documentHash: ethers.id(`certificate of analysis ${lot}`),
      unitsPerCase: layout.unitsPerCase,
      casesPerPallet: layout.casesPerPallet,
      packingRoot: packingTree.root,
    }),
  );
  const batchId = (await eventsOf(minted.txHash!, "BatchMinted"))[0].args.batchId as bigint;
  step(1, `${nameOf(signers.producer.address)} minted batch #${batchId}: GTIN ${DEMO_GTIN}, lot ${lot}, expiry ${isoDate(expiryDay)}, ${units} serialised packs in ${packing.cases.length} cases of ${layout.unitsPerCase} on ${packing.pallets.length} pallets (serials root ${tree.root.slice(0, 10)}…, packing root ${packingTree.root.slice(0, 10)}…)`);
  const chainId = (await provider.getNetwork()).chainId;
  const message = serialUploadMessage({ chainId, batchToken: contracts.batchToken, batchId, root: tree.root, count: tree.count });
  const upload = await fetch(new URL(`/v1/batches/${batchId}/serials`, opts.serviceUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ serials, signature: await signers.producer.signer.signMessage(message) }),
  });
  if (upload.status !== 201) throw new Error(`serial list upload: ${upload.status} ${await upload.text()}`);
  log(`    uploaded the ${units} serials to the read service, signed by the producer (EIP-191); the service checked them against the on-chain root`);

  // A brand owner's product is the brand owner's: the producer cannot claim another company's GTIN.
  step(2, `${nameOf(signers.producer.address)} tries to register GTIN 04012345000009, under a company prefix it does not own`);
  await expectRefusal("register a foreign GTIN", () =>
    relay.send(signingOf(signers.producer), contracts.batchToken, calls.registerProduct(4012345000009n, ["DE"], ethers.id("someone else's product"))),
  );

  // 3. Two pallets to the distributor, by SSCC; the distributor accepts them.
  const ship = async (n: number, from: SigningMember, to: string, items: Item[], what: string): Promise<{ shipmentId: bigint; quantity: bigint }> => {
    const quantity = BigInt(items.reduce((q, i) => q + itemUnits(layout, i), 0));
    const s = await signedCall(`ship ${n}`, from, calls.ship(batchId, to, quantity, items, ethers.id(`despatch advice ${lot} ${n}`)));
    const shipmentId = (await eventsOf(s.txHash!, "ShipmentCreated"))[0].args.shipmentId as bigint;
    step(n, `${nameOf(from.address)} shipped ${what} (${quantity} packs) to ${nameOf(to)} (shipment ${shipmentId})`);
    return { shipmentId, quantity };
  };
  const palletsOut = [pallets(0, 2)];
  const toDistributor = await ship(3, signers.producer, signers.distributor.address, palletsOut, `pallets ${packing.pallets[0]} and ${packing.pallets[1]}`);
  await signedCall("accept 3", signers.distributor, calls.acceptShipment(toDistributor.shipmentId, { batchId, sender: signers.producer.address, receiver: signers.distributor.address, quantity: toDistributor.quantity, kind: 0, items: palletsOut }));
  log(`    ${nameOf(signers.distributor.address)} scanned the pallet labels and accepted shipment ${toDistributor.shipmentId}`);

  // 4. A sealed case and two packs picked from another case, to the pharmacy, which accepts with its API key.
  const toPharmacyItems = [cases(0), packs(260), packs(261)];
  const toPharmacy = await ship(4, signers.distributor, pharmacy.address, toPharmacyItems, `case ${packing.cases[0]} and two packs picked from case ${packing.cases[5]} (pallet ${packing.pallets[1]} and case ${packing.cases[5]} opened on the way)`);
  const shipment = {
    batchId: batchId.toString(),
    sender: signers.distributor.address,
    receiver: pharmacy.address,
    quantity: toPharmacy.quantity.toString(),
    kind: "Forward",
    items: toPharmacyItems.map((i) => ({ kind: (["units", "case", "pallet"] as const)[i.kind], start: i.start, count: i.count })),
  };
  await custodialCall("accept 4", "accept", { shipmentId: toPharmacy.shipmentId.toString(), shipment });
  log(`    ${nameOf(pharmacy.address)} accepted shipment ${toPharmacy.shipmentId}`);

  // 5. Dispense three packs out of the case: the till scans each pack, the public verification
  //    returns its proof, and the pharmacy dispenses it with its API key.
  await indexed(requests.at(-1)!.block);
  const dispensed = [7, 8, 9].map((i) => serials[i]);
  for (const serial of dispensed) {
    const v = await verify(serial);
    if (v.verdict !== "genuine" || !v.proof) throw new Error(`pack ${serial} verified ${v.verdict} before dispensing`);
    await custodialCall(`dispense ${serial}`, "dispense", { batchId: batchId.toString(), unitIndex: String(v.proof.unitIndex), serial, proof: v.proof.siblings });
  }
  step(5, `${nameOf(pharmacy.address)} verified and dispensed 3 packs by serial: ${dispensed.join(", ")}`);

  // 6–8. What the ledger refuses a pharmacy: a forged serial, a clone, a pack it does not hold.
  step(6, `a pack with forged serial FORGED-0001 is presented for dispensing`);
  await expectRefusal("dispense forged serial", () =>
    relay.custodial("dispense", pharmacy.apiKey, { batchId: batchId.toString(), unitIndex: "10", serial: "FORGED-0001", proof: tree.proof(10) }),
  );
  step(7, `serial ${dispensed[0]} is presented a second time (a clone?)`);
  const again = tree.indexOfSerial(dispensed[0])!;
  await expectRefusal("dispense same serial twice", () =>
    relay.custodial("dispense", pharmacy.apiKey, { batchId: batchId.toString(), unitIndex: String(again), serial: dispensed[0], proof: tree.proof(again) }),
  );
  const elsewhere = 900; // still on a pallet at the producer
  step(8, `${nameOf(pharmacy.address)} tries to dispense serial ${serials[elsewhere]}, a pack still at the producer (with the proof the portal hands out)`);
  await expectRefusal("dispense a pack held elsewhere", () =>
    relay.custodial("dispense", pharmacy.apiKey, { batchId: batchId.toString(), unitIndex: String(elsewhere), serial: serials[elsewhere], proof: tree.proof(elsewhere) }),
  );

  // 9. A pack goes missing at the distributor: reported stolen, it verifies as stolen.
  const stolenUnit = 300;
  const reported = await signedCall("report stolen", signers.distributor, calls.decommission(batchId, [packs(stolenUnit)], "Stolen", ethers.id(`police report ${lot}`)));
  step(9, `${nameOf(signers.distributor.address)} reported pack ${serials[stolenUnit]} stolen`);
  await indexed(reported.blockNumber!);
  const stolenVerdict = await verify(serials[stolenUnit]);
  log(`    the portal now says of it: "${stolenVerdict.headline}"`);

  // 10–11. Quarantine, then recall, signed by the regulator of the batch's market.
  await signedCall("quarantine", signers.regulator, calls.quarantine(batchId, ethers.id("suspected contamination report")));
  step(10, `${nameOf(signers.regulator.address)} quarantined the batch`);
  const recalled = await signedCall("recall", signers.regulator, calls.recall(batchId, ethers.id("contamination confirmed")));
  step(11, `${nameOf(signers.regulator.address)} recalled the batch (final)`);

  // 12. Forward custody after the recall is refused.
  step(12, `${nameOf(signers.distributor.address)} tries to ship case ${packing.cases[1]} to ${nameOf(pharmacy.address)}`);
  await expectRefusal("ship after recall", () => relay.send(signingOf(signers.distributor), contracts.batchToken, calls.ship(batchId, pharmacy.address, 50n, [cases(1)], ethers.id("late despatch"))));

  // 13. History from events alone, for the batch and for one pack.
  const events = await fetchLedgerEvents(provider, contracts.batchToken, { fromBlock: requests[0].block, batchId });
  const history = events.map((e) => `block ${e.blockNumber}  ${describeEvent(e, nameOf)}  (tx ${e.txHash.slice(0, 10)}…#${e.logIndex})`);
  const state = replayBatch(batchId.toString(), events);
  log(`\nCustody history of batch #${batchId} rebuilt from ${events.length} events:`);
  for (const line of history) log(`  ${line}`);
  const packUnit = tree.indexOfSerial(dispensed[0])!;
  const packHistory = packEvents(events, layout, packUnit).map((e) => `block ${e.blockNumber}  ${describeEvent(e, nameOf)}`);
  const where = state.packs!.containersOf(packUnit);
  log(`\nHistory of pack ${dispensed[0]} (unit ${packUnit}, case ${packing.cases[where.case!]}, pallet ${packing.pallets[where.pallet!]}):`);
  for (const line of packHistory) log(`  ${line}`);
  log(`\nHolders from events: ${[...state.holders].map(([a, q]) => `${nameOf(a)} ${q}`).join(", ")}; in transit ${inTransit(state)}; dispensed ${state.dispensed}; stolen ${state.decommissioned.Stolen}; status ${state.status}`);
  log(`Conservation (minted = held + in transit + out of circulation; each member's packs = its balance): ${isConserved(state) ? "holds" : "BROKEN"}`);

  // 14. What the portal now says: the verification answers from the index, once it has the recall.
  await indexed(recalled.blockNumber!);
  const untouchedSerial = serials[units - 1];
  const verdicts = { dispensed: await verify(dispensed[0]), untouched: await verify(untouchedSerial) };

  const balance = (a: string) => batchToken.balanceOf(a, batchId);
  return {
    batchId,
    gtin: DEMO_GTIN,
    lot,
    expiry: dayToGs1Date(expiryDay),
    layout,
    ssccs: { pallets: packing.pallets.slice(0, 2), case: packing.cases[0] },
    stolen: { serial: serials[stolenUnit], verdict: stolenVerdict },
    packHistory,
    balances: { producer: await balance(signers.producer.address), distributor: await balance(signers.distributor.address), pharmacy: await balance(pharmacy.address) },
    dispensedSerials: dispensed,
    untouchedSerial,
    refused,
    requests,
    status: Number((await batchToken.batch(batchId)).status),
    history,
    conserved: isConserved(state),
    verdicts,
  };
}

/** The lines `npm run demo` ends with: what to type into the portal, and what it will say. */
export function portalHints(result: DemoResult, portalUrl: string): string[] {
  const code = (serial: string) => toBracketed({ gtin: result.gtin, lot: result.lot, serial, expiry: result.expiry });
  const line = (what: string, serial: string, v: VerificationResult) =>
    `  ${what}: ${code(serial)}\n    → "${v.headline}"${v.dispensedOn ? `, dispensed on ${v.dispensedOn}` : ""}`;
  return [
    `Try it in the portal (${portalUrl}):`,
    line("a pack the pharmacy dispensed, then recalled", result.dispensedSerials[0], result.verdicts.dispensed),
    line("a pack still at the producer, recalled with its batch", result.untouchedSerial, result.verdicts.untouched),
    `  the pack reported stolen: ${code(result.stolen.serial)}\n    → "${result.stolen.verdict.headline}" when it was reported; the recall now comes first`,
  ];
}
