package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	mqtt3 "github.com/eclipse/paho.mqtt.golang"
)

// TestMQTTKill9KeepsAcknowledgedReadings: real MQTT clients (paho 3.1.1 with persistent
// sessions, and mosquitto_pub) publish QoS 1 packs to the real binary, which is SIGKILLed
// mid-stream and restarted on the same data directory and MQTT port. The paho clients reconnect
// and resend what was not acknowledged; every PUBACKed reading must then be stored exactly once.
func TestMQTTKill9KeepsAcknowledgedReadings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not installed (apt-get install mosquitto-clients; .ci/run does)")
	}
	dir := t.TempDir()
	mqttAddr := freePort(t)
	p := startVigil(t, dir, nil, "--mqtt", mqttAddr)
	admin := loginAdmin(t, p.url)
	tenant, devs := setupTenant(t, admin, "MQTT Kill Nine", 7, "monitor")
	pahoDevs, mosqDev := devs[:6], devs[6]

	const perPack = 20
	type ack struct {
		subject string
		t0      time.Time
	}
	var (
		mu    sync.Mutex
		acked []ack
		wg    sync.WaitGroup
	)
	record := func(i int, t0 time.Time) {
		mu.Lock()
		acked = append(acked, ack{fmt.Sprintf("%s-subj-%03d", tenant, i), t0})
		mu.Unlock()
	}
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	stop := make(chan struct{})
	for i, d := range pahoDevs {
		opts := mqtt3.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID(d.id).
			SetUsername(d.id).SetPassword(d.secret).SetProtocolVersion(4).
			SetCleanSession(false). // persistent session: in-flight messages are resent on reconnect
			SetAutoReconnect(true).SetConnectRetry(true).SetConnectRetryInterval(100 * time.Millisecond).
			SetMaxReconnectInterval(200 * time.Millisecond).SetStore(mqtt3.NewMemoryStore())
		c := mqtt3.NewClient(opts)
		if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
			t.Fatalf("connect %s: %v", d.id, tok.Error())
		}
		t.Cleanup(func() { c.Disconnect(100) })
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := base.Add(time.Duration(k*perPack) * time.Millisecond)
				tok := c.Publish("vigil/v1/"+d.id+"/senml", 1, false, hrPack(d.id, t0, perPack, 60))
				// Across the kill this waits for the reconnect and the resend's PUBACK.
				if !tok.WaitTimeout(90 * time.Second) {
					t.Errorf("%s: pack %d never acknowledged", d.id, k)
					return
				}
				if tok.Error() != nil {
					t.Errorf("%s: pack %d: %v", d.id, k, tok.Error())
					return
				}
				record(i, t0)
			}
		}()
	}
	// mosquitto_pub: one process per pack; exit status 0 means its PUBACK arrived.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for k := 0; ; k++ {
			select {
			case <-stop:
				return
			default:
			}
			t0 := base.Add(time.Duration(k*perPack) * time.Millisecond)
			host, port, _ := strings.Cut(mqttAddr, ":")
			cmd := exec.Command("mosquitto_pub", "-h", host, "-p", port, "-V", "mqttv311", "-q", "1",
				"-i", mosqDev.id, "-u", mosqDev.id, "-P", mosqDev.secret,
				"-t", "vigil/v1/"+mosqDev.id+"/senml", "-m", string(hrPack(mosqDev.id, t0, perPack, 60)))
			if cmd.Run() == nil {
				record(6, t0)
			}
		}
	}()

	time.Sleep(2 * time.Second)
	p.kill(t) // SIGKILL mid-stream
	mu.Lock()
	atKill := len(acked)
	mu.Unlock()
	p2 := startVigil(t, dir, nil, "--mqtt", mqttAddr) // same data and port: the clients reconnect
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if atKill < 20 {
		t.Fatalf("only %d packs acknowledged before the kill; the test needs traffic", atKill)
	}
	t.Logf("%d packs acknowledged before SIGKILL, %d in all", atKill, n)

	admin2 := loginAdmin(t, p2.url)
	want := map[string]map[int64]bool{} // subject → measured ms
	for _, a := range acked {
		if want[a.subject] == nil {
			want[a.subject] = map[int64]bool{}
		}
		for j := range perPack {
			want[a.subject][a.t0.Add(time.Duration(j)*time.Millisecond).UnixMilli()] = true
		}
	}
	if len(want) != 7 {
		t.Fatalf("acknowledged packs from %d devices, want 7 (6 paho, 1 mosquitto_pub)", len(want))
	}
	waitStoredOnce(t, admin2, tenant, want, base.Add(-time.Minute), base.Add(time.Hour))
}

// TestMosquittoClients uses mosquitto_pub and mosquitto_sub against the embedded broker over
// TCP and TLS (the self-signed certificate Vigil makes, given to the clients as their CA): a
// device publishes a pack, a user of the tenant subscribes with an API token and sees the
// device's connectivity, and a device cannot publish as another device.
func TestMosquittoClients(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	for _, tool := range []string{"mosquitto_pub", "mosquitto_sub"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not installed (apt-get install mosquitto-clients; .ci/run does)", tool)
		}
	}
	dir := t.TempDir()
	tcpAddr, tlsAddr := freePort(t), freePort(t)
	p := startVigil(t, dir, nil, "--mqtt", tcpAddr, "--mqtt-tls", tlsAddr)
	admin := loginAdmin(t, p.url)
	tenant, devs := setupTenant(t, admin, "Mosquitto", 2, "monitor")
	admin.must("POST", "/api/v1/tenants/"+tenant+"/users", map[string]string{
		"username": "nurse-" + tenant, "password": "a long enough password", "role": "nurse"}, 201, nil)
	nurse := &api{t: t, base: p.url}
	var login struct {
		Token string `json:"token"`
	}
	nurse.must("POST", "/api/v1/login", map[string]string{"username": "nurse-" + tenant, "password": "a long enough password"}, 200, &login)
	nurse.token = login.Token
	var tok struct {
		Token string `json:"token"`
	}
	nurse.must("POST", "/api/v1/tokens", nil, 201, &tok)
	caFile := filepath.Join(dir, "tls", "self-signed.crt")

	for _, tr := range []struct {
		name string
		addr string
		tls  []string
	}{
		{"tcp", tcpAddr, nil},
		{"tls", tlsAddr, []string{"--cafile", caFile}},
	} {
		t.Run(tr.name, func(t *testing.T) {
			host, port, _ := strings.Cut(tr.addr, ":")
			conn := append([]string{"-h", host, "-p", port}, tr.tls...)
			d := devs[0]
			base := time.Now().Add(-time.Minute).Truncate(time.Second)
			if tr.name == "tls" {
				base = base.Add(-time.Minute)
			}
			args := append(append([]string{}, conn...), "-q", "1", "-i", d.id, "-u", d.id, "-P", d.secret,
				"-t", "vigil/v1/"+d.id+"/senml", "-m", string(hrPack(d.id, base, 5, 70)))
			if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub %v: %v\n%s", args, err, out)
			}
			var out struct {
				Points []struct {
					V float64 `json:"v"`
				} `json:"points"`
			}
			q := fmt.Sprintf("/api/v1/tenants/%s/subjects/%s-subj-000/readings?metric=hr&from=%s&to=%s",
				tenant, tenant, base.Format(time.RFC3339), base.Add(time.Second).Format(time.RFC3339))
			deadline := time.Now().Add(30 * time.Second)
			for len(out.Points) != 5 && time.Now().Before(deadline) {
				time.Sleep(100 * time.Millisecond)
				admin.must("GET", q, nil, 200, &out)
			}
			if len(out.Points) != 5 {
				t.Fatalf("stored %d readings of the pack, want 5", len(out.Points))
			}

			// The user sees the (retained) connectivity of the tenant's devices, and nothing else.
			sub := append(append([]string{}, conn...), "-V", "mqttv5", "-i", "user:nurse-"+tenant+":"+tr.name,
				"-u", "nurse-"+tenant, "-P", tok.Token, "-t", "vigil/v1/t/"+tenant+"/devices/"+d.id+"/connectivity",
				"-C", "1", "-W", "20", "-v")
			msg, err := exec.Command("mosquitto_sub", sub...).CombinedOutput()
			if err != nil || !strings.Contains(string(msg), `"device":"`+d.id+`"`) {
				t.Fatalf("mosquitto_sub %v: %v\n%s", sub, err, msg)
			}

			// Publishing as another device is refused: MQTT 5 gets PUBACK 0x87 with a reason,
			// which mosquitto_pub prints as a warning (its exit status stays 0).
			other := append(append([]string{}, conn...), "-V", "mqttv5", "-q", "1", "-i", d.id, "-u", d.id, "-P", d.secret,
				"-t", "vigil/v1/"+devs[1].id+"/senml", "-m", string(hrPack(devs[1].id, base, 1, 70)))
			if out, _ := exec.Command("mosquitto_pub", other...).CombinedOutput(); !strings.Contains(string(out), "Not authorized") ||
				!strings.Contains(string(out), "a device publishes only under vigil/v1/"+d.id+"/") {
				t.Fatalf("mosquitto_pub as %s to %s's topic: want PUBACK 0x87 with a reason, got:\n%s", d.id, devs[1].id, out)
			}
			// A wrong secret is refused at CONNECT.
			bad := append(append([]string{}, conn...), "-q", "1", "-i", d.id, "-u", d.id, "-P", "wrong",
				"-t", "vigil/v1/"+d.id+"/senml", "-m", "[]")
			if out, err := exec.Command("mosquitto_pub", bad...).CombinedOutput(); err == nil {
				t.Fatalf("mosquitto_pub with a wrong secret succeeded:\n%s", out)
			}
		})
	}
}

// TestMQTTClientCertificates: mosquitto_pub authenticates by a client certificate from the
// tenant's device CA (set through the settings API) over the TLS listener, with no password:
// a registered device's QoS 1 pack reaches the readings API; an unknown device is refused until
// the tenant enables auto-provisioning, then registered on its first connect (audited) and its
// pack stored under its own id as subject.
func TestMQTTClientCertificates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the real binary")
	}
	if _, err := exec.LookPath("mosquitto_pub"); err != nil {
		t.Fatal("mosquitto_pub not installed (apt-get install mosquitto-clients; .ci/run does)")
	}
	dir := t.TempDir()
	tlsAddr := freePort(t)
	p := startVigil(t, dir, nil, "--mqtt-tls", tlsAddr)
	admin := loginAdmin(t, p.url)
	tenant, devs := setupTenant(t, admin, "Cert Fleet", 1, "monitor")
	ca := newFileCA(t, dir, "ca")
	admin.must("PUT", "/api/v1/tenants/"+tenant+"/settings", map[string]string{"mqtt.device_ca": ca.pem}, 200, nil)

	host, port, _ := strings.Cut(tlsAddr, ":")
	pub := func(id, certFile, keyFile string, pack []byte) ([]byte, error) {
		return exec.Command("mosquitto_pub", "-h", host, "-p", port, "--cafile", filepath.Join(dir, "tls", "self-signed.crt"),
			"--cert", certFile, "--key", keyFile, "-V", "mqttv311", "-q", "1", "-i", id,
			"-t", "vigil/v1/"+id+"/senml", "-m", string(pack)).CombinedOutput()
	}
	waitReadings := func(subject string, base time.Time, want int) {
		t.Helper()
		var out struct {
			Points []struct {
				V float64 `json:"v"`
			} `json:"points"`
		}
		q := fmt.Sprintf("/api/v1/tenants/%s/subjects/%s/readings?metric=hr&from=%s&to=%s",
			tenant, subject, base.Format(time.RFC3339), base.Add(time.Second).Format(time.RFC3339))
		for deadline := time.Now().Add(30 * time.Second); len(out.Points) != want && time.Now().Before(deadline); {
			time.Sleep(100 * time.Millisecond)
			admin.must("GET", q, nil, 200, &out)
		}
		if len(out.Points) != want {
			t.Fatalf("subject %s: %d readings stored, want %d", subject, len(out.Points), want)
		}
	}

	// A registered device, by certificate alone.
	base := time.Now().Add(-time.Minute).Truncate(time.Second)
	crt, key := ca.issue(t, devs[0].id, "")
	if out, err := pub(devs[0].id, crt, key, hrPack(devs[0].id, base, 5, 70)); err != nil {
		t.Fatalf("mosquitto_pub with %s's certificate: %v\n%s", devs[0].id, err, out)
	}
	waitReadings(tenant+"-subj-000", base, 5)

	// An unknown device: refused, then auto-provisioned once the tenant allows it.
	newID := tenant + "-auto-1"
	crt, key = ca.issue(t, newID, "monitor")
	if out, err := pub(newID, crt, key, hrPack(newID, base, 3, 80)); err == nil {
		t.Fatalf("unknown device accepted without auto-provisioning:\n%s", out)
	}
	admin.must("PUT", "/api/v1/tenants/"+tenant+"/settings", map[string]string{
		"mqtt.device_ca": ca.pem, "mqtt.auto_provision": "true"}, 200, nil)
	var err error
	var out []byte
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
		if out, err = pub(newID, crt, key, hrPack(newID, base, 3, 80)); err == nil {
			break // the broker re-reads the CAs on a miss at most once a second
		}
	}
	if err != nil {
		t.Fatalf("auto-provisioning connect: %v\n%s", err, out)
	}
	waitReadings(newID, base, 3)
	var dev struct {
		Kind    string `json:"kind"`
		Subject string `json:"subject"`
	}
	admin.must("GET", "/api/v1/tenants/"+tenant+"/devices/"+newID, nil, 200, &dev)
	if dev.Kind != "monitor" || dev.Subject != newID {
		t.Fatalf("auto-provisioned device %+v, want kind monitor, subject %s", dev, newID)
	}
	var trail struct {
		Entries []struct {
			Actor, Action, Target string
		} `json:"entries"`
	}
	admin.must("GET", "/api/v1/tenants/"+tenant+"/audit", nil, 200, &trail)
	n := 0
	for _, e := range trail.Entries {
		if e.Action == "device.auto_provision" {
			n++
			if e.Actor != "system:mqtt" || e.Target != "device:"+newID {
				t.Fatalf("audit entry %+v", e)
			}
		}
	}
	if n != 1 {
		t.Fatalf("%d device.auto_provision audit entries, want 1", n)
	}
	var rep struct {
		OK bool `json:"ok"`
	}
	admin.must("GET", "/api/v1/audit/verify", nil, 200, &rep)
	if !rep.OK {
		t.Fatal("audit chain broken after auto-provisioning")
	}
}

// fileCA is a device CA made by a test, whose certificates and keys are written as files for
// mosquitto_pub.
type fileCA struct {
	dir  string
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  string
}

func newFileCA(t *testing.T, dir, name string) *fileCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name + " device CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &fileCA{dir: dir, cert: cert, key: key, pem: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))}
}

// issue writes a client certificate for device cn (OU ou, if given) and its key, and returns
// their file names.
func (ca *fileCA) issue(t *testing.T, cn, ou string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	subj := pkix.Name{CommonName: cn}
	if ou != "" {
		subj.OrganizationalUnit = []string{ou}
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: subj,
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(ca.dir, cn+".crt"), filepath.Join(ca.dir, cn+".key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}
