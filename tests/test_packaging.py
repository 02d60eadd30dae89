"""The package's metadata: dependency ranges that Colab satisfies, a lock file that pins them."""

import pytest
import tomllib
from nbtools import REPO
from packaging.requirements import Requirement
from packaging.version import Version

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))


def _pins(path):
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, version = line.split("==")
            pins[name.lower().replace("_", "-")] = version
    return pins


def _requirements(*extras):
    reqs = PYPROJECT["project"]["dependencies"][:]
    for extra in extras:
        reqs += PYPROJECT["project"]["optional-dependencies"][extra]
    return [Requirement(r) for r in reqs if not r.startswith("mirlab")]


COLAB = _pins(REPO / "data" / "colab-runtime.txt")
LOCK = _pins(REPO / "constraints.txt")


@pytest.mark.parametrize("req", _requirements("deep"), ids=str)
def test_colab_versions_satisfy_our_ranges(req):
    name = req.name.lower().replace("_", "-")
    if name in COLAB:
        assert req.specifier.contains(COLAB[name], prereleases=True), (
            f"{req} would replace Colab's {name}=={COLAB[name]}")


def test_python_range_accepts_colab():
    spec = PYPROJECT["project"]["requires-python"]
    from packaging.specifiers import SpecifierSet

    assert SpecifierSet(spec).contains(COLAB["python"])


@pytest.mark.parametrize("req", _requirements("deep", "dev", "book", "datasets"), ids=str)
def test_lock_file_pins_every_dependency_inside_its_range(req):
    name = req.name.lower().replace("_", "-")
    assert name in LOCK, f"constraints.txt does not pin {name}"
    assert req.specifier.contains(Version(LOCK[name]), prereleases=True), (
        f"constraints.txt pins {name}=={LOCK[name]}, outside {req}")
