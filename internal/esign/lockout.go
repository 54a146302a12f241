package esign

import (
	"errors"
	"fmt"
	"time"
)

// LockoutPolicy is the §11.300(d) transaction safeguard (spec 2 §11.300(d) and 7): consecutive
// failed attempts of one user ID, login and signing together, lock the account; lockouts and
// bursts of signing failures raise an immediate alert. The zero value uses the defaults.
type LockoutPolicy struct {
	MaxFailures   int           // consecutive failures that lock; default 5
	AutoUnlock    time.Duration // 0: only a security administrator unlocks (default); else e.g. 30 min
	AlertFailures int           // signing failures within AlertWindow that alert; default 3
	AlertWindow   time.Duration // default 5 min; failures exactly AlertWindow apart are "within"
}

func (p LockoutPolicy) withDefaults() LockoutPolicy {
	if p.MaxFailures == 0 {
		p.MaxFailures = 5
	}
	if p.AlertFailures == 0 {
		p.AlertFailures = 3
	}
	if p.AlertWindow == 0 {
		p.AlertWindow = 5 * time.Minute
	}
	return p
}

// Validate reports every out-of-range setting.
func (p LockoutPolicy) Validate() error {
	p = p.withDefaults()
	var errs []error
	if p.MaxFailures < 1 {
		errs = append(errs, fmt.Errorf("max failures %d, want at least 1", p.MaxFailures))
	}
	if p.AutoUnlock < 0 {
		errs = append(errs, fmt.Errorf("auto unlock %v is negative", p.AutoUnlock))
	}
	if p.AlertFailures < 1 || p.AlertWindow < 0 {
		errs = append(errs, fmt.Errorf("alert after %d failures in %v, want at least 1 in a positive window", p.AlertFailures, p.AlertWindow))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("esign: lockout policy: %w", err)
	}
	return nil
}

// Lockout is the per-user state the caller stores between attempts.
type Lockout struct {
	Failures        int         // consecutive failed attempts since the last success
	LockedAt        time.Time   // zero when not locked
	SigningFailures []time.Time // recent failed signing attempts, oldest first, pruned to AlertWindow
}

// Kind tells login attempts from signing attempts.
type Kind int

// Attempt kinds.
const (
	Login Kind = iota
	Signing
)

// Outcome says what a failed attempt led to.
type Outcome struct {
	Locked     bool // the account is locked (now, or already was)
	JustLocked bool // this failure locked it: alert security contacts once
	Alert      bool // alert security contacts now (lockout, or a burst of signing failures)
}

// Locked reports whether s is locked at now. An automatic unlock takes effect at exactly
// LockedAt + AutoUnlock.
func (p LockoutPolicy) Locked(s Lockout, now time.Time) bool {
	p = p.withDefaults()
	if s.LockedAt.IsZero() {
		return false
	}
	return p.AutoUnlock == 0 || now.Before(s.LockedAt.Add(p.AutoUnlock))
}

// Fail records a failed attempt (counted per FailedAttempt for signings) and returns the new
// state. An attempt on a locked account is refused before credentials are checked and is not
// passed to Fail.
func (p LockoutPolicy) Fail(s Lockout, k Kind, now time.Time) (Lockout, Outcome) {
	p = p.withDefaults()
	if p.Locked(s, now) {
		return s, Outcome{Locked: true}
	}
	if !s.LockedAt.IsZero() { // an automatic unlock has run out: start afresh
		s = Lockout{SigningFailures: s.SigningFailures}
	}
	s.SigningFailures = p.prune(s.SigningFailures, now)
	var out Outcome
	if k == Signing {
		s.SigningFailures = append(s.SigningFailures, now)
		out.Alert = len(s.SigningFailures) == p.AlertFailures
	}
	s.Failures++
	if s.Failures >= p.MaxFailures {
		s.LockedAt = now
		out.Locked, out.JustLocked, out.Alert = true, true, true
	}
	return s, out
}

// Succeed records a successful attempt: the consecutive count starts again. The caller checks
// Locked first; a locked account cannot succeed.
func (p LockoutPolicy) Succeed(s Lockout, now time.Time) Lockout {
	p = p.withDefaults()
	return Lockout{SigningFailures: p.prune(s.SigningFailures, now)}
}

// Unlock is a security administrator's unlock (audited with a reason by the caller).
func Unlock(Lockout) Lockout { return Lockout{} }

func (p LockoutPolicy) prune(ts []time.Time, now time.Time) []time.Time {
	i := 0
	for i < len(ts) && now.Sub(ts[i]) > p.AlertWindow {
		i++
	}
	return append([]time.Time(nil), ts[i:]...)
}
