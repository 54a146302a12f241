// Package alarm turns alarm conditions into alarms: the state machine, escalation and
// notification decisions of shared/specs/alarms.md, plus the pure evaluators that produce
// physiological limit conditions (Evaluator) and technical conditions (TechEvaluator).
//
// It does no I/O of its own: recipients are resolved through a Directory the caller supplies,
// and events and notifications leave through Config.Emit (the outbox, HTTP API and channels
// live elsewhere).
//
// # Concurrency
//
// Engine.Run is the only goroutine that touches alarm state; Submit, Do, CancelSubject, List,
// Get and Snapshot hand requests to it and are safe for concurrent use. Evaluator and
// TechEvaluator are plain values owned by one processor partition each (not safe for
// concurrent use). None of the logic reads the clock: evaluators take sample times and a now,
// the engine's core takes the time it acts at, and Run supplies time.Now for timers only, so
// testing/synctest makes every timer exact.
//
// # States and transitions (spec §4)
//
// PENDING (within the condition delay) → ACTIVE (announced, notifying, escalating) →
// ACKNOWLEDGED (escalation stopped, re-alarm timer running) → RESOLVED; ACTIVE → LATCHED when a
// latching condition ends unacknowledged; LATCHED → RESOLVED on acknowledge, → ACTIVE when it
// recurs; PENDING → DISCARDED (cleared before the delay, data gap); any open state → CANCELLED
// (unit admin with a reason, or the system on discharge/unbind). Transitions T1–T15 are
// implemented as in the spec's table; the engine emits one audit Event per transition with a
// gap-free per-alarm Seq, and refused or late commands are audited as ACCESS_DENIED / NO_OP.
//
// # Who (spec §6)
//
// Callers turn a user's role (store.Role) and care-team relation into a Capacity with
// CapacityOf; Permitted and CheckTransition hold the table. Acknowledge: nurses (assigned,
// unit, charge), physicians and RRT for physiological/advisory alarms; nurses, physicians and
// biomed/ops for technical. Decline/escalate: nurses, physicians, RRT. Alarm pause: assigned
// nurse, charge nurse, physician. Record a NEWS2 assessment: physician, RRT. Cancel: unit admin,
// reason mandatory. Other tenants: not found.
//
// # Timers (spec §4.4, §5, §10.2; Vigil decisions)
//
// Escalation tiers fire at announced_at + offset (HIGH 0/60/120 s, MEDIUM 0/180/600 s, LOW
// 0/1800 s); reminders to every live recipient every 30/120/900 s until acknowledged; re-alarm
// 5/15/60 min after an acknowledgement while the condition persists (none for NEWS2). A tier
// resolving to nobody new is skipped at once with a NO_RECIPIENT event. An alarm pause (default
// 120 s, max 10 min, reason above 3 min) holds non-HIGH-physiological alarms un-notified until
// its fixed end; new readings never extend it. An audio pause (60–180 s) is per console and
// ends when a new alarm of the tenant is announced; it never changes state or timers.
// Each open alarm's next due time is kept in a min-heap (due.go), so finding the next timer,
// and the alarms due now, never scans every open alarm.
//
// # Identity and replay
//
// AlarmID = hash(dedup key, onset of the first violation); event id = hash(alarm id, seq);
// notification id = hash(alarm id, tier, attempt, recipient, kind). The same conditions in the
// same order give the same events and ids; closed alarm ids are remembered for 24 h so a
// replayed condition does not reopen a closed alarm. Snapshot/New(Config{Restore}) carry the
// whole state across a restart.
//
// # Spec vs Vigil decisions in this package
//
// From the spec: limits, priorities, delays, hysteresis and latching (§4.3, §9), dedup groups
// (§11), the state table (§4.2), timers (§4.4), technical thresholds (§8). Decided here: the
// "flap window" of the issue is the spec's clear delay — a condition that returns before the
// clear delay is met stays the same alarm, and a latched one that recurs is re-armed (T9),
// while after RESOLVED a new alarm is created (spec §11); manual escalation behaves like a
// decline (T15) and is also allowed from LATCHED; the expected interval of a signal is
// configured (TechEvaluator.Expect) or learned as the smallest gap seen, starting at 1 s from
// the first reading; an alarm pause longer than exactly 3 min needs a reason; CLOCK_SKEW goes
// to the ops on-call policy, other technical alarms follow the ward schedule of their priority.
// The NEWS2 assessment timer (§7) is assess.go: a deadline on the alarm (AssessmentDue) that
// fires NEWS2_ASSESSMENT_OVERDUE once and re-notifies tier 1; ActAssess stops it; a NEWS2 band
// rise counts as T13 even at equal priority (RED_SCORE → MEDIUM).
// Not implemented yet: SatSeconds, reassign, alarm off (§5.3),
// delivery status handling (§10.4), SIGNAL_QUALITY_LOW, IMPLAUSIBLE_VALUE and chattering.
package alarm
