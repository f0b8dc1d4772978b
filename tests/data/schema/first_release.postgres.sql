
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
    created_at timestamp without time zone NOT NULL
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

CREATE TABLE public.schema_version (
    version integer NOT NULL,
    name character varying(255) NOT NULL,
    applied_at timestamp without time zone NOT NULL
);

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

CREATE SEQUENCE public.ticket_id_seq
    AS integer
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1;

ALTER SEQUENCE public.ticket_id_seq OWNED BY public.ticket.id;

ALTER TABLE ONLY public.attachment ALTER COLUMN id SET DEFAULT nextval('public.attachment_id_seq'::regclass);

ALTER TABLE ONLY public.customer ALTER COLUMN id SET DEFAULT nextval('public.customer_id_seq'::regclass);

ALTER TABLE ONLY public.event ALTER COLUMN id SET DEFAULT nextval('public.event_id_seq'::regclass);

ALTER TABLE ONLY public.identity ALTER COLUMN id SET DEFAULT nextval('public.identity_id_seq'::regclass);

ALTER TABLE ONLY public.inbound ALTER COLUMN id SET DEFAULT nextval('public.inbound_id_seq'::regclass);

ALTER TABLE ONLY public.message ALTER COLUMN id SET DEFAULT nextval('public.message_id_seq'::regclass);

ALTER TABLE ONLY public.outbox ALTER COLUMN id SET DEFAULT nextval('public.outbox_id_seq'::regclass);

ALTER TABLE ONLY public.participant ALTER COLUMN id SET DEFAULT nextval('public.participant_id_seq'::regclass);

ALTER TABLE ONLY public.thread_key ALTER COLUMN id SET DEFAULT nextval('public.thread_key_id_seq'::regclass);

ALTER TABLE ONLY public.ticket ALTER COLUMN id SET DEFAULT nextval('public.ticket_id_seq'::regclass);

INSERT INTO public.attachment VALUES (1, 1, 'filename-1 é', 'content_type-1 é', 2, 'sha256-1 é', 'blob_key-1 é', true, 'content_id-1 é');
INSERT INTO public.attachment VALUES (2, 2, 'filename-2 é', 'content_type-2 é', 3, 'sha256-2 é', 'blob_key-2 é', false, 'content_id-2 é');

INSERT INTO public.blob VALUES ('key-1 é', 10000000001, '\x0100ff070100ff070100ff07', '2026-11-26 12:01:00.123456');
INSERT INTO public.blob VALUES ('key-2 é', 10000000002, '\x0200ff070200ff070200ff07', '2026-11-26 12:02:00.123456');

INSERT INTO public.counter VALUES ('name-1 é', 10000000001);
INSERT INTO public.counter VALUES ('name-2 é', 10000000002);

INSERT INTO public.customer VALUES (1, 'name-1 é', 'tier-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.customer VALUES (2, 'name-2 é', 'tier-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.event VALUES (1, 1, 'actor-1 é', 'kind-1 é', '{"row":1,"text":"Grüße ✓"}', '2026-11-26 12:01:00.123456');
INSERT INTO public.event VALUES (2, 2, 'actor-2 é', 'kind-2 é', '{"row":2,"text":"Grüße ✓"}', '2026-11-26 12:02:00.123456');

INSERT INTO public.identity VALUES (1, 1, 'kind-1 é', 'address-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.identity VALUES (2, 2, 'kind-2 é', 'address-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.inbound VALUES (1, 'channel-1 é', 'external_id-1 é', 'content_hash-1 é', 'status-1 é', 'reason-1 é', '{"row":1,"text":"Grüße ✓"}', 'raw_blob_key-1 é', 2, '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', 1, 'source_host-1 é');
INSERT INTO public.inbound VALUES (2, 'channel-2 é', 'external_id-2 é', 'content_hash-2 é', 'status-2 é', 'reason-2 é', '{"row":2,"text":"Grüße ✓"}', 'raw_blob_key-2 é', 3, '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', 2, 'source_host-2 é');

INSERT INTO public.message VALUES (1, 1, 1, 'direction-1 é', 'author_role-1 é', 'author-1 é', 'channel-1 é', 'external_id-1 é', 'message_id-1 é', 'sender-1 é', 'subject-1 é', 'text-1 é', 'full_text-1 é', 'html-1 é', 'body_hash-1 é', 'raw_blob_key-1 é', '{"row":1,"text":"Grüße ✓"}', '{"row":1,"text":"Grüße ✓"}', 'delivery_status-1 é', '2026-11-26 12:01:00.123456');
INSERT INTO public.message VALUES (2, 2, 2, 'direction-2 é', 'author_role-2 é', 'author-2 é', 'channel-2 é', 'external_id-2 é', 'message_id-2 é', 'sender-2 é', 'subject-2 é', 'text-2 é', 'full_text-2 é', 'html-2 é', 'body_hash-2 é', 'raw_blob_key-2 é', '{"row":2,"text":"Grüße ✓"}', '{"row":2,"text":"Grüße ✓"}', 'delivery_status-2 é', '2026-11-26 12:02:00.123456');

INSERT INTO public.outbox VALUES (1, 1, 1, 'channel-1 é', 'kind-1 é', 'recipient-1 é', '{"row":1,"text":"Grüße ✓"}', 'message_id-1 é', 'status-1 é', 2, '2026-11-26 12:01:00.123456', 'last_error-1 é', 'provider_id-1 é', 'unique_key-1 é', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.outbox VALUES (2, 2, 2, 'channel-2 é', 'kind-2 é', 'recipient-2 é', '{"row":2,"text":"Grüße ✓"}', 'message_id-2 é', 'status-2 é', 3, '2026-11-26 12:02:00.123456', 'last_error-2 é', 'provider_id-2 é', 'unique_key-2 é', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

INSERT INTO public.participant VALUES (1, 1, 'kind-1 é', 'address-1 é', 'role-1 é');
INSERT INTO public.participant VALUES (2, 2, 'kind-2 é', 'address-2 é', 'role-2 é');

INSERT INTO public.schema_version VALUES (1, 'initial schema', '2026-12-07 08:12:13.16511');

INSERT INTO public.thread_key VALUES (1, 'key-1 é', 1);
INSERT INTO public.thread_key VALUES (2, 'key-2 é', 2);

INSERT INTO public.ticket VALUES (1, 'number-1 é', 'subject-1 é', 'status-1 é', 'priority-1 é', 'category-1 é', 'team-1 é', 'assignee-1 é', 'language-1 é', 'channel-1 é', 1, 'support_address-1 é', NULL, true, '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456', '2026-11-26 12:01:00.123456');
INSERT INTO public.ticket VALUES (2, 'number-2 é', 'subject-2 é', 'status-2 é', 'priority-2 é', 'category-2 é', 'team-2 é', 'assignee-2 é', 'language-2 é', 'channel-2 é', 2, 'support_address-2 é', NULL, false, '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456', '2026-11-26 12:02:00.123456');

SELECT pg_catalog.setval('public.attachment_id_seq', 2, true);

SELECT pg_catalog.setval('public.customer_id_seq', 2, true);

SELECT pg_catalog.setval('public.event_id_seq', 2, true);

SELECT pg_catalog.setval('public.helpline_ticket_number', 41, true);

SELECT pg_catalog.setval('public.identity_id_seq', 2, true);

SELECT pg_catalog.setval('public.inbound_id_seq', 2, true);

SELECT pg_catalog.setval('public.message_id_seq', 2, true);

SELECT pg_catalog.setval('public.outbox_id_seq', 2, true);

SELECT pg_catalog.setval('public.participant_id_seq', 2, true);

SELECT pg_catalog.setval('public.thread_key_id_seq', 2, true);

SELECT pg_catalog.setval('public.ticket_id_seq', 2, true);

ALTER TABLE ONLY public.attachment
    ADD CONSTRAINT attachment_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.blob
    ADD CONSTRAINT blob_pkey PRIMARY KEY (key);

ALTER TABLE ONLY public.counter
    ADD CONSTRAINT counter_pkey PRIMARY KEY (name);

ALTER TABLE ONLY public.customer
    ADD CONSTRAINT customer_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.event
    ADD CONSTRAINT event_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.identity
    ADD CONSTRAINT identity_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.inbound
    ADD CONSTRAINT inbound_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.message
    ADD CONSTRAINT message_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.outbox
    ADD CONSTRAINT outbox_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.participant
    ADD CONSTRAINT participant_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.schema_version
    ADD CONSTRAINT schema_version_pkey PRIMARY KEY (version);

ALTER TABLE ONLY public.thread_key
    ADD CONSTRAINT thread_key_pkey PRIMARY KEY (id);

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_pkey PRIMARY KEY (id);

CREATE INDEX attachment_message_id ON public.attachment USING btree (message_id);

CREATE INDEX event_created_at ON public.event USING btree (created_at);

CREATE INDEX event_kind ON public.event USING btree (kind);

CREATE INDEX event_ticket_id ON public.event USING btree (ticket_id);

CREATE INDEX identity_customer_id ON public.identity USING btree (customer_id);

CREATE UNIQUE INDEX identity_kind_address ON public.identity USING btree (kind, address);

CREATE UNIQUE INDEX inbound_channel_external_id_content_hash ON public.inbound USING btree (channel, external_id, content_hash);

CREATE INDEX inbound_status_updated_at ON public.inbound USING btree (status, updated_at);

CREATE INDEX inbound_ticket_id ON public.inbound USING btree (ticket_id);

CREATE INDEX message_body_hash ON public.message USING btree (body_hash);

CREATE INDEX message_created_at ON public.message USING btree (created_at);

CREATE INDEX message_inbound_id ON public.message USING btree (inbound_id);

CREATE INDEX message_message_id ON public.message USING btree (message_id);

CREATE INDEX message_sender ON public.message USING btree (sender);

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

CREATE UNIQUE INDEX thread_key_key ON public.thread_key USING btree (key);

CREATE INDEX thread_key_ticket_id ON public.thread_key USING btree (ticket_id);

CREATE INDEX ticket_created_at ON public.ticket USING btree (created_at);

CREATE INDEX ticket_customer_id ON public.ticket USING btree (customer_id);

CREATE INDEX ticket_follow_up_of_id ON public.ticket USING btree (follow_up_of_id);

CREATE UNIQUE INDEX ticket_number ON public.ticket USING btree (number);

CREATE INDEX ticket_status ON public.ticket USING btree (status);

ALTER TABLE ONLY public.attachment
    ADD CONSTRAINT attachment_message_id_fkey FOREIGN KEY (message_id) REFERENCES public.message(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.event
    ADD CONSTRAINT event_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.identity
    ADD CONSTRAINT identity_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.inbound
    ADD CONSTRAINT inbound_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id);

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

ALTER TABLE ONLY public.thread_key
    ADD CONSTRAINT thread_key_ticket_id_fkey FOREIGN KEY (ticket_id) REFERENCES public.ticket(id) ON DELETE CASCADE;

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customer(id);

ALTER TABLE ONLY public.ticket
    ADD CONSTRAINT ticket_follow_up_of_id_fkey FOREIGN KEY (follow_up_of_id) REFERENCES public.ticket(id);

