package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

var _ store.CareStore = (*Store)(nil)

// CreateCareAssignment stores a (store.CareStore).
func (s *Store) CreateCareAssignment(ctx context.Context, a store.CareAssignment) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO care_assignments (tenant, id, user_id, role, subject, unit, from_t, to_t)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.Tenant, a.ID, a.UserID, string(a.Role), a.Subject, a.Unit, nanos(a.From), nanos(a.To))
	if err != nil {
		if c := constraint(err); c != nil {
			return fmt.Errorf("sqlite: create care assignment %s: %w", a.ID, c)
		}
		return fmt.Errorf("sqlite: create care assignment %s: %w", a.ID, err)
	}
	return nil
}

// EndCareAssignment ends assignment id at at (store.CareStore).
func (s *Store) EndCareAssignment(ctx context.Context, tenant, id string, at time.Time) error {
	res, err := s.w.ExecContext(ctx, "UPDATE care_assignments SET to_t = ? WHERE tenant = ? AND id = ?", nanos(at), tenant, id)
	if err != nil {
		return fmt.Errorf("sqlite: end care assignment %s: %w", id, err)
	}
	return oneRow(res, "sqlite: end care assignment "+id)
}

// CareAssignments lists assignments active at at (store.CareStore).
func (s *Store) CareAssignments(ctx context.Context, tenant string, at time.Time) ([]store.CareAssignment, error) {
	q := "SELECT tenant, id, user_id, role, subject, unit, from_t, to_t FROM care_assignments WHERE tenant = ?"
	args := []any{tenant}
	if !at.IsZero() {
		q += " AND from_t <= ? AND (to_t = 0 OR to_t > ?)"
		args = append(args, nanos(at), nanos(at))
	}
	rows, err := s.r.QueryContext(ctx, q+" ORDER BY from_t, id", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: care assignments of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []store.CareAssignment
	for rows.Next() {
		var a store.CareAssignment
		var role string
		var from, to int64
		if err := rows.Scan(&a.Tenant, &a.ID, &a.UserID, &role, &a.Subject, &a.Unit, &from, &to); err != nil {
			return nil, fmt.Errorf("sqlite: care assignments of %s: %w", tenant, err)
		}
		a.Role, a.From, a.To = store.CareRole(role), fromNanos(from), fromNanos(to)
		out = append(out, a)
	}
	return out, rows.Err()
}

// CreateOnCall stores a shift (store.CareStore).
func (s *Store) CreateOnCall(ctx context.Context, sh store.OnCallShift) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO oncall_shifts (tenant, id, ref, user_id, from_t, to_t) VALUES (?, ?, ?, ?, ?, ?)`,
		sh.Tenant, sh.ID, sh.Ref, sh.UserID, nanos(sh.From), nanos(sh.To))
	if err != nil {
		if c := constraint(err); c != nil {
			return fmt.Errorf("sqlite: create on-call shift %s: %w", sh.ID, c)
		}
		return fmt.Errorf("sqlite: create on-call shift %s: %w", sh.ID, err)
	}
	return nil
}

// DeleteOnCall removes a shift (store.CareStore).
func (s *Store) DeleteOnCall(ctx context.Context, tenant, id string) error {
	res, err := s.w.ExecContext(ctx, "DELETE FROM oncall_shifts WHERE tenant = ? AND id = ?", tenant, id)
	if err != nil {
		return fmt.Errorf("sqlite: delete on-call shift %s: %w", id, err)
	}
	return oneRow(res, "sqlite: delete on-call shift "+id)
}

// OnCall lists shifts active at at (store.CareStore).
func (s *Store) OnCall(ctx context.Context, tenant string, at time.Time) ([]store.OnCallShift, error) {
	q := "SELECT tenant, id, ref, user_id, from_t, to_t FROM oncall_shifts WHERE tenant = ?"
	args := []any{tenant}
	if !at.IsZero() {
		q += " AND from_t <= ? AND to_t > ?"
		args = append(args, nanos(at), nanos(at))
	}
	rows, err := s.r.QueryContext(ctx, q+" ORDER BY from_t, id", args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: on-call shifts of %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []store.OnCallShift
	for rows.Next() {
		var sh store.OnCallShift
		var from, to int64
		if err := rows.Scan(&sh.Tenant, &sh.ID, &sh.Ref, &sh.UserID, &from, &to); err != nil {
			return nil, fmt.Errorf("sqlite: on-call shifts of %s: %w", tenant, err)
		}
		sh.From, sh.To = fromNanos(from), fromNanos(to)
		out = append(out, sh)
	}
	return out, rows.Err()
}

// SaveAlarmPolicies stores a tenant's policies at the next version (store.CareStore).
func (s *Store) SaveAlarmPolicies(ctx context.Context, d store.AlarmPolicyDoc) error {
	var res sql.Result
	var err error
	if d.Version == 1 {
		res, err = s.w.ExecContext(ctx, `INSERT INTO alarm_policies (tenant, version, doc, updated_by, updated_at)
			VALUES (?, 1, ?, ?, ?) ON CONFLICT (tenant) DO NOTHING`, d.Tenant, string(d.JSON), d.UpdatedBy, nanos(d.UpdatedAt))
	} else {
		res, err = s.w.ExecContext(ctx, `UPDATE alarm_policies SET version = ?, doc = ?, updated_by = ?, updated_at = ?
			WHERE tenant = ? AND version = ?`, d.Version, string(d.JSON), d.UpdatedBy, nanos(d.UpdatedAt), d.Tenant, d.Version-1)
	}
	if err != nil {
		return fmt.Errorf("sqlite: save alarm policies of %s: %w", d.Tenant, err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return fmt.Errorf("sqlite: save alarm policies of %s version %d: %w", d.Tenant, d.Version, store.ErrConflict)
	}
	return nil
}

// AlarmPolicies returns every tenant's policies (store.CareStore).
func (s *Store) AlarmPolicies(ctx context.Context) ([]store.AlarmPolicyDoc, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT tenant, version, doc, updated_by, updated_at FROM alarm_policies ORDER BY tenant")
	if err != nil {
		return nil, fmt.Errorf("sqlite: alarm policies: %w", err)
	}
	defer rows.Close()
	var out []store.AlarmPolicyDoc
	for rows.Next() {
		var d store.AlarmPolicyDoc
		var doc string
		var at int64
		if err := rows.Scan(&d.Tenant, &d.Version, &doc, &d.UpdatedBy, &at); err != nil {
			return nil, fmt.Errorf("sqlite: alarm policies: %w", err)
		}
		d.JSON, d.UpdatedAt = []byte(doc), fromNanos(at)
		out = append(out, d)
	}
	return out, rows.Err()
}
