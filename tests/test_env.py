"""mirlab.core.env: the cache folder and the machine report."""

import os
import subprocess
import sys

import pytest

import mirlab
from mirlab.core import env


def test_cache_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(env.CACHE_ENV, str(tmp_path / "c"))
    path = mirlab.cache_dir("corpus", "audio")
    assert path == tmp_path / "c" / "corpus" / "audio" and path.is_dir()


def test_cache_dir_defaults_to_the_checkout(monkeypatch):
    monkeypatch.delenv(env.CACHE_ENV, raising=False)
    repo = env.Path(__file__).resolve().parents[1]  # the checkout holding these tests
    assert mirlab.cache_dir() == repo / "data" / "cache"


def test_environment_report_prints_one_line(capsys, monkeypatch):
    monkeypatch.setattr(env, "has_fluidsynth", lambda: False)
    assert mirlab.environment_report() is None
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("python: ") and "fluidsynth: False" in out[0]
    assert "fallback synthesiser" in out[1]
    info = mirlab.environment_info()
    assert info["device"] in ("cpu", "cuda") and set(info) >= {"numpy", "librosa", "cache"}


@pytest.mark.skipif(not env.has_fluidsynth(), reason="FluidSynth is not installed")
def test_fluidsynth_import_prints_nothing_even_in_ci():
    """pyfluidsynth announces the library on stdout when CI is set; mirlab's import is silent."""
    code = "from mirlab.core import env; env.import_fluidsynth(); print(env.has_fluidsynth())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "CI": "true"})
    assert out.stdout == "True\n", out.stdout


@pytest.mark.parametrize(("progress", "flag", "hidden"), [
    (True, None, False), (False, None, True), (True, "1", True), (True, "0", False),
    (True, "false", False), (True, "True", True)])
def test_progress_bars_follow_the_argument_and_tqdm_disable(monkeypatch, progress, flag, hidden):
    # tqdm ignores TQDM_DISABLE when `disable` is passed, so mirlab asks env.progress_disabled
    if flag is None:
        monkeypatch.delenv("TQDM_DISABLE", raising=False)
    else:
        monkeypatch.setenv("TQDM_DISABLE", flag)
    assert env.progress_disabled(progress) is hidden
