// The real review.js on a fake DOM: Share sends the list the page shows, nothing else.
import assert from "node:assert/strict";
import { test } from "node:test";
import { installPage, settle } from "./fake-dom.js";

const row = (topicId, name, visits, weight) => ({ topicId, name, path: "", visits, sites: 1, weight });

test("Share sends exactly the categories and weights the page shows", async () => {
  let view = { recording: true, blocked: [300],
    top: [row(173, "Cooking & Recipes", 4, 1), row(332, "Travel", 2, 0.5), row(299, "Sports", 1, 0.25)] };
  const page = installPage({
    sendMessage: async (message) => {
      if (message.type === "review") return view;
      if (message.type === "remove") {
        view = { ...view, top: view.top.filter((r) => r.topicId !== message.topicId) };
        return view;
      }
      if (message.type === "share") return { shared: message.categories, leftOut: 0 };
      throw new Error(`unexpected ${message.type}`);
    },
  });
  await import("../review.js");
  await settle();
  const weights = [...page.byId("top").descendants()].filter((e) => e.className === "hint weight");
  assert.deepEqual(weights.map((e) => e.textContent), [
    " · shared with weight 1", " · shared with weight 0.5", " · shared with weight 0.25"]);
  assert.match(page.byId("blocked").textContent, /1 blocked category/);

  const travel = page.byId("top").children.find((li) => li.dataset.topicId === "332");
  await travel.children.find((e) => e.textContent === "Remove").dispatch("click");
  await settle();
  await page.byId("share").dispatch("click");
  await settle();
  const share = page.sent.find((m) => m.type === "share");
  assert.deepEqual(share.categories, [{ topic_id: 173, weight: 1 }, { topic_id: 299, weight: 0.25 }]);
  assert.match(page.byId("message").textContent, /Shared 2 categories/);
});
