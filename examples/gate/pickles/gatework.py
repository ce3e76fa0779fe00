"""A scaling regression of ``crunch``: the same work, but every task returns a large list.

The sequential loop and threads hand the list over by reference; a process
pool pickles it in the worker and unpickles it in the parent, so only the
process-pool points get slower.
"""

_PAYLOAD = list(range(28_000))


def crunch(i: int, size: float) -> tuple[int, list[int]]:
    """Sum ``(k * i) % 7`` over ``size`` iterations; return it with the payload."""
    total = 0
    for k in range(int(size)):
        total += (k * i) % 7
    return total, _PAYLOAD
