import "./locale.js"; // the English catalogue, read as chrome.i18n reads it
import assert from "node:assert/strict";
import { webcrypto } from "node:crypto";
import { test } from "node:test";
import { base64url, newPkce, s256 } from "../lib/pkce.js";

test("S256 matches RFC 7636 appendix B", async () => {
  const verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  assert.equal(await s256(webcrypto, verifier), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
});

test("fresh verifiers are long, url-safe and differ", async () => {
  const a = await newPkce(webcrypto);
  const b = await newPkce(webcrypto);
  assert.notEqual(a.verifier, b.verifier);
  assert.match(a.verifier, /^[A-Za-z0-9_-]{43,128}$/);
  assert.equal(a.challenge, await s256(webcrypto, a.verifier));
  assert.equal(base64url(new Uint8Array([251, 255])), "-_8");
});
