package store

import (
	"context"
	"time"
)

// Cold-chain record kinds (ColdRecord.Kind). The store does not interpret the documents; the
// cold-chain package (internal/coldchainproc) owns their JSON shapes (docs/coldchain.md).
const (
	ColdSite      = "site"
	ColdUnit      = "unit"
	ColdProduct   = "product"
	ColdLot       = "lot"
	ColdShipment  = "shipment"
	ColdMapping   = "mapping"
	ColdExcursion = "excursion" // Parent: the unit or shipment
	ColdSignature = "signature" // Parent: the signed lot or shipment; append-only
	ColdStatus    = "status"    // live status of a unit or shipment (processor); Parent: "unit" or "shipment"
	ColdLotBudget = "lotbudget" // a lot's budget state (processor); Parent: the lot's product
	ColdAck       = "ack"       // acknowledgement of the excursion with the same id
)

// ColdRecord is one versioned cold-chain record: a JSON document with the columns lists filter
// on. Version starts at 1 and grows by one with every PutColdRecord.
type ColdRecord struct {
	Tenant  string
	Kind    string
	ID      string
	Parent  string // the record it belongs to or sits in (lot → location, excursion → source)
	Status  string // a filterable state (lot status, shipment state, open/closed excursion)
	Version int64
	Created time.Time
	Updated time.Time
	JSON    []byte
}

// ColdQuery selects records of one kind of a tenant; Parent and Status "" mean any.
type ColdQuery struct {
	Tenant string
	Kind   string
	Parent string
	Status string
	Limit  int // 0 = 1,000
}

// LedgerEntry is one append-only budget ledger line of a lot (cold-chain spec 3.7), as JSON.
type LedgerEntry struct {
	ID     string // deterministic (lot, rule, source, from); a second insert of the id is ignored
	Tenant string
	Lot    string
	From   time.Time
	JSON   []byte
}

// ColdState is a processor's persisted state for one monitoring source (a unit or a shipment):
// its detectors, watermarks and live status, as JSON.
type ColdState struct {
	Tenant string
	Source string
	JSON   []byte
}

// ColdBatch is what the cold-chain processor writes for a batch of log messages, in one
// transaction: records it owns replace the stored ones without a version check (Version is set
// to the stored one + 1), ledger lines are added once, source states replace the saved ones,
// and a Checkpoint above 0 replaces the saved checkpoint.
type ColdBatch struct {
	Records []ColdRecord
	Ledger  []LedgerEntry
	States  []ColdState
	// Checkpoint is the last log sequence whose effects the batch completes (0: leave the
	// saved checkpoint as it is). The processor replays the log after it on restart.
	Checkpoint uint64
}

// ColdChainStore persists the cold-chain domain. *sqlite.Store and *postgres.Store implement it.
type ColdChainStore interface {
	// PutColdRecord creates (expect 0: ErrConflict if the id exists) or replaces (expect = the
	// stored version: ErrConflict if it is another, ErrNotFound if there is none) a record, and
	// returns it with its new Version, Created and Updated (Updated = rec.Updated, or now).
	PutColdRecord(ctx context.Context, rec ColdRecord, expect int64) (ColdRecord, error)
	// ColdRecord returns one record; ErrNotFound.
	ColdRecord(ctx context.Context, tenant, kind, id string) (ColdRecord, error)
	// ColdRecords lists records by id.
	ColdRecords(ctx context.Context, q ColdQuery) ([]ColdRecord, error)
	// SaveColdBatch writes b in one transaction (see ColdBatch).
	SaveColdBatch(ctx context.Context, b ColdBatch) error
	// Ledger returns a lot's ledger lines by From, then id.
	Ledger(ctx context.Context, tenant, lot string) ([]LedgerEntry, error)
	// ColdStates returns every saved source state (all tenants: the processor restores them).
	ColdStates(ctx context.Context) ([]ColdState, error)
	// ColdCheckpoint returns the processor's checkpoint saved by SaveColdBatch; ok is false
	// when none was ever saved.
	ColdCheckpoint(ctx context.Context) (seq uint64, ok bool, err error)
}
