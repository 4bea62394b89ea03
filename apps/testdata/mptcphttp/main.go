// Command mptcphttp is a stock net/http server, as a Go program is
// written: net.Listen("tcp", ...) (MPTCP by default since Go 1.24) and
// http.Serve. It writes its port to the file named by its argument and
// answers each GET with a count of the requests it served.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"sync/atomic"
)

func main() {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var n atomic.Int64
	port := l.Addr().(*net.TCPAddr).Port
	if err := os.WriteFile(os.Args[1], fmt.Appendf(nil, "%d\n", port), 0o644); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	err = http.Serve(l, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, n.Add(1))
	}))
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
