import { createHash } from 'node:crypto';
import { bizTransactionsReferenceHash, unresolvedReferenceUri, type BizTransaction } from '../domain/biz-transactions';
import { sglnUrn, sgtinPatternUrn, sgtinUrn, pglnUrn, ssccUrn } from '../domain/epc-urn';
import type { BatchInfo, EpcisContext } from '../domain/epcis';
import { isGln, isGtin14, isoDate } from '../domain/gs1';
import { itemsOf, type ItemArg, type LedgerEvent } from '../domain/ledger-events';
import { MDA, ndc11, ndcDigitsFromGtin, type MasterDataSource, type PartyMasterData, type ProductMasterData } from '../domain/master-data';
import { ITEM_KIND, caseCount, unitRange, type Layout } from '../domain/packing';
import { el, xmlDocument, type XmlElement } from './xml';

/**
 * The DSCSA shipment file: for a shipment to a US trading partner, the Transaction Information
 * (TI) and Transaction Statement (TS) as an EPCIS 1.2 XML document with the Standard Business
 * Document Header, as the GS1 US Healthcare guideline for DSCSA lays it out (README.md beside this
 * file). Pure: facts in, XML out, or a {@link DscsaError} listing everything that is missing.
 */

/** A shipment as ShipmentCreated recorded it, with the block time. */
export interface DscsaShipment {
  batchId: string;
  shipmentId: string;
  sender: string;
  receiver: string;
  /** 0/"Forward" or 1/"Return". */
  kind: number | string;
  items: ItemArg[];
  quantity: string;
  referenceHash: string;
  /** Unix seconds of the ShipmentCreated block: the shipment date. */
  shippedAt: number;
  /** The transaction that created the shipment (written as a `ledger:txHash` extension). */
  txHash?: string;
}

/** The shipment facts of a ShipmentCreated event. */
export function dscsaShipmentFromEvent(e: LedgerEvent): DscsaShipment {
  if (e.name !== 'ShipmentCreated') throw new DscsaError([{ code: 'DSCSA_NOT_A_SHIPMENT', message: `${e.name} is not a ShipmentCreated event`, hint: 'pass the ShipmentCreated event of the shipment' }]);
  const a = e.args;
  return {
    batchId: e.batchId,
    shipmentId: String(a.shipmentId),
    sender: String(a.sender),
    receiver: String(a.receiver),
    kind: Number(a.kind),
    items: itemsOf(e),
    quantity: String(a.quantity),
    referenceHash: String(a.referenceHash),
    shippedAt: e.blockTime,
    txHash: e.txHash,
  };
}

/** What the file needs beyond the EPCIS context: master data and company prefix lengths, both required. */
export interface DscsaContext extends EpcisContext {
  masterData: MasterDataSource;
  prefixLengthOf(key: string): number | undefined;
}

export interface DscsaOptions {
  /** Document creation time (default: now). */
  creationDate?: Date | string;
  /** SBDH InstanceIdentifier (default: a UUID derived from the batch and shipment ids, so a regenerated file keeps its id). */
  instanceIdentifier?: string;
  /** Parties in source/destination lists as SGLN (the guideline's R1.2 examples, default) or PGLN (CBV 1.2+). */
  partyIdentifier?: 'sgln' | 'pgln';
  /** The TS legal notice (default {@link DEFAULT_LEGAL_NOTICE}). */
  legalNotice?: string;
  /** IRI of the `ledger:` extension elements (default as the EPCIS 2.0 export). */
  ledgerNamespace?: string;
}

/** The statement of FD&C Act section 581(27): the seller affirms it. */
export const DEFAULT_LEGAL_NOTICE = 'Seller has complied with each applicable subsection of FDCA Sec. 581(27)(A)-(G).';
export const GS1US_HC_NAMESPACE = 'http://epcis.gs1us.org/hc/ns';

export type DscsaErrorCode =
  | 'DSCSA_NOT_A_SHIPMENT'
  | 'DSCSA_RETURN_SHIPMENT'
  | 'DSCSA_UNKNOWN_BATCH'
  | 'DSCSA_NOT_SERIALISED'
  | 'DSCSA_UNKNOWN_LAYOUT'
  | 'DSCSA_NO_SERIAL'
  | 'DSCSA_NO_COMMISSIONING_TIME'
  | 'DSCSA_NO_PRODUCT_MASTER_DATA'
  | 'DSCSA_PRODUCT_INCOMPLETE'
  | 'DSCSA_NO_NDC'
  | 'DSCSA_NO_GLN'
  | 'DSCSA_NO_PARTY_MASTER_DATA'
  | 'DSCSA_NOT_US_PARTNER'
  | 'DSCSA_NO_PREFIX_LENGTH'
  | 'DSCSA_BIZ_TRANSACTIONS_MISMATCH';

export interface DscsaProblem {
  code: DscsaErrorCode;
  message: string;
  hint: string;
}

export class DscsaError extends Error {
  override readonly name = 'DscsaError';
  readonly code: DscsaErrorCode;
  constructor(readonly problems: DscsaProblem[]) {
    super(problems.map((p) => `${p.code}: ${p.message} (${p.hint})`).join('; '));
    this.code = problems[0]!.code;
  }
}

const CBV = {
  bizStep: (s: string) => `urn:epcglobal:cbv:bizstep:${s}`,
  disp: (s: string) => `urn:epcglobal:cbv:disp:${s}`,
  btt: (s: string) => `urn:epcglobal:cbv:btt:${s}`,
  sdt: (s: string) => `urn:epcglobal:cbv:sdt:${s}`,
};
const iso = (unixSeconds: number) => new Date(unixSeconds * 1000).toISOString();

/** A deterministic UUID (RFC 4122 layout, version 5-like bits) from a name. */
function uuidFrom(name: string): string {
  const h = createHash('sha256').update(name).digest();
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

/**
 * The DSCSA shipment file (EPCIS 1.2 XML) of a forward shipment to a US trading partner:
 *  - SBDH: sender and receiver as SGLN URNs, document id, creation time;
 *  - header master data: the product (EPCClass `urn:epc:idpat:sgtin:…`: NDC-11, name, manufacturer,
 *    dosage form, strength, container size) and the seller's and buyer's locations (name, address);
 *  - the Transaction Statement (`gs1ushc:dscsaTransactionStatement`);
 *  - events: commissioning of the shipped packs with lot and expiry (ILMD) and of the shipped cases
 *    and pallets, packing of those containers, and the shipping event (seller → buyer, SSCCs and
 *    loose packs, business transactions, owning party and location of both sides).
 * Throws a {@link DscsaError} with every problem found when a fact is missing.
 */
export function toDscsaShipmentXml(shipment: DscsaShipment, ctx: DscsaContext, options: DscsaOptions = {}): string {
  const problems: DscsaProblem[] = [];
  const fail = (code: DscsaErrorCode, message: string, hint: string) => problems.push({ code, message, hint });
  const bail = () => {
    if (problems.length > 0) throw new DscsaError(problems);
  };

  if (shipment.kind === 1 || shipment.kind === '1' || shipment.kind === 'Return') {
    fail('DSCSA_RETURN_SHIPMENT', `shipment ${shipment.shipmentId} is a return`, 'returns to the seller carry no new transaction information; produce the file for forward (sale) shipments');
  }
  const info: BatchInfo | undefined = typeof ctx.batches === 'function' ? ctx.batches(shipment.batchId) : ctx.batches[shipment.batchId];
  if (!info) {
    fail('DSCSA_UNKNOWN_BATCH', `batch ${shipment.batchId} is not in the context`, 'pass its GTIN, lot, expiry, layout and mint time in batches()');
    bail();
  }
  const batch = info!;
  const gtin = String(batch.gtin).padStart(14, '0');
  if (!isGtin14(gtin)) fail('DSCSA_UNKNOWN_BATCH', `batch ${shipment.batchId} has GTIN '${String(batch.gtin)}'`, 'the batch context needs a valid GTIN-14');
  if (batch.mintedAt === undefined) fail('DSCSA_NO_COMMISSIONING_TIME', `the mint time of batch ${shipment.batchId} is unknown`, 'pass mintedAt (unix seconds of BatchMinted) in the batch context');
  if (shipment.items.length === 0 || !batch.serialCount) {
    fail('DSCSA_NOT_SERIALISED', `batch ${shipment.batchId} has no serialised packs in this shipment`, 'DSCSA interoperable exchange is package level: ship a serialised batch by items');
  }

  // Product master data, NDC.
  const product: ProductMasterData | undefined = ctx.masterData.product?.(gtin);
  if (!product) fail('DSCSA_NO_PRODUCT_MASTER_DATA', `no master data for GTIN ${gtin}`, 'register the product master data document (name, strength, dosage form, pack size, NDC) for this GTIN');
  else {
    const missing = (['strength', 'dosageForm', 'packSize'] as const).filter((k) => product[k] === undefined);
    if (missing.length > 0) fail('DSCSA_PRODUCT_INCOMPLETE', `the master data of GTIN ${gtin} has no ${missing.join(', ')}`, 'DSCSA transaction information needs the strength, dosage form and container size');
    if (product.ndc === undefined) {
      const digits = ndcDigitsFromGtin(gtin);
      fail(
        'DSCSA_NO_NDC',
        digits ? `the master data of GTIN ${gtin} has no NDC (the GTIN carries the digits ${digits} but not their 4-4-2 / 5-3-2 / 5-4-1 split)` : `GTIN ${gtin} is not a US NDC-based GTIN (003 + NDC + check digit) and its master data names no NDC`,
        'add "ndc" with its hyphens (e.g. "12345-678-90") to the product master data',
      );
    }
  }

  // Parties: GLNs, master data, US buyer, prefix lengths.
  const partyOf = (role: string, address: string): { gln: string; md?: PartyMasterData; cp?: number } | undefined => {
    const gln = ctx.glnOf(address);
    if (gln === undefined || !isGln(gln)) {
      fail('DSCSA_NO_GLN', `the ${role} ${address} has no valid GLN`, 'record the member’s GLN in the consortium register');
      return undefined;
    }
    const md = ctx.masterData.party?.(gln);
    if (!md) fail('DSCSA_NO_PARTY_MASTER_DATA', `no name and address for the ${role}'s GLN ${gln}`, 'store the party master data (name, address) of that GLN');
    const cp = ctx.prefixLengthOf(gln);
    if (cp === undefined) fail('DSCSA_NO_PREFIX_LENGTH', `the GS1 Company Prefix length of the ${role}'s GLN ${gln} is unknown`, 'register the member’s company prefix (SGLN URNs split the GLN after it)');
    return { gln, ...(md ? { md } : {}), ...(cp !== undefined ? { cp } : {}) };
  };
  const seller = partyOf('seller', shipment.sender);
  const buyer = partyOf('buyer', shipment.receiver);
  const producer = batch.producer.toLowerCase() === shipment.sender.toLowerCase() ? seller : partyOf('producer', batch.producer);
  if (buyer?.md && buyer.md.address.countryCode !== 'US') {
    fail('DSCSA_NOT_US_PARTNER', `the buyer ${buyer.md.name} is in ${buyer.md.address.countryCode}`, 'the DSCSA file is for shipments to US trading partners; use the EPCIS 2.0 export for others');
  }
  const gtinPrefix = isGtin14(gtin) ? ctx.prefixLengthOf(gtin) : undefined;
  if (isGtin14(gtin) && gtinPrefix === undefined) fail('DSCSA_NO_PREFIX_LENGTH', `the GS1 Company Prefix length of GTIN ${gtin} is unknown`, 'register the product (its prefix key names the prefix length)');

  // Business documents.
  let docs: readonly BizTransaction[] | undefined;
  if (!/^0x0{64}$/i.test(shipment.referenceHash)) {
    docs = ctx.bizTransactionsOf?.(shipment.referenceHash.toLowerCase());
    if (docs && docs.length > 0 && bizTransactionsReferenceHash(docs) !== shipment.referenceHash.toLowerCase()) {
      fail('DSCSA_BIZ_TRANSACTIONS_MISMATCH', `the stored documents do not hash to the shipment's reference ${shipment.referenceHash}`, 'store documents under the hash they produce');
    }
  }
  bail();

  // The packs and containers shipped.
  const cp = gtinPrefix!;
  const layout: Layout = { units: batch.serialCount!, unitsPerCase: batch.unitsPerCase ?? 0, casesPerPallet: batch.casesPerPallet ?? 0 };
  const packUrns: string[] = [];
  const topLevel: string[] = [];
  const containers: Array<{ urn: string; children: string[] }> = [];
  const containerUrns: string[] = [];
  const serialUrn = (u: number): string => {
    const serial = ctx.serialOf?.(shipment.batchId, String(u));
    if (serial === undefined) {
      fail('DSCSA_NO_SERIAL', `the serial of pack ${u} of batch ${shipment.batchId} is unknown`, 'upload the batch’s serial list');
      return '';
    }
    return sgtinUrn(gtin, serial, cp);
  };
  const ssccOf = (kind: number, index: number): string | undefined => {
    const s = ctx.ssccOf?.(shipment.batchId, kind, index);
    return s === undefined ? undefined : ssccUrn(s, ctx.prefixLengthOf(s) ?? cp);
  };
  /** A container's URN and, recursively, its content; packs of containers without a known SSCC are listed loose. */
  const container = (kind: number, index: number, into: string[]): void => {
    if ((kind === ITEM_KIND.Case && layout.unitsPerCase === 0) || (kind === ITEM_KIND.Pallet && layout.casesPerPallet === 0)) {
      fail('DSCSA_UNKNOWN_LAYOUT', `batch ${shipment.batchId} ships a ${kind === 1 ? 'case' : 'pallet'} but its layout is unknown`, 'pass unitsPerCase and casesPerPallet in the batch context');
      return;
    }
    const urn = ssccOf(kind, index);
    const children: string[] = [];
    if (kind === ITEM_KIND.Case) {
      const [first, end] = unitRange(layout, kind, index);
      for (let u = first; u < end; u++) {
        const s = serialUrn(u);
        packUrns.push(s);
        children.push(s);
      }
    } else {
      const firstCase = index * layout.casesPerPallet;
      const endCase = Math.min(firstCase + layout.casesPerPallet, caseCount(layout));
      for (let c = firstCase; c < endCase; c++) container(ITEM_KIND.Case, c, children);
    }
    if (urn) {
      containers.push({ urn, children });
      containerUrns.push(urn);
      into.push(urn);
    } else into.push(...children);
  };
  for (const item of shipment.items) {
    for (let k = item.start; k < item.start + item.count; k++) {
      if (item.kind === ITEM_KIND.Units) {
        const s = serialUrn(k);
        packUrns.push(s);
        topLevel.push(s);
      } else container(item.kind, k, topLevel);
    }
  }
  bail();

  // The document.
  const partyKind = options.partyIdentifier ?? 'sgln';
  const sgln = (p: { gln: string; cp?: number }) => sglnUrn(p.gln, p.cp!);
  const partyUrn = (p: { gln: string; cp?: number }) => (partyKind === 'pgln' ? pglnUrn(p.gln, p.cp!) : sgln(p));
  const s = seller!;
  const r = buyer!;
  const p = product!;
  const created = options.creationDate ?? new Date();
  const creationDate = (typeof created === 'string' ? new Date(created) : created).toISOString();
  const ns = options.ledgerNamespace ?? 'https://example.org/medtrace/ledger#';
  const mintedAt = iso(batch.mintedAt!);
  const producerLocation = producer?.cp !== undefined ? el('readPoint', [el('id', sgln(producer))]) : undefined;
  const producerBizLocation = producer?.cp !== undefined ? el('bizLocation', [el('id', sgln(producer))]) : undefined;

  const location = (party: { gln: string; cp?: number; md?: PartyMasterData }): XmlElement => {
    const a = party.md!.address;
    const attr = (name: string, value: string | undefined) => (value === undefined ? undefined : el('attribute', value, { id: MDA(name) }));
    return el(
      'VocabularyElement',
      [attr('name', party.md!.name), attr('streetAddressOne', a.streetAddressOne), attr('streetAddressTwo', a.streetAddressTwo), attr('city', a.city), attr('state', a.state), attr('postalCode', a.postalCode), attr('countryCode', a.countryCode)],
      { id: sgln(party) },
    );
  };
  const locations = [s, r, ...(producer && producer !== s && producer.md && producer.cp !== undefined ? [producer] : [])];

  const header = el('EPCISHeader', [
    el('sbdh:StandardBusinessDocumentHeader', [
      el('sbdh:HeaderVersion', '1.0'),
      el('sbdh:Sender', [el('sbdh:Identifier', sgln(s), { Authority: 'SGLN' })]),
      el('sbdh:Receiver', [el('sbdh:Identifier', sgln(r), { Authority: 'SGLN' })]),
      el('sbdh:DocumentIdentification', [
        el('sbdh:Standard', 'EPCglobal'),
        el('sbdh:TypeVersion', '1.0'),
        el('sbdh:InstanceIdentifier', options.instanceIdentifier ?? uuidFrom(`medtrace:dscsa:${shipment.batchId}:${shipment.shipmentId}`)),
        el('sbdh:Type', 'Events'),
        el('sbdh:CreationDateAndTime', creationDate),
      ]),
    ]),
    el('extension', [
      el('EPCISMasterData', [
        el('VocabularyList', [
          el('Vocabulary', [
            el('VocabularyElementList', [
              el(
                'VocabularyElement',
                [
                  el('attribute', ndc11(p.ndc!), { id: MDA('additionalTradeItemIdentification') }),
                  el('attribute', 'FDA_NDC_11', { id: MDA('additionalTradeItemIdentificationTypeCode') }),
                  el('attribute', p.name, { id: MDA('regulatedProductName') }),
                  p.manufacturer !== undefined ? el('attribute', p.manufacturer, { id: MDA('manufacturerOfTradeItemPartyName') }) : undefined,
                  el('attribute', p.dosageForm!, { id: MDA('dosageFormType') }),
                  el('attribute', p.strength!, { id: MDA('strengthDescription') }),
                  el('attribute', p.packSize!, { id: MDA('netContentDescription') }),
                ],
                { id: sgtinPatternUrn(gtin, cp) },
              ),
            ]),
          ], { type: 'urn:epcglobal:epcis:vtype:EPCClass' }),
          el('Vocabulary', [el('VocabularyElementList', locations.map(location))], { type: 'urn:epcglobal:epcis:vtype:Location' }),
        ]),
      ]),
    ]),
    el('gs1ushc:dscsaTransactionStatement', [el('gs1ushc:affirmTransactionStatement', 'true'), el('gs1ushc:legalNotice', options.legalNotice ?? DEFAULT_LEGAL_NOTICE)]),
  ]);

  const time = (t: string) => [el('eventTime', t), el('eventTimeZoneOffset', '+00:00')];
  const epcList = (name: string, urns: string[]) => el(name, urns.map((u) => el('epc', u)));
  const events: XmlElement[] = [
    el('ObjectEvent', [
      ...time(mintedAt),
      epcList('epcList', packUrns),
      el('action', 'ADD'),
      el('bizStep', CBV.bizStep('commissioning')),
      el('disposition', CBV.disp('active')),
      producerLocation,
      producerBizLocation,
      el('extension', [el('ilmd', [el('cbvmda:lotNumber', batch.lot), el('cbvmda:itemExpirationDate', isoDate(batch.expiryDay))])]),
    ]),
  ];
  if (containerUrns.length > 0) {
    events.push(el('ObjectEvent', [...time(mintedAt), epcList('epcList', containerUrns), el('action', 'ADD'), el('bizStep', CBV.bizStep('commissioning')), el('disposition', CBV.disp('active')), producerLocation, producerBizLocation]));
    // `container` records a pallet after its cases: packing follows that order.
    for (const c of containers) {
      events.push(
        el('AggregationEvent', [
          ...time(mintedAt),
          el('parentID', c.urn),
          epcList('childEPCs', c.children),
          el('action', 'ADD'),
          el('bizStep', CBV.bizStep('packing')),
          el('disposition', CBV.disp('in_progress')),
          producerLocation,
          producerBizLocation,
        ]),
      );
    }
  }
  const bizTx =
    docs && docs.length > 0
      ? docs.map((d) => el('bizTransaction', d.uri, { type: CBV.btt(d.type) }))
      : /^0x0{64}$/i.test(shipment.referenceHash)
        ? []
        : [el('bizTransaction', unresolvedReferenceUri(shipment.referenceHash))];
  events.push(
    el('ObjectEvent', [
      ...time(iso(shipment.shippedAt)),
      epcList('epcList', topLevel),
      el('action', 'OBSERVE'),
      el('bizStep', CBV.bizStep('shipping')),
      el('disposition', CBV.disp('in_transit')),
      el('readPoint', [el('id', sgln(s))]),
      el('bizLocation', [el('id', sgln(s))]),
      bizTx.length > 0 ? el('bizTransactionList', bizTx) : undefined,
      el('extension', [
        el('sourceList', [el('source', partyUrn(s), { type: CBV.sdt('owning_party') }), el('source', sgln(s), { type: CBV.sdt('location') })]),
        el('destinationList', [el('destination', partyUrn(r), { type: CBV.sdt('owning_party') }), el('destination', sgln(r), { type: CBV.sdt('location') })]),
      ]),
      el('ledger:shipmentId', shipment.shipmentId),
      el('ledger:batchId', shipment.batchId),
      shipment.txHash ? el('ledger:txHash', shipment.txHash) : undefined,
      /^0x0{64}$/i.test(shipment.referenceHash) ? undefined : el('ledger:referenceHash', shipment.referenceHash.toLowerCase()),
    ]),
  );

  return xmlDocument(
    el('epcis:EPCISDocument', [header, el('EPCISBody', [el('EventList', events)])], {
      'xmlns:epcis': 'urn:epcglobal:epcis:xsd:1',
      'xmlns:sbdh': 'http://www.unece.org/cefact/namespaces/StandardBusinessDocumentHeader',
      'xmlns:cbvmda': 'urn:epcglobal:cbv:mda',
      'xmlns:gs1ushc': GS1US_HC_NAMESPACE,
      'xmlns:ledger': ns,
      schemaVersion: '1.2',
      creationDate,
    }),
  );
}
