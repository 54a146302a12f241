package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/vigil-iomt/vigil/internal/store"
)

// AuthenticateDevice checks a device's ID and secret and returns the device (SecretHash
// cleared). A wrong secret or unknown ID is ErrInvalidCredentials; a revoked device that
// presents its right secret is ErrDeviceRevoked. The hash comparison is constant-time.
//
// It runs on every ingest request, so a device verified against the store is remembered for
// Options.DeviceCacheTTL (default 5 s): within that time a request with the same secret is
// answered from memory. Callers that rotate a secret or revoke a device must call
// InvalidateDevice; another process's change is seen at the latest when the entry expires.
// A secret that does not match the cached one is checked against the store, so a rotation
// elsewhere never locks the device out.
func (s *Service) AuthenticateDevice(ctx context.Context, id, secret string) (store.Device, error) {
	if id == "" || secret == "" || len(secret) > maxSecretLen {
		return store.Device{}, ErrInvalidCredentials
	}
	sum := sumSecret(secret)
	if s.devices != nil {
		if d, ok := s.devices.get(id, &sum, s.now()); ok {
			if d.Revoked {
				return store.Device{}, ErrDeviceRevoked
			}
			return d, nil
		}
	}
	d, err := s.st.DeviceByID(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Device{}, ErrInvalidCredentials
	}
	if err != nil {
		return store.Device{}, fmt.Errorf("authenticate device %s: %w", id, err)
	}
	var want [sha256.Size]byte
	if len(d.SecretHash) != hex.EncodedLen(len(want)) {
		return store.Device{}, fmt.Errorf("authenticate device %s: stored secret hash is not hex SHA-256", id)
	}
	if _, err := hex.Decode(want[:], []byte(d.SecretHash)); err != nil {
		return store.Device{}, fmt.Errorf("authenticate device %s: stored secret hash is not hex SHA-256", id)
	}
	if subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
		return store.Device{}, ErrInvalidCredentials
	}
	d.SecretHash = ""
	if s.devices != nil {
		s.devices.put(id, want, d, s.now())
	}
	if d.Revoked {
		return store.Device{}, ErrDeviceRevoked
	}
	return d, nil
}

// InvalidateDevice forgets the cached verification of device id. Call it after rotating its
// secret, revoking it or changing it in any way AuthenticateDevice's callers depend on.
func (s *Service) InvalidateDevice(id string) {
	if s.devices != nil {
		s.devices.delete(id)
	}
}

// deviceCache remembers recently verified devices. It is bounded: when full, expired entries are
// swept (at most once per TTL, so a fleet larger than the cache does not sweep on every put),
// and if that freed nothing an arbitrary entry is dropped; a miss costs one store read.
type deviceCache struct {
	ttl time.Duration
	max int

	mu      sync.Mutex // guards entries and swept
	entries map[string]cachedDevice
	swept   time.Time // last sweep of expired entries
}

type cachedDevice struct {
	hash    [sha256.Size]byte // SHA-256 of the device secret
	dev     store.Device      // SecretHash cleared
	expires time.Time
}

func newDeviceCache(ttl time.Duration, max int) *deviceCache {
	return &deviceCache{ttl: ttl, max: max, entries: make(map[string]cachedDevice)}
}

// get returns the cached device id if its entry is fresh and sum matches its secret hash.
func (c *deviceCache) get(id string, sum *[sha256.Size]byte, now time.Time) (store.Device, bool) {
	c.mu.Lock()
	e, ok := c.entries[id]
	c.mu.Unlock()
	if !ok || !now.Before(e.expires) || subtle.ConstantTimeCompare(sum[:], e.hash[:]) != 1 {
		return store.Device{}, false
	}
	return e.dev, true
}

func (c *deviceCache) put(id string, hash [sha256.Size]byte, d store.Device, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[id]; !ok && len(c.entries) >= c.max {
		c.evictLocked(now)
	}
	c.entries[id] = cachedDevice{hash: hash, dev: d, expires: now.Add(c.ttl)}
}

// evictLocked makes room for one entry. c.mu must be held.
func (c *deviceCache) evictLocked(now time.Time) {
	if now.Sub(c.swept) >= c.ttl {
		c.swept = now
		for id, e := range c.entries {
			if !now.Before(e.expires) {
				delete(c.entries, id)
			}
		}
		if len(c.entries) < c.max {
			return
		}
	}
	for id := range c.entries { // map order is unspecified: an arbitrary victim
		delete(c.entries, id)
		return
	}
}

func (c *deviceCache) delete(id string) {
	c.mu.Lock()
	delete(c.entries, id)
	c.mu.Unlock()
}
