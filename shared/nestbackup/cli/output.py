"""How a command prints what the API answered: the JSON object as it came, or a table with a header row (as velero
and kubectl print theirs) whose cells are never cut: ids stay whole at any terminal width, a long line wraps."""
from __future__ import annotations

import json
from typing import Callable, Iterable, Sequence

import click


def _nothing_after(out: dict) -> Iterable[str]:
    return ()


def table_lines(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> list[str]:
    """A header row and the rows, each column as wide as its widest cell; the last column is not padded."""
    rows = [[str(cell) for cell in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[n]) for r in rows)) if rows else len(str(h)) for n, h in enumerate(headers)]
    return ["   ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip()
            for row in [list(headers), *rows]]


def echo_rows(out: dict, as_json: bool, key: str, headers: Sequence[str], cells: Callable[[dict], Sequence[str]],
              empty: str, after: Callable[[dict], Iterable[str]] = _nothing_after) -> None:
    """`out` as one JSON object; or a table of its `key` list (`empty` when the list is), then the lines `after`
    gives."""
    if as_json:
        click.echo(json.dumps(out))
        return
    if out[key]:
        for line in table_lines(headers, (cells(row) for row in out[key])):
            click.echo(line)
    else:
        click.echo(empty)
    for text in after(out):
        click.echo(text)
