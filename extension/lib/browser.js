/**
 * The ONLY module that touches chrome.* / browser.*. Everything else is pure and runs
 * under node --test. Kept thin on purpose: each export is one call.
 * @module browser
 */

/**
 * Firefox's promise-based `browser`, else Chromium's `chrome` (promise-based in MV3), looked
 * up at each call (so a test may install its fake after this module is loaded).
 */
const ext = () => globalThis.browser ?? globalThis.chrome;

/**
 * Read keys from chrome.storage.local.
 * @param {string[]} keys
 * @returns {Promise<Object>}
 */
export const storageGet = (keys) => ext().storage.local.get(keys);
/**
 * Write keys to chrome.storage.local.
 * @param {Object} items
 * @returns {Promise<void>}
 */
export const storageSet = (items) => ext().storage.local.set(items);
/**
 * Remove keys from chrome.storage.local.
 * @param {string[]} keys
 * @returns {Promise<void>}
 */
export const storageRemove = (keys) => ext().storage.local.remove(keys);
/**
 * Call `listener(changes)` when chrome.storage.local changes.
 * @param {(changes: Object) => void} listener
 */
export const onStorageChanged = (listener) =>
  ext().storage.onChanged.addListener((changes, area) => area === "local" && listener(changes));

/** @returns {string} the redirect URI Sayso must have registered for this extension */
export const redirectUri = () => ext().identity.getRedirectURL();
/**
 * Open Sayso's sign-in and consent page; resolves with the URL it redirected to.
 * @param {string} url
 * @returns {Promise<string>}
 */
export const launchWebAuthFlow = (url) =>
  ext().identity.launchWebAuthFlow({ url, interactive: true });

/**
 * Ask for the host permission of the configured Sayso URL (needs a user gesture).
 * @param {string} pattern e.g. "http://127.0.0.1/*"
 * @returns {Promise<boolean>}
 */
export const requestOrigin = (pattern) => ext().permissions.request({ origins: [pattern] });
/**
 * @param {string} pattern
 * @returns {Promise<boolean>} whether the host permission is held
 */
export const hasOrigin = (pattern) => ext().permissions.contains({ origins: [pattern] });
/**
 * Give up a host permission (the Sayso address used before).
 * @param {string} pattern
 * @returns {Promise<boolean>} whether it was removed
 */
export const dropOrigin = (pattern) => ext().permissions.remove({ origins: [pattern] });

/** @returns {Promise<{id: number, url: string, title: string, incognito: boolean}|undefined>} the active tab */
export const activeTab = async () => (await ext().tabs.query({ active: true, currentWindow: true }))[0];
/**
 * Call `listener(tabId, tab, {loaded})` when a tab finishes loading (loaded: true) or
 * becomes the active tab (loaded: false).
 * @param {(tabId: number, tab: object, how: {loaded: boolean}) => void} listener
 */
export function onTabReady(listener) {
  ext().tabs.onUpdated.addListener((tabId, info, tab) => {
    if (info.status === "complete") listener(tabId, tab, { loaded: true });
  });
  ext().tabs.onActivated.addListener(async ({ tabId }) =>
    listener(tabId, await ext().tabs.get(tabId), { loaded: false }),
  );
}
/** @returns {Promise<Array<{id: number, url?: string, incognito: boolean}>>} every open tab */
export const allTabs = () => ext().tabs.query({});
/**
 * Set the toolbar badge of one tab ("" clears it) and its tooltip.
 * @param {number} tabId
 * @param {string} text
 * @param {string} title
 */
export const setBadge = (tabId, text, title) =>
  Promise.all([
    ext().action.setBadgeText({ tabId, text }),
    ext().action.setTitle({ tabId, title }),
  ]);
/** @param {string} color */
export const setBadgeColor = (color) => ext().action.setBadgeBackgroundColor({ color });

/**
 * Make sure a repeating alarm exists (created once, not reset each time the worker starts).
 * @param {string} name
 * @param {number} periodInMinutes
 * @returns {Promise<void>}
 */
export async function ensureAlarm(name, periodInMinutes) {
  if (!(await ext().alarms.get(name))) await ext().alarms.create(name, { periodInMinutes });
}
/**
 * Call `listener(name)` when an alarm goes off.
 * @param {(name: string) => void} listener
 */
export const onAlarm = (listener) => ext().alarms.onAlarm.addListener((alarm) => listener(alarm.name));

/**
 * Send a message to the background service worker.
 * @param {object} message
 * @returns {Promise<any>}
 */
export const sendMessage = (message) => ext().runtime.sendMessage(message);

/**
 * Send a message to the background and return its answer, throwing the error it answered
 * with (every extension page asks this way).
 * @param {object} message
 * @returns {Promise<any>}
 */
export async function ask(message) {
  const answer = await sendMessage(message);
  if (answer?.error) throw answer.error;
  return answer;
}
/**
 * Answer messages (the listener returns a promise).
 * @param {(message: object) => Promise<any>} handler
 */
export function onMessage(handler) {
  ext().runtime.onMessage.addListener((message, sender, respond) => {
    if (sender.id !== ext().runtime.id) return false;
    handler(message).then(respond, (error) =>
      respond({ error: { message: error.message, kind: error.kind || "failed" } }),
    );
    return true;
  });
}
/**
 * The URL of a file shipped in the extension.
 * @param {string} path
 * @returns {string}
 */
export const assetUrl = (path) => ext().runtime.getURL(path);
/** Open the options page. */
export const openOptions = () => ext().runtime.openOptionsPage();
/**
 * Open one of the extension's pages in a tab.
 * @param {string} path
 */
export const openPage = (path) => ext().tabs.create({ url: ext().runtime.getURL(path) });
/**
 * Call `listener()` once, when the extension is first installed (not on updates or
 * browser restarts).
 * @param {() => void} listener
 */
export const onFirstInstall = (listener) =>
  ext().runtime.onInstalled.addListener(({ reason }) => reason === "install" && listener());

/**
 * A message of the extension's catalogue (_locales/<language>/messages.json) in the
 * browser's language; "" when the key is unknown.
 * @param {string} key
 * @param {string[]} substitutions $1, $2… of the message's placeholders
 * @returns {string}
 */
export const getMessage = (key, substitutions) => ext().i18n.getMessage(key, substitutions);
