package mqttbroker

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

const (
	goodPack      = `[{"n":"spo2","u":"/","v":0.97},{"n":"hr","u":"beat/min","v":72}]`
	malformedPack = `[{"n":"spo2","u":"/","v":0.97},{"n":"hr","u":"beat/min","v":"72"}]` // record 1, field v
)

// fakeAuth knows devices by id and secret, and users by API token.
type fakeAuth struct {
	devices map[string]store.Device // key: id + "/" + secret
	revoked map[string]bool         // key: id + "/" + secret
	tokens  map[string]auth.Principal
}

func (f *fakeAuth) AuthenticateDevice(_ context.Context, id, secret string) (store.Device, error) {
	if f.revoked[id+"/"+secret] {
		return store.Device{}, auth.ErrDeviceRevoked
	}
	d, ok := f.devices[id+"/"+secret]
	if !ok {
		return store.Device{}, auth.ErrInvalidCredentials
	}
	return d, nil
}

func (f *fakeAuth) Authenticate(_ context.Context, token string) (auth.Principal, error) {
	p, ok := f.tokens[token]
	if !ok {
		return auth.Principal{}, auth.ErrUnauthenticated
	}
	return p, nil
}

// fakeLog is the ingest pipeline's log: it records appended readings, and can be made to block
// (until release is closed) or to fail. The broker's connectivity readings are kept apart, in
// conns, and neither block nor count as entering.
type fakeLog struct {
	mu       sync.Mutex // guards readings, release and conns
	readings []reading.Reading
	entered  chan struct{} // receives once per Append
	release  chan struct{} // nil: do not block
	fail     error
	conns    []connAppend
	connSeen chan struct{} // if not nil, receives once per connectivity append
}

// connAppend is one append of connectivity readings: the partition key and the readings.
type connAppend struct {
	tenant, key string
	rs          []reading.Reading
}

func (f *fakeLog) Append(_ context.Context, tenant, key string, rs []reading.Reading) error {
	if len(rs) > 0 && rs[0].Metric == reading.MetricConnected {
		if f.fail != nil {
			return f.fail
		}
		f.mu.Lock()
		f.conns = append(f.conns, connAppend{tenant, key, slices.Clone(rs)})
		f.mu.Unlock()
		if f.connSeen != nil {
			f.connSeen <- struct{}{}
		}
		return nil
	}
	select {
	case f.entered <- struct{}{}:
	default:
	}
	f.mu.Lock()
	release := f.release
	f.mu.Unlock()
	if release != nil {
		<-release
	}
	if f.fail != nil {
		return f.fail
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.readings = append(f.readings, rs...)
	return nil
}

func (f *fakeLog) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.readings)
}

// fakeConns records connectivity events.
type fakeConns struct {
	mu     sync.Mutex
	events []string
	seen   chan string
}

func (f *fakeConns) SetDeviceConnection(_ context.Context, tenant, id string, connected bool, _ time.Time) error {
	ev := fmt.Sprintf("%s/%s connected=%v", tenant, id, connected)
	f.mu.Lock()
	f.events = append(f.events, ev)
	f.mu.Unlock()
	f.seen <- ev
	return nil
}

type harness struct {
	b     *Broker
	addr  string
	log   *fakeLog
	conns *fakeConns
	reg   *prometheus.Registry
	stop  func() error // stops Run and returns its error; the test's end calls it too
}

func startBroker(t *testing.T, lg *fakeLog) *harness {
	t.Helper()
	if lg.entered == nil {
		lg.entered = make(chan struct{}, 16)
	}
	fa := &fakeAuth{
		devices: map[string]store.Device{
			"bed4-mon/s3cret":  {ID: "bed4-mon", Tenant: "acme", Kind: "patient", Subject: "P-1"},
			"fridge-7/s3cret":  {ID: "fridge-7", Tenant: "acme", Kind: "environment", Subject: "FRIDGE-7"},
			"truck-1/s3cret":   {ID: "truck-1", Tenant: "globex", Kind: "environment", Subject: "TRUCK-1"},
			"old-mon/s3cret":   {ID: "old-mon", Tenant: "acme", Kind: "patient", Subject: "P-2"},
			"bed5-mon/s3cret":  {ID: "bed5-mon", Tenant: "acme", Kind: "patient", Subject: "P-5"},
			"bed6-mon/s3cret":  {ID: "bed6-mon", Tenant: "acme", Kind: "patient", Subject: "P-6"},
			"bed7-mon/s3cret":  {ID: "bed7-mon", Tenant: "acme", Kind: "patient", Subject: "P-7"},
			"bed8-mon/s3cret":  {ID: "bed8-mon", Tenant: "acme", Kind: "patient", Subject: "P-8"},
			"bed9-mon/s3cret":  {ID: "bed9-mon", Tenant: "acme", Kind: "patient", Subject: "P-9"},
			"bed10-mon/s3cret": {ID: "bed10-mon", Tenant: "acme", Kind: "patient", Subject: "P-10"},
		},
		revoked: map[string]bool{"old-mon/s3cret": true},
		tokens: map[string]auth.Principal{
			"vgt_alice": {Username: "alice", Tenant: "acme", Role: store.Viewer, Kind: store.APIToken},
		},
	}
	reg := prometheus.NewRegistry()
	conns := &fakeConns{seen: make(chan string, 64)}
	b, err := New(Config{
		TCPAddr:     "127.0.0.1:0",
		Ingest:      ingest.NewPipeline(lg, time.Now, ingest.NewMetrics(reg)),
		Auth:        fa,
		Connections: conns,
		Registerer:  reg,
		Log:         slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	stop := sync.OnceValue(func() error { cancel(); return <-done })
	t.Cleanup(func() {
		if err := stop(); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return &harness{b: b, addr: b.Addr("tcp").String(), log: lg, conns: conns, reg: reg, stop: stop}
}

// connect3 connects an MQTT 3.1.1 client and returns it with the CONNACK return code.
func connect3(t *testing.T, addr, clientID, user, pass string, onLost func(error)) (mqtt3.Client, byte) {
	t.Helper()
	opts := mqtt3.NewClientOptions().AddBroker("tcp://" + addr).SetClientID(clientID).
		SetUsername(user).SetPassword(pass).SetProtocolVersion(4).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	if onLost != nil {
		opts.SetConnectionLostHandler(func(_ mqtt3.Client, err error) { onLost(err) })
	}
	c := mqtt3.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("3.1.1 connect: no CONNACK")
	}
	code := tok.(*mqtt3.ConnectToken).ReturnCode()
	if code == 0 {
		t.Cleanup(func() { c.Disconnect(100) })
	}
	return c, code
}

// connect5 connects an MQTT 5 client and returns it with the CONNACK.
func connect5(t *testing.T, addr, clientID, user, pass string, onPublish func(paho.PublishReceived)) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	cfg := paho.ClientConfig{Conn: conn}
	if onPublish != nil {
		cfg.OnPublishReceived = []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) { onPublish(pr); return true, nil },
		}
	}
	c := paho.NewClient(cfg)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	ca, err := c.Connect(ctx, &paho.Connect{ClientID: clientID, Username: user, UsernameFlag: true,
		Password: []byte(pass), PasswordFlag: true, KeepAlive: 30, CleanStart: true})
	if ca == nil {
		t.Fatalf("v5 connect: %v", err)
	}
	if ca.ReasonCode == 0 {
		t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	} else {
		conn.Close()
	}
	return c, ca
}

func publish5(t *testing.T, c *paho.Client, topic, payload string) *paho.PublishResponse {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	pr, err := c.Publish(ctx, &paho.Publish{Topic: topic, QoS: 1, Payload: []byte(payload)})
	if pr == nil {
		t.Fatalf("v5 publish %s: no PUBACK: %v", topic, err)
	}
	return pr
}

func publish3(t *testing.T, c mqtt3.Client, topic, payload string) {
	t.Helper()
	tok := c.Publish(topic, 1, false, payload)
	if !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("3.1.1 publish %s: no PUBACK (err %v)", topic, tok.Error())
	}
}

func rejected(t *testing.T, h *harness, protocol, reason string) float64 {
	t.Helper()
	m := newMetricsView(h.reg)
	return m(protocol, reason)
}

// newMetricsView reads vigil_mqtt_publishes_rejected_total{protocol, reason} from reg.
func newMetricsView(reg *prometheus.Registry) func(protocol, reason string) float64 {
	return func(protocol, reason string) float64 {
		mfs, _ := reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() != "vigil_mqtt_publishes_rejected_total" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["protocol"] == protocol && labels["reason"] == reason {
					return m.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
}

func TestConnectCodes(t *testing.T) {
	h := startBroker(t, &fakeLog{})
	tests := []struct {
		name           string
		client, user   string
		pass           string
		want3, want5   byte
		wantConnected3 bool
	}{
		{"device ok", "bed4-mon", "bed4-mon", "s3cret", 0x00, 0x00, true},
		{"wrong secret", "bed4-mon", "bed4-mon", "wrong", 0x04, 0x86, false},
		{"unknown device", "nobody", "nobody", "s3cret", 0x04, 0x86, false},
		{"revoked device", "old-mon", "old-mon", "s3cret", 0x05, 0x87, false},
		{"client id is not the device id", "someone-else", "bed4-mon", "s3cret", 0x02, 0x85, false},
		{"user with API token", "user:alice:console", "alice", "vgt_alice", 0x00, 0x00, true},
		{"user with a wrong token", "user:alice", "alice", "nope", 0x04, 0x86, false},
		{"user id of another user", "user:bob", "alice", "vgt_alice", 0x02, 0x85, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c3, got3 := connect3(t, h.addr, tt.client, tt.user, tt.pass, nil)
			if got3 != tt.want3 {
				t.Errorf("3.1.1 CONNACK return code = 0x%02x, want 0x%02x", got3, tt.want3)
			}
			if got3 == 0 {
				c3.Disconnect(100)
			}
			_, ca := connect5(t, h.addr, tt.client, tt.user, tt.pass, nil)
			if ca.ReasonCode != tt.want5 {
				t.Errorf("v5 CONNACK reason code = 0x%02x, want 0x%02x", ca.ReasonCode, tt.want5)
			}
		})
	}
}

func TestPubackOnlyAfterIngestReturns(t *testing.T) {
	lg := &fakeLog{entered: make(chan struct{}, 1)}
	h := startBroker(t, lg)

	for _, proto := range []string{"3.1.1", "5"} {
		t.Run(proto, func(t *testing.T) {
			lg.mu.Lock()
			lg.release = make(chan struct{})
			lg.mu.Unlock()
			before := lg.count()
			acked := make(chan error, 1)
			if proto == "5" {
				c, _ := connect5(t, h.addr, "bed4-mon", "bed4-mon", "s3cret", nil)
				go func() {
					pr, err := c.Publish(t.Context(), &paho.Publish{Topic: "vigil/v1/bed4-mon/senml", QoS: 1, Payload: []byte(goodPack)})
					if err == nil && pr.ReasonCode != 0 {
						err = fmt.Errorf("reason 0x%02x", pr.ReasonCode)
					}
					acked <- err
				}()
			} else {
				c, _ := connect3(t, h.addr, "bed4-mon", "bed4-mon", "s3cret", nil)
				tok := c.Publish("vigil/v1/bed4-mon/senml", 1, false, goodPack)
				go func() { tok.Wait(); acked <- tok.Error() }()
			}
			select {
			case <-lg.entered: // Ingest is appending, and blocked
			case err := <-acked:
				t.Fatalf("acknowledged (err %v) without appending", err)
			case <-time.After(10 * time.Second):
				t.Fatal("Ingest never appended")
			}
			select {
			case err := <-acked:
				t.Fatalf("PUBACK (err %v) arrived while the append was still blocked", err)
			case <-time.After(300 * time.Millisecond):
			}
			close(lg.release)
			if err := <-acked; err != nil {
				t.Fatalf("publish after release: %v", err)
			}
			if got := lg.count() - before; got != 2 {
				t.Fatalf("appended %d readings, want 2", got)
			}
			lg.mu.Lock()
			lg.release = nil
			lg.mu.Unlock()
		})
	}
}

func TestMalformedPack(t *testing.T) {
	h := startBroker(t, &fakeLog{})

	c5, _ := connect5(t, h.addr, "bed4-mon", "bed4-mon", "s3cret", nil)
	pr := publish5(t, c5, "vigil/v1/bed4-mon/senml", malformedPack)
	if pr.ReasonCode != 0x99 {
		t.Fatalf("v5 PUBACK reason = 0x%02x, want 0x99 (payload format invalid)", pr.ReasonCode)
	}
	if pr.Properties == nil || !strings.Contains(pr.Properties.ReasonString, "record 1: v ") {
		t.Fatalf("v5 PUBACK reason string = %+v, want it to name record 1 and field \"v\"", pr.Properties)
	}
	c5.Disconnect(&paho.Disconnect{})

	c3, _ := connect3(t, h.addr, "bed5-mon", "bed5-mon", "s3cret", nil)
	publish3(t, c3, "vigil/v1/bed5-mon/senml", malformedPack) // 3.1.1: a PUBACK all the same
	if got := rejected(t, h, "3.1.1", ingest.ReasonMalformed); got != 1 {
		t.Fatalf(`vigil_mqtt_publishes_rejected_total{protocol="3.1.1",reason="malformed"} = %v, want 1`, got)
	}
	if n := h.log.count(); n != 0 {
		t.Fatalf("%d readings appended from malformed packs, want 0", n)
	}
}

func TestPublishACL(t *testing.T) {
	h := startBroker(t, &fakeLog{})
	tests := []struct {
		topic  string
		want5  byte
		reason string
	}{
		{"vigil/v1/fridge-7/senml", 0x87, reasonNotAuthorized}, // another device of the same tenant
		{"vigil/v1/truck-1/senml", 0x87, reasonNotAuthorized},  // another tenant's device
		{"vigil/v1/t/acme/events", 0x87, reasonNotAuthorized},
		{"vigil/v1/bed4-mon/ble/2a35", 0x83, reasonUnsupported},
		{"vigil/v1/bed4-mon/nonsense", 0x90, reasonUnknownTopic},
	}
	c5, _ := connect5(t, h.addr, "bed4-mon", "bed4-mon", "s3cret", nil)
	c3, _ := connect3(t, h.addr, "bed5-mon", "bed5-mon", "s3cret", nil)
	for _, tt := range tests {
		t.Run(tt.topic, func(t *testing.T) {
			pr := publish5(t, c5, tt.topic, goodPack)
			if pr.ReasonCode != tt.want5 {
				t.Errorf("v5 PUBACK reason = 0x%02x, want 0x%02x", pr.ReasonCode, tt.want5)
			}
			before := rejected(t, h, "3.1.1", tt.reason)
			publish3(t, c3, strings.Replace(tt.topic, "bed4-mon", "bed5-mon", 1), goodPack)
			if got := rejected(t, h, "3.1.1", tt.reason); got != before+1 {
				t.Errorf("3.1.1 rejections (%s) = %v, want %v", tt.reason, got, before+1)
			}
		})
	}
	if n := h.log.count(); n != 0 {
		t.Fatalf("%d readings appended from refused publishes, want 0", n)
	}
	// The device's own topic works, on both protocols.
	if pr := publish5(t, c5, "vigil/v1/bed4-mon/senml", goodPack); pr.ReasonCode != 0 {
		t.Fatalf("own topic: v5 PUBACK reason 0x%02x", pr.ReasonCode)
	}
	publish3(t, c3, "vigil/v1/bed5-mon/senml", goodPack)
	if n := h.log.count(); n != 4 {
		t.Fatalf("%d readings appended, want 4", n)
	}

	// A user may not publish at all.
	u5, _ := connect5(t, h.addr, "user:alice", "alice", "vgt_alice", nil)
	if pr := publish5(t, u5, "vigil/v1/t/acme/x", "{}"); pr.ReasonCode != 0x87 {
		t.Fatalf("user publish: v5 PUBACK reason = 0x%02x, want 0x87", pr.ReasonCode)
	}
}

func TestSubscribeACL(t *testing.T) {
	h := startBroker(t, &fakeLog{})
	tests := []struct {
		who, client, pass string
		filter            string
		ok                bool
	}{
		{"bed4-mon", "bed4-mon", "s3cret", "vigil/v1/bed4-mon/cmd/#", true},
		{"bed4-mon", "bed4-mon", "s3cret", "vigil/v1/bed4-mon/cmd/config", true},
		{"bed4-mon", "bed4-mon", "s3cret", "vigil/v1/fridge-7/cmd/#", false},
		{"bed4-mon", "bed4-mon", "s3cret", "vigil/v1/truck-1/cmd/#", false},
		{"bed4-mon", "bed4-mon", "s3cret", "vigil/v1/+/cmd/#", false},
		{"bed4-mon", "bed4-mon", "s3cret", "vigil/v1/bed4-mon/#", false},
		{"bed4-mon", "bed4-mon", "s3cret", "#", false},
		{"bed4-mon", "bed4-mon", "s3cret", "vigil/v1/t/acme/#", false},
		{"bed4-mon", "bed4-mon", "s3cret", "$share/g/vigil/v1/fridge-7/cmd/#", false},
		{"alice", "user:alice", "vgt_alice", "vigil/v1/t/acme/#", true},
		{"alice", "user:alice", "vgt_alice", "vigil/v1/t/globex/#", false},
		{"alice", "user:alice", "vgt_alice", "vigil/v1/t/+/#", false},
		{"alice", "user:alice", "vgt_alice", "vigil/v1/bed4-mon/senml", false},
	}
	for _, tt := range tests {
		t.Run(tt.who+" "+tt.filter, func(t *testing.T) {
			c5, _ := connect5(t, h.addr, tt.client, tt.who, tt.pass, nil)
			sa, _ := c5.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: tt.filter, QoS: 1}}})
			want5 := byte(0x87)
			if tt.ok {
				want5 = 1
			}
			if sa == nil || len(sa.Reasons) != 1 || sa.Reasons[0] != want5 {
				t.Errorf("v5 SUBACK = %+v, want [0x%02x]", sa, want5)
			}
			c5.Disconnect(&paho.Disconnect{})

			c3, _ := connect3(t, h.addr, tt.client, tt.who, tt.pass, nil)
			tok := c3.Subscribe(tt.filter, 1, nil)
			if !tok.WaitTimeout(10 * time.Second) {
				t.Fatal("3.1.1: no SUBACK")
			}
			want3 := byte(0x80)
			if tt.ok {
				want3 = 1
			}
			key := strings.TrimPrefix(tt.filter, "$share/g/") // paho keys shared filters without the prefix
			if got, ok := tok.(*mqtt3.SubscribeToken).Result()[key]; !ok || got != want3 {
				t.Errorf("3.1.1 SUBACK = %v, want %s: 0x%02x", tok.(*mqtt3.SubscribeToken).Result(), tt.filter, want3)
			}
			c3.Disconnect(100)
		})
	}
}

func TestLogUnavailableIsNotAcknowledged(t *testing.T) {
	lg := &fakeLog{fail: errors.New("jetstream down")}
	h := startBroker(t, lg)

	c5, _ := connect5(t, h.addr, "bed4-mon", "bed4-mon", "s3cret", nil)
	if pr := publish5(t, c5, "vigil/v1/bed4-mon/senml", goodPack); pr.ReasonCode != 0x80 {
		t.Fatalf("v5 PUBACK reason = 0x%02x, want 0x80", pr.ReasonCode)
	}

	lost := make(chan error, 1)
	c3, _ := connect3(t, h.addr, "fridge-7", "fridge-7", "s3cret", func(err error) { lost <- err })
	tok := c3.Publish("vigil/v1/fridge-7/senml", 1, false, goodPack)
	select {
	case <-lost: // 3.1.1: the connection is closed so that the client resends on reconnect
	case <-time.After(10 * time.Second):
		t.Fatal("3.1.1: connection not closed after the log failed")
	}
	if tok.WaitTimeout(100*time.Millisecond) && tok.Error() == nil {
		t.Fatal("3.1.1: publish acknowledged although the log failed")
	}
}

func TestConnectivity(t *testing.T) {
	h := startBroker(t, &fakeLog{})
	got := make(chan string, 8)
	u5, _ := connect5(t, h.addr, "user:alice", "alice", "vgt_alice", func(pr paho.PublishReceived) {
		got <- pr.Packet.Topic + " " + string(pr.Packet.Payload)
	})
	if sa, err := u5.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "vigil/v1/t/acme/#", QoS: 1}}}); err != nil {
		t.Fatalf("subscribe: %v (%+v)", err, sa)
	}

	c3, _ := connect3(t, h.addr, "bed6-mon", "bed6-mon", "s3cret", nil)
	wantEvent(t, h.conns.seen, "acme/bed6-mon connected=true")
	wantAnnouncement(t, got, "vigil/v1/t/acme/devices/bed6-mon/connectivity", `"connected":true`)
	c3.Disconnect(100)
	wantEvent(t, h.conns.seen, "acme/bed6-mon connected=false")
	wantAnnouncement(t, got, "vigil/v1/t/acme/devices/bed6-mon/connectivity", `"connected":false`)

	// Another tenant's device is not announced to alice.
	c, _ := connect3(t, h.addr, "truck-1", "truck-1", "s3cret", nil)
	wantEvent(t, h.conns.seen, "globex/truck-1 connected=true")
	c.Disconnect(100)
	wantEvent(t, h.conns.seen, "globex/truck-1 connected=false")
	select {
	case m := <-got:
		t.Fatalf("alice (acme) received %s", m)
	case <-time.After(200 * time.Millisecond):
	}
}

func wantEvent(t *testing.T, ch chan string, want string) {
	t.Helper()
	select {
	case got := <-ch:
		if got != want {
			t.Fatalf("connectivity event %q, want %q", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no connectivity event, want %q", want)
	}
}

func wantAnnouncement(t *testing.T, ch chan string, topic, contains string) {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case got := <-ch:
			if !strings.HasPrefix(got, topic+" ") {
				t.Fatalf("announcement %q, want topic %s containing %s", got, topic, contains)
			}
			if strings.Contains(got, contains) {
				return
			}
			// A repeat of the device's previous state (the retained announcement may arrive
			// again); the state change must still follow.
		case <-timeout:
			t.Fatalf("no announcement on %s containing %s", topic, contains)
		}
	}
}

// TestPublishAlarm: an alarm notification reaches a user subscribed to the tenant's topics.
func TestPublishAlarm(t *testing.T) {
	h := startBroker(t, &fakeLog{})
	got := make(chan string, 8)
	u5, _ := connect5(t, h.addr, "user:alice", "alice", "vgt_alice", func(pr paho.PublishReceived) {
		got <- pr.Packet.Topic + " " + string(pr.Packet.Payload)
	})
	if sa, err := u5.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "vigil/v1/t/acme/alarms", QoS: 1}}}); err != nil {
		t.Fatalf("subscribe: %v (%+v)", err, sa)
	}
	if err := h.b.PublishAlarm("globex", []byte(`{"id":"other"}`)); err != nil {
		t.Fatal(err)
	}
	if err := h.b.PublishAlarm("acme", []byte(`{"id":"n1"}`)); err != nil {
		t.Fatal(err)
	}
	select {
	case m := <-got:
		if m != `vigil/v1/t/acme/alarms {"id":"n1"}` {
			t.Fatalf("received %s", m)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alarm notification")
	}
}

// TestSlowSubscriberDropped: a subscriber that stops reading gets at most
// clientWritesPending messages queued; the rest are counted in vigil_mqtt_dropped_total
// instead of growing the broker's memory, and the broker keeps serving other clients.
func TestSlowSubscriberDropped(t *testing.T) {
	h := startBroker(t, &fakeLog{})
	stall := make(chan struct{})
	defer close(stall)
	u5, _ := connect5(t, h.addr, "user:alice", "alice", "vgt_alice", func(paho.PublishReceived) { <-stall })
	if sa, err := u5.Subscribe(t.Context(), &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: "vigil/v1/t/acme/alarms", QoS: 0}}}); err != nil {
		t.Fatalf("subscribe: %v (%+v)", err, sa)
	}
	payload := bytes.Repeat([]byte("x"), 16<<10)
	const n = 4 * clientWritesPending // 64 MiB: more than socket buffers and the queue hold
	for range n {
		if err := h.b.srv.Publish(AlarmTopic("acme"), payload, false, 0); err != nil {
			t.Fatal(err)
		}
	}
	dropped := func() float64 {
		mfs, _ := h.reg.Gather()
		for _, mf := range mfs {
			if mf.GetName() == "vigil_mqtt_dropped_total" {
				return mf.GetMetric()[0].GetCounter().GetValue()
			}
		}
		return -1
	}
	deadline := time.Now().Add(10 * time.Second)
	for dropped() <= 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if d := dropped(); d <= 0 || d >= n {
		t.Fatalf("vigil_mqtt_dropped_total = %v, want some but not all of %d", d, n)
	}
	if _, code := connect3(t, h.addr, "bed4-mon", "bed4-mon", "s3cret", nil); code != 0 {
		t.Fatalf("a device connecting meanwhile: CONNACK %d, want 0", code)
	}
}
