"""The columns that name a point: every stage keys its rows by these."""

KEYS = ["workload", "model", "start_method", "tasks", "workers", "metric", "task_size", "python"]
