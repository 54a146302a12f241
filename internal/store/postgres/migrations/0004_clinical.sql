-- Patient monitoring (issue 7): wards, beds, patients, encounters with bed stays, device
-- assignments, RPM programmes and enrolments, and immutable clinical records (NEWS2 sets,
-- manual observations, baseline flags and daily values, RPM review time) as JSON documents.
-- Times are Unix nanoseconds UTC (0 = unset / open).
CREATE TABLE wards (
	tenant  TEXT NOT NULL,
	id      TEXT NOT NULL,
	name    TEXT NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);

CREATE TABLE beds (
	tenant TEXT NOT NULL,
	id     TEXT NOT NULL,
	ward   TEXT NOT NULL,
	label  TEXT NOT NULL,
	PRIMARY KEY (tenant, id),
	FOREIGN KEY (tenant, ward) REFERENCES wards (tenant, id)
);

CREATE TABLE patients (
	tenant     TEXT NOT NULL,
	id         TEXT NOT NULL,
	mrn        TEXT NOT NULL,
	name       TEXT NOT NULL,
	birth_date TEXT NOT NULL,
	sex        TEXT NOT NULL,
	spo2_scale BIGINT NOT NULL,
	time_zone  TEXT NOT NULL,
	created    BIGINT NOT NULL,
	PRIMARY KEY (tenant, id),
	UNIQUE (tenant, mrn)
);

CREATE TABLE encounters (
	tenant     TEXT NOT NULL,
	id         TEXT NOT NULL,
	patient    TEXT NOT NULL,
	admitted   BIGINT NOT NULL,
	discharged BIGINT NOT NULL, -- 0 while open
	PRIMARY KEY (tenant, id)
);
CREATE INDEX encounters_patient ON encounters (tenant, patient, admitted);

CREATE TABLE bed_stays (
	tenant    TEXT NOT NULL,
	encounter TEXT NOT NULL,
	patient   TEXT NOT NULL,
	ward      TEXT NOT NULL,
	bed       TEXT NOT NULL,
	from_t    BIGINT NOT NULL,
	to_t      BIGINT NOT NULL, -- 0 while open
	PRIMARY KEY (tenant, encounter, from_t)
);
CREATE INDEX bed_stays_bed ON bed_stays (tenant, bed, to_t);
CREATE INDEX bed_stays_ward ON bed_stays (tenant, ward, to_t);

CREATE TABLE device_assignments (
	tenant     TEXT NOT NULL,
	id         TEXT NOT NULL,
	device     TEXT NOT NULL,
	patient    TEXT NOT NULL,
	kind       TEXT NOT NULL,
	from_t     BIGINT NOT NULL,
	to_t       BIGINT NOT NULL, -- 0 while open
	created_by TEXT NOT NULL,
	created    BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);
CREATE INDEX device_assignments_device ON device_assignments (tenant, device, from_t);
CREATE INDEX device_assignments_patient ON device_assignments (tenant, patient, from_t);

CREATE TABLE clinical_records (
	tenant TEXT NOT NULL,
	kind   TEXT NOT NULL,
	id     TEXT NOT NULL,
	owner  TEXT NOT NULL,
	at     BIGINT NOT NULL,
	tag    TEXT NOT NULL,
	doc    TEXT NOT NULL,
	PRIMARY KEY (tenant, kind, id)
);
CREATE INDEX clinical_records_owner ON clinical_records (tenant, kind, owner, at);
CREATE INDEX clinical_records_at ON clinical_records (tenant, kind, at);

CREATE TABLE rpm_programmes (
	tenant    TEXT NOT NULL,
	id        TEXT NOT NULL,
	name      TEXT NOT NULL,
	condition TEXT NOT NULL,
	time_zone TEXT NOT NULL,
	created   BIGINT NOT NULL,
	PRIMARY KEY (tenant, id)
);

CREATE TABLE rpm_enrolments (
	tenant       TEXT NOT NULL,
	id           TEXT NOT NULL,
	programme    TEXT NOT NULL,
	patient      TEXT NOT NULL,
	time_zone    TEXT NOT NULL,
	enrolled_at  BIGINT NOT NULL,
	ended_at     BIGINT NOT NULL, -- 0 while open
	setup_record BIGINT NOT NULL,
	devices      TEXT NOT NULL,    -- JSON array of device ids
	PRIMARY KEY (tenant, id),
	FOREIGN KEY (tenant, programme) REFERENCES rpm_programmes (tenant, id)
);
CREATE INDEX rpm_enrolments_patient ON rpm_enrolments (tenant, patient);
