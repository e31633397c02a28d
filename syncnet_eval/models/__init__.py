"""Neural networks and their weights."""
