package stream

import (
	"context"
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// The bus: core NATS messages between the nodes of one deployment (not stored, not part of
// the log), under <root>.ctl.<topic> where the log's subjects are <root>.r.…. The lease
// holder uses it to tell the others about alarm changes and to answer their commands.

func (l *Log) busSubject(topic string) string {
	return strings.TrimSuffix(l.cfg.SubjectPrefix, ".r") + ".ctl." + topic
}

// Broadcast sends data to every node listening on topic (this one included).
func (l *Log) Broadcast(topic string, data []byte) error {
	if err := l.nc.Publish(l.busSubject(topic), data); err != nil {
		return fmt.Errorf("stream: broadcast %s: %w", topic, err)
	}
	return nil
}

// Listen calls fn with every message broadcast on topic until stop is called. fn runs on one
// goroutine per subscription, in order.
func (l *Log) Listen(topic string, fn func(data []byte)) (stop func(), err error) {
	sub, err := l.nc.Subscribe(l.busSubject(topic), func(m *nats.Msg) { fn(m.Data) })
	if err != nil {
		return nil, fmt.Errorf("stream: listen %s: %w", topic, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}

// Ask sends a request on topic and returns the answer of the node that answers it
// (nats.ErrNoResponders, wrapped, when none does).
func (l *Log) Ask(ctx context.Context, topic string, data []byte) ([]byte, error) {
	m, err := l.nc.RequestWithContext(ctx, l.busSubject(topic), data)
	if err != nil {
		return nil, fmt.Errorf("stream: ask %s: %w", topic, err)
	}
	return m.Data, nil
}

// Answer answers requests on topic with fn until stop is called.
func (l *Log) Answer(topic string, fn func(ctx context.Context, data []byte) []byte) (stop func(), err error) {
	sub, err := l.nc.Subscribe(l.busSubject(topic), func(m *nats.Msg) {
		_ = m.Respond(fn(context.Background(), m.Data))
	})
	if err != nil {
		return nil, fmt.Errorf("stream: answer %s: %w", topic, err)
	}
	return func() { _ = sub.Unsubscribe() }, nil
}
