"""What a run says: findings in words, Axes-first charts, HTML / Markdown / CSV."""
