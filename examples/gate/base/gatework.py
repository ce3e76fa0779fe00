"""The gate's reference workload: pure-Python CPU work with a small result."""


def crunch(i: int, size: float) -> int:
    """Sum ``(k * i) % 7`` over ``size`` iterations."""
    total = 0
    for k in range(int(size)):
        total += (k * i) % 7
    return total
