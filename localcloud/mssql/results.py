"""What a statement produces, as the engine hands it to the TDS token stream: result sets with wire column types,
row counts, database changes and informational messages.

Tables store no column types, so `typed_result_set` picks a wire type per column from the values it holds:
bigint for ints, decimal(38, s) for numbers that fit 38 digits, nvarchar for the rest.
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass, field


@dataclass
class Column:
    name: str
    type: str  # "nvarchar", "bigint" or "decimal" (precision 38)
    scale: int = 0


@dataclass
class ResultSet:
    columns: list[Column]
    rows: list[list]


@dataclass
class Outcome:
    """What one statement produced: rows, a DML row count, a database change, informational messages."""
    result: ResultSet | None = None
    rowcount: int | None = None
    database: tuple[str, str] | None = None  # (new, old)
    infos: list[tuple[int, str]] = field(default_factory=list)


def _decimal_column(name: str, values: list) -> Column | None:
    """decimal(38, s) wide enough for every value, or None if 38 digits cannot hold them all."""
    shapes = [decimal.Decimal(v).as_tuple() for v in values]
    scale = max(max(0, -int(t.exponent)) for t in shapes)
    integer_digits = max(len(t.digits) + int(t.exponent) for t in shapes)
    return Column(name, "decimal", scale) if integer_digits + scale <= 38 else None


def typed_result_set(columns: list[str], rows: list[list]) -> ResultSet:
    """Pick a wire type per column from the values it holds (tables store no column types)."""
    typed = []
    for i, name in enumerate(columns):
        values = [row[i] for row in rows if row[i] is not None]
        kinds = {type(v) for v in values}
        column = None
        if kinds and kinds <= {int}:
            column = Column(name, "bigint")
        elif kinds and kinds <= {int, decimal.Decimal}:
            column = _decimal_column(name, values)
            if column is not None:
                for row in rows:
                    row[i] = None if row[i] is None else decimal.Decimal(row[i])
        if column is None:
            column = Column(name, "nvarchar")
            for row in rows:
                row[i] = None if row[i] is None else str(row[i])
        typed.append(column)
    return ResultSet(typed, rows)
