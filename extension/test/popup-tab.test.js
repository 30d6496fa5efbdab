// The popup acts on the tab it was opened over, and nothing that ships reads a page's own
// address: no test hook (such as popup.html?url=) can point the popup at another site.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { installPage, settle } from "./fake-dom.js";

const BRAND = { brand_id: "br_1", name: "Bookshop", domain: "bookshop.example", verified: true,
  fields: [{ field: "interests", purpose: "books" }] };

test("the popup is about the active tab, whatever its own address says", async () => {
  // No test hook ships: a popup.html?url=… opened by anyone (a link, another extension)
  // cannot make the popup act on another site.
  const page = installPage({
    search: "?url=https://evil.example/",
    activeTab: { url: "https://bookshop.example/shop" },
    sendMessage: async (message) => {
      if (message.type === "popup") return { site: "bookshop.example", brand: BRAND, live: [] };
      if (message.type === "questions") return [];
      throw new Error(`unexpected ${message.type}`);
    },
  });
  await import("../popup.js");
  await settle();
  assert.deepEqual(page.sent[0], { type: "popup", url: "https://bookshop.example/shop" });
  assert.ok(page.sent.every((m) => !JSON.stringify(m).includes("evil.example")));
});

test("no shipped script reads its page's query string", () => {
  const root = new URL("../", import.meta.url);
  const shipped = [
    ...readdirSync(root).filter((name) => name.endsWith(".js")),
    ...readdirSync(new URL("lib/", root), { recursive: true })
      .filter((name) => name.endsWith(".js")).map((name) => `lib/${name}`),
  ];
  for (const name of shipped) {
    const source = readFileSync(new URL(name, root), "utf8");
    assert.doesNotMatch(source, /location\.(search|href|hash)|URLSearchParams\(location/, name);
  }
});
