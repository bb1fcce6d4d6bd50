"""The statement engine of the local SQL Server stand-in: sessions, and the statements run against the Catalog.

What is real: SQL Server's error numbers and messages, its rules on who may be in a database (single-user mode,
ROLLBACK IMMEDIATE disconnecting the others, no drop or rename while others are in it), case-insensitive names and
comparisons, NULL comparing to nothing.
What is not: there is no query engine — only the statements the parser knows (`lexer.SUPPORTED`) run. There are
no transactions (every statement applies at once), no column types (values are ints, Decimals, strings and NULL),
and a runtime error ends the batch (SQL Server continues after some statement-level errors).
"""
from __future__ import annotations

import decimal
from dataclasses import dataclass
from typing import Callable, Iterator

from .catalog import Catalog, SqlError, key, no_database
from .parser import parse_batch
from .results import Column, Outcome, ResultSet, typed_result_set

VERSION = "Microsoft SQL Server 2019 (local cloud stand-in: TDS wire protocol, JSON catalog)"


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


class Session:
    """One client connection's state: its current database, and how to disconnect it."""

    def __init__(self, database: str, on_kill: Callable[[], None], login: str = "sa") -> None:
        self.database = database
        self.login = login
        self.alive = True
        self._on_kill = on_kill


@dataclass
class _Name:
    db: str
    schema: str
    table: str
    written: str  # for "Invalid object name '...'"


class Engine:
    """Executes batches for sessions against a Catalog. Each statement runs under the catalog lock, so
    checks on other sessions ("is anyone else in this database?") and the change they guard are atomic."""

    def __init__(self, catalog: Catalog) -> None:
        self.catalog = catalog
        self._sessions: list[Session] = []

    def open_session(self, database: str, on_kill: Callable[[], None], login: str = "sa") -> Session:
        """Log `login` in to `database` (the LOGIN7 database field; empty means master)."""
        with self.catalog.lock:
            session = Session("master", on_kill, login)
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
        statements = parse_batch(text)
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

    def functions(self, session: Session, calls: list[tuple[str, list]]) -> Outcome:
        """SUSER_SNAME() is the session's login; HAS_PERMS_BY_NAME answers as for a sysadmin (the stand-in's one
        login: there is no permission model): 1 on the server and on a database that exists, NULL on one that does
        not (SQL Server's answer for a securable it cannot find)."""
        row: list = []
        for name, args in calls:
            if name == "suser_sname":
                row.append(session.login)
            elif args[0] is None:
                row.append(1)
            else:
                row.append(1 if self.catalog.canonical(str(args[0])) is not None else None)
        columns = [Column("", "nvarchar" if name == "suser_sname" else "bigint") for name, _ in calls]
        return Outcome(ResultSet(columns, [row]), rowcount=1)

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
        return Outcome(typed_result_set(columns, rows), rowcount=len(rows))

    def _kill(self, session: Session) -> None:
        session.alive = False
        self._sessions.remove(session)
        session._on_kill()
