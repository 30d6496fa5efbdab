/**
 * What the background service worker does, with every browser call injected, so it runs
 * under node --test with stubs. background.js wires it to lib/browser.js.
 * @module controller
 */

import { DEFAULT_SAYSO_URL, SaysoError, authorizeUrl, codeFromRedirect, createSaysoClient,
  createTokenStore, liveFields, normalizeSaysoUrl } from "./api.js";
import { badgeFor, liveByBrand } from "./badge.js";
import { classify } from "./classify.js";
import { originPattern, registrableDomain, webPage } from "./domain.js";
import { blockTopic, checkShown, emptyState, forgetCounts, record, removeTopic, stillCounted,
  summarize, toDisclosure } from "./epochs.js";
import { newPkce } from "./pkce.js";

/** The brand directory is fetched at most this often (unless signing in or saving options). */
export const DIRECTORY_MAX_AGE_MS = 60 * 60 * 1000;
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
  // One token store for every client built below (one per message), so that concurrent
  // messages share one refresh of an expired token (see createTokenStore).
  const tokens = createTokenStore({
    read: async () => ours(await deps.storageGet(["token", "saysoUrl"])),
    write: (token) => deps.storageSet({ token }),
    remove: () => deps.storageRemove(["token"]),
  });

  /**
   * The stored token if the Sayso it came from is the one configured now. A refresh or a
   * sign-in under way when the address changed stores the old server's token afterwards:
   * it is never sent to the new one. (A token stored before tokens named their issuer is
   * taken as the configured server's.)
   */
  function ours({ token, saysoUrl }) {
    if (!token) return null;
    const current = normalizeSaysoUrl(saysoUrl || DEFAULT_SAYSO_URL);
    return token.issuer === undefined || token.issuer === current ? token : null;
  }

  async function settings() {
    const got = await deps.storageGet(["saysoUrl", "recording"]);
    return { saysoUrl: got.saysoUrl || DEFAULT_SAYSO_URL, recording: got.recording === true };
  }

  async function client() {
    const { saysoUrl } = await settings();
    return createSaysoClient({ saysoUrl, fetch: deps.fetch, now, tokens });
  }

  async function categories() {
    return (await deps.storageGet(["categories"])).categories || emptyState();
  }

  /** What the badge needs, all from storage. */
  async function known() {
    const got = await deps.storageGet(["directory", "overview", "token", "saysoUrl"]);
    return {
      domains: got.directory?.domains,
      live: got.overview?.live || null,
      signedIn: Boolean(ours(got)),
    };
  }

  async function showBadge(tabId, url, facts) {
    const { text, title } = badgeFor(url, facts);
    await deps.setBadge(tabId, text, title);
  }

  /**
   * Set the badge of every open web tab (so every tab of a brand whose grants changed) from
   * what is stored. No request to Sayso: it only reads storage.
   */
  async function updateBadges() {
    const facts = await known();
    for (const tab of await deps.tabs()) {
      if (tab.incognito || !webPage(tab.url || "")) continue;
      // A tab closed meanwhile: nothing to update.
      await showBadge(tab.id, tab.url, facts).catch(() => {});
    }
  }

  /**
   * Fetch the brand directory if the one stored is older than an hour (or `force`), with
   * its ETag so an unchanged list costs a 304. Never called because of browsing.
   * @param {{force?: boolean}} [options]
   */
  async function refreshDirectory({ force = false } = {}) {
    const { saysoUrl } = await settings();
    const { directory } = await deps.storageGet(["directory"]);
    const same = directory?.saysoUrl === saysoUrl;
    if (!force && same && now() - directory.fetchedAt < DIRECTORY_MAX_AGE_MS) return;
    const answer = await (await client()).directory(same ? directory.etag : null);
    const next = answer.notModified
      ? { ...directory, fetchedAt: now() }
      : { saysoUrl, domains: answer.domains, etag: answer.etag, fetchedAt: now() };
    await deps.storageSet({ directory: next });
    if (!answer.notModified) await updateBadges();
  }

  /** What the popup's lookup said about one site, kept in the directory until the next fetch. */
  async function learnSite(site, brandId) {
    const { directory } = await deps.storageGet(["directory"]);
    if (!directory || (directory.domains[site] || null) === brandId) return;
    const domains = { ...directory.domains };
    if (brandId) domains[site] = brandId;
    else delete domains[site];
    await deps.storageSet({ directory: { ...directory, domains } });
    await updateBadges();
  }

  /**
   * Fetch the grants overview, keep each brand's live fields, and update the badges of the
   * brands' tabs. Called on the consumer's own actions and on the timer, never on browsing.
   * Signed out or revoked: the overview is forgotten (badges show "?") and the error thrown.
   * @param {Awaited<ReturnType<typeof client>>} api
   */
  async function refreshOverview(api) {
    try {
      const overview = await api.grants();
      await deps.storageSet({ overview: { live: liveByBrand(overview), fetchedAt: now() } });
      await updateBadges();
      return overview;
    } catch (error) {
      if (error.kind === "signed_out" || error.kind === "revoked") await forgetOverview();
      throw error;
    }
  }

  async function forgetOverview() {
    await deps.storageRemove(["overview"]);
    await updateBadges();
  }

  /** The popup's view of a site: asked of Sayso only because the consumer opened it. */
  async function siteView(url, api) {
    const page = webPage(url || "");
    if (!page) return { site: null, brand: null };
    const site = registrableDomain(page.hostname);
    const brand = await api.lookup(site);
    await learnSite(site, brand?.brand_id || null);
    if (!brand) return { site, brand: null };
    try {
      return { site, brand, live: liveFields(await refreshOverview(api), brand.brand_id) };
    } catch (error) {
      // The brand is public knowledge: show it, and say how to get the toggles back.
      if (error.kind !== "signed_out" && error.kind !== "revoked") throw error;
      return { site, brand, live: [], error: { kind: error.kind, message: error.message } };
    }
  }

  /** After a grant or revoke: the overview (and badges) again, and the popup's view. */
  async function afterChange(api, url) {
    if (webPage(url || "")) return siteView(url, api);
    await refreshOverview(api);
    return { site: null, brand: null };
  }

  // Every change to the stored counts runs one at a time, in order: each is a
  // read-modify-write, and tab events and the consumer's clicks arrive concurrently (a
  // visit counted at the same moment must not write back counts or blocks just removed).
  let queue = Promise.resolve();
  function serially(change) {
    const next = queue.then(change);
    queue = next.catch(() => {});
    return next;
  }

  /** Best effort: a refresh that fails now is tried again by the timer. */
  const quietly = (promise) => promise.catch(() => {});

  const handlers = {
    async status() {
      const s = await settings();
      const token = await tokens.get();
      return { ...s, signedIn: Boolean(token), redirectUri: deps.redirectUri() };
    },
    async saveSettings({ saysoUrl, recording }) {
      const items = {};
      if (saysoUrl !== undefined) {
        const normalized = normalizeSaysoUrl(saysoUrl);
        const before = (await settings()).saysoUrl;
        items.saysoUrl = normalized;
        // Another server: the old token, brands and grants mean nothing there, and the
        // access to the old address is given up (the one address in use is all it holds).
        if (normalized !== before) {
          await tokens.clear();
          await deps.storageRemove(["directory", "overview"]);
          await updateBadges();
          if (originPattern(before) !== originPattern(normalized)) {
            await quietly(deps.dropOrigin(originPattern(before)));
          }
        }
      }
      if (recording !== undefined) items.recording = recording === true;
      await deps.storageSet(items);
      // Saving the address (a click on the options page) fetches the brand directory.
      if (saysoUrl !== undefined) await quietly(refreshDirectory({ force: true }));
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
      // The code is exchanged where it came from, even if the address changed meanwhile
      // (the token is then stored as that server's, and not used: see `ours`).
      const api = createSaysoClient({ saysoUrl, fetch: deps.fetch, now, tokens });
      await api.exchangeCode(code, verifier, redirectUri);
      await quietly(refreshDirectory({ force: true }));
      await quietly(refreshOverview(api));
      return handlers.status();
    },
    async signOut() {
      await (await client()).signOut();
      await forgetOverview();
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
      const overview = await refreshOverview(await client());
      return overview
        .map((entry) => ({ ...entry, live: liveFields(overview, entry.brand_id) }))
        .filter((entry) => entry.live.length);
    },
    async review() {
      const tables = await deps.tables();
      const state = await categories();
      const summary = summarize(state, { timeMs: now(), limit: 10 });
      const weights = toDisclosure(summary);
      const top = summary.map((row, i) => ({
        ...row,
        weight: weights[i].weight,
        name: tables.topics.get(row.topicId)?.name || String(row.topicId),
        path: tables.topics.get(row.topicId)?.path || "",
      }));
      const { recording } = await settings();
      return { recording, top, blocked: state.blocked };
    },
    async remove({ topicId }) {
      await serially(async () => deps.storageSet({
        categories: removeTopic(await categories(), topicId),
      }));
      return handlers.review();
    },
    async block({ topicId }) {
      await serially(async () => deps.storageSet({
        categories: blockTopic(await categories(), topicId),
      }));
      return handlers.review();
    },
    /**
     * Share what the review page showed (`categories`: `[{topic_id, weight}]` as drawn):
     * only those still counted now, with the weights shown; never a topic not shown.
     */
    async share({ categories: shown }) {
      const tables = await deps.tables();
      let reviewed;
      try {
        reviewed = checkShown(shown, (id) => tables.topics.has(id));
      } catch (problem) {
        throw new SaysoError("failed", 0, problem.message);
      }
      const value = stillCounted(await categories(), reviewed, now());
      if (reviewed.length && !value.length) {
        throw new SaysoError("failed", 0,
          "None of the categories shown is counted any more. Reload the page to review again.");
      }
      await (await client()).shareCategories(value);
      await deps.storageSet({ sharedAt: now() });
      return { shared: value, leftOut: reviewed.length - value.length };
    },
    /** Forget every count; the Block list is kept. */
    async forget() {
      await serially(async () => {
        await deps.storageSet({ categories: forgetCounts(await categories()) });
        await deps.storageRemove(["sharedAt"]);
      });
      return handlers.review();
    },
  };

  /**
   * The timed refresh (the alarm, every {@link REFRESH_MINUTES} minutes): the directory if
   * it is an hour old, and the grants overview if signed in. Independent of browsing.
   * @returns {Promise<void>}
   */
  async function refresh() {
    await quietly(refreshDirectory());
    if (await tokens.get()) await quietly(refreshOverview(await client()));
  }

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
   * (if the consumer turned that on, and never in a private window), and set the badge from
   * what is stored. Sends nothing to Sayso.
   * @param {number} tabId
   * @param {{url: string, title?: string, incognito?: boolean}} tab
   * @param {{loaded?: boolean}} [how]
   * @returns {Promise<void>}
   */
  function visited(tabId, tab, { loaded = true } = {}) {
    return serially(() => countAndBadge(tabId, tab, loaded));
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
    await showBadge(tabId, tab.url, await known());
  }

  return { handle, visited, refresh, handlers };
}
