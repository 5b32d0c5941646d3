"""Sign-in throttling that does not tell whether an account exists, and password reset links
that work once and expire."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

import pytest
from axes.models import AccessAttempt
from django.contrib.auth.models import User
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.core import mail
from django.test import Client
from django.utils import timezone

from portal.analytics import failed_logins_purge

pytestmark = pytest.mark.django_db


def _attempt(client: Client, username: str, password: str = "wrong-password") -> Any:
    return client.post("/accounts/login/", {"username": username, "password": password})


def _visible_text(response: Any) -> str:
    html = response.content.decode()
    html = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", html)
    return re.sub(r'value="[^"]*"', "", html)  # the typed user name is echoed back in the form


def test_lockout_after_the_limit_looks_the_same_for_real_and_unknown_accounts(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 3
    User.objects.create_user("olivia", password="right-password")
    pages: dict[str, list[tuple[int, str]]] = {}
    for username in ("olivia", "nobody"):
        client = Client()
        pages[username] = [
            (response.status_code, _visible_text(response).replace(username, "NAME"))
            for response in (_attempt(client, username) for _ in range(4))
        ]
    assert pages["olivia"] == pages["nobody"]
    statuses = [status for status, _ in pages["olivia"]]
    assert statuses == [200, 200, 429, 429]
    assert "didn't match" in pages["olivia"][0][1]
    assert "Too many failed sign-in attempts. Try again in 15 minutes" in pages["olivia"][2][1]

    # Locked out, even the right password is refused until the cool-off is over.
    assert _attempt(Client(), "olivia", "right-password").status_code == 429


def test_lockout_is_per_user_name_and_address_so_others_still_sign_in(settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    User.objects.create_user("olivia", password="right-password")
    User.objects.create_user("carlos", password="carlos-password")
    for _ in range(3):
        _attempt(Client(), "olivia")
    response = _attempt(Client(), "carlos", "carlos-password")
    assert response.status_code == 302


def test_old_failed_sign_ins_are_purged() -> None:
    AccessAttempt.objects.create(username="olivia", ip_address="10.0.0.1", user_agent="x", failures_since_start=1)
    assert failed_logins_purge() == 0
    assert failed_logins_purge(now=timezone.now() + timedelta(days=2)) == 1
    assert not AccessAttempt.objects.exists()


def _reset_link(client: Client, email: str) -> str:
    mail.outbox.clear()
    response = client.post("/accounts/password_reset/", {"email": email})
    assert response.status_code == 302
    (message,) = mail.outbox
    match = re.search(r"https?://[^/]+(/accounts/reset/\S+/)", message.body)
    assert match, message.body
    return match.group(1)


def test_password_reset_link_works_once() -> None:
    User.objects.create_user("olivia", email="olivia@example.org", password="old-password-123")
    client = Client()
    link = _reset_link(client, "olivia@example.org")
    form_url = client.get(link).url  # Django swaps the token for a session marker
    response = client.post(form_url, {"new_password1": "N3w-passw0rd-xyz", "new_password2": "N3w-passw0rd-xyz"})
    assert response.status_code == 302 and response.url.endswith("/reset/done/")
    assert User.objects.get(username="olivia").check_password("N3w-passw0rd-xyz")

    again = Client().get(link, follow=True)
    assert "This link does not work any more" in again.content.decode()


def test_password_reset_for_an_unknown_address_looks_the_same() -> None:
    response = Client().post("/accounts/password_reset/", {"email": "nobody@example.org"})
    assert response.status_code == 302 and response.url.endswith("/password_reset/done/")
    assert not mail.outbox


class _Later(PasswordResetTokenGenerator):
    def __init__(self, seconds: int) -> None:
        super().__init__()
        self.seconds = seconds

    def _now(self) -> Any:
        return super()._now() + timedelta(seconds=self.seconds)


def test_password_reset_token_expires_after_the_timeout(settings: Any) -> None:
    user = User.objects.create_user("olivia", email="olivia@example.org", password="old-password-123")
    token = PasswordResetTokenGenerator().make_token(user)
    assert settings.PASSWORD_RESET_TIMEOUT == 3600
    assert _Later(3500).check_token(user, token)
    assert not _Later(3700).check_token(user, token)
