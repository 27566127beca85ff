"""Table pairs: formats, ID matching and its report, refusals of misaligned, non-numeric or incomplete data."""

import warnings

import numpy as np
import pandas as pd
import pytest

from sharedlatent.arrays import as_matrix
from sharedlatent.datasets.registry import load_dataset
from sharedlatent.datasets.tables import detect_id_column, load_table_pair, read_table, write_table
from sharedlatent.errors import SharedLatentError

RNG = np.random.default_rng(0)


def rna_protein(n=20):
    ids = [f"cell{i:03d}" for i in range(n)]
    rna = pd.DataFrame(RNG.poisson(3, (n, 4)), columns=[f"gene{i}" for i in range(4)])
    rna.insert(0, "barcode", ids)
    rna["cell_type"] = ["T" if i % 2 else "B" for i in range(n)]
    protein = pd.DataFrame(RNG.random((n, 2)), columns=["CD3", "CD19"])
    protein.insert(0, "barcode", ids)
    return rna, protein


def test_csv_pair_matched_by_auto_detected_id_and_reported(tmp_path):
    rna, protein = rna_protein()
    rna.drop(columns="cell_type").to_csv(tmp_path / "rna.csv", index=False)
    # the protein file is shuffled and has two extra cells the RNA file lacks
    extra = pd.DataFrame({"barcode": ["x1", "x2"], "CD3": [0.1, 0.2], "CD19": [0.3, 0.4]})
    pd.concat([protein.iloc[::-1], extra]).to_csv(tmp_path / "protein.tsv", sep="\t", index=False)
    dataset = load_table_pair(
        left_path=str(tmp_path / "rna.csv"), right_path=str(tmp_path / "protein.tsv"), left="rna", right="protein"
    )
    assert dataset.feature_names == {"rna": ["gene0", "gene1", "gene2", "gene3"], "protein": ["CD3", "CD19"]}
    assert dataset.train.n_samples + dataset.test.n_samples == 20
    assert (
        "20 samples paired by sample ID" in dataset.description
        and "protein: 20 of 22 rows kept, 2 dropped" in dataset.description
    )
    # rows stay aligned: look one test sample up in the original frames
    sample = dataset.test.sample_ids[0]
    np.testing.assert_allclose(
        dataset.test.domains["protein"][0], protein.set_index("barcode").loc[sample].to_numpy(), rtol=1e-6
    )


def test_label_column_gives_a_stratified_split(tmp_path):
    rna, protein = rna_protein()
    rna.to_csv(tmp_path / "rna.csv", index=False)
    protein.to_csv(tmp_path / "protein.csv", index=False)
    dataset = load_table_pair(
        left_path=tmp_path / "rna.csv",
        right_path=tmp_path / "protein.csv",
        label_column="cell_type",
        test_fraction="0.2",
    )
    assert sorted(dataset.test.labels) == ["B", "B", "T", "T"]
    assert "stratified" in dataset.description


@pytest.mark.parametrize("suffix", [".csv", ".tsv", ".csv.gz", ".parquet", ".npz"])
def test_write_then_read_every_format(tmp_path, suffix):
    values = RNG.random((5, 3)).astype(np.float32)
    path = write_table(tmp_path / f"out{suffix}", values, ["a", "b", "c"], sample_ids=[f"s{i}" for i in range(5)])
    table = read_table(path)
    np.testing.assert_allclose(table.values, values, rtol=1e-6)
    assert table.feature_names == ["a", "b", "c"] and list(table.sample_ids) == [f"s{i}" for i in range(5)]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]


def test_npy_pair_paired_by_position(tmp_path):
    np.save(tmp_path / "a.npy", RNG.random((10, 3)))
    np.save(tmp_path / "b.npy", RNG.random((10, 2)))
    dataset = load_dataset("tables", left_path=str(tmp_path / "a.npy"), right_path=str(tmp_path / "b.npy"))
    assert dataset.input_sizes == {"left": 3, "right": 2}
    assert "row order" in dataset.description


def test_without_ids_row_counts_must_agree(tmp_path):
    np.save(tmp_path / "a.npy", RNG.random((10, 3)))
    np.save(tmp_path / "b.npy", RNG.random((9, 2)))
    with pytest.raises(SharedLatentError, match="row counts differ"):
        load_table_pair(left_path=tmp_path / "a.npy", right_path=tmp_path / "b.npy")


def test_ids_in_one_file_only_are_refused(tmp_path):
    rna, protein = rna_protein()
    rna.drop(columns="cell_type").to_csv(tmp_path / "rna.csv", index=False)
    protein.drop(columns="barcode").to_csv(tmp_path / "protein.csv", index=False)
    with pytest.raises(SharedLatentError, match="has an ID column but .*protein.csv"):
        load_table_pair(left_path=tmp_path / "rna.csv", right_path=tmp_path / "protein.csv")


def test_duplicated_ids_are_refused(tmp_path):
    pd.DataFrame({"sample_id": ["a", "b", "a"], "x": [1, 2, 3]}).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(SharedLatentError, match="duplicated IDs in column 'sample_id' such as 'a'"):
        read_table(tmp_path / "l.csv")


def test_ids_that_do_not_match(tmp_path):
    pd.DataFrame({"id": ["a", "b"], "x": [1, 2]}).to_csv(tmp_path / "l.csv", index=False)
    pd.DataFrame({"id": ["c", "d"], "y": [1, 2]}).to_csv(tmp_path / "r.csv", index=False)
    with pytest.raises(SharedLatentError, match="no sample IDs are shared"):
        load_table_pair(left_path=tmp_path / "l.csv", right_path=tmp_path / "r.csv")


def test_non_numeric_column_is_named(tmp_path):
    rna, _ = rna_protein()
    rna.to_csv(tmp_path / "rna.csv", index=False)
    with pytest.raises(SharedLatentError, match=r"rna.csv: column 'cell_type' is not numeric"):
        read_table(tmp_path / "rna.csv")


def test_nan_is_named_by_file_and_column(tmp_path):
    pd.DataFrame({"id": ["a", "b"], "x": [1.0, np.nan]}).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(SharedLatentError, match=r"l.csv: column 'x' has 1 NaN"):
        read_table(tmp_path / "l.csv")


def test_values_beyond_float32_are_named_not_called_nan(tmp_path):
    pd.DataFrame({"id": ["a", "b"], "x": [1.0, 2e39]}).to_csv(tmp_path / "l.csv", index=False)
    with pytest.raises(SharedLatentError, match=r"l.csv: column 'x' has values beyond float32's range \(e.g. 2e\+39"):
        read_table(tmp_path / "l.csv")
    with pytest.raises(SharedLatentError, match=r"input: 1 values lie beyond float32's range"):
        as_matrix(np.array([[1.0, -5e38]]), "input")


def test_explicit_id_column_and_missing_file(tmp_path):
    pd.DataFrame({"donor": ["a", "b"], "x": [1, 2]}).to_csv(tmp_path / "l.csv", index=False)
    assert list(read_table(tmp_path / "l.csv", id_column="donor").sample_ids) == ["a", "b"]
    with pytest.raises(SharedLatentError, match="no ID column 'cell'"):
        read_table(tmp_path / "l.csv", id_column="cell")
    with pytest.raises(SharedLatentError, match="does not exist"):
        read_table(tmp_path / "missing.csv")
    with pytest.raises(SharedLatentError, match="unknown table format"):
        read_table(tmp_path / "l.xlsx")


def test_id_column_rule():
    assert detect_id_column(["gene_a", "Sample_ID", "id"]) == "Sample_ID"
    assert detect_id_column(["Unnamed: 0", "x"]) == "Unnamed: 0"
    assert detect_id_column(["width", "lipid", "acid"]) is None


def test_write_table_checks_shapes(tmp_path):
    with pytest.raises(SharedLatentError, match="2 feature names"):
        write_table(tmp_path / "o.csv", np.zeros((3, 4)), ["a", "b"])


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("l.csv", "", r"l.csv is empty"),
        ("l.csv", "f0,f1\n", r"l.csv has a header but no data rows"),
        ("l.csv", "a,b\n1,2\n1,2,3,4\n", r"l.csv cannot be parsed as CSV"),
        ("l.txt", "gene_a gene_b\n1 2\n3 4\n", r"l.txt .*\.txt files are read as tab-separated"),
    ],
    ids=["empty", "header-only", "unparsable", "space-separated-txt"],
)
def test_unreadable_text_table_is_named(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(SharedLatentError, match=message):
        read_table(tmp_path / name)


def test_object_npy_is_refused_without_unpickling(tmp_path):
    np.save(tmp_path / "l.npy", np.array([[{"a": 1}]], dtype=object))
    with pytest.raises(SharedLatentError, match=r"l.npy holds Python objects, not numbers"):
        read_table(tmp_path / "l.npy")


def test_a_csv_without_header_keeps_its_first_row(tmp_path):
    from sharedlatent.datasets.tables import read_table

    values = np.arange(12, dtype=float).reshape(4, 3) / 10
    np.savetxt(tmp_path / "plain.csv", values, delimiter=",")
    table = read_table(tmp_path / "plain.csv")
    np.testing.assert_allclose(table.values, values)
    assert table.feature_names == ["feature_0", "feature_1", "feature_2"]


def test_an_unrecognised_id_column_shared_by_both_files_is_pointed_out(tmp_path):
    """Both files carry 'patient' (unique whole numbers, another order) but no ID-like name: rows are paired by
    position, which is probably wrong, so the pairing note and a warning name the column to use."""
    patients = np.arange(1000, 1040)
    left = pd.DataFrame({"patient": patients, "x": RNG.normal(size=40)})
    right = pd.DataFrame({"patient": patients[::-1], "y": RNG.normal(size=40)})
    left.to_csv(tmp_path / "l.csv", index=False)
    right.to_csv(tmp_path / "r.csv", index=False)
    with pytest.warns(UserWarning, match="column 'patient' holds the same unique whole numbers"):
        data = load_table_pair(tmp_path / "l.csv", tmp_path / "r.csv")
    assert any("set id_column=patient" in note for note in data.notes)
    paired = load_table_pair(tmp_path / "l.csv", tmp_path / "r.csv", id_column="patient")
    assert paired.input_sizes == {"left": 1, "right": 1}
    right.iloc[::-1].to_csv(tmp_path / "r.csv", index=False)  # the same order: position pairing is right
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load_table_pair(tmp_path / "l.csv", tmp_path / "r.csv")


def test_a_first_row_of_numbers_is_data_unless_named_and_one_that_looks_like_names_asks_which(tmp_path):
    rng = np.random.default_rng(3)
    expression = pd.DataFrame(rng.normal(5, 2, (40, 6)), columns=[str(1000 + 7 * i) for i in range(6)])
    expression.to_csv(tmp_path / "entrez.csv", index=False)  # Entrez gene IDs as column names, no ID column
    with pytest.raises(SharedLatentError, match="look like column names .* header=names or header=none"):
        read_table(tmp_path / "entrez.csv")
    table = read_table(tmp_path / "entrez.csv", header="names")
    assert table.feature_names == list(expression.columns) and table.values.shape == (40, 6)
    assert read_table(tmp_path / "entrez.csv", header="none").values.shape == (41, 6)
    # translate: a model trained on these columns reads its own kind of file back, however few rows it has
    expression.iloc[:3].to_csv(tmp_path / "three.csv", index=False)
    assert read_table(tmp_path / "three.csv", feature_names=list(expression.columns)).values.shape == (3, 6)
    sorted_rows = np.arange(60).reshape(20, 3)  # a headerless file whose first row is below every column
    np.savetxt(tmp_path / "sorted.csv", sorted_rows, delimiter=",", fmt="%d")
    with pytest.raises(SharedLatentError, match="header=names or header=none"):
        read_table(tmp_path / "sorted.csv")
    np.testing.assert_array_equal(read_table(tmp_path / "sorted.csv", header="none").values, sorted_rows)
    counts = rng.poisson(5, (40, 6))
    np.savetxt(tmp_path / "plain.csv", counts, delimiter=",", fmt="%d")  # np.savetxt: no header at all
    table = read_table(tmp_path / "plain.csv")
    assert table.values.shape == (40, 6) and table.feature_names[0] == "feature_0"
    np.testing.assert_array_equal(table.values, counts)
    (tmp_path / "gap.csv").write_text("1,,3\n" + "\n".join("4,5,6" for _ in range(12)) + "\n")
    with pytest.raises(SharedLatentError, match="NaN"):  # a blank in a numeric first row is a missing value
        read_table(tmp_path / "gap.csv")


def test_a_semicolon_csv_and_a_comma_tsv_are_read_with_the_separator_they_use(tmp_path):
    rna, _ = rna_protein()
    rna.drop(columns="cell_type").to_csv(tmp_path / "semi.csv", sep=";", index=False)
    rna.drop(columns="cell_type").to_csv(tmp_path / "comma.tsv", index=False)
    for name in ("semi.csv", "comma.tsv"):
        table = read_table(tmp_path / name)
        assert table.feature_names == ["gene0", "gene1", "gene2", "gene3"] and table.id_column == "barcode"
    (tmp_path / "one.csv").write_text("age;years\n" + "\n".join(str(20 + i) for i in range(12)) + "\n")
    assert read_table(tmp_path / "one.csv").feature_names == ["age;years"]  # one column, a ';' in its name
    (tmp_path / "ragged.csv").write_text("a;b;c\n1;2;3\n4;5;6\n7;8;9;10\n")
    with pytest.raises(SharedLatentError, match="looks ';'-separated, but its first lines do not all have"):
        read_table(tmp_path / "ragged.csv")


def test_repeated_column_names_blank_ids_and_folders_are_refused_in_one_line(tmp_path):
    (tmp_path / "twice.csv").write_text("sample_id,GENE0,GENE0,GENE1\na,1,2,3\nb,4,5,6\n")
    with pytest.raises(SharedLatentError, match=r"column names repeat: 'GENE0' \(2 times\)"):
        read_table(tmp_path / "twice.csv")
    (tmp_path / "blank.csv").write_text("sample_id,g1,g2\na,1,2\n,3,4\nc,5,6\n  ,7,8\n")
    with pytest.raises(SharedLatentError, match=r"2 rows have no sample ID in column 'sample_id' \(data rows 2, 4\)"):
        read_table(tmp_path / "blank.csv")
    (tmp_path / "folder.csv").mkdir()
    with pytest.raises(SharedLatentError, match="is a folder"):
        read_table(tmp_path / "folder.csv")


def test_missing_values_say_how_many_columns_have_them(tmp_path):
    values = np.random.default_rng(0).normal(size=(30, 5))
    values[:10, 1], values[:3, 4] = np.nan, np.nan
    pd.DataFrame(values, columns=[f"P{i}" for i in range(5)]).to_csv(tmp_path / "prot.csv", index=False)
    with pytest.raises(SharedLatentError, match=r"column 'P1' has 10 NaN .* \(2 columns have them, 13 values in all\)"):
        read_table(tmp_path / "prot.csv")


def test_r_write_csv_of_numeric_names_and_a_permuted_header_for_translate_are_names(tmp_path):
    rows = "\n".join(f'"s{i}",{i % 3},0,{i},1' for i in range(30))
    (tmp_path / "r.csv").write_text('"","7157","672","1956","3845"\n' + rows + "\n")  # R's blank corner
    table = read_table(tmp_path / "r.csv")
    assert table.feature_names == ["7157", "672", "1956", "3845"] and table.values.shape == (30, 4)
    assert table.sample_ids[0] == "s0"
    (tmp_path / "new.csv").write_text("672,7157,1956,3845\n0,1,2,3\n")  # the model's names in another order
    table = read_table(tmp_path / "new.csv", feature_names=["7157", "672", "1956", "3845"])
    assert table.feature_names == ["672", "7157", "1956", "3845"] and table.values.shape == (1, 4)


def test_sniffing_respects_quotes_and_a_bad_header_option_is_refused(tmp_path):
    (tmp_path / "q.csv").write_text('id;label;x;y\ns1;"a;b";2.5;2\ns2;c;1.5;3\ns3;d;0.5;4\n')
    table = read_table(tmp_path / "q.csv", label_column="label")
    assert table.feature_names == ["x", "y"] and list(table.labels) == ["a;b", "c", "d"]
    (tmp_path / "w.csv").write_text('id;"w, kg";y\ns1;70;2\ns2;80;3\n')
    assert read_table(tmp_path / "w.csv").feature_names == ["w, kg", "y"]
    with pytest.raises(SharedLatentError, match="header must be one of auto, names, none, got 'bogus'"):
        read_table(tmp_path / "w.csv", header="bogus")


def test_any_number_of_domains_named_by_their_path_options(tmp_path):
    rna, protein = rna_protein()
    rna.drop(columns="cell_type").to_csv(tmp_path / "rna.csv", index=False)
    protein.iloc[::-1].to_csv(tmp_path / "protein.csv", index=False)
    atac = protein.rename(columns={"CD3": "peak1", "CD19": "peak2"})
    atac.to_csv(tmp_path / "atac.csv", index=False)
    dataset = load_table_pair(
        rna_path=tmp_path / "rna.csv", protein_path=tmp_path / "protein.csv", atac_path=tmp_path / "atac.csv"
    )
    assert dataset.domain_names == ["rna", "protein", "atac"] and dataset.input_sizes["atac"] == 2
    np.testing.assert_allclose(dataset.train.domains["protein"], dataset.train.domains["atac"], rtol=1e-6)  # paired
    for options, message in (
        ({"left_path": tmp_path / "rna.csv", "protein_path": tmp_path / "protein.csv"}, "not both"),
        ({"left": "x", "rna_path": tmp_path / "rna.csv", "protein_path": tmp_path / "protein.csv"}, "not both"),
        ({"rna_path": tmp_path / "rna.csv"}, "at least two domains"),
        ({"rna_path": tmp_path / "rna.csv", "colour": "red"}, "unknown option 'colour'"),
        ({"left_path": tmp_path / "rna.csv", "right_path": tmp_path / "rna.csv", "left_path_": 1}, "unknown option"),
    ):
        with pytest.raises(SharedLatentError, match=message):
            load_table_pair(**options)


def test_one_file_for_two_domains_is_refused(tmp_path):
    path = tmp_path / "both.csv"
    path.write_text("sample_id,a,b\ns1,1,2\ns2,3,4\ns3,5,6\n")
    with pytest.raises(SharedLatentError, match="domains 'left' and 'right' read the same matrix"):
        load_table_pair(left_path=path, right_path=tmp_path / "." / "both.csv")
