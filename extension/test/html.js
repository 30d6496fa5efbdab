// The extension's HTML pages as trees, for the i18n checks: a small tokenizer, enough for
// the pages this extension ships (well-formed, no inline script), not a general parser.
import { readFileSync, readdirSync } from "node:fs";

const ROOT = new URL("../", import.meta.url);
const VOID = new Set(["meta", "link", "input", "br", "img", "hr", "source", "wbr", "area", "col"]);
const RAW = new Set(["script", "style"]);

/** An element: tag, attributes, children (elements or strings), parent. */
export class Node {
  constructor(tag, attributes = {}, parent = null) {
    Object.assign(this, { tag, attributes, parent, kids: [] });
  }

  getAttribute(name) { return Object.hasOwn(this.attributes, name) ? this.attributes[name] : null; }
  setAttribute(name, value) { this.attributes[name] = String(value); }
  hasAttribute(name) { return Object.hasOwn(this.attributes, name); }
  /** Child elements only, as the DOM's `children`. */
  get children() { return this.kids.filter((kid) => kid instanceof Node); }
  set textContent(text) { this.kids = [String(text)]; }
  get textContent() { return this.kids.map((k) => (k instanceof Node ? k.textContent : k)).join(""); }
  replaceChildren(...nodes) {
    for (const node of nodes) if (node instanceof Node) node.parent = this;
    this.kids = nodes;
  }

  /** Every descendant element, in document order. */
  *descendants() {
    for (const kid of this.children) {
      yield kid;
      yield* kid.descendants();
    }
  }
}

/**
 * Parse one page.
 * @param {string} html
 * @returns {Node} the document (its one child is <html>)
 */
export function parse(html) {
  const root = new Node("#document");
  let here = root;
  const token = /<!--[\s\S]*?-->|<!doctype[^>]*>|<\/([a-z0-9]+)\s*>|<([a-z0-9]+)((?:\s+[a-z0-9-]+(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s>]+))?)*)\s*\/?>|([^<]+)/gi;
  let match;
  while ((match = token.exec(html))) {
    const [whole, closing, tag, attrs, text] = match;
    if (text !== undefined) {
      here.kids.push(text.replace(/&amp;/g, "&").replace(/&lt;/g, "<").replace(/&gt;/g, ">"));
    } else if (closing) {
      if (here.tag !== closing.toLowerCase()) throw new Error(`</${closing}> closes <${here.tag}>`);
      here = here.parent;
    } else if (tag) {
      const attributes = {};
      for (const [, name, value] of (attrs || "").matchAll(/([a-z0-9-]+)(?:\s*=\s*("[^"]*"|'[^']*'|[^\s>]+))?/gi)) {
        attributes[name.toLowerCase()] = value ? value.replace(/^["']|["']$/g, "") : "";
      }
      const node = new Node(tag.toLowerCase(), attributes, here);
      here.kids.push(node);
      if (RAW.has(node.tag)) {
        const end = html.indexOf(`</${node.tag}>`, token.lastIndex);
        node.kids.push(html.slice(token.lastIndex, end));
        token.lastIndex = end + node.tag.length + 3;
      } else if (!VOID.has(node.tag) && !whole.endsWith("/>")) {
        here = node;
      }
    }
  }
  if (here !== root) throw new Error(`<${here.tag}> is never closed`);
  return root;
}

/** @returns {string[]} the extension's HTML pages, e.g. ["brands.html", …] */
export const pages = () => readdirSync(ROOT).filter((name) => name.endsWith(".html")).sort();

/** @returns {Node} one page, parsed */
export const page = (name) => parse(readFileSync(new URL(name, ROOT), "utf8"));

/**
 * A document as lib/i18n.js localizePage uses it, over a parsed page.
 * @param {Node} root
 */
export function asDocument(root) {
  const all = () => [...root.descendants()];
  return {
    documentElement: {
      get lang() { return root.children[0].getAttribute("lang"); },
      set lang(value) { root.children[0].setAttribute("lang", value); },
    },
    querySelectorAll(selector) {
      const attribute = /^\[([a-z0-9-]+)\]$/.exec(selector)?.[1];
      if (!attribute) throw new Error(`unsupported selector ${selector}`);
      return all().filter((node) => node.hasAttribute(attribute));
    },
  };
}
