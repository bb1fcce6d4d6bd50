"""What the command line accepts beyond click's defaults: global flags anywhere on the line (as the cloud CLIs and
kubectl take them), times as a UTC timestamp or an age, and a confirmation before anything is deleted."""
from __future__ import annotations

import re
import sys
import time

import click

from .errors import CliError

# The root's own flags: taken wherever they stand and put before the command.
ROOT_FLAGS = {"-v", "--verbose"}
ROOT_WITH_VALUE = {"--log-format"}
# Every API command's flags: given before the command words (`nestbackup --json backup list`), put after them.
COMMAND_FLAGS = {"--json", "--yes", "-y", "--confirm"}
COMMAND_WITH_VALUE = {"--endpoint", "--token"}


def reorder(args: list[str], root: click.Group) -> list[str]:
    """`args` with the root's flags first, and the command flags given before the command's own name (between the
    group words, as `nestbackup --json backup show ID` or `nestbackup backup --json show ID`) after it; everything
    from `--` on is left where it is."""
    front: list[str] = []
    middle: list[str] = []
    back: list[str] = []
    rest: list[str] = []
    group: click.Command | None = root       # the group whose command word comes next; None once the command is in
    i = 0
    while i < len(args):
        arg = args[i]
        name = arg.split("=", 1)[0]
        takes_value = "=" not in arg and i + 1 < len(args)
        if arg == "--":
            rest = args[i:]
            break
        if name in ROOT_FLAGS:
            front.append(arg)
        elif name in ROOT_WITH_VALUE:
            front += args[i:i + 2] if takes_value else [arg]
            i += 1 if takes_value else 0
        elif group is not None and name in COMMAND_FLAGS:
            back.append(arg)
        elif group is not None and name in COMMAND_WITH_VALUE:
            back += args[i:i + 2] if takes_value else [arg]
            i += 1 if takes_value else 0
        else:
            if group is not None and not arg.startswith("-"):
                found = group.commands.get(arg) if isinstance(group, click.Group) else None
                group = found if isinstance(found, click.Group) else None
            middle.append(arg)
        i += 1
    return front + middle + back + rest


def api_options(fn):
    """--endpoint and --token on every command that calls the API (accepted anywhere on the line)."""
    fn = click.option("--token", envvar="NESTBACKUP_TOKEN", default=None,
                      help="Bearer token (or NESTBACKUP_TOKEN).")(fn)
    return click.option("--endpoint", envvar="NESTBACKUP_ENDPOINT", default="http://127.0.0.1:8900/api",
                        show_default=True, help="Base URL of the nestbackup API (or NESTBACKUP_ENDPOINT).")(fn)


def yes_option(fn):
    return click.option("--yes", "-y", "--confirm", "yes", is_flag=True,     # --confirm: velero's spelling
                        help="Do not ask for confirmation (needed where there is no terminal to ask on).")(fn)


class Cli(click.Group):
    """The root group: global flags are accepted anywhere on the line."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, reorder(list(args), self))


_AGE = re.compile(r"([0-9]{1,6})([smhdw])")
_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
_UTC = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(T[0-9]{2}:[0-9]{2}(:[0-9]{2})?Z?)?")


def utc_or_age(value: str | None, option: str) -> str | None:
    """A time option as the API takes it (2026-12-06T04:00:00Z): a UTC time, a date (its midnight), or an age
    (90m, 12h, 7d, 2w: that long ago)."""
    if value is None:
        return None
    age = _AGE.fullmatch(value)
    if age:
        return time.strftime("%Y-%m-%dT%H:%M:%SZ",
                             time.gmtime(time.time() - int(age.group(1)) * _SECONDS[age.group(2)]))
    if _UTC.fullmatch(value):
        day, _, clock = value.rstrip("Z").partition("T")
        clock = clock or "00:00:00"
        return f"{day}T{clock if clock.count(':') == 2 else clock + ':00'}Z"
    raise click.BadParameter("a UTC time (2026-12-06T04:00:00Z), a date (2026-12-06) or an age (90m, 12h, 7d, 2w)",
                             param_hint=option)


def confirm(yes: bool, question: str, refused: str) -> None:
    """Go on when `yes` or the person at the terminal says so; refuse on a line without a terminal to ask on (a
    script must say --yes)."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CliError(f"{refused} without confirmation: there is no terminal to ask on; pass --yes")
    try:
        agreed = click.confirm(question, default=False, err=True)
    except click.Abort:                 # Ctrl-C or end of input at the prompt: a no
        agreed = False
    if not agreed:
        raise CliError("nothing was deleted")
