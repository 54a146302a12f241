-- The clinical processor's saved state (store.ClinicalBatch): its checkpoint, the last log
-- sequence whose effects are committed (one row at most), and each patient's processing state
-- as JSON, both saved in the transaction of those effects.
CREATE TABLE clinical_checkpoint (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	log_seq INTEGER NOT NULL
) STRICT;

CREATE TABLE clinical_state (
	tenant  TEXT NOT NULL,
	patient TEXT NOT NULL,
	doc     TEXT NOT NULL,
	PRIMARY KEY (tenant, patient)
) STRICT;
