-- Vigil query store, SQLite schema 1. Times are Unix nanoseconds UTC (0 = unset).

CREATE TABLE tenants (
	tenant   TEXT PRIMARY KEY,
	name     TEXT NOT NULL,
	settings TEXT NOT NULL DEFAULT '{}', -- JSON object of strings
	created  INTEGER NOT NULL
) STRICT;

CREATE TABLE users (
	tenant        TEXT NOT NULL REFERENCES tenants (tenant),
	id            TEXT PRIMARY KEY,
	username      TEXT NOT NULL UNIQUE, -- unique across tenants: login takes only a username
	role          TEXT NOT NULL,
	password_hash TEXT NOT NULL,
	disabled      INTEGER NOT NULL DEFAULT 0,
	failed_logins INTEGER NOT NULL DEFAULT 0,
	locked_until  INTEGER NOT NULL DEFAULT 0,
	created       INTEGER NOT NULL,
	UNIQUE (tenant, id)
) STRICT;

CREATE TABLE tokens (
	hash    TEXT PRIMARY KEY,
	tenant  TEXT NOT NULL,
	kind    TEXT NOT NULL,
	user_id TEXT NOT NULL,
	csrf    TEXT NOT NULL DEFAULT '',
	created INTEGER NOT NULL,
	expires INTEGER NOT NULL,
	revoked INTEGER NOT NULL DEFAULT 0,
	FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, id)
) STRICT;
CREATE INDEX tokens_user ON tokens (tenant, user_id);

CREATE TABLE devices (
	tenant      TEXT NOT NULL REFERENCES tenants (tenant),
	id          TEXT PRIMARY KEY, -- unique across tenants: a device authenticates by ID alone
	model       TEXT NOT NULL,
	serial      TEXT NOT NULL,
	kind        TEXT NOT NULL,
	subject     TEXT NOT NULL,
	secret_hash TEXT NOT NULL,
	revoked     INTEGER NOT NULL DEFAULT 0,
	created     INTEGER NOT NULL,
	last_seen   INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE INDEX devices_tenant ON devices (tenant, id);

-- Readings are clustered by series so that a range or bucket query reads contiguous pages.
-- Idempotency: the reading ID is a hash of (tenant, device, metric, measured), so a unique key
-- on those columns is the same constraint as a unique key on id (InsertReadings checks that
-- each ID matches them). Unlike an index on the random hash, whose every insert dirties a
-- random page (a whole page written to the WAL per reading once the index outgrows a batch),
-- this index is appended to in time order per device and metric.
CREATE TABLE readings (
	tenant   TEXT NOT NULL,
	subject  TEXT NOT NULL,
	metric   TEXT NOT NULL,
	measured INTEGER NOT NULL,
	device   TEXT NOT NULL,
	id       BLOB NOT NULL CHECK (length(id) = 16),
	kind     INTEGER NOT NULL,
	value    REAL NOT NULL,
	text     TEXT NOT NULL,
	unit     TEXT NOT NULL,
	received INTEGER NOT NULL,
	sum      REAL, -- NULL when the reading carries no SenML sum
	flags    INTEGER NOT NULL,
	PRIMARY KEY (tenant, subject, metric, measured, device)
) STRICT, WITHOUT ROWID;
CREATE UNIQUE INDEX readings_reading ON readings (tenant, device, metric, measured);

-- The newest reading per (tenant, subject, metric), kept by InsertReadings.
CREATE TABLE latest (
	tenant   TEXT NOT NULL,
	subject  TEXT NOT NULL,
	metric   TEXT NOT NULL,
	device   TEXT NOT NULL,
	kind     INTEGER NOT NULL,
	value    REAL NOT NULL,
	text     TEXT NOT NULL,
	unit     TEXT NOT NULL,
	measured INTEGER NOT NULL,
	received INTEGER NOT NULL,
	flags    INTEGER NOT NULL,
	PRIMARY KEY (tenant, subject, metric)
) STRICT, WITHOUT ROWID;

-- The hash-chained audit trail: one chain over all tenants, append-only.
CREATE TABLE audit (
	seq       INTEGER PRIMARY KEY,
	time      INTEGER NOT NULL,
	tenant    TEXT NOT NULL, -- '' for provider-level actions
	actor     TEXT NOT NULL,
	action    TEXT NOT NULL,
	target    TEXT NOT NULL,
	reason    TEXT NOT NULL,
	old       TEXT NOT NULL,
	new       TEXT NOT NULL,
	prev_hash TEXT NOT NULL,
	hash      TEXT NOT NULL
) STRICT;
CREATE INDEX audit_tenant ON audit (tenant, seq);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit entries are append-only: update refused');
END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN
	SELECT RAISE(ABORT, 'audit entries are append-only: delete refused');
END;
