"""PostgreSQL: the record's text and JSON columns compress with lz4 instead of the default pglz.

Long values (abstracts, author and MeSH lists) are compressed as they are written; pglz spent
about a third of the server's CPU of a bulk load, lz4 a fraction of that for the same table size
(100,000 records: COPY 11.4 s -> 7.3 s, 384 -> 383 MB). Rows already stored keep their
compression until rewritten. Skipped where the server has no lz4 (built without it, or before
PostgreSQL 14, which has no per-column compression); SQLite has nothing to set."""

from django.db import migrations

TOASTABLE_TYPES = ("text", "character varying", "jsonb")


def _lz4_available(cursor) -> bool:
    cursor.execute("SELECT enumvals FROM pg_settings WHERE name = 'default_toast_compression'")
    row = cursor.fetchone()
    return bool(row and "lz4" in row[0])


def _set_compression(schema_editor, model, method: str) -> None:
    table = model._meta.db_table
    with schema_editor.connection.cursor() as cursor:
        if not _lz4_available(cursor):
            return
        cursor.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = current_schema() AND table_name = %s AND data_type = ANY(%s) ORDER BY column_name",
            [table, list(TOASTABLE_TYPES)],
        )
        columns = [name for (name,) in cursor.fetchall()]
    quote = schema_editor.quote_name
    for column in columns:
        schema_editor.execute(f"ALTER TABLE {quote(table)} ALTER COLUMN {quote(column)} SET COMPRESSION {method}")


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _set_compression(schema_editor, apps.get_model("records", "EvidenceRecord"), "lz4")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        _set_compression(schema_editor, apps.get_model("records", "EvidenceRecord"), "default")


class Migration(migrations.Migration):
    dependencies = [("records", "0006_design_probabilities")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
