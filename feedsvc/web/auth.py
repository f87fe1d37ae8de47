"""Signing in: admin sessions (Flask-Login), CSRF on every form (Flask-WTF),
rate-limited sign-in attempts (Flask-Limiter), and bearer tokens for the API."""

from __future__ import annotations

import datetime as dt

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
from flask_limiter import Limiter
from flask_login import LoginManager, UserMixin, login_user, logout_user
from flask_wtf import FlaskForm
from flask_wtf.csrf import CSRFProtect
from werkzeug.wrappers import Response
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from feedsvc import accounts, popularity
from feedsvc.models import User
from feedsvc.web import get_session

bp = Blueprint("auth", __name__, url_prefix="/admin")
login_manager = LoginManager()
csrf = CSRFProtect()


def client_key() -> str:
    """The client's address, believing X-Forwarded-For only as far as PROXY_HOPS says."""
    return popularity.client_address(
        request.remote_addr,
        request.headers.get("X-Forwarded-For"),
        int(current_app.config["PROXY_HOPS"]),
    )


limiter = Limiter(client_key)


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


def _login_limit() -> str:
    return str(current_app.config["LOGIN_RATE_LIMIT"])


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
def sign_in() -> Response | str:
    form = SignInForm()
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


def _too_many(_error: Exception) -> tuple[str, int]:
    message = "Too many sign-in attempts from your address. Wait a minute and try again."
    if request.blueprint == "api":
        from feedsvc.web.api import problem

        return problem(429, "Too many requests", message)  # type: ignore[return-value]
    return render_template("admin/sign_in.html", form=SignInForm(), error=message), 429


def bearer_user(now: dt.datetime) -> User | None:
    """The user of the request's `Authorization: Bearer` token, if it is live."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return accounts.user_for_token(get_session(), token.strip(), now)


def init(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.user_loader(load_admin)
    csrf.init_app(app)
    limiter.init_app(app)
    app.register_blueprint(bp)
    app.register_error_handler(429, _too_many)
    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    if app.config["BASE_URL"].startswith("https://"):
        app.config["SESSION_COOKIE_SECURE"] = True
        app.config["REMEMBER_COOKIE_SECURE"] = True
