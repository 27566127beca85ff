"""AnnData and MuData in the Python API: a registration that travels with the model, objects in, objects out.

anndata, mudata, pandas and scipy are the optional `bio` extra; they are imported only when objects come in."""
