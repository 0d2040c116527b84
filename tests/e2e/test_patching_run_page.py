"""A patch run's page in a real browser while a real run executes: the progress bar, the
servers' states and the output follow the run without reloading the page (htmx polling)."""

from playwright.sync_api import expect

from tests.support.fixtures import make_user


def test_run_page_follows_a_live_run(page, login, screenshot, settings, tmp_path):
    from rocketdbaas.accounts.models import Role
    from rocketdbaas.patching import services
    from rocketdbaas.patching.models import ClusterPatchSettings
    from rocketdbaas.patching.tests.conftest import (
        FAST,
        RunInThread,
        build_pg_cluster,
        marker_recipe,
        register_alias,
        wait_for,
    )

    for name, value in FAST.items():
        setattr(settings, name, value)
    pg = build_pg_cluster()
    try:
        marker_recipe(tmp_path / "m")
        register_alias(pg, "live1", "app1")
        ClusterPatchSettings.objects.filter(cluster__name="live1").update(
            variables={"gate": str(tmp_path / "go")}
        )
        run = services.start_patch_run(
            services.RunRequest(
                dbms_type="postgresql", patch_type="OS", patch_version="9.5", recipe="marker", cluster="live1"
            )
        )
        worker = RunInThread(run.pk)
        wait_for(lambda: run.steps.filter(status="patching").exists(), what="the first server patching")

        login(page, make_user("pat-dba", Role.DBA))
        page.goto(f"/patching/runs/{run.pk}/")
        first = page.locator("#run-steps tbody tr").first
        expect(first).to_contain_text("live1-replica1")
        expect(first).to_contain_text("Patching")
        first.get_by_role("button", name="output").click()
        expect(page.locator("#step-output-text")).to_contain_text("==>")
        expect(page.locator("#step-output-text")).to_contain_text("command:")
        expect(page.get_by_role("button", name="Pause")).to_be_visible()
        screenshot(page, "patch-run-in-progress")

        (tmp_path / "go").touch()
        # No reload: the page polls until the run is over, then stops polling.
        expect(page.locator("#run-progress")).to_contain_text("2 of 2 servers done", timeout=30_000)
        expect(page.locator("#run-progress .card-head")).to_contain_text("Succeeded")
        expect(page.locator("#run-progress progress")).to_have_attribute("value", "100")
        expect(page.locator("#run-progress")).not_to_have_attribute("hx-trigger", "every 2s")
        expect(page.locator("#step-output")).to_contain_text("Succeeded")
        screenshot(page, "patch-run-succeeded")
        assert worker.join() == "succeeded"
    finally:
        pg.destroy()
