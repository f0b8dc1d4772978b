"""A gated retrain from agents' corrections: a university IT desk whose categories the default does not
have learns them from 200 corrections, and a retrain that would not be better is stored but not activated."""

from __future__ import annotations

import json
import random

import pytest

from helpline.router.categories import category
from helpline.router.categories import default_build
from helpline.router.categories import model_gate
from helpline.router.categories import model_store
from helpline.router.categories import model_train

from .test_model_cli import run

# The desk's own categories, none of them a default label; ticket texts are built from these parts.
DESK = {
    "wifi": (
        [
            "eduroam does not connect",
            "no wifi in the {place}",
            "wireless keeps dropping",
            "cannot join the campus network",
        ],
        [
            "My laptop says the eduroam certificate is invalid.",
            "The wifi in {place} drops every few minutes.",
            "I can see the network but authentication fails.",
            "Since Monday my phone will not connect to eduroam.",
        ],
    ),
    "printing": (
        ["printer jammed", "print credit missing", "cannot print from my laptop", "colour printing"],
        [
            "The printer on the second floor of {place} shows paper jam.",
            "I paid for print credits but the balance is zero.",
            "My print job never comes out of the follow-me printer.",
            "The toner in {place} is empty.",
        ],
    ),
    "lecture_recording": (
        ["lecture video missing", "recording has no sound", "panopto upload", "course recording not published"],
        [
            "The recording of {course} from last week is not in the course page.",
            "The video of the lecture has no audio after ten minutes.",
            "Students cannot see the recordings of {course}.",
            "The camera in {place} did not record my lecture.",
        ],
    ),
    "exam_registration": (
        ["exam registration closed", "cannot register for exam", "exam list wrong", "resit registration"],
        [
            "The exam registration for {course} says the period has ended.",
            "I am not on the exam list for {course} although I registered.",
            "How do I sign up for the resit of {course}?",
            "The portal shows an error when I register for the {course} exam.",
        ],
    ),
    "library_access": (
        ["library card blocked", "cannot access journal", "e-book login", "library account"],
        [
            "My student card does not open the library gate any more.",
            "The journal database asks me to pay although I am on campus.",
            "Off-campus access to the e-books stopped working.",
            "I cannot borrow books, my library account shows a fee.",
        ],
    ),
}
PLACES = ["building A", "the main library", "lecture hall 3", "the science block", "room 2.14"]
COURSES = ["MATH101", "Organic Chemistry", "Intro to Economics", "CS210", "Medieval History"]


def desk_tickets(n: int, seed: int) -> list[tuple[str, str, str]]:
    rng = random.Random(seed)
    labels = sorted(DESK)
    out = []
    for i in range(n):
        label = labels[i % len(labels)]
        subjects, bodies = DESK[label]
        body = " ".join(rng.sample(bodies, 2)).format(place=rng.choice(PLACES), course=rng.choice(COURSES))
        out.append((rng.choice(subjects), f"Hello, {body} Thanks, student {rng.randrange(10_000)}", label))
    return out


def fill(tickets: list[tuple[str, str, str]], start: int = 0) -> None:
    """Tickets the pipeline categorised with a default label, then corrected by an agent."""
    from helpline.store import models as m

    customer = m.Customer.create(name=f"Student {start}")
    for n, (subject, body, label) in enumerate(tickets, start):
        t = m.Ticket.create(number=f"HL-G-{n}", subject=subject, channel="email", customer=customer, category=label)
        m.Message.create(ticket=t, direction="in", author_role="customer", channel="email", text=body)
        m.Event.create(ticket=t, kind=category.CATEGORY_SET, data={"category": "how_to"})
        kind, data = category.label_event(label, "how_to")
        m.Event.create(ticket=t, kind=kind, data=data)


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_a_desk_learns_its_categories_and_a_retrain_that_is_not_better_stays_inactive(engine, tmp_path, request):
    from helpline.store import db, migrations
    from helpline.store import models as m

    url = f"sqlite:///{tmp_path}/h.sqlite3" if engine == "sqlite" else request.getfixturevalue("pg_database")
    db.init(url)
    try:
        migrations.upgrade()
        fill(desk_tickets(200, seed=1))
    finally:
        db.database().close()
    env = {"HELPLINE_DATA_DIR": str(tmp_path / "data"), "HELPLINE_DATABASE_URL": url}
    first = json.loads(run("train", "--from-tickets", "--gate", "--json", "--C", "3", env=env).stdout)
    assert first["activated"] and first["version"] == 1 and first["held_out_tickets"] == 40
    assert first["candidate_accuracy"] >= 0.85 and first["active_accuracy"] == 0.0
    assert sorted(first["new_labels"]) == sorted(DESK)
    store = model_store.ModelStore(tmp_path / "data" / "models")
    assert store.active_version() == 1

    # the same tickets again: the candidate is no better by the margin, so v1 stays active
    second = json.loads(run("train", "--from-tickets", "--gate", "--json", "--C", "3", env=env).stdout)
    assert second["version"] == 2 and not second["activated"] and second["active_model"] == "v1"
    assert store.active_version() == 1
    listing = run("list", env=env).stdout
    assert "activated" in listing and "not activated" in listing
    db.init(url)
    try:
        gates = [e.data for e in m.Event.select().where(m.Event.kind == "category_model_gate").order_by(m.Event.id)]
    finally:
        db.database().close()
    assert [(g["version"], g["activate"]) for g in gates] == [(1, True), (2, False)]
    run("activate", "default", env=env)  # rollback is the ordinary activate
    assert store.active_version() is None


def test_a_worse_candidate_is_not_activated():
    """Agents mislabelled a batch of older tickets: the candidate trained on them loses on the recent ones."""
    shipped = default_build.shipped_training_data()
    clean = desk_tickets(200, seed=2)
    fast = model_train.TrainOptions(Cs=(3.0,))
    good, _ = model_gate.gated_retrain(_dataset(clean), shipped, _default(), fast)
    rng = random.Random(3)
    labels = sorted(DESK)
    noisy = [(s, b, rng.choice(labels)) for s, b, _ in desk_tickets(160, seed=4)] + desk_tickets(40, seed=5)
    worse, decision = model_gate.gated_retrain(_dataset(noisy), shipped, good, fast)
    assert not decision.activate
    assert decision.candidate_accuracy < decision.active_accuracy
    assert worse.meta["gate"]["activate"] is False


def _default():
    return model_store.load_model(model_store.packaged_default_path())


def _dataset(rows):
    return model_train.Dataset([s for s, _, _ in rows], [b for _, b, _ in rows], [lab for _, _, lab in rows], "tickets")
