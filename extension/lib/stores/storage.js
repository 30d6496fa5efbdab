/**
 * The one shape of storage every store takes: chrome.storage.local's three calls
 * (lib/browser.js), or an object in memory under node --test. Each store reads and writes
 * only the keys it owns.
 * @module stores/storage
 */

/**
 * @typedef {object} KeyValueStorage
 * @property {(keys: string[]) => Promise<object>} get the stored values of `keys` (absent keys left out)
 * @property {(items: object) => Promise<void>} set store each key of `items`
 * @property {(keys: string[]) => Promise<void>} remove forget `keys`
 */

/**
 * The storage of the controller's dependencies (`storageGet`, `storageSet`,
 * `storageRemove`) in the shape the stores take.
 * @param {{storageGet: KeyValueStorage["get"], storageSet: KeyValueStorage["set"], storageRemove: KeyValueStorage["remove"]}} deps
 * @returns {KeyValueStorage}
 */
export function keyValueStorage({ storageGet, storageSet, storageRemove }) {
  return { get: storageGet, set: storageSet, remove: storageRemove };
}
