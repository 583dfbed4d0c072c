"""`cloudwarden users`: local dashboard/API users and their API tokens."""

from __future__ import annotations

import typer
from rich.table import Table

from cloudwarden.cli.common import cli_errors, console, settings, state_store
from cloudwarden.server.auth_store import AuthStore

app = typer.Typer(help="Dashboard and API users: add, list, change passwords, API tokens.", no_args_is_help=True)


def _auth() -> AuthStore:
    return AuthStore(state_store(settings()))


def _password(value: str | None) -> str:
    return value or typer.prompt("password", hide_input=True, confirmation_prompt=True)


@app.command("add")
def add(username: str, role: str = typer.Option("viewer", help="viewer | analyst | admin"),
        password: str = typer.Option(None, help="Prompted when omitted (avoid passwords on the command line).")) -> None:
    """Add a user."""
    with cli_errors():
        auth = _auth()
        u = auth.add_user(username, _password(password), role)
        auth.audit("cli", "user.add", u.username, f"role={role}")
        console.print(f"added {u.username} ({u.role})")


@app.command("list")
def list_users() -> None:
    """List users."""
    with cli_errors():
        t = Table("user", "role", "disabled")
        for u in _auth().list_users():
            t.add_row(u.username, u.role, "yes" if u.disabled else "")
        console.print(t)


@app.command("passwd")
def passwd(username: str, password: str = typer.Option(None, help="Prompted when omitted.")) -> None:
    """Set a user's password (ends their open sessions)."""
    with cli_errors():
        auth = _auth()
        auth.set_password(username, _password(password))
        auth.audit("cli", "user.passwd", username)
        console.print(f"password changed for {username}")


@app.command("role")
def role(username: str, new_role: str) -> None:
    """Change a user's role."""
    with cli_errors():
        auth = _auth()
        auth.set_role(username, new_role)
        auth.audit("cli", "user.role", username, f"role={new_role}")
        console.print(f"{username} is now {new_role}")


@app.command("disable")
def disable(username: str) -> None:
    """Disable a user (their sessions end, their tokens stop working)."""
    with cli_errors():
        auth = _auth()
        auth.set_disabled(username, True)
        auth.audit("cli", "user.disable", username)
        console.print(f"{username} disabled")


@app.command("token")
def token(username: str, name: str = typer.Option("automation", help="A label for the token."),
          revoke: int = typer.Option(None, help="Revoke the token with this id instead.")) -> None:
    """Create an API token acting as USERNAME (printed once), or revoke one with --revoke ID."""
    with cli_errors():
        auth = _auth()
        if revoke is not None:
            auth.revoke_token(revoke)
            auth.audit("cli", "token.revoke", str(revoke))
            console.print(f"token {revoke} revoked")
            return
        value = auth.create_token(username, name)
        auth.audit("cli", "token.create", username, name)
        typer.echo(value)
