"""The portal's client form, reshaped for ``ClientSchema``, and its errors made readable.

Validation itself is the schema's (the same one the CLI and dynamic registration use);
this module only turns form inputs into its document and its messages into sentences.
"""

from __future__ import annotations

from sayso.fields import grant_name_of, grantable
from sayso.shared.forms import FormError, flatten_errors


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


def scope_label(scope: str) -> str:
    """How a scope is named to people: its field's label, or the scope itself."""
    name = grant_name_of(scope)
    return grantable(name).label if name else scope


def _messages(value) -> list[str]:
    return flatten_errors(value)


def client_errors(messages: dict, data: dict) -> list[str]:
    """``ClientSchema`` errors as sentences a brand can act on, each naming its input."""
    lines = []
    for key, value in messages.items():
        if key == "name":
            lines += [FormError(f"Name: {m}", (key,)) for m in _messages(value)]
        elif key == "redirect_uris" and isinstance(value, dict):
            uris = data.get("redirect_uris", [])
            for index, problem in sorted(value.items()):
                uri = uris[index] if index < len(uris) else f"Line {index + 1}"
                lines += [FormError(f"{uri}: {m}", (key,)) for m in _messages(problem)]
        elif key == "redirect_uris":
            lines.append(FormError("Give one to ten redirect URIs, one per line.", (key,)))
        elif key == "scope_purposes" and isinstance(value, dict):
            for scope, problem in value.items():
                if isinstance(problem, dict) and "key" in problem:
                    lines.append(f"{scope} is not a scope Sayso offers.")
                else:
                    lines.append(
                        FormError(
                            f"Declare the purpose for {scope_label(scope)} ({scope}) "
                            "in 3 to 280 characters.",
                            (key, scope),
                        )
                    )
        elif key == "scope_purposes":
            lines.append("Tick at least one field to ask for, and declare a purpose for each.")
        elif key == "webhook_url":
            lines += [FormError(m, (key,)) for m in _messages(value)]
        else:
            lines += flatten_errors({key: value})
    return lines
