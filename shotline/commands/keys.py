"""``shotline keys create --tenant NAME``: a new API key, printed once as the last word."""

from __future__ import annotations

from typing import Annotated

import typer

from foundation.errors import ShotlineError
from shotline.console import fail_with
from shotline.group import ShotlineGroup

keys_app = typer.Typer(
    cls=ShotlineGroup, no_args_is_help=True, help="API keys of the HTTP API's tenants."
)


@keys_app.command("create")
def create(
    tenant: Annotated[str, typer.Option(help="the tenant the key belongs to")],
) -> None:
    """Create an API key for TENANT (new tenants are created); the key is shown only now."""
    from rich.markup import escape

    from api import auth
    from foundation.settings import get_settings
    from shotline.terminal import terminal

    console = terminal(stderr=True)
    try:
        key = auth.create_key(get_settings().db_url, tenant)
    except ShotlineError as exc:
        fail_with(exc, console, False)
    console.print(f"API key for tenant [bold]{escape(tenant)}[/] (stored hashed; shown only once):")
    typer.echo(key)


@keys_app.command("revoke")
def revoke(key: Annotated[str, typer.Argument(help="the key to revoke")]) -> None:
    """Revoke a key; requests with it are refused from now on."""
    from api import auth
    from foundation.settings import get_settings
    from shotline.terminal import terminal

    if not auth.revoke_key(get_settings().db_url, key):
        terminal(stderr=True).print("[red]error:[/] no such active key")
        raise typer.Exit(2)
    typer.echo("revoked")


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")
