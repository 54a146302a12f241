package alarm

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// RecipientKind is a kind of recipient rule (spec §10.1).
type RecipientKind string

// Recipient rule kinds. Ref carries the role, service, user or group where the kind needs one.
const (
	AssignedNurse RecipientKind = "ASSIGNED_NURSE"
	BuddyNurse    RecipientKind = "BUDDY_NURSE"
	ChargeNurse   RecipientKind = "CHARGE_NURSE"
	RoleOnCall    RecipientKind = "ROLE_ON_CALL" // Ref: "role" or "role/service", e.g. "physician", "ops"
	RRT           RecipientKind = "RRT"
	NamedUser     RecipientKind = "NAMED_USER" // Ref: user id
	Group         RecipientKind = "GROUP"      // Ref: group id
)

// RecipientRule names who a tier notifies; it is resolved at notification time.
type RecipientRule struct {
	Kind RecipientKind `json:"kind"`
	Ref  string        `json:"ref,omitempty"`
}

// Tier is one escalation step: its offset from announced_at and its recipients.
type Tier struct {
	Offset     time.Duration   `json:"offset"`
	Recipients []RecipientRule `json:"recipients"`
}

// Policy is an escalation policy (spec §10.1). Empty selector lists match everything; a
// policy with Tenant "" is a default for every tenant.
type Policy struct {
	ID         string     `json:"id"`
	Version    int        `json:"version"`
	Tenant     string     `json:"tenant,omitempty"`
	Units      []string   `json:"units,omitempty"`
	Kinds      []Kind     `json:"kinds,omitempty"`
	Codes      []Code     `json:"codes,omitempty"`
	Priorities []Priority `json:"priorities,omitempty"`
	Tiers      []Tier     `json:"tiers"`
	// Renotify is the interval at which each notified recipient is reminded while the alarm
	// is unacknowledged; 0 means never.
	Renotify time.Duration `json:"renotify"`
	// ReAlarmAfterAck re-announces an acknowledged alarm whose condition persists; 0 means
	// never (NEWS2, spec §7).
	ReAlarmAfterAck time.Duration `json:"realarm_after_ack"`
	// AssessWithin is the NEWS2 assessment timeout (spec §7) for the NEWS2_MEDIUM and
	// NEWS2_HIGH alerts this policy routes; 0 means the code's default (60 and 30 min).
	AssessWithin time.Duration `json:"assess_within,omitempty"`
}

func contains[T comparable](list []T, v T) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// match returns how specific p is for a, or -1 when p does not apply.
func (p *Policy) match(a *Alarm) int {
	score := 0
	switch {
	case p.Tenant == "":
	case p.Tenant == a.Tenant:
		score += 16
	default:
		return -1
	}
	for _, sel := range []struct {
		n  int
		ok bool
		w  int
	}{
		{len(p.Units), contains(p.Units, a.Unit), 8},
		{len(p.Codes), contains(p.Codes, a.Code), 4},
		{len(p.Kinds), contains(p.Kinds, a.Kind), 2},
		{len(p.Priorities), contains(p.Priorities, a.Priority), 1},
	} {
		if sel.n > 0 {
			if !sel.ok {
				return -1
			}
			score += sel.w
		}
	}
	return score
}

// Policies selects the escalation policy of an alarm: the most specific matching policy
// (tenant, then unit, code, kind, priority); on a tie the first in the list.
type Policies []Policy

// Select returns the policy for a, and false when none matches.
func (ps Policies) Select(a *Alarm) (Policy, bool) {
	best, bestScore := -1, -1
	for i := range ps {
		if s := ps[i].match(a); s > bestScore {
			best, bestScore = i, s
		}
	}
	if best < 0 {
		return Policy{}, false
	}
	return ps[best], true
}

// DefaultPolicies returns the ward and NEWS2 defaults of spec §4.4, §7 and §10.2 (Vigil
// decisions). Technical alarms follow the ward schedule of their priority (spec §8: "assigned
// nurse → charge"), except CLOCK_SKEW, which goes to the ops queue.
func DefaultPolicies() Policies {
	const s, m = time.Second, time.Minute
	nurse := RecipientRule{Kind: AssignedNurse}
	buddy := RecipientRule{Kind: BuddyNurse}
	charge := RecipientRule{Kind: ChargeNurse}
	medTeam := RecipientRule{Kind: RoleOnCall, Ref: "physician/medical"}
	return Policies{
		{ID: "ward-high", Version: 1, Priorities: []Priority{High}, Renotify: 30 * s, ReAlarmAfterAck: 5 * m,
			Tiers: []Tier{{0, []RecipientRule{nurse, buddy}}, {60 * s, []RecipientRule{charge}}, {120 * s, []RecipientRule{{Kind: RRT}}}}},
		{ID: "ward-medium", Version: 1, Priorities: []Priority{Medium}, Renotify: 120 * s, ReAlarmAfterAck: 15 * m,
			Tiers: []Tier{{0, []RecipientRule{nurse}}, {180 * s, []RecipientRule{buddy, charge}}, {600 * s, []RecipientRule{{Kind: RoleOnCall, Ref: "physician"}}}}},
		{ID: "ward-low", Version: 1, Priorities: []Priority{Low}, Renotify: 900 * s, ReAlarmAfterAck: 60 * m,
			Tiers: []Tier{{0, []RecipientRule{nurse}}, {1800 * s, []RecipientRule{charge}}}},
		{ID: "technical-ops", Version: 1, Codes: []Code{ClockSkew}, Renotify: 900 * s, ReAlarmAfterAck: 60 * m,
			Tiers: []Tier{{0, []RecipientRule{{Kind: RoleOnCall, Ref: "ops"}}}, {600 * s, []RecipientRule{{Kind: RoleOnCall, Ref: "ops-lead"}}}}},
		{ID: "news2-high", Version: 1, Codes: []Code{NEWS2High}, Renotify: 30 * s, AssessWithin: AssessWithinHigh,
			Tiers: []Tier{{0, []RecipientRule{nurse, medTeam, {Kind: RRT}}}, {5 * m, []RecipientRule{charge, {Kind: RoleOnCall, Ref: "consultant/medical"}}}}},
		{ID: "news2-medium", Version: 1, Codes: []Code{NEWS2Medium}, Renotify: 120 * s, AssessWithin: AssessWithinMedium,
			Tiers: []Tier{{0, []RecipientRule{nurse, medTeam}}, {15 * m, []RecipientRule{charge}}}},
		{ID: "news2-red-score", Version: 1, Codes: []Code{NEWS2RedScore}, Renotify: 120 * s,
			Tiers: []Tier{{0, []RecipientRule{nurse}}, {30 * m, []RecipientRule{charge}}}},
	}
}

// AlarmRef is what a Directory needs to know about an alarm to resolve recipients.
type AlarmRef struct {
	ID      ID
	Tenant  string
	Unit    string
	Subject string
	Kind    Kind
	Code    Code
}

// Directory resolves a recipient rule to user ids against the live assignment and on-call
// roster (spec §10.1). It is called from the engine's goroutine and must not call back into
// the engine. Results should be in a stable order; the engine sorts them.
type Directory interface {
	Recipients(ctx context.Context, a AlarmRef, rule RecipientRule) ([]string, error)
}

// Validate reports every problem of a tenant-defined policy: an id, at least one tier, tier
// offsets that start at 0 and increase, recipients of known kinds with the ref their kind
// needs, known kinds and priorities in the selector, and no negative intervals.
func (p *Policy) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("policy %q: "+format, append([]any{p.ID}, args...)...))
	}
	if p.ID == "" {
		bad("id is empty")
	}
	if len(p.Tiers) == 0 {
		bad("needs at least one tier")
	}
	for i, t := range p.Tiers {
		switch {
		case i == 0 && t.Offset != 0:
			bad("tier 0 must start at offset 0, not %s", t.Offset)
		case i > 0 && t.Offset <= p.Tiers[i-1].Offset:
			bad("tier %d offset %s is not after tier %d's %s", i, t.Offset, i-1, p.Tiers[i-1].Offset)
		}
		if len(t.Recipients) == 0 {
			bad("tier %d has no recipients", i)
		}
		for j, r := range t.Recipients {
			switch r.Kind {
			case AssignedNurse, BuddyNurse, ChargeNurse, RRT:
			case RoleOnCall, NamedUser, Group:
				if r.Ref == "" {
					bad("tier %d recipient %d (%s) needs a ref", i, j, r.Kind)
				}
			default:
				bad("tier %d recipient %d: unknown kind %q", i, j, r.Kind)
			}
		}
	}
	for _, k := range p.Kinds {
		if k != Physiological && k != Technical && k != Advisory {
			bad("unknown kind %q", k)
		}
	}
	for _, pr := range p.Priorities {
		if pr < Low || pr > High {
			bad("unknown priority %d", pr)
		}
	}
	if p.Renotify < 0 || p.ReAlarmAfterAck < 0 || p.AssessWithin < 0 {
		bad("renotify, realarm_after_ack and assess_within must not be negative")
	}
	return errors.Join(errs...)
}
