package devicecert

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// newCert makes a certificate named cn, a CA or a client certificate, signed by parent (nil:
// self-signed).
func newCert(t *testing.T, cn string, isCA bool, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn, OrganizationalUnit: []string{"oximeter"}},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IsCA: isCA, BasicConstraintsValid: true, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	if parent == nil {
		parent, parentKey = tmpl, key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c, key
}

func pemOf(c *x509.Certificate) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
}

func TestParseCAs(t *testing.T) {
	ca, caKey := newCert(t, "acme", true, nil, nil)
	other, _ := newCert(t, "other", true, nil, nil)
	leaf, _ := newCert(t, "bed4-mon", false, ca, caKey)
	tests := []struct {
		name, text string
		n          int
		errHas     string
	}{
		{"one CA", pemOf(ca), 1, ""},
		{"two CAs with blank lines", pemOf(ca) + "\n\n" + pemOf(other) + "\n", 2, ""},
		{"empty", "", 0, "no PEM CERTIFICATE block"},
		{"not PEM", "hello", 0, "not a PEM block"},
		{"trailing garbage", pemOf(ca) + "garbage", 0, "not a PEM block"},
		{"a key", "-----BEGIN EC PRIVATE KEY-----\nAAAA\n-----END EC PRIVATE KEY-----\n", 0, `is "EC PRIVATE KEY"`},
		{"corrupt DER", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 0, "PEM block 1"},
		{"a leaf, not a CA", pemOf(ca) + pemOf(leaf), 0, "certificate 2 (CN=bed4-mon,OU=oximeter) is not a CA"},
		{"too long", pemOf(ca) + strings.Repeat(" ", MaxCALen), 0, "at most 32768"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCAs(tt.text)
			if tt.errHas != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errHas) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.errHas)
				}
				return
			}
			if err != nil || len(got) != tt.n {
				t.Fatalf("got %d certificates, err %v; want %d", len(got), err, tt.n)
			}
		})
	}
}

// TestVerifyThroughIntermediate: a chain leaf → intermediate (sent by the client) → root (the
// tenant's CA) verifies; without the intermediate, or against another root, it does not.
func TestVerifyThroughIntermediate(t *testing.T) {
	root, rootKey := newCert(t, "root", true, nil, nil)
	inter, interKey := newCert(t, "intermediate", true, root, rootKey)
	leaf, _ := newCert(t, "bed4-mon", false, inter, interKey)
	other, _ := newCert(t, "other", true, nil, nil)
	now := time.Now()
	if err := Verify([]*x509.Certificate{leaf, inter}, Pool([]*x509.Certificate{root}), now); err != nil {
		t.Fatalf("full chain: %v", err)
	}
	if err := Verify([]*x509.Certificate{leaf}, Pool([]*x509.Certificate{root}), now); err == nil {
		t.Fatal("leaf without its intermediate verified")
	}
	if err := Verify([]*x509.Certificate{leaf, inter}, Pool([]*x509.Certificate{other}), now); err == nil {
		t.Fatal("chain verified against another root")
	}
	if err := Verify([]*x509.Certificate{leaf, inter}, Pool([]*x509.Certificate{root}), now.Add(2*time.Hour)); err == nil {
		t.Fatal("expired chain verified")
	}
	if DeviceID(leaf) != "bed4-mon" || Kind(leaf) != "oximeter" {
		t.Fatalf("DeviceID, Kind = %q, %q; want bed4-mon, oximeter", DeviceID(leaf), Kind(leaf))
	}
}
