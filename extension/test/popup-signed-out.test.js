// Signed out, the popup still says which brand is behind the site and what it asks to see,
// in plain words, and offers to sign in; it shows no toggle it could not honour.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { installPage, settle } from "./fake-dom.js";

const BRAND = { brand_id: "br_1", name: "Bookshop", domain: "bookshop.example", verified: false,
  fields: [{ field: "channels", purpose: "email you" }, { field: "answers", purpose: "ask you" }] };

test("signed out: the brand, what it asks for by name, and a way to sign in", async () => {
  const page = installPage({
    activeTab: { url: "https://bookshop.example/" },
    sendMessage: async (message) => {
      if (message.type === "popup") {
        return { site: "bookshop.example", brand: BRAND, live: [], signIn: "signed_out" };
      }
      throw new Error(`unexpected ${message.type}`);
    },
  });
  await import("../popup.js");
  await settle();
  assert.equal(page.byId("title").textContent, "Bookshop");
  assert.equal(page.byId("fields-heading").textContent, "What it asks to see");
  const shown = [...page.byId("fields").descendants()].map((e) => e.textContent).filter(Boolean);
  assert.deepEqual(shown.filter((t) => !t.startsWith("Why")),
    ["How you want to be contacted", "Your answers to its questions"]);
  assert.ok(![...page.byId("fields").descendants()].some((e) => e.tagName === "INPUT"));
  assert.equal(page.byId("signed-out").hidden, false);
  assert.match(page.byId("signed-out-text").textContent, /Sign in to Sayso to choose what Bookshop can see/);
  assert.equal(page.byId("revoke-row").hidden, true);
  assert.equal(page.byId("unverified").hidden, false);
  assert.equal(page.byId("message").hidden, true, "being signed out is not an error");
  // Nothing but the popup's own question was asked (no questions: they need a sign-in).
  assert.deepEqual(page.sent.map((m) => m.type), ["popup"]);
});
