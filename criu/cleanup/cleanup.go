// Package cleanup collects the undo actions of half-done work, for dump
// and restore, which both build up many half-done states: each acquisition
// registers its undo right beside it.
package cleanup

// Cleanup holds undo actions. The zero value is ready to use.
type Cleanup struct{ fns []func() }

// Add registers f to run on Run.
func (c *Cleanup) Add(f func()) { c.fns = append(c.fns, f) }

// Run runs the registered undos in reverse order and forgets them.
func (c *Cleanup) Run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}

// Release forgets the undos once the work has succeeded.
func (c *Cleanup) Release() { c.fns = nil }
