package stream

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// RunConsumer feeds every message of the log, in stream order, to fn through the durable
// consumer name until ctx is done (then it returns ctx's error) or fn fails. A message is
// acknowledged only after fn returned nil for it, so after a crash or restart the messages fn
// had not finished — and up to a batch of handled ones whose acknowledgement was pending — are
// delivered again: fn must be idempotent. Messages are handled one at a time in stream order.
// An undecodable message is logged and terminated.
func (l *Log) RunConsumer(ctx context.Context, name string, fn func(ctx context.Context, seq uint64, rs []reading.Reading) error) error {
	// AckAll: one acknowledgement covers every earlier message, so a processor that handles
	// messages strictly in order acknowledges in batches (each acknowledgement is a consumer
	// state write that the embedded server fsyncs) — at most consumerAckEvery messages or
	// consumerAckDelay after the newest one it handled.
	cons, err := l.js.CreateOrUpdateConsumer(ctx, l.cfg.StreamName, jetstream.ConsumerConfig{
		Durable:       name,
		Description:   "Vigil processor " + name,
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckAllPolicy,
		AckWait:       l.cfg.WriterAckWait,
		MaxDeliver:    -1,
		MaxAckPending: 4 * consumerAckEvery,
		FilterSubject: l.cfg.SubjectPrefix + ".>",
	})
	if err != nil {
		return fmt.Errorf("stream: consumer %s on %s: %w", name, l.cfg.StreamName, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(consumerAckEvery), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("stream: consumer %s pull on %s: %w", name, l.cfg.StreamName, err)
	}
	defer it.Stop()
	var (
		unacked jetstream.Msg // the newest handled message not yet acknowledged
		pending int           // handled messages that ack would cover
	)
	ack := func() {
		if unacked == nil {
			return
		}
		ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.PublishTimeout)
		err := unacked.DoubleAck(ackCtx)
		cancel()
		if err != nil {
			l.log.Warn("consumer ack not confirmed; the messages may be redelivered (harmless)",
				"consumer", name, "stream", l.cfg.StreamName, "messages", pending, "err", err)
		}
		unacked, pending = nil, 0
	}
	defer ack()
	for {
		var msg jetstream.Msg
		if unacked != nil {
			msg, err = it.Next(jetstream.NextMaxWait(consumerAckDelay))
			if errors.Is(err, nats.ErrTimeout) {
				ack() // idle: acknowledge what was handled
				if ctx.Err() != nil {
					return ctx.Err()
				}
				continue
			}
		} else {
			msg, err = it.Next(jetstream.NextContext(ctx))
		}
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stream: consumer %s on %s: %w", name, l.cfg.StreamName, err)
		}
		rs, ok := l.decodeForWriter(msg)
		if !ok {
			continue // terminated; later acknowledgements do not need it
		}
		var seq uint64
		if md, err := msg.Metadata(); err == nil {
			seq = md.Sequence.Stream
		}
		if err := fn(ctx, seq, rs); err != nil {
			ack() // what was handled before this message is done
			_ = msg.Nak()
			return fmt.Errorf("stream: consumer %s at seq %d: %w", name, seq, err)
		}
		unacked = msg
		pending++
		if pending >= consumerAckEvery {
			ack()
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

const (
	consumerAckEvery = 256                   // messages per acknowledgement at most
	consumerAckDelay = 20 * time.Millisecond // idle time after which handled messages are acknowledged
)
