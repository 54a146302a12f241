package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-iomt/vigil/internal/store"
)

var _ store.ColdChainStore = (*Store)(nil)

// PutColdRecord creates or replaces a record with an optimistic version check
// (store.ColdChainStore).
func (s *Store) PutColdRecord(ctx context.Context, rec store.ColdRecord, expect int64) (store.ColdRecord, error) {
	if rec.Tenant == "" || rec.Kind == "" || rec.ID == "" {
		return rec, fmt.Errorf("postgres: put cold-chain record: tenant, kind and id are required")
	}
	if rec.Updated.IsZero() {
		rec.Updated = s.Now().UTC()
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var cur, created int64
		err := tx.QueryRow(ctx, "SELECT version, created FROM cold_records WHERE tenant = $1 AND kind = $2 AND id = $3 FOR UPDATE",
			rec.Tenant, rec.Kind, rec.ID).Scan(&cur, &created)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			if expect != 0 {
				return fmt.Errorf("version %d: %w", expect, store.ErrNotFound)
			}
			rec.Version, rec.Created = 1, rec.Updated
			_, err = tx.Exec(ctx, `INSERT INTO cold_records (tenant, kind, id, parent, status, version, created, updated, doc)
				VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, rec.Tenant, rec.Kind, rec.ID, rec.Parent, rec.Status, rec.Version,
				nanos(rec.Created), nanos(rec.Updated), string(rec.JSON))
			if c := constraint(err); c != nil {
				return c
			}
			return err
		case err != nil:
			return err
		case expect != cur:
			return fmt.Errorf("version %d, stored %d: %w", expect, cur, store.ErrConflict)
		}
		rec.Version, rec.Created = cur+1, fromNanos(created)
		_, err = tx.Exec(ctx, `UPDATE cold_records SET parent = $1, status = $2, version = $3, updated = $4, doc = $5
			WHERE tenant = $6 AND kind = $7 AND id = $8`, rec.Parent, rec.Status, rec.Version, nanos(rec.Updated), string(rec.JSON),
			rec.Tenant, rec.Kind, rec.ID)
		return err
	})
	if err != nil {
		return rec, fmt.Errorf("postgres: put %s %s: %w", rec.Kind, rec.ID, err)
	}
	return rec, nil
}

const coldCols = "tenant, kind, id, parent, status, version, created, updated, doc"

func scanCold(row pgx.Row) (store.ColdRecord, error) {
	var r store.ColdRecord
	var created, updated int64
	var doc string
	if err := row.Scan(&r.Tenant, &r.Kind, &r.ID, &r.Parent, &r.Status, &r.Version, &created, &updated, &doc); err != nil {
		return r, err
	}
	r.Created, r.Updated, r.JSON = fromNanos(created), fromNanos(updated), []byte(doc)
	return r, nil
}

// ColdRecord returns one record (store.ColdChainStore).
func (s *Store) ColdRecord(ctx context.Context, tenant, kind, id string) (store.ColdRecord, error) {
	r, err := scanCold(s.pool.QueryRow(ctx, "SELECT "+coldCols+" FROM cold_records WHERE tenant = $1 AND kind = $2 AND id = $3",
		tenant, kind, id))
	if err != nil {
		return r, fmt.Errorf("postgres: %s %s: %w", kind, id, notFound(err))
	}
	return r, nil
}

// ColdRecords lists records by id (store.ColdChainStore).
func (s *Store) ColdRecords(ctx context.Context, q store.ColdQuery) ([]store.ColdRecord, error) {
	if q.Limit <= 0 {
		q.Limit = 1000
	}
	rows, err := s.pool.Query(ctx, "SELECT "+coldCols+` FROM cold_records WHERE tenant = $1 AND kind = $2
		AND ($3 = '' OR parent = $3) AND ($4 = '' OR status = $4) ORDER BY id LIMIT $5`,
		q.Tenant, q.Kind, q.Parent, q.Status, q.Limit)
	if err != nil {
		return nil, fmt.Errorf("postgres: list %s records: %w", q.Kind, err)
	}
	defer rows.Close()
	var out []store.ColdRecord
	for rows.Next() {
		r, err := scanCold(rows)
		if err != nil {
			return nil, fmt.Errorf("postgres: list %s records: %w", q.Kind, err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: list %s records: %w", q.Kind, err)
	}
	return out, nil
}

// SaveColdBatch writes a processor batch in one transaction (store.ColdChainStore).
func (s *Store) SaveColdBatch(ctx context.Context, b store.ColdBatch) error {
	batch := &pgx.Batch{}
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
		batch.Queue(`INSERT INTO cold_records (tenant, kind, id, parent, status, version, created, updated, doc)
			VALUES ($1, $2, $3, $4, $5, 1, $6, $7, $8)
			ON CONFLICT (tenant, kind, id) DO UPDATE SET parent = excluded.parent, status = excluded.status,
				version = cold_records.version + 1, updated = excluded.updated, doc = excluded.doc`,
			r.Tenant, r.Kind, r.ID, r.Parent, r.Status, nanos(cr), nanos(up), string(r.JSON))
	}
	for _, l := range b.Ledger {
		batch.Queue(`INSERT INTO cold_ledger (id, tenant, lot, from_t, doc) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (id) DO NOTHING`, l.ID, l.Tenant, l.Lot, nanos(l.From), string(l.JSON))
	}
	for _, st := range b.States {
		batch.Queue(`INSERT INTO cold_state (tenant, source, doc) VALUES ($1, $2, $3)
			ON CONFLICT (tenant, source) DO UPDATE SET doc = excluded.doc`, st.Tenant, st.Source, string(st.JSON))
	}
	if b.Checkpoint > 0 {
		batch.Queue(`INSERT INTO cold_checkpoint (one, log_seq) VALUES (1, $1)
			ON CONFLICT (one) DO UPDATE SET log_seq = excluded.log_seq`, int64(b.Checkpoint))
	}
	if batch.Len() == 0 {
		return nil
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return tx.SendBatch(ctx, batch).Close()
	})
	if err != nil {
		return fmt.Errorf("postgres: save cold-chain batch (%d records, %d ledger lines, %d states, checkpoint %d): %w",
			len(b.Records), len(b.Ledger), len(b.States), b.Checkpoint, err)
	}
	return nil
}

// Ledger returns a lot's ledger lines (store.ColdChainStore).
func (s *Store) Ledger(ctx context.Context, tenant, lot string) ([]store.LedgerEntry, error) {
	rows, err := s.pool.Query(ctx, "SELECT id, tenant, lot, from_t, doc FROM cold_ledger WHERE tenant = $1 AND lot = $2 ORDER BY from_t, id",
		tenant, lot)
	if err != nil {
		return nil, fmt.Errorf("postgres: ledger of %s: %w", lot, err)
	}
	defer rows.Close()
	var out []store.LedgerEntry
	for rows.Next() {
		var l store.LedgerEntry
		var from int64
		var doc string
		if err := rows.Scan(&l.ID, &l.Tenant, &l.Lot, &from, &doc); err != nil {
			return nil, fmt.Errorf("postgres: ledger of %s: %w", lot, err)
		}
		l.From, l.JSON = fromNanos(from), []byte(doc)
		out = append(out, l)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: ledger of %s: %w", lot, err)
	}
	return out, nil
}

// ColdStates returns every saved source state (store.ColdChainStore).
func (s *Store) ColdStates(ctx context.Context) ([]store.ColdState, error) {
	rows, err := s.pool.Query(ctx, "SELECT tenant, source, doc FROM cold_state ORDER BY tenant, source")
	if err != nil {
		return nil, fmt.Errorf("postgres: cold-chain states: %w", err)
	}
	defer rows.Close()
	var out []store.ColdState
	for rows.Next() {
		var st store.ColdState
		var doc string
		if err := rows.Scan(&st.Tenant, &st.Source, &doc); err != nil {
			return nil, fmt.Errorf("postgres: cold-chain states: %w", err)
		}
		st.JSON = []byte(doc)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("postgres: cold-chain states: %w", err)
	}
	return out, nil
}

// ColdCheckpoint returns the cold-chain processor's checkpoint (store.ColdChainStore).
func (s *Store) ColdCheckpoint(ctx context.Context) (uint64, bool, error) {
	var seq int64
	err := s.pool.QueryRow(ctx, "SELECT log_seq FROM cold_checkpoint WHERE one = 1").Scan(&seq)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("postgres: cold-chain checkpoint: %w", err)
	}
	return uint64(seq), true, nil
}
