"""``python -m dunning``: the same command line as the ``dunning`` script."""

from __future__ import annotations

from dunning.cli import main

if __name__ == "__main__":
    main()
