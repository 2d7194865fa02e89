package cluster

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// channel is the one PostgreSQL notification channel byok uses.
const channel = "byok_cluster"

// maxPayload is below PostgreSQL's 8000-byte NOTIFY payload limit.
const maxPayload = 7000

// Postgres is a Bus over LISTEN/NOTIFY. A dedicated connection listens and
// reconnects with backoff when it drops; a message sent while it is down is
// lost, which the keyring's TTL and the monitor's probes still bound.
type Postgres struct {
	pool   *pgxpool.Pool
	url    string
	subs   subscribers
	cancel context.CancelFunc
	done   chan struct{}

	mu        sync.Mutex
	listening bool
}

var _ Bus = (*Postgres)(nil)

// NewPostgres connects to the database at url and starts listening.
func NewPostgres(ctx context.Context, url string) (*Postgres, error) {
	pool, err := pgxpool.New(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &Postgres{pool: pool, url: url, cancel: cancel, done: make(chan struct{})}
	conn, err := p.listen(ctx)
	if err != nil {
		cancel()
		pool.Close()
		return nil, err
	}
	go p.run(ctx, conn)
	return p, nil
}

// Publish sends msg to every instance listening on the database.
func (p *Postgres) Publish(ctx context.Context, topic, msg string) error {
	payload, err := encode(topic, msg)
	if err != nil {
		return err
	}
	if len(payload) > maxPayload {
		return fmt.Errorf("cluster: message of %d bytes is over the %d-byte limit", len(payload), maxPayload)
	}
	if _, err := p.pool.Exec(ctx, "SELECT pg_notify($1, $2)", channel, payload); err != nil {
		return fmt.Errorf("cluster: publish: %w", err)
	}
	return nil
}

// Subscribe implements Bus. fn runs on the listening goroutine: keep it short.
func (p *Postgres) Subscribe(topic string, fn func(string)) func() { return p.subs.add(topic, fn) }

// Listening reports whether the listening connection is up.
func (p *Postgres) Listening() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.listening
}

// Close stops listening and closes the connections.
func (p *Postgres) Close() {
	p.cancel()
	<-p.done
	p.pool.Close()
}

func (p *Postgres) listen(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, p.url)
	if err != nil {
		return nil, fmt.Errorf("cluster: listen: %w", err)
	}
	if _, err := conn.Exec(ctx, "LISTEN "+channel); err != nil {
		conn.Close(context.Background())
		return nil, fmt.Errorf("cluster: listen: %w", err)
	}
	p.setListening(true)
	return conn, nil
}

func (p *Postgres) setListening(v bool) {
	p.mu.Lock()
	p.listening = v
	p.mu.Unlock()
}

// run delivers notifications, reconnecting with capped backoff.
func (p *Postgres) run(ctx context.Context, conn *pgx.Conn) {
	defer close(p.done)
	backoff := 100 * time.Millisecond
	for {
		if conn != nil {
			p.receive(ctx, conn)
			p.setListening(false)
			conn.Close(context.Background())
			conn = nil
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		var err error
		if conn, err = p.listen(ctx); err != nil {
			backoff = min(2*backoff, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
	}
}

func (p *Postgres) receive(ctx context.Context, conn *pgx.Conn) {
	for {
		n, err := conn.WaitForNotification(ctx)
		if err != nil {
			return
		}
		if e, ok := decode(n.Payload); ok {
			p.subs.deliver(e.Topic, e.Msg)
		}
	}
}

// Leader holds a PostgreSQL advisory lock while this instance leads.
type Leader struct {
	url string
	key int64

	mu   sync.Mutex
	conn *pgx.Conn
}

// NewLeader returns a Leader for the lock identified by key.
func NewLeader(url string, key int64) *Leader { return &Leader{url: url, key: key} }

// LockMonitor is the advisory lock key of the health monitor's leader.
const LockMonitor int64 = 0x6279_6f6b_0001

// IsLeader reports whether this instance holds the lock, taking it if free.
// It suits monitor.Config.Leader. Holding means the lock's connection is
// alive: if it died, the server released the lock and IsLeader tries again.
func (l *Leader) IsLeader(ctx context.Context) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		if l.conn.Ping(ctx) == nil {
			return true
		}
		l.drop()
	}
	conn, err := pgx.Connect(ctx, l.url)
	if err != nil {
		return false
	}
	var got bool
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", l.key).Scan(&got); err != nil || !got {
		conn.Close(context.Background())
		return false
	}
	l.conn = conn
	return true
}

// Resign releases the lock, if held.
func (l *Leader) Resign(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	_, err := l.conn.Exec(ctx, "SELECT pg_advisory_unlock($1)", l.key)
	l.drop()
	return errors.Join(err)
}

func (l *Leader) drop() {
	l.conn.Close(context.Background())
	l.conn = nil
}
