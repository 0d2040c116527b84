"""Executors run a recipe's commands on one server: `local` (a subprocess on the worker, for
development and tests), `ssh` (asyncssh, key auth, host keys checked against the admin-managed
known hosts) and `ansible` (ansible-runner, one private data dir per server).

Every executor streams output through `on_output` as it arrives and never raises for a failed
command: the result says what happened.
"""

from rocketdbaas.core.config import config
from rocketdbaas.patching.executors.base import (
    RESULT_OUTPUT_CAP,
    ExecResult,
    Executor,
    OnOutput,
    OutputTail,
    RemoteHost,
)

__all__ = [
    "RESULT_OUTPUT_CAP",
    "ExecResult",
    "Executor",
    "OnOutput",
    "OutputTail",
    "RemoteHost",
    "build_executor",
    "ssh_user",
]


def ssh_user(recipe_user: str) -> str:
    return recipe_user or config.PATCH_SSH_USER


def build_executor(kind: str, host: RemoteHost) -> Executor:
    from rocketdbaas.patching.models import ExecutorKind

    if kind == ExecutorKind.LOCAL:
        from rocketdbaas.patching.executors.local import LocalExecutor

        return LocalExecutor(host)
    if kind == ExecutorKind.SSH:
        from rocketdbaas.patching.executors.ssh import SshExecutor

        return SshExecutor(host)
    if kind == ExecutorKind.ANSIBLE:
        from rocketdbaas.patching.executors.ansible import AnsibleExecutor

        return AnsibleExecutor(host)
    raise ValueError(f"unknown executor {kind!r}")
