package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/vigil-iomt/vigil/internal/store"
)

var _ store.ColdChainStore = (*Store)(nil)

// PutColdRecord creates or replaces a record with an optimistic version check
// (store.ColdChainStore).
func (s *Store) PutColdRecord(ctx context.Context, rec store.ColdRecord, expect int64) (store.ColdRecord, error) {
	if rec.Tenant == "" || rec.Kind == "" || rec.ID == "" {
		return rec, fmt.Errorf("sqlite: put cold-chain record: tenant, kind and id are required")
	}
	if rec.Updated.IsZero() {
		rec.Updated = s.Now().UTC()
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return rec, fmt.Errorf("sqlite: put %s %s: begin: %w", rec.Kind, rec.ID, err)
	}
	defer tx.Rollback()
	var cur, created int64
	err = tx.QueryRowContext(ctx, "SELECT version, created FROM cold_records WHERE tenant = ? AND kind = ? AND id = ?",
		rec.Tenant, rec.Kind, rec.ID).Scan(&cur, &created)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		if expect != 0 {
			return rec, fmt.Errorf("sqlite: put %s %s version %d: %w", rec.Kind, rec.ID, expect, store.ErrNotFound)
		}
		rec.Version, rec.Created = 1, rec.Updated
		_, err = tx.ExecContext(ctx, `INSERT INTO cold_records (tenant, kind, id, parent, status, version, created, updated, doc)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, rec.Tenant, rec.Kind, rec.ID, rec.Parent, rec.Status, rec.Version,
			nanos(rec.Created), nanos(rec.Updated), string(rec.JSON))
	case err != nil:
		return rec, fmt.Errorf("sqlite: put %s %s: %w", rec.Kind, rec.ID, err)
	case expect != cur:
		return rec, fmt.Errorf("sqlite: put %s %s: version %d, stored %d: %w", rec.Kind, rec.ID, expect, cur, store.ErrConflict)
	default:
		rec.Version, rec.Created = cur+1, fromNanos(created)
		_, err = tx.ExecContext(ctx, `UPDATE cold_records SET parent = ?, status = ?, version = ?, updated = ?, doc = ?
			WHERE tenant = ? AND kind = ? AND id = ?`, rec.Parent, rec.Status, rec.Version, nanos(rec.Updated), string(rec.JSON),
			rec.Tenant, rec.Kind, rec.ID)
	}
	if err != nil {
		return rec, fmt.Errorf("sqlite: put %s %s: %w", rec.Kind, rec.ID, err)
	}
	if err := tx.Commit(); err != nil {
		return rec, fmt.Errorf("sqlite: put %s %s: commit: %w", rec.Kind, rec.ID, err)
	}
	return rec, nil
}

const coldCols = "tenant, kind, id, parent, status, version, created, updated, doc"

func scanCold(sc scanner) (store.ColdRecord, error) {
	var r store.ColdRecord
	var created, updated int64
	var doc string
	if err := sc.Scan(&r.Tenant, &r.Kind, &r.ID, &r.Parent, &r.Status, &r.Version, &created, &updated, &doc); err != nil {
		return r, err
	}
	r.Created, r.Updated, r.JSON = fromNanos(created), fromNanos(updated), []byte(doc)
	return r, nil
}

// ColdRecord returns one record (store.ColdChainStore).
func (s *Store) ColdRecord(ctx context.Context, tenant, kind, id string) (store.ColdRecord, error) {
	r, err := scanCold(s.r.QueryRowContext(ctx, "SELECT "+coldCols+" FROM cold_records WHERE tenant = ? AND kind = ? AND id = ?",
		tenant, kind, id))
	if errors.Is(err, sql.ErrNoRows) {
		return r, fmt.Errorf("sqlite: %s %s: %w", kind, id, store.ErrNotFound)
	}
	if err != nil {
		return r, fmt.Errorf("sqlite: %s %s: %w", kind, id, err)
	}
	return r, nil
}

// ColdRecords lists records by id (store.ColdChainStore).
func (s *Store) ColdRecords(ctx context.Context, q store.ColdQuery) ([]store.ColdRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	rows, err := s.r.QueryContext(ctx, "SELECT "+coldCols+` FROM cold_records WHERE tenant = ? AND kind = ?
		AND (? = '' OR parent = ?) AND (? = '' OR status = ?) ORDER BY id LIMIT ?`,
		q.Tenant, q.Kind, q.Parent, q.Parent, q.Status, q.Status, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list %s records: %w", q.Kind, err)
	}
	defer rows.Close()
	var out []store.ColdRecord
	for rows.Next() {
		r, err := scanCold(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list %s records: %w", q.Kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list %s records: %w", q.Kind, err)
	}
	return out, nil
}

// SaveColdBatch writes a processor batch in one transaction (store.ColdChainStore).
func (s *Store) SaveColdBatch(ctx context.Context, b store.ColdBatch) error {
	if len(b.Records)+len(b.Ledger)+len(b.States) == 0 && b.Checkpoint == 0 {
		return nil
	}
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: save cold-chain batch: begin: %w", err)
	}
	defer tx.Rollback()
	now := s.Now().UTC()
	for _, r := range b.Records {
		up := r.Updated
		if up.IsZero() {
			up = now
		}
		cr := r.Created
		if cr.IsZero() {
			cr = up
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO cold_records (tenant, kind, id, parent, status, version, created, updated, doc)
			VALUES (?, ?, ?, ?, ?, 1, ?, ?, ?)
			ON CONFLICT (tenant, kind, id) DO UPDATE SET parent = excluded.parent, status = excluded.status,
				version = cold_records.version + 1, updated = excluded.updated, doc = excluded.doc`,
			r.Tenant, r.Kind, r.ID, r.Parent, r.Status, nanos(cr), nanos(up), string(r.JSON)); err != nil {
			return fmt.Errorf("sqlite: save %s %s: %w", r.Kind, r.ID, err)
		}
	}
	for _, l := range b.Ledger {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cold_ledger (id, tenant, lot, from_t, doc) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, l.ID, l.Tenant, l.Lot, nanos(l.From), string(l.JSON)); err != nil {
			return fmt.Errorf("sqlite: save ledger entry %s: %w", l.ID, err)
		}
	}
	for _, st := range b.States {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cold_state (tenant, source, doc) VALUES (?, ?, ?)
			ON CONFLICT (tenant, source) DO UPDATE SET doc = excluded.doc`, st.Tenant, st.Source, string(st.JSON)); err != nil {
			return fmt.Errorf("sqlite: save state of %s: %w", st.Source, err)
		}
	}
	if b.Checkpoint > 0 {
		if _, err := tx.ExecContext(ctx, `INSERT INTO cold_checkpoint (one, log_seq) VALUES (1, ?)
			ON CONFLICT (one) DO UPDATE SET log_seq = excluded.log_seq`, int64(b.Checkpoint)); err != nil {
			return fmt.Errorf("sqlite: save cold-chain checkpoint %d: %w", b.Checkpoint, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: save cold-chain batch: commit: %w", err)
	}
	return nil
}

// Ledger returns a lot's ledger lines (store.ColdChainStore).
func (s *Store) Ledger(ctx context.Context, tenant, lot string) ([]store.LedgerEntry, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT id, tenant, lot, from_t, doc FROM cold_ledger WHERE tenant = ? AND lot = ? ORDER BY from_t, id",
		tenant, lot)
	if err != nil {
		return nil, fmt.Errorf("sqlite: ledger of %s: %w", lot, err)
	}
	defer rows.Close()
	var out []store.LedgerEntry
	for rows.Next() {
		var l store.LedgerEntry
		var from int64
		var doc string
		if err := rows.Scan(&l.ID, &l.Tenant, &l.Lot, &from, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: ledger of %s: %w", lot, err)
		}
		l.From, l.JSON = fromNanos(from), []byte(doc)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: ledger of %s: %w", lot, err)
	}
	return out, nil
}

// ColdStates returns every saved source state (store.ColdChainStore).
func (s *Store) ColdStates(ctx context.Context) ([]store.ColdState, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT tenant, source, doc FROM cold_state ORDER BY tenant, source")
	if err != nil {
		return nil, fmt.Errorf("sqlite: cold-chain states: %w", err)
	}
	defer rows.Close()
	var out []store.ColdState
	for rows.Next() {
		var st store.ColdState
		var doc string
		if err := rows.Scan(&st.Tenant, &st.Source, &doc); err != nil {
			return nil, fmt.Errorf("sqlite: cold-chain states: %w", err)
		}
		st.JSON = []byte(doc)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: cold-chain states: %w", err)
	}
	return out, nil
}

// ColdCheckpoint returns the cold-chain processor's checkpoint (store.ColdChainStore).
func (s *Store) ColdCheckpoint(ctx context.Context) (uint64, bool, error) {
	var seq int64
	err := s.r.QueryRowContext(ctx, "SELECT log_seq FROM cold_checkpoint WHERE one = 1").Scan(&seq)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("sqlite: cold-chain checkpoint: %w", err)
	}
	return uint64(seq), true, nil
}
