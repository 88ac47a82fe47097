"""One module per suite; each defines `SUITE = benchlib.model.Suite(...)`."""
