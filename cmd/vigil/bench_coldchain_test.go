package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBenchColdChainUnits is the cold-chain scale benchmark (`make bench-coldchain`, issue 8):
// the real binary (`vigil serve` on embedded NATS and SQLite, no demo fleet) monitors 10,000
// storage units live. The test creates, through the API, one environment logger (device) and
// one 2–8 °C fridge per unit, and a lot of a high-risk product with a stability budget in every
// tenth unit; then every logger keeps one MQTT connection and publishes one temperature reading
// a minute (a one-record SenML pack, QoS 1), spread evenly over the minute: 10,000/60 ≈ 167
// readings/s at the real rate. One unit in a hundred warms to 10.5 °C from its second reading,
// so excursions, budget charging and EXCURSION_HIGH alarms (alarm delay 60 s) run too.
//
// It reports the Vigil process's CPU time (utime+stime from /proc/<pid>/stat) over the steady
// part — after the first minute, in which every unit gets its first reading — as a share of one
// core and of the machine, its resident memory, and proves the readings were processed: every
// unit's live status (kept by the cold-chain processor) must show its last published reading,
// the warm units must be in excursion with their lots' budgets charged. Everything Vigil runs
// for these readings is in the figure: ingest, log, store writer, alarm, fleet and cold-chain
// processors. Only with VIGIL_BENCH_COLDCHAIN=1; VIGIL_BENCH_UNITS (default 10000) and
// VIGIL_BENCH_DURATION (publishing time, default 3m, of which the first minute is warm-up)
// change the size.
func TestBenchColdChainUnits(t *testing.T) {
	if os.Getenv("VIGIL_BENCH_COLDCHAIN") == "" {
		t.Skip("set VIGIL_BENCH_COLDCHAIN=1 (make bench-coldchain)")
	}
	n, dur := 10_000, 3*time.Minute
	if s := os.Getenv("VIGIL_BENCH_UNITS"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 100 {
			t.Fatalf("VIGIL_BENCH_UNITS=%q: want an integer ≥ 100", s)
		}
	}
	if s := os.Getenv("VIGIL_BENCH_DURATION"); s != "" {
		var err error
		if dur, err = time.ParseDuration(s); err != nil {
			t.Fatal(err)
		}
	}
	const (
		period     = time.Minute // one reading per unit per minute
		warmEvery  = 100         // unit i warms when i%warmEvery == 0 …
		lotEvery   = 10          // … and holds a lot when i%lotEvery == 0
		setupConns = 8
	)
	if dur < 2*period {
		t.Fatalf("VIGIL_BENCH_DURATION %s: want at least %s (one minute of warm-up, then the measurement)", dur, 2*period)
	}

	mqttAddr := freePort(t)
	p := startVigil(t, t.TempDir(), nil, append([]string{"--mqtt", mqttAddr}, strings.Fields(os.Getenv("VIGIL_BENCH_ARGS"))...)...)
	admin := loginAdmin(t, p.url)
	var ten struct {
		ID string `json:"id"`
	}
	admin.must("POST", "/api/v1/tenants", map[string]string{"name": "Cold chain bench"}, 201, &ten)
	base := "/api/v1/tenants/" + ten.ID + "/coldchain"
	admin.must("POST", base+"/sites", map[string]any{"id": "site-bench", "name": "Bench warehouse", "timezone": "UTC", "ambient_c": 22}, 201, nil)
	admin.must("POST", base+"/products", map[string]any{
		"id": "VAX-BENCH", "name": "Bench vaccine (Gardasil-9-like budget)", "storage_class": "refrigerator",
		"limits": map[string]float64{"low_c": 2, "high_c": 8}, "risk": "high",
		"budget_rules": []map[string]any{
			{"id": "warm", "kind": "cumulative-in-band", "band": map[string]any{"lo_c": 8, "hi_c": 25, "lo_open": true}, "limit_s": 72 * 3600},
			{"id": "cool", "kind": "cumulative-in-band", "band": map[string]any{"lo_c": 0, "hi_c": 2, "hi_open": true}, "limit_s": 72 * 3600},
		}}, 201, nil)

	// Devices, units and lots through the API, setupConns requests at a time.
	devID := func(i int) string { return fmt.Sprintf("cc-%05d-logger", i) }
	unitID := func(i int) string { return fmt.Sprintf("unit-%05d", i) }
	lotID := func(i int) string { return fmt.Sprintf("lot-%05d", i) }
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = setupConns
	client := &http.Client{Transport: tr, Timeout: time.Minute}
	post := func(path string, body any, out any) error {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		req, err := http.NewRequest("POST", p.url+path, bytes.NewReader(b))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+admin.token)
		resp, err := client.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		rb, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusCreated {
			return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, rb)
		}
		if out != nil {
			return json.Unmarshal(rb, out)
		}
		return nil
	}
	limits := map[string]any{"low_c": 2, "high_c": 8, "hysteresis_c": 0.3, "alarm_delay_s": 60,
		"door_tolerance_s": 600, "interval_s": 60, "max_gap_s": 0}
	secrets := make([]string, n)
	setupStart := time.Now()
	var (
		wg       sync.WaitGroup
		setupErr atomic.Value
		requests atomic.Int64
	)
	next := atomic.Int64{}
	for range setupConns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || setupErr.Load() != nil {
					return
				}
				var d struct{ Secret string }
				err := post("/api/v1/tenants/"+ten.ID+"/devices", map[string]string{"id": devID(i), "model": "Bench logger T",
					"kind": "environment", "subject": unitID(i)}, &d)
				if err == nil {
					secrets[i] = d.Secret
					err = post(base+"/units", map[string]any{"id": unitID(i), "site": "site-bench", "name": "Fridge " + unitID(i),
						"kind": "fridge", "storage_class": "refrigerator", "limits": limits,
						"sensors": []map[string]string{{"device": devID(i), "metric": "temp_ambient"}}}, nil)
					requests.Add(2)
				}
				if err == nil && i%lotEvery == 0 {
					err = post(base+"/lots", map[string]any{"id": lotID(i), "number": "LOT-" + lotID(i), "product": "VAX-BENCH",
						"quantity": 100, "uom": "doses", "expiry": "2028-12-31", "location": map[string]string{"kind": "unit", "id": unitID(i)}}, nil)
					requests.Add(1)
				}
				if err != nil {
					setupErr.CompareAndSwap(nil, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err, _ := setupErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	setupTime := time.Since(setupStart)

	// One MQTT connection per logger (the benchmarks' minimal QoS 1 client), 50 connects at a time.
	conns := make([]*rawMQTT, n)
	connStart := time.Now()
	sem := make(chan struct{}, 50)
	var connectErr atomic.Value
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			c, err := dialRawMQTT(mqttAddr, devID(i), devID(i), secrets[i])
			if err != nil {
				connectErr.CompareAndSwap(nil, fmt.Errorf("connect %s: %w", devID(i), err))
				return
			}
			conns[i] = c
		}()
	}
	wg.Wait()
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.close()
			}
		}
	}()
	if err, _ := connectErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	connTime := time.Since(connStart)

	// Publish: logger i at start + i·period/n + k·period, until start + dur.
	temp := func(i, k int) float64 {
		if i%warmEvery == 0 && k >= 1 {
			return 10.5 // in the (8, 25] budget band
		}
		// 4–6 °C per unit; ±0.01 °C alternating, so no unit shows the steady rise that starts
		// a time-to-excursion forecast.
		return 4 + 0.05*float64(i%40) + 0.01*float64(k%2)
	}
	lastAt := make([]int64, n) // ms of the last PUBACKed reading, per unit
	var (
		mu       sync.Mutex
		lat      []time.Duration
		failures atomic.Int64
	)
	start := time.Now().Add(time.Second)
	end := start.Add(dur)
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := "vigil/v1/" + devID(i) + "/senml"
			var local []time.Duration
			for k := 0; ; k++ {
				at := start.Add(time.Duration(i)*period/time.Duration(n) + time.Duration(k)*period)
				if !at.Before(end) {
					break
				}
				time.Sleep(time.Until(at))
				m := at.UnixMilli() // the scheduled instant: readings exactly one period apart
				pack := fmt.Appendf(nil, `[{"bn":"%s:","bt":%d.%03d,"n":"temp","u":"Cel","v":%.2f}]`, devID(i), m/1000, m%1000, temp(i, k))
				t0 := time.Now()
				if err := c.publish(topic, pack); err != nil {
					failures.Add(1)
					break
				}
				local = append(local, time.Since(t0))
				lastAt[i] = m
			}
			mu.Lock()
			lat = append(lat, local...)
			mu.Unlock()
		}()
	}
	clk := clockTicks()
	time.Sleep(time.Until(start.Add(period)))
	cpu0, mach0, self0, t0 := procCPU(t, p.cmd.Process.Pid), machineCPU(t), procCPU(t, os.Getpid()), time.Now()
	time.Sleep(time.Until(end))
	cpu1, mach1, self1, t1 := procCPU(t, p.cmd.Process.Pid), machineCPU(t), procCPU(t, os.Getpid()), time.Now()
	rss := rssOf(t, p.cmd.Process.Pid)
	wg.Wait()
	pubEnd := time.Now()
	if f := failures.Load(); f > 0 {
		t.Fatalf("%d loggers failed to publish", f)
	}

	warmUnits := (n + warmEvery - 1) / warmEvery
	slices.Sort(lat)
	pct := func(q float64) time.Duration { return lat[int(q*float64(len(lat)-1))].Round(10 * time.Microsecond) }
	secs := t1.Sub(t0).Seconds()
	vigilCore := float64(cpu1-cpu0) / clk / secs
	selfCore := float64(self1-self0) / clk / secs
	cores := numCPU()
	t.Logf("%d storage units (fridges 2–8 °C, %d warming into excursion, %d holding a lot), one reading per unit per minute over MQTT QoS 1 = %.0f readings/s, on %d cores",
		n, warmUnits, (n+lotEvery-1)/lotEvery, float64(n)/period.Seconds(), cores)
	t.Logf("setup: %d devices, %d units and %d lots through the API, %d requests in %s = %.0f/s with %d concurrent clients; %d MQTT connections in %s",
		n, n, (n+lotEvery-1)/lotEvery, requests.Load(), setupTime.Round(time.Millisecond), float64(requests.Load())/setupTime.Seconds(), setupConns, n, connTime.Round(time.Millisecond))
	t.Logf("Vigil CPU over the steady %s (after a 1-minute warm-up): %.1f%% of one core = %.1f%% of the machine's %d cores; RSS %d MiB",
		t1.Sub(t0).Round(time.Second), 100*vigilCore, 100*vigilCore/float64(cores), cores, rss>>20)
	if mach1.total > mach0.total {
		t.Logf("machine busy meanwhile: %.1f%% (the load generator itself: %.1f%% of one core)",
			100*float64(mach1.busy-mach0.busy)/float64(mach1.total-mach0.total), 100*selfCore)
	}
	t.Logf("readings: %d PUBACKed, PUBACK p50 %s p99 %s max %s", len(lat), pct(0.5), pct(0.99), lat[len(lat)-1].Round(time.Millisecond))

	// Processed: every unit's live status shows its last reading.
	type unitView struct {
		ID     string `json:"id"`
		Status struct {
			State string     `json:"state"`
			At    *time.Time `json:"at"`
		} `json:"status"`
	}
	idx := map[string]int{}
	for i := range n {
		idx[unitID(i)] = i
	}
	var (
		current, inExcursion, wrongState int
		caughtUp                         time.Duration
	)
	for deadline := time.Now().Add(2 * time.Minute); ; {
		var out struct{ Units []unitView }
		admin.must("GET", base+"/units?site=site-bench", nil, 200, &out)
		current, inExcursion, wrongState = 0, 0, 0
		for _, u := range out.Units {
			i, ok := idx[u.ID]
			if !ok {
				continue
			}
			if u.Status.At != nil && u.Status.At.UnixMilli() == lastAt[i] {
				current++
			}
			warm := i%warmEvery == 0
			if u.Status.State == "excursion" {
				inExcursion++
			}
			if warm != (u.Status.State == "excursion") {
				wrongState++
			}
		}
		if current == n || time.Now().After(deadline) {
			caughtUp = time.Since(pubEnd)
			break
		}
		time.Sleep(time.Second)
	}
	if current < n {
		t.Fatalf("the cold-chain processor shows the last reading of %d of %d units 2 minutes after the last publish", current, n)
	}
	if wrongState > 0 || inExcursion != warmUnits {
		t.Fatalf("%d units in excursion, want the %d warm ones (%d in the wrong state)", inExcursion, warmUnits, wrongState)
	}
	charged := 0
	var consumed float64
	for i := 0; i < n; i += warmEvery {
		var l struct {
			Budget []struct {
				Rule      string  `json:"rule"`
				ConsumedS float64 `json:"consumed_s"`
			} `json:"budget"`
		}
		admin.must("GET", base+"/lots/"+lotID(i), nil, 200, &l)
		for _, b := range l.Budget {
			if b.Rule == "warm" && b.ConsumedS > 0 {
				charged++
				consumed += b.ConsumedS
			}
		}
	}
	if charged != warmUnits {
		t.Fatalf("%d of the %d lots in warm units have budget charged", charged, warmUnits)
	}
	var alarms struct {
		Alarms []struct{ Code, Subject string }
	}
	admin.must("GET", "/api/v1/tenants/"+ten.ID+"/alarms?state=all&limit=10000", nil, 200, &alarms)
	byCode := map[string]int{}
	for _, a := range alarms.Alarms {
		byCode[a.Code]++
	}
	codes := make([]string, 0, len(byCode))
	for c, k := range byCode {
		codes = append(codes, fmt.Sprintf("%s %d", c, k))
	}
	slices.Sort(codes)
	t.Logf("alarms raised: %s", strings.Join(codes, ", "))
	if byCode["EXCURSION_HIGH"] < warmUnits {
		t.Fatalf("%d EXCURSION_HIGH alarms, want one per warm unit (%d)", byCode["EXCURSION_HIGH"], warmUnits)
	}
	stored := metricValue(t, p.url, "vigil_stream_writer_readings_total")

	t.Logf("cold-chain processor: all %d units' live status at their last reading %.1fs after the last publish; %d units in excursion, %d lots with budget charged (mean %.0f s); %.0f readings stored",
		n, caughtUp.Seconds(), inExcursion, charged, consumed/float64(charged), stored)
}

// procCPU returns a process's utime+stime in clock ticks (/proc/<pid>/stat fields 14 and 15).
func procCPU(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name (field 2) may hold spaces: count fields after its closing parenthesis.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	u, err1 := strconv.ParseInt(f[11], 10, 64)
	s, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("/proc/%d/stat: %q", pid, b)
	}
	return u + s
}

type cpuTimes struct{ busy, total int64 }

// machineCPU reads the machine's busy and total clock ticks from the first line of /proc/stat.
func machineCPU(t *testing.T) cpuTimes {
	t.Helper()
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		t.Fatal(err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var c cpuTimes
	for i, s := range f[1:] {
		if i >= 8 { // guest time is already counted in user time
			break
		}
		v, _ := strconv.ParseInt(s, 10, 64)
		c.total += v
		if i != 3 && i != 4 { // idle, iowait
			c.busy += v
		}
	}
	return c
}

// clockTicks is the kernel's USER_HZ (getconf CLK_TCK), 100 where getconf is missing.
func clockTicks() float64 {
	out, err := exec.Command("getconf", "CLK_TCK").Output()
	if err != nil {
		return 100
	}
	v, err := strconv.ParseFloat(strings.TrimSpace(string(out)), 64)
	if err != nil || v <= 0 {
		return 100
	}
	return v
}
