package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestKill9KeepsAcknowledgedReadings posts packs from several clients to the real binary,
// SIGKILLs it mid-stream, restarts it on the same data directory and checks that every
// reading acknowledged with a 202 is in the store exactly once.
func TestKill9KeepsAcknowledgedReadings(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and kills the real binary")
	}
	dir := t.TempDir()
	p := startVigil(t, dir, nil)
	admin := loginAdmin(t, p.url)
	tenant, devs := setupTenant(t, admin, "Kill Nine", 8, "monitor")

	const perPack = 20
	type ack struct {
		subject string
		t0      time.Time
	}
	var (
		mu    sync.Mutex
		acked []ack
		wg    sync.WaitGroup
	)
	base := time.Now().Add(-time.Hour).Truncate(time.Second)
	stop := make(chan struct{})
	for i, d := range devs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 10 * time.Second}
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				t0 := base.Add(time.Duration(k*perPack) * time.Millisecond)
				code, err := postPack(client, p.url, d, hrPack(d.id, t0, perPack, 60), "")
				if err != nil {
					return // the server died
				}
				if code == http.StatusAccepted {
					mu.Lock()
					acked = append(acked, ack{fmt.Sprintf("%s-subj-%03d", tenant, i), t0})
					mu.Unlock()
				}
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	p.kill(t) // SIGKILL mid-stream
	close(stop)
	wg.Wait()
	mu.Lock()
	n := len(acked)
	mu.Unlock()
	if n < 20 {
		t.Fatalf("only %d packs acknowledged before the kill; the test needs traffic", n)
	}
	t.Logf("%d packs (%d readings) acknowledged before SIGKILL", n, n*perPack)

	p2 := startVigil(t, dir, nil)
	admin2 := loginAdmin(t, p2.url)
	want := map[string]map[int64]bool{} // subject → measured ms
	for _, a := range acked {
		if want[a.subject] == nil {
			want[a.subject] = map[int64]bool{}
		}
		for j := range perPack {
			want[a.subject][a.t0.Add(time.Duration(j)*time.Millisecond).UnixMilli()] = true
		}
	}
	waitStoredOnce(t, admin2, tenant, want, base.Add(-time.Minute), base.Add(time.Hour))
}

// TestAckAfterFsync traces the real binary's system calls with strace and checks, for
// several packs, that the HTTP 202 is written only after JetStream fsynced the stream's
// message block that received the pack.
func TestAckAfterFsync(t *testing.T) {
	if testing.Short() {
		t.Skip("needs strace and the real binary")
	}
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace not installed (.ci/run installs it): ", err)
	}
	dir := t.TempDir()
	traceFile := filepath.Join(t.TempDir(), "trace")
	if d := os.Getenv("VIGIL_KEEP_TRACE"); d != "" {
		traceFile = d
	}
	p := startVigil(t, dir, []string{strace, "-f", "-qq", "-ttt", "-y", "-s", "96",
		"-e", "trace=read,recvfrom,write,writev,sendto,sendmsg,fsync,fdatasync,sync_file_range", "-o", traceFile})
	admin := loginAdmin(t, p.url)
	_, devs := setupTenant(t, admin, "Strace", 1, "monitor")

	const packs = 5
	client := &http.Client{Timeout: 10 * time.Second}
	for i := range packs {
		code, err := postPack(client, p.url, devs[0], hrPack(devs[0].id, time.Now().Add(time.Duration(-i)*time.Minute), 5, 70), fmt.Sprintf("?trace=mark%d", i))
		if err != nil || code != http.StatusAccepted {
			t.Fatalf("pack %d: status %d, err %v", i, code, err)
		}
	}
	p.kill(t)

	f, err := os.Open(traceFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// For each marked request: after its read, we must see an fsync of a JetStream message
	// block of the READINGS stream before the 202 is written.
	// (Go's server may read the request's first byte separately, so match from "ingest".)
	reqRE := regexp.MustCompile(`(?:read|recvfrom)\(\d+<([^>]*)>,\s*".*/api/v1/ingest\?trace=(mark\d+)`)
	syncRE := regexp.MustCompile(`(fsync|fdatasync)\(\d+<[^>]*/nats/jetstream/[^>]*READINGS/msgs/[^>]*>\)\s+=\s+0`)
	ackRE := regexp.MustCompile(`(?:write|writev|sendto|sendmsg)\(\d+<([^>]*)>,\s*.*HTTP/1\.1 202 Accepted`)
	var current, conn string
	synced := false
	checked := map[string]bool{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	pending := map[string]string{} // pid → first half of an interrupted syscall line
	for sc.Scan() {
		line := sc.Text()
		pid, _, _ := strings.Cut(line, " ")
		if before, ok := strings.CutSuffix(line, "<unfinished ...>"); ok {
			pending[pid] = strings.TrimRight(before, " ")
			continue
		}
		if i := strings.Index(line, "resumed>"); i >= 0 {
			line = pending[pid] + line[i+len("resumed>"):]
			delete(pending, pid)
		}
		if m := reqRE.FindStringSubmatch(line); m != nil {
			current, conn, synced = m[2], m[1], false
			continue
		}
		if current != "" && syncRE.MatchString(line) {
			synced = true
			continue
		}
		if m := ackRE.FindStringSubmatch(line); current != "" && m != nil && m[1] == conn {
			if !synced {
				t.Fatalf("202 for %s written before any fsync of the READINGS message block:\n%s", current, line)
			}
			checked[current] = true
			current = ""
		}
	}
	if len(checked) != packs {
		t.Fatalf("found the request→fsync→202 sequence for %d of %d packs (trace in %s)", len(checked), packs, traceFile)
	}
}
