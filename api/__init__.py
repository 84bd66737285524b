"""The outer layer: the HTTP API, the web page and the `regkb` command line."""
