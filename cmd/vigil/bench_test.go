package main

import (
	"net/http"
	"os"
	"slices"
	"sync"
	"testing"
	"time"
)

// TestBenchIngestHTTP is the end-to-end HTTP ingest benchmark (`make bench-ingest`): the real
// binary on embedded NATS (sync always) and SQLite, 50 concurrent device clients each posting
// 50-record SenML packs as fast as they are acknowledged. It reports accepted readings/s, the
// rate at which they reached the store, and p50/p99 time to 202. Client and server share the
// machine's cores. It only runs with VIGIL_BENCH_INGEST=1.
func TestBenchIngestHTTP(t *testing.T) {
	if os.Getenv("VIGIL_BENCH_INGEST") == "" {
		t.Skip("set VIGIL_BENCH_INGEST=1 (make bench-ingest)")
	}
	dur := 20 * time.Second
	if s := os.Getenv("VIGIL_BENCH_DURATION"); s != "" {
		d, err := time.ParseDuration(s)
		if err != nil {
			t.Fatal(err)
		}
		dur = d
	}
	const clients, perPack = 50, 50
	p := startVigil(t, t.TempDir(), nil)
	admin := loginAdmin(t, p.url)
	_, devs := setupTenant(t, admin, "Bench", clients, "monitor")

	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = clients
	client := &http.Client{Transport: tr, Timeout: 30 * time.Second}
	var (
		mu        sync.Mutex
		latencies []time.Duration
		failures  int
		wg        sync.WaitGroup
	)
	base := time.Now().Add(-2 * time.Hour)
	start := time.Now()
	end := start.Add(dur)
	for _, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var local []time.Duration
			bad := 0
			for k := 0; time.Now().Before(end); k++ {
				pack := hrPack(d.id, base.Add(time.Duration(k*perPack)*time.Millisecond), perPack, 60)
				t0 := time.Now()
				code, err := postPack(client, p.url, d, pack, "")
				if err != nil || code != http.StatusAccepted {
					bad++
					continue
				}
				local = append(local, time.Since(t0))
			}
			mu.Lock()
			latencies = append(latencies, local...)
			failures += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	accepted := len(latencies) * perPack
	// Wait until the store writer has stored everything acknowledged.
	deadline := time.Now().Add(5 * time.Minute)
	var stored float64
	for {
		stored = metricValue(t, p.url, "vigil_stream_writer_readings_total")
		if stored >= float64(accepted) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	storedElapsed := time.Since(start)
	if stored < float64(accepted) {
		t.Fatalf("store has %.0f of %d accepted readings after 5 minutes", stored, accepted)
	}
	slices.Sort(latencies)
	pct := func(q float64) time.Duration { return latencies[int(q*float64(len(latencies)-1))] }
	t.Logf("HTTP ingest, %d clients × %d-record packs, %s: %d packs, %d failures", clients, perPack, dur, len(latencies), failures)
	t.Logf("accepted (durable in log): %.0f readings/s", float64(accepted)/elapsed.Seconds())
	t.Logf("stored (in SQLite):        %.0f readings/s (all %d stored %.1fs after start)", float64(accepted)/storedElapsed.Seconds(), accepted, storedElapsed.Seconds())
	t.Logf("time to 202: p50 %s, p99 %s, max %s", pct(0.50).Round(10*time.Microsecond), pct(0.99).Round(10*time.Microsecond), latencies[len(latencies)-1].Round(time.Microsecond))
	t.Logf("log groups: %.0f packs in %.0f appends", metricValue(t, p.url, "vigil_stream_appended_packs_total"), metricValue(t, p.url, "vigil_stream_groups_total"))
}
