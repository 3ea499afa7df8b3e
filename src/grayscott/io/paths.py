"""One check for every file we are about to write (HDF5 output, video, reports): refuse early,
with one line, what could not or must not be written. Also the two helpers that keep an output
safe while a run writes it: the per-output lock (two runs never write one file) and the
temporary file beside the output that replaces it only once the new run has a frame."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
from pathlib import Path

from ..errors import GrayScottError, OutputBusyError

#: Longest file name most file systems take (bytes), when os.pathconf cannot tell.
_NAME_MAX = 255


def _name_max(parent: Path) -> int:
    try:
        return int(os.pathconf(parent, "PC_NAME_MAX"))
    except (OSError, ValueError, AttributeError):
        return _NAME_MAX


def check_path_text(path: str | os.PathLike[str], what: str = "output") -> Path:
    """``path`` as a Path if its text can name a file here (no NUL byte, no name too long)."""
    text = os.fspath(path)
    if "\x00" in str(text):
        raise GrayScottError(f"{what} file name contains a NUL byte")
    if not str(text).strip():
        raise GrayScottError(f"{what} file name is empty")
    p = Path(text)
    parent = p.parent if str(p.parent) else Path(".")
    limit = _name_max(parent) if parent.is_dir() else _NAME_MAX
    if len(os.fsencode(p.name)) > limit:
        raise GrayScottError(f"{what} file name is {len(os.fsencode(p.name))} bytes long; "
                             f"this file system takes at most {limit}")
    return p


def check_writable_file(path: str | os.PathLike[str], what: str = "output",
                        overwrite: bool = False) -> Path:
    """``path`` as a Path, if a file can be written there; else a GrayScottError.

    ``what`` names the file in messages (``"output"``, ``"--json"``...). An existing file is
    refused unless ``overwrite``.
    """
    path = check_path_text(path, what)
    parent = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise GrayScottError(f"{what} {str(path)!r} is a directory; give a file name")
    if not parent.exists():
        raise GrayScottError(f"{what} directory {str(parent)!r} does not exist")
    if not parent.is_dir():
        raise GrayScottError(f"{what}: {str(parent)!r} is not a directory")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise GrayScottError(f"{what} directory {str(parent)!r} is not writable")
    if path.exists() and not overwrite:
        raise GrayScottError(f"{what} {str(path)!r} exists; use --overwrite to replace it")
    if path.exists() and not os.access(path, os.W_OK):
        raise GrayScottError(f"{what} {str(path)!r} is not writable")
    return path


def _sidecar(path: Path, suffix: str) -> Path:
    """A hidden file beside ``path``: ``.NAME.suffix``, or a hashed name if that is too long."""
    name = f".{path.name}.{suffix}"
    if len(os.fsencode(name)) > _name_max(path.parent):
        digest = hashlib.sha1(os.fsencode(path.name)).hexdigest()[:16]
        name = f".grayscott-{digest}.{suffix}"
    return path.with_name(name)


def _lockfile(path: str | os.PathLike[str]) -> Path:
    """The lock's sidecar, beside the file a symlinked output points to (as `run` writes it)."""
    return _sidecar(Path(os.path.realpath(path)), "grayscott-lock")


def temporary_path(path: Path) -> Path:
    """Where a run writes before its file replaces ``path`` (same directory, so the final
    ``os.replace`` is atomic). The lock makes one writer per output, so the name is fixed."""
    return _sidecar(path, "grayscott-tmp")


class OutputLock:
    """An advisory lock held while a run writes ``path``: a second run is refused at once.

    The lock is ``flock`` on a hidden sidecar file (``.NAME.grayscott-lock``), never on the
    HDF5 file itself, so readers (h5py takes a shared lock on the files it opens) never
    conflict with it. The sidecar holds the writer's pid and is removed on release; one left
    by a killed run is stale and simply taken over. Where the file system has no flock the lock
    is skipped (one writer is then the user's business).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lockfile = _lockfile(self.path)
        self.fd: int | None = None

    def acquire(self) -> OutputLock:
        try:
            import fcntl
        except ImportError:  # not a POSIX system: no flock, go on unlocked
            return self
        for _ in range(10):
            try:
                fd = os.open(self.lockfile, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise GrayScottError(f"cannot create the lock file {str(self.lockfile)!r}: "
                                     f"{exc.strerror}") from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    pid = holder(self.path)
                    who = f" (pid {pid})" if pid and pid > 0 else ""
                    raise OutputBusyError(
                        f"{str(self.path)!r} is being written by another run{who}; wait for "
                        "it to end or write elsewhere (-o)") from None
                return self  # no flock here: go on unlocked
            # The previous holder may have removed the file between our open and our lock.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lockfile).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self.fd = fd
                return self
            os.close(fd)
        raise OutputBusyError(f"{str(self.path)!r}: could not take its lock file")

    def release(self) -> None:
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.lockfile)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(path: str | os.PathLike[str]) -> int | None:
    """The pid of the run writing ``path`` now, or None if no run holds its lock."""
    try:
        import fcntl
    except ImportError:
        return None

    lockfile = _lockfile(path)
    try:
        fd = os.open(lockfile, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        return None  # we got it: nobody holds it
    finally:
        os.close(fd)


def format_duration(seconds: float) -> str:
    """A duration for people: '42 s', '17 min', '3.5 h', '2.1 days'."""
    if seconds != seconds or seconds in (float("inf"), float("-inf")):
        return "-"
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"
