// The Sayso address is checked in words before the browser is asked for anything: the
// browser's own "Only permissions specified in the manifest may be requested." never shows.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { ASKABLE_ORIGINS, checkSaysoAddress } from "../lib/api.js";

const manifest = JSON.parse(readFileSync(new URL("../manifest.json", import.meta.url), "utf8"));

test("the origins the extension may ask for are the manifest's", () => {
  assert.deepEqual([...ASKABLE_ORIGINS].sort(), [...manifest.optional_host_permissions].sort());
});

for (const [address, saysoUrl, pattern] of [
  ["https://sayso.example", "https://sayso.example", "https://sayso.example/*"],
  ["  https://sayso.example:8443/some/path ", "https://sayso.example:8443", "https://sayso.example/*"],
  ["http://127.0.0.1:5000", "http://127.0.0.1:5000", "http://127.0.0.1/*"],
  ["HTTP://LOCALHOST:5000/", "http://localhost:5000", "http://localhost/*"],
]) {
  test(`${address.trim()} is used as ${saysoUrl}`, () => {
    assert.deepEqual(checkSaysoAddress(address), { saysoUrl, pattern });
    const covered = ASKABLE_ORIGINS.includes(pattern) || pattern.startsWith("https://");
    assert.ok(covered, "the manifest lets the extension ask for it");
  });
}

for (const [address, words] of [
  ["http://sayso.example", /not this computer.*https:\/\//],
  ["http://192.168.1.20:5000", /not this computer/],
  ["http://[::1]:5000", /not this computer/],
  ["ftp://sayso.example", /must start with https:\/\//],
  ["ftp://127.0.0.1", /must start with https:\/\//],
  ["file:///etc/passwd", /must start with https:\/\//],
  ["javascript:alert(1)", /must start with https:\/\//],
  ["sayso.example", /Start the address with https:\/\/, e\.g\. https:\/\/sayso\.example/],
  ["", /Enter Sayso's address/],
  ["http://", /not a web address/],
]) {
  test(`${JSON.stringify(address)} is refused in words`, () => {
    assert.throws(() => checkSaysoAddress(address), (error) => {
      assert.match(error.message, words);
      assert.doesNotMatch(error.message, /manifest|permission/i);
      return true;
    });
  });
}
