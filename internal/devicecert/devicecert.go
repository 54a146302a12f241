// Package devicecert identifies devices by X.509 client certificates issued by a tenant's own
// certificate authority: it parses the tenant's device CA setting, verifies a presented chain
// against it, and reads the device id and kind the certificate names.
//
// The rules (docs/mqtt.md, "Client certificates"): the leaf's subject common name (CN) is the
// device id; its first organisational unit (OU), if it is a known device kind, is the kind an
// auto-provisioned device gets; the chain must verify against the tenant's CAs at the given
// time, and the leaf's extended key usage, if it has one, must allow client authentication.
//
// It does no I/O and keeps no state; every function is safe for concurrent use.
package devicecert

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Tenant setting keys (store.Tenant.Settings), edited with PUT /api/v1/tenants/{tenant}/settings.
const (
	// SettingCA holds the tenant's device CA certificates, PEM, one or more.
	SettingCA = "mqtt.device_ca"
	// SettingAutoProvision, when "true", registers an unknown device on its first connect with a
	// certificate that verifies against SettingCA.
	SettingAutoProvision = "mqtt.auto_provision"
	// MaxCALen is the longest SettingCA value accepted (about twenty certificates).
	MaxCALen = 32768
)

// kinds lists the device kinds an OU may name (the API's device kinds, senml.md §4).
var kinds = map[string]bool{
	"patient": true, "monitor": true, "oximeter": true, "bp_monitor": true, "thermometer": true,
	"wearable": true, "glucometer": true, "scale": true, "environment": true, "gateway": true,
}

// ParseCAs parses a SettingCA value: one or more PEM "CERTIFICATE" blocks, each a CA
// certificate (basic constraints CA:TRUE), and nothing else but white space. The error says
// which block is wrong and why.
func ParseCAs(text string) ([]*x509.Certificate, error) {
	if len(text) > MaxCALen {
		return nil, fmt.Errorf("device CA: %d characters, at most %d", len(text), MaxCALen)
	}
	var out []*x509.Certificate
	rest := []byte(text)
	for n := 1; ; n++ {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("device CA: PEM block %d is %q, want CERTIFICATE", n, b.Type)
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("device CA: PEM block %d: %w", n, err)
		}
		if !c.IsCA {
			return nil, fmt.Errorf("device CA: certificate %d (%s) is not a CA certificate (basic constraints CA:TRUE)", n, c.Subject)
		}
		out = append(out, c)
	}
	if strings.TrimSpace(string(rest)) != "" {
		return nil, errors.New("device CA: text that is not a PEM block")
	}
	if len(out) == 0 {
		return nil, errors.New("device CA: no PEM CERTIFICATE block")
	}
	return out, nil
}

// Pool returns the certificates as a pool of trust anchors.
func Pool(cas []*x509.Certificate) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range cas {
		p.AddCert(c)
	}
	return p
}

// Verify checks that chain (leaf first, then any intermediates the client sent) verifies
// against roots at now, for client authentication.
func Verify(chain []*x509.Certificate, roots *x509.CertPool, now time.Time) error {
	if len(chain) == 0 {
		return errors.New("no client certificate")
	}
	inter := x509.NewCertPool()
	for _, c := range chain[1:] {
		inter.AddCert(c)
	}
	_, err := chain[0].Verify(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: now,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	if err != nil {
		return fmt.Errorf("client certificate %q: %w", chain[0].Subject.CommonName, err)
	}
	return nil
}

// DeviceID returns the device id the certificate names: its subject common name.
func DeviceID(leaf *x509.Certificate) string { return leaf.Subject.CommonName }

// Kind returns the device kind the certificate names: its first OU if that is a known kind,
// else "".
func Kind(leaf *x509.Certificate) string {
	if ou := leaf.Subject.OrganizationalUnit; len(ou) > 0 && kinds[ou[0]] {
		return ou[0]
	}
	return ""
}
