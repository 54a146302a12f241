package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigil-iomt/vigil/internal/store"
)

var _ store.CareStore = (*Store)(nil)

// CreateCareAssignment stores a (store.CareStore).
func (s *Store) CreateCareAssignment(ctx context.Context, a store.CareAssignment) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO care_assignments (tenant, id, user_id, role, subject, unit, from_t, to_t)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, a.Tenant, a.ID, a.UserID, string(a.Role), a.Subject, a.Unit, nanos(a.From), nanos(a.To))
	if err != nil {
		if c := constraint(err); c != nil {
			return fmt.Errorf("postgres: create care assignment %s: %w", a.ID, c)
		}
		return fmt.Errorf("postgres: create care assignment %s: %w", a.ID, err)
	}
	return nil
}

// EndCareAssignment ends assignment id at at (store.CareStore).
func (s *Store) EndCareAssignment(ctx context.Context, tenant, id string, at time.Time) error {
	tag, err := s.pool.Exec(ctx, "UPDATE care_assignments SET to_t = $1 WHERE tenant = $2 AND id = $3", nanos(at), tenant, id)
	if err != nil {
		return fmt.Errorf("postgres: end care assignment %s: %w", id, err)
	}
	return oneRow(tag, "postgres: end care assignment "+id)
}

// CareAssignments lists assignments active at at (store.CareStore).
func (s *Store) CareAssignments(ctx context.Context, tenant string, at time.Time) ([]store.CareAssignment, error) {
	q := "SELECT tenant, id, user_id, role, subject, unit, from_t, to_t FROM care_assignments WHERE tenant = $1"
	args := []any{tenant}
	if !at.IsZero() {
		q += " AND from_t <= $2 AND (to_t = 0 OR to_t > $2)"
		args = append(args, nanos(at))
	}
	rows, err := s.pool.Query(ctx, q+" ORDER BY from_t, id", args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: care assignments of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []store.CareAssignment
	for rows.Next() {
		var a store.CareAssignment
		var role string
		var from, to int64
		if err := rows.Scan(&a.Tenant, &a.ID, &a.UserID, &role, &a.Subject, &a.Unit, &from, &to); err != nil {
			return nil, fmt.Errorf("postgres: care assignments of %s: %w", tenant, err)
		}
		a.Role, a.From, a.To = store.CareRole(role), fromNanos(from), fromNanos(to)
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateOnCall stores a shift (store.CareStore).
func (s *Store) CreateOnCall(ctx context.Context, sh store.OnCallShift) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO oncall_shifts (tenant, id, ref, user_id, from_t, to_t) VALUES ($1, $2, $3, $4, $5, $6)`,
		sh.Tenant, sh.ID, sh.Ref, sh.UserID, nanos(sh.From), nanos(sh.To))
	if err != nil {
		if c := constraint(err); c != nil {
			return fmt.Errorf("postgres: create on-call shift %s: %w", sh.ID, c)
		}
		return fmt.Errorf("postgres: create on-call shift %s: %w", sh.ID, err)
	}
	return nil
}

// DeleteOnCall removes a shift (store.CareStore).
func (s *Store) DeleteOnCall(ctx context.Context, tenant, id string) error {
	tag, err := s.pool.Exec(ctx, "DELETE FROM oncall_shifts WHERE tenant = $1 AND id = $2", tenant, id)
	if err != nil {
		return fmt.Errorf("postgres: delete on-call shift %s: %w", id, err)
	}
	return oneRow(tag, "postgres: delete on-call shift "+id)
}

// OnCall lists shifts active at at (store.CareStore).
func (s *Store) OnCall(ctx context.Context, tenant string, at time.Time) ([]store.OnCallShift, error) {
	q := "SELECT tenant, id, ref, user_id, from_t, to_t FROM oncall_shifts WHERE tenant = $1"
	args := []any{tenant}
	if !at.IsZero() {
		q += " AND from_t <= $2 AND to_t > $2"
		args = append(args, nanos(at))
	}
	rows, err := s.pool.Query(ctx, q+" ORDER BY from_t, id", args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: on-call shifts of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []store.OnCallShift
	for rows.Next() {
		var sh store.OnCallShift
		var from, to int64
		if err := rows.Scan(&sh.Tenant, &sh.ID, &sh.Ref, &sh.UserID, &from, &to); err != nil {
			return nil, fmt.Errorf("postgres: on-call shifts of %s: %w", tenant, err)
		}
		sh.From, sh.To = fromNanos(from), fromNanos(to)
		out = append(out, sh)
	}
	return out, rows.Err()
}

// SaveAlarmPolicies stores a tenant's policies at the next version (store.CareStore).
func (s *Store) SaveAlarmPolicies(ctx context.Context, d store.AlarmPolicyDoc) error {
	var tag pgconn.CommandTag
	var err error
	if d.Version == 1 {
		tag, err = s.pool.Exec(ctx, `INSERT INTO alarm_policies (tenant, version, doc, updated_by, updated_at)
			VALUES ($1, 1, $2, $3, $4) ON CONFLICT (tenant) DO NOTHING`, d.Tenant, string(d.JSON), d.UpdatedBy, nanos(d.UpdatedAt))
	} else {
		tag, err = s.pool.Exec(ctx, `UPDATE alarm_policies SET version = $1, doc = $2, updated_by = $3, updated_at = $4
			WHERE tenant = $5 AND version = $6`, d.Version, string(d.JSON), d.UpdatedBy, nanos(d.UpdatedAt), d.Tenant, d.Version-1)
	}
	if err != nil {
		return fmt.Errorf("postgres: save alarm policies of %s: %w", d.Tenant, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: save alarm policies of %s version %d: %w", d.Tenant, d.Version, store.ErrConflict)
	}
	return nil
}

// AlarmPolicies returns every tenant's policies (store.CareStore).
func (s *Store) AlarmPolicies(ctx context.Context) ([]store.AlarmPolicyDoc, error) {
	rows, err := s.pool.Query(ctx, "SELECT tenant, version, doc, updated_by, updated_at FROM alarm_policies ORDER BY tenant")
	if err != nil {
		return nil, fmt.Errorf("postgres: alarm policies: %w", err)
	}
	defer rows.Close()
	var out []store.AlarmPolicyDoc
	for rows.Next() {
		var d store.AlarmPolicyDoc
		var doc string
		var at int64
		if err := rows.Scan(&d.Tenant, &d.Version, &doc, &d.UpdatedBy, &at); err != nil {
			return nil, fmt.Errorf("postgres: alarm policies: %w", err)
		}
		d.JSON, d.UpdatedAt = []byte(doc), fromNanos(at)
		out = append(out, d)
	}
	return out, rows.Err()
}
