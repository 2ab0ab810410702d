"""CLI subcommands, one module per feature; each module defines `register(app)`."""
