from django.db import migrations, models

# PostgreSQL refuses any UPDATE or DELETE of an audit row, whoever sends it. TRUNCATE stays
# possible (it is a table-level statement, not a row change), which keeps test-suite flushes
# working. SQLite is the single-user embedded mode; there the model layer enforces the rule.
PG_GUARD = """
CREATE OR REPLACE FUNCTION activities_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION USING
        MESSAGE = 'activities are append-only: ' || TG_OP || ' refused',
        ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
DROP TRIGGER IF EXISTS activities_append_only ON activities_activity;
CREATE TRIGGER activities_append_only BEFORE UPDATE OR DELETE ON activities_activity
    FOR EACH ROW EXECUTE FUNCTION activities_append_only();
"""
PG_UNGUARD = """
DROP TRIGGER IF EXISTS activities_append_only ON activities_activity;
DROP FUNCTION IF EXISTS activities_append_only();
"""


def add_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_GUARD)


def remove_guard(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(PG_UNGUARD)


class Migration(migrations.Migration):
    dependencies = [
        ("activities", "0001_initial"),
    ]

    operations = [
        migrations.AlterField(
            model_name="activity",
            name="type",
            field=models.CharField(
                choices=[
                    ("Failover", "Failover"),
                    ("Switchover", "Switchover"),
                    ("Down", "Down"),
                    ("Up", "Up"),
                    ("Patch", "Patch"),
                    ("DbRestart", "Db Restart"),
                    ("ServerRestart", "Server Restart"),
                    ("Backup", "Backup"),
                    ("Maintenance", "Maintenance"),
                    ("PoolChange", "Pool Change"),
                    ("ClusterChange", "Cluster Change"),
                    ("Other", "Other"),
                    ("Correction", "Correction"),
                ],
                max_length=20,
            ),
        ),
        migrations.RunPython(add_guard, remove_guard),
    ]
