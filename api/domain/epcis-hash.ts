/**
 * The CBV 2.0 event hash (`ni:///sha-256;{hex}?ver=CBV2.0`) of an EPCIS 2.0 JSON / JSON-LD event:
 * the identifier two parties compute independently for the same event, whatever its syntax.
 *
 * Reference: GS1's reference event-hash generator (RalphTro/epcis-event-hash-generator, MIT) and
 * its published vectors (test/fixtures/epcis/event-hash-vectors: `.jsonld` input,
 * `.prehashes`, `.hashes`). This module follows that implementation's JSON path step by step —
 * JSON → element tree (the XML data model) → pre-hash string — because a hash that merely looks
 * like the algorithm is worthless: test/domain/epcis-hash.test.ts checks it on every JSON vector.
 *
 * The pre-hash string, in the reference's terms:
 *  1. `eventType=…`, then the properties of the canonical order (eventTime, eventTimeZoneOffset,
 *     certificationInfo, parentID, the EPC and quantity lists, action, transformationID, bizStep,
 *     disposition, persistentDisposition, readPoint, bizLocation, sensorElementList), each as
 *     `name=value`, repeated names sorted; user extensions nested in one of them follow it.
 *  2. Everything else, sorted as whole strings: bizTransactionList, sourceList, destinationList
 *     (each entry `type=…` then `bizTransaction=…` / `source=…` / `destination=…` — the type first),
 *     ilmd, and user extensions as `{namespace IRI}name=value`. Because they are sorted,
 *     destinationList comes before sourceList and ilmd before sourceList.
 *  3. Ignored: eventID, recordTime, errorDeclaration, `rdfs:comment`, and the fields a document
 *     names in `…:ignoreFields` under the namespace https://repository-x.example.com/.
 * Values: trimmed; times (names containing "time", except offsets) in UTC at millisecond precision,
 * rounded half to even on the microseconds; bare CBV / GS1 vocabulary words expanded to their web
 * IRIs (and old `urn:epcglobal:cbv:…` URNs rewritten); numbers in Python's shortest form (`26.0` →
 * `26`, `0.00001` → `1e-05`); GS1 keys as canonical Digital Links (gs1-uri-normaliser.ts).
 *
 * Where the reference's JSON reader differs from its XML reader, this module takes the XML
 * meaning: a JSON boolean is `true`/`false` (Python's `str()` gives `True`/`False`), and a
 * bizTransaction/source/destination entry writes its type first whatever the key order of the JSON.
 * No published vector depends on either. The npm package epcis2.js (also an implementation of this
 * algorithm) differs from GS1's vectors on 19 of their 43 JSON events — see the test for the list.
 */
import { createHash } from 'node:crypto';
import { CBV_TERMS, type VocabularySet } from './cbv-terms';
import { normaliseGs1Uri } from './gs1-uri-normaliser';

/** A JSON value as EPCIS JSON-LD uses it. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** The `@context` of the document the event comes from (prefixes of user extensions). */
export type EpcisContextValue = string | Record<string, string> | Array<string | Record<string, string>>;

export interface EventHashOptions {
  /** Field names (with prefix) the document asks to leave out of the hash (`…:ignoreFields`). */
  ignoreFields?: readonly string[];
}

// ─── The element tree (the XML data model) ───────────────────────────────────────────────────

interface Element {
  name: string;
  text: string;
  children: Child[];
}
/** A bizTransaction / source / destination entry: its type and its value, in that order. */
interface Entry {
  entry: Element[];
}
type Child = Element | Entry;
const isEntry = (c: Child): c is Entry => 'entry' in c;

type Order = ReadonlyArray<readonly [string, Order | null]>;
const Q: Order = [['epcClass', null], ['quantity', null], ['uom', null]];
const PROP_ORDER: Order = [
  ['eventTime', null],
  ['eventTimeZoneOffset', null],
  ['certificationInfo', null],
  ['parentID', null],
  ['epcList', [['epc', null]]],
  ['inputEPCList', [['epc', null]]],
  ['childEPCs', [['epc', null]]],
  ['quantityList', [['quantityElement', Q]]],
  ['childQuantityList', [['quantityElement', Q]]],
  ['inputQuantityList', [['quantityElement', Q]]],
  ['outputEPCList', [['epc', null]]],
  ['outputQuantityList', [['quantityElement', Q]]],
  ['action', null],
  ['transformationID', null],
  ['bizStep', null],
  ['disposition', null],
  ['persistentDisposition', [['set', null], ['unset', null]]],
  ['readPoint', [['id', null]]],
  ['bizLocation', [['id', null]]],
  [
    'sensorElementList',
    [
      [
        'sensorElement',
        [
          ['sensorMetadata', ['time', 'startTime', 'endTime', 'deviceID', 'deviceMetadata', 'rawData', 'dataProcessingMethod', 'bizRules'].map((n) => [n, null] as const)],
          [
            'sensorReport',
            [
              'type', 'exception', 'deviceID', 'deviceMetadata', 'rawData', 'dataProcessingMethod', 'time', 'microorganism', 'chemicalSubstance', 'value',
              'component', 'stringValue', 'booleanValue', 'hexBinaryValue', 'uriValue', 'minValue', 'maxValue', 'meanValue', 'sDev', 'percRank',
              'percValue', 'uom', 'coordinateReferenceSystem',
            ].map((n) => [n, null] as const),
          ],
        ],
      ],
    ],
  ],
];
const ENTRY_LISTS: Record<string, string> = { bizTransactionList: 'bizTransaction', sourceList: 'source', destinationList: 'destination' };
const IGNORED_AT_TOP = new Set(['recordTime', 'eventID', 'type', 'errorDeclaration']);
const IGNORE_FIELDS_NAMESPACE = 'https://repository-x.example.com/';

/** Prefix → IRI of the document's own context objects (what the reference expands in names). */
function namespacesOf(context: EpcisContextValue | undefined): Map<string, string> {
  const ns = new Map<string, string>();
  const list = context === undefined ? [] : Array.isArray(context) ? context : [context];
  for (const c of list) if (typeof c === 'object' && c !== null) for (const [k, v] of Object.entries(c)) if (typeof v === 'string') ns.set(k, v);
  return ns;
}

function expandName(name: string, ns: Map<string, string>): string {
  const at = name.indexOf(':');
  if (at < 0) return name;
  const iri = ns.get(name.slice(0, at));
  return iri === undefined ? name : `{${iri}}${name.slice(at + 1)}`;
}

function scalarText(v: JsonValue, ns: Map<string, string>): string {
  if (typeof v === 'string') {
    const at = v.indexOf(':');
    const iri = at < 0 ? undefined : ns.get(v.slice(0, at));
    return iri === undefined ? v : iri + v.slice(at + 1);
  }
  if (v === null) return 'None';
  return String(v);
}

function toElement(name: string, v: JsonValue, ns: Map<string, string>, ignore: ReadonlySet<string>): Element[] {
  if (Array.isArray(v)) return v.flatMap((x) => toElement(name, x, ns, new Set()));
  if (v !== null && typeof v === 'object') {
    const el: Element = { name, text: typeof v['#text'] === 'string' ? v['#text'] : '', children: [] };
    for (const [key, val] of Object.entries(v)) {
      if (key === '#text' || key === 'rdfs:comment' || key === 'comment' || ignore.has(key)) continue;
      if (key.startsWith('@xmlns:') && typeof val === 'string') {
        ns.set(key.slice(7), val);
        continue;
      }
      el.children.push(...toElement(expandName(key, ns), val, ns, new Set()));
    }
    return [el];
  }
  return [{ name, text: scalarText(v, ns), children: [] }];
}

/** The reference's correction of the JSON tree to the XML model (`…List` wrappers, quantity elements). */
function toXmlModel(el: Element): Element {
  const kids = el.children as Element[];
  const lists = new Map<string, Element[]>();
  const rest: Child[] = [];
  const childEpcs: Element[] = [];
  for (const c of kids) {
    if (c.name.endsWith('List')) {
      if (!lists.has(c.name)) lists.set(c.name, []);
      lists.get(c.name)!.push({ name: c.name.slice(0, -4), text: c.text, children: c.children });
    } else if (c.name === 'childEPCs') {
      childEpcs.push({ name: 'epc', text: c.text, children: [] });
    } else {
      rest.push(toXmlModel(c));
    }
  }
  for (const [listName, items] of lists) {
    const valueName = ENTRY_LISTS[listName];
    if (valueName !== undefined) {
      const entries: Entry[] = items.map((item) => {
        const fields = item.children as Element[];
        return { entry: [fields.find((f) => f.name === 'type'), fields.find((f) => f.name === valueName)].filter((f): f is Element => f !== undefined) };
      });
      rest.push({ name: listName, text: '', children: entries });
    } else {
      rest.push(toXmlModel({ name: listName, text: '', children: items }));
    }
  }
  if (childEpcs.length > 0) rest.push({ name: 'childEPCs', text: '', children: childEpcs });
  let name = el.name;
  if (name === 'inputEPC' || name === 'outputEPC') name = 'epc';
  if (name === 'inputQuantity' || name === 'outputQuantity' || name === 'childQuantity' || (name === 'quantity' && rest.length > 0)) name = 'quantityElement';
  return { name, text: el.text, children: rest };
}

// ─── Values ──────────────────────────────────────────────────────────────────────────────────

const PY_FLOAT = /^\s*[+-]?(((\d(_?\d)*)?\.(\d(_?\d)*)|(\d(_?\d)*)\.?)([eE][+-]?\d(_?\d)*)?|inf|infinity|nan)\s*$/i;

/** Python's `str(float(text))` with a whole number written as an int — the reference's number form. */
function formatNumeric(text: string): string {
  if (!PY_FLOAT.test(text)) return text;
  const t = text.trim().replace(/_/g, '').toLowerCase();
  const x = /inf/.test(t) ? (t.startsWith('-') ? -Infinity : Infinity) : /nan/.test(t) ? NaN : Number(t);
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (Number.isInteger(x)) return BigInt(x).toString();
  if (Math.abs(x) < 1e-4) {
    const [m, e] = x.toExponential().split('e');
    const exp = Number(e);
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  return String(x);
}

function canonicalValue(text: string): string {
  const web = text
    .replace(/urn:epcglobal:cbv:bizstep:/g, 'https://ref.gs1.org/cbv/BizStep-')
    .replace(/urn:epcglobal:cbv:disp:/g, 'https://ref.gs1.org/cbv/Disp-')
    .replace(/urn:epcglobal:cbv:btt:/g, 'https://ref.gs1.org/cbv/BTT-')
    .replace(/urn:epcglobal:cbv:sdt:/g, 'https://ref.gs1.org/cbv/SDT-')
    .replace(/urn:epcglobal:cbv:er:/g, 'https://ref.gs1.org/cbv/ER-');
  const numeric = formatNumeric(web);
  return normaliseGs1Uri(numeric) ?? numeric;
}

/** UTC, millisecond precision, microseconds rounded half to even (Python's `round(µs, -3)`). */
function canonicalTime(text: string): string {
  const m = /^(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?\s*(Z|[+-]\d{2}(?::?\d{2})?)?$/i.exec(text);
  if (!m) return text;
  const [, date, hh, mm, ss = '00', frac = '', zone = 'Z'] = m;
  const micros = Number((frac + '000000').slice(0, 6));
  let millis = Math.floor(micros / 1000);
  const rem = micros % 1000;
  if (rem > 500 || (rem === 500 && millis % 2 === 1)) millis += 1;
  const offset = zone.toUpperCase() === 'Z' ? 'Z' : zone.length === 3 ? `${zone}:00` : zone.includes(':') ? zone : `${zone.slice(0, 3)}:${zone.slice(3)}`;
  const t = Date.parse(`${date}T${hh}:${mm}:${ss}${offset}`);
  if (Number.isNaN(t)) return text;
  return new Date(t + millis).toISOString();
}

// ─── Bare vocabulary words ───────────────────────────────────────────────────────────────────

/**
 * The reference expands the document with JSON-LD and then replaces every string value that is the
 * tail (`-word` or `/word`) of exactly one expanded CBV / GS1 vocabulary IRI. The expanded IRIs are
 * those of the vocabulary-typed fields below plus IRIs written out in full.
 */
function vocabularyIris(event: JsonObject): string[] {
  const out = new Set<string>();
  const add = (v: JsonValue | undefined, vocab: VocabularySet) => {
    if (typeof v === 'string' && vocab.terms.has(v)) out.add(vocab.prefix + v);
  };
  const each = (v: JsonValue | undefined, f: (o: JsonObject) => void) => {
    if (Array.isArray(v)) for (const x of v) if (x !== null && typeof x === 'object' && !Array.isArray(x)) f(x);
  };
  add(event['bizStep'], CBV_TERMS.bizStep);
  add(event['disposition'], CBV_TERMS.disposition);
  const pd = event['persistentDisposition'];
  if (pd !== null && typeof pd === 'object' && !Array.isArray(pd)) {
    for (const k of ['set', 'unset']) for (const v of [pd[k]].flat()) add(v, CBV_TERMS.disposition);
  }
  each(event['bizTransactionList'], (o) => add(o['type'], CBV_TERMS.bizTransactionType));
  each(event['sourceList'], (o) => add(o['type'], CBV_TERMS.sourceDestType));
  each(event['destinationList'], (o) => add(o['type'], CBV_TERMS.sourceDestType));
  const ed = event['errorDeclaration'];
  if (ed !== null && typeof ed === 'object' && !Array.isArray(ed)) add(ed['reason'], CBV_TERMS.errorReason);
  each(event['sensorElementList'], (se) =>
    each(se['sensorReport'], (r) => {
      add(r['type'], CBV_TERMS.measurementType);
      add(r['exception'], CBV_TERMS.sensorAlertType);
      add(r['component'], CBV_TERMS.component);
    }),
  );
  const walk = (v: JsonValue) => {
    if (typeof v === 'string' && (v.startsWith('https://ref.gs1.org/cbv') || v.startsWith('https://gs1.org/voc'))) out.add(v);
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(event);
  return [...out];
}

function expandBareWords(v: JsonValue, iris: readonly string[]): JsonValue {
  if (typeof v === 'string') {
    const hits = iris.filter((x) => x.endsWith('-' + v) || x.endsWith('/' + v));
    return hits.length === 1 ? hits[0]! : v;
  }
  if (Array.isArray(v)) return v.map((x) => expandBareWords(x, iris));
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandBareWords(x, iris)]));
  return v;
}

// ─── Pre-hash string ─────────────────────────────────────────────────────────────────────────

const isExtensionName = (name: string) => name.includes('{') && name.includes('/}');

function childString(child: Element, order: Order | null): string {
  const grand = order ? inOrder(child.children, order) : '';
  let text = child.text.trim();
  if (text) {
    const lower = child.name.toLowerCase();
    text = '=' + (lower.includes('time') && !lower.includes('offset') ? canonicalTime(text) : canonicalValue(text));
  }
  return text || grand ? child.name + text + grand : '';
}

/** The properties of `order`, consumed from `children` (what remains is serialised generically). */
function inOrder(children: Child[], order: Order): string {
  const topLevel = children.some((c) => !isEntry(c) && (c.name.includes('eventTime') || c.name.includes('action')));
  const extensions: Child[] = [];
  if (children.length > 1 && !topLevel) {
    for (let i = children.length - 1; i >= 0; i--) {
      const c = children[i]!;
      if (!isEntry(c) && isExtensionName(c.name)) extensions.unshift(...children.splice(i, 1));
    }
  }
  let pre = '';
  for (const [name, sub] of order) {
    const values: string[] = [];
    for (const c of children.filter((x): x is Element => !isEntry(x) && x.name === name)) {
      const s = childString(c, sub);
      if (s) values.push(s);
      if (c.children.length === 0) children.splice(children.indexOf(c), 1);
    }
    values.sort();
    if (values.join('')) pre = pre + values.join('');
  }
  if (extensions.length > 0) pre += generic(extensions);
  return pre;
}

function generic(children: readonly Child[]): string {
  const values = children.map((c) => {
    if (isEntry(c)) return generic(c.entry);
    const text = c.text.trim();
    return c.name + (text ? '=' + canonicalValue(text) : '') + generic(c.children);
  });
  const keepOrder = children.some((c) => !isEntry(c) && (c.name === 'bizTransaction' || c.name === 'source' || c.name === 'destination'));
  if (children.length > 1 && !keepOrder) values.sort();
  return values.join('');
}

/** The canonical pre-hash string of an EPCIS 2.0 JSON event (exported for audits and tests). */
export function eventPreHash(event: JsonObject, context?: EpcisContextValue, options: EventHashOptions = {}): string {
  const ns = namespacesOf(context);
  const expanded = expandBareWords(event, vocabularyIris(event)) as JsonObject;
  const type = typeof expanded['type'] === 'string' ? expanded['type'] : '';
  const [root] = toElement(type, expanded, ns, new Set(options.ignoreFields ?? []));
  const tree = toXmlModel(root!);
  const ordered = inOrder(tree.children, PROP_ORDER);
  const rest = tree.children.filter((c) => isEntry(c) || !IGNORED_AT_TOP.has(c.name));
  return `eventType=${type}${ordered}${rest.length > 0 ? generic(rest) : ''}`;
}

/** `ni:///sha-256;{hex}?ver=CBV2.0` of {@link eventPreHash}. */
export function eventHashId(event: JsonObject, context?: EpcisContextValue, options: EventHashOptions = {}): string {
  const hex = createHash('sha256').update(eventPreHash(event, context, options), 'utf8').digest('hex');
  return `ni:///sha-256;${hex}?ver=CBV2.0`;
}

/** The fields a document asks hashers to ignore: `{prefix}:ignoreFields` where prefix → https://repository-x.example.com/. */
export function documentIgnoreFields(doc: JsonObject, where: JsonObject = doc): string[] {
  const prefix = [...namespacesOf(doc['@context'] as EpcisContextValue | undefined)].find(([, iri]) => iri === IGNORE_FIELDS_NAMESPACE)?.[0];
  const v = prefix === undefined ? undefined : where[`${prefix}:ignoreFields`];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}
