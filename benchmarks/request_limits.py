"""What the JSON nesting check costs: ``json_depth`` over a body vs. ``json.loads`` of the same body.

Run: ``.venv/bin/python -m benchmarks.request_limits``. Prints one Markdown row per body shape;
the ratio is the check's time over the parse's (the baseline), both measured in this run.
"""

from __future__ import annotations

import json
import timeit

from api.request_limits import json_depth


def bodies() -> dict[str, bytes]:
    """About 1 MiB each (NETRAVEN_MAX_BODY_BYTES' default): the most a check ever scans."""
    flat = json.dumps({f"key_{i}": f'value {i} with "quotes" and [brackets]' for i in range(20_000)})
    nested = json.dumps([[{"a": [1, 2, {"b": "c"}]}] for _ in range(40_000)])
    return {"flat object, escaped strings": flat.encode(), "nested lists": nested.encode()}


def main() -> None:
    print("| body | bytes | json_depth ms | json.loads ms (baseline) | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for name, body in bodies().items():
        check = min(timeit.repeat(lambda b=body: json_depth(b), number=3, repeat=3)) / 3
        parse = min(timeit.repeat(lambda b=body: json.loads(b), number=3, repeat=3)) / 3
        print(f"| {name} | {len(body)} | {check * 1000:.1f} | {parse * 1000:.1f} | {check / parse:.2f}x |")


if __name__ == "__main__":
    main()
