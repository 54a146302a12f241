-- Care team (store.CareStore): who is assigned to which patient or unit, who is on call, and each
-- tenant's escalation policies (alarms.md §10). Times in Unix nanoseconds; 0 = open-ended.
CREATE TABLE care_assignments (
	tenant    TEXT NOT NULL,
	id        TEXT NOT NULL,
	user_id   TEXT NOT NULL,
	role      TEXT NOT NULL,
	subject   TEXT NOT NULL,
	unit      TEXT NOT NULL,
	from_t    INTEGER NOT NULL,
	to_t      INTEGER NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX care_assignments_time ON care_assignments (tenant, from_t);

CREATE TABLE oncall_shifts (
	tenant  TEXT NOT NULL,
	id      TEXT NOT NULL,
	ref     TEXT NOT NULL,
	user_id TEXT NOT NULL,
	from_t  INTEGER NOT NULL,
	to_t    INTEGER NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX oncall_shifts_time ON oncall_shifts (tenant, from_t);

CREATE TABLE alarm_policies (
	tenant     TEXT PRIMARY KEY,
	version    INTEGER NOT NULL,
	doc        TEXT NOT NULL,
	updated_by TEXT NOT NULL,
	updated_at INTEGER NOT NULL
);
