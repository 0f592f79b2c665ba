"""Adapters to other tools (optional extras, imported lazily): NeuroBench's benchmark harness."""
