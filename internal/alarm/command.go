package alarm

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"time"
)

// Pause limits (spec §5.1, §5.2).
const (
	DefaultPause      = 120 * time.Second
	MaxAlarmPause     = 10 * time.Minute
	PauseReasonAbove  = 3 * time.Minute // an alarm pause longer than this needs a reason
	MinAudioPause     = 60 * time.Second
	MaxAudioPause     = 180 * time.Second
	DefaultAudioPause = 120 * time.Second
)

// command applies one user command at now.
func (c *core) command(ctx context.Context, cmd Command, now time.Time) error {
	switch cmd.Action {
	case ActAudioPause:
		return c.audioPause(cmd, now)
	case ActAlarmPause:
		return c.alarmPause(cmd, now)
	case ActAcknowledge, ActDecline, ActEscalate, ActCancel, ActAssess:
	default:
		return fmt.Errorf("alarm command %q: %w", cmd.Action, ErrInvalid)
	}
	t := c.byID[cmd.AlarmID]
	if t != nil {
		c.touch(t)
	}
	if t == nil {
		ref, ok := c.closed[cmd.AlarmID]
		if !ok || ref.Tenant != cmd.Actor.Tenant {
			return fmt.Errorf("%s alarm %s: %w", cmd.Action, cmd.AlarmID, ErrNotFound)
		}
		err := CheckTransition(cmd.Actor, cmd.Action, ref.Tenant, ref.Kind, ref.State, cmd.Reason)
		typ := EvNoOp
		if errors.Is(err, ErrForbidden) {
			typ = EvAccessDenied
		}
		// Audit on the closed alarm's stream: the losing side of a race (spec §4.4).
		ref.Seq++
		c.closed[cmd.AlarmID] = ref
		c.events = append(c.events, Event{
			ID: hashID("event", ref.ID, ref.Seq), AlarmID: ref.ID, Seq: ref.Seq, Type: typ, At: now,
			Actor: cmd.Actor.String(), From: ref.State, To: ref.State, Reason: string(cmd.Action), Note: cmd.Note,
		})
		return fmt.Errorf("%s alarm %s: %w", cmd.Action, cmd.AlarmID, err)
	}
	a := &t.Alarm
	if a.Tenant != cmd.Actor.Tenant {
		c.event(t, EvAccessDenied, now, cmd.Actor.String(), a.State, a.State, string(cmd.Action), "other tenant", nil)
		return fmt.Errorf("%s alarm %s: %w", cmd.Action, cmd.AlarmID, ErrNotFound)
	}
	if err := CheckTransition(cmd.Actor, cmd.Action, a.Tenant, a.Kind, a.State, cmd.Reason); err != nil {
		switch {
		case errors.Is(err, ErrForbidden):
			c.event(t, EvAccessDenied, now, cmd.Actor.String(), a.State, a.State, string(cmd.Action), "", nil)
		case errors.Is(err, ErrInvalidTransition):
			c.event(t, EvNoOp, now, cmd.Actor.String(), a.State, a.State, string(cmd.Action), cmd.Note, nil)
		}
		return fmt.Errorf("alarm %s: %w", cmd.AlarmID, err)
	}
	actor := cmd.Actor.String()
	switch cmd.Action {
	case ActAcknowledge:
		a.AcknowledgedAt, a.AcknowledgedBy, a.Note = now, cmd.Actor.UserID, cmd.Note
		from := a.State
		to := Acknowledged
		if from == Latched {
			to = Resolved // T8
		}
		if to == Acknowledged {
			a.State = Acknowledged // T5; set before the event, whose alarm snapshot consumers publish
		}
		c.event(t, EvAcknowledged, now, actor, from, to, cmd.Reason, cmd.Note, nil)
		for i := range t.Recipients {
			t.Recipients[i].Live = false
		}
		c.info(t, NotifyAccepted, now, cmd.Actor.UserID)
		if to == Resolved {
			c.close(t, Resolved, now, actor, cmd.Reason, cmd.Note)
			return nil
		}
		if iv := t.Policy.ReAlarmAfterAck; iv > 0 {
			t.ReAlarmAt = now.Add(iv)
		}
	case ActDecline, ActEscalate: // T15
		typ := EvDeclined
		if cmd.Action == ActEscalate {
			typ = EvEscalated
		}
		c.event(t, typ, now, actor, a.State, a.State, cmd.Reason, cmd.Note, nil)
		if cmd.Action == ActDecline {
			t.recipient(cmd.Actor.UserID).Live = false
		}
		if a.EscalationLevel+1 < len(t.Policy.Tiers) && !a.AnnouncedAt.IsZero() {
			c.fireTier(ctx, t, a.EscalationLevel+1, now, NotifyAlert)
		}
	case ActAssess: // spec §7: stops the NEWS2 assessment timer
		return c.assess(t, cmd, now)
	case ActCancel: // T14
		a.ReasonCode, a.Note = cmd.Reason, cmd.Note
		c.info(t, NotifyCancelled, now, "")
		c.close(t, Cancelled, now, actor, cmd.Reason, cmd.Note)
	}
	return nil
}

func (c *core) alarmPause(cmd Command, now time.Time) error {
	d := cmd.Duration
	if d == 0 {
		d = DefaultPause
	}
	if cmd.Subject == "" || d < 0 || d > MaxAlarmPause {
		return fmt.Errorf("alarm pause of %q for %v (max %v): %w", cmd.Subject, d, MaxAlarmPause, ErrInvalid)
	}
	if cmd.Actor.UserID == "" || !Permitted(cmd.Actor.Capacity, ActAlarmPause, Physiological) {
		return fmt.Errorf("alarm pause by %s (%s): %w", cmd.Actor, cmd.Actor.Capacity, ErrForbidden)
	}
	if d > PauseReasonAbove && cmd.Reason == "" {
		return fmt.Errorf("alarm pause for %v: %w", d, ErrReasonRequired)
	}
	p := Pause{Tenant: cmd.Actor.Tenant, Subject: cmd.Subject, Until: now.Add(d), By: cmd.Actor.UserID}
	c.pauses[p.Tenant+"/"+p.Subject] = p
	c.touchSubject(p.Tenant, p.Subject)
	c.events = append(c.events, Event{
		ID: hashID("alarm-pause", p.Tenant, p.Subject, p.Until), Type: EvAlarmPaused, At: now,
		Actor: cmd.Actor.String(), Reason: cmd.Reason, Note: p.Tenant + "/" + p.Subject + " until " + p.Until.UTC().Format(time.RFC3339),
	})
	return nil
}

func (c *core) audioPause(cmd Command, now time.Time) error {
	d := cmd.Duration
	if d == 0 {
		d = DefaultAudioPause
	}
	if cmd.Console == "" || d < MinAudioPause || d > MaxAudioPause {
		return fmt.Errorf("audio pause of console %q for %v (allowed %v–%v): %w", cmd.Console, d, MinAudioPause, MaxAudioPause, ErrInvalid)
	}
	if cmd.Actor.UserID == "" || !Permitted(cmd.Actor.Capacity, ActAudioPause, Physiological) {
		return fmt.Errorf("audio pause by %s (%s): %w", cmd.Actor, cmd.Actor.Capacity, ErrForbidden)
	}
	p := ConsolePause{Console: cmd.Console, Tenant: cmd.Actor.Tenant, Until: now.Add(d)}
	c.consoles[p.Console] = p
	c.events = append(c.events, Event{
		ID: hashID("audio-pause", p.Console, p.Until), Type: EvAudioPaused, At: now,
		Actor: cmd.Actor.String(), Note: p.Console,
	})
	return nil
}

// cancelSubject is T14 by the system (discharge, transfer, device unbind): every open alarm
// of the subject is cancelled with reason.
func (c *core) cancelSubject(tenant, subject, reason string, now time.Time) int {
	var ts []*Tracked
	for _, t := range c.open {
		if t.Alarm.Tenant == tenant && t.Alarm.Subject == subject {
			ts = append(ts, t)
		}
	}
	slices.SortFunc(ts, func(x, y *Tracked) int { return compareID(x.Alarm.ID, y.Alarm.ID) })
	for _, t := range ts {
		t.Alarm.ReasonCode = reason
		c.info(t, NotifyCancelled, now, "")
		c.close(t, Cancelled, now, system, reason, "")
	}
	return len(ts)
}

func compareID(a, b ID) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

// Filter selects alarms for List. Tenant is required.
type Filter struct {
	Tenant      string
	Subject     string   // "" = any
	Unit        string   // "" = any
	States      []State  // empty = the clinically visible open states (ACTIVE, LATCHED, ACKNOWLEDGED)
	MinPriority Priority // 0 = any
	Limit       int      // 0 = no limit
}

// list returns copies (without history) of the open alarms matching f, ordered by priority
// (highest first), then age (oldest announcement or violation first), then id.
func (c *core) list(f Filter) []Alarm {
	states := f.States
	if len(states) == 0 {
		states = []State{Active, Latched, Acknowledged}
	}
	// Sort keys computed once per alarm: a comparison on plain values keeps a list of
	// 10,000 alarms to a few milliseconds.
	type key struct {
		prio Priority
		age  int64 // UnixNano of the announcement or first violation
		a    *Alarm
	}
	sel := make([]key, 0, 64)
	for _, t := range c.open {
		a := &t.Alarm
		if a.Tenant != f.Tenant || (f.Subject != "" && a.Subject != f.Subject) || (f.Unit != "" && a.Unit != f.Unit) ||
			a.Priority < f.MinPriority || !slices.Contains(states, a.State) {
			continue
		}
		k := key{prio: a.Priority, age: math.MinInt64, a: a}
		if at := age(a); !at.IsZero() {
			k.age = at.UnixNano()
		}
		sel = append(sel, k)
	}
	slices.SortFunc(sel, func(x, y key) int {
		if x.prio != y.prio {
			return int(y.prio) - int(x.prio)
		}
		if x.age != y.age {
			return cmp.Compare(x.age, y.age)
		}
		return compareID(x.a.ID, y.a.ID)
	})
	if f.Limit > 0 && len(sel) > f.Limit {
		sel = sel[:f.Limit]
	}
	out := make([]Alarm, len(sel))
	for i, k := range sel {
		out[i] = *k.a
		out[i].History = nil
	}
	return out
}

func age(a *Alarm) time.Time {
	if !a.AnnouncedAt.IsZero() {
		return a.AnnouncedAt
	}
	return a.FirstViolation
}

// get returns a copy of the open alarm id of tenant, with its history.
func (c *core) get(tenant string, id ID) (Alarm, bool) {
	t := c.byID[id]
	if t == nil || t.Alarm.Tenant != tenant {
		return Alarm{}, false
	}
	a := t.Alarm
	a.History = slices.Clone(a.History)
	return a, true
}
