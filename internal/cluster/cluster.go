// Package cluster lets several `byok serve` instances on one PostgreSQL act as
// one platform.
//
// # Broadcast
//
// A [Bus] carries short messages between instances. The one that matters most
// is a revocation: when an instance evicts a tenant (its key was disabled or
// its permission removed), every other instance must stop serving that
// tenant's cached keys too, at once rather than when their caches expire.
// [Postgres] uses LISTEN/NOTIFY; an in-process Bus (as the tests use) connects the keyrings of one
// process (tests, or one instance on SQLite). [NewRevocations] wires a bus to a
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

// Relay connects a local cache to a bus on one topic: Announce publishes an
// id this instance dropped, and every instance drops it when it hears it.
// Revocations (tenant keys in a keyring) and token revocations (an
// authentication cache) are both relays.
type Relay struct {
	bus   Bus
	topic string
	stop  func()
	// Errors receives publish failures (nil drops them); a drop that could
	// not be announced still takes effect on the other instances when their
	// caches expire (and, for keys, at their next probe).
	Errors func(error)
}

// NewRelay subscribes drop to topic on bus.
func NewRelay(bus Bus, topic string, drop func(id string)) *Relay {
	return &Relay{bus: bus, topic: topic, stop: bus.Subscribe(topic, drop)}
}

// Evictor is the part of a keyring NewRevocations needs.
type Evictor interface{ EvictLocal(tenant string) }

// NewRevocations relays a keyring's evictions: Announce suits the keyring's
// Config.Evicted, and every instance's keyring evicts locally on hearing one.
func NewRevocations(bus Bus, kr Evictor) *Relay { return NewRelay(bus, TopicEvict, kr.EvictLocal) }

// Forgetter is the part of auth.Tokens NewTokenRevocations needs.
type Forgetter interface{ Forget(id string) }

// NewTokenRevocations relays revoked token ids: Announce suits
// auth.Tokens.OnRevoke, and every instance forgets the token on hearing one.
func NewTokenRevocations(bus Bus, f Forgetter) *Relay {
	return NewRelay(bus, TopicTokenRevoked, f.Forget)
}

// Announce publishes that id was dropped here.
func (r *Relay) Announce(id string) {
	if err := r.bus.Publish(context.Background(), r.topic, id); err != nil && r.Errors != nil {
		r.Errors(err)
	}
}

// Stop unsubscribes.
func (r *Relay) Stop() { r.stop() }
