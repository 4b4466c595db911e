"""Command-line tools (`ahnpl world | negatives | eval | export`): thin argparse entry points over the library, one
module each, kept apart from it (as open_clip keeps `open_clip_train` apart from `open_clip`).

One flag style for every tool: `--kebab-case`. `ToolParser.add_flag` also accepts each flag's `--snake_case`
spelling and any older names (e.g. `--ckpt_path`, `--out`) as hidden aliases, so old command lines keep working.
"""

from __future__ import annotations

import argparse
from typing import Any


class ToolParser(argparse.ArgumentParser):
    """An ArgumentParser whose `add_flag` registers `--kebab-case` flags with hidden aliases."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._required_flags: list[tuple[str, str]] = []

    def add_flag(self, name: str, *aliases: str, group: Any = None, **kwargs: Any) -> argparse.Action:
        """Add `--name` (shown in --help) plus hidden aliases: its snake_case spelling and `aliases`. A `required`
        flag is satisfied by any spelling."""
        container = group if group is not None else self
        required = kwargs.pop("required", False)
        action = container.add_argument(name, **kwargs)
        hidden = [a for a in dict.fromkeys((name.replace("-", "_").replace("__", "--", 1), *aliases)) if a != name]
        if hidden:
            alias_kwargs = {k: v for k, v in kwargs.items() if k not in ("help", "default", "metavar")}
            container.add_argument(*hidden, dest=action.dest, help=argparse.SUPPRESS, default=argparse.SUPPRESS,
                                   **alias_kwargs)
        if required:
            self._required_flags.append((action.dest, name))
        return action

    def parse_args(self, args: Any = None, namespace: Any = None) -> argparse.Namespace:  # type: ignore[override]
        """Parse, then check the required flags (under any of their spellings)."""
        parsed = super().parse_args(args, namespace)
        missing = [name for dest, name in self._required_flags if getattr(parsed, dest, None) is None]
        if missing:
            self.error(f"the following arguments are required: {', '.join(missing)}")
        return parsed
