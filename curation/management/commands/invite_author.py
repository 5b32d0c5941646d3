"""Invite a guideline author by email: prints and mails a one-time sign-up link."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.urls import reverse

from curation.accounts import invitation_create, invitation_send
from curation.permissions import InvalidInput


class Command(BaseCommand):
    help = "Invite someone to sign up (as a guideline author unless --reader)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--base-url", default="http://127.0.0.1:8000", help="Where the portal is served")
        parser.add_argument("--reader", action="store_true", help="Invite without the guideline authors role")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            invitation, token = invitation_create(
                invited_by=None, email=options["email"], as_author=not options["reader"]
            )
        except InvalidInput as error:
            raise CommandError(str(error)) from None
        url = options["base_url"].rstrip("/") + reverse("curation:signup", args=[token])
        invitation_send(invitation=invitation, token=token, signup_url=url)
        self.stdout.write(f"Invited {invitation.email}: {url}")
