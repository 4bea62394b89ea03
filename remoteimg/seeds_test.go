package remoteimg

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestWriteFuzzSeeds regenerates testdata/fuzz seeds when
// CRIUGO_WRITE_SEEDS=1 (they are checked in; go test uses them always).
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("CRIUGO_WRITE_SEEDS") == "" {
		t.Skip("set CRIUGO_WRITE_SEEDS=1 to regenerate testdata/fuzz")
	}
	write := func(fuzz, name, body string) {
		dir := filepath.Join("testdata", "fuzz", fuzz)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("go test fuzz v1\n"+body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range allMsgs() {
		p := m.Append(nil)
		write("FuzzFrame", "frame-"+m.Type().String(), fmt.Sprintf("[]byte(%q)\n", AppendFrame(nil, m.Type(), 7, p)))
		write("FuzzMsg", "msg-"+m.Type().String(), fmt.Sprintf("byte(%q)\n[]byte(%q)\n", byte(m.Type()), p))
	}
	var h [HeaderSize]byte
	PutHeader(&h, TData, 1, MaxPayload+1)
	write("FuzzFrame", "oversized-header", fmt.Sprintf("[]byte(%q)\n", h[:]))
	write("FuzzFrame", "http-garbage", fmt.Sprintf("[]byte(%q)\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	write("FuzzFrame", "old-version-hello", fmt.Sprintf("[]byte(%q)\n", AppendFrame(nil, THello, 0, (&Hello{Version: 0, Role: RoleProxy}).Append(nil))))
	write("FuzzMsg", "finish-huge-count", fmt.Sprintf("byte(%q)\n[]byte(%q)\n", byte(TFinish), []byte("\x01\x00s\x00\x00\xff\xff\xff\xff")))
	write("FuzzMsg", "put-traversal", fmt.Sprintf("byte(%q)\n[]byte(%q)\n", byte(TPut), (&Put{Snapshot: "..", Name: "../../etc/passwd"}).Append(nil)))
}
