package alarmproc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// fakeLog is a Log fed by the test: each message sent on msgs is handed to the consumer, and
// its result comes back on acks (nil: the message may be acknowledged).
type fakeLog struct {
	msgs  chan []reading.Reading
	acks  chan error
	after chan uint64 // if not nil, receives Replay's afterSeq
}

func (l *fakeLog) Replay(ctx context.Context, afterSeq uint64, fn func(uint64, []reading.Reading) error) error {
	if l.after != nil {
		l.after <- afterSeq
	}
	seq := afterSeq
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case rs := <-l.msgs:
			seq++
			l.acks <- fn(seq, rs)
		}
	}
}

// fakeStore keeps what the processor saves, with the store's replace-by-seq and
// ignore-known-id rules, and serves a fixed user list.
type fakeStore struct {
	users  []store.User
	care   []store.CareAssignment
	oncall []store.OnCallShift
	docs   []store.AlarmPolicyDoc

	mu       sync.Mutex
	snapshot []byte
	alarms   map[string]store.AlarmRecord
	events   []store.AlarmEventRecord
	outbox   []store.OutboxItem
	ids      map[string]bool
}

func (s *fakeStore) SaveAlarmBatch(_ context.Context, b store.AlarmBatch) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b.Snapshot != nil {
		s.snapshot = b.Snapshot
	}
	for _, e := range b.Events {
		if !s.ids[e.ID] {
			s.ids[e.ID] = true
			s.events = append(s.events, e)
		}
	}
	for _, o := range b.Outbox {
		if !s.ids[o.ID] {
			s.ids[o.ID] = true
			s.outbox = append(s.outbox, o)
		}
	}
	for _, a := range b.Alarms {
		if old, ok := s.alarms[a.ID]; !ok || a.Seq >= old.Seq {
			s.alarms[a.ID] = a
		}
	}
	return nil
}

func (s *fakeStore) AlarmSnapshot(context.Context) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.snapshot, nil
}

func (s *fakeStore) Alarms(_ context.Context, q store.AlarmQuery) ([]store.AlarmRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.AlarmRecord
	for _, a := range s.alarms {
		if a.Tenant == q.Tenant && (q.Subject == "" || a.Subject == q.Subject) && (!q.OpenOnly || a.Open) && a.Priority >= q.MinPriority {
			out = append(out, a)
		}
	}
	slices.SortFunc(out, func(x, y store.AlarmRecord) int {
		if x.Priority != y.Priority {
			return y.Priority - x.Priority
		}
		return x.RaisedAt.Compare(y.RaisedAt)
	})
	return out, nil
}

func (s *fakeStore) Alarm(_ context.Context, tenant, id string) (store.AlarmRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.alarms[id]
	if !ok || a.Tenant != tenant {
		return a, store.ErrNotFound
	}
	return a, nil
}

func (s *fakeStore) AlarmEvents(_ context.Context, tenant, alarmID string) ([]store.AlarmEventRecord, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []store.AlarmEventRecord
	for _, e := range s.events {
		if e.Tenant == tenant && e.AlarmID == alarmID {
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *fakeStore) CareAssignments(_ context.Context, tenant string, at time.Time) ([]store.CareAssignment, error) {
	var out []store.CareAssignment
	for _, c := range s.care {
		if c.Tenant == tenant && (at.IsZero() || c.Active(at)) {
			out = append(out, c)
		}
	}
	return out, nil
}

func (s *fakeStore) OnCall(_ context.Context, tenant string, at time.Time) ([]store.OnCallShift, error) {
	var out []store.OnCallShift
	for _, sh := range s.oncall {
		if sh.Tenant == tenant && (at.IsZero() || sh.Active(at)) {
			out = append(out, sh)
		}
	}
	return out, nil
}

func (s *fakeStore) SaveAlarmPolicies(_ context.Context, d store.AlarmPolicyDoc) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, old := range s.docs {
		if old.Tenant == d.Tenant {
			if d.Version != old.Version+1 {
				return store.ErrConflict
			}
			s.docs[i] = d
			return nil
		}
	}
	if d.Version != 1 {
		return store.ErrConflict
	}
	s.docs = append(s.docs, d)
	return nil
}

func (s *fakeStore) AlarmPolicies(context.Context) ([]store.AlarmPolicyDoc, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.docs), nil
}

func (s *fakeStore) Users(_ context.Context, tenant string) ([]store.User, error) {
	var out []store.User
	for _, u := range s.users {
		if u.Tenant == tenant {
			out = append(out, u)
		}
	}
	return out, nil
}

// startService runs a Service on a fake log and store with nurses n1 and n2, viewer v1 and
// admin a1 in tenant acme, and stops it when the test ends.
func startService(t *testing.T) (*Service, *fakeLog, *fakeStore) {
	t.Helper()
	st := &fakeStore{alarms: map[string]store.AlarmRecord{}, ids: map[string]bool{}, users: []store.User{
		{ID: "n1", Tenant: "acme", Role: store.Nurse}, {ID: "n2", Tenant: "acme", Role: store.Nurse},
		{ID: "v1", Tenant: "acme", Role: store.Viewer}, {ID: "a1", Tenant: "acme", Role: store.Admin},
		{ID: "x1", Tenant: "other", Role: store.Nurse},
	}}
	lg := &fakeLog{msgs: make(chan []reading.Reading), acks: make(chan error)}
	svc, err := New(t.Context(), Config{Log: lg, Store: st, CheckEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- svc.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	waitLeading(t, svc)
	return svc, lg, st
}

// send feeds one SpO2 reading of bed1 as one log message and waits until it is committed.
func send(t *testing.T, lg *fakeLog, at time.Time, v float64) {
	t.Helper()
	r := reading.Reading{Tenant: "acme", Device: "dev1", Subject: "bed1", Metric: "spo2", Kind: reading.Number,
		Value: v, Unit: "%", Measured: at, Received: at}
	r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, at)
	lg.msgs <- []reading.Reading{r}
	if err := <-lg.acks; err != nil {
		t.Fatalf("consume reading at %v: %v", at, err)
	}
}

// TestRaiseAndClear follows spec §15 S2 (SpO2 low limit 90, delay 15 s, hysteresis 1, clear
// delay 10 s) through the processor: SpO2 88 at 0–30 s and 92 from 31 s gives PENDING at 0 s,
// ACTIVE at 15 s with an ALERT to each nurse, and RESOLVED at 41 s (the first sample ≥ 91 at
// 31 s, plus 10 s). The readings lie in the recent past, so no reminder (120 s) falls inside.
func TestRaiseAndClear(t *testing.T) {
	svc, lg, st := startService(t)
	ctx := t.Context()
	start := time.Now().Add(-50 * time.Second).Truncate(time.Second)
	at := func(s int) time.Time { return start.Add(time.Duration(s) * time.Second) }

	for s := 0; s <= 14; s++ {
		send(t, lg, at(s), 88)
	}
	if vs, err := svc.Active(ctx, "acme", "", 0, 0); err != nil || len(vs) != 0 {
		t.Fatalf("at 14 s: Active = %+v, %v; want none (pending is not listed)", vs, err)
	}
	send(t, lg, at(15), 88)
	vs, err := svc.Active(ctx, "acme", "", 0, 0)
	if err != nil || len(vs) != 1 {
		t.Fatalf("at 15 s: Active = %+v, %v; want one alarm", vs, err)
	}
	v := vs[0]
	if v.Code != string(alarm.SpO2Low) || v.Priority != "medium" || v.State != "active" || !v.RaisedAt.Equal(at(15)) ||
		v.Subject != "bed1" || v.Value == nil || *v.Value != 88 {
		t.Fatalf("at 15 s: %+v; want SPO2_LOW medium active raised at 15 s, value 88", v)
	}
	var recips []string
	for _, o := range st.outbox {
		var n alarm.Notification
		if err := json.Unmarshal(o.Payload, &n); err != nil {
			t.Fatal(err)
		}
		if n.Kind == alarm.NotifyAlert && n.AlarmID.String() == v.ID {
			recips = append(recips, n.Recipient)
		}
	}
	slices.Sort(recips)
	if !slices.Equal(recips, []string{"n1", "n2"}) {
		t.Errorf("ALERT notifications in the outbox to %v, want [n1 n2]", recips)
	}

	for s := 16; s <= 30; s++ {
		send(t, lg, at(s), 88)
	}
	for s := 31; s <= 40; s++ {
		send(t, lg, at(s), 92)
	}
	if vs, _ := svc.Active(ctx, "acme", "", 0, 0); len(vs) != 1 {
		t.Fatalf("at 40 s (clear delay not met): %d active alarms, want 1", len(vs))
	}
	send(t, lg, at(41), 92)
	if vs, _ := svc.Active(ctx, "acme", "", 0, 0); len(vs) != 0 {
		t.Fatalf("at 41 s: %d active alarms, want 0", len(vs))
	}

	id := idOf(t, v.ID)
	got, err := svc.Get(ctx, "acme", id) // from the store now
	if err != nil {
		t.Fatal(err)
	}
	if got.State != "resolved" || got.ResolvedAt == nil || !got.ResolvedAt.Equal(at(41)) {
		t.Errorf("after clearing: state %s resolved at %v; want resolved at 41 s", got.State, got.ResolvedAt)
	}
	var steps []string
	for _, s := range got.History {
		steps = append(steps, s.To+"@"+s.At.Sub(start).String())
	}
	if want := []string{"pending@0s", "active@15s", "resolved@41s"}; !slices.Equal(steps, want) {
		t.Errorf("history %v, want %v", steps, want)
	}
	rec, err := st.Alarm(ctx, "acme", v.ID)
	if err != nil || rec.Open || rec.State != string(alarm.Resolved) {
		t.Errorf("stored alarm: open %v state %s (%v); want closed RESOLVED", rec.Open, rec.State, err)
	}
	evs, _ := st.AlarmEvents(ctx, "acme", v.ID)
	for i, e := range evs {
		if e.Seq != i+1 {
			t.Fatalf("stored event %d has seq %d: want 1, 2, 3, … without gaps", i, e.Seq)
		}
	}
}

func idOf(t *testing.T, s string) alarm.ID {
	t.Helper()
	var id alarm.ID
	if err := id.UnmarshalText([]byte(s)); err != nil {
		t.Fatalf("alarm id %q: %v", s, err)
	}
	return id
}

// TestDoRoles raises a HIGH SPO2_DESAT (79 < 80, no delay) and applies commands by role
// (spec §6): a viewer and a nurse of another tenant are refused, a nurse acknowledges, a
// nurse may not cancel, an admin must give a reason and then may.
func TestDoRoles(t *testing.T) {
	svc, lg, _ := startService(t)
	ctx := t.Context()
	send(t, lg, time.Now().Add(-2*time.Second), 79)
	vs, err := svc.Active(ctx, "acme", "", alarm.High, 0)
	if err != nil || len(vs) != 1 || vs[0].Code != string(alarm.SpO2Desat) {
		t.Fatalf("Active = %+v, %v; want one SPO2_DESAT", vs, err)
	}
	id := idOf(t, vs[0].ID)
	actor := func(tenant, user string, role store.Role) alarm.Actor {
		return alarm.Actor{Tenant: tenant, UserID: user, Capacity: alarm.CapacityOf(role, alarm.Relation{Assigned: true, InUnit: true})}
	}
	tests := []struct {
		name    string
		cmd     alarm.Command
		wantErr error  // nil: allowed
		state   string // the alarm's state afterwards
	}{
		{"viewer acknowledges", alarm.Command{Action: alarm.ActAcknowledge, Actor: actor("acme", "v1", store.Viewer)}, alarm.ErrForbidden, "active"},
		{"other tenant's nurse", alarm.Command{Action: alarm.ActAcknowledge, Actor: actor("other", "x1", store.Nurse)}, alarm.ErrNotFound, "active"},
		{"nurse acknowledges", alarm.Command{Action: alarm.ActAcknowledge, Actor: actor("acme", "n1", store.Nurse), Reason: "at bedside"}, nil, "acknowledged"},
		{"nurse cancels", alarm.Command{Action: alarm.ActCancel, Actor: actor("acme", "n2", store.Nurse), Reason: "x"}, alarm.ErrForbidden, "acknowledged"},
		{"admin cancels without reason", alarm.Command{Action: alarm.ActCancel, Actor: actor("acme", "a1", store.Admin)}, alarm.ErrReasonRequired, "acknowledged"},
		{"admin cancels", alarm.Command{Action: alarm.ActCancel, Actor: actor("acme", "a1", store.Admin), Reason: "sensor test"}, nil, "cancelled"},
	}
	for _, tt := range tests {
		tt.cmd.AlarmID = id
		v, err := svc.Do(ctx, tt.cmd)
		switch {
		case tt.wantErr == nil && err != nil:
			t.Fatalf("%s: %v, want allowed", tt.name, err)
		case tt.wantErr != nil && !errors.Is(err, tt.wantErr):
			t.Fatalf("%s: error %v, want %v", tt.name, err, tt.wantErr)
		case tt.wantErr == nil && v.State != tt.state:
			t.Fatalf("%s: state %s, want %s", tt.name, v.State, tt.state)
		}
		got, err := svc.Get(ctx, "acme", id)
		if err != nil || got.State != tt.state {
			t.Fatalf("%s: afterwards %s (%v), want %s", tt.name, got.State, err, tt.state)
		}
		if tt.name == "nurse acknowledges" && got.AcknowledgedBy != "n1" {
			t.Errorf("acknowledged by %q, want n1", got.AcknowledgedBy)
		}
	}
}

// waitLeading waits until svc's Run has started its engine.
func waitLeading(t *testing.T, svc *Service) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !svc.Leading(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Run did not start")
		}
	}
}
