/**
 * The public brand directory, kept on the device (registrable domain → brand id) so the
 * badge knows brands' sites without asking Sayso about the sites browsed. Owns the storage
 * key `directory`.
 * @module stores/directory
 */

/** The storage key of the directory: `{saysoUrl, domains, etag, fetchedAt}`. */
export const DIRECTORY_KEY = "directory";
/** The brand directory is fetched at most this often (unless signing in or saving options). */
export const DIRECTORY_MAX_AGE_MS = 60 * 60 * 1000;

/**
 * The directory store.
 * @param {{storage: import("./storage.js").KeyValueStorage, now: () => number}} deps
 */
export function createDirectoryStore({ storage, now }) {
  const stored = async () => (await storage.get([DIRECTORY_KEY]))[DIRECTORY_KEY];

  /**
   * The directory's domains, or undefined before the first fetch.
   * @returns {Promise<Object<string, string>|undefined>} registrable domain → brand id
   */
  const domains = async () => (await stored())?.domains;

  /**
   * Fetch the brand directory of `saysoUrl` if the one stored is older than
   * {@link DIRECTORY_MAX_AGE_MS} or another Sayso's (or `force`), with its ETag so an
   * unchanged list costs a 304. Never called because of browsing.
   * @param {{saysoUrl: string, client: () => Promise<{directory: (etag: string|null) => Promise<{notModified?: boolean, domains?: object, etag?: string}>}>, force?: boolean}} options
   *   `client` is asked for only if a fetch is due
   * @returns {Promise<boolean>} whether the domains stored changed (the badges then need updating)
   */
  async function refresh({ saysoUrl, client, force = false }) {
    const directory = await stored();
    const same = directory?.saysoUrl === saysoUrl;
    if (!force && same && now() - directory.fetchedAt < DIRECTORY_MAX_AGE_MS) return false;
    const answer = await (await client()).directory(same ? directory.etag : null);
    const next = answer.notModified
      ? { ...directory, fetchedAt: now() }
      : { saysoUrl, domains: answer.domains, etag: answer.etag, fetchedAt: now() };
    await storage.set({ [DIRECTORY_KEY]: next });
    return !answer.notModified;
  }

  /**
   * What the popup's lookup said about one site, kept in the directory until the next
   * fetch. Nothing is kept before the first fetch.
   * @param {string} site registrable domain
   * @param {string|null} brandId the brand behind it, or null for none
   * @returns {Promise<boolean>} whether the domains stored changed
   */
  async function learn(site, brandId) {
    const directory = await stored();
    if (!directory || (directory.domains[site] || null) === brandId) return false;
    const next = { ...directory.domains };
    if (brandId) next[site] = brandId;
    else delete next[site];
    await storage.set({ [DIRECTORY_KEY]: { ...directory, domains: next } });
    return true;
  }

  /**
   * Forget the directory (another Sayso is configured).
   * @returns {Promise<void>}
   */
  const clear = () => storage.remove([DIRECTORY_KEY]);

  return { domains, refresh, learn, clear };
}
