"""Studies: experiments built from the library below them, each driven by one config and returning a result.

Studies never parse arguments (the CLI does) and nothing below them imports them."""
