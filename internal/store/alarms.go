package store

import (
	"context"
	"time"
)

// AlarmRecord is the current state of one alarm: the JSON of an alarm.Alarm (the store does
// not interpret it) with the columns that lists filter and sort on.
type AlarmRecord struct {
	ID       string
	Tenant   string
	Subject  string
	State    string // alarm.State, e.g. "ACTIVE"
	Open     bool   // not terminal
	Priority int    // 1 low … 3 high
	RaisedAt time.Time
	Seq      int // the alarm's event count: an older record never overwrites a newer one
	JSON     []byte
}

// AlarmEventRecord is one append-only alarm audit event (JSON of an alarm.Event).
type AlarmEventRecord struct {
	ID      string // deterministic; a second insert of the same id is ignored
	AlarmID string
	Tenant  string
	Seq     int
	At      time.Time
	JSON    []byte
}

// Outbox statuses.
const (
	OutboxPending = "pending"
	OutboxSent    = "sent"
	OutboxDead    = "dead"
	OutboxSkipped = "skipped" // no channel configured for the tenant
)

// OutboxItem is one notification waiting for (or done with) delivery.
type OutboxItem struct {
	ID          string // the deterministic notification id; a second insert is ignored
	Tenant      string
	AlarmID     string
	Status      string
	Attempts    int
	NextAttempt time.Time
	Created     time.Time
	LastError   string
	Payload     []byte // JSON of the notification
}

// AlarmBatch is what the alarm engine emits once, written in one transaction.
type AlarmBatch struct {
	Alarms   []AlarmRecord
	Events   []AlarmEventRecord
	Outbox   []OutboxItem
	Snapshot []byte // the engine state after the batch; nil: keep the saved one
}

// AlarmQuery selects alarms. Tenant is required.
type AlarmQuery struct {
	Tenant      string
	Subject     string // "" = any
	OpenOnly    bool
	MinPriority int
	Limit       int // 0 = 1,000
}

// AlarmStore persists alarms, their events, the engine snapshot and the notification outbox.
// *sqlite.Store and *postgres.Store implement it.
type AlarmStore interface {
	// SaveAlarmBatch writes b in one transaction: events and outbox items are ignored when
	// their id exists (idempotent replay), alarms replace older records of the same id.
	SaveAlarmBatch(ctx context.Context, b AlarmBatch) error
	// AlarmSnapshot returns the saved engine snapshot, or nil when there is none.
	AlarmSnapshot(ctx context.Context) ([]byte, error)
	// Alarms lists alarms by priority (highest first), then RaisedAt (oldest first), then id.
	Alarms(ctx context.Context, q AlarmQuery) ([]AlarmRecord, error)
	// Alarm returns one alarm of tenant; ErrNotFound.
	Alarm(ctx context.Context, tenant, id string) (AlarmRecord, error)
	// AlarmEvents returns the events of one alarm of tenant in seq order.
	AlarmEvents(ctx context.Context, tenant, alarmID string) ([]AlarmEventRecord, error)
	// DueOutbox returns up to limit pending items whose next attempt is at or before now,
	// oldest first.
	DueOutbox(ctx context.Context, now time.Time, limit int) ([]OutboxItem, error)
	// UpdateOutbox sets an item's status, attempts, next attempt and last error.
	UpdateOutbox(ctx context.Context, it OutboxItem) error
	// OutboxPending returns the number of pending items and the creation time of the oldest.
	OutboxPending(ctx context.Context) (int, time.Time, error)
}
