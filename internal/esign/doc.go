// Package esign implements the pure logic of Vigil's electronic signatures (21 CFR Part 11
// subpart C, EU GMP Annex 11 §14; shared/specs/part11.md sections 2 and 6): the canonical
// content hash of a signable record, the signature record and its binding to that record, its
// verification, its human-readable manifestation, the re-authentication rule for first and
// later signings in a session, and the lockout arithmetic for failed attempts.
//
// It does no I/O, reads no clock and keeps no state: callers pass the server time and the
// stored state in and persist what comes back. Every function and method is safe for
// concurrent use; a Keyring is immutable after NewKeyring.
//
// # Encoding (format v1, spec 6.4)
//
// A netstring is `<decimal byte length of the UTF-8 value>:<value>,` as in package audit.
//
//	record_hash = hex SHA-256( netstrings of the record's fields, in the Schema's order )
//	sig_message = netstrings( record_hash, signer_id, printed_name, meaning, signed_at )
//	sig_sha256  = hex SHA-256( sig_message )
//	sig_mac     = hex HMAC-SHA256( server key, sig_message )
//
// signed_at is UTC, RFC 3339 with exactly three fractional digits and "Z"
// (2025-03-14T16:45:00.250Z); finer digits are cut off, not rounded. For a lot disposition
// (LotDispositionV1) the fields are lot_id, product, decision, report_sha256. The record
// type and id are not in either message (the spec's v1 layout); the id is bound because
// every Schema must list its id field among the hashed fields.
//
// # Which rules are the regulation's and which are Vigil's
//
// 21 CFR Part 11:
//   - §11.50: a signature shows printed name, date and time, and meaning (Manifest).
//   - §11.70: a signature is linked to its record so it cannot be copied to another
//     (record_hash inside the MAC'd sig_message; Keyring.Verify).
//   - §11.100(a): a signature belongs to one person; a system job cannot sign
//     (Request.Validate refuses "sys:" and "d:" actors; spec 6.5).
//   - §11.200(a)(1)(i)/(ii): first signing in one continuous period of controlled access uses
//     all components, later ones at least the private one; outside one period, all of them
//     (SessionPolicy.Require).
//   - §11.200(a)(2): only the genuine owner signs — the typed ID must be the session's user
//     (Requirement.Check).
//   - §11.300(d): failed attempts are detected and reported urgently (LockoutPolicy).
//   - §11.10(e)/(g) apply to callers: audit the signature and check signing rights per meaning.
//
// Vigil's decisions (spec part11.md sections 2, 6, 7 and 8):
//   - the meanings list (Meaning) and that "Acknowledged" is not one;
//   - the netstring encodings and HMAC-SHA256 as the binding MAC;
//   - millisecond precision; manifestation layout with zone abbreviation and UTC offset;
//   - a continuous period ends on logout, 15 min idle, 12 h absolute or a device change; the
//     boundaries count as ended (idle of exactly 15 min breaks continuity);
//   - SSO accounts re-authenticate at the identity provider for every signing, auth_time at
//     most 60 s old;
//   - a missing ID or password is refused but is not a failed attempt; a wrong ID or a wrong
//     password is;
//   - lockout after 5 consecutive failures (login and signing together), admin unlock unless
//     automatic unlock is configured; alert on lockout and on 3 signing failures within 5 min.
package esign
