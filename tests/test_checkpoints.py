"""Tests of the shipped checkpoints (``mirlab/nn/weights``, :mod:`mirlab.nn.checkpoints`).

Every recipe is shipped: its weights load, their sha256 matches the card, the card's recipe
and model configuration match the code's, the card's data design key matches the data code's,
and the model's scores on the current test clips are within ``checkpoints.TOLERANCE`` of the
card's. A stale or tampered checkpoint fails with the command that retrains it; the tests
below check that tampering is detected.
"""

import json
import shutil

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from mirlab.nn import checkpoints, recipes  # noqa: E402
from mirlab.nn.checkpoints import CheckpointError  # noqa: E402

SHIPPED = checkpoints.SHIPPED


@pytest.fixture(scope="module")
def test_set():
    # the test split alone: the same clips as in the whole dataset (each clip is rendered on
    # its own), a fifth of the rendering on a cold cache
    data = recipes.load_training_data(splits="test", progress=False)
    assert set(data.split) == {"test"}
    return data


def test_every_recipe_is_shipped_small():
    assert set(SHIPPED) == set(recipes.RECIPES)
    sizes = {name: (checkpoints.WEIGHTS_DIR / f"{name}.pt").stat().st_size for name in SHIPPED}
    assert sum(sizes.values()) < 5e6, sizes                        # a few MB in all
    names = {p.stem for p in checkpoints.WEIGHTS_DIR.glob("*.pt")}
    assert names == set(SHIPPED), "weights without a recipe: " + str(names - set(SHIPPED))


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_matches_its_card_and_recipe(name):
    try:
        model, history = checkpoints.load_checkpoint(name)
    except CheckpointError as err:                                 # names the command
        pytest.fail(str(err))
    card = checkpoints.read_card(name)
    assert card["retrain"] == f"python -m mirlab.nn.train {name}"
    assert card["weights"]["n_parameters"] == sum(p.numel() for p in model.parameters())
    assert card["model"]["recipe"] == name and not model.training
    assert history.from_cache and history.best_epoch == card["training"]["best_epoch"]
    assert card["data"]["design"] == recipes.TRAINING_DATA
    for split in ("valid", "test"):
        assert 0.5 < card["scores"][split]["roc_auc"] <= 1.0


@pytest.mark.parametrize("name", SHIPPED)
def test_shipped_checkpoint_reproduces_its_test_scores(name, test_set):
    try:
        got = checkpoints.verify_scores(name, test_set)
    except CheckpointError as err:                                 # stale: names the command
        pytest.fail(str(err))
    assert set(got) == {"roc_auc", "pr_auc"}


@pytest.fixture
def copy(tmp_path):
    """The shipped fcn checkpoint, copied into a folder the test may damage."""
    for suffix in (".pt", ".json"):
        shutil.copy(checkpoints.WEIGHTS_DIR / f"fcn{suffix}", tmp_path)
    checkpoints.check_checkpoint("fcn", tmp_path)                 # intact: passes
    return tmp_path


def edit_card(folder, change):
    path = folder / "fcn.json"
    card = json.loads(path.read_text())
    change(card)
    path.write_text(json.dumps(card))


def test_changed_weights_are_detected(copy):
    raw = bytearray((copy / "fcn.pt").read_bytes())
    raw[-100] ^= 0xFF
    (copy / "fcn.pt").write_bytes(bytes(raw))
    with pytest.raises(CheckpointError, match=r"sha256 of fcn.pt.*python -m mirlab.nn.train fcn"):
        checkpoints.load_checkpoint("fcn", copy)


def test_a_wrong_sha_on_the_card_is_detected(copy):
    edit_card(copy, lambda card: card["weights"].update(sha256="0" * 64))
    with pytest.raises(CheckpointError, match="its card says 000000000000"):
        checkpoints.check_checkpoint("fcn", copy)


def test_a_changed_recipe_is_detected(copy, monkeypatch):
    monkeypatch.setitem(recipes.RECIPES, "fcn", {**recipes.RECIPES["fcn"], "epochs": 61})
    with pytest.raises(CheckpointError, match=r"another recipe \(changed: \['epochs'\]\).*"
                                              r"python -m mirlab.nn.train fcn"):
        checkpoints.check_checkpoint("fcn", copy)


def test_a_card_with_another_model_configuration_is_detected(copy):
    edit_card(copy, lambda card: card["model"].update(scale=2.0))
    with pytest.raises(CheckpointError, match="model configuration"):
        checkpoints.check_checkpoint("fcn", copy)


def test_another_data_design_is_detected(copy):
    edit_card(copy, lambda card: card["data"].update(design_key="feed"))
    with pytest.raises(CheckpointError, match="another data design"):
        checkpoints.check_checkpoint("fcn", copy)
    assert checkpoints.check_checkpoint("fcn", copy, data_key=False)["name"] == "fcn"


def test_stale_scores_are_detected(copy, test_set):
    edit_card(copy, lambda card: card["scores"]["test"].update(
        roc_auc=card["scores"]["test"]["roc_auc"] - 0.05))
    with pytest.raises(CheckpointError, match=r"stale.*roc_auc.*python -m mirlab.nn.train fcn"):
        checkpoints.verify_scores("fcn", test_set, copy)


def test_a_missing_checkpoint_names_the_command(tmp_path):
    with pytest.raises(CheckpointError, match="python -m mirlab.nn.train fcn"):
        checkpoints.load_checkpoint("fcn", tmp_path)


def test_pretrained_loads_the_shipped_weights_unless_asked_to_retrain(monkeypatch):
    monkeypatch.delenv(checkpoints.RETRAIN_ENV, raising=False)
    model, history = checkpoints.pretrained("linear", progress=False)
    assert history.from_cache and history.path.endswith("linear.pt")
    assert not checkpoints.retrain_requested()
    monkeypatch.setenv(checkpoints.RETRAIN_ENV, "1")
    assert checkpoints.retrain_requested() and not checkpoints.retrain_requested(False)
    with pytest.raises(ValueError, match="name must be one of"):
        checkpoints.pretrained("vgg")


def test_the_command_line_writes_a_checkpoint_and_card(tmp_path, monkeypatch):
    """``python -m mirlab.nn.train linear --quick`` on tiny fake data: weights, card, sha."""
    from types import SimpleNamespace

    from mirlab.nn import train

    rng = np.random.default_rng(0)
    n, sr = 30, 8000
    split = np.array(["train"] * 18 + ["valid"] * 6 + ["test"] * 6)
    labels = (rng.random((n, 3)) < 0.5).astype(np.float32)
    audio = (0.1 * rng.standard_normal((n, 4 * sr))).astype(np.float32)
    for begin in (0, 18, 24):                             # both classes in every split
        labels[begin:begin + 3], labels[begin + 3:begin + 6] = 1, 0

    def subset(name):
        keep = split == name
        return SimpleNamespace(audio=audio[keep], labels=labels[keep], sr=sr,
                               tags=["a", "b", "c"])

    fake = SimpleNamespace(audio=audio, labels=labels, sr=sr, split=split,
                           tags=["a", "b", "c"], subset=subset)
    monkeypatch.setattr(train, "load_training_data", lambda design, progress: fake)
    monkeypatch.setenv("MIRLAB_CACHE", str(tmp_path / "cache"))
    cards = train.main(["linear", "--quick", "--workers", "1", "--out", str(tmp_path)])
    card = json.loads((tmp_path / "linear.json").read_text())
    assert cards["linear"] == card and card["model"]["scale"] == recipes.QUICK_RECIPE["scale"]
    assert card["weights"]["sha256"] == checkpoints.sha256_file(tmp_path / "linear.pt")
    assert card["data"]["design"]["n_clips"] == 120 and card["data"]["clips"]["test"] == 6
    with pytest.raises(CheckpointError, match="model configuration"):  # quick is no recipe
        checkpoints.check_checkpoint("linear", tmp_path)


def test_the_weights_are_package_data():
    """Colab installs mirlab from git: the weights must be in the wheel, next to the code."""
    import ast
    import fnmatch
    import re

    text = (checkpoints.WEIGHTS_DIR.parents[2] / "pyproject.toml").read_text()
    section = text.split("[tool.setuptools.package-data]", 1)[1]
    patterns = ast.literal_eval(re.search(r"^mirlab\s*=\s*(\[.*?\])", section, re.M).group(1))
    files = [p for p in checkpoints.WEIGHTS_DIR.iterdir() if p.suffix in (".pt", ".json")]
    assert len(files) == 2 * len(SHIPPED)
    for path in files:
        relative = path.relative_to(checkpoints.WEIGHTS_DIR.parents[1]).as_posix()
        assert any(fnmatch.fnmatch(relative, p) for p in patterns), relative
