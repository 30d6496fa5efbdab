import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";
import { normalizeHostname, originPattern, registrableDomain, webPage } from "../lib/domain.js";

test("registrable domain of common hostnames", () => {
  const cases = {
    "www.bookshop.example": "bookshop.example",
    "shop.bookshop.co.uk": "bookshop.co.uk",
    "bookshop.co.uk": "bookshop.co.uk",
    "a.b.c.example.com.au": "example.com.au",
    "news.bbc.co.uk": "bbc.co.uk",
    "example.com": "example.com",
    "EXAMPLE.com.": "example.com",
    "someone.github.io": "someone.github.io",
    localhost: "localhost",
    "127.0.0.1": "127.0.0.1",
  };
  for (const [host, expected] of Object.entries(cases)) {
    assert.equal(registrableDomain(host), expected, host);
  }
});

test("invalid hostnames give null", () => {
  for (const host of ["", "a..b", "bad host", "a/b"]) assert.equal(registrableDomain(host), null);
});

test("only http(s) pages are web pages", () => {
  assert.equal(webPage("https://example.com/x").hostname, "example.com");
  assert.equal(webPage("chrome://extensions"), null);
  assert.equal(webPage("about:blank"), null);
  assert.equal(webPage("not a url"), null);
});

test("origin pattern drops the port and path", () => {
  assert.equal(originPattern("http://127.0.0.1:5000/x"), "http://127.0.0.1/*");
  assert.equal(normalizeHostname(" Foo.COM. "), "foo.com");
});
