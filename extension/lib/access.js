/**
 * Asking the browser for access to the Sayso address, for the pages' Save and Sign in
 * buttons. The address is checked in words first (lib/api.js checkSaysoAddress), so the
 * browser's own errors ("Only permissions specified in the manifest may be requested.")
 * never reach the consumer.
 * @module access
 */

import { checkSaysoAddress } from "./api.js";
import { requestOrigin } from "./browser.js";
import { t } from "./i18n.js";

/**
 * The words for an error the browser threw while asking for access.
 * @param {string} address
 * @param {Error} error
 * @returns {string}
 */
export function accessProblem(address, error) {
  if (/manifest/i.test(String(error?.message))) {
    return t("access_manifest", address);
  }
  if (/gesture/i.test(String(error?.message))) {
    return t("access_gesture");
  }
  return t("access_denied", address);
}

/**
 * Ask for the host permission of one Sayso address. Call it first thing in a click
 * handler, before anything is awaited: Firefox grants a permission request only while the
 * click is still being handled.
 * @param {string} address what the consumer typed, or the saved address
 * @param {string} refused what to say if the consumer says no
 * @returns {Promise<{ok: true, saysoUrl: string}|{ok: false, message: string}>}
 */
export async function askAccess(address, refused) {
  let checked;
  try {
    checked = checkSaysoAddress(address);
  } catch (problem) {
    return { ok: false, message: problem.message };
  }
  try {
    if (await requestOrigin(checked.pattern)) return { ok: true, saysoUrl: checked.saysoUrl };
    return { ok: false, message: refused };
  } catch (error) {
    return { ok: false, message: accessProblem(checked.saysoUrl, error) };
  }
}
