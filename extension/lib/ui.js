/**
 * Small DOM helpers the extension's pages share. No chrome.* here (words come from i18n.js).
 * @module ui
 */

import { ERROR_KINDS } from "./api.js";
import { t } from "./i18n.js";

/**
 * An element by id.
 * @param {string} id
 * @returns {HTMLElement}
 */
export const $ = (id) => document.getElementById(id);

/**
 * Show a message ("" hides it) in the element with id "message".
 * @param {string} text
 * @param {"error"|"ok"|"warn"} [kind]
 */
export function say(text, kind = "error") {
  const box = $("message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

/**
 * The words to show for an error the background answered with.
 * @param {{kind?: string, message?: string}} error
 * @returns {string}
 */
export function explain(error) {
  if (error?.kind && error.kind !== "failed" && ERROR_KINDS[error.kind]) {
    return t(ERROR_KINDS[error.kind]);
  }
  return error?.message || t(ERROR_KINDS.failed);
}

/**
 * Make an element with text.
 * @param {string} tag
 * @param {string} [text]
 * @param {object} [props]
 * @returns {HTMLElement}
 */
export function el(tag, text = "", props = {}) {
  const node = Object.assign(document.createElement(tag), props);
  if (text) node.textContent = text;
  return node;
}
