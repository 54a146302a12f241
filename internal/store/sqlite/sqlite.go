// Package sqlite is the embedded query store: store.Store on one SQLite file through
// modernc.org/sqlite (pure Go, no cgo).
//
// The file runs in WAL mode with foreign keys on and a busy timeout. Writes go through one
// writer connection whose transactions begin IMMEDIATE, so they are serialised within the
// process and against other processes on the same file; reads use a separate pool of
// query-only connections that WAL lets run beside the writer. A Store is safe for concurrent use.
//
// Durability: synchronous=FULL. The store writer acknowledges a reading to JetStream only
// after InsertReadings commits, and JetStream then never redelivers it; with
// synchronous=NORMAL a WAL commit is not fsynced until the next checkpoint, so a power
// failure could drop a committed (and already acknowledged) batch for good. FULL costs one
// fsync per transaction (about 0.3–0.4 ms here), which is negligible for batches of
// thousands of readings.
//
// Readings (see migrations/0001_init.sql) are keyed by integer series ids: dsid for (tenant,
// device, metric) and ssid for (tenant, subject, metric), from the tables device_series and
// subject_series. The readings table is one WITHOUT ROWID b-tree with primary key (dsid,
// measured). Since a reading's ID is a hash of exactly tenant, device, metric and measured
// time, and InsertReadings checks each ID against those fields, that key is the same
// constraint as a unique key on the ID: a redelivery is ignored whatever subject it names.
// Each row also carries its ssid, and series_links records which device series have had
// readings of which subject series, so a subject's series is read as the rows with its ssid
// in each linked device series, merged in measured order. Series ids, once committed, never
// change (series rows are neither updated nor deleted), so the Store caches them; ids are
// cached only after the transaction that created them commits.
//
// Times are stored as INTEGER Unix nanoseconds UTC; 0 stands for the zero time.time.Time
// (so the instant 1970-01-01T00:00:00Z itself reads back as zero). The path ":memory:" opens
// a private in-memory database on a single connection (reads and writes share it); use a
// file for anything concurrent.
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/vigil-iomt/vigil/internal/store"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite query store.
type Store struct {
	w   *sql.DB // the one writer connection; transactions begin IMMEDIATE
	r   *sql.DB // query-only readers (the writer itself for ":memory:")
	log *slog.Logger

	// Now is the clock AppendAudit reads when a record has no time; time.Now by default.
	Now func() time.Time

	stmtMu sync.Mutex  // guards stmts
	stmts  *writeStmts // InsertReadings' statements prepared on w; nil until first use

	series seriesCache // committed device and subject series ids
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path. Call Migrate before use.
func Open(ctx context.Context, path string, log *slog.Logger) (*Store, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("sqlite: open %q: path must not contain '?'", path)
	}
	common := url.Values{}
	common.Add("_pragma", "busy_timeout(10000)")
	common.Add("_pragma", "foreign_keys(1)")
	common.Add("_pragma", "mmap_size(1073741824)") // read the file through the shared OS page cache
	wq := url.Values{"_txlock": {"immediate"}}
	wq["_pragma"] = append(slices.Clone(common["_pragma"]), "synchronous(FULL)", "cache_size(-65536)")
	s := &Store{log: log, Now: time.Now}
	if path == ":memory:" {
		db, err := sql.Open("sqlite", ":memory:?"+wq.Encode())
		if err != nil {
			return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
		}
		db.SetMaxOpenConns(1)
		db.SetMaxIdleConns(1)
		db.SetConnMaxLifetime(0)
		db.SetConnMaxIdleTime(0)
		s.w, s.r = db, db
	} else {
		wq["_pragma"] = append(wq["_pragma"], "journal_mode(WAL)")
		w, err := sql.Open("sqlite", path+"?"+wq.Encode())
		if err != nil {
			return nil, fmt.Errorf("sqlite: open writer on %s: %w", path, err)
		}
		w.SetMaxOpenConns(1)
		w.SetMaxIdleConns(1)
		w.SetConnMaxLifetime(0)
		w.SetConnMaxIdleTime(0)
		// Open the writer first so that the file exists and is in WAL mode before readers come.
		if err := w.PingContext(ctx); err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open writer on %s: %w", path, err)
		}
		rq := url.Values{"_pragma": append(slices.Clone(common["_pragma"]), "query_only(1)", "cache_size(-16384)")}
		r, err := sql.Open("sqlite", path+"?"+rq.Encode())
		if err != nil {
			w.Close()
			return nil, fmt.Errorf("sqlite: open readers on %s: %w", path, err)
		}
		r.SetMaxOpenConns(4)
		r.SetMaxIdleConns(4)
		s.w, s.r = w, r
	}
	if err := s.w.PingContext(ctx); err != nil {
		s.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	return s, nil
}

// Close closes both connection pools.
func (s *Store) Close() error {
	s.stmtMu.Lock()
	if s.stmts != nil {
		s.stmts.close()
		s.stmts = nil
	}
	s.stmtMu.Unlock()
	err := s.w.Close()
	if s.r != s.w {
		err = errors.Join(err, s.r.Close())
	}
	if err != nil {
		return fmt.Errorf("sqlite: close: %w", err)
	}
	return nil
}

// Ping checks that the database answers on both the writer and a reader.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.w.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping writer: %w", err)
	}
	var one int
	if err := s.r.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping reader: %w", err)
	}
	return nil
}

// Migrate applies the embedded migrations not yet recorded in schema_migrations, each in its
// own IMMEDIATE transaction, so that concurrent starts (also in other processes) apply each once.
func (s *Store) Migrate(ctx context.Context) error {
	if _, err := s.w.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version INTEGER PRIMARY KEY,
		name    TEXT NOT NULL,
		applied INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("sqlite: migrate: create schema_migrations: %w", err)
	}
	steps, err := store.Migrations(migrations)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	for _, m := range steps {
		if err := s.applyMigration(ctx, m); err != nil {
			return fmt.Errorf("sqlite: migrate %s: %w", m.Name, err)
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, m store.Migration) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, "SELECT count(*) FROM schema_migrations WHERE version = ?", m.Version).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, "INSERT INTO schema_migrations (version, name, applied) VALUES (?, ?, ?)",
		m.Version, m.Name, time.Now().UnixNano()); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	s.log.Info("applied schema migration", "backend", "sqlite", "version", m.Version, "name", m.Name)
	return nil
}

// constraint classifies a constraint violation: store.ErrConflict for a unique or primary key,
// store.ErrNotFound for a foreign key (the referenced tenant or user does not exist), nil otherwise.
func constraint(err error) error {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return store.ErrConflict
	case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
		return store.ErrNotFound
	}
	return nil
}

func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
