"""The OpenAPI 3.0 document of the ticket API, served at ``/api/v1/openapi.json``.

Written by hand next to the handlers (``ingest.ticket_api``) and checked
against the running server by schemathesis in tests/api, so a handler that
answers something the document does not promise fails a test.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from helpline.router.lifecycle import STATUSES
from helpline.store.siteconfig.config_file import PRIORITIES
from helpline.store.fulltext.search_syntax import TAG_PATTERN

# ingest.ticket_api refuses strings of blanks alone, and any NUL (PostgreSQL cannot store one)
NONBLANK = "^[^\\u0000]*[^ \t\r\n\\u0000][^\\u0000]*$"
_NULL_STR = {"type": "string", "nullable": True}
_TS = {"type": "string", "format": "date-time", "nullable": True}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "the body is not a JSON object",
        401: "no key, or an unknown or revoked key",
        403: "the key lacks the scope",
        404: "no such ticket (or another team's, for a team-bound key)",
        409: "the ticket's state refuses the change (for a status: the allowed ones in `allowed`)",
        413: "the body is larger than allowed",
        415: "the body is not application/json",
        422: "invalid fields, each named",
        429: "too many requests (see Retry-After)",
        503: "the database is unavailable; retry",
    }
    return {str(c): _json(_ref("Errors"), text[c]) for c in codes}


_NUMBER = {
    "name": "number",
    "in": "path",
    "required": True,
    "description": "the ticket number (HL-2026-000042)",
    "schema": {"type": "string", "minLength": 1, "maxLength": 64},
}


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NONBLANK},
    }


def _idempotency_key(description: str) -> dict[str, Any]:
    """The optional ``Idempotency-Key`` header of the operations that send something."""
    return {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "description": description,
        "schema": {"type": "string", "pattern": "^[!-~]{1,200}$"},
    }


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    statuses, priorities = list(STATUSES), list(PRIORITIES)
    summary = {
        "type": "object",
        "required": ["number", "subject", "status", "priority", "channel", "customer", "created_at", "updated_at"],
        "properties": {
            "number": {"type": "string"},
            "subject": {"type": "string"},
            "status": {"type": "string", "enum": statuses},
            "priority": {"type": "string", "enum": priorities},
            "category": _NULL_STR,
            "team": _NULL_STR,
            "assignee": _NULL_STR,
            "language": _NULL_STR,
            "channel": {"type": "string"},
            "customer": {
                "type": "object",
                "required": ["id"],
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string", "nullable": True},
                    "identities": {"type": "array", "items": {"type": "object"}},
                },
            },
            "support_address": {"type": "string", "nullable": True},
            "possible_follow_up": {"type": "boolean", "nullable": True},
            "follow_up_of": _NULL_STR,
            "created_at": _TS,
            "updated_at": _TS,
            "resolved_at": _TS,
            "tags": {"type": "array", "items": {"type": "string"}},
        },
    }
    message = {
        "type": "object",
        "required": ["id", "direction", "author_role", "channel", "text", "created_at"],
        "properties": {
            "id": {"type": "integer"},
            "direction": {"type": "string", "enum": ["in", "out", "note"]},
            "author_role": {"type": "string"},
            "author": _NULL_STR,
            "channel": {"type": "string"},
            "sender": _NULL_STR,
            "subject": _NULL_STR,
            "text": _NULL_STR,
            "delivery_status": _NULL_STR,
            "created_at": _TS,
            "attachments": {"type": "array", "items": {"type": "object"}},
        },
    }
    event = {
        "type": "object",
        "required": ["kind", "actor", "created_at"],
        "properties": {
            "kind": {"type": "string"},
            "actor": {"type": "string"},
            "data": {"nullable": True},
            "created_at": _TS,
        },
    }
    detail = {
        "allOf": [
            _ref("TicketSummary"),
            {
                "type": "object",
                "required": ["messages", "events"],
                "properties": {
                    "messages": {"type": "array", "items": _ref("Message")},
                    "events": {"type": "array", "items": _ref("Event")},
                    "participants": {"type": "array", "items": {"type": "object"}},
                    "outbox": {"type": "array", "items": {"type": "object"}},
                },
            },
        ]
    }
    errors = {
        "type": "object",
        "required": ["errors"],
        "properties": {
            "errors": {
                "type": "array",
                "minItems": 1,
                "items": {
                    "type": "object",
                    "required": ["field", "error"],
                    "properties": {"field": {"type": "string"}, "error": {"type": "string"}},
                },
            },
            "allowed": {"type": "array", "items": {"type": "string", "enum": statuses}},
        },
    }
    text_body = {
        "type": "object",
        "required": ["text"],
        "additionalProperties": False,
        "properties": {
            "text": {"type": "string", "minLength": 1, "maxLength": 100000, "pattern": NONBLANK},
            "author": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": NONBLANK,
                "description": "the agent's name shown to the customer (default: the key's name)",
            },
        },
    }
    patch = {
        "type": "object",
        "additionalProperties": False,
        "description": "at least one of status, priority, assignee, category, team",
        "anyOf": [{"required": [k]} for k in ("status", "priority", "assignee", "category", "team")],
        "properties": {
            "status": {"type": "string", "enum": statuses},
            "priority": {"type": "string", "enum": priorities},
            "assignee": {
                "type": "string",
                "nullable": True,
                "minLength": 1,
                "maxLength": 254,
                "pattern": NONBLANK,
                "description": "an agent's email; null unassigns",
            },
            "category": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": NONBLANK,
                "description": "stored as a labelled example for the category model",
            },
            "team": {
                "type": "string",
                "minLength": 1,
                "maxLength": 64,
                "pattern": NONBLANK,
                "description": "transfer to this team",
            },
            "force": {"type": "boolean", "description": "assign beyond capacity or outside the team"},
            "reason": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": NONBLANK},
        },
    }
    merge = {
        "type": "object",
        "required": ["into"],
        "additionalProperties": False,
        "properties": {
            "into": {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NONBLANK},
            "reason": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": NONBLANK},
        },
    }
    name = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NONBLANK}
    values = {
        "assign": {
            "type": "string",
            "nullable": True,
            "minLength": 1,
            "maxLength": 254,
            "pattern": NONBLANK,
            "description": "an agent's email; null unassigns",
        },
        "status": {"type": "string", "enum": statuses},
        "priority": {"type": "string", "enum": priorities},
        "merge": {**name, "description": "the ticket to merge into"},
        "transfer": {**name, "description": "the team"},
    }
    bulk = {
        "oneOf": [
            {
                "type": "object",
                "required": ["tickets", "action"] + ([] if action == "assign" else ["value"]),
                "additionalProperties": False,
                "properties": {
                    "tickets": {"type": "array", "minItems": 1, "maxItems": 500, "items": name},
                    "action": {"type": "string", "enum": [action]},
                    "value": schema,
                    "reason": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": NONBLANK},
                },
            }
            for action, schema in values.items()
        ]
    }
    bulk_result = {
        "type": "object",
        "required": ["results"],
        "properties": {
            "results": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["ticket", "ok"],
                    "properties": {
                        "ticket": {"type": "string"},
                        "ok": {"type": "boolean"},
                        "code": {"type": "integer", "enum": [404, 409, 422]},
                        "error": {"type": "string"},
                        "status": {"type": "string", "enum": statuses},
                        "priority": {"type": "string", "enum": priorities},
                        "assignee": _NULL_STR,
                        "team": _NULL_STR,
                    },
                },
            }
        },
    }
    reply = {
        "type": "object",
        "required": ["message", "ticket", "repeated"],
        "properties": {
            "message": {
                "type": "object",
                "required": ["id", "channel"],
                "properties": {"id": {"type": "integer"}, "channel": {"type": "string"}, "recipient": _NULL_STR},
            },
            "repeated": {"type": "boolean"},
            "ticket": _ref("TicketSummary"),
        },
    }
    note = {
        "type": "object",
        "required": ["message"],
        "properties": {
            "message": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": {"type": "integer"}, "direction": {"type": "string"}},
            }
        },
    }
    listing = {
        "type": "object",
        "required": ["tickets", "next_cursor"],
        "properties": {
            "tickets": {"type": "array", "items": _ref("TicketSummary")},
            "next_cursor": {
                "type": "string",
                "nullable": True,
                "description": "pass as `cursor` for the next page; null on the last page",
            },
        },
    }
    incident = {
        "type": "object",
        "required": ["incident", "title", "status", "created_at"],
        "properties": {
            "incident": {"type": "string", "description": "INC-000001"},
            "title": {"type": "string"},
            "status": {"type": "string", "enum": ["open", "resolved"]},
            "created_at": _TS,
            "updated_at": _TS,
            "resolved_at": _TS,
            "tickets": {"type": "integer", "description": "tickets (the key's team's only)"},
            "customers": {"type": "integer"},
        },
    }
    # Not allOf Incident: there ``tickets`` is a count, here the list (allOf of both could never validate).
    incident_detail = {
        **incident,
        "required": [*incident["required"], "tickets"],
        "properties": {
            **incident["properties"],
            "tickets": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["number", "status", "channel"],
                    "properties": {
                        "number": {"type": "string"},
                        "status": {"type": "string", "enum": statuses},
                        "priority": {"type": "string", "enum": priorities},
                        "team": _NULL_STR,
                        "channel": {"type": "string"},
                        "subject": {"type": "string"},
                        "similarity": {"type": "number"},
                        "added_at": _TS,
                    },
                },
            },
        },
    }
    incident_list = {
        "type": "object",
        "required": ["incidents", "next_cursor"],
        "properties": {
            "incidents": {"type": "array", "items": _ref("Incident")},
            "next_cursor": {
                "type": "string",
                "nullable": True,
                "description": "pass as `cursor` for the next page; null on the last page",
            },
        },
    }
    incident_reply = {
        "type": "object",
        "required": ["incident", "sent", "skipped", "repeated"],
        "properties": {
            "incident": {"type": "string"},
            "repeated": {"type": "boolean"},
            "sent": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["ticket", "channel"],
                    "properties": {
                        "ticket": {"type": "string"},
                        "channel": {"type": "string"},
                        "to": {"type": "string"},
                    },
                },
            },
            "skipped": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["ticket", "reason"],
                    "properties": {"ticket": {"type": "string"}, "reason": {"type": "string"}},
                },
            },
        },
    }
    incident_param = {
        "name": "incident",
        "in": "path",
        "required": True,
        "description": "the incident (INC-000001, or its number)",
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
        "example": "INC-000001",
    }

    def csv(words: list[str]) -> dict[str, Any]:
        one = "(" + "|".join(words) + ")"
        return {"type": "string", "pattern": f"^{one}(,{one})*$"}

    hit = {
        "type": "object",
        "required": ["number", "subject", "status", "snippet", "score"],
        "properties": {
            "number": {"type": "string"},
            "subject": {"type": "string"},
            "status": {"type": "string", "enum": statuses},
            "snippet": {"type": "string"},
            "score": {"type": "number"},
        },
    }
    article_hit = {
        "type": "object",
        "required": ["slug", "title", "snippet", "score"],
        "properties": {
            "slug": {"type": "string"},
            "title": {"type": "string"},
            "snippet": {"type": "string"},
            "score": {"type": "number"},
        },
    }
    search_result = {
        "type": "object",
        "required": ["tickets", "articles"],
        "properties": {"tickets": {"type": "array", "items": hit}, "articles": {"type": "array", "items": article_hit}},
    }
    tag_list = {"type": "array", "minItems": 1, "maxItems": 50, "items": {"type": "string", "pattern": TAG_PATTERN}}
    tag_change = {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {"add": tag_list, "remove": tag_list},
    }
    tag_result = {
        "type": "object",
        "required": ["ticket", "tags"],
        "properties": {"ticket": {"type": "string"}, "tags": {"type": "array", "items": {"type": "string"}}},
    }
    return {
        "openapi": "3.0.3",
        "info": {
            "title": "Helpline ticket API",
            "version": "1",
            "description": "Tickets of the Helpline support desk. Authenticate with `Authorization: Bearer "
            "<key>` (`helpline api-keys create --name N --scope read|write|admin [--team T]`). "
            "read: GETs; write: replies, notes, changes, merges; admin: bulk operations too. "
            "A team-bound key sees only its team's tickets.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {
                "TicketSummary": summary,
                "TicketDetail": detail,
                "Message": message,
                "Event": event,
                "Errors": errors,
                "Incident": incident,
                "IncidentDetail": incident_detail,
            },
        },
        "paths": {
            "/api/v1/openapi.json": {
                "get": {
                    "operationId": "openapi",
                    "summary": "this document",
                    "security": [],
                    "responses": {"200": _json({"type": "object"}, "the OpenAPI document")},
                }
            },
            "/api/v1/tickets": {
                "get": {
                    "operationId": "listTickets",
                    "summary": "tickets, newest first, filtered and searched",
                    "parameters": [
                        _q("status", "comma-separated statuses", csv(statuses)),
                        _q("team", "team name"),
                        _q("assignee", "an agent's email, or `none` for unassigned"),
                        _q("priority", "comma-separated priorities", csv(priorities)),
                        _q("category", "category"),
                        _q(
                            "channel",
                            "channel the ticket came in on",
                            {"type": "string", "enum": ["email", "sms", "slack", "webhook", "form"]},
                        ),
                        _q("customer", "a customer id, or an email address or phone number of theirs"),
                        _q(
                            "updated_since",
                            "tickets updated at or after this instant",
                            {"type": "string", "format": "date-time"},
                        ),
                        _q(
                            "q",
                            "a full-text search (the language of /api/v1/search): only matching tickets",
                            {"type": "string", "minLength": 1, "maxLength": 500, "pattern": NONBLANK},
                        ),
                        _q("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
                        _q(
                            "cursor", "next_cursor of the previous page", {"type": "string", "pattern": "^[0-9]{1,18}$"}
                        ),
                    ],
                    "responses": {"200": _json(listing, "one page of tickets"), **_errors(401, 403, 422, 503)},
                }
            },
            "/api/v1/tickets/bulk": {
                "post": {
                    "operationId": "bulkTickets",
                    "summary": "one operation on many tickets (admin scope); each "
                    "ticket changes in its own transaction and is reported",
                    "requestBody": _body(bulk),
                    "responses": {
                        "200": _json(bulk_result, "a result per ticket"),
                        **_errors(400, 401, 403, 415, 422, 503),
                    },
                }
            },
            "/api/v1/tickets/{number}": {
                "parameters": [_NUMBER],
                "get": {
                    "operationId": "getTicket",
                    "summary": "a ticket with its messages and events",
                    "responses": {"200": _json(_ref("TicketDetail"), "the ticket"), **_errors(401, 403, 404, 503)},
                },
                "patch": {
                    "operationId": "changeTicket",
                    "summary": "change status, priority, assignee, category or team (all or nothing)",
                    "requestBody": _body(patch),
                    "responses": {
                        "200": _json(_ref("TicketSummary"), "the changed ticket"),
                        **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                },
            },
            "/api/v1/tickets/{number}/replies": {
                "post": {
                    "operationId": "replyToTicket",
                    "summary": "an agent's reply, sent on the ticket's channel",
                    "parameters": [
                        _NUMBER,
                        _idempotency_key("the same key again returns the first reply (200); with another body: 422"),
                    ],
                    "requestBody": _body(text_body),
                    "responses": {
                        "201": _json(reply, "the reply is queued for sending"),
                        "200": _json(reply, "a repeat of an Idempotency-Key: the first reply"),
                        **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            "/api/v1/tickets/{number}/notes": {
                "post": {
                    "operationId": "addNote",
                    "summary": "an internal note (never sent to the customer)",
                    "parameters": [_NUMBER],
                    "requestBody": _body(text_body),
                    "responses": {"201": _json(note, "the note"), **_errors(400, 401, 403, 404, 415, 422, 503)},
                }
            },
            "/api/v1/tickets/{number}/merge": {
                "post": {
                    "operationId": "mergeTicket",
                    "summary": "merge this ticket into another (it ends merged)",
                    "parameters": [_NUMBER],
                    "requestBody": _body(merge),
                    "responses": {
                        "200": _json(_ref("TicketSummary"), "the merged ticket"),
                        **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            "/api/v1/search": {
                "get": {
                    "operationId": "search",
                    "summary": "full-text search of tickets (every status unless status: is given) and articles, "
                    'best first: words, "exact phrases", -excluded, from: subject: status: team: tag: '
                    "assignee: channel: category: priority: customer: before: after:",
                    "parameters": [
                        {
                            "name": "q",
                            "in": "query",
                            "required": True,
                            "description": "the query",
                            "schema": {"type": "string", "minLength": 1, "maxLength": 500, "pattern": NONBLANK},
                        },
                        _q("limit", "tickets at most", {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}),
                    ],
                    "responses": {
                        "200": _json(
                            search_result, "hits; snippets are escaped HTML with <mark> around the matched words"
                        ),
                        **_errors(401, 403, 422, 503),
                    },
                }
            },
            "/api/v1/tickets/{number}/tags": {
                "post": {
                    "operationId": "tagTicket",
                    "summary": "add and remove tags (write scope)",
                    "parameters": [_NUMBER],
                    "requestBody": _body(tag_change),
                    "responses": {
                        "200": _json(tag_result, "the ticket's tags afterwards (a tag in both lists is removed)"),
                        **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            "/api/v1/tickets/{number}/messages/{message_id}/reveal": {
                "post": {
                    "operationId": "revealMessage",
                    "summary": "one message with its personal data unmasked (a key with the pii scope; a personal "
                    "key's agent needs the see_pii permission); audited",
                    "parameters": [
                        _NUMBER,
                        {
                            "name": "message_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**62},
                        },
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "required": ["message"],
                                "properties": {
                                    "message": {
                                        "type": "object",
                                        "required": ["id", "text"],
                                        "properties": {"id": {"type": "integer"}, "text": {"type": "string"}},
                                    }
                                },
                            },
                            "the message unmasked",
                        ),
                        **_errors(401, 403, 404, 503),
                    },
                }
            },
            "/api/v1/incidents": {
                "get": {
                    "operationId": "listIncidents",
                    "summary": "incidents (many customers, one problem), newest first",
                    "parameters": [
                        _q("status", "open or resolved", {"type": "string", "enum": ["open", "resolved"]}),
                        _q("limit", "page size", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}),
                        _q("cursor", "next_cursor of the previous page", {"type": "string", "pattern": "^[0-9]{1,9}$"}),
                    ],
                    "responses": {"200": _json(incident_list, "one page of incidents"), **_errors(401, 403, 422, 503)},
                }
            },
            "/api/v1/incidents/{incident}": {
                "get": {
                    "operationId": "getIncident",
                    "summary": "an incident with its tickets",
                    "parameters": [incident_param],
                    "responses": {"200": _json(_ref("IncidentDetail"), "the incident"), **_errors(401, 403, 404, 503)},
                }
            },
            "/api/v1/incidents/{incident}/reply": {
                "post": {
                    "operationId": "replyToIncident",
                    "summary": "one answer to every open ticket of the incident, each on its own channel",
                    "parameters": [
                        incident_param,
                        _idempotency_key("the same key again sends nothing twice (200); with another body: 422"),
                    ],
                    "requestBody": _body(text_body),
                    "responses": {
                        "201": _json(incident_reply, "the answers are queued (skipped tickets listed)"),
                        "200": _json(incident_reply, "a repeat of an Idempotency-Key: nothing new queued"),
                        **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                    },
                }
            },
            **_more_paths(),
        },
    }


def _more_paths() -> dict[str, Any]:
    """The webhook intake, the knowledge base, suggestions, macros and customers' export and erasure.

    Kept loose where a body is a free-form record (articles, reports): the document's job here is that
    every route is listed, with its parameters and the answers it can give."""
    obj: dict[str, Any] = {"type": "object"}
    str_ = {"type": "string", "minLength": 1, "maxLength": 200, "pattern": NONBLANK}
    slug = {
        "name": "slug",
        "in": "path",
        "required": True,
        "description": "the article's slug",
        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    }
    language = _q(
        "language",
        "the article's language (default: any, `en` for DELETE)",
        {"type": "string", "pattern": "^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$"},
    )
    customer = {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {
            "email": {"type": "string", "maxLength": 254},
            "phone": {"type": "string", "maxLength": 40},
            "external_id": {"type": "string", "maxLength": 200},
            "name": {"type": "string", "maxLength": 200},
        },
    }
    attachment = {
        "type": "object",
        "required": ["content"],
        "additionalProperties": False,
        "properties": {
            "filename": {"type": "string", "maxLength": 255},
            "content_type": {"type": "string", "maxLength": 200},
            "content": {"type": "string", "format": "byte", "description": "the file's bytes in base64"},
        },
    }
    inbound = {
        "type": "object",
        "required": ["customer", "text"],
        "additionalProperties": False,
        "properties": {
            "customer": customer,
            "subject": {"type": "string"},
            "text": {"type": "string"},
            "html": {"type": "string"},
            "attachments": {"type": "array", "maxItems": 20, "items": attachment},
            "metadata": {"type": "object", "additionalProperties": {"type": "string", "maxLength": 2000}},
            "ticket": {"type": "string", "description": "HL-2026-000042: a ticket this source created"},
            "conversation_id": {"type": "string", "maxLength": 200},
            "acknowledge": {"type": "boolean"},
        },
    }
    accepted = {
        "type": "object",
        "required": ["inbound_id", "status"],
        "properties": {
            "inbound_id": {"type": "integer", "nullable": True},
            "status": {"type": "string", "enum": ["accepted", "duplicate", "spooled"]},
        },
    }
    signed = [
        {"name": n, "in": "header", "required": False, "description": d, "schema": {"type": "string"}}
        for n, d in (
            ("X-Helpline-Source", "the signing source's name (instead of a bearer key)"),
            ("X-Helpline-Timestamp", "Unix seconds, within 5 minutes of the server's clock"),
            ("X-Helpline-Signature", "sha256=<hex HMAC-SHA256(secret, timestamp + '.' + body)>"),
        )
    ]
    sid = {"name": "sid", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1, "maximum": 2**62}}
    action = {
        "name": "action",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["send", "dismiss"]},
    }
    macro = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "minLength": 1, "maxLength": 100},
    }
    ref = {
        "name": "ref",
        "in": "path",
        "required": True,
        "description": "a customer id or one of their addresses",
        "schema": {"type": "string", "minLength": 1, "maxLength": 254},
    }
    sha = {"name": "sha", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}
    return {
        "/api/v1/messages": {
            "post": {
                "operationId": "postMessage",
                "summary": "a customer's message from an app or another system (an `ingest` key, or signed by a "
                "source of HELPLINE_WEBHOOK_SOURCES); a source writes only into tickets it created",
                "security": [{"bearer": []}, {}],
                "parameters": [
                    *signed,
                    _idempotency_key("a retry with the same key is a duplicate (202); with another body: 422"),
                ],
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {"schema": inbound},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "required": ["message"],
                                "properties": {"message": {"type": "string", "description": "the JSON message"}},
                                "additionalProperties": {"type": "string", "format": "binary"},
                            }
                        },
                    },
                },
                "responses": {
                    "202": _json(accepted, "durable: it becomes a ticket or joins one"),
                    **_errors(400, 401, 403, 413, 415, 422, 429, 503),
                },
            }
        },
        "/api/v1/tickets/{number}/messages/{message_id}/detach": {
            "post": {
                "operationId": "detachMessage",
                "summary": "a message joined to this ticket as a near-duplicate becomes its own ticket, restoring what "
                "the join changed (write scope; a personal key's agent needs the merge permission)",
                "parameters": [
                    _NUMBER,
                    {
                        "name": "message_id",
                        "in": "path",
                        "required": True,
                        "schema": {"type": "integer", "minimum": 1, "maximum": 2**62},
                    },
                ],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {
                                    "reason": {"type": "string", "minLength": 1, "maxLength": 1000, "pattern": NONBLANK}
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "201": _json(
                        {
                            "type": "object",
                            "required": ["ticket", "from"],
                            "properties": {
                                "ticket": _ref("TicketSummary"),
                                "from": _ref("TicketSummary"),
                                "status_restored": {"type": "string", "nullable": True},
                            },
                        },
                        "the new ticket and the one it left",
                    ),
                    **_errors(400, 401, 403, 404, 409, 415, 422, 503),
                },
            }
        },
        "/api/v1/kb/articles": {
            "get": {
                "operationId": "listArticles",
                "summary": "knowledge-base articles (a team key: its team's and shared)",
                "parameters": [
                    _q("all", "include retired articles", {"type": "string", "enum": ["1", "true", "yes"]}),
                    language,
                ],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["articles"],
                            "properties": {"articles": {"type": "array", "items": obj}},
                        },
                        "the articles",
                    ),
                    **_errors(401, 403, 503),
                },
            }
        },
        "/api/v1/kb/suggest": {
            "get": {
                "operationId": "suggestArticles",
                "summary": "articles and resolved tickets that may answer a text",
                "parameters": [
                    {
                        "name": "text",
                        "in": "query",
                        "required": True,
                        "schema": {"type": "string", "minLength": 1, "maxLength": 20000},
                    },
                    language,
                ],
                "responses": {"200": _json(obj, "ranked suggestions"), **_errors(401, 403, 422, 503)},
            }
        },
        "/api/v1/kb/articles/{slug}": {
            "parameters": [slug],
            "get": {
                "operationId": "getArticle",
                "summary": "one article with its body and HTML",
                "parameters": [language],
                "responses": {"200": _json(obj, "the article"), **_errors(401, 403, 404, 503)},
            },
            "put": {
                "operationId": "putArticle",
                "summary": "add or change an article (the Markdown file with YAML front matter, as `kb sync` reads it)",
                "requestBody": {
                    "required": True,
                    "content": {"text/markdown": {"schema": {"type": "string", "maxLength": 1 << 20}}},
                },
                "responses": {
                    "201": _json(obj, "added"),
                    "200": _json(obj, "changed or unchanged"),
                    **_errors(401, 403, 413, 415, 422, 503),
                },
            },
            "delete": {
                "operationId": "retireArticle",
                "summary": "retire an article",
                "parameters": [language],
                "responses": {"200": _json(obj, "retired"), **_errors(401, 403, 404, 503)},
            },
        },
        "/api/v1/kb/articles/{slug}/images/{sha}": {
            "get": {
                "operationId": "getArticleImage",
                "summary": "an image of an article",
                "parameters": [slug, sha, language],
                "responses": {
                    "200": {
                        "description": "the image",
                        "content": {"image/*": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_errors(401, 403, 404, 503),
                },
            }
        },
        "/api/v1/kb/macros": {
            "get": {
                "operationId": "listMacros",
                "summary": "macros (a team key: its team's and shared)",
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["macros"],
                            "properties": {"macros": {"type": "array", "items": obj}},
                        },
                        "the macros",
                    ),
                    **_errors(401, 403, 503),
                },
            }
        },
        "/api/v1/tickets/{number}/suggestions": {
            "get": {
                "operationId": "ticketSuggestions",
                "summary": "the ticket's suggested answers (ranked now if none)",
                "parameters": [_NUMBER],
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["articles", "tickets"],
                            "properties": {
                                "articles": {"type": "array", "items": obj},
                                "tickets": {"type": "array", "items": obj},
                            },
                        },
                        "suggestions",
                    ),
                    **_errors(401, 403, 404, 503),
                },
            }
        },
        "/api/v1/tickets/{number}/suggestions/{sid}/{action}": {
            "post": {
                "operationId": "actOnSuggestion",
                "summary": "send an article suggestion as the reply, or dismiss one",
                "parameters": [_NUMBER, sid, action, _idempotency_key("the same key sends nothing twice")],
                "responses": {"200": _json(obj, "done"), **_errors(401, 403, 404, 409, 422, 503)},
            }
        },
        "/api/v1/tickets/{number}/macros/{name}": {
            "post": {
                "operationId": "applyMacro",
                "summary": "apply a macro: its reply and its actions, audited",
                "parameters": [_NUMBER, macro, _idempotency_key("the same key applies it once")],
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {"type": "object", "additionalProperties": False, "properties": {"author": str_}}
                        }
                    },
                },
                "responses": {
                    "201": _json(obj, "applied"),
                    "200": _json(obj, "a repeat of an Idempotency-Key"),
                    **_errors(400, 401, 403, 404, 409, 422, 503),
                },
            }
        },
        "/api/v1/customers/{ref}/export": {
            "post": {
                "operationId": "exportCustomer",
                "summary": "everything kept about a customer, as a zip (admin, no team)",
                "parameters": [ref],
                "responses": {
                    "200": {
                        "description": "the export",
                        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_errors(401, 403, 404, 409, 503),
                },
            }
        },
        "/api/v1/customers/{ref}/erase": {
            "post": {
                "operationId": "eraseCustomer",
                "summary": "erase a customer (admin, no team); cannot be undone",
                "parameters": [ref],
                "requestBody": _body(
                    {
                        "type": "object",
                        "required": ["confirm"],
                        "properties": {"confirm": {"type": "string", "enum": ["erase"]}},
                    }
                ),
                "responses": {"200": _json(obj, "the erasure report"), **_errors(401, 403, 404, 409, 422, 503)},
            }
        },
    }
