import click


class CliError(click.ClickException):
    """A refused request: one line on stderr, exit code 1."""

    def show(self, file=None) -> None:
        click.echo(f"nestbackup: {self.message}", err=True)
