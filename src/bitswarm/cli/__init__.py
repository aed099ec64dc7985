"""The `bitswarm` command line."""
