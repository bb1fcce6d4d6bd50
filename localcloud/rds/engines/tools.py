"""The database servers' client tools (pg_dump, pg_restore, mariadb-dump, mariadb), run without a shell: names
travel as single argv items or environment variables, and a tool is killed when the local cloud stops."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import time
from typing import Callable

from .base import EngineError


def run(argv: list[str], env: dict[str, str], *, stdin=None, stdout=None, timeout: float = 3600,
        stopping: Callable[[], bool] = lambda: False) -> str:
    """Run a client tool without a shell; kill it when the cloud stops. Returns stdout text when not redirected."""
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("PG", "MYSQL"))}
    full_env.update(env)
    proc = subprocess.Popen(argv, env=full_env, stdin=stdin if stdin is not None else subprocess.DEVNULL,
                            stdout=stdout if stdout is not None else subprocess.PIPE, stderr=subprocess.PIPE)
    out_chunks: list[bytes] = []
    err_chunks: list[bytes] = []

    def drain(stream, sink):
        for chunk in iter(lambda: stream.read(65536), b""):
            sink.append(chunk)

    readers = [threading.Thread(target=drain, args=(proc.stderr, err_chunks), daemon=True)]
    if stdout is None:
        readers.append(threading.Thread(target=drain, args=(proc.stdout, out_chunks), daemon=True))
    for r in readers:
        r.start()
    deadline = time.monotonic() + timeout
    while True:
        try:
            proc.wait(timeout=0.1)
            break
        except subprocess.TimeoutExpired:
            if stopping() or time.monotonic() > deadline:
                proc.kill()
                proc.wait()
                for r in readers:
                    r.join()
                raise EngineError(f"{os.path.basename(argv[0])} was interrupted"
                                  + (" (the local cloud is stopping)" if stopping() else " (timeout)")) from None
    for r in readers:
        r.join()
    if proc.returncode != 0:
        err = b"".join(err_chunks).decode(errors="replace").strip()
        raise EngineError(f"{os.path.basename(argv[0])} failed (exit {proc.returncode}): {err[-2000:]}")
    return b"".join(out_chunks).decode(errors="replace")


def tool(*names: str) -> str:
    for name in names:
        path = shutil.which(name)
        if path:
            return path
    raise EngineError(f"none of the client tools {', '.join(names)} is installed")


