package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-iomt/vigil/internal/store"
)

var _ store.AlarmStore = (*Store)(nil)

// SaveAlarmBatch writes one engine batch in one transaction (store.AlarmStore). Events and
// outbox items whose id exists are ignored; an alarm replaces the stored record of its id
// unless that record has a higher seq.
func (s *Store) SaveAlarmBatch(ctx context.Context, b store.AlarmBatch) error {
	batch := &pgx.Batch{}
	for _, e := range b.Events {
		batch.Queue(`INSERT INTO alarm_events (id, alarm_id, tenant, seq, at, doc) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO NOTHING`, e.ID, e.AlarmID, e.Tenant, e.Seq, nanos(e.At), string(e.JSON))
	}
	for _, a := range b.Alarms {
		batch.Queue(`INSERT INTO alarms (id, tenant, subject, state, open, priority, raised_at, seq, doc)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
			ON CONFLICT (id) DO UPDATE SET state = excluded.state, open = excluded.open, priority = excluded.priority,
				raised_at = excluded.raised_at, seq = excluded.seq, doc = excluded.doc WHERE excluded.seq >= alarms.seq`,
			a.ID, a.Tenant, a.Subject, a.State, a.Open, a.Priority, nanos(a.RaisedAt), a.Seq, string(a.JSON))
	}
	for _, o := range b.Outbox {
		batch.Queue(`INSERT INTO alarm_outbox (id, tenant, alarm_id, status, attempts, next_attempt, created,
			last_error, payload) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO NOTHING`,
			o.ID, o.Tenant, o.AlarmID, o.Status, o.Attempts, nanos(o.NextAttempt), nanos(o.Created), o.LastError, string(o.Payload))
	}
	if b.Snapshot != nil {
		batch.Queue(`INSERT INTO alarm_snapshot (one, doc) VALUES (1, $1)
			ON CONFLICT (one) DO UPDATE SET doc = excluded.doc`, string(b.Snapshot))
	}
	if batch.Len() == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: save alarm batch (%d alarms, %d events, %d outbox items): %w",
			len(b.Alarms), len(b.Events), len(b.Outbox), err)
	}
	return nil
}

// AlarmSnapshot returns the saved engine snapshot, or nil (store.AlarmStore).
func (s *Store) AlarmSnapshot(ctx context.Context) ([]byte, error) {
	var doc string
	err := s.pool.QueryRow(ctx, "SELECT doc FROM alarm_snapshot WHERE one = 1").Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("postgres: alarm snapshot: %w", err)
	}
	return []byte(doc), nil
}

const alarmCols = "id, tenant, subject, state, open, priority, raised_at, seq, doc"

func scanAlarm(sc pgx.Row) (store.AlarmRecord, error) {
	var a store.AlarmRecord
	var raised int64
	var doc string
	if err := sc.Scan(&a.ID, &a.Tenant, &a.Subject, &a.State, &a.Open, &a.Priority, &raised, &a.Seq, &doc); err != nil {
		return a, err
	}
	a.RaisedAt, a.JSON = fromNanos(raised), []byte(doc)
	return a, nil
}

// Alarms lists alarms of q.Tenant by priority (highest first), then oldest first
// (store.AlarmStore).
func (s *Store) Alarms(ctx context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error) {
	if q.Tenant == "" {
		return nil, errors.New("postgres: alarms: tenant required")
	}
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	where := []string{"tenant = $1"}
	args := []any{q.Tenant}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Subject != "" {
		where = append(where, "subject = "+arg(q.Subject))
	}
	if q.OpenOnly {
		where = append(where, "open")
	}
	if q.MinPriority > 0 {
		where = append(where, "priority >= "+arg(q.MinPriority))
	}
	limit := arg(q.Limit)
	rows, err := s.pool.Query(ctx, "SELECT "+alarmCols+" FROM alarms WHERE "+strings.Join(where, " AND ")+
		" ORDER BY priority DESC, raised_at, id LIMIT "+limit, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: alarms of %s: %w", q.Tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AlarmRecord, error) { return scanAlarm(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: alarms of %s: %w", q.Tenant, err)
	}
	return out, nil
}

// Alarm returns one alarm of tenant; store.ErrNotFound if none (store.AlarmStore).
func (s *Store) Alarm(ctx context.Context, tenant, id string) (store.AlarmRecord, error) {
	a, err := scanAlarm(s.pool.QueryRow(ctx, "SELECT "+alarmCols+" FROM alarms WHERE tenant = $1 AND id = $2", tenant, id))
	if err != nil {
		return a, fmt.Errorf("postgres: alarm %s of %s: %w", id, tenant, notFound(err))
	}
	return a, nil
}

// AlarmEvents returns one alarm's events in seq order (store.AlarmStore).
func (s *Store) AlarmEvents(ctx context.Context, tenant, alarmID string) ([]store.AlarmEventRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, alarm_id, tenant, seq, at, doc FROM alarm_events
		WHERE tenant = $1 AND alarm_id = $2 ORDER BY seq, at, id`, tenant, alarmID)
	if err != nil {
		return nil, fmt.Errorf("postgres: events of alarm %s: %w", alarmID, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AlarmEventRecord, error) {
		var e store.AlarmEventRecord
		var at int64
		var doc string
		err := r.Scan(&e.ID, &e.AlarmID, &e.Tenant, &e.Seq, &at, &doc)
		e.At, e.JSON = fromNanos(at), []byte(doc)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: events of alarm %s: %w", alarmID, err)
	}
	return out, nil
}

const outboxCols = "id, tenant, alarm_id, status, attempts, next_attempt, created, last_error, payload"

// DueOutbox returns up to limit pending items due at now, oldest first (store.AlarmStore).
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxItem, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+outboxCols+` FROM alarm_outbox WHERE status = $1 AND next_attempt <= $2
		ORDER BY next_attempt, created, id LIMIT $3`, store.OutboxPending, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: due outbox: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.OutboxItem, error) {
		var o store.OutboxItem
		var next, created int64
		var payload string
		err := r.Scan(&o.ID, &o.Tenant, &o.AlarmID, &o.Status, &o.Attempts, &next, &created, &o.LastError, &payload)
		o.NextAttempt, o.Created, o.Payload = fromNanos(next), fromNanos(created), []byte(payload)
		return o, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: due outbox: %w", err)
	}
	return out, nil
}

// UpdateOutbox records a delivery attempt's outcome; store.ErrNotFound if the item does not
// exist (store.AlarmStore).
func (s *Store) UpdateOutbox(ctx context.Context, it store.OutboxItem) error {
	tag, err := s.pool.Exec(ctx, `UPDATE alarm_outbox SET status = $1, attempts = $2, next_attempt = $3, last_error = $4
		WHERE id = $5`, it.Status, it.Attempts, nanos(it.NextAttempt), it.LastError, it.ID)
	if err != nil {
		return fmt.Errorf("postgres: update outbox item %s: %w", it.ID, err)
	}
	return oneRow(tag, "postgres: update outbox item "+it.ID)
}

// OutboxPending counts pending items and returns the oldest's creation time (store.AlarmStore).
func (s *Store) OutboxPending(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest *int64
	if err := s.pool.QueryRow(ctx, "SELECT count(*), min(created) FROM alarm_outbox WHERE status = $1",
		store.OutboxPending).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("postgres: outbox pending: %w", err)
	}
	if oldest == nil {
		return n, time.Time{}, nil
	}
	return n, fromNanos(*oldest), nil
}
