package sqlite

import (
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/storetest"
)

// openFile opens a store on a new file in a temporary directory.
func openFile(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "vigil.db"))
	})
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openFile(t, ":memory:") })
}

func TestCareTeamConformance(t *testing.T) {
	storetest.RunCareTeam(t, func(t *testing.T) store.Store { return openFile(t, ":memory:") })
}

func TestClinicalConformance(t *testing.T) {
	storetest.RunClinical(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "vigil.db"))
	})
}

func TestAlarmConformance(t *testing.T) {
	storetest.RunAlarms(t, func(t *testing.T) store.Store {
		return openFile(t, filepath.Join(t.TempDir(), "vigil.db"))
	})
}

func TestColdChainConformance(t *testing.T) {
	storetest.RunColdChain(t, func(t *testing.T) store.Store { return openFile(t, ":memory:") })
}

// TestAuditAcrossStores appends through two Stores on one file, as two processes would.
func TestAuditAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	a, b := openFile(t, path), openFile(t, path)
	for _, s := range []*Store{a, b} {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	storetest.AuditAcrossStores(t, a, b)
}

func TestPragmas(t *testing.T) {
	s := openFile(t, filepath.Join(t.TempDir(), "vigil.db"))
	tests := []struct {
		pragma string
		want   string
	}{
		{"journal_mode", "wal"},
		{"synchronous", "2"}, // FULL
		{"foreign_keys", "1"},
		{"busy_timeout", "10000"},
	}
	for _, tt := range tests {
		var got string
		if err := s.w.QueryRowContext(t.Context(), "PRAGMA "+tt.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tt.pragma, err)
		}
		if got != tt.want {
			t.Errorf("PRAGMA %s = %s, want %s", tt.pragma, got, tt.want)
		}
	}
	var qo string
	if err := s.r.QueryRowContext(t.Context(), "PRAGMA query_only").Scan(&qo); err != nil || qo != "1" {
		t.Errorf("reader PRAGMA query_only = %q (%v), want 1", qo, err)
	}
}

func TestMigrationsRecorded(t *testing.T) {
	s := openFile(t, filepath.Join(t.TempDir(), "vigil.db"))
	for range 2 {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	steps, err := store.Migrations(migrations)
	if err != nil {
		t.Fatal(err)
	}
	var n, maxV int
	if err := s.r.QueryRowContext(t.Context(), "SELECT count(*), max(version) FROM schema_migrations").Scan(&n, &maxV); err != nil {
		t.Fatal(err)
	}
	if n != len(steps) || maxV != steps[len(steps)-1].Version {
		t.Fatalf("schema_migrations has %d rows up to version %d, want %d up to %d", n, maxV, len(steps), steps[len(steps)-1].Version)
	}
}

// TestAuditAppendOnly checks that the database itself refuses to change or delete an entry.
func TestAuditAppendOnly(t *testing.T) {
	s := openFile(t, filepath.Join(t.TempDir(), "vigil.db"))
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditRecord{Actor: "system", Action: "x"}, storetest.Seal); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"UPDATE audit SET reason = 'edited'", "DELETE FROM audit"} {
		_, err := s.w.ExecContext(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only refusal", q, err)
		}
	}
}
