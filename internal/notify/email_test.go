package notify

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"math/big"
	"net"
	"net/mail"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"

	"github.com/vigil-iomt/vigil/internal/store"
)

// mailServer is an in-process SMTP server (emersion/go-smtp) that records each message with
// whether it arrived over TLS and who authenticated.
type mailServer struct {
	mu   sync.Mutex
	msgs []gotMail
}

type gotMail struct {
	from string
	to   []string
	tls  bool
	user string
	data string
}

type mailSession struct {
	srv  *mailServer
	conn *smtp.Conn
	user string
	cur  gotMail
}

func (m *mailServer) NewSession(c *smtp.Conn) (smtp.Session, error) {
	return &mailSession{srv: m, conn: c}, nil
}

func (s *mailSession) AuthMechanisms() []string { return []string{sasl.Plain} }

func (s *mailSession) Auth(string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != "vigil" || pass != "pw" {
			return errors.New("bad credentials")
		}
		s.user = user
		return nil
	}), nil
}

func (s *mailSession) Mail(from string, _ *smtp.MailOptions) error {
	_, tlsOn := s.conn.TLSConnectionState()
	s.cur = gotMail{from: from, tls: tlsOn, user: s.user}
	return nil
}

func (s *mailSession) Rcpt(to string, _ *smtp.RcptOptions) error {
	s.cur.to = append(s.cur.to, to)
	return nil
}

func (s *mailSession) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.data = string(b)
	s.srv.mu.Lock()
	s.srv.msgs = append(s.srv.msgs, s.cur)
	s.srv.mu.Unlock()
	return nil
}

func (s *mailSession) Reset()        { s.cur = gotMail{} }
func (s *mailSession) Logout() error { return nil }

func (m *mailServer) received() []gotMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.msgs)
}

// selfSigned returns a server certificate for 127.0.0.1 and a client config trusting it.
func selfSigned(t *testing.T) (server, client *tls.Config) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "smtp test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}}},
		&tls.Config{RootCAs: pool}
}

// startMail starts the SMTP server, offering STARTTLS when withTLS, and returns it with the
// client side's SMTP settings.
func startMail(t *testing.T, withTLS bool) (*mailServer, *SMTP) {
	t.Helper()
	srvTLS, cliTLS := selfSigned(t)
	ms := &mailServer{}
	s := smtp.NewServer(ms)
	s.Domain = "localhost"
	s.ReadTimeout, s.WriteTimeout = 10*time.Second, 10*time.Second
	if withTLS {
		s.TLSConfig = srvTLS
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = s.Serve(l); close(done) }()
	t.Cleanup(func() { s.Close(); <-done })
	return ms, &SMTP{Addr: l.Addr().String(), From: "alarms@vigil.example", Username: "vigil", Password: "pw", TLS: cliTLS}
}

// setupMail is setup with the e-mail channel only: the tenant has alarm.email_to and no webhook.
func setupMail(t *testing.T, relay *SMTP, items ...store.OutboxItem) (*Deliverer, *memOutbox) {
	t.Helper()
	ob := newOutbox(map[string]string{SettingEmailTo: "ward4@hospital.example, charge@hospital.example"}, items...)
	d, err := New(Config{Outbox: ob, SMTP: relay, BaseBackoff: time.Second, MaxAttempts: 3,
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return d, ob
}

// A notification is mailed once, over STARTTLS with PLAIN authentication, to every address of
// alarm.email_to, with the notification id in its Message-ID and X-Vigil-Notification-Id.
func TestEmailSTARTTLS(t *testing.T) {
	ms, relay := startMail(t, true)
	it := pending("n1")
	it.Payload = []byte(`{"AlarmID":"a1","Recipient":"n1","Kind":"ALERT","Priority":"HIGH","Code":"SPO2_DESAT","Subject":"bed4","At":"2025-03-14T09:00:00Z"}`)
	d, ob := setupMail(t, relay, it)
	deliver(t, d)
	if got := ob.item(t, "n1"); got.Status != store.OutboxSent || got.Attempts != 1 {
		t.Fatalf("item: status %s attempts %d (%s), want sent after 1", got.Status, got.Attempts, got.LastError)
	}
	msgs := ms.received()
	if len(msgs) != 1 {
		t.Fatalf("server received %d messages, want 1", len(msgs))
	}
	m := msgs[0]
	if !m.tls || m.user != "vigil" || m.from != "alarms@vigil.example" ||
		!slices.Equal(m.to, []string{"ward4@hospital.example", "charge@hospital.example"}) {
		t.Errorf("envelope: tls %v user %q from %q to %v; want TLS, vigil, alarms@vigil.example, both addresses", m.tls, m.user, m.from, m.to)
	}
	msg, err := mail.ReadMessage(strings.NewReader(m.data))
	if err != nil {
		t.Fatalf("parse the message: %v", err)
	}
	body, _ := io.ReadAll(msg.Body)
	for k, want := range map[string]string{
		"Message-Id": "<n1@vigil.notification>", "X-Vigil-Notification-Id": "n1",
		"Subject": "[Vigil] ALERT HIGH alarm SPO2_DESAT (bed4)", "From": "alarms@vigil.example",
	} {
		if got := msg.Header.Get(k); got != want {
			t.Errorf("header %s = %q, want %q", k, got, want)
		}
	}
	if !strings.Contains(string(body), "HIGH alarm SPO2_DESAT for bed4: ALERT.") {
		t.Errorf("body %q does not state the alarm", body)
	}
	deliver(t, d)
	if n := len(ms.received()); n != 1 {
		t.Errorf("a sent notification was mailed again: %d messages", n)
	}
}

// A relay that does not offer STARTTLS gets nothing: the attempt fails and is retried later.
func TestEmailRefusesPlaintext(t *testing.T) {
	ms, relay := startMail(t, false)
	d, ob := setupMail(t, relay, pending("n1"))
	deliver(t, d)
	got := ob.item(t, "n1")
	if got.Status != store.OutboxPending || got.Attempts != 1 || !strings.Contains(got.LastError, "STARTTLS") ||
		!got.NextAttempt.Equal(t0.Add(time.Second)) {
		t.Errorf("item: %s attempts %d next %v error %q; want pending, 1, t0+1s, a STARTTLS error",
			got.Status, got.Attempts, got.NextAttempt, got.LastError)
	}
	if n := len(ms.received()); n != 0 {
		t.Errorf("server received %d messages in clear text, want 0", n)
	}
}

// Without a relay configured, alarm.email_to alone is no channel: the item is skipped.
func TestEmailWithoutRelaySkipped(t *testing.T) {
	d, ob := setupMail(t, nil, pending("n1"))
	deliver(t, d)
	if got := ob.item(t, "n1"); got.Status != store.OutboxSkipped {
		t.Errorf("status %s, want skipped", got.Status)
	}
}
