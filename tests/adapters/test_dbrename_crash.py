"""Crash safety of the rename: the process dies after any single statement (the hook raises), then a re-run finishes
or a roll-back returns to the names of before, and both leave every database consistent. Real servers."""
from __future__ import annotations

import re

import pytest

from nestbackup.adapters.databases import rename_back, roll_back
from nestbackup.errors import Conflict
from tests.adapters.test_dbrename import check_mysql_swapped, my_setup, my_snapshot, pg_setup, pg_snapshot
from tests.support.dbservers import MY, PG, my_drop, my_exists, pg_drop, pg_exists


class Crash(Exception):
    """The process died here."""


def crash_at(n: int):
    seen = []

    def hook(label: str) -> None:
        seen.append(label)
        if len(seen) == n:
            raise Crash(label)
    return hook


def _generic(label: str, names: tuple) -> str:
    """A statement's label with the database names of one set-up replaced, to compare across set-ups."""
    original, restored, aside = names
    label = re.sub(r"nestbackup_mark_[0-9a-f]{24}", "<M>", label)
    return label.replace(restored, "<R>").replace(aside, "<A>").replace(original, "<O>")


def statements(fn, server, *names) -> list[str]:
    labels: list[str] = []
    fn(server, *names, on_statement=labels.append)
    return [_generic(label, names) for label in labels]


def crashed(fn, server, *names, at: int) -> str:
    with pytest.raises(Crash) as exc:
        fn(server, *names, on_statement=crash_at(at))
    return _generic(str(exc.value), names)


# -- MySQL --------------------------------------------------------------------------------------------------------

def mysql_forward_labels(with_original: bool) -> list[str]:
    made: list[str] = []
    try:
        o, r, a = my_setup("hostile", made, with_original=with_original)
        return statements(rename_back, MY, o, r, a)
    finally:
        my_drop(*made)


@pytest.mark.parametrize("with_original", [True, False])
def test_mysql_crash_after_every_statement_then_re_run(with_original):
    labels = mysql_forward_labels(with_original)
    assert "swap tables" in labels and len(labels) > 10
    for i, label in enumerate(labels, 1):
        made: list[str] = []
        try:
            o, r, a = my_setup("hostile", made, with_original=with_original)
            before_o = my_snapshot(o) if with_original else None
            before_r = my_snapshot(r)
            assert crashed(rename_back, MY, o, r, a, at=i) == label
            result = rename_back(MY, o, r, a)
            assert result.status == "Done" and result.aside_kept is with_original, (i, label)
            check_mysql_swapped(o, r, a, before_o, before_r)
        except Exception as err:
            raise AssertionError(f"crash after statement {i} ({label}): {err!r}") from err
        finally:
            my_drop(*made)


@pytest.mark.parametrize("with_original", [True, False])
def test_mysql_crash_after_every_statement_then_roll_back(with_original):
    labels = mysql_forward_labels(with_original)
    for i, label in enumerate(labels, 1):
        made: list[str] = []
        try:
            o, r, a = my_setup("hostile", made, with_original=with_original)
            before_o = my_snapshot(o) if with_original else None
            before_r = my_snapshot(r)
            crashed(rename_back, MY, o, r, a, at=i)
            if i == len(labels):                      # the last statement completed the rename: nothing to undo
                continue
            assert roll_back(MY, o, r, a).status == "RolledBack"
            assert my_snapshot(r) == before_r and not my_exists(a)
            assert (my_snapshot(o) == before_o) if with_original else not my_exists(o)
        except Exception as err:
            raise AssertionError(f"crash after statement {i} ({label}), roll-back: {err!r}") from err
        finally:
            my_drop(*made)


@pytest.mark.parametrize("where", ["journal meta", "swap tables", "after swap"])
def test_mysql_crash_in_the_roll_back_itself_then_roll_back_again_then_rename(where):
    labels = mysql_forward_labels(True)
    at = labels.index("swap tables") + 4 if where == "after swap" else labels.index(where) + 1

    def setup(made):
        o, r, a = my_setup("hostile", made)
        before = my_snapshot(o), my_snapshot(r)
        crashed(rename_back, MY, o, r, a, at=at)
        return (o, r, a), before

    made: list[str] = []
    try:
        names_, _ = setup(made)
        back_labels = statements(roll_back, MY, *names_)
    finally:
        my_drop(*made)
    assert back_labels
    for j, label in enumerate(back_labels, 1):
        made = []
        try:
            (o, r, a), (before_o, before_r) = setup(made)
            assert crashed(roll_back, MY, o, r, a, at=j) == label
            roll_back(MY, o, r, a)
            assert my_snapshot(o) == before_o and my_snapshot(r) == before_r and not my_exists(a)
            rename_back(MY, o, r, a)                  # and the restore can then go ahead after all
            check_mysql_swapped(o, r, a, before_o, before_r)
        except Exception as err:
            raise AssertionError(f"roll-back crash after statement {j} ({label}): {err!r}") from err
        finally:
            my_drop(*made)


# -- PostgreSQL ---------------------------------------------------------------------------------------------------

def pg_forward_labels(with_original: bool) -> list[str]:
    made: list[str] = []
    try:
        o, r, a = pg_setup("hostile", made, with_original=with_original)
        return statements(rename_back, PG, o, r, a)
    finally:
        pg_drop(*made)


@pytest.mark.parametrize("with_original", [True, False])
def test_pg_crash_after_every_statement_then_re_run_or_roll_back(with_original):
    labels = pg_forward_labels(with_original)
    assert len(labels) >= (6 if with_original else 8)
    for i, label in enumerate(labels, 1):
        for then in ("re-run", "roll back"):
            made: list[str] = []
            try:
                o, r, a = pg_setup("hostile", made, with_original=with_original)
                before_o = pg_snapshot(o) if with_original else None
                before_r = pg_snapshot(r)
                assert crashed(rename_back, PG, o, r, a, at=i) == label
                complete = i >= labels.index("rename <R> to <O>") + 1      # the restored database is in place
                if then == "roll back" and complete:
                    with pytest.raises(Conflict, match="completed"):
                        roll_back(PG, o, r, a)
                if then == "re-run" or complete:
                    result = rename_back(PG, o, r, a)
                    assert result.status == "Done" and result.aside_kept is with_original
                    assert pg_snapshot(o) == before_r and not pg_exists(r)
                    if with_original:
                        # the aside may be left refusing connections by a crash between blocking and renaming
                        got = pg_snapshot_any(a)
                        assert got == {**before_o, "allow": got["allow"]}
                else:
                    assert roll_back(PG, o, r, a).status == "RolledBack"
                    assert not pg_exists(a) and pg_snapshot_any(r) | {"allow": True} == before_r
                    assert (pg_snapshot(o) == before_o) if with_original else not pg_exists(o)
            except Exception as err:
                raise AssertionError(f"crash after statement {i} ({label}), then {then}: {err!r}") from err
            finally:
                pg_drop(*made)


def pg_snapshot_any(db: str) -> dict:
    """pg_snapshot of a database that may refuse connections (re-enabled for the look, then put back)."""
    from nestbackup.decisions.dbnames import quote_pg
    from tests.support.dbservers import pg_exec
    allow = pg_exec("SELECT datallowconn FROM pg_database WHERE datname = %s", (db,))[0][0]
    if allow:
        return pg_snapshot(db)
    pg_exec(f"ALTER DATABASE {quote_pg(db)} ALLOW_CONNECTIONS true")
    try:
        return {**pg_snapshot(db), "allow": False}
    finally:
        pg_exec(f"ALTER DATABASE {quote_pg(db)} ALLOW_CONNECTIONS false")


def test_pg_crash_in_the_roll_back_itself_then_roll_back_again():
    labels = pg_forward_labels(True)
    at = next(i for i, label in enumerate(labels, 1) if label.startswith("block connections to") and i > 3)

    def setup(made):
        o, r, a = pg_setup("hostile", made)
        before = pg_snapshot(o), pg_snapshot(r)
        crashed(rename_back, PG, o, r, a, at=at)
        return (o, r, a), before

    made: list[str] = []
    try:
        names_, _ = setup(made)
        back_labels = statements(roll_back, PG, *names_)
    finally:
        pg_drop(*made)
    assert any(label.startswith("rename") for label in back_labels)
    for j, label in enumerate(back_labels, 1):
        made = []
        try:
            (o, r, a), (before_o, before_r) = setup(made)
            assert crashed(roll_back, PG, o, r, a, at=j) == label
            roll_back(PG, o, r, a)
            assert pg_snapshot(o) == before_o and not pg_exists(a)
            assert pg_snapshot_any(r) | {"allow": True} == before_r
        except Exception as err:
            raise AssertionError(f"roll-back crash after statement {j} ({label}): {err!r}") from err
        finally:
            pg_drop(*made)
