"""A tokenizer and interpreter for the small T-SQL subset the local SQL Server stand-in executes.

What is real: T-SQL lexical rules for what is supported (bare and [bracketed] identifiers with `]]`,
N'..' / '..' literals with `''`, `--` comments, `;`-separated batches), case-insensitive keywords and
names, SQL Server's error numbers and messages, and its batch semantics for syntax errors: the whole
batch is parsed first, so a syntax error runs none of it.
What is not: there is no query engine — only the statements listed in `SUPPORTED` are recognised,
anything else is error 102. There are no transactions (every statement applies at once), no column
types (values are ints, Decimals, strings and NULL), and a runtime error ends the batch (SQL Server
continues after some statement-level errors).
"""
from __future__ import annotations

import decimal
import re
from dataclasses import dataclass, field
from typing import Callable, Iterator

from .catalog import MAX_NAME, Catalog, SqlError, key, name_length, no_database

VERSION = "Microsoft SQL Server 2019 (local cloud stand-in: TDS wire protocol, JSON catalog)"

SUPPORTED = (
    "SELECT @@VERSION; SELECT name, user_access_desc FROM sys.databases [WHERE name = N'..']; "
    "CREATE DATABASE d; DROP DATABASE d; USE d; "
    "ALTER DATABASE d SET SINGLE_USER WITH ROLLBACK IMMEDIATE | SET MULTI_USER | MODIFY NAME = n; "
    "CREATE TABLE [d.][s.]t (columns); INSERT INTO t [(columns)] VALUES (..)[, (..)]; "
    "DELETE FROM t [WHERE c {=|<>|<|<=|>|>=} literal]; SELECT COUNT_BIG(*) FROM t; SELECT * FROM t; "
    "SELECT s.name, t.name FROM d.sys.tables t JOIN d.sys.schemas s ON s.schema_id = t.schema_id [WHERE t.name = N'..']"
)

_NUMBER = re.compile(r"\d+(?:\.\d*)?|\.\d+")
_BIGINT = 2**63
_TABLE_CONSTRAINTS = {"constraint", "primary", "unique", "foreign", "check", "index"}
_NOT_AN_ALIAS = {"join", "inner", "on", "where"}


# ---------------------------------------------------------------------------------------------- tokens
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


# ---------------------------------------------------------------------------------------------- results
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


def _result_types(columns: list[str], rows: list[list]) -> ResultSet:
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


_COMPARISONS = ("<=", ">=", "<>", "!=", "=", "<", ">")


def _compare(stored, op: str, literal) -> bool:
    """`column op literal`; NULL compares to nothing (as with ANSI_NULLS on)."""
    if op == "=":
        return _equal(stored, literal)
    if stored is None or literal is None:
        return False
    if op in ("<>", "!="):
        return not _equal(stored, literal)
    numbers = (int, decimal.Decimal)
    if isinstance(stored, numbers) and isinstance(literal, numbers):
        a, b = stored, literal
    elif isinstance(stored, str) and isinstance(literal, str):
        a, b = key(stored), key(literal)
    else:
        return False
    return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]


def _equal(stored, literal) -> bool:
    """`column = literal` under a case-insensitive collation; NULL equals nothing."""
    if stored is None or literal is None:
        return False
    if isinstance(stored, str) and isinstance(literal, str):
        return key(stored) == key(literal)
    if isinstance(stored, (int, decimal.Decimal)) and isinstance(literal, (int, decimal.Decimal)):
        return stored == literal
    return False


# ---------------------------------------------------------------------------------------------- sessions
class Session:
    """One client connection's state: its current database, and how to disconnect it."""

    def __init__(self, database: str, on_kill: Callable[[], None]) -> None:
        self.database = database
        self.alive = True
        self._on_kill = on_kill


@dataclass
class _Name:
    db: str
    schema: str
    table: str
    written: str  # for "Invalid object name '...'"


# ---------------------------------------------------------------------------------------------- engine
class Engine:
    """Executes batches for sessions against a Catalog. Each statement runs under the catalog lock, so
    checks on other sessions ("is anyone else in this database?") and the change they guard are atomic."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._sessions: list[Session] = []

    def open_session(self, database: str, on_kill: Callable[[], None]) -> Session:
        """Log a session in to `database` (the LOGIN7 database field; empty means master)."""
        with self.catalog.lock:
            session = Session("master", on_kill)
            try:
                self.use(session, database or "master")
            except SqlError as e:
                if e.number != 911:
                    raise
                raise SqlError(4060, f'Cannot open database "{database}" requested by the login. '
                                     "The login failed.", 11) from None
            self._sessions.append(session)
            return session

    def close_session(self, session: Session) -> None:
        with self.catalog.lock:
            session.alive = False
            if session in self._sessions:
                self._sessions.remove(session)

    def sessions(self) -> list[Session]:
        with self.catalog.lock:
            return list(self._sessions)

    def execute(self, session: Session, text: str) -> Iterator[Outcome]:
        """Parse the whole batch (a syntax error runs nothing), then run it statement by statement.
        Raises SqlError at the first failing statement, after yielding the outcomes before it."""
        statements = _Parser(tokenize(text)).batch()
        for run, args in statements:
            with self.catalog.lock:
                if not session.alive:  # killed by another session's ROLLBACK IMMEDIATE meanwhile
                    return
                outcome = getattr(self, run)(session, *args)
            yield outcome

    # ------------------------------------------------------------------------------ helpers
    def _others_in(self, session: Session, db: str) -> list[Session]:
        return [s for s in self._sessions if s is not session and key(s.database) == key(db)]

    def _existing(self, name: str) -> str:
        canonical = self.catalog.canonical(name)
        if canonical is None:
            raise no_database(name)
        return canonical

    def _resolve(self, session: Session, parts: list[str]) -> _Name:
        db, schema = session.database, "dbo"
        if len(parts) == 3:
            db, schema = self._existing(parts[0]), parts[1]
        elif len(parts) == 2:
            schema = parts[0]
        return _Name(db, schema, parts[-1], ".".join(parts))

    def _table(self, session: Session, parts: list[str]) -> tuple[_Name, list[str], list[list]]:
        name = self._resolve(session, parts)
        found = self.catalog.table(name.db, name.schema, name.table)
        if found is None:
            raise SqlError(208, f"Invalid object name '{name.written}'.")
        return name, found[0], found[1]

    # ------------------------------------------------------------------------------ statements
    def use(self, session: Session, name: str) -> Outcome:
        db = self._existing(name)
        if self.catalog.user_access(db) == "SINGLE_USER" and self._others_in(session, db):
            raise SqlError(924, f"Database '{db}' is already open and can only have one user at a time.", 14)
        old, session.database = session.database, db
        return Outcome(database=(db, old), infos=[(5701, f"Changed database context to '{db}'.")])

    def version(self, session: Session) -> Outcome:
        return Outcome(ResultSet([Column("", "nvarchar")], [[VERSION]]), rowcount=1)

    def list_databases(self, session: Session, columns: list[str], where: str | None) -> Outcome:
        rows = [
            [{"name": name, "user_access_desc": access}[c] for c in columns]
            for name, access in self.catalog.all_databases()
            if where is None or key(name) == key(where)
        ]
        return Outcome(ResultSet([Column(c, "nvarchar") for c in columns], rows), rowcount=len(rows))

    def list_tables(self, session: Session, db: str, select: list[str], where: tuple[str, str] | None) -> Outcome:
        rows = []
        for schema, table in self.catalog.tables(self._existing(db)):
            values = {"schemas": schema, "tables": table}
            if where is None or key(values[where[0]]) == key(where[1]):
                rows.append([values[s] for s in select])
        return Outcome(ResultSet([Column("name", "nvarchar") for _ in select], rows), rowcount=len(rows))

    def create_database(self, session: Session, name: str) -> Outcome:
        self.catalog.create_database(name)
        return Outcome()

    def drop_database(self, session: Session, name: str) -> Outcome:
        db = self._existing(name)
        # SQL Server refuses while any session, the dropping one included, is using the database.
        if any(key(s.database) == key(db) for s in self._sessions):
            raise SqlError(3702, f'Cannot drop database "{db}" because it is currently in use.')
        self.catalog.drop_database(db)
        return Outcome()

    def set_access(self, session: Session, name: str, access: str, rollback_immediate: bool) -> Outcome:
        db = self._existing(name)
        if access == "SINGLE_USER":
            others = self._others_in(session, db)
            if others and not rollback_immediate:
                raise SqlError(5061, f"ALTER DATABASE failed because a lock could not be placed on database "
                                     f"'{db}'. Try again later.")
            for other in others:
                self._kill(other)
        self.catalog.set_user_access(db, access)
        return Outcome()

    def rename_database(self, session: Session, name: str, new: str) -> Outcome:
        db = self._existing(name)
        if self._others_in(session, db):
            raise SqlError(5030, "The database could not be exclusively locked to perform the operation.")
        self.catalog.rename_database(db, new)
        for s in self._sessions:
            if key(s.database) == key(db):
                s.database = new
        return Outcome(infos=[(5022, f"The database name '{new}' has been set.")])

    def create_table(self, session: Session, parts: list[str], columns: list[str]) -> Outcome:
        name = self._resolve(session, parts)
        seen: set[str] = set()
        for column in columns:
            if key(column) in seen:
                raise SqlError(2705, f"Column names in each table must be unique. Column name '{column}' in "
                                     f"table '{name.written}' is specified more than once.")
            seen.add(key(column))
        self.catalog.create_table(self._existing(name.db), name.schema, name.table, columns)
        return Outcome()

    def insert(self, session: Session, parts: list[str], targets: list[str] | None, values: list[list]) -> Outcome:
        name, columns, _ = self._table(session, parts)
        index = {key(c): i for i, c in enumerate(columns)}
        positions = list(range(len(columns)))
        if targets is not None:
            positions = []
            for t in targets:
                if key(t) not in index:
                    raise SqlError(207, f"Invalid column name '{t}'.")
                if index[key(t)] in positions:
                    raise SqlError(264, f"The column name '{t}' is specified more than once in the SET clause "
                                        "or column list of an INSERT. A column cannot be assigned more than one "
                                        "value in the same clause.")
                positions.append(index[key(t)])
        rows = []
        for tup in values:
            if len(tup) != len(positions):
                more = "more" if len(positions) > len(tup) else "fewer"
                raise SqlError(109 if more == "more" else 110,
                               f"There are {more} columns in the INSERT statement than values specified in the "
                               "VALUES clause. The number of values in the VALUES clause must match the number of "
                               "columns specified in the INSERT statement.")
            row = [None] * len(columns)
            for position, value in zip(positions, tup):
                row[position] = value
            rows.append(row)
        self.catalog.insert_rows(name.db, name.schema, name.table, rows)
        return Outcome(rowcount=len(rows))

    def delete(self, session: Session, parts: list[str], where: tuple[str, str, object] | None) -> Outcome:
        name, columns, rows = self._table(session, parts)
        if where is None:
            kept = []
        else:
            column, op, literal = where
            index = {key(c): i for i, c in enumerate(columns)}
            if key(column) not in index:
                raise SqlError(207, f"Invalid column name '{column}'.")
            kept = [r for r in rows if not _compare(r[index[key(column)]], op, literal)]
        self.catalog.replace_rows(name.db, name.schema, name.table, kept)
        return Outcome(rowcount=len(rows) - len(kept))

    def count(self, session: Session, parts: list[str]) -> Outcome:
        rows = self._table(session, parts)[2]
        return Outcome(ResultSet([Column("", "bigint")], [[len(rows)]]), rowcount=1)

    def select_all(self, session: Session, parts: list[str]) -> Outcome:
        _, columns, rows = self._table(session, parts)
        return Outcome(_result_types(columns, rows), rowcount=len(rows))

    def _kill(self, session: Session) -> None:
        session.alive = False
        self._sessions.remove(session)
        session._on_kill()


# ---------------------------------------------------------------------------------------------- parser
class _Parser:
    """Recursive descent over the token list; each statement becomes (Engine method name, arguments)."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.i = 0

    # ------------------------------------------------------------------------------ primitives
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self) -> SqlError:
        tok = self.tok
        if tok.kind == "end":  # SQL Server reports the last token when the batch ends too early
            tok = self.tokens[self.i - 1] if self.i else tok
        return syntax_error(tok.text)

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def accept(self, *words: str) -> bool:
        if self.tok.is_word(*words):
            self.i += 1
            return True
        return False

    def expect(self, *words: str) -> str:
        if not self.tok.is_word(*words):
            raise self.error()
        return str(self.advance().value).lower()

    def accept_sym(self, sym: str) -> bool:
        if self.tok.kind == "sym" and self.tok.value == sym:
            self.i += 1
            return True
        return False

    def expect_sym(self, sym: str) -> None:
        if not self.accept_sym(sym):
            raise self.error()

    def ident(self) -> str:
        if self.tok.kind not in ("word", "qid"):
            raise self.error()
        return str(self.advance().value)

    def dotted(self, most: int = 3) -> list[str]:
        parts = [self.ident()]
        while len(parts) < most and self.accept_sym("."):
            parts.append(self.ident())
        return parts

    def string(self) -> str:
        if self.tok.kind != "str":
            raise self.error()
        return str(self.advance().value)

    def literal(self) -> object:
        if self.accept("null"):
            return None
        if self.tok.kind == "str":
            return self.advance().value
        negative = self.accept_sym("-")
        if self.tok.kind != "num":
            raise self.error()
        value = self.advance().value
        return -value if negative else value

    def is_name(self, tok: Token, name: str) -> bool:
        return tok.kind in ("word", "qid") and key(str(tok.value)) == name

    # ------------------------------------------------------------------------------ statements
    def batch(self) -> list[tuple[str, tuple]]:
        statements = []
        while True:
            while self.accept_sym(";"):
                pass
            if self.tok.kind == "end":
                return statements
            statements.append(self.statement())

    def statement(self) -> tuple[str, tuple]:
        verb = self.expect("select", "create", "drop", "alter", "use", "insert", "delete")
        if verb == "select":
            return self.select()
        if verb == "use":
            return "use", (self.ident(),)
        if verb == "insert":
            self.accept("into")
            return self.insert()
        if verb == "delete":
            self.accept("from")
            parts = self.dotted()
            where = None
            if self.accept("where"):
                column = self.ident()
                op = next((o for o in _COMPARISONS if self.accept_sym(o)), None)
                if op is None:
                    raise self.error()
                where = (column, op, self.literal())
            return "delete", (parts, where)
        if verb == "drop":
            self.expect("database")
            return "drop_database", (self.ident(),)
        if verb == "create":
            if self.expect("database", "table") == "database":
                return "create_database", (self.ident(),)
            return self.create_table()
        self.expect("database")  # ALTER
        name = self.ident()
        if self.accept("modify"):
            self.expect("name")
            self.expect_sym("=")
            return "rename_database", (name, self.ident())
        self.expect("set")
        access = self.expect("single_user", "multi_user").upper()
        rollback = self.accept("with")
        if rollback:
            self.expect("rollback")
            self.expect("immediate")
        return "set_access", (name, access, rollback)

    def create_table(self) -> tuple[str, tuple]:
        parts = self.dotted()
        self.expect_sym("(")
        columns = []
        while True:
            if self.tok.is_word(*_TABLE_CONSTRAINTS):
                self.skip_definition()
            else:
                columns.append(self.ident())
                self.skip_definition()
            if self.accept_sym(")"):
                break
            self.expect_sym(",")
        if not columns:
            raise self.error()
        return "create_table", (parts, columns)

    def skip_definition(self) -> None:
        """Skip a column's type and options (or a table constraint) up to the next top-level ',' or ')'."""
        depth = 0
        while True:
            tok = self.tok
            if tok.kind == "end" or tok.kind == "sym" and tok.value in ",)" and depth == 0:
                if tok.kind == "end":
                    raise self.error()
                return
            if tok.kind == "sym" and tok.value == "(":
                depth += 1
            elif tok.kind == "sym" and tok.value == ")":
                depth -= 1
            self.i += 1

    def insert(self) -> tuple[str, tuple]:
        parts = self.dotted()
        targets = None
        if self.accept_sym("("):
            targets = [self.ident()]
            while self.accept_sym(","):
                targets.append(self.ident())
            self.expect_sym(")")
        self.expect("values")
        rows = []
        while True:
            self.expect_sym("(")
            row = [self.literal()]
            while self.accept_sym(","):
                row.append(self.literal())
            self.expect_sym(")")
            rows.append(row)
            if not self.accept_sym(","):
                return "insert", (parts, targets, rows)

    def select(self) -> tuple[str, tuple]:
        if self.accept("@@version"):
            return "version", ()
        if self.accept("count_big"):
            self.expect_sym("(")
            self.expect_sym("*")
            self.expect_sym(")")
            self.expect("from")
            return "count", (self.dotted(),)
        if self.accept_sym("*"):
            self.expect("from")
            return "select_all", (self.dotted(),)
        select = [self.dotted(2)]
        while self.accept_sym(","):
            select.append(self.dotted(2))
        self.expect("from")
        start = self.i
        source = self.dotted()
        if [key(p) for p in source] == ["sys", "databases"]:
            return self.select_databases(select)
        self.i = start
        return self.select_tables(select)

    def select_databases(self, select: list[list[str]]) -> tuple[str, tuple]:
        columns = []
        for parts in select:
            if len(parts) != 1 or key(parts[0]) not in ("name", "user_access_desc"):
                raise syntax_error(".".join(parts))
            columns.append(key(parts[0]))
        where = None
        if self.accept("where"):
            if not self.is_name(self.tok, "name"):
                raise self.error()
            self.advance()
            self.expect_sym("=")
            where = self.string()
        return "list_databases", (columns, where)

    def catalog_view(self) -> tuple[str, str, str]:
        """`<db>.sys.tables|schemas [AS] alias` -> (db, view, alias)."""
        parts = self.dotted()
        if len(parts) != 3 or key(parts[1]) != "sys" or key(parts[2]) not in ("tables", "schemas"):
            raise syntax_error(".".join(parts))
        alias = parts[2]
        if self.accept("as") or (self.tok.kind in ("word", "qid") and not self.tok.is_word(*_NOT_AN_ALIAS)):
            alias = self.ident()
        return parts[0], key(parts[2]), key(alias)

    def select_tables(self, select: list[list[str]]) -> tuple[str, tuple]:
        first = self.catalog_view()
        self.accept("inner")
        self.expect("join")
        second = self.catalog_view()
        views = {first[2]: first[1], second[2]: second[1]}
        if {first[1], second[1]} != {"tables", "schemas"} or len(views) != 2 or key(first[0]) != key(second[0]):
            raise self.error()
        self.expect("on")
        joined = set()
        for i in range(2):
            if i:
                self.expect_sym("=")
            ref = self.dotted(2)
            if len(ref) != 2 or key(ref[0]) not in views or key(ref[1]) != "schema_id":
                raise syntax_error(".".join(ref))
            joined.add(views[key(ref[0])])
        if joined != {"tables", "schemas"}:
            raise self.error()
        columns = []
        for ref in select:
            if len(ref) != 2 or key(ref[0]) not in views or key(ref[1]) != "name":
                raise syntax_error(".".join(ref))
            columns.append(views[key(ref[0])])
        where = None
        if self.accept("where"):
            ref = self.dotted(2)
            if len(ref) != 2 or key(ref[0]) not in views or key(ref[1]) != "name":
                raise syntax_error(".".join(ref))
            self.expect_sym("=")
            where = (views[key(ref[0])], self.string())
        return "list_tables", (first[0], columns, where)
