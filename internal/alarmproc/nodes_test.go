package alarmproc

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// memBus is an in-process Bus: broadcasts reach every listener, asks the one answerer.
type memBus struct {
	mu        sync.Mutex
	listeners map[string][]func([]byte)
	answerer  map[string]func(context.Context, []byte) []byte
}

func newMemBus() *memBus {
	return &memBus{listeners: map[string][]func([]byte){}, answerer: map[string]func(context.Context, []byte) []byte{}}
}

func (b *memBus) Broadcast(topic string, data []byte) error {
	b.mu.Lock()
	ls := append([]func([]byte){}, b.listeners[topic]...)
	b.mu.Unlock()
	for _, fn := range ls {
		fn(data)
	}
	return nil
}

func (b *memBus) Listen(topic string, fn func([]byte)) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.listeners[topic] = append(b.listeners[topic], fn)
	return func() {}, nil
}

func (b *memBus) Ask(ctx context.Context, topic string, data []byte) ([]byte, error) {
	b.mu.Lock()
	fn := b.answerer[topic]
	b.mu.Unlock()
	if fn == nil {
		return nil, errors.New("no responders")
	}
	return fn(ctx, data), nil
}

func (b *memBus) Answer(topic string, fn func(context.Context, []byte) []byte) (func(), error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.answerer[topic] = fn
	return func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		delete(b.answerer, topic)
	}, nil
}

// TestTwoNodes: node A runs the engine; node B, on the same store and bus, shows A's alarm
// changes to its live subscribers, lists open alarms from the store, forwards an
// acknowledgement to A (and A's refusals come back as the same errors), and once A stops
// answers commands with ErrStandby.
func TestTwoNodes(t *testing.T) {
	st := &fakeStore{alarms: map[string]store.AlarmRecord{}, ids: map[string]bool{}, users: []store.User{
		{ID: "n1", Tenant: "acme", Role: store.Nurse}}}
	bus := newMemBus()
	lg := &fakeLog{msgs: make(chan []reading.Reading), acks: make(chan error)}
	a, err := New(t.Context(), Config{Log: lg, Store: st, Bus: bus, CheckEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	b, err := New(t.Context(), Config{Log: lg, Store: st, Bus: bus, CheckEvery: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	waitLeading(t, a)
	if b.Leading() {
		t.Fatal("b leads without running")
	}
	live, unsubscribe := b.Subscribe("acme")
	defer unsubscribe()

	start := time.Now().Add(-30 * time.Second).Truncate(time.Second)
	for s := 0; s <= 15; s++ {
		send(t, lg, start.Add(time.Duration(s)*time.Second), 88)
	}
	var v View
	select {
	case v = <-live:
	case <-time.After(5 * time.Second):
		t.Fatal("node B's subscriber got no alarm event")
	}
	if v.Code != string(alarm.SpO2Low) || v.State != "active" {
		t.Fatalf("B saw %+v", v)
	}
	vs, err := b.Active(t.Context(), "acme", "", 0, 0)
	if err != nil || len(vs) != 1 || vs[0].ID != v.ID {
		t.Fatalf("B's Active (from the store) = %+v, %v", vs, err)
	}
	id := idOf(t, v.ID)
	_, err = b.Do(t.Context(), alarm.Command{Action: alarm.ActAcknowledge, AlarmID: id, Actor: alarm.Actor{UserID: "v9", Tenant: "acme", Capacity: alarm.CapNone}})
	if !errors.Is(err, alarm.ErrForbidden) {
		t.Errorf("a forbidden acknowledgement through B: %v, want ErrForbidden", err)
	}
	got, err := b.Do(t.Context(), alarm.Command{Action: alarm.ActAcknowledge, AlarmID: id, Actor: alarm.Actor{UserID: "n1", Tenant: "acme", Capacity: alarm.CapAssignedNurse}})
	if err != nil || got.State != "acknowledged" || got.AcknowledgedBy != "n1" {
		t.Fatalf("acknowledged through B: %+v, %v", got, err)
	}
	if v, err := a.Get(t.Context(), "acme", id); err != nil || v.State != "acknowledged" {
		t.Errorf("A's engine after B's forward: %+v, %v", v, err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if _, err := b.Do(t.Context(), alarm.Command{Action: alarm.ActEscalate, AlarmID: id, Reason: "x",
		Actor: alarm.Actor{UserID: "n1", Tenant: "acme", Capacity: alarm.CapAssignedNurse}}); !errors.Is(err, ErrStandby) {
		t.Errorf("with no engine anywhere: %v, want ErrStandby", err)
	}
}
