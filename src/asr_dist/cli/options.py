"""RUN OPTIONS as Click options, generated from the RunConfig dataclass (one source of truth)."""
from __future__ import annotations

import typing
from dataclasses import fields

import click

from ..config import RunConfig, from_dict, load_yaml

_TYPES = {int: click.INT, float: click.FLOAT, str: click.STRING}


def run_options(func):
    """Decorate a command with --config and one flag per RunConfig field (default None = unset)."""
    for f in reversed(fields(RunConfig)):
        flag = "--" + f.name.replace("_", "-")
        hint = typing.get_type_hints(RunConfig)[f.name]
        base = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        help_text = f"{f.metadata['help']} [default: {f.default}]"
        if base[0] is bool:
            no = "--no-" + f.name.replace("_", "-")
            func = click.option(f"{flag}/{no}", f.name, default=None, help=help_text)(func)
        elif f.metadata.get("choices"):
            func = click.option(flag, f.name, type=click.Choice(f.metadata["choices"]), default=None,
                                help=help_text)(func)
        else:
            func = click.option(flag, f.name, type=_TYPES.get(base[0], click.STRING), default=None,
                                help=help_text)(func)
    func = click.option("--config", "config_file", type=click.Path(dir_okay=False), default=None,
                        help="RUN.yaml with run options (flags override it)")(func)
    return func


def build_config(config_file: str | None, options: dict) -> RunConfig:
    """Defaults < YAML file < flags; validated, unknown YAML keys rejected."""
    base = load_yaml(config_file) if config_file else RunConfig()
    flags = {k: v for k, v in options.items() if v is not None and k in {f.name for f in fields(RunConfig)}}
    return from_dict(flags, base, source="options") if flags else base
