"""One module per external API. Each imports its SDK lazily, so a handler pays only for what it uses."""
