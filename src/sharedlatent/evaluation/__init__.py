"""Metrics as pure functions of arrays, run metrics and metric tables."""
