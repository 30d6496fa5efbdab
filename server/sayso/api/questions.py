"""``/api/v1/me/questions``: brands' questions for the consumer, and their answers."""

from flask import abort, jsonify, request

from sayso import services
from sayso.api.blueprint import bp
from sayso.api.body import load_json
from sayso.auth import consent_manager_required, current_consumer
from sayso.schemas.questions import (
    AnswerBodySchema,
    OpenQuestionSchema,
    OpenQuestionsQuerySchema,
    load_answer,
)


@bp.get("/me/questions")
@consent_manager_required
def list_questions():
    """Open questions from brands the consumer grants anything, with their answers.
    ---
    get:
      tags: [questions]
      security: [{session: []}, {oauth2: [consent:manage]}]
      parameters:
        - name: brand_id
          in: query
          required: false
          description: Only this brand's questions (the extension, on the brand's site).
          schema: {type: string, maxLength: 64}
      responses:
        200:
          description: Newest first; answering is optional.
          content:
            application/json:
              schema: {type: array, items: OpenQuestion}
        401: Unauthorized
        403: Forbidden
        422: ValidationFailed
    """
    query = OpenQuestionsQuerySchema().load(request.args.to_dict())
    items = services.questions().open_for(current_consumer())
    if "brand_id" in query:
        items = [i for i in items if i.brand.public_id == query["brand_id"]]
    return jsonify(OpenQuestionSchema(many=True).dump(items))


#: ``questions.id`` is a 32-bit column: a larger id names no question, and PostgreSQL
#: refuses to compare one with it (found by the OpenAPI fuzz: a 500, now a 404).
MAX_QUESTION_ID = 2**31 - 1


def _in_range_or_404(question_id: int) -> int:
    if not 1 <= question_id <= MAX_QUESTION_ID:
        abort(404, "No question has that id.")
    return question_id


def _open_or_404(question_id: int):
    question_id = _in_range_or_404(question_id)
    question = services.questions().open_question(current_consumer(), question_id)
    if question is None:
        abort(404, "No open question of a brand you grant has that id.")
    return question


@bp.put("/me/questions/<int:question_id>")
@consent_manager_required
def answer_question(question_id: int):
    """Answer one question, or change the answer.
    ---
    put:
      tags: [questions]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      parameters:
        - name: question_id
          in: path
          required: true
          schema: {type: integer, minimum: 1, maximum: 2147483647}
      requestBody:
        required: true
        content: {application/json: {schema: AnswerBody}}
      responses:
        200:
          description: The answer as stored.
          content: {application/json: {schema: AnswerBody}}
        401: Unauthorized
        403: Forbidden
        404: NotFound
        413: PayloadTooLarge
        415: UnsupportedMediaType
        422: ValidationFailed
    """
    question = _open_or_404(question_id)
    body = load_json(AnswerBodySchema())
    value = load_answer(question.kind, question.options, body["answer"])
    services.questions().answer(current_consumer(), question, value)
    return jsonify({"answer": value})


@bp.delete("/me/questions/<int:question_id>")
@consent_manager_required
def clear_answer(question_id: int):
    """Remove the answer to one question: one you can answer now, or one you answered for
    a brand you no longer grant.
    ---
    delete:
      tags: [questions]
      security: [{session: [], csrf: []}, {oauth2: [consent:manage]}]
      parameters:
        - name: question_id
          in: path
          required: true
          schema: {type: integer, minimum: 1, maximum: 2147483647}
      responses:
        204: {description: Removed (or there was none).}
        401: Unauthorized
        403: Forbidden
        404: NotFound
    """
    service = services.questions()
    question = service.answered_question(current_consumer(), _in_range_or_404(question_id))
    if question is None:
        abort(404, "No question you can answer, or answered, has that id.")
    service.clear(current_consumer(), question)
    return "", 204
