package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// memStore is an in-memory Store with the store contract's semantics for the methods auth uses.
type memStore struct {
	mu          sync.Mutex
	tenants     map[string]store.Tenant
	users       map[string]store.User // by ID
	tokens      map[string]store.Token
	devices     map[string]store.Device
	deviceReads atomic.Int64
}

func newMemStore() *memStore {
	return &memStore{tenants: map[string]store.Tenant{}, users: map[string]store.User{},
		tokens: map[string]store.Token{}, devices: map[string]store.Device{}}
}

func (m *memStore) CreateTenant(_ context.Context, t store.Tenant) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tenants[t.ID]; ok {
		return store.ErrConflict
	}
	m.tenants[t.ID] = t
	return nil
}

func (m *memStore) CreateUser(_ context.Context, u store.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, x := range m.users {
		if x.ID == u.ID || strings.EqualFold(x.Username, u.Username) {
			return store.ErrConflict
		}
	}
	m.users[u.ID] = u
	return nil
}

func (m *memStore) User(_ context.Context, tenant, id string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	u, ok := m.users[id]
	if !ok || u.Tenant != tenant {
		return store.User{}, store.ErrNotFound
	}
	return u, nil
}

func (m *memStore) UserByName(_ context.Context, name string) (store.User, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, u := range m.users {
		if strings.EqualFold(u.Username, name) {
			return u, nil
		}
	}
	return store.User{}, store.ErrNotFound
}

func (m *memStore) UpdateUser(_ context.Context, u store.User) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	old, ok := m.users[u.ID]
	if !ok || old.Tenant != u.Tenant {
		return store.ErrNotFound
	}
	old.Role, old.PasswordHash, old.Disabled, old.FailedLogins, old.LockedUntil = u.Role, u.PasswordHash, u.Disabled, u.FailedLogins, u.LockedUntil
	m.users[u.ID] = old
	return nil
}

func (m *memStore) CreateToken(_ context.Context, t store.Token) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.tokens[t.Hash]; ok {
		return store.ErrConflict
	}
	m.tokens[t.Hash] = t
	return nil
}

func (m *memStore) Token(_ context.Context, hash string) (store.Token, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[hash]
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	return t, nil
}

func (m *memStore) RevokeToken(_ context.Context, tenant, hash string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[hash]
	if !ok || t.Tenant != tenant {
		return store.ErrNotFound
	}
	t.Revoked = true
	m.tokens[hash] = t
	return nil
}

func (m *memStore) DeviceByID(_ context.Context, id string) (store.Device, error) {
	m.deviceReads.Add(1)
	m.mu.Lock()
	defer m.mu.Unlock()
	d, ok := m.devices[id]
	if !ok {
		return store.Device{}, store.ErrNotFound
	}
	return d, nil
}

func (m *memStore) user(t *testing.T, id string) store.User {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.users[id]
}

// recorder collects audit entries.
type recorder struct {
	mu   sync.Mutex
	recs []store.AuditRecord
	fail error
}

func (r *recorder) Record(_ context.Context, rec store.AuditRecord) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail != nil {
		return r.fail
	}
	r.recs = append(r.recs, rec)
	return nil
}

func (r *recorder) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, rec := range r.recs {
		out = append(out, rec.Action)
	}
	return out
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// fastParams keep tests quick; DefaultParams are exercised in password_test.go.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const goodPassword = "correct horse battery"

type fixture struct {
	svc *Service
	st  *memStore
	rec *recorder
	clk *clock
	log *bytes.Buffer
}

func newFixture(t *testing.T, opt Options) *fixture {
	t.Helper()
	if opt.Params == (Params{}) {
		opt.Params = fastParams
	}
	f := &fixture{st: newMemStore(), rec: &recorder{}, clk: &clock{t: time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)}, log: &bytes.Buffer{}}
	f.svc = NewService(f.st, f.rec, f.clk.now, slog.New(slog.NewJSONHandler(f.log, nil)), opt)
	return f
}

// addUser stores a user with password goodPassword.
func (f *fixture) addUser(t *testing.T, tenant, name string, role store.Role) store.User {
	t.Helper()
	h, err := HashPasswordParams(goodPassword, f.svc.opt.Params)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{ID: NewID("u_"), Tenant: tenant, Username: name, Role: role, PasswordHash: h}
	if err := f.st.CreateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// noSecrets fails if any audit entry or log line contains one of the secrets.
func (f *fixture) noSecrets(t *testing.T, secrets ...string) {
	t.Helper()
	f.rec.mu.Lock()
	defer f.rec.mu.Unlock()
	for _, s := range secrets {
		if s == "" {
			continue
		}
		for _, r := range f.rec.recs {
			if strings.Contains(fmt.Sprintf("%v", []string{r.Actor, r.Target, r.Reason, r.Old, r.New}), s) {
				t.Errorf("audit entry %s contains secret %q: %+v", r.Action, s, r)
			}
		}
		if strings.Contains(f.log.String(), s) {
			t.Errorf("log contains secret %q", s)
		}
	}
}

func TestLoginAndAuthenticate(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.addUser(t, "acme", "dana", store.QA)
	res, err := f.svc.Login(t.Context(), "dana", goodPassword, store.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(res.Token, TokenPrefix) || res.CSRF == "" || res.User.ID != u.ID || res.User.PasswordHash != "" {
		t.Errorf("Login = token %q csrf %q user %+v; want a vgl_ token, a CSRF token and the user without hash", res.Token, res.CSRF, res.User)
	}
	if want := f.clk.now().Add(12 * time.Hour); !res.Expires.Equal(want) {
		t.Errorf("session expires %v, want %v (12 h)", res.Expires, want)
	}
	p, err := f.svc.Authenticate(t.Context(), res.Token)
	if err != nil {
		t.Fatal(err)
	}
	want := Principal{UserID: u.ID, Username: "dana", Tenant: "acme", Role: store.QA, Kind: store.SessionToken,
		CSRF: res.CSRF, TokenHash: HashSecret(res.Token)}
	if p != want {
		t.Errorf("Authenticate = %#v / %+v, want %+v", p, p.LogValue(), want)
	}
	if got := f.rec.actions(); fmt.Sprint(got) != "[login.ok]" {
		t.Errorf("audit actions %v, want [login.ok]", got)
	}
	if r := f.rec.recs[0]; r.Actor != "user:"+u.ID || r.Tenant != "acme" || !strings.Contains(r.New, `"kind":"session"`) {
		t.Errorf("login.ok entry = %+v", r)
	}

	api, err := f.svc.Login(t.Context(), "DANA", goodPassword, store.APIToken)
	if err != nil {
		t.Fatal(err)
	}
	if api.CSRF != "" || !api.Expires.Equal(f.clk.now().Add(90*24*time.Hour)) {
		t.Errorf("api login: csrf %q expires %v; want no CSRF and 90 days", api.CSRF, api.Expires)
	}
	if _, err := f.svc.Login(t.Context(), "dana", goodPassword, "cookie"); err == nil {
		t.Error("Login with an unknown token kind succeeded")
	}
	f.noSecrets(t, goodPassword, res.Token, res.CSRF, api.Token)
}

func TestAuthenticateRefusals(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.addUser(t, "acme", "dana", store.Admin)
	login := func() string {
		t.Helper()
		res, err := f.svc.Login(t.Context(), "dana", goodPassword, store.SessionToken)
		if err != nil {
			t.Fatal(err)
		}
		return res.Token
	}
	tok := login()
	f.clk.add(12*time.Hour - time.Nanosecond)
	if _, err := f.svc.Authenticate(t.Context(), tok); err != nil {
		t.Errorf("1 ns before expiry: %v", err)
	}
	f.clk.add(time.Nanosecond)
	if _, err := f.svc.Authenticate(t.Context(), tok); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("at expiry: err = %v, want ErrUnauthenticated", err)
	}

	tok = login()
	p, _ := f.svc.Authenticate(t.Context(), tok)
	if err := f.svc.Logout(t.Context(), p); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(t.Context(), tok); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("after logout: err = %v, want ErrUnauthenticated", err)
	}

	tok = login()
	u.Disabled = true
	if err := f.st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(t.Context(), tok); !errors.Is(err, ErrUnauthenticated) {
		t.Errorf("disabled user: err = %v, want ErrUnauthenticated", err)
	}
	for _, bad := range []string{"", "vgl_unknown", strings.Repeat("x", 1000)} {
		if _, err := f.svc.Authenticate(t.Context(), bad); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("Authenticate(%.10q): err = %v, want ErrUnauthenticated", bad, err)
		}
	}
	if got := f.rec.actions(); fmt.Sprint(got) != "[login.ok login.ok logout login.ok]" {
		t.Errorf("audit actions %v", got)
	}
}

// countVerify makes the service count argon2id verifications and the hashes they used.
func countVerify(s *Service) *[]string {
	var used []string
	var mu sync.Mutex
	s.verify = func(phc, pw string) (bool, error) {
		mu.Lock()
		used = append(used, phc)
		mu.Unlock()
		return VerifyPassword(phc, pw)
	}
	return &used
}

func TestLoginUnknownUser(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.addUser(t, "acme", "dana", store.Admin)
	used := countVerify(f.svc)

	_, errUnknown := f.svc.Login(t.Context(), "correct horse battery staple", "x", store.SessionToken)
	_, errWrong := f.svc.Login(t.Context(), "dana", "wrong password!", store.SessionToken)
	if !errors.Is(errUnknown, ErrInvalidCredentials) || errUnknown != errWrong {
		t.Errorf("unknown user: %v; wrong password: %v; want the same ErrInvalidCredentials", errUnknown, errWrong)
	}
	// The unknown user cost one argon2id verification (against the dummy), like the known one.
	if len(*used) != 2 || (*used)[0] != f.svc.dummyHash || (*used)[1] != u.PasswordHash {
		t.Errorf("verifications %d (%v), want the dummy hash then the user's", len(*used), *used)
	}
	r := f.rec.recs[0]
	if r.Action != "login.fail" || r.Actor != "anonymous" || r.Tenant != "" {
		t.Errorf("unknown-user entry = %+v", r)
	}
	f.noSecrets(t, "correct horse battery staple", "wrong password!")
}

func TestLockout(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.addUser(t, "acme", "dana", store.Nurse)
	used := countVerify(f.svc)
	ctx := t.Context()

	for i := 1; i <= 4; i++ {
		if _, err := f.svc.Login(ctx, "dana", "guess-no-"+fmt.Sprint(i)+"-xyzzy", store.SessionToken); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("failure %d: err = %v, want ErrInvalidCredentials", i, err)
		}
		if got := f.st.user(t, u.ID).FailedLogins; got != i {
			t.Fatalf("after failure %d FailedLogins = %d", i, got)
		}
	}
	if _, err := f.svc.Login(ctx, "dana", goodPassword, store.SessionToken); err != nil {
		t.Fatalf("4 failures then the right password: %v", err)
	}
	if got := f.st.user(t, u.ID); got.FailedLogins != 0 {
		t.Fatalf("success left FailedLogins = %d", got.FailedLogins)
	}

	for i := 1; i <= 4; i++ {
		_, _ = f.svc.Login(ctx, "dana", "nope nope nope", store.SessionToken)
	}
	if _, err := f.svc.Login(ctx, "dana", "nope nope nope", store.SessionToken); !errors.Is(err, ErrLocked) {
		t.Fatalf("5th failure: err = %v, want ErrLocked", err)
	}
	locked := f.st.user(t, u.ID)
	if want := f.clk.now().Add(15 * time.Minute); locked.FailedLogins != 5 || !locked.LockedUntil.Equal(want) {
		t.Fatalf("after 5 failures: %d failures, locked until %v; want 5 and %v", locked.FailedLogins, locked.LockedUntil, want)
	}
	*used = nil
	f.clk.add(15*time.Minute - time.Second)
	if _, err := f.svc.Login(ctx, "dana", goodPassword, store.SessionToken); !errors.Is(err, ErrLocked) {
		t.Fatalf("right password while locked: err = %v, want ErrLocked", err)
	}
	if len(*used) != 1 || (*used)[0] != f.svc.dummyHash {
		t.Errorf("a locked attempt should still cost one (dummy) verification, got %v", *used)
	}
	f.clk.add(time.Second)
	// The lock has run out: a wrong password counts from 1 again.
	if _, err := f.svc.Login(ctx, "dana", "nope nope nope", store.SessionToken); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("after the lock: err = %v, want ErrInvalidCredentials", err)
	}
	if got := f.st.user(t, u.ID); got.FailedLogins != 1 || !got.LockedUntil.IsZero() {
		t.Fatalf("after the lock ran out and one failure: %d failures, locked until %v", got.FailedLogins, got.LockedUntil)
	}
	if _, err := f.svc.Login(ctx, "dana", goodPassword, store.SessionToken); err != nil {
		t.Fatalf("after the lock: %v", err)
	}
	want := "[login.fail login.fail login.fail login.fail login.ok login.fail login.fail login.fail login.fail login.locked login.locked login.fail login.ok]"
	if got := fmt.Sprint(f.rec.actions()); got != want {
		t.Errorf("audit actions\n%s\nwant\n%s", got, want)
	}
	if !strings.Contains(f.log.String(), "account locked") {
		t.Error("lockout not logged")
	}
	f.noSecrets(t, goodPassword, "nope nope nope", "guess-no-", "xyzzy")
}

func TestLoginDisabled(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.addUser(t, "acme", "dana", store.Nurse)
	u.Disabled = true
	if err := f.st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(t.Context(), "dana", goodPassword, store.SessionToken); !errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("disabled user, right password: err = %v, want ErrInvalidCredentials", err)
	}
	if got := f.st.user(t, u.ID).FailedLogins; got != 0 {
		t.Errorf("disabled login counted as a failure: %d", got)
	}
	if r := f.rec.recs[0]; r.Action != "login.fail" || r.Reason != "account disabled" {
		t.Errorf("entry = %+v", r)
	}
}

func TestConcurrentFailuresAllCount(t *testing.T) {
	f := newFixture(t, Options{MaxFailures: 8})
	u := f.addUser(t, "acme", "dana", store.Nurse)
	var wg sync.WaitGroup
	for range 6 {
		wg.Go(func() { _, _ = f.svc.Login(t.Context(), "dana", "not the password", store.SessionToken) })
	}
	wg.Wait()
	if got := f.st.user(t, u.ID).FailedLogins; got != 6 {
		t.Errorf("6 concurrent failures counted as %d", got)
	}
}

func TestLoginRehashesOldParams(t *testing.T) {
	f := newFixture(t, Options{})
	u := f.addUser(t, "acme", "dana", store.Nurse)
	old, _ := HashPasswordParams(goodPassword, Params{Memory: 32, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32})
	u.PasswordHash = old
	if err := f.st.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Login(t.Context(), "dana", goodPassword, store.SessionToken); err != nil {
		t.Fatal(err)
	}
	if h := f.st.user(t, u.ID).PasswordHash; h == old || NeedsRehash(h, fastParams) {
		t.Errorf("hash after login %s, want one with the service's parameters", h)
	}
}

func TestLoginAuditFailureRevokesToken(t *testing.T) {
	f := newFixture(t, Options{})
	f.addUser(t, "acme", "dana", store.Nurse)
	f.rec.fail = errors.New("audit table full")
	_, err := f.svc.Login(t.Context(), "dana", goodPassword, store.SessionToken)
	if err == nil || !strings.Contains(err.Error(), "audit table full") {
		t.Fatalf("err = %v, want the audit failure", err)
	}
	for _, tok := range f.st.tokens {
		if !tok.Revoked {
			t.Error("an unaudited login left a live token")
		}
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := t.Context()
	admin := f.addUser(t, "acme", "ann", store.Admin)
	viewer := f.addUser(t, "acme", "vic", store.Viewer)
	other := f.addUser(t, "beta", "bob", store.Admin)
	pAdmin := Principal{UserID: admin.ID, Tenant: "acme", Role: store.Admin}
	pViewer := Principal{UserID: viewer.ID, Tenant: "acme", Role: store.Viewer}
	pOther := Principal{UserID: other.ID, Tenant: "beta", Role: store.Admin}

	own, exp, err := f.svc.IssueAPIToken(ctx, pViewer)
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(f.clk.now().Add(90*24*time.Hour)) || !strings.HasPrefix(own, TokenPrefix) {
		t.Errorf("IssueAPIToken = %q until %v; want a vgl_ token for 90 days", own, exp)
	}
	p, err := f.svc.Authenticate(ctx, own)
	if err != nil || p.Kind != store.APIToken || p.UserID != viewer.ID || p.CSRF != "" {
		t.Fatalf("Authenticate(api token) = %+v, %v", p, err)
	}
	second, _, _ := f.svc.IssueAPIToken(ctx, pViewer)
	adminTok, _, _ := f.svc.IssueAPIToken(ctx, pAdmin)
	if _, _, err := f.svc.IssueAPIToken(ctx, Principal{UserID: "ghost", Tenant: "acme"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("token for a missing user: err = %v, want store.ErrNotFound", err)
	}

	if err := f.svc.RevokeToken(ctx, pViewer, "acme", HashSecret(adminTok)); !errors.Is(err, ErrForbidden) {
		t.Errorf("viewer revoking admin's token: err = %v, want ErrForbidden", err)
	}
	if err := f.svc.RevokeToken(ctx, pOther, "beta", HashSecret(own)); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("revoking another tenant's token: err = %v, want store.ErrNotFound", err)
	}
	if err := f.svc.RevokeToken(ctx, pViewer, "acme", HashSecret(own)); err != nil {
		t.Errorf("revoking own token: %v", err)
	}
	if err := f.svc.RevokeToken(ctx, pAdmin, "acme", HashSecret(second)); err != nil {
		t.Errorf("admin revoking a user's token: %v", err)
	}
	for _, tok := range []string{own, second} {
		if _, err := f.svc.Authenticate(ctx, tok); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("revoked token still authenticates: %v", err)
		}
	}
	if _, err := f.svc.Authenticate(ctx, adminTok); err != nil {
		t.Errorf("unrevoked token: %v", err)
	}
	want := "[token.issue token.issue token.issue token.revoke token.revoke]"
	if got := fmt.Sprint(f.rec.actions()); got != want {
		t.Errorf("audit actions %s, want %s", got, want)
	}
	f.noSecrets(t, own, second, adminTok)
}

func TestEnsureProviderAdmin(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := t.Context()
	pw, err := f.svc.EnsureProviderAdmin(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(pw) < 32 {
		t.Fatalf("generated password %q is too short", pw)
	}
	if _, ok := f.st.tenants[store.ProviderTenant]; !ok {
		t.Error("provider tenant not created")
	}
	res, err := f.svc.Login(ctx, "admin", pw, store.SessionToken)
	if err != nil {
		t.Fatalf("login with the generated password: %v", err)
	}
	if res.User.Role != store.ProviderAdmin || res.User.Tenant != store.ProviderTenant {
		t.Errorf("admin user = %+v", res.User)
	}
	again, err := f.svc.EnsureProviderAdmin(ctx, "")
	if err != nil || again != "" || len(f.st.users) != 1 {
		t.Errorf("second start: %q, %v, %d users; want a no-op", again, err, len(f.st.users))
	}
	if got := fmt.Sprint(f.rec.actions()); got != "[tenant.create user.create login.ok]" {
		t.Errorf("audit actions %s", got)
	}
	f.noSecrets(t, pw, f.st.user(t, res.User.ID).PasswordHash)

	g := newFixture(t, Options{})
	var pe *PolicyError
	if _, err := g.svc.EnsureProviderAdmin(ctx, "short"); !errors.As(err, &pe) || !strings.Contains(err.Error(), "at least 12") {
		t.Errorf("short password: err = %v, want a *PolicyError naming 12", err)
	}
	if got, err := g.svc.EnsureProviderAdmin(ctx, goodPassword); err != nil || got != "" {
		t.Fatalf("given password: %q, %v", got, err)
	}
	if _, err := g.svc.Login(ctx, "admin", goodPassword, store.SessionToken); err != nil {
		t.Errorf("login with the given password: %v", err)
	}
}

func TestOptions(t *testing.T) {
	s := NewService(newMemStore(), &recorder{}, time.Now, slog.New(slog.DiscardHandler), Options{Params: fastParams})
	o := s.Options()
	if o.SessionTTL != 12*time.Hour || o.APITokenTTL != 90*24*time.Hour || o.MaxFailures != 5 ||
		o.LockoutDuration != 15*time.Minute || o.MinPasswordLength != 12 || o.DeviceCacheTTL != 5*time.Second ||
		o.DeviceCacheSize != 10_000 {
		t.Errorf("defaults = %+v", o)
	}
	if err := (Options{}).Validate(); err != nil {
		t.Errorf("zero Options: %v", err)
	}
	for _, bad := range []Options{
		{MinPasswordLength: 7},
		{MaxFailures: -1},
		{SessionTTL: -time.Hour},
		{Params: Params{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32}},
	} {
		if err := bad.Validate(); err == nil {
			t.Errorf("Options%+v.Validate() = nil, want an error", bad)
		}
	}
	if _, err := s.HashPassword("short"); err == nil {
		t.Error("Service.HashPassword accepted a short password")
	}
	var pe *PolicyError
	if _, err := HashPassword("eleven char"); !errors.As(err, &pe) || err.Error() != "password not accepted: it has 11 characters; passwords need at least 12" {
		t.Errorf("HashPassword(11 characters) = %v, want the policy error", err)
	}
}

func TestNoSecretsInPrint(t *testing.T) {
	p := Principal{UserID: "u_1", Username: "dana.lee", Tenant: "acme", Role: store.QA, Kind: store.SessionToken,
		CSRF: "csrf-secret", TokenHash: "tokenhash-secret"}
	res := LoginResult{Token: "vgl_token-secret", CSRF: "csrf-secret", User: store.User{ID: "u_1", PasswordHash: "pw-hash-secret"}}
	var buf bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&buf, nil))
	log.Info("x", "principal", p, "login", res)
	out := buf.String() + fmt.Sprintf("%v %+v %#v %s %v %+v %#v", p, p, p, p, res, res, res)
	for _, secret := range []string{"csrf-secret", "tokenhash-secret", "vgl_token-secret", "pw-hash-secret", "dana.lee"} {
		if strings.Contains(out, secret) {
			t.Errorf("output contains %q:\n%s", secret, out)
		}
	}
	if !strings.Contains(buf.String(), `"principal":{"user_id":"u_1","tenant":"acme","role":"qa","kind":"session"}`) {
		t.Errorf("principal not logged as expected:\n%s", buf.String())
	}
}
