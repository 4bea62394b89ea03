package pageio

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/criugo/criu/criu/mem"
)

// Copies runs page copies in the background, at most n at once: a dump
// hands the pages of each frozen task to one (Go) and goes on with the
// next task on its tracer thread while the copies use the other cores.
// Wait joins them. Each copy (Dump) reads on one goroutine and writes on
// another; images are written to files of their own, which the store
// takes from several goroutines at once.
type Copies struct {
	sem  chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex // guards errs
	errs []error
}

// NewCopies makes room for n copies at once (at least one).
func NewCopies(n int) *Copies { return &Copies{sem: make(chan struct{}, max(1, n))} }

// Go runs copy on a goroutine of its own once fewer than n copies run,
// blocking until then; its error is Wait's. On nil Copies, it runs copy
// now and returns its error.
func (c *Copies) Go(copy func() error) error {
	if c == nil {
		return copy()
	}
	c.sem <- struct{}{}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer func() { <-c.sem }()
		if err := copy(); err != nil {
			c.mu.Lock()
			c.errs = append(c.errs, err)
			c.mu.Unlock()
		}
	}()
	return nil
}

// Wait waits for every copy started and returns their errors, joined
// (nil when all succeeded). Safe on nil and more than once: a copy's
// error is returned once.
func (c *Copies) Wait() error {
	if c == nil {
		return nil
	}
	c.wg.Wait()
	c.mu.Lock()
	defer c.mu.Unlock()
	err := errors.Join(c.errs...)
	c.errs = nil
	return err
}

// ImageWriter is where DumpCommit writes: an image writer, committed by
// Close, discarded by Abort (image.Writer).
type ImageWriter interface {
	io.Writer
	Close() error
	Abort() error
}

// DumpCommit is Dump into w, then w's commit: w is closed when the
// copy succeeded, aborted when it failed. The write time includes the
// commit's.
func DumpCommit(pid int, runs []Run, w ImageWriter, name string, lenient func([]mem.Range, []byte) error) (Times, error) {
	t, err := Dump(pid, runs, w, name, lenient)
	if err != nil {
		w.Abort()
		return t, err
	}
	t1 := time.Now()
	if err := w.Close(); err != nil {
		return t, fmt.Errorf("commit %s: %w", name, err)
	}
	t.Write += time.Since(t1)
	return t, nil
}
