package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// RunAlarms runs the store.AlarmStore conformance suite against the backend that open
// creates; the store open returns must implement store.AlarmStore.
func RunAlarms(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.AlarmStore)
	}{
		{"BatchIdempotent", testAlarmBatchIdempotent},
		{"AlarmSeqOrder", testAlarmSeqOrder},
		{"Snapshot", testAlarmSnapshot},
		{"ListFiltersOrder", testAlarmList},
		{"Events", testAlarmEvents},
		{"Outbox", testOutbox},
		{"TenantIsolation", testAlarmTenantIsolation},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			if err := s.Migrate(t.Context()); err != nil {
				t.Fatalf("Migrate: %v", err)
			}
			as, ok := s.(store.AlarmStore)
			if !ok {
				t.Fatalf("%T does not implement store.AlarmStore", s)
			}
			tt.fn(t, as)
		})
	}
}

// alarmRec builds an alarm record raised at t0+at; its JSON names its id and seq, so a
// round trip shows which version was kept.
func alarmRec(tenant, id, subject string, prio int, at time.Duration, open bool, seq int) store.AlarmRecord {
	state := "ACTIVE"
	if !open {
		state = "RESOLVED"
	}
	return store.AlarmRecord{
		ID: id, Tenant: tenant, Subject: subject, State: state, Open: open, Priority: prio,
		RaisedAt: t0.Add(at), Seq: seq, JSON: fmt.Appendf(nil, `{"id":%q,"seq":%d}`, id, seq),
	}
}

func eventRec(tenant, alarmID string, seq int, at time.Duration) store.AlarmEventRecord {
	id := fmt.Sprintf("%s-e%d", alarmID, seq)
	return store.AlarmEventRecord{ID: id, AlarmID: alarmID, Tenant: tenant, Seq: seq, At: t0.Add(at),
		JSON: fmt.Appendf(nil, `{"event":%q}`, id)}
}

func outboxRec(tenant, id, alarmID string, created, next time.Duration) store.OutboxItem {
	return store.OutboxItem{ID: id, Tenant: tenant, AlarmID: alarmID, Status: store.OutboxPending,
		NextAttempt: t0.Add(next), Created: t0.Add(created), Payload: fmt.Appendf(nil, `{"n":%q}`, id)}
}

func saveBatch(t *testing.T, s store.AlarmStore, b store.AlarmBatch) {
	t.Helper()
	mustNoErr(t, "SaveAlarmBatch", s.SaveAlarmBatch(t.Context(), b))
}

func alarmIDs(as []store.AlarmRecord) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.ID
	}
	return out
}

func outboxIDs(items []store.OutboxItem) []string {
	out := make([]string, len(items))
	for i, o := range items {
		out[i] = o.ID
	}
	return out
}

func eventIDs(es []store.AlarmEventRecord) []string {
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.ID
	}
	return out
}

func alarmEqual(a, b store.AlarmRecord) bool {
	return a.ID == b.ID && a.Tenant == b.Tenant && a.Subject == b.Subject && a.State == b.State && a.Open == b.Open &&
		a.Priority == b.Priority && a.RaisedAt.Equal(b.RaisedAt) && a.Seq == b.Seq && string(a.JSON) == string(b.JSON)
}

func outboxEqual(a, b store.OutboxItem) bool {
	return a.ID == b.ID && a.Tenant == b.Tenant && a.AlarmID == b.AlarmID && a.Status == b.Status &&
		a.Attempts == b.Attempts && a.NextAttempt.Equal(b.NextAttempt) && a.Created.Equal(b.Created) &&
		a.LastError == b.LastError && string(a.Payload) == string(b.Payload)
}

// testAlarmBatchIdempotent saves one batch twice, as a replay after a restart does: nothing
// is stored twice, and the replay does not undo a delivery recorded in between.
func testAlarmBatchIdempotent(t *testing.T, s store.AlarmStore) {
	ctx := t.Context()
	b := store.AlarmBatch{
		Alarms: []store.AlarmRecord{alarmRec("acme", "a1", "p1", 3, 0, true, 2), alarmRec("acme", "a2", "p2", 2, time.Second, true, 1)},
		Events: []store.AlarmEventRecord{eventRec("acme", "a1", 1, 0), eventRec("acme", "a1", 2, 0), eventRec("acme", "a2", 1, time.Second)},
		Outbox: []store.OutboxItem{outboxRec("acme", "n1", "a1", 0, 0), outboxRec("acme", "n2", "a2", time.Second, time.Second)},
	}
	saveBatch(t, s, b)
	sent := b.Outbox[0]
	sent.Status, sent.Attempts = store.OutboxSent, 1
	mustNoErr(t, "UpdateOutbox n1 sent", s.UpdateOutbox(ctx, sent))
	saveBatch(t, s, b) // the replay

	as, err := s.Alarms(ctx, store.AlarmQuery{Tenant: "acme"})
	mustNoErr(t, "Alarms", err)
	if got, want := alarmIDs(as), []string{"a1", "a2"}; !slices.Equal(got, want) {
		t.Errorf("alarms after replay = %v, want %v", got, want)
	}
	evs, err := s.AlarmEvents(ctx, "acme", "a1")
	mustNoErr(t, "AlarmEvents a1", err)
	if got, want := eventIDs(evs), []string{"a1-e1", "a1-e2"}; !slices.Equal(got, want) {
		t.Errorf("events of a1 after replay = %v, want %v", got, want)
	}
	due, err := s.DueOutbox(ctx, t0.Add(time.Hour), 100)
	mustNoErr(t, "DueOutbox", err)
	if got, want := outboxIDs(due), []string{"n2"}; !slices.Equal(got, want) {
		t.Errorf("due outbox after replay = %v, want %v (n1 was sent before the replay)", got, want)
	}
	n, _, err := s.OutboxPending(ctx)
	mustNoErr(t, "OutboxPending", err)
	if n != 1 {
		t.Errorf("OutboxPending after replay = %d, want 1", n)
	}
	mustNoErr(t, "SaveAlarmBatch empty", s.SaveAlarmBatch(ctx, store.AlarmBatch{}))
}

// testAlarmSeqOrder checks that an alarm record replaces the stored one only when its seq is
// not lower, and that it round-trips every field.
func testAlarmSeqOrder(t *testing.T, s store.AlarmStore) {
	ctx := t.Context()
	v3 := alarmRec("acme", "a1", "p1", 2, 0, true, 3)
	saveBatch(t, s, store.AlarmBatch{Alarms: []store.AlarmRecord{v3}})
	got, err := s.Alarm(ctx, "acme", "a1")
	mustNoErr(t, "Alarm a1", err)
	if !alarmEqual(got, v3) {
		t.Fatalf("Alarm a1 = %+v, want %+v", got, v3)
	}
	older := alarmRec("acme", "a1", "p1", 1, 0, false, 2)
	saveBatch(t, s, store.AlarmBatch{Alarms: []store.AlarmRecord{older}})
	got, err = s.Alarm(ctx, "acme", "a1")
	mustNoErr(t, "Alarm a1 after an older record", err)
	if !alarmEqual(got, v3) {
		t.Errorf("an older record (seq 2) overwrote seq 3: got %+v", got)
	}
	newer := alarmRec("acme", "a1", "p1", 3, 5*time.Second, false, 4)
	saveBatch(t, s, store.AlarmBatch{Alarms: []store.AlarmRecord{newer}})
	got, err = s.Alarm(ctx, "acme", "a1")
	mustNoErr(t, "Alarm a1 after a newer record", err)
	if !alarmEqual(got, newer) {
		t.Errorf("Alarm a1 after seq 4 = %+v, want %+v", got, newer)
	}
}

func testAlarmSnapshot(t *testing.T, s store.AlarmStore) {
	ctx := t.Context()
	snap, err := s.AlarmSnapshot(ctx)
	mustNoErr(t, "AlarmSnapshot empty", err)
	if snap != nil {
		t.Fatalf("AlarmSnapshot of a new store = %q, want nil", snap)
	}
	steps := []struct {
		save []byte // nil: keep the saved snapshot
		want string
	}{
		{[]byte(`{"v":1,"alarms":["a1"]}`), `{"v":1,"alarms":["a1"]}`},
		{nil, `{"v":1,"alarms":["a1"]}`},
		{[]byte(`{"v":2}`), `{"v":2}`},
	}
	for i, st := range steps {
		saveBatch(t, s, store.AlarmBatch{Snapshot: st.save, Alarms: []store.AlarmRecord{alarmRec("acme", "a1", "p1", 1, 0, true, i+1)}})
		snap, err := s.AlarmSnapshot(ctx)
		mustNoErr(t, "AlarmSnapshot", err)
		if string(snap) != st.want {
			t.Errorf("step %d: AlarmSnapshot = %q, want %q", i, snap, st.want)
		}
	}
}

// testAlarmList lists by priority (high first), then oldest first, then id, with each filter.
func testAlarmList(t *testing.T, s store.AlarmStore) {
	ctx := t.Context()
	saveBatch(t, s, store.AlarmBatch{Alarms: []store.AlarmRecord{
		alarmRec("acme", "low-old", "p1", 1, 0, true, 1),
		alarmRec("acme", "high-new", "p2", 3, 30*time.Second, true, 1),
		alarmRec("acme", "high-old", "p1", 3, 10*time.Second, true, 1),
		alarmRec("acme", "med", "p2", 2, 5*time.Second, true, 1),
		alarmRec("acme", "high-done", "p1", 3, 0, false, 1),
		alarmRec("acme", "b-tie", "p1", 2, 20*time.Second, true, 1),
		alarmRec("acme", "a-tie", "p2", 2, 20*time.Second, true, 1),
	}})
	tests := []struct {
		name string
		q    store.AlarmQuery
		want []string
	}{
		{"all", store.AlarmQuery{Tenant: "acme"},
			[]string{"high-done", "high-old", "high-new", "med", "a-tie", "b-tie", "low-old"}},
		{"open", store.AlarmQuery{Tenant: "acme", OpenOnly: true},
			[]string{"high-old", "high-new", "med", "a-tie", "b-tie", "low-old"}},
		{"min priority 2", store.AlarmQuery{Tenant: "acme", MinPriority: 2, OpenOnly: true},
			[]string{"high-old", "high-new", "med", "a-tie", "b-tie"}},
		{"min priority 3", store.AlarmQuery{Tenant: "acme", MinPriority: 3}, []string{"high-done", "high-old", "high-new"}},
		{"subject", store.AlarmQuery{Tenant: "acme", Subject: "p1"}, []string{"high-done", "high-old", "b-tie", "low-old"}},
		{"subject open", store.AlarmQuery{Tenant: "acme", Subject: "p2", OpenOnly: true}, []string{"high-new", "med", "a-tie"}},
		{"limit", store.AlarmQuery{Tenant: "acme", OpenOnly: true, Limit: 2}, []string{"high-old", "high-new"}},
		{"no such subject", store.AlarmQuery{Tenant: "acme", Subject: "p9"}, []string{}},
	}
	for _, tt := range tests {
		got, err := s.Alarms(ctx, tt.q)
		mustNoErr(t, "Alarms "+tt.name, err)
		if ids := alarmIDs(got); !slices.Equal(ids, tt.want) {
			t.Errorf("Alarms %s = %v, want %v", tt.name, ids, tt.want)
		}
	}
	if _, err := s.Alarms(ctx, store.AlarmQuery{}); err == nil {
		t.Error("Alarms without a tenant: no error, want one")
	}
	_, err := s.Alarm(ctx, "acme", "nope")
	wantErr(t, "Alarm nope", err, store.ErrNotFound)
}

func testAlarmEvents(t *testing.T, s store.AlarmStore) {
	ctx := t.Context()
	want := []store.AlarmEventRecord{eventRec("acme", "a1", 1, 0), eventRec("acme", "a1", 2, time.Second),
		eventRec("acme", "a1", 3, 2*time.Second)}
	// Saved out of order, over two batches, with another alarm's event between.
	saveBatch(t, s, store.AlarmBatch{Events: []store.AlarmEventRecord{want[2], eventRec("acme", "a2", 1, 0)}})
	saveBatch(t, s, store.AlarmBatch{Events: []store.AlarmEventRecord{want[1], want[0]}})
	got, err := s.AlarmEvents(ctx, "acme", "a1")
	mustNoErr(t, "AlarmEvents a1", err)
	if len(got) != len(want) {
		t.Fatalf("AlarmEvents a1 = %v, want %v", eventIDs(got), eventIDs(want))
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.ID != w.ID || g.AlarmID != w.AlarmID || g.Tenant != w.Tenant || g.Seq != w.Seq || !g.At.Equal(w.At) ||
			string(g.JSON) != string(w.JSON) {
			t.Errorf("event %d = %+v, want %+v", i, g, w)
		}
	}
	none, err := s.AlarmEvents(ctx, "acme", "nope")
	mustNoErr(t, "AlarmEvents nope", err)
	if len(none) != 0 {
		t.Errorf("AlarmEvents of an unknown alarm = %v, want none", eventIDs(none))
	}
}

// testOutbox walks items through due, retry, sent and dead.
func testOutbox(t *testing.T, s store.AlarmStore) {
	ctx := t.Context()
	n, oldest, err := s.OutboxPending(ctx)
	mustNoErr(t, "OutboxPending empty", err)
	if n != 0 || !oldest.IsZero() {
		t.Fatalf("OutboxPending of a new store = %d, %v; want 0, zero time", n, oldest)
	}
	// n1 created 0 s due 10 s; n2 created 1 s due 5 s; n3 created 2 s due 5 s; n4 created 3 s due 60 s.
	items := []store.OutboxItem{
		outboxRec("acme", "n1", "a1", 0, 10*time.Second),
		outboxRec("acme", "n3", "a1", 2*time.Second, 5*time.Second),
		outboxRec("other", "n2", "a2", time.Second, 5*time.Second),
		outboxRec("acme", "n4", "a1", 3*time.Second, time.Minute),
	}
	saveBatch(t, s, store.AlarmBatch{Outbox: items})

	due := func(at time.Duration, limit int) []store.OutboxItem {
		t.Helper()
		got, err := s.DueOutbox(ctx, t0.Add(at), limit)
		mustNoErr(t, "DueOutbox", err)
		return got
	}
	for _, tt := range []struct {
		at    time.Duration
		limit int
		want  []string
	}{
		{4 * time.Second, 10, []string{}},
		{5 * time.Second, 10, []string{"n2", "n3"}}, // same next attempt: older created first
		{10 * time.Second, 10, []string{"n2", "n3", "n1"}},
		{10 * time.Second, 2, []string{"n2", "n3"}},
		{time.Hour, 10, []string{"n2", "n3", "n1", "n4"}},
	} {
		if got := outboxIDs(due(tt.at, tt.limit)); !slices.Equal(got, tt.want) {
			t.Errorf("DueOutbox(t0+%v, %d) = %v, want %v", tt.at, tt.limit, got, tt.want)
		}
	}
	got := due(5*time.Second, 1)
	if len(got) != 1 || !outboxEqual(got[0], items[2]) {
		t.Errorf("DueOutbox round trip = %+v, want %+v", got, items[2])
	}

	// n2 fails once: pending again, due at 30 s.
	retry := items[2]
	retry.Attempts, retry.NextAttempt, retry.LastError = 1, t0.Add(30*time.Second), "HTTP 500"
	mustNoErr(t, "UpdateOutbox n2 retry", s.UpdateOutbox(ctx, retry))
	if got := outboxIDs(due(10*time.Second, 10)); !slices.Equal(got, []string{"n3", "n1"}) {
		t.Errorf("DueOutbox at 10 s after n2's retry = %v, want [n3 n1]", got)
	}
	if got := due(30*time.Second, 10); len(got) != 3 || !outboxEqual(got[2], retry) {
		t.Errorf("DueOutbox at 30 s = %+v, want n3, n1, then %+v", got, retry)
	}
	// n3 is sent, n1 dead.
	sent := items[1]
	sent.Status, sent.Attempts = store.OutboxSent, 1
	mustNoErr(t, "UpdateOutbox n3 sent", s.UpdateOutbox(ctx, sent))
	dead := items[0]
	dead.Status, dead.Attempts, dead.LastError = store.OutboxDead, 8, "HTTP 500"
	mustNoErr(t, "UpdateOutbox n1 dead", s.UpdateOutbox(ctx, dead))
	if got := outboxIDs(due(time.Hour, 10)); !slices.Equal(got, []string{"n2", "n4"}) {
		t.Errorf("DueOutbox after sent and dead = %v, want [n2 n4]", got)
	}
	n, oldest, err = s.OutboxPending(ctx)
	mustNoErr(t, "OutboxPending", err)
	if n != 2 || !oldest.Equal(t0.Add(time.Second)) {
		t.Errorf("OutboxPending = %d, %v; want 2, %v (n2's creation)", n, oldest, t0.Add(time.Second))
	}

	missing := outboxRec("acme", "nope", "a1", 0, 0)
	wantErr(t, "UpdateOutbox nope", s.UpdateOutbox(ctx, missing), store.ErrNotFound)
}

func testAlarmTenantIsolation(t *testing.T, s store.AlarmStore) {
	ctx := t.Context()
	saveBatch(t, s, store.AlarmBatch{
		Alarms: []store.AlarmRecord{alarmRec("acme", "a1", "p1", 3, 0, true, 1), alarmRec("beta", "b1", "p1", 1, 0, true, 1)},
		Events: []store.AlarmEventRecord{eventRec("acme", "a1", 1, 0), eventRec("beta", "b1", 1, 0)},
	})
	for _, tt := range []struct{ tenant, own, other string }{{"acme", "a1", "b1"}, {"beta", "b1", "a1"}} {
		as, err := s.Alarms(ctx, store.AlarmQuery{Tenant: tt.tenant})
		mustNoErr(t, "Alarms "+tt.tenant, err)
		if got := alarmIDs(as); !slices.Equal(got, []string{tt.own}) {
			t.Errorf("Alarms of %s = %v, want [%s]", tt.tenant, got, tt.own)
		}
		_, err = s.Alarm(ctx, tt.tenant, tt.other)
		wantErr(t, "Alarm "+tt.other+" of "+tt.tenant, err, store.ErrNotFound)
		evs, err := s.AlarmEvents(ctx, tt.tenant, tt.other)
		mustNoErr(t, "AlarmEvents", err)
		if len(evs) != 0 {
			t.Errorf("AlarmEvents(%s, %s) = %v, want none", tt.tenant, tt.other, eventIDs(evs))
		}
	}
}
