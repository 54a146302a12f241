package httpapi_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vigil-iomt/vigil/internal/audit"
	"github.com/vigil-iomt/vigil/internal/auth"
	"github.com/vigil-iomt/vigil/internal/clinical"
	"github.com/vigil-iomt/vigil/internal/httpapi"
	"github.com/vigil-iomt/vigil/internal/ingest"
	"github.com/vigil-iomt/vigil/internal/reading"
	"github.com/vigil-iomt/vigil/internal/store"
	"github.com/vigil-iomt/vigil/internal/store/sqlite"
)

// recordingLog is a log that keeps what was appended. Its Follow delivers every tenant's
// messages whatever tenant is asked for, like a log whose subject filter failed, so that the
// live stream's own tenant check is what the isolation test sees.
type recordingLog struct {
	following atomic.Int32 // Follow calls that have chosen their start (new messages reach them)
	mu        sync.Mutex
	rs        []reading.Reading
	msgs      [][]reading.Reading // message seq i+1
}

func (l *recordingLog) Append(_ context.Context, _, _ string, rs []reading.Reading) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.rs = append(l.rs, rs...)
	l.msgs = append(l.msgs, rs)
	return nil
}

func (l *recordingLog) Follow(ctx context.Context, _ string, afterSeq uint64, fn func(uint64, []reading.Reading) error) error {
	next := afterSeq + 1
	if afterSeq == 0 {
		l.mu.Lock()
		next = uint64(len(l.msgs)) + 1
		l.mu.Unlock()
	}
	l.following.Add(1)
	defer l.following.Add(-1)
	for {
		l.mu.Lock()
		var m []reading.Reading
		if next <= uint64(len(l.msgs)) {
			m = l.msgs[next-1]
		}
		l.mu.Unlock()
		if m == nil {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			continue
		}
		if err := fn(next, m); err != nil {
			return err
		}
		next++
	}
}

type fixture struct {
	srv     *httptest.Server
	api     *httpapi.API
	st      store.Store
	log     *recordingLog
	tokens  map[string]string // username → bearer token
	devices map[string]string // device id → secret
	users   map[string]string // username → user id
}

const pw = "a long enough password"

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "vigil.db"), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if err := st.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	trail := audit.New(st, time.Now, log)
	authn := auth.NewService(st, trail, time.Now, log, auth.Options{})
	if _, err := authn.EnsureProviderAdmin(ctx, pw); err != nil {
		t.Fatal(err)
	}
	rl := &recordingLog{}
	api := httpapi.New(httpapi.Config{
		Store: st, Auth: authn, Audit: trail, Log: log, Clinical: clinical.New(clinical.Config{Store: st}),
		Verify: func(ctx context.Context) (any, error) { return audit.Verify(ctx, st) },
		Ingest: ingest.NewPipeline(rl, time.Now, ingest.NewMetrics(prometheus.NewRegistry())),
		Live:   rl,
		Care:   st,

		ColdChain: newColdChain(t, st, trail),
	})
	srv := httptest.NewServer(api.Handler())
	t.Cleanup(srv.Close)
	f := &fixture{srv: srv, api: api, st: st, log: rl, tokens: map[string]string{}, devices: map[string]string{}, users: map[string]string{}}
	f.tokens["admin"] = f.login(t, "admin")
	for _, ten := range []string{"ta", "tb"} {
		f.call(t, "admin", "POST", "/api/v1/tenants", map[string]string{"id": ten, "name": "Tenant " + ten}, 201, nil)
		for _, role := range []store.Role{store.Admin, store.Clinician, store.Nurse, store.QA, store.Operator, store.Viewer} {
			name := fmt.Sprintf("%s-%s", ten, role)
			var u struct{ ID string }
			f.call(t, "admin", "POST", "/api/v1/tenants/"+ten+"/users", map[string]any{"username": name, "password": pw, "role": role}, 201, &u)
			f.users[name] = u.ID
			f.tokens[name] = f.login(t, name)
		}
		var d struct{ ID, Secret string }
		f.call(t, "admin", "POST", "/api/v1/tenants/"+ten+"/devices", map[string]string{"id": ten + "-dev", "model": "m", "kind": "monitor", "subject": ten + "-subj"}, 201, &d)
		f.devices[d.ID] = d.Secret
		// a reading for the subject, straight into the store
		now := time.Now().UTC().Truncate(time.Second)
		r := reading.Reading{Tenant: ten, Device: d.ID, Subject: ten + "-subj", Metric: "hr", Value: 70, Unit: "/min", Measured: now, Received: now}
		r.ID = reading.NewID(r.Tenant, r.Device, r.Metric, r.Measured)
		if _, err := st.InsertReadings(ctx, []reading.Reading{r}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func (f *fixture) login(t *testing.T, user string) string {
	t.Helper()
	var out struct{ Token string }
	f.call(t, "", "POST", "/api/v1/login", map[string]string{"username": user, "password": pw}, 200, &out)
	return out.Token
}

func (f *fixture) do(t *testing.T, user, method, path string, body any, basic ...string) (int, []byte) {
	t.Helper()
	var b []byte
	if body != nil {
		b, _ = json.Marshal(body)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if user != "" {
		req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	}
	if len(basic) == 2 {
		req.SetBasicAuth(basic[0], basic[1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, _ = buf.ReadFrom(resp.Body)
	return resp.StatusCode, buf.Bytes()
}

func (f *fixture) call(t *testing.T, user, method, path string, body any, want int, out any) {
	t.Helper()
	code, b := f.do(t, user, method, path, body)
	if code != want {
		t.Fatalf("%s %s as %q: %d %s, want %d", method, path, user, code, b, want)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatal(err)
		}
	}
}

// fill puts tenant-B resources into a route pattern's wildcards.
func (f *fixture) fill(pattern, tenant string) (method, path string) {
	method, path, _ = strings.Cut(pattern, " ")
	r := strings.NewReplacer("{tenant}", tenant, "{user}", f.users[tenant+"-viewer"],
		"{device}", tenant+"-dev", "{subject}", tenant+"-subj")
	path = coldChainIDs(tenant).Replace(path)
	path = clinicalIDs(tenant).Replace(path)
	return method, r.Replace(path) + "?metric=hr"
}

// TestTenantIsolation goes through every route of the route table: every user of tenant A
// (each role) and tenant A's device get 403 or 404 on every tenant-B resource; tenant B's own
// admin is not refused (so the test can tell a refusal from a broken route). A route added
// without a tenant check, or with a {tenant} wildcard but another access kind, fails it.
func TestTenantIsolation(t *testing.T) {
	f := newFixture(t)
	routes := f.api.Routes()
	if len(routes) < 20 {
		t.Fatalf("only %d routes", len(routes))
	}
	usersA := []string{"ta-admin", "ta-clinician", "ta-nurse", "ta-qa", "ta-operator", "ta-viewer"}
	checked := 0
	for _, rt := range routes {
		hasTenant := strings.Contains(rt.Pattern, "{tenant}")
		if hasTenant != (rt.Access == httpapi.Tenant) {
			t.Errorf("route %q: a {tenant} wildcard goes with Tenant access and only with it", rt.Pattern)
			continue
		}
		switch rt.Access {
		case httpapi.Tenant:
			method, path := f.fill(rt.Pattern, "tb")
			for _, u := range usersA {
				if code, b := f.do(t, u, method, path, map[string]string{}); code != 403 && code != 404 {
					t.Errorf("%s %s as %s: %d %s, want 403 or 404", method, path, u, code, b)
				}
			}
			if code, b := f.do(t, "", method, path, map[string]string{}, "ta-dev", f.devices["ta-dev"]); code != 403 && code != 404 {
				t.Errorf("%s %s as device ta-dev: %d %s, want 403 or 404", method, path, code, b)
			}
			owner := tenantOwner("tb", rt.Perm)
			if code, b := f.do(t, owner, method, path, map[string]string{}); code == 403 || code == 401 {
				// The owner may lack the permission; then the test is blind to this route.
				t.Errorf("%s %s as tenant B's %s: %d %s; the route refuses its own tenant", method, path, owner, code, b)
			}
			checked++
		case httpapi.Provider:
			method, path, _ := strings.Cut(rt.Pattern, " ")
			for _, u := range append(usersA, "tb-admin") {
				if code, b := f.do(t, u, method, path, map[string]string{"name": "x"}); code != 403 {
					t.Errorf("%s %s as %s: %d %s, want 403", method, path, u, code, b)
				}
			}
			checked++
		}
	}
	t.Logf("checked %d tenant and provider routes", checked)

	// Ingest: tenant A's device cannot write tenant B's device's readings.
	pack := fmt.Appendf(nil, `[{"bn":"tb-dev:","bt":%d,"bu":"beat/min","n":"hr","v":70}]`, time.Now().Unix())
	req, _ := http.NewRequest("POST", f.srv.URL+"/api/v1/ingest", bytes.NewReader(pack))
	req.SetBasicAuth("ta-dev", f.devices["ta-dev"])
	req.Header.Set("Content-Type", "application/senml+json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 && resp.StatusCode != 403 {
		t.Errorf("device ta-dev posting tb-dev's readings: %d, want 400 or 403", resp.StatusCode)
	}
	// A user's token is not a device credential.
	req, _ = http.NewRequest("POST", f.srv.URL+"/api/v1/ingest", bytes.NewReader(pack))
	req.Header.Set("Authorization", "Bearer "+f.tokens["tb-admin"])
	req.Header.Set("Content-Type", "application/senml+json")
	resp, err = f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("user token on ingest: %d, want 401", resp.StatusCode)
	}
	f.log.mu.Lock()
	defer f.log.mu.Unlock()
	if len(f.log.rs) != 0 {
		t.Errorf("%d readings reached the log from refused packs", len(f.log.rs))
	}
}

// TestOpenAPIDocumentsEveryRoute checks that every route has a summary in the OpenAPI document.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	f := newFixture(t)
	var doc struct {
		Paths map[string]map[string]struct {
			Summary string `json:"summary"`
		} `json:"paths"`
	}
	f.call(t, "", "GET", "/api/v1/openapi.json", nil, 200, &doc)
	for _, rt := range f.api.Routes() {
		method, path, _ := strings.Cut(rt.Pattern, " ")
		op, ok := doc.Paths[path][strings.ToLower(method)]
		if !ok || op.Summary == "" {
			t.Errorf("route %q has no summary in the OpenAPI document", rt.Pattern)
		}
	}
}

// sseEvent is one server-sent event.
type sseEvent struct {
	id, event, data string
}

// openStream opens GET /api/v1/stream{query} as user and returns its status and, for 200, a
// channel of its events (closed when the stream ends or the test does).
func (f *fixture) openStream(t *testing.T, user, query, lastID string) (int, <-chan sseEvent) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", f.srv.URL+"/api/v1/stream"+query, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.tokens[user])
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != 200 {
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Errorf("Content-Type %q, want text/event-stream", ct)
	}
	ch := make(chan sseEvent, 100)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		sc := bufio.NewScanner(resp.Body)
		sc.Buffer(nil, 1<<20)
		var ev sseEvent
		for sc.Scan() {
			line := sc.Text()
			switch {
			case line == "":
				if ev.event != "" || ev.data != "" {
					ch <- ev
				}
				ev = sseEvent{}
			case strings.HasPrefix(line, "id: "):
				ev.id = line[4:]
			case strings.HasPrefix(line, "event: "):
				ev.event = line[7:]
			case strings.HasPrefix(line, "data: "):
				ev.data = line[6:]
			}
		}
	}()
	return 200, ch
}

// nextEvent returns the next event named name, failing the test after 10 s.
func nextEvent(t *testing.T, ch <-chan sseEvent, name string) sseEvent {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-ch:
			if !ok {
				t.Fatalf("stream ended before a %q event", name)
			}
			if ev.event == name {
				return ev
			}
		case <-timeout:
			t.Fatalf("no %q event within 10 s", name)
		}
	}
}

func (f *fixture) ingest(t *testing.T, device string, value int) {
	t.Helper()
	pack := fmt.Sprintf(`[{"bn":"%s:","bt":%d,"bu":"beat/min","n":"hr","v":%d}]`, device, time.Now().Unix(), value)
	req, err := http.NewRequest("POST", f.srv.URL+"/api/v1/ingest", strings.NewReader(pack))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(device, f.devices[device])
	req.Header.Set("Content-Type", "application/senml+json")
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 202 {
		t.Fatalf("ingest for %s: %d", device, resp.StatusCode)
	}
}

type readingEvent struct {
	Readings []struct {
		Device, Subject, Metric string
		Value                   *float64
		Time                    int64
	}
}

// TestLiveStreamIsolation: tenant A's users cannot open tenant B's stream (403), a provider
// admin can name any tenant, and A's stream carries A's devices and readings only, even when
// the log hands it B's messages too.
func TestLiveStreamIsolation(t *testing.T) {
	f := newFixture(t)
	for _, c := range []struct {
		user, query string
		want        int
	}{
		{"ta-nurse", "?tenant=tb", 403},
		{"ta-admin", "?tenant=tb", 403},
		{"ta-viewer", "?tenant=provider", 400},
		{"admin", "", 400}, // the provider admin must name a tenant
		{"admin", "?tenant=nope", 404},
		{"ta-nurse", "?tenant=ta", 200},
		{"admin", "?tenant=tb", 200},
	} {
		if code, _ := f.openStream(t, c.user, c.query, ""); code != c.want {
			t.Errorf("stream%s as %s: %d, want %d", c.query, c.user, code, c.want)
		}
	}
	if code, _ := f.do(t, "", "GET", "/api/v1/stream", nil); code != 401 {
		t.Errorf("stream without credentials: %d, want 401", code)
	}

	// The two streams opened above (200) still follow the log; the next one makes three.
	waitFollowing := func(n int32) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for f.log.following.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%d streams follow the log, want %d", f.log.following.Load(), n)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFollowing(2)
	code, ch := f.openStream(t, "ta-nurse", "", "")
	if code != 200 {
		t.Fatalf("stream as ta-nurse: %d", code)
	}
	var snap struct {
		Full    bool
		Devices []struct{ ID string }
	}
	if err := json.Unmarshal([]byte(nextEvent(t, ch, "devices").data), &snap); err != nil {
		t.Fatal(err)
	}
	if !snap.Full || len(snap.Devices) != 1 || snap.Devices[0].ID != "ta-dev" {
		t.Errorf("first devices event %+v, want the full list [ta-dev]", snap)
	}
	// The handler follows the log from "now" once it starts; ingest only after it has, or the
	// readings would be older than the stream's start.
	waitFollowing(3)
	f.ingest(t, "tb-dev", 99)
	f.ingest(t, "ta-dev", 71)
	ev := nextEvent(t, ch, "reading")
	var re readingEvent
	if err := json.Unmarshal([]byte(ev.data), &re); err != nil {
		t.Fatal(err)
	}
	if len(re.Readings) != 1 || re.Readings[0].Device != "ta-dev" || re.Readings[0].Value == nil || *re.Readings[0].Value != 71 {
		t.Fatalf("tenant A's stream got %s, want only ta-dev's hr 71", ev.data)
	}
	if ev.id != "2" {
		t.Errorf("event id %q, want 2 (the log sequence of ta-dev's message)", ev.id)
	}

	// Resuming after sequence 1 replays ta-dev's reading and nothing of tenant B.
	_, ch2 := f.openStream(t, "ta-nurse", "", "1")
	ev2 := nextEvent(t, ch2, "reading")
	if ev2.data != ev.data || ev2.id != "2" {
		t.Errorf("resumed after 1: id %s %s, want id 2 %s", ev2.id, ev2.data, ev.data)
	}
	if code, _ := f.openStream(t, "ta-nurse", "", "x"); code != 400 {
		t.Errorf("Last-Event-ID x: %d, want 400", code)
	}
}

// coldChainIDs fills the cold-chain wildcards with ids of tenant's records (they need not exist:
// tenant A is refused before any lookup, and tenant B's owner gets 404 rather than 403).
func coldChainIDs(tenant string) *strings.Replacer {
	return strings.NewReplacer("{site}", tenant+"-site", "{unit}", tenant+"-unit", "{product}", tenant+"-product",
		"{lot}", tenant+"-lot", "{shipment}", tenant+"-shipment", "{study}", tenant+"-study", "{excursion}", tenant+"-exc")
}

// tenantOwner is the user of tenant whose role holds perm, the admin first (QA alone signs
// releases; nurses and clinicians alone record observations).
func tenantOwner(tenant string, perm auth.Permission) string {
	for _, r := range []store.Role{store.Admin, store.QA, store.Operator, store.Clinician, store.Nurse, store.Viewer} {
		if auth.Allowed(auth.Principal{UserID: "probe", Tenant: tenant, Role: r}, tenant, perm) {
			return tenant + "-" + string(r)
		}
	}
	return tenant + "-admin"
}

// clinicalIDs fills the patient-monitoring wildcards with ids of tenant's records (they need
// not exist: tenant A is refused before any lookup, tenant B's owner gets 404).
func clinicalIDs(tenant string) *strings.Replacer {
	return strings.NewReplacer("{ward}", tenant+"-ward", "{patient}", tenant+"-patient", "{assignment}", tenant+"-asg",
		"{programme}", tenant+"-prog", "{enrolment}", tenant+"-enr")
}
