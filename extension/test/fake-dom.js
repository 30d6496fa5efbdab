// Just enough of a DOM to run the extension's pages under node --test: elements by id,
// created elements with properties, children, listeners. No layout, no parsing: the
// pages' data-i18n texts are not filled here (test/i18n.test.js checks them).
import "./locale.js";

class FakeElement {
  constructor(tag) {
    this.tagName = tag.toUpperCase();
    this.children = [];
    this.dataset = {};
    this.listeners = {};
    this.attributes = {};
    this.hidden = false;
    this.disabled = false;
    this.textContent = "";
    this.className = "";
    this.onclick = null;
  }

  append(...nodes) { this.children.push(...nodes); }
  replaceChildren(...nodes) { this.children = [...nodes]; }
  remove() {}
  setAttribute(name, value) { this.attributes[name] = String(value); }
  addEventListener(type, listener) { (this.listeners[type] ||= []).push(listener); }

  /** Run the listeners of `type` (and `on<type>`), awaiting each. */
  async dispatch(type) {
    for (const listener of this.listeners[type] || []) await listener({ preventDefault() {} });
    if (type === "click" && this.onclick) await this.onclick();
  }

  /** Every descendant, depth first. */
  *descendants() {
    for (const child of this.children) {
      if (child instanceof FakeElement) {
        yield child;
        yield* child.descendants();
      }
    }
  }
}

/**
 * Install `document`, `location` and `chrome` globals for one page. `activeTab` is what
 * `chrome.tabs.query` finds as the active tab (none if left out); `search` is the page's own
 * query string.
 * @param {{search?: string, activeTab?: {url: string}, sendMessage: (message: object) => Promise<any>}} options
 * @returns {{byId: (id: string) => FakeElement, sent: object[], find: (root: string, pred: (e: FakeElement) => boolean) => FakeElement|undefined}}
 */
export function installPage({ search = "", activeTab = null, sendMessage }) {
  const elements = {};
  const sent = [];
  const byId = (id) => (elements[id] ||= new FakeElement("div"));
  globalThis.document = {
    getElementById: byId,
    createElement: (tag) => new FakeElement(tag),
    documentElement: new FakeElement("html"),
    querySelectorAll: () => [],
  };
  globalThis.location = { search };
  globalThis.chrome = {
    runtime: { sendMessage: async (message) => { sent.push(message); return sendMessage(message); } },
    tabs: { query: async () => (activeTab ? [activeTab] : []) },
  };
  const find = (root, predicate) => [...byId(root).descendants()].find(predicate);
  return { byId, sent, find };
}

/**
 * Let every pending promise callback run. The pages use no timers and the fakes answer
 * at once, so all that is pending is microtasks, and one turn of the event loop drains
 * them: no clock is waited on.
 */
export const settle = () => new Promise((resolve) => setImmediate(resolve));
