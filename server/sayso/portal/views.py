"""Portal pages: overview, clients (register, rotate, delete), deliveries, registration tokens.

Every page needs a signed-in member of a brand, and acts on that brand alone: another
brand's client is a 404, not a 403, so client ids cannot be probed. Secrets are rendered
in the answer to the POST that made them and never again (not in a URL, not in a flash).
"""

from __future__ import annotations

from datetime import timedelta

from flask import abort, current_app, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from marshmallow import ValidationError

from sayso import services
from sayso.charts import daily_chart
from sayso.extensions import login_manager
from sayso.fields import FIELDS, PERMISSIONS, label_of
from sayso.i18n import moment
from sayso.portal.blueprint import bp
from sayso.portal.forms import BLANK_FORM, bar_title, load_client
from sayso.schemas.portal import DeleteClientSchema
from sayso.schemas.questions import QuestionSchema
from sayso.services.accounts import actor_for
from sayso.services.integration import SERIES as ACTIVITY_SERIES
from sayso.shared.clock import utcnow
from sayso.shared.forms import N_, flatten_errors
from sayso.taxonomy import topics

NOT_A_MEMBER = N_(
    "The brand portal is for people who work for a brand on Sayso. This account is not "
    "one of them; ask your brand's Sayso operator to add you."
)

#: What a client may ask for: each field's read scope, and each permission's scope.
ASKABLE = {**FIELDS, **PERMISSIONS}


@bp.before_request
def _members_only():
    """Anonymous visitors sign in first; accounts that belong to no brand get a 403."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    brand = None
    if current_user.role == "brand":
        brand = services.brands().brand_of_member(current_user)
    if brand is None:
        abort(403, _(NOT_A_MEMBER))
    g.brand = brand
    return None


def _client_or_404(client_id: str):
    client = services.brands().client_of_brand(g.brand, client_id)
    if client is None:
        abort(404, _("Your brand has no client with that id."))
    return client


def _actor() -> str:
    return actor_for(current_user)


@bp.get("")
def overview():
    """The brand, its domains (verified or not) and its clients."""
    return render_template(
        "portal/overview.html", brand=g.brand, fields=FIELDS, clients=g.brand.clients
    )


@bp.route("/clients/new", methods=["GET", "POST"])
def new_client():
    """Register a client; the answer shows its secrets, once."""
    if request.method == "GET":
        return render_template(
            "portal/client_form.html",
            brand=g.brand,
            fields=ASKABLE,
            form=BLANK_FORM,
            translations={},
            errors=[],
        )
    form, translations, data, errors = load_client(
        request.form, current_app.config["ALLOW_HTTP_LOOPBACK"]
    )
    if errors:
        return render_template(
            "portal/client_form.html",
            brand=g.brand,
            fields=ASKABLE,
            form=form,
            translations=translations,
            errors=errors,
        ), 422
    new = services.brands().register_client(
        g.brand,
        actor=_actor(),
        purpose_translations={lang: words for lang, words in translations.items() if words},
        **data,
    )
    secrets = [(N_("Client ID"), new.client.client_id), (N_("Client secret"), new.client_secret)]
    if new.webhook_secret:
        secrets.append((N_("Webhook signing secret"), new.webhook_secret))
    return render_template(
        "portal/secrets.html",
        brand=g.brand,
        client=new.client,
        title=_("%(client)s is registered", client=new.client.name),
        secrets=secrets,
    ), 201


@bp.get("/clients/<client_id>")
def client(client_id: str):
    """One client: its redirect URIs, scopes and purposes, webhook, and what can be done."""
    return render_template(
        "portal/client.html", brand=g.brand, fields=FIELDS, client=_client_or_404(client_id)
    )


@bp.get("/clients/<client_id>/dashboard")
def dashboard(client_id: str):
    """One client's integration over the last days: reads and errors per day, webhook
    deliveries, and decisions on its consent page; counts only, never a consumer."""
    client = _client_or_404(client_id)
    board = services.integration_dashboard().for_client(client, utcnow().date())
    series = [(kind, _(label), colour) for kind, label, colour in ACTIVITY_SERIES]
    return render_template(
        "portal/dashboard.html",
        brand=g.brand,
        client=client,
        board=board,
        chart=daily_chart(
            board.activity,
            board.days,
            series=series,
            title=_("%(client)s: reads and errors per day", client=client.name),
            bar_title=bar_title,
        ),
        series=series,
        field_label=label_of,
    )


@bp.post("/clients/<client_id>/rotate-secret")
def rotate_secret(client_id: str):
    """A new client secret, shown once; the old one stops working at once."""
    client = _client_or_404(client_id)
    secret = services.brands().rotate_secret(client, actor=_actor())
    return render_template(
        "portal/secrets.html",
        brand=g.brand,
        client=client,
        title=_("A new secret for %(client)s", client=client.name),
        secrets=[(N_("Client ID"), client.client_id), (N_("Client secret"), secret)],
        note=N_("The old secret no longer works."),
    )


@bp.post("/clients/<client_id>/rotate-webhook-secret")
def rotate_webhook_secret(client_id: str):
    """A new webhook signing secret, shown once; deliveries from now on are signed with it."""
    client = _client_or_404(client_id)
    if not client.webhook_url:
        abort(404, _("This client has no webhook URL."))
    secret = services.brands().rotate_webhook_secret(client, actor=_actor())
    return render_template(
        "portal/secrets.html",
        brand=g.brand,
        client=client,
        title=_("A new webhook signing secret for %(client)s", client=client.name),
        secrets=[(N_("Webhook signing secret"), secret)],
        note=N_("Deliveries from now on are signed with this secret, not the old one."),
    )


@bp.route("/clients/<client_id>/delete", methods=["GET", "POST"])
def delete_client(client_id: str):
    """Ask, then delete the client; its tokens stop working at once."""
    client = _client_or_404(client_id)
    if request.method == "GET":
        return render_template("portal/delete.html", brand=g.brand, client=client, errors=[])
    try:
        DeleteClientSchema().load({"confirm": request.form.get("confirm", "")})
    except ValidationError as exc:
        return render_template(
            "portal/delete.html",
            brand=g.brand,
            client=client,
            errors=flatten_errors(exc.messages),
        ), 422
    name = client.name
    services.brands().delete_client(client, actor=_actor())
    flash(_("%(client)s is deleted. Its tokens no longer work.", client=name))
    return redirect(url_for("portal.overview"))


@bp.get("/deliveries")
def deliveries():
    """The latest 50 webhook deliveries to the brand's clients."""
    return render_template(
        "portal/deliveries.html",
        brand=g.brand,
        deliveries=services.webhook_outbox().deliveries(
            client_ids=[c.client_id for c in g.brand.clients], limit=50
        ),
    )


@bp.get("/registration")
def registration():
    """Dynamic client registration: the endpoint and the brand's initial access tokens."""
    brands = services.brands()
    return render_template(
        "portal/registration.html",
        brand=g.brand,
        tokens=brands.live_initial_access_tokens(g.brand),
        lifetime=_duration(brands.initial_access_tokens.lifetime),
        uses=brands.initial_access_tokens.uses,
    )


def _duration(span: timedelta) -> str:
    """``1 day``, ``12 hours``, ``90 minutes``: a lifetime as the portal says it."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} seconds"


@bp.post("/registration/tokens")
def issue_initial_access_token():
    """A new initial access token, shown once."""
    issued = services.brands().issue_initial_access_token(g.brand, actor=_actor())
    return render_template(
        "portal/secrets.html",
        brand=g.brand,
        client=None,
        title=_("A new initial access token"),
        secrets=[(N_("Initial access token"), issued.token)],
        note=_(
            "Send it as a Bearer token to the registration endpoint, in the Authorization "
            "header (a token sent in a URL is revoked). It works until %(when)s, for at "
            "most %(uses)s registrations, unless you revoke it first.",
            when=moment(issued.expires_at),
            uses=issued.uses,
        ),
    ), 201


@bp.post("/registration/revoke")
def revoke_initial_access_tokens():
    """Revoke every initial access token of the brand."""
    count = services.brands().revoke_initial_access_tokens(g.brand, actor=_actor())
    flash(
        ngettext(
            "%(num)s initial access token revoked.", "%(num)s initial access tokens revoked.", count
        )
    )
    return redirect(url_for("portal.registration"))


def _question_form(form) -> dict:
    """The question form, reshaped for ``QuestionSchema`` (choices one per line)."""
    return {
        "kind": form.get("kind", ""),
        "prompt": form.get("prompt", "").strip(),
        "purpose": form.get("purpose", "").strip(),
        "why": form.get("why", "").strip() or None,
        "options": [line.strip() for line in form.get("options", "").splitlines() if line.strip()],
    }


@bp.route("/questions", methods=["GET", "POST"])
def questions():
    """The brand's questions with their states, and a form to write a new one (a draft
    until published)."""
    service = services.questions()
    form, errors, status = _question_form({}), [], 200
    if request.method == "POST":
        form = _question_form(request.form)
        try:
            data = QuestionSchema().load(form)
        except ValidationError as exc:
            errors, status = flatten_errors(exc.messages), 422
        else:
            question = service.create(g.brand, data, actor=_actor())
            flash(
                _(
                    "“%(question)s” is saved as a draft. Nobody sees it until you publish it; "
                    "until then you can still edit it.",
                    question=question.prompt,
                )
            )
            return redirect(url_for("portal.questions"))
    return render_template(
        "portal/questions.html",
        brand=g.brand,
        questions=service.of_brand(g.brand),
        form=form,
        errors=errors,
    ), status


def _question_or_404(question_id: int):
    question = services.questions().question_of_brand(g.brand, question_id)
    if question is None:
        abort(404, _("Your brand has no question with that number."))
    return question


def _as_form(question) -> dict:
    return {
        "kind": question.kind,
        "prompt": question.prompt,
        "purpose": question.purpose,
        "why": question.why,
        "options": question.options,
    }


@bp.route("/questions/<int:question_id>/edit", methods=["GET", "POST"])
def edit_question(question_id: int):
    """Rewrite a draft; a published question cannot change (consumers may have answered it)."""
    question = _question_or_404(question_id)
    if question.published_at is not None:
        flash(_("A published question cannot be edited: consumers may have answered it as it is."))
        return redirect(url_for("portal.question", question_id=question_id))
    form, errors, status = _as_form(question), [], 200
    if request.method == "POST":
        form = _question_form(request.form)
        try:
            data = QuestionSchema().load(form)
        except ValidationError as exc:
            errors, status = flatten_errors(exc.messages), 422
        else:
            services.questions().update(question, data, actor=_actor())
            flash(_("Your changes are saved. The question is still a draft."))
            return redirect(url_for("portal.question", question_id=question_id))
    return render_template(
        "portal/question_edit.html", brand=g.brand, question=question, form=form, errors=errors
    ), status


@bp.route("/questions/<int:question_id>/publish", methods=["GET", "POST"])
def publish_question(question_id: int):
    """Ask first (saying how many consumers it reaches), then ask every consumer who grants
    the brand anything."""
    question = _question_or_404(question_id)
    service = services.questions()
    if question.published_at is not None:
        flash(_("This question is already published."))
        return redirect(url_for("portal.question", question_id=question_id))
    if request.method == "GET":
        return render_template(
            "portal/question_publish.html",
            brand=g.brand,
            question=question,
            audience=service.audience(g.brand),
        )
    service.publish(question, actor=_actor())
    audience = service.audience(g.brand)
    if audience:
        flash(
            ngettext(
                "Published. %(num)s consumer who grants %(brand)s something can answer it now "
                "on their Questions page, and so can anyone who grants you something later.",
                "Published. %(num)s consumers who grant %(brand)s something can answer it now "
                "on their Questions page, and so can anyone who grants you something later.",
                audience,
                brand=g.brand.name,
            )
        )
    else:
        flash(
            _(
                "Published. Nobody grants %(brand)s anything yet: consumers can answer it as "
                "they grant you something.",
                brand=g.brand.name,
            )
        )
    return redirect(url_for("portal.question", question_id=question_id))


@bp.route("/questions/<int:question_id>/close", methods=["GET", "POST"])
def close_question(question_id: int):
    """Ask first, then stop taking answers; answers given stay."""
    question = _question_or_404(question_id)
    if question.state != "published":
        flash(
            _("Only a published question can be closed.")
            if question.published_at is None
            else _("This question is already closed.")
        )
        return redirect(url_for("portal.question", question_id=question_id))
    if request.method == "GET":
        return render_template("portal/question_close.html", brand=g.brand, question=question)
    services.questions().close(question, actor=_actor())
    flash(
        _(
            "Closed. Consumers can no longer answer it or change their answers; the answers "
            "already given stay, and you can still read them where a consumer grants you "
            "their answers, until that consumer removes theirs."
        )
    )
    return redirect(url_for("portal.question", question_id=question_id))


@bp.get("/questions/<int:question_id>")
def question(question_id: int):
    """One question, its state, what can be done with it, and its aggregate answers (only
    once enough consumers answered)."""
    question = _question_or_404(question_id)
    return render_template(
        "portal/question.html",
        brand=g.brand,
        question=question,
        aggregate=services.questions().aggregate(question),
        topics=topics(),
    )
