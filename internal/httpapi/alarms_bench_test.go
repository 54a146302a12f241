package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/alarmproc"
	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/httpapi"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// snapshotStore is the SQLite store with a prepared alarm snapshot, whose alarm batches are
// dropped, so that the benchmark measures the list and not the writes.
type snapshotStore struct {
	*sqlite.Store
	snap []byte
}

func (s snapshotStore) AlarmSnapshot(context.Context) ([]byte, error)          { return s.snap, nil }
func (s snapshotStore) SaveAlarmBatch(context.Context, store.AlarmBatch) error { return nil }

// idleLog is a log with no messages.
type idleLog struct{}

func (idleLog) Replay(ctx context.Context, _ uint64, _ func(uint64, []reading.Reading) error) error {
	<-ctx.Done()
	return ctx.Err()
}

// oneNurse is a directory in which every rule resolves to one nurse.
type oneNurse struct{}

func (oneNurse) Recipients(context.Context, alarm.AlarmRef, alarm.RecipientRule) ([]string, error) {
	return []string{"nurse"}, nil
}

// activeSnapshot returns the JSON snapshot of an engine holding n active HIGH alarms of
// tenant, announced together a second ago (so no timer fires during the benchmark).
func activeSnapshot(tb testing.TB, tenant string, n int) []byte {
	tb.Helper()
	ctx, cancel := context.WithCancel(tb.Context())
	defer cancel()
	eng, err := alarm.New(alarm.Config{Directory: oneNurse{}, Emit: func(context.Context, alarm.Batch) error { return nil }})
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	at := time.Now().Add(-time.Second)
	conds := make([]alarm.Condition, n)
	for i := range conds {
		conds[i] = alarm.Condition{Tenant: tenant, Subject: fmt.Sprintf("p%05d", i), Device: "d", Metric: "hr",
			Code: alarm.HRExtremeHigh, Kind: alarm.Physiological, Priority: alarm.High, Status: alarm.StatusPresent,
			At: at, Onset: at, Value: 180, Limit: 150, UCUM: "/min"}
	}
	if err := eng.Apply(ctx, conds); err != nil {
		tb.Fatal(err)
	}
	snap, err := eng.Snapshot(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	cancel()
	<-done
	b, err := json.Marshal(snap)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// serve sends one request to h and returns the recorded response.
func serve(tb testing.TB, h http.Handler, token, method, path string, body any) *httptest.ResponseRecorder {
	tb.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req := httptest.NewRequestWithContext(tb.Context(), method, path, bytes.NewReader(b))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func mustServe(tb testing.TB, h http.Handler, token, method, path string, body any, want int, out any) {
	tb.Helper()
	rec := serve(tb, h, token, method, path, body)
	if rec.Code != want {
		tb.Fatalf("%s %s: %d %s, want %d", method, path, rec.Code, rec.Body.Bytes(), want)
	}
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			tb.Fatal(err)
		}
	}
}

// BenchmarkListAlarms10k serves GET /api/v1/tenants/{tenant}/alarms?limit=10000 to a nurse
// (authentication, engine list, views, JSON) with 10,000 active alarms in the engine.
// Target (issue 6): < 50 ms per request.
func BenchmarkListAlarms10k(b *testing.B) {
	const n = 10000
	ctx := b.Context()
	lg := slog.New(slog.DiscardHandler)
	st, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "vigil.db"), lg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		b.Fatal(err)
	}
	trail := audit.New(st, time.Now, lg)
	authn := auth.NewService(st, trail, time.Now, lg, auth.Options{})
	if _, err := authn.EnsureProviderAdmin(ctx, pw); err != nil {
		b.Fatal(err)
	}
	svc, err := alarmproc.New(ctx, alarmproc.Config{Log: idleLog{}, Store: snapshotStore{st, activeSnapshot(b, "ward", n)}})
	if err != nil {
		b.Fatal(err)
	}
	runCtx, stop := context.WithCancel(ctx)
	ran := make(chan error, 1)
	go func() { ran <- svc.Run(runCtx) }()
	b.Cleanup(func() { stop(); <-ran })
	for !svc.Leading() {
		time.Sleep(time.Millisecond)
	}

	h := httpapi.New(httpapi.Config{Store: st, Auth: authn, Audit: trail, Log: lg, Alarms: svc}).Handler()
	var tok struct{ Token string }
	mustServe(b, h, "", "POST", "/api/v1/login", map[string]string{"username": "admin", "password": pw}, 200, &tok)
	mustServe(b, h, tok.Token, "POST", "/api/v1/tenants", map[string]string{"id": "ward", "name": "Ward"}, 201, nil)
	mustServe(b, h, tok.Token, "POST", "/api/v1/tenants/ward/users",
		map[string]any{"username": "nurse1", "password": pw, "role": store.Nurse}, 201, nil)
	mustServe(b, h, "", "POST", "/api/v1/login", map[string]string{"username": "nurse1", "password": pw}, 200, &tok)

	var list struct{ Alarms []alarmproc.View }
	mustServe(b, h, tok.Token, "GET", "/api/v1/tenants/ward/alarms?limit=10000", nil, 200, &list)
	if len(list.Alarms) != n || list.Alarms[0].Priority != "high" || list.Alarms[0].State != "active" {
		b.Fatalf("listed %d alarms (first %+v), want %d active high", len(list.Alarms), list.Alarms[0], n)
	}
	b.ReportAllocs()
	var bytes int
	for b.Loop() {
		rec := serve(b, h, tok.Token, "GET", "/api/v1/tenants/ward/alarms?limit=10000", nil)
		if rec.Code != 200 {
			b.Fatalf("list: %d %s", rec.Code, rec.Body.Bytes())
		}
		bytes = rec.Body.Len()
	}
	b.ReportMetric(float64(bytes), "body-bytes")
}
