package dump

// cleanup collects undo actions for half-done work; each acquisition
// registers its undo right beside it. Run undoes in reverse order;
// Release forgets them once the work has succeeded.
type cleanup struct{ fns []func() }

func (c *cleanup) Add(f func()) { c.fns = append(c.fns, f) }

func (c *cleanup) Run() {
	for i := len(c.fns) - 1; i >= 0; i-- {
		c.fns[i]()
	}
	c.fns = nil
}

func (c *cleanup) Release() { c.fns = nil }
