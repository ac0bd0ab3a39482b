"""`defib db`: schema migrations."""

from __future__ import annotations

import typer

from defib.cli.common import ConfigOption, settings_or_exit
from defib.cli.output import console

app = typer.Typer(no_args_is_help=True, help="Database schema.")


@app.command()
def upgrade(config: ConfigOption = None) -> None:
    """Apply every pending migration."""
    from defib.store import migrate
    from defib.store.database import Database

    settings = settings_or_exit(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(settings.resolved_database_url)
    try:
        before = migrate.current_revision(db)
        migrate.upgrade(db)
        after = migrate.current_revision(db)
    finally:
        db.dispose()
    if before == after:
        console.print(f"database already at revision {after}")
    else:
        console.print(f"database upgraded from {before or 'empty'} to {after}")


@app.command()
def current(config: ConfigOption = None) -> None:
    """Print the schema revision."""
    from defib.store import migrate
    from defib.store.database import Database

    settings = settings_or_exit(config)
    db = Database(settings.resolved_database_url)
    try:
        console.print(migrate.current_revision(db) or "empty")
    finally:
        db.dispose()
