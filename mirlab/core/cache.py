"""One cache for everything mirlab generates: keyed, checksummed, atomic, safe across processes.

An *entry* is what one set of parameters produced. Its **key** is the sha256 of the
parameters written as canonical JSON (keys sorted, no spaces), so the same parameters find the
same entry on every machine and any change to them makes a new one. An entry holds

- ``data``: JSON-ready plain data (ground truth, clip designs, ...);
- ``arrays``: numpy arrays, stored as ``.npy`` files (read back as read-only memory maps);
- ``audio``: 16-bit signals, stored losslessly as FLAC (read back as ``int16`` arrays);
- ``blobs``: raw bytes (e.g. a ``torch.save`` of network weights).

Layout and commit protocol
--------------------------
An entry ``<name>-<key16>`` of a :class:`Cache` folder is its **manifest**
``<name>-<key16>.json`` (the parameters, the data with its sha256, and for every file its
name and sha256) plus one file per array, signal or blob, named by its content:
``<name>-<key16>-<part>-<sha8>.npy`` (``.flac``, ``.bin``). The content files are written
first and the manifest last, each atomically (a temporary file in the same folder, then a
rename, :mod:`mirlab.core.files`). The manifest is the commit point: a process that looks
while another writes (pytest workers, notebook kernels) sees either no entry or a complete
one. Two processes that build the same entry write the same bytes under the same names.
Content files no manifest names are ignored, and deleted once older than a minute (a
crashed writer's).

On loading, a manifest that is unreadable or made with other parameters, data whose
checksum does not match, or a file that is missing, partial or corrupt is reported with a
:class:`CacheWarning` and the entry is rebuilt: a bad entry is never used silently. A
missing entry is simply built.

Examples
--------
>>> import numpy as np, tempfile
>>> cache = Cache(folder=tempfile.mkdtemp())
>>> params = {"what": "squares", "n": 4}
>>> entry = cache.get_or_build("squares", params,
...                            lambda: Entry(data={"n": 4}, arrays={"x": np.arange(4) ** 2}))
>>> cache.load("squares", params).arrays["x"].tolist()
[0, 1, 4, 9]
>>> cache_key(params) == cache_key({"n": 4, "what": "squares"})
True
"""

from __future__ import annotations

import hashlib
import inspect
import io
import json
import re
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mirlab.core import env
from mirlab.core.files import atomic_write_bytes, sha256_file

__all__ = ["CacheWarning", "Cache", "Entry", "cache_key", "canonical_json", "code_sha256"]

ORPHAN_AGE = 60.0  # seconds: an uncommitted content file older than this is removed
_SUFFIX = {"arrays": ".npy", "audio": ".flac", "blobs": ".bin"}


class CacheWarning(UserWarning):
    """A cache entry was partial, corrupt or made with other parameters: rebuilding it."""


def canonical_json(data) -> bytes:
    """``data`` as canonical JSON bytes: keys sorted, no spaces, tuples as lists.

    Examples
    --------
    >>> canonical_json({"b": (1, 2), "a": 0.5})
    b'{"a":0.5,"b":[1,2]}'
    """
    try:
        return json.dumps(data, sort_keys=True, separators=(",", ":"),
                          allow_nan=False).encode()
    except (TypeError, ValueError) as err:
        raise ValueError(f"params must be JSON-ready plain data (dict, list, str, finite "
                         f"numbers, bool, None); got {type(data).__name__}: {err}") from err


def cache_key(params: dict) -> str:
    """The key of an entry: sha256 (hex) of the canonical JSON of its parameters.

    Parameters
    ----------
    params : dict
        Everything that decides what the entry holds, as plain data.

    Returns
    -------
    str
        64 hexadecimal digits.
    """
    if not isinstance(params, dict):
        raise ValueError(f"params must be a dict of plain data; got {type(params).__name__}")
    return hashlib.sha256(canonical_json(params)).hexdigest()


def code_sha256(*objects) -> str:
    """sha256 (hex) of the code and constants that decide a result.

    Each object contributes, in order: a string or bytes as given; a module, class, function
    or method its source code (:func:`inspect.getsource`), or, where the source is missing
    (defined in a notebook cell, a compiled module), its bytecode and constants, else its
    ``repr``; any other value its canonical JSON (``repr`` when it is not JSON-ready). Cache
    keys hold such a hash so that new code builds anew.

    Examples
    --------
    >>> code_sha256(code_sha256) == code_sha256(code_sha256)
    True
    >>> code_sha256({"a": 1}) != code_sha256({"a": 2})
    True
    """
    h = hashlib.sha256()
    for obj in objects:
        if isinstance(obj, bytes):
            text = obj
        elif isinstance(obj, str):
            text = obj.encode()
        elif inspect.ismodule(obj) or inspect.isclass(obj) or callable(obj):
            text = _source(obj)
        else:
            try:
                text = canonical_json(obj)
            except ValueError:
                text = repr(obj).encode()
        h.update(str(len(text)).encode() + b":" + text)
    return h.hexdigest()


def _source(obj) -> bytes:
    try:
        return inspect.getsource(obj).encode()
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        if code is not None:
            return code.co_code + repr(code.co_consts).encode()
        return repr(obj).encode()


@dataclass
class Entry:
    """The content of a cache entry (see the module docstring).

    Attributes
    ----------
    data : JSON-ready plain data, optional
    arrays : dict of str -> np.ndarray
        Stored as ``.npy``; loaded as read-only memory maps.
    audio : dict of str -> np.ndarray
        ``int16`` signals, shape ``(n_samples,)`` or ``(n_samples, n_channels)``, stored as
        16-bit FLAC at ``sr``.
    sr : int, optional
        Sample rate of ``audio`` in Hz (required when there is audio).
    blobs : dict of str -> bytes
        Raw bytes.
    """

    data: object = None
    arrays: dict = field(default_factory=dict)
    audio: dict = field(default_factory=dict)
    sr: int | None = None
    blobs: dict = field(default_factory=dict)


def _file_name(name: str) -> str:
    """A piece id or other name as a file name (``bach/bwv66.6`` -> ``bach__bwv66.6``)."""
    safe = name.replace("/", "__").replace("#", "_n")
    if not re.fullmatch(r"[A-Za-z0-9_.+=,@-]+", safe):
        raise ValueError(f"name must hold letters, digits and _.+=,@-/# only; got {name!r}")
    return safe


class _Unusable(Exception):
    """Why a stored entry cannot be used (the message of the CacheWarning)."""


class Cache:
    """A folder of keyed entries (see the module docstring).

    Parameters
    ----------
    *parts : str
        Sub-folders of mirlab's cache (:func:`mirlab.core.env.cache_dir`), resolved at every
        access, so ``MIRLAB_CACHE`` may change while the program runs.
    folder : str or Path, optional
        An explicit folder instead (created when missing).
    what : str
        What the entries are, for warnings (``"ground truth"``, ``"tagging data"``).
    """

    def __init__(self, *parts: str, folder=None, what: str = "entry"):
        if folder is not None and parts:
            raise ValueError("give either sub-folders of the cache (*parts) or folder, not both")
        self.parts, self.what = parts, what
        self._folder = None if folder is None else Path(folder)

    @property
    def folder(self) -> Path:
        """The folder of the entries (created when missing)."""
        if self._folder is None:
            return env.cache_dir(*self.parts)
        self._folder.mkdir(parents=True, exist_ok=True)
        return self._folder

    def __repr__(self) -> str:
        where = "/".join(self.parts) if self._folder is None else str(self._folder)
        return f"Cache({where!r}, what={self.what!r})"

    def manifest_path(self, name: str, params: dict) -> Path:
        """The manifest file of the entry ``name`` made with ``params``."""
        return self.folder / f"{_file_name(name)}-{cache_key(params)[:16]}.json"

    # --- reading ---------------------------------------------------------------------------------

    def load(self, name: str, params: dict) -> Entry | None:
        """The entry made with ``params``, or None when there is no usable one.

        A missing entry returns None quietly; a bad one (see the module docstring) with a
        :class:`CacheWarning`.
        """
        manifest = self.manifest_path(name, params)
        try:
            text = manifest.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as err:
            return self._bad(manifest, f"it is unreadable ({type(err).__name__})")
        try:
            return self._read(manifest, text, params)
        except _Unusable as err:
            return self._bad(manifest, str(err))

    def _read(self, manifest: Path, text: bytes, params: dict) -> Entry:
        try:
            man = json.loads(text.decode())
            if man["params"] != json.loads(canonical_json(params)):
                raise _Unusable("it was made with other parameters")
            if hashlib.sha256(canonical_json(man["data"])).hexdigest() != man["data_sha256"]:
                raise _Unusable("its checksum does not match (partial or corrupt file)")
            entry = Entry(data=man["data"], sr=man.get("sr"))
            for kind, files in man["files"].items():
                for part, info in files.items():
                    getattr(entry, kind)[part] = _read_file(
                        manifest.parent / Path(info["file"]).name, kind, info)
        except FileNotFoundError as err:
            raise _Unusable("the file its manifest names is missing") from err
        except _Unusable:
            raise
        except Exception as err:  # noqa: BLE001 - a damaged file fails in many ways
            raise _Unusable(f"it is unreadable ({type(err).__name__})") from err
        return entry

    def _bad(self, manifest: Path, problem: str) -> None:
        warnings.warn(f"cached {self.what} {manifest} is not usable: {problem}; rebuilding it",
                      CacheWarning, stacklevel=4)
        return None

    # --- writing ---------------------------------------------------------------------------------

    def save(self, name: str, params: dict, entry: Entry) -> Entry:
        """Commit ``entry`` under ``params``: its files first, then the manifest.

        Returns
        -------
        Entry
            ``entry`` itself.
        """
        if not isinstance(entry, Entry):
            raise ValueError(f"entry must be a mirlab.core.cache.Entry; got {type(entry).__name__}")
        manifest = self.manifest_path(name, params)
        stem = manifest.name[: -len(".json")]
        files: dict[str, dict] = {}
        for kind in ("arrays", "audio", "blobs"):
            for part, value in getattr(entry, kind).items():
                if not re.fullmatch(r"[A-Za-z0-9_]+", str(part)):
                    raise ValueError(f"{kind} keys must be identifiers; got {part!r}")
                raw, info = _encode(kind, part, value, entry.sr)
                sha = hashlib.sha256(raw).hexdigest()
                path = manifest.parent / f"{stem}-{part}-{sha[:8]}{_SUFFIX[kind]}"
                atomic_write_bytes(path, raw)
                files.setdefault(kind, {})[part] = dict(info, file=path.name, sha256=sha)
        record = {"params": params, "data": entry.data,
                  "data_sha256": hashlib.sha256(canonical_json(entry.data)).hexdigest(),
                  "sr": entry.sr, "files": files}
        atomic_write_bytes(manifest, json.dumps(record, indent=1).encode())
        _remove_orphans(manifest.parent, stem, {f["file"] for d in files.values()
                                                for f in d.values()})
        return entry

    def get_or_build(self, name: str, params: dict, build) -> Entry:
        """The entry made with ``params``: loaded when usable, else ``build()`` and saved.

        Parameters
        ----------
        name : str
            A readable name (a piece id, a dataset), part of the file names.
        params : dict
            Everything that decides the entry (the key), as plain data.
        build : callable
            Returns the :class:`Entry` when it must be (re)built.
        """
        entry = self.load(name, params)
        if entry is None:
            entry = self.save(name, params, build())
        return entry


def _encode(kind: str, part: str, value, sr) -> tuple[bytes, dict]:
    """The bytes of one content file and what the manifest records about it."""
    if kind == "blobs":
        if not isinstance(value, (bytes, bytearray)):
            raise ValueError(f"blobs[{part!r}] must be bytes; got {type(value).__name__}")
        return bytes(value), {"n_bytes": len(value)}
    if kind == "arrays":
        value = np.asarray(value)
        if value.dtype == object:
            raise ValueError(f"arrays[{part!r}] must have a numeric dtype; got object")
        buf = io.BytesIO()
        np.save(buf, value, allow_pickle=False)
        return buf.getvalue(), {"shape": list(value.shape), "dtype": value.dtype.str}
    import soundfile as sf

    value = np.asarray(value)
    if value.dtype != np.int16 or value.ndim not in (1, 2):
        raise ValueError(f"audio[{part!r}] must be int16 samples, shape (n_samples,) or "
                         f"(n_samples, n_channels); got {value.dtype}, shape {value.shape}")
    if not isinstance(sr, (int, np.integer)) or isinstance(sr, bool) or sr <= 0:
        raise ValueError(f"sr must be a positive integer (Hz) for an entry with audio; got {sr!r}")
    buf = io.BytesIO()
    sf.write(buf, value, int(sr), format="FLAC", subtype="PCM_16")
    return buf.getvalue(), {"shape": list(value.shape)}


def _read_file(path: Path, kind: str, info: dict):
    """Read and check one content file (a bad one raises _Unusable or another error)."""
    bad = _Unusable("its checksum does not match (partial or corrupt file)")
    if kind == "arrays":  # streamed: a large array is not held twice
        if sha256_file(path) != info["sha256"]:
            raise bad
        value = np.load(path, mmap_mode="r", allow_pickle=False)
    else:
        raw = path.read_bytes()  # read once, checked, decoded from memory
        if hashlib.sha256(raw).hexdigest() != info["sha256"]:
            raise bad
        if kind == "blobs":
            return raw
        import soundfile as sf

        value, _ = sf.read(io.BytesIO(raw), dtype="int16")
    if list(value.shape) != info["shape"]:
        raise _Unusable("its length or shape is wrong")
    return value


def _remove_orphans(folder: Path, stem: str, keep: set) -> None:
    """Delete content files of the entry ``stem`` that its manifest does not name.

    Only files older than :data:`ORPHAN_AGE` go, so a file that another process has just
    written and is about to commit is left alone.
    """
    pattern = re.compile(re.escape(stem) + r"-[A-Za-z0-9_]+-[0-9a-f]{8}\.(npy|flac|bin)")
    now = time.time()
    for path in folder.glob(stem + "-*"):
        if path.name in keep or not pattern.fullmatch(path.name):
            continue
        try:
            if now - path.stat().st_mtime > ORPHAN_AGE:
                path.unlink()
        except FileNotFoundError:  # another process cleaned it first
            pass
