/**
 * What the background service worker does: the pages' messages, the visit hook and the
 * timed refresh, composed from one store per concern (lib/stores/: settings and sign-in,
 * the brand directory, the grants and the badge, the browsing categories). Every browser
 * call is injected, so it runs under node --test with stubs; background.js wires it to
 * lib/browser.js.
 * @module controller
 */

import { SaysoError, authorizeUrl, codeFromRedirect, createSaysoClient, liveFields } from "./api.js";
import { originPattern, registrableDomain, webPage } from "./domain.js";
import { t } from "./i18n.js";
import { newPkce } from "./pkce.js";
import { createCategoriesStore } from "./stores/categories.js";
import { createDirectoryStore } from "./stores/directory.js";
import { createGrantsStore } from "./stores/grants.js";
import { createSettingsStore } from "./stores/settings.js";
import { keyValueStorage } from "./stores/storage.js";

/** The alarm that refreshes the directory and the grants overview, whatever the browsing. */
export const REFRESH_ALARM = "sayso-refresh";
/** How often that alarm goes off, in minutes. */
export const REFRESH_MINUTES = 15;

/**
 * @typedef {object} Deps
 * @property {(keys: string[]) => Promise<object>} storageGet
 * @property {(items: object) => Promise<void>} storageSet
 * @property {(keys: string[]) => Promise<void>} storageRemove
 * @property {typeof fetch} fetch
 * @property {Crypto} crypto
 * @property {() => string} redirectUri
 * @property {(url: string) => Promise<string>} launchWebAuthFlow
 * @property {(tabId: number, text: string, title: string) => Promise<void>} setBadge
 * @property {() => Promise<Array<{id: number, url?: string, incognito?: boolean}>>} tabs every open tab
 * @property {() => Promise<object>} tables classifier tables (see classify.buildTables)
 * @property {(pattern: string) => Promise<unknown>} dropOrigin give up a host permission
 * @property {() => number} [now]
 */

/**
 * The controller: message handlers, the visit hook and the timed refresh.
 * @param {Deps} deps
 */
export function createController(deps) {
  const now = deps.now || (() => Date.now());
  const storage = keyValueStorage(deps);
  const settings = createSettingsStore(storage);
  const directory = createDirectoryStore({ storage, now });
  const grants = createGrantsStore({
    storage, now, directory, settings, tabs: deps.tabs, setBadge: deps.setBadge,
  });
  const categories = createCategoriesStore({ storage, now, tables: deps.tables });

  /** A client of the Sayso at `saysoUrl`, with the one stored token. */
  const clientOf = (saysoUrl) =>
    createSaysoClient({ saysoUrl, fetch: deps.fetch, now, tokens: settings.tokens });
  /** A client of the Sayso configured now. */
  const client = async () => clientOf((await settings.read()).saysoUrl);

  /**
   * The brand directory again if it is stale (or `force`), and the badges if it changed.
   * @param {{force?: boolean}} [options]
   */
  async function refreshDirectory({ force = false } = {}) {
    const { saysoUrl } = await settings.read();
    if (await directory.refresh({ saysoUrl, client, force })) await grants.updateBadges();
  }

  /** The popup's view of a site: asked of Sayso only because the consumer opened it. */
  async function siteView(url, api) {
    const page = webPage(url || "");
    if (!page) return { site: null, brand: null };
    const site = registrableDomain(page.hostname);
    const brand = await api.lookup(site);
    if (await directory.learn(site, brand?.brand_id || null)) await grants.updateBadges();
    if (!brand) return { site, brand: null };
    try {
      return { site, brand, live: liveFields(await grants.refresh(api), brand.brand_id) };
    } catch (error) {
      // The brand is public knowledge: show it, and say how to get the toggles back.
      if (error.kind !== "signed_out" && error.kind !== "revoked") throw error;
      // Not an `error` key: the pages treat an answer with one as a failed request.
      return { site, brand, live: [], signIn: error.kind };
    }
  }

  /** After a grant or revoke: the overview (and badges) again, and the popup's view. */
  async function afterChange(api, url) {
    if (webPage(url || "")) return siteView(url, api);
    await grants.refresh(api);
    return { site: null, brand: null };
  }

  /** Best effort: a refresh that fails now is tried again by the timer. */
  const quietly = (promise) => promise.catch(() => {});

  /** The review page's view, with whether counting is on. */
  const reviewView = async () => {
    const view = await categories.review();
    const { recording } = await settings.read();
    return { recording, ...view };
  };

  const handlers = {
    async status() {
      const s = await settings.read();
      const signedIn = await settings.signedIn();
      return { ...s, signedIn, redirectUri: deps.redirectUri() };
    },
    async saveSettings({ saysoUrl, recording }) {
      if (saysoUrl !== undefined) {
        const { before, after, changed } = await settings.addressChange(saysoUrl);
        // Another server: the old token, brands and grants mean nothing there, and the
        // access to the old address is given up (the one address in use is all it holds).
        if (changed) {
          await settings.tokens.clear();
          await directory.clear();
          await grants.forget();
          if (originPattern(before) !== originPattern(after)) {
            await quietly(deps.dropOrigin(originPattern(before)));
          }
        }
      }
      await settings.save({ saysoUrl, recording });
      // Saving the address (a click on the options page) fetches the brand directory.
      if (saysoUrl !== undefined) await quietly(refreshDirectory({ force: true }));
      return handlers.status();
    },
    async signIn() {
      const { saysoUrl } = await settings.read();
      const { verifier, challenge, state } = await newPkce(deps.crypto);
      const redirectUri = deps.redirectUri();
      const answer = await deps.launchWebAuthFlow(
        authorizeUrl(saysoUrl, { redirectUri, challenge, state }),
      );
      const code = codeFromRedirect(answer, { state, saysoUrl });
      // The code is exchanged where it came from, even if the address changed meanwhile
      // (the token is then stored as that server's, and not used: see settings.ownToken).
      const api = clientOf(saysoUrl);
      await api.exchangeCode(code, verifier, redirectUri);
      await quietly(refreshDirectory({ force: true }));
      await quietly(grants.refresh(api));
      return handlers.status();
    },
    async signOut() {
      await (await client()).signOut();
      await grants.forget();
      return handlers.status();
    },
    async popup({ url }) {
      // Opening the popup is the consumer's own action: a stale directory may be renewed.
      await quietly(refreshDirectory());
      return siteView(url, await client());
    },
    async toggle({ url, brandId, field, on }) {
      const api = await client();
      if (on) await api.grant(brandId, field);
      else await api.revoke(brandId, field);
      return afterChange(api, url);
    },
    async revokeBrand({ url, brandId }) {
      const api = await client();
      await api.revoke(brandId);
      return afterChange(api, url);
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
      const overview = await grants.refresh(await client());
      return overview
        .map((entry) => ({ ...entry, live: liveFields(overview, entry.brand_id) }))
        .filter((entry) => entry.live.length);
    },
    /** The review page's view (see categories.review), and whether counting is on. */
    review: reviewView,
    async remove({ topicId }) {
      await categories.remove(topicId);
      return reviewView();
    },
    /** Forget what one site contributed to every category. */
    async removeSite({ site }) {
      await categories.removeSite(site);
      return reviewView();
    },
    async block({ topicId }) {
      await categories.block(topicId);
      return reviewView();
    },
    /** Share what the review page showed (see categories.toShare). */
    async share({ categories: shown }) {
      const { value, leftOut } = await categories.toShare(shown);
      await (await client()).shareCategories(value);
      await categories.markShared();
      return { shared: value, leftOut };
    },
    /** Forget every count; the Block list is kept. */
    async forget() {
      await categories.forget();
      return reviewView();
    },
  };

  /**
   * The timed refresh (the alarm, every {@link REFRESH_MINUTES} minutes): the directory if
   * it is an hour old, and the grants overview if signed in. Independent of browsing.
   * @returns {Promise<void>}
   */
  async function refresh() {
    await quietly(refreshDirectory());
    if (await settings.signedIn()) await quietly(grants.refresh(await client()));
  }

  /**
   * Handle a message from a page of the extension.
   * @param {{type: string}} message
   * @returns {Promise<any>}
   */
  async function handle(message) {
    const handler = Object.hasOwn(handlers, message?.type) ? handlers[message.type] : null;
    if (!handler) throw new SaysoError("failed", 0, t("unknown_message", String(message?.type)));
    return handler(message);
  }

  /**
   * A tab finished loading (`loaded`) or was switched to: count a loaded page's categories
   * (if the consumer turned that on, and never in a private window), and set the badge from
   * what is stored. Sends nothing to Sayso. In turn with every change to the counts.
   * @param {number} tabId
   * @param {{url: string, title?: string, incognito?: boolean}} tab
   * @param {{loaded?: boolean}} [how]
   * @returns {Promise<void>}
   */
  function visited(tabId, tab, { loaded = true } = {}) {
    return categories.inTurn(async ({ count }) => {
      const page = webPage(tab.url || "");
      if (!page || tab.incognito) return;
      if (loaded && (await settings.read()).recording) {
        await count({ hostname: page.hostname, title: tab.title });
      }
      await grants.showBadge(tabId, tab.url);
    });
  }

  return { handle, visited, refresh, handlers };
}
