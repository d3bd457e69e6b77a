"""Command-line overrides checked before Hydra runs: every bad one becomes one ConfigError line.

Part of the command line (like cli.py, it may import Hydra/OmegaConf). Three checks, in order:
the override grammar (Hydra's parser), composition (unknown keys, missing `+`, bad group options:
Hydra's compose API), and value types: an override must have the type of the value it replaces
(a number for a number, a boolean for a boolean, a list for a list), so `seed=abc` is refused here
instead of failing deep inside the run with a traceback. The keys in LIST_OK_KEYS (arrival.rate: a
rate list sweeps inside one run, see cli.rate_list) also take a list whose every item has the default's type.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from l4bench.errors import ConfigError

#: number keys that also take a list of numbers (one run sweeps them: cli.rate_list)
LIST_OK_KEYS = ("arrival.rate",)


def _first_line(exc: BaseException) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    if len(lines) > 1 and lines[1].startswith("To append"):  # Hydra's hint for a key that needs `+`
        return f"{lines[0]} {lines[1]}"
    return lines[0] if lines else type(exc).__name__


def _kind(value: Any) -> str | None:
    """The type family an override must keep: number | boolean | list | mapping | None (anything)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, dict):
        return "mapping"
    return None


def check_value(key: str, default: Any, value: Any, list_ok: bool = False) -> None:
    """Raise ConfigError when `value` does not have the type family of `default` (list_ok: or is a list of it)."""
    want = _kind(default)
    if want is None or value is None:
        return  # strings, nulls and untyped defaults take anything; null resets a value
    if list_ok and want != "list" and isinstance(value, (list, tuple)):
        for item in value:
            check_value(key, default, item)
        return
    got = _kind(value)
    if got != want:
        raise ConfigError(f"{key}: expected a {want} (like the default {default!r:.60}), got {value!r:.60}")


def _compose(config_dir: Path, overrides: list[str]) -> Any:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    try:
        with initialize_config_dir(config_dir=str(config_dir), version_base="1.3"):
            return compose(config_name="config", overrides=overrides)
    finally:
        GlobalHydra.instance().clear()


def _first_choice(arg: str, override: Any) -> str:
    """The override itself, or for a sweep over a group its first choice (`workload=a,b` -> `workload=a`)."""
    if not override.is_sweep_override():
        return arg
    prefix = arg.split("=", 1)[0]
    return f"{prefix}={next(iter(override.sweep_iterator()))}"


def check_all(argv: list[str], config_dir: Path, groups: tuple[str, ...]) -> None:
    """Parse, compose and type-check the overrides in argv (flags such as -m are skipped)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException
    from omegaconf import OmegaConf
    from omegaconf.errors import OmegaConfBaseException

    args = [a for a in argv if not a.startswith("-")]
    try:
        parsed = OverridesParser.create().parse_overrides(args)
    except HydraException as exc:
        raise ConfigError(f"bad override: {_first_line(exc)}") from None
    plain = [a for a, o in zip(args, parsed, strict=True) if not o.is_sweep_override()]
    # group choices compose one at a time (a sweep `workload=a,b` is ambiguous outside multirun)
    selections = [_first_choice(a, o) for a, o in zip(args, parsed, strict=True) if o.key_or_group in groups]
    try:
        defaults = OmegaConf.to_container(_compose(config_dir, selections), resolve=False)
        _compose(config_dir, plain)
    except (HydraException, OmegaConfBaseException) as exc:
        raise ConfigError(_first_line(exc)) from None
    for o in parsed:
        key = o.key_or_group
        if o.is_delete() or o.is_add() or key in groups or key.split(".")[0] == "hydra":
            continue
        node: Any = defaults
        for part in key.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        values = list(o.sweep_iterator()) if o.is_sweep_override() else [o.value()]
        for value in values:
            check_value(key, node, value, key in LIST_OK_KEYS)
