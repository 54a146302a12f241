package stream

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// WriterConsumer is the durable consumer name of the store writer.
const WriterConsumer = "store-writer"

// ReadingWriter stores readings idempotently by id and says how many were new.
// *sqlite.Store and *postgres.Store implement it.
type ReadingWriter interface {
	InsertReadings(ctx context.Context, rs []reading.Reading) (int, error)
}

// coalesceWait is how long the writer waits for one more message before inserting what it has.
const coalesceWait = time.Millisecond

// RunWriter copies the log into w until ctx is done, then returns ctx's error. Several
// RunWriter calls (on one node or many) share the work of the one durable consumer.
func (l *Log) RunWriter(ctx context.Context, w ReadingWriter) error {
	cons, err := l.js.CreateOrUpdateConsumer(ctx, l.cfg.StreamName, jetstream.ConsumerConfig{
		Durable:       WriterConsumer,
		Description:   "Vigil store writer",
		DeliverPolicy: jetstream.DeliverAllPolicy,
		AckPolicy:     jetstream.AckExplicitPolicy,
		AckWait:       l.cfg.WriterAckWait,
		MaxDeliver:    -1,
		MaxAckPending: l.cfg.WriterMaxAckPending,
		FilterSubject: l.cfg.SubjectPrefix + ".>",
	})
	if err != nil {
		return fmt.Errorf("stream: store writer consumer on %s: %w", l.cfg.StreamName, err)
	}
	// Short pull requests: a server older than 2.10 does not notice that a stopped writer's
	// pending pull request lost its subscriber, and the messages it hands to that request come
	// back only after WriterAckWait. An expiry of a few seconds keeps such requests few.
	it, err := cons.Messages(jetstream.PullMaxMessagesWithBytesLimit(min(l.cfg.WriterMaxAckPending, 512), 8<<20),
		jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("stream: store writer pull on %s: %w", l.cfg.StreamName, err)
	}
	defer it.Stop()

	var sampler sync.WaitGroup
	samplerCtx, stopSampler := context.WithCancel(ctx)
	defer func() { stopSampler(); sampler.Wait() }()
	sampler.Go(func() { l.sampleLag(samplerCtx, cons) })

	var (
		msgs []jetstream.Msg
		rs   []reading.Reading
	)
	for {
		msgs, rs = msgs[:0], rs[:0]
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stream: store writer on %s: %w", l.cfg.StreamName, err)
		}
		for {
			if decoded, ok := l.decodeForWriter(msg); ok {
				msgs = append(msgs, msg)
				rs = append(rs, decoded...)
			}
			if len(rs) >= l.cfg.WriterMaxReadings || len(msgs) >= l.cfg.WriterMaxAckPending/2 {
				break
			}
			msg, err = it.Next(jetstream.NextMaxWait(coalesceWait))
			if err != nil {
				if errors.Is(err, nats.ErrTimeout) {
					break
				}
				if ctx.Err() != nil {
					return ctx.Err()
				}
				return fmt.Errorf("stream: store writer on %s: %w", l.cfg.StreamName, err)
			}
		}
		if len(msgs) > 0 {
			l.insert(ctx, w, msgs, rs)
		}
	}
}

// insert stores one batch and acknowledges its messages, or on error makes the server
// redeliver them after WriterRetryDelay.
func (l *Log) insert(ctx context.Context, w ReadingWriter, msgs []jetstream.Msg, rs []reading.Reading) {
	if _, err := w.InsertReadings(ctx, rs); err != nil {
		l.metrics.writerErrors.Inc()
		l.log.Error("store writer insert failed; messages will be redelivered",
			"stream", l.cfg.StreamName, "messages", len(msgs), "readings", len(rs),
			"retry_in", l.cfg.WriterRetryDelay, "err", err)
		for _, m := range msgs {
			if err := m.NakWithDelay(l.cfg.WriterRetryDelay); err != nil {
				l.log.Warn("store writer nak failed; the server redelivers after the ack wait",
					"stream", l.cfg.StreamName, "err", err)
				break
			}
		}
		return
	}
	l.metrics.writerBatches.Inc()
	l.metrics.writerReadings.Add(float64(len(rs)))
	// Plain acks for all but the last message, and a confirmed ack for the last: the server
	// handles one connection's acks in order, so when it confirms the last, it has them all.
	// A lost ack only costs a harmless redelivery, but confirming keeps a restart from
	// replaying the batch. The confirmation is awaited even when ctx is done (shutdown).
	for _, m := range msgs[:len(msgs)-1] {
		if err := m.Ack(); err != nil {
			l.log.Warn("store writer ack failed; the messages will be redelivered (harmless)",
				"stream", l.cfg.StreamName, "err", err)
			return
		}
	}
	ackCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), l.cfg.PublishTimeout)
	defer cancel()
	if err := msgs[len(msgs)-1].DoubleAck(ackCtx); err != nil {
		l.log.Warn("store writer ack not confirmed; the messages may be redelivered (harmless)",
			"stream", l.cfg.StreamName, "err", err)
	}
}

// decodeForWriter decodes msg; a message that cannot be decoded is logged, counted and
// terminated so that it is never redelivered.
func (l *Log) decodeForWriter(msg jetstream.Msg) ([]reading.Reading, bool) {
	rs, err := DecodeGroup(msg.Data())
	if err == nil {
		return rs, true
	}
	l.metrics.decodeFailures.Inc()
	attrs := []any{"stream", l.cfg.StreamName, "subject", msg.Subject(), "err", err}
	if md, mdErr := msg.Metadata(); mdErr == nil {
		attrs = append(attrs, "seq", md.Sequence.Stream)
	}
	l.log.Error("store writer dropped an undecodable log message", attrs...)
	if err := msg.Term(); err != nil {
		l.log.Warn("store writer term failed", "stream", l.cfg.StreamName, "err", err)
	}
	return nil, false
}

// sampleLag sets the writer lag gauge from the consumer's pending count every LagInterval.
func (l *Log) sampleLag(ctx context.Context, cons jetstream.Consumer) {
	tick := time.NewTicker(l.cfg.LagInterval)
	defer tick.Stop()
	for {
		if info, err := cons.Info(ctx); err == nil {
			l.metrics.writerLag.Set(float64(info.NumPending))
		} else if ctx.Err() == nil {
			l.log.Warn("store writer lag sample failed", "stream", l.cfg.StreamName, "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
