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

-- Series. Every (tenant, device, metric) that readings come from gets a small integer dsid and
-- every (tenant, subject, metric) they are filed under an ssid, so that readings is keyed by
-- integers instead of strings and its rows stay short. Series rows are never updated or
-- deleted, so an id, once committed, names the same series for good (the Store caches them).
-- unit is the unit of the device series' first reading: a reading in that unit stores NULL.
CREATE TABLE device_series (
	dsid   INTEGER PRIMARY KEY,
	tenant TEXT NOT NULL,
	device TEXT NOT NULL,
	metric TEXT NOT NULL,
	unit   TEXT NOT NULL,
	UNIQUE (tenant, device, metric)
) STRICT;

CREATE TABLE subject_series (
	ssid    INTEGER PRIMARY KEY,
	tenant  TEXT NOT NULL,
	subject TEXT NOT NULL,
	metric  TEXT NOT NULL,
	UNIQUE (tenant, subject, metric)
) STRICT;

-- Which device series have had readings filed under which subject series: a subject's series
-- is read as the rows with its ssid in each of its device series. Usually one device series
-- per subject series; more when devices were swapped or re-bound.
CREATE TABLE series_links (
	ssid INTEGER NOT NULL,
	dsid INTEGER NOT NULL,
	PRIMARY KEY (ssid, dsid)
) STRICT, WITHOUT ROWID;

-- Readings, in one b-tree keyed by (dsid, measured) and so clustered by device series and time:
-- an insert appends to its series' pages and a range or bucket query reads contiguous pages.
-- Idempotency: the reading ID is a hash of (tenant, device, metric, measured) and dsid stands
-- for exactly (tenant, device, metric), so the primary key is the same constraint as a unique
-- key on the ID, whatever the subject (InsertReadings checks that each ID matches its fields).
-- dsid and ssid carry no REFERENCES: InsertReadings takes them from the series tables in the
-- same transaction, and a foreign-key check would cost two lookups per row.
CREATE TABLE readings (
	dsid     INTEGER NOT NULL, -- device_series
	measured INTEGER NOT NULL,
	ssid     INTEGER NOT NULL, -- subject_series
	kind     INTEGER NOT NULL,
	value    REAL NOT NULL,
	text     TEXT,             -- NULL for ''
	unit     TEXT,             -- NULL for the unit of the device series
	lag      INTEGER NOT NULL, -- received - measured (wrapping): a few bytes, where received takes 8
	sum      REAL,             -- NULL when the reading carries no SenML sum
	flags    INTEGER NOT NULL,
	PRIMARY KEY (dsid, measured)
) STRICT, WITHOUT ROWID;

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
