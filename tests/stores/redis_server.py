"""Redis servers for the tests: each on a free loopback port with a data folder of its own,
started by the test and stopped by its process id (never by name).

As a module: `RedisServer(...)` (a context manager), with kill / freeze / thaw / restart
for the fault tests. As a command, it runs another command with a server beside it:

    python3 tests/stores/redis_server.py -- cargo test ...     # CONFORMANCE_STORE=redis://...

A machine without `redis-server` fails here with what is missing (make test installs the
Debian package first), never by skipping.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def redis_server_binary() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise RuntimeError(
            "redis-server is not installed: the Redis store tests need it "
            "(make test installs the Debian package redis-server; "
            "`apt-get install redis-server` does it by hand)"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def command(port: int, *args: str, password: str | None = None, timeout: float = 2.0) -> bytes:
    """One command on a plain connection (RESP), its raw reply. For the tests' own use:
    CLIENT KILL, DBSIZE, and the like."""
    parts = [a.encode() for a in args]
    if password is not None:
        parts = [b"AUTH", password.encode()]
    wire = b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        if password is not None:
            s.sendall(b"*%d\r\n" % len(parts) + wire)
            s.recv(1024)
            parts = [a.encode() for a in args]
            wire = b"".join(b"$%d\r\n%s\r\n" % (len(p), p) for p in parts)
        s.sendall(b"*%d\r\n" % len(parts) + wire)
        return s.recv(65536)


class RedisServer:
    """One redis-server process. `tls`: (cert, key, ca) paths, then the port speaks TLS
    only; `password`: `requirepass`."""

    def __init__(
        self,
        password: str | None = None,
        tls: tuple[Path, Path, Path] | None = None,
        port: int | None = None,
    ) -> None:
        self.binary = redis_server_binary()
        self.port = port or free_port()
        self.password = password
        self.tls = tls
        self.dir = Path(tempfile.mkdtemp(prefix="flightcache-redis-"))
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def url(self) -> str:
        auth = f":{self.password}@" if self.password else ""
        if self.tls:
            return f"rediss://{auth}127.0.0.1:{self.port}/0?ca={self.tls[2]}"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        args = [
            self.binary,
            "--bind", "127.0.0.1",
            "--dir", str(self.dir),
            "--save", "",
            "--appendonly", "no",
            "--protected-mode", "yes",
            "--daemonize", "no",
            "--logfile", str(self.dir / "redis.log"),
        ]
        if self.tls:
            cert, key, ca = self.tls
            args += [
                "--port", "0",
                "--tls-port", str(self.port),
                "--tls-cert-file", str(cert),
                "--tls-key-file", str(key),
                "--tls-ca-cert-file", str(ca),
                "--tls-auth-clients", "no",
            ]
        else:
            args += ["--port", str(self.port)]
        if self.password:
            args += ["--requirepass", self.password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while True:
            if self.proc.poll() is not None:
                log = (self.dir / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server exited ({self.proc.returncode}): {log}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"redis-server did not listen on {self.port}") from None
                time.sleep(0.02)
        if not self.tls:
            deadline = time.monotonic() + 10
            while b"PONG" not in command(self.port, "PING", password=self.password):
                if time.monotonic() > deadline:
                    raise RuntimeError("redis-server never answered PING")
                time.sleep(0.02)

    def command(self, *args: str) -> bytes:
        assert not self.tls, "plain connections only"
        return command(self.port, *args, password=self.password)

    def kill(self) -> None:
        """kill -9, as a crash would."""
        assert self.proc is not None
        self.thaw()
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def freeze(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def restart(self) -> None:
        """A new server on the same port (and the same empty data)."""
        if self.proc is not None:
            self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None:
            self.thaw()
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self) -> RedisServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main() -> int:
    argv = sys.argv[1:]
    if not argv or argv[0] != "--" or len(argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    with RedisServer() as server:
        env = dict(os.environ, CONFORMANCE_STORE=server.url)
        print(f"redis_server.py: redis-server pid {server.proc.pid if server.proc else '?'} "
              f"on {server.url}", flush=True)
        return subprocess.run(argv[1:], env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
