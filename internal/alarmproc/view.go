package alarmproc

import (
	"strconv"
	"strings"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
)

// View is the JSON shape of an alarm in the API, the SSE "alarm" event and webhook bodies.
type View struct {
	ID               string     `json:"id"`
	Tenant           string     `json:"tenant"`
	Subject          string     `json:"subject"`
	Device           string     `json:"device,omitempty"`
	Metric           string     `json:"metric,omitempty"`
	Code             string     `json:"code"`
	Kind             string     `json:"kind"`     // physiological | technical | advisory
	Priority         string     `json:"priority"` // high | medium | low
	State            string     `json:"state"`    // pending | active | acknowledged | latched | resolved | discarded | cancelled
	Message          string     `json:"message"`
	Value            *float64   `json:"value,omitempty"`
	Unit             string     `json:"unit,omitempty"`      // UCUM unit of Value
	CareUnit         string     `json:"care_unit,omitempty"` // the subject's ward or unit
	RaisedAt         time.Time  `json:"raised_at"`
	AcknowledgedAt   *time.Time `json:"acknowledged_at,omitempty"`
	AcknowledgedBy   string     `json:"acknowledged_by,omitempty"`
	SilencedUntil    *time.Time `json:"silenced_until,omitempty"`
	EscalationTier   int        `json:"escalation_tier"`
	NextEscalationAt *time.Time `json:"next_escalation_at,omitempty"`
	AssessmentDueAt  *time.Time `json:"assessment_due_at,omitempty"` // NEWS2 assessment deadline while it runs (alarms.md §7)
	ResolvedAt       *time.Time `json:"resolved_at,omitempty"`
	History          []Step     `json:"history,omitempty"`
}

// Step is one entry of an alarm's history.
type Step struct {
	At     time.Time `json:"at"`
	Action string    `json:"action"` // the event type, lower case: created, acknowledged, escalated, …
	Actor  string    `json:"actor"`
	Reason string    `json:"reason,omitempty"`
	From   string    `json:"from,omitempty"`
	To     string    `json:"to,omitempty"`
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	t = t.UTC()
	return &t
}

// RaisedAt is when an alarm counts as raised: its announcement, or its first violation
// before it is announced (the age the list orders by).
func RaisedAt(a *alarm.Alarm) time.Time {
	if !a.AnnouncedAt.IsZero() {
		return a.AnnouncedAt.UTC()
	}
	return a.FirstViolation.UTC()
}

// ViewOf returns the API view of a. policies (nil: the defaults) give the next escalation
// time; silenced is the end of the subject's alarm pause (zero: none).
func ViewOf(a alarm.Alarm, policies alarm.Policies, silenced time.Time) View {
	v := View{
		ID: a.ID.String(), Tenant: a.Tenant, Subject: a.Subject, Device: a.Device, Code: string(a.Code),
		Kind: lower(string(a.Kind)), Priority: lower(a.Priority.String()),
		State: lower(string(a.State)), Unit: a.UCUM, CareUnit: a.Unit, RaisedAt: RaisedAt(&a),
		AcknowledgedAt: timePtr(a.AcknowledgedAt), AcknowledgedBy: a.AcknowledgedBy,
		EscalationTier: max(a.EscalationLevel, 0), AssessmentDueAt: timePtr(a.AssessmentDue),
	}
	if a.Kind != alarm.Technical || a.LastValue != 0 {
		val := a.LastValue
		v.Value = &val
	}
	v.Message = message(a)
	if a.State == alarm.Resolved || a.State == alarm.Cancelled || a.State == alarm.Discarded {
		v.ResolvedAt = timePtr(a.ClosedAt)
	}
	if a.State.Open() && silenced.After(RaisedAt(&a)) {
		v.SilencedUntil = timePtr(silenced)
	}
	if a.State == alarm.Active && !a.AnnouncedAt.IsZero() {
		if policies == nil {
			policies = alarm.DefaultPolicies()
		}
		if p, ok := policies.Select(&a); ok && a.EscalationLevel+1 < len(p.Tiers) {
			v.NextEscalationAt = timePtr(a.AnnouncedAt.Add(p.Tiers[a.EscalationLevel+1].Offset))
		}
	}
	return v
}

// lower returns s in lower case; the kinds, priorities and states the views show are
// answered without allocating, which matters for a list of thousands of views.
func lower(s string) string {
	switch s {
	case "PHYSIOLOGICAL":
		return "physiological"
	case "TECHNICAL":
		return "technical"
	case "ADVISORY":
		return "advisory"
	case "HIGH":
		return "high"
	case "MEDIUM":
		return "medium"
	case "LOW":
		return "low"
	case "PENDING":
		return "pending"
	case "ACTIVE":
		return "active"
	case "ACKNOWLEDGED":
		return "acknowledged"
	case "LATCHED":
		return "latched"
	case "RESOLVED":
		return "resolved"
	case "DISCARDED":
		return "discarded"
	case "CANCELLED":
		return "cancelled"
	}
	return strings.ToLower(s)
}

// message is "CODE WORDS: value unit (limit x)", or the code's words alone for a technical
// alarm without a value; an advisory (a NEWS2 score, a budget) has no limit to show.
func message(a alarm.Alarm) string {
	code := strings.ReplaceAll(string(a.Code), "_", " ")
	if a.Kind == alarm.Technical && a.LastValue == 0 {
		return code
	}
	b := make([]byte, 0, len(code)+len(a.UCUM)+32)
	b = append(b, code...)
	b = append(b, ": "...)
	b = strconv.AppendFloat(b, a.LastValue, 'f', -1, 64)
	b = append(b, ' ')
	b = append(b, a.UCUM...)
	if a.Kind == alarm.Advisory {
		return strings.TrimSpace(string(b))
	}
	b = append(b, " (limit "...)
	b = strconv.AppendFloat(b, a.Limit, 'f', -1, 64)
	b = append(b, ')')
	return strings.TrimSpace(string(b))
}

// StepOf returns the history entry of a transition.
func StepOf(t alarm.Transition) Step {
	return Step{At: t.At.UTC(), Action: strings.ToLower(string(t.Type)), Actor: t.Actor, Reason: firstNonEmpty(t.Reason, t.Note),
		From: strings.ToLower(string(t.From)), To: strings.ToLower(string(t.To))}
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
