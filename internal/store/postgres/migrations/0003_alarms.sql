-- Alarms (store.AlarmStore): current state per alarm as JSON with indexed columns, append-only
-- events, the engine snapshot (one row) and the notification outbox. Times in Unix nanoseconds.
CREATE TABLE alarms (
	id        TEXT PRIMARY KEY,
	tenant    TEXT NOT NULL,
	subject   TEXT NOT NULL,
	state     TEXT NOT NULL,
	open      BOOLEAN NOT NULL,
	priority  BIGINT NOT NULL,
	raised_at BIGINT NOT NULL,
	seq       BIGINT NOT NULL,
	doc       TEXT NOT NULL
);
CREATE INDEX alarms_list ON alarms (tenant, open, priority DESC, raised_at, id);
CREATE INDEX alarms_subject ON alarms (tenant, subject, raised_at);

CREATE TABLE alarm_events (
	id       TEXT PRIMARY KEY,
	alarm_id TEXT NOT NULL,
	tenant   TEXT NOT NULL,
	seq      BIGINT NOT NULL,
	at       BIGINT NOT NULL,
	doc      TEXT NOT NULL
);
CREATE INDEX alarm_events_alarm ON alarm_events (tenant, alarm_id, seq);

CREATE TABLE alarm_snapshot (
	one INTEGER PRIMARY KEY CHECK (one = 1),
	doc TEXT NOT NULL
);

CREATE TABLE alarm_outbox (
	id           TEXT PRIMARY KEY,
	tenant       TEXT NOT NULL,
	alarm_id     TEXT NOT NULL,
	status       TEXT NOT NULL,
	attempts     BIGINT NOT NULL,
	next_attempt BIGINT NOT NULL,
	created      BIGINT NOT NULL,
	last_error   TEXT NOT NULL,
	payload      TEXT NOT NULL
);
CREATE INDEX alarm_outbox_due ON alarm_outbox (status, next_attempt);
