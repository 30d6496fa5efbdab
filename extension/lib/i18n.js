/**
 * The extension's words in the reader's language (English, French or German): messages of
 * chrome.i18n (_locales/<language>/messages.json), plural forms chosen with
 * Intl.PluralRules, numbers formatted for the language, and the HTML pages filled from
 * their data-i18n attributes. Every string a person sees comes through here.
 *
 * - `t("key", ...values)`: the message, its $1, $2… placeholders filled with `values`
 *   (numbers formatted for the language).
 * - `plural("key", count, ...values)`: the message `key_<category>` for the count's plural
 *   category in the catalogue's language ("one", "other"…; `key_other` when a language
 *   has no message for the category), `count` being $1.
 * - `localizePage()`: `<html lang>`, then every `data-i18n="key"` element's text, and every
 *   `data-i18n-<attribute>="key"` attribute (aria-label, title, placeholder). An element
 *   with data-i18n that has child elements keeps them: its message names them as $1, $2…
 *   in document order (a link inside a sentence, placed where the language puts it).
 * @module i18n
 */

import { getMessage } from "./browser.js";

/** Looks a key up: the browser's chrome.i18n, or a catalogue given by {@link useMessages}. */
let lookup = (key, substitutions) => getMessage(key, substitutions);

/**
 * Read messages through `fn(key, substitutions)` instead of the browser (node --test has
 * no chrome.i18n; test/locale.js reads a _locales catalogue with chrome.i18n's rules).
 * @param {(key: string, substitutions: string[]) => string} fn
 */
export function useMessages(fn) {
  lookup = fn;
}

/**
 * The language of the messages shown (the catalogue's own `ui_language`), e.g. "fr": the
 * browser picks the catalogue, so this is the language the words are really in.
 * @returns {string}
 */
export function language() {
  return lookup("ui_language", []) || "en";
}

/**
 * A value as a message shows it: numbers in the language's format (0,5 in French).
 * @param {unknown} value
 * @returns {string}
 */
function shown(value) {
  return typeof value === "number" ? new Intl.NumberFormat(language()).format(value) : String(value);
}

/**
 * A message with its placeholders filled.
 * @param {string} key
 * @param {...unknown} values $1, $2…
 * @returns {string} the message; the key itself if the catalogue lacks it (tests forbid that)
 */
export function t(key, ...values) {
  return lookup(key, values.map(shown)) || key;
}

/**
 * The form of a message for a count: `key_one`, `key_other`… as the language's plural
 * rules choose; `count` is $1, `values` $2, $3…
 * @param {string} key
 * @param {number} count
 * @param {...unknown} values
 * @returns {string}
 */
export function plural(key, count, ...values) {
  const category = new Intl.PluralRules(language()).select(count);
  const substitutions = [count, ...values].map(shown);
  return lookup(`${key}_${category}`, substitutions) || t(`${key}_other`, count, ...values);
}

/**
 * Names joined as the language joins a list ("a, b and c", « a, b et c », "a, b und c"):
 * the catalogue's list_and puts the last name after the others, joined with commas.
 * @param {string[]} names
 * @returns {string}
 */
export function listOf(names) {
  if (names.length <= 1) return names.join("");
  return t("list_and", names.slice(0, -1).join(", "), names.at(-1));
}

/** Attributes a page may take from the catalogue, as data-i18n-<attribute>. */
export const ATTRIBUTES = ["aria-label", "title", "placeholder"];

/** Marks where a message's $n puts the element's n-th child (never in a catalogue). */
const SLOT = /\u0001(\d+)\u0001/;

/**
 * Fill one data-i18n element: its text, or its text around its child elements.
 * @param {Element} node
 */
function fill(node) {
  const key = node.getAttribute("data-i18n");
  const children = [...node.children];
  if (!children.length) {
    node.textContent = t(key);
    return;
  }
  const parts = lookup(key, children.map((_, i) => `\u0001${i}\u0001`)).split(SLOT);
  // split with a capture group: text, child index, text, child index, …, text
  node.replaceChildren(...parts.map((part, i) => (i % 2 ? children[Number(part)] : part)));
}

/**
 * Put the page in the reader's language: `<html lang>`, texts and attributes.
 * @param {Document} [doc]
 */
export function localizePage(doc = globalThis.document) {
  doc.documentElement.lang = language();
  for (const node of doc.querySelectorAll("[data-i18n]")) fill(node);
  for (const attribute of ATTRIBUTES) {
    for (const node of doc.querySelectorAll(`[data-i18n-${attribute}]`)) {
      node.setAttribute(attribute, t(node.getAttribute(`data-i18n-${attribute}`)));
    }
  }
}
