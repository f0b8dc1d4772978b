from helpline.notifier.message_ids import is_own_message_id, make_message_id


def test_shape_and_uniqueness():
    a = make_message_id("Example.COM", "HL-2026-000001")
    b = make_message_id("example.com", "HL-2026-000001")
    assert a.startswith("<hl.HL-2026-000001.") and a.endswith("@example.com>")
    assert a != b
    assert make_message_id("example.com").startswith("<hl.")


def test_ticket_number_cannot_break_the_id():
    mid = make_message_id("example.com", "HL <x>@evil\r\n")
    assert mid.count("@") == 1 and mid.count("<") == 1 and "\n" not in mid


def test_recognises_own_ids_only():
    mid = make_message_id("example.com", "HL-2026-000001")
    assert is_own_message_id(mid, ["example.com"])
    assert is_own_message_id(mid.strip("<>"), ("other.org", "EXAMPLE.com"))
    assert is_own_message_id(mid, ["support@example.com"])  # whole addresses are accepted too
    assert is_own_message_id(mid, "example.com")
    assert not is_own_message_id(mid, ["example.org"])
    assert not is_own_message_id("<abc.123@example.com>", ["example.com"])
    assert not is_own_message_id("<hl.@example.com>", ["example.com"])
    assert not is_own_message_id("", ["example.com"])
