"""Sessions and devices: where the consumer is signed in, and signing out of each."""

from __future__ import annotations

from flask import flash, redirect, render_template, session, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user, login_required, logout_user

from sayso import services
from sayso.auth import SESSION_ID
from sayso.services.sessions import describe, id_hash
from sayso.web.blueprint import bp


@bp.get("/account/sessions")
@login_required
def sessions_page():
    """Every live session (browser and system from its User-Agent, first and last seen,
    in the consumer's time zone), this one first, and the browser extension's access."""
    records = services.session_records()
    here = id_hash(session.get(SESSION_ID) or "")
    live = records.live(current_user)
    live.sort(key=lambda s: s.id_hash != here)  # stable: this one first, then by last seen
    return render_template(
        "sessions.html",
        sessions=live,
        here=here,
        describe=describe,
        extensions=records.extension_access(current_user),
    )


@bp.post("/account/sessions/<string:session_hash>/end")
@login_required
def end_session(session_hash: str):
    """Sign out one session; this browser's own ends as signing out does."""
    records = services.session_records()
    ended = records.end(current_user, session_hash[:64])
    if session_hash == id_hash(session.get(SESSION_ID) or ""):
        logout_user()
        session.clear()
        flash(_("You are signed out of this browser."))
        return redirect(url_for("web.index"))
    flash(_("That session is signed out.") if ended else _("That session had already ended."))
    return redirect(url_for("web.sessions_page"))


@bp.post("/account/sessions/end-others")
@login_required
def end_other_sessions():
    """Sign out every session but this one (the extension is signed out on its own)."""
    ended = services.session_records().end_others(current_user, session.get(SESSION_ID))
    if ended:
        flash(
            ngettext(
                "Signed out of %(num)d other session.",
                "Signed out of %(num)d other sessions.",
                ended,
            )
        )
    else:
        flash(_("You were signed in nowhere else."))
    return redirect(url_for("web.sessions_page"))


@bp.post("/account/extension/<string:family_id>/end")
@login_required
def end_extension_access(family_id: str):
    """Sign the browser extension out: its tokens stop working at once."""
    if services.session_records().end_extension_access(current_user, family_id[:64]):
        flash(_("The extension is signed out. It asks you to sign in the next time you use it."))
    else:
        flash(_("The extension was already signed out."))
    return redirect(url_for("web.sessions_page"))
