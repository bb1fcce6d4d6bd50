"""The command line's conventions that need no cloud: global flags anywhere, tables with a header row whose cells are
never cut, times as a UTC time or an age, and a --help that explains every command and option."""
import re
import time

import click
import pytest

from nestbackup.cli.arguments import reorder, utc_or_age
from nestbackup.cli.main import main
from nestbackup.cli.output import table_lines


@pytest.mark.parametrize("given, expected", [
    (["backup", "list", "-v"], ["-v", "backup", "list"]),
    (["--json", "backup", "list", "--instance", "si-1"], ["backup", "list", "--instance", "si-1", "--json"]),
    (["--endpoint", "http://x/api", "--token", "t", "backup", "show", "backup-1"],
     ["backup", "show", "backup-1", "--endpoint", "http://x/api", "--token", "t"]),
    (["backup", "list", "--log-format", "json", "--json"], ["--log-format", "json", "backup", "list", "--json"]),
    (["--log-format=json", "backup", "delete", "backup-1", "--yes"],
     ["--log-format=json", "backup", "delete", "backup-1", "--yes"]),
    (["backup", "create", "--instance", "si-1", "--", "-v"], ["backup", "create", "--instance", "si-1", "--", "-v"]),
    (["backup", "--json", "show", "backup-1"], ["backup", "show", "backup-1", "--json"]),
    (["local", "--endpoint", "http://e", "seed", "--instance", "si-1"],
     ["local", "seed", "--instance", "si-1", "--endpoint", "http://e"]),
    (["backup", "list", "--instance", "--json"], ["backup", "list", "--instance", "--json"]),   # click says what's wrong
])
def test_global_flags_are_taken_anywhere_on_the_line(given, expected):
    assert reorder(given, main) == expected


def test_a_table_has_a_header_row_and_never_cuts_a_cell():
    long_id = "backup-0193a8f2c4d1e5f6a7b8c9d0e1f2a3b4c5d6"
    lines = table_lines(("BACKUP", "STATUS", "DESCRIPTION"), [[long_id, "Created", "nightly"], ["b-2", "X", ""]])
    assert lines[0].split() == ["BACKUP", "STATUS", "DESCRIPTION"]
    assert lines[1].startswith(long_id + "   Created")
    assert lines[2].rstrip() == lines[2] and lines[2].index("X") == lines[1].index("Created")


def test_times_are_a_utc_time_a_date_or_an_age():
    assert utc_or_age("2026-12-06T04:00:00Z", "--since") == "2026-12-06T04:00:00Z"
    assert utc_or_age("2026-12-06T04:00", "--since") == "2026-12-06T04:00:00Z"
    assert utc_or_age("2026-12-06", "--since") == "2026-12-06T00:00:00Z"
    two_hours_ago = time.strftime("%Y-%m-%dT%H", time.gmtime(time.time() - 7200))
    assert utc_or_age("2h", "--since").startswith(two_hours_ago)
    with pytest.raises(click.BadParameter):
        utc_or_age("yesterday", "--since")


def _commands(group: click.Group, path=()):
    for name, command in group.commands.items():
        yield (*path, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


def _listing_limit(path) -> int:
    """How much of a command's short help its group's --help shows on an 80-column terminal (as click counts)."""
    group = main
    for name in path[:-1]:
        group = group.commands[name]
    return 80 - 6 - max(len(name) for name in group.commands)


def test_every_command_and_option_says_what_it_does_in_full():
    ctx = click.Context(main, info_name="nestbackup")
    for path, command in _commands(main):
        assert command.help or command.short_help, path
        short = command.get_short_help_str(limit=_listing_limit(path))
        assert not short.endswith("..."), (path, short)         # the listing in the parent's --help is not cut
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (path, param.name)
    assert re.search(r"Exit codes: 0 .* 3 .* 130", main.get_help(ctx).replace("\n", " "))


def test_every_api_command_takes_json_or_says_why_not():
    plain = {("schedule", "delete"), ("tenant", "delete"),          # they answer one line, nothing to parse
             ("admin", "catalog", "export")}                        # what it writes is JSON lines already
    for path, command in _commands(main):
        names = {p.name for p in command.params}
        if "endpoint" in names and "token" in names and path not in plain:
            assert "as_json" in names, path


def test_the_live_table_keeps_every_id_whole_at_80_columns_beside_a_long_cause():
    from rich.console import Console

    from nestbackup.cli.live import table
    record = {"BackupId": "backup-01a24a4d491bfca361b5", "Status": "Creating", "Resources": [
        {"ResourceId": "d-l9v30wg1bukrr8cy29wu", "ResourceType": "disk", "Status": "Pending", "Progress": 0,
         "WaitReason": "IncorrectDiskStatus.CreatingSnapshot: the disk is being snapshotted",
         "WaitDeadline": "2026-12-06T08:41:45Z"},
        {"ResourceId": "rm-bp1234567890abcdefgh", "ResourceType": "rds", "Status": "Failed", "Progress": 0,
         "ErrorCode": "InvalidDBInstanceStatus", "StartTime": "2026-12-06T07:41:45Z",
         "ErrorMessage": "The instance status does not support this operation right now, try later"},
        {"ResourceId": "d-oc91cxobnf9t0ir9zkgm", "ResourceType": "disk", "Status": "Succeeded", "Progress": 100,
         "ArtifactId": "s-eddhu950sw76okolj1nl", "StartTime": "2026-12-06T07:41:45Z",
         "EndTime": "2026-12-06T07:41:46Z"}]}
    console = Console(width=80, force_terminal=False, record=True)
    console.print(table(record))
    text = console.export_text()
    assert max(len(line) for line in text.splitlines()) <= 80
    for whole in ("backup-01a24a4d491bfca361b5", "d-l9v30wg1bukrr8cy29wu", "rm-bp1234567890abcdefgh",
                  "d-oc91cxobnf9t0ir9zkgm", "s-eddhu950sw76okolj1nl"):
        assert whole in text, whole
    assert "waiting:" in text and "2026-12-06T08:41:45Z" in text                 # why it waits, and by when
