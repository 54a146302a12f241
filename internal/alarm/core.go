package alarm

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"time"
)

// Member is one condition source folded into an alarm (spec §11).
type Member struct {
	Key      string   `json:"key"`
	Code     Code     `json:"code"`
	Priority Priority `json:"priority"`
	Pending  bool     `json:"pending,omitempty"`
	Present  bool     `json:"present,omitempty"`
}

// Recipient is one person notified about an alarm.
type Recipient struct {
	User     string    `json:"user"`
	Tier     int       `json:"tier"`
	Last     time.Time `json:"last"`           // last alert or reminder
	Live     bool      `json:"live,omitempty"` // receives reminders (current announcement, not acknowledged or declined)
	Attempts int       `json:"attempts"`       // alerts and reminders sent
	Infos    int       `json:"infos"`          // accepted/ended/cancelled messages sent
}

// Tracked is an open alarm with the engine's bookkeeping: member conditions, recipients, the
// selected policy and the re-alarm timer.
type Tracked struct {
	Alarm      Alarm       `json:"alarm"`
	Members    []Member    `json:"members"`
	Recipients []Recipient `json:"recipients,omitempty"`
	Policy     Policy      `json:"policy"`
	ReAlarmAt  time.Time   `json:"realarm_at,omitzero"`
}

// ClosedRef remembers a terminal alarm so a replayed condition does not recreate it and a
// late command is audited as NO_OP.
type ClosedRef struct {
	ID     ID        `json:"id"`
	Tenant string    `json:"tenant"`
	Kind   Kind      `json:"kind"`
	State  State     `json:"state"`
	At     time.Time `json:"at"`
	Seq    int       `json:"seq"`
}

// Pause is an alarm pause of one subject (spec §5.2).
type Pause struct {
	Tenant  string    `json:"tenant"`
	Subject string    `json:"subject"`
	Until   time.Time `json:"until"`
	By      string    `json:"by"`
}

// ConsolePause is an audio pause of one console (spec §5.1).
type ConsolePause struct {
	Console string    `json:"console"`
	Tenant  string    `json:"tenant"`
	Until   time.Time `json:"until"`
}

// Command is a user action. AlarmID names the alarm for acknowledge, decline, escalate and
// cancel; Subject names the patient or device for an alarm pause; Console the console for an
// audio pause.
type Command struct {
	Action   Action
	Actor    Actor
	AlarmID  ID
	Subject  string
	Console  string
	Duration time.Duration // pauses; 0 = the default 120 s
	Reason   string
	Note     string
}

// core is the alarm state and its transition logic. Every method takes the time it acts at;
// none reads the clock. Only the Engine's Run goroutine calls it (tests call it directly).
type core struct {
	policies  Policies
	dir       Directory
	log       *slog.Logger
	retention time.Duration

	open     map[string]*Tracked // by dedup key
	byID     map[ID]*Tracked
	closed   map[ID]ClosedRef
	pauses   map[string]Pause // by tenant/subject
	consoles map[string]ConsolePause

	events []Event
	notes  []Notification

	// timers keeps each open alarm's next due time in a min-heap (due.go), so neither a
	// request nor a timer scans every open alarm.
	timers timers
	// closedMin is the earliest At in closed (zero when closed is empty), so advance sweeps
	// closed only when an entry may have passed its retention.
	closedMin time.Time
}

func newCore(policies Policies, dir Directory, log *slog.Logger) *core {
	if policies == nil {
		policies = DefaultPolicies()
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &core{
		policies: policies, dir: dir, log: log, retention: 24 * time.Hour,
		open: make(map[string]*Tracked), byID: make(map[ID]*Tracked), closed: make(map[ID]ClosedRef),
		pauses: make(map[string]Pause), consoles: make(map[string]ConsolePause),
		timers: newTimers(),
	}
}

// take returns and clears the pending output.
func (c *core) take() ([]Event, []Notification) {
	ev, no := c.events, c.notes
	c.events, c.notes = nil, nil
	return ev, no
}

func (t *Tracked) ref() AlarmRef {
	a := &t.Alarm
	return AlarmRef{ID: a.ID, Tenant: a.Tenant, Unit: a.Unit, Subject: a.Subject, Kind: a.Kind, Code: a.Code}
}

// event appends an audit event of t and its history entry.
func (c *core) event(t *Tracked, typ EventType, at time.Time, actor string, from, to State, reason, note string, recips []string) ID {
	a := &t.Alarm
	a.Seq++
	ev := Event{
		ID: hashID("event", a.ID, a.Seq), AlarmID: a.ID, Seq: a.Seq, Type: typ, At: at, Actor: actor,
		From: from, To: to, Priority: a.Priority, Level: a.EscalationLevel, Reason: reason, Note: note,
		Recipients: recips,
	}
	if typ != EvNotified {
		a.History = append(a.History, Transition{Seq: a.Seq, At: at, From: from, To: to, Type: typ, Actor: actor, Reason: reason, Note: note})
	}
	ev.Alarm = *a
	ev.Alarm.History = nil
	c.events = append(c.events, ev)
	return ev.ID
}

func (c *core) setState(t *Tracked, to State, at time.Time, actor, reason, note string) {
	from := t.Alarm.State
	t.Alarm.State = to
	c.event(t, EvStateChanged, at, actor, from, to, reason, note, nil)
}

func (t *Tracked) member(cond *Condition) *Member {
	key := cond.Key()
	for i := range t.Members {
		if t.Members[i].Key == key {
			return &t.Members[i]
		}
	}
	t.Members = append(t.Members, Member{Key: key, Code: cond.Code, Priority: cond.Priority})
	return &t.Members[len(t.Members)-1]
}

func (t *Tracked) conditionActive() bool {
	for _, m := range t.Members {
		if m.Present || m.Pending {
			return true
		}
	}
	return false
}

const system = "system"

// onCondition applies one condition at its own time c.At.
func (c *core) onCondition(ctx context.Context, cond Condition) {
	at := cond.At
	key := cond.DedupKey()
	t := c.open[key]
	if t != nil {
		c.touch(t)
	} else {
		defer func() {
			if n := c.open[key]; n != nil {
				c.touch(n) // created by this condition
			}
		}()
	}
	switch cond.Status {
	case StatusPending, StatusPresent:
		if t == nil {
			id := AlarmID(key, cond.Onset)
			if _, replay := c.closed[id]; replay {
				return
			}
			info, _ := cond.Code.Info()
			t = &Tracked{Alarm: Alarm{
				ID: id, Tenant: cond.Tenant, Subject: cond.Subject, Device: cond.Device, Unit: cond.Unit,
				Kind: cond.Kind, Code: cond.Code, Group: info.Group, DedupKey: key, Priority: cond.Priority,
				ConditionActive: true, Latching: cond.Latching && cond.Status == StatusPresent,
				FirstViolation: cond.Onset, EscalationLevel: -1,
				OnsetValue: cond.Value, WorstValue: cond.Value, LastValue: cond.Value, Limit: cond.Limit, UCUM: cond.UCUM,
			}}
			if t.Alarm.Kind == "" {
				t.Alarm.Kind = info.Kind
			}
			m := t.member(&cond)
			c.open[key], c.byID[id] = t, t
			if cond.Status == StatusPending {
				m.Pending = true
				t.Alarm.State = Pending
				c.event(t, EvCreated, at, system, "", Pending, "", "", nil)
				return
			}
			m.Present = true
			t.Alarm.State, t.Alarm.OccurrenceCount = Active, 1
			c.startAssessment(&t.Alarm, at) // T2
			c.event(t, EvCreated, at, system, "", Active, "", "", nil)
			c.announce(ctx, t, at, "")
			return
		}
		a := &t.Alarm
		m := t.member(&cond)
		a.ConditionActive = true
		if cond.Status == StatusPending {
			m.Pending = true
			return
		}
		wasPresent := m.Present
		m.Pending, m.Present = false, true
		a.LastValue = cond.Value
		if worse(cond, a.WorstValue) {
			a.WorstValue = cond.Value
		}
		if cond.Latching {
			a.Latching = true
		}
		// A NEWS2 band rise is T13 even when the priority stays (RED_SCORE → MEDIUM, spec §7).
		raised := cond.Priority > a.Priority || (cond.Priority == a.Priority && news2Rank(cond.Code) > news2Rank(a.Code))
		if raised {
			a.Priority, a.Code = cond.Priority, cond.Code
			if a.State != Pending {
				c.startAssessment(a, at) // T13: the new band's deadline
			}
			c.event(t, EvPriorityRaised, at, system, a.State, a.State, "", string(cond.Code), nil)
		}
		switch a.State {
		case Pending: // T3 (or T13 from PENDING)
			a.OccurrenceCount = 1
			c.startAssessment(a, at)
			c.setState(t, Active, at, system, "", "")
			c.announce(ctx, t, at, "")
		case Latched: // T9, and T13 when raised
			a.OccurrenceCount++
			c.setState(t, Active, at, system, "", "")
			if raised {
				c.reprioritise(ctx, t, at)
			}
		case Acknowledged:
			if raised { // T13 from ACKNOWLEDGED
				c.setState(t, Active, at, system, "", "")
				c.announce(ctx, t, at, "")
			} else if !wasPresent { // a member joins: IHE "update", no notification
				c.event(t, EvUpdate, at, system, a.State, a.State, "", string(cond.Code), nil)
			}
		case Active:
			if raised {
				c.reprioritise(ctx, t, at)
			} else if !wasPresent {
				c.event(t, EvUpdate, at, system, a.State, a.State, "", string(cond.Code), nil)
			}
		}
	case StatusCleared, StatusDiscarded:
		if t == nil {
			return
		}
		m := t.member(&cond)
		m.Present, m.Pending = false, false
		if t.conditionActive() {
			return
		}
		a := &t.Alarm
		a.ConditionActive = false
		switch a.State {
		case Pending: // T4
			reason := cond.Reason
			if reason == "" {
				reason = ReasonClearedBeforeDelay
			}
			c.close(t, Discarded, at, system, reason, "")
		case Active:
			if cond.Status == StatusDiscarded {
				return
			}
			if a.Latching { // T7
				c.setState(t, Latched, at, system, "", "")
				return
			}
			c.info(t, NotifyEnded, at, "")
			c.close(t, Resolved, at, system, "", "") // T6
		case Acknowledged: // T10
			if cond.Status == StatusDiscarded {
				return
			}
			c.info(t, NotifyEnded, at, "")
			c.close(t, Resolved, at, system, "", "")
		}
	}
}

func worse(cond Condition, worst float64) bool {
	if cond.Value < cond.Limit {
		return cond.Value < worst
	}
	return cond.Value > worst
}

func (c *core) close(t *Tracked, to State, at time.Time, actor, reason, note string) {
	a := &t.Alarm
	a.ClosedAt, a.AssessmentDue = at, time.Time{}
	for i := range t.Recipients {
		t.Recipients[i].Live = false
	}
	c.setState(t, to, at, actor, reason, note)
	delete(c.open, a.DedupKey)
	delete(c.byID, a.ID)
	c.timers.drop(t)
	c.closed[a.ID] = ClosedRef{ID: a.ID, Tenant: a.Tenant, Kind: a.Kind, State: to, At: at, Seq: a.Seq}
	c.noteClosed(at)
}

// noteClosed keeps closedMin the earliest At of closed after an entry at at was added.
func (c *core) noteClosed(at time.Time) {
	if c.closedMin.IsZero() || at.Before(c.closedMin) {
		c.closedMin = at
	}
}

func (c *core) paused(a *Alarm, now time.Time) (Pause, bool) {
	p, ok := c.pauses[a.Tenant+"/"+a.Subject]
	return p, ok && now.Before(p.Until)
}

// announce (re)starts notification of t at now: tier 0, escalation and reminder timers
// (T2, T3, T11, T13 from ACKNOWLEDGED/PENDING, end of an alarm pause). During an alarm pause
// everything but HIGH physiological alarms is held with inactivation ALARM_PAUSED (spec §5.2).
func (c *core) announce(ctx context.Context, t *Tracked, now time.Time, reason string) {
	a := &t.Alarm
	for i := range t.Recipients {
		t.Recipients[i].Live = false
	}
	t.ReAlarmAt = time.Time{}
	a.EscalationLevel = -1
	if _, ok := c.paused(a, now); ok && !(a.Kind == Physiological && a.Priority == High) {
		a.Inactivation, a.AnnouncedAt = AlarmPaused, time.Time{}
		c.event(t, EvAlarmPaused, now, system, a.State, a.State, "", "held by alarm pause", nil)
		return
	}
	a.Inactivation = InactivationNone
	a.AnnouncedAt = now
	if p, ok := c.policies.Select(a); ok {
		t.Policy = p
		a.PolicyID, a.PolicyVersion = p.ID, p.Version
	}
	if reason != "" {
		c.event(t, EvAnnounced, now, system, a.State, a.State, reason, "", nil)
	}
	c.endAudioPauses(a.Tenant, now)
	c.fireTier(ctx, t, 0, now, NotifyAlert)
}

// fireTier notifies tier i (or, when it resolves to nobody new, the next tiers at once).
func (c *core) fireTier(ctx context.Context, t *Tracked, i int, now time.Time, kind NotificationKind) {
	a := &t.Alarm
	for ; i < len(t.Policy.Tiers); i++ {
		a.EscalationLevel = i
		var fresh []string
		for _, rule := range t.Policy.Tiers[i].Recipients {
			users, err := c.dir.Recipients(ctx, t.ref(), rule)
			if err != nil {
				c.log.Error("resolve alarm recipients", "alarm", a.ID.String(), "tenant", a.Tenant, "rule", string(rule.Kind), "err", err)
				continue
			}
			for _, u := range users {
				if !slices.Contains(fresh, u) && !t.live(u) {
					fresh = append(fresh, u)
				}
			}
		}
		slices.Sort(fresh)
		if i > 0 {
			c.event(t, EvEscalated, now, system, a.State, a.State, "", "", nil)
		}
		if len(fresh) == 0 {
			c.event(t, EvNoRecipient, now, system, a.State, a.State, "", fmt.Sprintf("tier %d", i), nil)
			continue
		}
		evID := c.event(t, EvNotified, now, system, a.State, a.State, "", "", fresh)
		for _, u := range fresh {
			r := t.recipient(u)
			r.Tier, r.Live, r.Last = i, true, now
			r.Attempts++
			c.notify(t, r, kind, evID, now)
		}
		return
	}
}

func (t *Tracked) live(u string) bool {
	for _, r := range t.Recipients {
		if r.User == u && r.Live {
			return true
		}
	}
	return false
}

func (t *Tracked) recipient(u string) *Recipient {
	for i := range t.Recipients {
		if t.Recipients[i].User == u {
			return &t.Recipients[i]
		}
	}
	t.Recipients = append(t.Recipients, Recipient{User: u})
	return &t.Recipients[len(t.Recipients)-1]
}

func (c *core) notify(t *Tracked, r *Recipient, kind NotificationKind, evID ID, now time.Time) {
	a := &t.Alarm
	attempt := r.Attempts
	if kind != NotifyAlert && kind != NotifyRenotify && kind != NotifyAssessmentOverdue {
		attempt = r.Infos
	}
	c.notes = append(c.notes, Notification{
		ID:      hashID("notification", a.ID, r.Tier, attempt, r.User, string(kind)),
		AlarmID: a.ID, EventID: evID, Recipient: r.User, Tier: r.Tier, Attempt: attempt, Kind: kind,
		Priority: a.Priority, Code: a.Code, Tenant: a.Tenant, Subject: a.Subject, At: now,
	})
}

// info tells everyone notified about t (except skip) that it was accepted, ended or cancelled.
func (c *core) info(t *Tracked, kind NotificationKind, now time.Time, skip string) {
	var to []string
	for i := range t.Recipients {
		if t.Recipients[i].User != skip && t.Recipients[i].Attempts > 0 {
			to = append(to, t.Recipients[i].User)
		}
	}
	if len(to) == 0 {
		return
	}
	evID := c.event(t, EvNotified, now, system, t.Alarm.State, t.Alarm.State, string(kind), "", to)
	for i := range t.Recipients {
		r := &t.Recipients[i]
		if r.User != skip && r.Attempts > 0 {
			r.Infos++
			c.notify(t, r, kind, evID, now)
		}
	}
}

// reprioritise is T13 on an ACTIVE or LATCHED alarm: keep announced_at, take the new
// priority's policy, re-notify everyone already notified and fire overdue tiers now.
func (c *core) reprioritise(ctx context.Context, t *Tracked, now time.Time) {
	a := &t.Alarm
	if a.Inactivation == AlarmPaused || a.AnnouncedAt.IsZero() {
		c.announce(ctx, t, now, "")
		return
	}
	if p, ok := c.policies.Select(a); ok {
		t.Policy = p
		a.PolicyID, a.PolicyVersion = p.ID, p.Version
	}
	c.endAudioPauses(a.Tenant, now)
	c.renotify(t, now, true)
	c.alertNewRecipients(ctx, t, now)
	c.fireOverdue(ctx, t, now)
}

// alertNewRecipients is the rest of T13's "recompute the schedule with the new priority's
// offsets; tiers already overdue fire immediately": the new policy's tiers up to the current
// level are due, and whoever they name who was not yet notified (the medical team when a red
// score becomes NEWS2 MEDIUM, say) is alerted now. The level is unchanged.
func (c *core) alertNewRecipients(ctx context.Context, t *Tracked, now time.Time) {
	a := &t.Alarm
	var fresh []string
	tier := map[string]int{}
	for i := 0; i <= a.EscalationLevel && i < len(t.Policy.Tiers); i++ {
		for _, rule := range t.Policy.Tiers[i].Recipients {
			users, err := c.dir.Recipients(ctx, t.ref(), rule)
			if err != nil {
				c.log.Error("resolve alarm recipients", "alarm", a.ID.String(), "tenant", a.Tenant, "rule", string(rule.Kind), "err", err)
				continue
			}
			for _, u := range users {
				if _, seen := tier[u]; !seen && !t.live(u) {
					tier[u] = i
					fresh = append(fresh, u)
				}
			}
		}
	}
	if len(fresh) == 0 {
		return
	}
	slices.Sort(fresh)
	evID := c.event(t, EvNotified, now, system, a.State, a.State, "", "", fresh)
	for _, u := range fresh {
		r := t.recipient(u)
		r.Tier, r.Live, r.Last = tier[u], true, now
		r.Attempts++
		c.notify(t, r, NotifyAlert, evID, now)
	}
}

func (c *core) fireOverdue(ctx context.Context, t *Tracked, now time.Time) {
	a := &t.Alarm
	for a.EscalationLevel+1 < len(t.Policy.Tiers) && !a.AnnouncedAt.Add(t.Policy.Tiers[a.EscalationLevel+1].Offset).After(now) {
		c.fireTier(ctx, t, a.EscalationLevel+1, now, NotifyAlert)
	}
}

// renotify reminds every live recipient whose reminder is due (all of them when force).
func (c *core) renotify(t *Tracked, now time.Time, force bool) {
	iv := t.Policy.Renotify
	var to []string
	for _, r := range t.Recipients {
		if r.Live && (force || (iv > 0 && !r.Last.Add(iv).After(now))) {
			to = append(to, r.User)
		}
	}
	if len(to) == 0 {
		return
	}
	slices.Sort(to)
	evID := c.event(t, EvNotified, now, system, t.Alarm.State, t.Alarm.State, "RENOTIFY", "", to)
	for _, u := range to {
		r := t.recipient(u)
		r.Last = now
		r.Attempts++
		c.notify(t, r, NotifyRenotify, evID, now)
	}
}

// due returns when t next needs the clock, and false when it does not.
func (c *core) due(t *Tracked) (time.Time, bool) {
	a := &t.Alarm
	var d time.Time
	consider := func(x time.Time) {
		if d.IsZero() || x.Before(d) {
			d = x
		}
	}
	switch {
	case a.Inactivation == AlarmPaused:
		p, ok := c.pauses[a.Tenant+"/"+a.Subject]
		if !ok {
			return time.Time{}, true // pause gone: due at once
		}
		consider(p.Until)
	case a.State == Active || a.State == Latched:
		if a.AnnouncedAt.IsZero() {
			break
		}
		if n := a.EscalationLevel + 1; n < len(t.Policy.Tiers) {
			consider(a.AnnouncedAt.Add(t.Policy.Tiers[n].Offset))
		}
		if iv := t.Policy.Renotify; iv > 0 {
			for _, r := range t.Recipients {
				if r.Live {
					consider(r.Last.Add(iv))
				}
			}
		}
	case a.State == Acknowledged:
		if !t.ReAlarmAt.IsZero() && a.ConditionActive {
			consider(t.ReAlarmAt)
		}
	}
	if !a.AssessmentDue.IsZero() {
		consider(a.AssessmentDue)
	}
	return d, !d.IsZero() || a.Inactivation == AlarmPaused
}

// nextDue returns the earliest time any alarm or console pause needs the clock.
func (c *core) nextDue() (time.Time, bool) {
	d, found := c.timers.next(c)
	for _, p := range c.consoles {
		if !found || p.Until.Before(d) {
			d, found = p.Until, true
		}
	}
	return d, found
}

// advance fires every timer due at or before now, earliest first (ties by alarm id), and
// drops expired pauses and closed-alarm references.
func (c *core) advance(ctx context.Context, now time.Time) {
	c.fireDue(ctx, now)
	for k, p := range c.pauses {
		if !now.Before(p.Until) {
			delete(c.pauses, k)
			c.touchSubject(p.Tenant, p.Subject)
		}
	}
	for k, p := range c.consoles {
		if !now.Before(p.Until) {
			delete(c.consoles, k)
		}
	}
	if !c.closedMin.IsZero() && now.Sub(c.closedMin) > c.retention {
		c.closedMin = time.Time{}
		for id, r := range c.closed {
			if now.Sub(r.At) > c.retention {
				delete(c.closed, id)
			} else {
				c.noteClosed(r.At)
			}
		}
	}
}

// fireDue fires the timers of every alarm due at or before now, in passes: each pass takes
// every alarm then due, earliest first (ties by alarm id), and fires them in that order.
func (c *core) fireDue(ctx context.Context, now time.Time) {
	for range 64 { // each pass fires at least one timer; bounded in case of a bug
		due := c.timers.popDue(c, now)
		if len(due) == 0 {
			return
		}
		for _, t := range due {
			c.fire(ctx, t, now)
			c.touch(t)
		}
	}
}

func (c *core) fire(ctx context.Context, t *Tracked, now time.Time) {
	a := &t.Alarm
	if !a.AssessmentDue.IsZero() && !a.AssessmentDue.After(now) {
		c.assessmentOverdue(ctx, t, now)
	}
	switch {
	case a.Inactivation == AlarmPaused:
		if _, ok := c.paused(a, now); !ok {
			c.announce(ctx, t, now, ReasonPauseEnded)
		}
	case a.State == Acknowledged: // T11
		if a.ConditionActive && !t.ReAlarmAt.IsZero() && !t.ReAlarmAt.After(now) {
			c.setState(t, Active, now, system, ReasonReAlarm, "")
			c.announce(ctx, t, now, "")
		}
	case a.State == Active || a.State == Latched: // T12 and reminders
		c.fireOverdue(ctx, t, now)
		c.renotify(t, now, false)
	}
}

func (c *core) endAudioPauses(tenant string, now time.Time) {
	var keys []string
	for k, p := range c.consoles {
		if p.Tenant == tenant {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		p := c.consoles[k]
		{
			delete(c.consoles, k)
			c.events = append(c.events, Event{
				ID: hashID("audio-pause-end", p.Console, p.Until, now), Type: EvAudioPaused, At: now,
				Actor: system, Reason: "ENDED_BY_NEW_ALARM", Note: p.Console,
			})
		}
	}
}
