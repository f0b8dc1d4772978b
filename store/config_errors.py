"""The error a setting or the configuration file raises, in a module of its own so that both
``config`` (settings) and ``config_file`` (the TOML file) can raise it without importing each other."""

from __future__ import annotations

from typing import Any


class ConfigError(ValueError):
    """A setting has a value Helpline cannot use; the message names the variable."""


def kind(value: Any) -> str:
    """How an error message names a TOML value's type ("a number", "a table", …)."""
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "a list",
        dict: "a table",
    }.get(type(value), type(value).__name__)
