package alarmproc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/vigil-iomt/vigil/internal/alarm"
	"github.com/vigil-iomt/vigil/internal/store"
)

// Scaled out, one node runs the engine (the holder of the processors' lease, see
// stream.RunLeased); the others serve the same API from the store and forward commands to it
// over the Bus. The engine's node broadcasts every alarm change, so that live streams on every
// node show it.

// Bus connects the nodes of a deployment: *stream.Log implements it (core NATS).
type Bus interface {
	Broadcast(topic string, data []byte) error
	Listen(topic string, fn func(data []byte)) (stop func(), err error)
	Ask(ctx context.Context, topic string, data []byte) ([]byte, error)
	Answer(topic string, fn func(ctx context.Context, data []byte) []byte) (stop func(), err error)
}

// Bus topics.
const (
	topicEvents   = "alarms.events"   // alarmChange, from the engine's node
	topicCommands = "alarms.commands" // alarm.Command → commandReply, answered by the engine's node
	topicPolicies = "alarms.policies" // a tenant's policies changed: reload them
)

// ErrStandby: the engine runs on another node and no bus reaches it.
var ErrStandby = errors.New("the alarm engine runs on another node and cannot be reached")

type alarmChange struct {
	Origin string `json:"origin"`
	View   View   `json:"view"`
}

type commandReply struct {
	View  View   `json:"view"`
	Error string `json:"error,omitempty"`
	Kind  string `json:"kind,omitempty"` // which sentinel the error wraps
}

var replyErrors = map[string]error{
	"forbidden": alarm.ErrForbidden, "not_found": alarm.ErrNotFound, "invalid_transition": alarm.ErrInvalidTransition,
	"reason_required": alarm.ErrReasonRequired, "invalid": alarm.ErrInvalid, "store_not_found": store.ErrNotFound,
	"standby": ErrStandby,
}

func errorKind(err error) string {
	for k, e := range replyErrors {
		if errors.Is(err, e) {
			return k
		}
	}
	return ""
}

// listen subscribes to the other nodes' alarm changes and policy reloads (New).
func (s *Service) listen() error {
	if s.cfg.Bus == nil {
		return nil
	}
	stopEvents, err := s.cfg.Bus.Listen(topicEvents, func(data []byte) {
		var c alarmChange
		if json.Unmarshal(data, &c) != nil || c.Origin == s.node {
			return
		}
		s.deliver(c.View)
	})
	if err != nil {
		return fmt.Errorf("alarm processor: %w", err)
	}
	stopPolicies, err := s.cfg.Bus.Listen(topicPolicies, func([]byte) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.reloadPolicies(ctx); err != nil {
			s.log.Error("reload escalation policies", "err", err)
		}
	})
	if err != nil {
		stopEvents()
		return fmt.Errorf("alarm processor: %w", err)
	}
	stopProgress, err := s.cfg.Bus.Listen(topicProgress, s.heardProgress)
	if err != nil {
		stopEvents()
		stopPolicies()
		return fmt.Errorf("alarm processor: %w", err)
	}
	s.stopBus = func() { stopEvents(); stopPolicies(); stopProgress() }
	return nil
}

// Close ends the Service's bus subscriptions.
func (s *Service) Close() {
	if s.stopBus != nil {
		s.stopBus()
	}
}

// answer serves the other nodes' commands while Run runs.
func (s *Service) answer() (stop func(), err error) {
	if s.cfg.Bus == nil {
		return func() {}, nil
	}
	return s.cfg.Bus.Answer(topicCommands, func(ctx context.Context, data []byte) []byte {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		var cmd alarm.Command
		var rep commandReply
		if err := json.Unmarshal(data, &cmd); err != nil {
			rep.Error, rep.Kind = "decode command: "+err.Error(), "invalid"
		} else if v, err := s.Do(ctx, cmd); err != nil {
			rep.Error, rep.Kind = err.Error(), errorKind(err)
		} else {
			rep.View = v
		}
		out, _ := json.Marshal(rep)
		return out
	})
}

// forward sends a command to the engine's node and returns its answer.
func (s *Service) forward(ctx context.Context, cmd alarm.Command) (View, error) {
	if s.cfg.Bus == nil {
		return View{}, ErrStandby
	}
	data, err := json.Marshal(cmd)
	if err != nil {
		return View{}, fmt.Errorf("encode alarm command: %w", err)
	}
	ans, err := s.cfg.Bus.Ask(ctx, topicCommands, data)
	if err != nil {
		return View{}, fmt.Errorf("%w: %w", ErrStandby, err)
	}
	var rep commandReply
	if err := json.Unmarshal(ans, &rep); err != nil {
		return View{}, fmt.Errorf("decode the engine node's answer: %w", err)
	}
	if rep.Error != "" {
		if e, ok := replyErrors[rep.Kind]; ok {
			return View{}, fmt.Errorf("%s (on the engine's node): %w", rep.Error, e)
		}
		return View{}, fmt.Errorf("on the engine's node: %s", rep.Error)
	}
	return rep.View, nil
}
