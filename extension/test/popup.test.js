// The real popup.js on a fake DOM, against a background that refuses a toggle.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { installPage, settle } from "./fake-dom.js";

const BRAND = { brand_id: "br_1", name: "Bookshop", domain: "bookshop.example", verified: true,
  fields: [{ field: "interests", purpose: "books" }, { field: "channels", purpose: "email" }] };

test("a toggle that fails puts the checkbox back to the real state and says why", async () => {
  const page = installPage({
    activeTab: { url: "https://bookshop.example/" },
    sendMessage: async (message) => {
      if (message.type === "popup") return { site: "bookshop.example", brand: BRAND, live: ["interests"] };
      if (message.type === "questions") return [];
      // What lib/browser.js onMessage answers when the handler throws.
      if (message.type === "toggle") return { error: { kind: "unreachable", message: "down" } };
      throw new Error(`unexpected ${message.type}`);
    },
  });
  await import("../popup.js");
  await settle();
  const box = (field) => page.find("fields", (e) => e.id === `f-${field}`);
  assert.equal(box("interests").checked, true);
  assert.equal(box("channels").checked, false);

  box("interests").checked = false; // the consumer unticks it: revoke
  await box("interests").dispatch("change");
  await settle();
  assert.equal(page.sent.filter((m) => m.type === "toggle").length, 1);
  assert.equal(box("interests").checked, true, "the checkbox shows what the brand can still see");
  assert.equal(box("channels").checked, false);
  assert.match(page.byId("message").textContent, /can't be reached/);
  assert.equal(page.byId("message").hidden, false);
  // Redrawing after the failure did not ask for the questions again.
  assert.equal(page.sent.filter((m) => m.type === "questions").length, 1);
});
