package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vigil-iomt/vigil/internal/store"
)

// AppendAudit appends rec to the chain inside one IMMEDIATE transaction: SQLite's write lock
// is taken at BEGIN, so the read of the chain head and the insert cannot interleave with
// another appender, in this process (one writer connection) or in any other.
// A zero rec.Time is set from s.Now; the time is kept to the nanosecond in UTC.
func (s *Store) AppendAudit(ctx context.Context, rec store.AuditRecord, seal store.AuditSeal) (store.AuditRecord, error) {
	if rec.Time.IsZero() {
		rec.Time = s.Now()
	}
	rec.Time = fromNanos(rec.Time.UnixNano())
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("sqlite: append audit %s: begin: %w", rec.Action, err)
	}
	defer tx.Rollback()
	var seq int64
	var prev string
	err = tx.QueryRowContext(ctx, "SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1").Scan(&seq, &prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return store.AuditRecord{}, fmt.Errorf("sqlite: append audit %s: chain head: %w", rec.Action, err)
	}
	rec.Seq, rec.PrevHash = seq+1, prev
	rec.Hash = seal(rec)
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit (seq, time, tenant, actor, action, target, reason, old, new,
		prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		rec.Seq, rec.Time.UnixNano(), rec.Tenant, rec.Actor, rec.Action, rec.Target, rec.Reason, rec.Old, rec.New,
		rec.PrevHash, rec.Hash); err != nil {
		return store.AuditRecord{}, fmt.Errorf("sqlite: append audit %s at seq %d: %w", rec.Action, rec.Seq, err)
	}
	if err := tx.Commit(); err != nil {
		return store.AuditRecord{}, fmt.Errorf("sqlite: append audit %s at seq %d: commit: %w", rec.Action, rec.Seq, err)
	}
	return rec, nil
}

// Audit returns the entries with Seq > after in Seq order, at most limit (0: 1,000), of
// tenant, or of all tenants when tenant is "".
func (s *Store) Audit(ctx context.Context, tenant string, after int64, limit int) ([]store.AuditRecord, error) {
	if limit <= 0 {
		limit = 1000
	}
	const cols = "seq, time, tenant, actor, action, target, reason, old, new, prev_hash, hash"
	var rows *sql.Rows
	var err error
	if tenant == "" {
		rows, err = s.r.QueryContext(ctx, "SELECT "+cols+" FROM audit WHERE seq > ? ORDER BY seq LIMIT ?", after, limit)
	} else {
		rows, err = s.r.QueryContext(ctx, "SELECT "+cols+" FROM audit WHERE tenant = ? AND seq > ? ORDER BY seq LIMIT ?", tenant, after, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("sqlite: audit of tenant %q after %d: %w", tenant, after, err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var t int64
		if err := rows.Scan(&r.Seq, &t, &r.Tenant, &r.Actor, &r.Action, &r.Target, &r.Reason, &r.Old, &r.New, &r.PrevHash, &r.Hash); err != nil {
			return nil, fmt.Errorf("sqlite: audit of tenant %q after %d: %w", tenant, after, err)
		}
		r.Time = fromNanos(t)
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: audit of tenant %q after %d: %w", tenant, after, err)
	}
	return out, nil
}
