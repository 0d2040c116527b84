"""Runs a recipe's playbook against one server with ansible-runner (the `ansible` install extra).

Each command gets its own private data dir (inventory of that one host, its variables as extra
vars, the trusted host keys) under PATCH_ANSIBLE_DATA_DIR, removed afterwards. Ansible logs in
with the system ssh client, with StrictHostKeyChecking on against the same known hosts as the
ssh executor. Pre/post/version commands run through Ansible's `shell` module on the host.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from rocketdbaas.core.config import config
from rocketdbaas.patching.executors.base import ExecResult, Executor, OnOutput, OutputTail
from rocketdbaas.patching.executors.ssh import client_key_paths, trusted_host_keys


def data_root() -> Path:
    return Path(config.PATCH_ANSIBLE_DATA_DIR)


def playbook_path(command: str) -> Path:
    path = Path(command.strip())
    if not path.is_absolute():
        path = Path(config.PATCH_ANSIBLE_PROJECT_DIR or ".") / path
    return path


class AnsibleExecutor(Executor):
    kind = "ansible"

    def preflight(self) -> list[str]:
        try:
            import ansible_runner  # noqa: F401
        except ImportError:
            return ["ansible-runner is not installed on this worker (install the 'ansible' extra)"]
        if shutil.which("ansible-playbook", path=_search_path()) is None:
            return ["ansible-playbook is not installed on this worker"]
        return []

    def check_playbook(self, command: str) -> list[str]:
        path = playbook_path(command)
        return [] if path.is_file() else [f"playbook {path} does not exist on this worker"]

    def _inventory(self, data_dir: Path) -> dict[str, Any]:
        known_hosts = data_dir / "known_hosts"
        known_hosts.write_text(trusted_host_keys())
        host_vars: dict[str, Any] = {
            "ansible_host": self.host.address,
            "ansible_port": self.host.ssh_port,
            "ansible_user": self.host.ssh_user,
            "ansible_ssh_common_args": (
                f"-o UserKnownHostsFile={known_hosts} -o StrictHostKeyChecking=yes -o BatchMode=yes"
            ),
        }
        keys = client_key_paths()
        if keys:
            host_vars["ansible_ssh_private_key_file"] = keys[0]
        # Cluster and server variables may choose another connection (e.g. ansible_connection=local).
        host_vars.update({k: v for k, v in self.host.variables.items() if k.startswith("ansible_")})
        return {"all": {"hosts": {self.host.name: host_vars}}}

    def _extravars(self) -> dict[str, Any]:
        return {k: v for k, v in self.host.variables.items() if not k.startswith("ansible_")}

    def _execute(self, *, timeout: float, on_output: OnOutput | None, **kwargs) -> ExecResult:
        import ansible_runner

        data_root().mkdir(parents=True, exist_ok=True)
        data_dir = Path(tempfile.mkdtemp(prefix=f"{self.host.name}-", dir=data_root()))
        tail = OutputTail()
        shell_stdout: list[str] = []

        def on_event(event: dict[str, Any]) -> bool:
            text = event.get("stdout") or ""
            if text:
                tail.add(text + "\n")
                if on_output:
                    on_output(text + "\n")
            if event.get("event") in ("runner_on_ok", "runner_on_failed"):
                res = (event.get("event_data") or {}).get("res") or {}
                if isinstance(res.get("stdout"), str):
                    shell_stdout.append(res["stdout"])
            return False  # the output is kept in the step; no need to keep event files

        try:
            runner = ansible_runner.run(
                private_data_dir=str(data_dir),
                inventory=self._inventory(data_dir),
                extravars=self._extravars(),
                envvars={"ANSIBLE_HOST_KEY_CHECKING": "True", "ANSIBLE_NOCOLOR": "1", "PATH": _search_path()},
                event_handler=on_event,
                quiet=True,
                timeout=int(max(1, timeout)),
                **kwargs,
            )
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)
        if runner.status == "timeout":
            return ExecResult(None, tail.text, f"timed out after {timeout:g}s")
        if runner.status not in ("successful", "failed"):
            return ExecResult(runner.rc, tail.text, f"ansible run {runner.status}")
        # For shell commands the module's stdout is the useful output (e.g. a version).
        output = "\n".join(shell_stdout) if "module" in kwargs else tail.text
        return ExecResult(runner.rc, output)

    def run_patch(self, command: str, *, timeout: float, on_output: OnOutput | None = None) -> ExecResult:
        problems = self.check_playbook(command)
        if problems:
            return ExecResult(None, error=problems[0])
        return self._execute(timeout=timeout, on_output=on_output, playbook=str(playbook_path(command)))

    def run_shell(self, command: str, *, timeout: float, on_output: OnOutput | None = None) -> ExecResult:
        return self._execute(
            timeout=timeout,
            on_output=on_output,
            module="shell",
            module_args=command,
            host_pattern=self.host.name,
        )


def _search_path() -> str:
    """PATH with this Python's bin directory first: the ansible extra installs ansible-playbook
    next to the worker's interpreter, which need not be on the PATH the worker was started with."""
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", os.defpath)])
