"""Example workload: count word frequencies in generated text (pure Python, holds the GIL).

Called as ``top_words(i, size)``: the task builds ``size`` words of text and
counts them; no ``args`` factory, so only ``(i, size)`` crosses to a process.
"""

from __future__ import annotations

from collections import Counter

WORDS = ("asyncio", "thread", "process", "pool", "event", "loop", "task", "future",
         "await", "gather", "pickle", "fork", "spawn", "core", "lock", "queue")


def top_words(i: int, size: float) -> list[tuple[str, int]]:
    """The five most frequent of ``size`` pseudo-random words (deterministic per task)."""
    state = i * 2_654_435_761 % 2**32 or 1
    words = []
    for _ in range(int(size)):
        state = (state * 1_103_515_245 + 12_345) % 2**31
        words.append(WORDS[state % len(WORDS)])
    return Counter(words).most_common(5)
