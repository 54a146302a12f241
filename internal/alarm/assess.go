package alarm

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// The NEWS2 assessment timer (spec alarms.md §7 "Assessment timer", news2.md §5.2): when a
// NEWS2_MEDIUM or NEWS2_HIGH alert becomes ACTIVE, a clinical assessment must be recorded
// within 60 or 30 minutes; if the deadline passes without one, NEWS2_ASSESSMENT_OVERDUE is
// logged in the alarm's history and tier 1 is (re)notified. The deadline is the alarm's
// AssessmentDue, so it travels in the snapshot and fires through the engine's timer heap like
// every other timer.
//
// Vigil decisions: the deadline starts when the alert becomes ACTIVE (T2, T3) and again when
// the NEWS2 band rises (T13), at the new band's timeout from the raise — but never later than a
// deadline still running (an earlier promise is not postponed by a worse score). It fires once:
// after NEWS2_ASSESSMENT_OVERDUE no further reminders come from this timer (escalation and
// re-notification continue as the policy says) until the band rises again. Recording an
// assessment (ActAssess) stops it; an assessment does not acknowledge and does not stop
// escalation. The timeout is the selected policy's AssessWithin, or the default of the code
// when the policy sets none; there is no way to turn the timer off.

// Default assessment timeouts (spec §7, news2.md §5.2).
const (
	AssessWithinHigh   = 30 * time.Minute // NEWS2_HIGH
	AssessWithinMedium = 60 * time.Minute // NEWS2_MEDIUM
)

// Audit event types and the NOTIFIED reason of the assessment timer.
const (
	EvAssessmentRecorded EventType = "ASSESSMENT_RECORDED"      // spec §13
	EvAssessmentOverdue  EventType = "NEWS2_ASSESSMENT_OVERDUE" // spec §7: logged, not a new alarm
	// ReasonAssessmentOverdue is the reason of the NOTIFIED event that re-notifies tier 1.
	ReasonAssessmentOverdue = "NEWS2_ASSESSMENT_OVERDUE"
	// NotifyAssessmentOverdue tells a tier 1 recipient that the assessment is overdue.
	NotifyAssessmentOverdue NotificationKind = "ASSESSMENT_OVERDUE"
)

// news2Rank orders the NEWS2 alert codes by band; 0 for every other code.
func news2Rank(c Code) int {
	switch c {
	case NEWS2RedScore:
		return 1
	case NEWS2Medium:
		return 2
	case NEWS2High:
		return 3
	}
	return 0
}

// defaultAssessWithin is the assessment timeout of code c when no policy sets one; 0: none.
func defaultAssessWithin(c Code) time.Duration {
	switch c {
	case NEWS2High:
		return AssessWithinHigh
	case NEWS2Medium:
		return AssessWithinMedium
	}
	return 0
}

// assessWithin is the assessment timeout of a, from its policy or its code's default; 0 when
// a's code has no assessment timer.
func (c *core) assessWithin(a *Alarm) time.Duration {
	if defaultAssessWithin(a.Code) == 0 {
		return 0
	}
	if p, ok := c.policies.Select(a); ok && p.AssessWithin > 0 {
		return p.AssessWithin
	}
	return defaultAssessWithin(a.Code)
}

// startAssessment starts a's assessment deadline at now (the alert became ACTIVE or its band
// rose), keeping a running deadline that is earlier.
func (c *core) startAssessment(a *Alarm, now time.Time) {
	d := c.assessWithin(a)
	if d <= 0 {
		return
	}
	if due := now.Add(d); a.AssessmentDue.IsZero() || due.Before(a.AssessmentDue) {
		a.AssessmentDue = due
	}
}

// assessmentOverdue fires t's assessment deadline at now: a NEWS2_ASSESSMENT_OVERDUE event,
// then every recipient of tier 1 (the last tier if the policy has one only) is notified again.
func (c *core) assessmentOverdue(ctx context.Context, t *Tracked, now time.Time) {
	a := &t.Alarm
	a.AssessmentDue = time.Time{}
	c.event(t, EvAssessmentOverdue, now, system, a.State, a.State, ReasonAssessmentOverdue, "", nil)
	p := t.Policy
	if len(p.Tiers) == 0 { // never announced (held by an alarm pause): the policy it would use
		p, _ = c.policies.Select(a)
	}
	if len(p.Tiers) == 0 {
		return
	}
	tier := min(1, len(p.Tiers)-1)
	var to []string
	for _, rule := range p.Tiers[tier].Recipients {
		users, err := c.dir.Recipients(ctx, t.ref(), rule)
		if err != nil {
			c.log.Error("resolve alarm recipients", "alarm", a.ID.String(), "tenant", a.Tenant, "rule", string(rule.Kind), "err", err)
			continue
		}
		for _, u := range users {
			if !slices.Contains(to, u) {
				to = append(to, u)
			}
		}
	}
	if len(to) == 0 {
		c.event(t, EvNoRecipient, now, system, a.State, a.State, ReasonAssessmentOverdue, fmt.Sprintf("tier %d", tier), nil)
		return
	}
	slices.Sort(to)
	evID := c.event(t, EvNotified, now, system, a.State, a.State, ReasonAssessmentOverdue, "", to)
	for _, u := range to {
		r := t.recipient(u)
		if r.Attempts == 0 {
			r.Tier = tier
		}
		r.Last = now
		r.Attempts++
		c.notify(t, r, NotifyAssessmentOverdue, evID, now)
	}
}

// assess records a clinical assessment on the NEWS2 alert t (ActAssess, already checked for
// tenant, capacity and state): the deadline stops and ASSESSMENT_RECORDED is logged, with
// reason OVERDUE when the deadline had already passed and NO_TIMER when none was running.
func (c *core) assess(t *Tracked, cmd Command, now time.Time) error {
	a := &t.Alarm
	if a.Group != NEWS2Medium.Group() {
		return fmt.Errorf("assessment on a %s alarm (NEWS2 alerts only): %w", a.Code, ErrInvalid)
	}
	reason := "WITHIN_TARGET"
	if a.AssessmentDue.IsZero() {
		reason = "NO_TIMER"
		for _, tr := range slices.Backward(a.History) { // the last timer ended overdue, or not
			if tr.Type == EvAssessmentOverdue {
				reason = "OVERDUE"
				break
			}
			if tr.Type == EvAssessmentRecorded {
				break
			}
		}
	}
	a.AssessmentDue = time.Time{}
	c.event(t, EvAssessmentRecorded, now, cmd.Actor.String(), a.State, a.State, reason, cmd.Note, nil)
	return nil
}
