package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-iomt/vigil/internal/store"
)

// CreateTenant stores t; store.ErrConflict if its ID exists.
func (s *Store) CreateTenant(ctx context.Context, t store.Tenant) error {
	settings := t.Settings
	if settings == nil {
		settings = map[string]string{}
	}
	_, err := s.pool.Exec(ctx, "INSERT INTO tenants (tenant, name, settings, created) VALUES ($1, $2, $3, $4)",
		t.ID, t.Name, settings, nanos(t.Created))
	if err != nil {
		if c := constraint(err); c != nil {
			return fmt.Errorf("postgres: create tenant %s: %w", t.ID, c)
		}
		return fmt.Errorf("postgres: create tenant %s: %w", t.ID, err)
	}
	return nil
}

// Tenant returns the tenant with id; store.ErrNotFound if none.
func (s *Store) Tenant(ctx context.Context, id string) (store.Tenant, error) {
	t, err := scanTenant(s.pool.QueryRow(ctx, "SELECT tenant, name, settings, created FROM tenants WHERE tenant = $1", id))
	if err != nil {
		return store.Tenant{}, fmt.Errorf("postgres: tenant %s: %w", id, notFound(err))
	}
	return t, nil
}

// Tenants lists every tenant by ID.
func (s *Store) Tenants(ctx context.Context) ([]store.Tenant, error) {
	rows, err := s.pool.Query(ctx, "SELECT tenant, name, settings, created FROM tenants ORDER BY tenant")
	if err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Tenant, error) { return scanTenant(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: tenants: %w", err)
	}
	return out, nil
}

// UpdateTenantSettings replaces the settings of tenant id; store.ErrNotFound if none.
func (s *Store) UpdateTenantSettings(ctx context.Context, id string, settings map[string]string) error {
	if settings == nil {
		settings = map[string]string{}
	}
	tag, err := s.pool.Exec(ctx, "UPDATE tenants SET settings = $1 WHERE tenant = $2", settings, id)
	if err != nil {
		return fmt.Errorf("postgres: update settings of tenant %s: %w", id, err)
	}
	return oneRow(tag, "postgres: update settings of tenant "+id)
}

// CreateUser stores u; store.ErrConflict if its ID or username exists in any tenant,
// store.ErrNotFound if its tenant does not exist.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO users (tenant, id, username, role, password_hash, disabled,
		failed_logins, locked_until, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		u.Tenant, u.ID, u.Username, string(u.Role), u.PasswordHash, u.Disabled,
		u.FailedLogins, nanos(u.LockedUntil), nanos(u.Created))
	if err != nil {
		switch c := constraint(err); c {
		case store.ErrConflict:
			return fmt.Errorf("postgres: create user %s (username %q): %w", u.ID, u.Username, c)
		case store.ErrNotFound:
			return fmt.Errorf("postgres: create user %s: tenant %s: %w", u.ID, u.Tenant, c)
		}
		return fmt.Errorf("postgres: create user %s: %w", u.ID, err)
	}
	return nil
}

const userCols = "tenant, id, username, role, password_hash, disabled, failed_logins, locked_until, created"

// User returns the user id of tenant; store.ErrNotFound if none there.
func (s *Store) User(ctx context.Context, tenant, id string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE tenant = $1 AND id = $2", tenant, id))
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user %s in tenant %s: %w", id, tenant, notFound(err))
	}
	return u, nil
}

// UserByName returns the user with username in any tenant; store.ErrNotFound if none.
func (s *Store) UserByName(ctx context.Context, username string) (store.User, error) {
	u, err := scanUser(s.pool.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE username = $1", username))
	if err != nil {
		return store.User{}, fmt.Errorf("postgres: user named %q: %w", username, notFound(err))
	}
	return u, nil
}

// Users lists the users of tenant by username.
func (s *Store) Users(ctx context.Context, tenant string) ([]store.User, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+userCols+" FROM users WHERE tenant = $1 ORDER BY username", tenant)
	if err != nil {
		return nil, fmt.Errorf("postgres: users of tenant %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.User, error) { return scanUser(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: users of tenant %s: %w", tenant, err)
	}
	return out, nil
}

// UpdateUser replaces role, password hash, disabled, failed logins and lock of user u.ID in
// u.Tenant; store.ErrNotFound if there is no such user in that tenant.
func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET role = $1, password_hash = $2, disabled = $3,
		failed_logins = $4, locked_until = $5 WHERE tenant = $6 AND id = $7`,
		string(u.Role), u.PasswordHash, u.Disabled, u.FailedLogins, nanos(u.LockedUntil), u.Tenant, u.ID)
	if err != nil {
		return fmt.Errorf("postgres: update user %s in tenant %s: %w", u.ID, u.Tenant, err)
	}
	return oneRow(tag, "postgres: update user "+u.ID+" in tenant "+u.Tenant)
}

// CreateToken stores t; store.ErrConflict if its hash exists, store.ErrNotFound if its user
// does not exist in its tenant.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (hash, tenant, kind, user_id, csrf, created, expires, revoked)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.Hash, t.Tenant, string(t.Kind), t.UserID, t.CSRF, nanos(t.Created), nanos(t.Expires), t.Revoked)
	if err != nil {
		switch c := constraint(err); c {
		case store.ErrConflict:
			return fmt.Errorf("postgres: create token for user %s: %w", t.UserID, c)
		case store.ErrNotFound:
			return fmt.Errorf("postgres: create token: user %s in tenant %s: %w", t.UserID, t.Tenant, c)
		}
		return fmt.Errorf("postgres: create token for user %s: %w", t.UserID, err)
	}
	return nil
}

// Token returns the token with hash; store.ErrNotFound if none.
func (s *Store) Token(ctx context.Context, hash string) (store.Token, error) {
	var t store.Token
	var kind string
	var created, expires int64
	err := s.pool.QueryRow(ctx, `SELECT hash, tenant, kind, user_id, csrf, created, expires, revoked
		FROM tokens WHERE hash = $1`, hash).Scan(&t.Hash, &t.Tenant, &kind, &t.UserID, &t.CSRF, &created, &expires, &t.Revoked)
	if err != nil {
		return store.Token{}, fmt.Errorf("postgres: token: %w", notFound(err)) // the hash is a credential: not logged
	}
	t.Kind, t.Created, t.Expires = store.TokenKind(kind), fromNanos(created), fromNanos(expires)
	return t, nil
}

// RevokeToken revokes the token with hash in tenant; store.ErrNotFound if none there.
func (s *Store) RevokeToken(ctx context.Context, tenant, hash string) error {
	tag, err := s.pool.Exec(ctx, "UPDATE tokens SET revoked = true WHERE tenant = $1 AND hash = $2", tenant, hash)
	if err != nil {
		return fmt.Errorf("postgres: revoke token in tenant %s: %w", tenant, err)
	}
	return oneRow(tag, "postgres: revoke token in tenant "+tenant)
}

// RevokeUserTokens revokes every token of user userID in tenant (none is not an error).
func (s *Store) RevokeUserTokens(ctx context.Context, tenant, userID string) error {
	_, err := s.pool.Exec(ctx, "UPDATE tokens SET revoked = true WHERE tenant = $1 AND user_id = $2 AND NOT revoked", tenant, userID)
	if err != nil {
		return fmt.Errorf("postgres: revoke tokens of user %s in tenant %s: %w", userID, tenant, err)
	}
	return nil
}

// CreateDevice stores d; store.ErrConflict if its ID exists in any tenant, store.ErrNotFound
// if its tenant does not exist. LastSeen is ignored: only InsertReadings sets it.
func (s *Store) CreateDevice(ctx context.Context, d store.Device) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO devices (tenant, id, model, serial, kind, subject, secret_hash,
		revoked, created) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		d.Tenant, d.ID, d.Model, d.Serial, d.Kind, d.Subject, d.SecretHash, d.Revoked, nanos(d.Created))
	if err != nil {
		switch c := constraint(err); c {
		case store.ErrConflict:
			return fmt.Errorf("postgres: create device %s: %w", d.ID, c)
		case store.ErrNotFound:
			return fmt.Errorf("postgres: create device %s: tenant %s: %w", d.ID, d.Tenant, c)
		}
		return fmt.Errorf("postgres: create device %s: %w", d.ID, err)
	}
	return nil
}

const deviceCols = "tenant, id, model, serial, kind, subject, secret_hash, revoked, created, last_seen, connected, connected_at, disconnected_at"

// Device returns device id of tenant; store.ErrNotFound if none there.
func (s *Store) Device(ctx context.Context, tenant, id string) (store.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, "SELECT "+deviceCols+" FROM devices WHERE tenant = $1 AND id = $2", tenant, id))
	if err != nil {
		return store.Device{}, fmt.Errorf("postgres: device %s in tenant %s: %w", id, tenant, notFound(err))
	}
	return d, nil
}

// DeviceByID returns device id in any tenant (for device authentication); store.ErrNotFound if none.
func (s *Store) DeviceByID(ctx context.Context, id string) (store.Device, error) {
	d, err := scanDevice(s.pool.QueryRow(ctx, "SELECT "+deviceCols+" FROM devices WHERE id = $1", id))
	if err != nil {
		return store.Device{}, fmt.Errorf("postgres: device %s: %w", id, notFound(err))
	}
	return d, nil
}

// Devices lists the devices of tenant by ID.
func (s *Store) Devices(ctx context.Context, tenant string) ([]store.Device, error) {
	rows, err := s.pool.Query(ctx, "SELECT "+deviceCols+" FROM devices WHERE tenant = $1 ORDER BY id", tenant)
	if err != nil {
		return nil, fmt.Errorf("postgres: devices of tenant %s: %w", tenant, err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (store.Device, error) { return scanDevice(r) })
	if err != nil {
		return nil, fmt.Errorf("postgres: devices of tenant %s: %w", tenant, err)
	}
	return out, nil
}

// UpdateDevice replaces model, serial, kind, subject, secret hash and revoked of device d.ID
// in d.Tenant; store.ErrNotFound if there is no such device in that tenant.
func (s *Store) UpdateDevice(ctx context.Context, d store.Device) error {
	tag, err := s.pool.Exec(ctx, `UPDATE devices SET model = $1, serial = $2, kind = $3, subject = $4,
		secret_hash = $5, revoked = $6 WHERE tenant = $7 AND id = $8`,
		d.Model, d.Serial, d.Kind, d.Subject, d.SecretHash, d.Revoked, d.Tenant, d.ID)
	if err != nil {
		return fmt.Errorf("postgres: update device %s in tenant %s: %w", d.ID, d.Tenant, err)
	}
	return oneRow(tag, "postgres: update device "+d.ID+" in tenant "+d.Tenant)
}

// SetDeviceConnection records a connect (connected) or disconnect of device id in tenant at at
// and raises its last-seen time; store.ErrNotFound if there is no such device there.
func (s *Store) SetDeviceConnection(ctx context.Context, tenant, id string, connected bool, at time.Time) error {
	q := `UPDATE devices SET connected = false, disconnected_at = $1, last_seen = greatest(last_seen, $1) WHERE tenant = $2 AND id = $3`
	if connected {
		q = `UPDATE devices SET connected = true, connected_at = $1, last_seen = greatest(last_seen, $1) WHERE tenant = $2 AND id = $3`
	}
	tag, err := s.pool.Exec(ctx, q, nanos(at), tenant, id)
	if err != nil {
		return fmt.Errorf("postgres: set connection of device %s in tenant %s: %w", id, tenant, err)
	}
	return oneRow(tag, "postgres: set connection of device "+id+" in tenant "+tenant)
}

func scanTenant(r pgx.Row) (store.Tenant, error) {
	var t store.Tenant
	var created int64
	if err := r.Scan(&t.ID, &t.Name, &t.Settings, &created); err != nil {
		return store.Tenant{}, err
	}
	if t.Settings == nil {
		t.Settings = map[string]string{}
	}
	t.Created = fromNanos(created)
	return t, nil
}

func scanUser(r pgx.Row) (store.User, error) {
	var u store.User
	var role string
	var locked, created int64
	if err := r.Scan(&u.Tenant, &u.ID, &u.Username, &role, &u.PasswordHash, &u.Disabled, &u.FailedLogins, &locked, &created); err != nil {
		return store.User{}, err
	}
	u.Role, u.LockedUntil, u.Created = store.Role(role), fromNanos(locked), fromNanos(created)
	return u, nil
}

func scanDevice(r pgx.Row) (store.Device, error) {
	var d store.Device
	var created, seen, connAt, discAt int64
	if err := r.Scan(&d.Tenant, &d.ID, &d.Model, &d.Serial, &d.Kind, &d.Subject, &d.SecretHash, &d.Revoked, &created, &seen,
		&d.Connected, &connAt, &discAt); err != nil {
		return store.Device{}, err
	}
	d.Created, d.LastSeen = fromNanos(created), fromNanos(seen)
	d.ConnectedAt, d.DisconnectedAt = fromNanos(connAt), fromNanos(discAt)
	return d, nil
}
