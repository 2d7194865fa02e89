package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"
)

// progress draws one status line on stderr, and only when stderr is a
// terminal, so that pipes, logs and tests never see it.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	label string
	done  int64
	total int64 // 0 when unknown
	units bool  // bytes rather than items
	last  time.Time
}

// newProgress returns nil unless stderr is a terminal.
func newProgress(c *cli, label string, total int64) *progress {
	f, ok := c.stderr.(*os.File)
	if !ok {
		return nil
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return &progress{w: f, label: label, total: total}
}

func (p *progress) set(done, total int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done, p.total = done, total
	p.draw(false)
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.done += n
	p.draw(false)
}

// draw redraws at most ten times a second, and always when forced.
func (p *progress) draw(force bool) {
	if !force && time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	count := func(n int64) string { return fmt.Sprint(n) }
	if p.units {
		count = mib
	}
	if p.total <= 0 {
		fmt.Fprintf(p.w, "\r%s %s", p.label, count(p.done))
		return
	}
	const width = 30
	filled := int(min(p.done*width/p.total, width))
	bar := make([]byte, width)
	for i := range bar {
		bar[i] = '.'
		if i < filled {
			bar[i] = '#'
		}
	}
	fmt.Fprintf(p.w, "\r%s [%s] %s / %s", p.label, bar, count(p.done), count(p.total))
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// finish draws the final state and ends the line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.draw(true)
	fmt.Fprintln(p.w)
}

// countingReader reports what passes through to a progress line.
type countingReader struct {
	r io.Reader
	p *progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	c.p.add(int64(n))
	return n, err
}

// largeStream is the input size from which encrypt and decrypt show progress.
const largeStream = 8 << 20

// withProgress wraps src in a progress line when it is large (or of unknown
// size, like stdin) and stderr is a terminal; stop ends the line.
func withProgress(c *cli, label string, src io.Reader, size int64) (io.Reader, func()) {
	if size >= 0 && size < largeStream {
		return src, func() {}
	}
	p := newProgress(c, label, max(size, 0))
	if p == nil {
		return src, func() {}
	}
	p.units = true
	return countingReader{src, p}, p.finish
}
