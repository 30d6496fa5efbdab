/**
 * The consumer's settings and sign-in: the Sayso address, whether browsing categories are
 * counted, and the token of the Sayso signed in to. Owns the storage keys `saysoUrl`,
 * `recording` and `token`.
 * @module stores/settings
 */

import { DEFAULT_SAYSO_URL, createTokenStore, normalizeSaysoUrl } from "../api.js";

/** The storage key of the Sayso address (absent: {@link DEFAULT_SAYSO_URL}). */
export const SAYSO_URL_KEY = "saysoUrl";
/** The storage key of the switch that counts browsing categories (absent: off). */
export const RECORDING_KEY = "recording";
/** The storage key of the OAuth token, with the `issuer` it may be sent to. */
export const TOKEN_KEY = "token";

/**
 * The stored token if the Sayso it came from is the one configured now. A refresh or a
 * sign-in under way when the address changed stores the old server's token afterwards:
 * it is never sent to the new one. (A token stored before tokens named their issuer is
 * taken as the configured server's.)
 * @param {{token?: object, saysoUrl?: string}} stored
 * @returns {object|null}
 */
export function ownToken({ token, saysoUrl }) {
  if (!token) return null;
  const current = normalizeSaysoUrl(saysoUrl || DEFAULT_SAYSO_URL);
  return token.issuer === undefined || token.issuer === current ? token : null;
}

/**
 * The settings and sign-in store.
 * @param {import("./storage.js").KeyValueStorage} storage
 */
export function createSettingsStore(storage) {
  // One token store for every client built from it (one per message), so that concurrent
  // messages share one refresh of an expired token (see createTokenStore).
  const tokens = createTokenStore({
    read: async () => ownToken(await storage.get([TOKEN_KEY, SAYSO_URL_KEY])),
    write: (token) => storage.set({ [TOKEN_KEY]: token }),
    remove: () => storage.remove([TOKEN_KEY]),
  });

  /**
   * The settings, with their defaults.
   * @returns {Promise<{saysoUrl: string, recording: boolean}>}
   */
  async function read() {
    const got = await storage.get([SAYSO_URL_KEY, RECORDING_KEY]);
    return { saysoUrl: got[SAYSO_URL_KEY] || DEFAULT_SAYSO_URL, recording: got[RECORDING_KEY] === true };
  }

  /**
   * Whether a token for the configured Sayso is stored.
   * @returns {Promise<boolean>}
   */
  const signedIn = async () => Boolean(await tokens.get());

  /**
   * The address as it would be stored, and whether it is another Sayso than the one
   * configured now. Changes nothing.
   * @param {string} saysoUrl what the consumer typed
   * @returns {Promise<{before: string, after: string, changed: boolean}>}
   * @throws {Error} saying in words what is wrong with the address
   */
  async function addressChange(saysoUrl) {
    const after = normalizeSaysoUrl(saysoUrl);
    const { saysoUrl: before } = await read();
    return { before, after, changed: after !== before };
  }

  /**
   * Store the settings given (a key left undefined is kept as it is). The address is
   * stored normalised; `recording` is on only if `true`.
   * @param {{saysoUrl?: string, recording?: unknown}} settings
   * @returns {Promise<void>}
   * @throws {Error} saying in words what is wrong with the address (nothing is stored)
   */
  async function save({ saysoUrl, recording }) {
    const items = {};
    if (saysoUrl !== undefined) items[SAYSO_URL_KEY] = normalizeSaysoUrl(saysoUrl);
    if (recording !== undefined) items[RECORDING_KEY] = recording === true;
    await storage.set(items);
  }

  return { read, signedIn, addressChange, save, tokens };
}
