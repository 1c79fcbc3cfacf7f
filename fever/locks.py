"""One writer per output file: an exclusive ``flock`` on ``OUT.lock``, the one lock rule of fever.

A check-then-rename lock lets two runs that start at the same moment both in, and a pid written in
a file outlives its process (a reused pid then blocks the output forever). ``flock`` has neither
fault: taking it is atomic, and the kernel drops it when its owner dies, however it dies (kill -9
included), so a lock left behind by a dead run is simply free. The file holds the owner's pid only
to name it in the refusal.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from .errors import FeverError


def lock_path(out: Path) -> Path:
    """Where the lock of output ``out`` lives: beside it, as ``OUT.lock``."""
    return out.with_name(out.name + ".lock")


class OutputLock:
    """Holds the lock of one output from :meth:`acquire` until :meth:`release` (or the process's end).

    Args:
        out: the output file the lock is for.
        what: how the refusal names the other writer (``fever-embed``).
    """

    def __init__(self, out: Path, what: str = "fever-embed") -> None:
        self.out = Path(out)
        self.path = lock_path(self.out)
        self.what = what
        self._fd: int | None = None

    def acquire(self) -> "OutputLock":
        """Take the lock or raise :class:`FeverError` naming the process that holds it."""
        while True:
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode("ascii", "replace").split()
                os.close(fd)
                pid = f" (pid {holder[0]})" if holder else ""
                raise FeverError(f"{self.out}: another {self.what}{pid} is writing it; wait for it to finish") from None
            # the owner before us may have removed the file after we opened it: our lock is then on
            # a file nobody else can find, so start again on the current one
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        return self

    def release(self) -> None:
        """Give the output up: the file goes first, then the lock, so a waiter never takes a lock
        on a file that is about to vanish."""
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "OutputLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
