"""Property tests of the email normaliser (issue 12): any bytes give an
envelope or a clear refusal, never an exception; generated MIME (text in any
script, names, attachments) comes out as it went in.

The suite runs a short, derandomised slice (same examples every run, no
deadline on a shared CI machine); ``python -m tests.security.fuzz --minutes N``
runs the same properties for as long as asked with fresh randomness.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from . import mail_properties as mp

CI = settings(
    max_examples=150,
    derandomize=True,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)


@CI
@given(mp.any_bytes)
def test_any_bytes_give_an_envelope_or_a_refusal(raw):
    mp.check_envelope_or_refusal(raw)


@CI
@given(mp.mail_like_bytes())
def test_header_shaped_junk_gives_an_envelope_or_a_refusal(raw):
    mp.check_envelope_or_refusal(raw)


@CI
@given(mp.subjects, mp.names, mp.bodies, mp.attachments, st.sampled_from(["utf-8", "iso-8859-1", "gb18030", "utf-7"]))
def test_generated_mime_round_trips(subject, name, body, files, charset):
    mp.check_round_trip(subject, name, body, files, charset)
