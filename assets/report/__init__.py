"""report/*: what people read — the monthly scorecard of the focus province."""
