// Package clinical is Vigil's patient monitoring: patients, wards, beds and encounters, device
// assignment and attribution, the clinical processor that turns attributed readings and manual
// observations into NEWS2 observation sets and personal baselines, the views the console reads
// (central station, patient page, RPM roster) and the data of the monthly RPM report. The API
// contract is docs/clinical.md.
//
// Attribution (Attributor) answers "whose reading is this?" from device assignments with start
// and end times: a reading belongs to the patient its device was assigned to at its measured
// time. Queries resolve it over the stored readings of each assigned device, so late readings
// and assignments created afterwards are right by construction.
//
// The processor (Service.Run) replays the log from its own checkpoint and commits each batch
// of messages (sets, daily values, flags, the touched patients' saved states and the new
// checkpoint) in one store transaction, after applying the batch's alarm conditions; after a
// crash or a failed commit it restores the patients' saved states and replays from the
// checkpoint (batch.go). It is deterministic:
// NEWS2 sets are evaluated at readings' measured times (never the wall clock) at most once per
// patient and minute, and their ids are hashes of tenant, patient and that minute (or of the
// manual observation), so a replay stores nothing twice. Only overdue reminders and the re-score
// after an SpO2 scale change (news2.md §4.3, evaluated at the time of the change) read the clock.
// Besides band alerts, sets raise the advisories NEWS2_RISING (rpm.md §6.6) and
// NEWS2_CONTINUOUS_MONITORING_REQUIRED (news2.md §5.2).
//
// A Service is safe for concurrent use: the log processing, the overdue ticker and API calls
// that enter observations share the patients' state and the pending batch under one mutex
// (Service.mu). The Attributor
// has its own lock and is never called with Service.mu held by its own methods; lock order:
// Service.mu before Attributor.mu.
package clinical
