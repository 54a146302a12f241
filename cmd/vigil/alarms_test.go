package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// webhookReceiver records each notification id it answered 2xx to; while failing it answers
// the first request 200 and every other one 503.
type webhookReceiver struct {
	mu      sync.Mutex
	failing bool
	ok      map[string]int // id → 2xx answers
	failed  map[string]int
	posts   int
}

func (w *webhookReceiver) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	id := r.Header.Get("X-Vigil-Notification-Id")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.posts++
	if w.failing && w.posts > 1 {
		w.failed[id]++
		rw.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	w.ok[id]++
}

func (w *webhookReceiver) counts() (ok, failed map[string]int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	ok, failed = map[string]int{}, map[string]int{}
	for k, v := range w.ok {
		ok[k] = v
	}
	for k, v := range w.failed {
		failed[k] = v
	}
	return ok, failed
}

func waitAlarm(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestAlarmExactlyOnce raises a HIGH alarm (HR 180) for a tenant with two nurses, so two
// ALERT notifications go to the webhook. The receiver takes the first and fails the second;
// Vigil is killed with SIGKILL while the second is undelivered, restarted on the same data,
// and must then deliver the second once and never the first again. Then the API's
// transitions by role: a viewer may not acknowledge (403), a nurse may (200), an admin's
// resolve without a note is refused (400).
func TestAlarmExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	testAlarmExactlyOnce(t)
}

// TestAlarmExactlyOncePostgres is TestAlarmExactlyOnce on PostgreSQL (a fresh schema on the
// server VIGIL_TEST_POSTGRES names).
func TestAlarmExactlyOncePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	db := pgSchema(t)
	testAlarmExactlyOnce(t, "--database-url", db)
	c, err := pgx.Connect(t.Context(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(context.Background())
	// The two ALERTs are sent; the ACCEPTED that nurse1's acknowledgement causes may still be
	// on its way, so only the ALERTs are counted.
	var sent int
	if err := c.QueryRow(t.Context(), `SELECT count(*) FROM alarm_outbox
		WHERE status = 'sent' AND payload::jsonb->>'Kind' = 'ALERT'`).Scan(&sent); err != nil {
		t.Fatalf("read the PostgreSQL outbox: %v", err)
	}
	if sent != 2 {
		t.Errorf("PostgreSQL outbox holds %d sent ALERT notifications, want the 2 delivered", sent)
	}
}

// pgSchema creates a schema with a random name on the server named by VIGIL_TEST_POSTGRES,
// drops it when the test ends, and returns a URL whose search_path selects it. Without the
// variable the test is skipped; with it, an unreachable server fails the test.
func pgSchema(t *testing.T) string {
	t.Helper()
	base := os.Getenv("VIGIL_TEST_POSTGRES")
	if base == "" {
		t.Skip("set VIGIL_TEST_POSTGRES=postgres://… to run")
	}
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("VIGIL_TEST_POSTGRES must be a postgres:// URL (%v)", err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	schema := "vigil_test_" + hex.EncodeToString(rnd[:])
	exec := func(ctx context.Context, sql string) error {
		c, err := pgx.Connect(ctx, base)
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		_, err = c.Exec(ctx, sql)
		return err
	}
	if err := exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		if err := exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

func testAlarmExactlyOnce(t *testing.T, extra ...string) {
	rec := &webhookReceiver{failing: true, ok: map[string]int{}, failed: map[string]int{}}
	hook := httptest.NewServer(rec)
	defer hook.Close()

	dir := t.TempDir()
	p := startVigil(t, dir, nil, extra...)
	admin := loginAdmin(t, p.url)
	tenant, devs := setupTenant(t, admin, "Alarm Ward", 1, "monitor")
	for _, u := range []struct{ name, role string }{{"nurse1", "nurse"}, {"nurse2", "nurse"}, {"viewer1", "viewer"}} {
		admin.must("POST", "/api/v1/tenants/"+tenant+"/users", map[string]string{
			"username": u.name, "password": "correct horse battery staple", "role": u.role}, 201, nil)
	}
	admin.must("PUT", "/api/v1/tenants/"+tenant+"/settings", map[string]string{
		"alarm.webhook_url": hook.URL, "alarm.webhook_secret": "s3cret"}, 200, nil)

	// HR 180 for 12 s, one reading a second.
	t0 := time.Now().Add(-15 * time.Second).Truncate(time.Second)
	var b strings.Builder
	fmt.Fprintf(&b, `[{"bn":"%s:","bt":%d,"bu":"beat/min","n":"hr","v":180}`, devs[0].id, t0.Unix())
	for i := 1; i < 12; i++ {
		fmt.Fprintf(&b, `,{"n":"hr","t":%d,"v":180}`, i)
	}
	b.WriteString("]")
	if code, err := postPack(http.DefaultClient, p.url, devs[0], []byte(b.String()), ""); err != nil || code != 202 {
		t.Fatalf("post pack: %d %v", code, err)
	}
	waitAlarm(t, "one delivered and one failed notification", 30*time.Second, func() bool {
		ok, failed := rec.counts()
		return len(ok) == 1 && len(failed) >= 1
	})
	p.kill(t)
	before, failedBefore := rec.counts()
	rec.mu.Lock()
	rec.failing = false
	rec.mu.Unlock()

	p = startVigil(t, dir, nil, extra...)
	waitAlarm(t, "the undelivered notification after the restart", 30*time.Second, func() bool {
		ok, _ := rec.counts()
		return len(ok) >= 2
	})
	time.Sleep(time.Second) // room for a wrong re-send to show
	after, _ := rec.counts()
	for id, n := range after {
		if n != 1 {
			t.Errorf("notification %s delivered %d times, want once", id, n)
		}
	}
	for id := range before {
		if after[id] != 1 {
			t.Errorf("notification %s delivered before the kill was sent again", id)
		}
	}
	for id := range failedBefore {
		if after[id] != 1 {
			t.Errorf("notification %s undelivered at the kill was not delivered after the restart", id)
		}
	}
	if len(after) != 2 {
		t.Errorf("receiver saw %d notification ids, want 2 (one per nurse): %v", len(after), after)
	}

	// Transitions by role through the API.
	admin = loginAdmin(t, p.url)
	var list struct {
		Alarms []struct {
			ID, State, Priority, Code string
		} `json:"alarms"`
	}
	admin.must("GET", "/api/v1/tenants/"+tenant+"/alarms", nil, 200, &list)
	if len(list.Alarms) != 1 || list.Alarms[0].Priority != "high" || list.Alarms[0].State != "active" {
		t.Fatalf("alarms after restart: %+v, want one active high", list.Alarms)
	}
	id := list.Alarms[0].ID
	login := func(name string) *api {
		a := &api{t: t, base: p.url}
		var out struct {
			Token string `json:"token"`
		}
		a.must("POST", "/api/v1/login", map[string]string{"username": name, "password": "correct horse battery staple"}, 200, &out)
		a.token = out.Token
		return a
	}
	login("viewer1").must("POST", "/api/v1/tenants/"+tenant+"/alarms/"+id+"/ack", map[string]string{}, 403, nil)
	admin.must("POST", "/api/v1/tenants/"+tenant+"/alarms/"+id+"/resolve", map[string]string{}, 400, nil)
	var acked struct {
		State   string `json:"state"`
		History []struct{ Action string }
	}
	login("nurse1").must("POST", "/api/v1/tenants/"+tenant+"/alarms/"+id+"/ack", map[string]string{"reason": "at bedside"}, 200, &acked)
	if acked.State != "acknowledged" {
		t.Errorf("after ack: state %q, want acknowledged", acked.State)
	}
	login("nurse2").must("POST", "/api/v1/tenants/"+tenant+"/alarms/"+id+"/escalate", map[string]string{"reason": "x"}, 409, nil)
}
