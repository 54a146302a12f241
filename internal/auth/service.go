package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"hash/maphash"
	"log/slog"
	"sync"
	"time"

	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Errors callers branch on. Their texts are safe to show.
var (
	// ErrInvalidCredentials: unknown user, wrong password or disabled account (deliberately
	// the same error), or unknown device or wrong device secret. HTTP 401.
	ErrInvalidCredentials = errors.New("invalid credentials")
	// ErrLocked: too many consecutive failed logins; the account is locked for a while. HTTP 403.
	ErrLocked = errors.New("account locked")
	// ErrUnauthenticated: the token is unknown, expired or revoked, or its user is disabled.
	// HTTP 401.
	ErrUnauthenticated = errors.New("not authenticated")
	// ErrDeviceRevoked: the device presented its valid secret but has been revoked. HTTP 403.
	ErrDeviceRevoked = errors.New("device revoked")
	// ErrForbidden: the principal may not do this. HTTP 403.
	ErrForbidden = errors.New("forbidden")
)

// UserStore is what the service needs of users and tenants (store.Store satisfies it).
type UserStore interface {
	CreateTenant(ctx context.Context, t store.Tenant) error
	CreateUser(ctx context.Context, u store.User) error
	User(ctx context.Context, tenant, id string) (store.User, error)
	UserByName(ctx context.Context, username string) (store.User, error)
	UpdateUser(ctx context.Context, u store.User) error
}

// TokenStore is what the service needs of tokens (store.Store satisfies it).
type TokenStore interface {
	CreateToken(ctx context.Context, t store.Token) error
	Token(ctx context.Context, hash string) (store.Token, error)
	RevokeToken(ctx context.Context, tenant, hash string) error
}

// DeviceStore is what device authentication needs (store.Store satisfies it).
type DeviceStore interface {
	DeviceByID(ctx context.Context, id string) (store.Device, error)
}

// Store is everything the service reads and writes.
type Store interface {
	UserStore
	TokenStore
	DeviceStore
}

// Recorder writes audit entries (*audit.Trail satisfies it).
type Recorder interface {
	Record(ctx context.Context, rec store.AuditRecord) error
}

// Options tune the service. The zero value gives the defaults noted on each field.
type Options struct {
	SessionTTL        time.Duration // console session lifetime; default 12 h
	APITokenTTL       time.Duration // API token lifetime; default 90 days
	MaxFailures       int           // consecutive failed logins that lock an account; default 5
	LockoutDuration   time.Duration // how long the lock lasts; default 15 min
	MinPasswordLength int           // default 12 (MinPasswordLength); at least 8
	Params            Params        // argon2id parameters for new hashes; default DefaultParams
	DeviceCacheTTL    time.Duration // how long a verified device is trusted without the store; default 5 s, negative: no cache
	DeviceCacheSize   int           // most devices cached; default 10,000
}

func (o Options) withDefaults() Options {
	if o.SessionTTL == 0 {
		o.SessionTTL = 12 * time.Hour
	}
	if o.APITokenTTL == 0 {
		o.APITokenTTL = 90 * 24 * time.Hour
	}
	if o.MaxFailures == 0 {
		o.MaxFailures = 5
	}
	if o.LockoutDuration == 0 {
		o.LockoutDuration = 15 * time.Minute
	}
	if o.MinPasswordLength == 0 {
		o.MinPasswordLength = MinPasswordLength
	}
	if o.Params == (Params{}) {
		o.Params = DefaultParams
	}
	if o.DeviceCacheTTL == 0 {
		o.DeviceCacheTTL = 5 * time.Second
	}
	if o.DeviceCacheSize == 0 {
		o.DeviceCacheSize = 10_000
	}
	return o
}

// Validate reports every problem with o (after defaults are filled in for its zero fields).
func (o Options) Validate() error { return o.withDefaults().validate() }

func (o Options) validate() error {
	var errs []error
	if o.SessionTTL < 0 || o.APITokenTTL < 0 || o.LockoutDuration < 0 {
		errs = append(errs, errors.New("auth options: durations must not be negative"))
	}
	if o.MaxFailures < 1 {
		errs = append(errs, fmt.Errorf("auth options: max failures %d, want at least 1", o.MaxFailures))
	}
	if o.MinPasswordLength < MinPasswordLengthSafe || o.MinPasswordLength > MaxPasswordLength {
		errs = append(errs, fmt.Errorf("auth options: minimum password length %d out of range [%d, %d]",
			o.MinPasswordLength, MinPasswordLengthSafe, MaxPasswordLength))
	}
	if err := o.Params.validate(); err != nil {
		errs = append(errs, fmt.Errorf("auth options: %w", err))
	}
	if o.DeviceCacheSize < 0 {
		errs = append(errs, errors.New("auth options: device cache size must not be negative"))
	}
	return errors.Join(errs...)
}

// Service authenticates users and devices, issues and revokes tokens, and locks accounts
// after repeated failures. It is safe for concurrent use.
type Service struct {
	st    Store
	audit Recorder
	now   func() time.Time
	log   *slog.Logger
	opt   Options

	dummyHash string                             // hashed instead of a missing user's, so both cost the same
	verify    func(phc, pw string) (bool, error) // VerifyPassword; replaced in tests to count calls
	seed      maphash.Seed                       // picks loginMu stripes
	loginMu   [16]sync.Mutex                     // serialise the read-modify-write of a user's failure counter (by user ID)
	devices   *deviceCache                       // nil when disabled
}

// NewService returns a Service that keeps users, tokens and devices in st and audits through
// rec. opt's zero fields take their defaults. Invalid options are a programming error and
// panic: validate configured options with Options.Validate first.
func NewService(st Store, rec Recorder, now func() time.Time, log *slog.Logger, opt Options) *Service {
	opt = opt.withDefaults()
	if err := opt.validate(); err != nil {
		panic(err)
	}
	dummy, err := HashPasswordParams(NewID("dummy-"), opt.Params)
	if err != nil {
		panic(err) // cannot happen: the parameters were validated
	}
	s := &Service{st: st, audit: rec, now: now, log: log, opt: opt, dummyHash: dummy, verify: VerifyPassword,
		seed: maphash.MakeSeed()}
	if opt.DeviceCacheTTL > 0 && opt.DeviceCacheSize > 0 {
		s.devices = newDeviceCache(opt.DeviceCacheTTL, opt.DeviceCacheSize)
	}
	return s
}

// Options returns the options in force (with defaults filled in).
func (s *Service) Options() Options { return s.opt }

// NewID returns prefix followed by 24 random hex digits (96 bits), for record IDs such as users.
func NewID(prefix string) string {
	var b [12]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand documents it)
	return prefix + hex.EncodeToString(b[:])
}

// HashPassword checks pw against the password policy and returns its argon2id hash with the
// service's parameters. Policy failures are *PolicyError.
func (s *Service) HashPassword(pw string) (string, error) {
	if err := CheckPassword(pw, s.opt.MinPasswordLength); err != nil {
		return "", err
	}
	return HashPasswordParams(pw, s.opt.Params)
}

func (s *Service) ttl(kind store.TokenKind) (time.Duration, error) {
	switch kind {
	case store.SessionToken:
		return s.opt.SessionTTL, nil
	case store.APIToken:
		return s.opt.APITokenTTL, nil
	}
	return 0, fmt.Errorf("token kind %q is neither %q nor %q", kind, store.SessionToken, store.APIToken)
}

func (s *Service) stripe(userID string) *sync.Mutex {
	return &s.loginMu[maphash.String(s.seed, userID)%uint64(len(s.loginMu))]
}

// record writes one audit entry; v becomes New (via audit.JSON).
func (s *Service) record(ctx context.Context, tenant, actor, action, target, reason string, v any) error {
	rec := store.AuditRecord{Tenant: tenant, Actor: actor, Action: action, Target: target, Reason: reason, New: audit.JSON(v)}
	if err := s.audit.Record(ctx, rec); err != nil {
		return fmt.Errorf("audit %s on %s: %w", action, target, err)
	}
	return nil
}

// tokenID is how a token is named in audit entries: the first 12 hex digits of its hash, enough
// to tell tokens apart and useless for authenticating.
func tokenID(hash string) string {
	if len(hash) > 12 {
		hash = hash[:12]
	}
	return "token:" + hash
}

// Login checks username and password and, on success, issues a token of the given kind
// (sessions get a CSRF token too).
//
//   - An unknown user costs the same argon2id work as a known one, and gets the same
//     ErrInvalidCredentials as a wrong password or a disabled account.
//   - Each wrong password increments the user's consecutive failures; at Options.MaxFailures the
//     account is locked for Options.LockoutDuration and the attempt returns ErrLocked, as does
//     every attempt during the lock, even with the right password. A lock that has run out is
//     cleared; a success resets the count. Passwords hashed with older parameters are re-hashed.
//   - Every attempt is audited — login.ok, login.fail or login.locked — without the password.
//     Unknown usernames are recorded only as the first 16 hex digits of their SHA-256 (actor
//     "anonymous"), because people sometimes type a password into the username field.
//
// Failure counters are updated under a per-user lock within this process; two processes
// racing on one user may each count a failure once.
func (s *Service) Login(ctx context.Context, username, password string, kind store.TokenKind) (LoginResult, error) {
	ttl, err := s.ttl(kind)
	if err != nil {
		return LoginResult{}, err
	}
	// No password longer than the policy allows can match; hash something bounded instead.
	tooLong := len(password) > 4*MaxPasswordLength
	if tooLong {
		password = ""
	}
	u, err := s.st.UserByName(ctx, username)
	if errors.Is(err, store.ErrNotFound) || (err == nil && u.PasswordHash == "") {
		_, _ = s.verify(s.dummyHash, password)
		if err := s.record(ctx, "", "anonymous", "login.fail", "user:unknown", "unknown user",
			map[string]string{"username_sha256": HashSecret(username)[:16]}); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, ErrInvalidCredentials
	}
	if err != nil {
		return LoginResult{}, fmt.Errorf("login: look up user: %w", err)
	}
	if until := u.LockedUntil; s.now().Before(until) {
		_, _ = s.verify(s.dummyHash, password)
		return LoginResult{}, s.refuseLocked(ctx, u)
	}
	ok, err := s.verify(u.PasswordHash, password)
	if err != nil {
		if aerr := s.record(ctx, u.Tenant, "user:"+u.ID, "login.fail", "user:"+u.ID, "stored password hash unusable", nil); aerr != nil {
			return LoginResult{}, aerr
		}
		return LoginResult{}, fmt.Errorf("login of user %s: %w", u.ID, err)
	}
	ok = ok && !tooLong

	mu := s.stripe(u.ID)
	mu.Lock()
	defer mu.Unlock()
	cur, err := s.st.User(ctx, u.Tenant, u.ID) // fresh counters, under the lock
	if err != nil {
		return LoginResult{}, fmt.Errorf("login of user %s: reload: %w", u.ID, err)
	}
	if ok && cur.PasswordHash != u.PasswordHash { // changed while we hashed: check the new one
		if ok, err = s.verify(cur.PasswordHash, password); err != nil {
			return LoginResult{}, fmt.Errorf("login of user %s: %w", u.ID, err)
		}
	}
	now := s.now()
	changed := false
	if !cur.LockedUntil.IsZero() && !now.Before(cur.LockedUntil) { // a lock that has run out
		cur.FailedLogins, cur.LockedUntil, changed = 0, time.Time{}, true
	}
	if now.Before(cur.LockedUntil) {
		return LoginResult{}, s.refuseLocked(ctx, cur)
	}
	actor := "user:" + cur.ID
	if !ok {
		cur.FailedLogins++
		action, reason, result := "login.fail", fmt.Sprintf("wrong password (%d of %d)", cur.FailedLogins, s.opt.MaxFailures), ErrInvalidCredentials
		if cur.FailedLogins >= s.opt.MaxFailures {
			cur.LockedUntil = now.Add(s.opt.LockoutDuration)
			action, reason, result = "login.locked", fmt.Sprintf("locked after %d consecutive failed logins", cur.FailedLogins), ErrLocked
			s.log.WarnContext(ctx, "account locked after failed logins", "user_id", cur.ID, "tenant", cur.Tenant,
				"failures", cur.FailedLogins, "until", cur.LockedUntil)
		}
		if err := s.st.UpdateUser(ctx, cur); err != nil {
			return LoginResult{}, fmt.Errorf("login of user %s: count failure: %w", cur.ID, err)
		}
		if err := s.record(ctx, cur.Tenant, actor, action, actor, reason, map[string]any{"failed_logins": cur.FailedLogins}); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, result
	}
	if cur.Disabled {
		if changed {
			if err := s.st.UpdateUser(ctx, cur); err != nil {
				return LoginResult{}, fmt.Errorf("login of user %s: clear expired lock: %w", cur.ID, err)
			}
		}
		if err := s.record(ctx, cur.Tenant, actor, "login.fail", actor, "account disabled", nil); err != nil {
			return LoginResult{}, err
		}
		return LoginResult{}, ErrInvalidCredentials
	}
	if cur.FailedLogins != 0 || !cur.LockedUntil.IsZero() {
		cur.FailedLogins, cur.LockedUntil, changed = 0, time.Time{}, true
	}
	if NeedsRehash(cur.PasswordHash, s.opt.Params) {
		if h, err := HashPasswordParams(password, s.opt.Params); err == nil {
			cur.PasswordHash, changed = h, true
		}
	}
	if changed {
		if err := s.st.UpdateUser(ctx, cur); err != nil {
			return LoginResult{}, fmt.Errorf("login of user %s: reset failures: %w", cur.ID, err)
		}
	}

	secret, hash := NewSecret(TokenPrefix)
	tok := store.Token{Hash: hash, Kind: kind, UserID: cur.ID, Tenant: cur.Tenant, Created: now, Expires: now.Add(ttl)}
	if kind == store.SessionToken {
		tok.CSRF, _ = NewSecret("")
	}
	if err := s.st.CreateToken(ctx, tok); err != nil {
		return LoginResult{}, fmt.Errorf("login of user %s: store token: %w", cur.ID, err)
	}
	if err := s.record(ctx, cur.Tenant, actor, "login.ok", actor, "",
		map[string]any{"kind": kind, "token": tokenID(hash), "expires": tok.Expires.UTC()}); err != nil {
		// An unaudited login must not stand.
		if rerr := s.st.RevokeToken(ctx, cur.Tenant, hash); rerr != nil {
			err = errors.Join(err, fmt.Errorf("revoke unaudited token: %w", rerr))
		}
		return LoginResult{}, err
	}
	cur.PasswordHash = ""
	return LoginResult{Token: secret, CSRF: tok.CSRF, Expires: tok.Expires, User: cur}, nil
}

// refuseLocked audits an attempt on a locked account and returns ErrLocked (or the audit error).
func (s *Service) refuseLocked(ctx context.Context, u store.User) error {
	actor := "user:" + u.ID
	if err := s.record(ctx, u.Tenant, actor, "login.locked", actor,
		"attempt while locked until "+audit.FormatTime(u.LockedUntil), nil); err != nil {
		return err
	}
	return ErrLocked
}

// Authenticate resolves a session or API token to its principal. Unknown, expired and revoked
// tokens, and tokens of disabled or deleted users, give ErrUnauthenticated. The role is the
// user's current one, so a role change takes effect at once.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" || len(token) > maxSecretLen {
		return Principal{}, ErrUnauthenticated
	}
	hash := HashSecret(token)
	t, err := s.st.Token(ctx, hash)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrUnauthenticated
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: look up token: %w", err)
	}
	if t.Revoked {
		return Principal{}, fmt.Errorf("token revoked: %w", ErrUnauthenticated)
	}
	if !s.now().Before(t.Expires) {
		return Principal{}, fmt.Errorf("token expired: %w", ErrUnauthenticated)
	}
	u, err := s.st.User(ctx, t.Tenant, t.UserID)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, fmt.Errorf("token of a missing user: %w", ErrUnauthenticated)
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: look up user %s: %w", t.UserID, err)
	}
	if u.Disabled {
		return Principal{}, fmt.Errorf("user disabled: %w", ErrUnauthenticated)
	}
	return Principal{UserID: u.ID, Username: u.Username, Tenant: u.Tenant, Role: u.Role, Kind: t.Kind,
		CSRF: t.CSRF, TokenHash: hash}, nil
}

// Logout revokes the token p authenticated with, and audits it.
func (s *Service) Logout(ctx context.Context, p Principal) error {
	if err := s.st.RevokeToken(ctx, p.Tenant, p.TokenHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("logout of user %s: %w", p.UserID, err)
	}
	return s.record(ctx, p.Tenant, p.Actor(), "logout", tokenID(p.TokenHash), "", nil)
}

// RevokeToken revokes the token with the given hash in tenant, on behalf of by: a user may
// revoke their own tokens, and a principal with users.manage in the tenant anyone's. A token
// that does not exist in tenant is store.ErrNotFound; one by may not revoke is ErrForbidden.
func (s *Service) RevokeToken(ctx context.Context, by Principal, tenant, hash string) error {
	t, err := s.st.Token(ctx, hash)
	if errors.Is(err, store.ErrNotFound) || (err == nil && t.Tenant != tenant) {
		return fmt.Errorf("revoke %s in tenant %s: %w", tokenID(hash), tenant, store.ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("revoke %s: %w", tokenID(hash), err)
	}
	own := t.UserID == by.UserID && t.Tenant == by.Tenant
	if !own && !Allowed(by, tenant, PermUsersManage) {
		return fmt.Errorf("revoke %s of user %s: %w", tokenID(hash), t.UserID, ErrForbidden)
	}
	if err := s.st.RevokeToken(ctx, tenant, hash); err != nil {
		return fmt.Errorf("revoke %s: %w", tokenID(hash), err)
	}
	return s.record(ctx, tenant, by.Actor(), "token.revoke", tokenID(hash), "",
		map[string]any{"user_id": t.UserID, "kind": t.Kind})
}

// IssueAPIToken issues an API token (Options.APITokenTTL) for p's own user, and audits it.
// The secret is returned once; only its hash is stored.
func (s *Service) IssueAPIToken(ctx context.Context, p Principal) (token string, expires time.Time, err error) {
	u, err := s.st.User(ctx, p.Tenant, p.UserID)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("issue api token for user %s in tenant %s: %w", p.UserID, p.Tenant, err)
	}
	if u.Disabled {
		return "", time.Time{}, fmt.Errorf("issue api token for disabled user %s: %w", u.ID, ErrForbidden)
	}
	now := s.now()
	secret, hash := NewSecret(TokenPrefix)
	tok := store.Token{Hash: hash, Kind: store.APIToken, UserID: u.ID, Tenant: u.Tenant, Created: now, Expires: now.Add(s.opt.APITokenTTL)}
	if err := s.st.CreateToken(ctx, tok); err != nil {
		return "", time.Time{}, fmt.Errorf("issue api token for user %s: %w", u.ID, err)
	}
	if err := s.record(ctx, u.Tenant, p.Actor(), "token.issue", "user:"+u.ID, "",
		map[string]any{"kind": store.APIToken, "token": tokenID(hash), "expires": tok.Expires.UTC()}); err != nil {
		if rerr := s.st.RevokeToken(ctx, u.Tenant, hash); rerr != nil {
			err = errors.Join(err, fmt.Errorf("revoke unaudited token: %w", rerr))
		}
		return "", time.Time{}, err
	}
	return secret, tok.Expires, nil
}

// ProviderAdminName is the username of the first provider admin.
const ProviderAdminName = "admin"

// EnsureProviderAdmin creates, on first start, tenant store.ProviderTenant and user "admin"
// with role provider-admin. With password "" it generates a random one and returns it, for the
// caller to print once; otherwise password must meet the policy. If user "admin" exists it
// does nothing and returns "". Both creations are audited (actor "system").
func (s *Service) EnsureProviderAdmin(ctx context.Context, password string) (generated string, err error) {
	existing, err := s.st.UserByName(ctx, ProviderAdminName)
	if err == nil {
		if existing.Tenant != store.ProviderTenant || existing.Role != store.ProviderAdmin {
			s.log.WarnContext(ctx, "username admin belongs to a tenant user; no provider admin created",
				"user_id", existing.ID, "tenant", existing.Tenant)
		}
		return "", nil
	}
	if !errors.Is(err, store.ErrNotFound) {
		return "", fmt.Errorf("ensure provider admin: %w", err)
	}
	if password == "" {
		generated, _ = NewSecret("")
		password = generated
	}
	hash, err := s.HashPassword(password)
	if err != nil {
		return "", fmt.Errorf("ensure provider admin: %w", err)
	}
	now := s.now()
	err = s.st.CreateTenant(ctx, store.Tenant{ID: store.ProviderTenant, Name: "Service provider", Created: now})
	switch {
	case errors.Is(err, store.ErrConflict): // created before, e.g. by a start that failed later
	case err != nil:
		return "", fmt.Errorf("ensure provider admin: create tenant %s: %w", store.ProviderTenant, err)
	default:
		if err := s.record(ctx, store.ProviderTenant, "system", "tenant.create", "tenant:"+store.ProviderTenant, "first start",
			map[string]string{"id": store.ProviderTenant}); err != nil {
			return "", err
		}
	}
	u := store.User{ID: NewID("u_"), Tenant: store.ProviderTenant, Username: ProviderAdminName, Role: store.ProviderAdmin,
		PasswordHash: hash, Created: now}
	err = s.st.CreateUser(ctx, u)
	if errors.Is(err, store.ErrConflict) {
		return "", nil // another process won the race
	}
	if err != nil {
		return "", fmt.Errorf("ensure provider admin: create user: %w", err)
	}
	if err := s.record(ctx, store.ProviderTenant, "system", "user.create", "user:"+u.ID, "first start", u); err != nil {
		return "", err
	}
	return generated, nil
}
