"""One module per phase of `make bench`; each `run(ctx)` adds its figures to the report."""
