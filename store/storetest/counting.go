package storetest

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/photovault/photovault/store"
)

// Counter counts SQL statements prepared on a store's connections. The
// wrapper deliberately implements only driver.Conn, so database/sql prepares
// every statement through it: one Prepare per statement executed.
type Counter struct{ n atomic.Int64 }

// Load returns the number of statements so far.
func (c *Counter) Load() int64 { return c.n.Load() }

type countingDriver struct {
	base driver.Driver
	c    *Counter
}

func (d countingDriver) Open(name string) (driver.Conn, error) {
	conn, err := d.base.Open(name)
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: conn, c: d.c}, nil
}

type countingConn struct {
	driver.Conn
	c *Counter
}

func (c countingConn) Prepare(q string) (driver.Stmt, error) {
	c.c.n.Add(1)
	return c.Conn.Prepare(q)
}

var (
	regMu   sync.Mutex
	regNext int
)

// NewCounting is NewWithClock with a statement counter.
func NewCounting(t testing.TB, now func() time.Time) (*store.Store, *Counter) {
	t.Helper()
	base, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	drv := base.Driver()
	_ = base.Close()
	c := &Counter{}
	regMu.Lock()
	regNext++
	name := "sqlite-counting-" + string(rune('a'+regNext%26)) + time.Now().Format("150405.000000000")
	sql.Register(name, countingDriver{base: drv, c: c})
	regMu.Unlock()
	s, err := store.Open(context.Background(), filepath.Join(t.TempDir(), store.FileName), store.Options{Now: now, Driver: name})
	if err != nil {
		t.Fatalf("storetest: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}
