"""Settings from ``HELPLINE_*`` environment variables.

Configuration lives in ``store`` because every package needs it and ``store`` is
the one package all others may import. Every setting has a default so that
``helpline run`` works with nothing set; secrets may be given as
``HELPLINE_<NAME>_FILE`` (systemd ``LoadCredential=``) and are never printed.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import os
import re
import secrets as _secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit, urlunsplit

from helpline.store.siteconfig import config_file
from helpline.store.siteconfig import webhook_config
from helpline.store.config_errors import (
    ConfigError as ConfigError,
)  # raised here, defined apart (config_file raises it too)

SECRET_FIELDS = frozenset(
    {
        "secret_key",
        "smtp_relay_password",
        "database_url",
        "broker_url",
        "imap_accounts",
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "webhook_sources",
        "twilio_auth_token",
        "backup_passphrase",
    }
)


def _default_data_dir() -> str:
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "helpline")


@dataclass(frozen=True)
class Settings:
    data_dir: str = field(
        default_factory=_default_data_dir,
        metadata={"doc": "Everything of the embedded mode: SQLite, Redis, blobs, spool."},
    )
    database_url: str = field(
        default="",
        metadata={"doc": "sqlite:///PATH or postgresql://user@host/db; default: SQLite under the data directory."},
    )
    broker_url: str = field(
        default="",
        metadata={
            "doc": "redis://host:port/db or amqp://user:password@host:5672/vhost (RabbitMQ); empty starts the bundled Redis on a unix socket."
        },
    )
    smtp_listen: str = field(default="127.0.0.1:2525", metadata={"doc": "host:port of the SMTP server."})
    http_listen: str = field(default="127.0.0.1:8080", metadata={"doc": "Public HTTP listener (webhooks, API)."})
    admin_listen: str = field(
        default="127.0.0.1:8081", metadata={"doc": "Private listener: /healthz, /readyz, /metrics."}
    )
    worker_admin_listen: str = field(
        default="",
        metadata={
            "doc": "host:port of `helpline worker`'s own /healthz, /readyz and /metrics, for hosts that run workers without an ingest daemon; empty: none."
        },
    )
    worker_start_timeout_s: float = field(
        default=60.0,
        metadata={
            "doc": "Seconds a new Dramatiq instance of `helpline worker` may take to import Helpline and load its model; one that is not ready by then is killed and started again (a start that hangs would otherwise hang for ever: only an exit was restarted)."
        },
    )
    support_addresses: tuple[str, ...] = field(
        default=("support@localhost",),
        metadata={"doc": "Comma-separated addresses accepted at RCPT (plus-addressed variants too)."},
    )
    max_message_bytes: int = field(
        default=25 * 1024 * 1024, metadata={"doc": "Largest accepted message; larger gets 552 5.3.4."}
    )
    large_message_bytes: int = field(default=1024 * 1024, metadata={"doc": "Messages above this are streamed to disk."})
    max_large_messages: int = field(
        default=1,
        metadata={"doc": "How many large messages are parsed at once (each takes several times its size in memory)."},
    )
    smtp_tls_cert: str = field(default="", metadata={"doc": "Certificate file; with the key, enables STARTTLS."})
    smtp_tls_key: str = field(default="", metadata={"doc": "Private key file for STARTTLS."})
    smtp_relay: str = field(
        default="", metadata={"doc": "host:port of the outbound relay; empty keeps mail in the outbox."}
    )
    smtp_relay_user: str = field(default="", metadata={"doc": "Relay login user."})
    smtp_relay_password: str = field(default="", metadata={"doc": "Relay login password (secret)."})
    smtp_relay_starttls: bool = field(default=False, metadata={"doc": "Use STARTTLS with the relay."})
    secret_key: tuple[str, ...] = field(
        default=(), metadata={"doc": "Signing keys, newest first; generated into the data directory when unset."}
    )
    cc_participants: bool = field(default=False, metadata={"doc": "Cc'd addresses become participants of the ticket."})
    reopen_days: float = field(
        default=7.0, metadata={"doc": "A reply within this many days of resolution reopens the ticket."}
    )
    dedupe_window_s: int = field(
        default=600, metadata={"doc": "Same sender + same body within this window is a duplicate."}
    )
    autoreply_limit: int = field(default=3, metadata={"doc": "Automatic replies per address per hour."})
    autoreply_global_limit: int = field(default=10000, metadata={"doc": "Automatic replies per hour in total."})
    max_attempts: int = field(default=5, metadata={"doc": "Tries of one inbound message before quarantine."})
    sweep_interval_s: float = field(default=30.0, metadata={"doc": "How often the scheduler sweeps."})
    pending_after_s: float = field(
        default=120.0, metadata={"doc": "An inbound row pending this long is enqueued again."}
    )
    sending_lease_s: float = field(
        default=300.0, metadata={"doc": "An outbox row stuck in 'sending' this long is recovered."}
    )
    outbox_retry_base_s: float = field(
        default=30.0, metadata={"doc": "First retry delay of a temporary send failure (doubles)."}
    )
    outbox_max_attempts: int = field(default=10, metadata={"doc": "Send attempts before an outbox row fails."})
    spool_dir: str = field(
        default="", metadata={"doc": "Host-local spool used while the database is down; default DATA_DIR/spool."}
    )
    blob_backend: str = field(
        default="fs", metadata={"doc": "fs (data directory or shared filesystem) or db (in the database)."}
    )
    blob_dir: str = field(default="", metadata={"doc": "Filesystem blob directory; default DATA_DIR/blobs."})
    db_busy_timeout_ms: int = field(
        default=5000, metadata={"doc": "SQLite busy timeout and PostgreSQL connect timeout."}
    )
    worker_processes: int = field(default=2, metadata={"doc": "Worker processes of `helpline worker`/`run`."})
    worker_threads: int = field(
        default=2, metadata={"doc": "Threads per worker process (more threads mostly add GIL contention)."}
    )
    worker_middleware: tuple[str, ...] = field(
        default=(), metadata={"doc": "Extra Dramatiq middleware as module:Class (e.g. error reporting)."}
    )
    inbound_batch_size: int = field(
        default=8,
        metadata={
            "doc": "Messages committed together by the ingest daemon travel the queue together, up to this many per queue message (1 = one each)."
        },
    )
    queue_name: str = field(default="helpline", metadata={"doc": "Dramatiq queue name prefix."})
    public_url: str = field(default="", metadata={"doc": "Public base URL as seen by providers."})
    download_url_days: float = field(
        default=7.0,
        metadata={
            "doc": "Signed download links to attachments ({PUBLIC_URL}/files/…: MMS media, Slack posts, webhook events) expire after this many days; they need HELPLINE_PUBLIC_URL."
        },
    )
    webhook_sources: str = field(
        default="",
        metadata={
            "doc": "Sources allowed to POST /api/v1/messages with a signature: comma-separated NAME=SECRET (secret); a name given twice accepts both secrets (rotation)."
        },
    )
    webhook_callbacks: str = field(
        default="",
        metadata={
            "doc": "Outbound webhooks: comma-separated NAME=URL; events of the tickets a source created are POSTed there, signed with its secret."
        },
    )
    webhook_rate_per_minute: int = field(
        default=600,
        metadata={"doc": "Requests per minute one webhook source or API key may make; more get 429 (0: no limit)."},
    )
    api_rate_per_address: int = field(
        default=1200,
        metadata={
            "doc": "API requests (webhook messages, ticket and incident API) per minute from one client address; more get 429 (0: no limit). HELPLINE_HTTP_TRUSTED_PROXIES are exempt."
        },
    )
    api_failed_auth_per_minute: int = field(
        default=20,
        metadata={
            "doc": "Failed API authentications (401) per minute from one client address; past it every API request from there gets 429 before its key is checked (0: no limit)."
        },
    )
    webhook_source_rates: tuple[str, ...] = field(
        default=(),
        metadata={"doc": "Per-source exceptions to HELPLINE_WEBHOOK_RATE_PER_MINUTE: comma-separated NAME=N."},
    )
    webhook_timeout_s: float = field(
        default=10.0, metadata={"doc": "Timeout of one outbound webhook call, in seconds."}
    )
    contact_form: bool = field(default=True, metadata={"doc": "Serve the public contact form at /contact."})
    contact_rate_per_hour: int = field(
        default=10, metadata={"doc": "Contact form posts per client address per hour; more get 429 (0: no limit)."}
    )
    contact_ticket_wait_s: float = field(
        default=3.0,
        metadata={
            "doc": "How long the contact form's answer waits for the ticket number before saying it comes by email."
        },
    )
    http_trusted_proxies: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata={
            "doc": "Reverse proxies (addresses or networks) whose X-Forwarded-For names the client (the contact form's and the API's per-address limits, which they are exempt from); exempt from HELPLINE_HTTP_MAX_CONNECTIONS_PER_IP."
        },
    )
    # Sender authentication from the MTA in front (store/inbound/sender_auth.py, workers/inbound/auth_policy.py).
    trusted_authserv_id: str = field(
        default="",
        metadata={
            "doc": "authserv-id of the MTA in front (its hostname, as it writes it in Authentication-Results); only the topmost header with this id is believed, and that MTA must add it and remove forged ones; empty: no header is believed."
        },
    )
    auth_alignment: str = field(
        default="relaxed",
        metadata={
            "doc": "How a passing DKIM signature or SPF check must match the From domain to vouch for a sender when DMARC itself did not pass (RFC 7489 3.1): relaxed (the same organisational domain under the Public Suffix List, DMARC's default) or strict (the same domain name)."
        },
    )
    clamd_socket: str = field(
        default="",
        metadata={
            "doc": "clamd (ClamAV's daemon) to scan every attachment with before it is downloaded or forwarded: a unix socket path or host:port. An infected or unscannable file is withheld; clamd down: downloads answer 503 and the scan is retried. Empty: no scanning."
        },
    )
    clamd_timeout_s: float = field(
        default=30.0,
        metadata={"doc": "The most one clamd scan may take (connect, send, answer); past it clamd counts as down."},
    )
    spam_score_max: float = field(
        default=0.0,
        metadata={
            "doc": "Mail from the trusted MTA (HELPLINE_TRUSTED_AUTHSERV_ID) whose X-Spam-Status (or rspamd's X-Spamd-Result) score is above this becomes a ticket in the spam status; 0: only the filter's own verdict (X-Spam-Flag: YES, X-Spam-Status: Yes) counts."
        },
    )
    auth_failed_policy: str = field(
        default="new_ticket",
        metadata={
            "doc": "Mail whose trusted Authentication-Results shows DMARC failing (or SPF failing with no passing DKIM): new_ticket (a new ticket linked to the one it pointed at, as a possible follow-up), thread (joins it, with a warning to agents) or reject (550 at SMTP DATA; quarantined when it came another way)."
        },
    )
    # Connection caps and slow-client deadlines (ingest/conn_limits.py, ingest/smtp.py).
    smtp_max_connections: int = field(
        default=500, metadata={"doc": "Open SMTP connections in total; more get 421 4.7.0 (0: no cap)."}
    )
    smtp_max_connections_per_ip: int = field(
        default=64,
        metadata={
            "doc": "Open SMTP connections per client address; more get 421 4.7.0 (0: no cap). HELPLINE_SMTP_TRUSTED_RELAYS are exempt."
        },
    )
    smtp_trusted_relays: tuple[str, ...] = field(
        default=("127.0.0.1", "::1"),
        metadata={
            "doc": "Addresses or networks of the MTAs in front (Postfix), comma-separated: exempt from the per-address SMTP cap."
        },
    )
    smtp_command_timeout_s: float = field(
        default=120.0,
        metadata={
            "doc": "A client must complete its next command within this many seconds of the previous one (idle time included), however it trickles the bytes; then the connection is closed."
        },
    )
    smtp_data_timeout_s: float = field(
        default=600.0,
        metadata={"doc": "The whole DATA section (all of the message) must arrive within this many seconds."},
    )
    http_max_connections: int = field(
        default=1000,
        metadata={"doc": "Open connections to the public HTTP listener in total; more get 503 (0: no cap)."},
    )
    http_max_connections_per_ip: int = field(
        default=64,
        metadata={
            "doc": "Open public HTTP connections per client address; more get 503 (0: no cap). HELPLINE_HTTP_TRUSTED_PROXIES are exempt."
        },
    )
    http_header_timeout_s: float = field(
        default=75.0,
        metadata={
            "doc": "A public HTTP connection must deliver a complete request head within this many seconds of opening or of its last response, else it is closed (keep it above your proxy's upstream keep-alive time)."
        },
    )
    log_level: str = field(default="INFO", metadata={"doc": "DEBUG, INFO, WARNING, ERROR."})
    log_format: str = field(default="kv", metadata={"doc": "kv (key=value) or json."})
    metrics_dir: str = field(
        default="", metadata={"doc": "prometheus multiprocess directory; default DATA_DIR/metrics."}
    )
    models_dir: str = field(default="", metadata={"doc": "Category model store; default DATA_DIR/models."})
    category_threshold: float = field(
        default=0.5, metadata={"doc": "Below this confidence the category is 'unclassified' (triage team)."}
    )
    category_embeddings: bool = field(
        default=True,
        metadata={
            "doc": "Let a category model trained with the embeddings extra ask its embeddings stage about the new tickets its TF-IDF stage is unsure of (a few ms of CPU each); no: the TF-IDF stage answers alone, as without the extra."
        },
    )
    duplicates_by_meaning: bool = field(
        default=True,
        metadata={
            "doc": "With the embeddings extra, compare a new message by meaning with the customer's newest open tickets when their words found nothing alike (a merge suggestion only; 7-14 ms of CPU for such a message); no: words only."
        },
    )
    model_retrain_interval_s: float = field(
        default=0.0,
        metadata={
            "doc": "Opt-in: how often the scheduler runs the gated retrain of the category model from agents' labels (seconds, e.g. 604800 weekly); 0: never."
        },
    )
    triage_team: str = field(default="triage", metadata={"doc": "Team of unclassified tickets."})
    # Language and sentiment of customer messages (router/language.py, router/sentiment.py).
    languages: tuple[str, ...] = field(
        default=("en", "de", "fr", "es", "it", "nl", "pt"),
        metadata={"doc": "ISO 639-1 codes the language detector chooses among (fewer is faster and surer)."},
    )
    language_accuracy: str = field(
        default="low",
        metadata={
            "doc": "low: lingua's trigram mode (~16 MB per worker process); high: all n-gram models (~200 MB for 7 languages), better on one or two words."
        },
    )
    sentiment_drop_threshold: float = field(
        default=-0.5,
        metadata={
            "doc": "A customer message at or below this VADER compound score after a neutral or positive one is a sentiment_dropped event."
        },
    )
    # Near-duplicates and incidents (router/similarity.py, workers/inbound/duplicates.py, workers/tickets/incidents.py).
    similarity: bool = field(
        default=True,
        metadata={
            "doc": "Compare new tickets' text with recent open tickets: merge or suggest merging a customer's near-duplicates, group many customers' reports into incidents."
        },
    )
    dup_window_s: int = field(
        default=14400,
        metadata={
            "doc": "A customer's open tickets opened within this many seconds are compared with their new message."
        },
    )
    dup_merge_threshold: float = field(
        default=0.6,
        metadata={
            "doc": "Similarity (0-1, estimated Jaccard of word stems) at or above which a customer's new message is merged into their open ticket automatically."
        },
    )
    dup_suggest_threshold: float = field(
        default=0.25,
        metadata={
            "doc": "Similarity at or above which (and below the merge threshold) a merge is suggested to agents (event merge_suggested)."
        },
    )
    incident_window_s: int = field(
        default=3600,
        metadata={
            "doc": "Tickets of different customers opened within this many seconds are grouped into one incident when alike."
        },
    )
    incident_threshold: float = field(
        default=0.3, metadata={"doc": "Similarity at or above which two customers' tickets report the same problem."}
    )
    incident_min_customers: int = field(
        default=5,
        metadata={
            "doc": "An incident is opened when this many different customers report the same problem within the window; later reports join it."
        },
    )
    incident_interval_s: float = field(
        default=2.0, metadata={"doc": "How often the scheduler groups new tickets into incidents (seconds)."}
    )
    incident_index_max: int = field(
        default=200000,
        metadata={
            "doc": "Most tickets the incident grouper keeps in its in-memory index (about 3.5 KB each); the oldest fall out first."
        },
    )
    # Routing, lifecycle and SLA clocks (store/siteconfig/config_file.py, router/, workers/jobs/ticket_timers.py).
    config_file: str = field(
        default="",
        metadata={
            "doc": "TOML file with teams, agents, business hours, routing rules, SLA policies and escalation (deploy/helpline.toml.example); empty: none, built-in SLA defaults on a 24/7 clock."
        },
    )
    auto_close_days: float = field(
        default=7.0,
        metadata={
            "doc": "Resolved tickets close this many days after resolution; a reply after that opens a follow-up ticket (keep it at or above HELPLINE_REOPEN_DAYS)."
        },
    )
    waiting_reminder_days: float = field(
        default=3.0,
        metadata={
            "doc": "A ticket waiting on the customer this many days gets one reminder, on the ticket's own channel."
        },
    )
    waiting_resolve_days: float = field(
        default=7.0, metadata={"doc": "A ticket waiting on the customer this many days is resolved automatically."}
    )
    imap_accounts: str = field(
        default="",
        metadata={
            "doc": "Mailboxes to poll: comma-separated imaps://USER:PASSWORD@HOST:PORT/FOLDER?after=seen|move:FOLDER|delete&verify=no&cafile=PATH&oauth2_cmd=CMD&quarantine=FOLDER (secret)."
        },
    )
    imap_idle_minutes: float = field(default=9.0, metadata={"doc": "Re-issue IMAP IDLE this often (below 29)."})
    imap_poll_seconds: float = field(default=60.0, metadata={"doc": "Poll interval for servers without IDLE."})
    imap_lease_seconds: float = field(
        default=60.0, metadata={"doc": "How long a crashed daemon keeps a mailbox from the others."}
    )
    imap_quarantine_folder: str = field(
        default="Helpline-Quarantine", metadata={"doc": "Where unparseable or too-large mail goes."}
    )
    # SMS and MMS through Twilio (ingest/channels/twilio_sms.py, notifier/sms/sms_sender.py).
    twilio_account_sid: str = field(
        default="", metadata={"doc": "Twilio account SID (AC…): outbound SMS and MMS media downloads."}
    )
    twilio_auth_token: str = field(
        default="",
        metadata={
            "doc": "Twilio auth token (secret): checks webhook signatures and authenticates API calls; unset turns /twilio/* off (404)."
        },
    )
    twilio_from: str = field(
        default="",
        metadata={
            "doc": "Default sender number (E.164) of outbound SMS; replies go from the number the customer texted."
        },
    )
    twilio_messaging_service_sid: str = field(
        default="", metadata={"doc": "Messaging Service SID (MG…) to send through instead of a number."}
    )
    twilio_api_url: str = field(
        default="https://api.twilio.com",
        metadata={"doc": "Base URL of the Twilio REST API (tests point it at a local stand-in)."},
    )
    sms_ack: bool = field(
        default=True, metadata={"doc": "Text the ticket number to a customer whose SMS opened a ticket."}
    )
    sms_help_text: str = field(
        default="Helpline support: text your question to this number and an agent will answer here. Reply STOP to stop texts, START to resume.",
        metadata={
            "doc": "Answer to HELP (unless Twilio's Advanced Opt-Out already answered), through the template sms_help.txt, which operators may override per language."
        },
    )
    mms_max_bytes: int = field(
        default=5 * 1024 * 1024,
        metadata={"doc": "Largest MMS media file downloaded; larger ones are recorded but not fetched."},
    )
    slack_bot_token: str = field(
        default="",
        metadata={"doc": "Slack bot token (xoxb-…, secret); with HELPLINE_SLACK_CHANNEL it turns the Slack sender on."},
    )
    slack_signing_secret: str = field(
        default="",
        metadata={
            "doc": "Slack signing secret (secret); turns on POST /slack/events (events, actions, commands) on the public listener."
        },
    )
    slack_app_token: str = field(
        default="",
        metadata={
            "doc": "Slack app-level token (xapp-…, secret): receive Slack over Socket Mode (a websocket the ingest daemon opens), for a daemon Slack cannot reach."
        },
    )
    slack_channel: str = field(
        default="", metadata={"doc": "Channel id where new tickets of the default team are posted."}
    )
    slack_team_channels: tuple[str, ...] = field(
        default=(),
        metadata={"doc": "Per-team channels, comma-separated TEAM=CHANNEL_ID; other teams use HELPLINE_SLACK_CHANNEL."},
    )
    kb_deflect_teams: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "Teams whose acknowledgements name a confident public knowledge-base article with a signed link (comma-separated; * for every team; needs HELPLINE_PUBLIC_URL)."
        },
    )
    slack_agents: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "Slack user ids allowed to act as agents, and user-group ids (S…) whose members are agents (comma-separated)."
        },
    )
    slack_api_url: str = field(default="https://slack.com/api/", metadata={"doc": "Base URL of the Slack Web API."})
    slack_reply_mode: str = field(
        default="thread",
        metadata={
            "doc": "thread: every agent message in a ticket's thread goes to the customer; explicit: only those starting with the reply prefix."
        },
    )
    slack_reply_prefix: str = field(
        default=">>", metadata={"doc": "Prefix of a reply to the customer in explicit reply mode."}
    )
    slack_note_prefix: str = field(
        default="#note", metadata={"doc": "Prefix of an internal note: stored and audited, never sent to the customer."}
    )
    slack_undo_seconds: float = field(
        default=5.0,
        metadata={
            "doc": "An agent's reply from Slack waits this long, with an Undo button, before it is sent; 0 sends at once."
        },
    )
    slack_intake_channels: tuple[str, ...] = field(
        default=(),
        metadata={
            "doc": "Customer-facing Slack channel ids (Slack Connect, a community): a message there from someone who is not an agent opens or follows up a ticket; the bot's direct messages count too."
        },
    )
    slack_ticket_emoji: str = field(
        default="ticket",
        metadata={
            "doc": "An agent reacting with this emoji (name without colons) to a message turns it into a ticket for its author."
        },
    )
    slack_join_window_s: int = field(
        default=1800,
        metadata={
            "doc": "A Slack customer's new top-level message within this many seconds of their last message on their open Slack ticket joins it, unless it is clearly a new topic; 0 turns joining off."
        },
    )
    slack_file_max_bytes: int = field(
        default=20 * 1024 * 1024,
        metadata={
            "doc": "Largest file an agent attaches in Slack that is fetched and sent to the customer; larger ones are refused with a notice in the thread."
        },
    )
    # Personal data (store/privacy/pii.py): masked where text leaves for a person.
    pii_mask_tokens: bool = field(
        default=False,
        metadata={
            "doc": "Also mask API-token-like strings anywhere in text (by default only the values of password:-style lines are masked as secrets)."
        },
    )
    pii_mask_webhooks: bool = field(
        default=False, metadata={"doc": "Mask personal data in outbound webhook events' texts too."}
    )
    pii_at_rest: str = field(
        default="off",
        metadata={
            "doc": "off, or redact: the scheduler masks stored message texts and drops their raw MIME once they are HELPLINE_PII_AT_REST_DAYS old."
        },
    )
    pii_at_rest_days: int = field(
        default=30, metadata={"doc": "Age in days after which HELPLINE_PII_AT_REST=redact redacts a message."}
    )
    # Customer notifications, CSAT surveys and reports (notifier/render.py, workers/tickets/customer_notices.py, workers/jobs/reports.py).
    notify_statuses: tuple[str, ...] = field(
        default=("resolved",),
        metadata={
            "doc": "Status changes the customer is told about on their channel (comma-separated: open, in_progress, waiting_customer, resolved, closed); empty: none."
        },
    )
    csat_survey: bool = field(
        default=True,
        metadata={"doc": "Send a one-question satisfaction survey (1-5) when a ticket is resolved, once per ticket."},
    )
    csat_expire_days: float = field(
        default=14.0,
        metadata={"doc": "A survey can be answered, and the answer changed, for this many days after it was sent."},
    )
    report_target_first_response_s: float = field(
        default=120.0,
        metadata={"doc": "Target of the median first response time, in business seconds (helpline report, metrics)."},
    )
    report_target_fcr: float = field(
        default=0.70, metadata={"doc": "Target share of tickets resolved at first contact (0-1)."}
    )
    report_target_csat: float = field(default=4.5, metadata={"doc": "Target average CSAT score (1-5)."})
    report_metrics_cache_s: float = field(
        default=60.0, metadata={"doc": "The report figures on /metrics are computed at most this often (seconds)."}
    )
    report_metrics_days: float = field(
        default=30.0, metadata={"doc": "The report figures on /metrics cover tickets created in this many past days."}
    )
    # Data lifecycle: export, erasure, retention, backup (store/lifecycle/).
    erasure_ledger: str = field(
        default="",
        metadata={
            "doc": "File the salted hashes of erased identities are appended to, so a restore from an older backup erases them again; keep it apart from the backups. Default DATA_DIR/erasure-ledger."
        },
    )
    backup_passphrase: str = field(
        default="",
        metadata={
            "doc": "Passphrase (secret) that encrypts backups (scrypt + AES-256-GCM) and lets them carry the secret keys; unset: backups are not encrypted and leave the keys out."
        },
    )
    retention_interval_s: float = field(
        default=3600.0,
        metadata={"doc": "How often the scheduler applies the retention policies of the configuration file (seconds)."},
    )
    retention_batch: int = field(
        default=200,
        metadata={
            "doc": "Items (raw messages, attachments, tickets) one retention transaction handles; small batches keep the write lock short."
        },
    )

    # ---- derived values -------------------------------------------------
    @property
    def effective_database_url(self) -> str:
        return self.database_url or f"sqlite:///{os.path.join(self.data_dir, 'helpline.sqlite3')}"

    @property
    def embedded_redis(self) -> bool:
        return not self.broker_url

    @property
    def redis_socket(self) -> str:
        return os.path.join(self.data_dir, "redis", "redis.sock")

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or f"unix://{self.redis_socket}"

    @property
    def effective_spool_dir(self) -> str:
        return self.spool_dir or os.path.join(self.data_dir, "spool")

    @property
    def effective_blob_dir(self) -> str:
        return self.blob_dir or os.path.join(self.data_dir, "blobs")

    @property
    def effective_metrics_dir(self) -> str:
        return self.metrics_dir or os.path.join(self.data_dir, "metrics")

    @property
    def mail_domain(self) -> str:
        """Domain for our own Message-IDs: that of the first support address."""
        return self.support_addresses[0].rpartition("@")[2] or "localhost"

    def replace(self, **changes: Any) -> "Settings":
        return dataclasses.replace(self, **changes)

    def masked(self) -> dict[str, Any]:
        """The effective configuration with secrets hidden, for `helpline config`."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.name in ("database_url", "broker_url"):
                value = mask_url(value)
            elif f.name == "imap_accounts":
                value = ",".join(mask_url(u) for u in value.split(",")) if value else ""
            elif f.name in SECRET_FIELDS:
                value = "********" if value else ""
            out[f.name] = list(value) if isinstance(value, tuple) else value
        out["effective_database_url"] = mask_url(self.effective_database_url)
        out["effective_broker_url"] = mask_url(self.effective_broker_url)
        return out


def mask_url(url: str) -> str:
    """Hide the password of a URL so it can be logged or printed."""
    if not url or "@" not in url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(":" + parts.password + "@", ":****@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def _parse(f: dataclasses.Field[Any], raw: str, env_name: str) -> Any:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw.replace("_", ""))
        if kind == "float":
            return float(raw)
        if kind.startswith("tuple"):
            return tuple(p.strip() for p in re.split(r"[,\s]+", raw) if p.strip())
    except ValueError:
        raise ConfigError(f"{env_name}={'****' if f.name in SECRET_FIELDS else raw!r} is not a valid {kind}") from None
    return raw.strip()


def load(environ: Mapping[str, str] | None = None) -> Settings:
    """Read settings from the environment (``HELPLINE_X`` or ``HELPLINE_X_FILE``)."""
    env = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    for f in dataclasses.fields(Settings):
        name = "HELPLINE_" + f.name.upper()
        raw = env.get(name)
        file_name = env.get(name + "_FILE")
        if raw is None and file_name:
            try:
                raw = Path(file_name).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"{name}_FILE={file_name} cannot be read: {exc.strerror}") from None
        if raw is not None:
            values[f.name] = _parse(f, raw, name)
    settings = Settings(**values)
    if settings.config_file:
        settings = _with_file_webhooks(settings)
    if settings.blob_backend not in ("fs", "db"):
        raise ConfigError(f"HELPLINE_BLOB_BACKEND must be 'fs' or 'db', not {settings.blob_backend!r}")
    if settings.log_format not in ("kv", "json"):
        raise ConfigError(f"HELPLINE_LOG_FORMAT must be 'kv' or 'json', not {settings.log_format!r}")
    if settings.language_accuracy not in ("low", "high"):
        raise ConfigError(f"HELPLINE_LANGUAGE_ACCURACY must be 'low' or 'high', not {settings.language_accuracy!r}")
    if settings.pii_at_rest not in ("off", "redact"):
        raise ConfigError(f"HELPLINE_PII_AT_REST must be 'off' or 'redact', not {settings.pii_at_rest!r}")
    for name in ("smtp_trusted_relays", "http_trusted_proxies"):
        for entry in getattr(settings, name):
            try:
                ipaddress.ip_network(entry.strip(), strict=False)
            except ValueError:
                raise ConfigError(f"HELPLINE_{name.upper()}: {entry!r} is not an IP address or network") from None
    if settings.auth_failed_policy not in ("new_ticket", "thread", "reject"):
        raise ConfigError(
            "HELPLINE_AUTH_FAILED_POLICY must be 'new_ticket', 'thread' or 'reject', "
            f"not {settings.auth_failed_policy!r}"
        )
    if settings.auth_alignment not in ("relaxed", "strict"):
        raise ConfigError(f"HELPLINE_AUTH_ALIGNMENT must be 'relaxed' or 'strict', not {settings.auth_alignment!r}")
    if settings.slack_reply_mode not in ("thread", "explicit"):
        raise ConfigError(
            f"HELPLINE_SLACK_REPLY_MODE must be 'thread' or 'explicit', not {settings.slack_reply_mode!r}"
        )
    return settings


def _with_file_webhooks(settings: Settings) -> Settings:
    """Add the configuration file's ``[[webhooks.sources]]`` to the three webhook settings (env wins per name).

    Read at start-up like every setting: a changed source needs a restart. Only
    this section is read here, so a mistake elsewhere in the file (a team being
    edited) does not stop a process from starting."""
    data = config_file.read_toml(settings.config_file)
    if "webhooks" not in data:
        return settings
    sources, callbacks, rates = webhook_config.fold(
        settings.webhook_sources,
        settings.webhook_callbacks,
        settings.webhook_source_rates,
        config_file.webhook_sources(settings.config_file, data),
    )
    return settings.replace(webhook_sources=sources, webhook_callbacks=callbacks, webhook_source_rates=rates)


def ensure_secret_key(settings: Settings) -> Settings:
    """Generate a signing key into the data directory on first run, then reuse it."""
    if settings.secret_key:
        return settings
    path = Path(settings.data_dir) / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(_secrets.token_urlsafe(48))
            fh.flush()
            os.fsync(fh.fileno())
        try:
            os.link(tmp, path)  # first writer wins when several processes start at once
        except FileExistsError:
            pass
        tmp.unlink(missing_ok=True)
    return settings.replace(secret_key=(path.read_text().strip(),))


def parse_hostport(value: str, default_port: int) -> tuple[str, int]:
    """Split ``host:port`` (IPv6 in brackets) into a tuple."""
    value = value.strip()
    if value.startswith("["):
        host, _, rest = value[1:].partition("]")
        port = rest.lstrip(":")
    else:
        host, sep, port = value.rpartition(":")
        if not sep:
            host, port = value, ""
    try:
        return host or "127.0.0.1", int(port) if port else default_port
    except ValueError:
        raise ConfigError(f"{value!r} is not host:port") from None
