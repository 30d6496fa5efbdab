/**
 * Brands' questions in the popup: turning what the consumer typed or ticked into the answer
 * the API takes, and back. Pure (no DOM, no chrome.*), so it runs under node --test.
 * @module questions
 */

import { t } from "./i18n.js";

/** The longest free-text answer the server takes. */
export const MAX_TEXT = 280;
/** The most topics one answer may name. */
export const MAX_TOPICS = 10;

/** The input each kind of question gets in the popup. */
export const INPUT_FOR_KIND = {
  single: "radio",
  multiple: "checkbox",
  text: "textarea",
  topics: "text",
};

/**
 * The heading of the popup's questions section.
 * @param {string} brandName
 * @returns {string}
 */
export const questionsHeading = (brandName) => t("questions_from", brandName);

/**
 * The questions to show: those not skipped in this popup session.
 * @param {Array<{id: number}>} questions
 * @param {Set<number>} skipped
 * @returns {Array<object>}
 */
export function visibleQuestions(questions, skipped) {
  return (questions || []).filter((q) => !skipped.has(q.id));
}

/**
 * Parse topic ids typed as "123, 456" (commas or spaces).
 * @param {string} text
 * @returns {number[]}
 */
export function parseTopicIds(text) {
  const parts = String(text || "").split(/[\s,]+/).filter(Boolean);
  const ids = [];
  for (const part of parts) {
    if (!/^\d{1,6}$/.test(part)) throw new Error(t("answer_not_topic_id", part));
    const id = Number(part);
    if (!ids.includes(id)) ids.push(id);
  }
  return ids;
}

/**
 * The answer to send for a question, from what the form holds; throws an Error whose
 * message the popup shows when the input can't be an answer.
 * @param {{kind: string, options: string[]}} question
 * @param {string|string[]|null} raw single: the chosen option; multiple: the ticked options;
 *   text: the text; topics: the typed topic ids
 * @returns {string|string[]|number[]}
 */
export function readAnswer(question, raw) {
  const options = question.options || [];
  switch (question.kind) {
    case "single":
      if (!raw) throw new Error(t("answer_choose_one"));
      if (!options.includes(raw)) throw new Error(t("answer_not_a_choice"));
      return raw;
    case "multiple": {
      const chosen = [...new Set(raw || [])];
      if (!chosen.length) throw new Error(t("answer_tick_one"));
      if (chosen.some((c) => !options.includes(c))) {
        throw new Error(t("answer_not_a_choice"));
      }
      return options.filter((o) => chosen.includes(o));
    }
    case "text": {
      const text = String(raw || "").trim();
      if (!text) throw new Error(t("answer_write"));
      // Counted in code points, as the server counts.
      const length = [...text].length;
      if (length > MAX_TEXT) {
        throw new Error(t("answer_too_long", MAX_TEXT, length));
      }
      return text;
    }
    case "topics": {
      const ids = parseTopicIds(raw);
      if (!ids.length) throw new Error(t("answer_no_topic"));
      if (ids.length > MAX_TOPICS) throw new Error(t("answer_too_many_topics", MAX_TOPICS));
      return ids;
    }
    default:
      throw new Error(t("answer_unknown_kind", question.kind));
  }
}

/**
 * What to pre-fill the input with, from the current answer (null: not answered).
 * @param {{kind: string, answer: any}} question
 * @returns {string|string[]}
 */
export function prefill(question) {
  const answer = question.answer;
  switch (question.kind) {
    case "multiple":
      return Array.isArray(answer) ? answer : [];
    case "topics":
      return Array.isArray(answer) ? answer.join(", ") : "";
    default:
      return typeof answer === "string" ? answer : "";
  }
}
