package task

// Task states of task_core_entry.task_state (CRIU's compel task states).
const (
	StateAlive = 1
	StateDead  = 2
	// StateStopped: alive, in a group-stop (SIGSTOP...), with stop_signo.
	StateStopped = 3
)

// Scheduling policies and flags (uapi/linux/sched.h).
const (
	schedNormal      = 0
	schedBatch       = 3
	schedDeadline    = 6
	schedResetOnFork = 0x40000000
	schedFlagReset   = 0x01 // SCHED_FLAG_RESET_ON_FORK in sched_attr.sched_flags
)
