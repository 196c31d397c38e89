"""A throwaway PostgreSQL server for tests, benchmarks and trying Stampy out.

:class:`ThrowawayServer` runs ``initdb`` into a temporary folder and starts ``postgres`` on
127.0.0.1 on a free port with durability off (``fsync``, ``synchronous_commit`` and
``full_page_writes``: a crash loses the server, which is thrown away anyway). Run as root,
it runs the server as the ``postgres`` user, since PostgreSQL refuses to run as root.
:func:`find_binaries` says whether the PostgreSQL programs are installed (Debian keeps them
under ``/usr/lib/postgresql/N/bin``, off the ``PATH``).

Nothing here is used by a running bot; it lives in the package so that the test suite,
``bench/`` and ``scripts/test-postgres`` share one implementation.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Self

__all__ = ["ThrowawayServer", "find_binaries"]

#: The user the server runs as when started by root.
SERVER_USER = "postgres"


def find_binaries() -> Path | None:
    """The directory holding ``initdb``, ``pg_ctl`` and ``postgres``, or None.

    ``$STAMPY_PG_BIN`` wins; then the ``PATH``; then the newest Debian install.
    """
    candidates: list[str] = []
    if os.environ.get("STAMPY_PG_BIN"):
        candidates.append(os.environ["STAMPY_PG_BIN"])
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(os.path.dirname(os.path.realpath(on_path)))
    debian = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2] or 0)
    )
    candidates.extend(reversed(debian))
    for folder in candidates:
        if all(os.access(os.path.join(folder, n), os.X_OK) for n in _PROGRAMS):
            return Path(folder)
    return None


_PROGRAMS = ("initdb", "pg_ctl", "createdb")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ThrowawayServer:
    """A PostgreSQL server in a temporary folder; ``with`` starts it and removes it after.

    :meth:`url` gives the address of a database on it (``create`` makes a fresh one).
    """

    def __init__(self, binaries: Path | None = None) -> None:
        found = binaries or find_binaries()
        if found is None:
            raise FileNotFoundError(
                "PostgreSQL is not installed (no initdb found; on Debian: apt-get install "
                "postgresql, or set STAMPY_PG_BIN to the folder holding initdb and pg_ctl)"
            )
        self.binaries = found
        self.port = 0
        self.user = SERVER_USER if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name
        self._folder: str | None = None
        self._counter = 0

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = [str(self.binaries / args[0]), *args[1:]]
        if os.geteuid() == 0:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        return subprocess.run(
            command, capture_output=True, text=True, check=check, timeout=120, cwd="/"
        )

    def start(self) -> None:
        """initdb into a fresh folder and start the server; waits until it accepts."""
        self._folder = tempfile.mkdtemp(prefix="stampy-pg-")
        if os.geteuid() == 0:
            shutil.chown(self._folder, SERVER_USER, SERVER_USER)
        data = os.path.join(self._folder, "data")
        try:
            self._run(
                "initdb",
                "-D",
                data,
                "-A",
                "trust",
                "-U",
                self.user,
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            )
        except subprocess.CalledProcessError as exc:
            self.stop()
            raise RuntimeError(f"initdb failed: {exc.stderr.strip()}") from None
        options = (
            f"-c listen_addresses=127.0.0.1 -c unix_socket_directories={self._folder}"
            " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        for _attempt in range(5):  # a port found free may be taken before the server binds
            self.port = _free_port()
            started = self._run(
                "pg_ctl",
                "-D",
                data,
                "-l",
                os.path.join(self._folder, "log"),
                "-w",
                "-t",
                "60",
                "-o",
                f"-p {self.port} {options}",
                "start",
                check=False,
            )
            if started.returncode == 0:
                return
        log = Path(self._folder, "log")
        detail = log.read_text()[-2000:] if log.exists() else started.stderr
        self.stop()
        raise RuntimeError(f"the PostgreSQL server did not start: {detail.strip()}")

    def stop(self) -> None:
        """Stop the server (fast) and delete its folder."""
        if self._folder is None:
            return
        data = os.path.join(self._folder, "data")
        if os.path.exists(os.path.join(data, "postmaster.pid")):
            self._run("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop", check=False)
        shutil.rmtree(self._folder, ignore_errors=True)
        self._folder = None

    def url(self, database: str = "postgres") -> str:
        """The address of ``database`` on this server."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database}"

    def create(self, prefix: str = "stampy") -> str:
        """Create a new empty database and return its address."""
        self._counter += 1
        name = f"{prefix}_{os.getpid()}_{self._counter}_{time.monotonic_ns() % 1_000_000}"
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", self.user, name)
        return self.url(name)


def main() -> None:
    """``python -m bot.store.pgserver``: a throwaway server until Ctrl-C, to try Stampy on."""
    with ThrowawayServer() as server:
        url = server.create("stampy")
        print(f'PostgreSQL is running; in [database] put:\nurl = "{url}"', flush=True)
        print("Ctrl-C stops it and deletes its data.", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
