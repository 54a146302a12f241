-- The cold-chain processor's checkpoint (store.ColdBatch.Checkpoint): the last log sequence
-- whose effects are committed, saved in the transaction of those effects. One row at most.
CREATE TABLE cold_checkpoint (
	one     INTEGER PRIMARY KEY CHECK (one = 1),
	log_seq INTEGER NOT NULL
);
