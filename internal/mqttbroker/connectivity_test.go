package mqttbroker

import (
	"net"
	"slices"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// wantConnReading waits for the next connectivity append and checks it: one "connected"
// reading of acme/bed7-mon (subject P-7) in that device's partition, with the value and reason
// given, measured and received at the server's time within [after, now], and the id of that
// time (a repeat is de-duplicated).
func wantConnReading(t *testing.T, lg *fakeLog, after time.Time, connected bool, why string) {
	t.Helper()
	select {
	case <-lg.connSeen:
	case <-time.After(10 * time.Second):
		t.Fatalf("no connectivity reading, want connected=%v (%s)", connected, why)
	}
	lg.mu.Lock()
	a := lg.conns[len(lg.conns)-1]
	lg.mu.Unlock()
	if a.tenant != "acme" || a.key != "bed7-mon" || len(a.rs) != 1 {
		t.Fatalf("appended %d readings to %s/%s, want 1 to acme/bed7-mon", len(a.rs), a.tenant, a.key)
	}
	r := a.rs[0]
	want := 0.0
	if connected {
		want = 1
	}
	if r.Metric != reading.MetricConnected || r.Kind != reading.Bool || r.Value != want || r.Text != why ||
		r.Tenant != "acme" || r.Device != "bed7-mon" || r.Subject != "P-7" {
		t.Errorf("reading %+v, want connected=%v (%s) of acme/bed7-mon, subject P-7", r, want, why)
	}
	if r.Measured.Before(after) || r.Measured.After(time.Now()) || !r.Received.Equal(r.Measured) {
		t.Errorf("measured %v received %v, want both the server time within [%v, now]", r.Measured, r.Received, after)
	}
	if err := r.Validate(); err != nil || r.ID != reading.NewID("acme", "bed7-mon", reading.MetricConnected, r.Measured) {
		t.Errorf("reading id %s (%v), want the deterministic id of device, metric and time", r.ID, err)
	}
}

// TestConnectivityReadings: each session start and end of a device is appended to the log as a
// "connected" reading: 1 on connect; 0 "disconnect" for a normal DISCONNECT (3.1.1 or v5); 0
// "lost" when the connection drops (the will is sent) or a v5 DISCONNECT asks for the will. A
// user's session appends nothing, and neither does the broker's own shutdown.
func TestConnectivityReadings(t *testing.T) {
	lg := &fakeLog{connSeen: make(chan struct{}, 16)}
	h := startBroker(t, lg)

	// MQTT 3.1.1: connect, normal DISCONNECT.
	t0 := time.Now()
	c3, _ := connect3(t, h.addr, "bed7-mon", "bed7-mon", "s3cret", nil)
	wantConnReading(t, lg, t0, true, reading.ConnOpened)
	t0 = time.Now()
	c3.Disconnect(100)
	wantConnReading(t, lg, t0, false, reading.ConnClosed)

	// MQTT 5 with a will: the TCP connection dies without DISCONNECT.
	dial5 := func(will bool) (*paho.Client, net.Conn) {
		t.Helper()
		conn, err := net.Dial("tcp", h.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		c := paho.NewClient(paho.ClientConfig{Conn: conn})
		cp := &paho.Connect{ClientID: "bed7-mon", Username: "bed7-mon", UsernameFlag: true,
			Password: []byte("s3cret"), PasswordFlag: true, KeepAlive: 30, CleanStart: true}
		if will {
			cp.WillMessage = &paho.WillMessage{Topic: "vigil/v1/bed7-mon/status", Payload: []byte("offline"), QoS: 1}
		}
		if ca, err := c.Connect(t.Context(), cp); ca == nil || ca.ReasonCode != 0 {
			t.Fatalf("v5 connect: %+v %v", ca, err)
		}
		return c, conn
	}
	t0 = time.Now()
	_, conn := dial5(true)
	wantConnReading(t, lg, t0, true, reading.ConnOpened)
	t0 = time.Now()
	conn.Close()
	wantConnReading(t, lg, t0, false, reading.ConnLost)

	// MQTT 5 DISCONNECT 0x04 (disconnect with will message) is a lost session; 0x00 is not.
	c5, _ := dial5(true)
	wantConnReading(t, lg, t0, true, reading.ConnOpened)
	t0 = time.Now()
	_ = c5.Disconnect(&paho.Disconnect{ReasonCode: 0x04})
	wantConnReading(t, lg, t0, false, reading.ConnLost)
	c5, _ = dial5(false)
	wantConnReading(t, lg, t0, true, reading.ConnOpened)
	t0 = time.Now()
	_ = c5.Disconnect(&paho.Disconnect{ReasonCode: 0x00})
	wantConnReading(t, lg, t0, false, reading.ConnClosed)

	// A user's session is no device's connectivity.
	u5, _ := connect5(t, h.addr, "user:alice", "alice", "vgt_alice", nil)
	_ = u5.Disconnect(&paho.Disconnect{})

	// The broker's shutdown with the device connected: registry updated, nothing appended.
	dial5(false)
	wantConnReading(t, lg, t0, true, reading.ConnOpened)
	if err := h.stop(); err != nil { // returns after the shutdown's disconnects are written
		t.Fatalf("Run: %v", err)
	}
	h.conns.mu.Lock()
	evs := slices.Clone(h.conns.events)
	h.conns.mu.Unlock()
	if len(evs) != 10 || evs[9] != "acme/bed7-mon connected=false" {
		t.Errorf("registry events %q, want 10 ending with the shutdown's disconnect", evs)
	}
	lg.mu.Lock()
	n := len(lg.conns)
	lg.mu.Unlock()
	if n != 9 {
		t.Errorf("%d connectivity appends, want 9 (none for the user, none at shutdown)", n)
	}
}
