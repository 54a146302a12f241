-- Vigil query store, PostgreSQL schema 1. Times are Unix nanoseconds UTC (0 = unset).
-- Objects are created in the first schema of search_path.

CREATE TABLE tenants (
	tenant   TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	settings JSONB NOT NULL DEFAULT '{}',
	created  BIGINT NOT NULL
);

CREATE TABLE users (
	tenant        TEXT NOT NULL REFERENCES tenants (tenant),
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE, -- unique across tenants: login takes only a username
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      BOOLEAN NOT NULL DEFAULT false,
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  BIGINT NOT NULL DEFAULT 0,
	created       BIGINT NOT NULL,
	UNIQUE (tenant, id)
);

CREATE TABLE tokens (
	hash    TEXT PRIMARY KEY,
	tenant  TEXT NOT NULL,
	kind    TEXT NOT NULL,
	user_id TEXT NOT NULL,
	csrf    TEXT NOT NULL DEFAULT '',
	created BIGINT NOT NULL,
	expires BIGINT NOT NULL,
	revoked BOOLEAN NOT NULL DEFAULT false,
	FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id)
);
CREATE INDEX tokens_user ON tokens (tenant, user_id);

CREATE TABLE devices (
	tenant      TEXT NOT NULL REFERENCES tenants (tenant),
	id          TEXT PRIMARY KEY, -- unique across tenants: a device authenticates by ID alone
	model       TEXT NOT NULL,
	serial      TEXT NOT NULL,
	kind        TEXT NOT NULL,
	subject     TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	revoked     BOOLEAN NOT NULL DEFAULT false,
	created     BIGINT NOT NULL,
	last_seen   BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX devices_tenant ON devices (tenant, id);

-- Idempotency: the reading ID is a hash of (tenant, device, metric, measured), so the unique key
-- on those columns is the same constraint as one on id (InsertReadings checks each ID matches),
-- and it is appended to in time order instead of at random pages.
CREATE TABLE readings (
	id       BYTEA NOT NULL CHECK (length(id) = 16),
	tenant   TEXT NOT NULL,
	subject  TEXT NOT NULL,
	device   TEXT NOT NULL,
	metric   TEXT NOT NULL,
	kind     SMALLINT NOT NULL,
	value    DOUBLE PRECISION NOT NULL,
	text     TEXT NOT NULL,
	unit     TEXT NOT NULL,
	measured BIGINT NOT NULL,
	received BIGINT NOT NULL,
	sum      DOUBLE PRECISION, -- NULL when the reading carries no SenML sum
	flags    INTEGER NOT NULL,
	CONSTRAINT readings_reading UNIQUE (tenant, device, metric, measured)
);
CREATE INDEX readings_series ON readings (tenant, subject, metric, measured) INCLUDE (kind, value);

-- The newest reading per (tenant, subject, metric), kept by InsertReadings.
CREATE TABLE latest (
	tenant   TEXT NOT NULL,
	subject  TEXT NOT NULL,
	metric   TEXT NOT NULL,
	device   TEXT NOT NULL,
	kind     SMALLINT NOT NULL,
	value    DOUBLE PRECISION NOT NULL,
	text     TEXT NOT NULL,
	unit     TEXT NOT NULL,
	measured BIGINT NOT NULL,
	received BIGINT NOT NULL,
	flags    INTEGER NOT NULL,
	PRIMARY KEY (tenant, subject, metric)
);

-- The hash-chained audit trail: one chain over all tenants, append-only.
CREATE TABLE audit (
	seq       BIGINT PRIMARY KEY,
	time      BIGINT NOT NULL,
	tenant    TEXT NOT NULL, -- '' for provider-level actions
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	old       TEXT NOT NULL,
	new       TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
);
CREATE INDEX audit_tenant ON audit (tenant, seq);

-- The chain head: appenders lock this one row (SELECT … FOR UPDATE), which serialises them
-- across processes, including the very first append.
CREATE TABLE audit_head (
	id   SMALLINT PRIMARY KEY CHECK (id = 1),
	seq  BIGINT NOT NULL,
	hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '');

CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP;
END
$$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
	FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
	FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
