package audit

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// memLog is an in-memory audit table: AppendAudit as the store contract says, and Audit that
// returns rows in slice order (like a table read without ORDER BY), so tests can reorder rows.
type memLog struct {
	mu   sync.Mutex
	rows []store.AuditRecord
}

func (m *memLog) AppendAudit(_ context.Context, rec store.AuditRecord, seal store.AuditSeal) (store.AuditRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	rec.Seq, rec.PrevHash = 1, ""
	if n := len(m.rows); n > 0 {
		rec.Seq, rec.PrevHash = m.rows[n-1].Seq+1, m.rows[n-1].Hash
	}
	rec.Hash = seal(rec)
	m.rows = append(m.rows, rec)
	return rec, nil
}

func (m *memLog) Audit(_ context.Context, tenant string, after int64, limit int) ([]store.AuditRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if limit == 0 {
		limit = 1000
	}
	var out []store.AuditRecord
	for _, r := range m.rows {
		if r.Seq > after && (tenant == "" || r.Tenant == tenant) && len(out) < limit {
			out = append(out, r)
		}
	}
	return out, nil
}

func mustTime(t *testing.T, s string) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// Spec part11.md 5.3 test vectors (tenant acme), checked against the netstring message and
// hash the spec gives.
func TestSpecVectors(t *testing.T) {
	entries := []struct {
		seq                                                string
		ts, actor, action, object, field, old, new, reason string
		want                                               string
	}{
		{"1", "2025-03-14T09:26:53.589Z", "u:jdoe", "threshold.update", "zone/FRIDGE-07", "upper_limit_c", "8.0", "7.5",
			"Tighten alert margin per SOP-CC-012", "efd8a0c42a016e67fb352a68213335d9d4f8d5c905b2719603b2995db8b52a1f"},
		{"2", "2025-03-14T10:02:11.004Z", "u:asmith", "excursion.acknowledge", "excursion/EXC-000042", "state", "open", "acknowledged",
			"Door left ajar during stock count", "aa19f13dc9376be9e75de1af0e83008e904680550335336d47b81fae2bdfeafb"},
		{"3", "2025-03-14T16:45:00.250Z", "u:qa.lee", "lot.disposition", "lot/LOT-2025-0117", "status", "quarantined", "released",
			"Excursion within stability budget; see report", "466a5bb257dd9dbddaa2b973f2c0c96ecd80c52785a2217c39a33c0511e08267"},
	}
	const msg1 = "64:0000000000000000000000000000000000000000000000000000000000000000,1:1,24:2025-03-14T09:26:53.589Z,4:acme,6:u:jdoe,16:threshold.update,14:zone/FRIDGE-07,13:upper_limit_c,3:8.0,3:7.5,35:Tighten alert margin per SOP-CC-012,"
	prev := GenesisHash
	for i, e := range entries {
		fields := []string{prev, e.seq, FormatTime(mustTime(t, e.ts)), "acme", e.actor, e.action, e.object, e.field, e.old, e.new, e.reason}
		if i == 0 && netstrings(fields...) != msg1 {
			t.Errorf("message of entry 1 =\n%s\nwant\n%s", netstrings(fields...), msg1)
		}
		if got := hashHex(netstrings(fields...)); got != e.want {
			t.Errorf("hash of entry %s = %s, want %s", e.seq, got, e.want)
		}
		if i == 1 { // tamper case: old "closed" instead of "open"
			fields[8] = "closed"
			if got, want := hashHex(netstrings(fields...)), "c55c5c14a2ebc6df0326fbba6fdce33c89f7e5eec9aadc53fc7a53d41c4dc985"; got != want {
				t.Errorf("tampered entry 2 hashes to %s, want %s", got, want)
			}
		}
		prev = e.want
	}
}

// Seal maps a store.AuditRecord onto the same message with an empty field slot. The expected
// hash was computed outside Go:
//
//	printf '%s' '64:000…000,1:1,24:2025-03-14T09:26:53.589Z,4:acme,6:u:jdoe,16:threshold.update,14:zone/FRIDGE-07,0:,21:{"upper_limit_c":8.0},21:{"upper_limit_c":7.5},35:Tighten alert margin per SOP-CC-012,' | sha256sum
func TestSeal(t *testing.T) {
	rec := store.AuditRecord{
		Seq:    1,
		Time:   mustTime(t, "2025-03-14T10:26:53.589999+01:00"), // same instant to the ms, other zone
		Tenant: "acme", Actor: "u:jdoe", Action: "threshold.update", Target: "zone/FRIDGE-07",
		Old: `{"upper_limit_c":8.0}`, New: `{"upper_limit_c":7.5}`, Reason: "Tighten alert margin per SOP-CC-012",
		Hash: "ignored",
	}
	const wantMsg = "64:" + GenesisHash + `,1:1,24:2025-03-14T09:26:53.589Z,4:acme,6:u:jdoe,16:threshold.update,14:zone/FRIDGE-07,0:,21:{"upper_limit_c":8.0},21:{"upper_limit_c":7.5},35:Tighten alert margin per SOP-CC-012,`
	if got := Message(rec); got != wantMsg {
		t.Errorf("Message =\n%s\nwant\n%s", got, wantMsg)
	}
	const want = "585ad95c346dbd1e599a387a745468f915f7a85363d5199cf070171aef1ff2a0"
	if got := Seal(rec); got != want {
		t.Errorf("Seal = %s, want %s", got, want)
	}
	rec.PrevHash = GenesisHash // explicit genesis hashes like the empty one
	if got := Seal(rec); got != want {
		t.Errorf("Seal with explicit genesis prev = %s, want %s", got, want)
	}
	// Every hashed field changes the hash; moving bytes between fields does too.
	mutations := map[string]func(*store.AuditRecord){
		"seq":    func(r *store.AuditRecord) { r.Seq = 2 },
		"time":   func(r *store.AuditRecord) { r.Time = r.Time.Add(time.Millisecond) },
		"tenant": func(r *store.AuditRecord) { r.Tenant = "acmf" },
		"actor":  func(r *store.AuditRecord) { r.Actor = "u:jdoe2" },
		"action": func(r *store.AuditRecord) { r.Action = "threshold.create" },
		"target": func(r *store.AuditRecord) { r.Target = "zone/FRIDGE-08" },
		"reason": func(r *store.AuditRecord) { r.Reason += "." },
		"old":    func(r *store.AuditRecord) { r.Old = `{"upper_limit_c":8.5}` },
		"new":    func(r *store.AuditRecord) { r.New = "" },
		"prev":   func(r *store.AuditRecord) { r.PrevHash = strings.Repeat("1", 64) },
		"shift":  func(r *store.AuditRecord) { r.Tenant, r.Actor = "acmeu", ":jdoe" },
	}
	for name, mut := range mutations {
		r := rec
		mut(&r)
		if Seal(r) == want {
			t.Errorf("changing %s left the hash unchanged", name)
		}
	}
}

func TestNetstringsCountBytes(t *testing.T) {
	if got, want := netstrings("é", ""), "2:é,0:,"; got != want {
		t.Errorf("netstrings(é, \"\") = %q, want %q", got, want)
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func newTrail(t *testing.T, clk *clock) (*Trail, *memLog) {
	t.Helper()
	st := &memLog{}
	return New(st, clk.now, slog.New(slog.DiscardHandler)), st
}

// record appends n entries, one second apart.
func record(t *testing.T, tr *Trail, clk *clock, n int) {
	t.Helper()
	for i := range n {
		err := tr.Record(t.Context(), store.AuditRecord{
			Tenant: "acme", Actor: "user:u1", Action: "device.update", Target: fmt.Sprintf("device:d%d", i+1),
			Old: JSON(map[string]string{"model": "A"}), New: JSON(map[string]string{"model": "B"}), Reason: "swap",
		})
		if err != nil {
			t.Fatal(err)
		}
		clk.t = clk.t.Add(time.Second)
	}
}

func TestRecord(t *testing.T) {
	clk := &clock{t: mustTime(t, "2025-03-14T10:26:53.589999999+01:00")}
	tr, st := newTrail(t, clk)
	record(t, tr, clk, 2)
	r := st.rows[0]
	if want := mustTime(t, "2025-03-14T09:26:53.589Z"); !r.Time.Equal(want) || r.Time.Location() != time.UTC {
		t.Errorf("Time = %v, want %v in UTC (server clock, truncated to ms)", r.Time, want)
	}
	if r.Seq != 1 || r.PrevHash != "" || r.Hash != Seal(r) {
		t.Errorf("first entry seq %d prev %q hash %s, want 1, \"\", %s", r.Seq, r.PrevHash, r.Hash, Seal(r))
	}
	if st.rows[1].PrevHash != r.Hash {
		t.Errorf("second entry prev = %s, want %s", st.rows[1].PrevHash, r.Hash)
	}

	// A caller cannot choose the time or the chain fields.
	err := tr.Record(t.Context(), store.AuditRecord{Actor: "system", Action: "x", Time: time.Unix(0, 0), Seq: 99, Hash: "h"})
	if err != nil {
		t.Fatal(err)
	}
	if got := st.rows[2]; !got.Time.Equal(clk.t.Truncate(time.Millisecond)) || got.Seq != 3 {
		t.Errorf("entry 3 time %v seq %d, want %v and 3", got.Time, got.Seq, clk.t)
	}

	// The clock steps back: the entry keeps the previous time.
	prevTime := st.rows[2].Time
	clk.t = clk.t.Add(-time.Hour)
	if err := tr.Record(t.Context(), store.AuditRecord{Actor: "system", Action: "y"}); err != nil {
		t.Fatal(err)
	}
	if got := st.rows[3].Time; !got.Equal(prevTime) {
		t.Errorf("after a clock step back, time = %v, want the previous entry's %v", got, prevTime)
	}

	for _, bad := range []store.AuditRecord{{Action: "x"}, {Actor: "system"}} {
		if err := tr.Record(t.Context(), bad); err == nil {
			t.Errorf("Record(%+v) succeeded, want an error for a missing actor or action", bad)
		}
	}
	if len(st.rows) != 4 {
		t.Errorf("%d rows, want 4", len(st.rows))
	}
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name    string
		tamper  func(rows []store.AuditRecord) []store.AuditRecord
		wantSeq int64 // 0: intact
		want    []Problem
		checked int64
	}{
		{"intact", func(r []store.AuditRecord) []store.AuditRecord { return r }, 0, nil, 5},
		{"edited old", func(r []store.AuditRecord) []store.AuditRecord { r[1].Old = `{"model":"Z"}`; return r },
			2, []Problem{HashMismatch}, 5},
		{"edited new", func(r []store.AuditRecord) []store.AuditRecord { r[2].New = `{"model":"Z"}`; return r },
			3, []Problem{HashMismatch}, 5},
		{"edited actor", func(r []store.AuditRecord) []store.AuditRecord { r[3].Actor = "user:u2"; return r },
			4, []Problem{HashMismatch}, 5},
		{"edited and resealed", func(r []store.AuditRecord) []store.AuditRecord {
			r[1].Actor = "user:u2"
			r[1].Hash = Seal(r[1]) // the next entry's prev still names the old hash
			return r
		}, 3, []Problem{PrevMismatch}, 5},
		{"deleted row", func(r []store.AuditRecord) []store.AuditRecord { return slices.Delete(r, 1, 2) },
			3, []Problem{PrevMismatch, SeqGap}, 4},
		{"deleted first row", func(r []store.AuditRecord) []store.AuditRecord { return r[1:] },
			2, []Problem{PrevMismatch, SeqGap}, 4},
		{"reordered rows", func(r []store.AuditRecord) []store.AuditRecord { r[1], r[2] = r[2], r[1]; return r },
			3, []Problem{PrevMismatch, SeqGap}, 5},
		{"swapped seq numbers", func(r []store.AuditRecord) []store.AuditRecord {
			r[1].Seq, r[2].Seq = r[2].Seq, r[1].Seq
			r[1], r[2] = r[2], r[1] // the table now returns them in (new) seq order
			return r
		}, 2, []Problem{HashMismatch, PrevMismatch}, 5},
		{"time moved back", func(r []store.AuditRecord) []store.AuditRecord {
			r[2].Time = r[1].Time.Add(-time.Second)
			r[2].Hash = Seal(r[2])
			r[3].PrevHash = r[2].Hash
			r[3].Hash = Seal(r[3])
			r[4].PrevHash = r[3].Hash
			r[4].Hash = Seal(r[4])
			return r
		}, 3, []Problem{TimeReversed}, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := &clock{t: mustTime(t, "2025-03-14T09:00:00Z")}
			tr, st := newTrail(t, clk)
			record(t, tr, clk, 5)
			st.rows = tt.tamper(st.rows)
			for _, page := range []int{1000, 2} { // one page, and several
				rep, err := verify(t.Context(), st, page)
				if err != nil {
					t.Fatalf("page %d: %v", page, err)
				}
				gotSeq := int64(0)
				var got []Problem
				if rep.First != nil {
					gotSeq, got = rep.First.Seq, rep.First.Problems
				}
				if gotSeq != tt.wantSeq || !slices.Equal(got, tt.want) {
					t.Errorf("page %d: first finding seq %d %v, want seq %d %v (%s)", page, gotSeq, got, tt.wantSeq, tt.want, rep)
				}
				want := tt.checked
				if tt.name == "reordered rows" && page == 2 {
					// Pages [1,3] then seq > 3: [4,5]. Row 2 is never returned, but seq 3
					// after 1 is already reported.
					want--
				}
				if rep.Checked != want {
					t.Errorf("page %d: checked %d, want %d", page, rep.Checked, want)
				}
				if rep.OK != (tt.wantSeq == 0) {
					t.Errorf("page %d: OK = %v (%s)", page, rep.OK, rep)
				}
			}
		})
	}
}

func TestVerifyViaTrail(t *testing.T) {
	clk := &clock{t: mustTime(t, "2025-03-14T09:00:00Z")}
	tr, st := newTrail(t, clk)
	rep, err := tr.Verify(t.Context(), st)
	if err != nil || !rep.OK || rep.Checked != 0 {
		t.Fatalf("empty trail: %v, %v", rep, err)
	}
	record(t, tr, clk, 3)
	rep, err = tr.Verify(t.Context(), st)
	if err != nil || !rep.OK || rep.Checked != 3 || rep.LastSeq != 3 || rep.LastHash != st.rows[2].Hash {
		t.Fatalf("Verify = %v, %v; want PASS over 3 entries with head %s", rep, err, st.rows[2].Hash)
	}
	if !strings.HasPrefix(rep.String(), "PASS: 3 entries") {
		t.Errorf("String() = %q", rep.String())
	}
}

type failingList struct{}

func (failingList) Audit(context.Context, string, int64, int) ([]store.AuditRecord, error) {
	return nil, errors.New("disk on fire")
}

func TestVerifyReadError(t *testing.T) {
	tr := New(&memLog{}, time.Now, slog.New(slog.DiscardHandler))
	if _, err := tr.Verify(t.Context(), failingList{}); err == nil || !strings.Contains(err.Error(), "disk on fire") {
		t.Errorf("Verify on a failing store: err = %v, want the cause wrapped", err)
	}
}

func TestJSON(t *testing.T) {
	locked := mustTime(t, "2025-03-14T10:00:00+01:00")
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"nil", nil, ""},
		{"map sorted, no HTML escaping", map[string]any{"b": 1, "a": "<x>&"}, `{"a":"<x>&","b":1}`},
		{"struct", struct {
			Limit float64 `json:"upper_limit_c"`
		}{7.5}, `{"upper_limit_c":7.5}`},
		{"user without password hash", store.User{ID: "u1", Tenant: "acme", Username: "dana", Role: store.QA,
			PasswordHash: "$argon2id$secret", LockedUntil: locked},
			`{"id":"u1","tenant":"acme","username":"dana","role":"qa","disabled":false,"failed_logins":0,"locked_until":"2025-03-14T09:00:00Z"}`},
		{"user pointer", &store.User{ID: "u1", PasswordHash: "$argon2id$secret"},
			`{"id":"u1","tenant":"","username":"","role":"","disabled":false,"failed_logins":0}`},
		{"token without hash or csrf", store.Token{Hash: "abc", CSRF: "csrf", Kind: store.APIToken, UserID: "u1", Tenant: "acme", Expires: locked},
			`{"kind":"api","user_id":"u1","tenant":"acme","expires":"2025-03-14T09:00:00Z","revoked":false}`},
		{"device without secret hash", &store.Device{ID: "d1", Tenant: "acme", SecretHash: "deadbeef", Revoked: true},
			`{"id":"d1","tenant":"acme","model":"","serial":"","kind":"","subject":"","revoked":true}`},
		{"unencodable", func() {}, `{"error":"audit value of type func() cannot be encoded as JSON"}`},
	}
	for _, tt := range tests {
		if got := JSON(tt.in); got != tt.want {
			t.Errorf("%s: JSON = %s, want %s", tt.name, got, tt.want)
		}
	}
}

func TestRecordConcurrentKeepsChain(t *testing.T) {
	st := &memLog{}
	tr := New(st, time.Now, slog.New(slog.NewTextHandler(io.Discard, nil)))
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 25 {
				if err := tr.Record(t.Context(), store.AuditRecord{Actor: "system", Action: "tick", Target: fmt.Sprint(i, j)}); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	rep, err := tr.Verify(t.Context(), st)
	if err != nil || !rep.OK || rep.Checked != 200 {
		t.Fatalf("after concurrent appends: %v, %v; want PASS over 200", rep, err)
	}
}

func hashHex(msg string) string {
	sum := sha256.Sum256([]byte(msg))
	return hex.EncodeToString(sum[:])
}

// backwardsList returns seq 2 when asked for entries after 2: a broken store must not make
// Verify loop forever.
type backwardsList struct{ rows []store.AuditRecord }

func (b backwardsList) Audit(_ context.Context, _ string, after int64, _ int) ([]store.AuditRecord, error) {
	if after == 0 {
		return b.rows, nil
	}
	return b.rows[1:], nil
}

func TestVerifyStoreGoingBackwards(t *testing.T) {
	clk := &clock{t: mustTime(t, "2025-03-14T09:00:00Z")}
	tr, st := newTrail(t, clk)
	record(t, tr, clk, 2)
	rep, err := tr.Verify(t.Context(), backwardsList{st.rows})
	if !errors.Is(err, errStoreOrder) {
		t.Fatalf("err = %v, want errStoreOrder", err)
	}
	if rep.First == nil || rep.First.Seq != 2 || !slices.Equal(rep.First.Problems, []Problem{PrevMismatch, SeqGap}) {
		t.Errorf("first finding = %+v, want seq 2 (repeated) with prev mismatch and gap", rep.First)
	}
}

func TestReportJSON(t *testing.T) {
	clk := &clock{t: mustTime(t, "2025-03-14T09:00:00Z")}
	tr, st := newTrail(t, clk)
	record(t, tr, clk, 3)
	st.rows[1].Actor = "user:mallory"
	rep, err := Verify(t.Context(), st)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(rep)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf(`{"ok":false,"checked":3,"last_seq":3,"last_hash":%q,"broken":1,"first":{"seq":2,"problems":["hash mismatch (content altered)"],"detail":"stored hash %s…, content hashes to %s…"}}`,
		st.rows[2].Hash, st.rows[1].Hash[:12], Seal(st.rows[1])[:12])
	if string(b) != want {
		t.Errorf("JSON =\n%s\nwant\n%s", b, want)
	}
	if got := rep.String(); !strings.HasPrefix(got, "FAIL at seq 2: stored hash") {
		t.Errorf("String() = %q", got)
	}
}
