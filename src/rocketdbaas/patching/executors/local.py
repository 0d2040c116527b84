"""Runs commands with /bin/sh on the worker itself: for development, tests and recipes that
reach the server by their own means (a CLI, an API)."""

import codecs
import os
import selectors
import signal
import subprocess
import time

from rocketdbaas.patching.executors.base import ExecResult, Executor, OnOutput, OutputTail

_KILL_GRACE_SECONDS = 5.0


class LocalExecutor(Executor):
    kind = "local"

    def run_shell(self, command: str, *, timeout: float, on_output: OnOutput | None = None) -> ExecResult:
        # Its own session, so a timeout kills the whole process group, not just the shell.
        proc = subprocess.Popen(
            ["/bin/sh", "-c", command],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        assert proc.stdout is not None
        fd = proc.stdout.fileno()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        tail = OutputTail()
        deadline = time.monotonic() + timeout
        timed_out = False
        with selectors.DefaultSelector() as selector:
            selector.register(fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                if not selector.select(min(remaining, 1.0)):
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                text = decoder.decode(chunk)
                if text:
                    tail.add(text)
                    if on_output:
                        on_output(text)
        if not timed_out:
            try:
                proc.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            _kill_group(proc)
            proc.stdout.close()
            return ExecResult(None, tail.text, f"timed out after {timeout:g}s")
        proc.stdout.close()
        return ExecResult(proc.returncode, tail.text)


def _kill_group(proc: subprocess.Popen) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(_KILL_GRACE_SECONDS)
            return
        except subprocess.TimeoutExpired:
            continue
