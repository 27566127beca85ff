"""`python -m sharedlatent ...` runs the command-line interface (also how torchrun launches it)."""

from sharedlatent.runs.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
