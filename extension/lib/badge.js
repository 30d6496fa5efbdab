/**
 * The toolbar badge, worked out on the device: the tab's registrable domain is matched
 * against the brand directory kept in storage, and the count comes from the cached grants
 * overview. Pure: no chrome.*, no network; browsing a site asks Sayso nothing.
 * @module badge
 */

import { registrableDomain, webPage } from "./domain.js";
import { plural, t } from "./i18n.js";

/** The title when the tab shows no brand (the manifest's default_title). */
export const defaultTitle = () => t("badge_default_title");
/** The title of the "?" badge: a brand's site, but the extension is signed out. */
export const signedOutTitle = () => t("badge_signed_out_title");

/**
 * The brand id behind a tab's URL, from the directory, or null.
 * @param {string} url
 * @param {Object<string, string>|undefined} domains registrable domain → brand id
 * @returns {string|null}
 */
export function brandOf(url, domains) {
  const page = webPage(url || "");
  if (!page || !domains) return null;
  const site = registrableDomain(page.hostname);
  return site && Object.hasOwn(domains, site) ? domains[site] : null;
}

/**
 * The badge for a tab: "" off brand sites; "?" on a brand's site while signed out (or the
 * sign-in was revoked), since the extension cannot know what the brand sees; else the
 * number of fields the brand can see, from the last grants overview.
 * @param {string} url
 * @param {{domains?: Object<string, string>, live?: Object<string, string[]>|null, signedIn: boolean}} known
 * @returns {{text: string, title: string, brandId: string|null}}
 */
export function badgeFor(url, { domains, live, signedIn }) {
  const brandId = brandOf(url, domains);
  if (!brandId) return { text: "", title: defaultTitle(), brandId: null };
  if (!signedIn || !live) return { text: "?", title: signedOutTitle(), brandId };
  const count = (live[brandId] || []).length;
  return { text: String(count), title: plural("badge_count_title", count), brandId };
}

/**
 * The live fields of every brand in a `GET /api/v1/me/grants` answer.
 * @param {Array<{brand_id: string, grants: Array<{field: string, active: boolean}>}>} overview
 * @returns {Object<string, string[]>} brand id → live fields, sorted
 */
export function liveByBrand(overview) {
  const live = {};
  for (const entry of overview || []) {
    live[entry.brand_id] = entry.grants.filter((g) => g.active === true).map((g) => g.field).sort();
  }
  return live;
}
