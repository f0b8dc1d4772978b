"""aiosmtpd's private surface that ingest/smtp.py depends on (issue 13 item 9).

HelplineSMTP replaces ``smtp_DATA`` (streaming to a spooled file, no line
length limit, the terminator read by ingest/smtp_data.py), overrides
``_getaddr`` (aiosmtpd's defines a class on every call) and calls private
helpers. None of that is aiosmtpd's public API, so pyproject.toml pins the
tested range and this test fails on any release whose private code we rely on
changed: review ingest/smtp.py against the new code, then update the digests.
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
from importlib.metadata import version

from aiosmtpd.smtp import SMTP

from helpline.ingest.channels.smtp import HelplineSMTP

TESTED = "1.4.6"

# method -> sha256 of its source in the tested release (first 16 hex digits)
PRIVATE = {
    "_getaddr": "0aeb21c56ac1260e",  # overridden: same answers, no per-call class
    "smtp_DATA": "3a33f30d3fd6d02f",  # replaced: our copy must keep its checks and states
    "_set_post_data_state": "1dc8a8abca2a8164",  # called after DATA
    "_call_handler_hook": "6ff23a6634ea0307",  # calls Handler.handle_DATA
    "_cb_client_connected": "a73e95bb7f362ab9",  # sets self._reader / self._writer, which we read from
    "check_helo_needed": "9829bb73251c983e",
    "check_auth_needed": "812bbc794078b1b0",
    # our smtp_DATA sets the whole-DATA deadline with it, then restores the command deadline
    "_reset_timeout": "fef19b94d28dff31",
    # resets the timer only when a whole valid command arrived: that makes ``timeout`` a
    # whole-command deadline (HELPLINE_SMTP_COMMAND_TIMEOUT_S) however slowly bytes trickle
    "_handle_client": "0e4d096403af6c74",
    # a refused connection (conn_limits) never calls these: they must not be needed for cleanup,
    # and connection_made runs again for the TLS layer after STARTTLS (we count a connection once)
    "connection_made": "77a45df5065bba34",
    "connection_lost": "d3bf6349bc3c25c1",
    # builds the StreamReader with limit=line_length_limit: smtp_data.read_data's LimitOverrunError path
    "__init__": "8a9ca80f23ad9bf2",
}


def _digest(name: str) -> str:
    return hashlib.sha256(inspect.getsource(getattr(SMTP, name)).encode()).hexdigest()[:16]


def test_the_installed_aiosmtpd_is_the_tested_release():
    assert version("aiosmtpd") == TESTED, (
        f"aiosmtpd {version('aiosmtpd')} is installed, ingest/smtp.py was checked against {TESTED}: "
        "review its private hooks against the new release and update this test"
    )


def test_private_methods_we_depend_on_are_unchanged():
    changed = [name for name, digest in PRIVATE.items() if _digest(name) != digest]
    assert not changed, f"aiosmtpd changed {changed}: review ingest/smtp.py's use of them, then update PRIVATE"


def test_our_overrides_are_still_overrides():
    for name in ("_getaddr", "smtp_DATA"):
        assert getattr(HelplineSMTP, name) is not getattr(SMTP, name)
        assert (
            inspect.signature(getattr(HelplineSMTP, name)).parameters.keys()
            == inspect.signature(getattr(SMTP, name)).parameters.keys()
        )


def test_getaddr_override_agrees_with_aiosmtpd():
    async def make() -> tuple[SMTP, HelplineSMTP]:
        return SMTP(object()), HelplineSMTP(object())

    theirs, ours = asyncio.run(make())
    for arg in [
        "<a@example.org>",
        "<a@example.org> SIZE=100",
        "a@example.org",
        "",
        "<>",
        "<bad",
        "<" + "x" * 70 + "@e.org>",
        '<"quoted local"@example.org>',
        "<a@[127.0.0.1]>",
    ]:
        assert ours._getaddr(arg) == theirs._getaddr(arg), arg  # noqa: SLF001
