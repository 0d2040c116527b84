"""Tests that need a real service reach it for real; if it is missing they skip with the
reason, except under CI=true, where a missing service is a failure."""

import os
import socket
from contextlib import closing

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def require_service(available: bool, reason: str) -> None:
    if available:
        return
    if in_ci():
        pytest.fail(f"required service missing under CI: {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False
