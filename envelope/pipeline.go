package envelope

import "sync"

// roundBuffers recycles the pipeline's round buffers between streams, keyed
// by size: a round is megabytes, too much to allocate and clear per stream.
var roundBuffers sync.Map // int -> *sync.Pool of *[]byte

func getRoundBuffer(size int) *[]byte {
	p, _ := roundBuffers.LoadOrStore(size, &sync.Pool{New: func() any { b := make([]byte, size); return &b }})
	return p.(*sync.Pool).Get().(*[]byte)
}

func putRoundBuffer(b *[]byte) {
	if p, ok := roundBuffers.Load(len(*b)); ok {
		p.(*sync.Pool).Put(b)
	}
}

// pipeDepth is how many rounds of segments may be in flight at once. The
// workers seal or open the next rounds while the caller writes out the
// oldest, so they never wait for the caller: waking an idle thread costs a
// fifth of a millisecond on some virtual machines, as long as sealing a
// whole megabyte.
const pipeDepth = 3

// roundState tracks one round: its jobs left and its first error.
type roundState struct {
	wg    sync.WaitGroup
	mu    sync.Mutex
	err   error
	errLo int
}

func (st *roundState) fail(lo int, err error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.err == nil || lo < st.errLo {
		st.err, st.errLo = err, lo
	}
}

type job struct {
	round  int
	lo, hi int
	st     *roundState
}

// pipeline processes rounds 0..rounds-1 in order on s.workers persistent
// goroutines. Round r has items(r) items, split into contiguous ranges that
// work(r, lo, hi) processes; finish(r) then runs on the caller's goroutine,
// in round order. The workers exit before pipeline returns.
func (s *segmenter) pipeline(rounds int, items func(r int) int, work func(r, lo, hi int) error, finish func(r int) error) error {
	jobs := make(chan job, s.workers*pipeDepth)
	var workers sync.WaitGroup
	for range s.workers {
		workers.Go(func() {
			for j := range jobs {
				if err := work(j.round, j.lo, j.hi); err != nil {
					j.st.fail(j.lo, err)
				}
				j.st.wg.Done()
			}
		})
	}
	defer func() {
		close(jobs)
		workers.Wait()
	}()
	var ring [pipeDepth]*roundState
	next := 0
	for r := range rounds {
		for ; next < rounds && next-r < pipeDepth; next++ {
			ring[next%pipeDepth] = s.submit(jobs, next, items(next))
		}
		st := ring[r%pipeDepth]
		st.wg.Wait()
		if st.err != nil {
			return st.err
		}
		if err := finish(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *segmenter) submit(jobs chan<- job, r, n int) *roundState {
	st := &roundState{}
	parts := max(1, min(s.workers, n))
	st.wg.Add(parts)
	for g := range parts {
		jobs <- job{round: r, lo: g * n / parts, hi: (g + 1) * n / parts, st: st}
	}
	return st
}
