"""Templates: per language with fallback, operator overrides, HTML escaping, compiled once."""
from __future__ import annotations

import time

from helpline.notifier import render
from helpline.notifier.templates import render_ack


def ack(**kw):  # noqa: ANN003, ANN201
    base = dict(ticket_number="HL-2026-000001", subject="Order", customer_name="Ann Lee",
                support_address="support@example.com", recipient="ann@example.org", in_reply_to="",
                references=[], message_id="<m@example.com>")
    return render_ack(**{**base, **kw})


def test_ack_per_language_with_fallback():
    assert ack()["text"].startswith("Hello Ann Lee,\n\nThank you for contacting us.")
    assert ack(language="de")["text"].startswith("Hallo Ann Lee,\n\nvielen Dank")
    assert ack(language="de-AT")["text"].startswith("Hallo Ann Lee,")  # base language
    assert ack(language="fr")["text"].startswith("Hello Ann Lee,")  # no French file: the default
    assert ack(language="../../etc")["text"].startswith("Hello Ann Lee,")  # never a path


def test_ack_without_echo_repeats_no_name():
    assert ack(echo=False, language="de")["text"].startswith("Hallo,\n")


def test_operator_override_wins(tmp_path):
    (tmp_path / "de").mkdir()
    (tmp_path / "ack.txt").write_text("Hi {{ customer_name or 'there' }}: {{ ticket_number }}\n")
    (tmp_path / "de" / "status_resolved.txt").write_text("Erledigt: {{ ticket_number }}\n")
    assert ack(templates_dir=str(tmp_path))["text"] == "Hi Ann Lee: HL-2026-000001\n"
    t = render.templates(str(tmp_path))
    assert t.render("status_resolved.txt", "de", ticket_number="HL-1") == "Erledigt: HL-1\n"
    # Not overridden: the bundled file.
    assert t.render("status_resolved.txt", "en", ticket_number="HL-1", reopen_days="7").count("HL-1") == 1


def test_html_is_escaped_text_is_not():
    t = render.templates()
    ctx = dict(customer_name="<b>x</b>", ticket_number="HL-1", subject='"><script>alert(1)</script>',
               agent_name="A&B", reopen_days="7", support_address="s@example.com")
    html = t.render("status_resolved.html", None, **ctx)
    assert "<script>" not in html and "&lt;script&gt;" in html and "&lt;b&gt;x&lt;/b&gt;" in html
    assert "A&amp;B" in html
    text = t.render("status_resolved.txt", None, **ctx)
    assert "A&B" in text and "&amp;" not in text


def test_missing_template_names_itself():
    try:
        render.templates().render("nope.txt")
    except render.TemplateMissing as exc:
        assert "nope.txt" in str(exc)
    else:
        raise AssertionError("no error")


def test_ack_render_is_fast():
    ack(language="de")  # compile
    n = 2000
    t0 = time.perf_counter()
    for _ in range(n):
        render.templates().render("ack.txt", "de", greeting="Hello,", customer_name="", ticket_number="HL-1",
                                  support_address="s@example.com")
    per = (time.perf_counter() - t0) / n
    print(f"ack template render: {per * 1e6:.1f} µs")
    assert per < 0.001  # generous: the bench figure is in the report, this only catches recompiling per call
