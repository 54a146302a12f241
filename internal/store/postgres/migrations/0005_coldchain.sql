-- Cold chain (store.ColdChainStore): versioned JSON records (sites, units, products, lots,
-- shipments, mapping studies, excursions, signatures), the append-only budget ledger of lots
-- and the cold-chain processor's per-source state. Times in Unix nanoseconds.
CREATE TABLE cold_records (
	tenant  TEXT NOT NULL,
	kind    TEXT NOT NULL,
	id      TEXT NOT NULL,
	parent  TEXT NOT NULL,
	status  TEXT NOT NULL,
	version BIGINT NOT NULL,
	created BIGINT NOT NULL,
	updated BIGINT NOT NULL,
	doc     TEXT NOT NULL,
	PRIMARY KEY (tenant, kind, id)
);
CREATE INDEX cold_records_parent ON cold_records (tenant, kind, parent, id);

CREATE TABLE cold_ledger (
	id     TEXT PRIMARY KEY,
	tenant TEXT NOT NULL,
	lot    TEXT NOT NULL,
	from_t BIGINT NOT NULL,
	doc    TEXT NOT NULL
);
CREATE INDEX cold_ledger_lot ON cold_ledger (tenant, lot, from_t, id);

CREATE TABLE cold_state (
	tenant TEXT NOT NULL,
	source TEXT NOT NULL,
	doc    TEXT NOT NULL,
	PRIMARY KEY (tenant, source)
);
