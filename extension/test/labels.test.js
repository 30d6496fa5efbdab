import { useLocale } from "./locale.js";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { plural } from "../lib/i18n.js";
import { GRANT_LABELS, grantAbout, grantList, grantName } from "../lib/labels.js";

test("every field and permission Sayso knows has a plain name", () => {
  // The names the server grants under (server/sayso/fields.py FIELDS and PERMISSIONS).
  const registry = readFileSync(new URL("../../server/sayso/fields.py", import.meta.url), "utf8");
  const names = [...registry.matchAll(/^\s+name="([a-z_]+)",$/gm)].map((m) => m[1]);
  assert.ok(names.length >= 5, names.join(","));
  for (const name of names) {
    assert.ok(Object.hasOwn(GRANT_LABELS, name), `no label for ${name}`);
    assert.notEqual(grantName(name), name);
    assert.ok(grantAbout(name));
  }
});

test("ids never show: known ones by name, unknown ones tidied", () => {
  assert.equal(grantName("channels"), "How you want to be contacted");
  assert.equal(grantName("answers"), "Your answers to its questions");
  assert.equal(grantName("contacts"), "Reports of the messages it sends you");
  assert.equal(grantName("loyalty_points"), "Loyalty points");
  assert.equal(grantName("constructor"), "Constructor");
  assert.equal(grantName(""), "Something unnamed");
  assert.equal(grantAbout("loyalty_points"), "");
});

test("a list of grants reads as a sentence", () => {
  assert.equal(grantList(["interests"]), "Your interests");
  assert.equal(grantList(["channels", "interests"]),
    "How you want to be contacted and your interests");
  assert.equal(grantList(["answers", "channels", "interests"]),
    "Your answers to its questions, how you want to be contacted and your interests");
  assert.equal(grantList([]), "");
  assert.doesNotMatch(grantList(["answers", "contacts", "channels", "interests"]),
    /answers, contacts|channels, interests/);
});

test("counts have their noun, in the language's plural forms", () => {
  assert.equal(plural("review_visits", 1), "1 visit");
  assert.equal(plural("review_visits", 0), "0 visits");
  assert.equal(plural("review_visits", 3), "3 visits");
  useLocale("fr");
  try {
    // French counts 0 and 1 as singular, and writes numbers its own way.
    assert.equal(plural("review_visits", 0), "0 visite");
    assert.equal(plural("review_visits", 1), "1 visite");
    assert.equal(plural("review_visits", 1500), "1\u202f500 visites");
    assert.equal(grantList(["channels", "interests"]),
      "Vos préférences de contact et vos centres d'intérêt");
    useLocale("de");
    assert.equal(plural("review_days", 1), "an 1 Tag");
    assert.equal(plural("review_days", 2), "an 2 Tagen");
    // German nouns keep their capitals inside a list.
    assert.equal(grantList(["channels", "interests", "age_band"]),
      "Ihre Kontaktwünsche, Ihre Interessen und Ihre Altersgruppe");
  } finally {
    useLocale("en");
  }
});
