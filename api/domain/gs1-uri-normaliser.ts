/**
 * The identifier normalisation of the CBV 2.0 event hash: any URI that carries a GS1 key (EPC URI,
 * EPC class URI, EPC ID pattern URI, GS1 Digital Link on any domain) becomes one constrained,
 * canonical GS1 Digital Link URI on https://id.gs1.org — the finest identification level, no key
 * qualifier it does not need, no query. A value that is none of these comes back as `undefined`.
 *
 * A port of `dl_normaliser.py` of the GS1 reference event-hash generator
 * (RalphTro/epcis-event-hash-generator, MIT, the commit GS1's published hash vectors come from),
 * rule for rule — including its quirks (fixed slice offsets, the final validation that leaves
 * percent-encoded Digital Links as they are) — because the event hash is only useful if it equals
 * the reference's. The ledger itself only writes Digital Links; EPC URIs matter for events members
 * capture from their own systems.
 */
import { gs1CheckDigit } from './gs1';

/** Percent-encodes the characters GS1 Digital Link requires encoded that EPC URIs allow. */
function webUriEncode(s: string): string {
  return s.replace(/!/g, '%21').replace(/\(/g, '%28').replace(/\)/g, '%29').replace(/\*/g, '%2A').replace(/\+/g, '%2B').replace(/,/g, '%2C').replace(/:/g, '%3A');
}

const cd = (digits: string) => gs1CheckDigit(digits);

// Character classes of the reference's regular expressions.
const XCHAR = String.raw`(\%2[125-9A-Fa-f]|\%3[0-9A-Fa-f]|\%4[1-9A-Fa-f]|\%5[0-9AaFf]|\%6[1-9A-Fa-f]|\%7[0-9Aa]|[!')(*+,.0-9:;=A-Za-z_-])`;
const CPI_CHAR = String.raw`(\%2[3dfDF]|\%3[0-9]|\%4[1-9A-Fa-f]|\%5[0-9Aa]|[0-9A-Z-])`;
const cp13 = String.raw`((\d{6}\.\d{7})|(\d{7}\.\d{6})|(\d{8}\.\d{5})|(\d{9}\.\d{4})|(\d{10}\.\d{3})|(\d{11}\.\d{2})|(\d{12}\.\d{1}))`;
const cp12 = String.raw`((\d{6}\.\d{6})|(\d{7}\.\d{5})|(\d{8}\.\d{4})|(\d{9}\.\d{3})|(\d{10}\.\d{2})|(\d{11}\.\d{1})|(\d{12}\.))`;
const cp12dd = String.raw`((\d{6}\.\d{6})|(\d{7}\.\d{5})|(\d{8}\.\d{4})|(\d{9}\.\d{3})|(\d{10}\.\d{2})|(\d{11}\.\d{1})|(\d{12}\.\.))`;
const cp17 = String.raw`((\d{6}\.\d{11}$)|(\d{7}\.\d{10}$)|(\d{8}\.\d{9}$)|(\d{9}\.\d{8}$)|(\d{10}\.\d{7}$)|(\d{11}\.\d{6}$)|(\d{12}\.\d{5}$))`;
const cp16 = String.raw`((\d{6}\.\d{10}$)|(\d{7}\.\d{9}$)|(\d{8}\.\d{8}$)|(\d{9}\.\d{7}$)|(\d{10}\.\d{6}$)|(\d{11}\.\d{5}$)|(\d{12}\.\d{4}$))`;
const varLen = (cls: string, total: number) =>
  '(' + [6, 7, 8, 9, 10, 11, 12].map((n) => String.raw`(\d{${n}}\.${cls}{1,${total - n}})`).join('|') + ')';

const re = (s: string) => new RegExp(s);
const R = {
  sgtin: re(String.raw`^urn:epc:id:sgtin:${cp13}\.${XCHAR}{1,20}$`),
  sscc: re(String.raw`^urn:epc:id:sscc:${cp17}`),
  sgln: re(String.raw`^urn:epc:id:sgln:${cp12}\.${XCHAR}{1,20}$`),
  grai: re(String.raw`^urn:epc:id:grai:${cp12dd}\.${XCHAR}{1,16}$`),
  giai: re(String.raw`^urn:epc:id:giai:${varLen(XCHAR, 30)}$`),
  gsrn: re(String.raw`^urn:epc:id:gsrn:${cp17}`),
  gsrnp: re(String.raw`^urn:epc:id:gsrnp:${cp17}`),
  gdti: re(String.raw`^urn:epc:id:gdti:${cp12dd}${XCHAR}{1,20}$`),
  cpi: re(String.raw`^urn:epc:id:cpi:${varLen(CPI_CHAR, 30)}\.[\d]{1,12}$`),
  sgcn: re(String.raw`^urn:epc:id:sgcn:${cp12}\.[\d]{1,12}$`),
  ginc: re(String.raw`^urn:epc:id:ginc:${varLen(XCHAR, 30)}$`),
  gsin: re(String.raw`^urn:epc:id:gsin:${cp16}`),
  itip: re(String.raw`^urn:epc:id:itip:${cp13}\.[\d]{2}\.[\d]{2}\.${XCHAR}{1,20}$`),
  upui: re(String.raw`^urn:epc:id:upui:${cp13}\.${XCHAR}{1,28}$`),
  pgln: re(String.raw`^urn:epc:id:pgln:${cp12}$`),
  lgtin: re(String.raw`^urn:epc:class:lgtin:${cp13}\.${XCHAR}{1,20}$`),
  patSgtin: re(String.raw`^urn:epc:idpat:sgtin:${cp13}\.\*$`),
  patGrai: re(String.raw`^urn:epc:idpat:grai:${cp12dd}\.\*$`),
  patGdti: re(String.raw`^urn:epc:idpat:gdti:${cp12dd}\.\*$`),
  patSgcn: re(String.raw`^urn:epc:idpat:sgcn:${cp12dd}\.\*$`),
  patCpi: re(String.raw`^urn:epc:idpat:cpi:${varLen(CPI_CHAR, 30)}\.\*$`),
  patItip: re(String.raw`^urn:epc:idpat:itip:${cp13}\.[\d]{2}\.[\d]{2}\.\*$`),
  patUpui: re(String.raw`^urn:epc:idpat:upui:${cp13}\.\*$`),
};

const DL_ANY = new RegExp(
  String.raw`^https?:(\/\/((([^\/?#]*)@)?([^\/?#:]*)(:([^\/?#]*))?))?((([^?#]*)(\/(01|gtin|8006|itip|8010|cpid|414|gln|417|party|8017|gsrnp|8018|gsrn|255|gcn|00|sscc|253|gdti|401|ginc|402|gsin|8003|grai|8004|giai)\/)(\d{4}[^\/]+)(\/[^/]+\/[^/]+)?[/]?(\?([^?\n]*))?(#([^\n]*))?)|(\/[A-Za-z_-]{10}$))`,
);
const DL_CANONICAL = new RegExp(
  String.raw`^(?:https:\/\/id.gs1.org\/(01|8006|8010|414|417|8017|8018|255|00|253|401|402|8003|8004)\/(\d{4}[^\/]+)(\/[^\/]+\/[^\/]+)?[\/]?(\?([^?\n]*))?(#([^\n]*))?|(\/[A-Za-z_-]{10}$))`,
);
const ALIASES: Array<[string, string]> = [
  ['/gtin/', '/01/'], ['/itip/', '/8006/'], ['/cpid/', '/8010/'], ['/gln/', '/414/'], ['/party/', '/417/'], ['/gsrnp/', '/8017/'],
  ['/gsrn/', '/8018/'], ['/gcn/', '/255/'], ['/sscc/', '/00/'], ['/gdti/', '/253/'], ['/ginc/', '/401/'], ['/gsin/', '/402/'],
  ['/grai/', '/8003/'], ['/giai/', '/8004/'], ['/cpv/', '/22/'], ['/lot/', '/10/'], ['/ser/', '/21/'],
];
const REBASE_KEYS = ['00', '01', '253', '255', '401', '402', '414', '417', '8003', '8004', '8006', '8010', '8017', '8018'];
const C = String.raw`[\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]`;
const CS = String.raw`[\x2F\x22\x27\x2D\x2E\x30-\x39\x3B-\x3F\x41-\x5A\x5F\x61-\x7A]`;
const FINAL = [
  String.raw`https:\/\/id.gs1.org\/00\/(\d{18})$`,
  String.raw`https:\/\/id.gs1.org\/01\/(\d{14})\/21\/(${C}{0,20})$`,
  String.raw`https:\/\/id.gs1.org\/01\/(\d{14})\/10\/(${C}{0,20})$`,
  String.raw`https:\/\/id.gs1.org\/01\/(\d{14})$`,
  String.raw`https:\/\/id.gs1.org\/01\/(\d{14})\/235\/(${C}{0,28})$`,
  String.raw`https:\/\/id.gs1.org\/253\/(\d{13})(${C}{0,17})$`,
  String.raw`https:\/\/id.gs1.org\/255\/(\d{13})(\d{0,12})$`,
  String.raw`https:\/\/id.gs1.org\/401\/(${C}{0,30})$`,
  String.raw`https:\/\/id.gs1.org\/402\/(\d{17})$`,
  String.raw`https:\/\/id.gs1.org\/414\/(\d{13})$`,
  String.raw`https:\/\/id.gs1.org\/414\/(\d{13})\/254\/(${C}{0,20})$`,
  String.raw`https:\/\/id.gs1.org\/417\/(\d{13})$`,
  String.raw`https:\/\/id.gs1.org\/8003\/(\d{14})(${C}{0,16})$`,
  String.raw`https:\/\/id.gs1.org\/8004\/(${C}{0,30})$`,
  String.raw`https:\/\/id.gs1.org\/8006\/(\d{18})\/21\/(${C}{0,20})$`,
  String.raw`https:\/\/id.gs1.org\/8006\/(\d{18})\/10\/(${C}{0,20})$`,
  String.raw`https:\/\/id.gs1.org\/8006\/(\d{18})$`,
  String.raw`https:\/\/id.gs1.org\/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})\/8011/(\d{0,12})$`,
  String.raw`https:\/\/id.gs1.org\/8010\/([\x23\x2D\x2F\x30-\x39\x41-\x5A]{0,30})$`,
  String.raw`https:\/\/id.gs1.org\/8017\/(\d{18})$`,
  String.raw`https:\/\/id.gs1.org\/8018\/(\d{18})$`,
].map((s) => new RegExp('^' + s));

/** A canonical, constrained GS1 Digital Link URI for `uri`, or undefined when it carries no GS1 key. */
export function normaliseGs1Uri(uri: string): string | undefined {
  const partition = uri.indexOf('.');
  if (partition < 0) return undefined;
  const u = uri;
  const gtinOf = (cpStart: number) => {
    const cp = u.slice(cpStart, partition);
    const itemref = u.slice(partition + 1, partition + 1 + (13 - cp.length));
    return itemref.slice(0, 1) + cp + itemref.slice(1);
  };
  const twelve = (cpStart: number) => {
    const cp = u.slice(cpStart, partition);
    return cp + u.slice(partition + 1, partition + 1 + (12 - cp.length));
  };
  if (R.sgtin.test(u)) {
    const g = gtinOf(17);
    return `https://id.gs1.org/01/${g}${cd(g)}/21/${webUriEncode(u.slice(32))}`;
  }
  if (R.sscc.test(u)) {
    const raw = u.slice(partition + 1, partition + 2) + u.slice(16, partition) + u.slice(partition + 2);
    return `https://id.gs1.org/00/${raw}${cd(raw)}`;
  }
  if (R.sgln.test(u)) {
    const gln = twelve(16);
    const ext = u.slice(30);
    return `https://id.gs1.org/414/${gln}${cd(gln)}` + (ext === '0' ? '' : `/254/${webUriEncode(ext)}`);
  }
  if (R.grai.test(u)) {
    const raw = '0' + twelve(16);
    return `https://id.gs1.org/8003/${raw}${cd(raw)}${webUriEncode(u.slice(30))}`;
  }
  if (R.giai.test(u)) return `https://id.gs1.org/8004/${u.slice(16, partition)}${webUriEncode(u.slice(partition + 1))}`;
  if (R.gsrn.test(u)) {
    const raw = u.slice(16, partition) + u.slice(partition + 1);
    return `https://id.gs1.org/8018/${raw}${cd(raw)}`;
  }
  if (R.gsrnp.test(u)) {
    const raw = u.slice(17, partition) + u.slice(partition + 1);
    return `https://id.gs1.org/8017/${raw}${cd(raw)}`;
  }
  if (R.gdti.test(u)) {
    const raw = twelve(16);
    return `https://id.gs1.org/253/${raw}${cd(raw)}${webUriEncode(u.slice(30))}`;
  }
  if (R.cpi.test(u)) {
    const sep = u.lastIndexOf('.');
    return `https://id.gs1.org/8010/${webUriEncode(u.slice(15, partition) + u.slice(partition + 1, sep))}/8011/${u.slice(sep + 1)}`;
  }
  if (R.sgcn.test(u)) {
    const raw = twelve(16);
    return `https://id.gs1.org/255/${raw}${cd(raw)}${u.slice(30)}`;
  }
  if (R.ginc.test(u)) return `https://id.gs1.org/401/${u.slice(16, partition)}${webUriEncode(u.slice(partition + 1))}`;
  if (R.gsin.test(u)) {
    const raw = u.slice(16, partition) + u.slice(partition + 1);
    return `https://id.gs1.org/402/${raw}${cd(raw)}`;
  }
  if (R.itip.test(u)) {
    const g = gtinOf(16);
    return `https://id.gs1.org/8006/${g}${cd(g)}${u.slice(31, 33)}${u.slice(34, 36)}/21/${webUriEncode(u.slice(37))}`;
  }
  if (R.upui.test(u)) {
    const g = gtinOf(16);
    return `https://id.gs1.org/01/${g}${cd(g)}/235/${webUriEncode(u.slice(31))}`;
  }
  if (R.pgln.test(u)) {
    const gln = twelve(16);
    return `https://id.gs1.org/417/${gln}${cd(gln)}`;
  }
  if (R.lgtin.test(u)) {
    const g = gtinOf(20);
    return `https://id.gs1.org/01/${g}${cd(g)}/10/${webUriEncode(u.slice(35))}`;
  }
  if (R.patSgtin.test(u)) {
    const g = gtinOf(20);
    return `https://id.gs1.org/01/${g}${cd(g)}`;
  }
  if (R.patGrai.test(u)) {
    const raw = '0' + twelve(19);
    return `https://id.gs1.org/8003/${raw}${cd(raw)}`;
  }
  if (R.patGdti.test(u)) {
    const raw = twelve(19);
    return `https://id.gs1.org/253/${raw}${cd(raw)}`;
  }
  if (R.patSgcn.test(u)) {
    const raw = twelve(19);
    return `https://id.gs1.org/255/${raw}${cd(raw)}`;
  }
  if (R.patCpi.test(u)) {
    const sep = u.lastIndexOf('.');
    return `https://id.gs1.org/8010/${webUriEncode(u.slice(18, partition) + u.slice(partition + 1, sep))}`;
  }
  if (R.patItip.test(u)) {
    const g = gtinOf(19);
    return `https://id.gs1.org/8006/${g}${cd(g)}${u.slice(34, 36)}${u.slice(37, 39)}`;
  }
  if (R.patUpui.test(u)) {
    const g = gtinOf(19);
    return `https://id.gs1.org/01/${g}${cd(g)}`;
  }
  if (!DL_ANY.test(u)) return undefined;

  let dl = u.includes('?') ? u.slice(0, u.indexOf('?')) : u;
  for (const [alias, ai] of ALIASES) dl = dl.split(alias).join(ai);
  if (!DL_CANONICAL.test(dl)) {
    const key = REBASE_KEYS.find((k) => dl.includes(`/${k}/`));
    if (key !== undefined) dl = 'https://id.gs1.org' + dl.slice(dl.indexOf(`/${key}/`));
  }
  if (!/^https:\/\/id.gs1.org\/01\/\d{14}/.test(dl)) {
    if (/^https:\/\/id.gs1.org\/01\/\d{13}/.test(dl)) dl = dl.split('/01/').join('/01/0');
    else if (/^https:\/\/id.gs1.org\/01\/\d{12}/.test(dl)) dl = dl.split('/01/').join('/01/00');
    else if (/^https:\/\/id.gs1.org\/01\/\d{8}/.test(dl)) dl = dl.split('/01/').join('/01/000000');
  }
  // Drop a consumer product variant (22) and a lot beside a serial: the finest level only.
  const x = dl.slice(dl.indexOf('/22/') + 4);
  if (new RegExp(String.raw`^https:\/\/id.gs1.org\/(8006\/\d{18}|01\/\d{14})\/22\/(${C}{0,20})$`).test(dl)) {
    dl = dl.slice(0, dl.indexOf('/22/')) + x.slice(x.indexOf('/'), -1);
  }
  if (new RegExp(String.raw`^https:\/\/id.gs1.org\/(8006\/\d{18}|01\/\d{14})\/22\/(${CS}{0,20})$`).test(dl)) {
    dl = dl.slice(0, dl.indexOf('/22/')) + x.slice(x.indexOf('/'));
  }
  if (new RegExp(String.raw`^https:\/\/id.gs1.org\/(8006\/\d{18}|01\/(\d{14}))\/10\/(${C}{0,20})\/21\/(${C}{0,20})$`).test(dl)) {
    const y = dl.slice(dl.indexOf('/10/') + 4);
    dl = dl.slice(0, dl.indexOf('/10/')) + y.slice(y.indexOf('/'));
  }
  return FINAL.some((f) => f.test(dl)) ? dl : undefined;
}
