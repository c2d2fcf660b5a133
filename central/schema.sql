-- The centre's PostgreSQL schema (docs/central.md "The centre"). `huis central init` applies it;
-- every statement is idempotent, so applying it again (each `huis central run` does) is harmless.
-- Times are timestamptz. `at` is the hub's clock (when it happened at home), `received_at` the
-- centre's (when it was stored).

-- Every upward message once, partitioned by month on `at`. Partitions are made ahead by the
-- store (central/store.py `ensure_partitions`): the current and the next month at start-up, and
-- any month a batch needs (a hub whose clock is off, or a queue emptied after a long cut).
CREATE TABLE IF NOT EXISTS events (
    home        text        NOT NULL,
    msg_id      uuid        NOT NULL,
    at          timestamptz NOT NULL,
    kind        text        NOT NULL,                 -- alert, snapshot, house, device, heartbeat
    action      text,                                 -- an alert's lifecycle step
    alert_id    text,
    received_at timestamptz NOT NULL,
    stream_seq  bigint,                               -- $MQTT_msgs's sequence: where it came from
    body        jsonb       NOT NULL,                 -- the message as the home sent it
    -- A message delivered twice carries the same msg_id and at: stored once.
    CONSTRAINT events_once UNIQUE (home, msg_id, at)
) PARTITION BY RANGE (at);
CREATE INDEX IF NOT EXISTS events_home_at ON events (home, at DESC);
CREATE INDEX IF NOT EXISTS events_alert ON events (home, alert_id, at) WHERE alert_id IS NOT NULL;

-- The current state of each alert: the copy with the newest updated_at wins; older copies
-- arriving late only add to the timeline (events).
CREATE TABLE IF NOT EXISTS alerts (
    home             text        NOT NULL,
    id               text        NOT NULL,
    key              text        NOT NULL,
    scenario         text        NOT NULL,
    severity         text        NOT NULL,            -- controller/alerts/model.py SEVERITIES
    state            text        NOT NULL,            -- controller/alerts/model.py states
    title            text        NOT NULL,
    message          text,                            -- only with the home's share_details
    note             text,                            -- idem
    raised_at        timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    occurrence       integer     NOT NULL DEFAULT 1,
    previous_id      text,
    repeats          integer     NOT NULL DEFAULT 0,
    acknowledged_by  text,
    acknowledged_via text,
    acknowledged_at  timestamptz,
    resolved_at      timestamptz,
    resolution       text,
    -- Active here but missing from the home's latest snapshot: not silently closed.
    unknown_at_home  boolean     NOT NULL DEFAULT false,
    msg_id           uuid        NOT NULL,            -- the message this copy came from
    PRIMARY KEY (home, id)
);
CREATE INDEX IF NOT EXISTS alerts_open ON alerts (home) WHERE state IN ('raised', 'delivering', 'shown', 'delivered', 'acknowledged');

-- One row per home: who it is to the centre and whether its hub is heard.
CREATE TABLE IF NOT EXISTS homes (
    id             text PRIMARY KEY,
    pseudonym      text,
    team           text,
    last_heartbeat timestamptz,                       -- the hub's clock, from its latest heartbeat
    heard_at       timestamptz,                       -- the centre's clock when that heartbeat was stored
    heartbeat_seq  bigint,
    active_alerts  integer,                           -- as the home counted them
    started_at     timestamptz,                       -- when its hub started
    last_seen      timestamptz,                       -- the centre's clock: latest message stored
    link           text NOT NULL DEFAULT 'unknown',   -- 'up', 'silent' (no heartbeat heard for 3 minutes) or 'unknown'
    link_since     timestamptz,
    presence       text,
    mode           text,
    house_at       timestamptz                        -- the hub's clock: when presence and mode were last set
);

-- Each device's latest health as its home reported it (the newest `at` wins).
CREATE TABLE IF NOT EXISTS devices (
    home        text        NOT NULL,
    device      text        NOT NULL,
    device_kind text,
    room        text,
    health      text        NOT NULL,                 -- online, offline, battery_low
    detail      text,
    at          timestamptz NOT NULL,
    PRIMARY KEY (home, device)
);

-- Messages that could not be parsed, with why; acknowledged so they do not block the stream.
CREATE TABLE IF NOT EXISTS rejected (
    id          bigserial   PRIMARY KEY,
    subject     text        NOT NULL,
    stream      text        NOT NULL,
    stream_seq  bigint      NOT NULL,
    received_at timestamptz NOT NULL,
    reason      text        NOT NULL,
    payload     bytea       NOT NULL,
    CONSTRAINT rejected_once UNIQUE (stream, stream_seq)
);

-- Every command a centre user gave, whether it reached the broker or not: the audit.
CREATE TABLE IF NOT EXISTS commands (
    msg_id     uuid        PRIMARY KEY,
    home       text        NOT NULL,
    alert_id   text        NOT NULL,
    action     text        NOT NULL,                  -- acknowledge or resolve
    by_user    text        NOT NULL,                  -- 'centre:<user>'
    note       text,
    at         timestamptz NOT NULL,
    outcome    text        NOT NULL,                  -- 'sent' (the broker has it), 'refused', 'failed'
    detail     text
);
CREATE INDEX IF NOT EXISTS commands_home ON commands (home, at DESC);
