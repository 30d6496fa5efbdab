// The grants and badge store (lib/stores/grants.js): on its own, then through the
// controller's messages against the fake Sayso.
import "../locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { SaysoError } from "../../lib/api.js";
import { defaultTitle, signedOutTitle } from "../../lib/badge.js";
import { OVERVIEW_KEY, createGrantsStore } from "../../lib/stores/grants.js";
import { BRAND_URL, DIRECTORY, SIGNED_IN, setup } from "../fake-sayso.js";
import { fakeClock, keysTouched, memoryStorage } from "../fake-storage.js";


const OVERVIEW = [{ brand_id: "br_1", brand_name: "Bookshop",
  grants: [{ field: "interests", active: true }, { field: "channels", active: false }] }];

/** A grants store over memory, with the directory and sign-in it is given as plain values. */
function grantsStore(options = {}) {
  const { initial = {}, signedIn = true, tabs = [] } = options;
  const domains = "domains" in options ? options.domains : DIRECTORY;
  const storage = memoryStorage(initial);
  const badges = {};
  const titles = {};
  const grants = createGrantsStore({
    storage,
    now: fakeClock(42).now,
    directory: { domains: async () => domains },
    settings: { signedIn: async () => signedIn },
    tabs: async () => tabs,
    setBadge: async (tabId, text, title) => {
      if (tabId === 99) throw new Error("No tab with id: 99");
      badges[tabId] = text;
      titles[tabId] = title;
    },
  });
  return { storage, badges, titles, grants };
}

test("grants store: what the badge needs comes from the overview, the directory and the sign-in", async () => {
  const { grants } = grantsStore({ initial: { [OVERVIEW_KEY]: { live: { br_1: ["interests"] }, fetchedAt: 0 } } });
  assert.deepEqual(await grants.known(),
    { domains: DIRECTORY, live: { br_1: ["interests"] }, signedIn: true });
  assert.deepEqual(await grantsStore({ signedIn: false, domains: undefined }).grants.known(),
    { domains: undefined, live: null, signedIn: false });
});

test("grants store: one tab's badge is a count, '?' signed out, or nothing off brands' sites", async () => {
  const initial = { [OVERVIEW_KEY]: { live: { br_1: ["interests"] }, fetchedAt: 0 } };
  const { badges, titles, grants } = grantsStore({ initial });
  await grants.showBadge(1, BRAND_URL);
  await grants.showBadge(2, "https://nobody.example/");
  assert.deepEqual(badges, { 1: "1", 2: "" });
  assert.equal(titles[2], defaultTitle());
  const signedOut = grantsStore({ initial, signedIn: false });
  await signedOut.grants.showBadge(1, BRAND_URL);
  assert.equal(signedOut.badges[1], "?");
  assert.equal(signedOut.titles[1], signedOutTitle());
});

test("grants store: every open web tab's badge is set, but private windows' and closed tabs'", async () => {
  const tabs = [{ id: 1, url: BRAND_URL }, { id: 99, url: BRAND_URL }, { id: 2, url: BRAND_URL, incognito: true },
    { id: 3, url: "chrome://extensions/" }, { id: 4 }, { id: 5, url: "https://other.example/" }];
  const { badges, grants } = grantsStore({
    initial: { [OVERVIEW_KEY]: { live: { br_1: ["interests"], br_2: [] }, fetchedAt: 0 } }, tabs,
  });
  await grants.updateBadges();
  assert.deepEqual(badges, { 1: "1", 5: "0" });
});

test("grants store: a refresh keeps each brand's live fields and sets the badges", async () => {
  const { storage, badges, grants } = grantsStore({ tabs: [{ id: 1, url: BRAND_URL }] });
  assert.equal(await grants.refresh({ grants: async () => OVERVIEW }), OVERVIEW);
  assert.deepEqual(storage.store.overview, { live: { br_1: ["interests"] }, fetchedAt: 42 });
  assert.deepEqual(badges, { 1: "1" });
  assert.deepEqual(keysTouched(storage), [OVERVIEW_KEY]);
});

test("grants store: signed out or revoked, the overview is forgotten; Sayso unreachable, it is kept", async () => {
  const initial = { [OVERVIEW_KEY]: { live: { br_1: ["interests"] }, fetchedAt: 0 } };
  for (const kind of ["signed_out", "revoked"]) {
    const { storage, badges, grants } = grantsStore({ initial, signedIn: false, tabs: [{ id: 1, url: BRAND_URL }] });
    await assert.rejects(grants.refresh({ grants: async () => { throw new SaysoError(kind); } }), { kind });
    assert.equal(storage.store.overview, undefined);
    assert.deepEqual(badges, { 1: "?" });
  }
  const { storage, badges, grants } = grantsStore({ initial, tabs: [{ id: 1, url: BRAND_URL }] });
  await assert.rejects(grants.refresh({ grants: async () => { throw new SaysoError("unreachable"); } }),
    { kind: "unreachable" });
  assert.deepEqual(storage.store.overview, initial.overview);
  assert.deepEqual(badges, {});
  await grants.forget();
  assert.equal(storage.store.overview, undefined);
  assert.deepEqual(badges, { 1: "?" });
});

test("the popup shows the brand and its live fields; toggles grant and revoke", async () => {
  const { controller } = setup();
  const view = await controller.handle({ type: "popup", url: BRAND_URL });
  assert.equal(view.brand.name, "Bookshop");
  assert.deepEqual(view.live, ["interests"]);
  const off = await controller.handle({ type: "toggle", url: "https://bookshop.example/", brandId: "br_1", field: "interests", on: false });
  assert.deepEqual(off.live, []);
  const on = await controller.handle({ type: "toggle", url: "https://bookshop.example/", brandId: "br_1", field: "channels", on: true });
  assert.deepEqual(on.live, ["channels"]);
});

test("signed out, the popup still shows the brand and says how to sign in", async () => {
  const { controller } = setup({ token: null });
  const view = await controller.handle({ type: "popup", url: "https://bookshop.example/" });
  assert.equal(view.brand.name, "Bookshop");
  assert.deepEqual(view.live, []);
  assert.equal(view.signIn, "signed_out");
  assert.equal(view.error, undefined, "an answer with `error` is taken for a failure by the pages");
  await assert.rejects(controller.handle({ type: "brands" }), { kind: "signed_out" });
});

test("a site that is no brand says so", async () => {
  const { controller } = setup();
  const view = await controller.handle({ type: "popup", url: "https://nobody.example/" });
  assert.equal(view.brand, null);
  assert.equal(view.site, "nobody.example");
});

test("browsing sends nothing to Sayso: the badge comes from the stored directory and grants", async () => {
  for (const recording of [false, true]) {
    const { controller, calls, badges, store } = setup({ recording });
    Object.assign(store, SIGNED_IN, { overview: { live: { br_1: ["interests"] }, fetchedAt: 0 } });
    for (const url of ["https://mail.internal-corp.example/", "https://www.plannedparenthood.org/",
      "https://jobs.competitor.example/apply", BRAND_URL]) {
      await controller.visited(1, { url, title: "x" });
    }
    await controller.visited(2, { url: "https://www.plannedparenthood.org/", title: "x" }, { loaded: false });
    await controller.visited(3, { url: BRAND_URL, title: "x" }, { loaded: false });
    assert.deepEqual(calls, [], `recording ${recording}: a visit made a request`);
    assert.deepEqual(badges, { 1: "1", 2: "", 3: "1" });
  }
});

test("the badge of the brand's tabs follows a toggle and a revoke at once", async () => {
  const tabs = [{ id: 3, url: BRAND_URL }, { id: 4, url: "https://bookshop.example/cart" },
    { id: 5, url: "https://nobody.example/" }];
  const { controller, store, badges } = setup({ tabs });
  Object.assign(store, SIGNED_IN);
  await controller.handle({ type: "popup", url: BRAND_URL });
  assert.deepEqual(badges, { 3: "1", 4: "1", 5: "" });
  await controller.handle({ type: "toggle", url: BRAND_URL, brandId: "br_1", field: "channels", on: true });
  assert.deepEqual(badges, { 3: "2", 4: "2", 5: "" });
  // From My brands: no tab URL comes with the message.
  await controller.handle({ type: "revokeBrand", brandId: "br_1" });
  assert.deepEqual(badges, { 3: "0", 4: "0", 5: "" });
});

test("signed out or revoked, a brand's site shows '?' (sign in), not a count", async () => {
  const { controller, store, badges, titles } = setup({ token: null });
  Object.assign(store, SIGNED_IN, { overview: { live: { br_1: ["interests"] }, fetchedAt: 0 } });
  await controller.visited(3, { url: BRAND_URL, title: "x" });
  await controller.visited(4, { url: "https://nobody.example/", title: "x" });
  assert.equal(badges[3], "?");
  assert.equal(titles[3], signedOutTitle());
  assert.equal(badges[4], "");

  // A token Sayso no longer accepts: forgotten, and the badge says "?" too.
  const revoked = setup({ tabs: [{ id: 3, url: BRAND_URL }] });
  Object.assign(revoked.store, SIGNED_IN, { overview: { live: { br_1: ["interests"] }, fetchedAt: 0 } });
  revoked.server.access.clear();
  const view = await revoked.controller.handle({ type: "popup", url: BRAND_URL });
  assert.equal(view.signIn, "revoked");
  assert.equal(revoked.store.token, undefined);
  assert.equal(revoked.store.overview, undefined);
  assert.equal(revoked.badges[3], "?");
});
