/**
 * A minimal XML writer for the documents this folder produces: elements, attributes and text,
 * escaped, indented by two spaces. No parsing, no namespaces logic (names are written as given).
 */
export interface XmlElement {
  name: string;
  attrs?: Record<string, string>;
  children?: XmlNode[];
}
export type XmlNode = XmlElement | string;

export function escapeXml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

/** An element; `content` is a text or a list of children (undefined and false entries dropped). */
export function el(name: string, content?: string | Array<XmlNode | undefined | false>, attrs?: Record<string, string>): XmlElement {
  const children = content === undefined ? [] : typeof content === 'string' ? [content] : content.filter((c): c is XmlNode => c !== undefined && c !== false);
  return { name, ...(attrs ? { attrs } : {}), children };
}

function write(node: XmlNode, depth: number, out: string[]): void {
  const pad = '  '.repeat(depth);
  if (typeof node === 'string') {
    out.push(pad + escapeXml(node));
    return;
  }
  const attrs = Object.entries(node.attrs ?? {})
    .map(([k, v]) => ` ${k}="${escapeXml(v)}"`)
    .join('');
  const kids = node.children ?? [];
  if (kids.length === 0) out.push(`${pad}<${node.name}${attrs}/>`);
  else if (kids.length === 1 && typeof kids[0] === 'string') out.push(`${pad}<${node.name}${attrs}>${escapeXml(kids[0])}</${node.name}>`);
  else {
    out.push(`${pad}<${node.name}${attrs}>`);
    for (const k of kids) write(k, depth + 1, out);
    out.push(`${pad}</${node.name}>`);
  }
}

/** The document: XML declaration, then the root element. */
export function xmlDocument(root: XmlElement): string {
  const out = ['<?xml version="1.0" encoding="UTF-8"?>'];
  write(root, 0, out);
  return out.join('\n') + '\n';
}
