"""`python -m sharedlatent ...` runs the command-line interface (also how torchrun launches it)."""

from sharedlatent.runs.cli import entry

if __name__ == "__main__":
    entry()
