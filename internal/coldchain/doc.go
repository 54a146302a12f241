// Package coldchain holds the pure cold-chain mathematics of Vigil (shared/specs/cold-chain.md):
// mean kinetic temperature (MKT), excursion detection and alarm rules, door and geofence
// monitors, time-to-excursion forecasts, stability budgets and the shipment lifecycle.
//
// It does no I/O, reads no clock and keeps no global state: callers pass readings (device
// time) and "now" in and get values, events and decisions back. Functions are safe for
// concurrent use; the streaming types (Accumulator, Detector, RuleState, DoorMonitor,
// Geofence, Budget) are values owned by one goroutine each (one per sensor, unit or lot).
//
// # Where the rules come from
//
// From standards and guidance:
//   - MKT formula and constants (ΔH 83.144 kJ/mol, R 8.3144 J/(mol·K)): Haynes 1971 via ICH
//     Q1A(R2), USP <1160>, USP <1079.2>; the 24-h (CCT) and 30-day (CRT) evaluation windows and
//     the rule that MKT never excuses a spike: USP <1079.2> and its 2018 Stimuli article.
//   - Storage classes and inclusive limits: USP <659>. Alarm rule shapes (single event /
//     consecutive, cumulative, inclusive "≥ X"): WHO TRS 961 Annex 9 and its supplements and the
//     WHO PQS E006 device profiles.
//   - Stability allowances (cumulative-in-band, single period, elapsed deadline, irreversible
//     events): manufacturers' labelling as cited in the spec (Merck, Pfizer, Moderna, Novo
//     Nordisk, AbbVie).
//   - Forecast model: Newton's law of cooling; shipment states and the release on review: EU GDP
//     (2013/C 343/01) chapter 9.
//
// Vigil's decisions (spec "this spec"): sample-and-hold time weighting; maxGap = 2 × nominal
// interval; gaps are never filled and lower coverage (status OK at ≥ 95 %); both MKT window
// anchorings with the higher reported; hysteresis 0.3 °C and the excursion-delay alarm rule;
// door tolerance that holds notifications but never records or charges; conservative gap
// charging to the more severe neighbour; split copies, merge takes the maximum; quarantine on
// delivery and on budget exhaustion; the log-linear fit with R² ≥ 0.9 and its linear fallback;
// the door-left-open rule and the geofence entry/exit hysteresis (not in the spec at all; see
// DoorMonitor and Geofence).
package coldchain
