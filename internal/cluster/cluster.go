// Package cluster lets several `byok serve` instances on one PostgreSQL act as
// one platform.
//
// # Broadcast
//
// A [Bus] carries short messages between instances. The one that matters most
// is a revocation: when an instance evicts a tenant (its key was disabled or
// its permission removed), every other instance must stop serving that
// tenant's cached keys too, at once rather than when their caches expire.
// [Postgres] uses LISTEN/NOTIFY; [Memory] connects the keyrings of one
// process (tests, or one instance on SQLite). [Revocations] wires a bus to a
// keyring in both directions.
//
// # Leadership
//
// Background jobs (the health monitor's probes, scheduled rotations) run on
// one instance at a time. [Leader] holds a PostgreSQL advisory lock on its own
// connection: whoever holds it leads, and when that connection dies the
// server releases the lock and another instance takes over.
package cluster

import (
	"context"
	"encoding/json"
	"sync"
)

// Bus publishes messages to every instance, including the sender's own
// subscribers (which must be idempotent).
type Bus interface {
	Publish(ctx context.Context, topic, msg string) error
	// Subscribe calls fn for every message on topic until stop is called.
	Subscribe(topic string, fn func(msg string)) (stop func())
}

// TopicEvict carries tenant ids whose cached keys must be dropped.
const TopicEvict = "evict"

// TopicTokenRevoked carries ids of API tokens revoked on one instance, which
// the others drop from their authentication caches.
const TopicTokenRevoked = "token_revoked"

// Memory is a Bus within one process.
type Memory struct{ subs subscribers }

var _ Bus = (*Memory)(nil)

// Publish delivers msg to the topic's subscribers before returning.
func (m *Memory) Publish(_ context.Context, topic, msg string) error {
	m.subs.deliver(topic, msg)
	return nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(topic string, fn func(string)) func() {
	return m.subs.add(topic, fn)
}

type subscribers struct {
	mu   sync.Mutex
	next int
	fns  map[string]map[int]func(string)
}

func (s *subscribers) add(topic string, fn func(string)) func() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fns == nil {
		s.fns = map[string]map[int]func(string){}
	}
	if s.fns[topic] == nil {
		s.fns[topic] = map[int]func(string){}
	}
	id := s.next
	s.next++
	s.fns[topic][id] = fn
	return func() {
		s.mu.Lock()
		defer s.mu.Unlock()
		delete(s.fns[topic], id)
	}
}

func (s *subscribers) deliver(topic, msg string) {
	s.mu.Lock()
	fns := make([]func(string), 0, len(s.fns[topic]))
	for _, fn := range s.fns[topic] {
		fns = append(fns, fn)
	}
	s.mu.Unlock()
	for _, fn := range fns {
		fn(msg)
	}
}

// envelope is the wire form of a message on the PostgreSQL channel.
type envelope struct {
	Topic string `json:"t"`
	Msg   string `json:"m"`
}

func encode(topic, msg string) (string, error) {
	b, err := json.Marshal(envelope{Topic: topic, Msg: msg})
	return string(b), err
}

func decode(payload string) (envelope, bool) {
	var e envelope
	err := json.Unmarshal([]byte(payload), &e)
	return e, err == nil && e.Topic != ""
}

// Evictor is the part of a keyring Revocations needs.
type Evictor interface{ EvictLocal(tenant string) }

// Revocations connects a keyring to a bus: Announce (for the keyring's
// Config.Evicted) publishes an eviction, and every instance's keyring evicts
// locally when it hears one. Stop unsubscribes.
type Revocations struct {
	bus  Bus
	stop func()
	// Errors receives publish failures (nil drops them); an eviction that
	// could not be announced is still bounded by the other instances' cache
	// TTL and probes.
	Errors func(error)
}

// NewRevocations subscribes kr to bus's evictions.
func NewRevocations(bus Bus, kr Evictor) *Revocations {
	r := &Revocations{bus: bus}
	r.stop = bus.Subscribe(TopicEvict, kr.EvictLocal)
	return r
}

// Announce publishes that tenant was evicted. It suits keyring's
// Config.Evicted.
func (r *Revocations) Announce(tenant string) {
	if err := r.bus.Publish(context.Background(), TopicEvict, tenant); err != nil && r.Errors != nil {
		r.Errors(err)
	}
}

// Stop unsubscribes.
func (r *Revocations) Stop() { r.stop() }

// Forgetter is the part of auth.Tokens TokenRevocations needs.
type Forgetter interface{ Forget(id string) }

// TokenRevocations connects an authentication cache to a bus, as
// Revocations does a keyring: Announce (for auth.Tokens.OnRevoke) publishes
// a revoked token id, and every instance forgets it when it hears one.
type TokenRevocations struct {
	bus  Bus
	stop func()
	// Errors receives publish failures (nil drops them); a revocation that
	// could not be announced still takes effect on the other instances
	// within their cache TTL.
	Errors func(error)
}

// NewTokenRevocations subscribes f to bus's token revocations.
func NewTokenRevocations(bus Bus, f Forgetter) *TokenRevocations {
	r := &TokenRevocations{bus: bus}
	r.stop = bus.Subscribe(TopicTokenRevoked, f.Forget)
	return r
}

// Announce publishes that the token with the given id was revoked.
func (r *TokenRevocations) Announce(id string) {
	if err := r.bus.Publish(context.Background(), TopicTokenRevoked, id); err != nil && r.Errors != nil {
		r.Errors(err)
	}
}

// Stop unsubscribes.
func (r *TokenRevocations) Stop() { r.stop() }
