import assert from "node:assert/strict";
import { test } from "node:test";
import { SIGNED_OUT_TITLE } from "../lib/badge.js";
import { DIRECTORY_MAX_AGE_MS } from "../lib/controller.js";
import { EPOCH_MS } from "../lib/epochs.js";
import { settle } from "./fake-dom.js";
import { DIRECTORY, setup } from "./fake-sayso.js";

const BRAND_URL = "https://www.bookshop.example/b/1";
/** What sign-in leaves in storage: the directory and the grants overview. */
const SIGNED_IN = {
  directory: { saysoUrl: "http://127.0.0.1:5000", domains: DIRECTORY, etag: '"d1"', fetchedAt: 10 * EPOCH_MS },
};

const shownOf = (review) => review.top.map((r) => ({ topic_id: r.topicId, weight: r.weight }));
const sharedBody = (calls) =>
  JSON.parse(calls.findLast((c) => c.key === "PUT /api/v1/me/disclosures/browsing_categories").init.body).value;

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
  assert.equal(view.error.kind, "signed_out");
  await assert.rejects(controller.handle({ type: "brands" }), { kind: "signed_out" });
});

test("a site that is no brand says so", async () => {
  const { controller } = setup();
  const view = await controller.handle({ type: "popup", url: "https://nobody.example/" });
  assert.equal(view.brand, null);
  assert.equal(view.site, "nobody.example");
});

test("sign-in runs PKCE, stores the token, and fetches the directory and the grants", async () => {
  const { controller, store, calls } = setup({ token: null, tabs: [{ id: 3, url: BRAND_URL }] });
  const status = await controller.handle({ type: "signIn" });
  assert.equal(status.signedIn, true);
  assert.equal(store.token.access_token, "at1");
  const body = new URLSearchParams(calls.find((c) => c.key === "POST /oauth/token").init.body);
  assert.equal(body.get("code"), "c1");
  assert.ok(body.get("code_verifier").length >= 43);
  assert.deepEqual(store.directory.domains, DIRECTORY);
  assert.deepEqual(store.overview.live, { br_1: ["interests"] });
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
  assert.equal(review.top[0].weight, 1);
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

test("the full brand record is fetched only when the popup is opened", async () => {
  const { controller, calls, store } = setup();
  Object.assign(store, SIGNED_IN);
  await controller.visited(1, { url: BRAND_URL, title: "x" });
  assert.ok(!calls.some((c) => c.key.includes("/brands/lookup")));
  await controller.handle({ type: "popup", url: BRAND_URL });
  assert.ok(calls.some((c) => c.key === "GET /api/v1/brands/lookup?domain=bookshop.example"));
  // The directory was fresh: the popup did not fetch it again.
  assert.ok(!calls.some((c) => c.key === "GET /api/v1/brands/directory"));
});

test("the timer refreshes the grants, and the directory at most once an hour (304 if unchanged)", async () => {
  const { controller, calls, store, badges, advance } = setup({ tabs: [{ id: 3, url: BRAND_URL }] });
  await controller.refresh();
  assert.deepEqual(calls.map((c) => c.key), ["GET /api/v1/brands/directory", "GET /api/v1/me/grants"]);
  assert.equal(badges[3], "1");
  calls.length = 0;
  advance(15 * 60 * 1000);
  await controller.refresh();
  assert.deepEqual(calls.map((c) => c.key), ["GET /api/v1/me/grants"]);
  calls.length = 0;
  advance(DIRECTORY_MAX_AGE_MS);
  await controller.refresh();
  const [directory] = calls;
  assert.equal(directory.key, "GET /api/v1/brands/directory");
  assert.equal(directory.init.headers["If-None-Match"], '"d1"');
  assert.deepEqual(store.directory.domains, DIRECTORY);
  // Signed out, the timer asks only for the public directory.
  delete store.token;
  calls.length = 0;
  advance(DIRECTORY_MAX_AGE_MS);
  await controller.refresh();
  assert.deepEqual(calls.map((c) => c.key), ["GET /api/v1/brands/directory"]);
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
  assert.equal(titles[3], SIGNED_OUT_TITLE);
  assert.equal(badges[4], "");

  // A token Sayso no longer accepts: forgotten, and the badge says "?" too.
  const revoked = setup({ tabs: [{ id: 3, url: BRAND_URL }] });
  Object.assign(revoked.store, SIGNED_IN, { overview: { live: { br_1: ["interests"] }, fetchedAt: 0 } });
  revoked.server.access.clear();
  const view = await revoked.controller.handle({ type: "popup", url: BRAND_URL });
  assert.equal(view.error.kind, "revoked");
  assert.equal(revoked.store.token, undefined);
  assert.equal(revoked.store.overview, undefined);
  assert.equal(revoked.badges[3], "?");
});

test("concurrent messages with an expired token share one refresh; the sign-in survives", async () => {
  const { controller, store, server, calls } = setup({
    token: { access_token: "at", refresh_token: "r0", expires_at: 0 }, delay: 5,
  });
  Object.assign(store, SIGNED_IN);
  const [view, brands] = await Promise.all([
    controller.handle({ type: "popup", url: BRAND_URL }),
    controller.handle({ type: "brands" }),
    controller.handle({ type: "questions", brandId: "br_1" }),
  ]);
  const presented = calls.filter((c) => c.key === "POST /oauth/token")
    .map((c) => new URLSearchParams(c.init.body).get("refresh_token"));
  assert.deepEqual(presented, ["r0"]);
  assert.equal(server.familyRevoked, false);
  assert.deepEqual(server.events, []);
  assert.equal(view.error, undefined);
  assert.deepEqual(view.live, ["interests"]);
  assert.equal(brands.length, 1);
  assert.equal(store.token.refresh_token, "r1");
});

test("Share sends what the review page showed, only what is still counted", async () => {
  const { controller, calls } = setup({ recording: true });
  await controller.visited(1, { url: "https://www.nfl.com/", title: "NFL scores" });
  await controller.visited(1, { url: "https://www.allrecipes.com/", title: "Recipes" });
  await controller.visited(1, { url: "https://www.allrecipes.com/", title: "Recipes" });
  await controller.handle({ type: "remove", topicId: 300 });
  const shown = await controller.handle({ type: "remove", topicId: 299 });
  assert.deepEqual(shown.top.map((r) => r.topicId), [173]);
  // A page recorded after the review page was drawn brings the removed topics back...
  await controller.visited(2, { url: "https://www.nfl.com/", title: "NFL scores" });
  // ...but Share sends only what the page showed, with the weights it showed.
  assert.ok(!calls.some((c) => c.key.includes("disclosures")));
  const { shared, leftOut } = await controller.handle({ type: "share", categories: shownOf(shown) });
  assert.deepEqual(shared, [{ topic_id: 173, weight: 1 }]);
  assert.equal(leftOut, 0);
  assert.deepEqual(sharedBody(calls), [{ topic_id: 173, weight: 1 }]);
});

test("Share leaves out a category shown but removed or blocked since", async () => {
  const { controller, calls } = setup({ recording: true });
  await controller.visited(1, { url: "https://www.allrecipes.com/", title: "Recipes" });
  await controller.visited(1, { url: "https://www.allrecipes.com/", title: "Recipes" });
  await controller.visited(1, { url: "https://www.nfl.com/", title: "NFL scores" });
  const shown = shownOf(await controller.handle({ type: "review" }));
  assert.ok(shown.some((c) => c.topic_id === 300 && c.weight === 0.5));
  await controller.handle({ type: "block", topicId: 300 }); // in another review tab
  const { shared, leftOut } = await controller.handle({ type: "share", categories: shown });
  assert.ok(!shared.some((c) => c.topic_id === 300));
  assert.deepEqual(shared.find((c) => c.topic_id === 173), { topic_id: 173, weight: 1 });
  assert.equal(leftOut, 1);
  assert.deepEqual(sharedBody(calls), shared);
  // Nothing shown is counted any more: nothing is sent (not an empty list).
  await controller.handle({ type: "forget" });
  await assert.rejects(controller.handle({ type: "share", categories: shown }), /no longer|any more/);
  assert.equal(calls.filter((c) => c.key.includes("disclosures")).length, 1);
});

for (const [name, categories] of [
  ["no list", undefined],
  ["not a list", { topic_id: 173, weight: 1 }],
  ["more than ten", Array.from({ length: 11 }, (_, i) => ({ topic_id: 1 + i, weight: 1 }))],
  ["a non-integer id", [{ topic_id: 173.5, weight: 1 }]],
  ["an id as a string", [{ topic_id: "173", weight: 1 }]],
  ["an unknown topic", [{ topic_id: 999999, weight: 1 }]],
  ["a zero weight", [{ topic_id: 173, weight: 0 }]],
  ["a weight above one", [{ topic_id: 173, weight: 1.5 }]],
  ["a weight that is no number", [{ topic_id: 173, weight: "1" }]],
  ["a topic twice", [{ topic_id: 173, weight: 1 }, { topic_id: 173, weight: 0.5 }]],
]) {
  test(`Share refuses ${name}`, async () => {
    const { controller, calls } = setup({ recording: true });
    await controller.visited(1, { url: "https://www.allrecipes.com/", title: "Recipes" });
    await assert.rejects(controller.handle({ type: "share", categories }), { kind: "failed" });
    assert.ok(!calls.some((c) => c.key.includes("disclosures")));
  });
}

test("Forget all forgets the counts and keeps the Block list", async () => {
  const { controller, store } = setup({ recording: true });
  await controller.visited(1, { url: "https://www.nfl.com/", title: "NFL scores" });
  await controller.handle({ type: "block", topicId: 300 });
  const after = await controller.handle({ type: "forget" });
  assert.deepEqual(after.top, []);
  assert.deepEqual(after.blocked, [300]);
  assert.deepEqual(store.categories.epochs, {});
  await controller.visited(1, { url: "https://www.nfl.com/", title: "NFL scores" });
  const review = await controller.handle({ type: "review" });
  assert.ok(!review.top.some((r) => r.topicId === 300));
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

test("changing the Sayso address signs out and forgets its brands; unknown messages are refused", async () => {
  const { controller, store, calls } = setup();
  Object.assign(store, SIGNED_IN, { overview: { live: {}, fetchedAt: 0 } });
  await controller.handle({ type: "saveSettings", saysoUrl: "https://sayso.example/" });
  assert.equal(store.saysoUrl, "https://sayso.example");
  assert.equal(store.token, undefined);
  assert.equal(store.overview, undefined);
  // Saving fetched the new Sayso's directory (the click on Save is the consumer's).
  assert.ok(calls.some((c) => c.key === "GET /api/v1/brands/directory"));
  assert.equal(store.directory.saysoUrl, "https://sayso.example");
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

const NFL = { url: "https://www.nfl.com/", title: "NFL scores" };

test("a page counted at the moment of a Block cannot undo it", async () => {
  const { controller, store, holdNextCountsWrite } = setup({ recording: true });
  await controller.visited(1, NFL);
  const { hit, release } = holdNextCountsWrite();
  const visit = controller.visited(2, NFL); // its read is done, its write waits
  await hit;
  const blocking = controller.handle({ type: "block", topicId: 300 });
  await settle(); // the click has had every chance to land
  release();
  await visit;
  const after = await blocking;
  assert.deepEqual(after.blocked, [300]);
  assert.deepEqual(store.categories.blocked, [300]);
  await controller.visited(3, NFL);
  assert.ok(!(await controller.handle({ type: "review" })).top.some((r) => r.topicId === 300));
});

test("a page counted at the moment of Forget all cannot bring the counts back", async () => {
  const { controller, holdNextCountsWrite } = setup({ recording: true });
  for (let i = 0; i < 5; i++) await controller.visited(1, NFL);
  const { hit, release } = holdNextCountsWrite();
  const visit = controller.visited(2, { url: "https://www.allrecipes.com/", title: "Recipes" });
  await hit;
  const forgetting = controller.handle({ type: "forget" });
  await settle(); // the click has had every chance to land
  release();
  await visit;
  await forgetting;
  const review = await controller.handle({ type: "review" });
  assert.ok(!review.top.some((r) => r.topicId === 300), JSON.stringify(review.top));
});

test("a token stored after the address changed is never sent to the new address", async () => {
  const { controller, store, calls } = setup({
    token: { access_token: "at", refresh_token: "r0", expires_at: 0 }, delay: 20,
  });
  const refreshing = controller.refresh(); // the alarm: a refresh at 127.0.0.1:5000 ...
  while (!calls.some((c) => c.key === "POST /oauth/token")) await settle();
  // ... under way while the consumer saves another address.
  await controller.handle({ type: "saveSettings", saysoUrl: "https://other-sayso.example/" });
  await refreshing;
  assert.equal(store.token?.issuer, "http://127.0.0.1:5000"); // stored, as the old server's
  const switched = calls.length;
  const status = await controller.handle({ type: "status" });
  assert.equal(status.signedIn, false);
  await controller.handle({ type: "brands" }).catch(() => {});
  assert.deepEqual(calls.slice(switched).filter((c) => c.auth), []);
});

test("saving another address gives up the access to the old one", async () => {
  const { controller, dropped } = setup();
  await controller.handle({ type: "saveSettings", saysoUrl: "http://127.0.0.1:5001" });
  assert.deepEqual(dropped, []); // the same host: the same permission
  await controller.handle({ type: "saveSettings", saysoUrl: "https://sayso.example" });
  assert.deepEqual(dropped, ["http://127.0.0.1/*"]);
});

test("a sign-in answer that does not name the Sayso asked is not exchanged", async () => {
  for (const iss of [null, "https://evil.example"]) {
    const { controller, calls, store } = setup({
      token: null,
      signInAnswer: (state) =>
        `https://ext.chromiumapp.org/?code=c1&state=${state}` +
        (iss ? `&iss=${encodeURIComponent(iss)}` : ""),
    });
    await assert.rejects(controller.handle({ type: "signIn" }), /no iss|another server/);
    assert.equal(calls.filter((c) => c.key === "POST /oauth/token").length, 0);
    assert.equal(store.token, undefined);
  }
});

test("a plain-http address of another computer is refused in words, and nothing changes", async () => {
  const { controller, store, calls, dropped } = setup();
  await assert.rejects(
    controller.handle({ type: "saveSettings", saysoUrl: "http://sayso.example" }),
    /sayso\.example is not this computer .* only over https:\/\//,
  );
  assert.equal(store.saysoUrl, undefined); // still the default, http://127.0.0.1:5000
  assert.ok(store.token);
  assert.deepEqual(calls, []);
  assert.deepEqual(dropped, []);
});
