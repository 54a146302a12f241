// Package alarmproc runs Vigil's alarm engine against the log and the store: a durable log
// consumer ("alarms") evaluates every reading with the default adult limits (alarm.Evaluator)
// and the technical rules (alarm.TechEvaluator) and applies the conditions to the one
// alarm.Engine; every batch the engine emits (events, notifications, the alarms they changed
// and the engine snapshot) is written to the store in one transaction, and the notifications
// land in the outbox that package notify delivers from.
//
// Replay: a log message is acknowledged only after the engine has applied its conditions and
// the resulting batch is committed. On restart the engine is restored from the saved snapshot
// and the consumer resumes after the last acknowledged message; a message applied but not yet
// acknowledged is applied again, which yields the same alarm, event and notification ids, and
// the store ignores ids it already has. The evaluators' short-term state (pending episodes,
// learned intervals) is not persisted: an episode that straddles a restart keeps its open
// alarm (conditions fold by dedup key) but a pending one restarts its delay.
//
// Subscribers (the SSE live stream) get every changed alarm of their tenant through Subscribe.
// A Service is safe for concurrent use; Run is called once.
package alarmproc
