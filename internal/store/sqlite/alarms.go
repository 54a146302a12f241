package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

var _ store.AlarmStore = (*Store)(nil)

// SaveAlarmBatch writes one engine batch in one IMMEDIATE transaction (store.AlarmStore).
func (s *Store) SaveAlarmBatch(ctx context.Context, b store.AlarmBatch) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: save alarm batch: begin: %w", err)
	}
	defer tx.Rollback()
	for _, e := range b.Events {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alarm_events (id, alarm_id, tenant, seq, at, doc) VALUES (?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, e.ID, e.AlarmID, e.Tenant, e.Seq, nanos(e.At), string(e.JSON)); err != nil {
			return fmt.Errorf("sqlite: save alarm event %s: %w", e.ID, err)
		}
	}
	for _, a := range b.Alarms {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alarms (id, tenant, subject, state, open, priority, raised_at, seq, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET state = excluded.state, open = excluded.open, priority = excluded.priority,
				raised_at = excluded.raised_at, seq = excluded.seq, doc = excluded.doc WHERE excluded.seq >= alarms.seq`,
			a.ID, a.Tenant, a.Subject, a.State, boolInt(a.Open), a.Priority, nanos(a.RaisedAt), a.Seq, string(a.JSON)); err != nil {
			return fmt.Errorf("sqlite: save alarm %s: %w", a.ID, err)
		}
	}
	for _, o := range b.Outbox {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alarm_outbox (id, tenant, alarm_id, status, attempts, next_attempt, created,
			last_error, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
			o.ID, o.Tenant, o.AlarmID, o.Status, o.Attempts, nanos(o.NextAttempt), nanos(o.Created), o.LastError, string(o.Payload)); err != nil {
			return fmt.Errorf("sqlite: save outbox item %s: %w", o.ID, err)
		}
	}
	if b.Snapshot != nil {
		if _, err := tx.ExecContext(ctx, `INSERT INTO alarm_snapshot (one, doc) VALUES (1, ?)
			ON CONFLICT (one) DO UPDATE SET doc = excluded.doc`, string(b.Snapshot)); err != nil {
			return fmt.Errorf("sqlite: save alarm snapshot: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: save alarm batch: commit: %w", err)
	}
	return nil
}

// AlarmSnapshot returns the saved engine snapshot, or nil (store.AlarmStore).
func (s *Store) AlarmSnapshot(ctx context.Context) ([]byte, error) {
	var doc string
	err := s.r.QueryRowContext(ctx, "SELECT doc FROM alarm_snapshot WHERE one = 1").Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: alarm snapshot: %w", err)
	}
	return []byte(doc), nil
}

const alarmCols = "id, tenant, subject, state, open, priority, raised_at, seq, doc"

func scanAlarm(sc scanner) (store.AlarmRecord, error) {
	var a store.AlarmRecord
	var open int
	var raised int64
	var doc string
	if err := sc.Scan(&a.ID, &a.Tenant, &a.Subject, &a.State, &open, &a.Priority, &raised, &a.Seq, &doc); err != nil {
		return a, err
	}
	a.Open, a.RaisedAt, a.JSON = open != 0, fromNanos(raised), []byte(doc)
	return a, nil
}

// Alarms lists alarms of q.Tenant (store.AlarmStore).
func (s *Store) Alarms(ctx context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error) {
	if q.Tenant == "" {
		return nil, errors.New("sqlite: alarms: tenant required")
	}
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	where := []string{"tenant = ?"}
	args := []any{q.Tenant}
	if q.Subject != "" {
		where, args = append(where, "subject = ?"), append(args, q.Subject)
	}
	if q.OpenOnly {
		where = append(where, "open = 1")
	}
	if q.MinPriority > 0 {
		where, args = append(where, "priority >= ?"), append(args, q.MinPriority)
	}
	args = append(args, q.Limit)
	rows, err := s.r.QueryContext(ctx, "SELECT "+alarmCols+" FROM alarms WHERE "+strings.Join(where, " AND ")+
		" ORDER BY priority DESC, raised_at, id LIMIT ?", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: alarms of %s: %w", q.Tenant, err)
	}
	defer rows.Close()
	var out []store.AlarmRecord
	for rows.Next() {
		a, err := scanAlarm(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: alarms of %s: %w", q.Tenant, err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: alarms of %s: %w", q.Tenant, err)
	}
	return out, nil
}

// Alarm returns one alarm (store.AlarmStore).
func (s *Store) Alarm(ctx context.Context, tenant, id string) (store.AlarmRecord, error) {
	a, err := scanAlarm(s.r.QueryRowContext(ctx, "SELECT "+alarmCols+" FROM alarms WHERE tenant = ? AND id = ?", tenant, id))
	if err != nil {
		return a, fmt.Errorf("sqlite: alarm %s of %s: %w", id, tenant, notFound(err))
	}
	return a, nil
}

// AlarmEvents returns one alarm's events in seq order (store.AlarmStore).
func (s *Store) AlarmEvents(ctx context.Context, tenant, alarmID string) ([]store.AlarmEventRecord, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT id, alarm_id, tenant, seq, at, doc FROM alarm_events
		WHERE tenant = ? AND alarm_id = ? ORDER BY seq, at, id`, tenant, alarmID)
	if err != nil {
		return nil, fmt.Errorf("sqlite: events of alarm %s: %w", alarmID, err)
	}
	defer rows.Close()
	var out []store.AlarmEventRecord
	for rows.Next() {
		var e store.AlarmEventRecord
		var at int64
		var doc string
		if err := rows.Scan(&e.ID, &e.AlarmID, &e.Tenant, &e.Seq, &at, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: events of alarm %s: %w", alarmID, err)
		}
		e.At, e.JSON = fromNanos(at), []byte(doc)
		out = append(out, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: events of alarm %s: %w", alarmID, err)
	}
	return out, nil
}

const outboxCols = "id, tenant, alarm_id, status, attempts, next_attempt, created, last_error, payload"

// DueOutbox returns pending items due at now (store.AlarmStore).
func (s *Store) DueOutbox(ctx context.Context, now time.Time, limit int) ([]store.OutboxItem, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+outboxCols+` FROM alarm_outbox WHERE status = ? AND next_attempt <= ?
		ORDER BY next_attempt, created, id LIMIT ?`, store.OutboxPending, now.UnixNano(), limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: due outbox: %w", err)
	}
	defer rows.Close()
	var out []store.OutboxItem
	for rows.Next() {
		var o store.OutboxItem
		var next, created int64
		var payload string
		if err := rows.Scan(&o.ID, &o.Tenant, &o.AlarmID, &o.Status, &o.Attempts, &next, &created, &o.LastError, &payload); err != nil {
			return nil, fmt.Errorf("sqlite: due outbox: %w", err)
		}
		o.NextAttempt, o.Created, o.Payload = fromNanos(next), fromNanos(created), []byte(payload)
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: due outbox: %w", err)
	}
	return out, nil
}

// UpdateOutbox records a delivery attempt's outcome (store.AlarmStore).
func (s *Store) UpdateOutbox(ctx context.Context, it store.OutboxItem) error {
	res, err := s.w.ExecContext(ctx, `UPDATE alarm_outbox SET status = ?, attempts = ?, next_attempt = ?, last_error = ?
		WHERE id = ?`, it.Status, it.Attempts, nanos(it.NextAttempt), it.LastError, it.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update outbox item %s: %w", it.ID, err)
	}
	return oneRow(res, "outbox item "+it.ID)
}

// OutboxPending counts pending items and returns the oldest's creation time (store.AlarmStore).
func (s *Store) OutboxPending(ctx context.Context) (int, time.Time, error) {
	var n int
	var oldest sql.NullInt64
	if err := s.r.QueryRowContext(ctx, "SELECT count(*), min(created) FROM alarm_outbox WHERE status = ?",
		store.OutboxPending).Scan(&n, &oldest); err != nil {
		return 0, time.Time{}, fmt.Errorf("sqlite: outbox pending: %w", err)
	}
	return n, fromNanos(oldest.Int64), nil
}
