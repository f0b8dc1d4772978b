"""Real-world mail that clients get wrong: each class found on a set of
real-world fixtures (issue 12, "Mail fidelity"), with mails written here."""

from __future__ import annotations

import base64

import pytest


def mail(headers: bytes, body: bytes = b"Hello\r\n", ctype: bytes | None = None) -> bytes:
    head = b"To: support@helpline.example\r\nMessage-ID: <fid@example.net>\r\nDate: Mon, 7 Dec 2026 09:00:00 +0000\r\n"
    if ctype:
        head += b"MIME-Version: 1.0\r\nContent-Type: " + ctype + b"\r\n"
    return headers.rstrip(b"\r\n") + b"\r\n" + head + b"\r\n" + body


# --- undeclared 8-bit charsets in headers and attachment names -------------------------------------------


@pytest.mark.parametrize(
    "codec,name,subject",
    [
        ("gbk", "张三", "关于发票的问题"),
        ("big5", "陳大文", "關於帳單的問題請回覆"),
        ("shift_jis", "山田太郎", "請求書について質問があります"),
        ("euc-kr", "김철수", "청구서 문제에 대한 문의입니다"),
        ("cp1252", "François Müller", "Café – problème de facture"),
    ],
)
def test_raw_8bit_headers_are_detected_not_read_as_latin1(normalise, codec, name, subject):
    raw = mail(b"From: " + name.encode(codec) + b" <someone@example.net>\r\nSubject: " + subject.encode(codec))
    env = normalise(raw)
    assert env.sender.name == name
    assert env.sender.address == "someone@example.net"
    assert env.subject == subject


def test_declared_body_charset_is_preferred_for_raw_headers_and_file_names(normalise):
    # 報價單 alone reads as plausible Korean too; the body's big5 label settles it.
    body = (
        b"--b\r\nContent-Type: text/plain; charset=big5\r\n\r\n"
        + "附件是報價單".encode("big5")
        + b'\r\n--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment; filename="'
        + "報價單.pdf".encode("big5")
        + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n'
    )
    env = normalise(
        mail(b"From: a@example.net\r\nSubject: " + "報價單".encode("big5"), body, b'multipart/mixed; boundary="b"')
    )
    assert env.subject == "報價單"
    assert [a.filename for a in env.attachments] == ["報價單.pdf"]
    assert env.text == "附件是報價單"


def test_undeclared_8bit_body_is_detected(normalise):
    text = "こんにちは、請求書について質問があります。よろしくお願いします。"
    env = normalise(mail(b"From: a@example.net\r\nSubject: q", text.encode("shift_jis") + b"\r\n"))
    assert env.text == text


def test_raw_gbk_attachment_name(normalise):
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\nContent-Type: application/pdf\r\n"
        b'Content-Disposition: attachment; filename="'
        + "发票说明.pdf".encode("gbk")
        + b'"\r\nContent-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n'
    )
    env = normalise(mail(b"From: a@example.net\r\nSubject: invoice", body, b'multipart/mixed; boundary="b"'))
    assert [a.filename for a in env.attachments] == ["发票说明.pdf"]


# --- encoded words real clients get slightly wrong ---------------------------------------------------------


@pytest.mark.parametrize(
    "header,expected",
    [
        (b"=?us-ascii?Q?Re: Your order has shipped?=", "Re: Your order has shipped"),
        (b"=?UTF-8?Q? Bestellung=20versandt?=", "Bestellung versandt"),
        (b"=?utf-8?B?5byg5LiJ 5Liw?=", "张三丰"),  # whitespace inside a B payload
        (
            b"=?UTF-8?B?"
            + base64.b64encode("张三丰".encode()[:4])
            + b"?=\r\n =?UTF-8?B?"
            + base64.b64encode("张三丰".encode()[4:])
            + b"?=",
            "张三丰",
        ),
    ],
)
def test_sloppy_encoded_words_in_subject(normalise, header, expected):
    assert normalise(mail(b"From: a@example.net\r\nSubject: " + header)).subject == expected


def test_encoded_words_inside_a_quoted_display_name(normalise):
    env = normalise(mail(b'From: "=?utf-8?Q?J=C3=B6rg M=C3=BCller?=" <jm@example.de>\r\nSubject: s'))
    assert (env.sender.name, env.sender.address) == ("Jörg Müller", "jm@example.de")
    half = "张三丰".encode()
    name = b'"=?UTF-8?B?' + base64.b64encode(half[:4]) + b"?= =?UTF-8?B?" + base64.b64encode(half[4:]) + b'?="'
    env = normalise(mail(b"From: " + name + b" <z@example.cn>\r\nSubject: s"))
    assert env.sender.name == "张三丰"


# --- malformed From headers ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "header,name,address",
    [
        (b"power quadrant system@example.com", "power quadrant", "system@example.com"),
        (b"Test test@example.com", "Test", "test@example.com"),
        (b"=?utf-8?Q?J=C3=B6rg?= joerg@example.de", "Jörg", "joerg@example.de"),
    ],
)
def test_malformed_from_keeps_address_and_name(normalise, header, name, address):
    env = normalise(mail(b"From: " + header + b"\r\nSubject: s"))
    assert (env.sender.name, env.sender.address) == (name, address)


def test_mailer_daemon_without_domain_is_a_bounce_not_an_anonymous_sender(normalise):
    env = normalise(mail(b"From: MAILER-DAEMON (Mail Delivery System)\r\nSubject: Undelivered Mail Returned to Sender"))
    assert (env.sender.name, env.sender.address) == ("Mail Delivery System", "mailer-daemon")
    assert env.auto_reply.bounce


def test_envelope_sender_still_wins_over_a_domainless_from(normalise):
    env = normalise(mail(b"From: mailer-daemon\r\nReturn-Path: <MAILER-DAEMON@mx.example.net>\r\nSubject: s"))
    assert env.sender.address == "mailer-daemon@mx.example.net"


# --- reply stripping ---------------------------------------------------------------------------------------


def test_wrote_glued_to_the_address_on_a_wrapped_attribution(normalise):
    body = (
        b"Thanks, that fixed it.\r\n\r\nOn Mon, Dec 7, 2026 at 10:00 AM Octo Cat <\r\n"
        b"notifications@github.com>wrote:\r\n\r\n> the old comment\r\n> more of it\r\n"
    )
    assert normalise(mail(b"From: a@example.net\r\nSubject: Re: issue", body)).text == "Thanks, that fixed it."


def test_outlook_com_html_reply_with_date_subject_from_to_order(normalise):
    html = (
        b"<div>The new answer is here.</div><hr><div><b>Date:</b> Mon, 7 Dec 2026 10:00<br>"
        b"<b>Subject:</b> Re: order<br><b>From:</b> support@helpline.example<br>"
        b"<b>To:</b> a@example.net<br></div><div>What we wrote before</div>"
    )
    env = normalise(mail(b"From: a@example.net\r\nSubject: Re: order", html, b"text/html; charset=utf-8"))
    assert env.text == "The new answer is here."


def test_windows_mail_russian_labels_with_direction_marks(normalise):
    body = (
        "Спасибо, всё работает.\r\n\r\n\u200f\u200eОт: \u200eSupport <support@helpline.example>\r\n"
        "Отправлено: \u200e7 декабря 2026 г. 10:00\r\nКому: \u200ea@example.net\r\nТема: \u200eRe: x\r\n\r\n"
        "Старый текст\r\n"
    ).encode()
    env = normalise(mail(b"From: a@example.net\r\nSubject: Re: x", body, b"text/plain; charset=utf-8"))
    assert env.text == "Спасибо, всё работает."


def test_a_label_like_line_of_the_customers_own_is_kept(normalise):
    body = b"Date: tomorrow works\r\nTo: whoever reads this\r\nThanks\r\n"
    assert normalise(mail(b"From: a@example.net\r\nSubject: s", body)).text.startswith("Date: tomorrow")


# --- UTF-7 and ISO-2022-JP -----------------------------------------------------------------------------------


@pytest.mark.parametrize("label", [b"utf-7", b"unicode-1-1-utf-7", b"UTF7"])
def test_utf7_in_headers_and_bodies(normalise, label):
    text = "Grüße aus Köln, 東京"
    env = normalise(
        mail(
            b"From: =?"
            + label
            + b"?Q?J+APY-rg?= <j@example.de>\r\nSubject: =?"
            + label
            + b"?Q?"
            + "Grüße".encode("utf-7")
            + b"?=",
            text.encode("utf-7") + b"\r\n",
            b"text/plain; charset=" + label,
        )
    )
    assert (env.sender.name, env.subject, env.text) == ("Jörg", "Grüße", text)


@pytest.mark.parametrize("label", [b"ISO-2022-JP", b"iso-2022-jp-ms", b"csISO2022JP"])
def test_iso2022jp_with_outlook_extensions_is_decoded(normalise, label):
    # "\x1b$B-!" is ① in CP50221, which every Python iso2022_jp codec rejects.
    body = b"\x1b$B-!\x1b(B \x1b$B$*@$OC$K$J$C$F$*$j$^$9!#\x1b(B\r\n"
    env = normalise(mail(b"From: a@example.net\r\nSubject: s", body, b"text/plain; charset=" + label))
    assert env.text == "① お世話になっております。"


def test_iso2022jp_without_a_label_in_body_and_raw_in_a_header(normalise):
    jp = "お問い合わせ".encode("iso2022_jp")
    env = normalise(mail(b"From: a@example.net\r\nSubject: " + jp, jp + b"\r\n"))
    assert (env.subject, env.text) == ("お問い合わせ", "お問い合わせ")


# --- a pseudo-header line above the real headers -------------------------------------------------------------


@pytest.mark.parametrize(
    "preamble",
    [b"---- Original email message ----\r\n", b"\r\n-----Original Message-----\n", b"Forwarded by the archive\r\n\r\n"],
)
def test_preamble_before_the_headers_is_skipped(normalise, preamble):
    env = normalise(preamble + mail(b"From: Ann <ann@example.net>\r\nSubject: still an email"))
    assert (env.sender.address, env.subject, env.text) == ("ann@example.net", "still an email", "Hello")
    assert "preamble_skipped" in env.warnings


def test_text_that_is_not_an_email_is_still_refused(normalise):
    from helpline.ingest.email.normalise import NotAnEmail

    with pytest.raises(NotAnEmail):
        normalise(b"---- notes ----\r\nremember: milk\r\nand: eggs\r\n")


# --- attachment names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers,expected",
    [
        (b'Content-Type: application/pdf; name="report.pdf"\r\nContent-Disposition: attachment\r\n', "report.pdf"),
        (
            b"Content-Type: application/pdf;\r\n name*0*=UTF-8''%E6%97%A5%E6%9C%AC;\r\n name*1*=%E8%AA%9E.pdf\r\n"
            b"Content-Disposition: attachment\r\n",
            "日本語.pdf",
        ),
        (
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment;\r\n filename*0*=iso-8859-1''Gr%FC%DFe;\r\n"
            b" filename*1*=%20K%F6ln.pdf\r\n",
            "Grüße Köln.pdf",
        ),
        (
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename=fallback.pdf;\r\n"
            b" filename*=utf-8''%E6%97%A5%E6%9C%AC.pdf\r\n",
            "日本.pdf",
        ),
        (
            b"Content-Type: application/pdf\r\nContent-Disposition: attachment; filename*=''%E6%97%A5%E6%9C%AC.pdf\r\n",
            "日本.pdf",
        ),
        (
            b'Content-Type: application/pdf; name="=?iso-8859-1?Q?M=FCller.pdf?="\r\nContent-Disposition: attachment;'
            b' filename=""\r\n',
            "Müller.pdf",
        ),
    ],
)
def test_attachment_names(normalise, headers, expected):
    body = (
        b"--b\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        + headers
        + b"Content-Transfer-Encoding: base64\r\n\r\nJVBERi0=\r\n--b--\r\n"
    )
    env = normalise(mail(b"From: a@example.net\r\nSubject: file", body, b'multipart/mixed; boundary="b"'))
    assert [a.filename for a in env.attachments] == [expected]


@pytest.mark.parametrize(
    "codec,text",
    [
        ("big5", "台北市信義區"),
        ("big5", "Re: 訂單查詢 #12345"),
        ("euc-kr", "배송 지연 관련 문의"),
        ("euc-kr", "홍길동"),
        ("gbk", "李明"),
        ("gbk", "回复：关于订单"),
        ("shift_jis", "【重要】お知らせ"),
        ("cp1252", "Ångström"),
        ("cp1251", "Иван Петров"),
    ],
)
def test_short_undeclared_samples_are_detected(codec, text):
    from helpline.ingest.email import detect

    assert detect.guess(text.encode(codec))[1] == text


def test_character_split_across_words_with_differently_spelled_labels():
    from helpline.ingest.email.headers import decode_words

    assert decode_words("=?utf-8?Q?Preis_=E2=82?= =?UTF8?B?rCA0Mg==?=") == "Preis € 42"
