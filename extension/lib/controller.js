/**
 * What the background service worker does, with every browser call injected, so it runs
 * under node --test with stubs. background.js wires it to lib/browser.js.
 * @module controller
 */

import { DEFAULT_SAYSO_URL, SaysoError, authorizeUrl, codeFromRedirect, createSaysoClient,
  liveFields, normalizeSaysoUrl } from "./api.js";
import { classify } from "./classify.js";
import { registrableDomain, webPage } from "./domain.js";
import { blockTopic, emptyState, record, removeTopic, summarize, toDisclosure } from "./epochs.js";
import { newPkce } from "./pkce.js";

/**
 * @typedef {object} Deps
 * @property {(keys: string[]) => Promise<object>} storageGet
 * @property {(items: object) => Promise<void>} storageSet
 * @property {(keys: string[]) => Promise<void>} storageRemove
 * @property {typeof fetch} fetch
 * @property {Crypto} crypto
 * @property {() => string} redirectUri
 * @property {(url: string) => Promise<string>} launchWebAuthFlow
 * @property {(tabId: number, text: string) => Promise<void>} setBadge
 * @property {() => Promise<object>} tables classifier tables (see classify.buildTables)
 * @property {() => number} [now]
 */

/**
 * The controller: message handlers and the visit hook.
 * @param {Deps} deps
 */
export function createController(deps) {
  const now = deps.now || (() => Date.now());

  async function settings() {
    const got = await deps.storageGet(["saysoUrl", "recording"]);
    return { saysoUrl: got.saysoUrl || DEFAULT_SAYSO_URL, recording: got.recording === true };
  }

  async function client() {
    const { saysoUrl } = await settings();
    return createSaysoClient({
      saysoUrl,
      fetch: deps.fetch,
      now,
      tokens: {
        get: async () => (await deps.storageGet(["token"])).token || null,
        set: (token) => (token ? deps.storageSet({ token }) : deps.storageRemove(["token"])),
      },
    });
  }

  async function categories() {
    return (await deps.storageGet(["categories"])).categories || emptyState();
  }

  async function siteView(url) {
    const page = webPage(url || "");
    if (!page) return { site: null, brand: null };
    const site = registrableDomain(page.hostname);
    const api = await client();
    const brand = await api.lookup(site);
    if (!brand) return { site, brand: null };
    try {
      return { site, brand, live: liveFields(await api.grants(), brand.brand_id) };
    } catch (error) {
      // The brand is public knowledge: show it, and say how to get the toggles back.
      if (error.kind !== "signed_out" && error.kind !== "revoked") throw error;
      return { site, brand, live: [], error: { kind: error.kind, message: error.message } };
    }
  }

  const handlers = {
    async status() {
      const s = await settings();
      const token = (await deps.storageGet(["token"])).token;
      return { ...s, signedIn: Boolean(token), redirectUri: deps.redirectUri() };
    },
    async saveSettings({ saysoUrl, recording }) {
      const items = {};
      if (saysoUrl !== undefined) {
        const normalized = normalizeSaysoUrl(saysoUrl);
        const before = (await settings()).saysoUrl;
        items.saysoUrl = normalized;
        // Another server: the old token means nothing there.
        if (normalized !== before) await deps.storageRemove(["token"]);
      }
      if (recording !== undefined) items.recording = recording === true;
      await deps.storageSet(items);
      return handlers.status();
    },
    async signIn() {
      const { saysoUrl } = await settings();
      const { verifier, challenge, state } = await newPkce(deps.crypto);
      const redirectUri = deps.redirectUri();
      const answer = await deps.launchWebAuthFlow(
        authorizeUrl(saysoUrl, { redirectUri, challenge, state }),
      );
      const code = codeFromRedirect(answer, { state, saysoUrl });
      await (await client()).exchangeCode(code, verifier, redirectUri);
      return handlers.status();
    },
    async signOut() {
      await (await client()).signOut();
      return handlers.status();
    },
    popup: ({ url }) => siteView(url),
    async toggle({ url, brandId, field, on }) {
      const api = await client();
      if (on) await api.grant(brandId, field);
      else await api.revoke(brandId, field);
      return siteView(url);
    },
    async revokeBrand({ url, brandId }) {
      await (await client()).revoke(brandId);
      return siteView(url);
    },
    /** The open questions of the brand behind this site (answering is optional). */
    questions: async ({ brandId }) => (await client()).questions(brandId),
    async answerQuestion({ brandId, id, answer }) {
      const api = await client();
      await api.answerQuestion(id, answer);
      return api.questions(brandId);
    },
    async clearAnswer({ brandId, id }) {
      const api = await client();
      await api.clearAnswer(id);
      return api.questions(brandId);
    },
    async brands() {
      const overview = await (await client()).grants();
      return overview
        .map((entry) => ({ ...entry, live: liveFields(overview, entry.brand_id) }))
        .filter((entry) => entry.live.length);
    },
    async review() {
      const tables = await deps.tables();
      const state = await categories();
      const top = summarize(state, { timeMs: now(), limit: 10 }).map((row) => ({
        ...row,
        name: tables.topics.get(row.topicId)?.name || String(row.topicId),
        path: tables.topics.get(row.topicId)?.path || "",
      }));
      const { recording } = await settings();
      return { recording, top, blocked: state.blocked };
    },
    async remove({ topicId }) {
      await deps.storageSet({ categories: removeTopic(await categories(), topicId) });
      return handlers.review();
    },
    async block({ topicId }) {
      await deps.storageSet({ categories: blockTopic(await categories(), topicId) });
      return handlers.review();
    },
    async share() {
      const top = summarize(await categories(), { timeMs: now(), limit: 10 });
      const value = toDisclosure(top);
      await (await client()).shareCategories(value);
      await deps.storageSet({ sharedAt: now() });
      return { shared: value };
    },
    async forget() {
      await deps.storageRemove(["categories", "sharedAt"]);
      return handlers.review();
    },
  };

  /**
   * Handle a message from a page of the extension.
   * @param {{type: string}} message
   * @returns {Promise<any>}
   */
  async function handle(message) {
    const handler = Object.hasOwn(handlers, message?.type) ? handlers[message.type] : null;
    if (!handler) throw new SaysoError("failed", 0, `Unknown message ${message?.type}`);
    return handler(message);
  }

  /**
   * A tab finished loading (`loaded`) or was switched to: count a loaded page's categories
   * (if the consumer turned that on, and never in a private window), and set the badge to
   * the number of fields its brand sees.
   * @param {number} tabId
   * @param {{url: string, title?: string, incognito?: boolean}} tab
   * @param {{loaded?: boolean}} [how]
   * @returns {Promise<void>}
   */
  // Visits are counted one at a time: each is a read-modify-write of the stored counts,
  // and tab events arrive concurrently.
  let queue = Promise.resolve();

  function visited(tabId, tab, { loaded = true } = {}) {
    const next = queue.then(() => countAndBadge(tabId, tab, loaded));
    queue = next.catch(() => {});
    return next;
  }

  async function countAndBadge(tabId, tab, loaded) {
    const page = webPage(tab.url || "");
    if (!page || tab.incognito) return;
    const { recording } = await settings();
    if (recording && loaded) {
      const topics = classify({ hostname: page.hostname, title: tab.title || "" },
        await deps.tables(), { limit: 3 });
      if (topics.length) {
        const state = record(await categories(), {
          timeMs: now(),
          site: registrableDomain(page.hostname),
          topicIds: topics.map((t) => t.topicId),
        });
        await deps.storageSet({ categories: state });
      }
    }
    try {
      const view = await siteView(tab.url);
      await deps.setBadge(tabId, view.brand ? String(view.live.length) : "");
    } catch {
      await deps.setBadge(tabId, "");
    }
  }

  return { handle, visited, handlers };
}
