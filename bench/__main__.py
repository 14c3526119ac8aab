"""Run every benchmark and print its table: ``.venv/bin/python -m bench [--quick]``."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence

# One line per benchmark: a module in bench/ with ``run(*, quick: bool) -> str``.
BENCHMARKS: tuple[str, ...] = (
    "bench.http_baseline",
    "bench.renditions",
    "bench.decision",
    "bench.tracking",
)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description="Run all benchmarks.")
    parser.add_argument("--quick", action="store_true", help="fewer, shorter rounds: a smoke run")
    args = parser.parse_args(argv)
    for n, name in enumerate(BENCHMARKS):
        print(f"[bench] {name}", file=sys.stderr, flush=True)
        run: Callable[..., str] = importlib.import_module(name).run
        if n:
            print()
        print(run(quick=args.quick), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
