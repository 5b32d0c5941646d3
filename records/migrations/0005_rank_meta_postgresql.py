"""PostgreSQL: the uid unique constraint carries the ranking columns (``INCLUDE``), so the
planner answers search.services._rank_meta by an index-only scan instead of the bare uid index
plus a heap read per candidate. PostgreSQL has no index hint, and with the plain uid index
present it picks that one over the composite ``record_rank_meta`` whatever the statistics say.
SQLite has no INCLUDE and reaches the composite of 0003 through ``INDEXED BY``."""

from django.db import migrations

COLUMNS = "evidence_level, publication_year, retracted, deleted_at"


def _rebuild(schema_editor, model, include: str) -> None:
    table = schema_editor.quote_name(model._meta.db_table)
    (name,) = schema_editor._constraint_names(model, ["uid"], unique=True, primary_key=False, index=False) or [
        f"{model._meta.db_table}_uid_key"
    ]
    quoted = schema_editor.quote_name(name)
    schema_editor.execute(f"ALTER TABLE {table} DROP CONSTRAINT IF EXISTS {quoted}")
    schema_editor.execute(f"ALTER TABLE {table} ADD CONSTRAINT {quoted} UNIQUE (uid){include}")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, apps.get_model("records", "EvidenceRecord"), f" INCLUDE ({COLUMNS})")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _rebuild(schema_editor, apps.get_model("records", "EvidenceRecord"), "")


class Migration(migrations.Migration):
    dependencies = [("records", "0004_evidencerecord_guideline_and_more")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
