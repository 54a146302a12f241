package main

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/coldchain"
	cc "github.com/vigil-iomt/vigil/internal/coldchainproc"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// TestSeedColdChain: the demo cold chain seeds once and a second run (a restart) changes
// nothing; shipment-0 waits for QA release with its lot quarantined.
func TestSeedColdChain(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, ":memory:", slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateTenant(ctx, store.Tenant{ID: demoTenant, Name: "Demo", Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	trail := audit.New(st, time.Now, slog.New(slog.DiscardHandler))
	var out bytes.Buffer
	for range 2 {
		if err := seedColdChain(ctx, st, trail, &out); err != nil {
			t.Fatal(err)
		}
	}
	svc, err := cc.New(ctx, cc.Config{Store: st, Audit: trail})
	if err != nil {
		t.Fatal(err)
	}
	units, err := svc.Units(ctx, demoTenant, "")
	if err != nil || len(units) != 6 {
		t.Fatalf("%d units (%v), want the 6 simulated ones", len(units), err)
	}
	lots, err := svc.Lots(ctx, demoTenant, "", "")
	if err != nil || len(lots) != 9 {
		t.Fatalf("%d lots (%v), want 9", len(lots), err)
	}
	sh, err := svc.Shipment(ctx, demoTenant, "shipment-0")
	if err != nil || sh.State != coldchain.Quarantined {
		t.Fatalf("shipment-0 %s (%v), want QUARANTINED", sh.State, err)
	}
	l, err := svc.Lot(ctx, demoTenant, "lot-gard9-0119")
	if err != nil || l.Location.ID != "shipment-2" {
		t.Fatalf("lot-gard9-0119 at %s (%v), want shipment-2", l.Location.ID, err)
	}
}

// TestSigningKey: the key is created once (0600) and read back with the same id.
func TestSigningKey(t *testing.T) {
	path := filepath.Join(t.TempDir(), "esign.key")
	a, err := signingKey(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := signingKey(path)
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.ID != b.ID || !bytes.Equal(a.Secret, b.Secret) || len(a.Secret) != 32 || fi.Mode().Perm() != 0o600 {
		t.Fatalf("keys %s/%s, %d bytes, mode %v; want one 32-byte key, 0600", a.ID, b.ID, len(a.Secret), fi.Mode().Perm())
	}
}
