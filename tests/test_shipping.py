"""Shipped weights of any network: the card, and the checks made when they are loaded."""

import json

import pytest

torch = pytest.importorskip("torch")

from mirlab.nn import shipping  # noqa: E402
from mirlab.nn.checkpoints import CheckpointError  # noqa: E402
from mirlab.nn.training import ChunkSampler, fit  # noqa: E402

RECIPE = {"epochs": 3, "lr": 0.05}
DATA = {"n": 40, "seed": 0}


def _net(seed=0):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(6, 2))


def _trained(tmp_path):
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = (x[:, 0] > 0).astype(int)
    net = _net()
    history = fit(net, ChunkSampler(x, y, chunk=6, batch_size=8), torch.nn.CrossEntropyLoss(),
                  epochs=3, lr=0.05, progress=False)
    card = shipping.save_shipped(net, "toy", tmp_path, recipe=RECIPE, data=DATA,
                                 scores={"test": {"accuracy": 0.9}}, history=history,
                                 retrain="python -m toy.train toy", code=[_net])
    return net, card


def test_round_trip_gives_the_same_weights_and_card(tmp_path):
    net, card = _trained(tmp_path)
    fresh = _net(seed=1)
    assert not torch.equal(fresh[0].weight, net[0].weight)
    loaded = shipping.load_shipped(fresh, "toy", tmp_path, recipe=RECIPE, data=DATA, code=[_net])
    assert torch.equal(fresh[0].weight, net[0].weight)
    assert loaded == card == json.loads((tmp_path / "toy.json").read_text())
    assert card["training"]["epochs"] == 3 and card["weights"]["n_parameters"] == 14
    assert len(card["code"]["sha256"]) == 64 and card["retrain"] == "python -m toy.train toy"


@pytest.mark.parametrize("change", ["weights", "recipe", "data", "code", "card"])
def test_a_changed_checkpoint_is_refused_with_the_retrain_command(tmp_path, change):
    _trained(tmp_path)
    recipe, data, code = dict(RECIPE), dict(DATA), [_net]
    if change == "weights":
        with open(tmp_path / "toy.pt", "ab") as f:
            f.write(b"x")
    elif change == "recipe":
        recipe["lr"] = 0.1
    elif change == "data":
        data["n"] = 41
    elif change == "code":
        code = [_trained]
    else:
        (tmp_path / "toy.json").unlink()
    with pytest.raises(CheckpointError) as err:
        shipping.load_shipped(_net(), "toy", tmp_path, recipe=recipe, data=data, code=code)
    message = str(err.value)
    assert ("python -m toy.train toy" in message) or change == "card"
    assert {"recipe": "lr", "data": "'n'", "weights": "sha256", "code": "hash",
            "card": "no shipped network"}[change] in message


def test_a_model_of_another_shape_is_refused(tmp_path):
    _trained(tmp_path)
    other = torch.nn.Sequential(torch.nn.Linear(5, 2))
    with pytest.raises(CheckpointError, match="do not fit"):
        shipping.load_shipped(other, "toy", tmp_path, recipe=RECIPE, data=DATA, code=[_net])


def test_bad_arguments_are_named(tmp_path):
    with pytest.raises(ValueError, match="recipe must be a dict"):
        shipping.save_shipped(_net(), "toy", tmp_path, recipe=[1], data=DATA, scores={},
                              retrain="x")
    with pytest.raises(ValueError, match="retrain must be"):
        shipping.save_shipped(_net(), "toy", tmp_path, recipe=RECIPE, data=DATA, scores={},
                              retrain="")


def test_fit_moves_tuples_of_tensors():
    class TwoTower(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.b = torch.nn.Linear(3, 2), torch.nn.Linear(4, 2)

        def forward(self, x):
            return self.a(x[0]), self.b(x[1])

    class Pairs:
        def __len__(self):
            return 2

        def batches(self, rng):
            for _ in range(2):
                x = (torch.randn(8, 3), torch.randn(8, 4))
                yield x, (torch.zeros(8), torch.ones(8))

    def loss(out, y):
        assert isinstance(out, tuple) and isinstance(y, tuple)
        return ((out[0] - out[1]) ** 2).mean() + 0 * y[0].sum()

    history = fit(TwoTower(), Pairs(), loss, epochs=2, progress=False)
    assert len(history.train_loss) == 2
