"""Fixtures of the security tests: the webhook tests' public listener (signing sources ``shop`` and ``crm``)."""
from __future__ import annotations

from ..webhook.conftest import hook_settings, server  # noqa: F401 (fixtures)
