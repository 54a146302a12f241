package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// CreateTenant stores t; store.ErrConflict if its ID exists.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	settings, err := encodeSettings(t.Settings)
	if err != nil {
		return fmt.Errorf("sqlite: create tenant %s: %w", t.ID, err)
	}
	_, err = s.w.ExecContext(ctx, "INSERT INTO tenants (tenant, name, settings, created) VALUES (?, ?, ?, ?)",
		t.ID, t.Name, settings, nanos(t.Created))
	if err != nil {
		if c := constraint(err); c != nil {
			return fmt.Errorf("sqlite: create tenant %s: %w", t.ID, c)
		}
		return fmt.Errorf("sqlite: create tenant %s: %w", t.ID, err)
	}
	return nil
}

// Tenant returns the tenant with id; store.ErrNotFound if none.
func (s *Store) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	row := s.r.QueryRowContext(ctx, "SELECT tenant, name, settings, created FROM tenants WHERE tenant = ?", id)
	t, err := scanTenant(row)
	if err != nil {
		return store.Tenant{}, fmt.Errorf("sqlite: tenant %s: %w", id, notFound(err))
	}
	return t, nil
}

// Tenants lists every tenant by ID.
func (s *Store) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT tenant, name, settings, created FROM tenants ORDER BY tenant")
	if err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	defer rows.Close()
	var out []store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: tenants: %w", err)
		}
		out = append(out, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: tenants: %w", err)
	}
	return out, nil
}

// UpdateTenantSettings replaces the settings of tenant id; store.ErrNotFound if none.
func (s *Store) UpdateTenantSettings(ctx context.Context, id string, settings map[string]string) error {
	enc, err := encodeSettings(settings)
	if err != nil {
		return fmt.Errorf("sqlite: update settings of tenant %s: %w", id, err)
	}
	res, err := s.w.ExecContext(ctx, "UPDATE tenants SET settings = ? WHERE tenant = ?", enc, id)
	if err != nil {
		return fmt.Errorf("sqlite: update settings of tenant %s: %w", id, err)
	}
	return oneRow(res, "sqlite: update settings of tenant "+id)
}

// CreateUser stores u; store.ErrConflict if its ID or username exists in any tenant,
// store.ErrNotFound if its tenant does not exist.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO users (tenant, id, username, role, password_hash, disabled,
		failed_logins, locked_until, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.Tenant, u.ID, u.Username, string(u.Role), u.PasswordHash, boolInt(u.Disabled),
		u.FailedLogins, nanos(u.LockedUntil), nanos(u.Created))
	if err != nil {
		switch c := constraint(err); c {
		case store.ErrConflict:
			return fmt.Errorf("sqlite: create user %s (username %q): %w", u.ID, u.Username, c)
		case store.ErrNotFound:
			return fmt.Errorf("sqlite: create user %s: tenant %s: %w", u.ID, u.Tenant, c)
		}
		return fmt.Errorf("sqlite: create user %s: %w", u.ID, err)
	}
	return nil
}

const userCols = "tenant, id, username, role, password_hash, disabled, failed_logins, locked_until, created"

// User returns the user id of tenant; store.ErrNotFound if none there.
func (s *Store) User(ctx context.Context, tenant, id string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE tenant = ? AND id = ?", tenant, id))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user %s in tenant %s: %w", id, tenant, notFound(err))
	}
	return u, nil
}

// UserByName returns the user with username in any tenant; store.ErrNotFound if none.
func (s *Store) UserByName(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.r.QueryRowContext(ctx, "SELECT "+userCols+" FROM users WHERE username = ?", username))
	if err != nil {
		return store.User{}, fmt.Errorf("sqlite: user named %q: %w", username, notFound(err))
	}
	return u, nil
}

// Users lists the users of tenant by username.
func (s *Store) Users(ctx context.Context, tenant string) ([]store.User, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+userCols+" FROM users WHERE tenant = ? ORDER BY username", tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: users of tenant %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: users of tenant %s: %w", tenant, err)
		}
		out = append(out, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: users of tenant %s: %w", tenant, err)
	}
	return out, nil
}

// UpdateUser replaces role, password hash, disabled, failed logins and lock of user u.ID in
// u.Tenant; store.ErrNotFound if there is no such user in that tenant.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	res, err := s.w.ExecContext(ctx, `UPDATE users SET role = ?, password_hash = ?, disabled = ?,
		failed_logins = ?, locked_until = ? WHERE tenant = ? AND id = ?`,
		string(u.Role), u.PasswordHash, boolInt(u.Disabled), u.FailedLogins, nanos(u.LockedUntil), u.Tenant, u.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update user %s in tenant %s: %w", u.ID, u.Tenant, err)
	}
	return oneRow(res, "sqlite: update user "+u.ID+" in tenant "+u.Tenant)
}

// CreateToken stores t; store.ErrConflict if its hash exists, store.ErrNotFound if its user
// does not exist in its tenant.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO tokens (hash, tenant, kind, user_id, csrf, created, expires, revoked)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		t.Hash, t.Tenant, string(t.Kind), t.UserID, t.CSRF, nanos(t.Created), nanos(t.Expires), boolInt(t.Revoked))
	if err != nil {
		switch c := constraint(err); c {
		case store.ErrConflict:
			return fmt.Errorf("sqlite: create token for user %s: %w", t.UserID, c)
		case store.ErrNotFound:
			return fmt.Errorf("sqlite: create token: user %s in tenant %s: %w", t.UserID, t.Tenant, c)
		}
		return fmt.Errorf("sqlite: create token for user %s: %w", t.UserID, err)
	}
	return nil
}

// Token returns the token with hash; store.ErrNotFound if none.
func (s *Store) Token(ctx context.Context, hash string) (store.Token, error) {
	var t store.Token
	var kind string
	var created, expires int64
	var revoked int
	err := s.r.QueryRowContext(ctx, `SELECT hash, tenant, kind, user_id, csrf, created, expires, revoked
		FROM tokens WHERE hash = ?`, hash).Scan(&t.Hash, &t.Tenant, &kind, &t.UserID, &t.CSRF, &created, &expires, &revoked)
	if err != nil {
		return store.Token{}, fmt.Errorf("sqlite: token: %w", notFound(err)) // the hash is a credential: not logged
	}
	t.Kind, t.Created, t.Expires, t.Revoked = store.TokenKind(kind), fromNanos(created), fromNanos(expires), revoked != 0
	return t, nil
}

// RevokeToken revokes the token with hash in tenant; store.ErrNotFound if none there.
func (s *Store) RevokeToken(ctx context.Context, tenant, hash string) error {
	res, err := s.w.ExecContext(ctx, "UPDATE tokens SET revoked = 1 WHERE tenant = ? AND hash = ?", tenant, hash)
	if err != nil {
		return fmt.Errorf("sqlite: revoke token in tenant %s: %w", tenant, err)
	}
	return oneRow(res, "sqlite: revoke token in tenant "+tenant)
}

// RevokeUserTokens revokes every token of user userID in tenant (none is not an error).
func (s *Store) RevokeUserTokens(ctx context.Context, tenant, userID string) error {
	_, err := s.w.ExecContext(ctx, "UPDATE tokens SET revoked = 1 WHERE tenant = ? AND user_id = ? AND revoked = 0", tenant, userID)
	if err != nil {
		return fmt.Errorf("sqlite: revoke tokens of user %s in tenant %s: %w", userID, tenant, err)
	}
	return nil
}

// CreateDevice stores d; store.ErrConflict if its ID exists in any tenant, store.ErrNotFound
// if its tenant does not exist. LastSeen is ignored: only InsertReadings sets it.
func (s *Store) CreateDevice(ctx context.Context, d store.Device) error {
	_, err := s.w.ExecContext(ctx, `INSERT INTO devices (tenant, id, model, serial, kind, subject, secret_hash,
		revoked, created) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.Tenant, d.ID, d.Model, d.Serial, d.Kind, d.Subject, d.SecretHash, boolInt(d.Revoked), nanos(d.Created))
	if err != nil {
		switch c := constraint(err); c {
		case store.ErrConflict:
			return fmt.Errorf("sqlite: create device %s: %w", d.ID, c)
		case store.ErrNotFound:
			return fmt.Errorf("sqlite: create device %s: tenant %s: %w", d.ID, d.Tenant, c)
		}
		return fmt.Errorf("sqlite: create device %s: %w", d.ID, err)
	}
	return nil
}

const deviceCols = "tenant, id, model, serial, kind, subject, secret_hash, revoked, created, last_seen, connected, connected_at, disconnected_at"

// Device returns device id of tenant; store.ErrNotFound if none there.
func (s *Store) Device(ctx context.Context, tenant, id string) (store.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, "SELECT "+deviceCols+" FROM devices WHERE tenant = ? AND id = ?", tenant, id))
	if err != nil {
		return store.Device{}, fmt.Errorf("sqlite: device %s in tenant %s: %w", id, tenant, notFound(err))
	}
	return d, nil
}

// DeviceByID returns device id in any tenant (for device authentication); store.ErrNotFound if none.
func (s *Store) DeviceByID(ctx context.Context, id string) (store.Device, error) {
	d, err := scanDevice(s.r.QueryRowContext(ctx, "SELECT "+deviceCols+" FROM devices WHERE id = ?", id))
	if err != nil {
		return store.Device{}, fmt.Errorf("sqlite: device %s: %w", id, notFound(err))
	}
	return d, nil
}

// Devices lists the devices of tenant by ID.
func (s *Store) Devices(ctx context.Context, tenant string) ([]store.Device, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+deviceCols+" FROM devices WHERE tenant = ? ORDER BY id", tenant)
	if err != nil {
		return nil, fmt.Errorf("sqlite: devices of tenant %s: %w", tenant, err)
	}
	defer rows.Close()
	var out []store.Device
	for rows.Next() {
		d, err := scanDevice(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: devices of tenant %s: %w", tenant, err)
		}
		out = append(out, d)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: devices of tenant %s: %w", tenant, err)
	}
	return out, nil
}

// UpdateDevice replaces model, serial, kind, subject, secret hash and revoked of device d.ID
// in d.Tenant; store.ErrNotFound if there is no such device in that tenant.
func (s *Store) UpdateDevice(ctx context.Context, d store.Device) error {
	res, err := s.w.ExecContext(ctx, `UPDATE devices SET model = ?, serial = ?, kind = ?, subject = ?,
		secret_hash = ?, revoked = ? WHERE tenant = ? AND id = ?`,
		d.Model, d.Serial, d.Kind, d.Subject, d.SecretHash, boolInt(d.Revoked), d.Tenant, d.ID)
	if err != nil {
		return fmt.Errorf("sqlite: update device %s in tenant %s: %w", d.ID, d.Tenant, err)
	}
	return oneRow(res, "sqlite: update device "+d.ID+" in tenant "+d.Tenant)
}

// SetDeviceConnection records a connect (connected) or disconnect of device id in tenant at at
// and raises its last-seen time; store.ErrNotFound if there is no such device there.
func (s *Store) SetDeviceConnection(ctx context.Context, tenant, id string, connected bool, at time.Time) error {
	q := `UPDATE devices SET connected = 0, disconnected_at = ?1, last_seen = max(last_seen, ?1) WHERE tenant = ?2 AND id = ?3`
	if connected {
		q = `UPDATE devices SET connected = 1, connected_at = ?1, last_seen = max(last_seen, ?1) WHERE tenant = ?2 AND id = ?3`
	}
	res, err := s.w.ExecContext(ctx, q, nanos(at), tenant, id)
	if err != nil {
		return fmt.Errorf("sqlite: set connection of device %s in tenant %s: %w", id, tenant, err)
	}
	return oneRow(res, "sqlite: set connection of device "+id+" in tenant "+tenant)
}

type scanner interface{ Scan(dest ...any) error }

func scanTenant(sc scanner) (store.Tenant, error) {
	var t store.Tenant
	var settings string
	var created int64
	if err := sc.Scan(&t.ID, &t.Name, &settings, &created); err != nil {
		return store.Tenant{}, err
	}
	t.Settings = map[string]string{}
	if err := json.Unmarshal([]byte(settings), &t.Settings); err != nil {
		return store.Tenant{}, fmt.Errorf("settings of tenant %s: %w", t.ID, err)
	}
	t.Created = fromNanos(created)
	return t, nil
}

func scanUser(sc scanner) (store.User, error) {
	var u store.User
	var role string
	var disabled int
	var locked, created int64
	if err := sc.Scan(&u.Tenant, &u.ID, &u.Username, &role, &u.PasswordHash, &disabled, &u.FailedLogins, &locked, &created); err != nil {
		return store.User{}, err
	}
	u.Role, u.Disabled, u.LockedUntil, u.Created = store.Role(role), disabled != 0, fromNanos(locked), fromNanos(created)
	return u, nil
}

func scanDevice(sc scanner) (store.Device, error) {
	var d store.Device
	var revoked, connected int
	var created, seen, connAt, discAt int64
	if err := sc.Scan(&d.Tenant, &d.ID, &d.Model, &d.Serial, &d.Kind, &d.Subject, &d.SecretHash, &revoked, &created, &seen,
		&connected, &connAt, &discAt); err != nil {
		return store.Device{}, err
	}
	d.Revoked, d.Created, d.LastSeen = revoked != 0, fromNanos(created), fromNanos(seen)
	d.Connected, d.ConnectedAt, d.DisconnectedAt = connected != 0, fromNanos(connAt), fromNanos(discAt)
	return d, nil
}

func encodeSettings(m map[string]string) (string, error) {
	if m == nil {
		return "{}", nil
	}
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("encode settings: %w", err)
	}
	return string(b), nil
}

// notFound turns sql.ErrNoRows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// oneRow reports store.ErrNotFound when an UPDATE matched no row.
func oneRow(res sql.Result, what string) error {
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}
