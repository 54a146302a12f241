package auth

import (
	"errors"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// addDevice registers a device and returns its secret.
func (f *fixture) addDevice(t *testing.T, id string, revoked bool) string {
	t.Helper()
	secret, hash := NewSecret(DevicePrefix)
	f.st.mu.Lock()
	f.st.devices[id] = store.Device{ID: id, Tenant: "acme", Model: "M1", SecretHash: hash, Revoked: revoked}
	f.st.mu.Unlock()
	return secret
}

func (f *fixture) setDevice(id string, mut func(*store.Device)) {
	f.st.mu.Lock()
	d := f.st.devices[id]
	mut(&d)
	f.st.devices[id] = d
	f.st.mu.Unlock()
}

func TestAuthenticateDevice(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := t.Context()
	secret := f.addDevice(t, "bed4-mon", false)
	revokedSecret := f.addDevice(t, "old-mon", true)

	d, err := f.svc.AuthenticateDevice(ctx, "bed4-mon", secret)
	if err != nil || d.ID != "bed4-mon" || d.Tenant != "acme" || d.SecretHash != "" {
		t.Fatalf("AuthenticateDevice = %+v, %v; want the device without its secret hash", d, err)
	}
	tests := []struct {
		name, id, secret string
		want             error
	}{
		{"wrong secret", "bed4-mon", secret + "x", ErrInvalidCredentials},
		{"other device's secret", "bed4-mon", revokedSecret, ErrInvalidCredentials},
		{"unknown device", "nope", secret, ErrInvalidCredentials},
		{"empty secret", "bed4-mon", "", ErrInvalidCredentials},
		{"revoked, right secret", "old-mon", revokedSecret, ErrDeviceRevoked},
		{"revoked, wrong secret", "old-mon", secret, ErrInvalidCredentials},
		{"revoked again (cached)", "old-mon", revokedSecret, ErrDeviceRevoked},
	}
	for _, tt := range tests {
		if _, err := f.svc.AuthenticateDevice(ctx, tt.id, tt.secret); !errors.Is(err, tt.want) {
			t.Errorf("%s: err = %v, want %v", tt.name, err, tt.want)
		}
	}

	f.setDevice("bad-hash", func(d *store.Device) { d.ID, d.SecretHash = "bad-hash", "$argon2id$v=19$…" })
	if _, err := f.svc.AuthenticateDevice(ctx, "bad-hash", secret); err == nil || errors.Is(err, ErrInvalidCredentials) {
		t.Errorf("malformed stored hash: err = %v, want an internal error", err)
	}
}

func TestDeviceCache(t *testing.T) {
	f := newFixture(t, Options{})
	ctx := t.Context()
	secret := f.addDevice(t, "bed4-mon", false)
	reads := func() int64 { return f.st.deviceReads.Load() }
	auth := func(s string) error {
		t.Helper()
		_, err := f.svc.AuthenticateDevice(ctx, "bed4-mon", s)
		return err
	}

	if err := auth(secret); err != nil || reads() != 1 {
		t.Fatalf("first: %v, %d reads", err, reads())
	}
	f.clk.add(5*time.Second - time.Millisecond)
	if err := auth(secret); err != nil || reads() != 1 {
		t.Fatalf("within 5 s: %v, %d store reads, want 1 (cached)", err, reads())
	}
	if err := auth(secret + "x"); !errors.Is(err, ErrInvalidCredentials) || reads() != 2 {
		t.Fatalf("wrong secret while cached: %v, %d reads; want ErrInvalidCredentials from the store", err, reads())
	}
	f.clk.add(time.Millisecond)
	if err := auth(secret); err != nil || reads() != 3 {
		t.Fatalf("at 5 s: %v, %d reads; want a fresh store read", err, reads())
	}

	// Revoked elsewhere without InvalidateDevice: seen when the entry expires.
	f.setDevice("bed4-mon", func(d *store.Device) { d.Revoked = true })
	if err := auth(secret); err != nil {
		t.Fatalf("revoked, still cached: %v", err)
	}
	f.clk.add(5 * time.Second)
	if err := auth(secret); !errors.Is(err, ErrDeviceRevoked) {
		t.Fatalf("revoked, entry expired: %v, want ErrDeviceRevoked", err)
	}

	// Un-revoke and rotate: with InvalidateDevice the old secret stops at once.
	newSecret, newHash := NewSecret(DevicePrefix)
	f.setDevice("bed4-mon", func(d *store.Device) { d.Revoked, d.SecretHash = false, newHash })
	f.svc.InvalidateDevice("bed4-mon")
	if err := auth(secret); !errors.Is(err, ErrInvalidCredentials) {
		t.Fatalf("old secret after rotation: %v", err)
	}
	if err := auth(newSecret); err != nil {
		t.Fatalf("new secret after rotation: %v", err)
	}

	// Rotated by another process (no invalidation here): the new secret works at once, via the
	// store, while the cache still holds the old hash.
	rotated, rotatedHash := NewSecret(DevicePrefix)
	f.setDevice("bed4-mon", func(d *store.Device) { d.SecretHash = rotatedHash })
	if err := auth(rotated); err != nil {
		t.Fatalf("secret rotated elsewhere: %v", err)
	}
}

func TestDeviceCacheBounded(t *testing.T) {
	f := newFixture(t, Options{DeviceCacheSize: 3})
	secrets := map[string]string{}
	for i := range 10 {
		id := fmt.Sprintf("d%d", i)
		secrets[id] = f.addDevice(t, id, false)
		if _, err := f.svc.AuthenticateDevice(t.Context(), id, secrets[id]); err != nil {
			t.Fatal(err)
		}
		if n := len(f.svc.devices.entries); n > 3 {
			t.Fatalf("cache holds %d entries, limit 3", n)
		}
	}
	f.clk.add(time.Minute) // all expired: the next put sweeps them
	f.addDevice(t, "fresh", false)
	_, _ = f.svc.AuthenticateDevice(t.Context(), "fresh", "x")
	s := f.addDevice(t, "fresh2", false)
	if _, err := f.svc.AuthenticateDevice(t.Context(), "fresh2", s); err != nil {
		t.Fatal(err)
	}
	if n := len(f.svc.devices.entries); n != 1 {
		t.Errorf("after expiry and one put the cache holds %d entries, want 1", n)
	}
}

func TestDeviceCacheDisabled(t *testing.T) {
	f := newFixture(t, Options{DeviceCacheTTL: -1})
	secret := f.addDevice(t, "d1", false)
	for range 3 {
		if _, err := f.svc.AuthenticateDevice(t.Context(), "d1", secret); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.st.deviceReads.Load(); n != 3 {
		t.Errorf("without a cache: %d store reads, want 3", n)
	}
}

// BenchmarkAuthenticateDeviceCached measures the ingest hot path: a device seen in the last
// 5 s presenting its secret.
func BenchmarkAuthenticateDeviceCached(b *testing.B) {
	st := newMemStore()
	secret, hash := NewSecret(DevicePrefix)
	st.devices["bed4-mon"] = store.Device{ID: "bed4-mon", Tenant: "acme", SecretHash: hash}
	start := time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)
	svc := NewService(st, &recorder{}, func() time.Time { return start }, slog.New(slog.DiscardHandler), Options{Params: fastParams})
	if _, err := svc.AuthenticateDevice(b.Context(), "bed4-mon", secret); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := svc.AuthenticateDevice(b.Context(), "bed4-mon", secret); err != nil {
			b.Fatal(err)
		}
	}
	if st.deviceReads.Load() != 1 {
		b.Fatalf("%d store reads: the cache was not used", st.deviceReads.Load())
	}
}
