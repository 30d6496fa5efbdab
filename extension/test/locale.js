// The extension's catalogues under node --test, read with chrome.i18n's rules: pure
// modules then speak as the browser would make them speak. English unless a test asks.
import { readFileSync, readdirSync } from "node:fs";
import { useMessages } from "../lib/i18n.js";

export const LOCALES_DIR = new URL("../_locales/", import.meta.url);

/** @returns {string[]} the languages the extension ships, e.g. ["de", "en", "fr"] */
export const languages = () => readdirSync(LOCALES_DIR).sort();

/**
 * One language's messages.json.
 * @param {string} lang
 * @returns {Object<string, {message: string, placeholders?: Object<string, {content: string}>}>}
 */
export const messagesOf = (lang) =>
  JSON.parse(readFileSync(new URL(`${lang}/messages.json`, LOCALES_DIR), "utf8"));

/**
 * chrome.i18n.getMessage over one catalogue: $NAME$ is the placeholder's content, $1… in
 * it (or in the message) the substitutions, "$$" a dollar; an unknown key gives "".
 * @param {object} messages
 * @returns {(key: string, substitutions?: string[]) => string}
 */
export function lookupIn(messages) {
  return (key, substitutions = []) => {
    const entry = Object.hasOwn(messages, key) ? messages[key] : null;
    if (!entry) return "";
    const numbered = (text) => text.replace(/\$(\d)/g, (_, n) => substitutions[n - 1] ?? "");
    return entry.message
      .replace(/\$\$|\$([A-Za-z0-9_@]+)\$|\$(\d)/g, (match, name, n) => {
        if (match === "$$") return "$";
        if (n) return substitutions[n - 1] ?? "";
        const placeholder = entry.placeholders?.[name.toLowerCase()];
        return placeholder ? numbered(placeholder.content) : "";
      });
  };
}

/**
 * Speak `lang` from now on in this test process.
 * @param {string} lang
 */
export const useLocale = (lang) => useMessages(lookupIn(messagesOf(lang)));

useLocale("en");
