"""The `compare` table: one column per run, long values cut in the middle so both ends stay readable."""

from sharedlatent.evaluation.tables import comparison_table


def test_long_layouts_and_run_names_keep_both_ends():
    runs = {
        "/very/long/path/to/the/runs/folder/run_a": {"layout": "left300-96-64_right9-96-64-32-16", "mse": 1.0},
        "b": {"layout": "64-96-64-32-16", "mse": 2.0},
    }
    table = comparison_table(runs)
    assert "left300-96...96-64-32-16" in table  # the start says which domains, the end the shared layers
    assert "/very/long...older/run_a" in table
    lines = table.splitlines()
    assert len({len(line) for line in lines}) == 1  # every row lines up with the header
    assert "64-96-64-32-16" in table
