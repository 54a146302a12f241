package alarm

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// dir is the test Directory: assigned nurse A, buddy B, charge C, RRT D, physician on call P
// (the medical team), consultant on call Q, ops O.
type dir struct{}

func (dir) Recipients(_ context.Context, _ AlarmRef, r RecipientRule) ([]string, error) {
	switch r.Kind {
	case AssignedNurse:
		return []string{"A"}, nil
	case BuddyNurse:
		return []string{"B"}, nil
	case ChargeNurse:
		return []string{"C"}, nil
	case RRT:
		return []string{"D"}, nil
	case RoleOnCall:
		if strings.HasPrefix(r.Ref, "ops") {
			return []string{"O"}, nil
		}
		if strings.HasPrefix(r.Ref, "consultant") {
			return []string{"Q"}, nil
		}
		return []string{"P"}, nil
	}
	return nil, nil
}

// harness drives an Evaluator and a core in time order, as Engine.Run would, and records
// what they emit.
type harness struct {
	t      *testing.T
	ev     *Evaluator
	c      *core
	base   time.Time
	events []Event
	notes  []Notification
}

func newHarness(t *testing.T, base time.Time) *harness {
	t.Helper()
	return &harness{t: t, ev: NewEvaluator(nil), c: newCore(nil, dir{}, nil), base: base}
}

func (h *harness) collect() {
	ev, no := h.c.take()
	h.events = append(h.events, ev...)
	h.notes = append(h.notes, no...)
}

// until fires every timer due up to and including ts.
func (h *harness) until(ts time.Time) {
	for {
		d, ok := h.c.nextDue()
		if !ok || d.After(ts) {
			return
		}
		h.c.advance(context.Background(), d)
		h.collect()
	}
}

func (h *harness) at(sec int) time.Time { return h.base.Add(time.Duration(sec) * time.Second) }

// read feeds one reading of metric at base+sec.
func (h *harness) read(sec int, metric string, v float64) {
	ts := h.at(sec)
	h.until(ts)
	r := mkReading("t1", "dev1", "pat1", metric, v, ts)
	for _, c := range h.ev.Evaluate(Sample{Reading: &r, Unit: "ward1"}, nil) {
		h.c.onCondition(context.Background(), c)
		h.collect()
	}
}

// series feeds v at 1 Hz from sec `from` to `to` inclusive.
func (h *harness) series(from, to int, metric string, v float64) {
	for s := from; s <= to; s++ {
		h.read(s, metric, v)
	}
}

func (h *harness) cond(c Condition) {
	h.until(c.At)
	h.c.onCondition(context.Background(), c)
	h.collect()
}

func (h *harness) do(sec int, cmd Command) error {
	ts := h.at(sec)
	h.until(ts)
	err := h.c.command(context.Background(), cmd, ts)
	h.collect()
	return err
}

// noteLog renders notifications as "sec KIND user tier" lines.
func (h *harness) noteLog() []string {
	var out []string
	for _, n := range h.notes {
		out = append(out, fmt.Sprintf("%d %s %s t%d", int(n.At.Sub(h.base)/time.Second), n.Kind, n.Recipient, n.Tier))
	}
	return out
}

// stateLog renders state changes as "sec FROM>TO [reason]".
func (h *harness) stateLog() []string {
	var out []string
	for _, e := range h.events {
		if e.From == e.To && e.Type != EvCreated {
			continue
		}
		s := fmt.Sprintf("%d %s>%s", int(e.At.Sub(h.base)/time.Second), e.From, e.To)
		if e.Reason != "" {
			s += " " + e.Reason
		}
		out = append(out, s)
	}
	return out
}

func mkReading(tenant, device, subject, metric string, v float64, ts time.Time) reading.Reading {
	return reading.Reading{
		ID: reading.NewID(tenant, device, metric, ts), Tenant: tenant, Device: device, Subject: subject,
		Metric: metric, Kind: reading.Number, Value: v, Measured: ts, Received: ts,
	}
}

func eq(t *testing.T, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s:\n got  %q\n want %q", what, got, want)
	}
}

func actor(id string, c Capacity) Actor { return Actor{UserID: id, Tenant: "t1", Capacity: c} }

func (h *harness) onlyOpen() *Tracked {
	h.t.Helper()
	if len(h.c.open) != 1 {
		h.t.Fatalf("open alarms = %d, want 1", len(h.c.open))
	}
	for _, t := range h.c.open {
		return t
	}
	return nil
}
