import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { test } from "node:test";
import { createController } from "../lib/controller.js";
import { EPOCH_MS } from "../lib/epochs.js";
import { tables } from "./tables.js";

const BASE = "http://127.0.0.1:5000";
const BRAND = {
  brand_id: "br_1", name: "Bookshop", domain: "bookshop.example", verified: false,
  fields: [{ field: "channels", purpose: "email" }, { field: "interests", purpose: "books" }],
};

function setup({ recording = false, token = { access_token: "at", expires_at: 1e15 } } = {}) {
  const store = { recording, ...(token ? { token } : {}) };
  const calls = [];
  const badges = {};
  let live = ["interests"];
  let answer = null;
  const fetch = async (url, init = {}) => {
    const { pathname, search } = new URL(url);
    const key = `${init.method || "GET"} ${pathname}${search}`;
    calls.push({ key, init });
    const reply = (status, body) => ({ status, ok: status < 300, json: async () => body });
    if (key === "GET /api/v1/brands/lookup?domain=bookshop.example") return reply(200, BRAND);
    if (key.startsWith("GET /api/v1/brands/lookup")) return reply(404, {});
    if (key === "GET /api/v1/me/grants") {
      return reply(200, [{ brand_id: "br_1", brand_name: "Bookshop",
        grants: ["channels", "interests"].map((f) => ({ field: f, active: live.includes(f) })) }]);
    }
    if (key === "DELETE /api/v1/me/grants/br_1/interests") { live = live.filter((f) => f !== "interests"); return reply(200, {}); }
    if (key === "POST /api/v1/me/grants/br_1/channels") { live = [...live, "channels"]; return reply(200, {}); }
    if (key === "PUT /api/v1/me/disclosures/browsing_categories") return reply(200, JSON.parse(init.body));
    if (key === "GET /api/v1/me/questions?brand_id=br_1") {
      return reply(200, [{ id: 5, brand_id: "br_1", brand_name: "Bookshop", kind: "text", prompt: "Why books?",
        purpose: "shelf", why: null, options: [], answer }]);
    }
    if (key === "PUT /api/v1/me/questions/5") { answer = JSON.parse(init.body).answer; return reply(200, { answer }); }
    if (key === "DELETE /api/v1/me/questions/5") { answer = null; return reply(204, null); }
    if (key === "POST /oauth/token") return reply(200, { access_token: "new", refresh_token: "r", expires_in: 600 });
    throw new TypeError("Failed to fetch");
  };
  const controller = createController({
    storageGet: async (keys) => Object.fromEntries(keys.filter((k) => k in store).map((k) => [k, store[k]])),
    storageSet: async (items) => Object.assign(store, items),
    storageRemove: async (keys) => keys.forEach((k) => delete store[k]),
    fetch,
    crypto: webcrypto,
    redirectUri: () => "https://ext.chromiumapp.org/",
    launchWebAuthFlow: async (url) => {
      const state = new URL(url).searchParams.get("state");
      return `https://ext.chromiumapp.org/?code=c1&state=${state}&iss=${encodeURIComponent(BASE)}`;
    },
    setBadge: async (tabId, text) => { badges[tabId] = text; },
    tables: async () => tables,
    now: () => 10 * EPOCH_MS,
  });
  return { controller, store, calls, badges };
}

test("the popup shows the brand and its live fields; toggles grant and revoke", async () => {
  const { controller } = setup();
  const view = await controller.handle({ type: "popup", url: "https://www.bookshop.example/b/1" });
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
  assert.equal(view.error.kind, "signed_out");
  await assert.rejects(controller.handle({ type: "brands" }), { kind: "signed_out" });
});

test("a site that is no brand says so", async () => {
  const { controller } = setup();
  const view = await controller.handle({ type: "popup", url: "https://nobody.example/" });
  assert.equal(view.brand, null);
  assert.equal(view.site, "nobody.example");
});

test("sign-in runs PKCE through the auth flow and stores the token", async () => {
  const { controller, store, calls } = setup({ token: null });
  const status = await controller.handle({ type: "signIn" });
  assert.equal(status.signedIn, true);
  assert.equal(store.token.access_token, "new");
  const body = new URLSearchParams(calls.at(-1).init.body);
  assert.equal(body.get("code"), "c1");
  assert.ok(body.get("code_verifier").length >= 43);
});

test("visits are counted only when recording is on, never in private windows", async () => {
  const page = { url: "https://www.allrecipes.com/recipe/1", title: "Easy pancake recipes" };
  const off = setup();
  await off.controller.visited(1, page);
  assert.equal(off.store.categories, undefined);

  const on = setup({ recording: true });
  await on.controller.visited(1, { ...page, incognito: true });
  assert.equal(on.store.categories, undefined);
  await on.controller.visited(1, page);
  await on.controller.visited(2, { url: "https://www.bookshop.example/", title: "Bookshop" });
  const review = await on.controller.handle({ type: "review" });
  assert.equal(review.top[0].topicId, 173);
  assert.equal(review.top[0].name, "Cooking & Recipes");
  assert.deepEqual(on.badges, { 1: "", 2: "1" });
});

test("nothing is sent before Share; Share sends the reviewed categories; Forget wipes", async () => {
  const { controller, calls, store } = setup({ recording: true });
  await controller.visited(1, { url: "https://www.nfl.com/", title: "NFL scores" });
  await controller.visited(1, { url: "https://www.allrecipes.com/", title: "Recipes" });
  await controller.handle({ type: "block", topicId: 300 });
  assert.ok(!calls.some((c) => c.key.includes("disclosures")));
  const { shared } = await controller.handle({ type: "share" });
  assert.ok(shared.some((c) => c.topic_id === 173));
  assert.ok(!shared.some((c) => c.topic_id === 300));
  assert.ok(calls.some((c) => c.key === "PUT /api/v1/me/disclosures/browsing_categories"));
  const after = await controller.handle({ type: "forget" });
  assert.deepEqual(after.top, []);
  assert.equal(store.categories, undefined);
});

test("concurrent visits are all counted; switching tabs counts nothing", async () => {
  const { controller } = setup({ recording: true });
  const pages = ["allrecipes.com", "seriouseats.com", "bonappetit.com"].map((h) => ({
    url: `https://www.${h}/`, title: "Recipes",
  }));
  await Promise.all(pages.map((tab, i) => controller.visited(i, tab)));
  await controller.visited(9, pages[0], { loaded: false });
  const review = await controller.handle({ type: "review" });
  assert.equal(review.top[0].visits, 3);
  assert.equal(review.top[0].sites, 3);
});

test("changing the Sayso address signs out; unknown messages are refused", async () => {
  const { controller, store } = setup();
  await controller.handle({ type: "saveSettings", saysoUrl: "https://sayso.example/" });
  assert.equal(store.saysoUrl, "https://sayso.example");
  assert.equal(store.token, undefined);
  await assert.rejects(controller.handle({ type: "constructor" }), /Unknown message/);
});

test("the popup lists the brand's open questions; answers are saved and cleared", async () => {
  const { controller, calls } = setup();
  const [open] = await controller.handle({ type: "questions", brandId: "br_1" });
  assert.equal(open.answer, null);
  const saved = await controller.handle({ type: "answerQuestion", brandId: "br_1", id: 5, answer: "Stories" });
  assert.equal(saved[0].answer, "Stories");
  assert.ok(calls.some((c) => c.key === "PUT /api/v1/me/questions/5" && c.init.headers.Authorization === "Bearer at"));
  const cleared = await controller.handle({ type: "clearAnswer", brandId: "br_1", id: 5 });
  assert.equal(cleared[0].answer, null);
});
