"""Small file helpers shared by the caches: checksums and atomic writes.

An *atomic* write goes to a temporary file in the destination's folder, which then replaces
the destination with :func:`os.replace` (a rename, atomic on POSIX and Windows within one file
system). Another process, or a crash half-way, therefore sees either the old file or the new
one, never a partial file.

No chapter teaches this module: it keeps the caches behind the notebooks consistent (the
rendered data of ``notebooks/02_chord_recognition.ipynb`` onwards, the trained models of
``notebooks/04_music_tagging.ipynb``).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

_BLOCK = 1 << 20


def file_digest(path, algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in blocks of 1 MiB.

    Parameters
    ----------
    path : str or Path
        The file.
    algorithm : str
        Any name :func:`hashlib.new` accepts (``"sha256"``, ``"md5"``, ...).

    Returns
    -------
    str
        The hexadecimal digest.
    """
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_file(path) -> str:
    """SHA-256 of a file's bytes (hex), as :func:`hashlib.sha256` of its content.

    Examples
    --------
    >>> import hashlib, tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> _ = p.write_bytes(b"abc")
    >>> sha256_file(p) == hashlib.sha256(b"abc").hexdigest()
    True
    """
    return file_digest(path, "sha256")


def atomic_write_bytes(path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically (temporary file in the same folder, then rename).

    Parameters
    ----------
    path : str or Path
        Destination; its folder must exist. An existing file is replaced.
    data : bytes
        The new content.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes owner-only files
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def atomic_write_text(path, text: str, encoding: str = "utf-8") -> None:
    """Write ``text`` to ``path`` atomically (see :func:`atomic_write_bytes`)."""
    atomic_write_bytes(path, text.encode(encoding))
