package esign

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Authentication methods recorded with a signature (Signature.Method).
const (
	MethodIDPassword = "id+password" // both components: first signing of a continuous period
	MethodPassword   = "password"    // the private component only: later signing, same period
	MethodIdP        = "idp-reauth"  // SSO account: forced re-authentication at the IdP
)

// SessionPolicy says when a continuous period of controlled access ends (§11.200(a)(1),
// spec 2 §11.200 and 6.2). The zero value uses the defaults.
type SessionPolicy struct {
	Idle      time.Duration // idle time that ends a period; default 15 min, at most 60 min
	Absolute  time.Duration // session age that ends a period; default 12 h
	IdPMaxAge time.Duration // how old an SSO re-authentication may be; default 60 s
}

func (p SessionPolicy) withDefaults() SessionPolicy {
	if p.Idle == 0 {
		p.Idle = 15 * time.Minute
	}
	if p.Absolute == 0 {
		p.Absolute = 12 * time.Hour
	}
	if p.IdPMaxAge == 0 {
		p.IdPMaxAge = 60 * time.Second
	}
	return p
}

// Validate reports every out-of-range setting.
func (p SessionPolicy) Validate() error {
	p = p.withDefaults()
	var errs []error
	if p.Idle < 0 || p.Idle > time.Hour {
		errs = append(errs, fmt.Errorf("idle timeout %v, want between 0 and 60 min", p.Idle))
	}
	if p.Absolute < 0 || p.Absolute < p.Idle {
		errs = append(errs, fmt.Errorf("absolute timeout %v, want at least the idle timeout %v", p.Absolute, p.Idle))
	}
	if p.IdPMaxAge < 0 {
		errs = append(errs, fmt.Errorf("IdP max age %v is negative", p.IdPMaxAge))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("esign: session policy: %w", err)
	}
	return nil
}

// Session is what the policy needs to know about the session a signing happens in.
type Session struct {
	UserID        string
	Start         time.Time // login
	LastActivity  time.Time // last authenticated request before this signing attempt
	LastSigning   time.Time // last successful signing in this session; zero if none
	LoggedOut     bool
	DeviceChanged bool // the session is now used from another device than at login
	SSO           bool // the account authenticates at an external identity provider
}

// Break says why a continuous period ended, if it did.
type Break int

// Breaks of continuity.
const (
	NoBreak Break = iota
	BreakLogout
	BreakIdle
	BreakAbsolute
	BreakDevice
)

// String names the break for audit entries and the signing dialog.
func (b Break) String() string {
	names := [...]string{"none", "logout", "idle timeout", "absolute timeout", "device changed"}
	if b < 0 || int(b) >= len(names) {
		return fmt.Sprintf("Break(%d)", int(b))
	}
	return names[b]
}

// Requirement says which components the next signing must present.
type Requirement struct {
	First    bool  // first signing of a continuous period
	UserID   bool  // the user must type the user ID (not pre-filled)
	Password bool  // the user must type the password
	IdP      bool  // SSO: re-authenticate at the identity provider (max_age=0)
	Break    Break // why the previous period ended, if it did (for the audit entry and UI)
	Method   string
}

// Require applies §11.200(a)(1) to s at time now. Within one continuous period the first
// signing needs user ID and password and later ones the password; once the period has ended
// (logout, idle ≥ Idle, age ≥ Absolute, device change) every component is needed again. SSO
// accounts always re-authenticate at the identity provider.
func (p SessionPolicy) Require(s Session, now time.Time) Requirement {
	p = p.withDefaults()
	var b Break
	switch {
	case s.LoggedOut:
		b = BreakLogout
	case s.DeviceChanged:
		b = BreakDevice
	case now.Sub(s.Start) >= p.Absolute:
		b = BreakAbsolute
	case now.Sub(s.LastActivity) >= p.Idle:
		b = BreakIdle
	}
	first := b != NoBreak || s.LastSigning.IsZero() || s.LastSigning.Before(s.Start)
	switch {
	case s.SSO:
		return Requirement{First: first, IdP: true, Break: b, Method: MethodIdP}
	case first:
		return Requirement{First: true, UserID: true, Password: true, Break: b, Method: MethodIDPassword}
	default:
		return Requirement{Password: true, Method: MethodPassword}
	}
}

// PasswordResult is the outcome of checking the typed password against the session user's
// stored hash (done by the caller).
type PasswordResult int

// Password results.
const (
	PasswordMissing PasswordResult = iota
	PasswordWrong
	PasswordOK
)

// Attempt is what the user presented in the signing dialog.
type Attempt struct {
	TypedUserID string         // "" when not typed
	Password    PasswordResult // for local accounts
	IdPAuthTime time.Time      // SSO: auth_time of the fresh IdP token; zero if none
	IdPSubject  string         // SSO: the user id the IdP token maps to
}

// Refusals of a signing attempt. Check wraps one of them; FailedAttempt says whether it
// counts toward lockout.
var (
	ErrUserIDRequired  = errors.New("user ID required for the first signing in a session")
	ErrUserIDMismatch  = errors.New("typed user ID is not the signed-in user")
	ErrPasswordMissing = errors.New("password required")
	ErrWrongPassword   = errors.New("wrong password")
	ErrIdPReauth       = errors.New("fresh identity-provider re-authentication required")
)

// FailedAttempt reports whether err from Check is a failed signature attempt that counts
// toward lockout (§11.300(d)): a wrong password, a foreign user ID or a foreign IdP subject.
// An incomplete form does not count.
func FailedAttempt(err error) bool {
	return errors.Is(err, ErrWrongPassword) || errors.Is(err, ErrUserIDMismatch)
}

// Check applies r to the attempt a of the session user sessionUser at time now. User IDs
// compare case-insensitively (§11.100(a): IDs are unique regardless of case). A typed ID is
// checked even when not required.
func (r Requirement) Check(p SessionPolicy, sessionUser string, a Attempt, now time.Time) error {
	p = p.withDefaults()
	if r.IdP {
		switch {
		case a.IdPAuthTime.IsZero() || now.Sub(a.IdPAuthTime) > p.IdPMaxAge || a.IdPAuthTime.After(now.Add(p.IdPMaxAge)):
			return fmt.Errorf("esign: signing by %s: auth_time %s, now %s: %w", sessionUser,
				a.IdPAuthTime.UTC().Format(time.RFC3339), now.UTC().Format(time.RFC3339), ErrIdPReauth)
		case !strings.EqualFold(a.IdPSubject, sessionUser):
			return fmt.Errorf("esign: signing by %s: IdP token is for another user: %w", sessionUser, ErrUserIDMismatch)
		}
		return nil
	}
	switch {
	case r.UserID && a.TypedUserID == "":
		return fmt.Errorf("esign: signing by %s: %w", sessionUser, ErrUserIDRequired)
	case a.TypedUserID != "" && !strings.EqualFold(a.TypedUserID, sessionUser):
		return fmt.Errorf("esign: signing by %s: %w", sessionUser, ErrUserIDMismatch)
	case a.Password == PasswordMissing:
		return fmt.Errorf("esign: signing by %s: %w", sessionUser, ErrPasswordMissing)
	case a.Password != PasswordOK:
		return fmt.Errorf("esign: signing by %s: %w", sessionUser, ErrWrongPassword)
	}
	return nil
}
