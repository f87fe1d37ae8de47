"""Signing in: admin sessions (Flask-Login), CSRF on every form (Flask-WTF),
sign-in attempts limited in a store every process shares, and bearer tokens for the API.

A session ends for good: the id in the cookie carries the user's session
generation, which sign-out, a password change and "sign out everywhere" bump,
so every cookie made before — a copy included — stops working. Besides, a
session lasts `SESSION_LIFETIME_DAYS` from sign-in at most and, when
`SESSION_IDLE_MINUTES` is set, ends after that long unused.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import (
    LoginManager,
    UserMixin,
    current_user,
    login_required,
    login_user,
    logout_user,
)
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from feedsvc import accounts
from feedsvc.models import User
from feedsvc.settings import EXTENSION as SETTINGS
from feedsvc.settings import Settings
from feedsvc.sign_in_limits import SignInLimiter
from feedsvc.web.context import client_address, current_time, get_session, settings

bp = Blueprint("auth", __name__, url_prefix="/admin")
LIMITER = "feedsvc.sign_in_limiter"
login_manager = LoginManager()
csrf = CSRFProtect()
# Session keys: when the session began and when it was last used (epoch seconds).
SIGNED_IN_AT = "signed_in_at"
SEEN_AT = "seen_at"


class Admin(UserMixin):
    """The signed-in user, detached from any session.

    Its id, kept in the cookie, is "<user id>:<session generation>".
    """

    def __init__(self, user: User) -> None:
        self.user_id = user.id
        self.username = user.username
        self.session_id = f"{user.id}:{user.session_generation}"

    def get_id(self) -> str:
        return self.session_id


def load_admin(session_id: str) -> Admin | None:
    user_id, _, generation = session_id.partition(":")
    if not (_small_number(user_id) and _small_number(generation)) or not _session_current():
        return None
    user = get_session().get(User, int(user_id))
    if user is None or user.session_generation != int(generation):
        return None
    return Admin(user)


def _small_number(text: str) -> bool:
    return text.isascii() and text.isdigit() and len(text) <= 18


def _session_current() -> bool:
    """Within its lifetime and, when an idle timeout is set, used recently."""
    now = current_time().timestamp()
    signed_in = session.get(SIGNED_IN_AT)
    if not isinstance(signed_in, int) or now - signed_in > _lifetime().total_seconds():
        return False
    idle_minutes = settings().auth.session_idle_minutes
    if idle_minutes > 0:
        seen = session.get(SEEN_AT, signed_in)
        if not isinstance(seen, int) or now - seen > idle_minutes * 60:
            return False
        if now - seen >= 60:  # a new cookie at most once a minute
            session[SEEN_AT] = int(now)
    return True


def _lifetime() -> dt.timedelta:
    return dt.timedelta(days=settings().auth.session_lifetime_days)


def _start_session(user: User) -> None:
    login_user(Admin(user))
    session.permanent = True
    session[SIGNED_IN_AT] = session[SEEN_AT] = int(current_time().timestamp())


class SignInForm(FlaskForm):  # type: ignore[misc]
    username = StringField("Username", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | str:
    form = SignInForm()
    if request.method == "POST":
        limiter: SignInLimiter = current_app.extensions[LIMITER]
        username = request.form.get("username", "")
        retry_after = limiter.attempt(client_address(), username, current_time())
        if retry_after is not None:
            return _too_many(retry_after)
    if form.validate_on_submit():
        user = accounts.authenticate(get_session(), form.username.data, form.password.data)
        if user is not None:
            _start_session(user)
            return redirect(local_target(request.args.get("next"), url_for("admin.dashboard")))
        form.password.errors.append("Wrong username or password.")
    status = 400 if request.method == "POST" else 200
    return Response(render_template("admin/sign_in.html", form=form), status=status,
                    content_type="text/html; charset=utf-8")  # fmt: skip


@bp.post("/sign-out")
def sign_out() -> Response:
    """Ends every session of this user, copies of this cookie included."""
    if current_user.is_authenticated:
        db_session = get_session()
        user = db_session.get(User, current_user.user_id)
        if user is not None:
            accounts.end_sessions(user)
    logout_user()
    session.pop(SIGNED_IN_AT, None)
    session.pop(SEEN_AT, None)
    flash("Signed out.")
    return redirect(url_for("auth.sign_in"))


def admins_only(blueprint: Blueprint) -> None:
    """Every page of `blueprint` needs a signed-in admin (Flask-Login sends the
    rest to sign in), and none is kept by a cache: they show private data."""

    @blueprint.before_request
    @login_required
    def _require_sign_in() -> None:
        pass

    blueprint.after_request(_no_store)


def _no_store(response: Response) -> Response:
    response.headers["Cache-Control"] = "no-store"
    return response


def local_target(target: str | None, default: str) -> str:
    """`target` when it is a path on this site, else `default`: an open
    redirect would help a phisher. Browsers drop tabs and newlines inside a
    URL and read a backslash as a slash, so the check is made on the target
    without them, and that is what is returned."""
    cleaned = "".join(
        char for char in target or ""
        if not char.isspace() and unicodedata.category(char) not in ("Cc", "Cf")
    )  # fmt: skip
    if not cleaned.startswith("/") or cleaned.startswith(("//", "/\\")):
        return default
    parts = urlsplit(cleaned.replace("\\", "/"))
    if parts.scheme or parts.netloc:
        return default
    return cleaned


def _too_many(retry_after: int) -> Response:
    message = "Too many sign-in attempts. Try again in a minute or two."
    response = Response(render_template("admin/sign_in.html", form=SignInForm(), error=message),
                        status=429, content_type="text/html; charset=utf-8")  # fmt: skip
    response.headers["Retry-After"] = str(retry_after)
    return response


def _remember_cookie_on_admin_pages(response: Response) -> Response:
    if request.blueprint in ("auth", "admin"):
        return login_manager._update_remember_cookie(response)  # type: ignore[no-any-return]
    return response


def bearer_user(now: dt.datetime) -> User | None:
    """The user of the request's `Authorization: Bearer` token, if it is live."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return accounts.user_for_token(get_session(), token.strip(), now)


def init(app: Flask) -> None:
    # Flask-Login, left alone, reads the session on every request (its remember
    # cookie hook and its template global), and a session read makes Flask add
    # "Vary: Cookie" — which would stop caches from sharing feeds and pages.
    # Only the admin's own requests get those.
    login_manager.init_app(app, add_context_processor=False)
    app.after_request_funcs[None].remove(login_manager._update_remember_cookie)
    app.after_request(_remember_cookie_on_admin_pages)
    app.context_processor(lambda: {"current_user": current_user})
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.user_loader(load_admin)
    csrf.init_app(app)
    app_settings: Settings = app.extensions[SETTINGS]
    limits = app_settings.auth
    app.extensions[LIMITER] = SignInLimiter.configured(
        limits.rate_limit_storage, app.extensions["feedsvc.db"],
        limits.login_rate_limit, limits.account_rate_limit, app_settings.secret_key,
    )  # fmt: skip
    app.register_blueprint(bp)
    lifetime = dt.timedelta(days=limits.session_lifetime_days)
    app.config.update(
        SESSION_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=lifetime,
        REMEMBER_COOKIE_DURATION=lifetime,
        # A refreshed permanent session would set its cookie on every answer,
        # public pages too; the cookie is written only when the session changes.
        SESSION_REFRESH_EACH_REQUEST=False,
    )
    if app_settings.site.base_url.startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
