"""Shared fixtures: a throwaway PostgreSQL server and a store URL for each backend.

``postgres_url``
    Session-scoped. Starts a real PostgreSQL cluster in a fresh temporary folder (the
    server binaries of Debian's ``postgresql`` package; ``make test`` installs them),
    listening on loopback only (``127.0.0.1``, a free port) and on a unix socket in that
    folder, and yields the SQLAlchemy URL (``postgresql+psycopg://postgres@127.0.0.1:PORT/…``,
    over TCP like a production URL) of an empty database on it. The server is stopped and the
    folder removed at the end of the session, also when tests fail. Run as root, the
    server runs as the unprivileged ``postgres`` user (or ``nobody``), since ``initdb``
    refuses to run as root. Missing binaries or driver make the tests fail, never skip.
``store_url``
    Parametrized over ``sqlite`` (a fresh file in ``tmp_path``) and ``postgresql`` (the
    database above, emptied before each test: other sessions on it are closed and the
    schema ``public`` is dropped and made anew), so a test using it runs once on each
    backend.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from dunning.store import sqlite_url

INSTALL_HINT = (
    "install the PostgreSQL server with `sudo apt-get install -y postgresql` "
    "(`make test` does this when run as root)"
)
DATABASE = "dunning_test"


def _free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bin() -> Path | None:
    """The folder holding ``initdb``, ``pg_ctl`` and ``postgres``, newest version first."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if all((folder / name).is_file() for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    initdb = shutil.which("initdb")
    folder = Path(initdb).resolve().parent if initdb else None
    return folder if folder is not None and (folder / "pg_ctl").is_file() else None


def _server_user() -> pwd.struct_passwd | None:
    """The unprivileged user to run the server as when we are root; ``None`` otherwise."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            continue
    pytest.fail(
        "running as root, but neither a 'postgres' nor a 'nobody' user exists to run the "
        f"PostgreSQL server as (initdb refuses root); {INSTALL_HINT}, which creates 'postgres'."
    )


def _run(
    command: Sequence[str | Path],
    user: pwd.struct_passwd | None,
    cwd: Path,
    what: str,
    log: Path | None = None,
) -> int:
    """Run a server command (as ``user`` when given); fail the tests with its output.

    Returns the exit code when ``what`` is empty (a best-effort command), else fails on any
    but 0.
    """
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LC_ALL": "C", "LANG": "C"}
    as_user: dict[str, Any] = {}
    if user is not None:
        as_user = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    try:
        done = subprocess.run(
            [str(c) for c in command],
            cwd=cwd,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            **as_user,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        if not what:
            return -1
        who = f" as user {user.pw_name!r}" if user is not None else ""
        pytest.fail(f"PostgreSQL test server: {what}{who} could not run: {exc!r}")
    if done.returncode != 0 and what:
        server_log = ""
        if log is not None and log.is_file():
            server_log = "\nserver log:\n" + log.read_text(errors="replace")[-4000:]
        pytest.fail(
            f"PostgreSQL test server: {what} failed (exit {done.returncode}):\n"
            f"{done.stdout}{done.stderr}{server_log}"
        )
    return done.returncode


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """The URL of an empty database on a throwaway PostgreSQL server (see module doc)."""
    folder = postgres_bin()
    if folder is None:
        pytest.fail(f"PostgreSQL server binaries (initdb, pg_ctl) not found; {INSTALL_HINT}.")
    try:
        import psycopg
    except ImportError:
        pytest.fail("the PostgreSQL driver psycopg is missing; run `pip install -e '.[dev]'`.")
    user = _server_user()
    # Under /tmp, not pytest's tmp folder: that one is private to root, and a unix socket
    # path must stay short (about 100 bytes).
    root = Path(
        tempfile.mkdtemp(prefix="dunning-pg-", dir="/tmp" if Path("/tmp").is_dir() else None)
    )
    data, sockets, log = root / "data", root / "socket", root / "server.log"
    started = False
    try:
        sockets.mkdir()
        if user is not None:
            for path in (root, sockets):
                os.chown(path, user.pw_uid, user.pw_gid)
        _run(
            [folder / "initdb", "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8",
             "--locale=C", "--no-sync", "--no-instructions"],
            user, root, "initdb",
        )  # fmt: skip
        # Throwaway data: no fsync. TCP on loopback only; the unix socket in the private
        # folder (not /var/run/postgresql, which may not exist or be writable).
        port = _free_port()
        options = (
            f"-p {port} -k {sockets} -c listen_addresses='127.0.0.1' -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=50 "
            "-c shared_buffers=16MB"
        )
        started = True
        _run(
            [folder / "pg_ctl", "-D", data, "-l", log, "-w", "-t", "60", "-o", options, "start"],
            user, root, "starting the server with pg_ctl", log,
        )  # fmt: skip
        with psycopg.connect(
            host="127.0.0.1",
            port=port,
            user="postgres",
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        ) as conn:
            conn.execute(f"CREATE DATABASE {DATABASE}")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/{DATABASE}"
    finally:
        if started:
            stop: list[str | Path] = [folder / "pg_ctl", "-D", data, "-w", "-t", "60", "stop", "-m"]
            if _run([*stop, "fast"], user, root, "") != 0:
                _run([*stop, "immediate"], user, root, "")
        shutil.rmtree(root, ignore_errors=True)


def _reset_postgres(url: str) -> None:
    """Empty the test database: close other sessions, drop and recreate schema public."""
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    with psycopg.connect(
        connect_timeout=10,
        host=parsed.host,
        port=parsed.port,
        user=parsed.username,
        dbname=parsed.database,
        autocommit=True,
    ) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        conn.execute("SET lock_timeout = '10s'")
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A store URL with no tables yet: a SQLite file, or the PostgreSQL test database."""
    if request.param == "sqlite":
        return sqlite_url(tmp_path / "dunning.sqlite")
    url: str = request.getfixturevalue("postgres_url")
    _reset_postgres(url)
    return url
