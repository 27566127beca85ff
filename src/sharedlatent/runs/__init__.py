"""Run folders on disk and the command-line interface on top of them."""
