package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// mqttLoad is the result of one load run.
type mqttLoad struct {
	packs     int
	failures  int
	elapsed   time.Duration
	latencies []time.Duration
}

func (l mqttLoad) pct(q float64) time.Duration {
	if len(l.latencies) == 0 {
		return 0
	}
	return l.latencies[int(q*float64(len(l.latencies)-1))]
}

// publishLoad connects one client per id (the minimal client of mqttraw_test.go) and has each
// publish 10-record SenML packs with QoS 1, one in flight per client, for dur.
func publishLoad(t *testing.T, addr string, ids []string, topic, password func(id string) string, dur time.Duration) mqttLoad {
	t.Helper()
	clients := make([]*rawMQTT, len(ids))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 50) // connect 50 at a time
	var connectErr atomic.Value
	for i, id := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialRawMQTT(addr, id, id, password(id))
			if err != nil {
				connectErr.Store(fmt.Errorf("connect %s: %w", id, err))
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	if err, _ := connectErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	defer func() {
		for _, c := range clients {
			_ = c.close()
		}
	}()
	var mu sync.Mutex
	var res mqttLoad
	start := time.Now()
	end := start.Add(dur)
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lat []time.Duration
			bad := 0
			tp := topic(ids[i])
			// Live devices: each pack is measured now (10 readings 1 ms apart), and at least
			// 10 ms after the previous pack so that reading ids never repeat.
			var last time.Time
			for time.Now().Before(end) {
				at := time.Now().Truncate(time.Millisecond)
				if !at.After(last.Add(9 * time.Millisecond)) {
					at = last.Add(10 * time.Millisecond)
				}
				last = at
				pack := hrPack(ids[i], at, 10, 60)
				t0 := time.Now()
				if err := c.publish(tp, pack); err != nil {
					bad++
					break
				}
				lat = append(lat, time.Since(t0))
			}
			mu.Lock()
			res.latencies = append(res.latencies, lat...)
			res.failures += bad
			mu.Unlock()
		}()
	}
	wg.Wait()
	res.elapsed = time.Since(start)
	res.packs = len(res.latencies)
	slices.Sort(res.latencies)
	return res
}

// TestBenchIngestMQTT is the durable MQTT ingest benchmark (`make bench-mqtt`): N device
// connections (default 1,000) publish 10-record SenML packs with QoS 1 to the real binary,
// whose PUBACK means the readings are fsynced in the log; then the same harness drives this
// machine's Mosquitto (127.0.0.1:1883), which relays the same messages to one QoS 1
// subscriber and stores nothing. It reports both and the ratio. Only with VIGIL_BENCH_MQTT=1.
func TestBenchIngestMQTT(t *testing.T) {
	if os.Getenv("VIGIL_BENCH_MQTT") == "" {
		t.Skip("set VIGIL_BENCH_MQTT=1 (make bench-mqtt)")
	}
	conns, dur := 1000, 20*time.Second
	if s := os.Getenv("VIGIL_BENCH_CONNS"); s != "" {
		conns, _ = strconv.Atoi(s)
	}
	if s := os.Getenv("VIGIL_BENCH_DURATION"); s != "" {
		dur, _ = time.ParseDuration(s)
	}
	mosq := os.Getenv("VIGIL_TEST_MQTT")
	if mosq == "" {
		mosq = "127.0.0.1:1883"
	}

	// Vigil.
	mqttAddr := freePort(t)
	p := startVigil(t, t.TempDir(), nil, append([]string{"--mqtt", mqttAddr}, strings.Fields(os.Getenv("VIGIL_BENCH_ARGS"))...)...)
	admin := loginAdmin(t, p.url)
	_, devs := setupTenant(t, admin, "MQTT Bench", conns, "monitor")
	secrets := map[string]string{}
	var ids []string
	for _, d := range devs {
		secrets[d.id] = d.secret
		ids = append(ids, d.id)
	}
	v := publishLoad(t, mqttAddr, ids, func(id string) string { return "vigil/v1/" + id + "/senml" },
		func(id string) string { return secrets[id] }, dur)
	accepted := v.packs * 10
	pubEnd := time.Now()
	storedAtEnd := metricValue(t, p.url, "vigil_stream_writer_readings_total")
	deadline := pubEnd.Add(5 * time.Minute)
	var stored float64
	for {
		stored = metricValue(t, p.url, "vigil_stream_writer_readings_total")
		if stored >= float64(accepted) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	storedRate := float64(accepted) / (v.elapsed + time.Since(pubEnd)).Seconds()
	rss := rssOf(t, p.cmd.Process.Pid)
	p.kill(t)

	// Mosquitto, same harness: publishers plus one QoS 1 subscriber.
	prefix := randomHex()
	var received atomic.Int64
	sub, err := dialRawMQTT(mosq, "bench-sub-"+prefix, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := sub.subscribe("bench/"+prefix+"/#", func() { received.Add(1) }); err != nil {
		t.Fatal(err)
	}
	mids := make([]string, conns)
	for i := range mids {
		mids[i] = fmt.Sprintf("bench-%s-%04d", prefix, i)
	}
	m := publishLoad(t, mosq, mids, func(id string) string { return "bench/" + prefix + "/" + id }, func(string) string { return "" }, dur)
	atEnd := received.Load()
	time.Sleep(2 * time.Second) // let the subscriber drain
	_ = sub.close()

	vRate := float64(v.packs) / v.elapsed.Seconds()
	mRate := float64(atEnd) / m.elapsed.Seconds()
	t.Logf("%d connections, QoS 1, 10-record packs, %s each, on %d cores", conns, dur, numCPU())
	t.Logf("Vigil:     %.0f packs/s = %.0f readings/s durable (PUBACK after fsync); %d failures; PUBACK p50 %s p99 %s",
		vRate, vRate*10, v.failures, v.pct(0.5).Round(10*time.Microsecond), v.pct(0.99).Round(10*time.Microsecond))
	t.Logf("           stored %.0f of %d readings, %.0f readings/s from the first publish to the last stored (%.0f/s while publishing); Vigil RSS %d MiB",
		stored, accepted, storedRate, storedAtEnd/v.elapsed.Seconds(), rss>>20)
	t.Logf("Mosquitto: %.0f msgs/s relayed to the subscriber while publishing (%d of %d in all); %.0f PUBACKed/s; PUBACK p50 %s p99 %s",
		mRate, received.Load(), m.packs, float64(m.packs)/m.elapsed.Seconds(), m.pct(0.5).Round(10*time.Microsecond), m.pct(0.99).Round(10*time.Microsecond))
	t.Logf("ratio Vigil/Mosquitto: %.2f", vRate/mRate)
}

func randomHex() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func numCPU() int {
	out, err := exec.Command("nproc").Output()
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(out)))
	return n
}

// rssOf reads a process's resident memory in bytes.
func rssOf(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestBenchIdleConnections connects 10,000 devices (VIGIL_BENCH_CONNS to change) to the real
// binary's MQTT listener and reports connects/s and Vigil's resident memory with all of them
// idle. Only with VIGIL_BENCH_IDLE=1 (make bench-connections).
func TestBenchIdleConnections(t *testing.T) {
	if os.Getenv("VIGIL_BENCH_IDLE") == "" {
		t.Skip("set VIGIL_BENCH_IDLE=1 (make bench-connections)")
	}
	conns := 10_000
	if s := os.Getenv("VIGIL_BENCH_CONNS"); s != "" {
		conns, _ = strconv.Atoi(s)
	}
	mqttAddr := freePort(t)
	p := startVigil(t, t.TempDir(), nil, "--mqtt", mqttAddr)
	admin := loginAdmin(t, p.url)
	var ten struct {
		ID string `json:"id"`
	}
	admin.must("POST", "/api/v1/tenants", map[string]string{"name": "Idle"}, 201, &ten)
	ids := make([]string, conns)
	secrets := make([]string, conns)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			var d struct{ ID, Secret string }
			ids[i] = fmt.Sprintf("idle-%05d", i)
			a := &api{t: t, base: p.url, token: admin.token}
			a.must("POST", "/api/v1/tenants/"+ten.ID+"/devices", map[string]string{"id": ids[i], "model": "m", "subject": ids[i]}, 201, &d)
			secrets[i] = d.Secret
		}()
	}
	wg.Wait()
	rss0 := rssOf(t, p.cmd.Process.Pid)
	clients := make([]mqtt.Client, conns)
	var failed atomic.Int64
	start := time.Now()
	sem = make(chan struct{}, 100)
	for i := range conns {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c := mqtt.NewClient(mqtt.NewClientOptions().AddBroker("tcp://" + mqttAddr).SetClientID(ids[i]).
				SetUsername(ids[i]).SetPassword(secrets[i]).SetCleanSession(true).SetAutoReconnect(false).
				SetKeepAlive(5 * time.Minute).SetConnectTimeout(60 * time.Second))
			if tok := c.Connect(); !tok.WaitTimeout(2*time.Minute) || tok.Error() != nil {
				failed.Add(1)
				return
			}
			clients[i] = c
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	time.Sleep(10 * time.Second) // idle
	rss := rssOf(t, p.cmd.Process.Pid)
	for _, c := range clients {
		if c != nil {
			c.Disconnect(0)
		}
	}
	t.Logf("%d idle MQTT connections (%d failed) in %s: %.0f connects/s", conns, failed.Load(), elapsed.Round(time.Millisecond), float64(conns)/elapsed.Seconds())
	t.Logf("Vigil RSS: %d MiB before, %d MiB with all connected (%.1f KiB per connection)", rss0>>20, rss>>20, float64(rss-rss0)/1024/float64(conns))
	if failed.Load() > 0 {
		t.Fatalf("%d connections failed", failed.Load())
	}
}
