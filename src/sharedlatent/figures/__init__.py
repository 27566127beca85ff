"""Figures, the model summary and the HTML report."""
