"""One module per `linkc` subcommand: `add_arguments(parser)` and `run(args) -> int`."""
