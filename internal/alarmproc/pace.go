package alarmproc

import (
	"context"
	"encoding/json"
	"time"
)

// Pacing: ingest acknowledges a pack only once the engine's node has evaluated readings
// received up to PaceBound before it (ingest.Pacer), so that under a load the machine cannot
// evaluate, devices slow down instead of alarms falling behind. A node that hears nothing from
// an engine does not pace; no acknowledgement waits longer than PaceMax.
const (
	PaceBound = 50 * time.Millisecond
	PaceMax   = 2 * time.Second
	// progressEvery is how often the engine's node tells the others how far it has evaluated.
	progressEvery = 20 * time.Millisecond
	// progressStale: a standby node that has heard no progress for this long does not pace.
	progressStale = 2 * time.Second
	topicProgress = "alarms.progress"
)

// progressSignal returns the receive time up to which readings are evaluated, a channel closed
// at the next change, and whether pacing applies at all.
func (s *Service) progressSignal() (time.Time, <-chan struct{}, bool) {
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	if s.progCh == nil {
		s.progCh = make(chan struct{})
	}
	switch {
	case s.leading.Load():
		return s.lastRecv, s.progCh, !s.lastRecv.IsZero()
	case !s.remoteAt.IsZero() && time.Since(s.remoteAt) < progressStale:
		return s.remoteRecv, s.progCh, true
	}
	return time.Time{}, s.progCh, false
}

// advanced wakes the acknowledgements waiting for progress; clockMu must be held.
func (s *Service) advanced() {
	if s.progCh != nil {
		close(s.progCh)
		s.progCh = nil
	}
}

// Pace implements ingest.Pacer.
func (s *Service) Pace(ctx context.Context, received time.Time) {
	var timeout <-chan time.Time
	for {
		p, ch, ok := s.progressSignal()
		if !ok || received.Sub(p) <= PaceBound {
			return
		}
		if timeout == nil {
			t := time.NewTimer(PaceMax)
			defer t.Stop()
			timeout = t.C
			if s.paced != nil {
				start := time.Now()
				defer func() { s.paced.Add(time.Since(start).Seconds()) }()
			}
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		case <-timeout:
			return
		}
	}
}

// tellProgress broadcasts, while Run runs, how far the engine has evaluated (for the other
// nodes' pacing).
func (s *Service) tellProgress(ctx context.Context) error {
	if s.cfg.Bus == nil {
		return nil
	}
	tick := time.NewTicker(progressEvery)
	defer tick.Stop()
	var last time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		s.clockMu.Lock()
		p := s.lastRecv
		s.clockMu.Unlock()
		if p.Equal(last) {
			continue
		}
		last = p
		data, _ := json.Marshal(progressMsg{Origin: s.node, Recv: p})
		if err := s.cfg.Bus.Broadcast(topicProgress, data); err != nil {
			s.log.Warn("broadcast alarm progress", "err", err)
		}
	}
}

type progressMsg struct {
	Origin string    `json:"origin"`
	Recv   time.Time `json:"recv"`
}

// heardProgress records the engine node's progress (standby nodes).
func (s *Service) heardProgress(data []byte) {
	var m progressMsg
	if json.Unmarshal(data, &m) != nil || m.Origin == s.node {
		return
	}
	s.clockMu.Lock()
	defer s.clockMu.Unlock()
	s.remoteRecv, s.remoteAt = m.Recv, time.Now()
	s.advanced()
}
