"""User-facing errors: the CLI prints these as one line, without a traceback."""


class ConfigError(ValueError):
    """A bad option value, unknown name or missing file, phrased as '<option>: <problem>; valid: <choices>'."""
