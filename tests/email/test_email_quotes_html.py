"""Reply stripping in many languages, and the HTML sanitiser and converter."""

from __future__ import annotations

import pytest
from helpline.ingest.email.html import html_to_text, sanitise
from helpline.ingest.email.quotes import strip_quotes

Q = "\n> old text\n> more old text\n"


@pytest.mark.parametrize(
    "attribution",
    [
        "On Mon, 2 Mar 2026 at 10:14, Support <support@example.com> wrote:",
        "On 02/03/2026 10:14, Helpline Support wrote:",
        "Am 02.03.2026 um 10:14 schrieb Support <support@example.com>:",
        "Am Mo., 2. März 2026 um 10:14 Uhr schrieb Support <support@example.com>:",
        "Le lun. 2 mars 2026 à 10:14, Support <support@example.com> a\u00a0écrit\u00a0:",
        "Le 02/03/2026 à 10:14, Support a écrit :",
        "El lun, 2 mar 2026 a las 10:14, Soporte (<support@example.com>) escribió:",
        "Op ma 2 mrt 2026 om 10:14 schreef Support <support@example.com>:",
        "Il giorno lun 2 mar 2026 alle ore 10:14 Support <support@example.com> ha scritto:",
        "Em seg., 2 de mar. de 2026 às 10:14, Suporte <support@example.com> escreveu:",
        "Den 2 mars 2026 kl. 10:14 skrev Support <support@example.com>:",
        "man. 2. mar. 2026 kl. 10:14 skrev Support <support@example.com>:",
        "Den man. 2. mar. 2026 kl. 10.14 skrev Support <support@example.com>:",
        "2026年3月2日(月) 10:14 Helpline Support <support@example.com>:",
    ],
)
def test_attribution_lines(attribution):
    assert strip_quotes("New text here.\n\n" + attribution + "\n" + Q) == "New text here."


@pytest.mark.parametrize(
    "block",
    [
        "-----Original Message-----\nFrom: Support\nSent: Monday\nTo: Bob\nSubject: RE: x",
        "-----Ursprüngliche Nachricht-----\nVon: Support\nGesendet: Montag\nAn: Bob\nBetreff: AW: x",
        "________________________________\nFrom: Support <s@example.com>\nSent: Monday, March 2, 2026 10:14 AM\n"
        "To: Bob\nSubject: RE: x",
        "Von: Support <s@example.com>\nGesendet: Montag, 2. März 2026 10:14\nAn: Bob\nBetreff: AW: x",
        "De : Support <s@example.com>\nEnvoyé : lundi 2 mars 2026 10:14\nÀ : Bob\nObjet : RE: x",
        "*From:* Support <s@example.com>\n*Sent:* Monday\n*To:* Bob\n*Subject:* RE: x",
        "De: Soporte <s@example.com>\nEnviado el: lunes, 2 de marzo de 2026 10:14\nPara: Bob\nAsunto: RE: x",
    ],
)
def test_outlook_blocks(block):
    assert strip_quotes("New text here.\n\n" + block + "\n\nold body\nmore old body\n") == "New text here."


@pytest.mark.parametrize(
    "footer",
    [
        "Sent from my iPhone",
        "Von meinem iPhone gesendet",
        "Envoyé de mon iPhone",
        "Get Outlook for iOS",
        "Get Outlook for Android<https://aka.ms/ghei36>",
        "Sent from my Samsung Galaxy smartphone.",
        "Enviado desde mi iPhone",
    ],
)
def test_mobile_footers(footer):
    assert strip_quotes("Works now.\n\n" + footer + "\n") == "Works now."


def test_signature_after_dash_dash_space():
    assert strip_quotes("Text.\n-- \nBob\nPhone 123\n") == "Text."


def test_customer_words_are_kept():
    text = (
        "Thanks, the first account works.\n- but the second does not\n- nor the third\n\n"
        "On Monday I wrote about this already:\nthe sync is broken.\n\nBest regards,\nAnn"
    )
    assert strip_quotes(text) == text


def test_sentence_starting_like_a_footer_is_kept():
    text = "Sent from my iPhone the app crashes every time\nwhen I open settings.\nPlease help."
    assert strip_quotes(text) == text


def test_interleaved_answers_are_kept():
    text = "On 02.03.26 10:14, Support wrote:\n> Did you restart?\n\nYes.\n\n> Cleared the cache?\n\nNo.\n"
    assert strip_quotes(text) == "Yes.\n\nNo."


def test_nothing_left_keeps_everything():
    assert strip_quotes("> only\n> quoted\n") == "> only\n> quoted"


def test_crlf_and_wrapped_gmail_attribution():
    text = (
        "Still broken.\r\n\r\nOn Mon, 2 Mar 2026 at 10:14, Helpline Support Team <\r\n"
        "support@example.com> wrote:\r\n> x\r\n"
    )
    assert strip_quotes(text) == "Still broken."


FORWARDED = (
    "From: Shop <shop@example.com>\nDate: Mon, 2 Mar 2026 at 09:00\nSubject: Your order\nTo: me@example.com\n\nShipped."
)


@pytest.mark.parametrize(
    "marker",
    [
        "---------- Forwarded message ---------",
        "Begin forwarded message:",
        "-------- Weitergeleitete Nachricht --------",
        "Début du message réexpédié :",
    ],
)
def test_forwarded_message_is_content_not_history(marker):
    text = "FYI, see below.\n\n" + marker + "\n" + FORWARDED
    assert strip_quotes(text) == text


def test_outlook_forward_keeps_the_header_block_when_the_subject_says_so():
    text = "FYI\n\n________________________________\n" + FORWARDED.replace("Date:", "Sent:")
    assert strip_quotes(text, forwarded=True) == text
    assert strip_quotes(text) == "FYI"


def test_forward_subject_prefixes(normalise):
    body = (
        b"\r\nFYI\r\n\r\nFrom: Shop <shop@example.com>\r\nSent: Monday\r\nTo: me@example.com\r\n"
        b"Subject: Order\r\n\r\nShipped.\r\n"
    )
    head = b"From: a@example.com\r\nMessage-ID: <f@example.com>\r\nDate: Mon, 2 Mar 2026 09:00:00 +0100\r\nSubject: "
    for subject, kept in (
        (b"Fwd: Order", True),
        (b"WG: Bestellung", True),
        (b"TR: Commande", True),
        (b"AW: WG: Bestellung", True),
        (b"Re: Order", False),
        (b"Invoice FW: x", False),
    ):
        assert normalise(head + subject + body).text.endswith("Shipped.") is kept, subject


def test_sanitise_allow_list():
    html = (
        '<p style="color:red" onclick="x()" class="c">Hi <font color="red">there</font>'
        '<img src="http://t.example/p.gif"><img src="data:image/png;base64,AAAA"><img src="CID:a@b">'
        '<iframe src="https://e.example"></iframe>'
        '<a href="javascript:alert(1)">j</a><a href="mailto:x@y.z">m</a></p><!-- c --><form><input name=q></form>'
    )
    assert sanitise(html) == (
        '<p>Hi <font color="red">there</font><img><img><img src="CID:a@b">'
        '<a rel="noopener noreferrer nofollow">j</a>'
        '<a href="mailto:x@y.z" rel="noopener noreferrer nofollow">m</a></p>'
    )


def test_html_to_text():
    html = (
        "<html><head><title>T</title><style>p{}</style></head><body><h1>Title</h1><p>One&nbsp;two "
        "<a href='https://x.example'>link text</a></p><ul><li>a</li><li>b</li></ul>"
        "<div>Line<br>break</div><blockquote>quoted<br>more</blockquote><script>evil()</script>"
        "<pre>  code\n    indented</pre><table><tr><td>c1</td><td>c2</td></tr></table></body></html>"
    )
    assert html_to_text(html) == (
        "Title\n\nOne two link text\n\n- a\n- b\n\nLine\nbreak\n\n> quoted\n> more\n\n  code\n    indented\n\nc1\tc2"
    )
