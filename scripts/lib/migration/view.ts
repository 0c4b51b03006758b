import type { Log, Provider } from "ethers";
import { decodeLedgerLog, LEDGER_TOPICS } from "../../../api/chain/logs";
import { itemsOf, type LedgerEvent } from "../../../api/domain/ledger-events";
import { decodeConsortiumLog, getLogsPaged, type ConsortiumEvent } from "./chain-events";
import { itemsKey } from "./steps";
import type { Item } from "../../../api/domain/packing";

/**
 * What the new ledger already shows, from its events: one key per recognisable member action
 * (counted), the batches by GTIN and lot, the shipments created (with the fields to accept
 * them), and the proposals with their approvals. A migration run reads it to skip what is done and
 * to find the ids the new System gave. Events are read once and then incrementally; a run also
 * feeds it the logs of its own receipts.
 */

export interface ShipmentRecord {
  shipmentId: bigint;
  shipment: { batchId: bigint; sender: string; receiver: string; quantity: bigint; kind: number; items: Item[] };
}

export interface ProposalRecord {
  id: bigint;
  target: string;
  action: string;
  expiresAt: number;
  executed: boolean;
  cancelled: boolean;
  approvals: Set<string>;
}

const gtin14 = (v: unknown) => String(v).padStart(14, "0");

export class LedgerView {
  private readonly counts = new Map<string, number>();
  private readonly shipments = new Map<string, ShipmentRecord[]>();
  private readonly batchIds = new Map<string, string>();
  private readonly proposals = new Map<string, ProposalRecord>();
  private readonly proposalsByAction = new Map<string, ProposalRecord[]>();
  private readonly seen = new Set<string>();
  private nextBlock: number;
  /** Unix seconds of the latest block read (proposal expiry is judged against it). */
  now = 0;

  constructor(
    readonly provider: Provider,
    readonly addresses: { consortium: string; batchToken: string },
    fromBlock: number,
  ) {
    this.nextBlock = fromBlock;
  }

  /** Reads the events of the blocks mined since the last refresh. */
  async refresh(): Promise<void> {
    const latest = await this.provider.getBlock("latest");
    if (!latest) return;
    this.now = Number(latest.timestamp);
    if (latest.number < this.nextBlock) return;
    const consortium = await getLogsPaged(this.provider, this.addresses.consortium, this.nextBlock, latest.number);
    const token = await getLogsPaged(this.provider, this.addresses.batchToken, this.nextBlock, latest.number, 5_000, LEDGER_TOPICS);
    for (const log of [...consortium, ...token].sort((a, b) => a.blockNumber - b.blockNumber || a.index - b.index)) this.ingest(log);
    this.nextBlock = latest.number + 1;
  }

  /** Takes one log in (each log once, whether it comes from a refresh or from a receipt). */
  ingest(log: Log): void {
    const id = `${log.transactionHash}#${log.index}`;
    if (this.seen.has(id)) return;
    const address = log.address.toLowerCase();
    if (address === this.addresses.batchToken.toLowerCase()) {
      const e = decodeLedgerLog(log, 0);
      if (!e) return;
      this.seen.add(id);
      this.onLedger(e);
    } else if (address === this.addresses.consortium.toLowerCase()) {
      const e = decodeConsortiumLog(log);
      if (!e) return;
      this.seen.add(id);
      this.onConsortium(e);
    }
  }

  /** How many times the ledger shows `key`. */
  count(key: string): number {
    return this.counts.get(key) ?? 0;
  }

  /** The new id of batch (GTIN, lot), once minted. */
  batchId(gtin: string, lot: string): string | undefined {
    return this.batchIds.get(`${gtin}|${lot}`);
  }

  /** The `occurrence`-th shipment created with this key. */
  shipment(key: string, occurrence: number): ShipmentRecord | undefined {
    return this.shipments.get(key)?.[occurrence - 1];
  }

  /** Proposals of this exact call, oldest first. */
  proposalsFor(target: string, action: string): ProposalRecord[] {
    return this.proposalsByAction.get(`${target.toLowerCase()}|${action.toLowerCase()}`) ?? [];
  }

  private bump(key: string): void {
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
  }

  private onLedger(e: LedgerEvent): void {
    const a = e.args;
    const b = e.batchId;
    switch (e.name) {
      case "ProductRegistered":
        return this.bump(`product|${gtin14(a.gtin)}`);
      case "ProductUpdated":
        return this.bump(`productUpdated|${gtin14(a.gtin)}|${(a.markets as string[]).join(",")}|${a.masterDataHash}`);
      case "ProductStatusChanged":
        return this.bump(`productStatus|${gtin14(a.gtin)}|${a.status}|${a.reasonHash}`);
      case "PrefixLicenceChanged":
        return this.bump(`licence|${a.prefixKey}|${a.licensee}|${a.granted}`);
      case "BatchMinted":
        this.batchIds.set(`${gtin14(a.gtin)}|${a.lot}`, b);
        return this.bump(`minted|${gtin14(a.gtin)}|${a.lot}`);
      case "ShipmentCreated": {
        const items = itemsOf(e);
        const key = `shipped|${b}|${a.sender}|${a.receiver}|${a.quantity}|${itemsKey(items)}|${a.referenceHash}`;
        const list = this.shipments.get(key) ?? [];
        list.push({
          shipmentId: BigInt(String(a.shipmentId)),
          shipment: { batchId: BigInt(b), sender: String(a.sender), receiver: String(a.receiver), quantity: BigInt(String(a.quantity)), kind: Number(a.kind), items },
        });
        this.shipments.set(key, list);
        return this.bump(key);
      }
      case "ShipmentAccepted":
        return this.bump(`accepted|${a.shipmentId}`);
      case "ContainerUnpacked":
        return this.bump(`unpacked|${b}|${a.holder}|${a.kind}:${a.index}`);
      case "UnitDispensed":
        return this.bump(`dispensed|${b}|${a.unitIndex}`);
      case "PacksDecommissioned":
        return this.bump(`decommissioned|${b}|${a.holder}|${a.state}|${itemsKey(itemsOf(e))}|${a.evidenceHash}`);
      case "PacksLocked":
        return this.bump(`locked|${b}|${a.holder}|${itemsKey(itemsOf(e))}|${a.reasonHash}`);
      case "UnitsWrittenOff":
        return this.bump(`writtenOff|${b}|${a.holder}|${a.reason}|${a.quantity}|${a.evidenceHash}`);
      case "BatchQuarantined":
        return this.bump(`quarantined|${b}|${a.regulator}|${a.reasonHash}`);
      case "BatchRecalled":
        return this.bump(`recalled|${b}|${a.by}|${a.reasonHash}`);
      case "SafetyNoticeIssued":
        return this.bump(`notice|${b}|${a.regulator}|${a.noticeHash}`);
      default:
        return;
    }
  }

  private onConsortium(e: ConsortiumEvent): void {
    const a = e.args;
    const p = this.proposals.get(String(a.proposalId));
    switch (e.name) {
      case "MemberSuspended":
        return this.bump(`suspended|${a.account}|${a.by}|${a.reasonHash}`);
      case "ProposalCreated": {
        const record: ProposalRecord = { id: BigInt(String(a.proposalId)), target: String(a.target), action: String(a.action), expiresAt: Number(a.expiresAt), executed: false, cancelled: false, approvals: new Set() };
        this.proposals.set(String(a.proposalId), record);
        const key = `${record.target.toLowerCase()}|${record.action.toLowerCase()}`;
        this.proposalsByAction.set(key, [...(this.proposalsByAction.get(key) ?? []), record]);
        return;
      }
      case "ProposalApproved":
        p?.approvals.add(String(a.governor));
        return;
      case "ProposalApprovalWithdrawn":
        p?.approvals.delete(String(a.governor));
        return;
      case "ProposalCancelled":
        if (p) p.cancelled = true;
        return;
      case "ProposalExecuted":
        if (p) p.executed = true;
        return;
      default:
        return;
    }
  }
}
