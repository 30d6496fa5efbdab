// The popup: the brand behind this tab, its live fields with toggles, revoke everything,
// and the brand's open questions (optional, skippable, editable later).
import { activeTab, ask, openPage } from "./lib/browser.js";
import { localizePage, t } from "./lib/i18n.js";
import { grantName } from "./lib/labels.js";
import { MAX_TEXT, prefill, questionsHeading, readAnswer, visibleQuestions } from "./lib/questions.js";
import { $, el, explain, say } from "./lib/ui.js";

let tabUrl = "";
/** The last view the background answered: what the toggles show after a failed change. */
let lastView = null;
/** Questions skipped in this popup session: hidden until the popup is opened again. */
const skipped = new Set();

/**
 * Draw a view of the site. `questions: false` redraws the fields only (after a failure, so
 * the toggles show the real state again without asking for the questions once more).
 */
function render(view, { questions = true } = {}) {
  lastView = view;
  say("");
  if (!view.site) {
    $("title").textContent = t("app_name");
    say(t("popup_not_a_site"), "warn");
    $("brand").hidden = true;
    $("questions").hidden = true;
    return;
  }
  if (!view.brand) {
    $("title").textContent = view.site;
    say(t("popup_no_brand", view.site), "warn");
    $("brand").hidden = true;
    $("questions").hidden = true;
    return;
  }
  const { brand, live } = view;
  // Signed out (or the sign-in was revoked): the brand is public knowledge, so it is shown
  // with what it asks to see and why; choosing needs a sign-in.
  const signedOut = Boolean(view.signIn);
  $("title").textContent = brand.name;
  $("domain").textContent = t(brand.verified ? "popup_domain_checked" : "popup_domain_unchecked", brand.domain);
  $("unverified").hidden = brand.verified;
  $("fields-heading").textContent = t(signedOut ? "popup_asks_heading" : "popup_can_see_heading");
  const list = $("fields");
  list.replaceChildren();
  for (const { field, purpose } of brand.fields) {
    const row = el("li");
    if (signedOut) {
      const text = el("span", "", { className: "grow" });
      text.append(el("strong", grantName(field)), el("br"),
        el("span", t("popup_why", purpose), { className: "hint" }));
      row.append(text);
    } else {
      const box = el("input", "", {
        type: "checkbox", checked: live.includes(field), id: `f-${field}`,
      });
      box.dataset.field = field;
      box.addEventListener("change", () => toggle(brand.brand_id, field, box.checked));
      const label = el("label", "", { htmlFor: box.id });
      label.append(el("strong", grantName(field)), el("br"),
        el("span", t("popup_why", purpose), { className: "hint" }));
      row.append(box, label);
    }
    list.append(row);
  }
  $("signed-out").hidden = !signedOut;
  $("signed-out-text").textContent = view.signIn === "revoked"
    ? t("popup_signed_out_revoked", brand.name)
    : t("popup_signed_out", brand.name);
  $("sign-in").onclick = () => openPage("welcome.html");
  $("revoke-row").hidden = signedOut;
  $("revoke-all").disabled = live.length === 0;
  $("revoke-all").onclick = () => act({ type: "revokeBrand", url: tabUrl, brandId: brand.brand_id });
  $("brand").hidden = false;
  if (signedOut) $("questions").hidden = true;
  else if (questions) loadQuestions(brand);
}

function sayQuestions(text, kind = "error") {
  const box = $("questions-message");
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

async function loadQuestions(brand, message = { type: "questions", brandId: brand.brand_id }) {
  try {
    renderQuestions(brand, await ask(message));
    sayQuestions("");
    return true;
  } catch (error) {
    sayQuestions(explain(error));
    $("questions").hidden = false;
    return false;
  }
}

/** The input for one question, and a function reading what it holds. */
function answerInput(question) {
  const name = `q-${question.id}`;
  const current = prefill(question);
  if (question.kind === "single" || question.kind === "multiple") {
    const single = question.kind === "single";
    const set = el("fieldset");
    set.append(el("legend", question.prompt));
    const boxes = question.options.map((option, i) => {
      const box = el("input", "", {
        type: single ? "radio" : "checkbox", name, value: option, id: `${name}-${i}`,
        checked: single ? current === option : current.includes(option),
      });
      const label = el("label", "", { htmlFor: box.id });
      label.append(box, ` ${option}`);
      set.append(label);
      return box;
    });
    const read = () => single
      ? boxes.find((b) => b.checked)?.value || null
      : boxes.filter((b) => b.checked).map((b) => b.value);
    return { node: set, read };
  }
  const wrap = el("div");
  const id = `${name}-input`;
  const label = el("label", question.prompt, { htmlFor: id });
  let input;
  if (question.kind === "text") {
    input = el("textarea", "", { id, rows: 3, maxLength: MAX_TEXT, value: current });
    const count = el("span", "", { className: "hint" });
    const update = () => { count.textContent = t("question_length", [...input.value].length, MAX_TEXT); };
    input.addEventListener("input", update);
    update();
    wrap.append(label, input, count);
  } else {
    input = el("input", "", { id, type: "text", value: current, placeholder: t("question_topics_placeholder") });
    wrap.append(label, input, el("span", t("question_topics_hint"), { className: "hint" }));
  }
  return { node: wrap, read: () => input.value };
}

function renderQuestions(brand, questions) {
  const shown = visibleQuestions(questions, skipped);
  const list = $("question-list");
  list.replaceChildren();
  $("questions-title").textContent = questionsHeading(brand.name);
  for (const question of shown) {
    const row = el("li");
    row.dataset.questionId = String(question.id);
    const { node, read } = answerInput(question);
    row.append(node, el("p", t("question_purpose", question.purpose), { className: "hint" }));
    if (question.why) row.append(el("p", t("question_why", question.why), { className: "hint" }));
    const error = el("p", "", { className: "error", hidden: true });
    error.setAttribute("role", "alert");
    const actions = el("div", "", { className: "actions" });
    const save = el("button", t(question.answer === null ? "save_button" : "save_changes"), { className: "primary" });
    save.addEventListener("click", async () => {
      let answer;
      try {
        answer = readAnswer(question, read());
      } catch (problem) {
        error.textContent = problem.message;
        error.hidden = false;
        return;
      }
      if (await loadQuestions(brand, { type: "answerQuestion", brandId: brand.brand_id, id: question.id, answer })) {
        sayQuestions(t("answer_saved"), "ok");
      }
    });
    const skip = el("button", t("question_skip"));
    skip.addEventListener("click", () => {
      skipped.add(question.id);
      row.remove();
      if (!$("question-list").children.length) $("questions").hidden = true;
    });
    actions.append(save, skip);
    if (question.answer !== null) {
      const clear = el("button", t("question_clear"), { className: "danger" });
      clear.addEventListener("click", async () => {
        if (await loadQuestions(brand, { type: "clearAnswer", brandId: brand.brand_id, id: question.id })) {
          sayQuestions(t("answer_cleared"), "ok");
        }
      });
      actions.append(clear);
    }
    row.append(actions, error);
    list.append(row);
  }
  $("questions").hidden = shown.length === 0;
}

async function act(message) {
  try {
    render(await ask(message));
  } catch (error) {
    // The change did not happen: put every toggle back as it was, then say why.
    if (lastView) render(lastView, { questions: false });
    say(explain(error));
  }
}

const toggle = (brandId, field, on) => act({ type: "toggle", url: tabUrl, brandId, field, on });

async function main() {
  localizePage();
  // Always the tab the popup was opened over: nothing in the popup's own address can name
  // another site.
  tabUrl = (await activeTab())?.url || "";
  await act({ type: "popup", url: tabUrl });
}

main();
