"""Where mirlab keeps generated files, and what the machine offers (GPU, FluidSynth).

No chapter teaches this module: the setup cell of every notebook (from
``notebooks/01_audio_representations.ipynb`` on) calls :func:`environment_report`.
"""

from __future__ import annotations

import contextlib
import ctypes.util
import io
import os
import platform
from pathlib import Path

CACHE_ENV = "MIRLAB_CACHE"


def cache_dir(*parts: str) -> Path:
    """Return (and create) a folder inside mirlab's cache.

    The cache holds everything mirlab generates: rendered audio, features, checkpoints.
    Its root is the environment variable ``MIRLAB_CACHE`` when set; otherwise ``data/cache``
    inside a source checkout of the course, or ``~/.cache/mirlab`` for an installed package.

    Parameters
    ----------
    *parts : str
        Sub-folders below the cache root, e.g. ``cache_dir("corpus", "chorales")``.

    Returns
    -------
    pathlib.Path
        The folder, created if it did not exist.
    """
    root = os.environ.get(CACHE_ENV)
    if root:
        base = Path(root).expanduser()
    else:
        repo = Path(__file__).resolve().parents[2]
        if (repo / "pyproject.toml").is_file() and (repo / "_config.yml").is_file():
            base = repo / "data" / "cache"
        else:
            base = Path.home() / ".cache" / "mirlab"
    path = base.joinpath(*parts)
    path.mkdir(parents=True, exist_ok=True)
    return path


def has_fluidsynth() -> bool:
    """Return True when the FluidSynth library and its Python binding can be loaded."""
    if ctypes.util.find_library("fluidsynth") is None:
        return False
    try:
        import_fluidsynth()
    except (ImportError, OSError):
        return False
    return True


def import_fluidsynth():
    """Import pyfluidsynth quietly and return the module.

    pyfluidsynth prints where it found the library to standard output whenever the ``CI``
    environment variable is set; that line would end up in notebook outputs and in the output
    of scripts that print JSON, so it is swallowed here.
    """
    with contextlib.redirect_stdout(io.StringIO()):
        import fluidsynth
    return fluidsynth


def device(prefer: str | None = None) -> str:
    """Pick the PyTorch device: ``"cuda"`` when a GPU is present, else ``"cpu"``.

    Parameters
    ----------
    prefer : str, optional
        Force a device (``"cpu"`` or ``"cuda"``); a missing GPU falls back to the CPU.
    """
    try:
        import torch
    except ImportError:
        return "cpu"
    if prefer == "cpu":
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


def environment_info() -> dict:
    """Return what this machine offers the course: versions, device, FluidSynth, cache folder."""
    import numpy

    info = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "device": device(),
        "fluidsynth": has_fluidsynth(),
        "cache": str(cache_dir()),
    }
    for name in ("librosa", "music21", "torch"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = "not installed"
    return info


def environment_report() -> None:
    """Print :func:`environment_info` on one line (the setup cell of every notebook calls it)."""
    info = environment_info()
    print(" | ".join(f"{k}: {v}" for k, v in info.items()))
    if not info["fluidsynth"]:
        print("FluidSynth not found: the corpus is rendered with mirlab's fallback synthesiser.")


def progress_disabled(progress: bool = True) -> bool:
    """Whether a progress bar should be hidden: ``progress`` is false, or ``TQDM_DISABLE`` is set.

    tqdm reads ``TQDM_DISABLE`` only when ``disable`` is not passed, and its notebook bars
    ignore it altogether, so every progress bar in mirlab and the notebooks asks here.
    Static book builds set ``TQDM_DISABLE=1`` to keep progress widgets out of the pages.

    Examples
    --------
    >>> progress_disabled(False)
    True
    """
    flag = os.environ.get("TQDM_DISABLE", "").strip().lower()
    return not progress or flag not in ("", "0", "false", "no")
