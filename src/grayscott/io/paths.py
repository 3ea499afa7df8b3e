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


def _ofd_lock(fd: int, kind: int, query: bool = False) -> int:
    """An open-file-description lock (Linux ``F_OFD_SETLK``) of kind ``kind`` on all of the
    file behind ``fd``; with ``query``, the kind of a lock another description holds there
    (``F_UNLCK``: none). Byte-range locks are not flock locks: readers' HDF5 flock never meets
    them, and unlike POSIX record locks they are not dropped when this process closes another
    descriptor of the file (h5py opens and closes its own)."""
    import fcntl
    import struct

    cmd = fcntl.F_OFD_GETLK if query else fcntl.F_OFD_SETLK
    arg = struct.pack("hhqqi4x", kind, os.SEEK_SET, 0, 0, 0)
    return struct.unpack("hhqqi4x", fcntl.fcntl(fd, cmd, arg))[0]


def _has_ofd_locks() -> bool:
    try:
        import fcntl
    except ImportError:
        return False
    return hasattr(fcntl, "F_OFD_SETLK")


class OutputLock:
    """An advisory lock held while a run writes ``path``: a second run is refused at once.

    Two locks, so that one file has one writer whatever it is called:

    * the name's: ``flock`` on a hidden sidecar file (``.NAME.grayscott-lock``), never on the
      HDF5 file itself, so readers (h5py takes a shared lock on the files it opens) never
      conflict with it. It keeps two runs from making a new file under one name. The sidecar
      holds the writer's pid and is removed on release; one left by a killed run is stale and
      simply taken over (and removed at the end).
    * the file's: a write lock on the HDF5 file itself (an open-file-description byte-range
      lock, :func:`_ofd_lock`), held on every file the run writes (:meth:`hold`). It follows
      the file, not its name: a hard link or a rename of the file is refused too.

    Taking the name's lock also removes what a killed run left under that name: its hidden
    temporary file (nobody else may write it while the lock is held). Where the file system has
    no flock or no such locks, that lock is skipped (one writer is then the user's business).
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.lockfile = _lockfile(self.path)
        self.fd: int | None = None
        self._held: list[int] = []

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
                    raise self._busy(holder(self.path)) from None
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
                break
            os.close(fd)
        else:
            raise OutputBusyError(f"{str(self.path)!r}: could not take its lock file")
        try:
            _remove_stale(self.path)
            if self.path.exists():
                self.hold(self.path)
        except BaseException:
            self.release()
            raise
        return self

    def _busy(self, pid: int | None = None) -> OutputBusyError:
        who = f" (pid {pid})" if pid and pid > 0 else ""
        return OutputBusyError(f"{str(self.path)!r} is being written by another run{who}; "
                               "wait for it to end or write elsewhere (-o)")

    def hold(self, path: str | os.PathLike[str]) -> None:
        """Lock the file now at ``path`` itself (its inode), until :meth:`release`; refused in
        one line while another run writes it under any name."""
        if not _has_ofd_locks():
            return
        import fcntl

        for _ in range(10):
            try:
                fd = os.open(path, os.O_RDWR)
            except OSError:
                return  # not ours to write (refused elsewhere) or gone: nothing to hold
            try:
                _ofd_lock(fd, fcntl.F_WRLCK)
            except OSError as exc:
                os.close(fd)
                if exc.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    raise self._busy() from None
                return  # no such locks on this file system
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # still the file of that name (a writer may have replaced it meanwhile)
                self._held.append(fd)
                return
            os.close(fd)
        raise self._busy()

    def release(self) -> None:
        for fd in self._held:
            with contextlib.suppress(OSError):
                os.close(fd)
        self._held = []
        if self.fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.lockfile)
            os.close(self.fd)
            self.fd = None

    def __enter__(self) -> OutputLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def _remove_stale(path: Path) -> None:
    """Remove the temporary file a killed run left beside ``path`` (called under the lock)."""
    with contextlib.suppress(FileNotFoundError):
        temporary_path(path).unlink()


def clean_stale(path: str | os.PathLike[str]) -> None:
    """Remove what a killed run left under ``path`` (its lock file, its temporary file) when no
    run holds it now; a command that ends without writing (a completed file resumed) calls it."""
    with contextlib.suppress(GrayScottError, OSError):
        OutputLock(path).acquire().release()


def holder(path: str | os.PathLike[str]) -> int | None:
    """The pid of the run writing ``path`` now (-1: one does, pid unknown), or None if no run
    holds its lock or the file's own."""
    try:
        import fcntl
    except ImportError:
        return None

    lockfile = _lockfile(path)
    try:
        fd = os.open(lockfile, os.O_RDONLY)
    except OSError:
        return _file_held(path)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                return None
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        return _file_held(path)  # we got it: nobody holds the name
    finally:
        os.close(fd)


def _file_held(path: str | os.PathLike[str]) -> int | None:
    """-1 if a run holds the file's own lock (under another name), else None."""
    if not _has_ofd_locks():
        return None
    import fcntl

    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        # A query for a read lock sees any write lock (an O_RDONLY descriptor may ask).
        return None if _ofd_lock(fd, fcntl.F_RDLCK, query=True) == fcntl.F_UNLCK else -1
    except OSError:
        return None
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
