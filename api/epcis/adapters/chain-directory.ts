import type { Consortium } from "../../../typechain-types";
import { ROLE_NAMES } from "../../domain/ledger-enums";
import type { MemberDirectory, MemberFacts } from "../ports";

/**
 * The member register read from the Consortium contract, cached for `cacheMs` (roles and
 * statuses change by governance, rarely). GLN → account is learnt by listing the register
 * (memberCount, accountAt), again at most once per `cacheMs` when a GLN is not found.
 */
export class ChainMemberDirectory implements MemberDirectory {
  private readonly cache = new Map<string, { facts: MemberFacts | undefined; at: number }>();
  private readonly glns = new Map<string, string>();
  private readonly byGln = new Map<string, string>();
  private listedAt = 0;

  constructor(
    private readonly consortium: Consortium,
    private readonly cacheMs = 5_000,
  ) {}

  async member(account: string): Promise<MemberFacts | undefined> {
    const key = account.toLowerCase();
    const hit = this.cache.get(key);
    if (hit && Date.now() - hit.at < this.cacheMs) return hit.facts;
    const m = await this.consortium.member(account);
    const role = ROLE_NAMES[Number(m.role)] ?? "None";
    const status = Number(m.status);
    let facts: MemberFacts | undefined;
    if (status !== 0) {
      const gln = m.gln === 0n ? undefined : m.gln.toString().padStart(13, "0");
      const jurisdiction = Buffer.from(m.jurisdiction.slice(2), "hex").toString("utf8");
      facts = { account, role, active: status === 1 && Number(m.licenceExpiry) > Date.now() / 1000, jurisdiction, gln };
      if (gln) {
        this.glns.set(key, gln);
        this.byGln.set(gln, account);
      }
    }
    this.cache.set(key, { facts, at: Date.now() });
    return facts;
  }

  async accountOfGln(gln: string): Promise<string | undefined> {
    const known = this.byGln.get(gln);
    if (known) return known;
    if (Date.now() - this.listedAt < this.cacheMs) return undefined;
    this.listedAt = Date.now();
    const n = Number(await this.consortium.memberCount());
    for (let i = 1; i <= n; i++) {
      const account = await this.consortium.accountAt(i);
      if (!this.glns.has(account.toLowerCase())) await this.member(account);
    }
    return this.byGln.get(gln);
  }

  knownGln(account: string): string | undefined {
    return this.glns.get(account.toLowerCase());
  }
}
