"""How a command prints what the API answered: the JSON object as it came, or one line per listed row."""
from __future__ import annotations

import json
from typing import Callable, Iterable

import click


def _nothing_after(out: dict) -> Iterable[str]:
    return ()


def echo_rows(out: dict, as_json: bool, key: str, line: Callable[[dict], str],
              after: Callable[[dict], Iterable[str]] = _nothing_after) -> None:
    """`out` as one JSON object, or a line for each row of its `key` list and then the lines `after` gives."""
    if as_json:
        click.echo(json.dumps(out))
        return
    for row in out[key]:
        click.echo(line(row))
    for text in after(out):
        click.echo(text)
