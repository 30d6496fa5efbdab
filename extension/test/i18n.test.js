// The extension speaks English, French and German: every word a page shows comes from the
// _locales catalogues, which hold the same keys and placeholders in every language.
import { languages, messagesOf, useLocale } from "./locale.js";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { test } from "node:test";
import { ERROR_KINDS } from "../lib/api.js";
import { ATTRIBUTES, localizePage, plural, t } from "../lib/i18n.js";
import { GRANT_LABELS } from "../lib/labels.js";
import { asDocument, page, pages } from "./html.js";

const ROOT = new URL("../", import.meta.url);
const EN = messagesOf("en");
/** Plural categories a language may add beyond one/other (Intl.PluralRules names). */
const EXTRA_PLURALS = /_(zero|two|few|many)$/;
/** Whether `key` is a plural form a language adds (key_few beside an English key_other). */
const extraPlural = (key) =>
  !Object.hasOwn(EN, key) && EXTRA_PLURALS.test(key) && Object.hasOwn(EN, key.replace(EXTRA_PLURALS, "_other"));

/** The extension's own scripts (not tests, not node_modules), path → source. */
function sources() {
  const found = {};
  const walk = (dir, prefix) => {
    for (const entry of readdirSync(new URL(dir, ROOT), { withFileTypes: true })) {
      if (entry.isDirectory() && ["lib", "lib/stores"].includes(prefix + entry.name)) {
        walk(`${dir}${entry.name}/`, `${prefix}${entry.name}/`);
      } else if (entry.name.endsWith(".js")) {
        found[prefix + entry.name] = readFileSync(new URL(dir + entry.name, ROOT), "utf8");
      }
    }
  };
  walk("./", "");
  return found;
}

/** The first argument of every t(…) / plural(…) call in a source, as written. */
function firstArguments(source) {
  const calls = [];
  for (const match of source.matchAll(/(?<![\w.$])(t|plural)\(/g)) {
    let depth = 0;
    let i = match.index + match[0].length;
    const start = i;
    for (; i < source.length; i += 1) {
      const c = source[i];
      if (c === '"' || c === "`") i = source.indexOf(c, i + 1);
      else if ("([{".includes(c)) depth += 1;
      else if (")]}".includes(c) && depth-- === 0) break;
      else if (c === "," && depth === 0) break;
    }
    calls.push({ fn: match[1], arg: source.slice(start, i).trim() });
  }
  return calls;
}

/**
 * Calls whose key is not written out, each with where its keys come from (checked below
 * through the tables themselves). Add a line here, with its table, for a new one.
 */
const COMPUTED = {
  "lib/api.js": ["ERROR_KINDS[kind]", "ERROR_KINDS.unreachable"],
  "lib/ui.js": ["ERROR_KINDS[error.kind]", "ERROR_KINDS.failed"],
  "lib/labels.js": ["known.name", "GRANT_LABELS[id].about"],
};

/** Every key the code and the pages use: [key, where]. Plural keys as key_other/key_one. */
function usedKeys() {
  const used = [];
  for (const [path, source] of Object.entries(sources())) {
    if (path === "lib/i18n.js") continue; // the machinery itself
    for (const { fn, arg } of firstArguments(source)) {
      const literals = [...arg.matchAll(/"([^"]*)"/g)].map((m) => m[1]);
      if (!literals.length) {
        assert.ok(COMPUTED[path]?.includes(arg), `${path}: ${fn}(${arg}) — a key the test cannot see`);
        continue;
      }
      for (const key of literals) {
        if (fn === "plural") used.push([`${key}_one`, path], [`${key}_other`, path]);
        else used.push([key, path]);
      }
    }
  }
  for (const kind of Object.values(ERROR_KINDS)) used.push([kind, "ERROR_KINDS"]);
  for (const { name, about } of Object.values(GRANT_LABELS)) used.push([name, "GRANT_LABELS"], [about, "GRANT_LABELS"]);
  for (const name of pages()) {
    for (const node of page(name).descendants()) {
      for (const attribute of ["data-i18n", ...ATTRIBUTES.map((a) => `data-i18n-${a}`)]) {
        if (node.hasAttribute(attribute)) used.push([node.getAttribute(attribute), name]);
      }
    }
  }
  const manifest = readFileSync(new URL("manifest.json", ROOT), "utf8");
  for (const [, key] of manifest.matchAll(/__MSG_(\w+)__/g)) used.push([key, "manifest.json"]);
  used.push(["ui_language", "lib/i18n.js"], ["lowercase_in_lists", "lib/labels.js"], ["list_and", "lib/i18n.js"]);
  return used;
}

/** The placeholders of a message, as "name=content" strings, sorted. */
const placeholdersOf = (entry) =>
  Object.entries(entry.placeholders || {}).map(([name, p]) => `${name}=${p.content}`).sort();

test("the extension ships English, French and German, English by default", () => {
  assert.deepEqual(languages(), ["de", "en", "fr"]);
  const manifest = JSON.parse(readFileSync(new URL("manifest.json", ROOT), "utf8"));
  assert.equal(manifest.default_locale, "en");
  assert.match(manifest.name, /^__MSG_\w+__$/);
  assert.match(manifest.description, /^__MSG_\w+__$/);
  for (const lang of languages()) {
    assert.equal(messagesOf(lang).ui_language.message, lang, `${lang}: ui_language names its folder`);
  }
});

test("every key the code, the pages and the manifest use is in every catalogue", () => {
  const used = usedKeys();
  assert.ok(used.length > 150, `only ${used.length} uses found`);
  for (const lang of languages()) {
    const messages = messagesOf(lang);
    const missing = used.filter(([key]) => !Object.hasOwn(messages, key)).map(([k, w]) => `${k} (${w})`);
    assert.deepEqual(missing, [], `${lang} lacks keys`);
  }
  // And nothing in the catalogue is left over from code that is gone.
  const keys = new Set(used.map(([key]) => key));
  const unused = Object.keys(EN).filter((key) => !keys.has(key) && !/_(one|other)$/.test(key));
  assert.deepEqual(unused, [], "keys no code uses");
});

test("every language has the same keys, with the same placeholders, each used", () => {
  for (const lang of languages()) {
    const messages = messagesOf(lang);
    const base = (keys) => keys.filter((key) => !extraPlural(key)).sort();
    assert.deepEqual(base(Object.keys(messages)), base(Object.keys(EN)), `${lang}: keys differ from en`);
    for (const [key, entry] of Object.entries(messages)) {
      const like = extraPlural(key) ? key.replace(EXTRA_PLURALS, "_other") : key;
      assert.ok(Object.hasOwn(EN, like), `${lang}/${key}: no ${like} in en`);
      assert.ok(/^[A-Za-z0-9_]+$/.test(key) && !key.startsWith("@@"), `${lang}/${key}: not a message name`);
      assert.equal(typeof entry.message, "string", `${lang}/${key}`);
      assert.ok(entry.message.trim(), `${lang}/${key} is empty`);
      assert.deepEqual(placeholdersOf(entry), placeholdersOf(EN[like]), `${lang}/${key}: placeholders differ`);
      const named = [...entry.message.matchAll(/\$([A-Za-z0-9_@]+)\$/g)].map((m) => m[1].toLowerCase()).sort();
      assert.deepEqual([...new Set(named)], Object.keys(entry.placeholders || {}).sort(),
        `${lang}/${key}: message and placeholders do not match`);
    }
  }
});

test("French and German are translated, not English copied", () => {
  // Words that are the same in the language, or no words at all.
  const same = {
    fr: ["app_name", "extension_name", "lowercase_in_lists", "question_length", "error_with_detail",
      "nav_options", "options_link", "questions_heading", "options_title"],
    de: ["app_name", "extension_name", "question_length", "error_with_detail"],
  };
  for (const lang of ["fr", "de"]) {
    const copied = Object.entries(messagesOf(lang))
      .filter(([key, entry]) => !same[lang].includes(key) && EN[key]?.message === entry.message)
      .map(([key]) => key);
    assert.deepEqual(copied, [], `${lang}: still English`);
  }
});

test("no page has words of its own: every text and label comes from the catalogue", () => {
  for (const name of pages()) {
    const root = page(name);
    assert.ok(root.children[0].getAttribute("lang"), `${name}: <html lang>`);
    for (const node of root.descendants()) {
      if (["script", "style"].includes(node.tag)) continue;
      const translated = node.hasAttribute("data-i18n");
      for (const kid of node.kids) {
        if (typeof kid === "string") {
          // Text outside data-i18n elements must be empty; inside, the catalogue fills it.
          assert.equal(kid.trim(), "", `${name}: <${node.tag}> has words of its own: “${kid.trim()}”`);
        }
      }
      if (translated) assert.ok(Object.hasOwn(EN, node.getAttribute("data-i18n")), `${name}: ${node.getAttribute("data-i18n")}`);
      for (const attribute of [...ATTRIBUTES, "alt"]) {
        const value = node.getAttribute(attribute);
        if (value === null || node.hasAttribute(`data-i18n-${attribute}`)) continue;
        assert.match(value, /^https?:\/\/\S+$/, `${name}: ${attribute}="${value}" is not from the catalogue`);
      }
    }
  }
});

test("a page in French: <html lang>, texts, attributes, a link inside its sentence", () => {
  useLocale("fr");
  try {
    const root = page("welcome.html");
    localizePage(asDocument(root));
    const html = root.children[0];
    assert.equal(html.getAttribute("lang"), "fr");
    const find = (pred) => [...root.descendants()].find(pred);
    assert.equal(find((n) => n.tag === "h1").textContent, "Bienvenue dans Sayso");
    assert.equal(find((n) => n.tag === "nav").getAttribute("aria-label"), "Pages de Sayso");
    const address = find((n) => n.getAttribute("data-i18n") === "welcome_address");
    address.children[0].textContent = "https://sayso.example";
    assert.equal(address.textContent,
      "Votre Sayso : https://sayso.example. Vous pouvez le modifier dans les options.");
    assert.equal(address.children[1].getAttribute("href"), "options.html");
    for (const name of pages()) {
      const other = page(name);
      localizePage(asDocument(other));
      for (const node of other.descendants()) {
        if (node.hasAttribute("data-i18n")) assert.ok(node.textContent.trim(), `${name}: ${node.getAttribute("data-i18n")}`);
      }
    }
  } finally {
    useLocale("en");
  }
});

test("counts choose their form by the language's plural rules", () => {
  assert.equal(plural("review_waiting", 1), "1 more category seen too little to suggest yet.");
  assert.equal(plural("review_waiting", 2), "2 more categories seen too little to suggest yet.");
  assert.equal(t("review_weight", 0.5), "shared with weight 0.5");
  useLocale("de");
  try {
    assert.equal(plural("review_blocked", 1), "1 blockierte Kategorie wird nie gezählt („Alles vergessen“ lässt sie blockiert).");
    assert.equal(t("review_weight", 0.5), "geteilt mit Gewicht 0,5");
    assert.equal(t("popup_no_brand", "beispiel.de"), "Hinter beispiel.de steht keine Marke, die bei Sayso ist.");
  } finally {
    useLocale("en");
  }
});
