package crtest

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"time"
)

// EchoLine sends s and a newline on c, to an echo server, and waits up
// to timeout for the same line to come back.
func EchoLine(c net.Conn, s string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	if _, err := io.WriteString(c, s+"\n"); err != nil {
		return err
	}
	return ReadLine(c, s, timeout)
}

// ReadLine waits up to timeout for the next line on c, which must be
// want. It reads byte by byte: nothing after the line is consumed.
func ReadLine(c net.Conn, want string, timeout time.Duration) error {
	c.SetDeadline(time.Now().Add(timeout))
	got, err := bufio.NewReaderSize(oneByte{c}, 16).ReadString('\n')
	if err != nil {
		return err
	}
	if got != want+"\n" {
		return fmt.Errorf("want %q, got %q", want, got)
	}
	return nil
}

// oneByte reads at most one byte per Read.
type oneByte struct{ r io.Reader }

func (o oneByte) Read(p []byte) (int, error) {
	if len(p) > 1 {
		p = p[:1]
	}
	return o.r.Read(p)
}
