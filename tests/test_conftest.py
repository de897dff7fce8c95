"""The test harness's own PostgreSQL housekeeping (tests/conftest.py): the probe that decides
whether PostgreSQL tests run, and which left-over test databases a new session drops."""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Iterator

import pytest

from tests.conftest import postgres_problem, stale_test_databases


@pytest.fixture
def not_postgres() -> Iterator[int]:
    """A port where something that is not PostgreSQL accepts connections (and closes them)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.1)  # so that the thread sees `stop`
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except TimeoutError:
                continue
            conn.close()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(server.getsockname()[1])
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_an_open_port_is_not_a_postgres_server(not_postgres: int) -> None:
    problem = postgres_problem(f"postgresql+asyncpg://postgres@127.0.0.1:{not_postgres}/test")
    assert problem is not None and f"127.0.0.1:{not_postgres}" in problem


def test_a_closed_port_says_the_server_cannot_be_reached() -> None:
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    problem = postgres_problem(f"postgresql+asyncpg://postgres@127.0.0.1:{port}/test")
    assert (
        problem is not None and f"cannot reach the database server at 127.0.0.1:{port}" in problem
    )


def test_only_test_databases_of_processes_gone_are_stale() -> None:
    names = [
        "hotline_test_101",  # its run was killed
        "hotline_test_202",  # a run still going
        "hotline_test_101_copy",
        "hotline_test_",
        "hotline_test_abc",
        "xhotline_test_101",
        "Hotline_test_101",
        "hotline",
        "test",
        "hotline_test_99999999999999999999999",  # no pid is that large
    ]
    assert stale_test_databases(names, running={202}.__contains__) == [
        "hotline_test_101",
        "hotline_test_99999999999999999999999",
    ]


def test_this_session_s_own_database_is_never_stale() -> None:
    own = f"hotline_test_{os.getpid()}"
    assert stale_test_databases([own]) == []
    assert stale_test_databases(["hotline_test_99999999999999999999999"]) == [
        "hotline_test_99999999999999999999999"
    ]
