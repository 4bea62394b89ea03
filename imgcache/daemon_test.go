package imgcache_test

// More tests against the real daemon binaries: TLS, the no-TLS warning,
// failures mid-transfer, concurrency, reconnect through a TCP relay that
// the test cuts, and memory bounds (VmHWM).

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/criugo/criu/criu/image/remote"
	"github.com/criugo/criu/remoteimg"
	"github.com/criugo/criu/remoteimg/remotetest"
)

// --- TLS material ---

type certKey struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	der  []byte
}

var serial int64 = 1

// newCert makes an ECDSA P-256 certificate signed by parent (self-signed
// when parent is nil, as a CA).
func newCert(t *testing.T, cn string, parent *certKey, usage []x509.ExtKeyUsage, ips ...net.IP) *certKey {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  usage,
		IPAddresses:  ips,
	}
	signer, signKey := tmpl, key
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage |= x509.KeyUsageCertSign
	} else {
		signer, signKey = parent.cert, parent.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signKey)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return &certKey{cert: cert, key: key, der: der}
}

// write stores the certificate and key as PEM files DIR/NAME.crt and
// DIR/NAME.key and returns their paths.
func (c *certKey) write(t *testing.T, dir, name string) (certPath, keyPath string) {
	t.Helper()
	certPath, keyPath = filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key")
	kder, err := x509.MarshalECPrivateKey(c.key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyPath, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	return certPath, keyPath
}

func snapshotIDs(t *testing.T, sock string) []string {
	t.Helper()
	snaps, err := remote.ListSnapshots(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range snaps {
		ids = append(ids, s.ID)
	}
	return ids
}

// moveSnapshot writes images through the proxy at proxySock, finishes,
// and reads them back from the cache at cacheSock.
func moveSnapshot(t *testing.T, proxySock, cacheSock, snap string, n, size int) error {
	t.Helper()
	ctx := context.Background()
	w, err := remote.Dial(ctx, proxySock, remote.Options{Snapshot: snap, Mode: remote.ModeWrite})
	if err != nil {
		return err
	}
	defer w.Close()
	for i := 0; i < n; i++ {
		if err := writeImage(ctx, w, fmt.Sprintf("pages-%d.img", i), pattern(i+len(snap), size+i)); err != nil {
			return err
		}
	}
	if err := w.Finish(ctx); err != nil {
		return err
	}
	rd, err := remote.Dial(ctx, cacheSock, remote.Options{Snapshot: snap, Mode: remote.ModeRead})
	if err != nil {
		return err
	}
	defer rd.Close()
	for i := 0; i < n; i++ {
		got, err := readImage(ctx, rd, fmt.Sprintf("pages-%d.img", i))
		if err != nil {
			return err
		}
		if !bytes.Equal(got, pattern(i+len(snap), size+i)) {
			return fmt.Errorf("%s pages-%d.img differs", snap, i)
		}
	}
	return nil
}

// TestDaemonsTLS: real daemons with mutual TLS (a CA made here, ECDSA
// P-256, certificates for 127.0.0.1) move a snapshot; a proxy without a
// client certificate and one whose certificate comes from another CA are
// refused, with the reason in the cache's log and nothing stored; the
// good proxy keeps working throughout.
func TestDaemonsTLS(t *testing.T) {
	needBinary(t)
	dir := t.TempDir()
	lo := net.ParseIP("127.0.0.1")
	ca := newCert(t, "criu test CA", nil, nil)
	other := newCert(t, "another CA", nil, nil)
	caPath, _ := ca.write(t, dir, "ca")
	srvCert, srvKey := newCert(t, "image-cache", ca, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, lo).write(t, dir, "cache")
	cliCert, cliKey := newCert(t, "image-proxy", ca, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}).write(t, dir, "proxy")
	badCert, badKey := newCert(t, "intruder", other, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}).write(t, dir, "bad")

	port := freePort(t)
	cacheSock := filepath.Join(dir, "cache.sock")
	cache := startDaemon(t, "image-cache", "--address", "127.0.0.1", "--port", port, "--local-socket", cacheSock,
		"--tls-cert", srvCert, "--tls-key", srvKey, "--tls-cacert", caPath)
	good := filepath.Join(dir, "good.sock")
	startDaemon(t, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", good,
		"--tls-cert", cliCert, "--tls-key", cliKey, "--tls-cacert", caPath)
	if err := moveSnapshot(t, good, cacheSock, "tls-1", 3, 300000); err != nil {
		t.Fatalf("good proxy: %v", err)
	}
	if strings.Contains(cache.log.String(), "TLS IS OFF") {
		t.Fatal("cache warns about TLS although it is on")
	}

	// A proxy with a certificate from another CA.
	badSock := filepath.Join(dir, "bad.sock")
	bad := startDaemon(t, "image-proxy", "--address", "127.0.0.1", "--port", port, "--local-socket", badSock,
		"--tls-cert", badCert, "--tls-key", badKey, "--tls-cacert", caPath, "--reconnect-timeout", "500ms")
	err := moveSnapshot(t, badSock, cacheSock, "intruder", 1, 5000)
	if !errors.Is(err, remoteimg.ErrUnavailable) {
		t.Fatalf("proxy with another CA's certificate: %v, want ErrUnavailable", err)
	}
	t.Logf("writer through the bad proxy: %v", err)
	// Go's TLS client offers only a certificate from a CA the server asks
	// for, so this proxy presents none: refused for that.
	if !cache.waitLog("client didn't provide a certificate", 5*time.Second) {
		t.Fatalf("cache log lacks the refusal reason:\n%s", cache.log.String())
	}
	// The proxy tells its writer before it logs: wait for the line.
	if !bad.waitLog("certificate required", 5*time.Second) {
		t.Fatalf("bad proxy log lacks the TLS failure:\n%s", bad.log.String())
	}

	// Raw TLS clients speaking as a proxy: one presenting nothing, one
	// forcing the other CA's certificate on the cache.
	badPair, err := tls.LoadX509KeyPair(badCert, badKey)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, reason string
		cert         *tls.Certificate
	}{
		{"no certificate", "client didn't provide a certificate", nil},
		{"another CA", "certificate signed by unknown authority", &badPair},
	} {
		cfg := &tls.Config{RootCAs: pool(ca), ServerName: "127.0.0.1", MinVersion: tls.VersionTLS13}
		if tc.cert != nil {
			cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return tc.cert, nil }
		}
		nc, err := tls.Dial("tcp", "127.0.0.1:"+port, cfg)
		if err == nil {
			rc, herr := remoteimg.ClientHandshake(context.Background(), nc, remoteimg.RoleProxy)
			if herr == nil {
				rc.W.WriteMsg(7, &remoteimg.Put{Snapshot: "intruder", Name: "x.img"})
				rc.W.WriteData(7, 0, []byte("hello"))
				if _, _, rerr := rc.ReadMsg(); rerr == nil {
					t.Fatalf("%s: the cache answered", tc.name)
				}
			} else {
				t.Logf("%s: %v", tc.name, herr)
			}
			nc.Close()
		}
		if !cache.waitLog(tc.reason, 5*time.Second) {
			t.Fatalf("%s: cache log lacks %q:\n%s", tc.name, tc.reason, cache.log.String())
		}
	}
	if ids := snapshotIDs(t, cacheSock); len(ids) != 1 || ids[0] != "tls-1" {
		t.Fatalf("cache holds %v, want only tls-1", ids)
	}

	// The good proxy still works.
	if err := moveSnapshot(t, good, cacheSock, "tls-2", 2, 1<<20); err != nil {
		t.Fatalf("good proxy after the refusals: %v", err)
	}
}

func pool(c *certKey) *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(c.cert)
	return p
}

// TestDaemonsNoTLSWarning: both daemons log the loud warning when their
// TCP leg runs without TLS.
func TestDaemonsNoTLSWarning(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := p.cache(t)
	proxy := p.proxy(t)
	for name, d := range map[string]*daemon{"image-cache": cache, "image-proxy": proxy} {
		if !d.waitLog("TLS IS OFF", 5*time.Second) {
			t.Errorf("%s did not warn about TLS being off:\n%s", name, d.log.String())
		}
	}
}

// TestDaemonProxyKilledErrors: SIGKILL of the proxy mid-image: the
// writer's Close and the Finish fail with ErrUnavailable and say so.
func TestDaemonProxyKilledErrors(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	p.cache(t)
	proxy := p.proxy(t)
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "s")
	iw, err := w.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iw.Write(pattern(1, 3<<20)); err != nil {
		t.Fatal(err)
	}
	proxy.kill()
	var werr error
	for i := 0; i < 64 && werr == nil; i++ { // until the dead socket says so
		_, werr = iw.Write(pattern(2, 1<<20))
	}
	cerr := iw.Close()
	if !errors.Is(cerr, remoteimg.ErrUnavailable) {
		t.Fatalf("Close: %v, want ErrUnavailable", cerr)
	}
	ferr := w.Finish(ctx)
	if !errors.Is(ferr, remoteimg.ErrUnavailable) {
		t.Fatalf("Finish: %v, want ErrUnavailable", ferr)
	}
	t.Logf("Close: %v; Finish: %v", cerr, ferr)
}

// TestDaemonCacheKilledMidRead: SIGKILL of the cache while readers are in
// the middle of an arriving image and of a large complete one: each
// reader gets an error (ErrTruncated), never EOF with a short image.
func TestDaemonCacheKilledMidRead(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := p.cache(t)
	p.proxy(t)
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "s")
	whole := pattern(5, 48<<20)
	if err := writeImage(ctx, w, "big.img", whole); err != nil {
		t.Fatal(err)
	}
	iw, err := w.Create(ctx, "arriving.img")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iw.Write(pattern(6, 2<<20)); err != nil {
		t.Fatal(err)
	}
	rd := p.store(t, remote.ModeRead, "s")
	rBig, err := rd.Open(ctx, "big.img")
	if err != nil {
		t.Fatal(err)
	}
	defer rBig.Close()
	rArr, err := rd.Open(ctx, "arriving.img")
	if err != nil {
		t.Fatal(err)
	}
	defer rArr.Close()
	head := make([]byte, 1<<20)
	if _, err := io.ReadFull(rBig, head); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rArr, head[:1000]); err != nil {
		t.Fatal(err)
	}
	cache.kill()
	rest, err := io.ReadAll(rBig)
	if err == nil && !bytes.Equal(append(head, rest...), whole) {
		t.Fatalf("big.img: EOF after %d bytes of %d", len(head)+len(rest), len(whole))
	}
	if err != nil && !errors.Is(err, remoteimg.ErrTruncated) {
		t.Fatalf("big.img: %v, want ErrTruncated", err)
	}
	t.Logf("big.img reader: %d more bytes, %v", len(rest), err)
	if _, err := io.ReadAll(rArr); !errors.Is(err, remoteimg.ErrTruncated) {
		t.Fatalf("arriving.img: %v, want ErrTruncated", err)
	}
	iw.Abort()
}

// TestDaemonManyInFlight: 200 images written at once through the real
// proxy (small budget), multiplexed on one TCP connection.
func TestDaemonManyInFlight(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	p.cache(t)
	p.proxy(t, "--max-memory", "4M")
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "many")
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := 0; i < 200; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- writeImage(ctx, w, fmt.Sprintf("core-%d.img", i), pattern(i, i*1531))
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	rd := p.store(t, remote.ModeRead, "many")
	for i := 0; i < 200; i++ {
		got, err := readImage(ctx, rd, fmt.Sprintf("core-%d.img", i))
		if err != nil || !bytes.Equal(got, pattern(i, i*1531)) {
			t.Fatalf("core-%d.img: %d bytes, %v", i, len(got), err)
		}
	}
}

// TestDaemonFourSnapshots: four snapshots (a pre-dump chain of two and
// two others) written and read at once through the real daemons.
func TestDaemonFourSnapshots(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	p.cache(t)
	p.proxy(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for s := 0; s < 4; s++ {
		id, parent := fmt.Sprintf("snap-%d", s), ""
		if s == 1 {
			parent = "snap-0"
		}
		data := func(i int) []byte { return pattern(s*10+i, 300<<10+i) }
		wg.Add(2)
		go func() {
			defer wg.Done()
			w, err := remote.Dial(ctx, p.proxySock, remote.Options{Snapshot: id, Parent: parent, Mode: remote.ModeWrite})
			if err != nil {
				errs <- err
				return
			}
			defer w.Close()
			for i := 0; i < 6; i++ {
				if err := writeImage(ctx, w, fmt.Sprintf("pages-%d.img", i), data(i)); err != nil {
					errs <- err
					return
				}
			}
			errs <- w.Finish(ctx)
		}()
		go func() {
			defer wg.Done()
			rd, err := remote.Dial(ctx, p.cacheSock, remote.Options{Snapshot: id, Mode: remote.ModeRead, WaitSnapshot: 20 * time.Second})
			if err != nil {
				errs <- err
				return
			}
			defer rd.Close()
			for i := 0; i < 6; i++ {
				got, err := readImage(ctx, rd, fmt.Sprintf("pages-%d.img", i))
				if err == nil && !bytes.Equal(got, data(i)) {
					err = fmt.Errorf("%s pages-%d.img differs", id, i)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	snaps, err := remote.ListSnapshots(ctx, p.cacheSock)
	if err != nil || len(snaps) != 4 {
		t.Fatalf("%+v %v", snaps, err)
	}
	for _, s := range snaps {
		if !s.Finished || s.Images != 6 || (s.ID == "snap-1") != (s.Parent == "snap-0") {
			t.Fatalf("snapshot %+v", s)
		}
	}
}

// TestDaemonReconnectThroughRelay: the TCP leg between the real proxy
// and cache goes through a relay that the test cuts several times during
// a snapshot; the proxy reconnects and resumes, and every image arrives
// complete and correct, exactly once.
func TestDaemonReconnectThroughRelay(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	p.cache(t)
	rl := remotetest.NewRelay(t, "127.0.0.1:"+p.port)
	proxy := startDaemon(t, "image-proxy", "--address", "127.0.0.1", "--port", rl.Port(),
		"--local-socket", p.proxySock, "--max-memory", "4M")
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "cut")
	want := map[string][]byte{}
	var total uint64
	for i := 0; i < 12; i++ {
		name := fmt.Sprintf("pages-%d.img", i)
		want[name] = pattern(100+i, (i*397)<<10+i)
		total += uint64(len(want[name]))
		if i%3 == 0 {
			rl.CutAt(int64(700<<10 + i*1000))
		}
		if err := writeImage(ctx, w, name, want[name]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatalf("Finish: %v", err)
	}
	cuts := rl.Cuts()
	if cuts < 2 {
		t.Fatalf("only %d cuts happened", cuts)
	}
	if n := strings.Count(proxy.log.String(), "connection to image cache lost"); n < cuts {
		t.Fatalf("proxy logged %d lost connections for %d cuts", n, cuts)
	}
	rd := p.store(t, remote.ModeRead, "cut")
	for name, b := range want {
		got, err := readImage(ctx, rd, name)
		if err != nil || !bytes.Equal(got, b) {
			t.Fatalf("%s: %d bytes, %v", name, len(got), err)
		}
	}
	snaps, err := remote.ListSnapshots(ctx, p.cacheSock)
	if err != nil || len(snaps) != 1 || snaps[0].Bytes != total || snaps[0].Images != uint32(len(want)) {
		t.Fatalf("cache holds %+v (%v), want %d images, %d bytes", snaps, err, len(want), total)
	}
	t.Logf("%d cuts", cuts)
}

// heldBytes is what the cache at sock holds of snapshot id.
func heldBytes(t *testing.T, sock, id string) uint64 {
	snaps, err := remote.ListSnapshots(context.Background(), sock)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		if s.ID == id {
			return s.Bytes
		}
	}
	return 0
}

// TestDaemonDiskMemoryBound: with -D and --max-memory 16M, a snapshot
// eight times larger goes through and both daemons' peak RSS stays near
// their budgets (image bytes go to the cache's files).
func TestDaemonDiskMemoryBound(t *testing.T) {
	needBinary(t)
	p := newProcRig(t)
	cache := p.cache(t, "--max-memory", "16M")
	proxy := p.proxy(t, "--max-memory", "16M")
	ctx := context.Background()
	w := p.store(t, remote.ModeWrite, "disk")
	iw, err := w.Create(ctx, "pages-1.img")
	if err != nil {
		t.Fatal(err)
	}
	chunk := pattern(3, 1<<20)
	for i := 0; i < 128; i++ {
		if _, err := iw.Write(chunk); err != nil {
			t.Fatal(err)
		}
	}
	if err := iw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := w.Finish(ctx); err != nil {
		t.Fatal(err)
	}
	cacheHWM, proxyHWM := vmHWM(cache.cmd.Process.Pid)>>10, vmHWM(proxy.cmd.Process.Pid)>>10
	t.Logf("128 MiB snapshot; peak RSS cache %d MiB, proxy %d MiB", cacheHWM, proxyHWM)
	if cacheHWM > 16+48 || proxyHWM > 16+48 {
		t.Fatalf("peak RSS cache %d MiB, proxy %d MiB: not bounded", cacheHWM, proxyHWM)
	}
	if fi, err := os.Stat(filepath.Join(p.cacheDir, "snapshots", "disk", "pages-1.img")); err != nil || fi.Size() != 128<<20 {
		t.Fatalf("image on disk: %v %v", fi, err)
	}
}
