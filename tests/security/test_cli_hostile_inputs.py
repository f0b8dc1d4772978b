"""Hostile command-line inputs: ``helpline tickets reply --file`` and ``helpline blocklist add`` (issue 12).

Each is refused with an exit code and one line saying why, never a traceback or a hang. Run in this process
through ``main()`` (the ``helpline`` script is ``main()`` and nothing else), against the real database; a FIFO
runs in a thread so that a hang fails the test instead of blocking it. Found and fixed: a FIFO blocked the
command for ever (open waited for a writer), /dev/zero and a directory were "no such file", a symbolic
link was followed wherever it pointed (the desk's own database or key included), a name that is not UTF-8
reached PostgreSQL as lone surrogates; the block list stored NUL (PostgreSQL: refused mid-transaction),
newlines, bidi overrides, over-long addresses, wildcards that never match, and ``co.uk``.
"""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path

import pytest

from helpline.ingest.cli import main as cli
from helpline.ingest.cli.reply_commands import MAX_FILE_BYTES
from helpline.store import models as m
from helpline.store.inbound import blocklist
from helpline.store.siteconfig.config_file import ConfigFileError, parse
from tests.routing.conftest import DESK_TOML, write_config
from tests.support.stack import settings_env
from tests.workers.builders import Desk

ACTOR = "ann@example.com"  # an agent of DESK_TOML


@pytest.fixture
def desk(backend, tmp_path, monkeypatch, capsys) -> Desk:
    s = backend.replace(config_file=write_config(tmp_path, DESK_TOML))
    for k, v in settings_env(s).items():
        monkeypatch.setenv(k, v)
    assert cli.main(["teams", "sync"]) == 0
    capsys.readouterr()
    return Desk(s)


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


def _reply(desk: Desk, capsys, path: str) -> tuple[int, str]:
    ticket, _ = desk.new_ticket()
    return _run(capsys, "tickets", "reply", ticket.number, "--text", "Here it is.", "--actor", ACTOR, "--file", path)


def _nothing_sent() -> None:
    assert m.Outbox.select().where(m.Outbox.kind != "ack").count() == 0


# ---- tickets reply --file --------------------------------------------------------------------------------
def test_file_that_is_a_directory(desk, capsys, tmp_path):
    code, err = _reply(desk, capsys, str(tmp_path))
    assert code == 2 and "is a directory, not a file" in err
    _nothing_sent()


def test_file_that_is_a_fifo_does_not_hang(desk, capsys, tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    ticket, _ = desk.new_ticket()
    got: list[int] = []
    t = threading.Thread(
        target=lambda: got.append(
            cli.main(["tickets", "reply", ticket.number, "--text", "x", "--actor", ACTOR, "--file", str(fifo)])
        ),
        daemon=True,
    )
    t.start()
    t.join(10)
    if t.is_alive():  # it waits for a writer: give it one so the thread ends, then fail
        with open(fifo, "wb"):
            pass
        t.join(5)
        pytest.fail("--file on a FIFO blocked the command")
    assert got == [2] and "is a FIFO, not a regular file" in capsys.readouterr().err
    _nothing_sent()


def test_file_that_is_dev_zero(desk, capsys):
    code, err = _reply(desk, capsys, "/dev/zero")
    assert code == 2 and "is a device or socket, not a regular file" in err


def test_file_over_the_attachment_limit(desk, capsys, tmp_path):
    big = tmp_path / "big.bin"
    with open(big, "wb") as f:
        f.truncate(MAX_FILE_BYTES + 1)  # sparse: no disk used
    code, err = _reply(desk, capsys, str(big))
    assert code == 2 and f"larger than the limit of {MAX_FILE_BYTES}" in err
    _nothing_sent()


def test_file_that_is_a_symlink(desk, capsys, tmp_path):
    link = tmp_path / "report.pdf"
    link.symlink_to("/etc/passwd")
    code, err = _reply(desk, capsys, str(link))
    assert code == 2 and "is a symbolic link" in err
    _nothing_sent()


def test_file_inside_the_desks_data_directory(desk, capsys):
    key = Path(desk.settings.data_dir) / "secret_key"
    key.write_text("not for customers")
    code, err = _reply(desk, capsys, str(key))
    assert code == 2 and "lies in Helpline's data directory" in err
    _nothing_sent()


def test_file_with_a_name_that_is_not_utf8(desk, capsys, tmp_path):
    raw = os.fsencode(tmp_path) + b"/r\xe9sum\xe9\x1b[31m.txt"
    with open(raw, "wb") as f:
        f.write(b"hello")
    name = os.fsdecode(raw)  # as argv hands it over: lone surrogates
    code, err = _reply(desk, capsys, name)
    assert code == 0, err
    [msg] = m.Message.select().where((m.Message.direction == "out") & (m.Message.author_role == "agent"))
    names = [a.filename for a in msg.attachments]
    assert names == ["r\ufffdsum\ufffd[31m.txt"]  # undecodable bytes replaced, the escape character dropped
    assert all(n.encode("utf-8") for n in names)  # no lone surrogates left


def test_missing_file(desk, capsys, tmp_path):
    code, err = _reply(desk, capsys, str(tmp_path / "nope.pdf"))
    assert code == 2 and "no such file" in err


# ---- blocklist add ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "value, says",
    [
        ("spam\x00.example", "control or invisible characters (U+0000)"),
        ("spam.example\nham.example", "control or invisible characters (U+000A)"),
        ("spam\x1b[2J.example", "control or invisible characters (U+001B)"),
        ("evil\u202ecom.example", "control or invisible characters (U+202E)"),
        ("a" * 5000 + ".example", "is 5008 characters"),
        ("promo@" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".example", "not a domain"),
        ("spam*.example", "wildcards are not supported"),
        ("*", "wildcards are not supported"),
        ("xn--zz.example", "not a valid domain name"),
        ("co.uk", "is a public suffix"),
        ("github.io", "is a public suffix"),
    ],
)
def test_blocklist_add_refuses(desk, capsys, value, says):
    code, err = _run(capsys, "blocklist", "add", value)
    assert code == 2 and says in err, err
    assert len(err.strip().splitlines()) == 1  # one line: a newline or escape in the value is shown escaped
    assert blocklist.BlockedSender.select().count() == 0


def test_blocklist_reason_with_nul_is_refused(desk, capsys):
    code, err = _run(capsys, "blocklist", "add", "spam.example", "--reason", "bad\x00reason")
    assert code == 2 and "U+0000" in err
    assert blocklist.BlockedSender.select().count() == 0


def test_blocklist_idn_and_wildcard_forms_are_one_entry(desk, capsys):
    assert _run(capsys, "blocklist", "add", "bücher.example")[0] == 0
    assert _run(capsys, "blocklist", "add", "*.xn--bcher-kva.example")[0] == 0  # the same domain
    assert [(e.kind, e.value) for e in blocklist.BlockedSender.select()] == [("domain", "xn--bcher-kva.example")]
    from helpline.workers.tickets.spam_stage import _blocked

    assert _blocked("info@shop.bücher.example", (), ["xn--bcher-kva.example"])
    assert _blocked("info@shop.xn--bcher-kva.example", (), ["bücher.example"])  # a TOML entry as typed


@pytest.mark.parametrize(
    "block, message",
    [
        ('domains = ["exa\\u0000mple.com"]', "control or invisible"),
        ('domains = ["ex*ample.com"]', "wildcards are not supported"),
        ('domains = ["co.uk"]', "public suffix"),
        ('senders = ["example.com"]', "put it under `domains`"),
        ('domains = ["mallory@example.com"]', "put it under `senders`"),
        ('senders = ["a\\u202eb@example.com"]', "control or invisible"),
    ],
)
def test_the_configuration_file_blocklist_follows_the_commands_rules(block, message):
    """[blocklist] in the TOML file is refused where `helpline blocklist add` refuses the same entry."""
    with pytest.raises(ConfigFileError, match=re.escape(message)):
        parse(f"[blocklist]\n{block}\n", "x.toml")


def test_the_configuration_file_blocklist_keeps_idn_as_punycode():
    cfg = parse('[blocklist]\ndomains = ["*.Bücher.de"]\nsenders = ["Eve@Bücher.de"]\n', "x.toml")
    assert cfg.blocked_domains == ("xn--bcher-kva.de",) and cfg.blocked_senders == ("eve@xn--bcher-kva.de",)
