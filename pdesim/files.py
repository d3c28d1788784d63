"""Writing files so that a crash never leaves a complete-looking partial one.

Every file pdesim and the surrogates write whole goes through :func:`atomic_path`:
the content is written to a temporary name in the same directory
(:func:`temporary_path`), then :func:`commit` fsyncs it, renames it over the target
(``os.replace``, atomic on POSIX within one filesystem) and fsyncs the directory, so
that the rename itself survives a crash (without the last fsync the new name can be
lost on some filesystems). On any failure, a ``KeyboardInterrupt`` included, the
temporary file is removed and an existing target is left as it was. Writers that
stream into one file over many calls (:class:`pdesim.io.WellWriter`) use
:func:`temporary_path` and :func:`commit` directly.

A full file system, however deep it is found (an ``OSError`` with ``ENOSPC``, or an
HDF5 error whose message carries it), leaves as one ``OSError(ENOSPC, "No space left
on device", path)`` naming the file the caller asked for (:func:`no_space_named`).
"""

from __future__ import annotations

import errno
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temporary_path(path: str | os.PathLike) -> Path:
    """A fresh temporary name beside ``path``: ``.<name>.<pid>.<random>.tmp`` (hidden,
    unique across processes and threads; the file is not created)."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


def is_no_space(exc: BaseException) -> bool:
    """Whether ``exc`` says the file system is full: ``ENOSPC``, also inside the message
    of an HDF5 error (h5py raises those without an errno, or with another one)."""
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return True
    text = str(exc)
    return "No space left on device" in text or "errno = 28," in text


def no_space_error(path: str | os.PathLike) -> OSError:
    """The one error for a full file system while writing ``path``."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))


@contextmanager
def no_space_named(path: str | os.PathLike) -> Iterator[None]:
    """Inside the block, an error saying the file system is full (:func:`is_no_space`)
    becomes :func:`no_space_error` of ``path``; other errors pass unchanged."""
    try:
        yield
    except OSError as exc:
        if is_no_space(exc) and not (exc.errno == errno.ENOSPC and exc.filename == str(path)):
            raise no_space_error(path) from exc
        raise


def _fsync(path: Path, flags: int) -> None:
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Make the complete file ``tmp`` durable and rename it to ``path``: fsync the file,
    ``os.replace`` it, fsync the directory. The caller has closed ``tmp``."""
    tmp, path = Path(tmp), Path(path)
    _fsync(tmp, os.O_RDWR)
    os.replace(tmp, path)
    _fsync(path.parent, os.O_RDONLY)


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` to write the whole file to (by name:
    ``h5py.File(tmp, "w")``, ``torch.save(obj, tmp)``, ...); on leaving the block
    normally, :func:`commit` it to ``path``. If the block raises (any exception,
    ``KeyboardInterrupt`` included) or the commit fails, the temporary file is removed
    and ``path`` keeps its old content. The parent directory is created if needed. A
    full file system raises ``OSError(ENOSPC, ..., path)`` (:func:`no_space_named`)."""
    path = Path(path)
    with no_space_named(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_path(path)
        try:
            yield tmp
            commit(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` through :func:`atomic_path`."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
