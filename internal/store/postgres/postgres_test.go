package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/storetest"
)

// testSchema creates a schema with a random name on the server named by VIGIL_TEST_POSTGRES,
// drops it when the test ends, and returns a URL whose search_path selects it. Without the
// variable the test is skipped; with it, an unreachable server fails the test.
func testSchema(t testing.TB) string {
	t.Helper()
	u, _ := testSchemaNamed(t)
	return u
}

// testSchemaNamed is testSchema that also returns the schema name.
func testSchemaNamed(t testing.TB) (dbURL, schema string) {
	t.Helper()
	base := os.Getenv("VIGIL_TEST_POSTGRES")
	if base == "" {
		t.Skip("set VIGIL_TEST_POSTGRES=postgres://… to run")
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema = "vigil_test_" + hex.EncodeToString(rnd[:])
	admin, err := pgx.Connect(t.Context(), base)
	if err != nil {
		t.Fatalf("connect to VIGIL_TEST_POSTGRES: %v", err)
	}
	defer admin.Close(context.Background())
	if _, err := admin.Exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx := context.Background() // t.Context is already cancelled during clean-up
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, base, schema), schema
}

func withSearchPath(t testing.TB, base, schema string) string {
	t.Helper()
	if !strings.HasPrefix(base, "postgres://") && !strings.HasPrefix(base, "postgresql://") {
		return base + " search_path=" + schema // key=value DSN
	}
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("parse VIGIL_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func openURL(t testing.TB, dbURL string) *Store {
	t.Helper()
	s, err := Open(t.Context(), dbURL, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openURL(t, testSchema(t)) })
}

func TestCareTeamConformance(t *testing.T) {
	storetest.RunCareTeam(t, func(t *testing.T) store.Store { return openURL(t, testSchema(t)) })
}

func TestClinicalConformance(t *testing.T) {
	storetest.RunClinical(t, func(t *testing.T) store.Store { return openURL(t, testSchema(t)) })
}

func TestAlarmConformance(t *testing.T) {
	storetest.RunAlarms(t, func(t *testing.T) store.Store { return openURL(t, testSchema(t)) })
}

func TestColdChainConformance(t *testing.T) {
	storetest.RunColdChain(t, func(t *testing.T) store.Store { return openURL(t, testSchema(t)) })
}

// TestAuditAcrossStores appends through two pools on one schema, as two processes would.
func TestAuditAcrossStores(t *testing.T) {
	u := testSchema(t)
	a, b := openURL(t, u), openURL(t, u)
	for _, s := range []*Store{a, b} {
		if err := s.Migrate(t.Context()); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	storetest.AuditAcrossStores(t, a, b)
}

// TestSchemaFromURL checks that the tables land in the schema the URL's search_path names.
func TestSchemaFromURL(t *testing.T) {
	u, schema := testSchemaNamed(t)
	s := openURL(t, u)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := s.pool.QueryRow(t.Context(), `SELECT count(*) FROM information_schema.tables
		WHERE table_schema = $1 AND table_name IN ('tenants', 'readings', 'audit', 'schema_migrations')`, schema).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Fatalf("schema %s (the URL's search_path) holds %d of the 4 tables checked, want 4", schema, n)
	}
}

func TestMigrateConcurrent(t *testing.T) {
	u := testSchema(t)
	a, b := openURL(t, u), openURL(t, u)
	errs := make(chan error, 2)
	for _, s := range []*Store{a, b} {
		go func() { errs <- s.Migrate(t.Context()) }()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatalf("concurrent Migrate: %v", err)
		}
	}
	var n int
	if err := a.pool.QueryRow(t.Context(), "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil {
		t.Fatal(err)
	}
	steps, _ := store.Migrations(migrations)
	if n != len(steps) {
		t.Fatalf("schema_migrations has %d rows, want %d", n, len(steps))
	}
}

// TestAuditAppendOnly checks that the database itself refuses to change or delete an entry.
func TestAuditAppendOnly(t *testing.T) {
	s := openURL(t, testSchema(t))
	ctx := t.Context()
	if err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AppendAudit(ctx, store.AuditRecord{Actor: "system", Action: "x"}, storetest.Seal); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"UPDATE audit SET reason = 'edited'", "DELETE FROM audit", "TRUNCATE audit"} {
		_, err := s.pool.Exec(ctx, q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: error %v, want the append-only refusal", q, err)
		}
	}
}
