"""`rocketdbaas patch …` on the command line."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from rocketdbaas.patching.models import PatchRecipe, PatchRun, RunStatus
from rocketdbaas.patching.orchestrator import RunOrchestrator
from rocketdbaas.patching.tests.conftest import marker_recipe, register_alias
from rocketdbaas.patching.tests.test_api import make_cluster


def patch(*args) -> str:
    out = StringIO()
    call_command("patch", *args, stdout=out)
    return out.getvalue()


@pytest.mark.django_db
def test_start_status_cancel(admin_user):
    make_cluster("cli1")
    PatchRecipe.objects.create(name="minor", dbms_type="postgresql", patch_type="DB", command="true")
    out = patch(
        "start", "--dbms-type", "PostgreSQL", "--cluster", "cli1", "--patch-type", "DB", "--version", "15.9",
        "--recipe", "minor", "--batches", "1,50%", "--user", admin_user.username,
    )  # fmt: skip
    run = PatchRun.objects.get()
    assert out.splitlines()[0] == f"Patch run {run.pk}: DB 15.9 with recipe minor"
    assert "cli1-db2" in out and "cli1-db1" in out
    assert run.created_by == admin_user and run.batches == [1, "50%"]
    assert patch("status", str(run.pk)).startswith(
        f"run {run.pk} pending     [------------------------] 0/2 servers"
    )
    assert "cancelled" in patch("cancel", str(run.pk))
    assert PatchRun.objects.get().status == RunStatus.CANCELLED
    assert f"{run.pk:>6}" in patch("list")

    with pytest.raises(CommandError, match="cannot be cancelled"):
        patch("cancel", str(run.pk))
    with pytest.raises(CommandError, match="No postgresql cluster named 'nope'"):
        patch(
            "start",
            "--dbms-type",
            "postgresql",
            "--cluster",
            "nope",
            "--patch-type",
            "DB",
            "--version",
            "1",
            "--recipe",
            "minor",
        )
    with pytest.raises(CommandError, match="No patch run 999"):
        patch("status", "999")
    assert PatchRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_dry_run_then_a_real_run_followed_to_the_end(pg_pair, tmp_path):
    marker_recipe(tmp_path / "m")
    register_alias(pg_pair, "cli2", "app1")
    common = [
        "--dbms-type",
        "postgresql",
        "--cluster",
        "cli2",
        "--patch-type",
        "OS",
        "--version",
        "5",
        "--recipe",
        "marker",
    ]
    dry = patch("start", *common, "--dry-run")
    assert "Dry run succeeded" in dry
    assert dry.index("cli2-replica1") < dry.index("cli2-primary")  # live roles: replica first
    assert "would patch none -> 5" in dry

    patch("start", *common)
    run = PatchRun.objects.get(dry_run=False)
    assert RunOrchestrator(run.pk).execute() == RunStatus.SUCCEEDED
    line = patch("status", str(run.pk), "--watch")
    assert line.startswith(
        f"run {run.pk} succeeded   [########################] 2/2 servers (2 ok, 0 skipped"
    )
