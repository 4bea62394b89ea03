package imgproxy_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/criugo/criu/criu/crtest"
	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
)

// TestDumpCacheDownFailsBeforeFreeze: the cache is down before the dump
// starts. The dump fails at once, before it freezes its task, and says
// why; it used to freeze the task for the whole 30 s reconnect timeout.
func TestDumpCacheDownFailsBeforeFreeze(t *testing.T) {
	crtest.RequireRoot(t)
	crtest.Subreaper(t)
	criu := crtest.Criu(t)
	work := crtest.BuildC(t, filepath.Join(crtest.SourceDir(), "memloop.c"), false)
	dir := t.TempDir()
	proxySock := filepath.Join(dir, "proxy.sock")
	startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", freePort(t), "--local-socket", proxySock)
	status := filepath.Join(dir, "status")
	cmd := crtest.Start(t, work, status)
	pid := cmd.Process.Pid
	t.Cleanup(func() { crtest.Kill(pid) })
	crtest.WaitFor(t, status, "ready", 10*time.Second)
	start := time.Now()
	log, err := crtest.Run(context.Background(), criu, "dump", "-t", strconv.Itoa(pid), "-D", filepath.Join(dir, "d"),
		"--remote", "--remote-socket", proxySock, "-v4")
	took := time.Since(start)
	t.Logf("dump with the cache down, after %v: %s", took.Round(time.Millisecond), lastLine(log, "criu dump:"))
	if err == nil {
		t.Fatal("dump with the cache down succeeded")
	}
	if strings.Contains(log, "tree frozen") || took > 10*time.Second {
		t.Fatalf("dump with the cache down froze its task (%v):\n%s", took, log)
	}
	if !strings.Contains(log, "cannot reach its image cache") {
		t.Fatalf("dump does not say the cache is unreachable:\n%s", log)
	}
	if !crtest.Alive(pid) {
		t.Fatal("task gone")
	}
}

// testCert is a certificate and its key, PEM files in a directory.
type testCert struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newTestCert(t *testing.T, cn string, ca *testCert, usage x509.ExtKeyUsage, ips ...net.IP) *testCert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IPAddresses: ips}
	parent, signer := tmpl, key
	if ca == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign
	} else {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{usage}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, signer)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &testCert{cert: c, key: key}
}

func (c *testCert) write(t *testing.T, dir, name string) (cert, key string) {
	t.Helper()
	cert, key = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	kb, _ := x509.MarshalECPrivateKey(c.key)
	if err := os.WriteFile(cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(key, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	return cert, key
}

// TestTLSRefusalFailsAtOnce: a proxy whose certificate the cache does
// not trust (another CA) is refused at every dial; that does not heal,
// so the dump fails at once instead of after the 30 s reconnect timeout:
// before it freezes (the store's reachability check), and a snapshot
// already written fails its Finish at once too.
func TestTLSRefusalFailsAtOnce(t *testing.T) {
	dir := t.TempDir()
	lo := net.ParseIP("127.0.0.1")
	ca, other := newTestCert(t, "test CA", nil, 0), newTestCert(t, "another CA", nil, 0)
	caPath, _ := ca.write(t, dir, "ca")
	srvCert, srvKey := newTestCert(t, "cache", ca, x509.ExtKeyUsageServerAuth, lo).write(t, dir, "cache")
	badCert, badKey := newTestCert(t, "intruder", other, x509.ExtKeyUsageClientAuth).write(t, dir, "bad")
	port := freePort(t)
	cacheSock, proxySock := filepath.Join(dir, "cache.sock"), filepath.Join(dir, "proxy.sock")
	startProc(t, nil, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock,
		"--tls-cert", srvCert, "--tls-key", srvKey, "--tls-cacert", caPath)
	startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", proxySock,
		"--tls-cert", badCert, "--tls-key", badKey, "--tls-cacert", caPath)
	ctx := context.Background()
	start := time.Now()
	st, err := remote.Dial(ctx, proxySock, remote.Options{Snapshot: "bad", Mode: remote.ModeWrite})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	err = st.CheckCache(ctx) // what dump does before it freezes
	t.Logf("writer store through the refused proxy, after %v: %v", time.Since(start).Round(time.Millisecond), err)
	if err == nil || !errors.Is(err, remoteimg.ErrUnavailable) || time.Since(start) > 5*time.Second {
		t.Fatalf("store through a proxy the cache refuses: %v after %v, want ErrUnavailable at once", err, time.Since(start))
	}
	// A writer speaking the protocol itself (no reachability check):
	// its Finish fails at once too.
	c, err := remote.DialUnix(ctx, proxySock, remoteimg.RoleWriter)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	expect := func(m remoteimg.Msg) error {
		t.Helper()
		if err := c.W.WriteMsg(1, m); err != nil {
			t.Fatal(err)
		}
		_, r, err := c.ReadMsg()
		if err != nil {
			t.Fatal(err)
		}
		return remoteimg.ResultError(*r.(*remoteimg.Result))
	}
	if err := expect(&remoteimg.Put{Snapshot: "bad", Name: "a.img"}); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if err := c.W.WriteData(1, 0, []byte("abc")); err != nil {
		t.Fatal(err)
	}
	cerr := expect(&remoteimg.Commit{Size: 3, CRC: 0x364b3fb7})
	ferr := expect(&remoteimg.Finish{Snapshot: "bad", Images: []remoteimg.ImageInfo{{Name: "a.img", Size: 3, CRC: 0x364b3fb7}}})
	t.Logf("commit: %v; finish after %v: %v", cerr, time.Since(start).Round(time.Millisecond), ferr)
	if ferr == nil || time.Since(start) > 5*time.Second {
		t.Fatalf("finish through a refused proxy: %v after %v, want a failure at once", ferr, time.Since(start))
	}
}

// TestNoTLSWarningOnStderr: a daemon without TLS that logs to a file
// (-o) still prints the TLS IS OFF warning on its stderr, where whoever
// started it sees it.
func TestNoTLSWarningOnStderr(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	cache := startProc(t, nil, "image-cache", "--address", "127.0.0.1", "--port", port,
		"--local-socket", filepath.Join(dir, "cache.sock"), "-o", filepath.Join(dir, "cache.log"))
	proxy := startProc(t, nil, "image-proxy", "--address", "127.0.0.1", "--port", port,
		"--local-socket", filepath.Join(dir, "proxy.sock"), "-o", filepath.Join(dir, "proxy.log"))
	for name, p := range map[string]*proc{"image-cache": cache, "image-proxy": proxy} {
		if !p.waitLog("TLS IS OFF", 2*time.Second) {
			t.Errorf("%s logging to a file did not warn on stderr that TLS is off; stderr:\n%s", name, p.out.String())
		}
	}
}

// TestPlainTCPNeedsInsecure: off loopback, TLS is the default: plain
// TCP needs --insecure, and the refusal says how to set TLS up.
func TestPlainTCPNeedsInsecure(t *testing.T) {
	criu := crtest.Criu(t)
	dir := t.TempDir()
	for _, args := range [][]string{
		{"image-proxy", "--address", "198.18.0.9", "--port", "27040", "--local-socket", filepath.Join(dir, "p.sock")},
		{"image-cache", "--port", "27040", "--local-socket", filepath.Join(dir, "c.sock")},
		{"image-cache", "--address", "198.18.0.9", "--port", "27040", "--local-socket", filepath.Join(dir, "c.sock")},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		out, err := crtest.Run(ctx, criu, args...)
		cancel()
		t.Logf("%v: %s", args[:3], strings.TrimSpace(out))
		if err == nil || !strings.Contains(out, "--insecure") || !strings.Contains(out, "--tls-cert") {
			t.Fatalf("%v without TLS off loopback: %v\n%s", args, err, out)
		}
	}
}
