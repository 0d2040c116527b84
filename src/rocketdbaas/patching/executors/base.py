"""What every executor is: its result, the host it runs on, and the interface it implements."""

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

OnOutput = Callable[[str], None]

# What an ExecResult keeps of a command's output (the step keeps its own, larger, head+tail copy).
RESULT_OUTPUT_CAP = 64 * 1024


@dataclass
class ExecResult:
    exit_code: int | None  # None: it did not run to completion (see error)
    output: str = ""
    error: str = ""  # why it did not complete: timeout, unreachable, untrusted host key, …

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.error

    def describe(self) -> str:
        if self.error:
            return self.error
        return f"exit code {self.exit_code}"


@dataclass(frozen=True)
class RemoteHost:
    """Where an executor runs: the server and how to log in to it."""

    name: str
    address: str
    ssh_port: int = 22
    ssh_user: str = "root"
    variables: dict[str, Any] = field(default_factory=dict)


class OutputTail:
    """The last `cap` characters of a stream."""

    def __init__(self, cap: int = RESULT_OUTPUT_CAP):
        self.cap = cap
        self.text = ""

    def add(self, chunk: str) -> None:
        self.text = (self.text + chunk)[-self.cap :]


class Executor(ABC):
    kind = ""

    def __init__(self, host: RemoteHost):
        self.host = host

    @abstractmethod
    def run_shell(self, command: str, *, timeout: float, on_output: OnOutput | None = None) -> ExecResult:
        """Run a shell command on the server."""

    def run_patch(self, command: str, *, timeout: float, on_output: OnOutput | None = None) -> ExecResult:
        """Run the recipe's main command (a shell command, or a playbook for ansible)."""
        return self.run_shell(command, timeout=timeout, on_output=on_output)

    def preflight(self) -> list[str]:
        """Configuration problems that would make every command fail; [] when ready."""
        return []
