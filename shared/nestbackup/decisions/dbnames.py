"""Database names of a restore, no I/O: validation, quoting, the names RestoreTable creates and the live database is
set aside under, and the rewriting of schema qualifiers in MySQL object definitions.

Naming rule (documented for users, who look for their set-aside data by it):

    restored:  <db>__rst_<short>      what RestoreTable is asked to create next to the live database
    aside:     <db>__pre_<short>      where the live database of before the restore is kept afterwards

`<short>` is the last 8 letters/digits of the restore id, lowercased (the random part of the ids nestbackup makes:
restore `restore-018f2c3a4b5d9e8f7a6b` gives `9e8f7a6b`); an id with fewer than 8 letters/digits uses the first 8
hex digits of its SHA-256 instead. When `<db>` is too long for the engine's limit (MySQL 64 characters, PostgreSQL
63 bytes of UTF-8, SQL Server 128 characters), it is cut (never inside a character) and followed by `_` and the
first 6 hex digits of the SHA-256 of the whole name, so two long names with a common prefix still differ:
`<db cut>_<hash6>__pre_<short>`. The two names of one database never collide (different tags), and the same inputs
always give the same names, so a step that re-runs finds what an earlier run created.
"""
from __future__ import annotations

import hashlib
import re
from typing import Iterable, Iterator

from ..errors import ValidationError
from ..model.engines import Engine, engine_of

RESTORED_TAG, ASIDE_TAG = "rst", "pre"
SHORT_ID_LEN = 8
HASH_LEN = 6


def name_length(name: str, engine: str) -> int:
    """The length the engine limits: bytes of UTF-8 for PostgreSQL, characters otherwise."""
    return len(name.encode("utf-8")) if engine_of(engine).limit_in_bytes else len(name)


def validate_name(name: str, engine: str) -> str:
    """Return `name` if the engine can hold it as a database name, else raise ValidationError.

    Refused: empty names, NUL, names over the engine's limit, and (MySQL) characters outside the Basic Multilingual
    Plane and a trailing space, which the server refuses. Everything else (quotes, backticks, semicolons, spaces,
    `--`, `%`, any other Unicode) is allowed: it is always quoted, never interpolated into SQL raw."""
    eng = engine_of(engine)
    if not isinstance(name, str) or name == "":
        raise ValidationError("a database name must be a non-empty string")
    if "\x00" in name:
        raise ValidationError(f"database name {name!r} contains NUL")
    limit = eng.name_limit
    if name_length(name, eng.name) > limit:
        unit = "bytes" if eng.limit_in_bytes else "characters"
        raise ValidationError(f"database name {name!r} is longer than {limit} {unit} ({eng.name})")
    if eng.basic_plane_names:
        if any(ord(ch) > 0xFFFF for ch in name):
            raise ValidationError(f"database name {name!r} has characters outside the Basic Multilingual Plane, "
                                  "which MySQL identifiers cannot hold")
        if name.endswith(" "):
            raise ValidationError(f"database name {name!r} ends with a space, which MySQL refuses")
    return name


def _enclose(text: str, opening: str, closing: str, what: str = "identifier") -> str:
    """`text` between `opening` and `closing`, with `closing` inside doubled: how each dialect quotes."""
    if "\x00" in text:
        raise ValidationError(f"{what} {text!r} contains NUL")
    return opening + text.replace(closing, closing * 2) + closing


def quote_mysql(name: str) -> str:
    """`name` as a MySQL identifier: backticks around, backticks inside doubled."""
    return _enclose(name, "`", "`")


def quote_pg(name: str) -> str:
    """`name` as a PostgreSQL identifier: double quotes around, double quotes inside doubled."""
    return _enclose(name, '"', '"')


def quote_mssql(name: str) -> str:
    """`name` as a SQL Server identifier: brackets around, closing brackets inside doubled."""
    return _enclose(name, "[", "]")


def literal_mssql(value: str) -> str:
    """`value` as a T-SQL Unicode string literal: N'…' with single quotes inside doubled."""
    return _enclose(value, "N'", "'", what="string")


def quote(name: str, engine: str) -> str:
    """`name` as an identifier of the engine."""
    return _enclose(name, *engine_of(engine).quotes)


def short_id(restore_id: str) -> str:
    """The part of the restore id that names its databases (see the module docstring)."""
    if not isinstance(restore_id, str) or not restore_id:
        raise ValidationError("a restore id must be a non-empty string")
    alnum = "".join(ch for ch in restore_id if ch.isascii() and ch.isalnum()).lower()
    if len(alnum) >= SHORT_ID_LEN:
        return alnum[-SHORT_ID_LEN:]
    return hashlib.sha256(restore_id.encode("utf-8")).hexdigest()[:SHORT_ID_LEN]


def _cut(name: str, room: int, engine: Engine) -> str:
    """The longest prefix of `name` within `room` (bytes for PostgreSQL, characters otherwise)."""
    if not engine.limit_in_bytes:
        return name[:room]
    out, used = [], 0
    for ch in name:
        size = len(ch.encode("utf-8"))
        if used + size > room:
            break
        out.append(ch)
        used += size
    return "".join(out)


def _derived(db: str, restore_id: str, engine: str, tag: str) -> str:
    eng = engine_of(engine)
    validate_name(db, eng.name)
    suffix = f"__{tag}_{short_id(restore_id)}"
    limit = eng.name_limit
    if name_length(db + suffix, eng.name) <= limit:
        return db + suffix
    digest = "_" + hashlib.sha256(db.encode("utf-8")).hexdigest()[:HASH_LEN]
    return _cut(db, limit - len(suffix) - len(digest), eng) + digest + suffix


def restored_name(db: str, restore_id: str, engine: str) -> str:
    """The name RestoreTable brings database `db` back under: `<db>__rst_<short>` (see the module docstring)."""
    return _derived(db, restore_id, engine, RESTORED_TAG)


def aside_name(db: str, restore_id: str, engine: str) -> str:
    """Where the live database `db` is kept after the restore: `<db>__pre_<short>` (see the module docstring)."""
    return _derived(db, restore_id, engine, ASIDE_TAG)


# -- MySQL object definitions ---------------------------------------------------------------------------------------

# Compiled on first use (re.compile caches them): only MySQL definitions need them, and compiling their unicode
# classes at import cost every restore step's cold start ~9 ms.
_WORD = r"[0-9A-Za-z_$\u0080-\uffff]+"
_EXEC_COMMENT = r"/\*M?!\d{0,6}"
_AT = r"""@@?(?:[0-9A-Za-z_$.\u0080-\uffff]+|`(?:[^`]|``)*`|'(?:[^'\\]|''|\\.)*'|"(?:[^"\\]|""|\\.)*")?"""
_DEFINER = (r"""^(\s*CREATE\s+(?:OR\s+REPLACE\s+)?(?:ALGORITHM\s*=\s*\w+\s+)?)"""
            r"""DEFINER\s*=\s*(?:`(?:[^`]|``)*`|'(?:[^'\\]|''|\\.)*'|[^\s@`']+)"""
            r"""(?:\s*@\s*(?:`(?:[^`]|``)*`|'(?:[^'\\]|''|\\.)*'|[^\s`']+))?\s+""")


def strip_definer(definition: str) -> str:
    """A `CREATE … DEFINER=user@host …` statement without its DEFINER clause (the object is then defined by the
    account that runs it). Used when that account may not name another definer (no SUPER / SET USER)."""
    return re.compile(_DEFINER, re.IGNORECASE | re.DOTALL).sub(r"\1", definition, count=1)


def _tokens(sql: str, ansi_quotes: bool, backslash_escapes: bool) -> Iterator[tuple[str, int, int, str | None]]:
    """Significant tokens of a MySQL statement as (kind, start, end, value): kind is "ident" (bare or quoted name,
    value unquoted), "." or "other". Strings, comments and numbers are skipped; the content of executable comments
    (`/*! … */`, `/*M! … */`) is code and is tokenized."""
    i, n, in_exec = 0, len(sql), False
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif sql.startswith("/*", i):
            m = re.compile(_EXEC_COMMENT).match(sql, i)
            if m:
                in_exec, i = True, m.end()
            else:
                end = sql.find("*/", i + 2)
                i = n if end < 0 else end + 2
        elif in_exec and sql.startswith("*/", i):
            in_exec, i = False, i + 2
        elif ch == "#" or (sql.startswith("--", i) and (i + 2 >= n or sql[i + 2].isspace() or ord(sql[i + 2]) < 32)):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif ch == "`" or (ch == '"' and ansi_quotes):
            j, parts = i + 1, []
            while j < n:
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        parts.append(ch)
                        j += 2
                        continue
                    break
                parts.append(sql[j])
                j += 1
            yield "ident", i, j + 1, "".join(parts)
            i = j + 1
        elif ch in "'\"":
            j = i + 1
            while j < n:
                if backslash_escapes and sql[j] == "\\":
                    j += 2
                    continue
                if sql[j] == ch:
                    if j + 1 < n and sql[j + 1] == ch:
                        j += 2
                        continue
                    break
                j += 1
            yield "other", i, j + 1, None
            i = j + 1
        elif ch == "@":
            m = re.compile(_AT).match(sql, i)
            assert m is not None        # "@" alone matches
            yield "other", i, m.end(), None        # @user_var, @@system.var, and the @host of user@host
            i = m.end()
        elif ch == ".":
            yield ".", i, i + 1, None
            i += 1
        else:
            m = re.compile(_WORD).match(sql, i)
            if m:
                word = m.group()
                yield ("other" if word.isdigit() else "ident"), i, m.end(), word
                i = m.end()
            else:
                yield "other", i, i + 1, None
                i += 1


def rewrite_schema_qualifiers(sql: str, old: str, new: str, *, ansi_quotes: bool = False,
                              backslash_escapes: bool = True, fold_case: bool = False,
                              schema_tables: frozenset[str] | set[str] = frozenset(),
                              schema_objects: frozenset[str] | set[str] = frozenset()) -> str:
    """Point the schema qualifiers `old`.x of a MySQL statement (trigger, routine or event definition) at `new`.

    A qualifier is a name followed by `.` and another name, itself not after a `.`. `old`.x.y (three parts) is
    always a schema qualifier. `old`.x is one too, unless `old` is also the name of a table or view of the schema
    (`schema_tables`) and x is not the name of one of its objects (`schema_objects`): then `old`.x is read as the
    column x of table `old`. Strings, comments, user variables and `user@host` are never changed; the rewritten
    qualifier is always backtick-quoted. Not handled: a table alias spelled like the schema name. `fold_case`
    compares names case-insensitively (lower_case_table_names = 1 or 2)."""
    def same(a: str, b: str) -> bool:
        return a.lower() == b.lower() if fold_case else a == b

    def member(name: str, names: Iterable[str]) -> bool:
        return any(same(name, x) for x in names)

    toks = list(_tokens(sql, ansi_quotes, backslash_escapes))
    edits = []
    for k, (kind, start, end, value) in enumerate(toks):
        if kind != "ident" or value is None or not same(value, old):
            continue
        if k > 0 and toks[k - 1][0] == ".":
            continue
        if not (k + 2 < len(toks) and toks[k + 1][0] == "." and toks[k + 2][0] == "ident"):
            continue
        three_part = k + 4 < len(toks) and toks[k + 3][0] == "." and toks[k + 4][0] == "ident"
        if not three_part and member(old, schema_tables) and not member(toks[k + 2][3] or "", schema_objects):
            continue
        edits.append((start, end))
    out, pos = [], 0
    for start, end in edits:
        out += [sql[pos:start], quote_mysql(new)]
        pos = end
    out.append(sql[pos:])
    return "".join(out)
