// Asking the browser for access: a bad address never reaches the browser, and the
// browser's own errors are put in words.
import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { test } from "node:test";

const asked = [];
let answer = async () => true;
globalThis.chrome = {
  permissions: { request: async ({ origins }) => { asked.push(...origins); return answer(); } },
};
const { askAccess } = await import("../lib/access.js");

test("an http:// address of another computer or an ftp:// one is refused before asking", async () => {
  for (const address of ["http://sayso.example", "ftp://sayso.example"]) {
    const result = await askAccess(address, "refused");
    assert.equal(result.ok, false);
    assert.doesNotMatch(result.message, /manifest/i);
  }
  assert.deepEqual(asked, []);
});

test("a good address asks for its host permission", async () => {
  assert.deepEqual(await askAccess("https://sayso.example/x", "refused"),
    { ok: true, saysoUrl: "https://sayso.example" });
  assert.deepEqual(asked.splice(0), ["https://sayso.example/*"]);
  answer = async () => false;
  assert.deepEqual(await askAccess("https://sayso.example", "No access."),
    { ok: false, message: "No access." });
});

test("the browser's own error is said in words", async () => {
  answer = async () => { throw new Error("Only permissions specified in the manifest may be requested."); };
  const result = await askAccess("https://sayso.example", "refused");
  assert.equal(result.ok, false);
  assert.match(result.message, /talks only to an https:\/\/ address/);
  assert.doesNotMatch(result.message, /Only permissions specified/);
});
