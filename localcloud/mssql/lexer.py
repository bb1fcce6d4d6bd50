"""The T-SQL lexer of the local SQL Server stand-in: batch text to tokens, with SQL Server's lexical errors.

What is real: T-SQL lexical rules for what is supported (bare and [bracketed] identifiers with `]]`,
N'..' / '..' literals with `''`, `--` comments, numbers (too big for bigint -> numeric, at most 38 digits)),
case-insensitive keywords, identifiers of at most 128 characters, and SQL Server's error numbers and messages
(102, 103, 105, 1007).
Error 102 ("Incorrect syntax near ..") is raised by this lexer and by the parser alike and names the statements
the stand-in supports, so `SUPPORTED` and `syntax_error` live here, below both.
"""
from __future__ import annotations

import decimal
import re
from dataclasses import dataclass

from .catalog import MAX_NAME, SqlError, name_length

SUPPORTED = (
    "SELECT @@VERSION; SELECT SUSER_SNAME(), HAS_PERMS_BY_NAME(N'..'|NULL, N'DATABASE'|NULL, N'..'); "
    "SELECT name, user_access_desc FROM sys.databases [WHERE name = N'..']; "
    "CREATE DATABASE d; DROP DATABASE d; USE d; "
    "ALTER DATABASE d SET SINGLE_USER WITH ROLLBACK IMMEDIATE | SET MULTI_USER | MODIFY NAME = n; "
    "CREATE TABLE [d.][s.]t (columns); INSERT INTO t [(columns)] VALUES (..)[, (..)]; "
    "DELETE FROM t [WHERE c {=|<>|<|<=|>|>=} literal]; SELECT COUNT_BIG(*) FROM t; SELECT * FROM t; "
    "SELECT s.name, t.name FROM d.sys.tables t JOIN d.sys.schemas s ON s.schema_id = t.schema_id [WHERE t.name = N'..']"
)

_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_BIGINT = 2**63


@dataclass
class Token:
    kind: str  # "word" (bare identifier or keyword), "qid" ([bracketed] identifier), "str", "num", "sym", "end"
    value: object  # the identifier / string / symbol text, or an int or Decimal
    text: str  # as written, for "Incorrect syntax near '...'"

    def is_word(self, *words: str) -> bool:
        return self.kind == "word" and str(self.value).lower() in words


def syntax_error(near: str) -> SqlError:
    return SqlError(102, f"Incorrect syntax near '{near}'. This local SQL Server stand-in supports only: {SUPPORTED}.",
                    15)


def _unclosed(rest: str) -> SqlError:
    return SqlError(105, f"Unclosed quotation mark after the character string '{rest}'.", 15)


def _check_identifier(name: str) -> str:
    if name_length(name) > MAX_NAME:
        raise SqlError(103, f"The identifier that starts with '{name[:MAX_NAME]}' is too long. "
                            f"Maximum length is {MAX_NAME}.", 15)
    return name


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i):
            end = text.find("\n", i)
            i = n if end < 0 else end + 1
        elif c == "[":
            j, parts = i + 1, []
            while True:
                end = text.find("]", j)
                if end < 0:
                    raise _unclosed(text[i + 1:])
                parts.append(text[j:end])
                if text.startswith("]]", end):  # an escaped "]" inside the identifier
                    parts.append("]")
                    j = end + 2
                else:
                    break
            tokens.append(Token("qid", _check_identifier("".join(parts)), text[i:end + 1]))
            i = end + 1
        elif c == "'" or (c in "Nn" and text.startswith("'", i + 1)):
            start = i
            j, parts = text.index("'", i) + 1, []
            while True:
                end = text.find("'", j)
                if end < 0:
                    raise _unclosed(text[j:])
                parts.append(text[j:end])
                if text.startswith("''", end):
                    parts.append("'")
                    j = end + 2
                else:
                    break
            tokens.append(Token("str", "".join(parts), text[start:end + 1]))
            i = end + 1
        elif (m := _NUMBER.match(text, i)) is not None:
            literal = m.group()
            value: int | decimal.Decimal = decimal.Decimal(literal) if "." in literal else int(literal)
            if isinstance(value, int) and value >= _BIGINT:  # like SQL Server: too big for bigint -> numeric
                value = decimal.Decimal(value)
            if isinstance(value, decimal.Decimal) and len(value.as_tuple().digits) > 38:
                raise SqlError(1007, f"The number '{literal}' is out of the range for numeric representation "
                                     "(maximum precision 38).", 15)
            tokens.append(Token("num", value, literal))
            i = m.end()
        elif c.isalpha() or c in "_@#":
            j = i + 1
            while j < n and (text[j].isalnum() or text[j] in "_@#$"):
                j += 1
            tokens.append(Token("word", _check_identifier(text[i:j]), text[i:j]))
            i = j
        elif text.startswith(("<=", ">=", "<>", "!="), i):
            tokens.append(Token("sym", text[i:i + 2], text[i:i + 2]))
            i += 2
        elif c in ".,();=*-<>":
            tokens.append(Token("sym", c, c))
            i += 1
        else:
            raise syntax_error(c)
    tokens.append(Token("end", "", ""))
    return tokens
