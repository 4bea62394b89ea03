package mntns

import (
	"testing"

	"github.com/criugo/criu/criu/nsenter/nstest"
)

func TestMain(m *testing.M) { nstest.Main(m) }
