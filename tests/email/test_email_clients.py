"""Real-looking mail from common clients: exact addresses, subjects, new text and hints."""

from __future__ import annotations

import pytest
from email_testkit import raw_mail

CLIENT_FIXTURES = [
    "gmail_reply.eml",
    "outlook_desktop.eml",
    "outlook_german.eml",
    "apple_mail.eml",
    "thunderbird.eml",
    "iphone.eml",
    "french_gmail.eml",
    "outlook_thread_index.eml",
    "japanese_iso2022jp.eml",
    "plus_token.eml",
    "winmail_tnef.eml",
    "forwarded_rfc822.eml",
    "html_only.eml",
]


@pytest.mark.parametrize("name", CLIENT_FIXTURES)
def test_person_written_mail_is_not_automatic_and_needs_no_repair(normalise, name):
    env = normalise(name)
    assert env.auto_reply.reasons == []
    assert env.auto_reply.bounce is False
    assert env.warnings == []
    assert env.channel == "email" and env.author_role == "customer"
    assert env.received_at == "2026-03-02T10:15:01+00:00"


def test_gmail_reply(normalise):
    env = normalise("gmail_reply.eml")
    assert env.external_id == "CAKx9f=Hq1MZ3pB0v7wq+8FhYk_abc123@mail.gmail.com"
    assert (env.sender.address, env.sender.name, env.sender.kind) == ("alice.smith@gmail.com", "Alice Smith", "email")
    assert env.recipients.to == ["support@helpline.example"]
    assert env.recipients.cc == ["john.doe@acme.example", "ops@acme.example"]
    assert env.subject == "Re: [HL-2026-000123] CSV export fails"
    assert env.text == (
        "Hi,\n\nThe CSV export still fails after the update. Steps:\n- open Reports\n"
        "- click Export\n\nIt worked last week."
    )
    assert env.full_text.startswith(env.text + "\n\n-- \nAlice Smith\nACME Corp\n\nOn Mon, 2 Mar 2026")
    assert env.full_text.endswith("> Bob")
    assert env.thread.message_id == env.external_id
    assert env.thread.in_reply_to == "HL.1772445240.7f3a@helpline.example"
    assert env.thread.references == ["HL.1772445240.7f3a@helpline.example", "HL.1772300000.1a2b@helpline.example"]
    assert env.thread.ticket_ref == "HL-2026-000123"
    # the topmost Authentication-Results is our MTA's; the forged one below is ignored
    assert {k: v for k, v in env.auth.items() if k != "headers"} == {
        "authserv_id": "mx.helpline.example",
        "spf": "pass",
        "dkim": "pass",
        "dmarc": "pass",
        "failed": [],
    }
    assert [h["authserv_id"] for h in env.auth["headers"]][0] == "mx.helpline.example"
    assert "<blockquote>Hello Alice," in env.html and "gmail_quote" not in env.html
    assert len(env.content_hash) == 64


def test_outlook_desktop_original_message_block(normalise, blobs):
    env = normalise("outlook_desktop.eml")
    assert env.text == (
        "Hello,\n\nThe invoice for February shows the wrong VAT number. Please correct it.\n\n"
        "Regards\nBob Miller\nFinance | Contoso Ltd."
    )
    assert "-----Original Message-----" in env.full_text
    assert env.thread.ticket_ref == "HL-2026-000456"
    assert env.thread.thread_index == "AQHajE2x7d3Zk8vS0Ouq8Y3ZxW5TQg=="
    [pdf] = env.attachments
    assert (pdf.filename, pdf.content_type, pdf.size, pdf.inline, pdf.content_id) == (
        "Invoice 2026-02.pdf",
        "application/pdf",
        29,
        False,
        "",
    )
    assert blobs[pdf.blob_key] == b"%PDF-1.4\n% fake invoice\n%%EOF"
    # Word's HTML: styles, conditional comments and o:p are gone, the text stays
    assert "<style" not in env.html and "mso" not in env.html and "o:p" not in env.html
    assert "<b>From:</b> Helpline Support" in env.html


def test_outlook_german_von_gesendet_block_in_latin1(normalise):
    env = normalise("outlook_german.eml")
    assert (env.sender.address, env.sender.name) == ("j.mueller@beispiel.example", "Jürgen Müller")
    assert env.text == (
        "Hallo zusammen,\n\nder Drucker im 2. Stock druckt nur noch leere Seiten. "
        "Können Sie bitte jemanden schicken?\n\nMit freundlichen Grüßen\nJürgen Müller"
    )
    assert "Von: Helpline Support" in env.full_text
    assert env.thread.thread_index == "AdqMi0+Jk3mQx2Zt0UqkP1b7cXy8rQ=="


def test_apple_mail_inline_image(normalise, blobs):
    env = normalise("apple_mail.eml")
    assert env.external_id == "5E6F7A8B-9C0D-4E1F-A2B3-C4D5E6F7A8B9@example.net"
    assert env.text == "Hi,\n\nhere is a screenshot of the error:\n\n[image: screenshot.png]\n\nThanks,\nCarol"
    [img] = env.attachments
    assert (img.filename, img.content_type, img.inline, img.content_id) == (
        "screenshot.png",
        "image/png",
        True,
        "F1E2D3C4-B5A6-4789-8012-3456789ABCDE",
    )
    assert blobs[img.blob_key].startswith(b"\x89PNG")
    assert 'src="cid:F1E2D3C4-B5A6-4789-8012-3456789ABCDE"' in env.html


def test_thunderbird_bottom_posting_keeps_every_answer(normalise, blobs):
    env = normalise("thunderbird.eml")
    assert env.subject == "Re: Rechnung für März"
    assert env.text == "Yes, attached.\n\nNo, it should be 120 EUR."
    [pdf] = env.attachments
    assert (pdf.filename, pdf.content_type) == ("Rechnung März.pdf", "application/pdf")  # RFC 2231
    assert blobs[pdf.blob_key] == b"%PDF-1.5 rechnung"


def test_iphone_footer_and_quoted_attribution(normalise):
    env = normalise("iphone.eml")
    assert env.text == "Still not working, the app crashes when I open Settings."
    assert env.recipients.to == ["support+7kq2.xz9@helpline.example"]
    assert env.thread.reply_token == "7Kq2.Xz9"  # case kept: tokens are signed


def test_french_gmail(normalise):
    env = normalise("french_gmail.eml")
    assert (env.sender.address, env.sender.name) == ("elodie.martin@gmail.com", "Élodie Martin")
    assert env.subject == "Re: Problème de paiement [HL-2026-000789]"
    assert env.thread.ticket_ref == "HL-2026-000789"
    assert env.text == (
        "Bonjour,\n\nLe paiement a été refusé deux fois. Pouvez-vous vérifier ?\n\nCordialement,\nÉlodie"
    )


def test_outlook_reply_with_thread_index_only(normalise):
    env = normalise("outlook_thread_index.eml")
    assert env.thread.in_reply_to == "" and env.thread.references == []
    # 22-byte root of a 32-byte Thread-Index (root + two 5-byte reply blocks)
    assert env.thread.thread_index == "AdqMeKw9WqjSy7Y0TiuQZ0y1MjmUbQ=="
    assert env.text == "Still no VPN access since this morning.\n\nPaul"
    assert env.external_id == "000001dab1c2$3e4f5a60$ba6b0f20$@fabrikam.example"


def test_thread_index_root_is_shared_by_replies(normalise):
    first = raw_mail("outlook_thread_index.eml").replace(
        b"AdqMeKw9WqjSy7Y0TiuQZ0y1MjmUbQAAhS4wAAGq7lA=", b"AdqMeKw9WqjSy7Y0TiuQZ0y1MjmUbQ=="
    )
    assert normalise(first).thread.thread_index == normalise("outlook_thread_index.eml").thread.thread_index


def test_plus_addressed_reply_token_from_delivered_to(normalise):
    env = normalise("plus_token.eml")
    assert env.recipients.to == ["sales@example.com"]
    assert env.thread.reply_token == "Tk9.aB3-xY"


def test_reply_token_needs_a_support_address(normalise):
    env = normalise("plus_token.eml", support_addresses=["help@elsewhere.example"])
    assert env.thread.reply_token == ""
