
CREATE TABLE public.agent (
    id integer NOT NULL,
    email character varying(255) NOT NULL,
    name character varying(255) NOT NULL,
    slack_user character varying(255) NOT NULL,
    tier integer NOT NULL,
    capacity integer NOT NULL,
    availability character varying(255) NOT NULL,
    skills text NOT NULL,
    open_count integer NOT NULL,
    last_assigned_at timestamp without time zone,
    active boolean NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.agent_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.agent_id_seq OWNED BY public.agent.id;

CREATE TABLE public.api_key (
    id integer NOT NULL,
    name character varying(200) NOT NULL,
    prefix character varying(16) NOT NULL,
    key_hash character varying(64) NOT NULL,
    scopes character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    last_used_at timestamp without time zone,
    revoked_at timestamp without time zone,
    team character varying(64)
);

CREATE SEQUENCE public.api_key_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.api_key_id_seq OWNED BY public.api_key.id;

CREATE TABLE public.attachment (
    id integer NOT NULL,
    message_id integer NOT NULL,
    filename text NOT NULL,
    content_type character varying(255) NOT NULL,
    size integer NOT NULL,
    sha256 character varying(64) NOT NULL,
    blob_key character varying(255) NOT NULL,
    inline boolean NOT NULL,
    content_id character varying(255) NOT NULL
);

CREATE SEQUENCE public.attachment_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.attachment_id_seq OWNED BY public.attachment.id;

CREATE TABLE public.blob (
    key character varying(80) NOT NULL,
    size bigint NOT NULL,
    data bytea NOT NULL,
    created_at timestamp without time zone NOT NULL
);

CREATE TABLE public.counter (
    name character varying(255) NOT NULL,
    value bigint NOT NULL
);

CREATE TABLE public.csat_survey (
    ticket_id integer NOT NULL,
    channel character varying(255) NOT NULL,
    recipient character varying(255) NOT NULL,
    sent_at timestamp without time zone NOT NULL,
    expires_at timestamp without time zone NOT NULL,
    score integer,
    comment text NOT NULL,
    answered_at timestamp without time zone,
    answered_via character varying(255) NOT NULL
);

CREATE TABLE public.customer (
    id integer NOT NULL,
    name character varying(255) NOT NULL,
    tier character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.customer_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.customer_id_seq OWNED BY public.customer.id;

CREATE TABLE public.event (
    id integer NOT NULL,
    ticket_id integer,
    actor character varying(255) NOT NULL,
    kind character varying(255) NOT NULL,
    data text,
    created_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.event_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.event_id_seq OWNED BY public.event.id;

CREATE SEQUENCE public.helpline_ticket_number
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

CREATE TABLE public.identity (
    id integer NOT NULL,
    customer_id integer NOT NULL,
    kind character varying(255) NOT NULL,
    address character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.identity_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.identity_id_seq OWNED BY public.identity.id;

CREATE TABLE public.imap_folder_state (
    id integer NOT NULL,
    account character varying(700) NOT NULL,
    uidvalidity bigint,
    last_uid bigint NOT NULL,
    resync_until bigint NOT NULL,
    last_import_at timestamp without time zone,
    attempt_key character varying(255) NOT NULL,
    attempt_count integer NOT NULL,
    last_error text NOT NULL,
    last_error_at timestamp without time zone,
    last_success_at timestamp without time zone,
    updated_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.imap_folder_state_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.imap_folder_state_id_seq OWNED BY public.imap_folder_state.id;

CREATE TABLE public.imap_lease (
    account character varying(700) NOT NULL,
    holder character varying(255) NOT NULL,
    expires_at timestamp without time zone NOT NULL,
    acquired_at timestamp without time zone
);

CREATE TABLE public.inbound (
    id integer NOT NULL,
    channel character varying(255) NOT NULL,
    external_id character varying(998) NOT NULL,
    content_hash character varying(64) NOT NULL,
    status character varying(255) NOT NULL,
    reason text NOT NULL,
    envelope text NOT NULL,
    raw_blob_key character varying(255) NOT NULL,
    attempts integer NOT NULL,
    received_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    processed_at timestamp without time zone,
    ticket_id integer,
    source_host character varying(255) NOT NULL
);

CREATE SEQUENCE public.inbound_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.inbound_id_seq OWNED BY public.inbound.id;

CREATE TABLE public.incident (
    id integer NOT NULL,
    title text NOT NULL,
    status text NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    resolved_at timestamp without time zone
);

CREATE SEQUENCE public.incident_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.incident_id_seq OWNED BY public.incident.id;

CREATE TABLE public.incident_ticket (
    id integer NOT NULL,
    incident_id integer NOT NULL,
    ticket_id integer NOT NULL,
    similarity real NOT NULL,
    added_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.incident_ticket_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.incident_ticket_id_seq OWNED BY public.incident_ticket.id;

CREATE TABLE public.message (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    inbound_id integer,
    direction character varying(255) NOT NULL,
    author_role character varying(255) NOT NULL,
    author character varying(255) NOT NULL,
    channel character varying(255) NOT NULL,
    external_id character varying(998) NOT NULL,
    message_id character varying(998) NOT NULL,
    sender character varying(255) NOT NULL,
    subject text NOT NULL,
    text text NOT NULL,
    full_text text NOT NULL,
    html text NOT NULL,
    body_hash character varying(255) NOT NULL,
    raw_blob_key character varying(255) NOT NULL,
    auth text,
    warnings text,
    delivery_status character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    language character varying(16),
    sentiment real
);

CREATE SEQUENCE public.message_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.message_id_seq OWNED BY public.message.id;

CREATE TABLE public.outbox (
    id integer NOT NULL,
    ticket_id integer,
    out_message_id integer,
    channel character varying(255) NOT NULL,
    kind character varying(255) NOT NULL,
    recipient character varying(255) NOT NULL,
    payload text NOT NULL,
    message_id character varying(998) NOT NULL,
    status character varying(255) NOT NULL,
    attempts integer NOT NULL,
    next_attempt_at timestamp without time zone NOT NULL,
    last_error text NOT NULL,
    provider_id text NOT NULL,
    unique_key character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    sent_at timestamp without time zone
);

CREATE SEQUENCE public.outbox_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.outbox_id_seq OWNED BY public.outbox.id;

CREATE TABLE public.participant (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    kind character varying(255) NOT NULL,
    address character varying(255) NOT NULL,
    role character varying(255) NOT NULL
);

CREATE SEQUENCE public.participant_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.participant_id_seq OWNED BY public.participant.id;

CREATE TABLE public.rate_counter (
    key character varying(400) NOT NULL,
    bucket integer NOT NULL,
    count integer NOT NULL
);

CREATE TABLE public.schema_version (
    version integer NOT NULL,
    name character varying(255) NOT NULL,
    applied_at timestamp without time zone NOT NULL
);

CREATE TABLE public.slack_agent (
    user_id character varying(40) NOT NULL,
    name character varying(255) NOT NULL,
    email character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    last_seen_at timestamp without time zone NOT NULL
);

CREATE TABLE public.slack_thread (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    channel character varying(40) NOT NULL,
    ts character varying(40) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.slack_thread_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.slack_thread_id_seq OWNED BY public.slack_thread.id;

CREATE TABLE public.sms_media (
    id integer NOT NULL,
    message_id integer NOT NULL,
    "position" integer NOT NULL,
    url text NOT NULL,
    content_type character varying(255) NOT NULL,
    status character varying(255) NOT NULL,
    attempts integer NOT NULL,
    last_error text NOT NULL,
    size bigint,
    blob_key character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.sms_media_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.sms_media_id_seq OWNED BY public.sms_media.id;

CREATE TABLE public.sms_opt_out (
    number character varying(64) NOT NULL,
    opted_out boolean NOT NULL,
    keyword character varying(255) NOT NULL,
    source character varying(255) NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE public.team (
    id integer NOT NULL,
    name character varying(64) NOT NULL,
    slack_channel character varying(255) NOT NULL,
    lead_email character varying(255) NOT NULL,
    addresses text NOT NULL,
    business_hours character varying(255) NOT NULL,
    categories text NOT NULL,
    languages text NOT NULL,
    strategy character varying(255) NOT NULL,
    is_default boolean NOT NULL,
    notify_outside_hours boolean NOT NULL,
    active boolean NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.team_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.team_id_seq OWNED BY public.team.id;

CREATE TABLE public.team_member (
    id integer NOT NULL,
    team_id integer NOT NULL,
    agent_id integer NOT NULL
);

CREATE SEQUENCE public.team_member_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.team_member_id_seq OWNED BY public.team_member.id;

CREATE TABLE public.thread_key (
    id integer NOT NULL,
    key character varying(998) NOT NULL,
    ticket_id integer NOT NULL
);

CREATE SEQUENCE public.thread_key_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.thread_key_id_seq OWNED BY public.thread_key.id;

CREATE TABLE public.ticket (
    id integer NOT NULL,
    number character varying(255) NOT NULL,
    subject text NOT NULL,
    status character varying(255) NOT NULL,
    priority character varying(255) NOT NULL,
    category character varying(255),
    team character varying(255),
    assignee character varying(255),
    language character varying(255),
    channel character varying(255) NOT NULL,
    customer_id integer NOT NULL,
    support_address character varying(255) NOT NULL,
    follow_up_of_id integer,
    possible_follow_up boolean NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL,
    last_customer_at timestamp without time zone NOT NULL,
    resolved_at timestamp without time zone,
    closed_at timestamp without time zone
);

CREATE TABLE public.ticket_field (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    key character varying(64) NOT NULL,
    value text NOT NULL,
    source character varying(200) NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.ticket_field_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ticket_field_id_seq OWNED BY public.ticket_field.id;

CREATE TABLE public.ticket_fingerprint (
    ticket_id integer NOT NULL,
    customer_id integer NOT NULL,
    signature bytea NOT NULL,
    refs text NOT NULL,
    created_at timestamp without time zone NOT NULL,
    grouped integer DEFAULT 1 NOT NULL
);

CREATE SEQUENCE public.ticket_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ticket_id_seq OWNED BY public.ticket.id;

CREATE TABLE public.ticket_merge (
    id integer NOT NULL,
    source_id integer NOT NULL,
    target_id integer NOT NULL,
    actor text NOT NULL,
    reason text NOT NULL,
    previous_status text NOT NULL,
    moved text NOT NULL,
    merged_at timestamp without time zone NOT NULL,
    split_at timestamp without time zone,
    split_by text
);

CREATE SEQUENCE public.ticket_merge_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ticket_merge_id_seq OWNED BY public.ticket_merge.id;

CREATE TABLE public.ticket_routing (
    ticket_id integer NOT NULL,
    queued_at timestamp without time zone,
    queue_reason text NOT NULL,
    min_tier integer NOT NULL,
    sla_policy character varying(255) NOT NULL,
    waiting_since timestamp without time zone,
    reminded_at timestamp without time zone,
    updated_at timestamp without time zone NOT NULL
);

CREATE TABLE public.ticket_sla (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    target character varying(20) NOT NULL,
    policy character varying(255) NOT NULL,
    calendar character varying(255) NOT NULL,
    budget_s real NOT NULL,
    warn_fraction real NOT NULL,
    consumed_s real NOT NULL,
    clock_from timestamp without time zone,
    warn_at timestamp without time zone,
    due_at timestamp without time zone,
    warned_at timestamp without time zone,
    breached_at timestamp without time zone,
    stopped_at timestamp without time zone,
    outcome character varying(255) NOT NULL,
    created_at timestamp without time zone NOT NULL,
    updated_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.ticket_sla_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ticket_sla_id_seq OWNED BY public.ticket_sla.id;

CREATE TABLE public.ticket_source (
    id integer NOT NULL,
    ticket_id integer NOT NULL,
    source character varying(200) NOT NULL,
    created_at timestamp without time zone NOT NULL
);

CREATE SEQUENCE public.ticket_source_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ticket_source_id_seq OWNED BY public.ticket_source.id;

CREATE TABLE public.webhook_signature (
    signature character varying(64) NOT NULL,
    source character varying(200) NOT NULL,
    stamp bigint NOT NULL,
    seen_at timestamp without time zone NOT NULL
);

ALTER TABLE ONLY public.agent ALTER COLUMN id SET DEFAULT nextval('public.agent_id_seq'::regclass);

ALTER TABLE ONLY public.api_key ALTER COLUMN id SET DEFAULT nextval('public.api_key_id_seq'::regclass);

ALTER TABLE ONLY public.attachment ALTER COLUMN id SET DEFAULT nextval('public.attachment_id_seq'::regclass);

ALTER TABLE ONLY public.customer ALTER COLUMN id SET DEFAULT nextval('public.customer_id_seq'::regclass);

ALTER TABLE ONLY public.event ALTER COLUMN id SET DEFAULT nextval('public.event_id_seq'::regclass);

ALTER TABLE ONLY public.identity ALTER COLUMN id SET DEFAULT nextval('public.identity_id_seq'::regclass);

ALTER TABLE ONLY public.imap_folder_state ALTER COLUMN id SET DEFAULT nextval('public.imap_folder_state_id_seq'::regclass);

ALTER TABLE ONLY public.inbound ALTER COLUMN id SET DEFAULT nextval('public.inbound_id_seq'::regclass);

ALTER TABLE ONLY public.incident ALTER COLUMN id SET DEFAULT nextval('public.incident_id_seq'::regclass);

ALTER TABLE ONLY public.incident_ticket ALTER COLUMN id SET DEFAULT nextval('public.incident_ticket_id_seq'::regclass);

ALTER TABLE ONLY public.message ALTER COLUMN id SET DEFAULT nextval('public.message_id_seq'::regclass);

ALTER TABLE ONLY public.outbox ALTER COLUMN id SET DEFAULT nextval('public.outbox_id_seq'::regclass);

ALTER TABLE ONLY public.participant ALTER COLUMN id SET DEFAULT nextval('public.participant_id_seq'::regclass);

ALTER TABLE ONLY public.slack_thread ALTER COLUMN id SET DEFAULT nextval('public.slack_thread_id_seq'::regclass);

ALTER TABLE ONLY public.sms_media ALTER COLUMN id SET DEFAULT nextval('public.sms_media_id_seq'::regclass);

ALTER TABLE ONLY public.team ALTER COLUMN id SET DEFAULT nextval('public.team_id_seq'::regclass);

ALTER TABLE ONLY public.team_member ALTER COLUMN id SET DEFAULT nextval('public.team_member_id_seq'::regclass);

ALTER TABLE ONLY public.thread_key ALTER COLUMN id SET DEFAULT nextval('public.thread_key_id_seq'::regclass);

ALTER TABLE ONLY public.ticket ALTER COLUMN id SET DEFAULT nextval('public.ticket_id_seq'::regclass);

ALTER TABLE ONLY public.ticket_field ALTER COLUMN id SET DEFAULT nextval('public.ticket_field_id_seq'::regclass);

ALTER TABLE ONLY public.ticket_merge ALTER COLUMN id SET DEFAULT nextval('public.ticket_merge_id_seq'::regclass);

ALTER TABLE ONLY public.ticket_sla ALTER COLUMN id SET DEFAULT nextval('public.ticket_sla_id_seq'::regclass);

ALTER TABLE ONLY public.ticket_source ALTER COLUMN id SET DEFAULT nextval('public.ticket_source_id_seq'::regclass);

INSERT INTO public.agent VALUES (1, 'email-1 é', 'name-1 é', 'slack_user-1 é', 2, 2, 'availability-1 é', 'skills-1 é', 2, '2026-11-26 12:01:00.123456', true, '2026-11-26 12:01:00.123456');
INSERT INTO public.agent VALUES (2, 'email-2 é', 'name-2 é', 'slack_user-2 é', 3, 3, 'availability-2 é', 'skills-2 é', 3, '2026-11-26 12:02:00.123456', false, '2026-11-26 12:02:00.123456');

INSERT INTO public.api_key VALUES (1, 'name-1 é', 'prefix-1 é', 'key_hash-1 é', 'scopes-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', 'team-1 é');
INSERT INTO public.api_key VALUES (2, 'name-2 é', 'prefix-2 é', 'key_hash-2 é', 'scopes-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', 'team-2 é');

INSERT INTO public.attachment VALUES (1, 1, 'filename-1 é', 'content_type-1 é', 2, 'sha256-1 é', 'blob_key-1 é', true, 'content_id-1 é');
INSERT INTO public.attachment VALUES (2, 2, 'filename-2 é', 'content_type-2 é', 3, 'sha256-2 é', 'blob_key-2 é', false, 'content_id-2 é');

INSERT INTO public.blob VALUES ('key-1 é', 10000000001, '\x0100ff070100ff070100ff07', '2026-11-26 12:01:00.123456');
INSERT INTO public.blob VALUES ('key-2 é', 10000000002, '\x0200ff070200ff070200ff07', '2026-11-26 12:02:00.123456');

INSERT INTO public.counter VALUES ('name-1 é', 10000000001);
INSERT INTO public.counter VALUES ('name-2 é', 10000000002);

INSERT INTO public.csat_survey VALUES (1, 'channel-1 é', 'recipient-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', 2, 'comment-1 é', '2026-11-26 12:01:00.123456', 'answered_via-1 é');
INSERT INTO public.csat_survey VALUES (2, 'channel-2 é', 'recipient-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', 3, 'comment-2 é', '2026-11-26 12:02:00.123456', 'answered_via-2 é');

INSERT INTO public.customer VALUES (1, 'name-1 é', 'tier-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.customer VALUES (2, 'name-2 é', 'tier-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.event VALUES (1, 1, 'actor-1 é', 'kind-1 é', '{"row":1,"text":"Grüße ✓"}', '2026-11-26 12:01:00.123456');
INSERT INTO public.event VALUES (2, 2, 'actor-2 é', 'kind-2 é', '{"row":2,"text":"Grüße ✓"}', '2026-11-26 12:02:00.123456');

INSERT INTO public.identity VALUES (1, 1, 'kind-1 é', 'address-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.identity VALUES (2, 2, 'kind-2 é', 'address-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.imap_folder_state VALUES (1, 'account-1 é', 10000000001, 10000000001, 10000000001, '2026-11-26 12:01:00.123456', 'attempt_key-1 é', 2, 'last_error-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.imap_folder_state VALUES (2, 'account-2 é', 10000000002, 10000000002, 10000000002, '2026-11-26 12:02:00.123456', 'attempt_key-2 é', 3, 'last_error-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.imap_lease VALUES ('account-1 é', 'holder-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.imap_lease VALUES ('account-2 é', 'holder-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.inbound VALUES (1, 'channel-1 é', 'external_id-1 é', 'content_hash-1 é', 'status-1 é', 'reason-1 é', '{"row":1,"text":"Grüße ✓"}', 'raw_blob_key-1 é', 2, '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', 1, 'source_host-1 é');
INSERT INTO public.inbound VALUES (2, 'channel-2 é', 'external_id-2 é', 'content_hash-2 é', 'status-2 é', 'reason-2 é', '{"row":2,"text":"Grüße ✓"}', 'raw_blob_key-2 é', 3, '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', 2, 'source_host-2 é');

INSERT INTO public.incident VALUES (1, 'outage 1', 'open', '2026-11-26 12:00:00.123456', '2026-11-26 12:00:00.123456', NULL);
INSERT INTO public.incident VALUES (2, 'outage 2', 'open', '2026-11-26 12:00:00.123456', '2026-11-26 12:00:00.123456', NULL);

INSERT INTO public.incident_ticket VALUES (1, 1, 1, 0.6, '2026-11-26 12:00:00.123456');
INSERT INTO public.incident_ticket VALUES (2, 1, 2, 0.7, '2026-11-26 12:00:00.123456');

INSERT INTO public.message VALUES (2, 2, 2, 'direction-2 é', 'author_role-2 é', 'author-2 é', 'channel-2 é', 'external_id-2 é', 'message_id-2 é', 'sender-2 é', 'subject-2 é', 'text-2 é', 'full_text-2 é', 'html-2 é', 'body_hash-2 é', 'raw_blob_key-2 é', '{"row":2,"text":"Grüße ✓"}', '{"row":2,"text":"Grüße ✓"}', 'delivery_status-2 é', '2026-11-26 12:02:00.123456', NULL, NULL);
INSERT INTO public.message VALUES (1, 1, 1, 'direction-1 é', 'author_role-1 é', 'author-1 é', 'channel-1 é', 'external_id-1 é', 'message_id-1 é', 'sender-1 é', 'subject-1 é', 'text-1 é', 'full_text-1 é', 'html-1 é', 'body_hash-1 é', 'raw_blob_key-1 é', '{"row":1,"text":"Grüße ✓"}', '{"row":1,"text":"Grüße ✓"}', 'delivery_status-1 é', '2026-11-26 12:01:00.123456', 'de', 0.5);

INSERT INTO public.outbox VALUES (1, 1, 1, 'channel-1 é', 'kind-1 é', 'recipient-1 é', '{"row":1,"text":"Grüße ✓"}', 'message_id-1 é', 'status-1 é', 2, '2026-11-26 12:01:00.123456', 'last_error-1 é', 'provider_id-1 é', 'unique_key-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.outbox VALUES (2, 2, 2, 'channel-2 é', 'kind-2 é', 'recipient-2 é', '{"row":2,"text":"Grüße ✓"}', 'message_id-2 é', 'status-2 é', 3, '2026-11-26 12:02:00.123456', 'last_error-2 é', 'provider_id-2 é', 'unique_key-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.participant VALUES (1, 1, 'kind-1 é', 'address-1 é', 'role-1 é');
INSERT INTO public.participant VALUES (2, 2, 'kind-2 é', 'address-2 é', 'role-2 é');

INSERT INTO public.rate_counter VALUES ('key-1 é', 2, 2);
INSERT INTO public.rate_counter VALUES ('key-2 é', 3, 3);

INSERT INTO public.schema_version VALUES (1, 'initial schema', '2026-12-07 08:12:16.357946');
INSERT INTO public.schema_version VALUES (2, 'rate counters', '2026-12-07 08:12:16.366794');
INSERT INTO public.schema_version VALUES (3, 'imap poller state', '2026-12-07 08:12:16.387908');
INSERT INTO public.schema_version VALUES (4, 'sms opt-outs and mms media', '2026-12-07 08:12:16.434764');
INSERT INTO public.schema_version VALUES (5, 'webhook api: api keys, replay guard, ticket fields and sources', '2026-12-07 08:12:16.534858');
INSERT INTO public.schema_version VALUES (6, 'slack threads and agents', '2026-12-07 08:12:16.594771');
INSERT INTO public.schema_version VALUES (7, 'teams, agents, ticket routing and SLA clocks', '2026-12-07 08:12:16.778831');
INSERT INTO public.schema_version VALUES (8, 'message language and sentiment, repeated-contact index', '2026-12-07 08:12:16.798813');
INSERT INTO public.schema_version VALUES (9, 'ticket api: api keys bound to a team', '2026-12-07 08:12:16.811835');
INSERT INTO public.schema_version VALUES (10, 'csat surveys and answers', '2026-12-07 08:12:16.838896');
INSERT INTO public.schema_version VALUES (11, 'ticket fingerprints and band keys, merges, incidents', '2026-12-07 08:12:16.970742');
INSERT INTO public.schema_version VALUES (12, 'incident grouping off the pipeline: grouped mark, band rows dropped', '2026-12-07 08:12:16.991537');
INSERT INTO public.schema_version VALUES (13, 'imap status: last success and last error times', '2026-12-07 08:12:17.006705');

INSERT INTO public.slack_agent VALUES ('user_id-1 é', 'name-1 é', 'email-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.slack_agent VALUES ('user_id-2 é', 'name-2 é', 'email-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.slack_thread VALUES (1, 1, 'channel-1 é', 'ts-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.slack_thread VALUES (2, 2, 'channel-2 é', 'ts-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.sms_media VALUES (1, 1, 2, 'url-1 é', 'content_type-1 é', 'status-1 é', 2, 'last_error-1 é', 10000000001, 'blob_key-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.sms_media VALUES (2, 2, 3, 'url-2 é', 'content_type-2 é', 'status-2 é', 3, 'last_error-2 é', 10000000002, 'blob_key-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.sms_opt_out VALUES ('number-1 é', true, 'keyword-1 é', 'source-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.sms_opt_out VALUES ('number-2 é', false, 'keyword-2 é', 'source-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.team VALUES (1, 'name-1 é', 'slack_channel-1 é', 'lead_email-1 é', 'addresses-1 é', 'business_hours-1 é', 'categories-1 é', 'languages-1 é', 'strategy-1 é', true, true, true, '2026-11-26 12:01:00.123456');
INSERT INTO public.team VALUES (2, 'name-2 é', 'slack_channel-2 é', 'lead_email-2 é', 'addresses-2 é', 'business_hours-2 é', 'categories-2 é', 'languages-2 é', 'strategy-2 é', false, false, false, '2026-11-26 12:02:00.123456');

INSERT INTO public.team_member VALUES (1, 1, 1);
INSERT INTO public.team_member VALUES (2, 2, 2);

INSERT INTO public.thread_key VALUES (1, 'key-1 é', 1);
INSERT INTO public.thread_key VALUES (2, 'key-2 é', 2);

INSERT INTO public.ticket VALUES (1, 'number-1 é', 'subject-1 é', 'status-1 é', 'priority-1 é', 'category-1 é', 'team-1 é', 'assignee-1 é', 'language-1 é', 'channel-1 é', 1, 'support_address-1 é', NULL, true, '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.ticket VALUES (2, 'number-2 é', 'subject-2 é', 'status-2 é', 'priority-2 é', 'category-2 é', 'team-2 é', 'assignee-2 é', 'language-2 é', 'channel-2 é', 2, 'support_address-2 é', NULL, false, '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.ticket_field VALUES (1, 1, 'key-1 é', 'value-1 é', 'source-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.ticket_field VALUES (2, 2, 'key-2 é', 'value-2 é', 'source-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.ticket_fingerprint VALUES (1, 1, '\x01010101010101010101010101010101', 'INV-1', '2026-11-26 12:00:00.123456', 1);
INSERT INTO public.ticket_fingerprint VALUES (2, 2, '\x02020202020202020202020202020202', 'INV-2', '2026-11-26 12:00:00.123456', 0);

INSERT INTO public.ticket_merge VALUES (1, 1, 2, 'agent@example.com', 'same problem', 'open', '{"messages": [1]}', '2026-11-26 12:00:00.123456', NULL, NULL);

INSERT INTO public.ticket_routing VALUES (1, '2026-11-26 12:01:00.123456', 'queue_reason-1 é', 2, 'sla_policy-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.ticket_routing VALUES (2, '2026-11-26 12:02:00.123456', 'queue_reason-2 é', 3, 'sla_policy-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.ticket_sla VALUES (1, 1, 'target-1 é', 'policy-1 é', 'calendar-1 é', 0.25, 0.25, 0.25, '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', 'outcome-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.ticket_sla VALUES (2, 2, 'target-2 é', 'policy-2 é', 'calendar-2 é', 0.5, 0.5, 0.5, '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', 'outcome-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.ticket_source VALUES (1, 1, 'source-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.ticket_source VALUES (2, 2, 'source-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.webhook_signature VALUES ('signature-1 é', 'source-1 é', 10000000001, '2026-11-26 12:01:00.123456');
INSERT INTO public.webhook_signature VALUES ('signature-2 é', 'source-2 é', 10000000002, '2026-11-26 12:02:00.123456');

SELECT pg_catalog.setval('public.agent_id_seq', 2, true);

SELECT pg_catalog.setval('public.api_key_id_seq', 2, true);

SELECT pg_catalog.setval('public.attachment_id_seq', 2, true);

SELECT pg_catalog.setval('public.customer_id_seq', 2, true);

SELECT pg_catalog.setval('public.event_id_seq', 2, true);

SELECT pg_catalog.setval('public.helpline_ticket_number', 41, true);

SELECT pg_catalog.setval('public.identity_id_seq', 2, true);

SELECT pg_catalog.setval('public.imap_folder_state_id_seq', 2, true);

SELECT pg_catalog.setval('public.inbound_id_seq', 2, true);

SELECT pg_catalog.setval('public.incident_id_seq', 2, true);

SELECT pg_catalog.setval('public.incident_ticket_id_seq', 2, true);

SELECT pg_catalog.setval('public.message_id_seq', 2, true);

SELECT pg_catalog.setval('public.outbox_id_seq', 2, true);

SELECT pg_catalog.setval('public.participant_id_seq', 2, true);

SELECT pg_catalog.setval('public.slack_thread_id_seq', 2, true);

SELECT pg_catalog.setval('public.sms_media_id_seq', 2, true);

SELECT pg_catalog.setval('public.team_id_seq', 2, true);

SELECT pg_catalog.setval('public.team_member_id_seq', 2, true);

SELECT pg_catalog.setval('public.thread_key_id_seq', 2, true);

SELECT pg_catalog.setval('public.ticket_field_id_seq', 2, true);

SELECT pg_catalog.setval('public.ticket_id_seq', 2, true);

SELECT pg_catalog.setval('public.ticket_merge_id_seq', 1, true);

SELECT pg_catalog.setval('public.ticket_sla_id_seq', 2, true);

SELECT pg_catalog.setval('public.ticket_source_id_seq', 2, true);

ALTER TABLE ONLY public.agent
    ADD CONSTRAINT agent_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.api_key
    ADD CONSTRAINT api_key_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.attachment
    ADD CONSTRAINT attachment_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.blob
    ADD CONSTRAINT blob_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.counter
    ADD CONSTRAINT counter_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.csat_survey
    ADD CONSTRAINT csat_survey_pkey PRIMARY KEY (ticket_id);

ALTER TABLE ONLY public.customer
    ADD CONSTRAINT customer_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.event
    ADD CONSTRAINT event_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.identity
    ADD CONSTRAINT identity_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.imap_folder_state
    ADD CONSTRAINT imap_folder_state_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.imap_lease
    ADD CONSTRAINT imap_lease_pkey PRIMARY KEY (account);

ALTER TABLE ONLY public.inbound
    ADD CONSTRAINT inbound_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.incident
    ADD CONSTRAINT incident_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.incident_ticket
    ADD CONSTRAINT incident_ticket_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.incident_ticket
    ADD CONSTRAINT incident_ticket_ticket_id_key UNIQUE (ticket_id);

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.participant
    ADD CONSTRAINT participant_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.rate_counter
    ADD CONSTRAINT rate_counter_pkey PRIMARY KEY (key, bucket);

ALTER TABLE ONLY public.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.slack_agent
    ADD CONSTRAINT slack_agent_pkey PRIMARY KEY (user_id);

ALTER TABLE ONLY public.slack_thread
    ADD CONSTRAINT slack_thread_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.sms_media
    ADD CONSTRAINT sms_media_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.sms_opt_out
    ADD CONSTRAINT sms_opt_out_pkey PRIMARY KEY (number);

ALTER TABLE ONLY public.team_member
    ADD CONSTRAINT team_member_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.team
    ADD CONSTRAINT team_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.thread_key
    ADD CONSTRAINT thread_key_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ticket_field
    ADD CONSTRAINT ticket_field_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ticket_fingerprint
    ADD CONSTRAINT ticket_fingerprint_pkey PRIMARY KEY (ticket_id);

ALTER TABLE ONLY public.ticket_merge
    ADD CONSTRAINT ticket_merge_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ticket_routing
    ADD CONSTRAINT ticket_routing_pkey PRIMARY KEY (ticket_id);

ALTER TABLE ONLY public.ticket_sla
    ADD CONSTRAINT ticket_sla_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ticket_source
    ADD CONSTRAINT ticket_source_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.webhook_signature
    ADD CONSTRAINT webhook_signature_pkey PRIMARY KEY (signature);

CREATE UNIQUE INDEX agent_email ON public.agent USING btree (email);

CREATE UNIQUE INDEX api_key_key_hash ON public.api_key USING btree (key_hash);

CREATE INDEX attachment_message_id ON public.attachment USING btree (message_id);

CREATE INDEX csat_survey_recipient ON public.csat_survey USING btree (recipient);

CREATE INDEX event_created_at ON public.event USING btree (created_at);

CREATE INDEX event_kind ON public.event USING btree (kind);

CREATE INDEX event_ticket_id ON public.event USING btree (ticket_id);

CREATE INDEX identity_customer_id ON public.identity USING btree (customer_id);

CREATE UNIQUE INDEX identity_kind_address ON public.identity USING btree (kind, address);

CREATE UNIQUE INDEX imap_folder_state_account ON public.imap_folder_state USING btree (account);

CREATE UNIQUE INDEX inbound_channel_external_id_content_hash ON public.inbound USING btree (channel, external_id, content_hash);

CREATE INDEX inbound_status_updated_at ON public.inbound USING btree (status, updated_at);

CREATE INDEX inbound_ticket_id ON public.inbound USING btree (ticket_id);

CREATE INDEX incident_status ON public.incident USING btree (status, created_at);

CREATE INDEX incident_ticket_incident ON public.incident_ticket USING btree (incident_id);

CREATE INDEX message_body_hash ON public.message USING btree (body_hash);

CREATE INDEX message_created_at ON public.message USING btree (created_at);

CREATE INDEX message_inbound_id ON public.message USING btree (inbound_id);

CREATE INDEX message_message_id ON public.message USING btree (message_id);

CREATE INDEX message_sender ON public.message USING btree (sender);

CREATE INDEX message_sender_created_at ON public.message USING btree (sender, created_at);

CREATE INDEX message_ticket_id ON public.message USING btree (ticket_id);

CREATE INDEX outbox_created_at ON public.outbox USING btree (created_at);

CREATE INDEX outbox_message_id ON public.outbox USING btree (message_id);

CREATE INDEX outbox_out_message_id ON public.outbox USING btree (out_message_id);

CREATE INDEX outbox_recipient ON public.outbox USING btree (recipient);

CREATE INDEX outbox_status_next_attempt_at ON public.outbox USING btree (status, next_attempt_at);

CREATE INDEX outbox_ticket_id ON public.outbox USING btree (ticket_id);

CREATE UNIQUE INDEX outbox_unique_key ON public.outbox USING btree (unique_key);

CREATE INDEX participant_address ON public.participant USING btree (address);

CREATE INDEX participant_ticket_id ON public.participant USING btree (ticket_id);

CREATE UNIQUE INDEX participant_ticket_id_kind_address ON public.participant USING btree (ticket_id, kind, address);

CREATE UNIQUE INDEX slack_thread_channel_ts ON public.slack_thread USING btree (channel, ts);

CREATE UNIQUE INDEX slack_thread_ticket_id ON public.slack_thread USING btree (ticket_id);

CREATE INDEX sms_media_message_id ON public.sms_media USING btree (message_id);

CREATE UNIQUE INDEX sms_media_message_id_position ON public.sms_media USING btree (message_id, "position");

CREATE INDEX sms_media_status_updated_at ON public.sms_media USING btree (status, updated_at);

CREATE INDEX team_member_agent_id ON public.team_member USING btree (agent_id);

CREATE INDEX team_member_team_id ON public.team_member USING btree (team_id);

CREATE UNIQUE INDEX team_member_team_id_agent_id ON public.team_member USING btree (team_id, agent_id);

CREATE UNIQUE INDEX team_name ON public.team USING btree (name);

CREATE UNIQUE INDEX thread_key_key ON public.thread_key USING btree (key);

CREATE INDEX thread_key_ticket_id ON public.thread_key USING btree (ticket_id);

CREATE INDEX ticket_created_at ON public.ticket USING btree (created_at);

CREATE INDEX ticket_customer_id ON public.ticket USING btree (customer_id);

CREATE INDEX ticket_field_ticket_id ON public.ticket_field USING btree (ticket_id);

CREATE UNIQUE INDEX ticket_field_ticket_id_key ON public.ticket_field USING btree (ticket_id, key);

CREATE INDEX ticket_fingerprint_customer ON public.ticket_fingerprint USING btree (customer_id, created_at);

CREATE INDEX ticket_fingerprint_ungrouped ON public.ticket_fingerprint USING btree (ticket_id) WHERE (grouped = 0);

CREATE INDEX ticket_follow_up_of_id ON public.ticket USING btree (follow_up_of_id);

CREATE INDEX ticket_merge_source ON public.ticket_merge USING btree (source_id);

CREATE INDEX ticket_merge_target ON public.ticket_merge USING btree (target_id);

CREATE UNIQUE INDEX ticket_number ON public.ticket USING btree (number);

CREATE INDEX ticket_routing_queued_at ON public.ticket_routing USING btree (queued_at);

CREATE INDEX ticket_routing_waiting_since ON public.ticket_routing USING btree (waiting_since);

CREATE INDEX ticket_sla_due_at ON public.ticket_sla USING btree (due_at);

CREATE INDEX ticket_sla_ticket_id ON public.ticket_sla USING btree (ticket_id);

CREATE UNIQUE INDEX ticket_sla_ticket_id_target ON public.ticket_sla USING btree (ticket_id, target);

CREATE INDEX ticket_sla_warn_at ON public.ticket_sla USING btree (warn_at);

CREATE INDEX ticket_source_ticket_id ON public.ticket_source USING btree (ticket_id);

CREATE UNIQUE INDEX ticket_source_ticket_id_source ON public.ticket_source USING btree (ticket_id, source);

CREATE INDEX ticket_status ON public.ticket USING btree (status);

CREATE INDEX webhook_signature_stamp ON public.webhook_signature USING btree (stamp);

ALTER TABLE ONLY public.attachment
    ADD CONSTRAINT attachment_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.message(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.csat_survey
    ADD CONSTRAINT csat_survey_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.event
    ADD CONSTRAINT event_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.identity
    ADD CONSTRAINT identity_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.inbound
    ADD CONSTRAINT inbound_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);

ALTER TABLE ONLY public.incident_ticket
    ADD CONSTRAINT incident_ticket_incident_id_fkey FOREIGN KEY (incident_id) REFERENCES public.incident(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.incident_ticket
    ADD CONSTRAINT incident_ticket_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_inbound_id_fkey FOREIGN KEY (inbound_id) REFERENCES public.inbound(id);

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_out_message_id_fkey FOREIGN KEY (out_message_id) REFERENCES public.message(id);

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);

ALTER TABLE ONLY public.participant
    ADD CONSTRAINT participant_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.slack_thread
    ADD CONSTRAINT slack_thread_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.sms_media
    ADD CONSTRAINT sms_media_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.message(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.team_member
    ADD CONSTRAINT team_member_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES public.agent(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.team_member
    ADD CONSTRAINT team_member_team_id_fkey FOREIGN KEY (team_id) REFERENCES public.team(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.thread_key
    ADD CONSTRAINT thread_key_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(id);

ALTER TABLE ONLY public.ticket_field
    ADD CONSTRAINT ticket_field_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket_fingerprint
    ADD CONSTRAINT ticket_fingerprint_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_follow_up_of_id_fkey FOREIGN KEY (follow_up_of_id) REFERENCES public.ticket(id);

ALTER TABLE ONLY public.ticket_merge
    ADD CONSTRAINT ticket_merge_source_id_fkey FOREIGN KEY (source_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket_merge
    ADD CONSTRAINT ticket_merge_target_id_fkey FOREIGN KEY (target_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket_routing
    ADD CONSTRAINT ticket_routing_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket_sla
    ADD CONSTRAINT ticket_sla_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket_source
    ADD CONSTRAINT ticket_source_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

