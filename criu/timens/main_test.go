package timens

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"testing"

	"golang.org/x/sys/unix"

	"github.com/criugo/criu/criu/crtest"
)

// helperEnv makes the test binary the helper of TestEnter: a process
// whose main thread unshares CLONE_NEWTIME (its children go to the new
// namespace, it stays in its own) and, told to go on, runs a shell.
const helperEnv = "CRIUGO_TIMENS_HELPER"

func init() {
	if os.Getenv(helperEnv) != "" {
		runtime.LockOSThread() // the main goroutine stays on the main thread
	}
}

func TestMain(m *testing.M) {
	if s := os.Getenv(helperEnv); s != "" {
		os.Exit(helper(s))
	}
	os.Exit(crtest.RunWithFdCheck(m))
}

func helper(script string) int {
	if err := unix.Unshare(unix.CLONE_NEWTIME); err != nil {
		fmt.Println("unshare:", err)
		return 1
	}
	fmt.Println("ready")
	in := bufio.NewReader(os.Stdin)
	if _, err := in.ReadString('\n'); err != nil {
		return 1
	}
	cmd := exec.Command("sh", "-c", script)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = in, os.Stdout, os.Stderr
	if cmd.Run() != nil {
		return 1
	}
	return 0
}
