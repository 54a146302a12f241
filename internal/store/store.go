// Package store defines Vigil's query store: the records it keeps (tenants, users, tokens,
// devices, readings, audit entries) and the Store contract that each backend
// (store/sqlite, store/postgres) implements and that store/storetest checks.
//
// The log (JetStream) is the source of truth for readings; the store is what the API reads.
// Every method that touches tenant data takes the tenant; there is no way to ask across tenants
// except for the few provider-level calls named as such. Implementations are safe for concurrent use.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// Errors callers branch on.
var (
	// ErrNotFound: no record with that key (in that tenant).
	ErrNotFound = errors.New("not found")
	// ErrConflict: a record with that key already exists.
	ErrConflict = errors.New("already exists")
)

// Role is what a user may do within a tenant.
type Role string

// Roles. ProviderAdmin is the only role that spans tenants (managed mode).
const (
	ProviderAdmin Role = "provider-admin"
	Admin         Role = "admin"
	Clinician     Role = "clinician"
	Nurse         Role = "nurse"
	QA            Role = "qa"
	Operator      Role = "operator"
	Viewer        Role = "viewer"
)

// Valid reports whether r is one of the defined roles.
func (r Role) Valid() bool {
	switch r {
	case ProviderAdmin, Admin, Clinician, Nurse, QA, Operator, Viewer:
		return true
	}
	return false
}

// ProviderTenant is the tenant that holds provider admins; it has no devices or readings.
const ProviderTenant = "provider"

// Tenant is one client organisation.
type Tenant struct {
	ID       string
	Name     string
	Settings map[string]string
	Created  time.Time
}

// User is a person who logs in. Usernames are unique across all tenants, because login
// takes only a username and a password.
type User struct {
	ID           string
	Tenant       string
	Username     string
	Role         Role
	PasswordHash string // argon2id, PHC string format
	Disabled     bool
	FailedLogins int       // consecutive failures since the last success
	LockedUntil  time.Time // zero when not locked
	Created      time.Time
}

// TokenKind says how a token was issued.
type TokenKind string

// Token kinds.
const (
	SessionToken TokenKind = "session" // console cookie, with a CSRF token
	APIToken     TokenKind = "api"     // bearer token for programs
)

// Token is a session or API token. Only the SHA-256 of the secret is kept.
type Token struct {
	Hash    string // hex SHA-256 of the secret the client holds; the key
	Kind    TokenKind
	UserID  string
	Tenant  string
	CSRF    string // session tokens only
	Created time.Time
	Expires time.Time
	Revoked bool
}

// Device is a registered device. Device IDs are unique across all tenants, because a device
// authenticates with its ID and secret alone.
type Device struct {
	ID         string
	Tenant     string
	Model      string
	Serial     string
	Kind       string // "patient", "environment", "oximeter", ... (drives metric mapping)
	Subject    string // patient or asset the device is bound to (free text for now)
	SecretHash string // hex SHA-256 of the device secret (256 random bits; see internal/auth)
	Revoked    bool
	Created    time.Time
	LastSeen   time.Time // received time of the newest stored reading, or of the latest MQTT connect or disconnect; zero if none

	// Connectivity on the embedded MQTT broker (SetDeviceConnection).
	Connected      bool      // an MQTT connection of the device is open
	ConnectedAt    time.Time // the latest connect; zero if never
	DisconnectedAt time.Time // the latest disconnect (clean, lost, or will sent); zero if never
}

// Point is one stored reading as the API returns it.
type Point struct {
	Measured time.Time
	Received time.Time
	Device   string
	Metric   string
	Kind     reading.Kind
	Value    float64
	Text     string
	Unit     string
	Flags    reading.Flags
}

// Bucket summarises the numeric readings of one metric in [Start, Start+step).
type Bucket struct {
	Start time.Time
	Min   float64
	Max   float64
	Mean  float64
	Count int
}

// ReadingQuery selects one subject's readings of one metric in [From, To).
type ReadingQuery struct {
	Tenant  string
	Subject string
	Metric  string
	From    time.Time
	To      time.Time
	Limit   int // raw points only; 0 means the backend's default (10,000)
}

// AuditRecord is one entry of the hash-chained audit trail. Seq, PrevHash and Hash are set by
// AppendAudit; the chain spans all tenants so that one verification covers everything.
type AuditRecord struct {
	Seq      int64
	Time     time.Time
	Tenant   string // "" for provider-level actions
	Actor    string // "user:<id>", "device:<id>", "system"
	Action   string // e.g. "user.create", "login.fail"
	Target   string // e.g. "device:bed4-mon"
	Reason   string
	Old      string // JSON of the old values, "" if none
	New      string // JSON of the new values, "" if none
	PrevHash string
	Hash     string
}

// AuditSeal computes an entry's hash from its content and the previous entry's hash.
type AuditSeal func(rec AuditRecord) string

// Store is the query store. Readings are idempotent by reading ID.
type Store interface {
	// Migrate applies the embedded schema migrations that have not run yet.
	Migrate(ctx context.Context) error
	Close() error
	// Ping checks the connection (readiness).
	Ping(ctx context.Context) error

	CreateTenant(ctx context.Context, t Tenant) error      // ErrConflict if the ID exists
	Tenant(ctx context.Context, id string) (Tenant, error) // ErrNotFound
	Tenants(ctx context.Context) ([]Tenant, error)         // provider level
	UpdateTenantSettings(ctx context.Context, id string, settings map[string]string) error

	CreateUser(ctx context.Context, u User) error // ErrConflict if the ID or username exists
	User(ctx context.Context, tenant, id string) (User, error)
	UserByName(ctx context.Context, username string) (User, error) // login: across tenants
	Users(ctx context.Context, tenant string) ([]User, error)
	// UpdateUser replaces role, password hash, disabled, failed logins and lock of the user
	// with u.ID in u.Tenant.
	UpdateUser(ctx context.Context, u User) error

	CreateToken(ctx context.Context, t Token) error
	Token(ctx context.Context, hash string) (Token, error) // ErrNotFound
	RevokeToken(ctx context.Context, tenant, hash string) error
	RevokeUserTokens(ctx context.Context, tenant, userID string) error

	CreateDevice(ctx context.Context, d Device) error // ErrConflict if the ID exists in any tenant
	Device(ctx context.Context, tenant, id string) (Device, error)
	DeviceByID(ctx context.Context, id string) (Device, error) // device authentication
	Devices(ctx context.Context, tenant string) ([]Device, error)
	// UpdateDevice replaces model, serial, kind, subject, secret hash and revoked.
	UpdateDevice(ctx context.Context, d Device) error
	// SetDeviceConnection records that device id of tenant connected (connected true: sets
	// Connected and ConnectedAt) or disconnected (sets DisconnectedAt, clears Connected) at at,
	// and raises LastSeen to at if it is later; ErrNotFound if there is no such device there.
	SetDeviceConnection(ctx context.Context, tenant, id string, connected bool, at time.Time) error

	// InsertReadings stores readings that are not stored yet (by ID) in one transaction, keeps
	// each subject's latest value per metric and each device's last-seen time, and returns how
	// many were new.
	InsertReadings(ctx context.Context, rs []reading.Reading) (int, error)
	// Readings returns raw points in measured-time order.
	Readings(ctx context.Context, q ReadingQuery) ([]Point, error)
	// Buckets returns min, max, mean and count of numeric readings per step, aligned to
	// multiples of step since the Unix epoch; empty buckets are left out.
	Buckets(ctx context.Context, q ReadingQuery, step time.Duration) ([]Bucket, error)
	// Latest returns the newest reading of each metric of a subject.
	Latest(ctx context.Context, tenant, subject string) ([]Point, error)
	// Subjects lists the subjects of a tenant that have readings.
	Subjects(ctx context.Context, tenant string) ([]string, error)

	// AppendAudit appends rec to the chain: it sets Seq (previous + 1, from 1) and PrevHash
	// (the previous Hash, "" for the first), then Hash = seal(rec), atomically with respect to
	// concurrent appends, also from other processes on the same database.
	AppendAudit(ctx context.Context, rec AuditRecord, seal AuditSeal) (AuditRecord, error)
	// Audit returns entries with Seq > after, in Seq order, at most limit (0: 1,000); tenant ""
	// means all tenants (provider level and verification).
	Audit(ctx context.Context, tenant string, after int64, limit int) ([]AuditRecord, error)
}
