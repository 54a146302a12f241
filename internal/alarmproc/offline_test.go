package alarmproc

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

// TestDeviceOfflineFromTheLog: the broker's connectivity readings, routed from the log, raise
// DEVICE_OFFLINE by the check timer on the log clock once a session has been lost for more
// than 30 s, and the reconnect clears it. A clean disconnect, and a device's own "connected"
// record (Unmapped), raise nothing; and a device connected for minutes raises no NO_DATA for
// its "connected" signal.
func TestDeviceOfflineFromTheLog(t *testing.T) {
	st := &fakeStore{alarms: map[string]store.AlarmRecord{}, ids: map[string]bool{}, users: []store.User{
		{ID: "n1", Tenant: "acme", Role: store.Nurse}}}
	lg := &fakeLog{msgs: make(chan []reading.Reading), acks: make(chan error)}
	svc, err := New(t.Context(), Config{Log: lg, Store: st, CheckEvery: 20 * time.Millisecond})
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

	put := func(rs ...reading.Reading) {
		t.Helper()
		lg.msgs <- rs
		if err := <-lg.acks; err != nil {
			t.Fatalf("consume: %v", err)
		}
	}
	now := time.Now()
	at := func(s int) time.Time { return now.Add(time.Duration(s) * time.Second) }
	spoof := reading.Reading{Tenant: "acme", Device: "mon3", Subject: "bed3", Metric: reading.MetricConnected,
		Kind: reading.Bool, Value: 0, Measured: at(-60), Received: at(-60), Flags: reading.Unmapped}
	spoof.ID = reading.NewID(spoof.Tenant, spoof.Device, spoof.Metric, spoof.Measured)
	put(reading.Connectivity("acme", "mon1", "bed1", true, reading.ConnOpened, at(-300)),
		reading.Connectivity("acme", "mon2", "bed2", true, reading.ConnOpened, at(-300)),
		reading.Connectivity("acme", "mon4", "bed4", true, reading.ConnOpened, at(-300))) // and stays connected
	put(reading.Connectivity("acme", "mon1", "bed1", false, reading.ConnLost, at(-60)),
		reading.Connectivity("acme", "mon2", "bed2", false, reading.ConnClosed, at(-60)), spoof)
	// Another device's reading brings the log clock to 5 s ago: mon1 lost for 55 s.
	hr := reading.Reading{Tenant: "acme", Device: "mon9", Subject: "bed9", Metric: "hr", Kind: reading.Number,
		Value: 70, Unit: "/min", Measured: at(-5), Received: at(-5)}
	hr.ID = reading.NewID(hr.Tenant, hr.Device, hr.Metric, hr.Measured)
	put(hr)

	active := func() string {
		vs, err := svc.Active(t.Context(), "acme", "", 0, 0)
		if err != nil {
			t.Fatal(err)
		}
		s := ""
		for _, v := range vs {
			s += fmt.Sprintf("[%s %s %s %s %s raised %v]", v.Code, v.Subject, v.Device, v.Priority, v.State, v.RaisedAt.Sub(now))
		}
		return s
	}
	want := fmt.Sprintf("[%s bed1 mon1 medium active raised %v]", alarm.DeviceOffline, at(-30).Sub(now))
	deadline := time.Now().Add(5 * time.Second)
	got := active()
	for got == "" && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
		got = active()
	}
	time.Sleep(100 * time.Millisecond) // a few more checks: nothing else may follow
	if got = active(); got != want {
		t.Fatalf("active alarms %s, want %s", got, want)
	}

	put(reading.Connectivity("acme", "mon1", "bed1", true, reading.ConnOpened, at(-4)))
	if got := active(); got != "" {
		t.Fatalf("after the reconnect: active alarms %s, want none", got)
	}
}
