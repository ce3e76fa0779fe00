"""The stored truth: results files, tidy and summary frames, intervals on rounds, the ideal."""
