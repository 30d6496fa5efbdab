// My brands names what each brand can see in words, never by id.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { installPage, settle } from "./fake-dom.js";

test("My brands lists what each brand can see in plain words", async () => {
  const page = installPage({
    sendMessage: async (message) => {
      if (message.type === "brands") {
        return [{ brand_id: "br_1", brand_name: "Bookshop", live: ["answers", "channels", "interests"] }];
      }
      throw new Error(`unexpected ${message.type}`);
    },
  });
  await import("../brands.js");
  await settle();
  const texts = [...page.byId("brands").descendants()].map((e) => e.textContent).filter(Boolean);
  assert.ok(texts.includes(
    "Can see: Your answers to its questions, how you want to be contacted and your interests"),
    texts.join(" | "));
  assert.ok(!texts.some((t) => /answers, channels|channels, interests/.test(t)));
  assert.equal(page.byId("list").hidden, false);
});
