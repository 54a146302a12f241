package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-iomt/vigil/internal/store"
)

// AppendAudit appends rec to the chain. The transaction locks the chain-head row
// (SELECT … FOR UPDATE), so appenders in any process wait for each other and each sees the
// head the previous one left. A zero rec.Time is set from s.Now; the time is kept to the
// nanosecond in UTC.
func (s *Store) AppendAudit(ctx context.Context, rec store.AuditRecord, seal store.AuditSeal) (store.AuditRecord, error) {
	if rec.Time.IsZero() {
		rec.Time = s.Now()
	}
	rec.Time = fromNanos(rec.Time.UnixNano())
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var seq int64
		var prev string
		if err := tx.QueryRow(ctx, "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE").Scan(&seq, &prev); err != nil {
			return fmt.Errorf("chain head: %w", err)
		}
		rec.Seq, rec.PrevHash = seq+1, prev
		rec.Hash = seal(rec)
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO audit (seq, time, tenant, actor, action, target, reason, old, new, prev_hash, hash)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
			rec.Seq, rec.Time.UnixNano(), rec.Tenant, rec.Actor, rec.Action, rec.Target, rec.Reason, rec.Old, rec.New,
			rec.PrevHash, rec.Hash)
		b.Queue("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1", rec.Seq, rec.Hash)
		if err := tx.SendBatch(ctx, b).Close(); err != nil {
			return fmt.Errorf("seq %d: %w", rec.Seq, err)
		}
		return nil
	})
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("postgres: append audit %s: %w", rec.Action, err)
	}
	return rec, nil
}

// Audit returns the entries with Seq > after in Seq order, at most limit (0: 1,000), of
// tenant, or of all tenants when tenant is "".
func (s *Store) Audit(ctx context.Context, tenant string, after int64, limit int) ([]store.AuditRecord, error) {
	if limit <= 0 {
		limit = 1000
	}
	rows, err := s.pool.Query(ctx, `SELECT seq, time, tenant, actor, action, target, reason, old, new, prev_hash, hash
		FROM audit WHERE ($1 = '' OR tenant = $1) AND seq > $2 ORDER BY seq LIMIT $3`, tenant, after, limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: audit of tenant %q after %d: %w", tenant, after, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.AuditRecord, error) {
		var a store.AuditRecord
		var t int64
		err := r.Scan(&a.Seq, &t, &a.Tenant, &a.Actor, &a.Action, &a.Target, &a.Reason, &a.Old, &a.New, &a.PrevHash, &a.Hash)
		a.Time = fromNanos(t)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: audit of tenant %q after %d: %w", tenant, after, err)
	}
	return out, nil
}
