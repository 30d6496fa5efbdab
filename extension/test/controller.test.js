// The controller as a composition of the stores: the messages that belong to no one store,
// and the storage the stores share. Each store's behaviour is tested in test/stores/.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { DAY_MS, EPOCH_MS, record } from "../lib/epochs.js";
import { BRAND_URL, SIGNED_IN, setup } from "./fake-sayso.js";

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

test("unknown messages are refused", async () => {
  const { controller } = setup();
  await assert.rejects(controller.handle({ type: "constructor" }), /Unknown message/);
});

test("what the extension stored before, under its seven keys, is read the same", async () => {
  const { controller, store, badges } = setup({ recording: true });
  const t = 10 * EPOCH_MS;
  let categories = { epochs: {}, blocked: [300] };
  for (const timeMs of [t - DAY_MS, t]) {
    categories = record(categories, { timeMs, site: "allrecipes.com", topics: [{ topicId: 173, confidence: 1 }] });
  }
  Object.assign(store, SIGNED_IN, {
    saysoUrl: "http://127.0.0.1:5000",
    overview: { live: { br_1: ["channels", "interests"] }, fetchedAt: t },
    categories,
    sharedAt: t - DAY_MS,
  });
  assert.deepEqual(Object.keys(store).sort(),
    ["categories", "directory", "overview", "recording", "saysoUrl", "sharedAt", "token"]);
  const status = await controller.handle({ type: "status" });
  assert.deepEqual({ ...status, redirectUri: undefined },
    { saysoUrl: "http://127.0.0.1:5000", recording: true, signedIn: true, redirectUri: undefined });
  await controller.visited(7, { url: BRAND_URL, title: "x" }, { loaded: false });
  assert.equal(badges[7], "2");
  const review = await controller.handle({ type: "review" });
  assert.equal(review.recording, true);
  assert.deepEqual(review.top.map((r) => [r.topicId, r.visits]), [[173, 2]]);
  assert.deepEqual(review.blocked, [300]);
  await controller.handle({ type: "forget" });
  assert.equal(store.sharedAt, undefined);
  assert.deepEqual(store.categories.blocked, [300]);
});
