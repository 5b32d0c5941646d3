"""``makemessages`` that also extracts ``N_("...")`` (strings marked for translation but stored
in English, such as the evidence-level names), so the catalogue is complete."""

from __future__ import annotations

from django.core.management.commands import makemessages


class Command(makemessages.Command):
    xgettext_options = [*makemessages.Command.xgettext_options, "--keyword=N_"]
