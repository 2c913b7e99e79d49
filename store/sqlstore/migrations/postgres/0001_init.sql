CREATE TABLE accounts (
    id           bigserial PRIMARY KEY,
    platform     text NOT NULL,
    external_id  text NOT NULL,
    display_name text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL,
    UNIQUE (platform, external_id)
);

CREATE TABLE contacts (
    id           bigserial PRIMARY KEY,
    display_name text NOT NULL DEFAULT '',
    merged_into  bigint REFERENCES contacts (id),
    created_at   timestamptz NOT NULL
);

-- Meta scopes user ids to a page, so an identity is keyed by account.
CREATE TABLE identities (
    id               bigserial PRIMARY KEY,
    contact_id       bigint NOT NULL REFERENCES contacts (id),
    account_id       bigint NOT NULL REFERENCES accounts (id),
    platform         text NOT NULL,
    external_user_id text NOT NULL,
    name             text NOT NULL DEFAULT '',
    handle           text NOT NULL DEFAULT '',
    avatar_url       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    UNIQUE (account_id, external_user_id)
);
CREATE INDEX identities_contact ON identities (contact_id);

CREATE TABLE agents (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    email      text NOT NULL DEFAULT '',
    role       text NOT NULL CHECK (role IN ('agent', 'supervisor', 'manager', 'admin')),
    skills     jsonb NOT NULL DEFAULT '[]',
    capacity   integer NOT NULL DEFAULT 10 CHECK (capacity >= 0),
    available  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL
);
CREATE UNIQUE INDEX agents_email ON agents (lower(email)) WHERE email <> '';

CREATE TABLE agent_chat_identities (
    agent_id  bigint NOT NULL REFERENCES agents (id),
    surface   text NOT NULL,
    workspace text NOT NULL,
    user_id   text NOT NULL,
    PRIMARY KEY (surface, workspace, user_id)
);
CREATE INDEX agent_chat_identities_agent ON agent_chat_identities (agent_id);

CREATE TABLE platform_threads (
    id          bigserial PRIMARY KEY,
    account_id  bigint NOT NULL REFERENCES accounts (id),
    external_id text NOT NULL,
    source      text NOT NULL CHECK (source IN ('dm', 'comment', 'mention', 'review')),
    identity_id bigint REFERENCES identities (id),
    created_at  timestamptz NOT NULL,
    UNIQUE (account_id, external_id)
);

CREATE SEQUENCE conversation_number_seq START 1001;

CREATE TABLE conversations (
    id                 bigserial PRIMARY KEY,
    number             bigint NOT NULL UNIQUE DEFAULT nextval('conversation_number_seq'),
    platform_thread_id bigint NOT NULL REFERENCES platform_threads (id),
    account_id         bigint NOT NULL REFERENCES accounts (id),
    platform           text NOT NULL,
    identity_id        bigint NOT NULL REFERENCES identities (id),
    status             text NOT NULL CHECK (status IN ('open', 'pending', 'resolved', 'closed')),
    priority           smallint NOT NULL CHECK (priority BETWEEN 1 AND 4),
    source             text NOT NULL CHECK (source IN ('dm', 'comment', 'mention', 'review')),
    assignee_id        bigint REFERENCES agents (id),
    tags               jsonb NOT NULL DEFAULT '[]',
    last_seq           bigint NOT NULL DEFAULT 0,
    version            bigint NOT NULL DEFAULT 0,
    created_at         timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    first_response_at  timestamptz,
    resolved_at        timestamptz,
    closed_at          timestamptz
);
-- At most one conversation per platform thread is not closed.
CREATE UNIQUE INDEX conversations_one_active ON conversations (platform_thread_id) WHERE status <> 'closed';
CREATE INDEX conversations_thread ON conversations (platform_thread_id, id);
CREATE INDEX conversations_status ON conversations (status, id);
CREATE INDEX conversations_assignee ON conversations (assignee_id, id) WHERE assignee_id IS NOT NULL;

CREATE TABLE chat_threads (
    id              bigserial PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    surface         text NOT NULL,
    workspace       text NOT NULL DEFAULT '',
    channel         text NOT NULL,
    thread_ref      text NOT NULL,
    created_at      timestamptz NOT NULL,
    UNIQUE (conversation_id, surface),
    UNIQUE (surface, channel, thread_ref)
);

CREATE TABLE messages (
    id                  bigserial PRIMARY KEY,
    conversation_id     bigint NOT NULL REFERENCES conversations (id),
    platform_thread_id  bigint NOT NULL REFERENCES platform_threads (id),
    seq                 bigint NOT NULL,
    direction           text NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note')),
    platform_message_id text,
    sender_identity_id  bigint REFERENCES identities (id),
    sender_agent_id     bigint REFERENCES agents (id),
    text                text NOT NULL DEFAULT '',
    attachments         jsonb NOT NULL DEFAULT '[]',
    platform_time       timestamptz NOT NULL,
    created_at          timestamptz NOT NULL,
    edited_at           timestamptz,
    delivery_status     text NOT NULL CHECK (delivery_status IN ('pending', 'sending', 'delivered', 'failed')),
    delivery_error      text NOT NULL DEFAULT '',
    UNIQUE (conversation_id, seq)
);
-- Telegram message ids are unique only within one chat: the key includes the thread.
CREATE UNIQUE INDEX messages_platform_id ON messages (platform_thread_id, platform_message_id) WHERE platform_message_id IS NOT NULL;

CREATE TABLE chat_message_refs (
    message_id bigint NOT NULL REFERENCES messages (id),
    surface    text NOT NULL,
    channel    text NOT NULL,
    ref        text NOT NULL,
    PRIMARY KEY (surface, channel, ref)
);
CREATE INDEX chat_message_refs_message ON chat_message_refs (message_id);

CREATE TABLE processed_deliveries (
    source       text NOT NULL,
    delivery_id  text NOT NULL,
    processed_at timestamptz NOT NULL,
    PRIMARY KEY (source, delivery_id)
);

CREATE TABLE deliveries (
    id              bigserial PRIMARY KEY,
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    target          text NOT NULL,
    kind            text NOT NULL,
    message_id      bigint REFERENCES messages (id),
    seq             bigint NOT NULL,
    text            text NOT NULL DEFAULT '',
    status          text NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
    attempts        integer NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL,
    last_error      text NOT NULL DEFAULT '',
    external_ref    text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);
CREATE INDEX deliveries_lane ON deliveries (conversation_id, target, seq, id) WHERE status IN ('pending', 'sending');

-- One row per conversation and target: the lease that keeps one delivery in
-- flight, and the card version last shown.
CREATE TABLE lanes (
    conversation_id bigint NOT NULL REFERENCES conversations (id),
    target          text NOT NULL,
    lease_owner     text NOT NULL DEFAULT '',
    lease_until     timestamptz NOT NULL,
    card_version    bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (conversation_id, target)
);

CREATE TABLE audit_log (
    id              bigserial PRIMARY KEY,
    actor_agent_id  bigint REFERENCES agents (id),
    action          text NOT NULL,
    conversation_id bigint REFERENCES conversations (id),
    before          text NOT NULL DEFAULT '',
    after           text NOT NULL DEFAULT '',
    at              timestamptz NOT NULL
);
CREATE INDEX audit_log_conversation ON audit_log (conversation_id, id);

CREATE TABLE cursors (
    name       text PRIMARY KEY,
    value      text NOT NULL
);

-- Named leases elect one replica for singleton work, such as the one
-- Telegram poller.
CREATE TABLE leases (
    name        text PRIMARY KEY,
    owner       text NOT NULL DEFAULT '',
    lease_until timestamptz NOT NULL
);
