"""``python -m mirlab.labs student <lab.ipynb or folder> --out DIR``: the student versions of
the labs in ``labs/`` (see ``book/how_to_use.md``)."""

from mirlab.labs.student import main

if __name__ == "__main__":
    raise SystemExit(main())
