package httpapi_test

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

	"github.com/vigil-iomt/vigil/internal/devicecert"
)

// TestDeviceCASetting: the tenant's MQTT device CA setting must parse as PEM CA certificates
// and may be longer than other settings (several CAs), up to devicecert.MaxCALen.
func TestDeviceCASetting(t *testing.T) {
	f := newFixture(t)
	var cas []string
	for i := range 8 { // eight CAs: longer than the 4000 characters other settings may have
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)),
			Subject:   pkix.Name{CommonName: "ta device CA", Organization: []string{strings.Repeat("Ward ", 20)}},
			NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		cas = append(cas, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})))
	}
	bundle := strings.Join(cas, "")
	if len(bundle) <= 4000 {
		t.Fatalf("bundle of %d characters; the test needs more than 4000", len(bundle))
	}
	tests := []struct {
		name     string
		settings map[string]string
		code     int
		bodyHas  string
	}{
		{"eight CAs", map[string]string{devicecert.SettingCA: bundle, devicecert.SettingAutoProvision: "true"}, 200, "BEGIN CERTIFICATE"},
		{"not PEM", map[string]string{devicecert.SettingCA: "not a certificate"}, 400, "device CA: text that is not a PEM block"},
		{"corrupt certificate", map[string]string{devicecert.SettingCA: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}, 400, "PEM block 1"},
		{"too long", map[string]string{devicecert.SettingCA: bundle + strings.Repeat(" ", devicecert.MaxCALen)}, 400, "at most 32768"},
		{"empty: no CA", map[string]string{devicecert.SettingCA: ""}, 200, ""},
		{"another key stays at 4000", map[string]string{"note": strings.Repeat("x", 4001)}, 400, "values at most 4000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, body := f.do(t, "ta-admin", "PUT", "/api/v1/tenants/ta/settings", tt.settings)
			if code != tt.code || !strings.Contains(string(body), tt.bodyHas) {
				t.Fatalf("PUT settings: %d %s; want %d containing %q", code, body, tt.code, tt.bodyHas)
			}
		})
	}
}
