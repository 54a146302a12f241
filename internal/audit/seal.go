package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// GenesisHash stands in for PrevHash in the message of the chain's first entry.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// TimeLayout is how an entry's time is written in the hashed message: RFC 3339, UTC, exactly
// three fractional digits.
const TimeLayout = "2006-01-02T15:04:05.000Z"

// FormatTime writes t as it is hashed: UTC, millisecond precision (truncated), "Z".
func FormatTime(t time.Time) string { return t.UTC().Format(TimeLayout) }

// Seal returns the hash of rec (hex SHA-256 of the netstring message described in the
// package doc). It reads Seq, Time, Tenant, Actor, Action, Target, Reason, Old, New and
// PrevHash and ignores Hash. It is a store.AuditSeal.
func Seal(rec store.AuditRecord) string {
	sum := sha256.Sum256([]byte(Message(rec)))
	return hex.EncodeToString(sum[:])
}

var _ store.AuditSeal = Seal

// Message returns the exact bytes Seal hashes, so that an entry can be shown to an auditor
// and re-checked with any SHA-256 tool.
func Message(rec store.AuditRecord) string {
	prev := rec.PrevHash
	if prev == "" {
		prev = GenesisHash
	}
	return netstrings(prev, strconv.FormatInt(rec.Seq, 10), FormatTime(rec.Time), rec.Tenant,
		rec.Actor, rec.Action, rec.Target, "", rec.Old, rec.New, rec.Reason)
}

// netstrings concatenates the netstrings of fields. For the v1 message they are prev, seq, ts,
// tenant, actor, action, object, field, old, new, reason, in that order.
func netstrings(fields ...string) string {
	n := 0
	for _, f := range fields {
		n += len(f) + 22
	}
	b := make([]byte, 0, n)
	for _, f := range fields {
		b = strconv.AppendInt(b, int64(len(f)), 10)
		b = append(b, ':')
		b = append(b, f...)
		b = append(b, ',')
	}
	return string(b)
}
