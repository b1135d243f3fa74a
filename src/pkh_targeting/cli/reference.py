"""The README's CLI reference, generated from the CLI itself (a test keeps them in sync).

Update it with ``python -m pkh_targeting.cli.reference README.md``.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import typer

from . import app

START, END = "<!-- cli-reference:start -->", "<!-- cli-reference:end -->"


def cli_reference() -> str:
    """Markdown: each command, its help and a table of its options."""
    out = []
    for name, cmd in _commands(typer.main.get_command(app)):
        doc = " ".join((cmd.help or "").split())
        out += [f"#### `pkh-targeting {name}`", "", doc, "", "| option | default | |", "|---|---|---|"]
        for p in cmd.params:
            if p.name == "help":
                continue
            if p.param_type_name == "argument":
                flags = f"`{p.name.upper()}...`" if p.nargs == -1 else f"`{p.name.upper()}`"
            else:
                flags = " / ".join(f"`{o}`" for o in [*p.opts, *p.secondary_opts])
            if p.required:
                default = "required"
            elif getattr(p, "is_flag", False) or p.default is None:
                default = ""
            else:
                default = f"`{p.default}`"
            help_text = " ".join((p.help or "").split()).replace("|", "\\|")
            out.append(f"| {flags} | {default} | {help_text} |")
        out.append("")
    return "\n".join(out).strip() + "\n"


def _commands(group, prefix: str = ""):
    """(name, command) of every command, those of sub-groups (``cases status``) after their group's siblings."""
    for name, cmd in group.commands.items():
        if hasattr(cmd, "commands"):
            yield from _commands(cmd, f"{prefix}{name} ")
        else:
            yield f"{prefix}{name}", cmd


def update(readme) -> bool:
    """Rewrite the section between the markers of ``readme``; return whether it changed."""
    path = Path(readme)
    text = path.read_text()
    new = re.sub(
        f"{re.escape(START)}.*?{re.escape(END)}", lambda _: f"{START}\n{cli_reference()}{END}", text, flags=re.S
    )
    path.write_text(new)
    return new != text


if __name__ == "__main__":  # pragma: no cover
    print("updated" if update(sys.argv[1] if len(sys.argv) > 1 else "README.md") else "already up to date")
