package mqttbroker

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/devicecert"
	"github.com/vigil-iomt/vigil/internal/store"
)

// DeviceRegistry is what client-certificate authentication needs of the store: the tenants'
// settings (their device CAs), devices by id, and registering a device (store.Store satisfies it).
type DeviceRegistry interface {
	Tenants(ctx context.Context) ([]store.Tenant, error)
	DeviceByID(ctx context.Context, id string) (store.Device, error)
	CreateDevice(ctx context.Context, d store.Device) error
}

// Auditor records audit entries (*audit.Trail satisfies it).
type Auditor interface {
	Record(ctx context.Context, rec store.AuditRecord) error
}

// AutoProvisionActor is the audit actor of a device registered on its first connect.
const AutoProvisionActor = "system:mqtt"

// provisionIDPattern is the API's device id rule, which an auto-provisioned id must meet too.
var provisionIDPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$`)

// minCAReload spaces the reloads a certificate no cached CA verifies may cause, so that a
// client presenting bad certificates cannot make every connect read all tenants.
const minCAReload = time.Second

// peerCertificates returns the chain a client presented on the TLS listener, leaf first, or nil.
func peerCertificates(cl *mqtt.Client) []*x509.Certificate {
	tc, ok := cl.Net.Conn.(*tls.Conn)
	if !ok {
		return nil
	}
	return tc.ConnectionState().PeerCertificates
}

// certAuth authenticates devices by client certificate against their tenant's device CA and
// registers unknown devices for tenants that enabled auto-provisioning. It is safe for
// concurrent use.
type certAuth struct {
	reg   DeviceRegistry
	audit Auditor
	ttl   time.Duration
	log   *slog.Logger

	mu     sync.Mutex // guards loaded and cas; held across a reload, so one reload runs at a time
	loaded time.Time
	cas    map[string]tenantCA // tenant id → its device CA; tenants without one are absent
}

// tenantCA is one tenant's parsed device CA setting.
type tenantCA struct {
	pem  string
	pool *x509.CertPool
	auto bool // devicecert.SettingAutoProvision is "true"
}

// authenticate returns the device certificate chain names (id is its CN, checked by the
// caller), registering it first if it is unknown and exactly one tenant with auto-provisioning
// has a CA that verifies the chain. Errors: auth.ErrInvalidCredentials (wrapped with the
// detail) when the chain does not verify against the device's tenant's CA, auth.ErrDeviceRevoked,
// or another error when the store fails.
func (c *certAuth) authenticate(ctx context.Context, id string, chain []*x509.Certificate, now time.Time) (store.Device, error) {
	d, err := c.reg.DeviceByID(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return c.provision(ctx, id, chain, now)
	case err != nil:
		return store.Device{}, fmt.Errorf("look up device %s: %w", id, err)
	}
	return c.registered(ctx, d, chain, now)
}

// registered checks chain against the device CA of registered device d's tenant, then that d is
// not revoked.
func (c *certAuth) registered(ctx context.Context, d store.Device, chain []*x509.Certificate, now time.Time) (store.Device, error) {
	id := d.ID
	tenants, err := c.verifying(ctx, chain, now, func(tenant string, _ tenantCA) bool { return tenant == d.Tenant })
	if err != nil {
		return store.Device{}, err
	}
	if len(tenants) == 0 {
		return store.Device{}, fmt.Errorf("%w: certificate of device %s does not verify against tenant %s's device CA", auth.ErrInvalidCredentials, id, d.Tenant)
	}
	if d.Revoked {
		return store.Device{}, auth.ErrDeviceRevoked
	}
	return d, nil
}

// provision registers the unknown device id in the one auto-provisioning tenant whose CA
// verifies chain, and audits it.
func (c *certAuth) provision(ctx context.Context, id string, chain []*x509.Certificate, now time.Time) (store.Device, error) {
	tenants, err := c.verifying(ctx, chain, now, func(_ string, ca tenantCA) bool { return ca.auto })
	if err != nil {
		return store.Device{}, err
	}
	switch {
	case len(tenants) == 0:
		return store.Device{}, fmt.Errorf("%w: device %s is not registered and no auto-provisioning tenant's CA verifies its certificate", auth.ErrInvalidCredentials, id)
	case len(tenants) > 1:
		return store.Device{}, fmt.Errorf("%w: device %s is not registered and the CAs of several auto-provisioning tenants (%v) verify its certificate", auth.ErrInvalidCredentials, id, tenants)
	case !provisionIDPattern.MatchString(id):
		return store.Device{}, fmt.Errorf("%w: certificate CN %q is not a valid device id (1-128 letters, digits, '.', '_', ':' or '-')", auth.ErrInvalidCredentials, id)
	}
	_, hash := auth.NewSecret("vgd_") // never shown: the device authenticates by certificate
	leaf := chain[0]
	d := store.Device{ID: id, Tenant: tenants[0], Kind: devicecert.Kind(leaf), Subject: id,
		SecretHash: hash, Created: now.UTC()}
	if err := c.reg.CreateDevice(ctx, d); err != nil {
		if errors.Is(err, store.ErrConflict) { // a concurrent first connect registered it
			if d, err = c.reg.DeviceByID(ctx, id); err != nil {
				return store.Device{}, fmt.Errorf("look up device %s after a conflicting registration: %w", id, err)
			}
			return c.registered(ctx, d, chain, now)
		}
		return store.Device{}, fmt.Errorf("auto-provision device %s in tenant %s: %w", id, d.Tenant, err)
	}
	fp := sha256.Sum256(leaf.Raw)
	if err := c.audit.Record(ctx, store.AuditRecord{
		Tenant: d.Tenant, Actor: AutoProvisionActor, Action: "device.auto_provision", Target: "device:" + id,
		Reason: "first MQTT connect with a certificate issued by the tenant's device CA",
		New: audit.JSON(map[string]any{
			"id": d.ID, "kind": d.Kind, "subject": d.Subject,
			"certificate": map[string]string{
				"subject": leaf.Subject.String(), "issuer": leaf.Issuer.String(),
				"serial": leaf.SerialNumber.Text(16), "sha256": hex.EncodeToString(fp[:]),
				"not_after": leaf.NotAfter.UTC().Format(time.RFC3339),
			},
		}),
	}); err != nil {
		return store.Device{}, fmt.Errorf("audit auto-provisioning of device %s: %w", id, err)
	}
	c.log.Info("mqtt device auto-provisioned", "device", id, "tenant", d.Tenant, "kind", d.Kind)
	return d, nil
}

// verifying returns the tenants, among those accept admits, whose device CA verifies chain.
// When none does, the CAs are reloaded (at most once per minCAReload) and tried again, so a
// CA just set takes effect on the next connect.
func (c *certAuth) verifying(ctx context.Context, chain []*x509.Certificate, now time.Time, accept func(string, tenantCA) bool) ([]string, error) {
	for _, force := range []bool{false, true} {
		cas, err := c.load(ctx, now, force)
		if err != nil {
			return nil, err
		}
		var out []string
		for tenant, ca := range cas {
			if accept(tenant, ca) && devicecert.Verify(chain, ca.pool, now) == nil {
				out = append(out, tenant)
			}
		}
		if len(out) > 0 || !force && !c.reloadable(now) {
			return out, nil
		}
	}
	return nil, nil
}

func (c *certAuth) reloadable(now time.Time) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return now.Sub(c.loaded) >= minCAReload
}

// load returns the tenants' device CAs, read again from the store when older than the TTL or,
// with force, older than minCAReload. The returned map must not be modified.
func (c *certAuth) load(ctx context.Context, now time.Time, force bool) (map[string]tenantCA, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	age := now.Sub(c.loaded)
	if c.cas != nil && age < c.ttl && (!force || age < minCAReload) {
		return c.cas, nil
	}
	ts, err := c.reg.Tenants(ctx)
	if err != nil {
		return nil, fmt.Errorf("load tenants' device CAs: %w", err)
	}
	cas := make(map[string]tenantCA, len(ts))
	for _, t := range ts {
		text := t.Settings[devicecert.SettingCA]
		if text == "" {
			continue
		}
		ca, ok := c.cas[t.ID]
		if !ok || ca.pem != text { // parse only what changed
			certs, err := devicecert.ParseCAs(text)
			if err != nil {
				c.log.Warn("tenant's device CA setting unusable; its certificates are refused", "tenant", t.ID, "err", err)
				continue
			}
			ca = tenantCA{pem: text, pool: devicecert.Pool(certs)}
		}
		ca.auto = t.Settings[devicecert.SettingAutoProvision] == "true"
		cas[t.ID] = ca
	}
	c.cas, c.loaded = cas, now
	return cas, nil
}
