"""``python -m mirlab.labs student <lab.ipynb or folder> --out DIR``."""

from mirlab.labs.student import main

if __name__ == "__main__":
    raise SystemExit(main())
