"""`cloudwarden permissions`: the least-privilege read-only IAM policy a scan needs."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cloudwarden.aws.actions import policy_json
from cloudwarden.cli.common import cli_errors


def permissions(
    org: Annotated[bool, typer.Option("--org", help="Add organizations:ListAccounts and sts:AssumeRole for --org-role scans.")] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Write the policy to this file instead of stdout.")] = None,
) -> None:
    """Print the read-only IAM policy (JSON) covering every API call a scan makes."""
    with cli_errors():
        text = policy_json(organization=org)
        if out is None:
            typer.echo(text)
        else:
            out.write_text(text + "\n", encoding="utf-8")
            typer.echo(f"wrote {out}")


def register(root: typer.Typer) -> None:
    root.command("permissions")(permissions)
