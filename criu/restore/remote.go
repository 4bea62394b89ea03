package restore

// The restorer as the object packages see a task being restored: system
// calls run inside it and its scratch area (locks.Task, anonfd.Task, ...).

// Sys runs system call nr inside the task (restorer.sys).
func (r *restorer) Sys(name string, nr uintptr, args ...uint64) (uint64, error) {
	return r.sys(name, nr, args...)
}

// WriteScratch writes b at offset off of the task's scratch area.
func (r *restorer) WriteScratch(off uint64, b []byte) error { return r.writeScratch(off, b) }

// Scratch is the address of the task's scratch area.
func (r *restorer) Scratch() uint64 { return r.scr }
