package stream

import (
	"context"
	"fmt"
	"time"

	"github.com/nats-io/nats.go/jetstream"

	"github.com/vigil-iomt/vigil/internal/reading"
)

// followInactive is how long the server keeps a follower's ephemeral consumer after its last
// pull; a follower that went away without cleaning up is removed after this.
const followInactive = time.Minute

// Follow calls fn with every message of tenant's readings appended after the stream sequence
// afterSeq, in stream order, until ctx is done (it then returns ctx's error) or fn returns an
// error (returned as is). afterSeq 0 means only messages appended from now on; a sequence the
// stream no longer holds (aged out) resumes at the oldest message it still has.
//
// Follow reads through an ordered ephemeral consumer filtered on <prefix>.<tenant>.* (the
// same set as <prefix>.<tenant>.>, which nats-server 2.9 refuses as "not a valid subset" of the
// stream's <prefix>.*.*): nothing is acknowledged, nothing is kept on the server once the
// follower is gone, and the client library recreates the consumer at the next sequence if a
// message goes missing, so fn sees each message once and in order. seq is the message's
// stream sequence: a caller that remembers the last seq it handled and passes it back as
// afterSeq loses nothing. A message that cannot be decoded is skipped (the store writer logs
// and counts it).
func (l *Log) Follow(ctx context.Context, tenant string, afterSeq uint64, fn func(seq uint64, rs []reading.Reading) error) error {
	if err := checkTenant(tenant); err != nil {
		return err
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects:    []string{l.cfg.SubjectPrefix + "." + tenant + ".*"},
		DeliverPolicy:     jetstream.DeliverNewPolicy,
		InactiveThreshold: followInactive,
	}
	if afterSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = afterSeq + 1
	}
	return l.follow(ctx, "follow tenant "+tenant, cfg, fn)
}

// Replay calls fn with every message of the log (all tenants) after the stream sequence
// afterSeq, in stream order, until ctx is done (it then returns ctx's error) or fn returns an
// error (returned as is); afterSeq 0 starts at the oldest message the stream holds. Like
// Follow it reads through an ordered ephemeral consumer and acknowledges nothing: a processor
// that keeps its own checkpoint (the last seq whose effects it has saved) passes it back after
// a restart and sees every later message again, so fn must be idempotent. It is much cheaper
// than a durable consumer acknowledging each message.
func (l *Log) Replay(ctx context.Context, afterSeq uint64, fn func(seq uint64, rs []reading.Reading) error) error {
	cfg := jetstream.OrderedConsumerConfig{
		DeliverPolicy:     jetstream.DeliverAllPolicy,
		InactiveThreshold: followInactive,
	}
	if afterSeq > 0 {
		cfg.DeliverPolicy = jetstream.DeliverByStartSequencePolicy
		cfg.OptStartSeq = afterSeq + 1
	}
	return l.follow(ctx, "replay", cfg, fn)
}

func (l *Log) follow(ctx context.Context, what string, cfg jetstream.OrderedConsumerConfig, fn func(seq uint64, rs []reading.Reading) error) error {
	cons, err := l.js.OrderedConsumer(ctx, l.cfg.StreamName, cfg)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("stream: %s on %s: %w", what, l.cfg.StreamName, err)
	}
	it, err := cons.Messages(jetstream.PullMaxMessages(256), jetstream.PullExpiry(5*time.Second))
	if err != nil {
		return fmt.Errorf("stream: %s on %s: %w", what, l.cfg.StreamName, err)
	}
	defer it.Stop()
	for {
		msg, err := it.Next(jetstream.NextContext(ctx))
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("stream: %s on %s: %w", what, l.cfg.StreamName, err)
		}
		md, err := msg.Metadata()
		if err != nil {
			return fmt.Errorf("stream: %s: message metadata: %w", what, err)
		}
		rs, err := DecodeGroup(msg.Data())
		if err != nil {
			continue
		}
		if err := fn(md.Sequence.Stream, rs); err != nil {
			return err
		}
	}
}
