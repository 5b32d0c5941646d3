#!/usr/bin/env python
"""Django's command-line utility for Evidence Portal."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "evidence_portal.settings")
    from django.core.exceptions import ImproperlyConfigured

    try:
        from django.core.management import execute_from_command_line

        execute_from_command_line(sys.argv)
    except ImproperlyConfigured as error:
        # A bad setting stops start-up with one line naming it, not a traceback.
        sys.stderr.write(f"Configuration error: {error}\n")
        sys.exit(2)
    except Exception as error:
        # A database that cannot be reached (wrong host, port, password, a server that is down).
        from django.db import InterfaceError, OperationalError

        if not isinstance(error, (OperationalError, InterfaceError)) or "connect" not in str(error).lower():
            raise
        from evidence_portal.preflight import database_error_line

        sys.stderr.write(f"Database error: {database_error_line(error)}\n")
        sys.exit(3)


if __name__ == "__main__":
    main()
