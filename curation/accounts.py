"""Accounts: sign-up by invitation, the guideline authors group and personal API tokens."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import cast

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import transaction
from django.utils import timezone

from curation.models import AUTHORS_GROUP, ApiToken, Invitation
from curation.permissions import InvalidInput, NotAllowed, UserLike

INVITATION_DAYS = 14
TOKEN_PREFIX = "ept_"  # noqa: S105 (a label, not a secret)


def authors_group() -> Group:
    group, _ = Group.objects.get_or_create(name=AUTHORS_GROUP)
    return group


@transaction.atomic
def invitation_create(*, invited_by: UserLike | None, email: str, as_author: bool = True) -> tuple[Invitation, str]:
    """Create an invitation; returns it with the token (only its hash is stored). Staff only."""
    if invited_by is not None and not getattr(invited_by, "is_staff", False):
        raise NotAllowed("Only staff can invite people")
    email = (email or "").strip()
    if "@" not in email:
        raise InvalidInput("An invitation needs an email address")
    token = secrets.token_urlsafe(32)
    invitation = Invitation.objects.create(
        email=email,
        token_hash=ApiToken.hash_key(token),
        invited_by_id=invited_by.pk if invited_by is not None else None,
        as_author=as_author,
        expires_at=timezone.now() + timedelta(days=INVITATION_DAYS),
    )
    return invitation, token


def invitation_send(*, invitation: Invitation, token: str, signup_url: str) -> None:
    """Mail the sign-up link (console backend by default)."""
    send_mail(
        subject="Your invitation to Evidence Portal",
        message=f"You are invited to Evidence Portal. Choose a username and password here:\n\n{signup_url}\n\n"
        f"The link works once and expires in {INVITATION_DAYS} days.",
        from_email=None,
        recipient_list=[invitation.email],
    )


def invitation_for_token(token: str) -> Invitation | None:
    """Return the open, unexpired invitation for a token, or None."""
    if not token:
        return None
    return Invitation.objects.filter(
        token_hash=ApiToken.hash_key(token), accepted_at__isnull=True, expires_at__gt=timezone.now()
    ).first()


@transaction.atomic
def invitation_accept(*, token: str, username: str, password: str) -> AbstractBaseUser:
    """Create the invited user (in the authors group if so invited); InvalidInput on bad input."""
    invitation = invitation_for_token(token)
    if invitation is None:
        raise InvalidInput("This invitation is not valid any more")
    user_model = get_user_model()
    username = (username or "").strip()
    if not username or len(username) > 150:
        raise InvalidInput("Choose a username of at most 150 characters")
    if user_model.objects.filter(username__iexact=username).exists():
        raise InvalidInput("That username is taken")
    candidate = user_model(username=username, email=invitation.email)
    try:
        validate_password(password, candidate)
    except ValidationError as error:
        raise InvalidInput(" ".join(error.messages)) from None
    user = user_model.objects.create_user(username=username, email=invitation.email, password=password)
    if invitation.as_author:
        user.groups.add(authors_group())
    invitation.accepted_at = timezone.now()
    invitation.accepted_user = user
    invitation.save(update_fields=["accepted_at", "accepted_user"])
    return user


@transaction.atomic
def api_token_create(*, user: UserLike, name: str) -> tuple[ApiToken, str]:
    """Create a personal API token; returns it with the secret, which is not stored."""
    if not user.is_authenticated:
        raise NotAllowed("Sign in to create an API token")
    name = (name or "").strip()[:100] or "API token"
    key = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user_id=cast(int, user.pk), name=name, key_hash=ApiToken.hash_key(key), prefix=key[:8]
    )
    return token, key


def api_token_revoke(*, user: UserLike, token_id: int) -> None:
    deleted, _ = ApiToken.objects.filter(user_id=user.pk or 0, pk=token_id).delete()
    if not deleted:
        raise InvalidInput("No such token")


def api_token_user(key: str) -> AbstractBaseUser | None:
    """Return the active user a token belongs to, or None; notes when it was last used."""
    if not key:
        return None
    token = ApiToken.objects.select_related("user").filter(key_hash=ApiToken.hash_key(key)).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user
