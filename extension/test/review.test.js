// The real review.js on a fake DOM: the evidence and the sites behind each category are
// shown; a site or a category can be removed; Share sends the list the page shows.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { installPage, settle } from "./fake-dom.js";

const row = (topicId, name, weight, sites) => ({
  topicId, name, weight, days: 2, visits: sites.length * 2, confidence: 0.9,
  sites: sites.map((site) => ({ site, visits: 2 })), evidence: weight * 4, proposed: true,
});

test("the review page shows the evidence; removing a site or a category changes what Share sends", async () => {
  let view = { recording: true, blocked: [300], waiting: 3, top: [
    row(173, "Cooking & Recipes", 1, ["allrecipes.com", "seriouseats.com"]),
    row(332, "Travel", 0.5, ["lonelyplanet.com"]),
    row(299, "Sports", 0.25, ["espn.com"]),
  ] };
  const page = installPage({
    sendMessage: async (message) => {
      if (message.type === "review") return view;
      if (message.type === "remove") {
        view = { ...view, top: view.top.filter((r) => r.topicId !== message.topicId) };
        return view;
      }
      if (message.type === "removeSite") {
        view = { ...view, top: view.top.filter((r) => !r.sites.some((s) => s.site === message.site)) };
        return view;
      }
      if (message.type === "share") return { shared: message.categories, leftOut: 0 };
      throw new Error(`unexpected ${message.type}`);
    },
  });
  await import("../review.js");
  await settle();
  const texts = (cls) => [...page.byId("top").descendants()].filter((e) => e.className === cls)
    .map((e) => e.textContent);
  assert.deepEqual(texts("hint weight"),
    ["shared with weight 1", "shared with weight 0.5", "shared with weight 0.25"]);
  assert.equal(texts("hint evidence")[0], "Seen on 2 days: 4 visits to 2 sites, pages clearly about it");
  assert.deepEqual(texts("site").slice(0, 2), ["allrecipes.com (2 visits)", "seriouseats.com (2 visits)"]);
  assert.match(page.byId("blocked").textContent, /1 blocked category/);
  assert.equal(page.byId("waiting").textContent, "3 more categories seen too little to suggest yet.");

  const travel = page.byId("top").children.find((li) => li.dataset.topicId === "332");
  const removeTravel = [...travel.descendants()].find((e) => e.className === "remove");
  await removeTravel.dispatch("click");
  await settle();
  const sports = page.byId("top").children.find((li) => li.dataset.topicId === "299");
  const removeEspn = [...sports.descendants()].find((e) => e.className === "remove-site");
  assert.equal(removeEspn.attributes["aria-label"], "Remove site espn.com from every category");
  await removeEspn.dispatch("click");
  await settle();
  assert.equal(page.sent.find((m) => m.type === "removeSite").site, "espn.com");
  await page.byId("share").dispatch("click");
  await settle();
  const share = page.sent.find((m) => m.type === "share");
  assert.deepEqual(share.categories, [{ topic_id: 173, weight: 1 }]);
  assert.match(page.byId("message").textContent, /Shared 1 category with Sayso/);
});
