// Package news2 computes the National Early Warning Score 2 of shared/specs/news2.md from one
// observation set, and assembles observation sets from streams of readings.
//
// It does no I/O and reads no clock: callers pass observations and the evaluation time in and
// get each parameter's quantised value and sub-score, the total, the clinical-risk band, the
// bounds of an incomplete set, when observations are next due and the alarm condition a band
// change raises. Score, Bounds, NextDue, BandChange, Rising and Eligibility are pure and safe
// for concurrent use; an Assembler (and its Windows) belongs to one patient and one goroutine.
//
// # Where each rule comes from
//
// Royal College of Physicians, NEWS2 (2017), not to be changed by Vigil: the seven parameters;
// every band edge of Chart 1 (respiration, SpO2 Scale 1 and Scale 2 with its air/oxygen split,
// air or oxygen, systolic BP, pulse, ACVPU with new confusion scoring 3, temperature); the
// aggregate and the clinical-risk bands of Chart 4 (7+ HIGH, 5–6 MEDIUM, a single 3 LOW_MEDIUM,
// else LOW) and the minimum observation frequencies (12 h, 4–6 h, 1 h, continuous); use of
// Scale 2 only for documented hypercapnic respiratory failure; adults only, not in pregnancy.
//
// Vigil decisions (spec §3, §5.2, §6, §9, alarms.md §7, rpm.md §6.6): rounding half up to the
// chart's resolution before banding (with a float guard so 36.05 °C becomes 36.1); next_due of
// 12 h / 4 h (6 h configurable) / 1 h and 15 min for HIGH without a continuous monitor; the
// overdue margin (10 % of the interval, at least 10 min); staleness windows (MaxAge), the
// 5-minute continuous median, source precedence and spot-check sessions; bounds over every
// completion for incomplete sets instead of imputation; the alarm codes and priorities of a
// band change; the NEWS2_RISING trend rule; plausibility ranges; eligibility when age or
// pregnancy is unknown.
package news2
