"""How it is measured: the round child, rounds, the runner, host and interpreter records, noise."""
