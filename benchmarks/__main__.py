"""``python -m benchmarks [--quick]``: run every benchmark section, print one table, write var/bench.json.

A section is a module exposing ``run(quick: bool) -> {"rows": [[figure, measured, baseline, target],
...], "json": {...}}``; a section whose module is missing (not merged yet) is skipped with a note.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SECTIONS = (
    "benchmarks.queries",
    "benchmarks.tracking",
    "benchmarks.slow_clients",
    "benchmarks.live_streams",
    "benchmarks.batches",
    "benchmarks.batch_summary",
)


def _load(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as error:
        if error.name != name:
            raise  # the section exists but something it needs does not: that is a failure
        return None


def markdown_table(rows: list[list[Any]]) -> str:
    lines = ["| figure | measured | baseline | target |", "|---|---|---|---|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="small sizes (1M rows, 1,000 users)")
    parser.add_argument("--only", choices=SECTIONS, action="append", help="run only this section")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    rows: list[list[Any]] = []
    merged: dict[str, Any] = {"quick": args.quick}
    started = time.perf_counter()
    for name in args.only or SECTIONS:
        module = _load(name)
        if module is None:
            print(f"note: section {name} is not there (module missing): skipped", file=sys.stderr)
            continue
        print(f"== {name}", file=sys.stderr)
        result = module.run(args.quick)
        rows += result["rows"]
        merged.update(result["json"])
    merged["bench_seconds"] = round(time.perf_counter() - started, 1)
    print(markdown_table(rows))
    out = ROOT / "var" / "bench.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(merged, indent=2, sort_keys=True) + "\n")
    print(f"\nwrote {out.relative_to(ROOT)} ({merged['bench_seconds']} s)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
