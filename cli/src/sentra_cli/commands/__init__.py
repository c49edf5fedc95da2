"""The `sentra` command groups; importing a module registers its commands on `sentra_cli.cli.app`."""
