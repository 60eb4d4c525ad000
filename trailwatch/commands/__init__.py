"""One module per CLI command (see trailwatch/cli.py)."""
