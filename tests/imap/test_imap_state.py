"""The IMAP tables on both databases: lease semantics and progress that never goes backwards."""

from __future__ import annotations

from helpline.store.channels import imap_state as st


def test_lease_take_renew_expire_release(imap_db):
    box = "support@imap.example.com:993/INBOX"
    assert st.acquire_lease(box, "a", 60)
    assert not st.acquire_lease(box, "b", 60)  # held
    assert st.acquire_lease(box, "a", 60)  # renewed by its holder
    assert st.lease_holder(box) == "a"
    assert st.acquire_lease(box, "a", -1)  # renewed into the past: as if a had died a while ago
    assert st.lease_holder(box) is None
    assert st.acquire_lease(box, "b", 60)  # an expired lease goes to whoever asks
    assert not st.acquire_lease(box, "a", 60)  # a comes back: too late
    st.release_lease(box, "a")  # releasing what one does not hold changes nothing
    assert st.lease_holder(box) == "b"
    st.release_lease(box, "b")
    assert st.lease_holder(box) is None and st.acquire_lease(box, "a", 60)
    assert st.acquire_lease("other@h:993/INBOX", "b", 60)  # one lease per mailbox


def test_progress_per_uidvalidity(imap_db):
    box = "support@imap.example.com:993/INBOX"
    assert st.load_state(box) == st.FolderState()
    st.save_progress(box, 100, 0, False, resync_until=7)
    assert (st.load_state(box).uidvalidity, st.load_state(box).resync_until) == (100, 7)
    st.save_progress(box, 100, 12, True)
    st.save_progress(box, 100, 9, False)  # a late writer never moves it back
    state = st.load_state(box)
    assert (state.last_uid, state.resync_until) == (12, 7) and state.last_import_at is not None
    st.save_progress(box, 200, 3, False, resync_until=5)  # new UIDVALIDITY: starts over
    assert (st.load_state(box).uidvalidity, st.load_state(box).last_uid) == (200, 3)


def test_attempts_count_until_cleared(imap_db):
    box = "support@imap.example.com:993/INBOX"
    assert st.note_attempt(box, "200:4") == 1
    assert st.note_attempt(box, "200:4") == 2
    st.clear_attempt(box, "200:9")  # another batch's marker: no effect
    assert st.note_attempt(box, "200:4") == 3
    st.clear_attempt(box, "200:4")
    assert st.note_attempt(box, "200:4") == 1
    assert st.note_attempt(box, "200:5") == 1  # a different batch starts counting afresh
    st.save_progress(box, 200, 5, True)  # progress clears the marker
    assert st.load_state(box).attempt_count == 0
