"""``python -m mirlab.similarity.train NAME [NAME ...] | --all``: retrain shipped networks.

Each NAME is a recipe of :data:`mirlab.similarity.models.RECIPES` (the supervised and
conditional embeddings) or one of ``ssl_fcn`` (:func:`mirlab.similarity.ssl.ship_ssl`),
``ssl_ablation`` (:func:`~mirlab.similarity.ssl.ship_ablation`, a table, no weights) and
``crossmodal`` (:func:`mirlab.similarity.crossmodal.ship_crossmodal`); its weights and card are
written to ``mirlab/similarity/weights/``. ``--quick`` trains tiny versions into a temporary
folder (a smoke test).
"""

from __future__ import annotations

import argparse
import tempfile
import time

from mirlab.similarity import crossmodal, ssl
from mirlab.similarity.models import RECIPES, WEIGHTS, ship

#: Networks (and the ablation table) shipped by the self-supervised and cross-modal modules.
OTHERS = {
    "ssl_fcn": lambda quick, folder: ssl.ship_ssl(quick=quick, folder=folder),
    "ssl_ablation": lambda quick, folder: ssl.ship_ablation(folder=folder),
    "crossmodal": lambda quick, folder: crossmodal.ship_crossmodal(quick=quick, folder=folder),
}


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m mirlab.similarity.train",
                                     description=__doc__)
    known = [*RECIPES, *OTHERS]
    parser.add_argument("names", nargs="*", help=f"recipes: {', '.join(known)}")
    parser.add_argument("--all", action="store_true", help="every recipe")
    parser.add_argument("--quick", action="store_true", help="tiny models, temporary folder")
    args = parser.parse_args(argv)
    names = known if args.all else args.names
    unknown = [n for n in names if n not in known]
    if not names or unknown:
        parser.error(f"name recipes among {known} or pass --all; got {names}")
    folder = tempfile.mkdtemp() if args.quick else WEIGHTS
    for name in names:
        start = time.perf_counter()
        if name in OTHERS:
            OTHERS[name](args.quick, folder)
            print(f"{name}: {time.perf_counter() - start:.0f} s, written to {folder}")
            continue
        card = ship(name, quick=args.quick, folder=folder)
        test = ", ".join(f"{n} mAP {s['map']:.3f}" for n, s in card["scores"]["test"].items())
        print(f"{name}: {time.perf_counter() - start:.0f} s, test {test}; "
              f"weights {card['weights']['n_bytes'] / 1e3:.0f} kB in {folder}")


if __name__ == "__main__":
    main()
