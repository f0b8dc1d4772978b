"""Knowledge-base figures of ``helpline report``: how agents used suggestions, first response with and
without one, and the deflection rate. Arithmetic only; ``workers/jobs/reports.py`` loads the rows."""

from __future__ import annotations

from typing import Any, Iterable

from helpline.router.report_figures import TicketRow, _between, _ratio, median, p90


def compute(
    rows: Iterable[TicketRow], suggestions: Iterable[tuple[int, str]], deflection: Iterable[tuple[int, str]]
) -> dict[str, Any]:
    """``suggestions``: (ticket id, action: "" | sent | edited | dismissed) per suggestion shown;
    ``deflection``: (ticket id, event kind: deflection_offered | self_served)."""
    rows = list(rows)
    ids = {r.id for r in rows}
    shown = [(t, a) for t, a in suggestions if t in ids]
    used = {t for t, a in shown if a in ("sent", "edited")}
    with_s = [
        _between(r.created_at, r.first_agent_reply_at, r.calendar)
        for r in rows
        if r.first_agent_reply_at and r.id in used
    ]
    without = [
        _between(r.created_at, r.first_agent_reply_at, r.calendar)
        for r in rows
        if r.first_agent_reply_at and r.id not in used
    ]
    offered = {t for t, k in deflection if t in ids and k == "deflection_offered"}
    served = {t for t, k in deflection if t in ids and k == "self_served"}
    return {
        "suggestions": {
            "shown": len(shown),
            "tickets": len({t for t, _ in shown}),
            "sent": sum(a == "sent" for _, a in shown),
            "edited": sum(a == "edited" for _, a in shown),
            "dismissed": sum(a == "dismissed" for _, a in shown),
            "tickets_answered_with_one": len(used),
        },
        "first_response_with_suggestion_s": {"count": len(with_s), "median": median(with_s), "p90": p90(with_s)},
        "first_response_without_suggestion_s": {"count": len(without), "median": median(without), "p90": p90(without)},
        "deflection": {
            "offered": len(offered),
            "self_served": len(served & offered) or len(served),
            "rate": _ratio(len(served), len(offered)) if offered else None,
        },
    }
