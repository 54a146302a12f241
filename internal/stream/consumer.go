package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// RunConsumer feeds every message of the log, in stream order, to fn through the durable
// consumer name until ctx is done (then it returns ctx's error) or fn fails. A message is
// acknowledged only after fn returned nil for it, so after a crash or restart the messages fn
// had not finished are delivered again: fn must be idempotent. One message is in flight at a
// time, which keeps the order. An undecodable message is logged and terminated.
func (l *Log) RunConsumer(ctx context.Context, name string, fn func(ctx context.Context, seq uint64, rs []reading.Reading) error) error {
	cons, err := l.js.CreateOrUpdateConsumer(ctx, l.cfg.StreamName, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Vigil processor " + name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.cfg.WriterAckWait,
		MaxDeliver:    -1,
		MaxAckPending: 1,
		FilterSubject: l.cfg.SubjectPrefix + ".>",
	})
	if err != nil {
		return fmt.Errorf("stream: consumer %s on %s: %w", name, l.cfg.StreamName, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(1), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("stream: consumer %s pull on %s: %w", name, l.cfg.StreamName, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stream: consumer %s on %s: %w", name, l.cfg.StreamName, err)
		}
		rs, ok := l.decodeForWriter(msg)
		if !ok {
			continue
		}
		var seq uint64
		if md, err := msg.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		if err := fn(ctx, seq, rs); err != nil {
			_ = msg.Nak()
			return fmt.Errorf("stream: consumer %s at seq %d: %w", name, seq, err)
		}
		ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.PublishTimeout)
		err = msg.DoubleAck(ackCtx)
		cancel()
		if err != nil {
			l.log.Warn("consumer ack not confirmed; the message may be redelivered (harmless)",
				"consumer", name, "stream", l.cfg.StreamName, "seq", seq, "err", err)
		}
	}
}

// RemoveConsumer deletes the durable consumer name if it exists (a processor that moved to
// Replay leaves its old consumer behind, which would otherwise keep its state on the server).
func (l *Log) RemoveConsumer(ctx context.Context, name string) error {
	err := l.js.DeleteConsumer(ctx, l.cfg.StreamName, name)
	if err == nil || errors.Is(err, jetstream.ErrConsumerNotFound) {
		return nil
	}
	return fmt.Errorf("stream: remove consumer %s on %s: %w", name, l.cfg.StreamName, err)
}

// ConsumerAckFloor returns the stream sequence up to which the durable consumer name has had
// every message acknowledged (its ack floor); ok is false when there is no such consumer. A
// processor that moved from RunConsumer to Replay starts after it once, so it neither skips
// nor (needlessly) repeats what the old consumer had processed.
func (l *Log) ConsumerAckFloor(ctx context.Context, name string) (seq uint64, ok bool, err error) {
	cons, err := l.js.Consumer(ctx, l.cfg.StreamName, name)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("stream: consumer %s on %s: %w", name, l.cfg.StreamName, err)
	}
	info, err := cons.Info(ctx)
	if errors.Is(err, jetstream.ErrConsumerNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("stream: consumer %s on %s: info: %w", name, l.cfg.StreamName, err)
	}
	return info.AckFloor.Stream, true, nil
}
