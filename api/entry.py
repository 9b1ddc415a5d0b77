"""The installed `podlayout` command. `--version` is answered here, before typer, rich and
the commands are imported (they take most of a second on a busy machine); everything else
goes to api.cli."""

from __future__ import annotations

import sys


def main() -> None:
    if sys.argv[1:] == ["--version"]:
        from advisor.version import __version__

        sys.stdout.write(f"podlayout {__version__}\n")
        return
    from api.cli import main as commands

    commands()


if __name__ == "__main__":  # pragma: no cover
    main()
