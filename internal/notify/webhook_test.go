package notify

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// memOutbox is an in-memory Outbox with the store's semantics: due means pending with the
// next attempt at or before now, oldest first.
type memOutbox struct {
	mu      sync.Mutex
	items   map[string]store.OutboxItem
	tenants map[string]store.Tenant
}

func newOutbox(settings map[string]string, items ...store.OutboxItem) *memOutbox {
	o := &memOutbox{items: map[string]store.OutboxItem{}, tenants: map[string]store.Tenant{
		"acme": {ID: "acme", Settings: settings}}}
	for _, it := range items {
		o.items[it.ID] = it
	}
	return o
}

func (o *memOutbox) DueOutbox(_ context.Context, now time.Time, limit int) ([]store.OutboxItem, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []store.OutboxItem
	for _, it := range o.items {
		if it.Status == store.OutboxPending && !it.NextAttempt.After(now) {
			out = append(out, it)
		}
	}
	slices.SortFunc(out, func(a, b store.OutboxItem) int {
		if c := a.NextAttempt.Compare(b.NextAttempt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out[:min(limit, len(out))], nil
}

func (o *memOutbox) UpdateOutbox(_ context.Context, it store.OutboxItem) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, ok := o.items[it.ID]; !ok {
		return store.ErrNotFound
	}
	o.items[it.ID] = it
	return nil
}

func (o *memOutbox) OutboxPending(context.Context) (int, time.Time, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	n, oldest := 0, time.Time{}
	for _, it := range o.items {
		if it.Status == store.OutboxPending {
			n++
			if oldest.IsZero() || it.Created.Before(oldest) {
				oldest = it.Created
			}
		}
	}
	return n, oldest, nil
}

func (o *memOutbox) Tenant(_ context.Context, id string) (store.Tenant, error) {
	t, ok := o.tenants[id]
	if !ok {
		return t, store.ErrNotFound
	}
	return t, nil
}

func (o *memOutbox) item(t *testing.T, id string) store.OutboxItem {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	it, ok := o.items[id]
	if !ok {
		t.Fatalf("outbox item %s missing", id)
	}
	return it
}

// receiver is a webhook endpoint that checks each POST's signature with the tenant secret,
// computed here independently of Sign, and answers with the next status of its script
// (200 once the script is used up).
type receiver struct {
	t      *testing.T
	secret string

	mu     sync.Mutex
	script []int
	posts  []post
}

type post struct {
	id, body string
	signed   bool // the signature header matched
}

func (rc *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("receiver: read body: %v", err)
	}
	m := hmac.New(sha256.New, []byte(rc.secret))
	m.Write(body)
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	got := r.Header.Get(HeaderSignature)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
		rc.t.Errorf("receiver: %s with Content-Type %q, want POST application/json", r.Method, r.Header.Get("Content-Type"))
	}
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.posts = append(rc.posts, post{id: r.Header.Get(HeaderID), body: string(body), signed: hmac.Equal([]byte(got), []byte(want))})
	status := http.StatusOK
	if len(rc.script) > 0 {
		status, rc.script = rc.script[0], rc.script[1:]
	}
	w.WriteHeader(status)
}

func (rc *receiver) seen() []post {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.posts)
}

// clock is a settable clock for Config.Now.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

var t0 = time.Date(2025, 3, 14, 9, 0, 0, 0, time.UTC)

func pending(id string) store.OutboxItem {
	return store.OutboxItem{ID: id, Tenant: "acme", AlarmID: "a1", Status: store.OutboxPending,
		NextAttempt: t0, Created: t0, Payload: []byte(`{"id":"` + id + `","kind":"ALERT"}`)}
}

// setup starts a receiver answering script and a Deliverer over an outbox holding items,
// with base backoff 1 s, max 4 s and maxAttempts attempts, on a clock at t0.
func setup(t *testing.T, script []int, maxAttempts int, items ...store.OutboxItem) (*Deliverer, *memOutbox, *receiver, *clock) {
	t.Helper()
	rc := &receiver{t: t, secret: "s3cret", script: script}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	ob := newOutbox(map[string]string{SettingWebhookURL: srv.URL, SettingWebhookSecret: rc.secret}, items...)
	clk := &clock{now: t0}
	d, err := New(Config{Outbox: ob, Client: srv.Client(), BaseBackoff: time.Second, MaxBackoff: 4 * time.Second,
		MaxAttempts: maxAttempts, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	return d, ob, rc, clk
}

func deliver(t *testing.T, d *Deliverer) {
	t.Helper()
	if err := d.Deliver(t.Context()); err != nil {
		t.Fatalf("Deliver: %v", err)
	}
}

// TestSign checks Sign against the published HMAC-SHA256 test value for key "key" and
// "The quick brown fox jumps over the lazy dog".
func TestSign(t *testing.T) {
	got := Sign("key", []byte("The quick brown fox jumps over the lazy dog"))
	want := "sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
	if got != want {
		t.Fatalf("Sign = %s, want %s", got, want)
	}
}

// A 2xx marks the item sent after one POST that carries the body, the notification id and a
// signature the receiver verifies with the tenant secret.
func TestDeliverSent(t *testing.T) {
	d, ob, rc, _ := setup(t, nil, 8, pending("n1"))
	deliver(t, d)
	posts := rc.seen()
	if len(posts) != 1 {
		t.Fatalf("%d POSTs, want 1", len(posts))
	}
	p := posts[0]
	if p.id != "n1" || p.body != `{"id":"n1","kind":"ALERT"}` || !p.signed {
		t.Errorf("POST id %q body %s signed %v; want id n1, the payload, a valid signature", p.id, p.body, p.signed)
	}
	it := ob.item(t, "n1")
	if it.Status != store.OutboxSent || it.Attempts != 1 || it.LastError != "" {
		t.Errorf("after 2xx: status %s attempts %d error %q; want sent 1 \"\"", it.Status, it.Attempts, it.LastError)
	}
	deliver(t, d)
	if n := len(rc.seen()); n != 1 {
		t.Errorf("a sent item was posted again: %d POSTs", n)
	}
}

// A signature made with another secret does not verify at the receiver.
func TestDeliverWrongSecretDetected(t *testing.T) {
	d, ob, rc, _ := setup(t, nil, 8, pending("n1"))
	ob.tenants["acme"].Settings[SettingWebhookSecret] = "other"
	deliver(t, d)
	if posts := rc.seen(); len(posts) != 1 || posts[0].signed {
		t.Fatalf("posts %+v: want one POST whose signature the receiver rejects", posts)
	}
}

// Two 500s, then 200: retried after 1 s, then 2 s (doubling), and sent on the third attempt.
func TestDeliverRetryBackoff(t *testing.T) {
	d, ob, rc, clk := setup(t, []int{500, 500}, 8, pending("n1"))
	steps := []struct {
		at       time.Duration // clock offset from t0
		posts    int           // POSTs so far
		status   string
		attempts int
		next     time.Duration // NextAttempt offset from t0
	}{
		{0, 1, store.OutboxPending, 1, time.Second},                      // 500: retry in 1 s
		{999 * time.Millisecond, 1, store.OutboxPending, 1, time.Second}, // not due yet
		{time.Second, 2, store.OutboxPending, 2, 3 * time.Second},        // 500: retry in 2 s
		{3 * time.Second, 3, store.OutboxSent, 3, 3 * time.Second},       // 200
	}
	for _, st := range steps {
		clk.set(t0.Add(st.at))
		deliver(t, d)
		it := ob.item(t, "n1")
		if n := len(rc.seen()); n != st.posts || it.Status != st.status || it.Attempts != st.attempts ||
			!it.NextAttempt.Equal(t0.Add(st.next)) {
			t.Fatalf("at t0+%v: %d POSTs, %s, attempts %d, next t0+%v; want %d, %s, %d, t0+%v",
				st.at, n, it.Status, it.Attempts, it.NextAttempt.Sub(t0), st.posts, st.status, st.attempts, st.next)
		}
		if st.status == store.OutboxPending && !strings.Contains(it.LastError, "500") {
			t.Errorf("at t0+%v: last error %q, want the 500 named", st.at, it.LastError)
		}
	}
	for _, p := range rc.seen() {
		if p.id != "n1" || !p.signed {
			t.Errorf("retry POST %+v: want id n1, signed", p)
		}
	}
}

// An endpoint that always fails: the item is dead after MaxAttempts and never posted again.
func TestDeliverDeadLetter(t *testing.T) {
	d, ob, rc, clk := setup(t, []int{500, 502, 503, 500, 500}, 3, pending("n1"))
	for i := range 5 {
		clk.set(t0.Add(time.Duration(i) * time.Minute)) // past any backoff
		deliver(t, d)
	}
	it := ob.item(t, "n1")
	if n := len(rc.seen()); n != 3 || it.Status != store.OutboxDead || it.Attempts != 3 {
		t.Fatalf("%d POSTs, status %s, attempts %d; want 3 POSTs, dead after 3", n, it.Status, it.Attempts)
	}
	if !strings.Contains(it.LastError, "503") {
		t.Errorf("last error %q, want the last answer (503)", it.LastError)
	}
	n, _, err := ob.OutboxPending(t.Context())
	if err != nil || n != 0 {
		t.Errorf("OutboxPending = %d, %v; want 0", n, err)
	}
}

// Without a webhook URL the item is skipped, and nothing is posted.
func TestDeliverNoChannelSkipped(t *testing.T) {
	d, ob, rc, _ := setup(t, nil, 8, pending("n1"))
	delete(ob.tenants["acme"].Settings, SettingWebhookURL)
	deliver(t, d)
	if it := ob.item(t, "n1"); it.Status != store.OutboxSkipped || len(rc.seen()) != 0 {
		t.Fatalf("status %s after %d POSTs, want skipped after none", it.Status, len(rc.seen()))
	}
}

func TestBackoff(t *testing.T) {
	d, _, _, _ := setup(t, nil, 8)
	tests := []struct {
		attempts int
		want     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 4 * time.Second}, {10, 4 * time.Second}}
	for _, tt := range tests {
		if got := d.backoff(tt.attempts); got != tt.want {
			t.Errorf("backoff(%d) = %v, want %v", tt.attempts, got, tt.want)
		}
	}
}
