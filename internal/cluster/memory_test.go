package cluster

import "context"

// Memory is a Bus within one process.
type Memory struct{ subs subscribers }

// Publish delivers msg to the topic's subscribers before returning.
func (m *Memory) Publish(_ context.Context, topic, msg string) error {
	m.subs.deliver(topic, msg)
	return nil
}

// Subscribe implements Bus.
func (m *Memory) Subscribe(topic string, fn func(string)) func() {
	return m.subs.add(topic, fn)
}
