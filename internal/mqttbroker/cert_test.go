package mqttbroker

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"log/slog"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"
	mqtt3 "github.com/eclipse/paho.mqtt.golang"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/devicecert"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/store"
)

// testCA is a certificate authority made in the test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " device CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// leafOpts describes a certificate issued by a testCA.
type leafOpts struct {
	cn, ou    string
	notBefore time.Time // zero: an hour ago
	notAfter  time.Time // zero: in a day
	eku       []x509.ExtKeyUsage
	ips       []net.IP
}

func (ca *testCA) issue(t *testing.T, o leafOpts) tls.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Hour)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(24 * time.Hour)
	}
	if o.eku == nil {
		o.eku = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	subj := pkix.Name{CommonName: o.cn}
	if o.ou != "" {
		subj.OrganizationalUnit = []string{o.ou}
	}
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: subj, NotBefore: o.notBefore, NotAfter: o.notAfter,
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: o.eku, IPAddresses: o.ips}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}

// fakeRegistry is the store as certificate authentication sees it.
type fakeRegistry struct {
	mu          sync.Mutex // guards everything below
	tenants     map[string]map[string]string
	devices     map[string]store.Device
	tenantReads int
}

func (f *fakeRegistry) Tenants(context.Context) ([]store.Tenant, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenantReads++
	var out []store.Tenant
	for id, s := range f.tenants {
		cp := map[string]string{}
		for k, v := range s {
			cp[k] = v
		}
		out = append(out, store.Tenant{ID: id, Settings: cp})
	}
	return out, nil
}

func (f *fakeRegistry) DeviceByID(_ context.Context, id string) (store.Device, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d, ok := f.devices[id]
	if !ok {
		return store.Device{}, store.ErrNotFound
	}
	return d, nil
}

func (f *fakeRegistry) CreateDevice(_ context.Context, d store.Device) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.devices[d.ID]; ok {
		return store.ErrConflict
	}
	f.devices[d.ID] = d
	return nil
}

func (f *fakeRegistry) set(tenant, key, value string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.tenants[tenant][key] = value
}

// fakeAudit records audit entries.
type fakeAudit struct {
	mu   sync.Mutex
	recs []store.AuditRecord
}

func (f *fakeAudit) Record(_ context.Context, rec store.AuditRecord) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.recs = append(f.recs, rec)
	return nil
}

func (f *fakeAudit) records() []store.AuditRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]store.AuditRecord(nil), f.recs...)
}

// fakeClock is a settable clock.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type certHarness struct {
	addr     string
	roots    *x509.CertPool // trusts the broker's server certificate
	acme     *testCA
	globex   *testCA
	reg      *fakeRegistry
	audit    *fakeAudit
	log      *fakeLog
	clock    *fakeClock
	prom     *prometheus.Registry
	password *fakeAuth
}

// startCertBroker runs a broker with a TLS listener and client-certificate authentication:
// tenant acme (CA "acme", no auto-provisioning) has bed4-mon and the revoked old-mon; tenant
// globex (CA "globex", auto-provisioning on) has truck-1.
func startCertBroker(t *testing.T) *certHarness {
	t.Helper()
	h := &certHarness{acme: newTestCA(t, "acme"), globex: newTestCA(t, "globex"), audit: &fakeAudit{},
		log: &fakeLog{entered: make(chan struct{}, 16)}, clock: &fakeClock{t: time.Now()}, prom: prometheus.NewRegistry()}
	h.reg = &fakeRegistry{
		tenants: map[string]map[string]string{
			"acme":    {devicecert.SettingCA: h.acme.pem},
			"globex":  {devicecert.SettingCA: h.globex.pem, devicecert.SettingAutoProvision: "true"},
			"initech": {}, // no device CA
		},
		devices: map[string]store.Device{
			"bed4-mon": {ID: "bed4-mon", Tenant: "acme", Kind: "patient", Subject: "P-1"},
			"old-mon":  {ID: "old-mon", Tenant: "acme", Kind: "patient", Subject: "P-2", Revoked: true},
			"truck-1":  {ID: "truck-1", Tenant: "globex", Kind: "environment", Subject: "TRUCK-1"},
		},
	}
	h.password = &fakeAuth{devices: map[string]store.Device{"bed4-mon/s3cret": h.reg.devices["bed4-mon"]}}
	server := newTestCA(t, "server")
	h.roots = x509.NewCertPool()
	h.roots.AddCert(server.cert)
	srvCert := server.issue(t, leafOpts{cn: "broker", eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, ips: []net.IP{net.IPv4(127, 0, 0, 1)}})
	b, err := New(Config{
		TLSAddr:    "127.0.0.1:0",
		TLS:        &tls.Config{Certificates: []tls.Certificate{srvCert}, MinVersion: tls.VersionTLS12},
		Ingest:     ingest.NewPipeline(h.log, time.Now, ingest.NewMetrics(h.prom)),
		Auth:       h.password,
		Devices:    h.reg,
		Audit:      h.audit,
		Registerer: h.prom,
		Log:        slog.New(slog.DiscardHandler),
		Now:        h.clock.now,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- b.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	h.addr = b.Addr("tls").String()
	return h
}

func (h *certHarness) clientTLS(cert *tls.Certificate) *tls.Config {
	c := &tls.Config{RootCAs: h.roots, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{*cert}
	}
	return c
}

// connectTLS3 connects over TLS with MQTT 3.1.1 and returns the CONNACK return code; the client
// is disconnected again.
func (h *certHarness) connectTLS3(t *testing.T, clientID, user, pass string, cert *tls.Certificate) byte {
	t.Helper()
	opts := mqtt3.NewClientOptions().AddBroker("tls://" + h.addr).SetClientID(clientID).SetTLSConfig(h.clientTLS(cert)).
		SetUsername(user).SetPassword(pass).SetProtocolVersion(4).SetCleanSession(true).
		SetAutoReconnect(false).SetConnectRetry(false).SetConnectTimeout(5 * time.Second)
	c := mqtt3.NewClient(opts)
	tok := c.Connect()
	if !tok.WaitTimeout(10 * time.Second) {
		t.Fatal("3.1.1 connect over TLS: no CONNACK")
	}
	code := tok.(*mqtt3.ConnectToken).ReturnCode()
	if code == 0 {
		c.Disconnect(100)
	}
	return code
}

// connectTLS5 connects over TLS with MQTT 5; the client is disconnected at the test's end.
func (h *certHarness) connectTLS5(t *testing.T, clientID, user, pass string, cert *tls.Certificate) (*paho.Client, *paho.Connack) {
	t.Helper()
	conn, err := tls.Dial("tcp", h.addr, h.clientTLS(cert))
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: conn})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: clientID, KeepAlive: 30, CleanStart: true}
	if user != "" {
		cp.Username, cp.UsernameFlag = user, true
	}
	if pass != "" {
		cp.Password, cp.PasswordFlag = []byte(pass), true
	}
	ca, err := c.Connect(ctx, cp)
	if ca == nil {
		t.Fatalf("v5 connect over TLS: %v", err)
	}
	if ca.ReasonCode == 0 {
		t.Cleanup(func() { c.Disconnect(&paho.Disconnect{}) })
	} else {
		conn.Close()
	}
	return c, ca
}

func TestClientCertificateConnect(t *testing.T) {
	h := startCertBroker(t)
	acmeBed4 := h.acme.issue(t, leafOpts{cn: "bed4-mon"})
	tests := []struct {
		name         string
		client, user string
		pass         string
		cert         tls.Certificate
		want3, want5 byte
	}{
		{"registered device, its tenant's CA", "bed4-mon", "", "", acmeBed4, 0x00, 0x00},
		{"username equal to the CN", "bed4-mon", "bed4-mon", "", acmeBed4, 0x00, 0x00},
		{"another tenant's CA", "bed4-mon", "", "", h.globex.issue(t, leafOpts{cn: "bed4-mon"}), 0x04, 0x86},
		{"expired", "bed4-mon", "", "", h.acme.issue(t, leafOpts{cn: "bed4-mon",
			notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-time.Hour)}), 0x04, 0x86},
		{"not yet valid", "bed4-mon", "", "", h.acme.issue(t, leafOpts{cn: "bed4-mon",
			notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(48 * time.Hour)}), 0x04, 0x86},
		{"server-only key usage", "bed4-mon", "", "", h.acme.issue(t, leafOpts{cn: "bed4-mon",
			eku: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}), 0x04, 0x86},
		{"self-signed by the device", "bed4-mon", "", "", newTestCA(t, "bed4-mon").issue(t, leafOpts{cn: "bed4-mon"}), 0x04, 0x86},
		{"revoked device, valid certificate", "old-mon", "", "", h.acme.issue(t, leafOpts{cn: "old-mon"}), 0x05, 0x87},
		{"client id is not the CN", "fridge-7", "", "", acmeBed4, 0x02, 0x85},
		{"username is not the CN", "bed4-mon", "fridge-7", "", acmeBed4, 0x04, 0x86},
		{"unknown device, tenant without auto-provisioning", "bed99-mon", "", "", h.acme.issue(t, leafOpts{cn: "bed99-mon"}), 0x04, 0x86},
		{"CN not usable as a topic level", "bed/4", "", "", h.acme.issue(t, leafOpts{cn: "bed/4"}), 0x02, 0x85},
		// A password wins over the certificate: the secret is checked as without one.
		{"certificate and the right secret", "bed4-mon", "bed4-mon", "s3cret", h.globex.issue(t, leafOpts{cn: "x"}), 0x00, 0x00},
		{"certificate and a wrong secret", "bed4-mon", "bed4-mon", "wrong", acmeBed4, 0x04, 0x86},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := h.connectTLS3(t, tt.client, tt.user, tt.pass, &tt.cert); got != tt.want3 {
				t.Errorf("3.1.1 CONNACK return code = 0x%02x, want 0x%02x", got, tt.want3)
			}
			if _, ca := h.connectTLS5(t, tt.client, tt.user, tt.pass, &tt.cert); ca.ReasonCode != tt.want5 {
				t.Errorf("v5 CONNACK reason code = 0x%02x, want 0x%02x", ca.ReasonCode, tt.want5)
			}
		})
	}
	if recs := h.audit.records(); len(recs) != 0 {
		t.Fatalf("audit records %+v, want none (nothing was provisioned)", recs)
	}
	if n := func() int { h.reg.mu.Lock(); defer h.reg.mu.Unlock(); return len(h.reg.devices) }(); n != 3 {
		t.Fatalf("%d devices registered, want the 3 of the fixture", n)
	}

	// Without a certificate, over TLS, the secret works as before.
	if got := h.connectTLS3(t, "bed4-mon", "bed4-mon", "s3cret", nil); got != 0 {
		t.Fatalf("secret without a certificate: 3.1.1 CONNACK 0x%02x", got)
	}
	if _, ca := h.connectTLS5(t, "bed4-mon", "bed4-mon", "", nil); ca.ReasonCode != 0x86 {
		t.Fatalf("neither certificate nor secret: v5 CONNACK 0x%02x, want 0x86", ca.ReasonCode)
	}
}

// TestClientCertificatePublish: a device authenticated by certificate publishes as itself.
func TestClientCertificatePublish(t *testing.T) {
	h := startCertBroker(t)
	cert := h.acme.issue(t, leafOpts{cn: "bed4-mon"})
	c, ca := h.connectTLS5(t, "bed4-mon", "", "", &cert)
	if ca.ReasonCode != 0 {
		t.Fatalf("v5 CONNACK 0x%02x", ca.ReasonCode)
	}
	if pr := publish5(t, c, "vigil/v1/bed4-mon/senml", goodPack); pr.ReasonCode != 0 {
		t.Fatalf("own topic: PUBACK 0x%02x", pr.ReasonCode)
	}
	if pr := publish5(t, c, "vigil/v1/truck-1/senml", goodPack); pr.ReasonCode != 0x87 {
		t.Fatalf("another device's topic: PUBACK 0x%02x, want 0x87", pr.ReasonCode)
	}
	h.log.mu.Lock()
	defer h.log.mu.Unlock()
	if len(h.log.readings) != 2 || h.log.readings[0].Tenant != "acme" || h.log.readings[0].Subject != "P-1" {
		t.Fatalf("appended %+v, want the 2 readings of acme's bed4-mon (subject P-1)", h.log.readings)
	}
}

func TestAutoProvisioning(t *testing.T) {
	h := startCertBroker(t)

	// globex auto-provisions: an unknown device with a globex certificate is registered once.
	fridge := h.globex.issue(t, leafOpts{cn: "fridge-9", ou: "environment"})
	c, ca := h.connectTLS5(t, "fridge-9", "", "", &fridge)
	if ca.ReasonCode != 0 {
		t.Fatalf("first connect: v5 CONNACK 0x%02x, want 0", ca.ReasonCode)
	}
	d, err := h.reg.DeviceByID(t.Context(), "fridge-9")
	if err != nil || d.Tenant != "globex" || d.Kind != "environment" || d.Subject != "fridge-9" || d.SecretHash == "" || d.Revoked {
		t.Fatalf("registered %+v (%v), want fridge-9 in globex, kind environment, subject fridge-9, a secret hash", d, err)
	}
	if pr := publish5(t, c, "vigil/v1/fridge-9/senml", goodPack); pr.ReasonCode != 0 {
		t.Fatalf("publish of the provisioned device: PUBACK 0x%02x", pr.ReasonCode)
	}
	c.Disconnect(&paho.Disconnect{})
	if got := h.connectTLS3(t, "fridge-9", "", "", &fridge); got != 0 {
		t.Fatalf("second connect: 3.1.1 CONNACK 0x%02x", got)
	}
	recs := h.audit.records()
	if len(recs) != 1 {
		t.Fatalf("%d audit records, want 1 (first connect only): %+v", len(recs), recs)
	}
	r := recs[0]
	if r.Tenant != "globex" || r.Actor != "system:mqtt" || r.Action != "device.auto_provision" || r.Target != "device:fridge-9" ||
		!strings.Contains(r.New, `"kind":"environment"`) || !strings.Contains(r.New, "CN=fridge-9") {
		t.Fatalf("audit record %+v", r)
	}

	// An OU that is not a device kind gives kind "".
	odd := h.globex.issue(t, leafOpts{cn: "gw-1", ou: "Engineering"})
	if got := h.connectTLS3(t, "gw-1", "", "", &odd); got != 0 {
		t.Fatalf("gw-1: 3.1.1 CONNACK 0x%02x", got)
	}
	if d, _ := h.reg.DeviceByID(t.Context(), "gw-1"); d.Kind != "" {
		t.Fatalf("gw-1 kind %q, want \"\"", d.Kind)
	}

	// acme does not auto-provision: refused, nothing registered; enabled, the next connect
	// (a second later: the CAs are re-read on a miss at most once a second) registers it.
	mon := h.acme.issue(t, leafOpts{cn: "bed12-mon", ou: "monitor"})
	if got := h.connectTLS3(t, "bed12-mon", "", "", &mon); got != 0x04 {
		t.Fatalf("acme without auto-provisioning: 3.1.1 CONNACK 0x%02x, want 0x04", got)
	}
	if _, err := h.reg.DeviceByID(t.Context(), "bed12-mon"); err == nil {
		t.Fatal("bed12-mon registered although acme does not auto-provision")
	}
	h.reg.set("acme", devicecert.SettingAutoProvision, "true")
	h.clock.advance(minCAReload)
	if _, ca := h.connectTLS5(t, "bed12-mon", "", "", &mon); ca.ReasonCode != 0 {
		t.Fatalf("acme with auto-provisioning: v5 CONNACK 0x%02x, want 0", ca.ReasonCode)
	}
	if d, err := h.reg.DeviceByID(t.Context(), "bed12-mon"); err != nil || d.Tenant != "acme" || d.Kind != "monitor" {
		t.Fatalf("bed12-mon registered as %+v (%v), want tenant acme, kind monitor", d, err)
	}

	// A certificate of no tenant's CA registers nothing, and re-reads the CAs at most once a second.
	reads := func() int { h.reg.mu.Lock(); defer h.reg.mu.Unlock(); return h.reg.tenantReads }
	h.clock.advance(minCAReload)
	before := reads()
	stranger := newTestCA(t, "stranger").issue(t, leafOpts{cn: "intruder"})
	for range 3 {
		if got := h.connectTLS3(t, "intruder", "", "", &stranger); got != 0x04 {
			t.Fatalf("stranger's certificate: 3.1.1 CONNACK 0x%02x, want 0x04", got)
		}
	}
	if got := reads() - before; got != 1 {
		t.Fatalf("the CAs were read %d times for 3 refused connects in one second, want 1", got)
	}
	if n := len(h.audit.records()); n != 3 {
		t.Fatalf("%d audit records, want 3 (fridge-9, gw-1, bed12-mon)", n)
	}
}
