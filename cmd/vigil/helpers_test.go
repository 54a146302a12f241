package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

const adminPassword = "correct horse battery staple"

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// vigilBinary builds the real binary once per test run.
func vigilBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "vigil-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "vigil")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running vigil process.
type proc struct {
	cmd    *exec.Cmd
	addr   string
	url    string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startVigil starts `vigil serve` (optionally wrapped, e.g. by strace) on dataDir and waits
// for /readyz.
func startVigil(t *testing.T, dataDir string, wrap []string, extra ...string) *proc {
	t.Helper()
	addr := freePort(t)
	args := append([]string{}, wrap...)
	args = append(args, vigilBinary(t), "serve", "--data", dataDir, "--http", addr)
	args = append(args, "--mqtt", "") // no fixed port shared between tests; extra may set --mqtt
	args = append(args, extra...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = append(os.Environ(), "VIGIL_ADMIN_PASSWORD="+adminPassword)
	p := &proc{cmd: cmd, addr: addr, url: "http://" + addr, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stdout, p.stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
		if t.Failed() {
			t.Logf("vigil stderr (tail):\n%s", tail(p.stderr.String(), 4000))
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			t.Fatalf("vigil exited early:\n%s", tail(p.stderr.String(), 4000))
		default:
		}
		resp, err := http.Get(p.url + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("vigil not ready within 60s:\n%s", tail(p.stderr.String(), 4000))
	return nil
}

// kill sends SIGKILL to the process (and its wrapper's group) and waits for it to end.
func (p *proc) kill(t *testing.T) {
	t.Helper()
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	<-p.done
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}

// api is a small JSON client for tests.
type api struct {
	t     *testing.T
	base  string
	token string
}

func (a *api) do(method, path string, body any, out any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, a.base+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if out != nil && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			a.t.Fatalf("%s %s: %v in %s", method, path, err, b)
		}
	}
	if resp.StatusCode >= 300 && out != nil {
		a.t.Logf("%s %s: %d %s", method, path, resp.StatusCode, b)
	}
	return resp.StatusCode
}

func (a *api) must(method, path string, body any, want int, out any) {
	a.t.Helper()
	if got := a.do(method, path, body, out); got != want {
		a.t.Fatalf("%s %s: status %d, want %d", method, path, got, want)
	}
}

// loginAdmin logs in as the provider admin.
func loginAdmin(t *testing.T, base string) *api {
	t.Helper()
	a := &api{t: t, base: base}
	var out struct {
		Token string `json:"token"`
	}
	a.must("POST", "/api/v1/login", map[string]string{"username": "admin", "password": adminPassword}, 200, &out)
	a.token = out.Token
	return a
}

type devCred struct{ id, secret string }

// setupTenant creates a tenant and n devices bound to subjects "<prefix>-i".
func setupTenant(t *testing.T, a *api, name string, n int, kind string) (string, []devCred) {
	t.Helper()
	var ten struct {
		ID string `json:"id"`
	}
	a.must("POST", "/api/v1/tenants", map[string]string{"name": name}, 201, &ten)
	var devs []devCred
	for i := range n {
		var d struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}
		id := fmt.Sprintf("%s-dev-%03d", ten.ID, i)
		a.must("POST", "/api/v1/tenants/"+ten.ID+"/devices", map[string]string{
			"id": id, "model": "test", "kind": kind, "subject": fmt.Sprintf("%s-subj-%03d", ten.ID, i)}, 201, &d)
		devs = append(devs, devCred{d.ID, d.Secret})
	}
	return ten.ID, devs
}

// postPack posts a SenML JSON pack as a device and returns the status.
func postPack(client *http.Client, base string, d devCred, pack []byte, query string) (int, error) {
	req, err := http.NewRequest("POST", base+"/api/v1/ingest"+query, bytes.NewReader(pack))
	if err != nil {
		return 0, err
	}
	req.SetBasicAuth(d.id, d.secret)
	req.Header.Set("Content-Type", "application/senml+json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// hrPack is a pack of n heart-rate records at t0, t0+1ms, ..., values v0.. .
func hrPack(dev string, t0 time.Time, n int, v0 int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `[{"bn":"%s:","bt":%d.%03d,"bu":"beat/min","n":"hr","v":%d}`, dev, t0.Unix(), t0.Nanosecond()/1e6, v0)
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, `,{"n":"hr","t":%.3f,"v":%d}`, float64(i)/1000, v0+i)
	}
	b.WriteString("]")
	return []byte(b.String())
}

// metricValue scrapes one counter or gauge from /metrics (summing label sets).
func metricValue(t *testing.T, base, name string) float64 {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var sum float64
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, name+" ") || strings.HasPrefix(line, name+"{") {
			var v float64
			fields := strings.Fields(line)
			fmt.Sscan(fields[len(fields)-1], &v)
			sum += v
		}
	}
	return sum
}

// waitStoredOnce waits until every acknowledged heart-rate reading (subject → measured time in
// ms) can be read back through the readings API of tenant in [from, to); it fails at once when
// a reading is stored more than once, and after 60 s when some are still missing.
func waitStoredOnce(t *testing.T, a *api, tenant string, want map[string]map[int64]bool, from, to time.Time) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		missing := 0
		for subj, times := range want {
			var out struct {
				Points []struct {
					T time.Time `json:"t"`
				} `json:"points"`
			}
			q := fmt.Sprintf("/api/v1/tenants/%s/subjects/%s/readings?metric=hr&from=%s&to=%s&limit=100000",
				tenant, subj, from.Format(time.RFC3339), to.Format(time.RFC3339))
			a.must("GET", q, nil, 200, &out)
			seen := map[int64]int{}
			for _, pt := range out.Points {
				seen[pt.T.Round(time.Millisecond).UnixMilli()]++
			}
			for ms, c := range seen {
				if c > 1 {
					t.Fatalf("subject %s: reading at %d stored %d times", subj, ms, c)
				}
			}
			for ms := range times {
				if seen[ms] == 0 {
					missing++
				}
			}
		}
		if missing == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d acknowledged readings missing after restart", missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
