"""The `regkb` command line (top of the import graph: it may use every other package)."""
