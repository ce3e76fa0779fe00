"""Example workload: parse web-server log lines in pure Python (holds the GIL).

``make_lines(i, size)`` builds one task's input, ``size`` log lines, before
the clock starts (the ``args`` factory); ``parse(text)`` is the measured
function.  Process pools must pickle the text to each worker: the break-even
size is where that cost stops mattering.
"""

from __future__ import annotations

STATUSES = (200, 200, 200, 304, 404, 500)
PATHS = ("/", "/index.html", "/api/items", "/api/items/42", "/static/app.js", "/login")


def make_lines(i: int, size: float) -> tuple[str]:
    """``size`` lines of a combined-format access log (deterministic, distinct per task)."""
    lines = []
    for n in range(int(size)):
        k = (i * 7919 + n * 104729) % 1_000_003
        lines.append(f'10.0.{k % 256}.{n % 256} - - [25/Nov/2026:10:{n % 60:02d}:{k % 60:02d}] '
                     f'"GET {PATHS[k % len(PATHS)]} HTTP/1.1" {STATUSES[k % len(STATUSES)]} '
                     f'{k % 50_000} "-" "bench/{k % 7}"')
    return ("\n".join(lines),)


def parse(text: str) -> tuple[tuple[int, int], ...]:
    """Requests and bytes per status code, sorted by status."""
    counts: dict[int, list[int]] = {}
    for line in text.splitlines():
        _, _, rest = line.partition('" ')
        status, size, _ = rest.split(" ", 2)
        entry = counts.setdefault(int(status), [0, 0])
        entry[0] += 1
        entry[1] += int(size)
    return tuple((status, total) for status, (_, total) in sorted(counts.items()))
