"""The ``surrogates`` command line (training and evaluation arrive with their issues)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="surrogates",
        description="Train and evaluate surrogates on pdesim datasets. No subcommand is "
        "available yet: `train` and `eval` are tracked as open issues.",
    )
    parser.parse_args(argv)
    parser.print_help()
    return 1


if __name__ == "__main__":
    sys.exit(main())
