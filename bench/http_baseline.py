"""The reference article page under load, beside the minimal JSON view (the baseline).

.venv/bin/python -m bench.http_baseline [--quick]
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from bench.harness import (
    BASELINE_PATH,
    BENCH_SETTINGS,
    compare_http,
    comparison_table,
    demo_site,
    serve,
)

ARTICLE_PATH = "/artikel/ki-buendnis-mit-japan/"
WORKERS = 2


def run(*, quick: bool = False) -> str:
    rounds, seconds = (3, 2) if quick else (5, 5)
    with demo_site() as env, serve(BENCH_SETTINGS, workers=WORKERS, env=env) as base_url:
        comparison = compare_http(
            base_url + ARTICLE_PATH, base_url + BASELINE_PATH, rounds=rounds, seconds=seconds
        )
    return comparison_table(
        "HTTP: reference article page vs. minimal JSON view",
        f"reference article `{ARTICLE_PATH}`",
        comparison,
        notes=[
            f"Server: gunicorn, {WORKERS} sync workers, `bench.settings` (DEBUG off), "
            "demo content in a fresh SQLite database."
        ],
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="3 rounds of 2 s: a smoke run")
    args = parser.parse_args(argv)
    print(run(quick=args.quick))


if __name__ == "__main__":
    main()
