package audit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// AppendStore appends sealed entries (store.Store satisfies it).
type AppendStore interface {
	AppendAudit(ctx context.Context, rec store.AuditRecord, seal store.AuditSeal) (store.AuditRecord, error)
}

// ListStore reads entries in Seq order (store.Store satisfies it).
type ListStore interface {
	Audit(ctx context.Context, tenant string, after int64, limit int) ([]store.AuditRecord, error)
}

// Trail records audit entries with server time. It is safe for concurrent use.
type Trail struct {
	st  AppendStore
	now func() time.Time
	log *slog.Logger

	// mu serialises Record, so that times taken in this process reach the chain in order,
	// and guards last.
	mu   sync.Mutex
	last time.Time // time of the newest entry this Trail appended
}

// New returns a Trail that appends to st, stamping entries with now (UTC, millisecond
// precision). log receives clock-step warnings.
func New(st AppendStore, now func() time.Time, log *slog.Logger) *Trail {
	return &Trail{st: st, now: now, log: log}
}

// Record appends rec to the chain. The caller fills Tenant, Actor, Action, Target and, as
// needed, Reason, Old and New; Record sets Time from the server clock (never from the
// caller) and the store sets Seq, PrevHash and Hash. Actor and Action are required.
//
// If the clock has stepped back since the previous entry, the entry gets the previous entry's
// time instead, so times in the chain never decrease (spec section 8), and a warning is logged.
func (t *Trail) Record(ctx context.Context, rec store.AuditRecord) error {
	if rec.Actor == "" || rec.Action == "" {
		return fmt.Errorf("audit record %q by %q: actor and action are required", rec.Action, rec.Actor)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now().UTC().Truncate(time.Millisecond)
	if now.Before(t.last) {
		t.log.WarnContext(ctx, "clock stepped backwards; audit time held at the previous entry's",
			"clock", now, "previous", t.last, "action", rec.Action)
		now = t.last
	}
	rec.Time = now
	rec.Seq, rec.PrevHash, rec.Hash = 0, "", ""
	if _, err := t.st.AppendAudit(ctx, rec, Seal); err != nil {
		return fmt.Errorf("append audit record %s on %s: %w", rec.Action, rec.Target, err)
	}
	t.last = now
	return nil
}

// Problem is one way an entry breaks the chain.
type Problem int

// Problems Verify reports.
const (
	// HashMismatch: the stored hash is not the hash of the entry's content (content altered).
	HashMismatch Problem = iota + 1
	// PrevMismatch: PrevHash is not the previous entry's hash (entry removed, inserted or moved).
	PrevMismatch
	// SeqGap: Seq is not the previous entry's Seq plus 1 (or 1 for the first entry).
	SeqGap
	// TimeReversed: Time lies before the previous entry's time.
	TimeReversed
)

func (p Problem) String() string {
	switch p {
	case HashMismatch:
		return "hash mismatch (content altered)"
	case PrevMismatch:
		return "prev-hash mismatch"
	case SeqGap:
		return "gap in seq"
	case TimeReversed:
		return "time before previous entry"
	}
	return fmt.Sprintf("Problem(%d)", int(p))
}

// MarshalText writes the problem's description (for JSON reports).
func (p Problem) MarshalText() ([]byte, error) { return []byte(p.String()), nil }

// Finding describes the first entry that breaks the chain.
type Finding struct {
	Seq      int64     `json:"seq"`      // the entry's stored Seq
	Problems []Problem `json:"problems"` // every check it fails, in the order of the constants
	Detail   string    `json:"detail"`   // human-readable, e.g. "seq 3 follows seq 1, want 2"
}

// Report is the outcome of a verification. It encodes as JSON for the API.
type Report struct {
	OK       bool     `json:"ok"`              // the chain is intact
	Checked  int64    `json:"checked"`         // entries read
	LastSeq  int64    `json:"last_seq"`        // Seq of the last entry read (0 for an empty trail)
	LastHash string   `json:"last_hash"`       // its stored hash: the head a checkpoint or review can pin
	Broken   int64    `json:"broken"`          // entries with at least one problem
	First    *Finding `json:"first,omitempty"` // the first broken entry; nil when the chain is intact
}

func (r Report) String() string {
	if r.OK {
		return fmt.Sprintf("PASS: %d entries, head seq %d hash %s", r.Checked, r.LastSeq, r.LastHash)
	}
	return fmt.Sprintf("FAIL at seq %d: %s (%d of %d entries broken)", r.First.Seq, r.First.Detail, r.Broken, r.Checked)
}

// verifyPage is how many entries Verify asks for at a time.
const verifyPage = 1000

// Verify reads every entry of st in Seq order, across all tenants, and checks the chain (see
// the package doc). A broken chain is reported in the Report, not as an error; the error is
// for failing to read. It checks every entry so that Checked and Broken cover the whole trail,
// and keeps the first finding.
func Verify(ctx context.Context, st ListStore) (Report, error) {
	return verify(ctx, st, verifyPage)
}

// Verify is the package-level Verify; the Trail itself is not used, so any store (a restored
// backup, an export) can be verified.
func (t *Trail) Verify(ctx context.Context, st ListStore) (Report, error) {
	return Verify(ctx, st)
}

func verify(ctx context.Context, st ListStore, page int) (Report, error) {
	var (
		rep      Report
		prev     store.AuditRecord
		havePrev bool
		after    int64
	)
	for {
		if err := ctx.Err(); err != nil {
			return rep, fmt.Errorf("verify audit chain after seq %d: %w", after, err)
		}
		recs, err := st.Audit(ctx, "", after, page)
		if err != nil {
			return rep, fmt.Errorf("verify audit chain: read entries after seq %d: %w", after, err)
		}
		if len(recs) == 0 {
			rep.OK = rep.First == nil
			return rep, nil
		}
		for _, rec := range recs {
			rep.Checked++
			if f := check(prev, havePrev, rec); f != nil {
				rep.Broken++
				if rep.First == nil {
					rep.First = f
				}
			}
			prev, havePrev = rec, true
			rep.LastSeq, rep.LastHash = rec.Seq, rec.Hash
		}
		last := recs[len(recs)-1].Seq
		if last <= after {
			// The store went backwards; asking again would loop forever. The entry is already
			// reported as a gap.
			return rep, fmt.Errorf("verify audit chain: store returned seq %d after asking for seq > %d: %w",
				last, after, errStoreOrder)
		}
		after = last
	}
}

var errStoreOrder = errors.New("entries not in seq order")

// check compares rec with the entry read before it (none when !havePrev).
func check(prev store.AuditRecord, havePrev bool, rec store.AuditRecord) *Finding {
	var (
		probs  []Problem
		detail []string
	)
	if got := Seal(rec); got != rec.Hash {
		probs = append(probs, HashMismatch)
		detail = append(detail, fmt.Sprintf("stored hash %s, content hashes to %s", short(rec.Hash), short(got)))
	}
	wantSeq, wantPrev, prevName := int64(1), "", "genesis"
	if havePrev {
		wantSeq, wantPrev, prevName = prev.Seq+1, prev.Hash, fmt.Sprintf("seq %d", prev.Seq)
	}
	if rec.PrevHash != wantPrev && !(wantPrev == "" && rec.PrevHash == GenesisHash) {
		probs = append(probs, PrevMismatch)
		detail = append(detail, fmt.Sprintf("prev %s is not the hash of %s (%s)", short(rec.PrevHash), prevName, short(wantPrev)))
	}
	if rec.Seq != wantSeq {
		probs = append(probs, SeqGap)
		detail = append(detail, fmt.Sprintf("seq %d follows %s, want %d", rec.Seq, prevName, wantSeq))
	}
	if havePrev && rec.Time.Before(prev.Time) {
		probs = append(probs, TimeReversed)
		detail = append(detail, fmt.Sprintf("time %s is before %s of %s", FormatTime(rec.Time), FormatTime(prev.Time), prevName))
	}
	if probs == nil {
		return nil
	}
	return &Finding{Seq: rec.Seq, Problems: probs, Detail: strings.Join(detail, "; ")}
}

// short abbreviates a hash for messages.
func short(h string) string {
	switch {
	case h == "":
		return `""`
	case len(h) > 12:
		return h[:12] + "…"
	}
	return h
}
