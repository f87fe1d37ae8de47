"""Signing in: admin sessions (Flask-Login), CSRF on every form (Flask-WTF),
rate-limited sign-in attempts (the `limits` library), and bearer tokens for the API."""

from __future__ import annotations

import datetime as dt
import time

from flask import (
    Blueprint,
    Flask,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from limits import parse_many
from limits.storage import storage_from_string
from limits.strategies import MovingWindowRateLimiter
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from feedsvc import accounts
from feedsvc.models import User
from feedsvc.web.context import client_address, get_session

bp = Blueprint("auth", __name__, url_prefix="/admin")
LIMITER = "feedsvc.sign_in_limiter"
login_manager = LoginManager()
csrf = CSRFProtect()


class SignInLimiter:
    """Counts sign-in attempts per client address in a moving window.

    Only the sign-in form pays for it: a limiter hooked into every request
    would tax each feed poll. The counts live in `RATELIMIT_STORAGE_URI`.
    """

    def __init__(self, limits: str, storage_uri: str) -> None:
        self.limits = parse_many(limits)
        self.window = MovingWindowRateLimiter(storage_from_string(storage_uri))

    def allow(self, key: str) -> bool:
        """Count one attempt; False when any limit is used up."""
        return all([self.window.hit(limit, "sign-in", key) for limit in self.limits])

    def retry_after(self, key: str) -> int:
        resets = [self.window.get_window_stats(limit, "sign-in", key).reset_time
                  for limit in self.limits]  # fmt: skip
        return max(1, int(max(resets) - time.time()) + 1)


class Admin(UserMixin):
    """The signed-in user, detached from any session.

    The id stored in the cookie carries a piece of the password hash, so
    changing a password signs out every other session of that user.
    """

    def __init__(self, user: User) -> None:
        self.user_id = user.id
        self.username = user.username
        self.session_id = f"{user.id}:{user.password_hash[-12:]}"

    def get_id(self) -> str:
        return self.session_id


def load_admin(session_id: str) -> Admin | None:
    user_id, _, check = session_id.partition(":")
    if not user_id.isdigit():
        return None
    user = get_session().get(User, int(user_id))
    if user is None or user.password_hash[-12:] != check:
        return None
    return Admin(user)


class SignInForm(FlaskForm):  # type: ignore[misc]
    username = StringField("Username", validators=[DataRequired(), Length(max=200)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=1000)])


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in() -> Response | str:
    form = SignInForm()
    if request.method == "POST":
        limiter = current_app.extensions[LIMITER]
        key = client_address()
        if not limiter.allow(key):
            return _too_many(limiter.retry_after(key))
    if form.validate_on_submit():
        user = accounts.authenticate(get_session(), form.username.data, form.password.data)
        if user is not None:
            login_user(Admin(user))
            return redirect(_safe_next(request.args.get("next")))
        form.password.errors.append("Wrong username or password.")
    status = 400 if request.method == "POST" else 200
    return Response(render_template("admin/sign_in.html", form=form), status=status,
                    content_type="text/html; charset=utf-8")  # fmt: skip


@bp.post("/sign-out")
def sign_out() -> Response:
    logout_user()
    flash("Signed out.")
    return redirect(url_for("auth.sign_in"))


def _safe_next(target: str | None) -> str:
    """Only a path on this site: an open redirect would help a phisher."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return url_for("admin.dashboard")


def _too_many(retry_after: int) -> Response:
    message = "Too many sign-in attempts from your address. Try again in a minute or two."
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
    app.extensions[LIMITER] = SignInLimiter(
        app.config["LOGIN_RATE_LIMIT"], app.config["RATELIMIT_STORAGE_URI"]
    )
    app.register_blueprint(bp)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    if app.config["BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
