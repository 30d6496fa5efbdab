// The browsing-categories store (lib/stores/categories.js): on its own, then through the
// controller's messages and visit hook against the fake Sayso.
import "../locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { DAY_MS, EPOCH_MS, emptyState } from "../../lib/epochs.js";
import { CATEGORIES_KEY, SHARED_AT_KEY, createCategoriesStore } from "../../lib/stores/categories.js";
import { settle } from "../fake-dom.js";
import { NFL, setup, sharedBody, shownOf, visitDaily } from "../fake-sayso.js";
import { fakeClock, keysTouched, memoryStorage } from "../fake-storage.js";
import { tables } from "../tables.js";


const RECIPES = { hostname: "www.allrecipes.com", title: "Easy pancake recipes" };
const FOOTBALL = { hostname: "www.nfl.com", title: "NFL scores" };

/** A categories store over memory, with the shipped classifier tables. */
function categoriesStore(initial = {}) {
  const storage = memoryStorage(initial);
  const clock = fakeClock(10 * EPOCH_MS);
  const categories = createCategoriesStore({ storage, now: clock.now, tables: async () => tables });
  /** Count `pages` once a day for `days` days. */
  const countDaily = async (pages, days) => {
    for (let day = 0; day < days; day++) {
      for (const page of pages) await categories.inTurn(({ count }) => count(page));
      clock.advance(DAY_MS);
    }
  };
  return { storage, clock, categories, countDaily };
}

test("categories store: nothing counted yet is an empty review", async () => {
  const { storage, categories } = categoriesStore();
  assert.deepEqual(await categories.read(), emptyState());
  assert.deepEqual(await categories.review(), { top: [], waiting: 0, blocked: [] });
  assert.deepEqual(storage.store, {}, "reading stores nothing");
});

test("categories store: a page is counted for its site; evidence over days is proposed, named", async () => {
  const { storage, categories, countDaily } = categoriesStore();
  await countDaily([RECIPES], 1);
  assert.deepEqual((await categories.review()).top, []);
  assert.ok((await categories.review()).waiting >= 1);
  await countDaily([RECIPES], 1);
  const [row] = (await categories.review()).top;
  assert.equal(row.topicId, 173);
  assert.equal(row.name, "Cooking & Recipes");
  assert.equal(row.weight, 1);
  assert.deepEqual(row.sites, [{ site: "allrecipes.com", visits: 2 }]);
  await categories.inTurn(({ count }) => count({ hostname: "example.invalid", title: "" }));
  assert.equal((await categories.review()).top[0].visits, 2, "a page with no category counts nothing");
  assert.deepEqual(keysTouched(storage), [CATEGORIES_KEY]);
});

test("categories store: remove, remove a site, block; a site that is no site is refused", async () => {
  const { categories, countDaily } = categoriesStore();
  await countDaily([RECIPES, FOOTBALL], 2);
  const ids = async () => (await categories.review()).top.map((r) => r.topicId);
  assert.deepEqual(await ids(), [173, 300]);
  await categories.remove(173);
  assert.deepEqual(await ids(), [300]);
  await categories.removeSite("nfl.com");
  assert.deepEqual(await ids(), []);
  await countDaily([RECIPES, FOOTBALL], 2);
  await categories.block(300);
  assert.deepEqual(await ids(), [173]);
  assert.deepEqual((await categories.review()).blocked, [300]);
  await countDaily([FOOTBALL], 2);
  assert.deepEqual(await ids(), [173], "a blocked category is never counted again");
  for (const site of ["", 3, undefined]) {
    await assert.rejects(categories.removeSite(site), { kind: "failed", message: "Which site?" });
  }
});

test("categories store: Forget all keeps the Block list and forgets when they were shared", async () => {
  const { storage, categories, countDaily, clock } = categoriesStore();
  await countDaily([RECIPES, FOOTBALL], 2);
  await categories.block(300);
  await categories.markShared();
  assert.equal(storage.store.sharedAt, clock.now());
  await categories.forget();
  assert.deepEqual(storage.store.categories, { epochs: {}, blocked: [300] });
  assert.equal(storage.store.sharedAt, undefined);
  assert.deepEqual(keysTouched(storage), [CATEGORIES_KEY, SHARED_AT_KEY]);
});

test("categories store: what to share is what was shown and still counted, never more", async () => {
  const { categories, countDaily } = categoriesStore();
  await countDaily([RECIPES, FOOTBALL], 2);
  const shown = (await categories.review()).top.map((r) => ({ topic_id: r.topicId, weight: r.weight }));
  assert.deepEqual(await categories.toShare(shown.slice(0, 1)), { value: shown.slice(0, 1), leftOut: 0 });
  await categories.remove(300);
  assert.deepEqual(await categories.toShare(shown), { value: shown.slice(0, 1), leftOut: 1 });
  assert.deepEqual(await categories.toShare([]), { value: [], leftOut: 0 });
  await assert.rejects(categories.toShare([{ topic_id: 173, weight: 2 }]), { kind: "failed" });
  await categories.remove(173);
  await assert.rejects(categories.toShare(shown), /any more/);
});

test("categories store: changes run one at a time, in order, and one that fails stops none", async () => {
  const { categories } = categoriesStore();
  const order = [];
  let release;
  const first = categories.inTurn(async () => {
    order.push("first starts");
    await new Promise((resolve) => { release = resolve; });
    order.push("first ends");
  });
  const failing = categories.inTurn(async () => { order.push("second"); throw new Error("no"); });
  const third = categories.inTurn(async () => { order.push("third"); return 3; });
  await settle();
  assert.deepEqual(order, ["first starts"]);
  release();
  await first;
  await assert.rejects(failing, /no/);
  assert.equal(await third, 3);
  assert.deepEqual(order, ["first starts", "first ends", "second", "third"]);
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
  // One visit is not enough evidence to propose anything; the same site the next day is.
  assert.deepEqual((await on.controller.handle({ type: "review" })).top, []);
  on.advance(DAY_MS);
  await on.controller.visited(1, page);
  const review = await on.controller.handle({ type: "review" });
  assert.deepEqual(review.top.map((r) => r.topicId), [173]);
  assert.deepEqual(review.top[0].sites, [{ site: "allrecipes.com", visits: 2 }]);
  assert.equal(review.top[0].days, 2);
  assert.ok(review.waiting >= 1, "the bookshop's categories are seen, not yet proposed");
  assert.equal(review.top[0].topicId, 173);
  assert.equal(review.top[0].name, "Cooking & Recipes");
  assert.equal(review.top[0].weight, 1);
});

test("Share sends what the review page showed, only what is still counted", async () => {
  const env = setup({ recording: true });
  const { controller, calls } = env;
  await visitDaily(env, [{ url: "https://www.nfl.com/", title: "NFL scores" },
    { url: "https://www.allrecipes.com/", title: "Recipes" }], 2);
  assert.deepEqual((await controller.handle({ type: "review" })).top.map((r) => r.topicId), [173, 300]);
  const shown = await controller.handle({ type: "remove", topicId: 300 });
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
  const env = setup({ recording: true });
  const { controller, calls } = env;
  await visitDaily(env, [{ url: "https://www.allrecipes.com/", title: "Recipes" },
    { url: "https://www.nfl.com/", title: "NFL scores" }], 2);
  await visitDaily(env, [{ url: "https://www.allrecipes.com/", title: "Recipes" }], 2);
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
  assert.equal(review.top[0].sites.length, 3);
});

test("removing a site takes its evidence out of every category, on the device", async () => {
  const env = setup({ recording: true });
  const { controller, calls, store } = env;
  await visitDaily(env, [{ url: "https://www.nfl.com/", title: "NFL scores" },
    { url: "https://www.allrecipes.com/", title: "Recipes" }], 2);
  const before = await controller.handle({ type: "review" });
  assert.deepEqual(before.top.map((r) => r.topicId), [173, 300]);
  const after = await controller.handle({ type: "removeSite", site: "nfl.com" });
  assert.deepEqual(after.top.map((r) => r.topicId), [173]);
  assert.ok(!JSON.stringify(store.categories).includes("nfl.com"));
  // A category shown before the site was removed is left out of Share.
  const { shared, leftOut } = await controller.handle({ type: "share", categories: shownOf(before) });
  assert.deepEqual(shared.map((c) => c.topic_id), [173]);
  assert.equal(leftOut, 1);
  await assert.rejects(controller.handle({ type: "removeSite", site: 3 }), { kind: "failed" });
  // Nothing about the review or the removal went to Sayso; only Share did.
  assert.deepEqual(calls.filter((c) => !c.key.includes("disclosures")).map((c) => c.key), []);
});

test("signed out, categories are reviewed and removed with nothing sent; Share asks to sign in", async () => {
  const env = setup({ recording: true, token: null });
  const { controller, calls } = env;
  await visitDaily(env, [{ url: "https://www.allrecipes.com/", title: "Recipes" }], 2);
  const review = await controller.handle({ type: "review" });
  assert.deepEqual(review.top.map((r) => r.topicId), [173]);
  await controller.handle({ type: "removeSite", site: "allrecipes.com" });
  await assert.rejects(controller.handle({ type: "share", categories: shownOf(review) }));
  await assert.rejects(
    controller.handle({ type: "share", categories: [] }), { kind: "signed_out" },
  );
  assert.deepEqual(calls, []);
});

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
