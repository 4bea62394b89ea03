package apps

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// pgConn is a postgres session over TCP speaking the frontend/backend
// protocol 3.0 itself (startup with trust authentication, simple
// queries): a client as psql is, whose one connection stays open.
type pgConn struct {
	c net.Conn
	r *bufio.Reader
}

// pgMsg reads one backend message: its type and body.
func (pc *pgConn) msg() (byte, []byte, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(pc.r, hdr[:]); err != nil {
		return 0, nil, err
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < 4 || n > 1<<24 {
		return 0, nil, fmt.Errorf("postgres: message %q of length %d", hdr[0], n)
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(pc.r, body); err != nil {
		return 0, nil, err
	}
	return hdr[0], body, nil
}

// pgError is the text of an ErrorResponse: its fields are a code byte
// and a string each; M is the message.
func pgError(body []byte) error {
	for _, f := range strings.Split(string(body), "\x00") {
		if strings.HasPrefix(f, "M") {
			return errors.New("postgres: " + f[1:])
		}
	}
	return errors.New("postgres: error")
}

// untilReady reads messages up to ReadyForQuery and returns the first
// column of each DataRow.
func (pc *pgConn) untilReady() ([]string, error) {
	var rows []string
	var qerr error
	for {
		typ, body, err := pc.msg()
		if err != nil {
			return nil, errors.Join(qerr, err)
		}
		switch typ {
		case 'E':
			qerr = pgError(body)
		case 'R':
			if len(body) < 4 || binary.BigEndian.Uint32(body) != 0 {
				return nil, fmt.Errorf("postgres asks for authentication %x", body)
			}
		case 'D':
			if len(body) < 6 {
				return nil, fmt.Errorf("postgres: short DataRow")
			}
			n := int32(binary.BigEndian.Uint32(body[2:]))
			if n < 0 {
				rows = append(rows, "")
			} else if int(n) <= len(body)-6 {
				rows = append(rows, string(body[6:6+n]))
			}
		case 'Z':
			return rows, qerr
		}
	}
}

func dialPostgres(h *hosts) (client, error) {
	c, err := h.dial(5432)
	if err != nil {
		return nil, err
	}
	pc := &pgConn{c: c, r: bufio.NewReader(c)}
	c.SetDeadline(time.Now().Add(30 * time.Second))
	params := "user\x00postgres\x00database\x00postgres\x00application_name\x00apps\x00\x00"
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(params)))
	b = binary.BigEndian.AppendUint32(b, 3<<16)
	if _, err := c.Write(append(b, params...)); err != nil {
		c.Close()
		return nil, err
	}
	if _, err := pc.untilReady(); err != nil {
		c.Close()
		return nil, fmt.Errorf("postgres startup: %w", err)
	}
	return pc, nil
}

// query sends one simple query; untilReady reads its rows.
func (pc *pgConn) query(q string) error {
	pc.c.SetDeadline(time.Now().Add(30 * time.Second))
	b := append([]byte{'Q'}, binary.BigEndian.AppendUint32(nil, uint32(4+len(q)+1))...)
	_, err := pc.c.Write(append(append(b, q...), 0))
	return err
}

func (pc *pgConn) local() string { return pc.c.LocalAddr().String() }
func (pc *pgConn) Close() error  { return pc.c.Close() }

// send counts in a table, and reads the data set's sum with it.
func (pc *pgConn) send() error {
	return pc.query("update c set n = n + 1 returning n || ' ' || (select sum(id) from t)")
}

func (pc *pgConn) recv() (int, error) {
	pc.c.SetDeadline(time.Now().Add(30 * time.Second))
	rows, err := pc.untilReady()
	if err != nil {
		return 0, err
	}
	if len(rows) != 1 {
		return 0, fmt.Errorf("postgres: %d rows", len(rows))
	}
	n, sum, _ := strings.Cut(rows[0], " ")
	if sum != pgSum {
		return 0, fmt.Errorf("postgres: sum(id) is %s, want %s", sum, pgSum)
	}
	return strconv.Atoi(n)
}

const (
	pgRows = "20000|200010000"
	pgSum  = "200010000"
)

// pgClusters are the clusters of the suite's postgres, by directory.
var pgClusters = map[string]*pgCluster{}

// startPostgres makes a cluster (run by the postgres user, listening on
// svcAddr and a unix socket in dir) with a table of 20000 rows.
func startPostgres(t *testing.T, ctx context.Context, h *hosts, dir string) int {
	if _, err := os.Stat(filepath.Join(pgBin, "postgres")); err != nil {
		t.Skip("needs postgresql 15 (.ci/run installs it)")
	}
	u, err := user.Lookup("postgres")
	if err != nil {
		t.Fatalf("postgres is installed but its user is missing: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	if err := os.Chown(dir, uid, gid); err != nil {
		t.Fatal(err)
	}
	c := &pgCluster{t: t, dir: dir, uid: uint32(uid), gid: uint32(gid), netns: h.a, listen: svcAddr}
	pgClusters[dir] = c
	c.mustRun(ctx, "initdb", "-D", c.data(), "-A", "trust", "-U", "postgres")
	hba, err := os.OpenFile(filepath.Join(c.data(), "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintln(hba, "host all all "+clientIP+"/32 trust")
	if cerr := hba.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	c.start(ctx, "log")
	t.Cleanup(func() {
		if _, err := os.Stat(filepath.Join(c.data(), "postmaster.pid")); err == nil {
			c.run(context.Background(), "pg_ctl", "-D", c.data(), "-m", "immediate", "-w", "stop")
		}
	})
	if _, err := c.sql(ctx, "create table t(id int primary key, v text);"+
		"insert into t select g, md5(g::text) from generate_series(1, 20000) g;"+
		"create table c(n int); insert into c values (0); create extension amcheck;"); err != nil {
		t.Fatal(err)
	}
	return c.postmaster()
}

// finishPostgres checks the rows and the index, stops the cluster
// cleanly on host B and starts it afresh there: no recovery, the data
// and the counter intact.
func finishPostgres(t *testing.T, ctx context.Context, h *hosts, dir string, pm int) {
	c := pgClusters[dir]
	c.netns = h.b
	check := func(when string) {
		if got, err := c.sql(ctx, "select count(*), sum(id) from t"); err != nil || got != pgRows {
			t.Fatalf("%s: select gives %q, %v (want %q)", when, got, err, pgRows)
		}
		if got, err := c.sql(ctx, "select bt_index_check('t_pkey', true)"); err != nil {
			t.Fatalf("%s: amcheck: %q, %v", when, got, err)
		}
	}
	check("after the migrations")
	count, err := c.sql(ctx, "select n from c")
	if err != nil {
		t.Fatal(err)
	}
	tree := tmuxTree(pm)
	c.mustRun(ctx, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	reapTree(tree)
	c.start(ctx, "log2")
	log2, _ := os.ReadFile(filepath.Join(dir, "log2"))
	if strings.Contains(string(log2), "not properly shut down") || strings.Contains(string(log2), "recovery") {
		t.Errorf("the fresh start after a clean stop recovered:\n%s", log2)
	}
	check("after a fresh start")
	if got, err := c.sql(ctx, "select n from c"); err != nil || got != count {
		t.Fatalf("after a fresh start: the counter is %q, %v; it was %q", got, err, count)
	}
	pm = c.postmaster()
	tree = tmuxTree(pm)
	c.mustRun(ctx, "pg_ctl", "-D", c.data(), "-m", "fast", "-w", "stop")
	reapTree(tree)
}
