package sqlite

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
)

var testT0 = time.Date(2025, 3, 14, 9, 26, 0, 0, time.UTC)

// rd builds a numeric reading of acme measured at testT0+at, received 1.5 s later.
func rd(device, subject, metric string, at time.Duration, v float64) reading.Reading {
	m := testT0.Add(at)
	return reading.Reading{ID: reading.NewID("acme", device, metric, m), Tenant: "acme", Device: device, Subject: subject,
		Metric: metric, Value: v, Unit: "/min", Measured: m, Received: m.Add(1500 * time.Millisecond)}
}

func migrated(t *testing.T, s *Store) *Store {
	t.Helper()
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	return s
}

func mustInsert(t *testing.T, s *Store, want int, rs ...reading.Reading) {
	t.Helper()
	n, err := s.InsertReadings(t.Context(), rs)
	if err != nil || n != want {
		t.Fatalf("InsertReadings(%d readings) = %d, %v; want %d new", len(rs), n, err, want)
	}
}

// values returns "device=value" of the subject's readings of metric, in order.
func values(t *testing.T, s *Store, subject, metric string) []string {
	t.Helper()
	pts, err := s.Readings(t.Context(), store.ReadingQuery{Tenant: "acme", Subject: subject, Metric: metric})
	if err != nil {
		t.Fatalf("Readings(%s, %s): %v", subject, metric, err)
	}
	var out []string
	for _, p := range pts {
		out = append(out, fmt.Sprintf("%s=%g", p.Device, p.Value))
	}
	return out
}

// TestSameIDOtherSubject: a reading is unique by its ID, also when a redelivery names another
// subject; the first stored wins, within a batch as across batches.
func TestSameIDOtherSubject(t *testing.T) {
	s := migrated(t, openFile(t, filepath.Join(t.TempDir(), "vigil.db")))
	a1, a2 := rd("d1", "P-1", "hr", 0, 60), rd("d1", "P-2", "hr", 0, 99) // same ID
	b2, b1 := rd("d1", "P-2", "hr", time.Second, 98), rd("d1", "P-1", "hr", time.Second, 61)
	mustInsert(t, s, 2, a1, a2, b2, b1)
	mustInsert(t, s, 0, a2, b1)
	if got, want := values(t, s, "P-1", "hr"), []string{"d1=60"}; !slices.Equal(got, want) {
		t.Errorf("P-1 hr = %v, want %v", got, want)
	}
	if got, want := values(t, s, "P-2", "hr"), []string{"d1=98"}; !slices.Equal(got, want) {
		t.Errorf("P-2 hr = %v, want %v", got, want)
	}
}

// TestSeriesAcrossStores writes one file through two Stores, as two processes would: each
// finds the series the other created, and ids never mix series up.
func TestSeriesAcrossStores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "vigil.db")
	a, b := migrated(t, openFile(t, path)), migrated(t, openFile(t, path))
	mustInsert(t, a, 1, rd("d1", "P-1", "hr", 0, 60))
	mustInsert(t, b, 2, rd("d2", "P-1", "hr", time.Second, 70), rd("d1", "P-2", "spo2", 0, 97))
	mustInsert(t, a, 2, rd("d2", "P-1", "hr", 2*time.Second, 71), rd("d1", "P-2", "spo2", time.Second, 96),
		rd("d1", "P-1", "hr", 0, 60)) // the last is stored already
	mustInsert(t, b, 0, rd("d2", "P-1", "hr", 2*time.Second, 71))
	for _, s := range []*Store{a, b} {
		if got, want := values(t, s, "P-1", "hr"), []string{"d1=60", "d2=70", "d2=71"}; !slices.Equal(got, want) {
			t.Errorf("P-1 hr = %v, want %v", got, want)
		}
		if got, want := values(t, s, "P-2", "spo2"), []string{"d1=97", "d1=96"}; !slices.Equal(got, want) {
			t.Errorf("P-2 spo2 = %v, want %v", got, want)
		}
	}
}

// TestSeriesRollback: series ids created by a transaction that rolls back are not cached, so a
// later series that gets the same id number is not confused with them.
func TestSeriesRollback(t *testing.T) {
	s := migrated(t, openFile(t, filepath.Join(t.TempDir(), "vigil.db")))
	ctx := t.Context()
	if _, err := s.w.ExecContext(ctx, `CREATE TRIGGER refuse BEFORE INSERT ON readings WHEN NEW.value = 666
		BEGIN SELECT RAISE(ABORT, 'refused'); END`); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InsertReadings(ctx, []reading.Reading{rd("d1", "P-1", "hr", 0, 666)}); err == nil {
		t.Fatal("InsertReadings of a refused reading: no error")
	}
	if _, err := s.w.ExecContext(ctx, "DROP TRIGGER refuse"); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, s, 1, rd("d9", "P-9", "rr", 0, 16)) // takes the ids the rollback freed
	mustInsert(t, s, 1, rd("d1", "P-1", "hr", 0, 60))
	if got, want := values(t, s, "P-1", "hr"), []string{"d1=60"}; !slices.Equal(got, want) {
		t.Errorf("P-1 hr = %v, want %v", got, want)
	}
	if got, want := values(t, s, "P-9", "rr"), []string{"d9=16"}; !slices.Equal(got, want) {
		t.Errorf("P-9 rr = %v, want %v", got, want)
	}
}

// TestReadingFieldsRoundTrip checks the compact columns: text and unit stored only when not
// the default, the received time as an offset from the measured time, and the sum.
func TestReadingFieldsRoundTrip(t *testing.T) {
	s := migrated(t, openFile(t, filepath.Join(t.TempDir(), "vigil.db")))
	first := rd("g1", "P-1", "glucose", 0, 5.5) // the series unit becomes "/min"
	other := rd("g1", "P-1", "glucose", time.Second, 99)
	other.Unit, other.Sum, other.HasSum, other.Flags = "mg/dL", 12.5, true, reading.Control
	none := rd("g1", "P-1", "glucose", 2*time.Second, 0)
	none.Unit, none.Kind, none.Text = "", reading.String, "HI"
	early := rd("g1", "P-1", "glucose", 3*time.Second, 4)
	early.Received = early.Measured.Add(-2 * time.Hour) // a device clock ahead of the server
	mustInsert(t, s, 4, early, none, other, first)
	pts, err := s.Readings(t.Context(), store.ReadingQuery{Tenant: "acme", Subject: "P-1", Metric: "glucose"})
	if err != nil {
		t.Fatal(err)
	}
	want := []store.Point{
		{Measured: first.Measured, Received: first.Received, Device: "g1", Metric: "glucose", Value: 5.5, Unit: "/min"},
		{Measured: other.Measured, Received: other.Received, Device: "g1", Metric: "glucose", Value: 99, Unit: "mg/dL", Flags: reading.Control},
		{Measured: none.Measured, Received: none.Received, Device: "g1", Metric: "glucose", Kind: reading.String, Text: "HI"},
		{Measured: early.Measured, Received: early.Received, Device: "g1", Metric: "glucose", Value: 4, Unit: "/min"},
	}
	if !slices.EqualFunc(pts, want, func(a, b store.Point) bool {
		return a.Measured.Equal(b.Measured) && a.Received.Equal(b.Received) && a.Device == b.Device && a.Metric == b.Metric &&
			a.Kind == b.Kind && a.Value == b.Value && a.Text == b.Text && a.Unit == b.Unit && a.Flags == b.Flags
	}) {
		t.Fatalf("Readings =\n%+v\nwant\n%+v", pts, want)
	}
	var sum float64
	var unit, text any
	if err := s.r.QueryRowContext(t.Context(), "SELECT sum, unit, text FROM readings WHERE measured = ?",
		other.Measured.UnixNano()).Scan(&sum, &unit, &text); err != nil || sum != 12.5 || unit != "mg/dL" || text != nil {
		t.Errorf("stored sum, unit, text = %v, %v, %v (%v); want 12.5, mg/dL, NULL", sum, unit, text, err)
	}
	if err := s.r.QueryRowContext(t.Context(), "SELECT unit, text FROM readings WHERE measured = ?",
		first.Measured.UnixNano()).Scan(&unit, &text); err != nil || unit != nil || text != nil {
		t.Errorf("stored unit, text of a default reading = %v, %v (%v); want NULL, NULL", unit, text, err)
	}
}
