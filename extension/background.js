// The service worker: wires the controller to the browser. No logic of its own.
import * as browser from "./lib/browser.js";
import { buildTables } from "./lib/classify.js";
import { REFRESH_ALARM, REFRESH_MINUTES, createController } from "./lib/controller.js";

let tables = null;

async function loadTables() {
  if (!tables) {
    const [domains, taxonomy] = await Promise.all(
      ["data/domains.json", "data/taxonomy-v2.json"].map(async (path) =>
        (await fetch(browser.assetUrl(path))).json(),
      ),
    );
    tables = buildTables({ domains, taxonomy });
  }
  return tables;
}

const controller = createController({
  storageGet: browser.storageGet,
  storageSet: browser.storageSet,
  storageRemove: browser.storageRemove,
  fetch: (...args) => fetch(...args),
  crypto: globalThis.crypto,
  redirectUri: browser.redirectUri,
  launchWebAuthFlow: browser.launchWebAuthFlow,
  setBadge: browser.setBadge,
  tabs: browser.allTabs,
  tables: loadTables,
  dropOrigin: browser.dropOrigin,
});

browser.onMessage((message) => controller.handle(message));
// Browsing only updates the badge from storage; it never makes a request to Sayso.
browser.onTabReady((tabId, tab, how) => {
  controller.visited(tabId, tab, how).catch(() => {});
});
// The brand directory and the grants overview are refreshed on a timer of their own.
browser.onAlarm((name) => {
  if (name === REFRESH_ALARM) controller.refresh().catch(() => {});
});
browser.ensureAlarm(REFRESH_ALARM, REFRESH_MINUTES).catch(() => {});
// Getting started, once: what works with no account, and signing in when wanted.
browser.onFirstInstall(() => {
  browser.openPage("welcome.html").catch(() => {});
  // The public brand directory at once, so the badge knows brands' sites from the start.
  controller.refresh().catch(() => {});
});
