"""The running API checked against its own OpenAPI document by schemathesis: requests
generated from the document for every operation, with an admin key, on both databases.
Every answer must be documented (status code, content type, body schema) and none a 5xx.

The operations are driven from inside one test (``schemathesis.openapi.from_url`` on the
live server, a Hypothesis run per operation) rather than through schemathesis' pytest
plugin, whose lazy fixture needs the server before the ``backend`` fixture made it."""

from __future__ import annotations

import schemathesis
from schemathesis.specs.openapi.checks import positive_data_acceptance
from hypothesis import HealthCheck, given, settings

from helpline.store import models as m
from helpline.store.tickets import similarity_state as state
from helpline.store.db import run_tx

from .test_ticket_api import new_ticket

EXAMPLES = 15  # per operation: the whole run stays well under a minute per backend
# Operations whose input's validity the schema cannot express: an article file's YAML front matter, and the
# search language of `q` (a query of no word such as "(¢", or `status:0`, is schema-valid and rightly refused
# with a 422 that names the problem). Every other check still runs on them.
CONTENT_CHECKED = {"PUT /api/v1/kb/articles/{slug}", "GET /api/v1/tickets", "GET /api/v1/search"}


def test_api_conforms_to_openapi(api):
    tickets = [new_ticket(api) for _ in range(2)]  # real tickets, so generated numbers are not all unknown
    now = m.utcnow()  # and a real incident (INC-000001, the documented example) for the incident operations
    run_tx(
        lambda: state.add_to_incident(state.create_incident("Website down", now), [(t.id, 0.9) for t in tickets], now)
    )
    schema = schemathesis.openapi.from_url(api.url + "/api/v1/openapi.json")
    headers = {"Authorization": f"Bearer {api.keys['admin']}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    labels = {op.label for op in operations}
    assert {
        "GET /api/v1/tickets",
        "POST /api/v1/tickets/bulk",
        "GET /api/v1/tickets/{number}",
        "PATCH /api/v1/tickets/{number}",
        "POST /api/v1/tickets/{number}/replies",
        "POST /api/v1/tickets/{number}/notes",
        "POST /api/v1/tickets/{number}/merge",
        "GET /api/v1/incidents",
        "GET /api/v1/incidents/{incident}",
        "POST /api/v1/incidents/{incident}/reply",
    } <= labels
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def check(case) -> None:  # noqa: ANN001
            case.call_and_validate(
                headers=headers,
                excluded_checks=([positive_data_acceptance] if case.operation.label in CONTENT_CHECKED else []),
            )

        check()
    # the documented example reached the real incident: its reply ran (and conformed)
    assert m.Event.select().where(m.Event.kind == "incident_replied").exists()
