"""Executors for real: a subprocess, an OpenSSH sshd on loopback, ansible-runner; and the
step output's head+tail cap."""

import time

import pytest

from rocketdbaas.patching import services
from rocketdbaas.patching.executors import RemoteHost
from rocketdbaas.patching.executors.local import LocalExecutor
from rocketdbaas.patching.executors.ssh import SshExecutor
from rocketdbaas.patching.models import PatchStep, RunStatus, SshKnownHost, StepOutcome
from rocketdbaas.patching.orchestrator import RunOrchestrator, StepOutput
from rocketdbaas.patching.tests.conftest import RunInThread, marker_recipe, ran, register_alias, wait_for


def test_local_executor_streams_and_kills_the_whole_group_on_timeout(tmp_path):
    chunks: list[str] = []
    result = LocalExecutor(RemoteHost("h", "")).run_shell(
        "echo one; echo two >&2; exit 4", timeout=10, on_output=chunks.append
    )
    assert (result.exit_code, result.error) == (4, "")
    assert "".join(chunks) == result.output == "one\ntwo\n"

    pidfile = tmp_path / "child.pid"
    started = time.monotonic()
    result = LocalExecutor(RemoteHost("h", "")).run_shell(
        f"sleep 30 & echo $! > {pidfile}; wait", timeout=0.5
    )
    assert result.exit_code is None and result.error == "timed out after 0.5s"
    assert time.monotonic() - started < 10
    child = int(pidfile.read_text())
    wait_for(lambda: not _alive(child), timeout=5, what="the background child to be killed")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


@pytest.mark.django_db
def test_step_output_keeps_head_and_tail_past_the_cap(settings, admin_user):
    settings.PATCH_OUTPUT_HEAD_CHARS = 20
    settings.PATCH_OUTPUT_TAIL_CHARS = 30
    settings.PATCH_OUTPUT_FLUSH_SECONDS = 0
    from rocketdbaas.patching.tests.test_api import make_cluster

    make_cluster("pgo")
    from rocketdbaas.patching.models import PatchRecipe

    PatchRecipe.objects.create(name="r", dbms_type="postgresql", patch_type="DB", command="true")
    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql", patch_type="DB", patch_version="1", recipe="r", cluster="pgo"
        )
    )
    step = run.steps.first()
    out = StepOutput(step.pk)
    result = LocalExecutor(RemoteHost("h", "")).run_shell(
        "echo HEAD-LINE; seq 1 5000; echo TAIL-LINE", timeout=10, on_output=out.write
    )
    assert result.ok
    step.refresh_from_db()
    assert step.output_truncated and step.output.startswith("HEAD-LINE\n1\n2\n3\n")
    assert step.output.endswith("4998\n4999\n5000\nTAIL-LINE\n")
    assert "characters of output left out" in step.output
    assert len(step.output) < 120


def test_ssh_executor_verifies_the_host_key(ssh_settings, sshd, tmp_path):
    host = RemoteHost("loop", "127.0.0.1", ssh_port=sshd.port, ssh_user=sshd.user)
    chunks: list[str] = []
    trusted = SshExecutor(host, known_hosts=sshd.host_key_line)
    result = trusted.run_shell("echo out; echo err >&2; exit 5", timeout=20, on_output=chunks.append)
    assert (result.exit_code, result.error) == (5, "")
    assert sorted(result.output.split()) == ["err", "out"] and "".join(chunks) == result.output

    other_key = sshd.host_key_line.split(" ", 1)[1]
    unknown = SshExecutor(host, known_hosts=f"[127.0.0.1]:1 {other_key}")
    result = unknown.run_shell(f"touch {tmp_path}/ran", timeout=20)
    assert result.exit_code is None and "is not trusted" in result.error
    assert not (tmp_path / "ran").exists()

    result = trusted.run_shell("sleep 10", timeout=1)
    assert result.exit_code is None and result.error == "timed out after 1s"


@pytest.mark.django_db(transaction=True)
def test_a_run_over_ssh_streams_its_output_into_the_step(ssh_settings, sshd, pg_pair, tmp_path):
    SshKnownHost.objects.create(host=f"[127.0.0.1]:{sshd.port}", key=sshd.host_key_line.split(" ", 1)[1])
    markers = tmp_path / "m"
    marker_recipe(markers, executor="ssh", pre_command="echo 'pre on {server}' && hostname >/dev/null")
    register_alias(pg_pair, "ssh1", "app1")
    from rocketdbaas.patching.models import ClusterPatchSettings

    ClusterPatchSettings.objects.filter(cluster__name="ssh1").update(
        variables={"ssh_port": sshd.port, "gate": str(tmp_path / "go")}
    )
    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql", patch_type="OS", patch_version="7", recipe="marker", cluster="ssh1"
        )
    )
    worker = RunInThread(run.pk)
    # The first line is in the step while the command is still running on the server.
    wait_for(
        lambda: "pre on ssh1-replica1" in PatchStep.objects.get(run=run, server__name="ssh1-replica1").output,
        what="streamed output",
    )
    assert PatchStep.objects.get(run=run, server__name="ssh1-replica1").status == "patching"
    (tmp_path / "go").touch()
    assert worker.join() == RunStatus.SUCCEEDED
    for step in run.steps.select_related("server"):
        assert step.outcome == StepOutcome.SUCCEEDED and step.exit_code == 0
        assert f"pre on {step.server.name}" in step.output and f"patched {step.server.name}" in step.output
        assert (step.version_before, step.version_after) == ("none", "7")
    assert ran(markers) == ["ssh1-replica1", "ssh1-primary"]


@pytest.mark.django_db(transaction=True)
def test_an_unknown_host_key_fails_the_step_before_anything_runs(ssh_settings, sshd, pg_pair, tmp_path):
    # Trusted keys exist, but none for this sshd.
    SshKnownHost.objects.create(host="[127.0.0.1]:1", key=sshd.host_key_line.split(" ", 1)[1])
    markers = tmp_path / "m"
    marker_recipe(markers, executor="ssh")
    register_alias(pg_pair, "ssh2", "app1")
    from rocketdbaas.patching.models import ClusterPatchSettings

    ClusterPatchSettings.objects.filter(cluster__name="ssh2").update(variables={"ssh_port": sshd.port})
    run = services.start_patch_run(
        services.RunRequest(
            dbms_type="postgresql", patch_type="OS", patch_version="8", recipe="marker", cluster="ssh2"
        )
    )
    assert RunOrchestrator(run.pk).execute() == RunStatus.FAILED
    first, second = run.steps.order_by("position")
    assert first.outcome == StepOutcome.FAILED
    assert f"host key of 127.0.0.1:{sshd.port} is not trusted" in first.reason
    assert second.outcome == StepOutcome.CANCELLED
    assert ran(markers) == []


PLAYBOOK = """
- hosts: all
  gather_facts: false
  tasks:
    - name: apply the patch
      ansible.builtin.copy:
        dest: "{{ markers }}/{{ server }}"
        content: "{{ version }}\\n"
    - ansible.builtin.debug:
        msg: "patched {{ server }} to {{ version }}"
"""


@pytest.mark.django_db
def test_ansible_executor_runs_the_playbook_with_its_own_data_dir(settings, tmp_path):
    import sys

    from tests.support.services import require_service

    try:
        from rocketdbaas.patching.executors.ansible import AnsibleExecutor
    except ImportError:  # pragma: no cover - the extra is part of the test install
        AnsibleExecutor = None
    executor_ok = AnsibleExecutor is not None and not AnsibleExecutor(RemoteHost("x", "")).preflight()
    require_service(executor_ok, "ansible-runner/ansible-core (the 'ansible' extra) are not installed")
    settings.PATCH_ANSIBLE_DATA_DIR = str(tmp_path / "data")
    playbook = tmp_path / "patch.yml"
    playbook.write_text(PLAYBOOK)
    markers = tmp_path / "m"
    markers.mkdir()
    # A local connection keeps the test about ansible-runner, not about Ansible's SSH plugin.
    host = RemoteHost(
        "srv1",
        "127.0.0.1",
        variables={
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
            "markers": str(markers),
            "server": "srv1",
            "version": "9.1",
        },
    )
    executor = AnsibleExecutor(host)
    chunks: list[str] = []

    result = executor.run_patch(str(playbook), timeout=300, on_output=chunks.append)

    assert result.ok, result.output
    assert (markers / "srv1").read_text() == "9.1\n"
    assert '"msg": "patched srv1 to 9.1"' in "".join(chunks)
    assert "PLAY RECAP" in result.output
    assert list((tmp_path / "data").iterdir()) == []  # the private data dir is gone
    version = executor.run_shell(f"cat {markers}/srv1", timeout=300)
    assert (version.exit_code, version.output) == (0, "9.1")
    missing = executor.run_patch(str(tmp_path / "nope.yml"), timeout=10)
    assert missing.exit_code is None and "does not exist" in missing.error
