package alarm

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// Kind is the source class of an alarm condition (spec §3.1).
type Kind string

// Kinds of alarm condition.
const (
	Physiological Kind = "PHYSIOLOGICAL"
	Technical     Kind = "TECHNICAL"
	Advisory      Kind = "ADVISORY"
)

// Priority is an IEC 60601-1-8 alarm priority. Higher values are more urgent, so priorities
// compare with < and >. The zero value is no priority.
type Priority uint8

// Priorities (spec §1.2).
const (
	Low Priority = iota + 1
	Medium
	High
)

var priorityNames = [...]string{"", "LOW", "MEDIUM", "HIGH"}

func (p Priority) String() string {
	if int(p) < len(priorityNames) {
		return priorityNames[p]
	}
	return fmt.Sprintf("priority(%d)", uint8(p))
}

// MarshalText implements encoding.TextMarshaler.
func (p Priority) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (p *Priority) UnmarshalText(b []byte) error {
	for i, n := range priorityNames {
		if i > 0 && n == string(b) {
			*p = Priority(i)
			return nil
		}
	}
	return fmt.Errorf("alarm priority %q: want LOW, MEDIUM or HIGH", b)
}

// State is an alarm's place in the state machine of spec §4.1.
type State string

// Alarm states. "Open" means Pending, Active, Latched or Acknowledged.
const (
	Pending      State = "PENDING"
	Active       State = "ACTIVE"
	Latched      State = "LATCHED"
	Acknowledged State = "ACKNOWLEDGED"
	Resolved     State = "RESOLVED"
	Discarded    State = "DISCARDED"
	Cancelled    State = "CANCELLED"
)

// Open reports whether s is not terminal.
func (s State) Open() bool {
	switch s {
	case Pending, Active, Latched, Acknowledged:
		return true
	}
	return false
}

// Status is what a Condition says about its code at its time.
type Status string

// Condition statuses. A processor reports Pending when a violation starts and the code has a
// condition delay, Present when the condition exists (delay met, or no delay), Cleared when it
// has ended (hysteresis and clear delay met), and Discarded when a Pending violation ended
// before its delay (Reason CLEARED_BEFORE_DELAY or DATA_GAP).
const (
	StatusPending   Status = "PENDING"
	StatusPresent   Status = "PRESENT"
	StatusCleared   Status = "CLEARED"
	StatusDiscarded Status = "DISCARDED"
)

// Reason codes used by the engine and evaluators.
const (
	ReasonClearedBeforeDelay = "CLEARED_BEFORE_DELAY"
	ReasonDataGap            = "DATA_GAP"
	ReasonReAlarm            = "RE_ALARM"
	ReasonPauseEnded         = "ALARM_PAUSE_ENDED"
)

// Condition is what a processor emits about one alarm code of one subject from one source
// metric. The same reading replayed yields the same Condition, and Key and Onset identify the
// episode, so a replay maps onto the same alarm.
type Condition struct {
	Tenant   string
	Subject  string // patient id, or the device id for device-only technical conditions
	Unit     string // care unit of the subject ("" when unknown); selects limits and policies
	Device   string
	Metric   string // source metric key, or a technical signal name ("battery", "clock")
	Code     Code
	Kind     Kind
	Priority Priority
	Latching bool
	Status   Status
	Reason   string    // for StatusDiscarded
	At       time.Time // effective time of this status (the sample time that decided it)
	Onset    time.Time // time of the first violating sample of this episode
	Value    float64   // the deciding value (quantised)
	Limit    float64
	UCUM     string
	Reading  reading.ID // the deciding reading; zero for timer-decided statuses
}

// Key identifies the condition source: tenant, subject, code and metric. Two sources of one
// code (hr and pr_spo2 for HR_HIGH) are two conditions folded into one alarm.
func (c Condition) Key() string {
	return c.Tenant + "/" + c.Subject + "/" + string(c.Code) + "/" + c.Metric
}

// DedupKey is spec §11's dedup_key: tenant / subject / group.
func (c Condition) DedupKey() string {
	return c.Tenant + "/" + c.Subject + "/" + c.Code.Group()
}

// ID is a deterministic identifier (alarm, event, notification): 16 bytes of a SHA-256 over
// length-prefixed parts, printed as 32 hex digits.
type ID [16]byte

func hashID(parts ...any) ID {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		var b []byte
		switch v := p.(type) {
		case string:
			b = []byte(v)
		case ID:
			b = v[:]
		case time.Time:
			binary.BigEndian.PutUint64(n[:], uint64(v.UnixNano()))
			b = append([]byte(nil), n[:]...)
		case int:
			binary.BigEndian.PutUint64(n[:], uint64(v))
			b = append([]byte(nil), n[:]...)
		default:
			panic(fmt.Sprintf("alarm: hashID of %T", p)) // programmer error: all callers are in this package
		}
		binary.BigEndian.PutUint32(n[:4], uint32(len(b)))
		h.Write(n[:4])
		h.Write(b)
	}
	var sum [32]byte
	h.Sum(sum[:0])
	var id ID
	copy(id[:], sum[:16])
	return id
}

// AlarmID returns the id of the alarm of dedupKey whose episode began at onset. A replay of
// the same conditions yields the same id.
func AlarmID(dedupKey string, onset time.Time) ID { return hashID("alarm", dedupKey, onset.UTC()) }

// String returns the ID as 32 lower-case hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is unset.
func (id ID) IsZero() bool { return id == ID{} }

// MarshalText implements encoding.TextMarshaler.
func (id ID) MarshalText() ([]byte, error) { return []byte(id.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (id *ID) UnmarshalText(b []byte) error {
	if len(b) != 32 {
		return fmt.Errorf("alarm id %q: want 32 hex digits", b)
	}
	if _, err := hex.Decode(id[:], b); err != nil {
		return fmt.Errorf("alarm id %q: %w", b, err)
	}
	return nil
}

// Inactivation is an alarm's inactivation state (spec §3.2). Audio pause is per console and
// never appears here.
type Inactivation string

// Inactivation states.
const (
	InactivationNone Inactivation = ""
	AlarmPaused      Inactivation = "ALARM_PAUSED"
)

// Alarm is the record of spec §3.2. Values handed out by the engine are copies.
type Alarm struct {
	ID              ID
	Tenant          string
	Subject         string
	Device          string
	Unit            string
	Kind            Kind
	Code            Code // the highest-priority member code seen
	Group           string
	DedupKey        string
	Priority        Priority
	State           State
	ConditionActive bool
	Latching        bool
	Inactivation    Inactivation
	FirstViolation  time.Time
	AnnouncedAt     time.Time // zero until announced
	AcknowledgedAt  time.Time
	AcknowledgedBy  string
	AssessmentDue   time.Time // NEWS2 assessment deadline (assess.go); zero when none is running
	ClosedAt        time.Time // resolved, discarded or cancelled
	EscalationLevel int       // highest tier notified so far; -1 before any
	OccurrenceCount int
	OnsetValue      float64
	WorstValue      float64
	LastValue       float64
	Limit           float64
	UCUM            string
	ReasonCode      string
	Note            string
	PolicyID        string
	PolicyVersion   int
	Seq             int // number of events so far (the last event's seq)
	History         []Transition
}

// Transition is one entry of an alarm's history: who moved it, when, why.
type Transition struct {
	Seq    int
	At     time.Time
	From   State
	To     State
	Type   EventType
	Actor  string // "system", or "user:<id>"
	Reason string
	Note   string
}

// EventType is the type of an audit event (spec §13).
type EventType string

// Event types the engine emits.
const (
	EvCreated         EventType = "CREATED"
	EvStateChanged    EventType = "STATE_CHANGED"
	EvAcknowledged    EventType = "ACKNOWLEDGED"
	EvEscalated       EventType = "ESCALATED"
	EvNotified        EventType = "NOTIFIED"
	EvDeclined        EventType = "DECLINED"
	EvPriorityRaised  EventType = "PRIORITY_RAISED"
	EvReAlarm         EventType = "RE_ALARM"
	EvUpdate          EventType = "UPDATE" // occurrence folded into an open alarm
	EvAlarmPaused     EventType = "ALARM_PAUSED"
	EvAudioPaused     EventType = "AUDIO_PAUSED"
	EvCancelled       EventType = "CANCELLED"
	EvNoOp            EventType = "NO_OP"
	EvAccessDenied    EventType = "ACCESS_DENIED"
	EvNoRecipient     EventType = "NO_RECIPIENT"
	EvAnnounced       EventType = "ANNOUNCED" // notifications (re)started after an alarm pause
	EvChatteringFlagd EventType = "CHATTERING"
)

// Event is one append-only audit event of an alarm. ID is derived from the alarm id and Seq,
// so a replay produces the same ids.
type Event struct {
	ID         ID
	AlarmID    ID
	Seq        int
	Type       EventType
	At         time.Time
	Actor      string
	From, To   State
	Priority   Priority
	Level      int
	Reason     string
	Note       string
	Recipients []string // for NOTIFIED
	Alarm      Alarm    // the alarm after the event, without History
}

// NotificationKind says what a notification tells its recipient.
type NotificationKind string

// Notification kinds.
const (
	NotifyAlert     NotificationKind = "ALERT"     // first notification of this recipient (or re-alarm)
	NotifyRenotify  NotificationKind = "RENOTIFY"  // reminder while unacknowledged
	NotifyAccepted  NotificationKind = "ACCEPTED"  // "accepted by X"
	NotifyEnded     NotificationKind = "ENDED"     // alarm resolved
	NotifyCancelled NotificationKind = "CANCELLED" // alarm cancelled
)

// Notification is a channel-agnostic message to one recipient. ID = hash(alarm id, tier,
// attempt, recipient, kind): a replay regenerates the same ids and the outbox sends each once.
type Notification struct {
	ID        ID
	AlarmID   ID
	EventID   ID // the NOTIFIED event that caused it (spec §4.2 invariant 7)
	Recipient string
	Tier      int
	Attempt   int // 1-based count of notifications of this kind to this recipient for this alarm
	Kind      NotificationKind
	Priority  Priority
	Code      Code
	Tenant    string
	Subject   string
	At        time.Time
	Text      string
}
