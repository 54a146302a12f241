package auth

import (
	"fmt"
	"log/slog"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// Principal is an authenticated user acting through one token.
//
// CSRF and TokenHash are credentials (TokenHash is the key of the token row, needed to log out
// and revoke). String, GoString and LogValue leave them out, as they leave out Username, which is
// often a person's name; logs identify users by UserID.
type Principal struct {
	UserID    string
	Username  string
	Tenant    string
	Role      store.Role
	Kind      store.TokenKind
	CSRF      string // session tokens: the value the console must echo on unsafe requests
	TokenHash string
}

// LogValue implements slog.LogValuer: user id, tenant, role and token kind only.
func (p Principal) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_id", p.UserID),
		slog.String("tenant", p.Tenant),
		slog.String("role", string(p.Role)),
		slog.String("kind", string(p.Kind)),
	)
}

func (p Principal) String() string {
	return fmt.Sprintf("user %s in tenant %s (role %s, %s token)", p.UserID, p.Tenant, p.Role, p.Kind)
}

// GoString keeps %#v from printing the credentials.
func (p Principal) GoString() string {
	return fmt.Sprintf("auth.Principal{UserID:%q, Tenant:%q, Role:%q, Kind:%q, CSRF:[redacted], TokenHash:[redacted]}",
		p.UserID, p.Tenant, p.Role, p.Kind)
}

// Actor is how p appears in audit entries: "user:<id>".
func (p Principal) Actor() string { return "user:" + p.UserID }

// LoginResult is what a successful login hands the client. Token and CSRF are secrets: they
// are shown to the client once and never logged (String and LogValue leave them out).
type LoginResult struct {
	Token   string
	CSRF    string // session tokens only
	Expires time.Time
	User    store.User // PasswordHash cleared
}

// LogValue implements slog.LogValuer without the secrets.
func (r LoginResult) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("user_id", r.User.ID),
		slog.String("tenant", r.User.Tenant),
		slog.Time("expires", r.Expires),
	)
}

func (r LoginResult) String() string {
	return fmt.Sprintf("login of user %s in tenant %s, token [redacted] until %s", r.User.ID, r.User.Tenant, r.Expires.UTC().Format(time.RFC3339))
}

// GoString keeps %#v from printing the secrets.
func (r LoginResult) GoString() string { return "auth.LoginResult{" + r.String() + "}" }
