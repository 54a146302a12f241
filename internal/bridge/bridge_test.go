package bridge

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/senml"
	"github.com/vigil-iomt/vigil/internal/store"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in      string
		want    Config
		wantErr string
	}{
		{in: "mqtt://gw:secret@10.1.2.3?topic=site1/{device}/senml&tenant=acme",
			want: Config{Broker: "tcp://10.1.2.3:1883", Username: "gw", Password: "secret", Topic: "site1/{device}/senml", Tenant: "acme"}},
		{in: "mqtts://broker.example:8884?topic=+/{device}/#&tenant=acme&client_id=b1",
			want: Config{Broker: "ssl://broker.example:8884", Topic: "+/{device}/#", Tenant: "acme", ClientID: "b1"}},
		{in: "mqtt://h?topic=a/b&tenant=x", wantErr: "exactly one {device}"},
		{in: "mqtt://h?topic=a/{device}/{device}&tenant=x", wantErr: "exactly one {device}"},
		{in: "mqtt://h?topic=a/{device}", wantErr: "tenant missing"},
		{in: "mqtt://h?topic=%23/{device}&tenant=x", wantErr: "# must be the last level"},
		{in: "http://h?topic=a/{device}&tenant=x", wantErr: `scheme "http"`},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Parse(%q) error %v, want one containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
		}
	}
	if _, err := Parse("mqtt://gw:hunter2@h?topic=x"); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("an invalid bridge URL's error shows its password: %v", err)
	}
	c := Config{Topic: "site/+/{device}/senml"}
	if d, ok := c.device("site/ward/bed-4/senml"); !ok || d != "bed-4" {
		t.Errorf("device from topic = %q, %v", d, ok)
	}
}

// mosquitto returns the address of the real Mosquitto broker, or skips.
func mosquitto(t *testing.T) string {
	t.Helper()
	addr := os.Getenv("VIGIL_TEST_MQTT")
	if addr == "" {
		t.Skip("set VIGIL_TEST_MQTT=127.0.0.1:1883 to test the bridge against a real Mosquitto")
	}
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		t.Fatalf("Mosquitto at %s: %v", addr, err)
	}
	c.Close()
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not installed (.ci/run installs mosquitto-clients)")
	}
	return addr
}

func publish(t *testing.T, addr, topic, payload string) {
	t.Helper()
	host, port, _ := net.SplitHostPort(addr)
	out, err := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-q", "1", "-t", topic, "-m", payload).CombinedOutput()
	if err != nil {
		t.Fatalf("mosquitto_pub: %v: %s", err, out)
	}
}

type fakeDevices map[string]store.Device

func (f fakeDevices) DeviceByID(_ context.Context, id string) (store.Device, error) {
	if d, ok := f[id]; ok {
		return d, nil
	}
	return store.Device{}, store.ErrNotFound
}

type call struct {
	dev     ingest.Device
	payload string
	ct      string
}

// fakeIngester decodes with the real SenML decoder (so malformed packs fail as in ingest) and
// fails the first `unavailable` calls as a log outage would.
type fakeIngester struct {
	mu          sync.Mutex
	calls       []call
	unavailable int
}

func (f *fakeIngester) Ingest(_ context.Context, _ string, dev ingest.Device, payload []byte, ct string) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.unavailable > 0 {
		f.unavailable--
		return 0, &ingest.UnavailableError{Err: errors.New("log down")}
	}
	recs, err := senml.Decode(payload, ct, time.Now())
	if err != nil {
		return 0, err
	}
	f.calls = append(f.calls, call{dev, string(payload), ct})
	return len(recs), nil
}

func (f *fakeIngester) count(payload string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, c := range f.calls {
		if c.payload == payload {
			n++
		}
	}
	return n
}

func eventually(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func randomPrefix() string {
	var b [6]byte
	_, _ = rand.Read(b[:])
	return "vigil-test-" + hex.EncodeToString(b[:])
}

type running struct {
	b      *Bridge
	m      *Metrics
	cancel context.CancelFunc
	done   chan error
}

func start(t *testing.T, cfg Config, devs Devices, in Ingester) *running {
	t.Helper()
	m := NewMetrics(prometheus.NewRegistry())
	b, err := New(cfg, devs, in, slog.New(slog.DiscardHandler), m)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	r := &running{b: b, m: m, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- b.Run(ctx) }()
	eventually(t, "the bridge to connect", func() bool { return testutil.ToFloat64(m.Connected.WithLabelValues(b.name)) == 1 })
	t.Cleanup(r.stop)
	return r
}

func (r *running) stop() {
	r.cancel()
	<-r.done
	r.done <- context.Canceled // later stops return at once
}

func pack(dev string, v int) string {
	return `[{"bn":"` + dev + `:","n":"hr","u":"beat/min","v":` + strconv.Itoa(60+v) + `}]`
}

// TestBridgeFromMosquitto: messages published to the real Mosquitto reach ingest as the device
// their topic names, in the bridge's tenant only; malformed and foreign ones are counted and
// dropped.
func TestBridgeFromMosquitto(t *testing.T) {
	addr := mosquitto(t)
	prefix := randomPrefix()
	devs := fakeDevices{
		"bed-1":   {ID: "bed-1", Tenant: "acme", Kind: "monitor", Subject: "p1"},
		"other-1": {ID: "other-1", Tenant: "globex", Kind: "monitor", Subject: "p9"},
		"gone-1":  {ID: "gone-1", Tenant: "acme", Revoked: true},
	}
	in := &fakeIngester{}
	r := start(t, Config{Broker: "tcp://" + addr, Topic: prefix + "/{device}/senml", Tenant: "acme"}, devs, in)

	good := pack("bed-1", 7)
	publish(t, addr, prefix+"/bed-1/senml", good)
	eventually(t, "the pack to be ingested", func() bool { return in.count(good) == 1 })
	in.mu.Lock()
	c := in.calls[0]
	in.mu.Unlock()
	if c.dev.ID != "bed-1" || c.dev.Tenant != "acme" || c.dev.Subject != "p1" || c.ct != "application/senml+json" {
		t.Fatalf("ingested as %+v with content type %q", c.dev, c.ct)
	}
	publish(t, addr, prefix+"/other-1/senml", pack("other-1", 1))
	publish(t, addr, prefix+"/gone-1/senml", pack("gone-1", 1))
	publish(t, addr, prefix+"/nobody/senml", pack("nobody", 1))
	publish(t, addr, prefix+"/bed-1/senml", `[{"n":"hr","v":"x"}]`)
	outcome := func(o string) float64 { return testutil.ToFloat64(r.m.Messages.WithLabelValues(r.b.name, o)) }
	eventually(t, "three unknown-device and one malformed message", func() bool {
		return outcome("unknown_device") == 3 && outcome("malformed") == 1
	})
	if n := len(in.calls); n != 1 {
		t.Fatalf("%d packs ingested, want only the good one", n)
	}
}

// TestBridgeRedeliversWhatWasNotDurable: when the log cannot take a message, the bridge does
// not acknowledge it, reconnects, and Mosquitto delivers it again.
func TestBridgeRedeliversWhatWasNotDurable(t *testing.T) {
	addr := mosquitto(t)
	prefix := randomPrefix()
	in := &fakeIngester{unavailable: 1}
	r := start(t, Config{Broker: "tcp://" + addr, Topic: prefix + "/{device}/senml", Tenant: "acme"},
		fakeDevices{"bed-2": {ID: "bed-2", Tenant: "acme"}}, in)
	p := pack("bed-2", 3)
	publish(t, addr, prefix+"/bed-2/senml", p)
	eventually(t, "the pack to be redelivered and ingested", func() bool { return in.count(p) == 1 })
	if u := testutil.ToFloat64(r.m.Messages.WithLabelValues(r.b.name, "unavailable")); u != 1 {
		t.Fatalf("unavailable outcomes %v, want 1", u)
	}
}

// TestBridgeSessionKeepsMessagesWhileDown: with its persistent session, the bridge receives
// what was published while it was not running.
func TestBridgeSessionKeepsMessagesWhileDown(t *testing.T) {
	addr := mosquitto(t)
	prefix := randomPrefix()
	cfg := Config{Broker: "tcp://" + addr, Topic: prefix + "/{device}/senml", Tenant: "acme", ClientID: prefix}
	devs := fakeDevices{"bed-3": {ID: "bed-3", Tenant: "acme"}}
	in := &fakeIngester{}
	first := start(t, cfg, devs, in)
	first.stop()
	var packs []string
	for i := range 3 {
		p := pack("bed-3", i)
		packs = append(packs, p)
		publish(t, addr, prefix+"/bed-3/senml", p)
	}
	start(t, cfg, devs, in)
	eventually(t, "the three packs published while the bridge was down", func() bool {
		for _, p := range packs {
			if in.count(p) == 0 {
				return false
			}
		}
		return true
	})
}
