"""The portal's client form, reshaped for ``ClientSchema``, and its errors made readable.

Validation itself is the schema's (the same one the CLI and dynamic registration use);
this module only turns form inputs into its document and its messages into sentences.
"""

from __future__ import annotations

from flask_babel import format_date, ngettext
from flask_babel import gettext as _
from marshmallow import ValidationError

from sayso.fields import grant_name_of, grantable
from sayso.schemas.brands import ClientSchema
from sayso.schemas.portal import PurposeTranslationsSchema
from sayso.shared.forms import FormError, flatten_errors

#: The client form before anything is typed.
BLANK_FORM = {
    "name": "",
    "redirect_uris": [],
    "scope_purposes": {},
    "third_party_scopes": [],
    "webhook_url": None,
    "require_pushed_authorization_requests": False,
    "dpop_bound_access_tokens": False,
}


def load_client(submitted, allow_http_loopback: bool) -> tuple[dict, dict, dict | None, list]:
    """The client form as typed, its translated purposes, the loaded client (None if
    refused) and the error lines of both."""
    form, translations = client_from(submitted), translations_from(submitted)
    data, errors = None, []
    try:
        data = ClientSchema(allow_http_loopback=allow_http_loopback).load(form)
    except ValidationError as exc:
        errors = client_errors(exc.messages, form)
    try:
        PurposeTranslationsSchema().load(translations)
    except ValidationError as exc:
        errors += translation_errors(exc.messages)
    return form, translations, data, errors


def bar_title(day, kind: str, n: int) -> str:
    """One bar's tooltip on the dashboard's chart: its day and count, in the page's language."""
    when = format_date(day, "medium")
    if kind == "reads":
        return ngettext("%(when)s: %(num)s read", "%(when)s: %(num)s reads", n, when=when)
    return ngettext("%(when)s: %(num)s error", "%(when)s: %(num)s errors", n, when=when)


def client_from(form) -> dict:
    """Name, redirect URIs (one per line), ticked scopes with their purposes, webhook URL."""
    return {
        "name": form.get("name", "").strip(),
        "redirect_uris": [
            line.strip() for line in form.get("redirect_uris", "").splitlines() if line.strip()
        ],
        # Only ticked scopes count; a purpose typed next to an unticked box is ignored.
        "scope_purposes": {
            scope: form.get(f"purpose_{scope}", "").strip() for scope in form.getlist("scope")
        },
        "third_party_scopes": [
            scope for scope in form.getlist("scope") if form.get(f"third_parties_{scope}") == "yes"
        ],
        "webhook_url": form.get("webhook_url", "").strip() or None,
        "require_pushed_authorization_requests": form.get("require_par") == "yes",
        "dpop_bound_access_tokens": form.get("require_dpop") == "yes",
    }


#: The languages a purpose may be translated into on the client form (besides the brand's).
PURPOSE_LANGUAGES = ("fr", "de")


def translations_from(form) -> dict:
    """The purposes typed in French and German (``purpose_fr_<scope>``) for ticked scopes,
    empty ones left out: {"fr": {scope: words}, "de": {...}}."""
    ticked = form.getlist("scope")
    return {
        language: {
            scope: words
            for scope in ticked
            if (words := form.get(f"purpose_{language}_{scope}", "").strip())
        }
        for language in PURPOSE_LANGUAGES
    }


def translation_errors(messages: dict) -> list[str]:
    """``PurposeTranslationsSchema`` errors as sentences, each naming its input."""
    lines = []
    for language, problems in messages.items():
        for scope in problems if isinstance(problems, dict) else ():
            text = (
                _(
                    "Write the French purpose for %(label)s (%(scope)s) in 3 to 280 "
                    "characters, or leave it empty.",
                    label=scope_label(scope),
                    scope=scope,
                )
                if language == "fr"
                else _(
                    "Write the German purpose for %(label)s (%(scope)s) in 3 to 280 "
                    "characters, or leave it empty.",
                    label=scope_label(scope),
                    scope=scope,
                )
            )
            lines.append(FormError(text, (f"purpose_{language}", scope)))
    return lines


def scope_label(scope: str) -> str:
    """How a scope is named to people: its field's label (in the page's language), or the
    scope itself."""
    name = grant_name_of(scope)
    return _(grantable(name).label) if name else scope


def _messages(value) -> list[str]:
    return flatten_errors(value)


def client_errors(messages: dict, data: dict) -> list[str]:
    """``ClientSchema`` errors as sentences a brand can act on, each naming its input."""
    lines = []
    for key, value in messages.items():
        if key == "name":
            lines += [
                FormError(_("Name: %(problem)s", problem=m), (key,)) for m in _messages(value)
            ]
        elif key == "redirect_uris" and isinstance(value, dict):
            uris = data.get("redirect_uris", [])
            for index, problem in sorted(value.items()):
                uri = uris[index] if index < len(uris) else _("Line %(n)s", n=index + 1)
                lines += [
                    FormError(_("%(uri)s: %(problem)s", uri=uri, problem=m), (key,))
                    for m in _messages(problem)
                ]
        elif key == "redirect_uris":
            lines.append(FormError(_("Give one to ten redirect URIs, one per line."), (key,)))
        elif key == "scope_purposes" and isinstance(value, dict):
            for scope, problem in value.items():
                if isinstance(problem, dict) and "key" in problem:
                    lines.append(_("%(scope)s is not a scope Sayso offers.", scope=scope))
                else:
                    lines.append(
                        FormError(
                            _(
                                "Declare the purpose for %(label)s (%(scope)s) in 3 to 280 "
                                "characters.",
                                label=scope_label(scope),
                                scope=scope,
                            ),
                            (key, scope),
                        )
                    )
        elif key == "scope_purposes":
            lines.append(_("Tick at least one field to ask for, and declare a purpose for each."))
        elif key == "webhook_url":
            lines += [FormError(m, (key,)) for m in _messages(value)]
        else:
            lines += flatten_errors({key: value})
    return lines
