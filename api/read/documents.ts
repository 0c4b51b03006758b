import type Database from "better-sqlite3";
import { getAddress, isAddress, verifyMessage } from "ethers";
import { ZodError } from "zod";
import { ApiError } from "../errors";
import {
  bizTransactionProblems,
  bizTransactionsReferenceHash,
  parseBizTransactions,
  type BizTransaction,
} from "../domain/biz-transactions";
import {
  canonicalProductMasterData,
  partyMasterDataHash,
  partyMasterDataSchema,
  productMasterDataHash,
  productMasterDataSchema,
  type PartyMasterData,
  type ProductMasterData,
} from "../domain/master-data";
import type { IndexStore } from "./store";

/**
 * The documents the chain only commits to, kept by the read side so EPCIS headers and DSCSA files
 * carry them: a product's master data (its hash is the product's on-chain `masterDataHash`), a
 * member's party master data (name and address for its GLN), and a shipment's business
 * transactions (their canonical hash is the shipment's on-chain `referenceHash`).
 *
 * Every upload is signed (EIP-191) by the party that owns the fact — the product's owner, the
 * member itself, the shipment's sender or receiver — with its account key or the key that signs for
 * the account now (register entry), over a message naming the chain, the BatchToken and the hash
 * of the document ({@link documentUploadMessage}). Product documents and business transactions
 * are also checked against the chain's commitment, so a stored document is always the one the
 * chain committed to; party data has no on-chain hash and rests on the member's signature alone.
 *
 * Stored by hash (products, business transactions): a chain reset or a product's master data
 * update leaves no stale answer behind, since the product's current on-chain hash picks the
 * document. Tables live in the index's SQLite file but are not index tables: a re-index keeps them.
 */

export type DocumentKind = "product master data" | "party master data" | "business transactions";

/** The text a party signs (EIP-191) to upload one document. */
export function documentUploadMessage(p: { kind: DocumentKind; chainId: bigint | number; batchToken: string; subject: string; hash: string }): string {
  return [`medtrace: upload the ${p.kind} of ${p.subject}`, `chain: ${p.chainId}`, `batch token: ${p.batchToken.toLowerCase()}`, `document hash: ${p.hash.toLowerCase()}`].join("\n");
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS doc_product_master_data (
  hash TEXT PRIMARY KEY,
  gtin TEXT NOT NULL,
  document TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS doc_party_master_data (
  account TEXT PRIMARY KEY,
  gln TEXT NOT NULL,
  hash TEXT NOT NULL,
  document TEXT NOT NULL,
  prefix_length INTEGER,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS doc_party_by_gln ON doc_party_master_data (gln, uploaded_at);
CREATE TABLE IF NOT EXISTS doc_biz_transactions (
  reference_hash TEXT PRIMARY KEY,
  list TEXT NOT NULL,
  uploaded_by TEXT NOT NULL,
  uploaded_at INTEGER NOT NULL
) WITHOUT ROWID;
`;

export interface DocumentStoreOptions {
  chainId: bigint | number;
  batchToken: string;
}

type Row = Record<string, unknown>;

export class DocumentStore {
  private readonly db: Database.Database;
  private readonly s: Record<"getProduct" | "putProduct" | "getParty" | "getPartyByGln" | "putParty" | "getBt" | "putBt" | "shipment", Database.Statement>;
  /** Cache: master data are read for every exported event header. */
  private readonly products = new Map<string, ProductMasterData | null>();
  private readonly parties = new Map<string, { doc: PartyMasterData; prefixLength: number | null } | null>();

  constructor(
    private readonly index: IndexStore,
    private readonly o: DocumentStoreOptions,
  ) {
    this.db = index.db;
    this.db.exec(SCHEMA);
    // ShipmentCreated by shipment id: a partial expression index over the index's event table.
    this.db.exec(`CREATE INDEX IF NOT EXISTS events_shipment_created ON events (json_extract(args, '$.shipmentId')) WHERE name = 'ShipmentCreated'`);
    const p = (sql: string) => this.db.prepare(sql);
    this.s = {
      getProduct: p("SELECT document FROM doc_product_master_data WHERE hash = ?"),
      putProduct: p("INSERT OR REPLACE INTO doc_product_master_data (hash, gtin, document, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?)"),
      getParty: p("SELECT document, prefix_length FROM doc_party_master_data WHERE account = ?"),
      getPartyByGln: p("SELECT account FROM doc_party_master_data WHERE gln = ? ORDER BY uploaded_at DESC"),
      putParty: p("INSERT OR REPLACE INTO doc_party_master_data (account, gln, hash, document, prefix_length, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?, ?, ?, ?)"),
      getBt: p("SELECT list FROM doc_biz_transactions WHERE reference_hash = ?"),
      putBt: p("INSERT OR REPLACE INTO doc_biz_transactions (reference_hash, list, uploaded_by, uploaded_at) VALUES (?, ?, ?, ?)"),
      shipment: p(
        `SELECT block_number, log_index, tx_hash, block_time, name, batch_id, args FROM events
         WHERE name = 'ShipmentCreated' AND json_extract(args, '$.shipmentId') = ? LIMIT 1`,
      ),
    };
  }

  // ── Reads ──

  /** The product's master data, if uploaded and matching the product's on-chain hash now. */
  productMasterData(gtin: string): ProductMasterData | undefined {
    const hash = this.index.product(gtin)?.masterDataHash?.toLowerCase();
    if (!hash) return undefined;
    if (!this.products.has(hash)) {
      const r = this.s.getProduct.get(hash) as Row | undefined;
      this.products.set(hash, r ? (JSON.parse(String(r.document)) as ProductMasterData) : null);
    }
    return this.products.get(hash) ?? undefined;
  }

  /** A party's master data by GLN: that of the member whose register GLN it is now. */
  partyMasterData(gln: string): PartyMasterData | undefined {
    return this.partyEntry(gln)?.doc;
  }

  /** The GS1 Company Prefix length the party declared for its GLN. */
  partyPrefixLength(gln: string): number | undefined {
    return this.partyEntry(gln)?.prefixLength ?? undefined;
  }

  private partyEntry(gln: string): { doc: PartyMasterData; prefixLength: number | null } | undefined {
    if (!this.parties.has(gln)) {
      let found: { doc: PartyMasterData; prefixLength: number | null } | null = null;
      for (const r of this.s.getPartyByGln.all(gln) as Row[]) {
        const account = String(r.account);
        if (this.index.member(account)?.gln !== gln) continue; // the GLN moved to another member since
        const row = this.s.getParty.get(account) as Row;
        found = { doc: JSON.parse(String(row.document)) as PartyMasterData, prefixLength: row.prefix_length === null ? null : Number(row.prefix_length) };
        break;
      }
      this.parties.set(gln, found);
    }
    return this.parties.get(gln) ?? undefined;
  }

  bizTransactions(referenceHash: string): BizTransaction[] | undefined {
    const r = this.s.getBt.get(referenceHash.toLowerCase()) as Row | undefined;
    return r ? (JSON.parse(String(r.list)) as BizTransaction[]) : undefined;
  }

  /** The ShipmentCreated event of a shipment (open or not), from the index. */
  shipmentCreated(shipmentId: string): Row | undefined {
    return this.s.shipment.get(shipmentId) as Row | undefined;
  }

  /** Forgets cached reads (after a register change or a chain reset). */
  clearCache(): void {
    this.products.clear();
    this.parties.clear();
  }

  // ── Uploads ──

  private message(kind: DocumentKind, subject: string, hash: string) {
    return documentUploadMessage({ kind, chainId: this.o.chainId, batchToken: this.o.batchToken, subject, hash });
  }

  /** Who signed `message`, if it is `account` itself or the key that signs for it now; else a 403. */
  private checkSigner(message: string, signature: unknown, accounts: readonly string[], who: string): string {
    if (typeof signature !== "string" || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
      throw new ApiError(400, "SIGNATURE_MISSING", "the upload needs `signature`: 65 bytes as 0x-hex (EIP-191 over the message in details.message)", "sign details.message with personal_sign / signMessage", { message });
    }
    let signer: string;
    try {
      signer = verifyMessage(message, signature).toLowerCase();
    } catch {
      throw new ApiError(400, "SIGNATURE_INVALID", "the signature does not recover to any address", "sign details.message with personal_sign / signMessage", { message });
    }
    const allowed = new Set<string>();
    for (const a of accounts) {
      allowed.add(a.toLowerCase());
      const key = this.index.member(a)?.key;
      if (key && !/^0x0{40}$/i.test(key)) allowed.add(key.toLowerCase());
    }
    if (!allowed.has(signer)) {
      throw new ApiError(403, "SIGNATURE_NOT_OWNER", `the upload is signed by ${signer}, not by ${who}`, `${who} signs the message in details.message (EIP-191)`, { message });
    }
    return signer;
  }

  private static invalid(code: string, err: ZodError, hint: string): ApiError {
    const first = err.issues[0]!;
    return new ApiError(400, code, `document${first.path.length ? "." + first.path.join(".") : ""}: ${first.message}`, hint, {
      issues: err.issues.map((i) => ({ path: i.path.join("."), message: i.message })),
    });
  }

  /** Stores a product's master data: valid, hashing to the product's on-chain hash, signed by its owner. */
  putProductMasterData(gtin: string, body: { document?: unknown; signature?: unknown }): { gtin: string; masterDataHash: string; signer: string } {
    const product = this.index.product(gtin);
    if (!product) throw new ApiError(404, "PRODUCT_NOT_FOUND", `no product ${gtin} is registered (or the index has not seen it yet)`, "register the product on chain first (product:register), then upload its master data");
    const parsed = productMasterDataSchema.safeParse(body.document);
    if (!parsed.success) throw DocumentStore.invalid("MASTER_DATA_INVALID", parsed.error, "send the product master data document as api/domain/master-data.ts describes it");
    if (parsed.data.gtin !== gtin) throw new ApiError(400, "MASTER_DATA_GTIN_MISMATCH", `the document is about GTIN ${parsed.data.gtin}, the URL names ${gtin}`, "upload a product's document under its own GTIN");
    const hash = productMasterDataHash(parsed.data).toLowerCase();
    if (hash !== product.masterDataHash.toLowerCase()) {
      throw new ApiError(409, "MASTER_DATA_HASH_MISMATCH", `the document hashes to ${hash}, the product's on-chain masterDataHash is ${product.masterDataHash}`, "upload the document whose canonical JSON the product registered (or update the product's hash on chain first)", { hash, onChain: product.masterDataHash });
    }
    const signer = this.checkSigner(this.message("product master data", `GTIN ${gtin}`, hash), body.signature, [product.owner], `the product's owner ${product.owner}`);
    this.s.putProduct.run(hash, gtin, canonicalProductMasterData(parsed.data), signer, Math.floor(Date.now() / 1000));
    this.products.delete(hash);
    return { gtin, masterDataHash: hash, signer };
  }

  /** Stores a member's party master data: valid, for the member's register GLN, signed by the member. */
  putPartyMasterData(account: string, body: { document?: unknown; companyPrefixLength?: unknown; signature?: unknown }): { account: string; gln: string; hash: string; signer: string } {
    const member = this.index.member(account) ?? (isAddress(account) ? (this.index.member(getAddress(account)) ?? this.index.member(account.toLowerCase())) : undefined);
    if (!member) throw new ApiError(404, "MEMBER_NOT_FOUND", `${account} is not a member the index knows`, "check the address (GET /v1/members)");
    if (!member.gln) throw new ApiError(409, "MEMBER_HAS_NO_GLN", `member ${account} has no GLN in the register`, "governance sets the member's GLN first");
    const parsed = partyMasterDataSchema.safeParse(body.document);
    if (!parsed.success) throw DocumentStore.invalid("MASTER_DATA_INVALID", parsed.error, "send { gln, name, address: { streetAddressOne, city, postalCode, countryCode, … } }");
    if (parsed.data.gln !== member.gln) throw new ApiError(400, "MASTER_DATA_GLN_MISMATCH", `the document is about GLN ${parsed.data.gln}, the member's register GLN is ${member.gln}`, "describe the member's own GLN");
    const pl = body.companyPrefixLength;
    if (pl !== undefined && (typeof pl !== "number" || !Number.isInteger(pl) || pl < 6 || pl > 12)) {
      throw new ApiError(400, "PREFIX_LENGTH_INVALID", "companyPrefixLength is the length of the GS1 Company Prefix in the GLN: an integer from 6 to 12", "leave it out when the GLN falls under a registered product prefix");
    }
    const hash = partyMasterDataHash(parsed.data).toLowerCase();
    const signer = this.checkSigner(this.message("party master data", `GLN ${member.gln}`, hash), body.signature, [member.address], `member ${member.address}`);
    this.s.putParty.run(member.address, member.gln, hash, JSON.stringify(parsed.data), (pl as number | undefined) ?? null, signer, Math.floor(Date.now() / 1000));
    this.parties.clear();
    return { account: member.address, gln: member.gln, hash, signer };
  }

  /** Stores a shipment's business transactions: valid, hashing to its on-chain referenceHash, signed by its sender or receiver. */
  putBizTransactions(shipmentId: string, body: { bizTransactions?: unknown; signature?: unknown }): { shipmentId: string; referenceHash: string; bizTransactions: BizTransaction[]; signer: string } {
    const row = this.shipmentCreated(shipmentId);
    if (!row) throw new ApiError(404, "SHIPMENT_NOT_FOUND", `no shipment ${shipmentId} in the index`, "check the shipment id (GET /v1/members/{address}/pending) or wait for the index to reach its block");
    const args = JSON.parse(String(row.args)) as Record<string, string>;
    const problems = bizTransactionProblems(body.bizTransactions);
    if (problems.length > 0) {
      const p = problems[0]!;
      throw new ApiError(400, p.code, `bizTransactions${p.path.length ? "." + p.path.join(".") : ""}: ${p.message}`, p.hint, { problems });
    }
    const list = parseBizTransactions(body.bizTransactions);
    const hash = bizTransactionsReferenceHash(list).toLowerCase();
    if (hash !== String(args.referenceHash).toLowerCase()) {
      throw new ApiError(409, "BT_REFERENCE_MISMATCH", `the documents hash to ${hash}, shipment ${shipmentId} committed to ${args.referenceHash}`, "send exactly the documents the shipment was created with (biz-transactions.ts: canonical form)", { hash, onChain: args.referenceHash });
    }
    const signer = this.checkSigner(this.message("business transactions", `shipment ${shipmentId}`, hash), body.signature, [args.sender!, args.receiver!], `the shipment's sender ${args.sender} or receiver ${args.receiver}`);
    this.s.putBt.run(hash, JSON.stringify(list), signer, Math.floor(Date.now() / 1000));
    return { shipmentId, referenceHash: hash, bizTransactions: list, signer };
  }

  /** Stores documents already proven by their hash (e.g. captured through the EPCIS binding, whose planner hashed them into the shipment). */
  rememberBizTransactions(referenceHash: string, list: readonly BizTransaction[], by: string): void {
    if (bizTransactionsReferenceHash(list).toLowerCase() !== referenceHash.toLowerCase()) return;
    if (this.s.getBt.get(referenceHash.toLowerCase())) return;
    this.s.putBt.run(referenceHash.toLowerCase(), JSON.stringify(list), by.toLowerCase(), Math.floor(Date.now() / 1000));
  }
}
