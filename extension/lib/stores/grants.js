/**
 * The grants overview (each brand's live fields, from `GET /api/v1/me/grants`) and the
 * toolbar badge worked out from it, the directory and the sign-in. Owns the storage key
 * `overview`. Browsing only reads what is stored: no request to Sayso.
 * @module stores/grants
 */

import { badgeFor, liveByBrand } from "../badge.js";
import { webPage } from "../domain.js";

/** The storage key of the overview: `{live: {brandId: fields}, fetchedAt}`. */
export const OVERVIEW_KEY = "overview";

/**
 * @typedef {object} GrantsDeps
 * @property {import("./storage.js").KeyValueStorage} storage
 * @property {() => number} now
 * @property {{domains: () => Promise<Object<string, string>|undefined>}} directory the directory store
 * @property {{signedIn: () => Promise<boolean>}} settings the settings store
 * @property {() => Promise<Array<{id: number, url?: string, incognito?: boolean}>>} tabs every open tab
 * @property {(tabId: number, text: string, title: string) => Promise<void>} setBadge
 */

/**
 * The grants and badge store.
 * @param {GrantsDeps} deps
 */
export function createGrantsStore({ storage, now, directory, settings, tabs, setBadge }) {
  /**
   * What the badge needs, all from storage.
   * @returns {Promise<{domains: Object<string, string>|undefined, live: Object<string, string[]>|null, signedIn: boolean}>}
   */
  async function known() {
    const got = await storage.get([OVERVIEW_KEY]);
    return {
      domains: await directory.domains(),
      live: got[OVERVIEW_KEY]?.live || null,
      signedIn: await settings.signedIn(),
    };
  }

  /**
   * Set one tab's badge from what is stored.
   * @param {number} tabId
   * @param {string} url the tab's address
   * @param {Awaited<ReturnType<typeof known>>} [facts] what is stored, if already read
   * @returns {Promise<void>}
   */
  async function showBadge(tabId, url, facts) {
    const { text, title } = badgeFor(url, facts || (await known()));
    await setBadge(tabId, text, title);
  }

  /**
   * Set the badge of every open web tab (so every tab of a brand whose grants changed) from
   * what is stored. No request to Sayso: it only reads storage.
   * @returns {Promise<void>}
   */
  async function updateBadges() {
    const facts = await known();
    for (const tab of await tabs()) {
      if (tab.incognito || !webPage(tab.url || "")) continue;
      // A tab closed meanwhile: nothing to update.
      await showBadge(tab.id, tab.url, facts).catch(() => {});
    }
  }

  /**
   * Forget the overview (signed out, or another Sayso): brands' tabs then show "?".
   * @returns {Promise<void>}
   */
  async function forget() {
    await storage.remove([OVERVIEW_KEY]);
    await updateBadges();
  }

  /**
   * Fetch the grants overview, keep each brand's live fields, and update the badges of the
   * brands' tabs. Called on the consumer's own actions and on the timer, never on browsing.
   * Signed out or revoked: the overview is forgotten (badges show "?") and the error thrown.
   * @param {{grants: () => Promise<Array<object>>}} api a Sayso client
   * @returns {Promise<Array<object>>} the overview, as Sayso answered
   */
  async function refresh(api) {
    try {
      const overview = await api.grants();
      await storage.set({ [OVERVIEW_KEY]: { live: liveByBrand(overview), fetchedAt: now() } });
      await updateBadges();
      return overview;
    } catch (error) {
      if (error.kind === "signed_out" || error.kind === "revoked") await forget();
      throw error;
    }
  }

  return { known, showBadge, updateBadges, refresh, forget };
}
