"""Two or more runs side by side: compare, the regression gate, their statistics and renderers."""
