/**
 * Hostnames to registrable domains ("eTLD+1"), with a small public-suffix list covering
 * the common multi-part suffixes. Pure: no chrome.* here.
 * @module domain
 */

/** Multi-label public suffixes we know of; anything else is treated as a one-label suffix. */
export const MULTI_PART_SUFFIXES = new Set([
  "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk", "net.uk", "nhs.uk",
  "com.au", "net.au", "org.au", "edu.au", "gov.au",
  "co.nz", "org.nz", "govt.nz", "ac.nz",
  "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp",
  "co.kr", "or.kr", "co.in", "net.in", "org.in", "gov.in", "ac.in",
  "com.br", "net.br", "org.br", "gov.br", "com.mx", "org.mx", "gob.mx",
  "com.ar", "com.co", "com.pe", "com.cn", "net.cn", "org.cn", "gov.cn", "edu.cn",
  "com.hk", "com.sg", "com.tw", "com.tr", "co.za", "org.za", "co.il", "org.il",
  "com.ua", "com.pl", "co.id", "or.id", "com.my", "com.ph", "com.vn", "com.eg",
  "github.io", "gitlab.io", "blogspot.com", "herokuapp.com", "netlify.app", "vercel.app",
  "pages.dev", "web.app", "firebaseapp.com", "azurewebsites.net", "cloudfront.net",
]);

const IPV4 = /^\d{1,3}(\.\d{1,3}){3}$/;

/**
 * Normalise a hostname: lower case, no trailing dot, no "www." prefix kept for matching.
 * @param {string} hostname
 * @returns {string}
 */
export function normalizeHostname(hostname) {
  return String(hostname || "").trim().toLowerCase().replace(/\.$/, "");
}

/**
 * The registrable domain of a hostname: "shop.bookshop.co.uk" → "bookshop.co.uk".
 * IP addresses, "localhost" and single labels are returned as they are.
 * @param {string} hostname
 * @returns {string|null} null for an empty or invalid hostname
 */
export function registrableDomain(hostname) {
  const host = normalizeHostname(hostname);
  if (!host || host.includes("/") || host.includes(" ")) return null;
  if (host.startsWith("[") || IPV4.test(host)) return host;
  const labels = host.split(".");
  if (labels.some((l) => l === "")) return null;
  if (labels.length <= 2) return host;
  const lastTwo = labels.slice(-2).join(".");
  if (MULTI_PART_SUFFIXES.has(lastTwo)) return labels.slice(-3).join(".");
  return lastTwo;
}

/**
 * Whether a tab's URL is a web page worth looking at (http or https, not the extension's
 * own pages, not browser pages).
 * @param {string} url
 * @returns {URL|null} the parsed URL, or null
 */
export function webPage(url) {
  try {
    const parsed = new URL(url);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed : null;
  } catch {
    return null;
  }
}

/**
 * The origin pattern a host permission needs for a Sayso URL: "http://127.0.0.1/*".
 * @param {string} saysoUrl
 * @returns {string}
 */
export function originPattern(saysoUrl) {
  const url = new URL(saysoUrl);
  return `${url.protocol}//${url.hostname}/*`;
}
