package stream

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// Lock order: lane.mu before Log.mu (runLane is started with lane.mu held).

// pack is one Append call's readings, encoded, waiting in its lane.
type pack struct {
	body []byte       // appendReadings encoding
	ids  []reading.ID // for the group's message id
	done chan error   // buffered; receives the group's publish result
}

// lane is the group-commit queue of one subject: at most one publish in flight, and the
// packs that arrive meanwhile.
type lane struct {
	subject string

	mu      sync.Mutex // guards the fields below
	queue   []*pack    // waiting for the next group, oldest first
	bytes   int        // encoded bytes queued or in flight
	running bool       // a runLane goroutine owns the queue
	space   chan struct{}
}

type laneKey struct {
	tenant    string
	partition int
}

// Partition returns the partition of partitionKey (the device id): a stable hash modulo the
// configured number of partitions.
func (l *Log) Partition(partitionKey string) int {
	h := fnv.New32a()
	h.Write([]byte(partitionKey))
	return int(h.Sum32() % uint32(l.cfg.Partitions))
}

// Subject returns the subject that tenant's readings with partitionKey are appended to.
func (l *Log) Subject(tenant, partitionKey string) string {
	return l.subject(tenant, l.Partition(partitionKey))
}

func (l *Log) subject(tenant string, partition int) string {
	return l.cfg.SubjectPrefix + "." + tenant + "." + strconv.Itoa(partition)
}

// Append appends rs, all of tenant, to the partition of partitionKey and returns once they are
// durably in the log (the JetStream acknowledgement of the message that holds them arrived).
// An error means the caller must not acknowledge the readings: they may or may not be in the
// log (a later retry is harmless, since readings are idempotent by id). Append blocks while
// the partition has MaxPendingBytes waiting, until ctx is done.
func (l *Log) Append(ctx context.Context, tenant, partitionKey string, rs []reading.Reading) error {
	if len(rs) == 0 {
		return nil
	}
	start := time.Now()
	if err := checkTenant(tenant); err != nil {
		return err
	}
	for i := range rs {
		if rs[i].Tenant != tenant {
			return fmt.Errorf("stream: append for tenant %s: reading %d has tenant %q", tenant, i, rs[i].Tenant)
		}
	}
	p := &pack{
		body: appendReadings(make([]byte, 0, 128*len(rs)), rs),
		ids:  make([]reading.ID, len(rs)),
		done: make(chan error, 1),
	}
	for i := range rs {
		p.ids[i] = rs[i].ID
	}
	if len(p.body) > l.cfg.MaxGroupBytes-16 {
		return fmt.Errorf("stream: append for tenant %s: pack of %d readings encodes to %d bytes, more than the %d a log message holds",
			tenant, len(rs), len(p.body), l.cfg.MaxGroupBytes-16)
	}

	key := laneKey{tenant, l.Partition(partitionKey)}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return ErrClosed
	}
	l.appends.Add(1)
	defer l.appends.Done()
	ln := l.lanes[key]
	if ln == nil {
		ln = &lane{subject: l.subject(key.tenant, key.partition), space: make(chan struct{})}
		l.lanes[key] = ln
	}
	l.mu.Unlock()

	if err := l.enqueue(ctx, ln, p); err != nil {
		return fmt.Errorf("stream: append to %s: %w", ln.subject, err)
	}
	select {
	case err := <-p.done:
		if err != nil {
			return fmt.Errorf("stream: append to %s: %w", ln.subject, err)
		}
	case <-ctx.Done():
		return fmt.Errorf("stream: append to %s: waiting for the log: %w", ln.subject, ctx.Err())
	}
	l.metrics.appendedPacks.Inc()
	l.metrics.appendedReadings.Add(float64(len(rs)))
	l.metrics.appendSeconds.Observe(time.Since(start).Seconds())
	return nil
}

// enqueue adds p to ln's queue once ln has room, and starts ln's publisher if it is idle.
func (l *Log) enqueue(ctx context.Context, ln *lane, p *pack) error {
	ln.mu.Lock()
	defer ln.mu.Unlock()
	for ln.bytes > 0 && ln.bytes+len(p.body) > l.cfg.MaxPendingBytes {
		space := ln.space
		ln.mu.Unlock()
		select {
		case <-space:
		case <-ctx.Done():
			ln.mu.Lock()
			return fmt.Errorf("waiting for room in the group-commit queue: %w", ctx.Err())
		}
		ln.mu.Lock()
	}
	ln.queue = append(ln.queue, p)
	ln.bytes += len(p.body)
	if !ln.running {
		ln.running = true
		l.lanesW.Add(1) // Append holds l.appends, so Close has not begun waiting for lanes
		go l.runLane(ln)
	}
	return nil
}

// runLane publishes ln's queue group by group until it is empty.
func (l *Log) runLane(ln *lane) {
	defer l.lanesW.Done()
	for {
		ln.mu.Lock()
		if len(ln.queue) == 0 {
			ln.running = false
			ln.mu.Unlock()
			return
		}
		n, size := 0, 0
		for n < len(ln.queue) && (n == 0 || size+len(ln.queue[n].body) <= l.cfg.MaxGroupBytes-16) {
			size += len(ln.queue[n].body)
			n++
		}
		group := make([]*pack, n)
		copy(group, ln.queue)
		rest := copy(ln.queue, ln.queue[n:])
		clear(ln.queue[rest:])
		ln.queue = ln.queue[:rest]
		ln.mu.Unlock()

		err := l.publish(ln.subject, group, size)
		for _, p := range group {
			p.done <- err
		}

		ln.mu.Lock()
		ln.bytes -= size
		close(ln.space)
		ln.space = make(chan struct{})
		ln.mu.Unlock()
	}
}

// publish sends group as one message and waits for its acknowledgement.
func (l *Log) publish(subject string, group []*pack, size int) error {
	readings := 0
	for _, p := range group {
		readings += len(p.ids)
	}
	data := groupHeader(make([]byte, 0, size+11), readings)
	h := sha256.New()
	for _, p := range group {
		data = append(data, p.body...)
		for i := range p.ids {
			h.Write(p.ids[i][:])
		}
	}
	var sum [sha256.Size]byte
	id := hex.EncodeToString(h.Sum(sum[:0])[:16])

	ctx, cancel := context.WithTimeout(l.closing, l.cfg.PublishTimeout)
	defer cancel()
	_, err := l.js.PublishMsg(ctx, &nats.Msg{Subject: subject, Data: data},
		jetstream.WithMsgID(id), jetstream.WithExpectStream(l.cfg.StreamName))
	if err != nil {
		l.metrics.publishErrors.Inc()
		return fmt.Errorf("publish group of %d packs (%d readings, %d bytes): %w", len(group), readings, len(data), err)
	}
	l.metrics.groups.Inc()
	l.metrics.groupPacks.Observe(float64(len(group)))
	l.metrics.groupReadings.Observe(float64(readings))
	return nil
}

// checkTenant accepts tenant ids of [a-z0-9-], which are safe as a subject token.
func checkTenant(tenant string) error {
	if tenant == "" {
		return fmt.Errorf("stream: tenant id is empty")
	}
	for i := 0; i < len(tenant); i++ {
		c := tenant[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Errorf("stream: tenant id %q: byte %d (%q) is not in [a-z0-9-]", tenant, i, c)
		}
	}
	return nil
}
