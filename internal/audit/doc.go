// Package audit keeps Vigil's hash-chained audit trail (21 CFR Part 11 §11.10(e), EU GMP
// Annex 11 §9; shared/specs/part11.md section 5): it seals entries, appends them through the
// store and verifies the whole chain.
//
// # Hash encoding (format v1)
//
// Every entry is sealed with
//
//	hash = lowercase hex( SHA-256( message ) )
//
// where message is the concatenation of these eleven netstrings, in this order:
//
//	prev, seq, ts, tenant, actor, action, object, field, old, new, reason
//
// A netstring is `<decimal byte length of the UTF-8 value>:<value>,` (D. J. Bernstein), so
// the encoding is unambiguous whatever the values contain: "" is `0:,` and "é" is `2:é,`.
// The fields of a store.AuditRecord map to them as follows:
//
//   - prev: PrevHash; the first entry of the chain (PrevHash "") uses the genesis value of 64 "0"
//     characters (GenesisHash).
//   - seq: Seq in decimal without sign or leading zeros, e.g. `1:7,`.
//   - ts: Time in UTC as RFC 3339 with exactly three fractional digits and "Z",
//     e.g. `24:2025-03-14T09:26:53.589Z,`. Digits beyond the millisecond are cut off, not
//     rounded; Trail.Record truncates Time to the millisecond before storing, so the stored
//     value and the hashed value agree on every backend.
//   - tenant, actor, action, reason, old, new: the fields of the same names.
//   - object: Target.
//   - field: always empty (`0:,`) in this version; store.AuditRecord has no per-field entries yet
//     and records changes as JSON in Old/New. The slot keeps the message identical to the
//     spec's v1 layout, so adding the field later is not a format change.
//
// An auditor can re-check any entry by hand, for example:
//
//	printf '%s' '64:0000…0000,1:1,24:2025-03-14T09:26:53.589Z,4:acme,…' | sha256sum
//
// The chain spans all tenants (store.AppendAudit keeps one sequence), so one verification
// covers everything. Verify reads it in Seq order and reports the first entry whose seq is not
// the previous one plus 1, whose PrevHash is not the previous entry's Hash, whose Hash does not
// match its content, or whose time lies before the previous entry's. A chain alone cannot reveal
// that its newest entries were cut off or that it was rewritten wholesale; signed checkpoints
// (spec 5.4) do that and build on Seal.
//
// # Values
//
// Old and New hold JSON built with JSON from values the caller has already redacted: never put a
// password, token, secret or hash of one into an audit entry (the trail is kept for years and
// shown to inspectors). JSON additionally strips the credential fields of store.User,
// store.Token and store.Device.
//
// Seal and JSON are pure. A Trail is safe for concurrent use; it serialises its own appends so
// that entry times never go backwards within one process.
package audit
