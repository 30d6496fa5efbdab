"""The consumer's Questions page: what brands they granted ask, answered only if they wish."""

import re

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from marshmallow import ValidationError

from sayso import services
from sayso.auth import consumer_required
from sayso.schemas.questions import load_answer
from sayso.shared.forms import flatten_errors
from sayso.taxonomy import topics
from sayso.web.blueprint import bp
from sayso.web.forms import parse_topic

# Browsers post a textarea's line breaks as CR LF. A text answer is one line, so each run
# of line breaks (with the spaces around it) becomes one space; any other control
# character, a lone CR included, is still refused by the schema.
_LINE_BREAKS = re.compile(r" *(?:\r\n|\n)(?:\r\n|\n| )*")


def _answer_from(form, question):
    """The form's answer in the shape its kind takes (validated afterwards)."""
    if question.kind == "multiple":
        return form.getlist("answer")
    if question.kind == "topics":
        # A topic as the other forms take it (an id, "239 · /Arts…", or a name); anything
        # else stays text, for the schema to name the problem.
        return [
            v if (topic_id := parse_topic(v)) is None else topic_id for v in form.getlist("answer")
        ]
    answer = form.get("answer", "")
    if question.kind == "text" and _LINE_BREAKS.search(answer):
        answer = _LINE_BREAKS.sub(" ", answer).strip(" ")
    return answer


#: What a consumer is told when they answer a question its brand has closed.
CLOSED = (
    "{brand} closed this question, so it takes no new answers and answers can no longer "
    "change. An answer you gave stays until you remove it."
)


def _page(errors=None, status=200, submitted=None):
    return render_template(
        "questions.html",
        open_questions=services.questions().open_for(current_user),
        closed_questions=services.questions().closed_for(current_user),
        answered_elsewhere=services.questions().answered_elsewhere(current_user),
        topics=topics(),
        errors=errors or {},
        submitted=submitted or {},
    ), status


@bp.get("/questions")
@consumer_required
def questions():
    """Open questions from brands the consumer grants anything; answering is optional."""
    return _page()


@bp.post("/questions/<int:question_id>")
@consumer_required
def answer_question(question_id: int):
    """Save (or change) the answer to one question."""
    service = services.questions()
    question = service.asked_question(current_user, question_id)
    if question is None:
        abort(404)
    if question.closed_at is not None:
        brand = service.brand_of(question)
        return _page({question.id: [CLOSED.format(brand=brand.name)]}, 409)
    given = _answer_from(request.form, question)
    try:
        value = load_answer(question.kind, question.options, given)
    except ValidationError as exc:
        # The page comes back with what the person submitted for this question, not the
        # stored answer; text exactly as typed.
        shown = request.form.get("answer", "") if question.kind == "text" else given
        return _page({question.id: flatten_errors(exc.messages)}, 422, {question.id: shown})
    service.answer(current_user, question, value)
    flash(_("Answer saved. You can change or remove it at any time."))
    return redirect(url_for("web.questions") + f"#question-{question.id}")


@bp.post("/questions/<int:question_id>/clear")
@consumer_required
def clear_answer(question_id: int):
    """Remove the answer to one question."""
    service = services.questions()
    question = service.answered_question(current_user, question_id)
    if question is None:
        abort(404)
    service.clear(current_user, question)
    flash(_("Answer removed."))
    return redirect(url_for("web.questions"))
