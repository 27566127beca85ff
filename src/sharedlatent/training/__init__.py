"""The training loop, schedules and runtime policy."""
