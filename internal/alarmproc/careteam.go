package alarmproc

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/store"
)

// directory resolves escalation recipients (alarms.md §10.1) at notification time against the
// tenant's care team and on-call roster:
//   - ASSIGNED_NURSE: users assigned to the alarm's subject, else those working its unit;
//   - BUDDY_NURSE: buddy nurses of the subject; CHARGE_NURSE: charge nurses of the unit (any
//     unit's when the alarm has none);
//   - ROLE_ON_CALL(ref) and RRT ("rrt"): users on call for ref now; a shift for "physician"
//     covers "physician/medical" and a shift for "physician/medical" covers "physician";
//   - NAMED_USER: that user.
//
// A tenant that has set up no care team at all (no assignment, no shift, ever) falls back to
// roles, so a new installation still alarms somebody: the assigned-nurse tier goes to every
// nurse, physician/consultant/RRT tiers to clinicians, ops tiers to operators. Disabled users
// never receive anything. now is the engine's clock.
type directory struct {
	st    Store
	now   func() time.Time
	cache *teamCache // nil: no cache (every call reads the store)
}

// teamCache keeps each tenant's users and care team for teamTTL, so that announcing many
// alarms at once (a ward-wide no-data after a network cut) does not query the store for every
// recipient rule of every tier. It is used from the engine goroutine only.
type teamCache struct {
	entries map[string]cachedTeam
}

type cachedTeam struct {
	at    time.Time
	users []store.User
	team  careTeam
}

// teamTTL bounds how stale a cached care team may be: a new assignment takes effect for
// recipients within this time.
const teamTTL = 2 * time.Second

func (d directory) lookup(ctx context.Context, tenant string, now time.Time) ([]store.User, careTeam, error) {
	if d.cache != nil {
		if e, ok := d.cache.entries[tenant]; ok && now.Sub(e.at) < teamTTL && !now.Before(e.at) {
			return e.users, e.team, nil
		}
	}
	users, err := d.st.Users(ctx, tenant)
	if err != nil {
		return nil, careTeam{}, err
	}
	team, err := d.team(ctx, tenant, now)
	if err != nil {
		return nil, careTeam{}, err
	}
	if d.cache != nil {
		if d.cache.entries == nil {
			d.cache.entries = map[string]cachedTeam{}
		}
		d.cache.entries[tenant] = cachedTeam{at: now, users: users, team: team}
	}
	return users, team, nil
}

func (d directory) Recipients(ctx context.Context, a alarm.AlarmRef, rule alarm.RecipientRule) ([]string, error) {
	users, team, err := d.lookup(ctx, a.Tenant, d.now())
	if err != nil {
		return nil, fmt.Errorf("recipients of alarm %s: %w", a.ID, err)
	}
	enabled := map[string]store.Role{}
	for _, u := range users {
		if !u.Disabled {
			enabled[u.ID] = u.Role
		}
	}
	var out []string
	add := func(id string) {
		if _, ok := enabled[id]; ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	if rule.Kind == alarm.NamedUser {
		add(rule.Ref)
		return out, nil
	}
	if team.empty {
		for _, u := range users {
			if !u.Disabled && u.Role == fallbackRole(rule) && u.Role != "" {
				add(u.ID)
			}
		}
		return out, nil
	}
	switch rule.Kind {
	case alarm.AssignedNurse:
		for _, c := range team.care {
			if c.Role == store.CareAssigned && c.Subject == a.Subject {
				add(c.UserID)
			}
		}
		if len(out) == 0 {
			for _, c := range team.care {
				if c.Role == store.CareUnit && c.Unit == a.Unit && a.Unit != "" {
					add(c.UserID)
				}
			}
		}
	case alarm.BuddyNurse:
		for _, c := range team.care {
			if c.Role == store.CareBuddy && c.Subject == a.Subject {
				add(c.UserID)
			}
		}
	case alarm.ChargeNurse:
		for _, c := range team.care {
			if c.Role == store.CareCharge && (c.Unit == a.Unit || a.Unit == "") {
				add(c.UserID)
			}
		}
	case alarm.RoleOnCall, alarm.RRT:
		ref := rule.Ref
		if rule.Kind == alarm.RRT {
			ref = "rrt"
		}
		for _, s := range team.oncall {
			if refCovers(s.Ref, ref) {
				add(s.UserID)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}

// refCovers reports whether an on-call shift for shift answers a rule for want: equal, or one
// is the other's role without a service ("physician" and "physician/medical").
func refCovers(shift, want string) bool {
	if shift == want {
		return true
	}
	sr, ss, _ := strings.Cut(shift, "/")
	wr, ws, _ := strings.Cut(want, "/")
	return sr == wr && (ss == "" || ws == "")
}

// fallbackRole is the role a rule goes to in a tenant without a care team ("" = nobody).
func fallbackRole(rule alarm.RecipientRule) store.Role {
	switch rule.Kind {
	case alarm.AssignedNurse:
		return store.Nurse // buddy and charge tiers: nobody new (every nurse already has it)
	case alarm.RRT:
		return store.Clinician
	case alarm.RoleOnCall:
		switch r, _, _ := strings.Cut(rule.Ref, "/"); r {
		case "physician", "consultant", "rrt":
			return store.Clinician
		case "ops", "ops-lead":
			return store.Operator
		}
	}
	return ""
}

// careTeam is a tenant's care assignments and on-call shifts active at one time; empty means
// the tenant has never set up either.
type careTeam struct {
	care   []store.CareAssignment
	oncall []store.OnCallShift
	empty  bool
}

func (d directory) team(ctx context.Context, tenant string, now time.Time) (careTeam, error) {
	var t careTeam
	var err error
	if t.care, err = d.st.CareAssignments(ctx, tenant, now); err != nil {
		return t, err
	}
	if t.oncall, err = d.st.OnCall(ctx, tenant, now); err != nil {
		return t, err
	}
	if len(t.care) == 0 && len(t.oncall) == 0 {
		all, err := d.st.CareAssignments(ctx, tenant, time.Time{})
		if err != nil {
			return t, err
		}
		shifts, err := d.st.OnCall(ctx, tenant, time.Time{})
		if err != nil {
			return t, err
		}
		t.empty = len(all) == 0 && len(shifts) == 0
	}
	return t, nil
}

// Relation returns a user's care-team relation to the subject and unit of alarm id, from which
// the API derives the user's capacity (alarms.md §6). In a tenant without a care team every
// user counts as assigned and in the unit (the fallback of directory).
func (s *Service) Relation(ctx context.Context, tenant, userID string, id alarm.ID) (alarm.Relation, error) {
	v, err := s.Get(ctx, tenant, id)
	if err != nil {
		return alarm.Relation{}, err
	}
	d := directory{st: s.cfg.Store, now: time.Now}
	team, err := d.team(ctx, tenant, time.Now())
	if err != nil {
		return alarm.Relation{}, fmt.Errorf("care team of %s: %w", tenant, err)
	}
	if team.empty {
		return alarm.Relation{Assigned: true, InUnit: true}, nil
	}
	var rel alarm.Relation
	for _, c := range team.care {
		if c.UserID != userID {
			continue
		}
		switch c.Role {
		case store.CareAssigned, store.CareBuddy:
			if c.Subject == v.Subject {
				rel.Assigned = true
			}
		case store.CareCharge:
			if c.Unit == v.CareUnit || v.CareUnit == "" {
				rel.Charge, rel.InUnit = true, true
			}
		case store.CareUnit:
			if c.Unit == v.CareUnit {
				rel.InUnit = true
			}
		}
	}
	for _, sh := range team.oncall {
		if sh.UserID == userID && refCovers(sh.Ref, "rrt") {
			rel.RRT = true
		}
	}
	return rel, nil
}
